//! Store tests of the audit log and of `check`. The functions over `&mut impl Store` are the
//! trait-level part (a second implementation adds its own lines to `mod sqlite` below); the
//! tampering tests open the SQLite file with rusqlite directly, as an attacker with the file
//! would, and are SQLite-only. Helpers (`TempDb`, `seed`, `transfer`) come from `tests.rs`.

use super::tests::{TempDb, code, day, name, seed, transfer};
use super::*;
use crate::domain::audit::{ChainBreak, ChainFault, verify_chain};
use crate::domain::{AccountType, Amount, PendingTerms};

fn request(entry: NewEntry) -> EntryRequest {
    EntryRequest { key: None, entry }
}

fn salary() -> EntryRequest {
    request(transfer(
        "2024-01-31",
        "Assets:Bank",
        "Income:Salary",
        "3000.00",
        "USD",
    ))
}

fn hold(amount: &str, expires_at: Option<i64>) -> EntryRequest {
    let mut entry = transfer("2024-02-02", "Expenses:Food", "Assets:Bank", amount, "USD");
    entry.pending = Some(PendingTerms {
        expires_at: expires_at.map(Timestamp),
    });
    request(entry)
}

fn records(store: &mut impl Store, tenant: TenantId) -> Vec<AuditRecord> {
    store
        .audit_records(tenant, 0, usize::MAX)
        .expect("audit records")
}

fn actions(store: &mut impl Store, tenant: TenantId) -> Vec<String> {
    records(store, tenant)
        .into_iter()
        .map(|r| r.action)
        .collect()
}

/// One of each kind of write; returns the tenant.
fn write_one_of_each(store: &mut impl Store) -> TenantId {
    let tenant = seed(store, "acme");
    let floor = BalanceConstraint {
        commodity: code("USD"),
        min: Some(Amount(0)),
        max: None,
    };
    let now = Timestamp(1_000);
    store
        .set_constraint(tenant, &name("Assets:Bank"), &floor)
        .expect("constraint");
    let original = store.create_entry(tenant, &salary()).expect("entry");
    let lunch = transfer("2024-02-01", "Expenses:Food", "Assets:Cash", "12.50", "USD");
    let batch = [request(lunch.clone()), request(lunch)];
    store
        .create_entries(tenant, &batch, BatchMode::Linked)
        .expect("batch");
    store
        .reverse_entry(tenant, original, day("2024-02-01"))
        .expect("reversed");
    store.create_entry(tenant, &salary()).expect("entry");
    let posted = store.create_entry(tenant, &hold("10", None)).expect("hold");
    store
        .post_pending(tenant, posted, &PostAmounts::Full, day("2024-02-03"), now)
        .expect("posted");
    let voided = store.create_entry(tenant, &hold("10", None)).expect("hold");
    store.void_pending(tenant, voided, now).expect("voided");
    store
        .create_entry(tenant, &hold("10", Some(500)))
        .expect("hold");
    assert_eq!(store.expire_pending(tenant, now).expect("expired").len(), 1);
    store
        .close_account(tenant, &name("Liabilities:Card"), day("2024-12-31"))
        .expect("closed");
    tenant
}

pub(super) fn every_kind_of_write_appends_a_chained_record_in_order(store: &mut impl Store) {
    store.set_actor(Actor::new("user:7", Some("192.0.2.1")).expect("actor"));
    let tenant = write_one_of_each(store);
    let mut expected = vec!["tenant.created", "commodity.created", "commodity.created"];
    expected.extend(["account.created"; 5]);
    expected.extend([
        "constraint.set",
        "entry.created",
        "entry.created", // a batch writes one record per entry
        "entry.created",
        "entry.reversed",
        "entry.created",
        "entry.created", // the hold
        "pending.posted",
        "entry.created",
        "pending.voided",
        "entry.created",
        "pending.expired",
        "account.closed",
    ]);
    assert_eq!(actions(store, tenant), expected);
    let log = records(store, tenant);
    assert_eq!(verify_chain(&log), Ok(expected.len()));
    for (index, record) in log.iter().enumerate() {
        assert_eq!(record.sequence, index as i64 + 1);
        assert_eq!(record.tenant, tenant);
        assert_eq!(
            (record.actor.as_str(), record.origin.as_deref()),
            ("user:7", Some("192.0.2.1"))
        );
    }
    assert!(
        log[9].details.contains(r#""amount":300000"#),
        "{}",
        log[9].details
    );

    // Per tenant: another tenant's chain starts at 1 and the first one is untouched.
    store.set_actor(Actor::system());
    let other = seed(store, "globex");
    let other_log = records(store, other);
    assert_eq!(other_log[0].sequence, 1);
    assert_eq!(other_log[0].actor, "system");
    assert_eq!(verify_chain(&other_log), Ok(8));
    assert_eq!(records(store, tenant), log);
    let page = store.audit_records(tenant, 3, 2).expect("page");
    assert_eq!(page, log[3..5].to_vec());
}

pub(super) fn refused_and_rolled_back_writes_leave_no_record(store: &mut impl Store) {
    let tenant = seed(store, "acme");
    let ceiling = BalanceConstraint {
        commodity: code("USD"),
        min: None,
        max: Some(Amount(100)),
    };
    store
        .set_constraint(tenant, &name("Assets:Cash"), &ceiling)
        .expect("constraint");
    let before = records(store, tenant);
    let duplicate = TenantSlug::new("acme").expect("slug");
    assert!(store.create_tenant(&duplicate).is_err());
    let unbalanced = {
        let mut entry = salary();
        entry.entry.postings.pop();
        entry
    };
    assert!(store.create_entry(tenant, &unbalanced).is_err());
    let over = transfer("2024-02-01", "Assets:Cash", "Income:Salary", "2", "USD");
    assert!(
        store.create_entry(tenant, &request(over)).is_err(),
        "constraint"
    );
    let linked = [
        salary(),
        request(transfer("2024-02-01", "Nowhere", "Assets:Bank", "1", "USD")),
    ];
    let results = store
        .create_entries(tenant, &linked, BatchMode::Linked)
        .expect("ran");
    assert!(results.iter().all(Result::is_err));
    let account = Account::new(name("Assets:Bank"), AccountType::Asset, day("2024-01-01"));
    assert!(store.create_account(tenant, &account).is_err(), "duplicate");
    assert!(
        store
            .close_account(tenant, &name("Assets:Bank"), day("2023-01-01"))
            .is_err()
    );
    assert!(
        store
            .void_pending(tenant, EntryId(999), Timestamp(0))
            .is_err()
    );
    assert_eq!(
        records(store, tenant),
        before,
        "no record of a refused write"
    );

    let independent = [salary(), unbalanced];
    store
        .create_entries(tenant, &independent, BatchMode::Independent)
        .expect("ran");
    let after = records(store, tenant);
    assert_eq!(after.len(), before.len() + 1, "only the written entry");
    assert_eq!(verify_chain(&after), Ok(after.len()));
}

pub(super) fn a_clean_database_passes_check(store: &mut impl Store) {
    let tenant = write_one_of_each(store);
    store
        .create_entry(tenant, &hold("10", None))
        .expect("a reservation left pending");
    seed(store, "globex");
    let report = store.check(None).expect("checked");
    assert!(report.is_clean(), "{:?}", report.problems);
    assert_eq!(report.tenants, 2);
    assert_eq!(report.entries, 10);
    assert!(report.balance_rows > 0 && report.daily_rows > 0);
    assert_eq!(report.audit_records, 30);
    let one = store.check(Some(tenant)).expect("checked");
    assert!(one.is_clean());
    assert_eq!(one.tenants, 1);
    assert!(matches!(
        store.check(Some(TenantId(999))),
        Err(StoreError::UnknownTenant)
    ));
}

mod sqlite {
    use super::TempDb;

    macro_rules! sqlite_tests {
        ($($test:ident),* $(,)?) => {$(
            #[test]
            fn $test() {
                let db = TempDb::new(stringify!($test));
                super::$test(&mut db.open());
            }
        )*};
    }

    sqlite_tests!(
        every_kind_of_write_appends_a_chained_record_in_order,
        refused_and_rolled_back_writes_leave_no_record,
        a_clean_database_passes_check,
    );
}

// ---- SQLite only: tampering with the file ----

/// A database with one tenant's books written, and the raw connection an attacker would use.
fn tampered_setup(name: &str) -> (TempDb, TenantId, rusqlite::Connection) {
    let db = TempDb::new(name);
    let tenant = write_one_of_each(&mut db.open());
    let raw = rusqlite::Connection::open(&db.path).expect("raw");
    (db, tenant, raw)
}

fn problems(db: &TempDb) -> Vec<Problem> {
    let report = db.open().check(None).expect("checked");
    assert!(!report.is_clean());
    report.problems
}

#[test]
fn check_names_a_tampered_posting_amount() {
    let (db, _, raw) = tampered_setup("tamper-posting");
    let entry: i64 = raw
        .query_row("SELECT MIN(id) FROM entries", [], |r| r.get(0))
        .expect("entry");
    raw.execute(
        "UPDATE postings SET amount = amount + 1 WHERE entry_id = ?1 AND position = 0",
        [entry],
    )
    .expect("tampered");
    let found = problems(&db);
    assert_eq!(found[0].check, Check::EntryBalance);
    assert_eq!(
        found[0].detail,
        format!("entry {entry} does not balance in USD: its postings sum to 1")
    );
    assert!(
        found
            .iter()
            .any(|p| p.check == Check::Balance && p.detail.starts_with("Assets:Bank USD:")),
        "{found:?}"
    );
}

#[test]
fn check_names_a_tampered_balance_row() {
    let (db, _, raw) = tampered_setup("tamper-balance");
    raw.execute(
        "UPDATE balances SET posted = posted + 5
         WHERE account_id = (SELECT id FROM accounts WHERE name = 'Expenses:Food')",
        [],
    )
    .expect("tampered");
    let found = problems(&db);
    let checks: Vec<Check> = found.iter().map(|p| p.check).collect();
    assert_eq!(checks, [Check::Balance, Check::TrialBalance], "{found:?}");
    assert!(found[0].detail.starts_with("Expenses:Food USD:"));
    assert_eq!(found[1].detail, "posted balances in USD sum to 5, not 0");
}

#[test]
fn check_names_a_tampered_daily_balance() {
    let (db, _, raw) = tampered_setup("tamper-daily");
    raw.execute("UPDATE daily_balances SET closing = closing - 1 WHERE day = (SELECT MIN(day) FROM daily_balances)", [])
        .expect("tampered");
    let found = problems(&db);
    assert!(
        found.iter().all(|p| p.check == Check::DailyBalance),
        "{found:?}"
    );
}

#[test]
fn the_audit_log_refuses_updates_and_deletes_through_sql() {
    let (_db, _, raw) = tampered_setup("append-only");
    for sql in [
        "UPDATE audit_log SET actor = 'mallory'",
        "DELETE FROM audit_log",
    ] {
        let error = raw.execute(sql, []).expect_err(sql).to_string();
        assert!(error.contains("append-only"), "{error}");
    }
}

#[test]
fn check_names_the_first_tampered_audit_record() {
    let (db, tenant, raw) = tampered_setup("tamper-audit");
    raw.execute_batch(
        "DROP TRIGGER audit_log_no_update;
         UPDATE audit_log SET details = replace(details, '300000', '300001')
         WHERE action = 'entry.created' AND sequence >= 10;",
    )
    .expect("tampered");
    let found = problems(&db);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].check, Check::AuditChain);
    assert_eq!(
        found[0].detail,
        "audit record 10 is the first broken one: hash does not match the record's contents \
         (changed after writing)"
    );
    let log = db.open().audit_records(tenant, 0, usize::MAX).expect("log");
    assert_eq!(
        verify_chain(&log),
        Err(ChainBreak {
            sequence: 10,
            fault: ChainFault::Hash
        })
    );
}

#[test]
fn check_names_a_deleted_audit_record() {
    let (db, _, raw) = tampered_setup("delete-audit");
    raw.execute_batch(
        "DROP TRIGGER audit_log_no_delete; DELETE FROM audit_log WHERE sequence = 4;",
    )
    .expect("tampered");
    let found = problems(&db);
    assert_eq!(
        found[0].detail,
        "audit record 5 is the first broken one: sequence number out of order (expected 4)"
    );
}

#[test]
fn audit_records_are_dated_by_the_store_clock() {
    let db = TempDb::new("clock");
    let mut store = db.open();
    store.set_clock(|| Timestamp(1_700_000_000));
    let tenant = seed(&mut store, "acme");
    let log = records(&mut store, tenant);
    assert!(log.iter().all(|r| r.at == Timestamp(1_700_000_000)));
}

/// `entry_audit`: an entry's trail names its creation, its reversal (from both ends) and the
/// reconciliation ticks on it, bounded, by index, and never another tenant's.
#[test]
fn an_entrys_audit_trail_is_found_by_index_from_both_ends() {
    use crate::limits::AUDIT_RECORDS_PER_ENTRY_MAX;
    let db = TempDb::new("entry-audit");
    let mut store = db.open();
    let tenant = seed(&mut store, "acme");
    let other = seed(&mut store, "other");
    let pay = store.create_entry(tenant, &salary()).expect("entry");
    let theirs = store.create_entry(other, &salary()).expect("entry");
    let reversal = store
        .reverse_entry(tenant, pay, day("2024-02-01"))
        .expect("reversed");
    let actions = |store: &mut SqliteStore, tenant, id| -> Vec<String> {
        store
            .entry_audit(tenant, id)
            .expect("trail")
            .into_iter()
            .map(|r| r.action)
            .collect()
    };
    assert_eq!(
        actions(&mut store, tenant, pay),
        ["entry.created", "entry.reversed"]
    );
    assert_eq!(actions(&mut store, tenant, reversal), ["entry.reversed"]);
    assert!(actions(&mut store, tenant, theirs).is_empty() || theirs == pay);
    assert_eq!(actions(&mut store, other, theirs), ["entry.created"]);
    // Ticks on a reconciliation name the entry; the trail is bounded.
    let id = store
        .start_reconciliation(
            tenant,
            &name("Assets:Bank"),
            &code("USD"),
            day("2024-12-31"),
            Amount(0),
            Timestamp(0),
        )
        .expect("started");
    for i in 0..AUDIT_RECORDS_PER_ENTRY_MAX {
        store
            .set_cleared(tenant, id, pay, i % 2 == 0)
            .expect("tick");
    }
    let trail = store.entry_audit(tenant, pay).expect("trail");
    assert_eq!(trail.len(), AUDIT_RECORDS_PER_ENTRY_MAX);
    assert_eq!(trail[0].action, "entry.created", "oldest first");
    assert!(trail.windows(2).all(|w| w[0].sequence < w[1].sequence));
    // Both queries walk their partial index in order: no scan of the log, no sort.
    let raw = rusqlite::Connection::open(&db.path).expect("raw");
    for (sql, index) in crate::store::sqlite::audit_sql_of_entry()
        .into_iter()
        .zip(["audit_by_entry", "audit_by_linked_entry"])
    {
        let plan: Vec<String> = raw
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .expect("plan")
            .query_map(rusqlite::params![1, 1, 10], |row| row.get::<_, String>(3))
            .expect("rows")
            .collect::<Result<_, _>>()
            .expect("plan rows");
        let plan = plan.join("\n");
        assert!(plan.contains(&format!("USING INDEX {index}")), "{plan}");
        assert!(!plan.contains("TEMP B-TREE"), "{plan}");
    }
}
