//! The demo book (`ledger::seed`) through the real tools: seeded into a temporary database
//! with `seed_demo`, exported with the binary, then read by `hledger --strict` and `ledger`.
//! Both must exit 0 (every closing balance assertion holds, every account and commodity is
//! declared), hledger's per-account balances must equal the store's, and the balance sheet's
//! retained earnings (`statements::balance_sheet`) must equal what hledger's income and
//! expense balances add up to. Missing tools fail the test (`require_tools`).

use super::cross_check::{require_tools, run_tool};
use super::{TempDb, ledger, open_store, path, text};
use ledger::domain::{Amount, Date};
use ledger::seed::seed_demo;
use ledger::statements::balance_sheet;
use ledger::store::Store;
use std::collections::BTreeMap;

/// (account, commodity) -> balance in cents, zero balances left out.
type Balances = BTreeMap<(String, String), i64>;

#[test]
fn the_demo_book_exports_to_a_journal_both_tools_accept_with_the_stores_figures() {
    require_tools();
    let db = TempDb::new("demo");
    let end = Date::parse("2026-11-30").expect("date");
    let mut store = open_store(&db);
    let tenant = seed_demo(&mut store, end).expect("seeded");
    let mut expected = Balances::new();
    for line in store.balances(tenant, end).expect("balances") {
        if line.balance != Amount::ZERO {
            let key = (line.account.to_string(), line.commodity.to_string());
            expected.insert(key, line.balance.0);
        }
    }
    let sheet = balance_sheet(&mut store, tenant, end).expect("balance sheet");
    drop(store);

    let journal = db.0.with_extension("journal");
    let file = journal.to_str().expect("a UTF-8 temp path");
    let exported = ledger(&["--database", path(&db), "export", "--output", file]);
    assert!(exported.status.success(), "{}", text(&exported.stderr));
    let hledger = run_tool(
        "hledger",
        &[
            "--strict",
            "-f",
            file,
            "balance",
            "--flat",
            "--no-total",
            "-O",
            "csv",
            "--layout=bare",
        ],
    );
    let ledger_cli = run_tool("ledger", &["-f", file, "balance", "--flat", "--no-total"]);
    let _ = std::fs::copy(&journal, "/tmp/demo.journal");
    let _ = std::fs::remove_file(&journal);

    let from_hledger = parse_hledger_csv(&hledger);
    assert_eq!(from_hledger, expected, "hledger disagrees with the store");
    assert!(ledger_cli.contains("Assets:Bank:Checking"), "{ledger_cli}");
    let mut retained: BTreeMap<String, i64> = BTreeMap::new();
    for ((account, commodity), cents) in &from_hledger {
        if account.starts_with("Income:") || account.starts_with("Expenses:") {
            *retained.entry(commodity.clone()).or_default() -= cents;
        }
    }
    retained.retain(|_, cents| *cents != 0);
    let reported: BTreeMap<String, i64> = sheet
        .retained_earnings
        .iter()
        .map(|(code, amount)| (code.to_string(), amount.0))
        .collect();
    assert_eq!(
        reported, retained,
        "the balance sheet disagrees with hledger"
    );
    assert!(sheet.is_balanced());
}

/// `"account","commodity","balance"` rows after a header; the demo's commodities have two
/// decimals.
fn parse_hledger_csv(stdout: &str) -> Balances {
    let mut balances = Balances::new();
    for line in stdout.lines().skip(1).filter(|line| !line.is_empty()) {
        let fields: Vec<&str> = line.trim_matches('"').split("\",\"").collect();
        let [account, commodity, quantity] = fields[..] else {
            panic!("not an hledger CSV row: {line:?}");
        };
        let cents = Amount::parse(quantity, 2)
            .unwrap_or_else(|error| panic!("hledger printed {quantity:?}: {error}"))
            .0;
        *balances
            .entry((account.to_owned(), commodity.to_owned()))
            .or_default() += cents;
    }
    balances.retain(|_, cents| *cents != 0);
    balances
}
