//! The dashboard's time series, pure: cumulative counters read once a second (`Counters`),
//! the per-second `Sample` made from two readings, the bounded `Ring` that keeps the last
//! samples, percentiles from histogram buckets, and the summary of a window (`Window`).
//!
//! Latency percentiles come from bucket counts (the same buckets `/metrics` exposes), with
//! linear interpolation inside the bucket that holds the rank, so a second's p99 costs no
//! per-request memory. Not here: reading the atomics (`metrics.rs`), the clock or the thread
//! that samples (`web/sampler.rs`), drawing (`domain/svg.rs`). Tests: below.

use std::collections::VecDeque;

/// Upper bounds (inclusive) of the request latency buckets, in microseconds; one more bucket
/// counts everything slower. Shared by `/metrics` and the dashboard.
pub const LATENCY_BOUNDS_US: [u64; 14] = [
    250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000,
    2_500_000, 10_000_000,
];

/// Upper bounds (inclusive) of the batch-size buckets; one more bucket counts larger batches
/// (none: `limits::BATCH_SIZE_MAX` is the last bound).
pub const BATCH_SIZE_BOUNDS: [u64; 9] = [1, 2, 4, 8, 16, 32, 64, 128, 256];

/// Cumulative counts of one model (all its versions), as read at one instant.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Requests answered, whatever the outcome.
    pub requests: u64,
    /// Requests answered with an error other than shed or expired (bad input, a failed model).
    pub errors: u64,
    /// Requests refused because the queue was full (503).
    pub shed: u64,
    /// Requests whose deadline passed before their batch ran (503).
    pub expired: u64,
    /// Request latencies per `LATENCY_BOUNDS_US` bucket (one more for the overflow).
    pub latency_buckets: Vec<u64>,
    /// Batches per `BATCH_SIZE_BOUNDS` bucket (one more for the overflow).
    pub batch_buckets: Vec<u64>,
    /// Items waiting in the queue now (a gauge, not cumulative).
    pub queue_depth: u64,
}

/// One second of one model, from two readings of its counters.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Sample {
    /// When the second ended, Unix seconds.
    pub at_unix_s: u64,
    pub requests_per_s: f64,
    /// Latency percentiles of the requests answered in this second, µs (none answered: None).
    pub p50_us: Option<u64>,
    pub p95_us: Option<u64>,
    pub p99_us: Option<u64>,
    pub errors: u64,
    pub shed: u64,
    pub expired: u64,
    pub queue_depth: u64,
    /// Requests answered in this second per latency bucket.
    pub latency_buckets: Vec<u64>,
    /// Batches run in this second per batch-size bucket.
    pub batch_buckets: Vec<u64>,
}

fn deltas(now: &[u64], before: &[u64]) -> Vec<u64> {
    now.iter()
        .enumerate()
        .map(|(i, &n)| n.saturating_sub(before.get(i).copied().unwrap_or(0)))
        .collect()
}

impl Sample {
    /// The sample between `before` and `now`, `elapsed_ms` apart (a counter that went down,
    /// as after a model reload, counts from zero).
    pub fn between(before: &Counters, now: &Counters, elapsed_ms: u64, at_unix_s: u64) -> Sample {
        let fresh = now.requests < before.requests;
        let zero = Counters::default();
        let before = if fresh { &zero } else { before };
        let latency_buckets = deltas(&now.latency_buckets, &before.latency_buckets);
        let requests = now.requests.saturating_sub(before.requests);
        let percentile = |q| percentile_us(&LATENCY_BOUNDS_US, &latency_buckets, q);
        Sample {
            at_unix_s,
            requests_per_s: requests as f64 * 1000.0 / elapsed_ms.max(1) as f64,
            p50_us: percentile(0.50),
            p95_us: percentile(0.95),
            p99_us: percentile(0.99),
            errors: now.errors.saturating_sub(before.errors),
            shed: now.shed.saturating_sub(before.shed),
            expired: now.expired.saturating_sub(before.expired),
            queue_depth: now.queue_depth,
            latency_buckets,
            batch_buckets: deltas(&now.batch_buckets, &before.batch_buckets),
        }
    }
}

/// The value at quantile `q` (0..=1) of a histogram with upper bounds `bounds` and
/// `counts.len() == bounds.len() + 1` (the last counts values above every bound), linearly
/// interpolated inside its bucket; the overflow bucket answers the last bound. None when empty.
pub fn percentile_us(bounds: &[u64], counts: &[u64], q: f64) -> Option<u64> {
    let total: u64 = counts.iter().sum();
    if total == 0 {
        return None;
    }
    let rank = (q.clamp(0.0, 1.0) * total as f64).ceil().max(1.0);
    let mut seen = 0u64;
    for (index, &count) in counts.iter().enumerate() {
        if count == 0 {
            continue;
        }
        if (seen + count) as f64 >= rank {
            let Some(&upper) = bounds.get(index) else {
                return bounds.last().copied();
            };
            let lower = if index == 0 { 0 } else { bounds[index - 1] };
            let within = (rank - seen as f64) / count as f64;
            return Some(lower + ((upper - lower) as f64 * within).round() as u64);
        }
        seen += count;
    }
    bounds.last().copied()
}

/// The last `capacity` items, oldest first; pushing onto a full ring drops the oldest.
#[derive(Clone, Debug)]
pub struct Ring<T> {
    items: VecDeque<T>,
    capacity: usize,
}

impl<T> Ring<T> {
    /// A ring of at least one item.
    pub fn new(capacity: usize) -> Ring<T> {
        let capacity = capacity.max(1);
        Ring {
            items: VecDeque::with_capacity(capacity),
            capacity,
        }
    }

    pub fn push(&mut self, item: T) {
        if self.items.len() == self.capacity {
            self.items.pop_front();
        }
        self.items.push_back(item);
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &T> + ExactSizeIterator {
        self.items.iter()
    }

    pub fn last(&self) -> Option<&T> {
        self.items.back()
    }
}

/// A window of samples summed up: what the dashboard prints beside its charts.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct Window {
    pub seconds: usize,
    pub requests: u64,
    pub requests_per_s: f64,
    pub p50_us: Option<u64>,
    pub p95_us: Option<u64>,
    pub p99_us: Option<u64>,
    pub errors: u64,
    pub shed: u64,
    pub expired: u64,
    /// Batches per batch-size bucket over the window.
    pub batch_buckets: Vec<u64>,
    pub queue_depth: u64,
}

impl Window {
    pub fn of<'a>(samples: impl Iterator<Item = &'a Sample>) -> Window {
        let mut latency = vec![0u64; LATENCY_BOUNDS_US.len() + 1];
        let mut window = Window {
            batch_buckets: vec![0; BATCH_SIZE_BOUNDS.len() + 1],
            ..Window::default()
        };
        let mut rate_sum = 0.0;
        for sample in samples {
            window.seconds += 1;
            rate_sum += sample.requests_per_s;
            window.errors += sample.errors;
            window.shed += sample.shed;
            window.expired += sample.expired;
            window.queue_depth = sample.queue_depth;
            add_into(&mut latency, &sample.latency_buckets);
            add_into(&mut window.batch_buckets, &sample.batch_buckets);
        }
        window.requests = latency.iter().sum();
        if window.seconds > 0 {
            window.requests_per_s = rate_sum / window.seconds as f64;
        }
        window.p50_us = percentile_us(&LATENCY_BOUNDS_US, &latency, 0.50);
        window.p95_us = percentile_us(&LATENCY_BOUNDS_US, &latency, 0.95);
        window.p99_us = percentile_us(&LATENCY_BOUNDS_US, &latency, 0.99);
        window
    }
}

fn add_into(total: &mut [u64], part: &[u64]) {
    for (slot, &value) in total.iter_mut().zip(part) {
        *slot += value;
    }
}

/// The bucket index of `value` for upper bounds `bounds` (`bounds.len()` for the overflow).
pub fn bucket_index(bounds: &[u64], value: u64) -> usize {
    bounds.partition_point(|&bound| bound < value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counters(requests: u64, latency: &[(usize, u64)]) -> Counters {
        let mut buckets = vec![0; LATENCY_BOUNDS_US.len() + 1];
        for &(index, count) in latency {
            buckets[index] = count;
        }
        Counters {
            requests,
            latency_buckets: buckets,
            batch_buckets: vec![0; BATCH_SIZE_BOUNDS.len() + 1],
            ..Counters::default()
        }
    }

    #[test]
    fn bucket_index_puts_a_value_on_a_bound_in_that_bound_s_bucket() {
        assert_eq!(bucket_index(&[1, 2, 4], 0), 0);
        assert_eq!(bucket_index(&[1, 2, 4], 1), 0);
        assert_eq!(bucket_index(&[1, 2, 4], 3), 2);
        assert_eq!(bucket_index(&[1, 2, 4], 4), 2);
        assert_eq!(bucket_index(&[1, 2, 4], 5), 3, "the overflow bucket");
    }

    #[test]
    fn percentiles_interpolate_inside_the_bucket_holding_the_rank() {
        let bounds = [100, 200, 400];
        // 10 in 0..=100, 10 in 100..=200.
        let counts = [10, 10, 0, 0];
        assert_eq!(percentile_us(&bounds, &counts, 0.5), Some(100));
        assert_eq!(percentile_us(&bounds, &counts, 0.25), Some(50));
        assert_eq!(percentile_us(&bounds, &counts, 0.75), Some(150));
        assert_eq!(percentile_us(&bounds, &counts, 1.0), Some(200));
        assert_eq!(percentile_us(&bounds, &[0, 0, 0, 0], 0.5), None);
        assert_eq!(
            percentile_us(&bounds, &[0, 0, 0, 3], 0.99),
            Some(400),
            "the overflow bucket answers the last bound"
        );
        // One slow request among 100 moves p99 but not p95.
        let tail = [99, 0, 1, 0];
        assert_eq!(percentile_us(&bounds, &tail, 0.95), Some(96));
        assert_eq!(percentile_us(&bounds, &tail, 0.99), Some(100));
        assert_eq!(percentile_us(&bounds, &tail, 1.0), Some(400));
    }

    #[test]
    fn the_ring_keeps_only_its_capacity_dropping_the_oldest() {
        let mut ring = Ring::new(3);
        for value in 0..10 {
            ring.push(value);
        }
        assert_eq!(ring.len(), 3);
        assert_eq!(ring.iter().copied().collect::<Vec<_>>(), vec![7, 8, 9]);
        assert_eq!(ring.last(), Some(&9));
        assert_eq!(Ring::<u8>::new(0).capacity(), 1, "never empty-capacity");
    }

    #[test]
    fn series_seconds_max_bounds_a_model_s_history() {
        let max = crate::limits::SERIES_SECONDS_MAX;
        let mut ring = Ring::new(max);
        let zero = counters(0, &[]);
        for second in 0..max as u64 + 5 {
            ring.push(Sample::between(&zero, &zero, 1_000, second));
        }
        assert_eq!(ring.len(), max);
        assert_eq!(ring.iter().next().map(|s| s.at_unix_s), Some(5));
    }

    #[test]
    fn a_sample_is_the_difference_of_two_readings_per_second() {
        let before = counters(10, &[(2, 10)]);
        let mut now = counters(30, &[(2, 25), (5, 5)]);
        now.shed = 3;
        now.errors = 1;
        now.queue_depth = 7;
        now.batch_buckets[3] = 4;
        let sample = Sample::between(&before, &now, 2_000, 99);
        assert_eq!(sample.requests_per_s, 10.0);
        assert_eq!((sample.shed, sample.errors, sample.queue_depth), (3, 1, 7));
        assert_eq!(sample.latency_buckets[2], 15);
        assert_eq!(sample.batch_buckets[3], 4);
        // 15 of 20 at <= 1 ms, 5 at 5..10 ms: p50 in the 500..1000 µs bucket, p99 above 5 ms.
        let p50 = sample.p50_us.expect("p50");
        assert!((500..=1_000).contains(&p50), "{p50}");
        assert!(sample.p99_us.expect("p99") > 5_000);
        assert_eq!(sample.at_unix_s, 99);
    }

    #[test]
    fn a_counter_that_went_down_after_a_reload_counts_from_zero() {
        let before = counters(100, &[(0, 100)]);
        let now = counters(4, &[(0, 4)]);
        let sample = Sample::between(&before, &now, 1_000, 1);
        assert_eq!(sample.requests_per_s, 4.0);
        assert_eq!(sample.latency_buckets[0], 4);
    }

    #[test]
    fn a_window_sums_its_samples() {
        let zero = counters(0, &[]);
        let mut one = counters(10, &[(1, 10)]);
        one.batch_buckets[0] = 10;
        one.shed = 2;
        let mut two = counters(20, &[(1, 10), (8, 10)]);
        two.batch_buckets[0] = 10;
        two.batch_buckets[3] = 1;
        two.shed = 2;
        two.queue_depth = 5;
        let samples = [
            Sample::between(&zero, &one, 1_000, 1),
            Sample::between(&one, &two, 1_000, 2),
        ];
        let window = Window::of(samples.iter());
        assert_eq!(window.seconds, 2);
        assert_eq!(window.requests, 20);
        assert_eq!(window.requests_per_s, 10.0);
        assert_eq!(window.shed, 2);
        assert_eq!(window.queue_depth, 5, "the last depth");
        assert_eq!(window.batch_buckets[0], 10);
        assert_eq!(window.batch_buckets[3], 1);
        assert!(window.p99_us.expect("p99") > LATENCY_BOUNDS_US[7]);
        assert_eq!(Window::of([].iter()).p50_us, None);
    }
}
