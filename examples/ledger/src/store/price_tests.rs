//! Store tests of prices: `set_price` (insert, replace, audit record, refusals), `prices`
//! (order, filter), tenant isolation, `import_book`'s prices (same transaction, all or
//! nothing), journal `P` lines through `interop::import_journal`, and `check` staying clean.
//! The functions over `&mut impl Store` are the trait-level part (a second implementation adds
//! its lines to `mod sqlite` below); the migration test at the bottom is SQLite-only. Helpers
//! (`TempDb`, `seed`, `transfer`) come from `tests.rs`.

use super::tests::{TempDb, code, day, name, seed, transfer};
use super::*;
use crate::domain::audit::verify_chain;
use crate::domain::{AccountType, Rate};
use crate::interop::{ImportError, import_journal};

fn price(date: &str, commodity: &str, rate: &str, quote: &str) -> Price {
    Price::new(
        day(date),
        code(commodity),
        code(quote),
        Rate::parse(rate).expect(rate),
    )
    .expect("price")
}

fn eur(store: &mut impl Store, tenant: TenantId) {
    store
        .create_commodity(tenant, &Commodity::new("EUR", 2).expect("EUR"))
        .expect("EUR");
}

fn all(store: &mut impl Store, tenant: TenantId) -> Vec<Price> {
    store.prices(tenant, None).expect("prices")
}

fn audit_count(store: &mut impl Store, tenant: TenantId) -> usize {
    store
        .audit_records(tenant, 0, usize::MAX)
        .expect("audit")
        .len()
}

pub(super) fn prices_are_sorted_by_date_and_filtered_by_commodity(store: &mut impl Store) {
    let tenant = seed(store, "acme");
    eur(store, tenant);
    let written = [
        price("2024-03-05", "EUR", "1.09", "USD"),
        price("2024-03-01", "USD", "150.25", "JPY"),
        price("2024-03-01", "EUR", "1.0842", "USD"),
        price("2024-03-01", "EUR", "162.9", "JPY"),
    ];
    for price in &written {
        store.set_price(tenant, price).expect("set");
    }
    let expected = vec![
        written[3].clone(), // 03-01 EUR in JPY
        written[2].clone(), // 03-01 EUR in USD
        written[1].clone(), // 03-01 USD
        written[0].clone(), // 03-05
    ];
    assert_eq!(all(store, tenant), expected);
    let of_eur = store.prices(tenant, Some(&code("EUR"))).expect("prices");
    assert_eq!(
        of_eur,
        vec![written[3].clone(), written[2].clone(), written[0].clone()]
    );
    let of_jpy = store.prices(tenant, Some(&code("JPY"))).expect("prices");
    assert!(of_jpy.is_empty(), "JPY is only ever a quote: {of_jpy:?}");
    assert!(matches!(
        store.prices(tenant, Some(&code("GBP"))),
        Err(StoreError::NotFound {
            what: "commodity",
            ..
        })
    ));
}

pub(super) fn setting_a_price_again_replaces_it_and_both_are_audited(store: &mut impl Store) {
    let tenant = seed(store, "acme");
    eur(store, tenant);
    let before = audit_count(store, tenant);
    store
        .set_price(tenant, &price("2024-03-01", "EUR", "1.0842", "USD"))
        .expect("set");
    let again = price("2024-03-01", "EUR", "1.0900", "USD");
    store.set_price(tenant, &again).expect("replaced");
    assert_eq!(all(store, tenant), vec![again]);
    let log = store.audit_records(tenant, 0, usize::MAX).expect("audit");
    assert_eq!(log.len(), before + 2);
    let [first, second] = &log[before..] else {
        panic!("two records");
    };
    assert_eq!(
        (first.action.as_str(), second.action.as_str()),
        ("price.set", "price.set")
    );
    assert_eq!(
        first.details,
        r#"{"commodity":"EUR","date":"2024-03-01","quote":"USD","rate":"1.0842","replaced":null}"#
    );
    assert_eq!(
        second.details,
        r#"{"commodity":"EUR","date":"2024-03-01","quote":"USD","rate":"1.09","replaced":"1.0842"}"#
    );
    assert_eq!(verify_chain(&log), Ok(log.len()));
    // A price changes no balance: `check` is as clean as before.
    let report = store.check(Some(tenant)).expect("checked");
    assert!(report.is_clean(), "{:?}", report.problems);
    assert_eq!(report.audit_records, log.len() as u64);
}

pub(super) fn prices_need_two_of_the_tenants_commodities(store: &mut impl Store) {
    let tenant = seed(store, "acme");
    let before = audit_count(store, tenant);
    for (bad, missing) in [
        (price("2024-03-01", "EUR", "1.08", "USD"), "EUR"),
        (price("2024-03-01", "USD", "0.92", "EUR"), "EUR"),
    ] {
        match store.set_price(tenant, &bad) {
            Err(StoreError::NotFound {
                what: "commodity",
                name,
            }) => assert_eq!(name, missing),
            other => panic!("expected not_found, got {other:?}"),
        }
    }
    // The public fields allow a commodity priced in itself; the store refuses it.
    let mut itself = price("2024-03-01", "JPY", "1", "USD");
    itself.quote = code("JPY");
    match store.set_price(tenant, &itself) {
        Err(StoreError::Refused(error)) => assert_eq!(error.code(), "invalid"),
        other => panic!("expected refused, got {other:?}"),
    }
    let unknown = TenantId(999);
    let fine = price("2024-03-01", "USD", "150", "JPY");
    assert!(matches!(
        store.set_price(unknown, &fine),
        Err(StoreError::UnknownTenant)
    ));
    assert!(matches!(
        store.prices(unknown, None),
        Err(StoreError::UnknownTenant)
    ));
    assert!(all(store, tenant).is_empty());
    assert_eq!(
        audit_count(store, tenant),
        before,
        "a refusal leaves no record"
    );
}

pub(super) fn tenants_never_see_or_change_each_others_prices(store: &mut impl Store) {
    let acme = seed(store, "acme");
    let globex = seed(store, "globex");
    eur(store, acme);
    eur(store, globex);
    store
        .create_commodity(acme, &Commodity::new("GBP", 2).expect("GBP"))
        .expect("GBP");
    let theirs = price("2024-03-01", "EUR", "1.0842", "USD");
    store.set_price(acme, &theirs).expect("set");
    store
        .set_price(acme, &price("2024-03-01", "GBP", "1.27", "USD"))
        .expect("set");
    assert!(all(store, globex).is_empty());
    assert!(
        store
            .prices(globex, Some(&code("EUR")))
            .expect("prices")
            .is_empty()
    );
    // Same commodity, quote and day in the other tenant: its own row, not a replacement.
    let ours = price("2024-03-01", "EUR", "2", "USD");
    store.set_price(globex, &ours).expect("set");
    assert_eq!(all(store, globex), vec![ours]);
    assert_eq!(
        store.prices(acme, Some(&code("EUR"))).expect("prices"),
        vec![theirs]
    );
    // A commodity only the other tenant has is not found, for writes and reads alike.
    let gbp = price("2024-03-02", "GBP", "1.3", "USD");
    assert!(matches!(
        store.set_price(globex, &gbp),
        Err(StoreError::NotFound {
            what: "commodity",
            ..
        })
    ));
    assert!(matches!(
        store.prices(globex, Some(&code("GBP"))),
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(all(store, acme).len(), 2);
    let report = store.check(None).expect("checked");
    assert!(report.is_clean(), "{:?}", report.problems);
}

pub(super) fn import_book_writes_prices_in_its_transaction(store: &mut impl Store) {
    let tenant = seed(store, "acme");
    let chf = Commodity::new("CHF", 2).expect("CHF");
    let book = BookImport {
        commodities: vec![chf],
        prices: vec![
            price("2024-03-01", "CHF", "1.13", "USD"),
            price("2024-03-01", "CHF", "1.14", "USD"), // the later one wins
            price("2024-03-02", "USD", "150", "JPY"),
        ],
        entries: vec![transfer(
            "2024-03-02",
            "Assets:Bank",
            "Income:Salary",
            "1.00",
            "USD",
        )],
        ..BookImport::default()
    };
    let written = store.import_book(tenant, &book).expect("stored");
    assert!(written.is_ok(), "{written:?}");
    assert_eq!(
        all(store, tenant),
        vec![
            price("2024-03-01", "CHF", "1.14", "USD"),
            price("2024-03-02", "USD", "150", "JPY"),
        ]
    );
    let actions: Vec<String> = (store.audit_records(tenant, 0, usize::MAX).expect("audit"))
        .into_iter()
        .map(|r| r.action)
        .filter(|a| a == "price.set")
        .collect();
    assert_eq!(actions.len(), 3);
}

pub(super) fn a_refused_import_writes_none_of_its_prices(store: &mut impl Store) {
    let tenant = seed(store, "acme");
    let before = (
        audit_count(store, tenant),
        store.commodities(tenant).expect("c").len(),
    );
    // A price naming a commodity nobody created: the whole import is refused.
    let unknown = BookImport {
        commodities: vec![Commodity::new("CHF", 2).expect("CHF")],
        prices: vec![price("2024-03-01", "GBP", "1.27", "USD")],
        ..BookImport::default()
    };
    assert!(matches!(
        store.import_book(tenant, &unknown),
        Err(StoreError::NotFound {
            what: "commodity",
            ..
        })
    ));
    // An entry the store refuses: the prices before it go too.
    let refused_entry = BookImport {
        prices: vec![price("2024-03-01", "USD", "150", "JPY")],
        entries: vec![transfer(
            "2024-03-02",
            "Assets:Bank",
            "Nowhere",
            "1.00",
            "USD",
        )],
        ..BookImport::default()
    };
    let outcome = store.import_book(tenant, &refused_entry).expect("ran");
    assert!(matches!(outcome, Err((0, _))), "{outcome:?}");
    assert!(all(store, tenant).is_empty());
    let after = (
        audit_count(store, tenant),
        store.commodities(tenant).expect("c").len(),
    );
    assert_eq!(after, before);
}

pub(super) fn journal_p_lines_are_imported_as_prices(store: &mut impl Store) {
    let tenant = seed(store, "acme");
    let journal = "commodity 1.00 EUR\n\nP 2024-03-01 EUR 1.0842 USD\nP 2024/03/01 USD 1 USD\n\n\
                   2024-03-02 Opening\n    Assets:Bank  10.00 EUR\n    Equity:Opening\n";
    // USD priced in USD: refused with its line, and nothing written.
    match import_journal(store, tenant, journal) {
        Err(ImportError::Problems(problems)) => {
            assert_eq!(problems.shown.len(), 1, "{problems:?}");
            assert_eq!(problems.shown[0].line, 4);
        }
        other => panic!("expected problems, got {other:?}"),
    }
    assert!(all(store, tenant).is_empty());
    let fixed = journal.replace("P 2024/03/01 USD 1 USD", "P 2024/03/01 USD 150.25 JPY");
    let summary = import_journal(store, tenant, &fixed).expect("imported");
    assert_eq!(
        (summary.entries, summary.prices, summary.commodities),
        (1, 2, 1)
    );
    assert_eq!(
        all(store, tenant),
        vec![
            price("2024-03-01", "EUR", "1.0842", "USD"),
            price("2024-03-01", "USD", "150.25", "JPY"),
        ]
    );
    let opening = store
        .account(tenant, &name("Equity:Opening"))
        .expect("read");
    assert_eq!(opening.map(|a| a.account_type), Some(AccountType::Equity));
}

mod sqlite {
    use super::TempDb;

    macro_rules! price_tests {
        ($($test:ident),* $(,)?) => {
            $(
                #[test]
                fn $test() {
                    let db = TempDb::new(stringify!($test));
                    super::$test(&mut db.open());
                }
            )*
        };
    }

    price_tests!(
        prices_are_sorted_by_date_and_filtered_by_commodity,
        setting_a_price_again_replaces_it_and_both_are_audited,
        prices_need_two_of_the_tenants_commodities,
        tenants_never_see_or_change_each_others_prices,
        import_book_writes_prices_in_its_transaction,
        a_refused_import_writes_none_of_its_prices,
        journal_p_lines_are_imported_as_prices,
    );
}

// ---- SQLite only ----

/// A database written before prices existed (schema version 2) gains the table on open and
/// keeps its books.
#[test]
fn sqlite_a_version_2_database_gains_prices_on_open() {
    let db = TempDb::new("upgrade-prices");
    let tenant = seed(&mut db.open(), "acme");
    let raw = rusqlite::Connection::open(&db.path).expect("raw");
    raw.execute_batch(
        "DROP TABLE invitations; DROP INDEX postings_register; ALTER TABLE postings DROP COLUMN day;
         DROP TABLE memberships; DROP TABLE users; DROP TABLE prices; DROP TABLE api_tokens;
         UPDATE schema_version SET version = 2;",
    )
    .expect("downgraded");
    drop(raw);
    let mut store = db.open();
    assert_eq!(
        store.schema_version().expect("version"),
        MIGRATIONS.len() as i64
    );
    assert_eq!(store.commodities(tenant).expect("kept").len(), 2);
    let fine = price("2024-03-01", "USD", "150.25", "JPY");
    store.set_price(tenant, &fine).expect("set");
    assert_eq!(all(&mut store, tenant), vec![fine]);
}

/// The table refuses what the domain refuses, whoever writes to it (a zero rate, a commodity
/// priced in itself, another tenant's commodity).
#[test]
fn sqlite_the_prices_table_refuses_bad_rows() {
    let db = TempDb::new("price-rows");
    let mut store = db.open();
    let acme = seed(&mut store, "acme");
    let globex = seed(&mut store, "globex");
    drop(store);
    let raw = rusqlite::Connection::open(&db.path).expect("raw");
    raw.execute_batch("PRAGMA foreign_keys = ON")
        .expect("pragma");
    let id = |tenant: TenantId, code: &str| -> i64 {
        raw.query_row(
            "SELECT id FROM commodities WHERE tenant_id = ?1 AND code = ?2",
            rusqlite::params![tenant.0, code],
            |row| row.get(0),
        )
        .expect("id")
    };
    let (usd, jpy, their_jpy) = (id(acme, "USD"), id(acme, "JPY"), id(globex, "JPY"));
    let insert = |commodity: i64, quote: i64, units: i64, scale: i64| {
        raw.execute(
            "INSERT INTO prices (tenant_id, commodity_id, quote_id, day, rate_units, rate_scale)
             VALUES (?1, ?2, ?3, 0, ?4, ?5)",
            rusqlite::params![acme.0, commodity, quote, units, scale],
        )
    };
    assert!(insert(usd, jpy, 0, 0).is_err(), "zero rate");
    assert!(insert(usd, jpy, 1, 19).is_err(), "scale over 18");
    assert!(insert(usd, usd, 1, 0).is_err(), "priced in itself");
    assert!(
        insert(usd, their_jpy, 1, 0).is_err(),
        "another tenant's commodity"
    );
    assert!(insert(usd, jpy, 15_025, 2).is_ok());
}
