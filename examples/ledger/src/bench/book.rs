//! The bench's books, generated: a chart of 40 accounts of all five types, USD and EUR, and
//! any number of two-posting entries spread evenly, in date order, over `BOOK_DAYS` days
//! ending on `LAST_DAY`. `BenchBook` hands them out chunk by chunk (at most
//! `BENCH_BOOK_CHUNK_ENTRIES` at a time, so memory stays bounded); `journal_text` writes the
//! same kind of entries as journal text for the import comparison.
//!
//! Pure and deterministic (a SplitMix64 with a fixed seed): no I/O, no clock. Flows are random
//! between accounts, not a business: balances may go negative, which no read cares about. Not
//! here: pending entries and reversals (the reads measured do not see them). Tests:
//! `bench/mod.rs`.

use super::BenchError;
use crate::domain::{
    Account, AccountName, AccountType, Amount, Commodity, CommodityCode, Date, Decimal, NewEntry,
    NewPosting,
};
use crate::limits::BENCH_BOOK_CHUNK_ENTRIES;
use crate::seed::SplitMix64;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

/// The generator's seed: every bench builds the same books.
const SEED: u64 = 0xBE4C_0000_5EED_0042;

/// Days the entries are spread over.
pub const BOOK_DAYS: i32 = 3 * 365;

/// The last day of the books (`YYYY, MM, DD`); the reads are taken at its end.
const LAST_DAY: (i32, u32, u32) = (2026, 11, 30);

/// Accounts per type: `(top level, children)`; the chart is every `top:child`.
const CHART: [(&str, AccountType, &[&str]); 5] = [
    (
        "Assets",
        AccountType::Asset,
        &[
            "Bank:Checking",
            "Bank:Savings",
            "Bank:Euro",
            "Cash",
            "Receivable:Customers",
            "Receivable:Partners",
            "Inventory",
            "Prepaid",
        ],
    ),
    (
        "Liabilities",
        AccountType::Liability,
        &["Credit Card", "Payable", "Payroll Taxes", "Loan"],
    ),
    (
        "Equity",
        AccountType::Equity,
        &["Opening Balances", "Conversion"],
    ),
    (
        "Income",
        AccountType::Income,
        &[
            "Sales",
            "Consulting",
            "Support",
            "Training",
            "Interest",
            "Other",
        ],
    ),
    (
        "Expenses",
        AccountType::Expense,
        &[
            "Rent",
            "Payroll",
            "Software",
            "Hosting",
            "Travel",
            "Meals",
            "Office",
            "Postage",
            "Legal",
            "Accounting",
            "Insurance",
            "Utilities",
            "Marketing",
            "Advertising",
            "Training",
            "Bank Fees",
            "Taxes",
            "Interest",
            "Repairs",
            "Depreciation",
        ],
    ),
];

const PAYEES: [&str; 8] = [
    "Northwind Traders",
    "Globex",
    "Initech",
    "Delta Air Lines",
    "Staples",
    "Amazon Web Services",
    "Harbor Point Properties",
    "First Harbor Bank",
];

/// The commodities: USD and EUR, two decimals each.
pub fn commodities() -> Result<Vec<Commodity>, BenchError> {
    ["EUR", "USD"]
        .into_iter()
        .map(|code| Commodity::new(code, 2).map_err(|e| BenchError::generator(code, e)))
        .collect()
}

/// The 40 accounts, opened on the first day of the books.
pub fn accounts() -> Result<Vec<Account>, BenchError> {
    let opened = first_day()?;
    let mut accounts = Vec::new();
    for (name, kind) in account_names()? {
        accounts.push(Account::new(name, kind, opened));
    }
    Ok(accounts)
}

/// The day the reads are taken at: the last day of the books.
pub fn last_day() -> Result<Date, BenchError> {
    let (year, month, day) = LAST_DAY;
    Date::from_ymd(year, month, day).ok_or_else(|| BenchError::generator("last day", "no such day"))
}

/// The first day of the books (`BOOK_DAYS` before the last, counting both).
pub fn first_day() -> Result<Date, BenchError> {
    let last = last_day()?.days_since_epoch();
    Date::from_days_since_epoch(last - (BOOK_DAYS - 1))
        .ok_or_else(|| BenchError::generator("first day", "out of range"))
}

fn account_names() -> Result<Vec<(AccountName, AccountType)>, BenchError> {
    let mut names = Vec::new();
    for (top, kind, children) in CHART {
        for child in children {
            let text = format!("{top}:{child}");
            let name = AccountName::new(&text).map_err(|e| BenchError::generator(&text, e))?;
            names.push((name, kind));
        }
    }
    Ok(names)
}

/// One generated entry before it becomes a `NewEntry` or journal text.
struct Draft {
    date: Date,
    payee: &'static str,
    description: String,
    reference: Option<String>,
    debit: usize,
    credit: usize,
    commodity: usize,
    cents: i64,
}

/// Hands out `total` entries in order, a chunk at a time.
#[derive(Debug)]
pub struct BenchBook {
    rng: SplitMix64,
    names: Vec<AccountName>,
    codes: [CommodityCode; 2],
    first_day: i32,
    next: usize,
    total: usize,
}

impl BenchBook {
    /// A generator of `total` entries.
    pub fn new(total: usize) -> Result<BenchBook, BenchError> {
        let code =
            |text: &str| CommodityCode::new(text).map_err(|e| BenchError::generator(text, e));
        Ok(BenchBook {
            rng: SplitMix64::new(SEED),
            names: account_names()?.into_iter().map(|(name, _)| name).collect(),
            codes: [code("USD")?, code("EUR")?],
            first_day: first_day()?.days_since_epoch(),
            next: 0,
            total,
        })
    }

    /// The next at most `BENCH_BOOK_CHUNK_ENTRIES` entries; empty once all are out.
    pub fn next_chunk(&mut self) -> Result<Vec<NewEntry>, BenchError> {
        let count = (self.total - self.next).min(BENCH_BOOK_CHUNK_ENTRIES);
        let mut chunk = Vec::with_capacity(count);
        for _ in 0..count {
            let draft = self.draft()?;
            chunk.push(self.new_entry(draft)?);
        }
        Ok(chunk)
    }

    /// Entry `self.next`, on its evenly spread day.
    fn draft(&mut self) -> Result<Draft, BenchError> {
        let index = self.next;
        self.next += 1;
        // The first entry on the first day, the last on the last, the rest evenly between.
        let last_offset = (BOOK_DAYS - 1) as u128;
        let spread = match self.total {
            0 | 1 => last_offset,
            total => index as u128 * last_offset / (total - 1) as u128,
        };
        let offset = i32::try_from(spread).unwrap_or(BOOK_DAYS - 1);
        let date = Date::from_days_since_epoch(self.first_day + offset)
            .ok_or_else(|| BenchError::generator("date", "out of range"))?;
        let accounts = self.names.len() as u64;
        let debit = usize::try_from(self.rng.below(accounts)).unwrap_or(0);
        let step = 1 + self.rng.below(accounts - 1);
        let credit = usize::try_from((debit as u64 + step) % accounts).unwrap_or(0);
        let commodity = usize::from(self.rng.one_in(10));
        let cents = self.rng.between(100, 200_000);
        let payee = self.rng.pick(&PAYEES).copied().unwrap_or("");
        let reference = self.rng.one_in(10).then(|| format!("REF-{index}"));
        Ok(Draft {
            date,
            payee,
            description: format!("Entry {index}"),
            reference,
            debit,
            credit,
            commodity,
            cents,
        })
    }

    fn new_entry(&self, draft: Draft) -> Result<NewEntry, BenchError> {
        let amount = |cents: i64| {
            let text = Amount(cents).format(2);
            Decimal::parse(&text).map_err(|e| BenchError::generator(&text, e))
        };
        let posting = |account: usize, cents: i64| -> Result<NewPosting, BenchError> {
            Ok(NewPosting {
                account: self.names[account].clone(),
                commodity: self.codes[draft.commodity].clone(),
                amount: amount(cents)?,
            })
        };
        let mut metadata = BTreeMap::new();
        if let Some(reference) = &draft.reference {
            metadata.insert("ref".to_owned(), reference.clone());
        }
        Ok(NewEntry {
            date: draft.date,
            description: draft.description.clone(),
            payee: Some(draft.payee.to_owned()),
            tags: BTreeSet::new(),
            metadata,
            postings: vec![
                posting(draft.debit, draft.cents)?,
                posting(draft.credit, -draft.cents)?,
            ],
            pending: None,
        })
    }

    /// Appends the remaining entries as journal transactions (as `ledger export` writes them,
    /// without the entry ids and closing assertions) to `out`.
    pub fn write_journal(&mut self, out: &mut String) -> Result<(), BenchError> {
        while self.next < self.total {
            let draft = self.draft()?;
            let code = self.codes[draft.commodity].as_str();
            let amount = Amount(draft.cents).format(2);
            let _ = writeln!(
                out,
                "{} {} | {}",
                draft.date, draft.payee, draft.description
            );
            if let Some(reference) = &draft.reference {
                let _ = writeln!(out, "    ; ref: {reference}");
            }
            let (debit, credit) = (&self.names[draft.debit], &self.names[draft.credit]);
            let _ = writeln!(out, "    {debit}  {amount} {code}");
            let _ = writeln!(out, "    {credit}  -{amount} {code}\n");
        }
        Ok(())
    }
}

/// A whole journal of `transactions` generated transactions: `commodity` and `account`
/// directives as `ledger export` writes them, then the transactions in date order.
pub fn journal_text(transactions: usize) -> Result<String, BenchError> {
    let mut out = String::with_capacity(transactions.saturating_mul(160));
    out.push_str("; Generated by `ledger bench` for the import comparison.\n\n");
    for commodity in commodities()? {
        let _ = writeln!(out, "commodity {}", commodity.code);
    }
    out.push('\n');
    let opened = first_day()?;
    for (name, kind) in account_names()? {
        let letter = match kind {
            AccountType::Asset => 'A',
            AccountType::Liability => 'L',
            AccountType::Equity => 'E',
            AccountType::Income => 'R',
            AccountType::Expense => 'X',
        };
        let _ = writeln!(out, "account {name}  ; type: {letter}, opened: {opened}");
    }
    out.push('\n');
    BenchBook::new(transactions)?.write_journal(&mut out)?;
    Ok(out)
}
