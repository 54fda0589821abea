//! Tests of the batcher with real instance threads and a fake batch function: dispatch on size
//! and on delay, routing, grouping, shedding, deadlines, cancellation, shutdown, panics, stats,
//! and an app served through `TestClient` (on a real worker, so results come back through the
//! runtime's cross-thread wake). The pure rules (dispatch, AIMD) are tested in `tests/rules.rs`.
//!
//! Nothing here asserts an upper bound on time: ordering is forced with a gate (the batch
//! function blocks on a batch holding `GATE` until the test opens it), and a hang fails the
//! test through `block_on`'s generous timeout instead of hanging it.

mod rules;

use super::*;
use crate::app::{App, Path, State, get};
use crate::limits::RuntimeLimits;
use crate::runtime::{Runtime, RuntimeConfig, spawn_local};
use crate::test::TestClient;
use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;
use std::sync::mpsc;
use std::task::{Context, Poll, Wake, Waker};

/// How long a test waits for anything before failing.
const TEST_TIMEOUT: Duration = Duration::from_secs(20);
/// A delay no test waits for: a batch that needs it would time the test out.
const FOREVER_US: u64 = 600_000_000;
/// The item that makes the fake batch function block until the gate opens.
const GATE: u32 = 999_999;

struct ThreadWaker(std::thread::Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Polls `future` on this thread until it is ready; fails the test after `TEST_TIMEOUT`.
fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let waker = Waker::from(Arc::new(ThreadWaker(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let deadline = Instant::now() + TEST_TIMEOUT;
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        assert!(
            Instant::now() < deadline,
            "future not ready within {TEST_TIMEOUT:?}"
        );
        std::thread::park_timeout(Duration::from_millis(50));
    }
}

/// Waits until `condition` holds; fails the test after `TEST_TIMEOUT`.
fn wait_until(mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + TEST_TIMEOUT;
    while !condition() {
        assert!(
            Instant::now() < deadline,
            "condition not met within {TEST_TIMEOUT:?}"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Records what the fake batch function saw and holds batches containing `GATE`.
#[derive(Default)]
struct Probe {
    batches: Mutex<Vec<Vec<u32>>>,
    gate_started: Mutex<bool>,
    gate_open: Mutex<bool>,
    changed: Condvar,
}

impl Probe {
    fn batches(&self) -> Vec<Vec<u32>> {
        self.batches.lock().unwrap().clone()
    }

    fn wait_gate_started(&self) {
        let started = self.gate_started.lock().unwrap();
        let (started, timeout) = self
            .changed
            .wait_timeout_while(started, TEST_TIMEOUT, |started| !*started)
            .unwrap();
        assert!(*started && !timeout.timed_out(), "gate batch never started");
    }

    fn open_gate(&self) {
        *self.gate_open.lock().unwrap() = true;
        self.changed.notify_all();
    }

    fn pass_gate(&self) {
        *self.gate_started.lock().unwrap() = true;
        self.changed.notify_all();
        let open = self.gate_open.lock().unwrap();
        drop(self.changed.wait_while(open, |open| !*open).unwrap());
    }

    /// The fake batch function: records the batch, waits at the gate, answers `x + 1000`.
    fn batch_fn(
        self: &Arc<Self>,
    ) -> impl Fn(Vec<u32>) -> Vec<Result<u32, String>> + Send + Sync + 'static {
        let probe = self.clone();
        move |items| {
            probe.batches.lock().unwrap().push(items.clone());
            if items.contains(&GATE) {
                probe.pass_gate();
            }
            items.into_iter().map(|x| Ok(x + 1000)).collect()
        }
    }
}

type TestBatcher = Batcher<u32, u32, String>;

fn start(config: BatchConfig) -> (TestBatcher, Arc<Probe>) {
    let probe = Arc::new(Probe::default());
    let batcher = Batcher::start(config, probe.batch_fn()).expect("batcher starts");
    (batcher, probe)
}

/// A config without early dispatch, so the size and delay rules are tested alone (a lone item
/// with early dispatch would go at once); early dispatch has its own tests.
fn config(batch_size_max: usize, queue_delay_max_us: u64) -> BatchConfig {
    BatchConfig {
        batch_size_max,
        queue_delay_max_us,
        early_dispatch: false,
        ..BatchConfig::default()
    }
}

/// Submits `GATE` and waits until the (only) instance is blocked on it.
fn hold_instance(batcher: &TestBatcher, probe: &Probe) -> Submission<u32, String> {
    let gate = batcher.submit(GATE);
    probe.wait_gate_started();
    gate
}

/// Like `hold_instance` for a batcher that waits (almost) forever: `GATE` and fillers make a
/// full batch of `batch_size_max`, which goes at once. The fillers are `2000 + i`.
fn hold_full_batch(
    batcher: &TestBatcher,
    probe: &Probe,
    batch_size_max: u32,
) -> Vec<Submission<u32, String>> {
    let mut held = vec![batcher.submit(GATE)];
    held.extend((1..batch_size_max).map(|i| batcher.submit(2000 + i)));
    probe.wait_gate_started();
    held
}

fn assert_held_batch_answered(held: Vec<Submission<u32, String>>) {
    for submission in held {
        assert!(block_on(submission).is_ok());
    }
}

#[test]
fn batch_size_max_sends_a_full_batch_without_waiting_for_the_delay() {
    let (batcher, probe) = start(config(4, FOREVER_US));
    let pending: Vec<_> = (1..=4).map(|x| batcher.submit(x)).collect();
    let results: Vec<_> = pending.into_iter().map(block_on).collect();
    assert_eq!(results, vec![Ok(1001), Ok(1002), Ok(1003), Ok(1004)]);
    assert_eq!(probe.batches(), vec![vec![1, 2, 3, 4]]);
}

#[test]
fn queue_delay_max_sends_a_partial_batch_once_the_oldest_item_has_waited() {
    let (batcher, probe) = start(config(100, 50_000));
    let started = Instant::now();
    let pending: Vec<_> = (1..=3).map(|x| batcher.submit(x)).collect();
    let results: Vec<_> = pending.into_iter().map(block_on).collect();
    assert!(
        started.elapsed() >= Duration::from_millis(50),
        "sent before the delay"
    );
    assert_eq!(results, vec![Ok(1001), Ok(1002), Ok(1003)]);
    assert_eq!(probe.batches().concat(), vec![1, 2, 3]);
}

#[test]
fn early_dispatch_serves_a_lone_caller_at_once_instead_of_after_the_delay() {
    let (batcher, probe) = start(BatchConfig {
        early_dispatch: true,
        ..config(8, FOREVER_US)
    });
    // One caller at a time: each item is all there is in flight, so none waits for the
    // (never ending) delay.
    for x in 1..=5 {
        assert_eq!(block_on(batcher.submit(x)), Ok(x + 1000));
    }
    assert_eq!(
        probe.batches(),
        vec![vec![1], vec![2], vec![3], vec![4], vec![5]]
    );
    let stats = batcher.stats();
    assert_eq!(stats.early_batches, 5);
    assert_eq!(stats.in_flight_peak, 1);
}

#[test]
fn early_dispatch_waits_while_fewer_items_are_held_than_were_in_flight() {
    let (batcher, probe) = start(BatchConfig {
        early_dispatch: true,
        ..config(8, FOREVER_US)
    });
    let gate = hold_instance(&batcher, &probe);
    // Four in flight: the gate running and three queued behind it.
    let queued: Vec<_> = (1..=3).map(|x| batcher.submit(x)).collect();
    assert_eq!(batcher.stats().in_flight_peak, 4);
    probe.open_gate();
    assert_eq!(block_on(gate), Ok(GATE + 1000));
    // Three held of a peak of four: a fourth may come, so the three wait for it (the delay
    // never ends); when it comes, all four are in and go together.
    let fourth = batcher.submit(4);
    let results: Vec<_> = queued.into_iter().chain([fourth]).map(block_on).collect();
    assert_eq!(results, (1001..=1004).map(Ok).collect::<Vec<_>>());
    assert_eq!(probe.batches(), vec![vec![GATE], vec![1, 2, 3, 4]]);
}

#[test]
fn preferred_batch_sizes_shape_the_batches_and_shutdown_drains_the_rest() {
    let config = BatchConfig {
        preferred_batch_sizes: vec![4, 2],
        ..config(8, FOREVER_US)
    };
    let (batcher, probe) = start(config);
    let first = batcher.submit(1);
    let gate = batcher.submit(GATE); // two items: the preferred size 2 goes at once
    probe.wait_gate_started();
    let queued: Vec<_> = (10..15).map(|x| batcher.submit(x)).collect();
    probe.open_gate();
    assert_eq!(block_on(first), Ok(1001));
    assert_eq!(block_on(gate), Ok(GATE + 1000));
    // 5 waiting: the largest preferred size (4) goes; 1 is left for the (never) delay.
    wait_until(|| probe.batches().len() == 2);
    assert_eq!(probe.batches()[1], vec![10, 11, 12, 13]);
    assert_eq!(batcher.stats().queue_len, 1);
    batcher.shutdown();
    let results: Vec<_> = queued.into_iter().map(block_on).collect();
    assert_eq!(results, (1010..1015).map(Ok).collect::<Vec<_>>());
    assert_eq!(probe.batches()[2], vec![14]);
    batcher.join();
}

#[test]
fn results_reach_their_own_callers_on_a_worker_in_submission_order() {
    let probe = Arc::new(Probe::default());
    let batcher: TestBatcher =
        Batcher::start(config(16, 200), probe.batch_fn()).expect("batcher starts");
    let task_batcher = batcher.clone();
    let (submitted, answers) = run_on_worker(move || {
        let batcher = task_batcher.clone();
        async move {
            let submitted = Rc::new(RefCell::new(Vec::new()));
            let tasks: Vec<_> = (0..64u32)
                .map(|caller| {
                    let batcher = batcher.clone();
                    let submitted = submitted.clone();
                    spawn_local(async move {
                        let mut answers = Vec::new();
                        for round in 0..10u32 {
                            let item = caller * 100 + round;
                            let pending = batcher.submit(item);
                            submitted.borrow_mut().push(item);
                            answers.push((item, pending.await));
                        }
                        answers
                    })
                })
                .collect();
            let mut answers = Vec::new();
            for task in tasks {
                answers.extend(task.await);
            }
            let submitted = submitted.borrow().clone();
            (submitted, answers)
        }
    });
    assert_eq!(answers.len(), 640);
    for (item, answer) in answers {
        assert_eq!(
            answer,
            Ok(item + 1000),
            "item {item} got someone else's result"
        );
    }
    // The batch function saw every item once, in the order they were submitted.
    assert_eq!(probe.batches().concat(), submitted);
    assert!(
        probe.batches().iter().any(|batch| batch.len() > 1),
        "some batching happened"
    );
}

/// Runs `make()` as the first task of a one-worker kiln runtime and returns its output.
fn run_on_worker<T, F, Fut>(make: F) -> T
where
    T: Send + 'static,
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = T> + 'static,
{
    let (tx, rx) = mpsc::channel();
    let tx = Mutex::new(tx);
    let config = RuntimeConfig {
        workers: 1,
        limits: RuntimeLimits {
            recv_buffer_count: 16,
            ..RuntimeLimits::default()
        },
        shutdown_grace: Duration::from_secs(1),
        ..RuntimeConfig::default()
    };
    let runtime = Runtime::start(config, move |_| {
        let future = make();
        let tx = tx.lock().unwrap().clone();
        async move {
            let _ = tx.send(future.await);
        }
    })
    .expect("runtime starts");
    let output = rx.recv_timeout(TEST_TIMEOUT).expect("worker task finished");
    runtime.join();
    output
}

#[test]
fn a_batch_never_mixes_group_keys_and_the_oldest_group_goes_first() {
    let (batcher, probe) = start(config(8, 0));
    let gate = hold_instance(&batcher, &probe);
    let mut pending = Vec::new();
    for (key, item) in [(1, 101), (2, 201), (1, 102), (3, 301), (2, 202), (1, 103)] {
        pending.push((item, batcher.submit_grouped(key, item)));
    }
    probe.open_gate();
    assert_eq!(block_on(gate), Ok(GATE + 1000));
    for (item, submission) in pending {
        assert_eq!(block_on(submission), Ok(item + 1000));
    }
    let after_gate = probe.batches()[1..].to_vec();
    assert_eq!(
        after_gate,
        vec![vec![101, 102, 103], vec![201, 202], vec![301]]
    );
}

#[test]
fn submit_many_queues_one_request_s_items_together() {
    let (batcher, probe) = start(BatchConfig {
        early_dispatch: true,
        ..config(4, FOREVER_US)
    });
    // Eight at once: two full batches; early dispatch never sends the first item alone.
    let pending = batcher.submit_many((1..=8).collect(), SubmitOptions::default());
    let results: Vec<_> = pending.into_iter().map(block_on).collect();
    assert_eq!(results, (1001..=1008).map(Ok).collect::<Vec<_>>());
    assert_eq!(probe.batches(), vec![vec![1, 2, 3, 4], vec![5, 6, 7, 8]]);
    // On a fresh batcher, three at once below the limit: all there is in flight, so they go
    // at once, together.
    let (batcher, probe) = start(BatchConfig {
        early_dispatch: true,
        ..config(8, FOREVER_US)
    });
    let pending = batcher.submit_many(vec![9, 10, 11], SubmitOptions::default());
    for submission in pending {
        assert!(block_on(submission).is_ok());
    }
    assert_eq!(probe.batches(), vec![vec![9, 10, 11]]);
    assert!(
        batcher
            .submit_many(Vec::new(), SubmitOptions::default())
            .is_empty()
    );
}

#[test]
fn submit_many_is_all_or_nothing_when_the_queue_has_no_room() {
    let config = BatchConfig {
        queue_items_max: 4,
        ..config(1, FOREVER_US)
    };
    let (batcher, probe) = start(config);
    let gate = batcher.submit_many(vec![GATE], SubmitOptions::default());
    let gate = gate.into_iter().next().expect("one submission");
    probe.wait_gate_started();
    let refused = batcher.submit_many(vec![1, 2, 3, 4, 5], SubmitOptions::default());
    assert_eq!(refused.len(), 5);
    for submission in refused {
        assert_eq!(block_on(submission), Err(BatchError::Overloaded));
    }
    assert_eq!(batcher.stats().shed_items, 5);
    assert_eq!(batcher.stats().queue_len, 0, "none of the five was queued");
    let fits = batcher.submit_many(vec![1, 2, 3, 4], SubmitOptions::default());
    probe.open_gate();
    assert_eq!(block_on(gate), Ok(GATE + 1000));
    for submission in fits {
        assert!(block_on(submission).is_ok());
    }
    let past = Instant::now() - Duration::from_millis(1);
    let expired = batcher.submit_many(
        vec![1, 2],
        SubmitOptions {
            deadline: Some(past),
            ..SubmitOptions::default()
        },
    );
    for submission in expired {
        assert_eq!(block_on(submission), Err(BatchError::Expired));
    }
    batcher.shutdown();
    let closed = batcher.submit_many(vec![1], SubmitOptions::default());
    assert_eq!(
        block_on(closed.into_iter().next().unwrap()),
        Err(BatchError::Closed)
    );
}

#[test]
fn queue_items_max_is_shared_by_all_groups_and_sheds_with_overloaded() {
    let config = BatchConfig {
        queue_items_max: 3,
        ..config(1, 0)
    };
    let (batcher, probe) = start(config);
    let gate = hold_instance(&batcher, &probe);
    let queued = [
        batcher.submit_grouped(1, 1),
        batcher.submit_grouped(2, 2),
        batcher.submit_grouped(3, 3),
    ];
    assert_eq!(
        block_on(batcher.submit_grouped(4, 4)),
        Err(BatchError::Overloaded)
    );
    assert_eq!(block_on(batcher.submit(5)), Err(BatchError::Overloaded));
    let stats = batcher.stats();
    assert_eq!((stats.queue_len, stats.shed_items), (3, 2));
    probe.open_gate();
    assert_eq!(block_on(gate), Ok(GATE + 1000));
    let results: Vec<_> = queued.into_iter().map(block_on).collect();
    assert_eq!(results, vec![Ok(1001), Ok(1002), Ok(1003)]);
    assert!(
        probe
            .batches()
            .iter()
            .all(|batch| !batch.contains(&4) && !batch.contains(&5))
    );
}

#[test]
fn a_full_queue_sweeps_cancelled_items_before_shedding() {
    let config = BatchConfig {
        queue_items_max: 2,
        ..config(1, 0)
    };
    let (batcher, probe) = start(config);
    let gate = hold_instance(&batcher, &probe);
    let kept = batcher.submit(1);
    drop(batcher.submit(2)); // the caller went away
    let admitted = batcher.submit(3);
    probe.open_gate();
    assert_eq!(block_on(gate), Ok(GATE + 1000));
    assert_eq!(block_on(kept), Ok(1001));
    assert_eq!(block_on(admitted), Ok(1003));
    assert_eq!(batcher.stats().cancelled_items, 1);
    assert_eq!(batcher.stats().shed_items, 0);
    assert!(probe.batches().iter().all(|batch| !batch.contains(&2)));
}

#[test]
fn an_item_whose_deadline_passed_in_the_queue_is_answered_expired_and_never_runs() {
    let (batcher, probe) = start(config(8, 0));
    let gate = hold_instance(&batcher, &probe);
    let late = batcher.submit_with_deadline(5, Instant::now() + Duration::from_millis(30));
    let on_time = batcher.submit_with_deadline(6, Instant::now() + TEST_TIMEOUT * 2);
    std::thread::sleep(Duration::from_millis(60));
    probe.open_gate();
    assert_eq!(block_on(gate), Ok(GATE + 1000));
    assert_eq!(block_on(late), Err(BatchError::Expired));
    assert_eq!(block_on(on_time), Ok(1006));
    assert_eq!(probe.batches()[1..], [vec![6]]);
    assert_eq!(batcher.stats().expired_items, 1);
}

#[test]
fn a_deadline_already_past_is_answered_at_once() {
    let (batcher, probe) = start(config(8, 0));
    let past = batcher.submit_with_deadline(5, Instant::now());
    assert_eq!(block_on(past), Err(BatchError::Expired));
    assert!(probe.batches().is_empty());
    assert_eq!(batcher.stats().expired_items, 1);
}

#[test]
fn a_cancelled_item_is_dropped_before_its_batch_runs() {
    let (batcher, probe) = start(config(8, 0));
    let gate = hold_instance(&batcher, &probe);
    let cancelled = batcher.submit(7);
    let kept = batcher.submit(8);
    drop(cancelled);
    probe.open_gate();
    assert_eq!(block_on(gate), Ok(GATE + 1000));
    assert_eq!(block_on(kept), Ok(1008));
    assert_eq!(probe.batches()[1..], [vec![8]]);
    assert_eq!(batcher.stats().cancelled_items, 1);
}

#[test]
fn shutdown_drains_pending_items_and_refuses_new_ones() {
    let (batcher, probe) = start(config(4, FOREVER_US));
    let held = hold_full_batch(&batcher, &probe, 4);
    let pending: Vec<_> = (1..=3).map(|x| batcher.submit(x)).collect();
    batcher.shutdown();
    assert_eq!(block_on(batcher.submit(4)), Err(BatchError::Closed));
    probe.open_gate();
    assert_held_batch_answered(held);
    let results: Vec<_> = pending.into_iter().map(block_on).collect();
    assert_eq!(results, vec![Ok(1001), Ok(1002), Ok(1003)]);
    batcher.join();
}

#[test]
fn shutdown_now_answers_pending_items_closed_at_once() {
    let (batcher, probe) = start(config(4, FOREVER_US));
    let held = hold_full_batch(&batcher, &probe, 4);
    let pending: Vec<_> = (1..=2).map(|x| batcher.submit(x)).collect();
    batcher.shutdown_now();
    // Answered while the instance is still blocked in the running batch.
    let results: Vec<_> = pending.into_iter().map(block_on).collect();
    assert_eq!(
        results,
        vec![Err(BatchError::Closed), Err(BatchError::Closed)]
    );
    probe.open_gate();
    assert_held_batch_answered(held); // the running batch finishes normally
    batcher.join();
}

#[test]
fn dropping_the_last_handle_still_answers_every_caller() {
    let (batcher, probe) = start(config(4, FOREVER_US));
    let held = hold_full_batch(&batcher, &probe, 4);
    let pending: Vec<_> = (1..=3).map(|x| batcher.submit(x)).collect();
    let clone = batcher.clone();
    drop(batcher);
    drop(clone);
    probe.open_gate();
    assert_held_batch_answered(held);
    let results: Vec<_> = pending.into_iter().map(block_on).collect();
    assert_eq!(results, vec![Ok(1001), Ok(1002), Ok(1003)]);
}

#[test]
fn a_panicking_batch_function_fails_its_batch_and_the_instance_survives() {
    let batcher: TestBatcher = Batcher::start(config(4, 0), |items: Vec<u32>| {
        assert!(
            !items.contains(&13),
            "batch function panic on purpose (test)"
        );
        items.into_iter().map(|x| Ok(x + 1000)).collect()
    })
    .expect("batcher starts");
    assert_eq!(block_on(batcher.submit(13)), Err(BatchError::Panicked));
    assert_eq!(block_on(batcher.submit(1)), Ok(1001));
    wait_until(|| batcher.stats().batches == 2);
    let stats = batcher.stats();
    assert_eq!((stats.panicked_batches, stats.failed_items), (1, 1));
    assert!(stats.recent_batches[0].panicked && !stats.recent_batches[1].panicked);
}

#[test]
fn errors_and_missing_results_reach_their_callers() {
    let batcher: TestBatcher = Batcher::start(config(4, 0), |items: Vec<u32>| {
        items
            .into_iter()
            .filter(|&x| x != 99) // "forgets" item 99, which is alone in its batch
            .map(|x| {
                if x % 2 == 1 {
                    Err(format!("odd {x}"))
                } else {
                    Ok(x)
                }
            })
            .collect()
    })
    .expect("batcher starts");
    assert_eq!(block_on(batcher.submit(2)), Ok(2));
    assert_eq!(
        block_on(batcher.submit(3)),
        Err(BatchError::Failed("odd 3".to_owned()))
    );
    assert_eq!(block_on(batcher.submit(99)), Err(BatchError::MissingResult));
    wait_until(|| batcher.stats().batches == 3);
    assert_eq!(batcher.stats().failed_items, 2);
}

#[test]
fn instances_count_threads_drain_one_queue_concurrently() {
    // Each batch waits for another batch to be running: only two instances can finish.
    let barrier = Arc::new(std::sync::Barrier::new(2));
    let config = BatchConfig {
        instances_count: 2,
        ..config(1, 0)
    };
    let batcher: TestBatcher = Batcher::start(config, move |items: Vec<u32>| {
        barrier.wait();
        items.into_iter().map(|x| Ok(x + 1000)).collect()
    })
    .expect("batcher starts");
    let first = batcher.submit(1);
    let second = batcher.submit(2);
    assert_eq!(block_on(first), Ok(1001));
    assert_eq!(block_on(second), Ok(1002));
    batcher.shutdown();
    batcher.join();
}

#[test]
fn idle_spin_us_picks_up_items_while_spinning_and_after_it_sleeps() {
    let config = BatchConfig {
        idle_spin_us: 2000,
        ..config(8, 0)
    };
    let (batcher, probe) = start(config);
    assert_eq!(block_on(batcher.submit(1)), Ok(1001));
    assert_eq!(block_on(batcher.submit(2)), Ok(1002)); // most likely caught by the spin
    std::thread::sleep(Duration::from_millis(20)); // the spin is over: the instance sleeps
    assert_eq!(block_on(batcher.submit(3)), Ok(1003));
    assert_eq!(probe.batches().concat(), vec![1, 2, 3]);
}

#[test]
fn shutdown_stops_an_instance_that_is_spinning() {
    let config = BatchConfig {
        idle_spin_us: FOREVER_US,
        ..config(8, 0)
    };
    let (batcher, _probe) = start(config);
    assert_eq!(block_on(batcher.submit(1)), Ok(1001));
    let (joined_tx, joined_rx) = mpsc::channel();
    let joiner = batcher.clone();
    std::thread::spawn(move || {
        joiner.shutdown();
        joiner.join();
        let _ = joined_tx.send(());
    });
    joined_rx
        .recv_timeout(TEST_TIMEOUT)
        .expect("the spinning instance noticed the shutdown");
}

#[test]
fn stats_keep_only_stats_recent_batches_count_batches() {
    let config = BatchConfig {
        stats_recent_batches_count: 4,
        ..config(8, 0)
    };
    let (batcher, _probe) = start(config);
    for x in 0..10 {
        assert_eq!(block_on(batcher.submit(x)), Ok(x + 1000));
    }
    wait_until(|| batcher.stats().batches == 10);
    let stats = batcher.stats();
    assert_eq!(stats.recent_batches.len(), 4);
    assert!(stats.recent_batches.iter().all(|batch| batch.size == 1));
    assert_eq!(
        (
            stats.dispatched_items,
            stats.batch_size_limit,
            stats.queue_len
        ),
        (10, 8, 0)
    );
    assert!(stats.latency_percentile_us(99.0).is_some());
}

#[test]
fn the_adaptive_limit_grows_batch_by_batch_from_batch_size_min() {
    let config = BatchConfig {
        adaptive: Some(AdaptiveConfig {
            latency_objective_us: FOREVER_US,
            additive_step: 1,
            multiplicative_decrease: 0.5,
            batch_size_min: 2,
        }),
        ..config(8, 0)
    };
    let (batcher, probe) = start(config);
    assert_eq!(batcher.stats().batch_size_limit, 2);
    let gate = hold_instance(&batcher, &probe);
    let pending: Vec<_> = (1..=10).map(|x| batcher.submit(x)).collect();
    probe.open_gate();
    assert_eq!(block_on(gate), Ok(GATE + 1000));
    for (x, submission) in (1..=10).zip(pending) {
        assert_eq!(block_on(submission), Ok(x + 1000));
    }
    wait_until(|| batcher.stats().batches == 5);
    let sizes: Vec<usize> = probe.batches().iter().map(Vec::len).collect();
    // Limit 2, then +1 after each full batch inside the objective; the last item goes alone.
    assert_eq!(sizes, vec![1, 2, 3, 4, 1]);
    assert_eq!(batcher.stats().batch_size_limit, 5);
}

#[test]
fn handles_and_submissions_cross_threads() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<Batcher<Vec<f32>, Vec<f32>, String>>();
    send::<Submission<Vec<f32>, String>>();
}

#[test]
fn invalid_configs_are_refused() {
    let bad = [
        config(0, 0),
        BatchConfig {
            queue_items_max: 0,
            ..config(8, 0)
        },
        BatchConfig {
            instances_count: 0,
            ..config(8, 0)
        },
        BatchConfig {
            in_flight_window_ms: 0,
            ..config(8, 0)
        },
        BatchConfig {
            preferred_batch_sizes: vec![0],
            ..config(8, 0)
        },
        BatchConfig {
            preferred_batch_sizes: vec![9],
            ..config(8, 0)
        },
        BatchConfig {
            adaptive: Some(AdaptiveConfig {
                batch_size_min: 9,
                ..AdaptiveConfig::default()
            }),
            ..config(8, 0)
        },
    ];
    for config in bad {
        let started = Batcher::<u32, u32, String>::start(config.clone(), |_| Vec::new());
        let error = started.expect_err("invalid config refused");
        assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput, "{config:?}");
    }
}

#[test]
fn batch_errors_map_to_http_statuses() {
    let response = |error: BatchError<String>| error.into_response();
    let overloaded = response(BatchError::Overloaded);
    assert_eq!(overloaded.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(overloaded.header("retry-after").unwrap().as_bytes(), b"1");
    let expired = response(BatchError::Expired);
    assert_eq!(expired.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(expired.header("retry-after").is_some());
    assert_eq!(
        response(BatchError::Closed).status,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(
        response(BatchError::Panicked).status,
        StatusCode::INTERNAL_SERVER_ERROR
    );
    let failed = response(BatchError::Failed("model says no".to_owned()));
    assert_eq!(failed.status, StatusCode::INTERNAL_SERVER_ERROR);
}

#[derive(Clone)]
struct ModelState {
    batcher: TestBatcher,
}

async fn infer(
    State(state): State<ModelState>,
    Path(x): Path<u32>,
) -> Result<String, BatchError<String>> {
    let answer = state.batcher.submit(x).await?;
    Ok(answer.to_string())
}

#[test]
fn an_app_handler_awaits_submit_and_overload_becomes_503_with_retry_after() {
    let config = BatchConfig {
        queue_items_max: 1,
        ..config(1, 0)
    };
    let (batcher, probe) = start(config);
    let app = App::new()
        .state(ModelState {
            batcher: batcher.clone(),
        })
        .route("/infer/{x}", get(infer));
    let client = TestClient::new(app);
    client
        .get("/infer/7")
        .send()
        .assert_status(200)
        .assert_contains("1007");

    let gate = hold_instance(&batcher, &probe);
    let queued = batcher.submit(1); // fills the queue
    client
        .get("/infer/8")
        .send()
        .assert_status(503)
        .assert_header("retry-after", "1")
        .assert_contains("batch queue is full");
    probe.open_gate();
    assert_eq!(block_on(gate), Ok(GATE + 1000));
    assert_eq!(block_on(queued), Ok(1001));
    client
        .get("/infer/9")
        .send()
        .assert_status(200)
        .assert_contains("1009");
}

/// `Submission::wait` blocks a plain thread until the answer comes, and returns an immediate
/// answer (a refused item) at once.
#[test]
fn wait_blocks_a_plain_thread_until_the_answer() {
    let (batcher, probe) = start(config(1, 0));
    let held = hold_instance(&batcher, &probe);
    let waiting = {
        let batcher = batcher.clone();
        std::thread::spawn(move || batcher.submit(7).wait())
    };
    // The waiting thread cannot finish while the instance is held.
    std::thread::sleep(Duration::from_millis(20));
    assert!(!waiting.is_finished());
    probe.open_gate();
    assert_eq!(waiting.join().expect("thread"), Ok(1007));
    assert_eq!(held.wait(), Ok(GATE + 1000));
    batcher.shutdown();
    assert_eq!(batcher.submit(8).wait(), Err(BatchError::Closed));
}

#[test]
fn retune_changes_the_batch_size_cap_of_a_running_batcher() {
    let (batcher, probe) = start(config(2, FOREVER_US));
    let held = hold_full_batch(&batcher, &probe, 2);
    let waiting: Vec<_> = (0..4).map(|x| batcher.submit(x)).collect();
    let tuning = BatchTuning {
        batch_size_max: 4,
        ..batcher.tuning()
    };
    batcher.retune(tuning.clone()).expect("valid settings");
    assert_eq!(batcher.tuning(), tuning);
    assert_eq!(batcher.stats().batch_size_limit, 4);
    probe.open_gate();
    assert_held_batch_answered(held);
    for submission in waiting {
        assert!(block_on(submission).is_ok());
    }
    let sizes: Vec<usize> = probe.batches.lock().unwrap().iter().map(Vec::len).collect();
    assert_eq!(
        sizes,
        vec![2, 4],
        "the four waiting items go as one batch of the new cap"
    );
}

#[test]
fn retune_shortens_the_delay_an_instance_is_already_waiting_for() {
    let (batcher, _probe) = start(config(8, FOREVER_US));
    let waiting = batcher.submit(1);
    let tuning = BatchTuning {
        queue_delay_max_us: 0,
        ..batcher.tuning()
    };
    batcher.retune(tuning).expect("valid settings");
    assert_eq!(block_on(waiting), Ok(1001), "sent without the old delay");
}

#[test]
fn retune_turns_adaptive_batching_on_and_off_keeping_the_limit_in_range() {
    let (batcher, _probe) = start(config(16, 0));
    assert_eq!(batcher.stats().batch_size_limit, 16);
    let adaptive = AdaptiveConfig {
        batch_size_min: 2,
        ..AdaptiveConfig::default()
    };
    let tuning = BatchTuning {
        batch_size_max: 8,
        queue_delay_max_us: 0,
        adaptive: Some(adaptive),
    };
    batcher.retune(tuning.clone()).expect("valid settings");
    assert_eq!(batcher.stats().batch_size_limit, 8, "clamped into 2..=8");
    batcher
        .retune(BatchTuning {
            adaptive: None,
            ..tuning
        })
        .expect("valid settings");
    assert_eq!(batcher.stats().batch_size_limit, 8);
    assert_eq!(block_on(batcher.submit(5)), Ok(1005));
}

#[test]
fn retune_refuses_invalid_settings_and_keeps_the_old_ones() {
    let config = BatchConfig {
        preferred_batch_sizes: vec![4],
        ..config(8, 100)
    };
    let (batcher, _probe) = start(config);
    let before = batcher.tuning();
    let zero = BatchTuning {
        batch_size_max: 0,
        ..before.clone()
    };
    assert_eq!(
        batcher.retune(zero),
        Err(TuningError("batch_size_max must be at least 1"))
    );
    let below_preferred = BatchTuning {
        batch_size_max: 2,
        ..before.clone()
    };
    assert!(batcher.retune(below_preferred).is_err());
    let bad_objective = BatchTuning {
        adaptive: Some(AdaptiveConfig {
            latency_objective_us: 0,
            ..AdaptiveConfig::default()
        }),
        ..before.clone()
    };
    assert!(batcher.retune(bad_objective).is_err());
    assert_eq!(batcher.tuning(), before);
    assert_eq!(batcher.stats().batch_size_limit, 8);
}
