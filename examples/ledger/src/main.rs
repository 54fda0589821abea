//! `ledger`: the command line of the ledger example. It opens (or creates) the database,
//! applying migrations, and runs one command: `check` (balances against postings, trial
//! balances, the audit chain) or `tenant create SLUG`; with no command it says what it found.
//! `serve`, `import`, `export`, `bench` and `token` come with the rest of issue 11.
//!
//! Writes made here are recorded in the audit log as actor `cli`. Errors go to standard error
//! with a non-zero exit. Tests: `tests/cli.rs` runs this binary.

use anyhow::Context;
use clap::{Parser, Subcommand};
use ledger::domain::{Actor, TenantSlug};
use ledger::store::{CheckReport, SqliteStore, Store, StoreError};
use std::path::PathBuf;
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
