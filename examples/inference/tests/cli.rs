//! The inference app's one integration-test binary. Every test runs the built `inference`
//! binary on 127.0.0.1 with a registry directory of its own (made by `support::Registry`
//! from the committed risk model and, when fetched, MiniLM) and talks HTTP over real
//! sockets. Modules: `kserve.rs` (every KServe route and error shape, the risk model against
//! onnxruntime's fixture, Triton's binary tensors by hand), `repository.rs` (index, load,
//! unload, a model whose file is missing), `overload.rs` (concurrent requests sharing model
//! calls, a full queue's 503 and a passed deadline), `limits.rs` (each request limit through HTTP), `embed.rs` (MiniLM through
//! `/v1/embed` and KServe BYTES, length-bucket grouping; skipped with the reason printed when
//! `fetch-models` has not run), `fetch.rs` (`fetch-models` refusals and idempotence) and
//! `triton.rs` (the real `tritonclient[http]`, skipped when Python lacks it), `bench.rs`
//! (`inference bench`), `dashboard.rs` (`/metrics`, the dashboard pages, its SSE stream
//! and batching controls), `browser.rs` (the dashboard in Chromium, `tests/browser.mjs`),
//! `retrieval.rs` (documents, search, opened results, `load-corpus` and `recall`; skipped
//! without MiniLM), `feedback.rs` (feedback, its export, recalibration, fixed and Exp3
//! traffic splits), `playground.rs` (the playground's forms and feedback, the model
//! page's split) and, with the `ort` feature, `onnxruntime.rs` (the risk model on ONNX
//! Runtime over HTTP, `--engine`, a missing library, `bench` on both engines; it needs
//! `ORT_DYLIB_PATH`).

#[path = "cli/bench.rs"]
mod bench;
#[path = "cli/browser.rs"]
mod browser;
#[path = "cli/dashboard.rs"]
mod dashboard;
#[path = "cli/embed.rs"]
mod embed;
#[path = "cli/feedback.rs"]
mod feedback;
#[path = "cli/fetch.rs"]
mod fetch;
#[path = "cli/kserve.rs"]
mod kserve;
#[path = "cli/limits.rs"]
mod limits;
#[cfg(feature = "ort")]
#[path = "cli/onnxruntime.rs"]
mod onnxruntime;
#[path = "cli/overload.rs"]
mod overload;
#[path = "cli/playground.rs"]
mod playground;
#[path = "cli/repository.rs"]
mod repository;
#[path = "cli/retrieval.rs"]
mod retrieval;
#[path = "cli/support.rs"]
mod support;
#[path = "cli/triton.rs"]
mod triton;
