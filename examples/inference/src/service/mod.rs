//! The inference service: which models are loaded, and the two use cases, `infer` (KServe
//! tensors in and out) and `embed` (texts to sentence embeddings).
//!
//! `Inference` is shared by every I/O worker. A request looks its model version up (a
//! read lock held for a map lookup), checks its tensors against the model's config,
//! queues one item per row or text on the version's batcher (text items grouped by
//! padded-length bucket) and awaits the answers; the model runs on the batcher's threads.
//! Loading and unloading replace a model's entry; requests already holding the old
//! version finish on it (its batcher drains when the last handle goes).
//!
//! A request without a version goes where the model's traffic split sends it
//! (`feedback.rs`). Document search is `retrieval.rs` (with the vector index, `index.rs`);
//! feedback, recalibration and splits are `feedback.rs`.
//!
//! Not here: HTTP and JSON (`api/`), model files and engines (`registry.rs`, `engine/`).
//! Tests: `service/tests.rs`.

pub mod feedback;
pub mod index;
pub mod observe;
pub mod registry;
pub mod retrieval;
pub mod runner;
pub mod saved;
#[cfg(test)]
mod tests;

use crate::domain::{Data, Datatype, ModelConfig, ModelKind, Tensor};
use crate::engine::tokenizer::TextTokenizer;
use crate::engine::{EngineError, EngineSettings};
use crate::limits::{
    ROWS_PER_REQUEST_MAX, TEXT_BYTES_MAX, TEXTS_PER_REQUEST_MAX, TOKENIZE_INLINE_BYTES_MAX,
};
use kiln::batch::{BatchError, Submission, SubmitOptions};
use registry::{LoadedModel, LoadedVersion, list_models, load_model};
use runner::Runner;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Instant;

/// Why a request was not answered with a result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServiceError {
    /// No such model in the registry (or it is unloaded). HTTP 404.
    UnknownModel(String),
    /// The model exists but not this version. HTTP 404.
    UnknownVersion { model: String, version: String },
    /// The model is in the registry but did not load. HTTP 503.
    NotReady { model: String, reason: String },
    /// The request does not fit the model. HTTP 400.
    BadInput(String),
    /// The model's queue is full. HTTP 503 with Retry-After.
    Overloaded,
    /// The request's deadline passed before its batch ran. HTTP 503 with Retry-After.
    DeadlineExpired,
    /// The model was unloaded while the request waited. HTTP 503.
    Closed,
    /// The model failed to run (details in the log). HTTP 500.
    Failed(String),
}

impl std::fmt::Display for ServiceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ServiceError::UnknownModel(name) => write!(f, "unknown model {name:?}"),
            ServiceError::UnknownVersion { model, version } => {
                write!(f, "model {model:?} has no version {version:?}")
            }
            ServiceError::NotReady { model, reason } => {
                write!(f, "model {model:?} is not ready: {reason}")
            }
            ServiceError::BadInput(reason) => f.write_str(reason),
            ServiceError::Overloaded => f.write_str("the model's queue is full; retry later"),
            ServiceError::DeadlineExpired => {
                f.write_str("the request's timeout passed before the model ran it")
            }
            ServiceError::Closed => f.write_str("the model was unloaded"),
            ServiceError::Failed(_) => f.write_str("the model failed to run"),
        }
    }
}

impl From<BatchError<EngineError>> for ServiceError {
    fn from(error: BatchError<EngineError>) -> ServiceError {
        match error {
            BatchError::Overloaded => ServiceError::Overloaded,
            BatchError::Expired => ServiceError::DeadlineExpired,
            BatchError::Closed => ServiceError::Closed,
            BatchError::Failed(error) => ServiceError::Failed(error.0),
            other => ServiceError::Failed(other.to_string()),
        }
    }
}

/// A model's state in the registry.
#[derive(Clone)]
enum Slot {
    Ready(Arc<LoadedModel>),
    Unavailable(String),
    Unloaded,
}

/// One line of the repository index.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct IndexEntry {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// `READY`, `UNAVAILABLE` or `UNLOADED` (Triton's words).
    pub state: &'static str,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub reason: String,
}

struct Inner {
    root: PathBuf,
    /// The engine override and onnxruntime's settings, for every load.
    engines: EngineSettings,
    slots: RwLock<BTreeMap<String, Slot>>,
    /// Documents, feedback and traffic splits (`retrieval.rs`, `feedback.rs`).
    feedback_loop: retrieval::Loop,
}

/// How `Inference::open_with_store` opens a registry.
#[derive(Clone, Debug, Default)]
pub struct OpenSettings {
    /// The vector index over stored documents.
    pub index: index::IndexSettings,
    /// Which engine runs the models (`--engine`) and onnxruntime's library and threads.
    pub engines: EngineSettings,
}

/// The service; cheap to clone.
#[derive(Clone)]
pub struct Inference {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Inference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inference")
            .field("root", &self.inner.root)
            .finish()
    }
}

/// The answer to an infer request.
#[derive(Clone, Debug, PartialEq)]
pub struct Inferred {
    pub model: String,
    pub version: u64,
    pub outputs: Vec<Tensor>,
}

/// The answer to an embed request.
#[derive(Clone, Debug, PartialEq)]
pub struct Embedded {
    pub model: String,
    pub version: u64,
    pub embeddings: Vec<Vec<f32>>,
}

impl Inference {
    /// Opens the registry at `root` and loads every model in it. A model that does not
    /// load is logged (with the reason) and listed as unavailable; the others serve.
    pub fn open(root: &Path) -> std::io::Result<Inference> {
        Inference::open_with_store(root, None, OpenSettings::default())
    }

    /// `open`, with a store for documents and feedback (its documents are indexed now,
    /// with `settings.index`) and models on the engines `settings.engines` says.
    pub fn open_with_store(
        root: &Path,
        store: Option<Arc<dyn crate::store::Store>>,
        settings: OpenSettings,
    ) -> std::io::Result<Inference> {
        let names = list_models(root)?;
        let feedback_loop =
            retrieval::Loop::open(store, settings.index).map_err(std::io::Error::other)?;
        let service = Inference {
            inner: Arc::new(Inner {
                root: root.to_path_buf(),
                engines: settings.engines,
                slots: RwLock::new(BTreeMap::new()),
                feedback_loop,
            }),
        };
        for name in names {
            // Start-up: a failure is already logged and recorded by `load`.
            let _ = service.load(&name);
        }
        Ok(service)
    }

    pub fn root(&self) -> &Path {
        &self.inner.root
    }

    fn slots(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Slot>> {
        self.inner.slots.read().unwrap_or_else(|e| e.into_inner())
    }

    fn set_slot(&self, name: &str, slot: Slot) {
        let mut slots = self.inner.slots.write().unwrap_or_else(|e| e.into_inner());
        slots.insert(name.to_owned(), slot);
    }

    /// Loads (or reloads) model `name` from disk. Blocking: run it on the blocking pool.
    pub fn load(&self, name: &str) -> Result<(), ServiceError> {
        let known = crate::domain::config::check_model_name(name).is_ok()
            && self.inner.root.join(name).join("config.json").is_file();
        if !known {
            return Err(ServiceError::UnknownModel(name.to_owned()));
        }
        match load_model(&self.inner.root, name, &self.inner.engines) {
            Ok(model) => {
                self.set_slot(name, Slot::Ready(Arc::new(model)));
                self.apply_saved_tuning(name);
                Ok(())
            }
            Err(reason) => {
                tracing::warn!(model = name, %reason, "model not loaded");
                self.set_slot(name, Slot::Unavailable(reason.clone()));
                Err(ServiceError::NotReady {
                    model: name.to_owned(),
                    reason,
                })
            }
        }
    }

    /// Unloads model `name`: new requests get 404; requests in flight finish.
    pub fn unload(&self, name: &str) -> Result<(), ServiceError> {
        let known = self.slots().contains_key(name);
        if !known {
            return Err(ServiceError::UnknownModel(name.to_owned()));
        }
        self.set_slot(name, Slot::Unloaded);
        tracing::info!(model = name, "model unloaded");
        Ok(())
    }

    /// Every model in the registry directory and what state it is in.
    pub fn index(&self) -> Vec<IndexEntry> {
        let on_disk = list_models(&self.inner.root).unwrap_or_default();
        let slots = self.slots();
        let mut names: Vec<&str> = on_disk.iter().map(String::as_str).collect();
        names.extend(slots.keys().map(String::as_str));
        names.sort_unstable();
        names.dedup();
        let mut index = Vec::new();
        for name in names {
            let entry = |version: Option<String>, state, reason: &str| IndexEntry {
                name: name.to_owned(),
                version,
                state,
                reason: reason.to_owned(),
            };
            match slots.get(name) {
                Some(Slot::Ready(model)) => index.extend(
                    model
                        .versions
                        .keys()
                        .map(|v| entry(Some(v.to_string()), "READY", "")),
                ),
                Some(Slot::Unavailable(reason)) => index.push(entry(None, "UNAVAILABLE", reason)),
                Some(Slot::Unloaded) | None => index.push(entry(None, "UNLOADED", "")),
            }
        }
        index
    }

    /// Whether any model is loaded (server readiness).
    pub fn any_ready(&self) -> bool {
        self.slots()
            .values()
            .any(|slot| matches!(slot, Slot::Ready(_)))
    }

    /// A loaded model, or why not.
    pub fn model(&self, name: &str) -> Result<Arc<LoadedModel>, ServiceError> {
        match self.slots().get(name) {
            Some(Slot::Ready(model)) => Ok(model.clone()),
            Some(Slot::Unavailable(reason)) => Err(ServiceError::NotReady {
                model: name.to_owned(),
                reason: reason.clone(),
            }),
            Some(Slot::Unloaded) | None => Err(ServiceError::UnknownModel(name.to_owned())),
        }
    }

    /// A loaded model and one of its versions (the latest when `version` is `None`).
    pub fn version(
        &self,
        name: &str,
        version: Option<&str>,
    ) -> Result<(Arc<LoadedModel>, Arc<LoadedVersion>), ServiceError> {
        let model = self.model(name)?;
        let unknown = || ServiceError::UnknownVersion {
            model: name.to_owned(),
            version: version.unwrap_or("").to_owned(),
        };
        let found = match version {
            None => model.latest().cloned(),
            Some(text) => text
                .parse::<u64>()
                .ok()
                .and_then(|v| model.versions.get(&v).cloned()),
        };
        let found = found.ok_or_else(unknown)?;
        Ok((model, found))
    }

    /// Runs `inputs` through a model version; `outputs` names the outputs wanted (all when
    /// empty). Answers the outputs in the order asked (config order when all).
    pub async fn infer(
        &self,
        name: &str,
        version: Option<&str>,
        inputs: Vec<Tensor>,
        outputs: &[String],
        deadline: Option<Instant>,
    ) -> Result<Inferred, ServiceError> {
        let routed = self.route(name, version).await?;
        let (model, loaded) = self.version(name, routed.as_deref())?;
        let wanted = wanted_outputs(&model.config, outputs)?;
        let computed = match &loaded.runner {
            Runner::Tabular(batcher) => {
                let rows = rows_of(&model.config, inputs)?;
                // Queued together: a request's rows are never split because the first was
                // dispatched before the others arrived.
                let submissions = batcher.submit_many(rows, options(0, deadline));
                let answers = await_all(submissions, deadline).await?;
                join_outputs(&model.config, &answers)?
            }
            Runner::Text { .. } => {
                let texts = texts_of(&model.config, inputs)?;
                let texts: Vec<&[u8]> = texts.iter().map(Vec::as_slice).collect();
                check_texts(&texts)?;
                let embeddings = self.embed_on(&model, &loaded, &texts, deadline).await?;
                let width = model.config.dimensions();
                let rows: Vec<Data> = embeddings.into_iter().map(Data::F32).collect();
                let refs: Vec<&Data> = rows.iter().collect();
                let name = model.config.outputs[0].name.clone();
                vec![
                    Tensor::from_rows(name, Datatype::Fp32, &[width], &refs)
                        .map_err(ServiceError::Failed)?,
                ]
            }
        };
        let outputs = wanted
            .iter()
            .map(|&index| computed[index].clone())
            .collect();
        Ok(Inferred {
            model: model.config.name.clone(),
            version: loaded.version,
            outputs,
        })
    }

    /// Embeds `texts` with a text model (`/v1/embed`).
    pub async fn embed(
        &self,
        name: &str,
        version: Option<&str>,
        texts: &[String],
        deadline: Option<Instant>,
    ) -> Result<Embedded, ServiceError> {
        let routed = self.route(name, version).await?;
        let (model, loaded) = self.version(name, routed.as_deref())?;
        if model.config.kind != ModelKind::Text {
            return Err(ServiceError::BadInput(format!(
                "model {name:?} is not a text model"
            )));
        }
        let texts: Vec<&[u8]> = texts.iter().map(|text| text.as_bytes()).collect();
        check_texts(&texts)?;
        let embeddings = self.embed_on(&model, &loaded, &texts, deadline).await?;
        Ok(Embedded {
            model: model.config.name.clone(),
            version: loaded.version,
            embeddings,
        })
    }

    async fn embed_on(
        &self,
        model: &LoadedModel,
        loaded: &LoadedVersion,
        texts: &[&[u8]],
        deadline: Option<Instant>,
    ) -> Result<Vec<Vec<f32>>, ServiceError> {
        let Runner::Text { tokenizer, batcher } = &loaded.runner else {
            return Err(ServiceError::BadInput("not a text model".to_owned()));
        };
        let buckets = model
            .config
            .text
            .as_ref()
            .map(|text| text.length_buckets.as_slice())
            .unwrap_or_default();
        let texts = texts
            .iter()
            .map(|text| std::str::from_utf8(text).map(str::to_owned))
            .collect::<Result<Vec<String>, _>>()
            .map_err(|_| ServiceError::BadInput("texts must be UTF-8".to_owned()))?;
        let tokenized = tokenize(tokenizer, texts).await?;
        // The request's texts of one bucket are queued together (`submit_many`); the answers
        // are put back in the request's order.
        let count = tokenized.len();
        let mut by_bucket: BTreeMap<usize, (Vec<usize>, Vec<_>)> = BTreeMap::new();
        for (index, ids) in tokenized.into_iter().enumerate() {
            let bucket = crate::domain::text::bucket_of(ids.len(), buckets);
            let (indices, items) = by_bucket.entry(bucket).or_default();
            indices.push(index);
            items.push(ids);
        }
        let mut slots: Vec<Option<Submission<_, _>>> = (0..count).map(|_| None).collect();
        for (bucket, (indices, items)) in by_bucket {
            let queued = batcher.submit_many(items, options(bucket as u64, deadline));
            for (index, submission) in indices.into_iter().zip(queued) {
                slots[index] = Some(submission);
            }
        }
        await_all(slots.into_iter().flatten().collect(), deadline).await
    }

    /// The recent batches of a model version (for `/stats`).
    pub fn batches(
        &self,
        name: &str,
        version: Option<&str>,
    ) -> Result<(u64, Vec<runner::BatchNote>), ServiceError> {
        let (_, loaded) = self.version(name, version)?;
        Ok((loaded.version, loaded.notes.snapshot()))
    }
}

/// Token ids of `texts`: on this worker when they are short, on the blocking pool beyond
/// `TOKENIZE_INLINE_BYTES_MAX` in all, so a long request does not stall the worker's other
/// connections.
async fn tokenize(
    tokenizer: &Arc<TextTokenizer>,
    texts: Vec<String>,
) -> Result<Vec<Vec<u32>>, ServiceError> {
    let encode_all = |tokenizer: &TextTokenizer, texts: &[String]| {
        texts
            .iter()
            .map(|text| tokenizer.encode(text))
            .collect::<Result<Vec<Vec<u32>>, _>>()
            .map_err(|e| ServiceError::BadInput(e.0))
    };
    let bytes: usize = texts.iter().map(String::len).sum();
    if bytes <= TOKENIZE_INLINE_BYTES_MAX {
        return encode_all(tokenizer, &texts);
    }
    let tokenizer = tokenizer.clone();
    kiln::runtime::spawn_blocking(move || encode_all(&tokenizer, &texts))
        .await
        .map_err(|_| ServiceError::Overloaded)?
}

fn options(group_key: u64, deadline: Option<Instant>) -> SubmitOptions {
    SubmitOptions {
        group_key,
        deadline,
    }
}

/// Awaits every submission in order; the first failure answers the request (the other
/// submissions are dropped, which cancels those still queued).
async fn await_all<T>(
    submissions: Vec<Submission<T, EngineError>>,
    deadline: Option<Instant>,
) -> Result<Vec<T>, ServiceError> {
    let mut answers = Vec::with_capacity(submissions.len());
    for submission in submissions {
        let answer = match deadline {
            Some(deadline) => kiln::runtime::timeout_at(deadline, submission)
                .await
                .map_err(|_| ServiceError::DeadlineExpired)?,
            None => submission.await,
        };
        answers.push(answer.map_err(|error| {
            let error = ServiceError::from(error);
            if let ServiceError::Failed(detail) = &error {
                tracing::warn!(%detail, "model call failed");
            }
            error
        })?);
    }
    Ok(answers)
}

/// Indexes (into the config's outputs) of the outputs asked for.
fn wanted_outputs(config: &ModelConfig, asked: &[String]) -> Result<Vec<usize>, ServiceError> {
    if asked.is_empty() {
        return Ok((0..config.outputs.len()).collect());
    }
    asked
        .iter()
        .map(|name| {
            config
                .outputs
                .iter()
                .position(|spec| &spec.name == name)
                .ok_or_else(|| {
                    ServiceError::BadInput(format!(
                        "model {:?} has no output {name:?}",
                        config.name
                    ))
                })
        })
        .collect()
}

/// Checks a tabular request's inputs against the config and cuts them into rows (one
/// `Data` per config input, in config order).
fn rows_of(config: &ModelConfig, inputs: Vec<Tensor>) -> Result<Vec<Vec<Data>>, ServiceError> {
    let bad = |message: String| Err(ServiceError::BadInput(message));
    if inputs.len() != config.inputs.len() {
        return bad(format!(
            "model {:?} takes {} input(s) ({}), the request has {}",
            config.name,
            config.inputs.len(),
            names(&config.inputs),
            inputs.len()
        ));
    }
    let mut ordered = Vec::with_capacity(inputs.len());
    for spec in &config.inputs {
        let Some(tensor) = inputs.iter().find(|t| t.name == spec.name) else {
            return bad(format!("input {:?} is missing", spec.name));
        };
        if tensor.datatype() != spec.datatype {
            return bad(format!(
                "input {:?} is {}, the model takes {}",
                spec.name,
                tensor.datatype(),
                spec.datatype
            ));
        }
        let fits = tensor.shape.len() == spec.shape.len()
            && tensor
                .shape
                .iter()
                .zip(&spec.shape)
                .skip(1)
                .all(|(&got, &want)| got as i64 == want);
        if !fits {
            return bad(format!(
                "input {:?} has shape {:?}, the model takes {:?}",
                spec.name, tensor.shape, spec.shape
            ));
        }
        ordered.push(tensor);
    }
    let rows = ordered[0].rows();
    if ordered.iter().any(|t| t.rows() != rows) {
        return bad("inputs differ in their first (batch) dimension".to_owned());
    }
    if rows == 0 || rows > ROWS_PER_REQUEST_MAX {
        return bad(format!(
            "the batch dimension must be 1 to {ROWS_PER_REQUEST_MAX} rows, not {rows}"
        ));
    }
    Ok((0..rows)
        .map(|row| ordered.iter().map(|t| t.row(row)).collect())
        .collect())
}

fn names(specs: &[crate::domain::TensorSpec]) -> String {
    let names: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
    names.join(", ")
}

/// Joins row answers back into one tensor per config output.
fn join_outputs(config: &ModelConfig, rows: &[Vec<Data>]) -> Result<Vec<Tensor>, ServiceError> {
    config
        .outputs
        .iter()
        .enumerate()
        .map(|(index, spec)| {
            let parts = rows
                .iter()
                .map(|row| row.get(index))
                .collect::<Option<Vec<&Data>>>()
                .ok_or_else(|| {
                    ServiceError::Failed(format!("the model returned no output {}", spec.name))
                })?;
            let row_shape = spec.row_shape().unwrap_or_default();
            Tensor::from_rows(spec.name.clone(), spec.datatype, &row_shape, &parts)
                .map_err(ServiceError::Failed)
        })
        .collect()
}

/// The texts of a text model's one BYTES input (shape `[N]`).
fn texts_of(config: &ModelConfig, inputs: Vec<Tensor>) -> Result<Vec<Vec<u8>>, ServiceError> {
    let spec = &config.inputs[0];
    let [tensor] = <[Tensor; 1]>::try_from(inputs).map_err(|inputs| {
        ServiceError::BadInput(format!(
            "model {:?} takes one input ({}), the request has {}",
            config.name,
            spec.name,
            inputs.len()
        ))
    })?;
    if tensor.name != spec.name {
        return Err(ServiceError::BadInput(format!(
            "input {:?} is missing",
            spec.name
        )));
    }
    match tensor.data {
        Data::Bytes(texts) if tensor.shape.len() == 1 => Ok(texts),
        Data::Bytes(_) => Err(ServiceError::BadInput(format!(
            "input {:?} has shape {:?}, the model takes [-1]",
            spec.name, tensor.shape
        ))),
        other => Err(ServiceError::BadInput(format!(
            "input {:?} is {}, the model takes BYTES",
            spec.name,
            other.datatype()
        ))),
    }
}

/// Texts per request and bytes per text.
fn check_texts(texts: &[&[u8]]) -> Result<(), ServiceError> {
    if texts.is_empty() || texts.len() > TEXTS_PER_REQUEST_MAX {
        return Err(ServiceError::BadInput(format!(
            "send 1 to {TEXTS_PER_REQUEST_MAX} texts, not {}",
            texts.len()
        )));
    }
    if let Some(index) = texts.iter().position(|text| text.len() > TEXT_BYTES_MAX) {
        return Err(ServiceError::BadInput(format!(
            "text {index} is longer than {TEXT_BYTES_MAX} bytes"
        )));
    }
    Ok(())
}
