//! Period-over-period report tables: the trial balance, balance sheet, income statement and
//! cash flow over consecutive periods (`domain::periods`), one column per period, built from
//! trial balances at the periods' boundaries with the single-date rules of `domain::report`.
//!
//! - Trial balance and balance sheet: each column is the position at the end of its period
//!   (the trial balance as debit and credit sub-columns).
//! - Income statement: each column is its period's activity (balances at its end less those
//!   on the day before it starts), plus a total column for the whole range, computed from the
//!   range's own boundaries (so the columns summing to it is a check, not a tautology).
//! - Cash flow: cash is every account of type asset named by `CASH_ACCOUNT_PREFIXES` (the
//!   prefix itself or below it: `Assets:Bank:Checking`). Each column shows cash at the start,
//!   the inflows and outflows by counter-account type, each cash account's change and cash at
//!   the end. An entry's cash movement in a commodity is attributed to its other postings in
//!   that commodity: a non-cash posting of `-x` (a credit) brings `x` of cash in from its
//!   account's type (income, liabilities, equity, other assets, expenses), netted per entry
//!   and type; transfers between cash accounts move nothing. Since every entry balances per
//!   commodity, inflows plus outflows equal the change in cash exactly (the table's check
//!   row). Pending entries never post and are skipped.
//!
//! Every figure is per commodity (a row is one account in one commodity; nothing is
//! converted), presented as in `domain::report` (liabilities, equity and income
//! credit-positive). Arithmetic is checked. Pure: the store is read by
//! `crate::statements::period_table`, rendering is `crate::web::reports`. Not here: account
//! hierarchy subtotals, budgets, the direct/indirect cash-flow split of accounting standards
//! (operating, investing, financing). Tests at the bottom.

use super::account::{Account, AccountName, AccountType};
use super::amount::{Amount, CommodityCode};
use super::date::Date;
use super::entry::Entry;
use super::periods::Step;
use super::report::{self, ReportError, ReportLine, Totals, TrialLine};
use std::collections::{BTreeMap, BTreeSet};

/// Names whose asset accounts are cash in the cash flow: the account itself or any account
/// below it (`Assets:Bank:Checking`, not `Assets:Banking`).
pub const CASH_ACCOUNT_PREFIXES: [&str; 2] = ["Assets:Bank", "Assets:Cash"];

/// Whether the cash flow counts `account` as cash.
pub fn is_cash_account(account: &Account) -> bool {
    let name = account.name.as_str();
    account.account_type == AccountType::Asset
        && CASH_ACCOUNT_PREFIXES.iter().any(|prefix| {
            name.strip_prefix(prefix)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with(':'))
        })
}

/// The four reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReportKind {
    TrialBalance,
    BalanceSheet,
    IncomeStatement,
    CashFlow,
}

impl ReportKind {
    pub const ALL: [ReportKind; 4] = [
        ReportKind::TrialBalance,
        ReportKind::BalanceSheet,
        ReportKind::IncomeStatement,
        ReportKind::CashFlow,
    ];

    /// The name in a URL (`trial-balance`, ...).
    pub fn slug(self) -> &'static str {
        match self {
            ReportKind::TrialBalance => "trial-balance",
            ReportKind::BalanceSheet => "balance-sheet",
            ReportKind::IncomeStatement => "income-statement",
            ReportKind::CashFlow => "cash-flow",
        }
    }

    /// The inverse of `slug`.
    pub fn from_slug(text: &str) -> Option<ReportKind> {
        ReportKind::ALL.into_iter().find(|kind| kind.slug() == text)
    }

    pub fn title(self) -> &'static str {
        match self {
            ReportKind::TrialBalance => "Trial balance",
            ReportKind::BalanceSheet => "Balance sheet",
            ReportKind::IncomeStatement => "Income statement",
            ReportKind::CashFlow => "Cash flow",
        }
    }

    /// One sentence on what the columns show.
    pub fn description(self) -> &'static str {
        match self {
            ReportKind::TrialBalance => {
                "Every account's debit or credit balance at the end of each period."
            }
            ReportKind::BalanceSheet => {
                "Assets, liabilities and equity at the end of each period, with retained earnings."
            }
            ReportKind::IncomeStatement => {
                "Income and expenses earned and incurred in each period, and the net income."
            }
            ReportKind::CashFlow => {
                "Money into and out of the bank and cash accounts in each period, by where it came from or went."
            }
        }
    }

    /// Whether a column is a period's activity (with a total column) rather than a position
    /// at the period's end.
    pub fn is_flow(self) -> bool {
        matches!(self, ReportKind::IncomeStatement | ReportKind::CashFlow)
    }
}

/// One column: a period (or, with `total`, the whole range).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Column {
    pub from: Date,
    pub to: Date,
    /// The calendar period's name (`2024-03`, `2024-Q1`, `2024`) or `Total`.
    pub label: String,
    pub total: bool,
}

/// What a row is, for its looks and links.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowKind {
    /// An account's figure (links to its register).
    Account,
    /// A computed line that is not an account (retained earnings, a flow by type, cash at
    /// start).
    Line,
    /// A section's total.
    Total,
    /// A difference that must be zero (Assets = Liabilities + Equity, debits = credits,
    /// flows = change in cash).
    Check,
}

impl RowKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RowKind::Account => "account",
            RowKind::Line => "line",
            RowKind::Total => "total",
            RowKind::Check => "check",
        }
    }
}

/// One row of a table: a label (the account's name for an account row) in one commodity.
/// Invariant: `cells.len()` is the table's columns times its sub-columns; `None` is an empty
/// cell (the other side of a debit or credit).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableRow {
    pub label: String,
    pub account: Option<AccountName>,
    pub commodity: CommodityCode,
    pub kind: RowKind,
    pub cells: Vec<Option<Amount>>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableSection {
    pub title: &'static str,
    pub rows: Vec<TableRow>,
}

/// A whole report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeriodTable {
    pub kind: ReportKind,
    pub columns: Vec<Column>,
    /// Names of the cells under each column (`Debit`, `Credit`), or one empty name.
    pub sub_columns: &'static [&'static str],
    pub sections: Vec<TableSection>,
}

impl PeriodTable {
    /// Every row with the title of its section, in order.
    pub fn rows(&self) -> impl Iterator<Item = (&'static str, &TableRow)> {
        self.sections
            .iter()
            .flat_map(|section| section.rows.iter().map(move |row| (section.title, row)))
    }
}

/// The trial balances a table is built from.
#[derive(Clone, Copy, Debug)]
pub struct Balances<'a> {
    pub accounts: &'a [Account],
    /// At the end of the day before the first period (empty if there is no such day or the
    /// report needs none).
    pub opening: &'a [TrialLine],
    /// At the end of each period, one per period.
    pub closings: &'a [Vec<TrialLine>],
}

/// The columns of `periods`, labelled by `step`.
pub fn columns(periods: &[(Date, Date)], step: Step) -> Vec<Column> {
    periods
        .iter()
        .map(|&(from, to)| Column {
            from,
            to,
            label: step.label(from),
            total: false,
        })
        .collect()
}

fn total_column(periods: &[(Date, Date)]) -> Option<Column> {
    let (first, last) = (periods.first()?, periods.last()?);
    Some(Column {
        from: first.0,
        to: last.1,
        label: "Total".to_owned(),
        total: true,
    })
}

/// Cells keyed by `K`, one per column: a key set in any column has all of them (zero where
/// unset).
#[derive(Debug)]
struct Grid<K> {
    width: usize,
    rows: BTreeMap<K, Vec<Amount>>,
}

impl<K: Ord> Grid<K> {
    fn new(width: usize) -> Grid<K> {
        Grid {
            width,
            rows: BTreeMap::new(),
        }
    }

    fn row(&mut self, key: K) -> &mut Vec<Amount> {
        let width = self.width;
        self.rows
            .entry(key)
            .or_insert_with(|| vec![Amount::ZERO; width])
    }

    fn add(&mut self, key: K, column: usize, amount: Amount) -> Result<(), ReportError> {
        if let Some(cell) = self.row(key).get_mut(column) {
            *cell = cell
                .checked_add(amount)
                .map_err(|_| ReportError::Overflow)?;
        }
        Ok(())
    }

    /// The sum of each row's cells before `column`, put in `column` (a total column).
    fn sum_into(&mut self, column: usize) -> Result<(), ReportError> {
        for cells in self.rows.values_mut() {
            let mut sum = Amount::ZERO;
            for cell in cells.iter().take(column) {
                sum = sum.checked_add(*cell).map_err(|_| ReportError::Overflow)?;
            }
            if let Some(cell) = cells.get_mut(column) {
                *cell = sum;
            }
        }
        Ok(())
    }
}

impl Grid<(AccountName, CommodityCode)> {
    fn put_lines(&mut self, column: usize, lines: &[ReportLine]) -> Result<(), ReportError> {
        for line in lines {
            self.add(
                (line.account.clone(), line.commodity.clone()),
                column,
                line.amount,
            )?;
        }
        Ok(())
    }

    fn account_rows(self) -> Vec<TableRow> {
        self.rows
            .into_iter()
            .map(|((account, commodity), cells)| TableRow {
                label: account.as_str().to_owned(),
                account: Some(account),
                commodity,
                kind: RowKind::Account,
                cells: cells.into_iter().map(Some).collect(),
            })
            .collect()
    }
}

impl Grid<CommodityCode> {
    fn put_totals(&mut self, column: usize, totals: &Totals) -> Result<(), ReportError> {
        for (commodity, amount) in totals {
            self.add(commodity.clone(), column, *amount)?;
        }
        Ok(())
    }

    fn rows(self, label: &str, kind: RowKind) -> Vec<TableRow> {
        self.rows
            .into_iter()
            .map(|(commodity, cells)| TableRow {
                label: label.to_owned(),
                account: None,
                commodity,
                kind,
                cells: cells.into_iter().map(Some).collect(),
            })
            .collect()
    }

    /// `self - other` per commodity and column, a row for every commodity in either.
    fn minus(&self, other: &Grid<CommodityCode>) -> Result<Grid<CommodityCode>, ReportError> {
        let mut out = Grid::new(self.width);
        for (commodity, cells) in &self.rows {
            for (column, cell) in cells.iter().enumerate() {
                out.add(commodity.clone(), column, *cell)?;
            }
        }
        for (commodity, cells) in &other.rows {
            for (column, cell) in cells.iter().enumerate() {
                let negative = cell.checked_neg().map_err(|_| ReportError::Overflow)?;
                out.add(commodity.clone(), column, negative)?;
            }
        }
        Ok(out)
    }
}

fn account_types(accounts: &[Account]) -> BTreeMap<&AccountName, AccountType> {
    accounts
        .iter()
        .map(|account| (&account.name, account.account_type))
        .collect()
}

fn section(title: &'static str, rows: Vec<TableRow>) -> TableSection {
    TableSection { title, rows }
}

/// Each account's balance at the end of each period, as debit and credit sub-columns,
/// grouped by type, with the totals and their difference (zero in a sound book) per
/// commodity.
pub fn trial_balance(
    periods: &[(Date, Date)],
    step: Step,
    balances: &Balances<'_>,
) -> Result<PeriodTable, ReportError> {
    let width = periods.len();
    let types = account_types(balances.accounts);
    // Keyed by the type's place in `AccountType::ALL`, so sections come in that order.
    let mut by_type: BTreeMap<usize, (AccountType, Grid<(AccountName, CommodityCode)>)> =
        BTreeMap::new();
    let (mut debits, mut credits) = (Grid::new(width), Grid::new(width));
    for (column, closing) in balances.closings.iter().enumerate().take(width) {
        for line in closing.iter().filter(|line| line.balance != Amount::ZERO) {
            let Some(&kind) = types.get(&line.account) else {
                return Err(ReportError::UnknownAccount(line.account.clone()));
            };
            let order = AccountType::ALL
                .iter()
                .position(|t| *t == kind)
                .unwrap_or(0);
            let key = (line.account.clone(), line.commodity.clone());
            by_type
                .entry(order)
                .or_insert_with(|| (kind, Grid::new(width)))
                .1
                .add(key, column, line.balance)?;
            if line.balance.0 > 0 {
                debits.add(line.commodity.clone(), column, line.balance)?;
            } else {
                let credit = line
                    .balance
                    .checked_neg()
                    .map_err(|_| ReportError::Overflow)?;
                credits.add(line.commodity.clone(), column, credit)?;
            }
        }
    }
    let mut sections = Vec::new();
    for (kind, grid) in by_type.into_values() {
        let rows = grid
            .account_rows()
            .into_iter()
            .map(split_debit_credit)
            .collect::<Result<_, _>>()?;
        sections.push(section(type_title(kind), rows));
    }
    let difference = debits.minus(&credits)?;
    // Every commodity with a balance has a debit and a credit cell, zero where it has none.
    for commodity in difference.rows.keys() {
        debits.row(commodity.clone());
        credits.row(commodity.clone());
    }
    let mut totals = Vec::new();
    for ((commodity, debit), (_, credit)) in debits.rows.into_iter().zip(credits.rows) {
        let cells = debit
            .into_iter()
            .zip(credit)
            .flat_map(|(d, c)| [Some(d), Some(c)])
            .collect();
        totals.push(TableRow {
            label: "Total".to_owned(),
            account: None,
            commodity,
            kind: RowKind::Total,
            cells,
        });
    }
    totals.extend(
        difference
            .rows
            .into_iter()
            .map(|(commodity, cells)| TableRow {
                label: "Debits less credits".to_owned(),
                account: None,
                commodity,
                kind: RowKind::Check,
                cells: cells.into_iter().flat_map(|d| [Some(d), None]).collect(),
            }),
    );
    sections.push(section("Totals", totals));
    Ok(PeriodTable {
        kind: ReportKind::TrialBalance,
        columns: columns(periods, step),
        sub_columns: &["Debit", "Credit"],
        sections,
    })
}

/// A debit-positive account row as debit and credit cells (empty on the other side; both
/// empty for a zero balance).
fn split_debit_credit(row: TableRow) -> Result<TableRow, ReportError> {
    let mut cells = Vec::with_capacity(row.cells.len() * 2);
    for balance in row.cells.iter().flatten() {
        let pair = match balance.0.signum() {
            1 => [Some(*balance), None],
            -1 => [
                None,
                Some(balance.checked_neg().map_err(|_| ReportError::Overflow)?),
            ],
            _ => [None, None],
        };
        cells.extend(pair);
    }
    Ok(TableRow { cells, ..row })
}

fn type_title(kind: AccountType) -> &'static str {
    match kind {
        AccountType::Asset => "Assets",
        AccountType::Liability => "Liabilities",
        AccountType::Equity => "Equity",
        AccountType::Income => "Income",
        AccountType::Expense => "Expenses",
    }
}

/// The balance sheet at the end of each period (`report::balance_sheet` per column): assets,
/// liabilities and equity by account with their totals, retained earnings, and the check
/// row Assets less (Liabilities + Equity), zero per commodity.
pub fn balance_sheet(
    periods: &[(Date, Date)],
    step: Step,
    balances: &Balances<'_>,
) -> Result<PeriodTable, ReportError> {
    let width = periods.len();
    let mut assets = Grid::new(width);
    let mut liabilities = Grid::new(width);
    let mut equity = Grid::new(width);
    let mut total_assets = Grid::new(width);
    let mut total_liabilities = Grid::new(width);
    let mut retained = Grid::new(width);
    let mut total_equity = Grid::new(width);
    let mut total_both = Grid::new(width);
    for (column, (&(_, to), closing)) in periods.iter().zip(balances.closings).enumerate() {
        let sheet = report::balance_sheet(to, balances.accounts, closing)?;
        assets.put_lines(column, &sheet.assets.lines)?;
        liabilities.put_lines(column, &sheet.liabilities.lines)?;
        equity.put_lines(column, &sheet.equity.lines)?;
        total_assets.put_totals(column, &sheet.assets.totals)?;
        total_liabilities.put_totals(column, &sheet.liabilities.totals)?;
        retained.put_totals(column, &sheet.retained_earnings)?;
        total_equity.put_totals(column, &sheet.total_equity)?;
        total_both.put_totals(column, &sheet.total_liabilities_and_equity)?;
    }
    let difference = total_assets.minus(&total_both)?;
    let mut asset_rows = assets.account_rows();
    asset_rows.extend(total_assets.rows("Total assets", RowKind::Total));
    let mut liability_rows = liabilities.account_rows();
    liability_rows.extend(total_liabilities.rows("Total liabilities", RowKind::Total));
    let mut equity_rows = equity.account_rows();
    equity_rows.extend(retained.rows("Retained earnings", RowKind::Line));
    equity_rows.extend(total_equity.rows("Total equity", RowKind::Total));
    let mut check_rows = total_both.rows("Total liabilities and equity", RowKind::Total);
    check_rows.extend(difference.rows(
        "Assets less liabilities and equity (zero when balanced)",
        RowKind::Check,
    ));
    Ok(PeriodTable {
        kind: ReportKind::BalanceSheet,
        columns: columns(periods, step),
        sub_columns: &[""],
        sections: vec![
            section("Assets", asset_rows),
            section("Liabilities", liability_rows),
            section("Equity", equity_rows),
            section("Liabilities and equity", check_rows),
        ],
    })
}

/// Each period's income and expenses (`report::income_statement` per column) and a total
/// column for the whole range, with totals and the net income per commodity.
pub fn income_statement(
    periods: &[(Date, Date)],
    step: Step,
    balances: &Balances<'_>,
) -> Result<PeriodTable, ReportError> {
    let width = periods.len() + 1;
    let mut income = Grid::new(width);
    let mut expenses = Grid::new(width);
    let mut total_income = Grid::new(width);
    let mut total_expenses = Grid::new(width);
    let mut net = Grid::new(width);
    let mut opening = balances.opening;
    let mut statements = Vec::with_capacity(width);
    for (&(from, to), closing) in periods.iter().zip(balances.closings) {
        statements.push(report::income_statement(
            from,
            to,
            balances.accounts,
            opening,
            closing,
        )?);
        opening = closing;
    }
    let mut columns = columns(periods, step);
    if let (Some(total), Some(last)) = (total_column(periods), balances.closings.last()) {
        statements.push(report::income_statement(
            total.from,
            total.to,
            balances.accounts,
            balances.opening,
            last,
        )?);
        columns.push(total);
    }
    for (column, statement) in statements.iter().enumerate() {
        income.put_lines(column, &statement.income.lines)?;
        expenses.put_lines(column, &statement.expenses.lines)?;
        total_income.put_totals(column, &statement.income.totals)?;
        total_expenses.put_totals(column, &statement.expenses.totals)?;
        net.put_totals(column, &statement.net_income)?;
    }
    let mut income_rows = income.account_rows();
    income_rows.extend(total_income.rows("Total income", RowKind::Total));
    let mut expense_rows = expenses.account_rows();
    expense_rows.extend(total_expenses.rows("Total expenses", RowKind::Total));
    Ok(PeriodTable {
        kind: ReportKind::IncomeStatement,
        columns,
        sub_columns: &[""],
        sections: vec![
            section("Income", income_rows),
            section("Expenses", expense_rows),
            section("Net income", net.rows("Net income", RowKind::Total)),
        ],
    })
}

/// What the other side of a movement of cash is, by account type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Counterpart {
    Income,
    Liabilities,
    Equity,
    OtherAssets,
    Expenses,
}

impl Counterpart {
    fn of(kind: AccountType) -> Counterpart {
        match kind {
            AccountType::Asset => Counterpart::OtherAssets,
            AccountType::Liability => Counterpart::Liabilities,
            AccountType::Equity => Counterpart::Equity,
            AccountType::Income => Counterpart::Income,
            AccountType::Expense => Counterpart::Expenses,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Counterpart::Income => "income",
            Counterpart::Liabilities => "liabilities",
            Counterpart::Equity => "equity",
            Counterpart::OtherAssets => "other assets",
            Counterpart::Expenses => "expenses",
        }
    }
}

/// A tenant's chart as the cash flow reads it: each account's type and which are cash.
#[derive(Clone, Debug)]
pub struct CashChart<'a> {
    types: BTreeMap<&'a AccountName, AccountType>,
    cash: BTreeSet<&'a AccountName>,
}

impl<'a> CashChart<'a> {
    pub fn new(accounts: &'a [Account]) -> CashChart<'a> {
        CashChart {
            types: account_types(accounts),
            cash: accounts
                .iter()
                .filter(|account| is_cash_account(account))
                .map(|account| &account.name)
                .collect(),
        }
    }

    /// The cash accounts, by name.
    pub fn cash_accounts(&self) -> impl Iterator<Item = &'a AccountName> + '_ {
        self.cash.iter().copied()
    }

    pub fn is_cash(&self, name: &AccountName) -> bool {
        self.cash.contains(name)
    }
}

/// Cash moved in each period, by counterpart and commodity: inflows positive, outflows
/// negative. Fed entry by entry (`add`), so a caller can walk the book page by page.
#[derive(Debug)]
pub struct CashFlows {
    periods: Vec<(Date, Date)>,
    inflows: Grid<(Counterpart, CommodityCode)>,
    outflows: Grid<(Counterpart, CommodityCode)>,
}

impl CashFlows {
    /// No flows yet in `periods` (in order, without gaps, as `domain::periods` makes them).
    pub fn new(periods: &[(Date, Date)]) -> CashFlows {
        // One more column for the total, filled by `cash_flow`.
        let width = periods.len() + 1;
        CashFlows {
            periods: periods.to_vec(),
            inflows: Grid::new(width),
            outflows: Grid::new(width),
        }
    }

    fn column_of(&self, date: Date) -> Option<usize> {
        let after = self.periods.partition_point(|(from, _)| *from <= date);
        let column = after.checked_sub(1)?;
        let (_, to) = self.periods.get(column)?;
        (date <= *to).then_some(column)
    }

    /// Adds the cash `entry` moves (nothing for a pending entry, one outside the periods or
    /// one without a cash posting). An account missing from the chart is an error.
    pub fn add(&mut self, chart: &CashChart<'_>, entry: &Entry) -> Result<(), ReportError> {
        if entry.pending.is_some() {
            return Ok(());
        }
        let Some(column) = self.column_of(entry.date) else {
            return Ok(());
        };
        let moved: BTreeSet<&CommodityCode> = entry
            .postings
            .iter()
            .filter(|posting| chart.is_cash(&posting.account))
            .map(|posting| &posting.commodity)
            .collect();
        let mut net: BTreeMap<(Counterpart, &CommodityCode), Amount> = BTreeMap::new();
        for posting in &entry.postings {
            if chart.is_cash(&posting.account) || !moved.contains(&posting.commodity) {
                continue;
            }
            let Some(&kind) = chart.types.get(&posting.account) else {
                return Err(ReportError::UnknownAccount(posting.account.clone()));
            };
            let cash = net
                .entry((Counterpart::of(kind), &posting.commodity))
                .or_default();
            *cash = cash
                .checked_sub(posting.amount)
                .map_err(|_| ReportError::Overflow)?;
        }
        for ((counterpart, commodity), amount) in net {
            let key = (counterpart, commodity.clone());
            match amount.0.signum() {
                1 => self.inflows.add(key, column, amount)?,
                -1 => self.outflows.add(key, column, amount)?,
                _ => {}
            }
        }
        Ok(())
    }
}

/// The cash lines of a trial balance, per account and commodity, and their sums per
/// commodity.
type CashLines = BTreeMap<(AccountName, CommodityCode), Amount>;

fn cash_lines(chart: &CashChart<'_>, lines: &[TrialLine]) -> CashLines {
    lines
        .iter()
        .filter(|line| chart.is_cash(&line.account))
        .map(|line| ((line.account.clone(), line.commodity.clone()), line.balance))
        .collect()
}

/// The cash flow of each period and of the whole range (the last column): cash at start,
/// inflows and outflows by counterpart, each cash account's change, cash at the end, and the
/// check row inflows + outflows - change in cash (zero per commodity).
pub fn cash_flow(
    periods: &[(Date, Date)],
    step: Step,
    balances: &Balances<'_>,
    chart: &CashChart<'_>,
    mut flows: CashFlows,
) -> Result<PeriodTable, ReportError> {
    let width = periods.len() + 1;
    let mut start = Grid::new(width);
    let mut end = Grid::new(width);
    let mut changes = Grid::new(width);
    let mut boundaries: Vec<(&[TrialLine], &[TrialLine])> = Vec::with_capacity(width);
    let mut opening = balances.opening;
    for closing in balances.closings.iter().take(periods.len()) {
        boundaries.push((opening, closing));
        opening = closing;
    }
    if let Some(last) = balances.closings.last() {
        boundaries.push((balances.opening, last));
    }
    for (column, (opening, closing)) in boundaries.into_iter().enumerate() {
        let (opening, closing) = (cash_lines(chart, opening), cash_lines(chart, closing));
        for ((account, commodity), balance) in &opening {
            start.add(commodity.clone(), column, *balance)?;
            let negative = balance.checked_neg().map_err(|_| ReportError::Overflow)?;
            changes.add((account.clone(), commodity.clone()), column, negative)?;
        }
        for ((account, commodity), balance) in &closing {
            end.add(commodity.clone(), column, *balance)?;
            changes.add((account.clone(), commodity.clone()), column, *balance)?;
        }
    }
    // A cash account that changed in no column adds nothing to the report.
    changes
        .rows
        .retain(|_, cells| cells.iter().any(|c| *c != Amount::ZERO));
    flows.inflows.sum_into(periods.len())?;
    flows.outflows.sum_into(periods.len())?;
    let (total_in, total_out) = (
        by_commodity(&flows.inflows)?,
        by_commodity(&flows.outflows)?,
    );
    // Cash at start and at end have a row for every commodity the report mentions.
    let commodities: BTreeSet<CommodityCode> = [&start, &end, &total_in, &total_out]
        .iter()
        .flat_map(|grid| grid.rows.keys().cloned())
        .collect();
    for commodity in commodities {
        start.row(commodity.clone());
        end.row(commodity);
    }
    let change = end.minus(&start)?;
    let check = sum_grids(&total_in, &total_out)?.minus(&change)?;
    let mut columns = columns(periods, step);
    columns.extend(total_column(periods));
    let mut inflow_rows = flow_rows(flows.inflows, "From");
    inflow_rows.extend(total_in.rows("Total inflows", RowKind::Total));
    let mut outflow_rows = flow_rows(flows.outflows, "To");
    outflow_rows.extend(total_out.rows("Total outflows", RowKind::Total));
    let mut account_rows = changes.account_rows();
    account_rows.extend(change.rows("Net change in cash", RowKind::Total));
    account_rows.extend(end.rows("Cash at end", RowKind::Line));
    Ok(PeriodTable {
        kind: ReportKind::CashFlow,
        columns,
        sub_columns: &[""],
        sections: vec![
            section("Cash at start", start.rows("Cash at start", RowKind::Line)),
            section("Inflows", inflow_rows),
            section("Outflows", outflow_rows),
            section("Change by cash account", account_rows),
            section(
                "Check",
                check.rows(
                    "Inflows and outflows less net change (zero when complete)",
                    RowKind::Check,
                ),
            ),
        ],
    })
}

fn flow_rows(grid: Grid<(Counterpart, CommodityCode)>, preposition: &str) -> Vec<TableRow> {
    grid.rows
        .into_iter()
        .map(|((counterpart, commodity), cells)| TableRow {
            label: format!("{preposition} {}", counterpart.as_str()),
            account: None,
            commodity,
            kind: RowKind::Line,
            cells: cells.into_iter().map(Some).collect(),
        })
        .collect()
}

fn by_commodity(
    grid: &Grid<(Counterpart, CommodityCode)>,
) -> Result<Grid<CommodityCode>, ReportError> {
    let mut out = Grid::new(grid.width);
    for ((_, commodity), cells) in &grid.rows {
        for (column, cell) in cells.iter().enumerate() {
            out.add(commodity.clone(), column, *cell)?;
        }
    }
    Ok(out)
}

fn sum_grids(
    left: &Grid<CommodityCode>,
    right: &Grid<CommodityCode>,
) -> Result<Grid<CommodityCode>, ReportError> {
    let mut out = Grid::new(left.width);
    for grid in [left, right] {
        for (commodity, cells) in &grid.rows {
            for (column, cell) in cells.iter().enumerate() {
                out.add(commodity.clone(), column, *cell)?;
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
#[path = "period_report_tests.rs"]
mod tests;
