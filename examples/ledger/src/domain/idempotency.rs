//! Idempotency keys with TigerBeetle's semantics, as a pure comparison of a request with the
//! record its key left behind:
//! - a new key: do the work and record its outcome, success or failure;
//! - the same key and the same body: the recorded outcome again (the original entry, or the
//!   original error: a key whose first attempt failed keeps failing the same way);
//! - the same key and a different body: `idempotency_conflict`, naming the first field that
//!   differs.
//!
//! Bodies are compared by value (`12.5` and `12.50` are the same amount). Recording is
//! `store/`. Tests at the bottom.

use super::EntryId;
use super::entry::NewEntry;
use super::error::EntryError;
use crate::limits::IDEMPOTENCY_KEY_BYTES_MAX;
use serde::{Deserialize, Serialize};

/// A client-chosen key. Invariant: 1 to `IDEMPOTENCY_KEY_BYTES_MAX` bytes of visible ASCII.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// Checks `key` against the rules of the type.
    pub fn new(key: &str) -> Result<IdempotencyKey, EntryError> {
        let valid = !key.is_empty()
            && key.len() <= IDEMPOTENCY_KEY_BYTES_MAX
            && key.bytes().all(|b| b.is_ascii_graphic());
        if valid {
            Ok(IdempotencyKey(key.to_owned()))
        } else {
            Err(EntryError::Invalid {
                field: "idempotency_key".into(),
                reason: "1 to 128 bytes of visible ASCII".into(),
            })
        }
    }

    /// The key as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for IdempotencyKey {
    type Error = EntryError;
    fn try_from(key: String) -> Result<IdempotencyKey, EntryError> {
        IdempotencyKey::new(&key)
    }
}

impl From<IdempotencyKey> for String {
    fn from(key: IdempotencyKey) -> String {
        key.0
    }
}

/// What a key's first attempt left behind.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdempotencyRecord {
    pub body: NewEntry,
    pub outcome: Result<EntryId, EntryError>,
}

/// What to do with a request that carries a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Replay {
    /// The key is new: do the work, then record it.
    Fresh,
    /// The key was used with this body: answer its outcome again, write nothing.
    Repeat(Result<EntryId, EntryError>),
}

/// Compares `body` with the key's record, if there is one.
pub fn replay(record: Option<&IdempotencyRecord>, body: &NewEntry) -> Result<Replay, EntryError> {
    let Some(record) = record else {
        return Ok(Replay::Fresh);
    };
    match first_difference(&record.body, body) {
        Some(field) => Err(EntryError::IdempotencyConflict { field }),
        None => Ok(Replay::Repeat(record.outcome.clone())),
    }
}

/// The first field (in declaration order, postings by index) whose value differs, or `None`.
pub fn first_difference(first: &NewEntry, second: &NewEntry) -> Option<String> {
    let top = [
        ("date", first.date == second.date),
        ("description", first.description == second.description),
        ("payee", first.payee == second.payee),
        ("tags", first.tags == second.tags),
        ("metadata", first.metadata == second.metadata),
    ];
    if let Some((field, _)) = top.into_iter().find(|(_, same)| !same) {
        return Some(field.to_owned());
    }
    for (index, (a, b)) in first.postings.iter().zip(&second.postings).enumerate() {
        let fields = [
            ("account", a.account == b.account),
            ("commodity", a.commodity == b.commodity),
            ("amount", a.amount.same_value(b.amount)),
        ];
        if let Some((field, _)) = fields.into_iter().find(|(_, same)| !same) {
            return Some(format!("postings[{index}].{field}"));
        }
    }
    if first.postings.len() != second.postings.len() {
        return Some("postings".to_owned());
    }
    (first.pending != second.pending).then(|| "pending".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::amount::Decimal;
    use crate::domain::entry::tests::{day, groceries, posting};
    use crate::domain::pending::PendingTerms;

    fn record(outcome: Result<EntryId, EntryError>) -> IdempotencyRecord {
        IdempotencyRecord {
            body: groceries(),
            outcome,
        }
    }

    #[test]
    fn a_new_key_is_fresh() {
        assert_eq!(replay(None, &groceries()), Ok(Replay::Fresh));
    }

    #[test]
    fn the_same_body_returns_the_original_result() {
        let first = record(Ok(EntryId(12)));
        assert_eq!(
            replay(Some(&first), &groceries()),
            Ok(Replay::Repeat(Ok(EntryId(12))))
        );
    }

    #[test]
    fn the_same_amount_written_differently_is_the_same_body() {
        let mut body = groceries();
        body.postings[0].amount = Decimal::parse("12.5").expect("amount");
        assert_eq!(first_difference(&groceries(), &body), None);
    }

    #[test]
    fn a_different_body_is_a_conflict_naming_the_first_field() {
        let first = record(Ok(EntryId(12)));
        let conflict = |change: &dyn Fn(&mut NewEntry)| {
            let mut body = groceries();
            change(&mut body);
            match replay(Some(&first), &body) {
                Err(EntryError::IdempotencyConflict { field }) => field,
                other => format!("{other:?}"),
            }
        };
        assert_eq!(conflict(&|b| b.date = day("2024-03-02")), "date");
        assert_eq!(conflict(&|b| b.description.push('!')), "description");
        assert_eq!(conflict(&|b| b.payee = None), "payee");
        assert_eq!(conflict(&|b| b.tags.clear()), "tags");
        assert_eq!(conflict(&|b| b.metadata.clear()), "metadata");
        assert_eq!(
            conflict(&|b| b.postings[1] = posting("Assets:Cash", "USD", "-12.50")),
            "postings[1].account"
        );
        assert_eq!(
            conflict(&|b| b.postings[0].amount = Decimal::parse("12.51").expect("amount")),
            "postings[0].amount"
        );
        assert_eq!(
            conflict(&|b| b.postings.push(posting("Assets:Cash", "USD", "0"))),
            "postings"
        );
        assert_eq!(
            conflict(&|b| b.pending = Some(PendingTerms::default())),
            "pending"
        );
        assert_eq!(
            conflict(&|b| {
                b.date = day("2025-01-01");
                b.description.clear();
            }),
            "date",
            "the first differing field is named"
        );
    }

    #[test]
    fn a_key_that_failed_keeps_failing_the_same_way() {
        let failed = record(Err(EntryError::SinglePosting));
        assert_eq!(
            replay(Some(&failed), &groceries()),
            Ok(Replay::Repeat(Err(EntryError::SinglePosting)))
        );
    }

    #[test]
    fn key_length_limit() {
        assert!(IdempotencyKey::new(&"k".repeat(IDEMPOTENCY_KEY_BYTES_MAX)).is_ok());
        assert!(IdempotencyKey::new(&"k".repeat(IDEMPOTENCY_KEY_BYTES_MAX + 1)).is_err());
        assert!(IdempotencyKey::new("").is_err());
        assert!(IdempotencyKey::new("has space").is_err());
    }
}
