//! Pure types and rules of the inference app, no I/O: tensors and datatypes (`tensor.rs`),
//! model configurations (`config.rs`), and the text rules: length buckets, per-batch
//! padding and mean pooling (`text.rs`), the dashboard's time series (`series.rs`) and its SVG
//! chart geometry (`svg.rs`). Unit tests beside each.

pub mod config;
pub mod series;
pub mod svg;
pub mod tensor;
pub mod text;

pub use config::{BatchingConfig, EngineKind, ModelConfig, ModelKind, TensorSpec, TextConfig};
pub use tensor::{Data, Datatype, Tensor};
