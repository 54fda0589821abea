//! Changing a running batcher's settings: `Batcher::tuning` reads the settings that may
//! change while it runs (`BatchTuning`: the batch size cap, the max queue delay, adaptive
//! batching and its latency objective) and `Batcher::retune` replaces them, for a dashboard's
//! controls or an operator.
//!
//! A retune takes effect at the next dispatch decision: instances waiting for the old delay
//! are woken to re-plan, batches already running finish as they were formed. Turning adaptive
//! batching on (or changing its settings) keeps the limit AIMD had learnt, clamped into the
//! new range; a fixed limit becomes the new `batch_size_max`. Not here: the queue bound, the
//! preferred sizes and the instance count, which are fixed at start (they size threads and
//! memory). Tests: `batch/tests.rs` (`retune_*`).

use super::{AdaptiveConfig, AimdController, BatchConfig, Batcher, Limit};

/// The settings of a batcher that `Batcher::retune` may change while it runs.
#[derive(Clone, Debug, PartialEq)]
pub struct BatchTuning {
    /// As `BatchConfig::batch_size_max`: at least 1, and at least every preferred size.
    pub batch_size_max: usize,
    /// As `BatchConfig::queue_delay_max_us`.
    pub queue_delay_max_us: u64,
    /// As `BatchConfig::adaptive`.
    pub adaptive: Option<AdaptiveConfig>,
}

impl BatchTuning {
    pub(super) fn of(config: &BatchConfig) -> BatchTuning {
        BatchTuning {
            batch_size_max: config.batch_size_max,
            queue_delay_max_us: config.queue_delay_max_us,
            adaptive: config.adaptive.clone(),
        }
    }
}

/// Why `Batcher::retune` refused new settings (the batcher keeps its old ones).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TuningError(pub &'static str);

impl std::fmt::Display for TuningError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for TuningError {}

impl<In, Out, E> Batcher<In, Out, E> {
    /// The settings in force now.
    pub fn tuning(&self) -> BatchTuning {
        self.handle.shared.lock().tuning.clone()
    }

    /// Replaces the batch size cap, the max queue delay and the adaptive settings of the
    /// running batcher, checked as `Batcher::start` checks them (and `batch_size_max` must
    /// still hold every preferred size). On error nothing changes.
    pub fn retune(&self, tuning: BatchTuning) -> Result<(), TuningError> {
        let shared = &self.handle.shared;
        let config = BatchConfig {
            batch_size_max: tuning.batch_size_max,
            queue_delay_max_us: tuning.queue_delay_max_us,
            adaptive: tuning.adaptive.clone(),
            preferred_batch_sizes: shared.preferred.clone(),
            ..BatchConfig::default()
        };
        config.validate().map_err(TuningError)?;
        {
            let mut state = shared.lock();
            let current = state.limit.current();
            state.limit = match &tuning.adaptive {
                Some(adaptive) => Limit::Adaptive(
                    AimdController::new(adaptive, tuning.batch_size_max).starting_at(current),
                ),
                None => Limit::Fixed(tuning.batch_size_max),
            };
            state.tuning = tuning;
        }
        shared.wake_all();
        Ok(())
    }
}
