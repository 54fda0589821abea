//! Fixtures of the store's tests: temporary database files, parsing shorthands, a seeded
//! tenant, a two-posting transfer, and `downgrade` (a database as an older binary left it, for
//! the upgrade tests). No tests here; the suites are `tests.rs` and its neighbours.

use super::*;
use crate::domain::{AccountType, Decimal, NewPosting};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A database file in the temporary directory, with its WAL and shared-memory files removed
/// on drop.
pub(crate) struct TempDb {
    pub(crate) path: PathBuf,
}

impl TempDb {
    pub(crate) fn new(name: &str) -> TempDb {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let unique = format!(
            "ledger-test-{}-{}-{name}.db",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let path = std::env::temp_dir().join(unique);
        let db = TempDb { path };
        db.remove();
        db
    }

    pub(crate) fn open(&self) -> SqliteStore {
        SqliteStore::open(&self.path).expect("opens")
    }

    fn remove(&self) {
        for suffix in ["", "-wal", "-shm"] {
            let mut file = self.path.clone().into_os_string();
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

/// Undoes, newest first, what each migration after `version` made, and records `version`: a
/// database as an older binary left it, for the upgrade tests. A new migration adds its undo
/// here (a test fails until it does: the upgrade would find its tables already there).
pub(crate) fn downgrade(raw: &rusqlite::Connection, version: usize) {
    const UNDO: &[&str] = &[
        "",                                                                    // 1: the base schema
        "",                                                                    // 2: the audit log
        "DROP TABLE prices;",                                                  // 3
        "DROP TABLE api_tokens;",                                              // 4
        "DROP TABLE memberships; DROP TABLE users;",                           // 5
        "DROP INDEX postings_register; ALTER TABLE postings DROP COLUMN day;", // 6
        "DROP TABLE cleared; DROP TABLE reconciliations;",                     // 7
        "DROP TABLE invitations;",                                             // 8
        "DROP INDEX audit_by_entry; DROP INDEX audit_by_linked_entry;",        // 9
        "ALTER TABLE users DROP COLUMN session_generation;",                   // 10
    ];
    assert_eq!(UNDO.len(), MIGRATIONS.len(), "every migration has its undo");
    for undo in UNDO[version..].iter().rev() {
        raw.execute_batch(undo).expect("undone");
    }
    raw.execute(
        "UPDATE schema_version SET version = ?1",
        [i64::try_from(version).expect("small")],
    )
    .expect("version");
}

pub(crate) fn day(text: &str) -> Date {
    Date::parse(text).expect(text)
}

pub(crate) fn name(text: &str) -> AccountName {
    AccountName::new(text).expect(text)
}

pub(crate) fn code(text: &str) -> CommodityCode {
    CommodityCode::new(text).expect(text)
}

/// A tenant with USD (2) and JPY (0) and five accounts opened on 2024-01-01.
pub(crate) fn seed(store: &mut impl Store, slug: &str) -> TenantId {
    let tenant = store
        .create_tenant(&TenantSlug::new(slug).expect("slug"))
        .expect("tenant");
    for (commodity, places) in [("USD", 2), ("JPY", 0)] {
        store
            .create_commodity(
                tenant,
                &Commodity::new(commodity, places).expect("commodity"),
            )
            .expect("commodity");
    }
    for account in [
        "Assets:Bank",
        "Assets:Cash",
        "Expenses:Food",
        "Income:Salary",
        "Liabilities:Card",
    ] {
        let account_name = name(account);
        let kind = AccountType::infer(&account_name).expect("type");
        store
            .create_account(tenant, &Account::new(account_name, kind, day("2024-01-01")))
            .expect("account");
    }
    tenant
}

pub(crate) fn transfer(
    date: &str,
    debit: &str,
    credit: &str,
    amount: &str,
    commodity: &str,
) -> NewEntry {
    let posting = |account: &str, amount: &str| NewPosting {
        account: name(account),
        commodity: code(commodity),
        amount: Decimal::parse(amount).expect("amount"),
    };
    NewEntry {
        date: day(date),
        description: format!("{debit} from {credit}"),
        payee: None,
        tags: BTreeSet::new(),
        metadata: BTreeMap::new(),
        postings: vec![
            posting(debit, amount),
            posting(credit, &format!("-{amount}")),
        ],
        pending: None,
    }
}
