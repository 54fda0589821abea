//! `inference bench`: the per-call time of each model's engine in this process, at a few
//! batch sizes, as a markdown table (the engine alone: no HTTP, no queue). Tabular models
//! run rows of 0.5; text models run 16-token texts (`[CLS]`, 14 copies of one word,
//! `[SEP]`) through the whole batch function (padding, the model, pooling). Each model runs
//! on the engine its config names, or on each of `--engine tract,onnxruntime` in turn (the
//! latter with the `ort` feature), one table row per model, engine and batch size.
//! `scripts/bench_onnxruntime.py` times onnxruntime from Python on the same inputs.
//! Each case runs `--iterations` times (after one warm-up call, which also builds a text
//! model's plan) and reports the median. Not here: load tests over HTTP.

use crate::domain::config::EngineKind;
use crate::domain::{Data, Datatype, ModelConfig, ModelKind, Tensor};
use crate::engine::{Engine, EngineSettings};
use crate::service::registry::{build_engine, list_models, read_config, text_shape};
use crate::service::runner::run_texts;
use anyhow::Context;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

/// Batch sizes timed (those above a model's `max_batch` are left out).
pub const BATCH_SIZES: [usize; 3] = [1, 8, 32];

/// Times every loadable model under `models` on each of `engines` (none: the engine its
/// config names); returns the table. An engine that does not load is an error.
pub fn bench(
    models: &Path,
    iterations: usize,
    engines: &[EngineKind],
    settings: &EngineSettings,
) -> anyhow::Result<String> {
    let iterations = iterations.clamp(1, 10_000);
    let mut table = String::from(
        "| model | engine | batch | median per call (µs) | per item (µs) |\n|---|---|---:|---:|---:|\n",
    );
    for name in list_models(models).with_context(|| format!("reading {}", models.display()))? {
        let mut config = read_config(models, &name).map_err(anyhow::Error::msg)?;
        let file = models.join(&name).join("1").join("model.onnx");
        if !file.exists() {
            eprintln!("{name}: skipped, {} is missing", file.display());
            continue;
        }
        let kinds = if engines.is_empty() {
            vec![config.engine]
        } else {
            engines.to_vec()
        };
        for kind in kinds {
            config.engine = kind;
            let engine = build_engine(&config, &file, settings)
                .map_err(|e| anyhow::anyhow!("{name} on {}: {e}", kind.as_str()))?;
            for batch in BATCH_SIZES
                .into_iter()
                .filter(|&b| b <= config.batching.max_batch)
            {
                let median = time_calls(&config, &engine, batch, iterations)?;
                table.push_str(&format!(
                    "| {name} | {} | {batch} | {median} | {:.1} |\n",
                    kind.as_str(),
                    median as f64 / batch as f64
                ));
            }
        }
    }
    Ok(table)
}

/// The median time of `iterations` calls of `engine` on a batch of `batch`, in
/// microseconds, after one warm-up call.
fn time_calls(
    config: &ModelConfig,
    engine: &Arc<dyn Engine>,
    batch: usize,
    iterations: usize,
) -> anyhow::Result<u128> {
    let mut call: Box<dyn FnMut() -> anyhow::Result<()>> = match config.kind {
        ModelKind::Text => {
            let shape = text_shape(config).context("text config")?;
            let texts: Vec<Vec<u32>> = (0..batch)
                .map(|_| {
                    let mut ids = vec![101u32];
                    ids.extend(std::iter::repeat_n(2023u32, 14));
                    ids.push(102);
                    ids
                })
                .collect();
            let engine = engine.clone();
            Box::new(move || {
                run_texts(engine.as_ref(), &shape, &texts)?;
                Ok(())
            })
        }
        ModelKind::Tabular => {
            let inputs = tabular_inputs(&config.inputs, batch)?;
            let engine = engine.clone();
            Box::new(move || {
                engine.run(inputs.clone())?;
                Ok(())
            })
        }
    };
    call()?;
    let mut times: Vec<u128> = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let started = Instant::now();
        call()?;
        times.push(started.elapsed().as_micros());
    }
    times.sort_unstable();
    Ok(times[times.len() / 2])
}

fn tabular_inputs(
    specs: &[crate::domain::TensorSpec],
    batch: usize,
) -> anyhow::Result<Vec<Tensor>> {
    specs
        .iter()
        .map(|spec| {
            let row_shape = spec
                .row_shape()
                .context("a free dimension in a tabular input")?;
            let mut shape = vec![batch];
            shape.extend(row_shape);
            let count = shape.iter().product();
            let data = match spec.datatype {
                Datatype::Fp32 => Data::F32(vec![0.5; count]),
                Datatype::Fp64 => Data::F64(vec![0.5; count]),
                Datatype::Int32 => Data::I32(vec![0; count]),
                Datatype::Int64 => Data::I64(vec![0; count]),
                Datatype::Bytes => anyhow::bail!("BYTES input in a tabular model"),
            };
            Tensor::new(spec.name.clone(), shape, data).map_err(anyhow::Error::msg)
        })
        .collect()
}
