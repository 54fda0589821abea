//! The chart of accounts: `AccountName` (hierarchical, kept exactly as written), `AccountType`
//! (the five types and how an imported book's top-level name implies one) and `Account` (a
//! name, a type, open and close dates, the commodities it may hold, its balance constraints).
//!
//! Pure rules only: whether an account can take a posting on a date in a commodity, and what
//! renaming an account (with the accounts under it) renames (`rename_plan`). Storage of
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

    /// The top-level name that implies this type (`Assets`, ...; see `infer`).
    pub fn top_level_name(self) -> &'static str {
        match self {
            AccountType::Asset => "Assets",
            AccountType::Liability => "Liabilities",
            AccountType::Equity => "Equity",
            AccountType::Income => "Income",
            AccountType::Expense => "Expenses",
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

/// Why an account cannot be renamed so.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RenameError {
    /// No account of the old name, nor under it.
    NotFound,
    /// The new name is the old one.
    Same,
    /// The new name is under the old one (`Assets:Bank` to `Assets:Bank:Old`).
    IntoItself,
    /// An account that is not being renamed has this name already.
    Taken(AccountName),
    /// The new name's top level implies another type than the account's (`Expenses:Food`
    /// to `Assets:Food`): the reports would put it where its name says it is not.
    TypeMismatch {
        account: AccountName,
        account_type: AccountType,
        implied: AccountType,
    },
    /// A renamed descendant's name breaks the rules of `AccountName` (too long, too deep).
    Name(AccountName, AccountNameError),
}

impl fmt::Display for RenameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RenameError::NotFound => f.write_str("no account of that name or under it"),
            RenameError::Same => f.write_str("the new name is the old one"),
            RenameError::IntoItself => f.write_str("an account cannot move under itself"),
            RenameError::Taken(name) => write!(f, "an account named {name} exists already"),
            RenameError::TypeMismatch {
                account,
                account_type,
                implied,
            } => write!(
                f,
                "{account} is of type {}; a name under {} means type {}",
                account_type.as_str(),
                implied.top_level_name(),
                implied.as_str()
            ),
            RenameError::Name(name, error) => write!(f, "{name}: {error}"),
        }
    }
}

impl std::error::Error for RenameError {}

/// The renames that renaming `from` to `to` makes, given the tenant's `accounts`: `from`
/// itself (if it is an account: a group such as `Assets:Bank` may be only a prefix of its
/// accounts) and every account under it (`from:...`), each moved to `to` with the same tail
/// (`Expenses:Food:Out` becomes `Expenses:Meals:Out`). Ids, postings and balances stay: only
/// names change. Pure.
pub fn rename_plan(
    accounts: &[Account],
    from: &AccountName,
    to: &AccountName,
) -> Result<Vec<(AccountName, AccountName)>, RenameError> {
    if from == to {
        return Err(RenameError::Same);
    }
    let prefix = format!("{from}:");
    if to.as_str().starts_with(&prefix) {
        return Err(RenameError::IntoItself);
    }
    let moved: Vec<&Account> = accounts
        .iter()
        .filter(|a| a.name == *from || a.name.as_str().starts_with(&prefix))
        .collect();
    if moved.is_empty() {
        return Err(RenameError::NotFound);
    }
    let mut renames = Vec::with_capacity(moved.len());
    for account in moved {
        let tail = &account.name.as_str()[from.as_str().len()..];
        let text = format!("{to}{tail}");
        let name = AccountName::new(&text)
            .map_err(|error| RenameError::Name(AccountName(text.clone()), error))?;
        if let Some(implied) = AccountType::infer(&name)
            && implied != account.account_type
        {
            return Err(RenameError::TypeMismatch {
                account: account.name.clone(),
                account_type: account.account_type,
                implied,
            });
        }
        renames.push((account.name.clone(), name));
    }
    let moving: std::collections::BTreeSet<&AccountName> =
        renames.iter().map(|(old, _)| old).collect();
    for (_, new) in &renames {
        if accounts
            .iter()
            .any(|a| a.name == *new && !moving.contains(&a.name))
        {
            return Err(RenameError::Taken(new.clone()));
        }
    }
    Ok(renames)
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

    fn chart(names: &[&str]) -> Vec<Account> {
        names
            .iter()
            .map(|n| {
                let name = AccountName::new(n).unwrap();
                let kind = AccountType::infer(&name).unwrap_or(AccountType::Asset);
                Account::new(name, kind, Date::from_ymd(2024, 1, 1).unwrap())
            })
            .collect()
    }

    fn n(text: &str) -> AccountName {
        AccountName::new(text).unwrap()
    }

    #[test]
    fn a_rename_moves_the_account_and_everything_under_it() {
        let accounts = chart(&[
            "Expenses:Food",
            "Expenses:Food:Out",
            "Expenses:Food:Out:Lunch",
            "Expenses:Foodstuff",
            "Assets:Bank",
        ]);
        let plan = rename_plan(&accounts, &n("Expenses:Food"), &n("Expenses:Meals")).unwrap();
        assert_eq!(
            plan,
            [
                (n("Expenses:Food"), n("Expenses:Meals")),
                (n("Expenses:Food:Out"), n("Expenses:Meals:Out")),
                (n("Expenses:Food:Out:Lunch"), n("Expenses:Meals:Out:Lunch")),
            ],
            "Expenses:Foodstuff is not under Expenses:Food"
        );
        // Moving up a level onto a name a renamed account frees is fine.
        let accounts = chart(&["Assets:Bank", "Assets:Bank:Bank"]);
        let plan = rename_plan(&accounts, &n("Assets:Bank"), &n("Assets:Cash")).unwrap();
        assert_eq!(plan.len(), 2);
        let accounts = chart(&["Assets:Old:Bank", "Assets:Old:Bank:Bank"]);
        let plan = rename_plan(&accounts, &n("Assets:Old:Bank"), &n("Assets:Old")).unwrap();
        assert_eq!(
            plan,
            [
                (n("Assets:Old:Bank"), n("Assets:Old")),
                (n("Assets:Old:Bank:Bank"), n("Assets:Old:Bank")),
            ]
        );
    }

    #[test]
    fn a_rename_is_refused_with_its_reason() {
        let accounts = chart(&["Expenses:Food", "Expenses:Meals", "Assets:Bank", "Stuff"]);
        let plan = |from: &str, to: &str| rename_plan(&accounts, &n(from), &n(to));
        assert_eq!(
            plan("Expenses:Gone", "Expenses:X"),
            Err(RenameError::NotFound)
        );
        // A group that is only a prefix moves its accounts.
        assert_eq!(
            plan("Assets", "Property").unwrap(),
            [(n("Assets:Bank"), n("Property:Bank"))]
        );
        assert_eq!(
            plan("Expenses:Food", "Expenses:Food"),
            Err(RenameError::Same)
        );
        assert_eq!(
            plan("Expenses:Food", "Expenses:Food:Old"),
            Err(RenameError::IntoItself)
        );
        assert_eq!(
            plan("Expenses:Food", "Expenses:Meals"),
            Err(RenameError::Taken(n("Expenses:Meals")))
        );
        let mismatch = plan("Expenses:Food", "Assets:Food").unwrap_err();
        assert_eq!(
            mismatch.to_string(),
            "Expenses:Food is of type expense; a name under Assets means type asset"
        );
        // A top level that implies no type keeps the account's own.
        assert!(plan("Assets:Bank", "Bank:Main").is_ok());
        // A descendant whose new name would be too deep: 11 segments plus a tail of 6.
        let to: Vec<String> = (1..=10).map(|i| format!("S{i}")).collect();
        let tail: Vec<String> = (1..=6).map(|i| format!("T{i}")).collect();
        let accounts = chart(&["Assets:A", &format!("Assets:A:{}", tail.join(":"))]);
        let to = n(&format!("Assets:{}", to.join(":")));
        let error = rename_plan(&accounts, &n("Assets:A"), &to);
        assert!(
            matches!(error, Err(RenameError::Name(_, AccountNameError::TooDeep))),
            "{error:?}"
        );
    }
}
