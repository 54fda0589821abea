//! Balance constraints (`this bank account may not go below zero`, `this card may not owe
//! more than 5,000`) and the pure check of a change against them.
//!
//! A balance here is an account's total in one commodity over all dates (constraints guard
//! what the account holds now, not what it held on a past day). Pending reservations count
//! against a constraint the way TigerBeetle counts pending amounts: a pending debit may raise
//! the balance and a pending credit may lower it, so the check uses the worst case of each.
//! Only a bound the change moves toward is checked: a change that brings an account back
//! towards its limits is never refused. The store runs this check in the transaction of the
//! write. Tests at the bottom.

use super::amount::{Amount, AmountError, CommodityCode};
use serde::{Deserialize, Serialize};

/// Bounds on one account's balance in one commodity (debits positive, credits negative: an
/// asset that may not go below zero has `min: Some(0)`; a liability that may not owe more than
/// 5,000.00 has `min: Some(-500000)`). Invariant: `min <= max` when both are set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BalanceConstraint {
    pub commodity: CommodityCode,
    pub min: Option<Amount>,
    pub max: Option<Amount>,
}

/// What an account holds in one commodity: posted, plus the pending reservations.
/// Invariant: `pending_debits >= 0 >= pending_credits`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BalanceState {
    pub posted: Amount,
    /// The sum of the positive amounts of pending postings.
    pub pending_debits: Amount,
    /// The sum of the negative amounts of pending postings.
    pub pending_credits: Amount,
}

/// Whether a change is posted or reserves (a pending entry).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeKind {
    Posted,
    Pending,
}

/// A change would take a balance past a bound.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConstraintError {
    /// The worst-case balance after the change would be below `min` or above `max`.
    Violated {
        /// The worst-case balance the change would lead to.
        balance: Amount,
        /// The bound it would cross.
        bound: Amount,
    },
    /// The balance would not fit in an `i64`.
    Overflow,
}

impl From<AmountError> for ConstraintError {
    fn from(_: AmountError) -> ConstraintError {
        ConstraintError::Overflow
    }
}

impl BalanceState {
    /// The lowest the balance can become if every pending credit posts.
    pub fn lowest(self) -> Result<Amount, AmountError> {
        self.posted.checked_add(self.pending_credits)
    }

    /// The highest the balance can become if every pending debit posts.
    pub fn highest(self) -> Result<Amount, AmountError> {
        self.posted.checked_add(self.pending_debits)
    }

    /// The state after `delta` is posted or reserved.
    pub fn apply(self, delta: Amount, kind: ChangeKind) -> Result<BalanceState, AmountError> {
        let mut next = self;
        match kind {
            ChangeKind::Posted => next.posted = next.posted.checked_add(delta)?,
            ChangeKind::Pending if delta.0 >= 0 => {
                next.pending_debits = next.pending_debits.checked_add(delta)?;
            }
            ChangeKind::Pending => {
                next.pending_credits = next.pending_credits.checked_add(delta)?
            }
        }
        Ok(next)
    }

    /// The state after a reservation of `delta` is released (posted in part, voided or
    /// expired): the inverse of `apply(delta, Pending)`.
    pub fn release(self, delta: Amount) -> Result<BalanceState, AmountError> {
        let mut next = self;
        if delta.0 >= 0 {
            next.pending_debits = next.pending_debits.checked_sub(delta)?;
        } else {
            next.pending_credits = next.pending_credits.checked_sub(delta)?;
        }
        Ok(next)
    }
}

impl BalanceConstraint {
    /// Checks the move from `before` to `after` against the bounds the move goes toward.
    pub fn check(&self, before: BalanceState, after: BalanceState) -> Result<(), ConstraintError> {
        let (low_before, low_after) = (before.lowest()?, after.lowest()?);
        let (high_before, high_after) = (before.highest()?, after.highest()?);
        if let Some(min) = self.min
            && low_after < low_before
            && low_after < min
        {
            return Err(ConstraintError::Violated {
                balance: low_after,
                bound: min,
            });
        }
        if let Some(max) = self.max
            && high_after > high_before
            && high_after > max
        {
            return Err(ConstraintError::Violated {
                balance: high_after,
                bound: max,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd() -> CommodityCode {
        CommodityCode::new("USD").expect("USD")
    }

    fn posted(cents: i64) -> BalanceState {
        BalanceState {
            posted: Amount(cents),
            ..BalanceState::default()
        }
    }

    fn not_below_zero() -> BalanceConstraint {
        BalanceConstraint {
            commodity: usd(),
            min: Some(Amount(0)),
            max: None,
        }
    }

    #[test]
    fn a_bank_account_may_not_go_below_zero() {
        let rule = not_below_zero();
        let before = posted(100);
        assert_eq!(
            rule.check(
                before,
                before
                    .apply(Amount(-100), ChangeKind::Posted)
                    .expect("fits")
            ),
            Ok(())
        );
        let after = before
            .apply(Amount(-101), ChangeKind::Posted)
            .expect("fits");
        assert_eq!(
            rule.check(before, after),
            Err(ConstraintError::Violated {
                balance: Amount(-1),
                bound: Amount(0)
            })
        );
    }

    #[test]
    fn a_liability_may_not_exceed_its_limit() {
        let rule = BalanceConstraint {
            commodity: usd(),
            min: Some(Amount(-500_000)),
            max: None,
        };
        let before = posted(-499_999);
        let after = before.apply(Amount(-2), ChangeKind::Posted).expect("fits");
        assert!(matches!(
            rule.check(before, after),
            Err(ConstraintError::Violated { .. })
        ));
    }

    #[test]
    fn a_maximum_is_checked_on_increases() {
        let rule = BalanceConstraint {
            commodity: usd(),
            min: None,
            max: Some(Amount(1_000)),
        };
        let before = posted(900);
        assert!(
            rule.check(
                before,
                before.apply(Amount(100), ChangeKind::Posted).expect("fits")
            )
            .is_ok()
        );
        assert!(
            rule.check(
                before,
                before.apply(Amount(101), ChangeKind::Posted).expect("fits")
            )
            .is_err()
        );
    }

    #[test]
    fn a_change_back_toward_the_bounds_is_allowed() {
        let rule = not_below_zero();
        let before = posted(-50); // set after the fact, or imported
        assert_eq!(
            rule.check(
                before,
                before.apply(Amount(20), ChangeKind::Posted).expect("fits")
            ),
            Ok(())
        );
    }

    #[test]
    fn pending_credits_count_against_a_minimum() {
        let rule = not_below_zero();
        let reserved = posted(100)
            .apply(Amount(-80), ChangeKind::Pending)
            .expect("fits");
        assert_eq!(rule.check(posted(100), reserved), Ok(()));
        let more = reserved
            .apply(Amount(-30), ChangeKind::Posted)
            .expect("fits");
        assert!(
            rule.check(reserved, more).is_err(),
            "80 reserved + 30 spent > 100"
        );
        // A pending debit does not help a minimum until it posts.
        let incoming = reserved
            .apply(Amount(50), ChangeKind::Pending)
            .expect("fits");
        assert!(
            rule.check(
                incoming,
                incoming
                    .apply(Amount(-30), ChangeKind::Posted)
                    .expect("fits")
            )
            .is_err()
        );
    }

    #[test]
    fn releasing_a_reservation_is_the_inverse_of_making_it() {
        let start = posted(10);
        for delta in [Amount(-7), Amount(7)] {
            let reserved = start.apply(delta, ChangeKind::Pending).expect("fits");
            assert_eq!(reserved.release(delta), Ok(start));
        }
    }

    #[test]
    fn overflow_in_a_balance_is_reported() {
        let before = posted(i64::MAX);
        assert_eq!(
            before.apply(Amount(1), ChangeKind::Posted),
            Err(AmountError::Overflow)
        );
        let edge = BalanceState {
            posted: Amount(i64::MAX),
            pending_debits: Amount(1),
            ..BalanceState::default()
        };
        assert_eq!(
            not_below_zero().check(before, edge),
            Err(ConstraintError::Overflow)
        );
    }
}
