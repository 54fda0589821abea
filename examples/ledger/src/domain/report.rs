//! Financial statements from trial balances: `balance_sheet` (assets, liabilities and equity
//! at a date, with the income and expenses not yet closed into equity shown as retained
//! earnings) and `income_statement` (income and expenses over a period: the balances at its
//! end less those on the day before it starts).
//!
//! Pure: the input is `TrialLine`s (an account's balance in one commodity, debit-positive as
//! everywhere in the ledger; the store's `BalanceLine` carries the same three fields) and the
//! chart's `Account`s for their types; `crate::statements` reads both from a store. Amounts
//! are presented the way a reader expects them: assets and expenses debit-positive,
//! liabilities, equity and income credit-positive (a liability of 500.00 shows as `500.00`).
//! Every figure is per commodity; nothing is converted between commodities. Zero lines and zero
//! totals are left out. Arithmetic is checked: an overflow is an error, never a wrong figure.
//!
//! A balance sheet is refused if its trial balance does not sum to zero per commodity (then
//! no honest sheet exists); with that, Assets = Liabilities + Equity holds per commodity by
//! construction. Not done: account hierarchy subtotals, closing entries (comparisons between
//! periods are `domain::period_report`, built on these). Tests at the bottom.

use super::account::{Account, AccountName, AccountType};
use super::amount::{Amount, CommodityCode};
use super::date::Date;
use std::collections::BTreeMap;
use std::fmt;

/// One account's balance in one commodity at a date, debit-positive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrialLine {
    pub account: AccountName,
    pub commodity: CommodityCode,
    pub balance: Amount,
}

/// Amounts by commodity. Invariant (as built here): no zero amount.
pub type Totals = BTreeMap<CommodityCode, Amount>;

/// One line of a statement: an account's amount in one commodity, as presented (see the
/// module doc for the signs). Invariant: `amount` is not zero.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportLine {
    pub account: AccountName,
    pub commodity: CommodityCode,
    pub amount: Amount,
}

/// The accounts of one type, by name then commodity, and their totals per commodity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Section {
    pub account_type: AccountType,
    pub lines: Vec<ReportLine>,
    pub totals: Totals,
}

/// A balance sheet at the end of `date`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BalanceSheet {
    pub date: Date,
    pub assets: Section,
    pub liabilities: Section,
    pub equity: Section,
    /// Income less expenses up to `date`, not closed into an equity account (a profit is
    /// positive).
    pub retained_earnings: Totals,
    /// `equity.totals` plus `retained_earnings`.
    pub total_equity: Totals,
    /// `liabilities.totals` plus `total_equity`. Invariant: equals `assets.totals`.
    pub total_liabilities_and_equity: Totals,
}

/// An income statement from the start of `from` to the end of `to`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IncomeStatement {
    pub from: Date,
    pub to: Date,
    /// Income earned in the period, credit-positive.
    pub income: Section,
    /// Expenses incurred in the period, debit-positive.
    pub expenses: Section,
    /// `income.totals` less `expenses.totals` (a loss is negative).
    pub net_income: Totals,
}

/// Why a statement could not be built.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReportError {
    /// A line names an account the chart does not have.
    UnknownAccount(AccountName),
    /// The trial balance does not sum to zero in this commodity.
    Unbalanced {
        commodity: CommodityCode,
        sum: Amount,
    },
    /// A total does not fit in an `i64` of minor units.
    Overflow,
    /// The period ends before it starts.
    EmptyPeriod { from: Date, to: Date },
}

impl fmt::Display for ReportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReportError::UnknownAccount(name) => {
                write!(f, "a balance names account {name}, which the chart lacks")
            }
            ReportError::Unbalanced { commodity, sum } => write!(
                f,
                "the trial balance sums to {} minor units of {commodity}, not zero",
                sum.0
            ),
            ReportError::Overflow => f.write_str("a total is out of range"),
            ReportError::EmptyPeriod { from, to } => {
                write!(f, "the period ends ({to}) before it starts ({from})")
            }
        }
    }
}

impl std::error::Error for ReportError {}

impl BalanceSheet {
    /// Whether Assets = Liabilities + Equity in every commodity (always, for a sheet built
    /// by `balance_sheet`).
    pub fn is_balanced(&self) -> bool {
        self.assets.totals == self.total_liabilities_and_equity
    }
}

/// The balance sheet at the end of `date` from that day's trial balance.
pub fn balance_sheet(
    date: Date,
    accounts: &[Account],
    lines: &[TrialLine],
) -> Result<BalanceSheet, ReportError> {
    let types = account_types(accounts);
    check_balanced(lines)?;
    let assets = section(AccountType::Asset, &types, lines)?;
    let liabilities = section(AccountType::Liability, &types, lines)?;
    let equity = section(AccountType::Equity, &types, lines)?;
    let income = section(AccountType::Income, &types, lines)?;
    let expenses = section(AccountType::Expense, &types, lines)?;
    let retained_earnings = difference(&income.totals, &expenses.totals)?;
    let total_equity = sum(&equity.totals, &retained_earnings)?;
    let total_liabilities_and_equity = sum(&liabilities.totals, &total_equity)?;
    Ok(BalanceSheet {
        date,
        assets,
        liabilities,
        equity,
        retained_earnings,
        total_equity,
        total_liabilities_and_equity,
    })
}

/// The income statement from the start of `from` to the end of `to`: `closing` is the trial
/// balance at the end of `to`, `opening` the one at the end of the day before `from` (empty if
/// there is no such day).
pub fn income_statement(
    from: Date,
    to: Date,
    accounts: &[Account],
    opening: &[TrialLine],
    closing: &[TrialLine],
) -> Result<IncomeStatement, ReportError> {
    if to < from {
        return Err(ReportError::EmptyPeriod { from, to });
    }
    let types = account_types(accounts);
    let changes = changes(opening, closing)?;
    let income = section(AccountType::Income, &types, &changes)?;
    let expenses = section(AccountType::Expense, &types, &changes)?;
    let net_income = difference(&income.totals, &expenses.totals)?;
    Ok(IncomeStatement {
        from,
        to,
        income,
        expenses,
        net_income,
    })
}

fn account_types(accounts: &[Account]) -> BTreeMap<&AccountName, AccountType> {
    accounts
        .iter()
        .map(|account| (&account.name, account.account_type))
        .collect()
}

/// The trial balance sums to zero per commodity.
fn check_balanced(lines: &[TrialLine]) -> Result<(), ReportError> {
    let mut sums = Totals::new();
    for line in lines {
        add_to(&mut sums, &line.commodity, line.balance)?;
    }
    match sums.into_iter().find(|(_, sum)| *sum != Amount::ZERO) {
        Some((commodity, sum)) => Err(ReportError::Unbalanced { commodity, sum }),
        None => Ok(()),
    }
}

/// `closing - opening` per account and commodity, as trial lines.
fn changes(opening: &[TrialLine], closing: &[TrialLine]) -> Result<Vec<TrialLine>, ReportError> {
    let mut by_key: BTreeMap<(&AccountName, &CommodityCode), Amount> = BTreeMap::new();
    for line in closing {
        let change = by_key.entry((&line.account, &line.commodity)).or_default();
        *change = change
            .checked_add(line.balance)
            .map_err(|_| ReportError::Overflow)?;
    }
    for line in opening {
        let change = by_key.entry((&line.account, &line.commodity)).or_default();
        *change = change
            .checked_sub(line.balance)
            .map_err(|_| ReportError::Overflow)?;
    }
    Ok(by_key
        .into_iter()
        .map(|((account, commodity), balance)| TrialLine {
            account: account.clone(),
            commodity: commodity.clone(),
            balance,
        })
        .collect())
}

/// The nonzero lines of accounts of `kind`, presented, sorted, with their totals. Every
/// line's account must be in the chart, whatever its type.
fn section(
    kind: AccountType,
    types: &BTreeMap<&AccountName, AccountType>,
    lines: &[TrialLine],
) -> Result<Section, ReportError> {
    let mut merged: BTreeMap<(&AccountName, &CommodityCode), Amount> = BTreeMap::new();
    for line in lines {
        let Some(&account_type) = types.get(&line.account) else {
            return Err(ReportError::UnknownAccount(line.account.clone()));
        };
        if account_type == kind {
            let amount = merged.entry((&line.account, &line.commodity)).or_default();
            *amount = amount
                .checked_add(presented(kind, line.balance)?)
                .map_err(|_| ReportError::Overflow)?;
        }
    }
    let mut totals = Totals::new();
    let mut report_lines = Vec::new();
    for ((account, commodity), amount) in merged {
        if amount == Amount::ZERO {
            continue;
        }
        add_to(&mut totals, commodity, amount)?;
        report_lines.push(ReportLine {
            account: account.clone(),
            commodity: commodity.clone(),
            amount,
        });
    }
    totals.retain(|_, amount| *amount != Amount::ZERO);
    Ok(Section {
        account_type: kind,
        lines: report_lines,
        totals,
    })
}

/// A debit-positive balance as a reader of a section of `kind` expects it.
fn presented(kind: AccountType, balance: Amount) -> Result<Amount, ReportError> {
    match kind {
        AccountType::Asset | AccountType::Expense => Ok(balance),
        AccountType::Liability | AccountType::Equity | AccountType::Income => {
            balance.checked_neg().map_err(|_| ReportError::Overflow)
        }
    }
}

fn add_to(
    totals: &mut Totals,
    commodity: &CommodityCode,
    amount: Amount,
) -> Result<(), ReportError> {
    let total = totals.entry(commodity.clone()).or_default();
    *total = total
        .checked_add(amount)
        .map_err(|_| ReportError::Overflow)?;
    Ok(())
}

/// `left + right` per commodity, zeros left out.
fn sum(left: &Totals, right: &Totals) -> Result<Totals, ReportError> {
    let mut out = left.clone();
    for (commodity, amount) in right {
        add_to(&mut out, commodity, *amount)?;
    }
    out.retain(|_, amount| *amount != Amount::ZERO);
    Ok(out)
}

/// `left - right` per commodity, zeros left out.
fn difference(left: &Totals, right: &Totals) -> Result<Totals, ReportError> {
    let mut negated = Totals::new();
    for (commodity, amount) in right {
        let negative = amount.checked_neg().map_err(|_| ReportError::Overflow)?;
        negated.insert(commodity.clone(), negative);
    }
    sum(left, &negated)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn day(text: &str) -> Date {
        Date::parse(text).expect(text)
    }

    fn code(text: &str) -> CommodityCode {
        CommodityCode::new(text).expect(text)
    }

    const CHART: [(&str, AccountType); 9] = [
        ("Assets:Bank", AccountType::Asset),
        ("Assets:Receivable", AccountType::Asset),
        ("Liabilities:Card", AccountType::Liability),
        ("Equity:Opening", AccountType::Equity),
        ("Equity:Conversion", AccountType::Equity),
        ("Income:Sales", AccountType::Income),
        ("Income:Interest", AccountType::Income),
        ("Expenses:Rent", AccountType::Expense),
        ("Expenses:Travel", AccountType::Expense),
    ];

    fn chart() -> Vec<Account> {
        CHART
            .iter()
            .map(|(name, kind)| {
                Account::new(
                    AccountName::new(name).expect(name),
                    *kind,
                    day("2024-01-01"),
                )
            })
            .collect()
    }

    fn line(account: &str, commodity: &str, balance: i64) -> TrialLine {
        TrialLine {
            account: AccountName::new(account).expect(account),
            commodity: code(commodity),
            balance: Amount(balance),
        }
    }

    fn totals(items: &[(&str, i64)]) -> Totals {
        items
            .iter()
            .map(|(commodity, amount)| (code(commodity), Amount(*amount)))
            .collect()
    }

    /// Opening 1,000.00 USD; 300.00 of sales on credit; rent 120.00 paid; 40.00 of travel on
    /// the card; 5.00 interest; a EUR sale of 50.00 and a conversion of 20.00 EUR to 22.00 USD.
    fn book() -> Vec<TrialLine> {
        vec![
            line("Assets:Bank", "USD", 100_000 - 12_000 + 500 + 2_200),
            line("Assets:Bank", "EUR", 5_000 - 2_000),
            line("Assets:Receivable", "USD", 30_000),
            line("Liabilities:Card", "USD", -4_000),
            line("Equity:Opening", "USD", -100_000),
            line("Equity:Conversion", "USD", -2_200),
            line("Equity:Conversion", "EUR", 2_000),
            line("Income:Sales", "USD", -30_000),
            line("Income:Sales", "EUR", -5_000),
            line("Income:Interest", "USD", -500),
            line("Expenses:Rent", "USD", 12_000),
            line("Expenses:Travel", "USD", 4_000),
            line("Expenses:Travel", "EUR", 0),
        ]
    }

    #[test]
    fn a_balance_sheet_presents_credits_as_positive_and_balances_per_commodity() {
        let sheet = balance_sheet(day("2024-12-31"), &chart(), &book()).expect("sheet");
        assert_eq!(
            sheet.assets.totals,
            totals(&[("EUR", 3_000), ("USD", 120_700)])
        );
        assert_eq!(sheet.liabilities.totals, totals(&[("USD", 4_000)]));
        assert_eq!(
            sheet.liabilities.lines,
            vec![ReportLine {
                account: AccountName::new("Liabilities:Card").expect("name"),
                commodity: code("USD"),
                amount: Amount(4_000),
            }]
        );
        assert_eq!(
            sheet.equity.totals,
            totals(&[("EUR", -2_000), ("USD", 102_200)])
        );
        // Income 300.00 + 5.00 less expenses 120.00 + 40.00 in USD; 50.00 of sales in EUR.
        assert_eq!(
            sheet.retained_earnings,
            totals(&[("EUR", 5_000), ("USD", 14_500)])
        );
        assert_eq!(
            sheet.total_equity,
            totals(&[("EUR", 3_000), ("USD", 116_700)])
        );
        assert_eq!(sheet.total_liabilities_and_equity, sheet.assets.totals);
        assert!(sheet.is_balanced());
    }

    #[test]
    fn zero_lines_and_zero_totals_are_left_out() {
        // `book()` has `Expenses:Travel` at 0 EUR, and its two Receivable lines net to zero.
        let mut lines = book();
        lines.push(line("Assets:Receivable", "EUR", 700));
        lines.push(line("Assets:Receivable", "EUR", -700));
        let statement =
            income_statement(day("2024-01-01"), day("2024-12-31"), &chart(), &[], &lines)
                .expect("statement");
        let expenses: Vec<(&str, &str)> = statement
            .expenses
            .lines
            .iter()
            .map(|line| (line.account.as_str(), line.commodity.as_str()))
            .collect();
        assert_eq!(
            expenses,
            [("Expenses:Rent", "USD"), ("Expenses:Travel", "USD")]
        );
        assert_eq!(statement.expenses.totals, totals(&[("USD", 16_000)]));
        let sheet = balance_sheet(day("2024-12-31"), &chart(), &lines).expect("sheet");
        assert!(
            sheet
                .assets
                .lines
                .iter()
                .all(|l| l.commodity.as_str() != "EUR" || l.account.as_str() == "Assets:Bank")
        );
        let empty = balance_sheet(day("2024-12-31"), &chart(), &[]).expect("sheet");
        assert!(empty.assets.lines.is_empty() && empty.total_equity.is_empty());
        assert!(empty.is_balanced());
    }

    #[test]
    fn an_unbalanced_trial_balance_is_refused_not_reported() {
        let mut lines = book();
        lines.push(line("Assets:Bank", "USD", 1));
        assert_eq!(
            balance_sheet(day("2024-12-31"), &chart(), &lines),
            Err(ReportError::Unbalanced {
                commodity: code("USD"),
                sum: Amount(1)
            })
        );
    }

    #[test]
    fn an_account_missing_from_the_chart_is_an_error() {
        let mut lines = book();
        lines.push(line("Assets:Elsewhere", "USD", 0));
        assert_eq!(
            balance_sheet(day("2024-12-31"), &chart(), &lines),
            Err(ReportError::UnknownAccount(
                AccountName::new("Assets:Elsewhere").expect("name")
            ))
        );
    }

    #[test]
    fn overflowing_totals_are_an_error() {
        let lines = [
            line("Assets:Bank", "USD", i64::MAX),
            line("Assets:Receivable", "USD", 1),
            line("Equity:Opening", "USD", i64::MIN),
        ];
        assert_eq!(
            balance_sheet(day("2024-12-31"), &chart(), &lines),
            Err(ReportError::Overflow)
        );
        let minimum = [line("Income:Sales", "USD", i64::MIN)];
        assert_eq!(
            income_statement(
                day("2024-01-01"),
                day("2024-12-31"),
                &chart(),
                &[],
                &minimum
            ),
            Err(ReportError::Overflow)
        );
    }

    #[test]
    fn an_income_statement_is_the_change_over_the_period() {
        let opening = [
            line("Assets:Bank", "USD", 90_000),
            line("Income:Sales", "USD", -10_000),
            line("Expenses:Rent", "USD", 4_000),
            line("Equity:Opening", "USD", -84_000),
        ];
        let statement = income_statement(
            day("2024-07-01"),
            day("2024-12-31"),
            &chart(),
            &opening,
            &book(),
        )
        .expect("statement");
        assert_eq!(
            statement.income.totals,
            totals(&[("EUR", 5_000), ("USD", 20_500)])
        );
        assert_eq!(statement.expenses.totals, totals(&[("USD", 12_000)]));
        assert_eq!(
            statement.net_income,
            totals(&[("EUR", 5_000), ("USD", 8_500)])
        );
        let names: Vec<&str> = statement
            .income
            .lines
            .iter()
            .map(|line| line.account.as_str())
            .collect();
        assert_eq!(names, ["Income:Interest", "Income:Sales", "Income:Sales"]);
    }

    #[test]
    fn a_period_that_ends_before_it_starts_is_refused() {
        let (from, to) = (day("2024-07-01"), day("2024-06-30"));
        assert_eq!(
            income_statement(from, to, &chart(), &[], &[]),
            Err(ReportError::EmptyPeriod { from, to })
        );
        assert!(income_statement(from, from, &chart(), &[], &[]).is_ok());
    }

    proptest! {
        /// Any balanced trial balance gives Assets = Liabilities + Equity per commodity, and
        /// the retained earnings equal the net income of a statement over all time.
        #[test]
        fn the_accounting_identity_holds(
            movements in proptest::collection::vec((0usize..9, 0usize..9, 1i64..1_000_000_000, 0usize..2), 0..60)
        ) {
            let codes = ["USD", "EUR"];
            let mut lines = Vec::new();
            for (debit, credit, amount, commodity) in movements {
                lines.push(line(CHART[debit].0, codes[commodity], amount));
                lines.push(line(CHART[credit].0, codes[commodity], -amount));
            }
            let sheet = balance_sheet(day("2024-12-31"), &chart(), &lines).expect("sheet");
            prop_assert!(sheet.is_balanced());
            let statement = income_statement(day("0001-01-01"), day("2024-12-31"), &chart(), &[], &lines)
                .expect("statement");
            prop_assert_eq!(sheet.retained_earnings, statement.net_income);
        }
    }
}
