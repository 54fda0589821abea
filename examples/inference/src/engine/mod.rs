//! Model execution behind one trait, `Engine`: a batch of input tensors in (the first
//! dimension is the batch), the model's output tensors out. `tract.rs` is the implementation
//! (tract-onnx, pure Rust); `tokenizer.rs` turns texts into token ids for text models.
//!
//! An engine is built once per model version at load (parsing, typing, folding constants,
//! optimising) and then only runs, on the batcher's instance threads (`service/`); nothing
//! here knows HTTP or batching. Tests: `tract.rs` (the risk model against onnxruntime's
//! fixture, MiniLM when fetched) and `tokenizer.rs`.

pub mod tokenizer;
pub mod tract;

use crate::domain::{Datatype, Tensor};
use std::fmt;

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
