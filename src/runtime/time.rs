//! Timers of one worker: `sleep`, `timeout`, and a clock read once per loop turn.
//!
//! Deadlines sit in a `BTreeMap` ordered by instant; the worker loop passes the nearest one to
//! io_uring as the wait timeout and wakes expired timers after each turn. A dropped `Sleep`
//! removes its entry, so the map holds only live timers (at most one per waiting task).
//! `Deadline` is for timeouts that move on every operation and rarely fire (a connection's
//! idle and write timeouts): moving it later touches no map entry.

use super::context;
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub(super) type TimerKey = (Instant, u64);

pub(crate) struct Timers {
    pub(super) entries: BTreeMap<TimerKey, Waker>,
    next_sequence: u64,
    now: Instant,
    unix_secs: u64,
}

impl Timers {
    pub(crate) fn new() -> Timers {
        let mut timers = Timers {
            entries: BTreeMap::new(),
            next_sequence: 0,
            now: Instant::now(),
            unix_secs: 0,
        };
        timers.refresh_clock();
        timers
    }

    pub(crate) fn refresh_clock(&mut self) {
        self.now = Instant::now();
        self.unix_secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|elapsed| elapsed.as_secs())
            .unwrap_or(0);
    }

    pub(crate) fn now_instant(&self) -> Instant {
        self.now
    }

    /// Time until the nearest deadline (zero when one has passed).
    pub(crate) fn next_timeout(&self) -> Option<Duration> {
        let (deadline, _) = self.entries.keys().next()?;
        Some(deadline.saturating_duration_since(self.now))
    }

    /// Removes expired timers and returns their wakers.
    pub(crate) fn expire(&mut self, woken: &mut Vec<Waker>) {
        while let Some(entry) = self.entries.first_entry() {
            if entry.key().0 > self.now {
                break;
            }
            woken.push(entry.remove());
        }
    }

    fn insert(&mut self, deadline: Instant, waker: Waker) -> TimerKey {
        self.next_sequence += 1;
        let key = (deadline, self.next_sequence);
        self.entries.insert(key, waker);
        key
    }
}

/// The worker's clock as of the start of this loop turn (cheap; no syscall).
pub fn now() -> Instant {
    context::current().timers.borrow().now
}

/// Seconds since the Unix epoch as of this loop turn (for the `Date` header).
pub fn unix_secs() -> u64 {
    context::current().timers.borrow().unix_secs
}

/// A future that completes at `deadline`.
pub struct Sleep {
    deadline: Instant,
    key: Option<TimerKey>,
}

/// Completes after `duration`.
pub fn sleep(duration: Duration) -> Sleep {
    sleep_until(now() + duration)
}

/// Completes at `deadline`.
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep {
        deadline,
        key: None,
    }
}

impl Sleep {
    pub fn deadline(&self) -> Instant {
        self.deadline
    }
}

impl Future for Sleep {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let worker = context::current();
        let mut timers = worker.timers.borrow_mut();
        if timers.now >= self.deadline {
            if let Some(key) = self.key.take() {
                timers.entries.remove(&key);
            }
            return Poll::Ready(());
        }
        match self.key.and_then(|key| timers.entries.get_mut(&key)) {
            Some(waker) => {
                if !waker.will_wake(cx.waker()) {
                    *waker = cx.waker().clone();
                }
            }
            None => {
                let key = timers.insert(self.deadline, cx.waker().clone());
                self.key = Some(key);
            }
        }
        Poll::Pending
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if let (Some(key), Some(worker)) = (self.key, context::try_current())
            && let Ok(mut timers) = worker.timers.try_borrow_mut()
        {
            timers.entries.remove(&key);
        }
    }
}

/// A deadline that moves often and rarely fires, such as a connection's idle or write timeout:
/// moving it later costs no timer operation.
///
/// The timer entry registered for it is kept while the deadline moves later; when that entry
/// comes due before the (moved) deadline, the owner is woken once and the entry is registered
/// again at the current deadline. Moving the deadline earlier than the registered entry
/// registers anew on the next poll. A `Sleep` per operation would insert and remove a timer
/// entry every time instead (two per request for a keep-alive connection).
pub struct Deadline {
    at: Instant,
    key: Option<TimerKey>,
    /// The waker given with the registered entry, to see without a lookup whether it changed.
    waker: Option<Waker>,
}

impl Deadline {
    pub fn new(at: Instant) -> Deadline {
        Deadline {
            at,
            key: None,
            waker: None,
        }
    }

    /// Moves the deadline (no timer operation here; see the type's docs).
    pub fn reset(&mut self, at: Instant) {
        self.at = at;
    }

    pub fn at(&self) -> Instant {
        self.at
    }

    /// Ready once the deadline has passed; otherwise makes sure `cx` is woken by then.
    pub fn poll_elapsed(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let worker = context::current();
        let mut timers = worker.timers.borrow_mut();
        if timers.now >= self.at {
            if let Some(key) = self.key.take() {
                timers.entries.remove(&key);
            }
            self.waker = None;
            return Poll::Ready(());
        }
        let registered = self
            .key
            .filter(|&(instant, _)| instant <= self.at && instant > timers.now);
        match registered {
            Some(key) => {
                let same_waker = self
                    .waker
                    .as_ref()
                    .is_some_and(|waker| waker.will_wake(cx.waker()));
                if !same_waker {
                    match timers.entries.get_mut(&key) {
                        Some(waker) => *waker = cx.waker().clone(),
                        None => {
                            let key = timers.insert(self.at, cx.waker().clone());
                            self.key = Some(key);
                        }
                    }
                    self.waker = Some(cx.waker().clone());
                }
            }
            None => {
                // None yet, one later than the deadline, or one that came due early.
                if let Some(key) = self.key.take() {
                    timers.entries.remove(&key);
                }
                self.key = Some(timers.insert(self.at, cx.waker().clone()));
                self.waker = Some(cx.waker().clone());
            }
        }
        Poll::Pending
    }
}

impl Drop for Deadline {
    fn drop(&mut self) {
        if let (Some(key), Some(worker)) = (self.key, context::try_current())
            && let Ok(mut timers) = worker.timers.try_borrow_mut()
        {
            timers.entries.remove(&key);
        }
    }
}

/// The deadline of a `timeout` passed before the inner future finished.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Elapsed;

impl std::fmt::Display for Elapsed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("deadline elapsed")
    }
}

impl std::error::Error for Elapsed {}

/// Runs `future` until `deadline`; the timer is only registered if the future is pending.
pub async fn timeout_at<F: Future>(deadline: Instant, future: F) -> Result<F::Output, Elapsed> {
    let mut future = std::pin::pin!(future);
    let mut sleep = std::pin::pin!(sleep_until(deadline));
    std::future::poll_fn(|cx| {
        if let Poll::Ready(output) = future.as_mut().poll(cx) {
            return Poll::Ready(Ok(output));
        }
        sleep.as_mut().poll(cx).map(|()| Err(Elapsed))
    })
    .await
}

/// Runs `future` for at most `duration`.
pub async fn timeout<F: Future>(duration: Duration, future: F) -> Result<F::Output, Elapsed> {
    timeout_at(now() + duration, future).await
}
