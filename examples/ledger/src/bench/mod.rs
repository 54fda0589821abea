//! `ledger bench`: honest figures for the ledger's writes over its API (`writes.rs`), and its
//! reads and imports next to hledger's and
//! ledger-cli's on the same books in the same run, printed as markdown.
//!
//! Two measurements, each in a scratch directory that is removed afterwards:
//! - Reads: a book of `--postings` postings (two-posting entries from `book.rs`, written with
//!   `Store::import_book` in chunks) in a fresh SQLite file; then `--runs` timed runs each of
//!   the trial balance (`Store::balances` at the last day) and the balance sheet
//!   (`statements::balance_sheet`: chart, balances and `domain::report`), min and median; one
//!   `Store::check` (which must pass, and counts the per-day balance rows); then the book is
//!   exported (`export_journal`) and `hledger -f FILE bal` and `ledger -f FILE bal`
//!   are timed once each on that file.
//! - Import: a journal of `--import-transactions` transactions is written to a file; what
//!   `ledger import FILE` does is timed (open a fresh database, read, parse, create the tenant,
//!   `import_journal`), and so are hledger and ledger reading the same file.
//!
//! The figures are not like for like, and the output says so: the store answers from balances
//! it maintained while writing, the tools parse the whole text on every run. Missing tools (or
//! `--skip-tools`) are stated in their rows; a tool that fails or outlives
//! `BENCH_TOOL_TIMEOUT_MS` is an error. Every size is a flag bounded in `limits.rs`. Progress
//! goes to the log (standard error), the table to `out`. Tests at the bottom run the whole path
//! on a tiny book.

pub mod book;
mod markdown;
pub mod pages;
pub mod scratch;
pub mod tools;
pub mod writes;

pub use scratch::ScratchDir;

use crate::domain::{EntryError, TenantId, TenantSlug};
use crate::interop::{ExportError, ImportError, export_journal, import_journal, parse_journal};
use crate::limits::{
    BENCH_CLIENTS_MAX, BENCH_IMPORT_TRANSACTIONS_MAX, BENCH_POSTINGS_MAX, BENCH_RUNS_MAX,
    BENCH_TOOL_TIMEOUT_MS, IMPORT_FILE_BYTES_MAX,
};
use crate::statements::{self, StatementError};
use crate::store::{BookImport, SqliteStore, Store, StoreError};
use std::fmt;
use std::io::{self, Write};
use std::path::Path;
use std::time::{Duration, Instant};

/// Postings in the read benchmark's book unless `--postings` says otherwise.
pub const DEFAULT_POSTINGS: usize = 1_000_000;
/// Transactions in the import benchmark's journal unless `--import-transactions` says otherwise.
pub const DEFAULT_IMPORT_TRANSACTIONS: usize = 100_000;
/// Timed runs of each in-process read unless `--runs` says otherwise.
pub const DEFAULT_RUNS: usize = 10;

/// The flags of `ledger bench`.
#[derive(clap::Args, Clone, Debug)]
pub struct BenchArgs {
    /// Postings in the book the reads are timed on: two per entry, so even, 2 to 2,000,000.
    #[arg(long, default_value_t = DEFAULT_POSTINGS)]
    pub postings: usize,
    /// Transactions in the journal the import is timed on, 1 to 200,000.
    #[arg(long, default_value_t = DEFAULT_IMPORT_TRANSACTIONS)]
    pub import_transactions: usize,
    /// Timed runs of each in-process read (min and median reported), 1 to 100.
    #[arg(long, default_value_t = DEFAULT_RUNS)]
    pub runs: usize,
    /// Does not run hledger and ledger (their rows say so).
    #[arg(long)]
    pub skip_tools: bool,
    /// Leaves out the reads and the import (only the writes over the API run).
    #[arg(long)]
    pub skip_reads: bool,
    /// Leaves out the writes over the API (batch API, single POSTs at `--clients`).
    #[arg(long)]
    pub skip_writes: bool,
    /// Leaves out the pages (the register and the balance sheet served to 16 logged-in
    /// clients, on the reads' book).
    #[arg(long)]
    pub skip_pages: bool,
    /// Concurrent clients of the single-entry POST benchmark, 1 to 256.
    #[arg(long, default_value_t = 64)]
    pub clients: usize,
}

/// Whether the reference tools are run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tools {
    Run,
    Skip,
}

/// A bench's sizes, checked against their limits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BenchConfig {
    /// Even, 2 to `BENCH_POSTINGS_MAX`.
    postings: usize,
    /// 1 to `BENCH_IMPORT_TRANSACTIONS_MAX`.
    import_transactions: usize,
    /// 1 to `BENCH_RUNS_MAX`.
    runs: usize,
    tools: Tools,
}

impl BenchConfig {
    /// A configuration, or `Config` naming the flag out of its bounds.
    pub fn new(
        postings: usize,
        import_transactions: usize,
        runs: usize,
        tools: Tools,
    ) -> Result<BenchConfig, BenchError> {
        let out_of_range = |flag: &str, value: usize, low: usize, high: usize| {
            BenchError::Config(format!("--{flag} is {value}; it must be {low} to {high}"))
        };
        if !(2..=BENCH_POSTINGS_MAX).contains(&postings) {
            return Err(out_of_range("postings", postings, 2, BENCH_POSTINGS_MAX));
        }
        if !postings.is_multiple_of(2) {
            return Err(BenchError::Config(format!(
                "--postings is {postings}; it must be even (every entry has two postings)"
            )));
        }
        if !(1..=BENCH_IMPORT_TRANSACTIONS_MAX).contains(&import_transactions) {
            return Err(out_of_range(
                "import-transactions",
                import_transactions,
                1,
                BENCH_IMPORT_TRANSACTIONS_MAX,
            ));
        }
        if !(1..=BENCH_RUNS_MAX).contains(&runs) {
            return Err(out_of_range("runs", runs, 1, BENCH_RUNS_MAX));
        }
        Ok(BenchConfig {
            postings,
            import_transactions,
            runs,
            tools,
        })
    }
}

/// Why a bench stopped without figures.
#[derive(Debug)]
#[non_exhaustive]
pub enum BenchError {
    /// A flag is out of its bounds.
    Config(String),
    /// The scratch directory or a file in it failed.
    Io(io::Error),
    /// The store failed.
    Store(StoreError),
    /// The store refused generated entry `index` of a chunk (a bug in `book.rs`).
    Refused { index: usize, error: EntryError },
    /// The balance sheet could not be made, or did not balance.
    Statement(String),
    /// `Store::check` found a problem in the bench's book (the first one).
    Check(String),
    /// The export failed.
    Export(ExportError),
    /// The generated journal did not import (a bug in `book.rs` or in the import).
    Import(String),
    /// The generator made an invalid name, date or amount (a bug in `book.rs`).
    Generator(String),
    /// A tool exited non-zero.
    ToolFailed {
        command: String,
        status: String,
        stderr: String,
    },
    /// A tool ran longer than its timeout and was killed.
    ToolTimedOut { command: String, timeout: Duration },
    /// The write benchmark failed (a refused request, a store or socket error).
    Writes(String),
}

impl BenchError {
    pub(crate) fn generator(what: &str, detail: impl fmt::Display) -> BenchError {
        BenchError::Generator(format!("{what}: {detail}"))
    }
}

impl fmt::Display for BenchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BenchError::Config(detail) => f.write_str(detail),
            BenchError::Io(_) => f.write_str("a scratch file failed"),
            BenchError::Store(_) => f.write_str("the store failed"),
            BenchError::Refused { index, error } => {
                write!(f, "the store refused generated entry {index}: {error}")
            }
            BenchError::Statement(detail) => write!(f, "the balance sheet failed: {detail}"),
            BenchError::Check(detail) => write!(f, "check failed on the bench's book: {detail}"),
            BenchError::Export(_) => f.write_str("the export failed"),
            BenchError::Import(detail) => write!(f, "the generated journal failed: {detail}"),
            BenchError::Generator(detail) => write!(f, "the bench generator is wrong: {detail}"),
            BenchError::ToolFailed {
                command,
                status,
                stderr,
            } => write!(f, "`{command}` failed ({status}): {stderr}"),
            BenchError::ToolTimedOut { command, timeout } => {
                write!(f, "`{command}` ran longer than {timeout:?} and was killed")
            }
            BenchError::Writes(detail) => write!(f, "the write benchmark failed: {detail}"),
        }
    }
}

impl std::error::Error for BenchError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BenchError::Io(error) => Some(error),
            BenchError::Store(error) => Some(error),
            BenchError::Export(error) => Some(error),
            _ => None,
        }
    }
}

impl From<io::Error> for BenchError {
    fn from(error: io::Error) -> BenchError {
        BenchError::Io(error)
    }
}

impl From<StoreError> for BenchError {
    fn from(error: StoreError) -> BenchError {
        BenchError::Store(error)
    }
}

impl From<StatementError> for BenchError {
    fn from(error: StatementError) -> BenchError {
        BenchError::Statement(error.to_string())
    }
}

/// The smallest and the median of a set of timed runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stats {
    pub runs: usize,
    pub min: Duration,
    pub median: Duration,
}

impl Stats {
    /// Of `samples` (the mean of the middle two for an even count); `None` if empty.
    pub fn of(samples: &[Duration]) -> Option<Stats> {
        let mut sorted = samples.to_vec();
        sorted.sort_unstable();
        let middle = sorted.len() / 2;
        let median = if sorted.len().is_multiple_of(2) {
            (*sorted.get(middle.checked_sub(1)?)? + *sorted.get(middle)?) / 2
        } else {
            *sorted.get(middle)?
        };
        Some(Stats {
            runs: sorted.len(),
            min: *sorted.first()?,
            median,
        })
    }
}

/// What happened when a reference tool was to be timed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ToolTime {
    Ran(Duration),
    NotInstalled,
    Skipped,
}

/// A reference tool's version line, if it is run and installed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ToolVersions {
    pub hledger: Option<String>,
    pub ledger: Option<String>,
}

/// The read benchmark's figures.
#[derive(Clone, Debug)]
pub struct Reads {
    pub entries: usize,
    pub postings: usize,
    pub accounts: usize,
    pub first_day: crate::domain::Date,
    pub last_day: crate::domain::Date,
    pub build: Duration,
    pub database_bytes: u64,
    pub balance_lines: usize,
    /// Rows of the per-day balance table, as `check` counted them.
    pub daily_rows: u64,
    pub trial_balance: Stats,
    pub balance_sheet: Stats,
    /// One `Store::check` of the tenant.
    pub check: Duration,
    pub export: Duration,
    pub journal_bytes: u64,
    pub hledger: ToolTime,
    pub ledger: ToolTime,
}

/// The import benchmark's figures.
#[derive(Clone, Debug)]
pub struct Imports {
    pub transactions: usize,
    pub journal_bytes: u64,
    pub parse: Duration,
    pub import: Duration,
    pub hledger: ToolTime,
    pub ledger: ToolTime,
}

/// `ledger bench`: checks the flags, runs, prints the table to standard output.
pub fn command(args: &BenchArgs) -> Result<(), BenchError> {
    let tools = if args.skip_tools {
        Tools::Skip
    } else {
        Tools::Run
    };
    let config = BenchConfig::new(args.postings, args.import_transactions, args.runs, tools)?;
    if !(1..=BENCH_CLIENTS_MAX).contains(&args.clients) {
        return Err(BenchError::Config(format!(
            "--clients is {}; it must be 1 to {BENCH_CLIENTS_MAX}",
            args.clients
        )));
    }
    let mut out = io::stdout().lock();
    if !args.skip_reads {
        run(&config, !args.skip_pages, &mut out)?;
    }
    if !args.skip_writes {
        let writes = writes::WriteBenchConfig {
            concurrency: args.clients,
            ..writes::WriteBenchConfig::default()
        };
        run_writes(&writes, &mut out)?;
    }
    out.flush()?;
    Ok(())
}

/// Runs the write benchmark (`writes.rs`) and writes its markdown table to `out`.
pub fn run_writes(
    config: &writes::WriteBenchConfig,
    out: &mut impl Write,
) -> Result<(), BenchError> {
    let scratch = ScratchDir::new("bench-writes")?;
    let figures = writes::run(scratch.path(), config)
        .map_err(|error| BenchError::Writes(error.to_string()))?;
    out.write_all(b"\n## Writes over the JSON API\n\n")?;
    out.write_all(figures.markdown(config).as_bytes())?;
    Ok(())
}

/// Runs both measurements (and with `pages`, the web pages on the reads' book) and writes the
/// markdown report to `out`.
pub fn run(config: &BenchConfig, pages: bool, out: &mut impl Write) -> Result<(), BenchError> {
    let scratch = ScratchDir::new("bench")?;
    let versions = ToolVersions {
        hledger: version(config.tools, "hledger"),
        ledger: version(config.tools, "ledger"),
    };
    let reads = measure_reads(config, &scratch, &versions)?;
    let imports = measure_imports(config, &scratch, &versions)?;
    let text = markdown::report(config, &versions, &reads, &imports);
    out.write_all(text.as_bytes())?;
    if pages {
        let database = scratch.file("reads.db");
        let tenant = SqliteStore::open(&database)?
            .tenant(&bench_slug()?)?
            .ok_or_else(|| BenchError::Generator("the bench tenant vanished".into()))?;
        let page_config = pages::PageBenchConfig {
            clients: 16,
            // A small book is a test of the path, not a measurement: a few requests do.
            requests_per_client: if reads.postings >= 100_000 { 100 } else { 5 },
            register_account: "Assets:Bank:Checking".into(),
            date: reads.last_day.to_string(),
        };
        tracing::info!("bench: the web pages");
        let figures = pages::run(&database, tenant, &page_config)?;
        out.write_all(b"\n## Web pages\n\n")?;
        out.write_all(figures.markdown(&page_config, reads.postings).as_bytes())?;
    }
    Ok(())
}

fn version(tools: Tools, tool: &str) -> Option<String> {
    match tools {
        Tools::Run => tools::version(tool),
        Tools::Skip => None,
    }
}

fn measure_reads(
    config: &BenchConfig,
    scratch: &ScratchDir,
    versions: &ToolVersions,
) -> Result<Reads, BenchError> {
    let database = scratch.file("reads.db");
    let mut store = SqliteStore::open(&database)?;
    let tenant = store.create_tenant(&bench_slug()?)?;
    let entries = config.postings / 2;
    tracing::info!(entries, "bench: building the book");
    let started = Instant::now();
    build_book(&mut store, tenant, entries)?;
    let build = started.elapsed();
    let last_day = book::last_day()?;
    tracing::info!(?build, "bench: timing reads");
    let (trial_balance, balance_lines) = time_trial_balance(&mut store, tenant, config.runs)?;
    let balance_sheet = time_balance_sheet(&mut store, tenant, config.runs)?;
    let started = Instant::now();
    let checked = store.check(Some(tenant))?;
    let check = started.elapsed();
    if let Some(problem) = checked.problems.first() {
        return Err(BenchError::Check(problem.to_string()));
    }
    let journal = scratch.file("reads.journal");
    let started = Instant::now();
    export_to(&mut store, tenant, &journal)?;
    let export = started.elapsed();
    let database_bytes = database_size(&database);
    drop(store);
    let file = path_text(&journal)?;
    tracing::info!(?export, "bench: running the tools on the export");
    let hledger = time_tool(config, versions, "hledger", &["bal", "-f", &file], scratch)?;
    let ledger = time_tool(config, versions, "ledger", &["-f", &file, "bal"], scratch)?;
    Ok(Reads {
        entries,
        postings: entries * 2,
        accounts: book::accounts()?.len(),
        first_day: book::first_day()?,
        last_day,
        build,
        database_bytes,
        balance_lines,
        daily_rows: checked.daily_rows,
        trial_balance,
        balance_sheet,
        check,
        export,
        journal_bytes: std::fs::metadata(&journal)?.len(),
        hledger,
        ledger,
    })
}

fn bench_slug() -> Result<TenantSlug, BenchError> {
    TenantSlug::new("bench").map_err(|e| BenchError::generator("slug", e))
}

/// Writes `entries` generated entries, a chunk per `import_book` (the first chunk with the
/// commodities and the chart).
fn build_book(store: &mut SqliteStore, tenant: TenantId, entries: usize) -> Result<(), BenchError> {
    let mut generator = book::BenchBook::new(entries)?;
    let mut import = BookImport {
        commodities: book::commodities()?,
        accounts: book::accounts()?,
        prices: Vec::new(),
        entries: Vec::new(),
    };
    let mut written = 0;
    loop {
        import.entries = generator.next_chunk()?;
        if import.entries.is_empty() {
            return Ok(());
        }
        if let Err((index, error)) = store.import_book(tenant, &import)? {
            return Err(BenchError::Refused {
                index: written + index,
                error,
            });
        }
        written += import.entries.len();
        import.commodities.clear();
        import.accounts.clear();
        tracing::info!(written, "bench: entries written");
    }
}

fn time_trial_balance(
    store: &mut SqliteStore,
    tenant: TenantId,
    runs: usize,
) -> Result<(Stats, usize), BenchError> {
    let date = book::last_day()?;
    let mut samples = Vec::with_capacity(runs);
    let mut lines = 0;
    for _ in 0..runs {
        let started = Instant::now();
        let balances = std::hint::black_box(store.balances(tenant, date)?);
        samples.push(started.elapsed());
        lines = balances.len();
    }
    let stats = Stats::of(&samples).ok_or_else(|| BenchError::Config("no runs".into()))?;
    Ok((stats, lines))
}

fn time_balance_sheet(
    store: &mut SqliteStore,
    tenant: TenantId,
    runs: usize,
) -> Result<Stats, BenchError> {
    let date = book::last_day()?;
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        let sheet = std::hint::black_box(statements::balance_sheet(store, tenant, date)?);
        samples.push(started.elapsed());
        if !sheet.is_balanced() {
            return Err(BenchError::Statement(
                "assets do not equal liabilities and equity".into(),
            ));
        }
    }
    Stats::of(&samples).ok_or_else(|| BenchError::Config("no runs".into()))
}

fn export_to(store: &mut SqliteStore, tenant: TenantId, path: &Path) -> Result<(), BenchError> {
    let mut out = io::BufWriter::new(std::fs::File::create(path)?);
    export_journal(store, tenant, "bench", &mut out).map_err(BenchError::Export)?;
    out.flush()?;
    Ok(())
}

/// The database file and its write-ahead log, in bytes (what the book occupies on disk).
fn database_size(database: &Path) -> u64 {
    let mut wal = database.as_os_str().to_owned();
    wal.push("-wal");
    [database.as_os_str().to_owned(), wal]
        .iter()
        .filter_map(|file| std::fs::metadata(file).ok())
        .map(|metadata| metadata.len())
        .sum()
}

fn path_text(path: &Path) -> Result<String, BenchError> {
    path.to_str()
        .map(str::to_owned)
        .ok_or_else(|| BenchError::Config(format!("{} is not UTF-8", path.display())))
}

fn time_tool(
    config: &BenchConfig,
    versions: &ToolVersions,
    tool: &str,
    args: &[&str],
    scratch: &ScratchDir,
) -> Result<ToolTime, BenchError> {
    if config.tools == Tools::Skip {
        return Ok(ToolTime::Skipped);
    }
    let installed = match tool {
        "hledger" => versions.hledger.is_some(),
        _ => versions.ledger.is_some(),
    };
    if !installed {
        return Ok(ToolTime::NotInstalled);
    }
    let timeout = Duration::from_millis(BENCH_TOOL_TIMEOUT_MS);
    let elapsed = tools::time_run(tool, args, scratch, timeout)?;
    tracing::info!(tool, ?elapsed, "bench: tool ran");
    Ok(ToolTime::Ran(elapsed))
}

/// Writes the journal, then times what `ledger import FILE` does on a fresh database, then the
/// tools on the same file.
fn measure_imports(
    config: &BenchConfig,
    scratch: &ScratchDir,
    versions: &ToolVersions,
) -> Result<Imports, BenchError> {
    let journal = scratch.file("import.journal");
    let transactions = config.import_transactions;
    tracing::info!(transactions, "bench: writing the import journal");
    std::fs::write(&journal, book::journal_text(transactions)?)?;
    let journal_bytes = std::fs::metadata(&journal)?.len();
    let (parse, import) = time_import(&journal, &scratch.file("import.db"), transactions)?;
    let file = path_text(&journal)?;
    let hledger = time_tool(config, versions, "hledger", &["bal", "-f", &file], scratch)?;
    let ledger = time_tool(config, versions, "ledger", &["-f", &file, "bal"], scratch)?;
    Ok(Imports {
        transactions,
        journal_bytes,
        parse,
        import,
        hledger,
        ledger,
    })
}

/// `ledger import FILE` on a fresh database, step for step as `main.rs` does it: open (and
/// create) the database, read the file, parse it (problems are reported before the tenant is
/// made), create the tenant, `import_journal` (which parses again, checks and writes in one
/// transaction). Returns the first parse's time and the whole.
fn time_import(
    journal: &Path,
    database: &Path,
    transactions: usize,
) -> Result<(Duration, Duration), BenchError> {
    let started = Instant::now();
    let mut store = SqliteStore::open(database)?;
    let size = std::fs::metadata(journal)?.len();
    if size > IMPORT_FILE_BYTES_MAX {
        return Err(BenchError::Import(format!(
            "the journal is {size} bytes; an import reads at most {IMPORT_FILE_BYTES_MAX}"
        )));
    }
    let text = std::fs::read_to_string(journal)?;
    let parse_started = Instant::now();
    let parsed = parse_journal(&text);
    let parse = parse_started.elapsed();
    if let Err(problems) = parsed {
        return Err(import_problem(ImportError::Problems(problems)));
    }
    let tenant = store.create_tenant(&bench_slug()?)?;
    let summary = import_journal(&mut store, tenant, &text).map_err(import_problem)?;
    let import = started.elapsed();
    if summary.entries != transactions {
        return Err(BenchError::Import(format!(
            "{} entries imported, {transactions} generated",
            summary.entries
        )));
    }
    Ok((parse, import))
}

fn import_problem(error: ImportError) -> BenchError {
    match error {
        ImportError::Problems(problems) => BenchError::Import(match problems.shown.first() {
            Some(first) => format!("line {}: {}", first.line, first.reason),
            None => "problems without a line".into(),
        }),
        ImportError::Store(error) => BenchError::Store(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::BENCH_BOOK_CHUNK_ENTRIES;

    fn ms(millis: u64) -> Duration {
        Duration::from_millis(millis)
    }

    #[test]
    fn the_whole_bench_runs_on_a_tiny_book_without_tools() {
        let config = BenchConfig::new(1_000, 200, 3, Tools::Skip).expect("config");
        let mut out = Vec::new();
        run(&config, true, &mut out).expect("the bench runs");
        let text = String::from_utf8(out).expect("UTF-8");
        for expected in [
            "## Web pages",
            "| register of Assets:Bank:Checking (first page of 50) | p50 ",
            "| register: htmx fragment / whole page |",
            "1,000 postings",
            "500 two-posting entries",
            "| trial balance",
            "| balance sheet",
            "200-transaction journal",
            "skipped (--skip-tools)",
        ] {
            assert!(
                text.contains(expected),
                "{expected:?} missing from:\n{text}"
            );
        }
    }

    #[test]
    fn every_flag_is_bounded_by_its_limit() {
        let ok = |p, i, r| BenchConfig::new(p, i, r, Tools::Skip).is_ok();
        assert!(ok(
            BENCH_POSTINGS_MAX,
            BENCH_IMPORT_TRANSACTIONS_MAX,
            BENCH_RUNS_MAX
        ));
        assert!(ok(2, 1, 1));
        assert!(!ok(BENCH_POSTINGS_MAX + 2, 1, 1));
        assert!(!ok(0, 1, 1));
        assert!(!ok(1_001, 1, 1), "odd postings");
        assert!(!ok(2, BENCH_IMPORT_TRANSACTIONS_MAX + 1, 1));
        assert!(!ok(2, 0, 1));
        assert!(!ok(2, 1, BENCH_RUNS_MAX + 1));
        assert!(!ok(2, 1, 0));
        let refused = BenchConfig::new(BENCH_POSTINGS_MAX + 2, 1, 1, Tools::Skip);
        let message = refused.map(|_| ()).map_err(|e| e.to_string());
        assert_eq!(
            message,
            Err("--postings is 2000002; it must be 2 to 2000000".to_owned())
        );
    }

    #[test]
    fn the_book_comes_in_chunks_of_at_most_the_limit() {
        let mut book = book::BenchBook::new(BENCH_BOOK_CHUNK_ENTRIES + 1).expect("book");
        let sizes: Vec<usize> = (0..3)
            .map(|_| book.next_chunk().expect("chunk").len())
            .collect();
        assert_eq!(sizes, [BENCH_BOOK_CHUNK_ENTRIES, 1, 0]);
    }

    #[test]
    fn the_generated_journal_parses_to_its_transactions_in_date_order() {
        let text = book::journal_text(300).expect("journal");
        assert_eq!(text, book::journal_text(300).expect("journal"));
        let journal = parse_journal(&text).expect("parses");
        assert_eq!(journal.transactions.len(), 300);
        let dates: Vec<_> = journal.transactions.iter().map(|t| t.entry.date).collect();
        assert!(dates.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(dates.last().copied(), book::last_day().ok());
    }

    #[test]
    fn stats_are_the_min_and_the_median() {
        let odd = Stats::of(&[ms(3), ms(1), ms(2)]).expect("stats");
        assert_eq!((odd.min, odd.median, odd.runs), (ms(1), ms(2), 3));
        let even = Stats::of(&[ms(4), ms(1), ms(3), ms(2)]).expect("stats");
        assert_eq!(
            (even.min, even.median),
            (ms(1), Duration::from_micros(2_500))
        );
        assert_eq!(Stats::of(&[]), None);
    }

    #[test]
    fn a_tool_that_outlives_its_timeout_is_killed_and_reported() {
        let scratch = ScratchDir::new("bench-timeout").expect("scratch");
        let result = tools::time_run("sleep", &["30"], &scratch, ms(100));
        assert!(
            matches!(result, Err(BenchError::ToolTimedOut { .. })),
            "{result:?}"
        );
    }

    #[test]
    fn a_tool_that_fails_is_an_error_with_its_message() {
        let scratch = ScratchDir::new("bench-fails").expect("scratch");
        let result = tools::time_run(
            "sh",
            &["-c", "echo no such file >&2; exit 3"],
            &scratch,
            ms(60_000),
        );
        match result {
            Err(BenchError::ToolFailed { stderr, status, .. }) => {
                assert_eq!(stderr, "no such file");
                assert!(status.contains('3'), "{status}");
            }
            other => panic!("expected a failure, got {other:?}"),
        }
        assert!(tools::time_run("true", &[], &scratch, ms(60_000)).is_ok());
    }

    #[test]
    fn the_scratch_directory_is_removed_on_drop() {
        let scratch = ScratchDir::new("bench-drop").expect("scratch");
        let path = scratch.path().to_owned();
        std::fs::write(scratch.file("x"), "x").expect("written");
        drop(scratch);
        assert!(!path.exists());
    }
}
