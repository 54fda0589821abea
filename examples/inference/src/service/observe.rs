//! Watching and steering the loaded models: infer and embed with their outcome and latency
//! counted on the version that served them (`infer_observed`, `embed_observed`), the
//! `/metrics` text, each model's cumulative `Counters` for the dashboard, and the batching
//! settings of a model read and changed on its running batchers (`tuning`, `retune`).
//!
//! Not here: HTTP and forms (`api/`, `web/`), the counters themselves (`metrics.rs`), the
//! per-second series (`domain/series.rs`). Tests: `tests/cli/dashboard.rs` over HTTP.

use super::registry::{LoadedModel, LoadedVersion};
use super::runner::Runner;
use super::{Embedded, Inference, Inferred, ServiceError, Slot};
use crate::domain::Tensor;
use crate::domain::series::{BATCH_SIZE_BOUNDS, Counters, LATENCY_BOUNDS_US};
use crate::metrics::{Outcome, VersionView, add_into};
use kiln::batch::{BatchStats, BatchTuning, TuningError};
use std::sync::Arc;
use std::time::Instant;

impl Runner {
    /// The batcher's snapshot (queue length, limit, counters).
    pub fn stats(&self) -> BatchStats {
        match self {
            Runner::Tabular(batcher) => batcher.stats(),
            Runner::Text { batcher, .. } => batcher.stats(),
        }
    }

    /// The batching settings in force.
    pub fn tuning(&self) -> BatchTuning {
        match self {
            Runner::Tabular(batcher) => batcher.tuning(),
            Runner::Text { batcher, .. } => batcher.tuning(),
        }
    }

    pub fn retune(&self, tuning: BatchTuning) -> Result<(), TuningError> {
        match self {
            Runner::Tabular(batcher) => batcher.retune(tuning),
            Runner::Text { batcher, .. } => batcher.retune(tuning),
        }
    }
}

fn outcome_of<T>(result: &Result<T, ServiceError>) -> Outcome {
    match result {
        Ok(_) => Outcome::Ok,
        Err(ServiceError::Overloaded) => Outcome::Shed,
        Err(ServiceError::DeadlineExpired) => Outcome::Expired,
        Err(ServiceError::Failed(_)) => Outcome::Failed,
        Err(ServiceError::Closed) => Outcome::Closed,
        Err(_) => Outcome::BadInput,
    }
}

fn record<T>(loaded: &LoadedVersion, started: Instant, result: &Result<T, ServiceError>) {
    let latency_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    loaded.metrics.record(outcome_of(result), latency_us);
}

impl Inference {
    /// `infer`, counted on the version that serves it.
    pub async fn infer_observed(
        &self,
        name: &str,
        version: Option<&str>,
        inputs: Vec<Tensor>,
        outputs: &[String],
        deadline: Option<Instant>,
    ) -> Result<Inferred, ServiceError> {
        let (_, loaded) = self.version(name, version)?;
        let started = Instant::now();
        let result = self.infer(name, version, inputs, outputs, deadline).await;
        record(&loaded, started, &result);
        result
    }

    /// `embed`, counted on the version that serves it.
    pub async fn embed_observed(
        &self,
        name: &str,
        version: Option<&str>,
        texts: &[String],
        deadline: Option<Instant>,
    ) -> Result<Embedded, ServiceError> {
        let (_, loaded) = self.version(name, version)?;
        let started = Instant::now();
        let result = self.embed(name, version, texts, deadline).await;
        record(&loaded, started, &result);
        result
    }

    /// Every loaded model, by name.
    pub fn loaded_models(&self) -> Vec<Arc<LoadedModel>> {
        self.slots()
            .values()
            .filter_map(|slot| match slot {
                Slot::Ready(model) => Some(model.clone()),
                _ => None,
            })
            .collect()
    }

    /// `GET /metrics`: the Prometheus text of every loaded version.
    pub fn metrics_text(&self) -> String {
        let models = self.loaded_models();
        let mut stats = Vec::new();
        for model in &models {
            for loaded in model.versions.values() {
                stats.push((model, loaded, loaded.runner.stats()));
            }
        }
        let views: Vec<VersionView<'_>> = stats
            .iter()
            .map(|(model, loaded, stats)| VersionView {
                model: &model.config.name,
                version: loaded.version,
                requests: &loaded.metrics,
                batch_sizes: loaded.notes.sizes(),
                batcher: stats,
            })
            .collect();
        crate::metrics::render(&views)
    }

    /// Changes the batching settings of every version of model `name`, on their running
    /// batchers (until the model is reloaded, which reads its `config.json` again).
    pub fn retune(&self, name: &str, tuning: &BatchTuning) -> Result<(), ServiceError> {
        let model = self.model(name)?;
        for loaded in model.versions.values() {
            loaded
                .runner
                .retune(tuning.clone())
                .map_err(|error| ServiceError::BadInput(error.to_string()))?;
        }
        Ok(())
    }
}

/// A model's counters now, summed over its versions.
pub fn counters(model: &LoadedModel) -> Counters {
    let mut counters = Counters {
        latency_buckets: vec![0; LATENCY_BOUNDS_US.len() + 1],
        batch_buckets: vec![0; BATCH_SIZE_BOUNDS.len() + 1],
        ..Counters::default()
    };
    for loaded in model.versions.values() {
        loaded.metrics.add_to(&mut counters);
        add_into(&mut counters.batch_buckets, &loaded.notes.sizes().counts());
        counters.queue_depth += loaded.runner.stats().queue_len as u64;
    }
    counters
}

/// The settings in force for model `model` (its latest version's; `retune` sets all alike),
/// with the current batch size limit.
pub fn tuning(model: &LoadedModel) -> Option<(BatchTuning, usize)> {
    model.latest().map(|loaded| {
        (
            loaded.runner.tuning(),
            loaded.runner.stats().batch_size_limit,
        )
    })
}
