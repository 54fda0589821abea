//! `Store::entries_matching`: date range and account filters, with keyset paging across
//! them, scoped by tenant (an account of another tenant is `NotFound`); and
//! `Store::recent_texts`, the suggestions of the new-entry form.

use super::tests::{TempDb, day, name, seed, transfer};
use super::*;

#[test]
fn entries_are_filtered_by_dates_and_account_and_paged() {
    let db = TempDb::new("filter");
    let mut store = db.open();
    let tenant = seed(&mut store, "acme");
    let other = seed(&mut store, "other");
    let mut ids = Vec::new();
    for (date, debit) in [
        ("2024-01-05", "Assets:Bank"),
        ("2024-02-05", "Assets:Cash"),
        ("2024-02-10", "Assets:Bank"),
        ("2024-03-01", "Assets:Bank"),
        ("2024-03-02", "Assets:Cash"),
    ] {
        let entry = transfer(date, debit, "Income:Salary", "1.00", "USD");
        let request = EntryRequest { key: None, entry };
        ids.push(store.create_entry(tenant, &request).expect("entry"));
    }
    let list = |store: &mut SqliteStore, filter: &EntryFilter, after, limit| -> Vec<EntryId> {
        store
            .entries_matching(tenant, filter, after, limit)
            .expect("page")
            .iter()
            .map(|e| e.id)
            .collect()
    };
    let all = EntryFilter::default();
    assert_eq!(list(&mut store, &all, None, 100), ids);
    let february = EntryFilter {
        from: Some(day("2024-02-01")),
        to: Some(day("2024-02-29")),
        account: None,
    };
    assert_eq!(list(&mut store, &february, None, 100), [ids[1], ids[2]]);
    let bank = EntryFilter {
        account: Some(name("Assets:Bank")),
        ..EntryFilter::default()
    };
    assert_eq!(list(&mut store, &bank, None, 100), [ids[0], ids[2], ids[3]]);
    // Paging through a filter: two, then the rest from the second's cursor.
    let first = store
        .entries_matching(tenant, &bank, None, 2)
        .expect("page");
    assert_eq!(first.len(), 2);
    let cursor = first[1].cursor();
    assert_eq!(list(&mut store, &bank, Some(cursor), 2), [ids[3]]);
    // Another tenant's account of the same name exists, but this tenant's filter never sees
    // their entries, and a name only they have is unknown here.
    assert!(
        list(&mut store, &bank, None, 100)
            .iter()
            .all(|id| ids.contains(id))
    );
    assert!(
        store
            .entries_matching(other, &bank, None, 100)
            .expect("page")
            .is_empty()
    );
    let nowhere = EntryFilter {
        account: Some(name("Assets:Nowhere")),
        ..EntryFilter::default()
    };
    let refused = store.entries_matching(tenant, &nowhere, None, 10);
    assert_eq!(refused.expect_err("unknown").code(), "not_found");
}

#[test]
fn latest_entries_are_newest_first_bounded_and_per_tenant() {
    let db = TempDb::new("latest");
    let mut store = db.open();
    let tenant = seed(&mut store, "acme");
    let other = seed(&mut store, "other");
    let mut ids = Vec::new();
    for date in ["2024-03-02", "2024-03-01", "2024-03-03", "2024-03-03"] {
        let entry = transfer(date, "Assets:Bank", "Income:Salary", "1.00", "USD");
        ids.push(
            store
                .create_entry(tenant, &EntryRequest { key: None, entry })
                .expect("entry"),
        );
    }
    let latest: Vec<EntryId> = store
        .latest_entries(tenant, 3)
        .expect("latest")
        .iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(latest, [ids[3], ids[2], ids[0]]);
    assert!(store.latest_entries(other, 10).expect("latest").is_empty());
    let capped = store
        .latest_entries(tenant, crate::limits::ENTRIES_PER_PAGE_MAX + 1)
        .expect("latest");
    assert_eq!(capped.len(), 4);
}

/// `recent_texts`: distinct, newest first, at most `SUGGESTIONS_MAX` of each, this tenant's.
#[test]
fn recent_descriptions_and_payees_are_distinct_newest_first_and_bounded() {
    use crate::limits::SUGGESTIONS_MAX;
    let db = TempDb::new("recent-texts");
    let mut store = db.open();
    let tenant = seed(&mut store, "acme");
    let other = seed(&mut store, "other");
    let mut requests = Vec::new();
    for i in 0..SUGGESTIONS_MAX + 10 {
        let mut entry = transfer("2024-01-05", "Assets:Bank", "Income:Salary", "1.00", "USD");
        entry.description = format!("Invoice {i}");
        entry.payee = Some(format!("Client {}", i % 3));
        requests.push(EntryRequest { key: None, entry });
    }
    let results = store
        .create_entries(tenant, &requests, BatchMode::Independent)
        .expect("batch");
    assert!(results.iter().all(Result::is_ok));
    let mut secret = transfer("2024-01-06", "Assets:Bank", "Income:Salary", "1.00", "USD");
    secret.description = "Other tenant's secret".into();
    store
        .create_entry(
            other,
            &EntryRequest {
                key: None,
                entry: secret,
            },
        )
        .expect("entry");
    let texts = store.recent_texts(tenant).expect("texts");
    assert_eq!(texts.descriptions.len(), SUGGESTIONS_MAX);
    assert_eq!(
        texts.descriptions[0],
        format!("Invoice {}", SUGGESTIONS_MAX + 9),
        "newest first"
    );
    assert_eq!(
        texts.payees,
        ["Client 2", "Client 1", "Client 0"],
        "209 % 3 is 2"
    );
    assert!(!texts.descriptions.iter().any(|d| d.contains("secret")));
}
