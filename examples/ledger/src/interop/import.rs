//! Import, step two: a parsed `Journal` checked against one tenant's books and written in one
//! store transaction (`Store::import_book`), all or nothing.
//!
//! Accounts the tenant lacks are created: their type from the `account` directive's `type:`,
//! else inferred from the top-level name (`Assets`, `Liabilities`, `Equity`,
//! `Income`/`Revenue`, `Expenses`); opened on the directive's `opened:`, else on the day of
//! their first posting. Commodities the tenant lacks are created with the journal's
//! precision. Balance assertions are checked here, before anything is written, against the
//! running balance in date order (file order within a day, as hledger does), starting from
//! the tenant's balances the day before the file's first transaction. A transaction whose
//! postings are all zero (an export's closing assertions) is checked but writes no entry.
//! The transaction code (an export's entry id) is not kept: the store gives new ids. `P`
//! lines are written as prices in the same transaction (a tenant's price for the same
//! commodity, quote and date is replaced, as a later `P` line replaces an earlier one).
//!
//! Not done: entries already in the store dated inside the file's range are not interleaved
//! with the file's for the assertions; pending entries (an export's comment lines) and posting
//! comments are not imported. Tests: `store/import_tests.rs` and `tests/cli/import.rs`.

use super::parse::{Journal, Problems, parse_journal};
use crate::domain::{Account, AccountName, AccountType, Amount, Commodity, CommodityCode, Date};
use crate::domain::{NewEntry, TenantId};
use crate::store::{BookImport, Store, StoreError};
use std::collections::BTreeMap;
use std::fmt;

/// What an import wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ImportSummary {
    pub entries: usize,
    pub accounts: usize,
    pub commodities: usize,
    pub assertions: usize,
    /// `P` lines written (each sets or replaces one price).
    pub prices: usize,
}

/// Why nothing was imported.
#[derive(Debug)]
pub enum ImportError {
    /// The file has problems (each with its line).
    Problems(Problems),
    /// The store failed.
    Store(StoreError),
}

impl fmt::Display for ImportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImportError::Problems(problems) => {
                write!(f, "{} problems in the journal", problems.shown.len())
            }
            ImportError::Store(error) => write!(f, "the store failed: {error}"),
        }
    }
}

impl std::error::Error for ImportError {}

impl From<StoreError> for ImportError {
    fn from(error: StoreError) -> ImportError {
        ImportError::Store(error)
    }
}

/// Parses `text` and imports it into `tenant`: everything, or nothing and every problem.
pub fn import_journal(
    store: &mut impl Store,
    tenant: TenantId,
    text: &str,
) -> Result<ImportSummary, ImportError> {
    let journal = parse_journal(text).map_err(ImportError::Problems)?;
    import_parsed(store, tenant, &journal)
}

/// Imports a parsed journal into `tenant`.
pub fn import_parsed(
    store: &mut impl Store,
    tenant: TenantId,
    journal: &Journal,
) -> Result<ImportSummary, ImportError> {
    let plan = plan_journal(store, tenant, journal)?;
    match store.import_book(tenant, &plan.book)? {
        Ok(_) => Ok(plan.summary),
        Err((index, error)) => Err(ImportError::Problems(plan.refusal(index, &error))),
    }
}

/// What an import would write, checked against the tenant's books without writing: the
/// preview of the web import page, and step one of `import_parsed`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportPlan {
    pub book: BookImport,
    /// The file line of each of `book.entries`, in order.
    pub lines: Vec<usize>,
    /// What writing `book` will have done.
    pub summary: ImportSummary,
}

impl ImportPlan {
    /// The problem to show when the store refuses `book.entries[index]` (a rule only the
    /// write checks, such as a closed account), at that entry's line.
    pub fn refusal(&self, index: usize, error: &impl fmt::Display) -> Problems {
        let mut problems = Problems::default();
        let line = self.lines.get(index).copied().unwrap_or(0);
        problems.push(line, error.to_string());
        problems
    }
}

/// Checks a parsed journal against `tenant`'s books (accounts to create, balance assertions,
/// precisions) and returns what to write, or every problem. Reads only.
pub fn plan_journal(
    store: &mut (impl Store + ?Sized),
    tenant: TenantId,
    journal: &Journal,
) -> Result<ImportPlan, ImportError> {
    let mut problems = Problems::default();
    let precisions = precisions(store, tenant, journal)?;
    let existing: BTreeMap<AccountName, Account> = store
        .accounts(tenant)?
        .into_iter()
        .map(|account| (account.name.clone(), account))
        .collect();
    let accounts = new_accounts(journal, &existing, &mut problems);
    let assertions = check_assertions(store, tenant, journal, &precisions, &mut problems)?;
    if !problems.is_empty() {
        return Err(ImportError::Problems(problems));
    }
    let known = store.commodities(tenant)?;
    let commodities: Vec<Commodity> = journal
        .commodities
        .iter()
        .filter(|(code, _)| !known.iter().any(|c| &c.code == *code))
        .map(|(code, precision)| Commodity {
            code: code.clone(),
            precision: *precision,
        })
        .collect();
    let written: Vec<(usize, NewEntry)> = journal
        .transactions
        .iter()
        .filter(|transaction| !transaction.asserts_only())
        .map(|transaction| (transaction.line, transaction.entry.clone()))
        .collect();
    let (lines, entries): (Vec<usize>, Vec<NewEntry>) = written.into_iter().unzip();
    let book = BookImport {
        commodities,
        accounts,
        prices: journal.prices.iter().map(|p| p.price.clone()).collect(),
        entries,
    };
    let summary = ImportSummary {
        entries: book.entries.len(),
        accounts: book.accounts.len(),
        commodities: book.commodities.len(),
        assertions,
        prices: book.prices.len(),
    };
    Ok(ImportPlan {
        book,
        lines,
        summary,
    })
}

/// Each commodity's precision: the tenant's if it has the commodity, else the journal's.
fn precisions(
    store: &mut (impl Store + ?Sized),
    tenant: TenantId,
    journal: &Journal,
) -> Result<BTreeMap<CommodityCode, u8>, StoreError> {
    let mut precisions = journal.commodities.clone();
    for commodity in store.commodities(tenant)? {
        precisions.insert(commodity.code, commodity.precision);
    }
    Ok(precisions)
}

/// The accounts to create: every account named in the journal that the tenant lacks.
fn new_accounts(
    journal: &Journal,
    existing: &BTreeMap<AccountName, Account>,
    problems: &mut Problems,
) -> Vec<Account> {
    // First use: (line, date) of the first posting, in file order.
    let mut first_use: BTreeMap<&AccountName, (usize, Date)> = BTreeMap::new();
    for transaction in &journal.transactions {
        for posting in &transaction.entry.postings {
            let date = transaction.entry.date;
            let first = first_use
                .entry(&posting.account)
                .or_insert((transaction.line, date));
            first.1 = first.1.min(date);
        }
    }
    let fallback = Date::from_ymd(1970, 1, 1);
    let mut names: Vec<&AccountName> = first_use.keys().copied().collect();
    names.extend(journal.accounts.keys());
    names.sort();
    names.dedup();
    let mut accounts = Vec::new();
    for name in names
        .into_iter()
        .filter(|name| !existing.contains_key(*name))
    {
        let directive = journal.accounts.get(name);
        let used = first_use.get(name);
        let line = directive.map(|d| d.line).or(used.map(|u| u.0)).unwrap_or(0);
        let kind = directive
            .and_then(|d| d.account_type)
            .or_else(|| AccountType::infer(name));
        let Some(kind) = kind else {
            problems.push(
                line,
                format!(
                    "the type of account {name} is unknown: put it under Assets, Liabilities, \
                     Equity, Income or Expenses, or declare `account {name}  ; type: A`"
                ),
            );
            continue;
        };
        let opened = directive
            .and_then(|d| d.opened)
            .or(used.map(|u| u.1))
            .or(fallback);
        let Some(opened) = opened else { continue };
        let mut account = Account::new(name.clone(), kind, opened);
        account.closed = directive.and_then(|d| d.closed);
        accounts.push(account);
    }
    accounts
}

/// Checks every balance assertion against the running balance; returns how many held.
fn check_assertions(
    store: &mut (impl Store + ?Sized),
    tenant: TenantId,
    journal: &Journal,
    precisions: &BTreeMap<CommodityCode, u8>,
    problems: &mut Problems,
) -> Result<usize, StoreError> {
    let mut order: Vec<usize> = (0..journal.transactions.len()).collect();
    order.sort_by_key(|&index| journal.transactions[index].entry.date);
    let mut running: BTreeMap<(AccountName, CommodityCode), Amount> = BTreeMap::new();
    let first_day = order
        .first()
        .and_then(|&index| journal.transactions.get(index))
        .and_then(|t| Date::from_days_since_epoch(t.entry.date.days_since_epoch() - 1));
    if let Some(day_before) = first_day {
        for line in store.balances(tenant, day_before)? {
            running.insert((line.account, line.commodity), line.balance);
        }
    }
    let mut held = 0;
    for index in order {
        let transaction = &journal.transactions[index];
        for posting in &transaction.entry.postings {
            let Some(precision) = precisions.get(&posting.commodity) else {
                continue;
            };
            let Ok(amount) = posting.amount.to_minor_units(*precision) else {
                continue; // over the tenant's precision: the store names it
            };
            let key = (posting.account.clone(), posting.commodity.clone());
            let balance = running.entry(key).or_insert(Amount::ZERO);
            *balance = balance.checked_add(amount).unwrap_or(*balance);
        }
        for assertion in &transaction.assertions {
            let precision = precisions.get(&assertion.commodity).copied().unwrap_or(0);
            let key = (assertion.account.clone(), assertion.commodity.clone());
            let actual = running.get(&key).copied().unwrap_or(Amount::ZERO);
            match assertion.balance.to_minor_units(precision) {
                Ok(expected) if expected == actual => held += 1,
                _ => problems.push(
                    assertion.line,
                    format!(
                        "balance assertion failed: {} is {} {} here, the file asserts {} {}",
                        assertion.account,
                        actual.format(precision),
                        assertion.commodity,
                        assertion.balance,
                        assertion.commodity
                    ),
                ),
            }
        }
    }
    Ok(held)
}
