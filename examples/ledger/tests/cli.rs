//! Runs the built `ledger` binary on temporary databases: `tenant create` (and its refusals),
//! `check` and `export`, with `--database` before and after the command. The store's own
//! tests are in `src/store/`; this file only pins what a person at a terminal sees (exit
//! codes, messages). `cli/cross_check.rs` (a module of this one test binary) exports a
//! 10,000-entry book and checks it with the real hledger and ledger-cli; `cli/import.rs`
//! runs `import` (round trip, hledger's balances, every refusal); `cli/csv.rs` runs `import
//! --csv-rules` (overlapping statements, problems by file and line); `cli/prices.rs` exports
//! a book with prices and checks `-X USD` in both tools against `domain::value_at`;
//! `cli/demo.rs` exports the demo book (`ledger::seed`) and checks it, and its balance sheet,
//! with the real tools; `cli/api.rs` drives the JSON API through `kiln::test::TestClient`,
//! `cli/web.rs` the web app's pages, `cli/web_reports.rs` its reports and `cli/web_people.rs`
//! people, invitations, tokens and the audit log, `cli/web_import.rs` the import pages;
//! `cli/durability.rs` kills `ledger serve` with SIGKILL mid-stream and checks what is left.

#[path = "cli/api.rs"]
mod api;
#[path = "cli/browser.rs"]
mod browser;
#[path = "cli/cross_check.rs"]
mod cross_check;
#[path = "cli/csv.rs"]
mod csv;
#[path = "cli/demo.rs"]
mod demo;
#[path = "cli/durability.rs"]
mod durability;
#[path = "cli/import.rs"]
mod import;
#[path = "cli/prices.rs"]
mod prices;
#[path = "cli/web.rs"]
mod web;
#[path = "cli/web_books.rs"]
mod web_books;
#[path = "cli/web_import.rs"]
mod web_import;
#[path = "cli/web_isolation.rs"]
mod web_isolation;
#[path = "cli/web_people.rs"]
mod web_people;
#[path = "cli/web_reconcile.rs"]
mod web_reconcile;
#[path = "cli/web_reports.rs"]
mod web_reports;

use ledger::domain::{
    Account, AccountName, AccountType, Commodity, Date, Decimal, NewEntry, NewPosting, TenantId,
    TenantSlug,
};
use ledger::store::{EntryRequest, SqliteStore, Store};
use std::collections::{BTreeMap, BTreeSet};
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

/// `BENCH_CLIENTS_MAX`: `--clients` outside 1 to 256 is refused before anything runs.
#[test]
fn bench_refuses_a_client_count_out_of_bounds() {
    for clients in ["0", "257"] {
        let refused = ledger(&["bench", "--skip-reads", "--clients", clients]);
        assert_eq!(refused.status.code(), Some(1), "{clients}");
        let stderr = text(&refused.stderr);
        assert!(stderr.contains("--clients is"), "{stderr}");
        assert!(stderr.contains("1 to 256"), "{stderr}");
    }
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

/// Opens the database through the library (the CLI has no command to write entries yet).
fn open_store(db: &TempDb) -> SqliteStore {
    SqliteStore::open(&db.0).expect("the store opens")
}

/// A tenant with USD and JPY, two accounts and one entry of `12.50 USD`.
fn small_book(store: &mut SqliteStore, slug: &str) -> TenantId {
    let tenant = store
        .create_tenant(&TenantSlug::new(slug).expect("slug"))
        .expect("tenant");
    for (code, places) in [("USD", 2), ("JPY", 0)] {
        let commodity = Commodity::new(code, places).expect("commodity");
        store
            .create_commodity(tenant, &commodity)
            .expect("commodity");
    }
    let opened = Date::parse("2024-01-01").expect("date");
    for (name, kind) in [
        ("Assets:Bank", AccountType::Asset),
        ("Expenses:Food", AccountType::Expense),
    ] {
        let account = Account::new(AccountName::new(name).expect("name"), kind, opened);
        store.create_account(tenant, &account).expect("account");
    }
    let posting = |account: &str, amount: &str| NewPosting {
        account: AccountName::new(account).expect("name"),
        commodity: ledger::domain::CommodityCode::new("USD").expect("code"),
        amount: Decimal::parse(amount).expect("amount"),
    };
    let entry = NewEntry {
        date: Date::parse("2024-02-03").expect("date"),
        description: "Lunch".into(),
        payee: Some("Café".into()),
        tags: BTreeSet::new(),
        metadata: BTreeMap::new(),
        postings: vec![
            posting("Expenses:Food", "12.50"),
            posting("Assets:Bank", "-12.50"),
        ],
        pending: None,
    };
    store
        .create_entry(tenant, &EntryRequest { key: None, entry })
        .expect("entry");
    tenant
}

#[test]
fn export_writes_the_only_tenant_to_standard_output() {
    let db = TempDb::new("export-stdout");
    small_book(&mut open_store(&db), "acme");
    let exported = ledger(&["export", "--database", path(&db)]);
    assert!(exported.status.success(), "{}", text(&exported.stderr));
    let journal = text(&exported.stdout);
    assert!(journal.starts_with("; Books of tenant acme,"), "{journal}");
    assert!(
        journal.contains("\ncommodity JPY\ncommodity USD\n"),
        "{journal}"
    );
    assert!(
        journal.contains("\naccount Assets:Bank  ; type: A, opened: 2024-01-01\n"),
        "{journal}"
    );
    assert!(
        journal.contains(
            "\n2024-02-03 (1) Café | Lunch\n    Expenses:Food  12.50 USD\n    Assets:Bank  -12.50 USD\n"
        ),
        "{journal}"
    );
    assert!(
        journal.contains("    Assets:Bank  0.00 USD = -12.50 USD\n"),
        "{journal}"
    );
}

#[test]
fn export_to_a_file_names_the_tenant_when_there_are_several() {
    let db = TempDb::new("export-several");
    let mut store = open_store(&db);
    small_book(&mut store, "acme");
    small_book(&mut store, "globex");
    drop(store);
    let unnamed = ledger(&["--database", path(&db), "export"]);
    assert_eq!(unnamed.status.code(), Some(1));
    let stderr = text(&unnamed.stderr);
    assert!(
        stderr.contains("the database holds 2 tenants (acme, globex); name one with --tenant SLUG"),
        "{stderr}"
    );
    assert!(unnamed.stdout.is_empty());

    let file = db.0.with_extension("journal");
    let named = ledger(&[
        "--database",
        path(&db),
        "export",
        "--tenant",
        "globex",
        "--output",
        file.to_str().expect("UTF-8 path"),
    ]);
    assert!(named.status.success(), "{}", text(&named.stderr));
    let journal = std::fs::read_to_string(&file).expect("the export was written");
    let _ = std::fs::remove_file(&file);
    assert!(
        journal.starts_with("; Books of tenant globex,"),
        "{journal}"
    );
    assert!(named.stdout.is_empty());

    let unknown = ledger(&["--database", path(&db), "export", "--tenant", "initech"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(text(&unknown.stderr).contains("no tenant initech in this database"));
}

#[test]
fn export_refuses_an_empty_database_and_an_unwritable_output() {
    let db = TempDb::new("export-refusals");
    let empty = ledger(&["--database", path(&db), "export"]);
    assert_eq!(empty.status.code(), Some(1));
    assert!(
        text(&empty.stderr)
            .contains("holds no tenant; create one with `ledger tenant create SLUG`"),
        "{}",
        text(&empty.stderr)
    );

    small_book(&mut open_store(&db), "acme");
    let missing_dir = std::env::temp_dir().join("ledger-no-such-dir-for-export/books.journal");
    let unwritable = ledger(&[
        "--database",
        path(&db),
        "export",
        "--output",
        missing_dir.to_str().expect("UTF-8 path"),
    ]);
    assert_eq!(unwritable.status.code(), Some(1));
    let stderr = text(&unwritable.stderr);
    assert!(
        stderr.contains(&format!(
            "cannot write the export to {}",
            missing_dir.display()
        )),
        "{stderr}"
    );
}
