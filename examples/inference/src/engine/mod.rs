//! Model execution behind one trait, `Engine`: a batch of input tensors in (the first
//! dimension is the batch), the model's output tensors out. Two implementations: `tract.rs`
//! (tract-onnx, pure Rust, always built) and `onnxruntime.rs` (ONNX Runtime through the `ort`
//! crate, only with the `ort` cargo feature); `load` builds the one a model's config (or
//! `--engine`) names, and without the feature answers why it cannot. `tokenizer.rs` turns
//! texts into token ids for text models.
//!
//! An engine is built once per model version at load (parsing, typing, folding constants,
//! optimising) and then only runs, on the batcher's instance threads (`service/`); nothing
//! here knows HTTP or batching. Tests: `tract.rs` (the risk model against onnxruntime's
//! fixture, MiniLM when fetched), `onnxruntime.rs` (the same fixtures, and tract's outputs,
//! with the feature and a library), `tokenizer.rs`, and the settings' limits below.

#[cfg(feature = "ort")]
pub mod onnxruntime;
pub mod tokenizer;
pub mod tract;

use crate::domain::config::EngineKind;
use crate::domain::{Datatype, Tensor};
use crate::limits::{ORT_INTRA_THREADS_DEFAULT, ORT_INTRA_THREADS_MAX};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Runs a model on one batch. `Send + Sync`: instances share one optimised plan.
pub trait Engine: Send + Sync {
    /// `inputs` in the order the engine was built with, each `[batch, ...]`; returns the
    /// outputs in the order it was built with.
    fn run(&self, inputs: Vec<Tensor>) -> Result<Vec<Tensor>, EngineError>;
}

/// An input the engine is built for: `-1` dimensions are free (the first is the batch).
#[derive(Clone, Debug, PartialEq)]
pub struct EngineInput {
    pub name: String,
    pub datatype: Datatype,
    pub shape: Vec<i64>,
}

/// An output the engine returns, converted to `datatype`.
#[derive(Clone, Debug, PartialEq)]
pub struct EngineOutput {
    pub name: String,
    pub datatype: Datatype,
}

/// A model that could not be loaded or run. Cloned to every item of a failed batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EngineError(pub String);

impl fmt::Display for EngineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for EngineError {}

/// Process-wide engine choices, from the command line (`serve`, `bench`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EngineSettings {
    /// Runs every model on this engine, whatever its `config.json` says (`--engine`).
    pub engine_override: Option<EngineKind>,
    /// The ONNX Runtime library (`--ort-library`); without it, `ORT_DYLIB_PATH`. One per
    /// process: the first that loads stays.
    pub ort_library: Option<PathBuf>,
    /// onnxruntime's intra-op threads per session (`--ort-threads`), 1 to
    /// `ORT_INTRA_THREADS_MAX`.
    pub ort_intra_threads: usize,
}

impl Default for EngineSettings {
    fn default() -> EngineSettings {
        EngineSettings {
            engine_override: None,
            ort_library: None,
            ort_intra_threads: ORT_INTRA_THREADS_DEFAULT,
        }
    }
}

impl EngineSettings {
    /// Checks the limits.
    pub fn check(&self) -> Result<(), String> {
        if !(1..=ORT_INTRA_THREADS_MAX).contains(&self.ort_intra_threads) {
            return Err(format!(
                "onnxruntime intra-op threads must be 1 to {ORT_INTRA_THREADS_MAX}, not {}",
                self.ort_intra_threads
            ));
        }
        Ok(())
    }

    /// The engine a model with `configured` in its config runs on.
    pub fn engine_for(&self, configured: EngineKind) -> EngineKind {
        self.engine_override.unwrap_or(configured)
    }
}

/// One model file's engine, as `load` builds it.
#[derive(Clone, Debug)]
pub struct EngineSpec<'a> {
    pub kind: EngineKind,
    pub file: &'a Path,
    pub inputs: Vec<EngineInput>,
    pub outputs: Vec<EngineOutput>,
    /// tract: the free non-batch dimensions of the plan built at load, in input order
    /// (empty for a model without any). onnxruntime takes any shape and ignores it.
    pub first_free_dims: Vec<usize>,
    /// Threads that may run the engine at once (the model's instances): onnxruntime keeps
    /// one session for each (its `Run` is not safe to call concurrently on one session).
    pub concurrent_runs: usize,
}

/// Builds the engine `spec.kind` names. Slow (seconds for MiniLM): call it off the I/O
/// workers. An engine this binary was built without is an error saying how to get it.
pub fn load(
    spec: EngineSpec<'_>,
    settings: &EngineSettings,
) -> Result<Arc<dyn Engine>, EngineError> {
    match spec.kind {
        EngineKind::Tract => {
            let engine = tract::TractEngine::load(
                spec.file,
                spec.inputs,
                spec.outputs,
                &spec.first_free_dims,
            )?;
            Ok(Arc::new(engine))
        }
        EngineKind::Onnxruntime => load_onnxruntime(spec, settings),
    }
}

#[cfg(feature = "ort")]
fn load_onnxruntime(
    spec: EngineSpec<'_>,
    settings: &EngineSettings,
) -> Result<Arc<dyn Engine>, EngineError> {
    Ok(Arc::new(onnxruntime::OrtEngine::load(spec, settings)?))
}

#[cfg(not(feature = "ort"))]
fn load_onnxruntime(
    _spec: EngineSpec<'_>,
    _settings: &EngineSettings,
) -> Result<Arc<dyn Engine>, EngineError> {
    Err(EngineError(ORT_NOT_BUILT.to_owned()))
}

/// Why a model on onnxruntime does not load in a build without the `ort` feature.
pub const ORT_NOT_BUILT: &str =
    "engine \"onnxruntime\": built without the `ort` feature: rebuild with --features ort";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn onnxruntime_threads_are_bounded() {
        let at = |threads| EngineSettings {
            ort_intra_threads: threads,
            ..EngineSettings::default()
        };
        assert_eq!(EngineSettings::default().check(), Ok(()));
        assert_eq!(at(ORT_INTRA_THREADS_MAX).check(), Ok(()));
        let over = at(ORT_INTRA_THREADS_MAX + 1).check().unwrap_err();
        assert!(over.contains("1 to 64"), "{over}");
        assert!(at(0).check().is_err());
    }

    #[test]
    fn the_override_wins_over_the_config() {
        let settings = EngineSettings {
            engine_override: Some(EngineKind::Onnxruntime),
            ..EngineSettings::default()
        };
        assert_eq!(
            settings.engine_for(EngineKind::Tract),
            EngineKind::Onnxruntime
        );
        let plain = EngineSettings::default();
        assert_eq!(plain.engine_for(EngineKind::Tract), EngineKind::Tract);
    }

    #[cfg(not(feature = "ort"))]
    #[test]
    fn onnxruntime_without_the_feature_says_how_to_get_it() {
        let spec = EngineSpec {
            kind: EngineKind::Onnxruntime,
            file: Path::new("models/risk/1/model.onnx"),
            inputs: Vec::new(),
            outputs: Vec::new(),
            first_free_dims: Vec::new(),
            concurrent_runs: 1,
        };
        let error = load(spec, &EngineSettings::default()).err().unwrap();
        assert!(error.0.contains("rebuild with --features ort"), "{error}");
    }
}
