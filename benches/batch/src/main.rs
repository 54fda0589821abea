//! `kiln-batch-bench`: throughput and p50/p99 latency of `kiln::batch` at 1, 16 and 64
//! concurrent callers, batching on versus off, for three batch functions (no-op, fake model,
//! small MLP), plus the batcher's own overhead per item.
//!
//! Callers are real kiln runtime tasks (`Runtime::start` + `spawn_local`) on one worker, so a
//! result travels back through the runtime's cross-thread wake (remote queue + eventfd), as it
//! would in a handler. Each cell runs a fixed time (warm-up, then measurement); the whole run
//! takes well under two minutes. This is a plain binary, not a criterion bench: the quantity
//! of interest is latency under concurrency, which criterion's iteration model does not give.
//!
//! Run: `cargo run --release -p kiln-batch-bench` (results in `benches/batch/README.md`).

mod workload;

use kiln::batch::{AdaptiveConfig, BatchConfig, Batcher};
use kiln::limits::RuntimeLimits;
use kiln::runtime::{Runtime, RuntimeConfig, spawn_blocking, spawn_local};
use std::convert::Infallible;
use std::future::Future;
use std::hint::black_box;
use std::pin::Pin;
use std::sync::{Mutex, mpsc};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use workload::{BatchFn, Workload};

/// Discarded start of every cell.
const WARMUP: Duration = Duration::from_millis(200);
/// Measured part of every cell.
const MEASURE: Duration = Duration::from_millis(1200);
const CALLER_COUNTS: [usize; 3] = [1, 16, 64];
/// `batch_size_max` when batching is on.
const BATCH_SIZE_MAX: usize = 64;
/// The delay of the "on, delay" mode.
const DELAYED_US: u64 = 500;
/// Idle spin of the "spin" mode.
const SPIN_US: u64 = 50;
/// Objective of the adaptive cell (the fake model meets it up to 25 items).
const OBJECTIVE_US: u64 = 1500;

#[derive(Clone, Copy, Debug)]
enum Mode {
    /// No batcher: the caller runs the function on the worker itself (reference only).
    Inline,
    /// No batcher: one `spawn_blocking` per item (the runtime's blocking pool; reference).
    Pool,
    /// Through the batcher with `batch_size_max = 1` (no idle spin).
    Off,
    /// Through the batcher, `batch_size_max = 64`, the given delay (no idle spin).
    On { delay_us: u64 },
    /// Through the batcher, AIMD with `OBJECTIVE_US` (no idle spin).
    Adaptive,
    /// Like `On { delay_us: 0 }` with `idle_spin_us = SPIN_US` (the library default).
    Spin,
    /// Like `On { delay_us }` with `early_dispatch` (the library default): a batch goes before
    /// the delay when the batcher holds every item in flight.
    Early { delay_us: u64 },
}

impl Mode {
    fn label(self) -> String {
        match self {
            Mode::Inline => "inline (no batcher)".to_owned(),
            Mode::Pool => "spawn_blocking (no batcher)".to_owned(),
            Mode::Off => "off (batch 1)".to_owned(),
            Mode::On { delay_us: 0 } => "on (max 64, delay 0)".to_owned(),
            Mode::On { delay_us } => format!("on (max 64, delay {delay_us} µs)"),
            Mode::Adaptive => format!("adaptive (objective {OBJECTIVE_US} µs)"),
            Mode::Spin => format!("on (max 64, delay 0, idle spin {SPIN_US} µs)"),
            Mode::Early { delay_us } => {
                format!("on (max 64, delay {delay_us} µs, early dispatch)")
            }
        }
    }

    fn config(self) -> Option<BatchConfig> {
        let base = BatchConfig {
            queue_items_max: 4096,
            idle_spin_us: 0,
            early_dispatch: false,
            thread_name: "bench-batch".to_owned(),
            ..BatchConfig::default()
        };
        match self {
            Mode::Inline | Mode::Pool => None,
            Mode::Off => Some(BatchConfig {
                batch_size_max: 1,
                queue_delay_max_us: 0,
                ..base
            }),
            Mode::On { delay_us } => Some(BatchConfig {
                batch_size_max: BATCH_SIZE_MAX,
                queue_delay_max_us: delay_us,
                ..base
            }),
            Mode::Early { delay_us } => Some(BatchConfig {
                batch_size_max: BATCH_SIZE_MAX,
                queue_delay_max_us: delay_us,
                early_dispatch: true,
                ..base
            }),
            Mode::Spin => Some(BatchConfig {
                batch_size_max: BATCH_SIZE_MAX,
                queue_delay_max_us: 0,
                idle_spin_us: SPIN_US,
                ..base
            }),
            Mode::Adaptive => Some(BatchConfig {
                batch_size_max: BATCH_SIZE_MAX,
                queue_delay_max_us: 0,
                adaptive: Some(AdaptiveConfig {
                    latency_objective_us: OBJECTIVE_US,
                    ..AdaptiveConfig::default()
                }),
                ..base
            }),
        }
    }
}

type BenchBatcher = Batcher<u32, u64, Infallible>;

struct CellResult {
    items_per_second: f64,
    p50_us: f64,
    p99_us: f64,
    mean_batch: f64,
    final_limit: usize,
}

fn main() {
    let started = Instant::now();
    print_machine();
    // Optional arguments pick workloads by name: `noop`, `fake`, `mlp` (default: all).
    let chosen: Vec<String> = std::env::args().skip(1).collect();
    let mut summary = Summary::default();
    for workload in [Workload::Noop, Workload::Fake, Workload::Mlp] {
        if !chosen.is_empty() && !chosen.iter().any(|name| *name == workload.key()) {
            continue;
        }
        let batch_fn = workload.batch_fn();
        println!(
            "\n### {} (one call: 1 item {:.0} µs, 64 items {:.0} µs)\n",
            workload.name(),
            workload::calibrate(batch_fn, 1),
            workload::calibrate(batch_fn, 64)
        );
        println!("| callers | batching | items/s | p50 µs | p99 µs | mean batch |");
        println!("|---:|---|---:|---:|---:|---:|");
        let inline = run_and_print(workload, Mode::Inline, 1);
        run_and_print(workload, Mode::Pool, 1);
        for callers in CALLER_COUNTS {
            for mode in [
                Mode::Off,
                Mode::On { delay_us: 0 },
                Mode::On {
                    delay_us: DELAYED_US,
                },
                Mode::Spin,
                Mode::Early {
                    delay_us: DELAYED_US,
                },
            ] {
                let result = run_and_print(workload, mode, callers);
                summary.add(workload, mode, callers, &inline, &result);
            }
        }
        if workload == Workload::Fake {
            let result = run_and_print(workload, Mode::Adaptive, 64);
            println!(
                "\nadaptive: final limit {} (largest batch within {OBJECTIVE_US} µs: 25)",
                result.final_limit
            );
        }
    }
    summary.print();
    println!(
        "\ntotal benchmark time: {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

fn print_machine() {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|line| line.starts_with("model name"))
        .and_then(|line| line.split(':').nth(1))
        .map_or("unknown CPU", str::trim)
        .to_owned();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!("machine: {model}, {cores} cores available");
    println!(
        "cells: {} ms warm-up + {} ms measured; callers are tasks on one kiln worker; one batcher instance",
        WARMUP.as_millis(),
        MEASURE.as_millis()
    );
}

/// The batcher's own overhead per item, gathered from the cells that show it.
#[derive(Default)]
struct Summary {
    lines: Vec<String>,
}

impl Summary {
    fn add(
        &mut self,
        workload: Workload,
        mode: Mode,
        callers: usize,
        inline: &CellResult,
        result: &CellResult,
    ) {
        let label = mode.label();
        match (workload, callers) {
            (Workload::Noop, 1) => self.lines.push(format!(
                "- no-op, 1 caller, {label}: submit→result p50 {:.1} µs",
                result.p50_us
            )),
            (Workload::Noop, 64) => self.lines.push(format!(
                "- no-op, 64 callers, {label}: {:.2} µs of wall time per item ({:.0} items/s)",
                1e6 / result.items_per_second.max(1.0),
                result.items_per_second
            )),
            (Workload::Fake, 1) if !matches!(mode, Mode::On { delay_us } if delay_us > 0) => {
                let extra = result.p50_us - inline.p50_us;
                self.lines.push(format!(
                    "- fake 1 ms model, 1 caller, {label}: p50 {:.1} µs vs inline {:.1} µs: +{extra:.1} µs ({:.1}% of the call)",
                    result.p50_us,
                    inline.p50_us,
                    100.0 * extra / inline.p50_us
                ));
            }
            _ => {}
        }
    }

    fn print(&self) {
        if !self.lines.is_empty() {
            println!("\n### Batcher overhead per item\n");
            self.lines.iter().for_each(|line| println!("{line}"));
        }
    }
}

fn run_and_print(workload: Workload, mode: Mode, callers: usize) -> CellResult {
    let result = run_cell(workload.batch_fn(), mode, callers);
    let mean_batch = if matches!(mode, Mode::Inline | Mode::Pool) {
        "1".to_owned()
    } else {
        format!("{:.1}", result.mean_batch)
    };
    println!(
        "| {callers} | {} | {:.0} | {:.1} | {:.1} | {mean_batch} |",
        mode.label(),
        result.items_per_second,
        result.p50_us,
        result.p99_us,
    );
    result
}

fn run_cell(batch_fn: BatchFn, mode: Mode, callers: usize) -> CellResult {
    let batcher: Option<BenchBatcher> = mode
        .config()
        .map(|config| Batcher::start(config, batch_fn).expect("batcher starts"));
    let (tx, rx) = mpsc::channel::<Vec<u32>>();
    let tx = Mutex::new(tx);
    let task_batcher = batcher.clone();
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
        let batcher = task_batcher.clone();
        let tx = tx.lock().expect("sender").clone();
        async move {
            let warm_end = Instant::now() + WARMUP;
            let end = warm_end + MEASURE;
            let tasks: Vec<_> = (0..callers)
                .map(|id| {
                    let target = match &batcher {
                        Some(batcher) => Target::Batcher(batcher.clone()),
                        None if matches!(mode, Mode::Pool) => Target::Pool(batch_fn),
                        None => Target::Inline(batch_fn),
                    };
                    spawn_local(caller(id, target, warm_end, end))
                })
                .collect();
            let mut samples = Vec::new();
            for task in tasks {
                samples.extend(task.await);
            }
            let _ = tx.send(samples);
        }
    })
    .expect("runtime starts");
    let mut samples = rx.recv().expect("cell finished");
    runtime.join();
    let (mean_batch, final_limit) = match &batcher {
        Some(batcher) => {
            let stats = batcher.stats();
            batcher.shutdown();
            batcher.join();
            (
                stats.dispatched_items as f64 / stats.batches.max(1) as f64,
                stats.batch_size_limit,
            )
        }
        None => (1.0, 1),
    };
    samples.sort_unstable();
    CellResult {
        items_per_second: samples.len() as f64 / MEASURE.as_secs_f64(),
        p50_us: percentile_us(&samples, 0.50),
        p99_us: percentile_us(&samples, 0.99),
        mean_batch,
        final_limit,
    }
}

/// `sorted` in nanoseconds.
fn percentile_us(sorted: &[u32], fraction: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() - 1) as f64 * fraction).round() as usize;
    f64::from(sorted[index]) / 1000.0
}

/// Where a caller sends its items.
enum Target {
    Batcher(BenchBatcher),
    Inline(BatchFn),
    Pool(BatchFn),
}

/// One caller: submit, await, repeat until `end`; returns the latencies (ns) measured after
/// `warm_end`.
async fn caller(id: usize, target: Target, warm_end: Instant, end: Instant) -> Vec<u32> {
    let mut samples = Vec::with_capacity(1 << 16);
    let mut item = (id as u32) << 20;
    loop {
        let started = Instant::now();
        if started >= end {
            return samples;
        }
        let output = match &target {
            Target::Batcher(batcher) => batcher.submit(item).await.ok(),
            Target::Inline(batch_fn) => batch_fn(vec![item]).pop().and_then(Result::ok),
            Target::Pool(batch_fn) => {
                let batch_fn = *batch_fn;
                let outputs = spawn_blocking(move || batch_fn(vec![item])).await;
                outputs
                    .ok()
                    .and_then(|mut outputs| outputs.pop())
                    .and_then(Result::ok)
            }
        };
        let finished = Instant::now();
        black_box(output.expect("no batch errors in the benchmark"));
        if started >= warm_end {
            let nanos = (finished - started).as_nanos();
            samples.push(u32::try_from(nanos).unwrap_or(u32::MAX));
        }
        if matches!(target, Target::Inline(_)) {
            YieldNow(false).await; // let other tasks (and the runtime) run
        }
        item = item.wrapping_add(1);
    }
}

/// Returns `Pending` once, after scheduling itself again.
struct YieldNow(bool);

impl Future for YieldNow {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            return Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}
