//! The instance threads: each waits for the dispatch rule to say "go", takes one batch from the
//! shared queue, runs the batch function (under `catch_unwind`) and answers every caller.
//!
//! An instance sleeps on the batcher's condvar, with a timeout when the oldest item's delay is
//! running; submitters only notify it when their item changes what it would do (first item
//! of an empty queue, or a group reaching a dispatchable size), so a busy queue costs no
//! futex wake per item. With `idle_spin_us`, an instance whose queue ran empty first polls an
//! activity counter for that long, so a caller that submits again at once finds it awake. The batch function never runs on an I/O worker and never under the
//! queue lock. A panic in the batch function answers that batch `BatchError::Panicked` and
//! the instance carries on; if an instance thread ends for any other reason, the last one to
//! end answers everything still queued with `BatchError::Closed`. Tests: `batch/tests.rs`.

use super::queue::{Batch, Plan, Trigger};
use super::slot::Completer;
use super::stats::BatchRecord;
use super::{BatchError, BatchSample, Phase, Shared};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

/// A batch that has run, reported to the shared state when the instance comes back for more.
pub(super) struct Finished {
    pub(super) sample: BatchSample,
    pub(super) failed_items: u64,
    pub(super) panicked: bool,
}

/// Runs one instance until the batcher is closed and its queue is empty.
pub(super) fn run<In, Out, E, G>(shared: Arc<Shared<In, Out, E>>, mut batch_fn: G)
where
    G: FnMut(Vec<In>) -> Vec<Result<Out, E>>,
{
    let _exit = ExitGuard { shared: &shared };
    let mut batch = Batch::with_capacity(0);
    let mut finished: Option<Finished> = None;
    while let Some(limit_was_reached) = next_batch(&shared, finished.take(), &mut batch) {
        for completer in batch.expired.drain(..) {
            completer.complete(Err(BatchError::Expired));
        }
        if batch.items.is_empty() {
            continue;
        }
        let items = std::mem::take(&mut batch.items);
        let size = items.len();
        let started = Instant::now();
        let outcome = catch_unwind(AssertUnwindSafe(|| batch_fn(items)));
        let latency = started.elapsed();
        // Out of flight before anyone is answered (see `Shared::running_items`).
        shared.running_items.fetch_sub(size, Ordering::AcqRel);
        let (failed_items, panicked) = deliver(outcome, &mut batch.completers);
        finished = Some(Finished {
            sample: BatchSample {
                size,
                latency,
                limit_was_reached,
            },
            failed_items,
            panicked,
        });
    }
}

/// Reports `finished`, then waits for and takes the next batch into `batch`. Returns whether
/// the queue held the limit's worth of items when the batch was formed, or `None` when the
/// instance should stop. The returned batch may hold only expired items (to answer).
fn next_batch<In, Out, E>(
    shared: &Shared<In, Out, E>,
    finished: Option<Finished>,
    batch: &mut Batch<In, Out, E>,
) -> Option<bool> {
    let free_since = Instant::now();
    let mut state = shared.lock();
    if let Some(finished) = finished {
        state.finish(finished);
    }
    let mut spun = false;
    loop {
        let now = Instant::now();
        let mut rules = shared.rules(&state);
        if shared.early_dispatch {
            rules.free_since = Some(free_since);
        }
        match state.queue.plan(now, &rules) {
            Plan::Dispatch {
                group,
                size,
                trigger,
            } => {
                batch.items.reserve(size);
                let (len_before, skipped) = state.queue.take(group, size, now, batch);
                state.recorder.cancelled_items += skipped.cancelled;
                state.recorder.expired_items += skipped.expired;
                state.recorder.dispatched_items += batch.items.len() as u64;
                if !batch.items.is_empty() {
                    state.busy_instances += 1;
                    shared
                        .running_items
                        .fetch_add(batch.items.len(), Ordering::AcqRel);
                    if trigger == Trigger::AllIn {
                        state.recorder.early_batches += 1;
                    }
                }
                if batch.items.is_empty() && batch.expired.is_empty() {
                    continue;
                }
                let wake_another = state.queue.len() > 0 && state.waiting_instances > 0;
                drop(state);
                if wake_another {
                    shared.work.notify_one();
                }
                return Some(len_before >= rules.limit);
            }
            Plan::WaitUntil(at) => {
                state.waiting_instances += 1;
                let timeout = at.saturating_duration_since(now);
                state = shared
                    .work
                    .wait_timeout(state, timeout)
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
                state.waiting_instances -= 1;
            }
            Plan::Idle if state.phase != Phase::Open => return None,
            Plan::Idle if !spun && !shared.idle_spin.is_zero() => {
                // Poll briefly for the next item before sleeping: a submitter that finds no
                // waiting instance skips the futex wake, and this thread skips a wake-up.
                let seen = shared.activity.load(Ordering::Acquire);
                drop(state);
                spin_for_submission(shared, seen);
                spun = true;
                state = shared.lock();
            }
            Plan::Idle => {
                state.waiting_instances += 1;
                state = shared.work.wait(state).unwrap_or_else(|e| e.into_inner());
                state.waiting_instances -= 1;
            }
        }
    }
}

/// Spins until something happens after `seen` (an item, a shutdown) or
/// `BatchConfig::idle_spin_us` passes.
fn spin_for_submission<In, Out, E>(shared: &Shared<In, Out, E>, seen: u64) {
    let started = Instant::now();
    while shared.activity.load(Ordering::Acquire) == seen {
        for _ in 0..64 {
            std::hint::spin_loop();
        }
        if started.elapsed() >= shared.idle_spin {
            return;
        }
    }
}

/// Answers every caller of a batch that ran. Returns (items answered with an error, panicked).
fn deliver<Out, E>(
    outcome: std::thread::Result<Vec<Result<Out, E>>>,
    completers: &mut Vec<Completer<Out, E>>,
) -> (u64, bool) {
    let results = match outcome {
        Ok(results) => results,
        Err(_panic) => {
            tracing::error!(
                items = completers.len(),
                "batch function panicked; its items are answered with an error"
            );
            let items = completers.len() as u64;
            for completer in completers.drain(..) {
                completer.complete(Err(BatchError::Panicked));
            }
            return (items, true);
        }
    };
    if results.len() != completers.len() {
        tracing::error!(
            items = completers.len(),
            results = results.len(),
            "batch function returned the wrong number of results"
        );
    }
    let mut failed = 0;
    let mut results = results.into_iter();
    for completer in completers.drain(..) {
        let result = match results.next() {
            Some(Ok(out)) => Ok(out),
            Some(Err(error)) => Err(BatchError::Failed(error)),
            None => Err(BatchError::MissingResult),
        };
        failed += u64::from(result.is_err());
        completer.complete(result);
    }
    (failed, false)
}

/// Counts the instance out; the last one answers what is left in the queue.
struct ExitGuard<'a, In, Out, E> {
    shared: &'a Shared<In, Out, E>,
}

impl<In, Out, E> Drop for ExitGuard<'_, In, Out, E> {
    fn drop(&mut self) {
        let leftovers = {
            let mut state = self.shared.lock();
            state.live_instances -= 1;
            if state.live_instances == 0 {
                state.phase = Phase::Closed;
                state.queue.take_all()
            } else {
                Vec::new()
            }
        };
        // Dropping the entries answers their callers `Closed`, outside the lock.
        drop(leftovers);
    }
}

impl BatchRecord {
    pub(super) fn from_finished(finished: &Finished) -> BatchRecord {
        BatchRecord {
            size: finished.sample.size,
            latency_us: u64::try_from(finished.sample.latency.as_micros()).unwrap_or(u64::MAX),
            panicked: finished.panicked,
        }
    }
}
