//! `export_journal`: walks one tenant's books out of a `Store` page by page and writes them,
//! as `journal::JournalWriter` formats them, to any `io::Write` (a file, standard output):
//! the header, the tenant's prices (`P` lines, read in one go like the chart), the entries,
//! the closing assertions.
//!
//! Memory is bounded by one page of entries (`ENTRIES_PER_PAGE_MAX`) and its text, whatever
//! the size of the book. The closing balance assertions are the store's `balances` at the last
//! entry's date, so hledger and ledger check the store's balance tables against their own sums
//! of the exported postings. Not done: the pages are separate reads, so a write made to the
//! same tenant while an export runs can make the assertions fail (caught by the tools, never a
//! silent mismatch). Tests: `tests/cli.rs` (the command) and `tests/cli/cross_check.rs`.

use super::journal::{JournalError, JournalWriter};
use crate::domain::TenantId;
use crate::limits::ENTRIES_PER_PAGE_MAX;
use crate::store::{Store, StoreError};
use std::fmt;
use std::io;

/// What an export wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExportSummary {
    /// Entries written as transactions.
    pub transactions: u64,
    /// Pending (reserving) entries written as comments only.
    pub pending_comments: u64,
    /// Balance assertions in the closing transaction.
    pub assertions: u64,
}

/// Why an export stopped.
#[derive(Debug)]
pub enum ExportError {
    /// Reading the store failed.
    Store(StoreError),
    /// The store's data could not be written as a journal.
    Journal(JournalError),
    /// Writing the output failed (a full disk, a closed pipe).
    Write(io::Error),
}

impl fmt::Display for ExportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExportError::Store(_) => f.write_str("reading the books failed"),
            ExportError::Journal(error) => write!(f, "the books cannot be exported: {error}"),
            ExportError::Write(_) => f.write_str("writing the journal failed"),
        }
    }
}

impl std::error::Error for ExportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ExportError::Store(error) => Some(error),
            ExportError::Journal(error) => Some(error),
            ExportError::Write(error) => Some(error),
        }
    }
}

impl From<StoreError> for ExportError {
    fn from(error: StoreError) -> ExportError {
        ExportError::Store(error)
    }
}

impl From<JournalError> for ExportError {
    fn from(error: JournalError) -> ExportError {
        ExportError::Journal(error)
    }
}

impl From<io::Error> for ExportError {
    fn from(error: io::Error) -> ExportError {
        ExportError::Write(error)
    }
}

/// Writes tenant `tenant` (named `slug` in the header) as a journal to `out`, then flushes.
pub fn export_journal(
    store: &mut (impl Store + ?Sized),
    tenant: TenantId,
    slug: &str,
    out: &mut impl io::Write,
) -> Result<ExportSummary, ExportError> {
    let writer = JournalWriter::new(&store.commodities(tenant)?);
    let mut text = String::new();
    writer.header(&mut text, slug, &store.accounts(tenant)?);
    writer.prices(&mut text, &store.prices(tenant, None)?);
    out.write_all(text.as_bytes())?;
    let mut summary = ExportSummary::default();
    let mut cursor = None;
    loop {
        let page = store.entries(tenant, cursor, ENTRIES_PER_PAGE_MAX)?;
        let Some(last) = page.last() else { break };
        cursor = Some(last.cursor());
        text.clear();
        for stored in &page {
            writer.entry(&mut text, stored)?;
            match stored.status {
                Some(_) => summary.pending_comments += 1,
                None => summary.transactions += 1,
            }
        }
        out.write_all(text.as_bytes())?;
    }
    if let Some(last) = cursor {
        let balances = store.balances(tenant, last.date)?;
        text.clear();
        writer.assertions(&mut text, last.date, &balances)?;
        out.write_all(text.as_bytes())?;
        summary.assertions = u64::try_from(balances.len()).unwrap_or(u64::MAX);
    }
    out.flush()?;
    Ok(summary)
}
