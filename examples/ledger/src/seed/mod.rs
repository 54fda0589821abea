//! The demo book: a deterministic, plausible year of a small company's books (tenant `demo`),
//! for trying the ledger, screenshots and tests. `demo_book` builds it (pure: a date and a
//! seed in, a `BookImport` out); `seed_demo` creates the tenant and writes it with
//! `Store::import_book` in one transaction.
//!
//! The year is simulated day by day in `year.rs`, so entries come in date order: an opening balance, rent
//! on the 1st, payroll on the 15th and the last day of the month (withholding and payroll taxes
//! owed, remitted on the 10th), customer invoices on business days (receivable, paid 10 to 50
//! days later; the late ones are still open at the end), card spend with real-looking payees
//! and software subscriptions, the card statement closed at month end and paid on the 25th,
//! vendor bills (payable, net 30 or 21), quarterly estimated taxes, bank fees, savings interest,
//! and a euro side: EUR invoices paid into a euro account, EUR travel and fees, conversions to
//! USD through `Equity:Conversion` (each entry balances per commodity). Every payment from
//! checking first makes sure the money is there (a transfer from savings, else a draw on the
//! line of credit), so checking never goes below zero, not even within a day; the account
//! also carries a `min 0` constraint that the store enforces.
//!
//! This file holds the API, the chart and the generator; `year.rs` the events. Randomness is
//! a SplitMix64 seeded by the caller: the same `end` and seed give the same book.
//! Not done: pending entries, reversals, closing the year into equity. Tests at the bottom and
//! in `tests/cli/demo.rs` (hledger and ledger read the exported book).

use crate::domain::{
    Account, AccountName, AccountType, Amount, BalanceConstraint, Commodity, CommodityCode, Date,
    EntryError, TenantId, TenantSlug,
};
use crate::store::{BookImport, Store, StoreError};
use std::fmt;

mod year;

use year::Generator;

/// The slug of the demo tenant.
pub const DEMO_TENANT: &str = "demo";

/// The seed `seed_demo` uses.
pub const DEMO_SEED: u64 = 0x0DE4_0B00_C5EE_D001;

/// Days the demo book covers, `end` included (fewer if that would start before 0001-01-01).
const BOOK_DAYS: i32 = 365;

/// Days after the book starts that the euro account opens.
const EURO_ACCOUNT_OPENS_AFTER_DAYS: i32 = 45;

const CHECKING: &str = "Assets:Bank:Checking";
const SAVINGS: &str = "Assets:Bank:Savings";
const EURO_BANK: &str = "Assets:Bank:Euro Account";
const RECEIVABLE: &str = "Assets:Accounts Receivable";
const CARD: &str = "Liabilities:Credit Card";
const PAYABLE: &str = "Liabilities:Accounts Payable";
const PAYROLL_TAXES: &str = "Liabilities:Payroll Taxes";
const CREDIT_LINE: &str = "Liabilities:Line of Credit";
const OPENING: &str = "Equity:Opening Balances";
const CONVERSION: &str = "Equity:Conversion";
const SALES: &str = "Income:Sales";
const CONSULTING: &str = "Income:Consulting";
const INTEREST_INCOME: &str = "Income:Interest";
const RENT: &str = "Expenses:Rent";
const PAYROLL: &str = "Expenses:Payroll";
const SOFTWARE: &str = "Expenses:Software";
const TRAVEL: &str = "Expenses:Travel";
const MEALS: &str = "Expenses:Meals";
const OFFICE: &str = "Expenses:Office";
const PROFESSIONAL_FEES: &str = "Expenses:Professional Fees";
const UTILITIES: &str = "Expenses:Utilities";
const BANK_FEES: &str = "Expenses:Bank Fees";
const TAXES: &str = "Expenses:Taxes";
const INTEREST_EXPENSE: &str = "Expenses:Interest";

/// The chart: name, type, and whether it holds USD only (else any commodity).
const CHART: [(&str, AccountType, bool); 24] = [
    (CHECKING, AccountType::Asset, true),
    (SAVINGS, AccountType::Asset, true),
    (EURO_BANK, AccountType::Asset, false),
    (RECEIVABLE, AccountType::Asset, false),
    (CARD, AccountType::Liability, true),
    (PAYABLE, AccountType::Liability, true),
    (PAYROLL_TAXES, AccountType::Liability, true),
    (CREDIT_LINE, AccountType::Liability, true),
    (OPENING, AccountType::Equity, false),
    (CONVERSION, AccountType::Equity, false),
    (SALES, AccountType::Income, false),
    (CONSULTING, AccountType::Income, false),
    (INTEREST_INCOME, AccountType::Income, false),
    (RENT, AccountType::Expense, false),
    (PAYROLL, AccountType::Expense, false),
    (SOFTWARE, AccountType::Expense, false),
    (TRAVEL, AccountType::Expense, false),
    (MEALS, AccountType::Expense, false),
    (OFFICE, AccountType::Expense, false),
    (PROFESSIONAL_FEES, AccountType::Expense, false),
    (UTILITIES, AccountType::Expense, false),
    (BANK_FEES, AccountType::Expense, false),
    (TAXES, AccountType::Expense, false),
    (INTEREST_EXPENSE, AccountType::Expense, false),
];

/// Why the demo book could not be made or written.
#[derive(Debug)]
pub enum SeedError {
    /// The store failed, or refused the tenant (`already_exists`: a `demo` tenant exists).
    Store(StoreError),
    /// The store refused generated entry `index` (a bug here); nothing of the book was written.
    Refused { index: usize, error: EntryError },
    /// The generator made an invalid name, slug or amount (a bug here).
    Generator(String),
}

impl fmt::Display for SeedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SeedError::Store(error) => write!(f, "the store failed: {error}"),
            SeedError::Refused { index, error } => {
                write!(f, "the store refused demo entry {index}: {error}")
            }
            SeedError::Generator(detail) => write!(f, "the demo generator is wrong: {detail}"),
        }
    }
}

impl std::error::Error for SeedError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SeedError::Store(error) => Some(error),
            _ => None,
        }
    }
}

impl From<StoreError> for SeedError {
    fn from(error: StoreError) -> SeedError {
        SeedError::Store(error)
    }
}

fn generator_error(what: &str, detail: impl fmt::Display) -> SeedError {
    SeedError::Generator(format!("{what}: {detail}"))
}

/// SplitMix64: a tiny, fast, seedable generator (no dependency; not for secrets).
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// In `0..bound` (0 if `bound` is 0); the modulo bias is negligible for small bounds.
    pub fn below(&mut self, bound: u64) -> u64 {
        self.next_u64().checked_rem(bound).unwrap_or(0)
    }

    /// In `low..=high` (`low` if the range is empty).
    pub fn between(&mut self, low: i64, high: i64) -> i64 {
        let span = u64::try_from(high.saturating_sub(low)).unwrap_or(0);
        let offset = self.below(span.saturating_add(1));
        low.saturating_add(i64::try_from(offset).unwrap_or(0))
    }

    /// True one time in `n`.
    pub fn one_in(&mut self, n: u64) -> bool {
        self.below(n) == 0
    }

    /// An element of `items` (`None` only if it is empty).
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        let index = usize::try_from(self.below(items.len() as u64)).ok()?;
        items.get(index)
    }
}

/// The demo company's books for the `BOOK_DAYS` days ending on `end`, from `seed`.
pub fn demo_book(end: Date, seed: u64) -> Result<BookImport, SeedError> {
    let start = add_days(end, 1 - BOOK_DAYS)
        .or_else(|| Date::from_ymd(1, 1, 1))
        .ok_or_else(|| generator_error("start", "no first day"))?;
    let euro_opens = add_days(start, EURO_ACCOUNT_OPENS_AFTER_DAYS)
        .unwrap_or(end)
        .min(end);
    let mut generator = Generator::new(seed, euro_opens);
    generator.opening(start)?;
    let mut day = start;
    while day <= end {
        generator.day(day, end)?;
        match add_days(day, 1) {
            Some(next) => day = next,
            None => break,
        }
    }
    Ok(BookImport {
        commodities: vec![commodity("EUR")?, commodity("USD")?],
        accounts: chart(start, euro_opens)?,
        prices: generator.prices(),
        entries: generator.into_entries(),
    })
}

/// Creates tenant `demo` and writes the demo book ending on `end` into it, in one
/// transaction. The book is generated before the store is touched; if the store then refused
/// it, the tenant would stay, empty (as with `ledger import`).
pub fn seed_demo(store: &mut impl Store, end: Date) -> Result<TenantId, SeedError> {
    let book = demo_book(end, DEMO_SEED)?;
    let slug = TenantSlug::new(DEMO_TENANT).map_err(|e| generator_error("slug", e))?;
    let tenant = store.create_tenant(&slug)?;
    match store.import_book(tenant, &book)? {
        Ok(_) => Ok(tenant),
        Err((index, error)) => Err(SeedError::Refused { index, error }),
    }
}

fn add_days(date: Date, days: i32) -> Option<Date> {
    Date::from_days_since_epoch(date.days_since_epoch().checked_add(days)?)
}

fn commodity(code: &str) -> Result<Commodity, SeedError> {
    Commodity::new(code, 2).map_err(|e| generator_error(code, e))
}

fn code(code: &str) -> Result<CommodityCode, SeedError> {
    CommodityCode::new(code).map_err(|e| generator_error(code, e))
}

fn name(text: &str) -> Result<AccountName, SeedError> {
    AccountName::new(text).map_err(|e| generator_error(text, e))
}

/// The chart, opened on `start` (the euro account on `euro_opens`); checking may not go below
/// zero.
fn chart(start: Date, euro_opens: Date) -> Result<Vec<Account>, SeedError> {
    let usd = code("USD")?;
    let mut accounts = Vec::new();
    for (text, kind, usd_only) in CHART {
        let opened = if text == EURO_BANK { euro_opens } else { start };
        let mut account = Account::new(name(text)?, kind, opened);
        if usd_only {
            account.commodities = vec![usd.clone()];
        }
        if text == EURO_BANK {
            account.commodities = vec![code("EUR")?];
        }
        if text == CHECKING {
            account.constraints = vec![BalanceConstraint {
                commodity: usd.clone(),
                min: Some(Amount::ZERO),
                max: None,
            }];
        }
        accounts.push(account);
    }
    Ok(accounts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::ScratchDir;
    use crate::domain::MemoryChart;
    use crate::domain::entry::validate;
    use crate::statements;
    use crate::store::SqliteStore;

    fn day(text: &str) -> Date {
        Date::parse(text).expect(text)
    }

    fn memory_chart(book: &BookImport) -> MemoryChart {
        let mut chart = MemoryChart::default();
        for commodity in &book.commodities {
            chart.insert_commodity(commodity.clone());
        }
        for account in &book.accounts {
            chart.insert_account(account.clone());
        }
        chart
    }

    #[test]
    fn the_book_is_a_plausible_year_in_date_order() {
        let end = day("2026-11-30");
        let book = demo_book(end, DEMO_SEED).expect("book");
        let count = book.entries.len();
        assert!((300..=2_000).contains(&count), "{count} entries");
        let first = book.entries.first().map(|e| e.date);
        assert_eq!(first, Some(day("2025-12-01")));
        assert!(book.entries.windows(2).all(|w| w[0].date <= w[1].date));
        assert!(book.entries.iter().all(|e| e.date <= end));
        let chart = memory_chart(&book);
        for entry in &book.entries {
            validate(entry, &chart).unwrap_or_else(|e| panic!("{entry:?}: {e}"));
        }
        let euro = book
            .entries
            .iter()
            .filter(|e| e.postings.iter().any(|p| p.commodity.as_str() == "EUR"))
            .count();
        assert!((3..=60).contains(&euro), "{euro} EUR entries");
        let tagged = book.entries.iter().filter(|e| !e.tags.is_empty()).count();
        let with_metadata = book
            .entries
            .iter()
            .filter(|e| !e.metadata.is_empty())
            .count();
        assert!(tagged > 0 && tagged < count && with_metadata > 0 && with_metadata < count);
    }

    #[test]
    fn the_same_seed_gives_the_same_book_and_another_seed_another() {
        let end = day("2026-11-30");
        let book = demo_book(end, 7).expect("book");
        assert_eq!(book, demo_book(end, 7).expect("book"));
        assert_ne!(book.entries, demo_book(end, 8).expect("book").entries);
    }

    #[test]
    fn the_first_and_last_representable_days_make_a_valid_book() {
        for end in ["0001-01-01", "0001-03-01", "9999-12-31", "2024-02-29"] {
            let book = demo_book(day(end), 3).expect(end);
            let chart = memory_chart(&book);
            for entry in &book.entries {
                validate(entry, &chart).unwrap_or_else(|e| panic!("{end}: {entry:?}: {e}"));
            }
            assert!(book.entries.iter().all(|e| e.date <= day(end)), "{end}");
        }
    }

    /// Across many seeds, a pure replay of checking's running balance (in entry order, so
    /// within days too) never goes below zero.
    #[test]
    fn checking_never_goes_negative_for_any_of_many_seeds() {
        for seed in 0..40 {
            let book = demo_book(day("2026-06-30"), seed).expect("book");
            let mut checking = Amount::ZERO;
            for entry in &book.entries {
                for posting in entry
                    .postings
                    .iter()
                    .filter(|p| p.account.as_str() == CHECKING)
                {
                    let cents = posting.amount.to_minor_units(2).expect("cents");
                    checking = checking.checked_add(cents).expect("no overflow");
                }
                assert!(checking >= Amount::ZERO, "seed {seed}: {entry:?}");
            }
        }
    }

    #[test]
    fn seeded_into_a_store_the_book_checks_and_checking_stays_positive_each_day() {
        let scratch = ScratchDir::new("seed-demo").expect("scratch");
        let mut store = SqliteStore::open(&scratch.file("books.db")).expect("opens");
        let end = day("2026-11-30");
        let tenant = seed_demo(&mut store, end).expect("seeded");
        let report = store.check(Some(tenant)).expect("check ran");
        assert!(report.is_clean(), "{:?}", report.problems);
        let book = demo_book(end, DEMO_SEED).expect("book");
        assert_eq!(report.entries, book.entries.len() as u64);
        let checking = AccountName::new(CHECKING).expect("name");
        let usd = CommodityCode::new("USD").expect("code");
        let mut date = day("2025-12-01");
        while date <= end {
            let balance = store
                .balance(tenant, &checking, &usd, date)
                .expect("balance");
            assert!(balance >= Amount::ZERO, "{date}: {balance:?}");
            date = add_days(date, 1).expect("next day");
        }
        let sheet = statements::balance_sheet(&mut store, tenant, end).expect("sheet");
        assert!(sheet.is_balanced());
        let profit = sheet
            .retained_earnings
            .get(&usd)
            .copied()
            .unwrap_or_default();
        assert!(
            profit > Amount::ZERO,
            "the demo company makes money: {profit:?}"
        );
        let statement = statements::income_statement(&mut store, tenant, day("2025-12-01"), end)
            .expect("statement");
        assert_eq!(statement.net_income, sheet.retained_earnings);
    }

    #[test]
    fn a_second_demo_tenant_is_refused() {
        let scratch = ScratchDir::new("seed-twice").expect("scratch");
        let mut store = SqliteStore::open(&scratch.file("books.db")).expect("opens");
        seed_demo(&mut store, day("2026-11-30")).expect("seeded");
        let again = seed_demo(&mut store, day("2026-11-30"));
        assert!(
            matches!(
                again,
                Err(SeedError::Store(StoreError::AlreadyExists { .. }))
            ),
            "{again:?}"
        );
    }
}
