//! What a batcher reports for dashboards and metrics: `BatchStats` (a snapshot) and the
//! counters and bounded ring of recent batches it is taken from.
//!
//! The ring holds the last `BatchConfig::stats_recent_batches_count` batches (size and batch
//! function latency); it never grows beyond that. Counters only count. This file takes no
//! locks and reads no clocks; the batcher updates it under its state lock.

use std::collections::VecDeque;

/// One finished batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchRecord {
    /// Items the batch function received.
    pub size: usize,
    /// How long the batch function ran, in microseconds.
    pub latency_us: u64,
    /// The batch function panicked (its items were answered `BatchError::Panicked`).
    pub panicked: bool,
}

/// A snapshot of a batcher (`Batcher::stats`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BatchStats {
    /// The current batch size limit: `batch_size_max`, or the adaptive limit.
    pub batch_size_limit: usize,
    /// Items waiting (cancelled or expired ones not yet skipped included).
    pub queue_len: usize,
    /// Instances running a batch right now.
    pub busy_instances: usize,
    /// The most items in flight (queued or running) over the last one to two
    /// `in_flight_window_ms` windows, as of the last submission.
    pub in_flight_peak: usize,
    /// Batches run.
    pub batches: u64,
    /// Items handed to the batch function.
    pub dispatched_items: u64,
    /// Items refused with `Overloaded` because the queue was full.
    pub shed_items: u64,
    /// Items answered `Expired` (deadline passed before their batch ran).
    pub expired_items: u64,
    /// Items skipped because their caller dropped the `Submission`.
    pub cancelled_items: u64,
    /// Items answered with an error by the batch function, a panic, or a missing result.
    pub failed_items: u64,
    /// Batches whose batch function panicked.
    pub panicked_batches: u64,
    /// Batches sent before their delay because the batcher held every item in flight
    /// (`BatchConfig::early_dispatch`).
    pub early_batches: u64,
    /// The most recent batches, oldest first (at most `stats_recent_batches_count`).
    pub recent_batches: Vec<BatchRecord>,
}

impl BatchStats {
    /// A latency percentile (0..=100) over `recent_batches`, in microseconds.
    pub fn latency_percentile_us(&self, percent: f64) -> Option<u64> {
        let mut latencies: Vec<u64> = self.recent_batches.iter().map(|b| b.latency_us).collect();
        if latencies.is_empty() {
            return None;
        }
        latencies.sort_unstable();
        let rank = (percent.clamp(0.0, 100.0) / 100.0 * (latencies.len() - 1) as f64).round();
        latencies.get(rank as usize).copied()
    }
}

/// The counters and ring behind `BatchStats`.
#[derive(Debug)]
pub(super) struct Recorder {
    pub(super) batches: u64,
    pub(super) dispatched_items: u64,
    pub(super) shed_items: u64,
    pub(super) expired_items: u64,
    pub(super) cancelled_items: u64,
    pub(super) failed_items: u64,
    pub(super) panicked_batches: u64,
    pub(super) early_batches: u64,
    recent: VecDeque<BatchRecord>,
    recent_max: usize,
}

impl Recorder {
    pub(super) fn new(recent_max: usize) -> Recorder {
        Recorder {
            batches: 0,
            dispatched_items: 0,
            shed_items: 0,
            expired_items: 0,
            cancelled_items: 0,
            failed_items: 0,
            panicked_batches: 0,
            early_batches: 0,
            recent: VecDeque::with_capacity(recent_max),
            recent_max,
        }
    }

    pub(super) fn record_batch(&mut self, record: BatchRecord) {
        self.batches += 1;
        self.panicked_batches += u64::from(record.panicked);
        if self.recent_max == 0 {
            return;
        }
        if self.recent.len() == self.recent_max {
            self.recent.pop_front();
        }
        self.recent.push_back(record);
    }

    pub(super) fn snapshot(&self) -> BatchStats {
        BatchStats {
            batch_size_limit: 0,
            queue_len: 0,
            busy_instances: 0,
            in_flight_peak: 0,
            batches: self.batches,
            dispatched_items: self.dispatched_items,
            shed_items: self.shed_items,
            expired_items: self.expired_items,
            cancelled_items: self.cancelled_items,
            failed_items: self.failed_items,
            panicked_batches: self.panicked_batches,
            early_batches: self.early_batches,
            recent_batches: self.recent.iter().copied().collect(),
        }
    }
}
