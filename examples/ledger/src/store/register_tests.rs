//! `Store::register`: journal order with running balances (back-dated entries included),
//! pending entries without a balance, each filter, keyset pages, and tenant scoping.

use super::tests::{TempDb, code, day, name, seed, transfer};
use super::*;
use crate::domain::PendingTerms;

fn write(store: &mut SqliteStore, tenant: TenantId, entry: NewEntry) -> EntryId {
    store
        .create_entry(tenant, &EntryRequest { key: None, entry })
        .expect("entry")
}

fn lines(rows: &[RegisterRow]) -> Vec<(EntryId, i64, Option<i64>)> {
    rows.iter()
        .map(|r| (r.entry.id, r.amount.0, r.balance.map(|b| b.0)))
        .collect()
}

#[test]
fn the_register_lists_an_account_in_journal_order_with_running_balances() {
    let db = TempDb::new("register");
    let mut store = db.open();
    let tenant = seed(&mut store, "acme");
    let other = seed(&mut store, "other");
    let bank = name("Assets:Bank");
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
    let mut lunch = transfer("2024-03-05", "Expenses:Food", "Assets:Bank", "12.50", "USD");
    lunch.description = "Lunch at Rosa's".into();
    lunch.tags.insert("food".into());
    let lunch = write(&mut store, tenant, lunch);
    let back = write(
        &mut store,
        tenant,
        transfer("2024-03-03", "Assets:Bank", "Income:Salary", "7.00", "USD"),
    );
    let same_day = write(
        &mut store,
        tenant,
        transfer("2024-03-05", "Assets:Cash", "Assets:Bank", "20.00", "USD"),
    );
    let mut hold = transfer("2024-03-06", "Expenses:Food", "Assets:Bank", "5.00", "USD");
    hold.pending = Some(PendingTerms { expires_at: None });
    let hold = write(&mut store, tenant, hold);
    // Their bank account has an entry too; it never shows here.
    write(
        &mut store,
        other,
        transfer("2024-03-02", "Assets:Bank", "Income:Salary", "1.00", "USD"),
    );

    let all = RegisterFilter::default();
    let rows = store
        .register(tenant, &bank, &all, None, 100)
        .expect("register");
    assert_eq!(
        lines(&rows),
        [
            (pay, 10_000, Some(10_000)),
            (back, 700, Some(10_700)),
            (lunch, -1_250, Some(9_450)),
            (same_day, -2_000, Some(7_450)),
            (hold, -500, None),
        ]
    );
    assert!(rows.iter().all(|r| r.commodity == code("USD")));

    // Pages of two, by cursor.
    let first = store.register(tenant, &bank, &all, None, 2).expect("page");
    assert_eq!(first.len(), 2);
    let cursor = first[1].entry.cursor();
    let second = store
        .register(tenant, &bank, &all, Some(cursor), 2)
        .expect("page");
    assert_eq!(lines(&second)[0].0, lunch);
    assert_eq!(second.len(), 2);

    // Filters.
    let only = |filter: RegisterFilter, store: &mut SqliteStore| -> Vec<EntryId> {
        store
            .register(tenant, &bank, &filter, None, 100)
            .expect("register")
            .iter()
            .map(|r| r.entry.id)
            .collect()
    };
    let text = RegisterFilter {
        text: Some("ROSA".into()),
        ..RegisterFilter::default()
    };
    assert_eq!(only(text, &mut store), [lunch]);
    let tag = RegisterFilter {
        tag: Some("food".into()),
        ..RegisterFilter::default()
    };
    assert_eq!(only(tag, &mut store), [lunch]);
    let dates = RegisterFilter {
        from: Some(day("2024-03-02")),
        to: Some(day("2024-03-05")),
        ..RegisterFilter::default()
    };
    assert_eq!(only(dates, &mut store), [back, lunch, same_day]);
    let amounts = RegisterFilter {
        amount: Some(AmountRange {
            commodity: code("USD"),
            min: Some(Amount(1_000)),
            max: Some(Amount(2_000)),
        }),
        ..RegisterFilter::default()
    };
    assert_eq!(only(amounts, &mut store), [lunch, same_day]);

    // Another tenant's view of the same account name is its own account.
    let theirs = store
        .register(other, &bank, &all, None, 100)
        .expect("register");
    assert_eq!(theirs.len(), 1);
    let missing = store.register(tenant, &name("Assets:Nowhere"), &all, None, 10);
    assert_eq!(missing.expect_err("unknown").code(), "not_found");
}
