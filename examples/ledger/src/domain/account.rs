//! The chart of accounts: `AccountName` (hierarchical, kept exactly as written), `AccountType`
//! (the five types and how an imported book's top-level name implies one) and `Account` (a
//! name, a type, open and close dates, the commodities it may hold, its balance constraints).
//!
//! Pure rules only: whether an account can take a posting on a date in a commodity. Storage of
//! accounts is `store/`; balances are not here. Tests at the bottom.

use super::amount::CommodityCode;
use super::constraint::BalanceConstraint;
use super::date::Date;
use crate::limits::{ACCOUNT_NAME_BYTES_MAX, ACCOUNT_SEGMENTS_MAX};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A hierarchical account name: segments joined by `:` (`Assets:Bank:Checking`).
///
/// Invariant: 1 to `ACCOUNT_SEGMENTS_MAX` segments and at most `ACCOUNT_NAME_BYTES_MAX` bytes;
/// no segment is empty or starts or ends with a space; no two spaces in a row (plain-text
/// journals end an account name at two spaces), no tab or other control character; the name
/// does not start with `(` or `[` (journals read those as virtual postings). Case, single
/// inner spaces and Unicode are kept exactly: `Assets:Café` and `assets:café` are different
/// accounts.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AccountName(String);

/// Why text is not an account name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccountNameError {
    /// Empty text, or an empty segment (`Assets::Bank`, a leading or trailing `:`).
    EmptySegment,
    /// A segment starts or ends with a space.
    OuterSpace,
    /// Two spaces in a row.
    DoubleSpace,
    /// A tab, newline or other control character.
    ControlCharacter,
    /// Starts with `(` or `[`.
    VirtualMarker,
    /// Longer than `ACCOUNT_NAME_BYTES_MAX` bytes.
    TooLong,
    /// More than `ACCOUNT_SEGMENTS_MAX` segments.
    TooDeep,
}

impl fmt::Display for AccountNameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AccountNameError::EmptySegment => "an account name has no empty segment",
            AccountNameError::OuterSpace => {
                "an account name segment neither starts nor ends with a space"
            }
            AccountNameError::DoubleSpace => "an account name has no two spaces in a row",
            AccountNameError::ControlCharacter => "an account name has no tab or control character",
            AccountNameError::VirtualMarker => "an account name does not start with ( or [",
            AccountNameError::TooLong => "an account name is at most 512 bytes",
            AccountNameError::TooDeep => "an account name has at most 16 segments",
        })
    }
}

impl std::error::Error for AccountNameError {}

impl AccountName {
    /// Checks `name` against the rules of the type and keeps it as written.
    pub fn new(name: &str) -> Result<AccountName, AccountNameError> {
        if name.len() > ACCOUNT_NAME_BYTES_MAX {
            return Err(AccountNameError::TooLong);
        }
        if name.starts_with(['(', '[']) {
            return Err(AccountNameError::VirtualMarker);
        }
        if name.chars().any(char::is_control) {
            return Err(AccountNameError::ControlCharacter);
        }
        if name.contains("  ") {
            return Err(AccountNameError::DoubleSpace);
        }
        let mut segments = 0;
        for segment in name.split(':') {
            segments += 1;
            check_segment(segment)?;
        }
        if segments > ACCOUNT_SEGMENTS_MAX {
            return Err(AccountNameError::TooDeep);
        }
        Ok(AccountName(name.to_owned()))
    }

    /// The name as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first segment (`Assets` in `Assets:Bank:Checking`).
    pub fn top_level(&self) -> &str {
        self.0.split(':').next().unwrap_or(&self.0)
    }
}

fn check_segment(segment: &str) -> Result<(), AccountNameError> {
    if segment.is_empty() {
        return Err(AccountNameError::EmptySegment);
    }
    if segment.starts_with(char::is_whitespace) || segment.ends_with(char::is_whitespace) {
        return Err(AccountNameError::OuterSpace);
    }
    Ok(())
}

impl fmt::Display for AccountName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for AccountName {
    type Error = AccountNameError;
    fn try_from(name: String) -> Result<AccountName, AccountNameError> {
        AccountName::new(&name)
    }
}

impl From<AccountName> for String {
    fn from(name: AccountName) -> String {
        name.0
    }
}

/// The five account types of double-entry bookkeeping.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountType {
    Asset,
    Liability,
    Equity,
    Income,
    Expense,
}

impl AccountType {
    /// Every type, in balance-sheet-then-income-statement order.
    pub const ALL: [AccountType; 5] = [
        AccountType::Asset,
        AccountType::Liability,
        AccountType::Equity,
        AccountType::Income,
        AccountType::Expense,
    ];

    /// The type an imported book's top-level name implies (case-insensitive: `Assets`/`Asset`,
    /// `Liabilities`/`Liability`, `Equity`, `Income`/`Revenue`/`Revenues`,
    /// `Expenses`/`Expense`), or `None` if the name implies none and the type must be set.
    pub fn infer(name: &AccountName) -> Option<AccountType> {
        let top = name.top_level().to_lowercase();
        match top.as_str() {
            "assets" | "asset" => Some(AccountType::Asset),
            "liabilities" | "liability" => Some(AccountType::Liability),
            "equity" => Some(AccountType::Equity),
            "income" | "revenue" | "revenues" => Some(AccountType::Income),
            "expenses" | "expense" => Some(AccountType::Expense),
            _ => None,
        }
    }

    /// The stable lowercase name (`asset`, ...), as stored and as in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            AccountType::Asset => "asset",
            AccountType::Liability => "liability",
            AccountType::Equity => "equity",
            AccountType::Income => "income",
            AccountType::Expense => "expense",
        }
    }

    /// The inverse of `as_str`.
    pub fn from_str_exact(text: &str) -> Option<AccountType> {
        AccountType::ALL.into_iter().find(|t| t.as_str() == text)
    }
}

/// An account of a tenant's chart.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// Unique within the tenant.
    pub name: AccountName,
    pub account_type: AccountType,
    /// The first day it may take postings.
    pub opened: Date,
    /// The last day it may take postings; `None` while open. Invariant: `>= opened`.
    pub closed: Option<Date>,
    /// The commodities it may hold; empty means any commodity the tenant has.
    pub commodities: Vec<CommodityCode>,
    /// Bounds on its balance, at most one per commodity.
    pub constraints: Vec<BalanceConstraint>,
}

/// Why an account cannot take a posting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PostingRefusal {
    /// The date is before the account opened.
    NotYetOpen,
    /// The date is after the account closed.
    Closed,
    /// The commodity is not among the account's allowed commodities.
    CommodityNotAllowed,
}

impl Account {
    /// An open account with no commodity restriction and no constraints.
    pub fn new(name: AccountName, account_type: AccountType, opened: Date) -> Account {
        Account {
            name,
            account_type,
            opened,
            closed: None,
            commodities: Vec::new(),
            constraints: Vec::new(),
        }
    }

    /// Whether this account may take a posting in `commodity` dated `date`.
    pub fn accepts(&self, date: Date, commodity: &CommodityCode) -> Result<(), PostingRefusal> {
        if date < self.opened {
            return Err(PostingRefusal::NotYetOpen);
        }
        if self.closed.is_some_and(|closed| date > closed) {
            return Err(PostingRefusal::Closed);
        }
        if !self.commodities.is_empty() && !self.commodities.contains(commodity) {
            return Err(PostingRefusal::CommodityNotAllowed);
        }
        Ok(())
    }

    /// The constraint on this account's balance in `commodity`, if any.
    pub fn constraint(&self, commodity: &CommodityCode) -> Option<&BalanceConstraint> {
        self.constraints.iter().find(|c| &c.commodity == commodity)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(text: &str) -> AccountName {
        AccountName::new(text).expect(text)
    }

    fn day(text: &str) -> Date {
        Date::parse(text).expect(text)
    }

    #[test]
    fn names_are_kept_exactly_as_written() {
        for text in [
            "Assets:Bank:Checking",
            "assets:bank",
            "Dépenses:Café au lait",
            "資産:銀行",
            "Expenses:Food & Drink",
        ] {
            assert_eq!(name(text).as_str(), text);
        }
        assert_ne!(name("Assets:Cash"), name("assets:cash"));
    }

    #[test]
    fn malformed_names_are_refused_with_their_reason() {
        use AccountNameError::*;
        let cases = [
            ("", EmptySegment),
            ("Assets::Bank", EmptySegment),
            (":Assets", EmptySegment),
            ("Assets:", EmptySegment),
            (" Assets", OuterSpace),
            ("Assets ", OuterSpace),
            ("Assets: Bank", OuterSpace),
            ("Assets :Bank", OuterSpace),
            ("Assets:Big  Bank", DoubleSpace),
            ("Assets:Big\tBank", ControlCharacter),
            ("Assets\nBank", ControlCharacter),
            ("(Assets:Bank)", VirtualMarker),
            ("[Assets:Bank]", VirtualMarker),
        ];
        for (text, reason) in cases {
            assert_eq!(AccountName::new(text), Err(reason), "{text:?}");
        }
    }

    #[test]
    fn name_length_and_depth_limits() {
        let longest = format!("A:{}", "b".repeat(ACCOUNT_NAME_BYTES_MAX - 2));
        assert!(AccountName::new(&longest).is_ok());
        assert_eq!(
            AccountName::new(&format!("{longest}b")),
            Err(AccountNameError::TooLong)
        );
        let deepest = vec!["A"; ACCOUNT_SEGMENTS_MAX].join(":");
        assert!(AccountName::new(&deepest).is_ok());
        assert_eq!(
            AccountName::new(&format!("{deepest}:A")),
            Err(AccountNameError::TooDeep)
        );
    }

    #[test]
    fn types_are_inferred_from_the_top_level_name() {
        let cases = [
            ("Assets:Bank", Some(AccountType::Asset)),
            ("asset:Cash", Some(AccountType::Asset)),
            ("LIABILITIES:Card", Some(AccountType::Liability)),
            ("Liability", Some(AccountType::Liability)),
            ("Equity:Opening", Some(AccountType::Equity)),
            ("Income:Salary", Some(AccountType::Income)),
            ("Revenue:Sales", Some(AccountType::Income)),
            ("revenues", Some(AccountType::Income)),
            ("Expenses:Rent", Some(AccountType::Expense)),
            ("Expense", Some(AccountType::Expense)),
            ("Bank:Assets", None),
            ("Assetss", None),
        ];
        for (text, expected) in cases {
            assert_eq!(AccountType::infer(&name(text)), expected, "{text}");
        }
        for t in AccountType::ALL {
            assert_eq!(AccountType::from_str_exact(t.as_str()), Some(t));
        }
    }

    #[test]
    fn an_account_takes_postings_only_while_open_and_in_its_commodities() {
        let usd = CommodityCode::new("USD").expect("USD");
        let eur = CommodityCode::new("EUR").expect("EUR");
        let mut account = Account::new(name("Assets:Bank"), AccountType::Asset, day("2024-01-01"));
        assert_eq!(account.accepts(day("2024-01-01"), &eur), Ok(()));
        assert_eq!(
            account.accepts(day("2023-12-31"), &usd),
            Err(PostingRefusal::NotYetOpen)
        );
        account.closed = Some(day("2024-06-30"));
        assert_eq!(account.accepts(day("2024-06-30"), &usd), Ok(()));
        assert_eq!(
            account.accepts(day("2024-07-01"), &usd),
            Err(PostingRefusal::Closed)
        );
        account.commodities = vec![usd.clone()];
        assert_eq!(account.accepts(day("2024-02-01"), &usd), Ok(()));
        assert_eq!(
            account.accepts(day("2024-02-01"), &eur),
            Err(PostingRefusal::CommodityNotAllowed)
        );
    }
}
