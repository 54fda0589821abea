//! The bench's figures as a markdown report: what was built, a table per measurement, the
//! ratios against the reference tools, and what the figures do not compare.
//!
//! Pure formatting (figures in, text out); it measures nothing. Ratios are only printed when
//! both sides ran. Tests: `bench/mod.rs` (the tiny run checks the rows).

use super::{BenchConfig, Imports, Reads, Stats, ToolTime, ToolVersions, Tools};
use crate::limits::BENCH_BOOK_CHUNK_ENTRIES;
use std::fmt::Write;
use std::time::Duration;

/// The whole report.
pub fn report(
    config: &BenchConfig,
    versions: &ToolVersions,
    reads: &Reads,
    imports: &Imports,
) -> String {
    let mut out = String::new();
    out.push_str("# ledger bench\n\n");
    let cpus = std::thread::available_parallelism().map_or(0, usize::from);
    let _ = writeln!(
        out,
        "Machine: {cpus} CPUs available, {}-{}. Tools: {}; {}.\n",
        std::env::consts::OS,
        std::env::consts::ARCH,
        tool_version(config.tools, "hledger", versions.hledger.as_deref()),
        tool_version(config.tools, "ledger", versions.ledger.as_deref()),
    );
    reads_section(&mut out, reads);
    imports_section(&mut out, imports);
    notes(&mut out);
    out
}

fn tool_version(tools: Tools, tool: &str, version: Option<&str>) -> String {
    match (tools, version) {
        (Tools::Skip, _) => format!("{tool} not run (--skip-tools)"),
        (Tools::Run, Some(version)) => version.to_owned(),
        (Tools::Run, None) => format!("{tool} not installed"),
    }
}

fn reads_section(out: &mut String, reads: &Reads) {
    let _ = writeln!(
        out,
        "## Reads on a book of {} postings\n",
        grouped(reads.postings as u64)
    );
    let _ = writeln!(
        out,
        "{} two-posting entries over {} accounts in USD and EUR, dated {} to {}, written with \
         `Store::import_book` in chunks of {} entries in {} (SQLite file and WAL: {}). Every \
         read is at the end of {} (the whole book). Exported with `export_journal` in {} to a \
         {} journal, which the tools read.\n",
        grouped(reads.entries as u64),
        reads.accounts,
        reads.first_day,
        reads.last_day,
        grouped(BENCH_BOOK_CHUNK_ENTRIES as u64),
        human(reads.build),
        megabytes(reads.database_bytes),
        reads.last_day,
        human(reads.export),
        megabytes(reads.journal_bytes),
    );
    out.push_str("| read | runs | min | median | tool / store median |\n");
    out.push_str("|---|---:|---:|---:|---|\n");
    let trial = format!(
        "trial balance: `Store::balances` ({} lines; the book has {} per-day balance rows)",
        reads.balance_lines,
        grouped(reads.daily_rows)
    );
    stats_row(out, &trial, reads.trial_balance);
    stats_row(
        out,
        "balance sheet: `statements::balance_sheet` (chart, balances, `domain::report`)",
        reads.balance_sheet,
    );
    let _ = writeln!(
        out,
        "| check: `Store::check` (balance tables against {} postings, audit chain) | 1 | {} | | |",
        grouped(reads.postings as u64),
        human(reads.check)
    );
    for (command, time) in [
        ("`hledger bal -f FILE`", &reads.hledger),
        ("`ledger -f FILE bal`", &reads.ledger),
    ] {
        let ratio = match time {
            ToolTime::Ran(elapsed) => format!(
                "{} the trial balance, {} the balance sheet",
                ratio(*elapsed, reads.trial_balance.median),
                ratio(*elapsed, reads.balance_sheet.median)
            ),
            _ => String::new(),
        };
        let (runs, time) = tool_cells(time);
        let _ = writeln!(out, "| {command} | {runs} | {time} | {time} | {ratio} |");
    }
    out.push('\n');
}

fn imports_section(out: &mut String, imports: &Imports) {
    let _ = writeln!(
        out,
        "## Import of a {}-transaction journal ({})\n",
        grouped(imports.transactions as u64),
        megabytes(imports.journal_bytes)
    );
    out.push_str("| step | runs | time | import / tool |\n");
    out.push_str("|---|---:|---:|---|\n");
    let _ = writeln!(
        out,
        "| `ledger import FILE` equivalent: open a fresh database, read, parse, create the \
         tenant, `import_journal` (parses again, checks, writes {} entries in one transaction) \
         | 1 | {} | |",
        grouped(imports.transactions as u64),
        human(imports.import)
    );
    let _ = writeln!(
        out,
        "| of which the first `parse_journal` | 1 | {} | |",
        human(imports.parse)
    );
    for (command, time) in [
        ("`hledger bal -f FILE`", &imports.hledger),
        ("`ledger -f FILE bal`", &imports.ledger),
    ] {
        let ratio = match time {
            ToolTime::Ran(elapsed) => ratio(imports.import, *elapsed),
            _ => String::new(),
        };
        let (runs, time) = tool_cells(time);
        let _ = writeln!(out, "| {command} | {runs} | {time} | {ratio} |");
    }
    out.push('\n');
}

fn notes(out: &mut String) {
    out.push_str(
        "Not like for like: the store answers from the per-day balance table it maintained \
         while writing (`Store::balances` seeks one row per account and commodity, the last \
         day on or before the date, never the postings), while hledger and ledger parse \
         and sum the whole journal on every run, process start-up included (a tool's time is \
         the wall time of one run). The import writes to SQLite with `synchronous=FULL`, an \
         audit record (SHA-256 chained) per entry and the balance tables; the tools only \
         print balances. The exported journal ends with balance assertions for every account, \
         which both tools check.\n",
    );
}

fn stats_row(out: &mut String, read: &str, stats: Stats) {
    let _ = writeln!(
        out,
        "| {read} | {} | {} | {} | |",
        stats.runs,
        human(stats.min),
        human(stats.median)
    );
}

/// A tool's runs and time cells: `1` and its time, or `-` and why it did not run.
fn tool_cells(time: &ToolTime) -> (&'static str, String) {
    match time {
        ToolTime::Ran(elapsed) => ("1", human(*elapsed)),
        ToolTime::NotInstalled => ("-", "not installed".to_owned()),
        ToolTime::Skipped => ("-", "skipped (--skip-tools)".to_owned()),
    }
}

/// A duration in the unit that reads best: `0.412 ms`, `37.5 ms`, `12.34 s`.
pub fn human(duration: Duration) -> String {
    let millis = duration.as_secs_f64() * 1_000.0;
    if millis < 10.0 {
        format!("{millis:.3} ms")
    } else if millis < 1_000.0 {
        format!("{millis:.1} ms")
    } else {
        format!("{:.2} s", millis / 1_000.0)
    }
}

/// `numerator / denominator` as `1,234x`, `5.6x` or `0.84x`.
pub fn ratio(numerator: Duration, denominator: Duration) -> String {
    let denominator = denominator.as_secs_f64();
    if denominator <= 0.0 {
        return "n/a".to_owned();
    }
    let value = numerator.as_secs_f64() / denominator;
    if value >= 100.0 {
        format!("{}x", grouped(value.round() as u64))
    } else if value >= 1.0 {
        format!("{value:.1}x")
    } else {
        format!("{value:.2}x")
    }
}

/// `1234567` as `1,234,567`.
pub fn grouped(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1_000_000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_well() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1_000), "1,000");
        assert_eq!(grouped(1_234_567), "1,234,567");
        assert_eq!(human(Duration::from_micros(412)), "0.412 ms");
        assert_eq!(human(Duration::from_micros(37_500)), "37.5 ms");
        assert_eq!(human(Duration::from_millis(12_340)), "12.34 s");
        let ms = Duration::from_millis;
        assert_eq!(ratio(ms(12_340), ms(10)), "1,234x");
        assert_eq!(ratio(ms(56), ms(10)), "5.6x");
        assert_eq!(ratio(ms(84), ms(100)), "0.84x");
        assert_eq!(ratio(ms(1), Duration::ZERO), "n/a");
    }
}
