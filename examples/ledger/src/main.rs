//! `ledger`: the command line of the ledger example. So far it only opens (or creates) the
//! database, applying migrations, and says what it found; `serve`, `import`, `export`,
//! `check`, `bench`, `tenant` and `token` come with the rest of issue 11.

use anyhow::Context;
use clap::Parser;
use ledger::store::SqliteStore;
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(about = "A multi-tenant double-entry ledger on kiln (engine and storage so far)")]
struct Args {
    /// The database file; created (with its schema) if missing.
    #[arg(long, global = true, default_value = "ledger.db")]
    database: PathBuf,
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let args = Args::parse();
    let store = SqliteStore::open(&args.database).with_context(|| {
        format!(
            "cannot open the ledger database {}",
            args.database.display()
        )
    })?;
    let version = store.schema_version()?;
    println!(
        "{}: ledger database ready (schema version {version}); no commands yet beyond opening it",
        args.database.display()
    );
    Ok(())
}
