//! `kiln::batch`: an adaptive request batcher. Many handlers, on any worker, `submit` one item
//! each; a batch function sees them together as one `Vec` on the batcher's own thread(s), and
//! each caller gets its own result back through the runtime's cross-thread wake.
//!
//! ```no_run
//! use kiln::batch::{BatchConfig, BatchError, Batcher};
//!
//! // The batch function: one call for many items, one result per item, in order.
//! fn embed(texts: Vec<String>) -> Vec<Result<usize, std::convert::Infallible>> {
//!     texts.iter().map(|text| Ok(text.len())).collect()
//! }
//!
//! let batcher = Batcher::start(BatchConfig::default(), embed).unwrap();
//! // In a handler (any worker):
//! async fn handler(batcher: Batcher<String, usize, std::convert::Infallible>) -> String {
//!     match batcher.submit("hello".to_owned()).await {
//!         Ok(length) => length.to_string(),
//!         Err(BatchError::Overloaded) => "busy".to_owned(), // or return the error: 503
//!         Err(other) => other.to_string(),
//!     }
//! }
//! ```
//!
//! # Dispatch (Triton's dynamic batcher semantics)
//! A group's items are dispatched, in arrival order, when the first of these holds:
//! - **size**: with `preferred_batch_sizes`, the largest preferred size that is both available
//!   and within the current limit is sent at once; otherwise the group holds the current limit
//!   (`batch_size_max`, or the adaptive limit) and that many are sent at once;
//! - **delay**: the group's oldest item has waited `queue_delay_max_us`; then the group is
//!   sent as it is (up to the limit), preferred size or not. With preferred sizes this is
//!   the only way a non-preferred size is sent: any preferred size reachable earlier has
//!   already been sent by the size rule. `queue_delay_max_us = 0` sends whatever is waiting
//!   as soon as an instance is free (batches then form only while instances are busy);
//! - **all in** (`early_dispatch`, on by default): the batcher already holds, queued or in a
//!   running batch, as many items as were ever in flight at once over the last
//!   `in_flight_window_ms` (one to two windows). When every client waits for its answer
//!   before sending again, no other item can join, so waiting out the delay would only add
//!   latency: a lone caller is served at once instead of after `queue_delay_max_us`, while
//!   under load batches still fill. Under open-loop traffic the peak is rarely matched and
//!   the delay rule decides. With early dispatch the delay of an item that queued while the
//!   instance was busy counts from when it came free (waiting while busy is not a choice;
//!   counting it would send a round's early arrivals alone and keep rounds split); without
//!   it, from enqueueing, as in Triton.
//!
//! Among ready groups the one with the oldest item goes first. A dispatch happens when an
//! instance is free; while every instance is busy, items keep queueing and the next free
//! instance applies the same rule.
//!
//! # Adaptive batch size (Clipper AIMD)
//! With `adaptive`, the limit starts at `batch_size_min`, grows by `additive_step` after each
//! batch that reached the limit and whose batch function finished within
//! `latency_objective_us`, and is multiplied by `multiplicative_decrease` after one that missed
//! it, always within `batch_size_min..=batch_size_max` (see `AimdController`).
//!
//! # Groups, bounds, deadlines, cancellation, shutdown
//! - `submit_many(items, options)`: one request's items queued under one lock, all or
//!   nothing, so no rule sends the first before the rest are in.
//! - `submit_grouped(key, item)`: a batch never mixes keys (e.g. padded sequence length).
//!   Keys are expected to be few (tens): finding a group is a linear scan.
//! - The queue holds at most `queue_items_max` items across all groups; beyond that `submit`
//!   answers `BatchError::Overloaded` at once (an HTTP handler returns it: 503 + Retry-After).
//! - An item whose deadline passed, or whose caller dropped its `Submission`, is skipped when
//!   a batch is formed (and swept from a full queue before anything is shed). The deadline is
//!   checked when the item is taken, so a caller learns `Expired` when an instance reaches
//!   it; wrap the future in `runtime::timeout_at` for a hard bound on the wait.
//! - `shutdown` stops new submissions and drains: pending items still run, without waiting for
//!   the delay. `shutdown_now` answers every pending item `Closed`. Dropping the last
//!   `Batcher` handle is `shutdown`. Every item is answered exactly once, whatever happens: an
//!   answer dropped unanswered says `Closed`.
//! - A panicking batch function answers its batch `Panicked`; the instance keeps serving.
//! - A caller that is not a kiln task (a housekeeping thread) uses `Submission::wait`, which
//!   blocks its thread until the answer.
//!
//! # Changing settings while it runs
//! `Batcher::retune` replaces the batch size cap, the max queue delay and the adaptive settings
//! of a running batcher (`tuning.rs`); the queue bound, preferred sizes and instances are fixed
//! at start.
//!
//! Not here: priorities, request cancellation inside a running batch, ordering guarantees
//! across groups, and any async batch function (it is a plain blocking function on purpose).
//! Tests are in `batch/tests.rs`; the benchmark is `benches/batch`.

mod adaptive;
mod inflight;
mod instance;
mod queue;
mod slot;
mod stats;
mod tuning;

pub use adaptive::{AdaptiveConfig, AimdController, BatchSample};
pub use slot::Submission;
pub use stats::{BatchRecord, BatchStats};
pub use tuning::{BatchTuning, TuningError};

use crate::app::IntoResponse;
use crate::http::{Response, StatusCode};
use inflight::InFlightPeak;
use queue::{Entry, Queue, Rules};
use stats::Recorder;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Configuration of a `Batcher`: every limit it enforces, with units in the names.
#[derive(Clone, Debug, PartialEq)]
pub struct BatchConfig {
    /// Most items in one batch (the hard cap; the adaptive limit stays below it). At least 1.
    /// Default 32.
    pub batch_size_max: usize,
    /// Longest an item waits for others to join its batch before a partial batch is sent, in
    /// microseconds (Triton's `max_queue_delay_microseconds`; microseconds because useful
    /// delays for millisecond model calls are fractions of a millisecond). Default 1000.
    pub queue_delay_max_us: u64,
    /// Items waiting across all groups; beyond it `submit` answers `Overloaded`. At least 1.
    /// Default 1024.
    pub queue_items_max: usize,
    /// Batch sizes to prefer (each in `1..=batch_size_max`; order does not matter). Empty: no
    /// preference. Default empty.
    pub preferred_batch_sizes: Vec<usize>,
    /// Adapt the batch size limit to a latency objective (AIMD). Default `None`: the limit is
    /// `batch_size_max`.
    pub adaptive: Option<AdaptiveConfig>,
    /// Threads (model instances) draining the one queue, each with its own batch function.
    /// At least 1. Default 1.
    pub instances_count: usize,
    /// Batches kept in `BatchStats::recent_batches` (a ring). Default 128.
    pub stats_recent_batches_count: usize,
    /// How long an instance whose queue ran empty polls for the next item before it sleeps,
    /// in microseconds. Polling saves the futex wake and the thread wake-up for items that
    /// arrive soon after a batch (on the 2-vCPU benchmark VM a lone caller's no-op round trip
    /// drops from ~45 µs to ~5 µs), at the price of at most this much CPU per idle period.
    /// 0 sleeps at once. Default 50.
    pub idle_spin_us: u64,
    /// Dispatch without waiting for the delay when the batcher holds every item in flight,
    /// and count the delay of items that queued while the instance was busy from when it
    /// came free (see "all in" in the module docs). Default true.
    pub early_dispatch: bool,
    /// The window over which `early_dispatch` remembers the most items in flight, in
    /// milliseconds (the peak covers the last one to two windows, so after a drop in load
    /// early dispatch resumes within two). At least 1. Default 100.
    pub in_flight_window_ms: u64,
    /// Instance threads are named `{thread_name}-{index}`. Default `kiln-batch`.
    pub thread_name: String,
}

impl Default for BatchConfig {
    fn default() -> Self {
        BatchConfig {
            batch_size_max: 32,
            queue_delay_max_us: 1000,
            queue_items_max: 1024,
            preferred_batch_sizes: Vec::new(),
            adaptive: None,
            instances_count: 1,
            stats_recent_batches_count: 128,
            idle_spin_us: 50,
            early_dispatch: true,
            in_flight_window_ms: 100,
            thread_name: "kiln-batch".to_owned(),
        }
    }
}

impl BatchConfig {
    fn validate(&self) -> Result<(), &'static str> {
        if self.batch_size_max == 0 {
            return Err("batch_size_max must be at least 1");
        }
        if self.queue_items_max == 0 {
            return Err("queue_items_max must be at least 1");
        }
        if self.instances_count == 0 {
            return Err("instances_count must be at least 1");
        }
        if self.in_flight_window_ms == 0 {
            return Err("in_flight_window_ms must be at least 1");
        }
        let out_of_range = |&size: &usize| size == 0 || size > self.batch_size_max;
        if self.preferred_batch_sizes.iter().any(out_of_range) {
            return Err("preferred_batch_sizes must be in 1..=batch_size_max");
        }
        match &self.adaptive {
            Some(adaptive) => adaptive.validate(self.batch_size_max),
            None => Ok(()),
        }
    }
}

/// Why an item got no result from the batch function.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BatchError<E> {
    /// The queue was full (`queue_items_max`); try again later. HTTP: 503 + `Retry-After: 1`.
    Overloaded,
    /// The item's deadline passed before its batch ran. HTTP: 503 + `Retry-After: 1` (the
    /// server was too busy to start it in time; 504 would blame an upstream that never ran).
    Expired,
    /// The batcher was shut down (or its instance threads are gone). HTTP: 503.
    Closed,
    /// The batch function panicked while running this item's batch. HTTP: 500.
    Panicked,
    /// The batch function returned fewer results than it got items. HTTP: 500.
    MissingResult,
    /// The batch function's own error for this item. HTTP: 500, with its `Display` text in
    /// development mode only (`kiln::dev_mode`); it is always logged.
    Failed(E),
}

impl<E: std::fmt::Display> std::fmt::Display for BatchError<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BatchError::Overloaded => f.write_str("batch queue is full"),
            BatchError::Expired => f.write_str("deadline passed before the batch ran"),
            BatchError::Closed => f.write_str("batcher is shut down"),
            BatchError::Panicked => f.write_str("batch function panicked"),
            BatchError::MissingResult => f.write_str("batch function returned no result"),
            BatchError::Failed(error) => write!(f, "batch item failed: {error}"),
        }
    }
}

impl<E: std::fmt::Debug + std::fmt::Display> std::error::Error for BatchError<E> {}

impl<E: std::fmt::Display> IntoResponse for BatchError<E> {
    fn into_response(self) -> Response {
        let reason = self.to_string();
        match self {
            BatchError::Overloaded | BatchError::Expired => {
                Response::error(StatusCode::SERVICE_UNAVAILABLE, &reason)
                    .with_static_header("retry-after", "1")
            }
            BatchError::Closed => Response::error(StatusCode::SERVICE_UNAVAILABLE, &reason),
            BatchError::Panicked | BatchError::MissingResult | BatchError::Failed(_) => {
                tracing::warn!(error = %reason, "batched call failed");
                let shown = if crate::dev_mode() {
                    reason.as_str()
                } else {
                    "Internal Server Error"
                };
                Response::error(StatusCode::INTERNAL_SERVER_ERROR, shown)
            }
        }
    }
}

/// Per-item options of `Batcher::submit_with`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SubmitOptions {
    /// Items of different keys never share a batch. Default 0.
    pub group_key: u64,
    /// The item is answered `Expired` instead of run if its batch has not started by then.
    pub deadline: Option<Instant>,
}

/// Where the batcher is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Open,
    /// `shutdown`: no new items; pending ones still run.
    Draining,
    /// `shutdown_now`, or every instance thread is gone: no new items, none pending.
    Closed,
}

enum Limit {
    Fixed(usize),
    Adaptive(AimdController),
}

impl Limit {
    fn current(&self) -> usize {
        match self {
            Limit::Fixed(limit) => *limit,
            Limit::Adaptive(controller) => controller.limit(),
        }
    }
}

/// Everything behind the lock.
struct State<In, Out, E> {
    queue: Queue<In, Out, E>,
    phase: Phase,
    limit: Limit,
    recorder: Recorder,
    /// The settings `Batcher::retune` may change while the batcher runs.
    tuning: BatchTuning,
    /// Instances blocked on `Shared::work` (submitters notify only if some are).
    waiting_instances: usize,
    busy_instances: usize,
    live_instances: usize,
    /// The most items in flight lately, observed at each submission (`early_dispatch`).
    in_flight: InFlightPeak,
}

impl<In, Out, E> State<In, Out, E> {
    fn finish(&mut self, finished: instance::Finished) {
        self.busy_instances -= 1;
        self.recorder.failed_items += finished.failed_items;
        self.recorder
            .record_batch(BatchRecord::from_finished(&finished));
        if let Limit::Adaptive(controller) = &mut self.limit
            && !finished.panicked
        {
            controller.observe(finished.sample);
        }
    }
}

/// The state shared by handles and instance threads.
struct Shared<In, Out, E> {
    state: Mutex<State<In, Out, E>>,
    /// Instances wait here for work.
    work: Condvar,
    /// Sorted, deduplicated.
    preferred: Vec<usize>,
    queue_items_max: usize,
    idle_spin: Duration,
    /// Bumped by every queued item and by shutdown; an idle instance polls it while spinning
    /// (`idle_spin_us`).
    activity: AtomicU64,
    early_dispatch: bool,
    /// Items in batches being run. Atomic, not under the lock, so an instance takes its batch
    /// out *before* answering it: a caller that submits again as soon as it has its answer
    /// must not count its old item as still in flight.
    running_items: AtomicUsize,
    threads: Mutex<Vec<std::thread::JoinHandle<()>>>,
}

impl<In, Out, E> Shared<In, Out, E> {
    fn lock(&self) -> MutexGuard<'_, State<In, Out, E>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn rules(&self, state: &State<In, Out, E>) -> Rules<'_> {
        Rules {
            limit: state.limit.current(),
            delay: Duration::from_micros(state.tuning.queue_delay_max_us),
            preferred: &self.preferred,
            draining: state.phase != Phase::Open,
            all_in: self.early_dispatch
                && state.queue.len() > 0
                && self.in_flight(state) >= state.in_flight.peak(),
            free_since: None,
        }
    }

    /// Items the batcher holds: queued (dead ones not yet skipped included) or running.
    fn in_flight(&self, state: &State<In, Out, E>) -> usize {
        state.queue.len() + self.running_items.load(Ordering::Acquire)
    }

    fn shutdown(&self) {
        {
            let mut state = self.lock();
            if state.phase == Phase::Open {
                state.phase = Phase::Draining;
            }
        }
        self.wake_all();
    }

    /// Wakes every instance, sleeping or spinning.
    fn wake_all(&self) {
        self.activity.fetch_add(1, Ordering::Release);
        self.work.notify_all();
    }
}

/// Closes the batcher when the last `Batcher` handle goes.
struct Handle<In, Out, E> {
    shared: Arc<Shared<In, Out, E>>,
    thread_name: String,
}

impl<In, Out, E> Drop for Handle<In, Out, E> {
    fn drop(&mut self) {
        self.shared.shutdown();
    }
}

/// A cloneable, `Send + Sync` handle to a running batcher (see the module docs).
pub struct Batcher<In, Out, E> {
    handle: Arc<Handle<In, Out, E>>,
}

impl<In, Out, E> Clone for Batcher<In, Out, E> {
    fn clone(&self) -> Self {
        Batcher {
            handle: self.handle.clone(),
        }
    }
}

impl<In, Out, E> std::fmt::Debug for Batcher<In, Out, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batcher")
            .field("thread_name", &self.handle.thread_name)
            .finish()
    }
}

impl<In, Out, E> Batcher<In, Out, E>
where
    In: Send + 'static,
    Out: Send + 'static,
    E: Send + 'static,
{
    /// Starts `config.instances_count` threads sharing one batch function. Fails with
    /// `InvalidInput` for an invalid config, or when a thread cannot be started.
    pub fn start<F>(config: BatchConfig, batch_fn: F) -> std::io::Result<Self>
    where
        F: Fn(Vec<In>) -> Vec<Result<Out, E>> + Send + Sync + 'static,
    {
        let batch_fn = Arc::new(batch_fn);
        Batcher::start_instances(config, move |_index| {
            let batch_fn = batch_fn.clone();
            move |items| batch_fn(items)
        })
    }

    /// Starts one thread per instance, each with its own batch function from
    /// `make_instance(index)` (e.g. its own model session).
    pub fn start_instances<M, G>(config: BatchConfig, mut make_instance: M) -> std::io::Result<Self>
    where
        M: FnMut(usize) -> G,
        G: FnMut(Vec<In>) -> Vec<Result<Out, E>> + Send + 'static,
    {
        config
            .validate()
            .map_err(|why| std::io::Error::new(std::io::ErrorKind::InvalidInput, why))?;
        let shared = Arc::new(new_shared(&config));
        let handle = Arc::new(Handle {
            shared: shared.clone(),
            thread_name: config.thread_name.clone(),
        });
        for index in 0..config.instances_count {
            let batch_fn = make_instance(index);
            let instance_shared = shared.clone();
            shared.lock().live_instances += 1;
            let spawned = std::thread::Builder::new()
                .name(format!("{}-{index}", config.thread_name))
                .spawn(move || instance::run(instance_shared, batch_fn));
            match spawned {
                Ok(thread) => shared
                    .threads
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(thread),
                Err(error) => {
                    shared.lock().live_instances -= 1;
                    return Err(error); // dropping `handle` shuts the started ones down
                }
            }
        }
        Ok(Batcher { handle })
    }
}

fn new_shared<In, Out, E>(config: &BatchConfig) -> Shared<In, Out, E> {
    let mut preferred = config.preferred_batch_sizes.clone();
    preferred.sort_unstable();
    preferred.dedup();
    let limit = match &config.adaptive {
        Some(adaptive) => Limit::Adaptive(AimdController::new(adaptive, config.batch_size_max)),
        None => Limit::Fixed(config.batch_size_max),
    };
    Shared {
        state: Mutex::new(State {
            queue: Queue::new(),
            phase: Phase::Open,
            limit,
            recorder: Recorder::new(config.stats_recent_batches_count),
            tuning: BatchTuning::of(config),
            waiting_instances: 0,
            busy_instances: 0,
            live_instances: 0,
            in_flight: InFlightPeak::new(
                Duration::from_millis(config.in_flight_window_ms),
                Instant::now(),
            ),
        }),
        work: Condvar::new(),
        preferred,
        queue_items_max: config.queue_items_max,
        idle_spin: Duration::from_micros(config.idle_spin_us),
        activity: AtomicU64::new(0),
        early_dispatch: config.early_dispatch,
        running_items: AtomicUsize::new(0),
        threads: Mutex::new(Vec::new()),
    }
}

impl<In, Out, E> Batcher<In, Out, E> {
    /// Queues `item` (group 0, no deadline); await its result.
    pub fn submit(&self, item: In) -> Submission<Out, E> {
        self.submit_with(item, SubmitOptions::default())
    }

    /// Queues `item`; it is answered `Expired` if its batch has not started by `deadline`.
    pub fn submit_with_deadline(&self, item: In, deadline: Instant) -> Submission<Out, E> {
        let options = SubmitOptions {
            deadline: Some(deadline),
            ..SubmitOptions::default()
        };
        self.submit_with(item, options)
    }

    /// Queues `item` in group `key`; it only shares a batch with items of the same key.
    pub fn submit_grouped(&self, key: u64, item: In) -> Submission<Out, E> {
        let options = SubmitOptions {
            group_key: key,
            ..SubmitOptions::default()
        };
        self.submit_with(item, options)
    }

    /// Queues `item` with explicit options. Answers at once (without queueing) when the
    /// batcher is closed, the deadline has already passed, or the queue is full.
    pub fn submit_with(&self, item: In, options: SubmitOptions) -> Submission<Out, E> {
        let (completer, submission) = slot::pair();
        match self.enqueue(std::iter::once((item, completer)), options) {
            None => submission,
            // The unqueued completer was dropped, answering `submission`, which is discarded.
            Some(refusal) => Submission::failed(refusal.error()),
        }
    }

    /// Queues `items` together, in order, with the same options (one request's rows): under
    /// one lock, so the batcher sees them all at once (a batch is not sent with the first
    /// before the others are queued, whether by the size rule or early dispatch). All or
    /// nothing: if the queue has no room for every item, each is answered `Overloaded` (and
    /// `Closed` / `Expired` as `submit_with` would).
    pub fn submit_many(&self, items: Vec<In>, options: SubmitOptions) -> Vec<Submission<Out, E>> {
        if items.is_empty() {
            return Vec::new();
        }
        let (completers, submissions): (Vec<_>, Vec<_>) =
            (0..items.len()).map(|_| slot::pair()).unzip();
        let count = submissions.len();
        match self.enqueue(items.into_iter().zip(completers), options) {
            None => submissions,
            Some(refusal) => (0..count)
                .map(|_| Submission::failed(refusal.error()))
                .collect(),
        }
    }

    /// Queues `entries` in group `options.group_key` under one lock, all or nothing: `None`
    /// when queued, else why not (the entries are dropped, answering their completers).
    fn enqueue(
        &self,
        entries: impl ExactSizeIterator<Item = (In, slot::Completer<Out, E>)>,
        options: SubmitOptions,
    ) -> Option<Refusal> {
        let shared = &self.handle.shared;
        let now = Instant::now();
        let mut swept_expired = Vec::new();
        let mut state = shared.lock();
        let refusal = admit(
            shared,
            &mut state,
            now,
            options.deadline,
            entries.len(),
            &mut swept_expired,
        );
        if refusal.is_some() {
            drop(state);
            answer_expired(swept_expired);
            return refusal;
        }
        let was_empty = state.queue.len() == 0;
        let mut group_len = 0;
        for (item, completer) in entries {
            let entry = Entry {
                item,
                completer,
                enqueued_at: now,
                deadline: options.deadline,
            };
            group_len = state.queue.push(options.group_key, entry);
        }
        let in_flight = shared.in_flight(&state);
        state.in_flight.observe(now, in_flight);
        shared.activity.fetch_add(1, Ordering::Release);
        let rules = shared.rules(&state);
        let wake = state.waiting_instances > 0
            && (was_empty || rules.all_in || queue::size_ready(group_len, &rules).is_some());
        drop(state);
        if wake {
            shared.work.notify_one();
        }
        answer_expired(swept_expired);
        None
    }

    /// A snapshot for dashboards: current limit, queue length, counters, recent batches.
    pub fn stats(&self) -> BatchStats {
        let state = self.handle.shared.lock();
        let mut stats = state.recorder.snapshot();
        stats.batch_size_limit = state.limit.current();
        stats.queue_len = state.queue.len();
        stats.busy_instances = state.busy_instances;
        stats.in_flight_peak = state.in_flight.peak();
        stats
    }

    /// Stops accepting items (`Closed`); pending items still run, without waiting for the
    /// delay; then the instance threads end. Returns at once (see `join`).
    pub fn shutdown(&self) {
        self.handle.shared.shutdown();
    }

    /// Stops accepting items and answers every pending one `Closed` at once. Batches already
    /// running finish and are answered normally.
    pub fn shutdown_now(&self) {
        let shared = &self.handle.shared;
        let pending = {
            let mut state = shared.lock();
            state.phase = Phase::Closed;
            state.queue.take_all()
        };
        shared.wake_all();
        drop(pending); // answers `Closed`, outside the lock
    }

    /// Blocks until every instance thread has ended (call `shutdown` first). Blocking: not
    /// for use on an I/O worker. A second call returns at once.
    pub fn join(&self) {
        let threads = std::mem::take(
            &mut *self
                .handle
                .shared
                .threads
                .lock()
                .unwrap_or_else(|e| e.into_inner()),
        );
        let current = std::thread::current().id();
        for thread in threads {
            if thread.thread().id() != current {
                let _ = thread.join();
            }
        }
    }
}

/// Why `admit` refused items.
#[derive(Clone, Copy, Debug)]
enum Refusal {
    Closed,
    Expired,
    Overloaded,
}

impl Refusal {
    fn error<E>(self) -> BatchError<E> {
        match self {
            Refusal::Closed => BatchError::Closed,
            Refusal::Expired => BatchError::Expired,
            Refusal::Overloaded => BatchError::Overloaded,
        }
    }
}

/// Checks whether `count` new items may be queued; returns the refusal to answer if not.
fn admit<In, Out, E>(
    shared: &Shared<In, Out, E>,
    state: &mut State<In, Out, E>,
    now: Instant,
    deadline: Option<Instant>,
    count: usize,
    swept_expired: &mut Vec<slot::Completer<Out, E>>,
) -> Option<Refusal> {
    if state.phase != Phase::Open {
        return Some(Refusal::Closed);
    }
    if deadline.is_some_and(|deadline| deadline <= now) {
        state.recorder.expired_items += count as u64;
        return Some(Refusal::Expired);
    }
    let room = |state: &State<In, Out, E>| state.queue.len() + count <= shared.queue_items_max;
    if !room(state) {
        let skipped = state.queue.sweep(now, swept_expired);
        state.recorder.cancelled_items += skipped.cancelled;
        state.recorder.expired_items += skipped.expired;
    }
    if !room(state) {
        state.recorder.shed_items += count as u64;
        return Some(Refusal::Overloaded);
    }
    None
}

fn answer_expired<Out, E>(expired: Vec<slot::Completer<Out, E>>) {
    for completer in expired {
        completer.complete(Err(BatchError::Expired));
    }
}

#[cfg(test)]
mod tests;
