//! Financial statements read from a store: `balance_sheet` and `income_statement` fetch a
//! tenant's chart and trial balances (`Store::accounts`, `Store::balances`) and hand them to
//! the pure `domain::report`, which does all the arithmetic.
//!
//! `period_table` does the same for the period-over-period reports (`domain::period_report`):
//! one trial balance per period end (and one for the day before the first period when the
//! report shows activity), and for the cash flow the entries posted to each cash account in
//! the range, walked in keyset pages of `ENTRIES_PER_PAGE_MAX` (memory is a page and the
//! table, whatever the size of the book; time grows with the entries that move cash).
//!
//! Nothing is cached and nothing is written; each statement is two or three reads. Tests: the
//! report's own in `domain/report.rs` and `domain/period_report.rs`; against a real store in
//! `seed.rs` (the demo book), `bench/` (the timed path) and `tests/cli/web_reports.rs`.

use crate::domain::period_report::{self, Balances, CashChart, CashFlows, PeriodTable, ReportKind};
use crate::domain::periods::Step;
use crate::domain::report::{self, BalanceSheet, IncomeStatement, ReportError, TrialLine};
use crate::domain::{AccountName, Date, TenantId};
use crate::limits::ENTRIES_PER_PAGE_MAX;
use crate::store::{BalanceLine, EntryFilter, Store, StoreError};
use std::fmt;

/// Why a statement could not be produced.
#[derive(Debug)]
pub enum StatementError {
    /// Reading the store failed.
    Store(StoreError),
    /// The store's balances do not make a statement (an unbalanced trial balance, an overflow).
    Report(ReportError),
}

impl fmt::Display for StatementError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StatementError::Store(error) => write!(f, "reading the books failed: {error}"),
            StatementError::Report(error) => write!(f, "no statement: {error}"),
        }
    }
}

impl std::error::Error for StatementError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StatementError::Store(error) => Some(error),
            StatementError::Report(error) => Some(error),
        }
    }
}

impl From<StoreError> for StatementError {
    fn from(error: StoreError) -> StatementError {
        StatementError::Store(error)
    }
}

impl From<ReportError> for StatementError {
    fn from(error: ReportError) -> StatementError {
        StatementError::Report(error)
    }
}

/// The store's trial balance lines as the report reads them.
pub fn trial_lines(lines: Vec<BalanceLine>) -> Vec<TrialLine> {
    lines
        .into_iter()
        .map(|line| TrialLine {
            account: line.account,
            commodity: line.commodity,
            balance: line.balance,
        })
        .collect()
}

/// A tenant's balance sheet at the end of `date`.
pub fn balance_sheet(
    store: &mut (impl Store + ?Sized),
    tenant: TenantId,
    date: Date,
) -> Result<BalanceSheet, StatementError> {
    let accounts = store.accounts(tenant)?;
    let lines = trial_lines(store.balances(tenant, date)?);
    Ok(report::balance_sheet(date, &accounts, &lines)?)
}

/// A tenant's income statement from the start of `from` to the end of `to`.
pub fn income_statement(
    store: &mut (impl Store + ?Sized),
    tenant: TenantId,
    from: Date,
    to: Date,
) -> Result<IncomeStatement, StatementError> {
    let accounts = store.accounts(tenant)?;
    let closing = trial_lines(store.balances(tenant, to)?);
    let opening = match Date::from_days_since_epoch(from.days_since_epoch() - 1) {
        Some(day_before) => trial_lines(store.balances(tenant, day_before)?),
        None => Vec::new(), // `from` is the first representable day: nothing is earlier
    };
    Ok(report::income_statement(
        from, to, &accounts, &opening, &closing,
    )?)
}

/// The `kind` report over `periods` (consecutive, in order: `domain::periods::periods`), one
/// column per period, labelled by `step`.
pub fn period_table(
    store: &mut (impl Store + ?Sized),
    tenant: TenantId,
    kind: ReportKind,
    periods: &[(Date, Date)],
    step: Step,
) -> Result<PeriodTable, StatementError> {
    let accounts = store.accounts(tenant)?;
    let opening = match periods.first() {
        Some(&(from, _)) if kind.is_flow() => {
            match Date::from_days_since_epoch(from.days_since_epoch() - 1) {
                Some(day_before) => trial_lines(store.balances(tenant, day_before)?),
                None => Vec::new(), // nothing is earlier than the first representable day
            }
        }
        _ => Vec::new(),
    };
    let mut closings = Vec::with_capacity(periods.len());
    for &(_, to) in periods {
        closings.push(trial_lines(store.balances(tenant, to)?));
    }
    let balances = Balances {
        accounts: &accounts,
        opening: &opening,
        closings: &closings,
    };
    let table = match kind {
        ReportKind::TrialBalance => period_report::trial_balance(periods, step, &balances)?,
        ReportKind::BalanceSheet => period_report::balance_sheet(periods, step, &balances)?,
        ReportKind::IncomeStatement => period_report::income_statement(periods, step, &balances)?,
        ReportKind::CashFlow => {
            let chart = CashChart::new(&accounts);
            let flows = cash_flows(store, tenant, &chart, periods)?;
            period_report::cash_flow(periods, step, &balances, &chart, flows)?
        }
    };
    Ok(table)
}

/// The cash moved in `periods`: every entry with a posting to a cash account, each once (an
/// entry touching two cash accounts is counted with the first by name).
fn cash_flows(
    store: &mut (impl Store + ?Sized),
    tenant: TenantId,
    chart: &CashChart<'_>,
    periods: &[(Date, Date)],
) -> Result<CashFlows, StatementError> {
    let mut flows = CashFlows::new(periods);
    let (Some(&(from, _)), Some(&(_, to))) = (periods.first(), periods.last()) else {
        return Ok(flows);
    };
    let cash: Vec<&AccountName> = chart.cash_accounts().collect();
    for (index, account) in cash.iter().enumerate() {
        let earlier = &cash[..index];
        let filter = EntryFilter {
            from: Some(from),
            to: Some(to),
            account: Some((*account).clone()),
        };
        let mut after = None;
        loop {
            let page = store.entries_matching(tenant, &filter, after, ENTRIES_PER_PAGE_MAX)?;
            for stored in &page {
                let counted = stored
                    .entry
                    .postings
                    .iter()
                    .any(|p| earlier.binary_search(&&p.account).is_ok());
                if !counted {
                    flows.add(chart, &stored.entry)?;
                }
            }
            match page.last() {
                Some(last) if page.len() == ENTRIES_PER_PAGE_MAX => after = Some(last.cursor()),
                _ => break,
            }
        }
    }
    Ok(flows)
}
