//! Runs the built `ledger` binary on temporary databases: `tenant create` (and its refusals)
//! and `check`, with `--database` before and after the command. The store's own tests are in
//! `src/store/`; this file only pins what a person at a terminal sees (exit codes, messages).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A database path in the temporary directory, removed (with WAL files) on drop.
struct TempDb(PathBuf);

impl TempDb {
    fn new(name: &str) -> TempDb {
        let file = format!("ledger-cli-{}-{name}.db", std::process::id());
        let db = TempDb(std::env::temp_dir().join(file));
        db.remove();
        db
    }

    fn remove(&self) {
        for suffix in ["", "-wal", "-shm"] {
            let mut file = self.0.clone().into_os_string();
            file.push(suffix);
            let _ = std::fs::remove_file(file);
        }
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        self.remove();
    }
}

fn ledger(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ledger"))
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("the ledger binary runs")
}

fn path(db: &TempDb) -> &str {
    db.0.to_str().expect("a UTF-8 temp path")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn tenant_create_then_duplicate_refused() {
    let db = TempDb::new("tenant");
    let created = ledger(&["--database", path(&db), "tenant", "create", "acme"]);
    assert!(created.status.success(), "{}", text(&created.stderr));
    assert!(text(&created.stdout).contains("created tenant acme"));

    // --database after the command (clap `global = true`).
    let again = ledger(&["tenant", "create", "acme", "--database", path(&db)]);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        text(&again.stderr).contains("a tenant acme exists already"),
        "{}",
        text(&again.stderr)
    );
}

#[test]
fn a_bad_slug_is_refused_with_the_rule() {
    let db = TempDb::new("bad-slug");
    let refused = ledger(&["--database", path(&db), "tenant", "create", "Not OK"]);
    assert_eq!(refused.status.code(), Some(1));
    let stderr = text(&refused.stderr);
    assert!(stderr.contains("bad tenant slug \"Not OK\""), "{stderr}");
    assert!(stderr.contains("a-z, 0-9 and inner -"), "{stderr}");
}

#[test]
fn check_passes_on_a_fresh_database_and_after_a_tenant() {
    let db = TempDb::new("check");
    let fresh = ledger(&["--database", path(&db), "check"]);
    assert!(fresh.status.success(), "{}", text(&fresh.stderr));
    assert!(text(&fresh.stdout).starts_with("ok: tenants 0,"));

    ledger(&["--database", path(&db), "tenant", "create", "acme"]);
    let checked = ledger(&["check", "--database", path(&db)]);
    assert!(checked.status.success(), "{}", text(&checked.stderr));
    assert!(
        text(&checked.stdout).contains("tenants 1,")
            && text(&checked.stdout).contains("audit records 1"),
        "{}",
        text(&checked.stdout)
    );
}

#[test]
fn check_fails_and_names_a_tampered_audit_record() {
    let db = TempDb::new("tampered");
    ledger(&["--database", path(&db), "tenant", "create", "acme"]);
    tamper(&db.0);
    let checked = ledger(&["--database", path(&db), "check"]);
    assert_eq!(checked.status.code(), Some(1));
    let stderr = text(&checked.stderr);
    assert!(
        stderr.contains("first problem: tenant acme: audit_chain: audit record 1"),
        "{stderr}"
    );
}

/// Changes the first audit record's actor behind the append-only trigger, as someone with
/// the file could (the test may open it with rusqlite, the crate's own dependency).
fn tamper(database: &Path) {
    let raw = rusqlite::Connection::open(database).expect("open the database");
    raw.execute_batch(
        "DROP TRIGGER audit_log_no_update; UPDATE audit_log SET actor = 'mallory' WHERE sequence = 1;",
    )
    .expect("tampered");
}
