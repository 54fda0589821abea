//! The batching controls' form: the fields as typed (`BatchingForm`), checked into a
//! `kiln::batch::BatchTuning` with a reason a person can act on for each refusal, and the
//! form's values for re-display. Pure: no HTTP, no batcher. Limits: `limits::BATCH_SIZE_MAX`,
//! `limits::QUEUE_DELAY_US_MAX`, `limits::LATENCY_OBJECTIVE_US_MAX`. Tests: below, and
//! `tests/cli/dashboard.rs` through HTTP.

use crate::limits::{BATCH_SIZE_MAX, LATENCY_OBJECTIVE_US_MAX, QUEUE_DELAY_US_MAX};
use kiln::batch::{AdaptiveConfig, BatchTuning};
use serde::{Deserialize, Serialize};

/// The form as posted: every field text, so a wrong one is reported, not rejected whole.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
pub struct BatchingForm {
    #[serde(default)]
    pub max_batch: String,
    #[serde(default)]
    pub max_queue_delay_us: String,
    #[serde(default)]
    pub latency_objective_us: String,
    /// A checkbox: present ("on") when ticked.
    #[serde(default)]
    pub adaptive: Option<String>,
}

impl BatchingForm {
    /// The form showing `tuning`.
    pub fn of(tuning: &BatchTuning) -> BatchingForm {
        BatchingForm {
            max_batch: tuning.batch_size_max.to_string(),
            max_queue_delay_us: tuning.queue_delay_max_us.to_string(),
            latency_objective_us: tuning
                .adaptive
                .as_ref()
                .map_or(AdaptiveConfig::default().latency_objective_us, |a| {
                    a.latency_objective_us
                })
                .to_string(),
            adaptive: tuning.adaptive.as_ref().map(|_| "on".to_owned()),
        }
    }

    pub fn adaptive_on(&self) -> bool {
        self.adaptive.as_deref().is_some_and(|v| !v.is_empty())
    }

    /// The settings asked for, keeping `current`'s other adaptive parameters.
    pub fn check(&self, current: &BatchTuning) -> Result<BatchTuning, String> {
        let max_batch = number("max batch", &self.max_batch, 1, BATCH_SIZE_MAX as u64)?;
        let delay = number(
            "max queue delay (µs)",
            &self.max_queue_delay_us,
            0,
            QUEUE_DELAY_US_MAX,
        )?;
        let objective = number(
            "latency objective (µs)",
            &self.latency_objective_us,
            1,
            LATENCY_OBJECTIVE_US_MAX,
        )?;
        let adaptive = self.adaptive_on().then(|| AdaptiveConfig {
            latency_objective_us: objective,
            ..current.adaptive.clone().unwrap_or_default()
        });
        let mut adaptive = adaptive;
        if let Some(config) = &mut adaptive {
            config.batch_size_min = config.batch_size_min.min(max_batch as usize);
        }
        Ok(BatchTuning {
            batch_size_max: max_batch as usize,
            queue_delay_max_us: delay,
            adaptive,
        })
    }
}

fn number(what: &str, text: &str, min: u64, max: u64) -> Result<u64, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err(format!("{what} is missing"));
    }
    let value: u64 = text
        .parse()
        .map_err(|_| format!("{what} must be a whole number, not {text:?}"))?;
    if value < min || value > max {
        return Err(format!("{what} must be from {min} to {max}, not {value}"));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn current() -> BatchTuning {
        BatchTuning {
            batch_size_max: 64,
            queue_delay_max_us: 500,
            adaptive: Some(AdaptiveConfig {
                latency_objective_us: 2_000,
                ..AdaptiveConfig::default()
            }),
        }
    }

    fn form(max_batch: &str, delay: &str, objective: &str, adaptive: bool) -> BatchingForm {
        BatchingForm {
            max_batch: max_batch.to_owned(),
            max_queue_delay_us: delay.to_owned(),
            latency_objective_us: objective.to_owned(),
            adaptive: adaptive.then(|| "on".to_owned()),
        }
    }

    #[test]
    fn the_form_round_trips_the_settings_in_force() {
        let shown = BatchingForm::of(&current());
        assert_eq!(shown, form("64", "500", "2000", true));
        assert_eq!(shown.check(&current()), Ok(current()));
    }

    #[test]
    fn good_values_become_settings() {
        let tuning = form("8", "0", "5000", false).check(&current()).unwrap();
        assert_eq!(tuning.batch_size_max, 8);
        assert_eq!(tuning.queue_delay_max_us, 0);
        assert_eq!(tuning.adaptive, None);
        let tuning = form(" 16 ", "1000", "5000", true)
            .check(&current())
            .unwrap();
        assert_eq!(tuning.adaptive.unwrap().latency_objective_us, 5_000);
    }

    #[test]
    fn each_limit_and_bad_number_is_refused_with_its_reason() {
        let check = |f: BatchingForm| f.check(&current()).unwrap_err();
        assert_eq!(
            check(form("0", "500", "2000", true)),
            "max batch must be from 1 to 256, not 0"
        );
        assert_eq!(
            check(form("257", "500", "2000", true)),
            format!("max batch must be from 1 to {BATCH_SIZE_MAX}, not 257")
        );
        assert_eq!(
            check(form("8", "1000001", "2000", true)),
            format!("max queue delay (µs) must be from 0 to {QUEUE_DELAY_US_MAX}, not 1000001")
        );
        assert_eq!(
            check(form("8", "10", "0", true)),
            format!("latency objective (µs) must be from 1 to {LATENCY_OBJECTIVE_US_MAX}, not 0")
        );
        assert_eq!(
            check(form("8", "10", "10000001", false)),
            format!(
                "latency objective (µs) must be from 1 to {LATENCY_OBJECTIVE_US_MAX}, not 10000001"
            )
        );
        assert_eq!(
            check(form("eight", "10", "5", true)),
            "max batch must be a whole number, not \"eight\""
        );
        assert_eq!(
            check(form("8", "", "5", true)),
            "max queue delay (µs) is missing"
        );
        assert_eq!(
            check(form("-1", "10", "5", true)),
            "max batch must be a whole number, not \"-1\""
        );
    }
}
