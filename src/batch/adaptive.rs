//! Clipper-style AIMD control of the batch size limit: additive increase while batches finish
//! inside a latency objective, multiplicative decrease when one misses it.
//!
//! `AimdController` is a pure state machine: it is fed one `BatchSample` per finished batch and
//! never reads a clock, so its convergence is tested with synthetic latencies
//! (`batch/tests.rs`). It does not measure anything or dispatch anything; the instance threads
//! (`batch/instance.rs`) time each batch and the dispatch rule (`batch/queue.rs`) reads the
//! limit.

use std::time::Duration;

/// Settings of adaptive batching (`BatchConfig::adaptive`).
#[derive(Clone, Debug, PartialEq)]
pub struct AdaptiveConfig {
    /// A batch whose batch function runs longer than this is a miss. Default 10 000 µs.
    pub latency_objective_us: u64,
    /// Items added to the limit after a full batch met the objective. At least 1. Default 1.
    pub additive_step: usize,
    /// Factor applied to the limit after a miss, in (0, 1). Default 0.9 (Clipper's 10% cut).
    pub multiplicative_decrease: f64,
    /// The limit never drops below this (at least 1, at most `batch_size_max`); it is also the
    /// starting limit. Default 1.
    pub batch_size_min: usize,
}

impl Default for AdaptiveConfig {
    fn default() -> Self {
        AdaptiveConfig {
            latency_objective_us: 10_000,
            additive_step: 1,
            multiplicative_decrease: 0.9,
            batch_size_min: 1,
        }
    }
}

impl AdaptiveConfig {
    pub(super) fn validate(&self, batch_size_max: usize) -> Result<(), &'static str> {
        if self.latency_objective_us == 0 {
            return Err("adaptive.latency_objective_us must be positive");
        }
        if self.additive_step == 0 {
            return Err("adaptive.additive_step must be at least 1");
        }
        let factor = self.multiplicative_decrease;
        if !(factor > 0.0 && factor < 1.0) {
            return Err("adaptive.multiplicative_decrease must be in (0, 1)");
        }
        if self.batch_size_min == 0 || self.batch_size_min > batch_size_max {
            return Err("adaptive.batch_size_min must be in 1..=batch_size_max");
        }
        Ok(())
    }
}

/// What the controller learns from one finished batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchSample {
    /// Items the batch function received.
    pub size: usize,
    /// How long the batch function ran.
    pub latency: Duration,
    /// The group held at least the limit's worth of items when the batch was formed, so a
    /// larger limit would have produced a larger batch. Only such batches may raise the limit
    /// (a batch kept small by a light load says nothing about larger ones).
    pub limit_was_reached: bool,
}

/// The adaptive batch size limit.
///
/// - A sample within the objective from a batch that reached the limit raises the limit by
///   `additive_step`, up to `batch_size_max`.
/// - A sample over the objective cuts the limit to `floor(limit * multiplicative_decrease)`,
///   down to `batch_size_min`. A miss from a batch larger than
///   the current limit is ignored: it was formed before an earlier cut, which already
///   answered it (several instances finish such batches one after the other).
#[derive(Clone, Debug)]
pub struct AimdController {
    limit: usize,
    batch_size_min: usize,
    batch_size_max: usize,
    additive_step: usize,
    multiplicative_decrease: f64,
    objective: Duration,
}

impl AimdController {
    /// Starts at `config.batch_size_min`. `config` must be valid for `batch_size_max`.
    pub fn new(config: &AdaptiveConfig, batch_size_max: usize) -> AimdController {
        debug_assert!(config.validate(batch_size_max).is_ok());
        let batch_size_min = config.batch_size_min.clamp(1, batch_size_max.max(1));
        AimdController {
            limit: batch_size_min,
            batch_size_min,
            batch_size_max: batch_size_max.max(1),
            additive_step: config.additive_step.max(1),
            multiplicative_decrease: config.multiplicative_decrease,
            objective: Duration::from_micros(config.latency_objective_us),
        }
    }

    /// The same controller starting from `limit` instead (clamped to
    /// `batch_size_min..=batch_size_max`): how `Batcher::retune` keeps what AIMD learnt.
    pub fn starting_at(mut self, limit: usize) -> AimdController {
        self.limit = limit.clamp(self.batch_size_min, self.batch_size_max);
        self
    }

    /// The current batch size limit.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Feeds one finished batch; returns the new limit.
    pub fn observe(&mut self, sample: BatchSample) -> usize {
        if sample.latency <= self.objective {
            if sample.limit_was_reached || sample.size >= self.limit {
                self.limit = (self.limit + self.additive_step).min(self.batch_size_max);
            }
        } else if sample.size <= self.limit {
            let cut = (self.limit as f64 * self.multiplicative_decrease).floor() as usize;
            self.limit = cut.max(self.batch_size_min);
        }
        self.limit
    }
}
