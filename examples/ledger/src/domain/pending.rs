//! Two-phase (pending) entries as pure state transitions: a pending entry reserves its
//! amounts; later it is posted (fully, or in part with the rest released), voided, or it
//! expires. Each transition happens at most once, from `Pending` only.
//!
//! The rules follow TigerBeetle's two-phase transfers: a post or void after the expiry time
//! fails (`pending_expired`); an expiry before it fails (`not_expired`); a partial post gives
//! one amount per posting, each of the same sign and no larger than the pending one, and the
//! result must still balance. Reserving and releasing balances is `constraint::BalanceState`;
//! recording the transition is `store/`. Tests at the bottom.

use super::EntryId;
use super::amount::Amount;
use super::date::{Date, Timestamp};
use super::entry::{Entry, EntryLink, Posting};
use super::error::EntryError;
use serde::{Deserialize, Serialize};

/// The terms of a pending entry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingTerms {
    /// When it expires if neither posted nor voided; `None`: never.
    pub expires_at: Option<Timestamp>,
}

/// Where a pending entry is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PendingStatus {
    Pending,
    Posted,
    Voided,
    Expired,
}

impl PendingStatus {
    /// The stable lowercase name, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            PendingStatus::Pending => "pending",
            PendingStatus::Posted => "posted",
            PendingStatus::Voided => "voided",
            PendingStatus::Expired => "expired",
        }
    }

    /// The inverse of `as_str`.
    pub fn from_str_exact(text: &str) -> Option<PendingStatus> {
        [
            PendingStatus::Pending,
            PendingStatus::Posted,
            PendingStatus::Voided,
            PendingStatus::Expired,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}

/// A pending entry as a transition sees it.
#[derive(Clone, Copy, Debug)]
pub struct PendingEntry<'a> {
    pub id: EntryId,
    pub entry: &'a Entry,
    pub status: PendingStatus,
}

/// How much of a pending entry to post.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PostAmounts {
    /// Every posting as reserved.
    Full,
    /// One amount per posting, in minor units, in posting order.
    Partial(Vec<Amount>),
}

impl PendingEntry<'_> {
    fn terms(&self) -> PendingTerms {
        self.entry.pending.unwrap_or_default()
    }

    fn expired_at(&self, now: Timestamp) -> bool {
        self.terms().expires_at.is_some_and(|at| at <= now)
    }

    fn require_open(&self, now: Timestamp) -> Result<(), EntryError> {
        if self.entry.pending.is_none() || self.status != PendingStatus::Pending {
            let status = if self.entry.pending.is_none() {
                PendingStatus::Posted
            } else {
                self.status
            };
            return Err(EntryError::NotPending {
                entry: self.id,
                status,
            });
        }
        if self.expired_at(now) {
            return Err(EntryError::PendingExpired { entry: self.id });
        }
        Ok(())
    }

    /// The entry that posts this pending one on `date` (its own validation, `check_postings`,
    /// still applies: balance, accounts open on `date`). The whole reservation is released.
    pub fn post(
        &self,
        amounts: &PostAmounts,
        date: Date,
        now: Timestamp,
    ) -> Result<Entry, EntryError> {
        self.require_open(now)?;
        let postings = match amounts {
            PostAmounts::Full => self.entry.postings.clone(),
            PostAmounts::Partial(partial) => partial_postings(&self.entry.postings, partial)?,
        };
        Ok(Entry {
            date,
            postings,
            pending: None,
            link: Some(EntryLink::Posts(self.id)),
            ..self.entry.clone()
        })
    }

    /// Voids it: nothing posts, the reservation is released.
    pub fn void(&self, now: Timestamp) -> Result<PendingStatus, EntryError> {
        self.require_open(now)?;
        Ok(PendingStatus::Voided)
    }

    /// Expires it (at or after its expiry time): the reservation is released.
    pub fn expire(&self, now: Timestamp) -> Result<PendingStatus, EntryError> {
        if self.entry.pending.is_none() || self.status != PendingStatus::Pending {
            return self.require_open(now).map(|()| PendingStatus::Expired);
        }
        if !self.expired_at(now) {
            return Err(EntryError::NotExpired { entry: self.id });
        }
        Ok(PendingStatus::Expired)
    }
}

fn partial_postings(reserved: &[Posting], amounts: &[Amount]) -> Result<Vec<Posting>, EntryError> {
    if amounts.len() != reserved.len() {
        return Err(EntryError::PartialShape {
            expected: reserved.len(),
            given: amounts.len(),
        });
    }
    reserved
        .iter()
        .zip(amounts)
        .enumerate()
        .map(|(index, (posting, &amount))| {
            let same_sign = amount.0 == 0 || amount.0.signum() == posting.amount.0.signum();
            if !same_sign || amount.0.unsigned_abs() > posting.amount.0.unsigned_abs() {
                return Err(EntryError::PartialExceeds { posting: index });
            }
            Ok(Posting {
                amount,
                ..posting.clone()
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::entry::tests::{chart, day, groceries};
    use crate::domain::entry::{check_postings, validate};

    const NOW: Timestamp = Timestamp(1_700_000_000);

    fn reserved(expires_at: Option<Timestamp>) -> Entry {
        let mut new = groceries();
        new.pending = Some(PendingTerms { expires_at });
        validate(&new, &chart()).expect("valid")
    }

    fn pending(entry: &Entry) -> PendingEntry<'_> {
        PendingEntry {
            id: EntryId(3),
            entry,
            status: PendingStatus::Pending,
        }
    }

    #[test]
    fn a_full_post_posts_every_reserved_amount() {
        let entry = reserved(None);
        let posted = pending(&entry)
            .post(&PostAmounts::Full, day("2024-03-02"), NOW)
            .expect("posts");
        assert_eq!(posted.postings, entry.postings);
        assert_eq!(posted.pending, None);
        assert_eq!(posted.link, Some(EntryLink::Posts(EntryId(3))));
        assert_eq!(posted.date, day("2024-03-02"));
    }

    #[test]
    fn a_partial_post_posts_less_and_must_still_balance() {
        let entry = reserved(None);
        let part = PostAmounts::Partial(vec![Amount(1000), Amount(-1000)]);
        let posted = pending(&entry)
            .post(&part, day("2024-03-02"), NOW)
            .expect("posts");
        assert_eq!(
            posted
                .postings
                .iter()
                .map(|p| p.amount.0)
                .collect::<Vec<_>>(),
            [1000, -1000]
        );
        let lopsided = PostAmounts::Partial(vec![Amount(1000), Amount(-900)]);
        let posted = pending(&entry)
            .post(&lopsided, day("2024-03-02"), NOW)
            .expect("shape is fine");
        assert_eq!(
            check_postings(&posted, &chart()).map_err(|e| e.code()),
            Err("unbalanced")
        );
    }

    #[test]
    fn a_partial_post_may_not_exceed_or_flip_the_reservation() {
        let entry = reserved(None);
        let post = |amounts: Vec<i64>| {
            let amounts = PostAmounts::Partial(amounts.into_iter().map(Amount).collect());
            pending(&entry).post(&amounts, day("2024-03-02"), NOW)
        };
        assert_eq!(
            post(vec![1251, -1251]),
            Err(EntryError::PartialExceeds { posting: 0 })
        );
        assert_eq!(
            post(vec![-10, 10]),
            Err(EntryError::PartialExceeds { posting: 0 })
        );
        assert_eq!(
            post(vec![100]),
            Err(EntryError::PartialShape {
                expected: 2,
                given: 1
            })
        );
        assert!(
            post(vec![0, 0]).is_ok(),
            "posting nothing releases everything"
        );
    }

    #[test]
    fn void_releases_and_happens_once() {
        let entry = reserved(None);
        assert_eq!(pending(&entry).void(NOW), Ok(PendingStatus::Voided));
        for status in [
            PendingStatus::Voided,
            PendingStatus::Posted,
            PendingStatus::Expired,
        ] {
            let done = PendingEntry {
                status,
                ..pending(&entry)
            };
            assert_eq!(
                done.void(NOW),
                Err(EntryError::NotPending {
                    entry: EntryId(3),
                    status
                })
            );
            assert_eq!(
                done.post(&PostAmounts::Full, day("2024-03-02"), NOW),
                Err(EntryError::NotPending {
                    entry: EntryId(3),
                    status
                })
            );
            assert!(done.expire(NOW).is_err());
        }
    }

    #[test]
    fn expiry_happens_at_its_time_and_blocks_post_and_void() {
        let entry = reserved(Some(NOW));
        let before = Timestamp(NOW.0 - 1);
        assert_eq!(
            pending(&entry).expire(before),
            Err(EntryError::NotExpired { entry: EntryId(3) })
        );
        assert!(
            pending(&entry)
                .post(&PostAmounts::Full, day("2024-03-02"), before)
                .is_ok()
        );
        assert_eq!(pending(&entry).expire(NOW), Ok(PendingStatus::Expired));
        assert_eq!(
            pending(&entry).void(NOW),
            Err(EntryError::PendingExpired { entry: EntryId(3) })
        );
        assert_eq!(
            pending(&entry).post(&PostAmounts::Full, day("2024-03-02"), NOW),
            Err(EntryError::PendingExpired { entry: EntryId(3) })
        );
        let forever = reserved(None);
        assert_eq!(
            pending(&forever).expire(Timestamp(i64::MAX)),
            Err(EntryError::NotExpired { entry: EntryId(3) })
        );
    }

    #[test]
    fn an_entry_that_was_never_pending_has_no_transitions() {
        let entry = validate(&groceries(), &chart()).expect("valid");
        let posted = pending(&entry);
        assert_eq!(posted.void(NOW).map_err(|e| e.code()), Err("not_pending"));
        assert_eq!(posted.expire(NOW).map_err(|e| e.code()), Err("not_pending"));
    }

    #[test]
    fn statuses_round_trip_their_names() {
        for status in [
            PendingStatus::Pending,
            PendingStatus::Posted,
            PendingStatus::Voided,
            PendingStatus::Expired,
        ] {
            assert_eq!(PendingStatus::from_str_exact(status.as_str()), Some(status));
        }
    }
}
