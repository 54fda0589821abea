//! Journal entries: `NewEntry` (what a client or an import asks for, amounts as written),
//! `Entry` (validated: amounts in minor units, balanced per commodity), the `Chart` a
//! validation reads accounts and commodities from, and reversal.
//!
//! Validation is pure: `validate(&NewEntry, &impl Chart)` decides everything that does not
//! depend on balances, in a fixed order (fields, shape, commodities and precision, accounts,
//! balance), and returns the first problem. Balance constraints need balances and are
//! `constraint.rs`; storing is `store/`. Entries are immutable: a correction is a reversing
//! entry. Tests at the bottom.

use super::EntryId;
use super::account::{Account, AccountName, PostingRefusal};
use super::amount::{Amount, Commodity, CommodityCode, Decimal};
use super::date::Date;
use super::error::EntryError;
use super::pending::PendingTerms;
use crate::limits::{
    DESCRIPTION_BYTES_MAX, LABEL_BYTES_MAX, METADATA_PER_ENTRY_MAX, POSTINGS_PER_ENTRY_MAX,
    TAGS_PER_ENTRY_MAX,
};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// A posting as asked for: an account, a commodity and an amount as written.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewPosting {
    pub account: AccountName,
    pub commodity: CommodityCode,
    pub amount: Decimal,
}

/// An entry as asked for, before validation. This is also the body an idempotency key is
/// compared against.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewEntry {
    pub date: Date,
    pub description: String,
    #[serde(default)]
    pub payee: Option<String>,
    #[serde(default)]
    pub tags: BTreeSet<String>,
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    pub postings: Vec<NewPosting>,
    /// `Some` for a two-phase entry that only reserves until it is posted or voided.
    #[serde(default)]
    pub pending: Option<PendingTerms>,
}

/// A validated posting: amount in the commodity's minor units.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Posting {
    pub account: AccountName,
    pub commodity: CommodityCode,
    pub amount: Amount,
}

/// How an entry relates to an earlier one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryLink {
    /// This entry reverses that one.
    Reverses(EntryId),
    /// This entry posts that pending one (fully or in part).
    Posts(EntryId),
}

/// A validated entry. Invariant: 2 to `POSTINGS_PER_ENTRY_MAX` postings that sum to zero per
/// commodity, each in an account open on `date` that holds its commodity.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub date: Date,
    pub description: String,
    pub payee: Option<String>,
    pub tags: BTreeSet<String>,
    pub metadata: BTreeMap<String, String>,
    pub postings: Vec<Posting>,
    pub pending: Option<PendingTerms>,
    pub link: Option<EntryLink>,
}

/// Where validation looks accounts and commodities up (a tenant's chart, or the part of it an
/// entry names).
pub trait Chart {
    fn account(&self, name: &AccountName) -> Option<&Account>;
    fn commodity(&self, code: &CommodityCode) -> Option<&Commodity>;
}

/// A chart held in memory.
#[derive(Clone, Debug, Default)]
pub struct MemoryChart {
    pub accounts: BTreeMap<AccountName, Account>,
    pub commodities: BTreeMap<CommodityCode, Commodity>,
}

impl Chart for MemoryChart {
    fn account(&self, name: &AccountName) -> Option<&Account> {
        self.accounts.get(name)
    }
    fn commodity(&self, code: &CommodityCode) -> Option<&Commodity> {
        self.commodities.get(code)
    }
}

impl MemoryChart {
    /// Adds (or replaces) an account.
    pub fn insert_account(&mut self, account: Account) {
        self.accounts.insert(account.name.clone(), account);
    }

    /// Adds (or replaces) a commodity.
    pub fn insert_commodity(&mut self, commodity: Commodity) {
        self.commodities.insert(commodity.code.clone(), commodity);
    }
}

/// Validates `new` against `chart`: the whole of what can be decided without balances.
pub fn validate(new: &NewEntry, chart: &impl Chart) -> Result<Entry, EntryError> {
    check_fields(new)?;
    check_shape(new.postings.len())?;
    let postings = new
        .postings
        .iter()
        .enumerate()
        .map(|(index, posting)| resolve_posting(index, posting, chart))
        .collect::<Result<Vec<_>, _>>()?;
    let entry = Entry {
        date: new.date,
        description: new.description.clone(),
        payee: new.payee.clone(),
        tags: new.tags.clone(),
        metadata: new.metadata.clone(),
        postings,
        pending: new.pending,
        link: None,
    };
    check_postings(&entry, chart)?;
    Ok(entry)
}

/// The checks an already-resolved entry (a reversal, the posting of a pending entry) must pass
/// again on its own date: shape, accounts, balance.
pub fn check_postings(entry: &Entry, chart: &impl Chart) -> Result<(), EntryError> {
    check_shape(entry.postings.len())?;
    for (index, posting) in entry.postings.iter().enumerate() {
        check_account(index, posting, entry.date, chart)?;
    }
    check_balanced(&entry.postings)
}

fn check_fields(new: &NewEntry) -> Result<(), EntryError> {
    let invalid = |field: &str, reason: &str| EntryError::Invalid {
        field: field.into(),
        reason: reason.into(),
    };
    if new.description.len() > DESCRIPTION_BYTES_MAX {
        return Err(invalid("description", "longer than 1024 bytes"));
    }
    if new
        .payee
        .as_ref()
        .is_some_and(|payee| payee.len() > DESCRIPTION_BYTES_MAX)
    {
        return Err(invalid("payee", "longer than 1024 bytes"));
    }
    if new.tags.len() > TAGS_PER_ENTRY_MAX {
        return Err(invalid("tags", "more than 32 tags"));
    }
    if new
        .tags
        .iter()
        .any(|tag| tag.is_empty() || tag.len() > LABEL_BYTES_MAX)
    {
        return Err(invalid("tags", "a tag is 1 to 256 bytes"));
    }
    if new.metadata.len() > METADATA_PER_ENTRY_MAX {
        return Err(invalid("metadata", "more than 32 pairs"));
    }
    let label_too_long = |(key, value): (&String, &String)| {
        key.is_empty() || key.len() > LABEL_BYTES_MAX || value.len() > LABEL_BYTES_MAX
    };
    if new.metadata.iter().any(label_too_long) {
        return Err(invalid(
            "metadata",
            "a key is 1 to 256 bytes and a value at most 256",
        ));
    }
    Ok(())
}

fn check_shape(postings: usize) -> Result<(), EntryError> {
    match postings {
        0 => Err(EntryError::Empty),
        1 => Err(EntryError::SinglePosting),
        count if count > POSTINGS_PER_ENTRY_MAX => Err(EntryError::TooManyPostings { count }),
        _ => Ok(()),
    }
}

fn resolve_posting(
    index: usize,
    posting: &NewPosting,
    chart: &impl Chart,
) -> Result<Posting, EntryError> {
    let commodity =
        chart
            .commodity(&posting.commodity)
            .ok_or_else(|| EntryError::UnknownCommodity {
                posting: index,
                commodity: posting.commodity.clone(),
            })?;
    let amount =
        posting
            .amount
            .to_minor_units(commodity.precision)
            .map_err(|error| match error {
                super::amount::AmountError::Precision { precision } => EntryError::Precision {
                    posting: index,
                    precision,
                },
                _ => EntryError::Overflow,
            })?;
    Ok(Posting {
        account: posting.account.clone(),
        commodity: posting.commodity.clone(),
        amount,
    })
}

fn check_account(
    index: usize,
    posting: &Posting,
    date: Date,
    chart: &impl Chart,
) -> Result<(), EntryError> {
    let account = || posting.account.clone();
    let found = chart
        .account(&posting.account)
        .ok_or_else(|| EntryError::UnknownAccount {
            posting: index,
            account: account(),
        })?;
    found
        .accepts(date, &posting.commodity)
        .map_err(|refusal| match refusal {
            PostingRefusal::NotYetOpen => EntryError::AccountNotOpen {
                posting: index,
                account: account(),
            },
            PostingRefusal::Closed => EntryError::ClosedAccount {
                posting: index,
                account: account(),
            },
            PostingRefusal::CommodityNotAllowed => EntryError::CommodityNotAllowed {
                posting: index,
                account: account(),
                commodity: posting.commodity.clone(),
            },
        })
}

/// Every commodity's postings sum to zero; the first that does not (in code order) is named.
fn check_balanced(postings: &[Posting]) -> Result<(), EntryError> {
    let mut sums: BTreeMap<&CommodityCode, Amount> = BTreeMap::new();
    for posting in postings {
        let sum = sums.entry(&posting.commodity).or_default();
        *sum = sum
            .checked_add(posting.amount)
            .map_err(|_| EntryError::Overflow)?;
    }
    match sums.into_iter().find(|(_, sum)| *sum != Amount::ZERO) {
        Some((commodity, sum)) => Err(EntryError::Unbalanced {
            commodity: commodity.clone(),
            sum,
        }),
        None => Ok(()),
    }
}

/// What reversing an entry needs to know about it.
#[derive(Clone, Copy, Debug)]
pub struct ReversalTarget<'a> {
    pub id: EntryId,
    pub entry: &'a Entry,
    /// Whether a reversal of it exists already.
    pub reversed: bool,
}

/// The entry that reverses `target` on `date`: the same postings negated, linked to it. The
/// caller validates it with `check_postings` (an account may have closed since).
pub fn reversal(target: ReversalTarget<'_>, date: Date) -> Result<Entry, EntryError> {
    if target.entry.pending.is_some() {
        return Err(EntryError::NotReversible { entry: target.id });
    }
    if target.reversed {
        return Err(EntryError::AlreadyReversed { entry: target.id });
    }
    let postings = target
        .entry
        .postings
        .iter()
        .map(|posting| {
            Ok(Posting {
                amount: posting
                    .amount
                    .checked_neg()
                    .map_err(|_| EntryError::Overflow)?,
                ..posting.clone()
            })
        })
        .collect::<Result<Vec<_>, EntryError>>()?;
    Ok(Entry {
        date,
        description: format!(
            "Reversal of entry {}: {}",
            target.id.0, target.entry.description
        ),
        payee: target.entry.payee.clone(),
        tags: target.entry.tags.clone(),
        metadata: BTreeMap::new(),
        postings,
        pending: None,
        link: Some(EntryLink::Reverses(target.id)),
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::domain::account::AccountType;

    pub(crate) fn day(text: &str) -> Date {
        Date::parse(text).expect(text)
    }

    pub(crate) fn chart() -> MemoryChart {
        let mut chart = MemoryChart::default();
        for (code, precision) in [("USD", 2), ("JPY", 0), ("BTC", 8)] {
            chart.insert_commodity(Commodity::new(code, precision).expect("commodity"));
        }
        for name in [
            "Assets:Bank",
            "Assets:Cash",
            "Expenses:Food",
            "Income:Salary",
            "Liabilities:Card",
        ] {
            let name = AccountName::new(name).expect("name");
            let kind = AccountType::infer(&name).expect("type");
            chart.insert_account(Account::new(name, kind, day("2024-01-01")));
        }
        chart
    }

    pub(crate) fn posting(account: &str, commodity: &str, amount: &str) -> NewPosting {
        NewPosting {
            account: AccountName::new(account).expect("name"),
            commodity: CommodityCode::new(commodity).expect("code"),
            amount: Decimal::parse(amount).expect("amount"),
        }
    }

    pub(crate) fn entry(postings: Vec<NewPosting>) -> NewEntry {
        NewEntry {
            date: day("2024-03-01"),
            description: "Groceries".into(),
            payee: Some("Corner shop".into()),
            tags: BTreeSet::from(["food".to_owned()]),
            metadata: BTreeMap::from([("receipt".to_owned(), "42".to_owned())]),
            postings,
            pending: None,
        }
    }

    pub(crate) fn groceries() -> NewEntry {
        entry(vec![
            posting("Expenses:Food", "USD", "12.50"),
            posting("Assets:Bank", "USD", "-12.50"),
        ])
    }

    fn code_of(new: &NewEntry, chart: &MemoryChart) -> &'static str {
        validate(new, chart).err().map_or("ok", |e| e.code())
    }

    #[test]
    fn a_balanced_entry_is_valid_in_minor_units() {
        let valid = validate(&groceries(), &chart()).expect("valid");
        let amounts: Vec<i64> = valid.postings.iter().map(|p| p.amount.0).collect();
        assert_eq!(amounts, [1250, -1250]);
    }

    #[test]
    fn several_commodities_balance_separately() {
        let new = entry(vec![
            posting("Assets:Bank", "USD", "10"),
            posting("Assets:Cash", "JPY", "1500"),
            posting("Income:Salary", "USD", "-10"),
            posting("Income:Salary", "JPY", "-1500"),
        ]);
        assert_eq!(code_of(&new, &chart()), "ok");
        let crossed = entry(vec![
            posting("Assets:Bank", "USD", "10"),
            posting("Assets:Cash", "JPY", "-10"),
        ]);
        assert_eq!(
            validate(&crossed, &chart()),
            Err(EntryError::Unbalanced {
                commodity: CommodityCode::new("JPY").expect("code"),
                sum: Amount(-10)
            })
        );
    }

    #[test]
    fn unbalanced_entries_are_rejected() {
        let new = entry(vec![
            posting("Expenses:Food", "USD", "12.50"),
            posting("Assets:Bank", "USD", "-12.49"),
        ]);
        assert_eq!(code_of(&new, &chart()), "unbalanced");
    }

    #[test]
    fn empty_and_single_posting_entries_are_rejected() {
        assert_eq!(code_of(&entry(vec![]), &chart()), "empty");
        assert_eq!(
            code_of(&entry(vec![posting("Assets:Bank", "USD", "0")]), &chart()),
            "single_posting"
        );
    }

    #[test]
    fn postings_per_entry_limit() {
        let many = |count: usize| {
            let mut postings = vec![posting("Expenses:Food", "USD", "0.01"); count - 1];
            postings.push(posting(
                "Assets:Bank",
                "USD",
                &Amount(-(count as i64 - 1)).format(2),
            ));
            entry(postings)
        };
        assert_eq!(code_of(&many(POSTINGS_PER_ENTRY_MAX), &chart()), "ok");
        assert_eq!(
            code_of(&many(POSTINGS_PER_ENTRY_MAX + 1), &chart()),
            "too_many_postings"
        );
    }

    #[test]
    fn unknown_accounts_and_commodities_are_rejected() {
        let new = entry(vec![
            posting("Expenses:Fod", "USD", "1"),
            posting("Assets:Bank", "USD", "-1"),
        ]);
        assert_eq!(
            validate(&new, &chart()),
            Err(EntryError::UnknownAccount {
                posting: 0,
                account: AccountName::new("Expenses:Fod").expect("name")
            })
        );
        let new = entry(vec![
            posting("Expenses:Food", "EUR", "1"),
            posting("Assets:Bank", "EUR", "-1"),
        ]);
        assert_eq!(code_of(&new, &chart()), "unknown_commodity");
        let case = entry(vec![
            posting("expenses:food", "USD", "1"),
            posting("Assets:Bank", "USD", "-1"),
        ]);
        assert_eq!(
            code_of(&case, &chart()),
            "unknown_account",
            "names are case-sensitive"
        );
    }

    #[test]
    fn closed_and_not_yet_open_accounts_are_rejected() {
        let mut chart = chart();
        let bank = AccountName::new("Assets:Bank").expect("name");
        if let Some(account) = chart.accounts.get_mut(&bank) {
            account.closed = Some(day("2024-02-29"));
        }
        assert_eq!(code_of(&groceries(), &chart), "closed_account");
        let mut early = groceries();
        early.date = day("2023-12-31");
        assert_eq!(code_of(&early, &chart), "account_not_open");
    }

    #[test]
    fn a_commodity_the_account_does_not_hold_is_rejected() {
        let mut chart = chart();
        let bank = AccountName::new("Assets:Bank").expect("name");
        if let Some(account) = chart.accounts.get_mut(&bank) {
            account.commodities = vec![CommodityCode::new("JPY").expect("code")];
        }
        assert_eq!(code_of(&groceries(), &chart), "commodity_not_allowed");
    }

    #[test]
    fn over_precision_is_rejected_not_rounded() {
        let new = entry(vec![
            posting("Expenses:Food", "USD", "12.345"),
            posting("Assets:Bank", "USD", "-12.345"),
        ]);
        assert_eq!(
            validate(&new, &chart()),
            Err(EntryError::Precision {
                posting: 0,
                precision: 2
            })
        );
        let yen = entry(vec![
            posting("Expenses:Food", "JPY", "0.5"),
            posting("Assets:Bank", "JPY", "-0.5"),
        ]);
        assert_eq!(code_of(&yen, &chart()), "precision");
    }

    #[test]
    fn overflowing_entries_are_rejected() {
        let max = Amount(i64::MAX).format(2);
        let new = entry(vec![
            posting("Expenses:Food", "USD", &max),
            posting("Expenses:Food", "USD", &max),
            posting("Assets:Bank", "USD", "-1"),
        ]);
        assert_eq!(code_of(&new, &chart()), "overflow");
        let scaled = entry(vec![
            posting("Expenses:Food", "BTC", "100000000000"),
            posting("Assets:Bank", "BTC", "-1"),
        ]);
        assert_eq!(code_of(&scaled, &chart()), "overflow");
    }

    #[test]
    fn field_limits_are_enforced() {
        let mut new = groceries();
        new.description = "x".repeat(DESCRIPTION_BYTES_MAX);
        assert_eq!(code_of(&new, &chart()), "ok");
        new.description.push('x');
        assert_eq!(code_of(&new, &chart()), "invalid");
        let mut new = groceries();
        new.tags = (0..TAGS_PER_ENTRY_MAX).map(|i| i.to_string()).collect();
        assert_eq!(code_of(&new, &chart()), "ok");
        new.tags.insert("one more".into());
        assert_eq!(code_of(&new, &chart()), "invalid");
        let mut new = groceries();
        new.metadata = (0..=METADATA_PER_ENTRY_MAX)
            .map(|i| (i.to_string(), String::new()))
            .collect();
        assert_eq!(code_of(&new, &chart()), "invalid");
        let mut new = groceries();
        new.metadata = BTreeMap::from([("k".to_owned(), "v".repeat(LABEL_BYTES_MAX + 1))]);
        assert_eq!(code_of(&new, &chart()), "invalid");
    }

    #[test]
    fn a_reversal_negates_the_postings_and_links_the_original() {
        let original = validate(&groceries(), &chart()).expect("valid");
        let target = ReversalTarget {
            id: EntryId(9),
            entry: &original,
            reversed: false,
        };
        let reversing = reversal(target, day("2024-03-05")).expect("reversal");
        assert_eq!(reversing.link, Some(EntryLink::Reverses(EntryId(9))));
        assert_eq!(reversing.date, day("2024-03-05"));
        let amounts: Vec<i64> = reversing.postings.iter().map(|p| p.amount.0).collect();
        assert_eq!(amounts, [-1250, 1250]);
        assert_eq!(check_postings(&reversing, &chart()), Ok(()));
    }

    #[test]
    fn an_entry_is_reversed_at_most_once_and_never_while_pending() {
        let original = validate(&groceries(), &chart()).expect("valid");
        let twice = ReversalTarget {
            id: EntryId(9),
            entry: &original,
            reversed: true,
        };
        assert_eq!(
            reversal(twice, day("2024-03-05")),
            Err(EntryError::AlreadyReversed { entry: EntryId(9) })
        );
        let mut pending = original.clone();
        pending.pending = Some(PendingTerms { expires_at: None });
        let target = ReversalTarget {
            id: EntryId(9),
            entry: &pending,
            reversed: false,
        };
        assert_eq!(
            reversal(target, day("2024-03-05")),
            Err(EntryError::NotReversible { entry: EntryId(9) })
        );
    }

    #[test]
    fn a_reversal_into_a_closed_account_is_refused() {
        let original = validate(&groceries(), &chart()).expect("valid");
        let mut chart = chart();
        if let Some(account) = chart
            .accounts
            .get_mut(&AccountName::new("Assets:Bank").expect("name"))
        {
            account.closed = Some(day("2024-03-31"));
        }
        let target = ReversalTarget {
            id: EntryId(9),
            entry: &original,
            reversed: false,
        };
        let reversing = reversal(target, day("2024-04-01")).expect("built");
        assert_eq!(
            check_postings(&reversing, &chart).map_err(|e| e.code()),
            Err("closed_account")
        );
    }
}
