//! `EntryError`: every reason the engine refuses a write, each with a stable code.
//!
//! The code (`unbalanced`, `unknown_account`, ...) is what API clients match on and what an
//! idempotency record replays, so it never changes once released; the fields say where and
//! why. The type serializes with the code as its tag, so a stored failure reads back as the
//! same typed error. No HTTP status here (that mapping belongs to the API). Tests at the
//! bottom.

use super::EntryId;
use super::account::AccountName;
use super::amount::{Amount, CommodityCode};
use super::pending::PendingStatus;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Why an entry, a batch, a reversal or a pending transition was refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "snake_case")]
#[non_exhaustive]
pub enum EntryError {
    /// A field is out of its limits (too long, too many tags...).
    Invalid { field: String, reason: String },
    /// No postings at all.
    Empty,
    /// One posting: nothing to balance it against.
    SinglePosting,
    /// More than `POSTINGS_PER_ENTRY_MAX` postings.
    TooManyPostings { count: usize },
    /// The postings in `commodity` sum to `sum`, not zero.
    Unbalanced {
        commodity: CommodityCode,
        sum: Amount,
    },
    /// The tenant has no account of this name.
    UnknownAccount {
        posting: usize,
        account: AccountName,
    },
    /// The tenant has no commodity of this code.
    UnknownCommodity {
        posting: usize,
        commodity: CommodityCode,
    },
    /// The entry is dated before the account opened.
    AccountNotOpen {
        posting: usize,
        account: AccountName,
    },
    /// The entry is dated after the account closed.
    ClosedAccount {
        posting: usize,
        account: AccountName,
    },
    /// The account does not hold this commodity.
    CommodityNotAllowed {
        posting: usize,
        account: AccountName,
        commodity: CommodityCode,
    },
    /// The amount has more digits than the commodity's precision.
    Precision { posting: usize, precision: u8 },
    /// An amount or a balance would not fit in an `i64` of minor units.
    Overflow,
    /// The write would take an account's balance past a constraint.
    Constraint {
        account: AccountName,
        commodity: CommodityCode,
        balance: Amount,
        bound: Amount,
    },
    /// No entry of this id in the tenant's books.
    EntryNotFound { entry: EntryId },
    /// The entry was already reversed (a correction is made once).
    AlreadyReversed { entry: EntryId },
    /// Only posted entries are reversed; a pending one is voided instead.
    NotReversible { entry: EntryId },
    /// A post, void or expiry of an entry that is not (or no longer) pending.
    NotPending {
        entry: EntryId,
        status: PendingStatus,
    },
    /// A post or void after the pending entry's expiry.
    PendingExpired { entry: EntryId },
    /// An expiry before the pending entry's expiry time (or of one that never expires).
    NotExpired { entry: EntryId },
    /// A partial post must give one amount per posting of the pending entry.
    PartialShape { expected: usize, given: usize },
    /// A partial amount is larger than, or of the other sign from, the pending one.
    PartialExceeds { posting: usize },
    /// The same idempotency key was used with a different body.
    IdempotencyConflict { field: String },
    /// Another entry of a linked batch failed, so this one was not written.
    LinkedFailed { failed: usize },
    /// A batch with no entries.
    EmptyBatch,
    /// A batch with more than `ENTRIES_PER_BATCH_MAX` entries.
    BatchTooLarge { count: usize },
}

impl EntryError {
    /// An `Invalid` error for `field`.
    pub fn invalid(field: &str, reason: &str) -> EntryError {
        EntryError::Invalid {
            field: field.to_owned(),
            reason: reason.to_owned(),
        }
    }

    /// The stable code clients match on (the same string as the serialized tag).
    pub fn code(&self) -> &'static str {
        match self {
            EntryError::Invalid { .. } => "invalid",
            EntryError::Empty => "empty",
            EntryError::SinglePosting => "single_posting",
            EntryError::TooManyPostings { .. } => "too_many_postings",
            EntryError::Unbalanced { .. } => "unbalanced",
            EntryError::UnknownAccount { .. } => "unknown_account",
            EntryError::UnknownCommodity { .. } => "unknown_commodity",
            EntryError::AccountNotOpen { .. } => "account_not_open",
            EntryError::ClosedAccount { .. } => "closed_account",
            EntryError::CommodityNotAllowed { .. } => "commodity_not_allowed",
            EntryError::Precision { .. } => "precision",
            EntryError::Overflow => "overflow",
            EntryError::Constraint { .. } => "constraint",
            EntryError::EntryNotFound { .. } => "entry_not_found",
            EntryError::AlreadyReversed { .. } => "already_reversed",
            EntryError::NotReversible { .. } => "not_reversible",
            EntryError::NotPending { .. } => "not_pending",
            EntryError::PendingExpired { .. } => "pending_expired",
            EntryError::NotExpired { .. } => "not_expired",
            EntryError::PartialShape { .. } => "partial_shape",
            EntryError::PartialExceeds { .. } => "partial_exceeds",
            EntryError::IdempotencyConflict { .. } => "idempotency_conflict",
            EntryError::LinkedFailed { .. } => "linked_failed",
            EntryError::EmptyBatch => "empty_batch",
            EntryError::BatchTooLarge { .. } => "batch_too_large",
        }
    }
}

impl fmt::Display for EntryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.code())?;
        match self {
            EntryError::Invalid { field, reason } => write!(f, "{field}: {reason}"),
            EntryError::Empty => f.write_str("an entry has postings"),
            EntryError::SinglePosting => f.write_str("an entry has at least two postings"),
            EntryError::TooManyPostings { count } => {
                write!(f, "{count} postings is more than the limit")
            }
            EntryError::Unbalanced { commodity, sum } => {
                write!(
                    f,
                    "postings in {commodity} sum to {} minor units, not zero",
                    sum.0
                )
            }
            EntryError::UnknownAccount { posting, account } => {
                write!(f, "posting {posting}: no account {account}")
            }
            EntryError::UnknownCommodity { posting, commodity } => {
                write!(f, "posting {posting}: no commodity {commodity}")
            }
            EntryError::AccountNotOpen { posting, account } => {
                write!(
                    f,
                    "posting {posting}: {account} is not open yet on this date"
                )
            }
            EntryError::ClosedAccount { posting, account } => {
                write!(f, "posting {posting}: {account} is closed")
            }
            EntryError::CommodityNotAllowed {
                posting,
                account,
                commodity,
            } => {
                write!(f, "posting {posting}: {account} does not hold {commodity}")
            }
            EntryError::Precision { posting, precision } => {
                write!(
                    f,
                    "posting {posting}: more than {precision} digits after the decimal mark"
                )
            }
            EntryError::Overflow => f.write_str("an amount or balance is out of range"),
            EntryError::Constraint {
                account,
                commodity,
                balance,
                bound,
            } => write!(
                f,
                "{account} would reach {} minor units of {commodity}, past its bound {}",
                balance.0, bound.0
            ),
            EntryError::EntryNotFound { entry } => write!(f, "no entry {}", entry.0),
            EntryError::AlreadyReversed { entry } => {
                write!(f, "entry {} is already reversed", entry.0)
            }
            EntryError::NotReversible { entry } => {
                write!(f, "entry {} is pending: void it instead", entry.0)
            }
            EntryError::NotPending { entry, status } => {
                write!(f, "entry {} is {}, not pending", entry.0, status.as_str())
            }
            EntryError::PendingExpired { entry } => {
                write!(f, "pending entry {} has expired", entry.0)
            }
            EntryError::NotExpired { entry } => {
                write!(f, "pending entry {} has not expired", entry.0)
            }
            EntryError::PartialShape { expected, given } => {
                write!(f, "{given} amounts given for {expected} postings")
            }
            EntryError::PartialExceeds { posting } => {
                write!(
                    f,
                    "posting {posting}: more than, or the other sign from, the pending amount"
                )
            }
            EntryError::IdempotencyConflict { field } => {
                write!(f, "this idempotency key was used with a different {field}")
            }
            EntryError::LinkedFailed { failed } => {
                write!(f, "entry {failed} of the linked batch failed")
            }
            EntryError::EmptyBatch => f.write_str("a batch has entries"),
            EntryError::BatchTooLarge { count } => {
                write!(f, "{count} entries is more than the batch limit")
            }
        }
    }
}

impl std::error::Error for EntryError {}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples() -> Vec<EntryError> {
        let account = AccountName::new("Assets:Bank").expect("name");
        let commodity = CommodityCode::new("USD").expect("code");
        let entry = EntryId(7);
        vec![
            EntryError::Invalid {
                field: "description".into(),
                reason: "too long".into(),
            },
            EntryError::Empty,
            EntryError::SinglePosting,
            EntryError::TooManyPostings { count: 300 },
            EntryError::Unbalanced {
                commodity: commodity.clone(),
                sum: Amount(1),
            },
            EntryError::UnknownAccount {
                posting: 0,
                account: account.clone(),
            },
            EntryError::UnknownCommodity {
                posting: 0,
                commodity: commodity.clone(),
            },
            EntryError::AccountNotOpen {
                posting: 0,
                account: account.clone(),
            },
            EntryError::ClosedAccount {
                posting: 0,
                account: account.clone(),
            },
            EntryError::CommodityNotAllowed {
                posting: 0,
                account: account.clone(),
                commodity: commodity.clone(),
            },
            EntryError::Precision {
                posting: 0,
                precision: 2,
            },
            EntryError::Overflow,
            EntryError::Constraint {
                account,
                commodity,
                balance: Amount(-1),
                bound: Amount(0),
            },
            EntryError::EntryNotFound { entry },
            EntryError::AlreadyReversed { entry },
            EntryError::NotReversible { entry },
            EntryError::NotPending {
                entry,
                status: PendingStatus::Voided,
            },
            EntryError::PendingExpired { entry },
            EntryError::NotExpired { entry },
            EntryError::PartialShape {
                expected: 2,
                given: 1,
            },
            EntryError::PartialExceeds { posting: 1 },
            EntryError::IdempotencyConflict {
                field: "date".into(),
            },
            EntryError::LinkedFailed { failed: 3 },
            EntryError::EmptyBatch,
            EntryError::BatchTooLarge { count: 9_000 },
        ]
    }

    #[test]
    fn codes_are_unique_and_are_the_serialized_tag() {
        let errors = samples();
        let mut codes: Vec<&str> = errors.iter().map(EntryError::code).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), errors.len());
        for error in errors {
            let json = sonic_rs::to_string(&error).expect("serializes");
            assert!(
                json.contains(&format!("\"code\":\"{}\"", error.code())),
                "{json}"
            );
            let back: EntryError = sonic_rs::from_str(&json).expect("reads back");
            assert_eq!(back, error);
            assert!(error.to_string().starts_with(error.code()));
        }
    }
}
