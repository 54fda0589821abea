//! What the app counts, and `GET /metrics` in the Prometheus text format (0.0.4).
//!
//! Each loaded model version owns a `RequestMetrics` (requests by outcome, a latency
//! histogram) and its batch notes own a `Histogram` of batch sizes: fixed arrays of atomics,
//! bumped with relaxed adds on the hot path (no lock, no allocation), so memory is bounded by
//! the number of loaded versions. Queue depth and the batch size limit are read from the
//! batcher when scraped. Requests for an unknown model are not counted per model (that would
//! let a client grow the label set). `render` writes the exposition by hand: it is a simple
//! line format. Not here: the dashboard's per-second series (`domain/series.rs`, `web/`).
//! Tests: below, and `tests/cli/dashboard.rs` over HTTP.

use crate::domain::series::{BATCH_SIZE_BOUNDS, Counters, LATENCY_BOUNDS_US, bucket_index};
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

/// How a request ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    /// 4xx: the request did not fit the model.
    BadInput,
    /// 503: the model's queue was full.
    Shed,
    /// 503: the request's deadline passed before its batch ran.
    Expired,
    /// 500: the model failed.
    Failed,
    /// 503: the model was unloaded while the request waited.
    Closed,
}

impl Outcome {
    pub const ALL: [Outcome; 6] = [
        Outcome::Ok,
        Outcome::BadInput,
        Outcome::Shed,
        Outcome::Expired,
        Outcome::Failed,
        Outcome::Closed,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::BadInput => "bad_input",
            Outcome::Shed => "shed",
            Outcome::Expired => "expired",
            Outcome::Failed => "failed",
            Outcome::Closed => "closed",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// A histogram of atomics with fixed upper bounds (and one overflow bucket).
#[derive(Debug)]
pub struct Histogram {
    bounds: &'static [u64],
    counts: Vec<AtomicU64>,
    sum: AtomicU64,
}

impl Histogram {
    pub fn new(bounds: &'static [u64]) -> Histogram {
        Histogram {
            bounds,
            counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum: AtomicU64::new(0),
        }
    }

    pub fn observe(&self, value: u64) {
        self.counts[bucket_index(self.bounds, value)].fetch_add(1, Ordering::Relaxed);
        self.sum.fetch_add(value, Ordering::Relaxed);
    }

    /// Counts per bucket (not cumulative).
    pub fn counts(&self) -> Vec<u64> {
        self.counts
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .collect()
    }

    pub fn sum(&self) -> u64 {
        self.sum.load(Ordering::Relaxed)
    }

    pub fn bounds(&self) -> &'static [u64] {
        self.bounds
    }
}

/// The batch sizes a version's batch function ran.
pub fn batch_size_histogram() -> Histogram {
    Histogram::new(&BATCH_SIZE_BOUNDS)
}

/// The requests of one model version.
#[derive(Debug)]
pub struct RequestMetrics {
    outcomes: [AtomicU64; 6],
    latency_us: Histogram,
}

impl Default for RequestMetrics {
    fn default() -> Self {
        RequestMetrics {
            outcomes: Default::default(),
            latency_us: Histogram::new(&LATENCY_BOUNDS_US),
        }
    }
}

impl RequestMetrics {
    /// Counts one request that ended with `outcome` after `latency_us`.
    pub fn record(&self, outcome: Outcome, latency_us: u64) {
        self.outcomes[outcome.index()].fetch_add(1, Ordering::Relaxed);
        self.latency_us.observe(latency_us);
    }

    pub fn count(&self, outcome: Outcome) -> u64 {
        self.outcomes[outcome.index()].load(Ordering::Relaxed)
    }

    pub fn latency_us(&self) -> &Histogram {
        &self.latency_us
    }

    /// Adds this version's counts into a model's `Counters`.
    pub fn add_to(&self, counters: &mut Counters) {
        let count = |o| self.count(o);
        counters.requests += Outcome::ALL.iter().map(|&o| count(o)).sum::<u64>();
        counters.shed += count(Outcome::Shed);
        counters.expired += count(Outcome::Expired);
        counters.errors +=
            count(Outcome::BadInput) + count(Outcome::Failed) + count(Outcome::Closed);
        add_into(&mut counters.latency_buckets, &self.latency_us.counts());
    }
}

/// Adds `part` into `total` element-wise, growing `total` to `part`'s length.
pub fn add_into(total: &mut Vec<u64>, part: &[u64]) {
    if total.len() < part.len() {
        total.resize(part.len(), 0);
    }
    for (slot, value) in total.iter_mut().zip(part) {
        *slot += value;
    }
}

/// What `/metrics` shows of one loaded model version.
pub struct VersionView<'a> {
    pub model: &'a str,
    pub version: u64,
    pub requests: &'a RequestMetrics,
    pub batch_sizes: &'a Histogram,
    /// The batcher's snapshot: queue length, limit, item counters.
    pub batcher: &'a kiln::batch::BatchStats,
}

/// The Prometheus text exposition of every loaded version.
pub fn render(versions: &[VersionView<'_>]) -> String {
    let mut out = String::with_capacity(4096 + versions.len() * 4096);
    header(
        &mut out,
        "inference_requests_total",
        "counter",
        "Infer and embed requests answered, by outcome (shed: 503 full queue; expired: 503 deadline passed).",
    );
    for v in versions {
        for outcome in Outcome::ALL {
            let _ = writeln!(
                out,
                "inference_requests_total{{{},outcome=\"{}\"}} {}",
                labels(v),
                outcome.label(),
                v.requests.count(outcome)
            );
        }
    }
    header(
        &mut out,
        "inference_request_duration_seconds",
        "histogram",
        "Time from a request reaching the model to its answer.",
    );
    for v in versions {
        histogram(
            &mut out,
            "inference_request_duration_seconds",
            &labels(v),
            v.requests.latency_us(),
            seconds_of_micros,
        );
    }
    header(
        &mut out,
        "inference_batch_size",
        "histogram",
        "Items per batch the model ran.",
    );
    for v in versions {
        histogram(
            &mut out,
            "inference_batch_size",
            &labels(v),
            v.batch_sizes,
            |n| n.to_string(),
        );
    }
    header(
        &mut out,
        "inference_queue_depth",
        "gauge",
        "Items waiting in the model's batch queue.",
    );
    for v in versions {
        let _ = writeln!(
            out,
            "inference_queue_depth{{{}}} {}",
            labels(v),
            v.batcher.queue_len
        );
    }
    header(
        &mut out,
        "inference_batch_size_limit",
        "gauge",
        "The batch size limit in force (max batch, or the adaptive limit).",
    );
    for v in versions {
        let _ = writeln!(
            out,
            "inference_batch_size_limit{{{}}} {}",
            labels(v),
            v.batcher.batch_size_limit
        );
    }
    header(
        &mut out,
        "inference_batcher_items_total",
        "counter",
        "Items (rows, texts) the batcher handled: dispatched to the model, shed (full queue), expired (deadline), cancelled (caller gone), failed.",
    );
    for v in versions {
        let b = v.batcher;
        for (state, count) in [
            ("dispatched", b.dispatched_items),
            ("shed", b.shed_items),
            ("expired", b.expired_items),
            ("cancelled", b.cancelled_items),
            ("failed", b.failed_items),
        ] {
            let _ = writeln!(
                out,
                "inference_batcher_items_total{{{},state=\"{state}\"}} {count}",
                labels(v)
            );
        }
    }
    header(
        &mut out,
        "inference_batcher_early_batches_total",
        "counter",
        "Batches sent before the max queue delay because every request in flight was already queued or running (early dispatch).",
    );
    for v in versions {
        let _ = writeln!(
            out,
            "inference_batcher_early_batches_total{{{}}} {}",
            labels(v),
            v.batcher.early_batches
        );
    }
    out
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// Model names are `[A-Za-z0-9_.-]` (checked at load), so they need no escaping.
fn labels(v: &VersionView<'_>) -> String {
    format!("model=\"{}\",version=\"{}\"", v.model, v.version)
}

/// Microseconds as exact decimal seconds (`2500` is `0.0025`): no binary-float noise in `le`.
fn seconds_of_micros(us: u64) -> String {
    let (whole, fraction) = (us / 1_000_000, us % 1_000_000);
    if fraction == 0 {
        return whole.to_string();
    }
    let text = format!("{whole}.{fraction:06}");
    text.trim_end_matches('0').to_owned()
}

/// Writes one histogram; `unit` renders a bound or the sum in the exposed unit.
fn histogram(
    out: &mut String,
    name: &str,
    labels: &str,
    histogram: &Histogram,
    unit: fn(u64) -> String,
) {
    let counts = histogram.counts();
    let mut cumulative = 0u64;
    for (index, count) in counts.iter().enumerate() {
        cumulative += count;
        let le = match histogram.bounds().get(index) {
            Some(&bound) => unit(bound),
            None => "+Inf".to_owned(),
        };
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{le}\"}} {cumulative}");
    }
    let _ = writeln!(out, "{name}_sum{{{labels}}} {}", unit(histogram.sum()));
    let _ = writeln!(out, "{name}_count{{{labels}}} {cumulative}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exposition_has_cumulative_buckets_sums_counts_and_gauges() {
        let requests = RequestMetrics::default();
        requests.record(Outcome::Ok, 300);
        requests.record(Outcome::Ok, 300);
        requests.record(Outcome::Shed, 20_000_000);
        let batches = batch_size_histogram();
        batches.observe(3);
        batches.observe(64);
        let text = render(&[VersionView {
            model: "risk",
            version: 1,
            requests: &requests,
            batch_sizes: &batches,
            batcher: &kiln::batch::BatchStats {
                queue_len: 5,
                batch_size_limit: 16,
                dispatched_items: 67,
                shed_items: 2,
                early_batches: 9,
                ..kiln::batch::BatchStats::default()
            },
        }]);
        for line in [
            "# TYPE inference_requests_total counter",
            "inference_requests_total{model=\"risk\",version=\"1\",outcome=\"ok\"} 2",
            "inference_requests_total{model=\"risk\",version=\"1\",outcome=\"shed\"} 1",
            "inference_requests_total{model=\"risk\",version=\"1\",outcome=\"expired\"} 0",
            "# TYPE inference_request_duration_seconds histogram",
            "inference_request_duration_seconds_bucket{model=\"risk\",version=\"1\",le=\"0.00025\"} 0",
            "inference_request_duration_seconds_bucket{model=\"risk\",version=\"1\",le=\"0.0005\"} 2",
            "inference_request_duration_seconds_bucket{model=\"risk\",version=\"1\",le=\"10\"} 2",
            "inference_request_duration_seconds_bucket{model=\"risk\",version=\"1\",le=\"+Inf\"} 3",
            "inference_request_duration_seconds_count{model=\"risk\",version=\"1\"} 3",
            "inference_batch_size_bucket{model=\"risk\",version=\"1\",le=\"2\"} 0",
            "inference_batch_size_bucket{model=\"risk\",version=\"1\",le=\"4\"} 1",
            "inference_batch_size_bucket{model=\"risk\",version=\"1\",le=\"64\"} 2",
            "inference_batch_size_sum{model=\"risk\",version=\"1\"} 67",
            "inference_queue_depth{model=\"risk\",version=\"1\"} 5",
            "inference_batch_size_limit{model=\"risk\",version=\"1\"} 16",
            "# TYPE inference_batcher_items_total counter",
            "inference_batcher_items_total{model=\"risk\",version=\"1\",state=\"dispatched\"} 67",
            "inference_batcher_items_total{model=\"risk\",version=\"1\",state=\"shed\"} 2",
            "inference_batcher_items_total{model=\"risk\",version=\"1\",state=\"failed\"} 0",
            "# TYPE inference_batcher_early_batches_total counter",
            "inference_batcher_early_batches_total{model=\"risk\",version=\"1\"} 9",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
        let sum_line = text
            .lines()
            .find(|l| l.starts_with("inference_request_duration_seconds_sum"))
            .expect("sum");
        assert_eq!(sum_line.rsplit(' ').next(), Some("20.0006"));
        assert_eq!(seconds_of_micros(25_000), "0.025");
        assert_eq!(seconds_of_micros(2_500_000), "2.5");
    }

    #[test]
    fn counters_fold_outcomes_into_requests_errors_shed_and_expired() {
        let requests = RequestMetrics::default();
        for outcome in Outcome::ALL {
            requests.record(outcome, 1);
        }
        let mut counters = Counters::default();
        requests.add_to(&mut counters);
        requests.add_to(&mut counters);
        assert_eq!(counters.requests, 12);
        assert_eq!(counters.errors, 6, "bad input, failed, closed, twice");
        assert_eq!((counters.shed, counters.expired), (2, 2));
        assert_eq!(counters.latency_buckets[0], 12);
    }
}
