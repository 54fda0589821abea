//! `ledger`: the command line of the ledger example. It opens (or creates) the database,
//! applying migrations, and runs one command: `check` (balances against postings, trial
//! balances, the audit chain), `export` (a tenant's journal for hledger and ledger-cli) or
//! `tenant create SLUG`; with no command it says what it found. `serve`, `import`, `bench`
//! and `token` come with the rest of issue 11.
//!
//! Writes made here are recorded in the audit log as actor `cli`. Errors go to standard error
//! with a non-zero exit. Tests: `tests/cli.rs` runs this binary.

use anyhow::Context;
use clap::{Parser, Subcommand};
use ledger::domain::{Actor, TenantId, TenantSlug};
use ledger::interop::export_journal;
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
    /// Manages tenants (organisations).
    Tenant {
        #[command(subcommand)]
        command: TenantCommand,
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
        Some(Command::Tenant {
            command: TenantCommand::Create { slug },
        }) => create_tenant(&mut store, &slug),
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
