//! `ledger import FILE`: what a person at a terminal sees (exit codes, `FILE:LINE: reason`),
//! the tenant rules, a round trip `export` -> `import` -> `export` that reproduces the file
//! byte for byte, and a hand-written hledger-style journal whose imported balances equal
//! `hledger balance` on the same file. The parser's own tests are in `src/interop/parse.rs`,
//! the all-or-nothing store tests in `src/store/import_tests.rs`.

use super::cross_check::{require_tools, run_tool};
use super::{TempDb, ledger, open_store, path, text};
use ledger::domain::{
    Account, AccountName, AccountType, Commodity, Date, Decimal, NewEntry, NewPosting, Price, Rate,
    TenantSlug,
};
use ledger::limits::IMPORT_FILE_BYTES_MAX;
use ledger::store::{EntryRequest, Store};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

/// A file in the temporary directory, removed on drop.
pub(super) struct TempFile(pub(super) PathBuf);

impl TempFile {
    pub(super) fn new(name: &str, contents: &str) -> TempFile {
        let file = std::env::temp_dir().join(format!("ledger-cli-{}-{name}", std::process::id()));
        std::fs::write(&file, contents).expect("the temp file is written");
        TempFile(file)
    }

    pub(super) fn path(&self) -> &str {
        self.0.to_str().expect("a UTF-8 temp path")
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// hledger's style: `$` prefix with digit groups, a `format`-less sample directive, an elided
/// amount, status marks, a code, payee | note, tags, a `/` date, a comment block and assertions.
const HLEDGER_STYLE: &str = "; household books, hledger style
commodity $1,000.00
commodity 1.000 EUR

account Assets:Checking   ; type: A
account Savings           ; type: Asset

comment
nothing in here is read
end comment

2024-01-01 * Opening balances
    Assets:Checking          $1,000.00
    Equity:Opening

2024/01/05 ! (101) Grocer | weekly shop  ; food:
    ; receipt: R-17
    Expenses:Food            $42.50
    Assets:Checking

2024-01-06 Transfer
    Savings                  100.000 EUR
    Assets:Checking          EUR -100
    # a posting comment

2024-01-31 Salary
    Assets:Checking          $2500  = $3457.50
    Income:Salary           -$2500.00
";

#[test]
fn an_hledger_style_journal_imports_with_hledgers_balances() {
    require_tools();
    let db = TempDb::new("import-hledger");
    let journal = TempFile::new("hledger-style.journal", HLEDGER_STYLE);
    let imported = ledger(&["--database", path(&db), "import", journal.path()]);
    assert!(imported.status.success(), "{}", text(&imported.stderr));
    assert!(
        text(&imported.stdout).contains(
            "imported 4 entries into tenant default: 5 new accounts, 2 new commodities, \
             1 balance assertions held"
        ),
        "{}",
        text(&imported.stdout)
    );
    let hledger = run_tool(
        "hledger",
        &[
            "-f",
            journal.path(),
            "balance",
            "--flat",
            "--no-total",
            "-O",
            "csv",
            "--layout=bare",
        ],
    );
    let from_hledger: BTreeSet<String> = hledger.lines().skip(1).map(str::to_owned).collect();
    let mut store = open_store(&db);
    let tenant = store
        .tenant(&TenantSlug::new("default").expect("slug"))
        .expect("read")
        .expect("the default tenant was created");
    let precisions: BTreeMap<String, u8> = store
        .commodities(tenant)
        .expect("commodities")
        .into_iter()
        .map(|c| (c.code.to_string(), c.precision))
        .collect();
    let last = Date::parse("2024-12-31").expect("date");
    let from_store: BTreeSet<String> = store
        .balances(tenant, last)
        .expect("balances")
        .into_iter()
        .filter(|line| line.balance.0 != 0)
        .map(|line| {
            let code = line.commodity.to_string();
            let quantity = line.balance.format(precisions[&code]);
            format!("\"{}\",\"{code}\",\"{quantity}\"", line.account)
        })
        .collect();
    assert_eq!(from_store, from_hledger);
}

#[test]
fn export_import_export_is_byte_identical() {
    let original = TempDb::new("roundtrip-a");
    let copy = TempDb::new("roundtrip-b");
    {
        let mut store = open_store(&original);
        hand_written_book(&mut store);
    }
    let first = TempFile::new("roundtrip-1.journal", "");
    let second = TempFile::new("roundtrip-2.journal", "");
    let exported = ledger(&[
        "--database",
        path(&original),
        "export",
        "--output",
        first.path(),
    ]);
    assert!(exported.status.success(), "{}", text(&exported.stderr));
    let imported = ledger(&[
        "--database",
        path(&copy),
        "import",
        first.path(),
        "--tenant",
        "books",
    ]);
    assert!(imported.status.success(), "{}", text(&imported.stderr));
    let again = ledger(&[
        "--database",
        path(&copy),
        "export",
        "--output",
        second.path(),
    ]);
    assert!(again.status.success(), "{}", text(&again.stderr));
    let (a, b) = (
        std::fs::read_to_string(&first.0).expect("first export"),
        std::fs::read_to_string(&second.0).expect("second export"),
    );
    assert!(a.contains("(4) Café | lunch"), "{a}");
    assert!(
        a.contains("\nP 2024-01-02 USD 148.9 JPY\nP 2024-01-03 BTC 42000.12345678 USD\n"),
        "{a}"
    );
    assert_eq!(a, b);
}

/// A tenant `books` with USD, JPY and BTC, accounts opened before their first posting, and
/// entries written in date order (so the fresh database gives them the same ids).
fn hand_written_book(store: &mut impl Store) {
    let tenant = store
        .create_tenant(&TenantSlug::new("books").expect("slug"))
        .expect("tenant");
    for (code, places) in [("USD", 2), ("JPY", 0), ("BTC", 8)] {
        let commodity = Commodity::new(code, places).expect("commodity");
        store
            .create_commodity(tenant, &commodity)
            .expect("commodity");
    }
    let opened = Date::parse("2023-12-01").expect("date");
    for (name, kind) in [
        ("Assets:Bank", AccountType::Asset),
        ("Assets:Wallet", AccountType::Asset),
        ("Equity:Opening", AccountType::Equity),
        ("Expenses:Food", AccountType::Expense),
        ("Income:Sales", AccountType::Income),
    ] {
        let account = Account::new(AccountName::new(name).expect("name"), kind, opened);
        store.create_account(tenant, &account).expect("account");
    }
    let entries = [
        (
            "2024-01-01",
            "Opening",
            None,
            "Assets:Bank",
            "Equity:Opening",
            "USD",
            "1000.00",
        ),
        (
            "2024-01-02",
            "Yen",
            None,
            "Assets:Bank",
            "Equity:Opening",
            "JPY",
            "5000",
        ),
        (
            "2024-01-03",
            "Coins",
            None,
            "Assets:Wallet",
            "Income:Sales",
            "BTC",
            "0.00000042",
        ),
        (
            "2024-01-04",
            "lunch",
            Some("Café"),
            "Expenses:Food",
            "Assets:Bank",
            "USD",
            "12.50",
        ),
        (
            "2024-01-04",
            "sale",
            None,
            "Assets:Bank",
            "Income:Sales",
            "USD",
            "99.99",
        ),
    ];
    for (date, commodity, rate, quote) in [
        ("2024-01-02", "USD", "148.9", "JPY"),
        ("2024-01-03", "BTC", "42000.12345678", "USD"),
    ] {
        let code = |text: &str| ledger::domain::CommodityCode::new(text).expect("code");
        let price = Price::new(
            Date::parse(date).expect("date"),
            code(commodity),
            code(quote),
            Rate::parse(rate).expect("rate"),
        )
        .expect("price");
        store.set_price(tenant, &price).expect("price");
    }
    for (date, description, payee, debit, credit, code, quantity) in entries {
        let amount = Decimal::parse(quantity).expect("amount");
        let negated = Decimal::parse(&format!("-{quantity}")).expect("amount");
        let posting = |account: &str, amount: Decimal| NewPosting {
            account: AccountName::new(account).expect("name"),
            commodity: ledger::domain::CommodityCode::new(code).expect("code"),
            amount,
        };
        let mut entry = NewEntry {
            date: Date::parse(date).expect("date"),
            description: description.into(),
            payee: payee.map(str::to_owned),
            tags: BTreeSet::new(),
            metadata: BTreeMap::new(),
            postings: vec![posting(debit, amount), posting(credit, negated)],
            pending: None,
        };
        if payee.is_some() {
            entry.tags.insert("meal".into());
            entry.metadata.insert("receipt".into(), "R-1, kept".into());
        }
        store
            .create_entry(tenant, &EntryRequest { key: None, entry })
            .expect("entry");
    }
}

#[test]
fn a_bad_line_is_reported_as_file_line_reason_and_nothing_is_imported() {
    let db = TempDb::new("import-bad");
    let bad = HLEDGER_STYLE
        .replace("$42.50", "$42.50 @ 1 EUR")
        .replace("= $3457.50", "= $1.00");
    let journal = TempFile::new("bad.journal", &bad);
    let refused = ledger(&["--database", path(&db), "import", journal.path()]);
    assert_eq!(refused.status.code(), Some(1));
    let stderr = text(&refused.stderr);
    let expected = format!(
        "{}:18: transaction prices (@, @@) are not supported",
        journal.path()
    );
    assert!(stderr.contains(&expected), "{stderr}");
    assert!(stderr.contains("nothing imported"), "{stderr}");
    // Nothing was written, not even the tenant (the file is parsed first).
    let listed = ledger(&["--database", path(&db), "export"]);
    assert!(
        text(&listed.stderr).contains("holds no tenant"),
        "{}",
        text(&listed.stderr)
    );
    // With the price fixed, the wrong assertion (line 27) is reported, and nothing imported.
    let journal = TempFile::new("bad2.journal", &bad.replace(" @ 1 EUR", ""));
    let refused = ledger(&["--database", path(&db), "import", journal.path()]);
    assert_eq!(refused.status.code(), Some(1));
    let stderr = text(&refused.stderr);
    let expected = format!("{}:27: balance assertion failed", journal.path());
    assert!(stderr.contains(&expected), "{stderr}");
    let mut store = open_store(&db);
    let tenants = store.tenants().expect("tenants");
    let [(tenant, _)] = tenants.as_slice() else {
        panic!("one tenant: {tenants:?}");
    };
    assert!(
        store
            .entries(*tenant, None, 10)
            .expect("entries")
            .is_empty()
    );
    assert!(store.accounts(*tenant).expect("accounts").is_empty());
}

#[test]
fn import_tenant_rules() {
    let db = TempDb::new("import-tenants");
    let journal = TempFile::new("tenants.journal", HLEDGER_STYLE);
    let named = ledger(&[
        "--database",
        path(&db),
        "import",
        journal.path(),
        "--tenant",
        "home",
    ]);
    assert!(named.status.success(), "{}", text(&named.stderr));
    assert!(text(&named.stdout).contains("into tenant home"));
    ledger(&["--database", path(&db), "tenant", "create", "work"]);
    let ambiguous = ledger(&["--database", path(&db), "import", journal.path()]);
    assert_eq!(ambiguous.status.code(), Some(1));
    let stderr = text(&ambiguous.stderr);
    assert!(
        stderr.contains("2 tenants (home, work); name one with --tenant"),
        "{stderr}"
    );
    let unknown = ledger(&[
        "--database",
        path(&db),
        "import",
        journal.path(),
        "--tenant",
        "nope",
    ]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(text(&unknown.stderr).contains("no tenant nope"));
}

#[test]
fn an_unreadable_or_oversized_file_is_a_clear_error() {
    let db = TempDb::new("import-unreadable");
    let missing = std::env::temp_dir().join("ledger-cli-no-such-file.journal");
    let missing = missing.to_str().expect("UTF-8");
    let refused = ledger(&["--database", path(&db), "import", missing]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        text(&refused.stderr).contains(&format!("cannot read {missing}")),
        "{}",
        text(&refused.stderr)
    );
    let big = TempFile::new("big.journal", "");
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&big.0)
        .expect("open");
    file.set_len(IMPORT_FILE_BYTES_MAX + 1)
        .expect("a sparse file");
    let refused = ledger(&["--database", path(&db), "import", big.path()]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        text(&refused.stderr).contains("an import reads at most 268435456"),
        "{}",
        text(&refused.stderr)
    );
    let binary = TempFile::new("binary.journal", "");
    std::fs::write(&binary.0, [0xff, 0xfe, 0x00]).expect("written");
    let refused = ledger(&["--database", path(&db), "import", binary.path()]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(text(&refused.stderr).contains("is not UTF-8 text"));
}
