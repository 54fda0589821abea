//! The bounded, grouped queue of waiting items and the dispatch rule (`plan`).
//!
//! Items wait in per-key FIFO groups; the capacity (`BatchConfig::queue_items_max`) counts all
//! groups together. `plan` is a pure function of the groups' lengths and oldest enqueue times,
//! the clock value passed in, and the rules (current size limit, delay, preferred sizes), so
//! the dispatch semantics are tested without threads or real time (`batch/tests.rs`).
//! `take` forms one batch from one group, skipping cancelled items and answering expired ones.
//! This file does no locking, waiting or waking: `batch/instance.rs` and `batch/mod.rs` do.

use super::slot::Completer;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Empty groups kept (with their allocation) for reuse; beyond this, empty groups are removed.
const EMPTY_GROUPS_KEPT_COUNT: usize = 16;

/// One waiting item.
pub(super) struct Entry<In, Out, E> {
    pub(super) item: In,
    pub(super) completer: Completer<Out, E>,
    pub(super) enqueued_at: Instant,
    pub(super) deadline: Option<Instant>,
}

impl<In, Out, E> Entry<In, Out, E> {
    fn is_expired(&self, now: Instant) -> bool {
        self.deadline.is_some_and(|deadline| deadline <= now)
    }
}

struct Group<In, Out, E> {
    key: u64,
    entries: VecDeque<Entry<In, Out, E>>,
}

/// What an idle instance should do next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Plan {
    /// Take up to `size` items from group number `group`.
    Dispatch {
        group: usize,
        size: usize,
        trigger: Trigger,
    },
    /// Nothing is ready; the oldest item's delay expires at this instant.
    WaitUntil(Instant),
    /// The queue is empty.
    Idle,
}

/// Why a batch was dispatched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Trigger {
    /// The group held a preferred size or the current limit.
    Size,
    /// The group's oldest item had waited `queue_delay_max_us`.
    Delay,
    /// Every item in flight was already in the batcher (`Rules::all_in`): no other item could
    /// join the batch, so it went without waiting out the delay.
    AllIn,
    /// The batcher is shutting down and drains without waiting.
    Drain,
}

/// The inputs of the dispatch rule besides the queue itself.
#[derive(Clone, Copy, Debug)]
pub(super) struct Rules<'a> {
    /// The current batch size limit (fixed `batch_size_max`, or the adaptive limit).
    pub(super) limit: usize,
    pub(super) delay: Duration,
    /// Sorted ascending, each at most `batch_size_max`.
    pub(super) preferred: &'a [usize],
    pub(super) draining: bool,
    /// Early dispatch: the batcher holds (queued or running) as many items as the recent peak
    /// in flight (`inflight.rs`), so waiting could not grow a batch; every group is due now.
    pub(super) all_in: bool,
    /// When the planning instance became free (its last batch ended). With early dispatch,
    /// the delay counts from then for items that queued while it was busy: waiting while busy
    /// was not a choice, and counting it would send the early arrivals of a round alone and
    /// keep the rounds split. `None`: the delay counts from enqueueing (Triton's rule).
    pub(super) free_since: Option<Instant>,
}

/// What `plan` needs to know about one group.
#[derive(Clone, Copy, Debug)]
pub(super) struct GroupView {
    pub(super) len: usize,
    pub(super) oldest: Instant,
}

/// The batch size a group of `len` items may dispatch now without waiting, if any: the largest
/// preferred size that is available and within the limit, else the limit once `len` reaches it.
pub(super) fn size_ready(len: usize, rules: &Rules<'_>) -> Option<usize> {
    let available = len.min(rules.limit);
    let preferred = rules
        .preferred
        .iter()
        .rev()
        .find(|&&size| size <= available);
    match preferred {
        Some(&size) => Some(size),
        None if len >= rules.limit => Some(rules.limit),
        None => None,
    }
}

/// The dispatch rule. Among groups that are ready (by size, all in, by delay, or draining), the one
/// whose oldest item is oldest goes first; a batch never mixes groups.
pub(super) fn plan(
    groups: impl Iterator<Item = GroupView>,
    now: Instant,
    rules: &Rules<'_>,
) -> Plan {
    let mut best: Option<(Instant, usize, usize, Trigger)> = None;
    let mut wake_at: Option<Instant> = None;
    for (index, group) in groups.enumerate() {
        if group.len == 0 {
            continue;
        }
        let waiting_since = rules
            .free_since
            .map_or(group.oldest, |free| group.oldest.max(free));
        let due = waiting_since + rules.delay;
        let ready = if rules.draining {
            Some((group.len.min(rules.limit), Trigger::Drain))
        } else if let Some(size) = size_ready(group.len, rules) {
            Some((size, Trigger::Size))
        } else if rules.all_in {
            Some((group.len.min(rules.limit), Trigger::AllIn))
        } else if now >= due {
            Some((group.len.min(rules.limit), Trigger::Delay))
        } else {
            wake_at = Some(wake_at.map_or(due, |at| at.min(due)));
            None
        };
        if let Some((size, trigger)) = ready
            && best.is_none_or(|(oldest, ..)| group.oldest < oldest)
        {
            best = Some((group.oldest, index, size, trigger));
        }
    }
    match (best, wake_at) {
        (Some((_, group, size, trigger)), _) => Plan::Dispatch {
            group,
            size,
            trigger,
        },
        (None, Some(at)) => Plan::WaitUntil(at),
        (None, None) => Plan::Idle,
    }
}

/// Items skipped while forming a batch.
#[derive(Debug, Default)]
pub(super) struct Skipped {
    pub(super) cancelled: u64,
    pub(super) expired: u64,
}

/// The waiting items of every group.
pub(super) struct Queue<In, Out, E> {
    groups: Vec<Group<In, Out, E>>,
    len: usize,
}

impl<In, Out, E> Queue<In, Out, E> {
    pub(super) fn new() -> Queue<In, Out, E> {
        Queue {
            groups: Vec::new(),
            len: 0,
        }
    }

    /// Items waiting in all groups (cancelled and expired ones included until skipped).
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// Appends to the group `key` and returns that group's new length.
    pub(super) fn push(&mut self, key: u64, entry: Entry<In, Out, E>) -> usize {
        self.len += 1;
        let group = match self.groups.iter().position(|group| group.key == key) {
            Some(index) => &mut self.groups[index],
            None => {
                self.groups.push(Group {
                    key,
                    entries: VecDeque::new(),
                });
                let last = self.groups.len() - 1;
                &mut self.groups[last]
            }
        };
        group.entries.push_back(entry);
        group.entries.len()
    }

    pub(super) fn plan(&self, now: Instant, rules: &Rules<'_>) -> Plan {
        let views = self.groups.iter().map(|group| GroupView {
            len: group.entries.len(),
            oldest: group.entries.front().map_or(now, |entry| entry.enqueued_at),
        });
        plan(views, now, rules)
    }

    /// Moves up to `size` live items of group `group` into `items`/`completers`, in arrival
    /// order. Cancelled items are dropped; expired ones go to `expired` (answered by the caller
    /// outside the lock). Returns the group's length before the take, and what was skipped.
    pub(super) fn take(
        &mut self,
        group: usize,
        size: usize,
        now: Instant,
        batch: &mut Batch<In, Out, E>,
    ) -> (usize, Skipped) {
        let mut skipped = Skipped::default();
        let entries = &mut self.groups[group].entries;
        let len_before = entries.len();
        while batch.items.len() < size {
            let Some(entry) = entries.pop_front() else {
                break;
            };
            self.len -= 1;
            if entry.completer.is_cancelled() {
                skipped.cancelled += 1;
            } else if entry.is_expired(now) {
                skipped.expired += 1;
                batch.expired.push(entry.completer);
            } else {
                batch.items.push(entry.item);
                batch.completers.push(entry.completer);
            }
        }
        if entries.is_empty() && self.groups.len() > EMPTY_GROUPS_KEPT_COUNT {
            self.groups.swap_remove(group);
        }
        (len_before, skipped)
    }

    /// Removes cancelled and expired items from every group (used when the queue is full, so
    /// dead items do not hold capacity). Expired completers are pushed to `expired`.
    pub(super) fn sweep(&mut self, now: Instant, expired: &mut Vec<Completer<Out, E>>) -> Skipped {
        let mut skipped = Skipped::default();
        for group in &mut self.groups {
            // Rotate once through the group, keeping live items in order, without allocating.
            for _ in 0..group.entries.len() {
                let Some(entry) = group.entries.pop_front() else {
                    break;
                };
                if entry.completer.is_cancelled() {
                    skipped.cancelled += 1;
                } else if entry.is_expired(now) {
                    skipped.expired += 1;
                    expired.push(entry.completer);
                } else {
                    group.entries.push_back(entry);
                }
            }
        }
        self.len -= (skipped.cancelled + skipped.expired) as usize;
        skipped
    }

    /// Empties the queue; dropping the returned entries answers their callers `Closed`.
    pub(super) fn take_all(&mut self) -> Vec<Entry<In, Out, E>> {
        self.len = 0;
        self.groups
            .drain(..)
            .flat_map(|group| group.entries)
            .collect()
    }
}

/// One batch being formed or run, with buffers an instance reuses across batches.
pub(super) struct Batch<In, Out, E> {
    pub(super) items: Vec<In>,
    pub(super) completers: Vec<Completer<Out, E>>,
    pub(super) expired: Vec<Completer<Out, E>>,
}

impl<In, Out, E> Batch<In, Out, E> {
    pub(super) fn with_capacity(size: usize) -> Batch<In, Out, E> {
        Batch {
            items: Vec::with_capacity(size),
            completers: Vec::with_capacity(size),
            expired: Vec::new(),
        }
    }
}
