//! Tests of `period_report`: the tables each report builds from period ends, their checks
//! and totals, and the cash-flow rules.

use super::*;
use crate::domain::entry::Posting;
use crate::domain::periods::periods;

fn day(text: &str) -> Date {
    Date::parse(text).expect(text)
}

fn code(text: &str) -> CommodityCode {
    CommodityCode::new(text).expect(text)
}

fn name(text: &str) -> AccountName {
    AccountName::new(text).expect(text)
}

const CHART: [(&str, AccountType); 8] = [
    ("Assets:Bank:Checking", AccountType::Asset),
    ("Assets:Cash", AccountType::Asset),
    ("Assets:Receivable", AccountType::Asset),
    ("Liabilities:Card", AccountType::Liability),
    ("Equity:Opening", AccountType::Equity),
    ("Income:Sales", AccountType::Income),
    ("Expenses:Rent", AccountType::Expense),
    ("Expenses:Meals, Travel", AccountType::Expense),
];

fn chart() -> Vec<Account> {
    CHART
        .iter()
        .map(|(account, kind)| Account::new(name(account), *kind, day("2024-01-01")))
        .collect()
}

fn entry(date: &str, postings: &[(&str, &str, i64)]) -> Entry {
    Entry {
        date: day(date),
        description: "test".into(),
        payee: None,
        tags: Default::default(),
        metadata: Default::default(),
        postings: postings
            .iter()
            .map(|(account, commodity, amount)| Posting {
                account: name(account),
                commodity: code(commodity),
                amount: Amount(*amount),
            })
            .collect(),
        pending: None,
        link: None,
    }
}

/// A small book over two months: opening cash, a sale on credit collected in February,
/// rent, a card dinner paid from the bank, cash withdrawn, and a EUR sale.
fn book() -> Vec<Entry> {
    vec![
        entry(
            "2024-01-01",
            &[
                ("Assets:Bank:Checking", "USD", 100_000),
                ("Equity:Opening", "USD", -100_000),
            ],
        ),
        entry(
            "2024-01-10",
            &[
                ("Assets:Receivable", "USD", 30_000),
                ("Income:Sales", "USD", -30_000),
            ],
        ),
        entry(
            "2024-01-31",
            &[
                ("Expenses:Rent", "USD", 12_000),
                ("Assets:Bank:Checking", "USD", -12_000),
            ],
        ),
        entry(
            "2024-02-03",
            &[
                ("Expenses:Meals, Travel", "USD", 4_000),
                ("Liabilities:Card", "USD", -4_000),
            ],
        ),
        entry(
            "2024-02-05",
            &[
                ("Assets:Bank:Checking", "USD", 30_000),
                ("Assets:Receivable", "USD", -30_000),
            ],
        ),
        entry(
            "2024-02-20",
            &[
                ("Liabilities:Card", "USD", 4_000),
                ("Assets:Bank:Checking", "USD", -4_000),
            ],
        ),
        entry(
            "2024-02-21",
            &[
                ("Assets:Cash", "USD", 1_000),
                ("Assets:Bank:Checking", "USD", -1_000),
            ],
        ),
        entry(
            "2024-02-22",
            &[
                ("Assets:Cash", "EUR", 5_000),
                ("Income:Sales", "EUR", -5_000),
            ],
        ),
    ]
}

/// The trial balance at the end of `date`: every posting on or before it.
fn trial(entries: &[Entry], date: Date) -> Vec<TrialLine> {
    let mut sums: BTreeMap<(AccountName, CommodityCode), Amount> = BTreeMap::new();
    for entry in entries.iter().filter(|e| e.date <= date) {
        for p in &entry.postings {
            let sum = sums
                .entry((p.account.clone(), p.commodity.clone()))
                .or_default();
            *sum = sum.checked_add(p.amount).expect("fits");
        }
    }
    sums.into_iter()
        .map(|((account, commodity), balance)| TrialLine {
            account,
            commodity,
            balance,
        })
        .collect()
}

fn months() -> Vec<(Date, Date)> {
    periods(day("2024-01-01"), day("2024-02-29"), Step::Month).expect("periods")
}

fn closings(entries: &[Entry], periods: &[(Date, Date)]) -> Vec<Vec<TrialLine>> {
    periods.iter().map(|(_, to)| trial(entries, *to)).collect()
}

fn row<'a>(table: &'a PeriodTable, label: &str, commodity: &str) -> &'a TableRow {
    table
        .rows()
        .map(|(_, row)| row)
        .find(|row| row.label == label && row.commodity.as_str() == commodity)
        .unwrap_or_else(|| panic!("no row {label} {commodity}: {table:#?}"))
}

fn cells(row: &TableRow) -> Vec<Option<i64>> {
    row.cells.iter().map(|c| c.map(|a| a.0)).collect()
}

#[test]
fn the_balance_sheet_has_a_column_per_period_end_and_balances() {
    let (accounts, entries, periods) = (chart(), book(), months());
    let closings = closings(&entries, &periods);
    let balances = Balances {
        accounts: &accounts,
        opening: &[],
        closings: &closings,
    };
    let table = balance_sheet(&periods, Step::Month, &balances).expect("table");
    let labels: Vec<&str> = table.columns.iter().map(|c| c.label.as_str()).collect();
    assert_eq!(labels, ["2024-01", "2024-02"]);
    assert_eq!(
        cells(row(&table, "Assets:Bank:Checking", "USD")),
        [Some(88_000), Some(113_000)]
    );
    assert_eq!(
        cells(row(&table, "Assets:Receivable", "USD")),
        [Some(30_000), Some(0)],
        "a receivable collected in February keeps its row"
    );
    assert!(
        table.rows().all(|(_, row)| row.label != "Liabilities:Card"),
        "zero at both ends: no row"
    );
    assert_eq!(
        cells(row(&table, "Retained earnings", "USD")),
        [Some(18_000), Some(14_000)]
    );
    assert_eq!(
        cells(row(&table, "Retained earnings", "EUR")),
        [Some(0), Some(5_000)]
    );
    for commodity in ["USD", "EUR"] {
        let check = row(
            &table,
            "Assets less liabilities and equity (zero when balanced)",
            commodity,
        );
        assert_eq!(check.kind, RowKind::Check);
        assert!(check.cells.iter().all(|c| *c == Some(Amount::ZERO)));
    }
    let account = row(&table, "Assets:Bank:Checking", "USD");
    assert_eq!(account.kind, RowKind::Account);
    assert_eq!(account.account, Some(name("Assets:Bank:Checking")));
}

#[test]
fn income_statement_columns_sum_to_the_total_column() {
    let (accounts, entries, periods) = (chart(), book(), months());
    let closings = closings(&entries, &periods);
    let balances = Balances {
        accounts: &accounts,
        opening: &[],
        closings: &closings,
    };
    let table = income_statement(&periods, Step::Month, &balances).expect("table");
    assert_eq!(table.columns.len(), 3);
    assert!(table.columns[2].total);
    assert_eq!(
        (table.columns[2].from, table.columns[2].to),
        (day("2024-01-01"), day("2024-02-29"))
    );
    assert_eq!(
        cells(row(&table, "Net income", "USD")),
        [Some(18_000), Some(-4_000), Some(14_000)]
    );
    assert_eq!(
        cells(row(&table, "Expenses:Meals, Travel", "USD")),
        [Some(0), Some(4_000), Some(4_000)]
    );
    for (_, row) in table.rows() {
        let (periods, total) = row.cells.split_at(2);
        let sum: i64 = periods.iter().flatten().map(|a| a.0).sum();
        assert_eq!(Some(Amount(sum)), total[0], "{}", row.label);
    }
}

#[test]
fn the_trial_balance_splits_debits_and_credits_and_they_agree() {
    let (accounts, entries, periods) = (chart(), book(), months());
    let closings = closings(&entries, &periods);
    let balances = Balances {
        accounts: &accounts,
        opening: &[],
        closings: &closings,
    };
    let table = trial_balance(&periods, Step::Month, &balances).expect("table");
    assert_eq!(table.sub_columns, ["Debit", "Credit"]);
    let titles: Vec<&str> = table.sections.iter().map(|s| s.title).collect();
    assert_eq!(
        titles,
        ["Assets", "Equity", "Income", "Expenses", "Totals"],
        "the card is zero at both month ends: no row, no section"
    );
    assert_eq!(
        cells(row(&table, "Assets:Receivable", "USD")),
        [Some(30_000), None, None, None]
    );
    assert_eq!(
        cells(row(&table, "Income:Sales", "USD")),
        [None, Some(30_000), None, Some(30_000)]
    );
    assert_eq!(
        cells(row(&table, "Total", "USD")),
        [Some(130_000), Some(130_000), Some(130_000), Some(130_000)]
    );
    assert_eq!(
        cells(row(&table, "Total", "EUR")),
        [Some(0), Some(0), Some(5_000), Some(5_000)]
    );
    assert_eq!(
        cells(row(&table, "Debits less credits", "EUR")),
        [Some(0), None, Some(0), None]
    );
}

#[test]
fn the_cash_flow_attributes_cash_to_counterparts_and_adds_up() {
    let (accounts, entries) = (chart(), book());
    // February alone: January is the opening balance.
    let periods = periods(day("2024-02-01"), day("2024-02-29"), Step::Month).expect("p");
    let opening = trial(&entries, day("2024-01-31"));
    let closings = closings(&entries, &periods);
    let balances = Balances {
        accounts: &accounts,
        opening: &opening,
        closings: &closings,
    };
    let cash = CashChart::new(&accounts);
    let mut flows = CashFlows::new(&periods);
    for entry in &entries {
        flows.add(&cash, entry).expect("adds");
    }
    let table = cash_flow(&periods, Step::Month, &balances, &cash, flows).expect("table");
    assert_eq!(
        cells(row(&table, "Cash at start", "USD")),
        [Some(88_000), Some(88_000)]
    );
    assert_eq!(
        cells(row(&table, "From other assets", "USD")),
        [Some(30_000), Some(30_000)]
    );
    assert_eq!(
        cells(row(&table, "To liabilities", "USD")),
        [Some(-4_000), Some(-4_000)]
    );
    assert_eq!(
        cells(row(&table, "From income", "EUR")),
        [Some(5_000), Some(5_000)]
    );
    assert_eq!(
        cells(row(&table, "Cash at start", "EUR")),
        [Some(0), Some(0)],
        "every commodity has its start and end rows"
    );
    assert_eq!(
        cells(row(&table, "Net change in cash", "USD")),
        [Some(26_000), Some(26_000)],
        "the withdrawal moved cash between cash accounts: no flow"
    );
    assert_eq!(
        cells(row(&table, "Assets:Cash", "USD")),
        [Some(1_000), Some(1_000)]
    );
    for (section, row) in table.rows() {
        if row.kind == RowKind::Check {
            assert_eq!(section, "Check");
            assert!(
                row.cells.iter().all(|c| *c == Some(Amount::ZERO)),
                "{row:?}"
            );
        }
    }
    assert!(table.rows().all(|(_, row)| row.label != "From expenses"));
}

#[test]
fn cash_accounts_are_assets_named_by_the_prefixes() {
    let account = |text: &str, kind| Account::new(name(text), kind, day("2024-01-01"));
    assert!(is_cash_account(&account("Assets:Bank", AccountType::Asset)));
    assert!(is_cash_account(&account(
        "Assets:Cash:Petty",
        AccountType::Asset
    )));
    assert!(!is_cash_account(&account(
        "Assets:Banking",
        AccountType::Asset
    )));
    assert!(!is_cash_account(&account(
        "Assets:Bank:Loan",
        AccountType::Liability
    )));
    assert!(!is_cash_account(&account(
        "Assets:Receivable",
        AccountType::Asset
    )));
}

#[test]
fn pending_entries_and_entries_outside_the_periods_move_no_cash() {
    let accounts = chart();
    let cash = CashChart::new(&accounts);
    let periods = months();
    let mut flows = CashFlows::new(&periods);
    let mut pending = entry(
        "2024-01-05",
        &[
            ("Assets:Bank:Checking", "USD", -500),
            ("Expenses:Rent", "USD", 500),
        ],
    );
    pending.pending = Some(crate::domain::PendingTerms { expires_at: None });
    let outside = entry(
        "2024-03-01",
        &[
            ("Assets:Bank:Checking", "USD", -500),
            ("Expenses:Rent", "USD", 500),
        ],
    );
    flows.add(&cash, &pending).expect("adds");
    flows.add(&cash, &outside).expect("adds");
    assert!(flows.inflows.rows.is_empty() && flows.outflows.rows.is_empty());
    let unknown = entry(
        "2024-01-05",
        &[
            ("Assets:Bank:Checking", "USD", -500),
            ("Expenses:Elsewhere", "USD", 500),
        ],
    );
    assert_eq!(
        flows.add(&cash, &unknown),
        Err(ReportError::UnknownAccount(name("Expenses:Elsewhere")))
    );
}

#[test]
fn kinds_round_trip_their_slugs() {
    for kind in ReportKind::ALL {
        assert_eq!(ReportKind::from_slug(kind.slug()), Some(kind));
    }
    assert_eq!(ReportKind::from_slug("profit-and-loss"), None);
}
