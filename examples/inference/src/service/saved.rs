//! Batching settings changed on the dashboard, kept across restarts and reloads: the settings
//! a person applies (max batch, max queue delay, adaptive and its objective) are stored in the
//! store's `model_state` under `batching`, and applied over `config.json` whenever the model
//! loads; resetting forgets them and goes back to `config.json`. Without a store, changes
//! apply to the running batchers only (as before) and the page says so.
//!
//! Not here: the form and its checks (`web/controls.rs`), the batcher itself (kiln). Tests:
//! below (the stored text round trip) and `tests/cli/dashboard.rs` (a restart keeps the
//! settings; reset goes back to `config.json`).

use super::retrieval::{LoopError, blocking, now_ms};
use super::{Inference, ServiceError, runner};
use kiln::batch::{AdaptiveConfig, BatchTuning};
use serde::{Deserialize, Serialize};

/// The `model_state` key holding a model's saved batching settings.
const TUNING_KEY: &str = "batching";

/// What is stored: the dashboard's fields and when they were saved.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SavedTuning {
    max_batch: usize,
    max_queue_delay_us: u64,
    /// `None`: adaptive batching off.
    latency_objective_us: Option<u64>,
    saved_at_ms: i64,
}

impl SavedTuning {
    fn of(tuning: &BatchTuning, saved_at_ms: i64) -> SavedTuning {
        SavedTuning {
            max_batch: tuning.batch_size_max,
            max_queue_delay_us: tuning.queue_delay_max_us,
            latency_objective_us: tuning.adaptive.as_ref().map(|a| a.latency_objective_us),
            saved_at_ms,
        }
    }

    /// As `runner::batch_config` builds adaptive settings from `config.json`.
    fn tuning(&self) -> BatchTuning {
        BatchTuning {
            batch_size_max: self.max_batch,
            queue_delay_max_us: self.max_queue_delay_us,
            adaptive: self.latency_objective_us.map(|objective| {
                let default = AdaptiveConfig::default();
                AdaptiveConfig {
                    latency_objective_us: objective,
                    batch_size_min: default.batch_size_min.min(self.max_batch),
                    ..default
                }
            }),
        }
    }
}

/// Where the settings in force came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TuningSource {
    /// `config.json` (nothing saved).
    Config,
    /// Saved from the dashboard at this time (ms since the epoch).
    Saved { at_ms: i64 },
    /// Changed on the dashboard, but there is no store: lost at the next load.
    Unsaved,
}

fn store_error(error: LoopError) -> ServiceError {
    ServiceError::Failed(format!("the settings could not be stored: {error}"))
}

impl Inference {
    /// Applies `tuning` to every running version of `name`, then stores it so the next load
    /// uses it too. Answers where the settings now come from.
    pub async fn retune_and_save(
        &self,
        name: &str,
        tuning: &BatchTuning,
    ) -> Result<TuningSource, ServiceError> {
        self.retune(name, tuning)?;
        let Ok(store) = self.inner.feedback_loop.store() else {
            return Ok(TuningSource::Unsaved);
        };
        let saved = SavedTuning::of(tuning, now_ms());
        let text = sonic_rs::to_string(&saved).map_err(|e| ServiceError::Failed(e.to_string()))?;
        let owned = name.to_owned();
        blocking(move || Ok(store.set_state(&owned, TUNING_KEY, &text)?))
            .await
            .map_err(store_error)?;
        Ok(TuningSource::Saved {
            at_ms: saved.saved_at_ms,
        })
    }

    /// Forgets the saved settings of `name` and applies `config.json`'s again.
    pub async fn reset_tuning(&self, name: &str) -> Result<(), ServiceError> {
        let model = self.model(name)?;
        if let Ok(store) = self.inner.feedback_loop.store() {
            let owned = name.to_owned();
            blocking(move || Ok(store.clear_state(&owned, TUNING_KEY)?))
                .await
                .map_err(store_error)?;
        }
        let config = runner::batch_config(&model.config, 0);
        let tuning = BatchTuning {
            batch_size_max: config.batch_size_max,
            queue_delay_max_us: config.queue_delay_max_us,
            adaptive: config.adaptive,
        };
        self.retune(name, &tuning)
    }

    /// Where `name`'s settings come from (reads the store on the blocking pool).
    pub async fn tuning_source(&self, name: &str) -> TuningSource {
        let Ok(store) = self.inner.feedback_loop.store() else {
            return TuningSource::Config;
        };
        let owned = name.to_owned();
        let stored = blocking(move || Ok(store.state(&owned, TUNING_KEY)?)).await;
        match stored {
            Ok(Some(text)) => match sonic_rs::from_str::<SavedTuning>(&text) {
                Ok(saved) => TuningSource::Saved {
                    at_ms: saved.saved_at_ms,
                },
                Err(_) => TuningSource::Config,
            },
            Ok(None) => TuningSource::Config,
            Err(error) => {
                tracing::warn!(model = name, %error, "saved batching settings not read");
                TuningSource::Config
            }
        }
    }

    /// At load (blocking context): applies the saved settings of `name`, if any, over
    /// `config.json`'s. A stored value the batcher refuses (say, written by an older binary
    /// with other limits) is logged and `config.json` stays in force.
    pub(super) fn apply_saved_tuning(&self, name: &str) {
        let Ok(store) = self.inner.feedback_loop.store() else {
            return;
        };
        let text = match store.state(name, TUNING_KEY) {
            Ok(Some(text)) => text,
            Ok(None) => return,
            Err(error) => {
                tracing::warn!(model = name, %error, "saved batching settings not read");
                return;
            }
        };
        let applied = sonic_rs::from_str::<SavedTuning>(&text)
            .map_err(|e| e.to_string())
            .and_then(|saved| {
                self.retune(name, &saved.tuning())
                    .map_err(|e| e.to_string())
            });
        match applied {
            Ok(()) => tracing::info!(
                model = name,
                "batching settings saved on the dashboard applied"
            ),
            Err(error) => tracing::warn!(
                model = name,
                %error,
                "saved batching settings refused; config.json's stay in force"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::SavedTuning;
    use kiln::batch::{AdaptiveConfig, BatchTuning};

    #[test]
    fn saved_settings_round_trip_through_their_stored_text() {
        let tuning = BatchTuning {
            batch_size_max: 16,
            queue_delay_max_us: 250,
            adaptive: Some(AdaptiveConfig {
                latency_objective_us: 3_000,
                ..AdaptiveConfig::default()
            }),
        };
        let text = sonic_rs::to_string(&SavedTuning::of(&tuning, 42)).unwrap();
        let back: SavedTuning = sonic_rs::from_str(&text).unwrap();
        assert_eq!(back.saved_at_ms, 42);
        assert_eq!(back.tuning(), tuning);
        let off = BatchTuning {
            adaptive: None,
            ..tuning
        };
        assert_eq!(SavedTuning::of(&off, 1).tuning(), off);
    }

    #[test]
    fn a_small_max_batch_keeps_the_adaptive_minimum_in_range() {
        let saved = SavedTuning {
            max_batch: 1,
            max_queue_delay_us: 0,
            latency_objective_us: Some(500),
            saved_at_ms: 0,
        };
        let adaptive = saved.tuning().adaptive.unwrap();
        assert!(adaptive.batch_size_min <= 1);
    }
}
