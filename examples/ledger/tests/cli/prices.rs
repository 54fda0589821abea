//! Prices through the binary and the real tools: a book with `P` prices is exported with
//! `ledger export`, both `hledger --strict` and `ledger` accept the file with its balances
//! exact, and `hledger bal -X USD` / `ledger bal -X USD` value every account as
//! `domain::value_at` does, to the cent, on two dates (before and after a newer price, a direct
//! and an inverse pair, a commodity without a price left unconverted). The one known
//! difference is pinned: on an exact half cent ledger-cli rounds toward zero, hledger and
//! `value_at` to even. A hand-written journal with `P` lines in several forms goes through
//! import -> export -> import with the same prices and byte-identical exports.

use super::cross_check::{require_tools, run_tool};
use super::import::TempFile;
use super::{TempDb, ledger, open_store, path, text};
use ledger::domain::{
    Account, AccountName, AccountType, Amount, Commodity, CommodityCode, Date, Decimal, Holding,
    NewEntry, NewPosting, Price, Rate, TenantId, TenantSlug, value_at,
};
use ledger::store::{EntryRequest, SqliteStore, Store};
use std::collections::{BTreeMap, BTreeSet};

/// (account, commodity) -> quantity in minor units, zero balances left out.
type Report = BTreeMap<(String, String), i64>;

/// The commodities of `priced_book` and their precisions.
const COMMODITIES: [(&str, u8); 5] = [("USD", 2), ("EUR", 2), ("JPY", 0), ("GBP", 2), ("CHF", 2)];

/// Accounts whose value is an exact half cent (0.35 CHF at 0.5 USD = 0.175 USD).
const HALF_CENT_ACCOUNTS: [&str; 2] = ["Assets:Francs", "Equity:Francs"];

#[test]
fn hledger_and_ledger_value_an_exported_book_with_prices_as_value_at_does() {
    require_tools();
    let db = TempDb::new("prices-value");
    let tenant = priced_book(&mut open_store(&db));
    let journal = TempFile::new("prices-value.journal", "");
    let exported = ledger(&[
        "--database",
        path(&db),
        "export",
        "--output",
        journal.path(),
    ]);
    assert!(exported.status.success(), "{}", text(&exported.stderr));
    let file = std::fs::read_to_string(&journal.0).expect("the export");
    assert!(
        file.contains("\nP 2024-03-01 EUR 1.0842 USD\nP 2024-03-01 USD 150.25 JPY\n"),
        "{file}"
    );
    // Accepted unchanged (every balance assertion holds, `--strict`: every commodity declared).
    let mut store = open_store(&db);
    let last = day("2024-12-31");
    let native = native_report(&mut store, tenant, last);
    let hledger = run_tool("hledger", &hledger_args(journal.path(), None, None));
    assert_eq!(parse_hledger(&hledger), native, "hledger, no valuation");
    let ledger_cli = run_tool("ledger", &ledger_args(journal.path(), None, None));
    assert_eq!(parse_ledger(&ledger_cli), native, "ledger, no valuation");

    for date in [day("2024-03-03"), day("2024-03-06")] {
        let end = Date::from_days_since_epoch(date.days_since_epoch() + 1).expect("date");
        let end = end.to_string();
        let expected = valued_report(&mut store, tenant, date);
        let hledger = run_tool(
            "hledger",
            &hledger_args(journal.path(), Some("USD"), Some(&end)),
        );
        assert_eq!(
            parse_hledger(&hledger),
            expected,
            "hledger -X USD at {date}"
        );
        let ledger_cli = run_tool(
            "ledger",
            &ledger_args(journal.path(), Some("USD"), Some(&end)),
        );
        let mut toward_zero = expected.clone();
        for account in HALF_CENT_ACCOUNTS {
            let key = (account.to_owned(), "USD".to_owned());
            if let Some(cents) = toward_zero.get_mut(&key) {
                *cents -= cents.signum();
            }
        }
        assert_eq!(
            parse_ledger(&ledger_cli),
            toward_zero,
            "ledger -X USD at {date}"
        );
    }
}

#[test]
fn prices_survive_import_export_import() {
    let hand_written = "commodity 1.00 EUR\ncommodity 1.00 USD\ncommodity 1 JPY\n\n\
        P 2024/03/01 EUR 1.08420 USD\nP 2024-03-01 USD 150.25 JPY  ; a comment\n\
        P 2024-03-05 EUR USD 1.09\nP 2024-03-05 EUR 1.10 USD\n\n\
        2024-02-01 Opening\n    Assets:Bank  100.01 EUR\n    Equity:Opening\n";
    let source = TempFile::new("prices-source.journal", hand_written);
    let (first_db, second_db) = (TempDb::new("prices-a"), TempDb::new("prices-b"));
    let imported = ledger(&["--database", path(&first_db), "import", source.path()]);
    assert!(imported.status.success(), "{}", text(&imported.stderr));
    assert!(
        text(&imported.stdout).contains("0 balance assertions held, 4 prices"),
        "{}",
        text(&imported.stdout)
    );
    let first = TempFile::new("prices-1.journal", "");
    let second = TempFile::new("prices-2.journal", "");
    let export = |db: &TempDb, file: &TempFile| {
        let exported = ledger(&["--database", path(db), "export", "--output", file.path()]);
        assert!(exported.status.success(), "{}", text(&exported.stderr));
        std::fs::read_to_string(&file.0).expect("the export")
    };
    let exported = export(&first_db, &first);
    // The later P line for 2024-03-05 replaced the earlier one; rates as stored.
    assert!(
        exported.contains(
            "\nP 2024-03-01 EUR 1.0842 USD\nP 2024-03-01 USD 150.25 JPY\n\
             P 2024-03-05 EUR 1.1 USD\n\n"
        ),
        "{exported}"
    );
    let again = ledger(&["--database", path(&second_db), "import", first.path()]);
    assert!(again.status.success(), "{}", text(&again.stderr));
    assert_eq!(export(&second_db, &second), exported);
    let prices = |db: &TempDb| {
        let mut store = open_store(db);
        let tenants = store.tenants().expect("tenants");
        let [(tenant, _)] = tenants.as_slice() else {
            panic!("one tenant: {tenants:?}");
        };
        store.prices(*tenant, None).expect("prices")
    };
    let kept = prices(&first_db);
    assert_eq!(kept.len(), 3);
    assert_eq!(prices(&second_db), kept);
}

fn day(text: &str) -> Date {
    Date::parse(text).expect(text)
}

fn code(text: &str) -> CommodityCode {
    CommodityCode::new(text).expect(text)
}

fn precision(code: &str) -> u8 {
    COMMODITIES
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, p)| *p)
        .unwrap_or_else(|| panic!("a tool printed an unknown commodity {code:?}"))
}

/// Tenant `books`: EUR, JPY, USD, GBP (no price) and CHF (a half-cent price), and the prices
/// EUR in USD (2024-03-01 and a newer one on 2024-03-05), USD in JPY (for JPY an inverse
/// pair) and CHF in USD.
fn priced_book(store: &mut SqliteStore) -> TenantId {
    let tenant = store
        .create_tenant(&TenantSlug::new("books").expect("slug"))
        .expect("tenant");
    for (code, places) in COMMODITIES {
        let commodity = Commodity::new(code, places).expect("commodity");
        store
            .create_commodity(tenant, &commodity)
            .expect("commodity");
    }
    for (name, kind) in [
        ("Assets:Bank", AccountType::Asset),
        ("Assets:Cash", AccountType::Asset),
        ("Assets:Francs", AccountType::Asset),
        ("Assets:Pounds", AccountType::Asset),
        ("Assets:Yen", AccountType::Asset),
        ("Equity:Francs", AccountType::Equity),
        ("Equity:Opening", AccountType::Equity),
    ] {
        let account = Account::new(
            AccountName::new(name).expect("name"),
            kind,
            day("2024-01-01"),
        );
        store.create_account(tenant, &account).expect("account");
    }
    let entries = [
        (
            "2024-02-01",
            "Assets:Bank",
            "Equity:Opening",
            "EUR",
            "100.01",
        ),
        ("2024-02-02", "Assets:Yen", "Equity:Opening", "JPY", "1000"),
        (
            "2024-02-02",
            "Assets:Cash",
            "Equity:Opening",
            "USD",
            "10.00",
        ),
        (
            "2024-02-02",
            "Assets:Pounds",
            "Equity:Opening",
            "GBP",
            "5.00",
        ),
        (
            "2024-02-03",
            "Assets:Francs",
            "Equity:Francs",
            "CHF",
            "0.35",
        ),
        ("2024-03-04", "Assets:Cash", "Equity:Opening", "USD", "1.00"),
    ];
    for (date, debit, credit, commodity, quantity) in entries {
        let posting = |account: &str, quantity: &str| NewPosting {
            account: AccountName::new(account).expect("name"),
            commodity: code(commodity),
            amount: Decimal::parse(quantity).expect("amount"),
        };
        let entry = NewEntry {
            date: day(date),
            description: format!("{debit} from {credit}"),
            payee: None,
            tags: BTreeSet::new(),
            metadata: BTreeMap::new(),
            postings: vec![
                posting(debit, quantity),
                posting(credit, &format!("-{quantity}")),
            ],
            pending: None,
        };
        let request = EntryRequest { key: None, entry };
        store.create_entry(tenant, &request).expect("entry");
    }
    for (date, commodity, rate, quote) in [
        ("2024-03-01", "EUR", "1.0842", "USD"),
        ("2024-03-01", "USD", "150.25", "JPY"),
        ("2024-03-05", "EUR", "1.09", "USD"),
        ("2024-03-01", "CHF", "0.5", "USD"),
    ] {
        let rate = Rate::parse(rate).expect("rate");
        let price = Price::new(day(date), code(commodity), code(quote), rate).expect("price");
        store.set_price(tenant, &price).expect("price");
    }
    tenant
}

/// The store's balances at `date`, nonzero ones, in minor units.
fn native_report(store: &mut SqliteStore, tenant: TenantId, date: Date) -> Report {
    let lines = store.balances(tenant, date).expect("balances");
    lines
        .into_iter()
        .filter(|line| line.balance != Amount::ZERO)
        .map(|line| {
            (
                (line.account.to_string(), line.commodity.to_string()),
                line.balance.0,
            )
        })
        .collect()
}

/// Each account's balances at `date` valued in USD by `value_at`; what has no price stays in
/// its commodity (the tools print it so too).
fn valued_report(store: &mut SqliteStore, tenant: TenantId, date: Date) -> Report {
    let prices = store.prices(tenant, None).expect("prices");
    let usd = Commodity::new("USD", 2).expect("USD");
    let mut holdings: BTreeMap<String, Vec<Holding>> = BTreeMap::new();
    for ((account, commodity), amount) in native_report(store, tenant, date) {
        let commodity = Commodity::new(&commodity, precision(&commodity)).expect("commodity");
        let holding = Holding {
            commodity,
            amount: Amount(amount),
        };
        holdings.entry(account).or_default().push(holding);
    }
    let mut report = Report::new();
    for (account, held) in holdings {
        let valuation = value_at(&held, &prices, &usd, date).expect("no overflow");
        if !valuation.valued.is_empty() && valuation.total != Amount::ZERO {
            report.insert((account.clone(), "USD".into()), valuation.total.0);
        }
        for unpriced in valuation.unpriced {
            let key = (account.clone(), unpriced.commodity.code.to_string());
            report.insert(key, unpriced.amount.0);
        }
    }
    report
}

/// `hledger --strict balance` as CSV; with a valuation, `-X` and a USD display of two decimals
/// (otherwise the rates' decimals widen it: hledger takes display precision from `P` lines).
fn hledger_args<'a>(
    file: &'a str,
    value_in: Option<&'a str>,
    end: Option<&'a str>,
) -> Vec<&'a str> {
    let mut args = vec!["-f", file, "--strict", "balance", "--flat", "--no-total"];
    args.extend(["-O", "csv", "--layout=bare"]);
    if let Some(commodity) = value_in {
        args.extend(["-X", commodity, "-c", "1.00 USD"]);
    }
    if let Some(end) = end {
        args.extend(["--end", end]);
    }
    args
}

/// `ledger balance`, one account and amount a line; with a valuation, `-X`. Both tools value
/// at the report's end (`--end` is exclusive: the day before).
fn ledger_args<'a>(file: &'a str, value_in: Option<&'a str>, end: Option<&'a str>) -> Vec<&'a str> {
    let format = "%(account)\t%(scrub(display_total))\n";
    let mut args = vec![
        "-f",
        file,
        "balance",
        "--flat",
        "--no-total",
        "--format",
        format,
    ];
    if let Some(commodity) = value_in {
        args.extend(["-X", commodity]);
    }
    if let Some(end) = end {
        args.extend(["--end", end]);
    }
    args
}

fn parse_quantity(quantity: &str, commodity: &str) -> i64 {
    Amount::parse(quantity, precision(commodity))
        .unwrap_or_else(|error| panic!("a tool printed {quantity:?} {commodity}: {error}"))
        .0
}

fn parse_hledger(stdout: &str) -> Report {
    let mut report = Report::new();
    for line in stdout.lines().skip(1).filter(|line| !line.is_empty()) {
        let fields: Vec<&str> = line.trim_matches('"').split("\",\"").collect();
        let [account, commodity, quantity] = fields[..] else {
            panic!("not an hledger CSV row: {line:?}");
        };
        let amount = parse_quantity(quantity, commodity);
        if amount != 0 {
            report.insert((account.to_owned(), commodity.to_owned()), amount);
        }
    }
    report
}

/// `ACCOUNT\tQTY CODE` lines, each followed by `QTY CODE` lines for its other commodities.
fn parse_ledger(stdout: &str) -> Report {
    let mut report = Report::new();
    let mut account = String::new();
    for line in stdout.lines().filter(|line| !line.trim().is_empty()) {
        let amount = match line.split_once('\t') {
            Some((name, amount)) => {
                name.clone_into(&mut account);
                amount
            }
            None => line,
        };
        let Some((quantity, commodity)) = amount.trim().split_once(' ') else {
            panic!("not a ledger amount: {line:?}");
        };
        let amount = parse_quantity(quantity, commodity);
        if amount != 0 {
            report.insert((account.clone(), commodity.to_owned()), amount);
        }
    }
    report
}
