//! Pure types and rules of the inference app, no I/O: tensors and datatypes (`tensor.rs`),
//! model configurations (`config.rs`), and the text rules: length buckets, per-batch
//! padding and mean pooling (`text.rs`), the dashboard's time series (`series.rs`) and its SVG
//! chart geometry (`svg.rs`); for retrieval and feedback: exact search (`search.rs`), the
//! demo corpus (`corpus.rs`), feedback rules and threshold recalibration (`feedback.rs`),
//! traffic splits and Exp3 (`bandit.rs`). Unit tests beside each.

pub mod bandit;
pub mod config;
pub mod corpus;
pub mod feedback;
pub mod search;
pub mod series;
pub mod svg;
pub mod tensor;
pub mod text;

pub use config::{BatchingConfig, EngineKind, ModelConfig, ModelKind, TensorSpec, TextConfig};
pub use tensor::{Data, Datatype, Tensor};
