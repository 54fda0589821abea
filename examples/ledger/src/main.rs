//! `ledger`: the command line of the ledger example. It opens (or creates) the database,
//! applying migrations, and runs one command: `check` (balances against postings, trial
//! balances, the audit chain), `export` (a tenant's journal for hledger and ledger-cli),
//! `import FILE` (such a journal, or with `--csv-rules RULES` a bank CSV statement, all or
//! nothing), `tenant create SLUG` or `bench` (timings against hledger and ledger-cli, in a
//! temporary directory: `ledger::bench`); with no command it says what it found. `serve` and
//! `token` come with the rest of issue 11.
//!
//! Writes made here are recorded in the audit log as actor `cli`. Errors go to standard error
//! with a non-zero exit. Tests: `tests/cli.rs` runs this binary.

use anyhow::Context;
use clap::{Parser, Subcommand};
use ledger::domain::{Actor, Date, Scope, TenantId, TenantSlug, TokenId};
use ledger::interop::{
    CsvImportError, ImportError, Problems, export_journal, import_csv, import_journal,
    parse_journal, parse_rules,
};
use ledger::limits::{CSV_RULES_FILE_BYTES_MAX, IMPORT_FILE_BYTES_MAX};
use ledger::store::{CheckReport, SqliteStore, Store, StoreError};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(about = "A multi-tenant double-entry ledger on kiln (engine and storage so far)")]
struct Args {
    /// The database file; created (with its schema) if missing.
    #[arg(long, global = true, default_value = "ledger.db")]
    database: PathBuf,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Verifies every tenant: balances against postings, trial balances zero, the audit chain.
    /// Exits 1 and names the first problem if anything is wrong.
    Check,
    /// Writes a tenant's books as a plain-text journal that hledger and ledger-cli read as
    /// is, ending with balance assertions (the tools check every balance).
    Export {
        /// The tenant; may be left out when the database holds exactly one.
        #[arg(long)]
        tenant: Option<String>,
        /// Where to write the journal (replaced if it exists); standard output by default.
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// Imports an hledger/ledger journal into a tenant, all or nothing: every problem is
    /// printed as FILE:LINE: reason and nothing is written unless the whole file is fine.
    Import {
        /// The journal file.
        file: PathBuf,
        /// The tenant; may be left out when the database holds one tenant, or none (then
        /// `default` is created).
        #[arg(long)]
        tenant: Option<String>,
        /// Reads FILE as a bank CSV statement mapped by this rules file (see the ledger
        /// README); rows imported before (same fingerprint) are skipped and counted.
        #[arg(long, value_name = "RULES")]
        csv_rules: Option<PathBuf>,
    },
    /// Manages tenants (organisations).
    Tenant {
        #[command(subcommand)]
        command: TenantCommand,
    },
    /// Times the trial balance and balance sheet on a generated book, and a journal import,
    /// against hledger and ledger on the same files; prints a markdown table. Works in a
    /// temporary directory (removed after); ignores --database.
    Bench(ledger::bench::BenchArgs),
    /// Manages API tokens (per tenant, scoped read or write, stored hashed).
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Serves the JSON API (`/api/v1`) on the database. On a database without tenants it
    /// first creates the `demo` tenant with a year of books and a write token for it.
    Serve {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: String,
        /// Worker threads (one io_uring each); default: one per core.
        #[arg(long)]
        workers: Option<usize>,
        /// When session and CSRF cookies are `Secure` (HTTPS only): `always` (behind TLS,
        /// and on localhost, where browsers accept them over plain HTTP), `forwarded` (when the
        /// proxy says the client came over HTTPS: `X-Forwarded-Proto: https` or `Forwarded:
        /// proto=https`), or `never` (plain HTTP on another host than localhost).
        #[arg(long, value_enum, default_value = "always")]
        secure_cookies: SecureCookies,
    },
}

/// `serve --secure-cookies`.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum SecureCookies {
    Always,
    Forwarded,
    Never,
}

#[derive(Subcommand, Debug)]
enum TokenCommand {
    /// Makes a token and prints it once (only its hash is stored).
    Create {
        /// The tenant; may be left out when the database holds exactly one.
        #[arg(long)]
        tenant: Option<String>,
        /// `read` (GET routes) or `write` (everything).
        #[arg(long)]
        scope: String,
    },
    /// Revokes a token by its id (the number after `ldg_`); it authenticates nothing after.
    Revoke { id: i64 },
    /// Lists a tenant's tokens (ids, scopes, dates; never secrets).
    List {
        #[arg(long)]
        tenant: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
enum TenantCommand {
    /// Creates a tenant: SLUG is 1 to 64 of a-z, 0-9 and inner -.
    Create { slug: String },
}

/// Runs the command; an error is printed with its causes on one line (`error: ...: ...`),
/// never with a backtrace, and exits 1.
fn main() -> ExitCode {
    run().unwrap_or_else(|error| {
        eprintln!("error: {error:#}");
        ExitCode::FAILURE
    })
}

fn run() -> anyhow::Result<ExitCode> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let args = Args::parse();
    if let Some(Command::Bench(bench)) = &args.command {
        ledger::bench::command(bench)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut store = SqliteStore::open(&args.database).with_context(|| {
        format!(
            "cannot open the ledger database {}",
            args.database.display()
        )
    })?;
    store.set_actor(Actor::new("cli", None)?);
    match args.command {
        None => {
            let version = store.schema_version()?;
            println!(
                "{}: ledger database ready (schema version {version})",
                args.database.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Check) => check(&mut store),
        Some(Command::Export { tenant, output }) => {
            export(&mut store, tenant.as_deref(), output.as_deref())
        }
        Some(Command::Import {
            file,
            tenant,
            csv_rules: None,
        }) => import(&mut store, &file, tenant.as_deref()),
        Some(Command::Import {
            file,
            tenant,
            csv_rules: Some(rules),
        }) => import_csv_file(&mut store, &file, &rules, tenant.as_deref()),
        Some(Command::Token { command }) => token(&mut store, command),
        Some(Command::Serve {
            addr,
            workers,
            secure_cookies,
        }) => {
            let cookies = match secure_cookies {
                SecureCookies::Always => ledger::web::Cookies::Secure,
                SecureCookies::Forwarded => ledger::web::Cookies::SecureWhenForwardedHttps,
                SecureCookies::Never => ledger::web::Cookies::PlainHttp,
            };
            serve(store, &args.database, &addr, workers, cookies)
        }
        Some(Command::Tenant {
            command: TenantCommand::Create { slug },
        }) => create_tenant(&mut store, &slug),
        Some(Command::Bench(_)) => Ok(ExitCode::SUCCESS), // run above, before the database
    }
}

fn check(store: &mut SqliteStore) -> anyhow::Result<ExitCode> {
    let report = store
        .check(None)
        .context("check could not read the database")?;
    if report.is_clean() {
        println!("ok: {}", summary(&report));
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(first) = report.problems.first() {
        eprintln!("check failed; first problem: {first}");
    }
    eprintln!("all problems found:");
    for problem in &report.problems {
        eprintln!("  {problem}");
    }
    if report.problems_not_shown > 0 {
        eprintln!("  and {} more not shown", report.problems_not_shown);
    }
    eprintln!("checked: {}", summary(&report));
    Ok(ExitCode::FAILURE)
}

fn summary(report: &CheckReport) -> String {
    format!(
        "tenants {}, entries {}, balance rows {}, daily balance rows {}, audit records {}",
        report.tenants,
        report.entries,
        report.balance_rows,
        report.daily_rows,
        report.audit_records
    )
}

fn create_tenant(store: &mut SqliteStore, slug: &str) -> anyhow::Result<ExitCode> {
    let parsed = TenantSlug::new(slug).with_context(|| format!("bad tenant slug {slug:?}"))?;
    match store.create_tenant(&parsed) {
        Ok(id) => {
            println!("created tenant {parsed} (id {})", id.0);
            Ok(ExitCode::SUCCESS)
        }
        Err(StoreError::AlreadyExists { .. }) => {
            anyhow::bail!("a tenant {parsed} exists already in this database")
        }
        Err(other) => Err(other).with_context(|| format!("cannot create tenant {parsed}")),
    }
}

/// `export`: resolves the tenant, opens the output (before reading anything, so an unwritable
/// path fails at once), and streams the journal into it.
fn export(
    store: &mut SqliteStore,
    tenant: Option<&str>,
    output: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let (id, slug) = resolve_tenant(store, tenant)?;
    let summary = match output {
        Some(path) => {
            let file = std::fs::File::create(path)
                .with_context(|| format!("cannot write the export to {}", path.display()))?;
            let mut out = std::io::BufWriter::new(file);
            let summary = export_journal(store, id, slug.as_str(), &mut out)
                .with_context(|| format!("cannot export tenant {slug} to {}", path.display()))?;
            out.into_inner()
                .map_err(|error| error.into_error())
                .and_then(|file| file.sync_all())
                .with_context(|| format!("cannot write the export to {}", path.display()))?;
            summary
        }
        None => {
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            let summary = export_journal(store, id, slug.as_str(), &mut out)
                .with_context(|| format!("cannot export tenant {slug}"))?;
            out.flush().context("cannot write the export")?;
            summary
        }
    };
    tracing::info!(
        tenant = %slug,
        transactions = summary.transactions,
        pending_comments = summary.pending_comments,
        assertions = summary.assertions,
        "exported"
    );
    Ok(ExitCode::SUCCESS)
}

/// The tenant named by `--tenant`, or the only one; otherwise an error that says what to do.
fn resolve_tenant(
    store: &mut SqliteStore,
    tenant: Option<&str>,
) -> anyhow::Result<(TenantId, TenantSlug)> {
    if let Some(slug) = tenant {
        let parsed = TenantSlug::new(slug).with_context(|| format!("bad tenant slug {slug:?}"))?;
        let id = store
            .tenant(&parsed)?
            .with_context(|| format!("no tenant {parsed} in this database"))?;
        return Ok((id, parsed));
    }
    let mut tenants = store.tenants()?;
    match tenants.len() {
        0 => anyhow::bail!(
            "the database holds no tenant; create one with `ledger tenant create SLUG`"
        ),
        1 => tenants.pop().context("the database's only tenant vanished"),
        count => {
            let slugs: Vec<&str> = tenants.iter().map(|(_, slug)| slug.as_str()).collect();
            anyhow::bail!(
                "the database holds {count} tenants ({}); name one with --tenant SLUG",
                slugs.join(", ")
            )
        }
    }
}

fn token(store: &mut SqliteStore, command: TokenCommand) -> anyhow::Result<ExitCode> {
    let now = ledger::store::system_clock();
    match command {
        TokenCommand::Create { tenant, scope } => {
            let scope = Scope::parse(&scope)
                .map_err(|_| anyhow::anyhow!("bad scope {scope:?}: a scope is read or write"))?;
            let (tenant, slug) = resolve_tenant(store, tenant.as_deref())?;
            let (id, text) = ledger::service::create_token(store, tenant, scope, now)?;
            eprintln!(
                "token {id} for tenant {slug}, scope {}: shown once, keep it (only its hash is stored)",
                scope.as_str()
            );
            println!("{text}");
        }
        TokenCommand::Revoke { id } => {
            let record = store.revoke_token(TokenId(id), now)?;
            println!("token {id} revoked");
            if record.revoked_at != Some(now) {
                eprintln!("(it had been revoked before)");
            }
        }
        TokenCommand::List { tenant } => {
            let (tenant, _) = resolve_tenant(store, tenant.as_deref())?;
            for record in store.tokens(tenant)? {
                let state = match record.revoked_at {
                    Some(at) => format!("revoked at {}", at.0),
                    None => "active".to_owned(),
                };
                println!(
                    "{}\t{}\tcreated at {}\t{state}",
                    record.id,
                    record.scope.as_str(),
                    record.created_at.0
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `serve`: seeds a database without tenants (the demo tenant and a write token, printed
/// once), then serves the API until SIGINT or SIGTERM, and drains the writer.
fn serve(
    mut store: SqliteStore,
    database: &Path,
    addr: &str,
    workers: Option<usize>,
    cookies: ledger::web::Cookies,
) -> anyhow::Result<ExitCode> {
    let demo = if store.tenants()?.is_empty() {
        Some(seed_demo(&mut store)?)
    } else {
        None
    };
    drop(store); // the writer opens its own connection
    let ledger = ledger::service::Ledger::open(database, &ledger::service::WriterConfig::default())
        .with_context(|| format!("cannot open the ledger database {}", database.display()))?;
    ledger
        .start_expiry_sweep(std::time::Duration::from_millis(
            ledger::limits::PENDING_EXPIRY_SWEEP_MS,
        ))
        .context("cannot start the expiry sweep")?;
    let app = ledger::web::app(ledger.clone(), &session_secret()?, cookies)?;
    let limits = kiln::limits::HttpLimits {
        body_bytes_max: ledger::limits::API_BODY_BYTES_MAX,
        ..kiln::limits::HttpLimits::default()
    };
    let mut server = kiln::Server::bind(addr).http_limits(limits);
    if let Some(workers) = workers {
        server = server.workers(workers);
    }
    server
        .serve_then(app, |local| {
            // The demo lines first: the address line is the last one a watcher waits for.
            if let Some(demo) = &demo {
                tracing::info!(
                    "demo login: http://{local}/login as {} with password {} (shown once)",
                    demo.email,
                    demo.password
                );
                tracing::info!(
                    "demo API token {} (write scope, shown once): {}  e.g. curl -H \
                     'Authorization: Bearer {}' http://{local}/api/v1/trial-balance",
                    demo.token_id,
                    demo.token,
                    demo.token
                );
            }
            tracing::info!(
                "ledger serving {} on http://{local} (web app at /, JSON API under /api/v1)",
                database.display()
            );
        })
        .with_context(|| format!("cannot serve on {addr}"))?;
    ledger.writer().shutdown();
    Ok(ExitCode::SUCCESS)
}

/// Signs sessions and CSRF tokens: `LEDGER_SECRET` (at least 32 bytes), or a random secret
/// (then sessions end when the server restarts).
fn session_secret() -> anyhow::Result<Vec<u8>> {
    if let Ok(secret) = std::env::var("LEDGER_SECRET") {
        anyhow::ensure!(
            secret.len() >= 32,
            "LEDGER_SECRET is {} bytes; it must be at least 32",
            secret.len()
        );
        return Ok(secret.into_bytes());
    }
    tracing::warn!("LEDGER_SECRET is not set: using a random secret (sessions end on restart)");
    let mut secret = vec![0u8; 32];
    getrandom::fill(&mut secret).map_err(|error| anyhow::anyhow!("no randomness: {error}"))?;
    Ok(secret)
}

/// What `serve` tells about a demo tenant it just made (once: only hashes are stored).
struct DemoLogin {
    email: String,
    password: String,
    token_id: ledger::domain::TokenId,
    token: String,
}

/// Creates the `demo` tenant with a year of books ending today, its owner (a demo user with a
/// random password) and a write API token.
fn seed_demo(store: &mut SqliteStore) -> anyhow::Result<DemoLogin> {
    let now = ledger::store::system_clock();
    let today = Date::of_timestamp(now).context("the system clock is outside the calendar")?;
    let tenant = ledger::seed::seed_demo(store, today).context("cannot seed the demo tenant")?;
    let (token_id, token) = ledger::service::create_token(store, tenant, Scope::Write, now)?;
    let mut random = [0u8; 9];
    getrandom::fill(&mut random).map_err(|error| anyhow::anyhow!("no randomness: {error}"))?;
    let password: String = random.iter().map(|b| format!("{b:02x}")).collect();
    let email = ledger::domain::Email::parse(DEMO_EMAIL)?;
    let name = ledger::domain::DisplayName::parse("Demo Bookkeeper")?;
    let hash = ledger::service::password::hash_password(&password)?;
    let user = store.create_user(&email, &name, &hash, now)?;
    store.add_member(tenant, user, ledger::domain::Role::Owner)?;
    tracing::info!(
        "new database: created tenant `{}` with a year of books ending {today}",
        ledger::seed::DEMO_TENANT
    );
    Ok(DemoLogin {
        email: DEMO_EMAIL.to_owned(),
        password,
        token_id,
        token,
    })
}

/// The demo tenant's owner.
const DEMO_EMAIL: &str = "demo@example.com";

/// `import`: reads the file (bounded), parses it before touching the database, resolves or
/// creates the tenant, then imports in one transaction. A new tenant is created only once the
/// file parses; a refusal by the store after that leaves it empty.
fn import(store: &mut SqliteStore, file: &Path, tenant: Option<&str>) -> anyhow::Result<ExitCode> {
    let shown = file.display();
    let text = read_text(file, IMPORT_FILE_BYTES_MAX)?;
    if let Err(problems) = parse_journal(&text) {
        return Ok(report_problems(file, &ImportError::Problems(problems)));
    }
    let (id, slug) = import_tenant(store, tenant)?;
    match import_journal(store, id, &text) {
        Ok(summary) => {
            println!(
                "imported {} entries into tenant {slug}: {} new accounts, {} new commodities, \
                 {} balance assertions held, {} prices",
                summary.entries,
                summary.accounts,
                summary.commodities,
                summary.assertions,
                summary.prices
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(ImportError::Store(error)) => {
            Err(error).with_context(|| format!("cannot import {shown}"))
        }
        Err(problems) => Ok(report_problems(file, &problems)),
    }
}

/// Reads a UTF-8 file of at most `bytes_max` bytes.
fn read_text(file: &Path, bytes_max: u64) -> anyhow::Result<String> {
    let shown = file.display();
    let size = std::fs::metadata(file)
        .with_context(|| format!("cannot read {shown}"))?
        .len();
    if size > bytes_max {
        anyhow::bail!("{shown} is {size} bytes; an import reads at most {bytes_max}");
    }
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {shown}"))?;
    String::from_utf8(bytes).map_err(|_| anyhow::anyhow!("{shown} is not UTF-8 text"))
}

/// `import FILE --csv-rules RULES`: both files read (bounded) and the rules parsed before the
/// database is touched; then the tenant, then one transaction. Problems are printed as
/// `FILE:LINE: reason` with the file they are in (the rules or the statement).
fn import_csv_file(
    store: &mut SqliteStore,
    file: &Path,
    rules_file: &Path,
    tenant: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let rules_text = read_text(rules_file, CSV_RULES_FILE_BYTES_MAX)?;
    let text = read_text(file, IMPORT_FILE_BYTES_MAX)?;
    let rules = match parse_rules(&rules_text) {
        Ok(rules) => rules,
        Err(problems) => {
            return Ok(report_csv(
                file,
                rules_file,
                &CsvImportError::Rules(problems),
            ));
        }
    };
    let (id, slug) = import_tenant(store, tenant)?;
    match import_csv(store, id, &rules, &text) {
        Ok(summary) => {
            println!(
                "imported {} entries into tenant {slug}, skipped {} already imported: \
                 {} new accounts, {} new commodities",
                summary.imported, summary.skipped, summary.accounts, summary.commodities
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(CsvImportError::Store(error)) => {
            Err(error).with_context(|| format!("cannot import {}", file.display()))
        }
        Err(error) => Ok(report_csv(file, rules_file, &error)),
    }
}

fn report_csv(file: &Path, rules_file: &Path, error: &CsvImportError) -> ExitCode {
    let (path, problems) = match error {
        CsvImportError::Rules(problems) => (rules_file, problems),
        CsvImportError::Csv(problems) => (file, problems),
        CsvImportError::Store(_) => return ExitCode::FAILURE,
    };
    print_problems(path, problems);
    eprintln!("error: nothing imported from {}", file.display());
    ExitCode::FAILURE
}

fn print_problems(file: &Path, problems: &Problems) {
    for problem in &problems.shown {
        eprintln!("{}:{}: {}", file.display(), problem.line, problem.reason);
    }
    if problems.not_shown > 0 {
        eprintln!("and {} more problems not shown", problems.not_shown);
    }
}

fn report_problems(file: &Path, error: &ImportError) -> ExitCode {
    if let ImportError::Problems(problems) = error {
        print_problems(file, problems);
    }
    eprintln!("error: nothing imported from {}", file.display());
    ExitCode::FAILURE
}

/// The tenant to import into: `--tenant` (created if the database holds no tenant), the only
/// one, or a new `default` in an empty database.
fn import_tenant(
    store: &mut SqliteStore,
    tenant: Option<&str>,
) -> anyhow::Result<(TenantId, TenantSlug)> {
    if !store.tenants()?.is_empty() {
        return resolve_tenant(store, tenant);
    }
    let slug = tenant.unwrap_or("default");
    let parsed = TenantSlug::new(slug).with_context(|| format!("bad tenant slug {slug:?}"))?;
    let id = store
        .create_tenant(&parsed)
        .with_context(|| format!("cannot create tenant {parsed}"))?;
    Ok((id, parsed))
}
