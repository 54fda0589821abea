//! Login throttling, pure: a `Throttle` counts failed logins per key (the caller's choice:
//! an account's email, a client's IP address) and refuses a key that has `failures_max`
//! failures within the last `window_secs`, until the oldest of them leaves the window.
//!
//! Memory is bounded: at most `keys_max` keys, each held as a SHA-256 digest (the same size
//! whatever text the caller passes) with at most `failures_max` timestamps. When a new key
//! finds the throttle full, keys whose failures have all left the window go first, then the
//! key whose last failure is the oldest. An index by last failure makes that a `BTreeSet`
//! lookup, not a scan of every key. No clock (the caller passes `now`), no locking (the
//! caller shares it behind a mutex), no storage: a restart forgets every failure. Tests at
//! the bottom.

use super::Timestamp;
use crate::limits::{LOGIN_FAILURES_MAX, LOGIN_WINDOW_SECS, THROTTLE_KEYS_MAX};
use sha2::{Digest, Sha256};
use std::collections::{BTreeSet, HashMap};
use std::fmt;

/// How a `Throttle` counts. `Throttle::new` raises each field to at least 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ThrottleConfig {
    /// Failures within the window after which a key is refused.
    pub failures_max: u32,
    /// How far back failures count, in seconds.
    pub window_secs: i64,
    /// Most keys remembered at once.
    pub keys_max: usize,
}

impl Default for ThrottleConfig {
    /// `LOGIN_FAILURES_MAX` failures in `LOGIN_WINDOW_SECS`, `THROTTLE_KEYS_MAX` keys.
    fn default() -> ThrottleConfig {
        ThrottleConfig {
            failures_max: LOGIN_FAILURES_MAX,
            window_secs: LOGIN_WINDOW_SECS,
            keys_max: THROTTLE_KEYS_MAX,
        }
    }
}

/// A refusal: the key may try again in `seconds` (at least 1), when its oldest counted
/// failure leaves the window. For a `Retry-After` header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryAfter {
    pub seconds: i64,
}

impl fmt::Display for RetryAfter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "too many failed attempts; try again in {} s",
            self.seconds
        )
    }
}

/// SHA-256 of a key's text.
type Digest32 = [u8; 32];

/// Failed logins per key, bounded in keys and in failures per key.
#[derive(Clone, Debug)]
pub struct Throttle {
    config: ThrottleConfig,
    /// Each key's failures, sorted, at most `failures_max` of them (the latest ones), never
    /// empty.
    failures: HashMap<Digest32, Vec<Timestamp>>,
    /// Every key by its last (latest) failure: the first is the one to forget first.
    by_last_failure: BTreeSet<(Timestamp, Digest32)>,
}

impl Throttle {
    pub fn new(config: ThrottleConfig) -> Throttle {
        let config = ThrottleConfig {
            failures_max: config.failures_max.max(1),
            window_secs: config.window_secs.max(1),
            keys_max: config.keys_max.max(1),
        };
        Throttle {
            config,
            failures: HashMap::new(),
            by_last_failure: BTreeSet::new(),
        }
    }

    /// `Ok` if `key` may try now; `Err` if it has `failures_max` failures within the last
    /// `window_secs` (a failure at `now - window_secs` or earlier no longer counts).
    pub fn check(&self, key: &str, now: Timestamp) -> Result<(), RetryAfter> {
        let Some(failures) = self.failures.get(&digest(key)) else {
            return Ok(());
        };
        // Sorted, so the failures that still count are a suffix.
        let counted = &failures[failures.partition_point(|&at| !self.counts(at, now))..];
        let limit = usize::try_from(self.config.failures_max).unwrap_or(usize::MAX);
        match counted.first() {
            Some(oldest) if counted.len() >= limit => {
                let until = oldest.0.saturating_add(self.config.window_secs);
                let seconds = until.saturating_sub(now.0);
                Err(RetryAfter {
                    seconds: seconds.clamp(1, self.config.window_secs),
                })
            }
            _ => Ok(()),
        }
    }

    /// Records a failed attempt of `key` at `now`, forgetting the key's oldest failure beyond
    /// `failures_max`, and another key if this one is new and the throttle is full.
    pub fn fail(&mut self, key: &str, now: Timestamp) {
        let key = digest(key);
        match self.failures.get(&key).and_then(|f| f.last().copied()) {
            Some(last) => {
                self.by_last_failure.remove(&(last, key));
            }
            None => self.make_room(now),
        }
        let limit = usize::try_from(self.config.failures_max).unwrap_or(usize::MAX);
        let failures = self.failures.entry(key).or_default();
        let at = failures.partition_point(|&earlier| earlier <= now);
        failures.insert(at, now);
        if failures.len() > limit {
            failures.remove(0);
        }
        if let Some(&last) = failures.last() {
            self.by_last_failure.insert((last, key));
        }
    }

    /// Forgets `key` (a successful login).
    pub fn succeed(&mut self, key: &str) {
        let key = digest(key);
        if let Some(last) = self.failures.remove(&key).and_then(|f| f.last().copied()) {
            self.by_last_failure.remove(&(last, key));
        }
    }

    /// How many keys the throttle holds (never more than `keys_max`).
    pub fn keys_held(&self) -> usize {
        self.failures.len()
    }

    /// Whether a failure at `at` still counts at `now`.
    fn counts(&self, at: Timestamp, now: Timestamp) -> bool {
        at.0 > now.0.saturating_sub(self.config.window_secs)
    }

    /// Before a new key goes in: if the throttle is full, forgets every key whose failures
    /// have all left the window (they are the first by last failure), then, if still full,
    /// the key whose last failure is the oldest.
    fn make_room(&mut self, now: Timestamp) {
        if self.failures.len() < self.config.keys_max {
            return;
        }
        while let Some(&(last, key)) = self.by_last_failure.first() {
            let stale = !self.counts(last, now);
            if !stale && self.failures.len() < self.config.keys_max {
                break;
            }
            self.by_last_failure.remove(&(last, key));
            self.failures.remove(&key);
            if !stale {
                break;
            }
        }
    }
}

fn digest(key: &str) -> Digest32 {
    Sha256::digest(key.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> Timestamp {
        Timestamp(seconds)
    }

    fn small(failures_max: u32, window_secs: i64, keys_max: usize) -> Throttle {
        Throttle::new(ThrottleConfig {
            failures_max,
            window_secs,
            keys_max,
        })
    }

    #[test]
    fn the_default_comes_from_the_limits() {
        let config = ThrottleConfig::default();
        assert_eq!(
            (config.failures_max, config.window_secs, config.keys_max),
            (LOGIN_FAILURES_MAX, LOGIN_WINDOW_SECS, THROTTLE_KEYS_MAX)
        );
    }

    #[test]
    fn a_key_is_refused_after_failures_max_failures() {
        let mut throttle = Throttle::new(ThrottleConfig::default());
        for second in 0..i64::from(LOGIN_FAILURES_MAX) - 1 {
            throttle.fail("ann@example.com", at(second));
            assert_eq!(throttle.check("ann@example.com", at(second)), Ok(()));
        }
        throttle.fail("ann@example.com", at(10));
        assert!(throttle.check("ann@example.com", at(10)).is_err());
        assert_eq!(
            throttle.check("bob@example.com", at(10)),
            Ok(()),
            "keys are separate"
        );
        assert_eq!(throttle.check("ip:10.0.0.1", at(10)), Ok(()));
    }

    #[test]
    fn retry_after_is_when_the_oldest_counted_failure_leaves_the_window() {
        let mut throttle = small(3, 100, 10);
        for second in [10, 20, 30] {
            throttle.fail("k", at(second));
        }
        assert_eq!(throttle.check("k", at(30)), Err(RetryAfter { seconds: 80 }));
        assert_eq!(throttle.check("k", at(109)), Err(RetryAfter { seconds: 1 }));
        assert_eq!(
            throttle.check("k", at(110)),
            Ok(()),
            "the failure at 10 left"
        );
        assert_eq!(
            RetryAfter { seconds: 80 }.to_string(),
            "too many failed attempts; try again in 80 s"
        );
    }

    #[test]
    fn the_window_slides() {
        let mut throttle = small(3, 100, 10);
        for second in [0, 50, 99] {
            throttle.fail("k", at(second));
        }
        assert!(throttle.check("k", at(99)).is_err());
        assert_eq!(throttle.check("k", at(100)), Ok(()));
        // A failure at 100 makes three again (50, 99, 100): refused until 50 leaves, at 150.
        throttle.fail("k", at(100));
        assert_eq!(
            throttle.check("k", at(100)),
            Err(RetryAfter { seconds: 50 })
        );
        assert_eq!(throttle.check("k", at(150)), Ok(()));
        // Failures long ago do not count at all.
        assert_eq!(throttle.check("k", at(10_000)), Ok(()));
    }

    #[test]
    fn a_key_keeps_at_most_failures_max_timestamps() {
        let mut throttle = small(3, 100, 10);
        for second in 0..1_000 {
            throttle.fail("k", at(second));
        }
        assert_eq!(throttle.failures.values().map(Vec::len).max(), Some(3));
        // The latest three are kept: 997, 998, 999.
        assert_eq!(
            throttle.check("k", at(999)),
            Err(RetryAfter { seconds: 98 })
        );
    }

    #[test]
    fn success_forgets_the_key() {
        let mut throttle = small(2, 100, 10);
        throttle.fail("k", at(1));
        throttle.fail("k", at(2));
        assert!(throttle.check("k", at(3)).is_err());
        throttle.succeed("k");
        assert_eq!(throttle.check("k", at(3)), Ok(()));
        assert_eq!(throttle.keys_held(), 0);
        assert!(throttle.by_last_failure.is_empty());
        throttle.succeed("never-seen");
        throttle.fail("k", at(4));
        assert_eq!(throttle.check("k", at(4)), Ok(()), "counting starts again");
    }

    #[test]
    fn the_key_bound_holds_with_many_keys() {
        let keys_max = 16;
        let mut throttle = small(2, 100, keys_max);
        for n in 0..1_000i64 {
            throttle.fail(&format!("ip:{n}"), at(n / 10));
            assert!(throttle.keys_held() <= keys_max);
            assert_eq!(throttle.by_last_failure.len(), throttle.keys_held());
        }
        assert_eq!(throttle.keys_held(), keys_max);
        // The latest keys are the ones kept.
        assert!(throttle.failures.contains_key(&digest("ip:999")));
        assert!(!throttle.failures.contains_key(&digest("ip:0")));
    }

    #[test]
    fn a_full_throttle_forgets_stale_keys_before_live_ones() {
        let mut throttle = small(2, 100, 3);
        throttle.fail("old-1", at(0));
        throttle.fail("old-2", at(5));
        throttle.fail("live", at(150));
        throttle.fail("live", at(151));
        assert!(throttle.check("live", at(151)).is_err());
        // At 160, old-1 and old-2 have left the window: both go, the live key stays.
        throttle.fail("new", at(160));
        assert_eq!(throttle.keys_held(), 2);
        assert!(throttle.check("live", at(160)).is_err());
        assert!(!throttle.failures.contains_key(&digest("old-1")));
        assert!(!throttle.failures.contains_key(&digest("old-2")));
    }

    #[test]
    fn a_full_throttle_of_live_keys_forgets_the_oldest_last_failure() {
        let mut throttle = small(2, 1_000, 3);
        throttle.fail("a", at(10));
        throttle.fail("b", at(5));
        throttle.fail("c", at(20));
        throttle.fail("b", at(30)); // b's last failure is now the latest
        throttle.fail("d", at(40));
        assert_eq!(throttle.keys_held(), 3);
        assert!(
            !throttle.failures.contains_key(&digest("a")),
            "a's last failure was the oldest"
        );
        for kept in ["b", "c", "d"] {
            assert!(throttle.failures.contains_key(&digest(kept)), "{kept}");
        }
    }

    #[test]
    fn a_clock_that_steps_back_neither_panics_nor_loses_the_bound() {
        let mut throttle = small(2, 100, 2);
        throttle.fail("k", at(500));
        throttle.fail("k", at(400));
        // Both count at 450; the oldest counted failure, 400, leaves at 500.
        assert_eq!(
            throttle.check("k", at(450)),
            Err(RetryAfter { seconds: 50 })
        );
        // Seen from before both failures, the wait is capped at the window.
        assert_eq!(throttle.check("k", at(0)), Err(RetryAfter { seconds: 100 }));
        throttle.fail("j", at(i64::MIN));
        throttle.fail("i", at(i64::MAX));
        assert!(throttle.keys_held() <= 2);
        assert_eq!(throttle.check("i", at(i64::MAX)), Ok(()));
    }

    #[test]
    fn a_zero_config_is_raised_to_one() {
        let mut throttle = small(0, 0, 0);
        assert_eq!(throttle.check("k", at(0)), Ok(()));
        throttle.fail("k", at(0));
        assert_eq!(throttle.check("k", at(0)), Err(RetryAfter { seconds: 1 }));
        assert_eq!(throttle.check("k", at(1)), Ok(()));
        throttle.fail("j", at(1));
        assert_eq!(throttle.keys_held(), 1);
    }
}
