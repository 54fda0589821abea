//! The reports pages through `kiln::test::TestClient` on the demo book (`ledger::seed`, a
//! fixed year ending 2024-12-31, so every figure is deterministic) read by a viewer: each
//! report as a page and as an htmx fragment, the balance sheet's totals against
//! `statements::balance_sheet`, the income statement's months against the whole year, the
//! cash flow against the bank balances, CSV downloads read back with the crate's RFC 4180
//! reader (an account name with a comma included), and the refusals: 400 for a bad query or
//! too many columns, the log-in page without a session. The period and table rules have
//! unit tests in `domain/periods.rs` and `domain/period_report.rs`.

use super::TempDb;
use kiln::test::{TestClient, TestResponse};
use ledger::domain::{
    Account, AccountName, AccountType, Amount, CommodityCode, Date, Decimal, DisplayName, Email,
    NewEntry, NewPosting, Role, TenantId,
};
use ledger::interop::csv_reader::read_records;
use ledger::service::{Ledger, WriterConfig, password::hash_password};
use ledger::statements;
use ledger::store::{EntryRequest, SqliteStore, Store, system_clock};
use ledger::web::Cookies;
use std::collections::BTreeMap;
use std::sync::OnceLock;

const SECRET: &[u8] = b"a test secret of at least thirty-two bytes";
const EMAIL: &str = "viewer@example.com";
const PASSWORD: &str = "viewer password 1";
/// An account whose name needs quoting in CSV and encoding in a URL.
const COMMA_ACCOUNT: &str = "Expenses:Meals, Travel";
const YEAR: &str = "from=2024-01-01&to=2024-12-31";
const KINDS: [&str; 4] = [
    "trial-balance",
    "balance-sheet",
    "income-statement",
    "cash-flow",
];

fn day(text: &str) -> Date {
    Date::parse(text).expect(text)
}

/// One Argon2 hash for every test (each still verifies it at log-in).
fn password_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| hash_password(PASSWORD).expect("hash"))
}

/// The demo book ending 2024-12-31, plus a dinner on the card booked to `COMMA_ACCOUNT`, and
/// a viewer of it.
fn demo_db(name: &str) -> (TempDb, TenantId) {
    let db = TempDb::new(name);
    let mut store = SqliteStore::open(&db.0).expect("opens");
    let tenant = ledger::seed::seed_demo(&mut store, day("2024-12-31")).expect("demo");
    let meals = AccountName::new(COMMA_ACCOUNT).expect("name");
    let account = Account::new(meals.clone(), AccountType::Expense, day("2024-01-01"));
    store.create_account(tenant, &account).expect("account");
    let usd = CommodityCode::new("USD").expect("code");
    let posting = |account: AccountName, amount: &str| NewPosting {
        account,
        commodity: usd.clone(),
        amount: Decimal::parse(amount).expect("amount"),
    };
    let card = AccountName::new("Liabilities:Credit Card").expect("name");
    let entry = NewEntry {
        date: day("2024-06-10"),
        description: "Team dinner".into(),
        payee: None,
        tags: Default::default(),
        metadata: Default::default(),
        postings: vec![posting(meals, "123.45"), posting(card, "-123.45")],
        pending: None,
    };
    store
        .create_entry(tenant, &EntryRequest { key: None, entry })
        .expect("entry");
    let email = Email::parse(EMAIL).expect("email");
    let name = DisplayName::parse("Vera Viewer").expect("name");
    let user = store
        .create_user(&email, &name, password_hash(), system_clock())
        .expect("user");
    store
        .add_member(tenant, user, Role::Viewer)
        .expect("member");
    (db, tenant)
}

fn client(db: &TempDb) -> TestClient {
    let ledger = Ledger::open(&db.0, &WriterConfig::default()).expect("ledger");
    TestClient::new(ledger::web::app(ledger, SECRET, Cookies::Secure).expect("app"))
}

fn logged_in(db: &TempDb) -> TestClient {
    let client = client(db);
    client.get("/login").send().assert_status(200);
    client
        .post("/login")
        .form(&[("email", EMAIL), ("password", PASSWORD)])
        .send()
        .assert_redirect_to("/");
    client
}

fn ok(response: TestResponse) -> TestResponse {
    response.assert_status(200);
    response
}

/// A CSV download's records (header first), each the same width as the header.
fn csv_records(response: &TestResponse) -> Vec<Vec<String>> {
    let records = read_records(response.text(), ',').expect("the CSV reads back");
    let fields: Vec<Vec<String>> = records.into_iter().map(|r| r.fields).collect();
    let width = fields.first().map_or(0, Vec::len);
    assert!(fields.iter().all(|f| f.len() == width), "{fields:?}");
    fields
}

/// The row `(section, label, commodity)` of a CSV's records.
fn csv_row<'a>(
    records: &'a [Vec<String>],
    section: &str,
    label: &str,
    commodity: &str,
) -> &'a [String] {
    records
        .iter()
        .find(|r| r[0] == section && r[1] == label && r[2] == commodity)
        .unwrap_or_else(|| panic!("no row {section} / {label} / {commodity}"))
}

/// `html` with the two escapes minijinja writes in a URL attribute undone (`&#x2f;` for `/`,
/// `&amp;` for `&`), to look for links as written.
fn unescaped(html: &str) -> String {
    html.replace("&#x2f;", "/").replace("&amp;", "&")
}

fn amount(text: &str) -> Amount {
    Amount::parse(text, 2).unwrap_or_else(|e| panic!("{text:?}: {e}"))
}

#[test]
fn every_report_renders_as_a_page_and_its_table_alone_for_htmx() {
    let (db, _) = demo_db("web-reports-pages");
    let client = logged_in(&db);
    let home = ok(client.get("/").send());
    assert!(
        home.text().contains(r#"<a href="/reports">Reports</a>"#),
        "{}",
        home.text()
    );
    let index = ok(client.get("/reports").send());
    for kind in KINDS {
        assert!(
            index
                .text()
                .contains(&format!(r#"formaction="/reports/{kind}""#)),
            "{}",
            index.text()
        );
    }
    for kind in KINDS {
        let url = format!("/reports/{kind}?{YEAR}&step=quarter");
        let page = ok(client.get(&url).send());
        let html = page.text();
        assert!(html.contains("<html"), "{kind}: a whole page");
        assert!(html.contains(r#"<div id="report-table">"#), "{kind}");
        assert!(html.contains(r#"<div class="table-wrap">"#), "{kind}");
        assert!(html.contains(r#"hx-push-url="true""#), "{kind}");
        assert!(html.contains("2024-Q4"), "{kind}: quarter columns");
        let fragment = ok(client.get(&url).htmx().send());
        let part = fragment.text();
        assert!(!part.contains("<html"), "{kind}: {part}");
        assert!(
            part.trim_start().starts_with(r#"<div id="report-table">"#),
            "{kind}"
        );
        assert!(part.contains(r#"class="num"#), "{kind}");
        // The defaults: this year by month, whatever today is.
        ok(client.get(&format!("/reports/{kind}")).send());
    }
    let sheet = ok(client.get(&format!("/reports/balance-sheet?{YEAR}")).send());
    let html = unescaped(sheet.text());
    assert!(
        html.contains(r#"<a href="/accounts/Assets:Bank:Euro%20Account/register?from=2024-01-01&to=2024-12-31">"#),
        "{html}"
    );
    assert!(html.contains("Assets = Liabilities + Equity in every commodity and period."));
    assert!(html.contains("Retained earnings"));
    let income = ok(client
        .get(&format!("/reports/income-statement?{YEAR}"))
        .send());
    assert!(
        unescaped(income.text()).contains("/accounts/Expenses:Meals,%20Travel/register?"),
        "{}",
        income.text()
    );
    let flows = ok(client.get(&format!("/reports/cash-flow?{YEAR}")).send());
    assert!(
        flows.text().contains("in every commodity and period."),
        "{}",
        flows.text()
    );
    assert!(
        flows.text().contains(r#"class="num negative"#),
        "outflows are negative"
    );
}

#[test]
fn the_balance_sheet_totals_equal_the_statement_at_each_period_end() {
    let (db, tenant) = demo_db("web-reports-sheet");
    let client = logged_in(&db);
    let csv = ok(client
        .get(&format!(
            "/reports/balance-sheet?{YEAR}&step=quarter&format=csv"
        ))
        .send());
    let records = csv_records(&csv);
    let ends = ["2024-03-31", "2024-06-30", "2024-09-30", "2024-12-31"];
    assert_eq!(records[0][3..], ends);
    let mut store = SqliteStore::open(&db.0).expect("opens");
    for (column, end) in ends.iter().enumerate() {
        let sheet = statements::balance_sheet(&mut store, tenant, day(end)).expect("sheet");
        assert!(sheet.is_balanced());
        let sections = [
            ("Assets", "Total assets", &sheet.assets.totals),
            (
                "Liabilities",
                "Total liabilities",
                &sheet.liabilities.totals,
            ),
            ("Equity", "Retained earnings", &sheet.retained_earnings),
            ("Equity", "Total equity", &sheet.total_equity),
        ];
        for (section, label, totals) in sections {
            assert!(!totals.is_empty(), "{label} at {end}");
            for (commodity, expected) in totals {
                let row = csv_row(&records, section, label, commodity.as_str());
                assert_eq!(
                    amount(&row[3 + column]),
                    *expected,
                    "{label} {commodity} at {end}"
                );
            }
        }
        for commodity in sheet.assets.totals.keys() {
            let check = csv_row(
                &records,
                "Liabilities and equity",
                "Assets less liabilities and equity (zero when balanced)",
                commodity.as_str(),
            );
            assert_eq!(check[3 + column], "0.00");
        }
    }
}

#[test]
fn the_income_statement_months_sum_to_the_whole_year() {
    let (db, tenant) = demo_db("web-reports-income");
    let client = logged_in(&db);
    let csv = ok(client
        .get(&format!(
            "/reports/income-statement?{YEAR}&step=month&format=csv"
        ))
        .send());
    let records = csv_records(&csv);
    assert_eq!(records[0].len(), 3 + 12 + 1, "twelve months and the total");
    assert_eq!(records[0][3], "2024-01-01..2024-01-31");
    assert_eq!(records[0][15], "Total 2024-01-01..2024-12-31");
    for record in &records[1..] {
        let months = record[3..15]
            .iter()
            .try_fold(Amount::ZERO, |sum, text| sum.checked_add(amount(text)))
            .expect("fits");
        assert_eq!(months, amount(&record[15]), "{record:?}");
    }
    let mut store = SqliteStore::open(&db.0).expect("opens");
    let year =
        statements::income_statement(&mut store, tenant, day("2024-01-01"), day("2024-12-31"))
            .expect("statement");
    assert!(!year.net_income.is_empty());
    for (commodity, expected) in &year.net_income {
        let row = csv_row(&records, "Net income", "Net income", commodity.as_str());
        assert_eq!(amount(&row[15]), *expected, "{commodity}");
    }
    let dinner = csv_row(&records, "Expenses", COMMA_ACCOUNT, "USD");
    assert_eq!(dinner[8], "123.45", "June");
    assert_eq!(dinner[15], "123.45");
}

#[test]
fn the_cash_flow_adds_up_to_the_change_in_the_bank_accounts() {
    let (db, tenant) = demo_db("web-reports-cash");
    let client = logged_in(&db);
    let csv = ok(client
        .get("/reports/cash-flow?from=2024-04-01&to=2024-12-31&step=quarter&format=csv")
        .send());
    let records = csv_records(&csv);
    assert_eq!(records[0].len(), 3 + 3 + 1);
    let mut store = SqliteStore::open(&db.0).expect("opens");
    let bank = |store: &mut SqliteStore, date: &str| -> BTreeMap<String, Amount> {
        let mut sums = BTreeMap::new();
        for line in store.balances(tenant, day(date)).expect("balances") {
            if line.account.as_str().starts_with("Assets:Bank:") {
                let sum: &mut Amount = sums.entry(line.commodity.as_str().to_owned()).or_default();
                *sum = sum.checked_add(line.balance).expect("fits");
            }
        }
        sums
    };
    let (start, end) = (
        bank(&mut store, "2024-03-31"),
        bank(&mut store, "2024-12-31"),
    );
    assert!(!end.is_empty());
    for (commodity, closing) in &end {
        let opening = start.get(commodity).copied().unwrap_or_default();
        let change = closing.checked_sub(opening).expect("fits");
        let total = 6;
        let row = csv_row(
            &records,
            "Change by cash account",
            "Net change in cash",
            commodity,
        );
        assert_eq!(amount(&row[total]), change, "{commodity}");
        let row = csv_row(&records, "Cash at start", "Cash at start", commodity);
        assert_eq!(amount(&row[total]), opening, "{commodity}");
        let inflows = csv_row(&records, "Inflows", "Total inflows", commodity);
        let outflows = csv_row(&records, "Outflows", "Total outflows", commodity);
        let flows = amount(&inflows[total]).checked_add(amount(&outflows[total]));
        assert_eq!(
            flows.expect("fits"),
            change,
            "{commodity}: flows explain the change"
        );
    }
    assert!(
        records.iter().any(|r| r[1] == "From income"),
        "invoices paid and interest come from income or receivables"
    );
    assert!(records.iter().any(|r| r[1] == "To expenses"));
}

#[test]
fn csv_downloads_are_named_quoted_and_match_the_page() {
    let (db, _) = demo_db("web-reports-csv");
    let client = logged_in(&db);
    for kind in KINDS {
        let url = format!("/reports/{kind}?{YEAR}&step=quarter");
        let csv = ok(client.get(&format!("{url}&format=csv")).send());
        csv.assert_header("content-type", "text/csv; charset=utf-8");
        csv.assert_header(
            "content-disposition",
            &format!("attachment; filename=\"{kind}-2024-01-01-2024-12-31.csv\""),
        );
        let records = csv_records(&csv);
        assert_eq!(records[0][..3], ["Section", "Account", "Commodity"]);
        let page = ok(client.get(&url).send());
        let rows = ["account", "line", "total", "check"]
            .iter()
            .map(|kind| {
                page.text()
                    .matches(&format!(r#"<tr class="{kind}">"#))
                    .count()
            })
            .sum::<usize>();
        assert_eq!(records.len() - 1, rows, "{kind}: one record per table row");
        let csv_href = format!(r#"href="{url}&format=csv""#);
        assert!(
            unescaped(page.text()).contains(&csv_href),
            "{kind}: the page links its CSV"
        );
    }
    let trial = ok(client
        .get(&format!(
            "/reports/trial-balance?{YEAR}&step=quarter&format=csv"
        ))
        .send());
    let text = trial.text();
    assert!(
        text.starts_with("Section,Account,Commodity,2024-03-31 Debit,2024-03-31 Credit,"),
        "{text}"
    );
    assert!(
        text.contains("\r\nExpenses,\"Expenses:Meals, Travel\",USD,,,123.45,,"),
        "{text}"
    );
    let records = csv_records(&trial);
    let dinner = csv_row(&records, "Expenses", COMMA_ACCOUNT, "USD");
    assert_eq!(
        dinner[3..],
        ["", "", "123.45", "", "123.45", "", "123.45", ""]
    );
}

#[test]
fn bad_queries_and_too_many_columns_are_400_pages_with_the_reason() {
    let (db, _) = demo_db("web-reports-bad");
    let client = logged_in(&db);
    let cases = [
        (
            "/reports/balance-sheet?from=2024-02-30",
            "The from date is not a date",
        ),
        (
            "/reports/balance-sheet?to=31%2F12%2F2024",
            "The to date is not a date",
        ),
        (
            "/reports/income-statement?from=2024-06-01&to=2024-05-31",
            "before it starts",
        ),
        ("/reports/cash-flow?step=week", "There is no step"),
        ("/reports/cash-flow?format=pdf", "There is no format"),
        ("/reports/profit-and-loss", "There is no report"),
        ("/reports?from=nonsense", "The from date is not a date"),
        (
            "/reports/trial-balance?from=2020-01-01&to=2024-12-31&step=month",
            "This range makes 60 month columns; a report has at most 36",
        ),
    ];
    for (url, says) in cases {
        let refused = client.get(url).send();
        refused.assert_status(400);
        assert!(refused.text().contains(says), "{url}: {}", refused.text());
        let htmx = client.get(url).htmx().send();
        htmx.assert_status(400);
        assert!(htmx.text().contains(says), "{url}: {}", htmx.text());
    }
    // Exactly the limit is fine: three years of months.
    ok(client
        .get("/reports/trial-balance?from=2022-01-01&to=2024-12-31&step=month")
        .send());
}

#[test]
fn reports_need_a_session() {
    let (db, _) = demo_db("web-reports-anonymous");
    let client = client(&db);
    for url in [
        "/reports".to_owned(),
        format!("/reports/balance-sheet?{YEAR}"),
        format!("/reports/cash-flow?{YEAR}&format=csv"),
        "/reports/no-such-report".to_owned(),
    ] {
        client.get(&url).send().assert_redirect_to("/login");
    }
    let htmx = client.get("/reports/balance-sheet").htmx().send();
    assert_eq!(htmx.header("hx-redirect"), Some("/login"));
}
