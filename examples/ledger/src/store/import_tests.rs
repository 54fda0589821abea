//! Journal import against a real store (`interop::import` over `SqliteStore`): all or
//! nothing. A file with one bad line (found by the parser, by the assertion check, or only by
//! the store's own validation inside the write transaction) leaves no entry, account,
//! commodity or audit record behind.

use super::tests::{TempDb, code, day, name};
use super::*;
use crate::domain::AccountType;
use crate::interop::{ImportError, import_journal};

const GOOD: &str = "commodity 1.00 USD\n\naccount Savings  ; type: A\n\n\
    2024-01-01 Opening\n    Assets:Bank  100.00 USD\n    Equity:Opening\n\n\
    2024-01-02 Shop\n    Expenses:Food  12.50 USD\n    Assets:Bank  -12.50 USD = 87.50 USD\n";

/// Everything a tenant holds that an import could write.
fn footprint(store: &mut SqliteStore, tenant: TenantId) -> (usize, usize, usize, usize) {
    (
        store.entries(tenant, None, 100).expect("entries").len(),
        store.accounts(tenant).expect("accounts").len(),
        store.commodities(tenant).expect("commodities").len(),
        store.audit_records(tenant, 0, 1_000).expect("audit").len(),
    )
}

fn tenant(store: &mut SqliteStore) -> TenantId {
    store
        .create_tenant(&TenantSlug::new("acme").expect("slug"))
        .expect("tenant")
}

fn problems(result: Result<crate::interop::ImportSummary, ImportError>) -> Vec<(usize, String)> {
    match result {
        Err(ImportError::Problems(problems)) => problems
            .shown
            .into_iter()
            .map(|p| (p.line, p.reason))
            .collect(),
        other => panic!("expected problems, got {other:?}"),
    }
}

#[test]
fn a_good_journal_is_imported_with_its_accounts_and_balances() {
    let db = TempDb::new("import-good");
    let mut store = db.open();
    let tenant = tenant(&mut store);
    let summary = import_journal(&mut store, tenant, GOOD).expect("imported");
    assert_eq!(
        (summary.entries, summary.accounts, summary.commodities),
        (2, 4, 1)
    );
    assert_eq!(summary.assertions, 1);
    let balance = store
        .balance(
            tenant,
            &name("Assets:Bank"),
            &code("USD"),
            day("2024-01-02"),
        )
        .expect("balance");
    assert_eq!(balance, Amount(8_750));
    let savings = store.account(tenant, &name("Savings")).expect("read");
    assert_eq!(savings.map(|a| a.account_type), Some(AccountType::Asset));
}

#[test]
fn a_store_refusal_on_one_line_imports_nothing() {
    let db = TempDb::new("import-refused");
    let mut store = db.open();
    let tenant = tenant(&mut store);
    store
        .create_commodity(tenant, &Commodity::new("JPY", 0).expect("JPY"))
        .expect("JPY");
    let before = footprint(&mut store, tenant);
    // Only the store knows JPY has no decimals: the parser accepts line 14; the store refuses
    // the transaction (line 13) inside the import's one transaction.
    let text = format!("{GOOD}\n2024-01-03 Yen\n    Assets:Bank  1.5 JPY\n    Income:Fx\n");
    let found = problems(import_journal(&mut store, tenant, &text));
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, 13, "{found:?}");
    assert!(found[0].1.contains("precision"), "{found:?}");
    assert_eq!(footprint(&mut store, tenant), before, "nothing written");
}

#[test]
fn a_failing_assertion_is_reported_on_its_line_and_imports_nothing() {
    let db = TempDb::new("import-assertion");
    let mut store = db.open();
    let tenant = tenant(&mut store);
    let before = footprint(&mut store, tenant);
    let text = GOOD.replace("= 87.50 USD", "= 80.00 USD");
    let found = problems(import_journal(&mut store, tenant, &text));
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, 11);
    assert!(
        found[0]
            .1
            .contains("Assets:Bank is 87.50 USD here, the file asserts 80.00 USD"),
        "{found:?}"
    );
    assert_eq!(footprint(&mut store, tenant), before, "nothing written");
}

#[test]
fn a_parse_error_imports_nothing_and_an_untyped_account_is_a_problem() {
    let db = TempDb::new("import-parse");
    let mut store = db.open();
    let tenant = tenant(&mut store);
    let before = footprint(&mut store, tenant);
    let bad = GOOD.replace("  12.50 USD", "  12.50 USD @ 1 EUR");
    assert_eq!(problems(import_journal(&mut store, tenant, &bad))[0].0, 10);
    let untyped = GOOD.replace("Expenses:Food", "Food");
    let found = problems(import_journal(&mut store, tenant, &untyped));
    assert!(
        found[0].1.contains("the type of account Food is unknown"),
        "{found:?}"
    );
    assert_eq!(found[0].0, 9);
    assert_eq!(footprint(&mut store, tenant), before, "nothing written");
}

const CSV_RULES: &str = "fields date, description, amount\ndate-format %Y-%m-%d\n\
    account Assets:Bank\ncurrency USD\nprecision 2\ndefault-account Expenses:Unsorted\n";

#[test]
fn csv_fingerprints_are_tenant_scoped_and_a_reimport_skips_every_row() {
    use crate::interop::{import_csv, parse_rules};
    let db = TempDb::new("csv-scoped");
    let mut store = db.open();
    let acme = tenant(&mut store);
    let other = store
        .create_tenant(&TenantSlug::new("other").expect("slug"))
        .expect("tenant");
    let rules = parse_rules(CSV_RULES).expect("rules");
    let csv = "2024-01-01,Coffee,-3.00\n2024-01-02,Salary,100\n";
    let first = import_csv(&mut store, acme, &rules, csv).expect("imported");
    assert_eq!((first.imported, first.skipped, first.accounts), (2, 0, 2));
    let again = import_csv(&mut store, acme, &rules, csv).expect("re-imported");
    assert_eq!((again.imported, again.skipped), (0, 2));
    // The other tenant sees none of acme's fingerprints: it imports both rows.
    let theirs = import_csv(&mut store, other, &rules, csv).expect("other tenant");
    assert_eq!((theirs.imported, theirs.skipped), (2, 0));
    let bank = name("Assets:Bank");
    assert_eq!(
        store
            .balance(acme, &bank, &code("USD"), day("2024-12-31"))
            .expect("balance"),
        Amount(9_700)
    );
}
