//! Financial statements read from a store: `balance_sheet` and `income_statement` fetch a
//! tenant's chart and trial balances (`Store::accounts`, `Store::balances`) and hand them to
//! the pure `domain::report`, which does all the arithmetic.
//!
//! Nothing is cached and nothing is written; each call is two or three reads. Tests: the
//! report's own in `domain/report.rs`; against a real store in `seed.rs` (the demo book) and
//! `bench/` (the timed path).

use crate::domain::report::{self, BalanceSheet, IncomeStatement, ReportError, TrialLine};
use crate::domain::{Date, TenantId};
use crate::store::{BalanceLine, Store, StoreError};
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
