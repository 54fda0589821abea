//! Reconciliation in the store: lines up to the statement date (pending entries and later ones
//! left out), ticking, the difference, finishing only at zero, a second statement that starts
//! from what the first reconciled, one open reconciliation per account, and tenant scoping.

use super::tests::{TempDb, code, day, name, seed, transfer};
use super::*;
use crate::domain::PendingTerms;

fn write(store: &mut SqliteStore, tenant: TenantId, entry: NewEntry) -> EntryId {
    store
        .create_entry(tenant, &EntryRequest { key: None, entry })
        .expect("entry")
}

#[test]
fn a_statement_is_reconciled_by_ticking_entries_until_the_difference_is_zero() {
    let db = TempDb::new("reconcile");
    let mut store = db.open();
    let tenant = seed(&mut store, "acme");
    let other = seed(&mut store, "other");
    let bank = name("Assets:Bank");
    let usd = code("USD");
    let pay = write(
        &mut store,
        tenant,
        transfer(
            "2024-03-01",
            "Assets:Bank",
            "Income:Salary",
            "100.00",
            "USD",
        ),
    );
    let lunch = write(
        &mut store,
        tenant,
        transfer("2024-03-05", "Expenses:Food", "Assets:Bank", "12.50", "USD"),
    );
    let late = write(
        &mut store,
        tenant,
        transfer("2024-04-02", "Expenses:Food", "Assets:Bank", "3.00", "USD"),
    );
    let mut hold = transfer("2024-03-06", "Expenses:Food", "Assets:Bank", "5.00", "USD");
    hold.pending = Some(PendingTerms { expires_at: None });
    write(&mut store, tenant, hold);

    let now = Timestamp(1_000);
    let march = store
        .start_reconciliation(tenant, &bank, &usd, day("2024-03-31"), Amount(8_750), now)
        .expect("started");
    let again = store.start_reconciliation(tenant, &bank, &usd, day("2024-03-31"), Amount(0), now);
    assert_eq!(again.expect_err("one open").code(), "invalid");
    let state = store
        .reconciliation(tenant, march)
        .expect("read")
        .expect("found");
    let entries: Vec<EntryId> = state.lines.iter().map(|l| l.entry).collect();
    assert_eq!(
        entries,
        [pay, lunch],
        "up to the statement date, posted only"
    );
    assert_eq!(state.difference(), Some(Amount(8_750)));

    store.set_cleared(tenant, march, pay, true).expect("tick");
    let refused = store.finish_reconciliation(tenant, march, now);
    assert_eq!(refused.expect_err("not zero").code(), "invalid");
    store.set_cleared(tenant, march, lunch, true).expect("tick");
    let state = store
        .reconciliation(tenant, march)
        .expect("read")
        .expect("found");
    assert_eq!(state.difference(), Some(Amount(0)));
    assert!(state.lines.iter().all(|l| l.cleared));
    let not_a_line = store.set_cleared(tenant, march, late, true);
    assert_eq!(not_a_line.expect_err("after the date").code(), "invalid");
    store
        .finish_reconciliation(tenant, march, now)
        .expect("finished");
    let closed = store.set_cleared(tenant, march, pay, false);
    assert_eq!(closed.expect_err("finished").code(), "invalid");

    // April starts from March's reconciled 87.50 and lists only what is left.
    let april = store
        .start_reconciliation(tenant, &bank, &usd, day("2024-04-30"), Amount(8_450), now)
        .expect("started");
    let state = store
        .reconciliation(tenant, april)
        .expect("read")
        .expect("found");
    assert_eq!(state.reconciled, Amount(8_750));
    assert_eq!(
        state.lines.iter().map(|l| l.entry).collect::<Vec<_>>(),
        [late]
    );
    assert_eq!(state.difference(), Some(Amount(-300)));
    store.set_cleared(tenant, april, late, true).expect("tick");
    store
        .finish_reconciliation(tenant, april, now)
        .expect("finished");
    let listed = store.reconciliations(tenant).expect("list");
    assert_eq!(
        listed.iter().map(|r| r.id).collect::<Vec<_>>(),
        [april, march]
    );
    assert!(listed.iter().all(|r| r.finished_at.is_some()));

    // The other tenant sees none of it and cannot touch it.
    assert_eq!(store.reconciliation(other, march).expect("read"), None);
    assert!(store.reconciliations(other).expect("list").is_empty());
    let theirs = store.set_cleared(other, march, pay, true);
    assert_eq!(theirs.expect_err("not theirs").code(), "not_found");
    assert!(store.check(None).expect("check").is_clean());
}
