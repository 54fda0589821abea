//! The JSON shapes of the API: request bodies (strict: unknown fields are refused, amounts are
//! decimal strings such as `"12.50"`, never JSON numbers, so no float ever touches money) and
//! responses (amounts as decimal strings in the commodity's precision plus `amount_minor`, the
//! integer in minor units). Conversions between these and the domain types live here; what the
//! shapes mean is `crate::domain`.

use crate::domain::{
    Account, AccountName, AccountType, Amount, BalanceConstraint, BatchMode, Commodity,
    CommodityCode, Date, Decimal, EntryId, EntryLink, IdempotencyKey, NewEntry, NewPosting,
    PendingTerms,
};
use crate::store::{BalanceLine, EntryCursor, EntryRequest, StoredEntry};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

use super::error::ApiError;

/// A tenant's commodities by code, for formatting amounts.
pub type Precisions = BTreeMap<CommodityCode, u8>;

pub fn precisions(commodities: &[Commodity]) -> Precisions {
    commodities
        .iter()
        .map(|c| (c.code.clone(), c.precision))
        .collect()
}

/// An amount for JSON: the decimal text in the commodity's precision and the minor units.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Money {
    pub commodity: CommodityCode,
    pub amount: String,
    pub amount_minor: i64,
}

impl Money {
    pub fn new(commodity: &CommodityCode, amount: Amount, precisions: &Precisions) -> Money {
        let precision = precisions.get(commodity).copied().unwrap_or(0);
        Money {
            commodity: commodity.clone(),
            amount: amount.format(precision),
            amount_minor: amount.0,
        }
    }
}

/// `POST /entries` and each element of a batch's `entries`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntryBody {
    pub date: Date,
    pub description: String,
    #[serde(default)]
    pub payee: Option<String>,
    #[serde(default)]
    pub tags: BTreeSet<String>,
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    pub postings: Vec<PostingBody>,
    /// Present (`{}` or `{"expires_at": SECONDS}`) for a two-phase entry.
    #[serde(default)]
    pub pending: Option<PendingTerms>,
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostingBody {
    pub account: AccountName,
    pub commodity: CommodityCode,
    pub amount: Decimal,
}

impl EntryBody {
    /// The store's request; `header_key` is an `Idempotency-Key` header (single entries only),
    /// which must agree with a key in the body if both are given.
    pub fn into_request(self, header_key: Option<&str>) -> Result<EntryRequest, ApiError> {
        let key_text = match (self.idempotency_key.as_deref(), header_key) {
            (Some(body), Some(header)) if body != header => {
                return Err(ApiError::bad_request(
                    "the Idempotency-Key header and the body's idempotency_key differ",
                ));
            }
            (Some(key), _) | (None, Some(key)) => Some(key.to_owned()),
            (None, None) => None,
        };
        let key = match key_text {
            Some(text) => Some(IdempotencyKey::new(&text)?),
            None => None,
        };
        let entry = NewEntry {
            date: self.date,
            description: self.description,
            payee: self.payee,
            tags: self.tags,
            metadata: self.metadata,
            postings: self
                .postings
                .into_iter()
                .map(|p| NewPosting {
                    account: p.account,
                    commodity: p.commodity,
                    amount: p.amount,
                })
                .collect(),
            pending: self.pending,
        };
        Ok(EntryRequest { key, entry })
    }
}

/// `POST /entries/batch`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchBody {
    /// `independent` (default): a result per entry; `linked`: all or nothing.
    #[serde(default)]
    pub mode: Mode,
    pub entries: Vec<EntryBody>,
}

#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    #[default]
    Independent,
    Linked,
}

impl From<Mode> for BatchMode {
    fn from(mode: Mode) -> BatchMode {
        match mode {
            Mode::Independent => BatchMode::Independent,
            Mode::Linked => BatchMode::Linked,
        }
    }
}

/// `POST /accounts`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountBody {
    pub name: AccountName,
    /// Inferred from the top-level name (`Assets`, `Liabilities`...) when left out.
    #[serde(default, rename = "type")]
    pub account_type: Option<AccountType>,
    pub opened: Date,
    /// Empty or left out: any commodity of the tenant.
    #[serde(default)]
    pub commodities: Vec<CommodityCode>,
    #[serde(default)]
    pub constraints: Vec<ConstraintBody>,
}

/// A balance bound as decimal text in the commodity (debit-positive, as balances are).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConstraintBody {
    pub commodity: CommodityCode,
    #[serde(default)]
    pub min: Option<Decimal>,
    #[serde(default)]
    pub max: Option<Decimal>,
}

impl AccountBody {
    pub fn into_account(self, precisions: &Precisions) -> Result<Account, ApiError> {
        let account_type = match self.account_type {
            Some(kind) => kind,
            None => AccountType::infer(&self.name).ok_or_else(|| {
                ApiError::new(
                    kiln::http::StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid",
                    format!(
                        "type: {} does not start with Assets, Liabilities, Equity, Income or \
                         Expenses; give the type",
                        self.name
                    ),
                )
            })?,
        };
        let mut account = Account::new(self.name, account_type, self.opened);
        account.commodities = self.commodities;
        for constraint in self.constraints {
            let precision = precisions
                .get(&constraint.commodity)
                .copied()
                .ok_or_else(|| {
                    ApiError::new(
                        kiln::http::StatusCode::UNPROCESSABLE_ENTITY,
                        "unknown_commodity",
                        format!("constraints: no commodity {}", constraint.commodity),
                    )
                })?;
            let minor = |bound: Option<Decimal>| -> Result<Option<Amount>, ApiError> {
                bound
                    .map(|d| d.to_minor_units(precision))
                    .transpose()
                    .map_err(|error| {
                        ApiError::new(
                            kiln::http::StatusCode::UNPROCESSABLE_ENTITY,
                            "precision",
                            format!("constraints: {error}"),
                        )
                    })
            };
            account.constraints.push(BalanceConstraint {
                min: minor(constraint.min)?,
                max: minor(constraint.max)?,
                commodity: constraint.commodity,
            });
        }
        Ok(account)
    }
}

/// An account in responses.
#[derive(Clone, Debug, Serialize)]
pub struct AccountView {
    pub name: AccountName,
    #[serde(rename = "type")]
    pub account_type: AccountType,
    pub opened: Date,
    pub closed: Option<Date>,
    pub commodities: Vec<CommodityCode>,
    pub constraints: Vec<ConstraintView>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ConstraintView {
    pub commodity: CommodityCode,
    pub min: Option<String>,
    pub max: Option<String>,
}

impl AccountView {
    pub fn new(account: Account, precisions: &Precisions) -> AccountView {
        let constraints = account
            .constraints
            .iter()
            .map(|c| {
                let precision = precisions.get(&c.commodity).copied().unwrap_or(0);
                ConstraintView {
                    commodity: c.commodity.clone(),
                    min: c.min.map(|a| a.format(precision)),
                    max: c.max.map(|a| a.format(precision)),
                }
            })
            .collect();
        AccountView {
            name: account.name,
            account_type: account.account_type,
            opened: account.opened,
            closed: account.closed,
            commodities: account.commodities,
            constraints,
        }
    }
}

/// An entry in responses.
#[derive(Clone, Debug, Serialize)]
pub struct EntryView {
    pub id: EntryId,
    pub date: Date,
    pub description: String,
    pub payee: Option<String>,
    pub tags: BTreeSet<String>,
    pub metadata: BTreeMap<String, String>,
    pub postings: Vec<PostingView>,
    /// `pending`, `posted`, `voided` or `expired` for a two-phase entry; absent otherwise.
    pub status: Option<&'static str>,
    pub expires_at: Option<i64>,
    pub reverses: Option<EntryId>,
    pub posts: Option<EntryId>,
    pub reversed_by: Option<EntryId>,
}

#[derive(Clone, Debug, Serialize)]
pub struct PostingView {
    pub account: AccountName,
    #[serde(flatten)]
    pub money: Money,
}

impl EntryView {
    pub fn new(stored: StoredEntry, precisions: &Precisions) -> EntryView {
        let entry = stored.entry;
        let (reverses, posts) = match entry.link {
            Some(EntryLink::Reverses(id)) => (Some(id), None),
            Some(EntryLink::Posts(id)) => (None, Some(id)),
            None => (None, None),
        };
        EntryView {
            id: stored.id,
            date: entry.date,
            description: entry.description,
            payee: entry.payee,
            tags: entry.tags,
            metadata: entry.metadata,
            postings: entry
                .postings
                .into_iter()
                .map(|p| PostingView {
                    money: Money::new(&p.commodity, p.amount, precisions),
                    account: p.account,
                })
                .collect(),
            status: stored.status.map(|s| s.as_str()),
            expires_at: entry.pending.and_then(|p| p.expires_at).map(|t| t.0),
            reverses,
            posts,
            reversed_by: stored.reversed_by,
        }
    }
}

/// A page cursor's text: `DATE.ID` (opaque to clients: they pass `next` back as `after`).
pub fn cursor_text(cursor: EntryCursor) -> String {
    format!("{}.{}", cursor.date, cursor.id.0)
}

pub fn parse_cursor(text: &str) -> Result<EntryCursor, ApiError> {
    let bad = || ApiError::bad_request(format!("after: not a cursor from `next`: {text:?}"));
    let (date, id) = text.split_once('.').ok_or_else(bad)?;
    Ok(EntryCursor {
        date: Date::parse(date).map_err(|_| bad())?,
        id: EntryId(id.parse().map_err(|_| bad())?),
    })
}

/// One balance line in responses.
#[derive(Clone, Debug, Serialize)]
pub struct BalanceView {
    pub account: AccountName,
    #[serde(flatten)]
    pub money: Money,
}

impl BalanceView {
    pub fn new(line: BalanceLine, precisions: &Precisions) -> BalanceView {
        BalanceView {
            money: Money::new(&line.commodity, line.balance, precisions),
            account: line.account,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let cursor = EntryCursor {
            date: Date::parse("2024-02-29").unwrap(),
            id: EntryId(77),
        };
        assert_eq!(cursor_text(cursor), "2024-02-29.77");
        assert_eq!(parse_cursor("2024-02-29.77").unwrap(), cursor);
        for bad in ["", "2024-02-29", "2024-02-30.1", "2024-02-29.x", ".5"] {
            assert_eq!(parse_cursor(bad).unwrap_err().code, "bad_request", "{bad}");
        }
    }

    #[test]
    fn bodies_are_strict_about_fields_and_money_types() {
        let good = r#"{"date":"2024-01-02","description":"x","postings":[
            {"account":"Assets:Bank","commodity":"USD","amount":"1.00"},
            {"account":"Income:Sales","commodity":"USD","amount":"-1.00"}]}"#;
        assert!(sonic_rs::from_str::<EntryBody>(good).is_ok());
        let typo = good.replace("\"description\"", "\"descripton\"");
        assert!(sonic_rs::from_str::<EntryBody>(&typo).is_err());
        let float = good.replace("\"1.00\"", "1.00");
        assert!(sonic_rs::from_str::<EntryBody>(&float).is_err());
    }

    #[test]
    fn header_and_body_keys_must_agree() {
        let body: EntryBody = sonic_rs::from_str(
            r#"{"date":"2024-01-02","description":"x","postings":[],"idempotency_key":"a"}"#,
        )
        .unwrap();
        assert!(body.clone().into_request(Some("a")).is_ok());
        assert_eq!(
            body.clone().into_request(Some("b")).unwrap_err().code,
            "bad_request"
        );
        let request = body.into_request(None).unwrap();
        assert_eq!(request.key.unwrap().as_str(), "a");
    }
}
