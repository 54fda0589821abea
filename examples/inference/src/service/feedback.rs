//! Feedback and traffic splits, as use cases of `Inference`: storing thumbs up and down
//! (and the passive approvals `retrieval.rs` derives from opened results), approval rates
//! per version over time, the JSONL export in pages, recalibrating a binary classifier's
//! decision threshold from labelled feedback (kept in the store's model state and used by
//! `decide`), and routing requests without a version through the model's split (fixed
//! weights or Exp3, `domain/bandit.rs`), which feedback rewards.
//!
//! A split is created on the first routed request of its model, replaying the model's
//! stored feedback (the latest `FEEDBACK_READ_ROWS_MAX` rows, in order) so a restart
//! resumes where the bandit was; it is rebuilt if the model is reloaded with another
//! split config. Not here: the rules (`domain/feedback.rs`, `domain/bandit.rs`), HTTP
//! (`api/retrieval.rs`). Tests: `tests/cli/feedback.rs`.

use super::retrieval::{LoopError, blocking, now_ms};
use super::{Inference, ServiceError};
use crate::domain::bandit::{Split, SplitConfig, SplitPolicy};
use crate::domain::feedback::{
    Approval, Calibration, Feedback, Label, Source, approval_by_bucket, recalibrate,
};
use crate::domain::{Data, Datatype, ModelKind, Tensor};
use crate::limits::{
    APPROVAL_BUCKETS_MAX, FEEDBACK_EXPORT_ROWS_MAX, FEEDBACK_READ_ROWS_MAX, FEEDBACK_ROWS_KEPT_MAX,
    FEEDBACK_SUBJECT_BYTES_MAX, RECALIBRATION_SAMPLES_MIN,
};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// The decision threshold of a binary classifier that was never recalibrated.
pub const DEFAULT_DECISION_THRESHOLD: f64 = 0.5;

/// The model-state key of the recalibrated threshold.
const THRESHOLD_KEY: &str = "decision_threshold";

/// A feedback request.
#[derive(Clone, Debug)]
pub struct FeedbackInput {
    pub model: String,
    pub version: u64,
    pub subject: String,
    pub label: Label,
    pub score: Option<f64>,
    pub predicted: Option<bool>,
}

/// One version's line in a split's status.
#[derive(Clone, Debug, serde::Serialize)]
pub struct VersionShare {
    pub version: u64,
    /// Share of the traffic without an explicit version that goes to it now.
    pub share: f64,
    pub up: u64,
    pub down: u64,
    /// `up / (up + down)`; `None` before any feedback.
    pub approval_rate: Option<f64>,
}

/// `GET /v1/models/{name}/split`.
#[derive(Clone, Debug, serde::Serialize)]
pub struct SplitStatus {
    pub model: String,
    /// `fixed`, `exp3`, or `latest` (no split: everything to the latest version).
    pub policy: &'static str,
    pub versions: Vec<VersionShare>,
}

/// One row's decision.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Decision {
    /// The input digest: give it back as the feedback's `subject`.
    pub subject: String,
    /// The positive-class probability.
    pub score: f64,
    /// `score >= threshold`.
    pub positive: bool,
}

/// `POST /v1/models/{name}/decide`.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Decided {
    pub model: String,
    pub model_version: u64,
    pub threshold: f64,
    pub decisions: Vec<Decision>,
}

/// A recalibration's outcome.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Recalibrated {
    pub model: String,
    pub previous_threshold: f64,
    #[serde(flatten)]
    pub calibration: Calibration,
}

/// The hex SHA-256 (first 16 bytes) of a row's little-endian bytes.
pub fn input_digest(row: &Data) -> String {
    let mut bytes = Vec::new();
    row.write_le_bytes(&mut bytes);
    let digest = Sha256::digest(&bytes);
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

impl Inference {
    /// The version a request should use: the one it names, else its model's split's
    /// choice, else `None` (the latest).
    pub async fn route(
        &self,
        name: &str,
        version: Option<&str>,
    ) -> Result<Option<String>, ServiceError> {
        if version.is_some() {
            return Ok(version.map(str::to_owned));
        }
        let Ok(model) = self.model(name) else {
            return Ok(None);
        };
        let Some(config) = model.config.split.clone() else {
            return Ok(None);
        };
        self.ensure_split(name, &config).await;
        let state = &self.inner.feedback_loop;
        let chosen = {
            let mut splits = state.splits.lock().unwrap_or_else(|e| e.into_inner());
            splits.get_mut(name).map(Split::choose)
        };
        match chosen {
            Some(chosen) if model.versions.contains_key(&chosen) => Ok(Some(chosen.to_string())),
            Some(chosen) => Err(ServiceError::NotReady {
                model: name.to_owned(),
                reason: format!("its split names version {chosen}, which is not loaded"),
            }),
            None => Ok(None),
        }
    }

    /// Stores a thumbs up or down on an answer of `model` `version` and rewards its split.
    pub async fn record_feedback(&self, input: FeedbackInput) -> Result<i64, LoopError> {
        self.version(&input.model, Some(&input.version.to_string()))?;
        if input.subject.is_empty() || input.subject.len() > FEEDBACK_SUBJECT_BYTES_MAX {
            return Err(LoopError::BadInput(format!(
                "subject must be 1 to {FEEDBACK_SUBJECT_BYTES_MAX} bytes"
            )));
        }
        if input.score.is_some_and(|s| !(0.0..=1.0).contains(&s)) {
            return Err(LoopError::BadInput("score must be in [0, 1]".to_owned()));
        }
        self.add_feedback_row(Feedback {
            id: 0,
            model: input.model,
            version: input.version,
            subject: input.subject,
            label: input.label,
            source: Source::Active,
            score: input.score,
            predicted: input.predicted,
            at_ms: now_ms(),
        })
        .await
    }

    pub(super) async fn add_feedback_row(&self, row: Feedback) -> Result<i64, LoopError> {
        let store = self.inner.feedback_loop.store()?;
        let (model, version, reward) = (row.model.clone(), row.version, row.label.reward());
        let id = blocking(move || Ok(store.add_feedback(&row, FEEDBACK_ROWS_KEPT_MAX)?)).await?;
        let mut splits = self
            .inner
            .feedback_loop
            .splits
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(split) = splits.get_mut(&model) {
            split.reward(version, reward);
        }
        Ok(id)
    }

    /// Approval per version of `model` in buckets of `bucket_ms` since `since_ms`.
    pub async fn approval(
        &self,
        model: &str,
        since_ms: i64,
        bucket_ms: i64,
    ) -> Result<Vec<Approval>, LoopError> {
        if bucket_ms <= 0 {
            return Err(LoopError::BadInput("bucket_ms must be positive".to_owned()));
        }
        let store = self.inner.feedback_loop.store()?;
        let model = model.to_owned();
        let counts = blocking(move || {
            Ok(store.approval_counts(&model, since_ms, bucket_ms, APPROVAL_BUCKETS_MAX)?)
        })
        .await?;
        Ok(approval_by_bucket(counts, bucket_ms))
    }

    /// One page of the feedback export: up to `limit` (at most `FEEDBACK_EXPORT_ROWS_MAX`)
    /// rows after id `after`.
    pub async fn feedback_page(
        &self,
        after: i64,
        limit: usize,
    ) -> Result<Vec<Feedback>, LoopError> {
        if limit == 0 || limit > FEEDBACK_EXPORT_ROWS_MAX {
            return Err(LoopError::BadInput(format!(
                "limit must be 1 to {FEEDBACK_EXPORT_ROWS_MAX}, not {limit}"
            )));
        }
        let store = self.inner.feedback_loop.store()?;
        blocking(move || Ok(store.feedback_page(after, limit)?)).await
    }

    /// The split status of `model`: each version's share now and its approval so far.
    pub async fn split_status(&self, name: &str) -> Result<SplitStatus, LoopError> {
        let model = self.model(name)?;
        let counts = match self.inner.feedback_loop.store.clone() {
            Some(store) => {
                let owned = name.to_owned();
                blocking(move || {
                    Ok(store.approval_counts(&owned, 0, 1 << 62, APPROVAL_BUCKETS_MAX)?)
                })
                .await?
            }
            None => Vec::new(),
        };
        let totals = approval_by_bucket(counts, 1 << 62);
        let (policy, shares): (&'static str, Vec<(u64, f64)>) = match &model.config.split {
            Some(config) => {
                self.ensure_split(name, config).await;
                let splits = self
                    .inner
                    .feedback_loop
                    .splits
                    .lock()
                    .unwrap_or_else(|e| e.into_inner());
                let shares = splits
                    .get(name)
                    .map(Split::shares)
                    .unwrap_or_else(|| Split::new(config.clone()).shares());
                drop(splits);
                let policy = match config.policy {
                    SplitPolicy::Fixed => "fixed",
                    SplitPolicy::Exp3 => "exp3",
                };
                (policy, shares)
            }
            None => {
                let latest = model.latest().map(|v| v.version);
                let all = model
                    .versions
                    .keys()
                    .map(|&v| (v, if Some(v) == latest { 1.0 } else { 0.0 }));
                ("latest", all.collect())
            }
        };
        let versions = shares
            .into_iter()
            .map(|(version, share)| {
                let (up, down) = totals
                    .iter()
                    .filter(|a| a.version == version)
                    .fold((0, 0), |(u, d), a| (u + a.up, d + a.down));
                VersionShare {
                    version,
                    share,
                    up,
                    down,
                    approval_rate: (up + down > 0).then(|| up as f64 / (up + down) as f64),
                }
            })
            .collect();
        Ok(SplitStatus {
            model: name.to_owned(),
            policy,
            versions,
        })
    }

    /// Makes `name`'s split live for `config` if it is not: a new split that replays the
    /// model's stored feedback (a store failure is logged and the split starts fresh).
    async fn ensure_split(&self, name: &str, config: &SplitConfig) {
        let state = &self.inner.feedback_loop;
        let live = |splits: &BTreeMap<String, Split>| {
            splits
                .get(name)
                .is_some_and(|split| split.config == *config)
        };
        if live(&state.splits.lock().unwrap_or_else(|e| e.into_inner())) {
            return;
        }
        let mut split = Split::new(config.clone());
        if let Some(store) = state.store.clone() {
            let owned = name.to_owned();
            let history =
                blocking(move || Ok(store.model_feedback(&owned, None, FEEDBACK_READ_ROWS_MAX)?))
                    .await
                    .unwrap_or_else(|error| {
                        tracing::warn!(%error, model = name, "split starts without its history");
                        Vec::new()
                    });
            for row in history {
                split.reward(row.version, row.label.reward());
            }
        }
        let mut splits = state.splits.lock().unwrap_or_else(|e| e.into_inner());
        if !live(&splits) {
            splits.insert(name.to_owned(), split);
        }
    }

    /// The decision threshold of `model` (recalibrated, or the default).
    pub async fn threshold(&self, model: &str) -> Result<f64, LoopError> {
        let store = self.inner.feedback_loop.store()?;
        let owned = model.to_owned();
        let stored = blocking(move || Ok(store.state(&owned, THRESHOLD_KEY)?)).await?;
        Ok(stored
            .and_then(|text| text.parse::<f64>().ok())
            .filter(|t| t.is_finite())
            .unwrap_or(DEFAULT_DECISION_THRESHOLD))
    }

    /// Chooses `model`'s threshold from its labelled feedback (rows with a score and a
    /// prediction) and stores it; `decide` uses it from then on.
    pub async fn recalibrate(
        &self,
        model: &str,
        version: Option<u64>,
    ) -> Result<Recalibrated, LoopError> {
        self.model(model)?;
        let previous = self.threshold(model).await?;
        let store = self.inner.feedback_loop.store()?;
        let owned = model.to_owned();
        let calibration = blocking(move || {
            let rows = store.model_feedback(&owned, version, FEEDBACK_READ_ROWS_MAX)?;
            let labelled: Vec<(f64, bool)> = rows
                .iter()
                .filter_map(|row| Some((row.score?, row.truth()?)))
                .collect();
            let found = recalibrate(&labelled, previous, RECALIBRATION_SAMPLES_MIN).ok_or_else(|| {
                LoopError::NotEnough(format!(
                    "recalibration needs at least {RECALIBRATION_SAMPLES_MIN} feedback rows with a score and a prediction, one of them positive; there are {}",
                    labelled.len()
                ))
            })?;
            store.set_state(&owned, THRESHOLD_KEY, &found.threshold.to_string())?;
            Ok(found)
        })
        .await?;
        Ok(Recalibrated {
            model: model.to_owned(),
            previous_threshold: previous,
            calibration,
        })
    }

    /// Runs a binary classifier (a tabular model whose first output is `[-1, 2]`
    /// probabilities) and applies its threshold to column 1.
    pub async fn decide(
        &self,
        name: &str,
        version: Option<&str>,
        features: Tensor,
    ) -> Result<Decided, LoopError> {
        let model = self.model(name)?;
        let binary = model.config.kind == ModelKind::Tabular
            && model
                .config
                .outputs
                .first()
                .is_some_and(|o| o.shape == [-1, 2] && o.datatype == Datatype::Fp32);
        if !binary {
            return Err(LoopError::BadInput(format!(
                "model {name:?} is not a binary classifier (a tabular model with a [-1, 2] FP32 first output)"
            )));
        }
        let digests: Vec<String> = (0..features.rows())
            .map(|row| input_digest(&features.row(row)))
            .collect();
        let threshold = self.threshold(name).await?;
        let output = model.config.outputs[0].name.clone();
        let inferred = self
            .infer(name, version, vec![features], &[output], None)
            .await?;
        let Some(Data::F32(probabilities)) = inferred.outputs.first().map(|t| &t.data) else {
            return Err(LoopError::Service(ServiceError::Failed(
                "no probabilities".to_owned(),
            )));
        };
        let decisions = digests
            .into_iter()
            .zip(probabilities.chunks_exact(2))
            .map(|(subject, pair)| {
                let score = f64::from(pair[1]);
                Decision {
                    subject,
                    score,
                    positive: score >= threshold,
                }
            })
            .collect();
        Ok(Decided {
            model: inferred.model,
            model_version: inferred.version,
            threshold,
            decisions,
        })
    }
}
