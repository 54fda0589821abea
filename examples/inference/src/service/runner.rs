//! One loaded model version: its engine behind a `kiln::batch::Batcher` (one thread per
//! model instance), and the batch functions that turn queued items into one model call.
//!
//! - Tabular: an item is one row (one `Data` per input); a batch joins rows along the
//!   first dimension, runs, and splits every output back into rows.
//! - Text: an item is one text's token ids, queued in the group of its padded-length bucket
//!   (`submit_grouped`), so a batch never pads short texts to a long one's length; the
//!   batch is padded to its bucket's length (the engine keeps one plan per bucket), run,
//!   and mean-pooled and normalised per text.
//!
//! Every batch is noted (size, bucket, shortest and longest text) in a bounded ring for
//! `GET /v2/models/{name}/stats`. Not here: HTTP, request validation (`service/mod.rs`).
//! Tests: `service/tests.rs` (grouping with a recording engine; MiniLM against
//! onnxruntime's fixture when fetched).

use crate::domain::text::{bucket_of, mean_pool_normalised, pad_batch};
use crate::domain::{Data, Datatype, ModelConfig, Tensor};
use crate::engine::tokenizer::TextTokenizer;
use crate::engine::{Engine, EngineError};
use crate::limits::RECENT_BATCHES_MAX;
use kiln::batch::{AdaptiveConfig, BatchConfig, Batcher};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

/// One batch as the model saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct BatchNote {
    pub size: usize,
    /// The bucket (group key) of a text batch; 0 for tabular.
    pub bucket: usize,
    /// Tokens of the shortest and longest text (0 for tabular).
    pub tokens_min: usize,
    pub tokens_max: usize,
    pub latency_us: u64,
}

/// The bounded ring of recent batches, and the histogram of every batch's size (`/metrics`).
#[derive(Debug)]
pub struct BatchNotes(Mutex<VecDeque<BatchNote>>, crate::metrics::Histogram);

impl Default for BatchNotes {
    fn default() -> Self {
        BatchNotes(Mutex::default(), crate::metrics::batch_size_histogram())
    }
}

impl BatchNotes {
    /// Every batch's size since the version loaded.
    pub fn sizes(&self) -> &crate::metrics::Histogram {
        &self.1
    }

    fn push(&self, note: BatchNote) {
        self.1.observe(note.size as u64);
        let mut notes = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if notes.len() == RECENT_BATCHES_MAX {
            notes.pop_front();
        }
        notes.push_back(note);
    }

    pub fn snapshot(&self) -> Vec<BatchNote> {
        let notes = self.0.lock().unwrap_or_else(|e| e.into_inner());
        notes.iter().copied().collect()
    }
}

pub type RowBatcher = Batcher<Vec<Data>, Vec<Data>, EngineError>;
pub type TextBatcher = Batcher<Vec<u32>, Vec<f32>, EngineError>;

/// How a loaded version runs.
pub enum Runner {
    Tabular(RowBatcher),
    Text {
        tokenizer: Arc<TextTokenizer>,
        batcher: TextBatcher,
    },
}

/// The batcher settings of a model's config.
pub fn batch_config(config: &ModelConfig, version: u64) -> BatchConfig {
    let batching = &config.batching;
    BatchConfig {
        batch_size_max: batching.max_batch,
        queue_delay_max_us: batching.max_queue_delay_us,
        queue_items_max: batching.queue_items_max,
        adaptive: batching.adaptive.then(|| AdaptiveConfig {
            latency_objective_us: batching.latency_objective_us,
            ..AdaptiveConfig::default()
        }),
        instances_count: batching.instances,
        early_dispatch: batching.early_dispatch,
        thread_name: format!("model-{}-{version}", config.name),
        ..BatchConfig::default()
    }
}

/// Starts the tabular batcher of `engine`.
pub fn start_tabular(
    config: &ModelConfig,
    version: u64,
    engine: Arc<dyn Engine>,
    notes: Arc<BatchNotes>,
) -> std::io::Result<RowBatcher> {
    let row_shapes: Vec<Vec<usize>> = config
        .inputs
        .iter()
        .map(|spec| spec.row_shape().unwrap_or_default())
        .collect();
    let names: Vec<String> = config.inputs.iter().map(|spec| spec.name.clone()).collect();
    let datatypes: Vec<Datatype> = config.inputs.iter().map(|spec| spec.datatype).collect();
    Batcher::start(
        batch_config(config, version),
        move |rows: Vec<Vec<Data>>| {
            let started = std::time::Instant::now();
            let size = rows.len();
            let answer = run_rows(engine.as_ref(), &names, &datatypes, &row_shapes, &rows);
            notes.push(BatchNote {
                size,
                bucket: 0,
                tokens_min: 0,
                tokens_max: 0,
                latency_us: elapsed_us(started),
            });
            spread(answer, size)
        },
    )
}

fn elapsed_us(started: std::time::Instant) -> u64 {
    u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX)
}

/// One answer per item: the rows, or the batch's error cloned to each.
fn spread<T>(answer: Result<Vec<T>, EngineError>, size: usize) -> Vec<Result<T, EngineError>> {
    match answer {
        Ok(rows) => rows.into_iter().map(Ok).collect(),
        Err(error) => (0..size).map(|_| Err(error.clone())).collect(),
    }
}

fn run_rows(
    engine: &dyn Engine,
    names: &[String],
    datatypes: &[Datatype],
    row_shapes: &[Vec<usize>],
    rows: &[Vec<Data>],
) -> Result<Vec<Vec<Data>>, EngineError> {
    let mut inputs = Vec::with_capacity(names.len());
    for (index, name) in names.iter().enumerate() {
        let parts: Vec<&Data> = rows.iter().map(|row| &row[index]).collect();
        let tensor = Tensor::from_rows(name, datatypes[index], &row_shapes[index], &parts)
            .map_err(EngineError)?;
        inputs.push(tensor);
    }
    let outputs = engine.run(inputs)?;
    split_rows(&outputs, rows.len())
}

/// Splits every output along its first dimension: one `Vec<Data>` (one per output) per row.
fn split_rows(outputs: &[Tensor], count: usize) -> Result<Vec<Vec<Data>>, EngineError> {
    let mut rows: Vec<Vec<Data>> = (0..count).map(|_| Vec::new()).collect();
    for output in outputs {
        if output.rows() != count {
            return Err(EngineError(format!(
                "output {} has {} rows for a batch of {count}",
                output.name,
                output.rows()
            )));
        }
        for (index, row) in rows.iter_mut().enumerate() {
            row.push(output.row(index));
        }
    }
    Ok(rows)
}

/// What the text batch function needs to know about the model.
#[derive(Clone, Debug)]
pub struct TextShape {
    pub onnx_inputs: Vec<String>,
    pub buckets: Vec<usize>,
    pub dimensions: usize,
}

/// Starts the text batcher of `engine`.
pub fn start_text(
    config: &ModelConfig,
    version: u64,
    shape: TextShape,
    engine: Arc<dyn Engine>,
    notes: Arc<BatchNotes>,
) -> std::io::Result<TextBatcher> {
    Batcher::start(
        batch_config(config, version),
        move |texts: Vec<Vec<u32>>| {
            let started = std::time::Instant::now();
            let answer = run_texts(engine.as_ref(), &shape, &texts);
            let tokens_min = texts.iter().map(Vec::len).min().unwrap_or(0);
            let tokens_max = texts.iter().map(Vec::len).max().unwrap_or(0);
            notes.push(BatchNote {
                size: texts.len(),
                bucket: bucket_of(tokens_max, &shape.buckets),
                tokens_min,
                tokens_max,
                latency_us: elapsed_us(started),
            });
            spread(answer, texts.len())
        },
    )
}

/// Pads, runs and pools one batch of texts.
pub fn run_texts(
    engine: &dyn Engine,
    shape: &TextShape,
    texts: &[Vec<u32>],
) -> Result<Vec<Vec<f32>>, EngineError> {
    let longest = texts.iter().map(Vec::len).max().unwrap_or(0);
    let batch = pad_batch(texts, bucket_of(longest, &shape.buckets));
    let dims = vec![batch.rows, batch.columns];
    let mut inputs = Vec::with_capacity(shape.onnx_inputs.len());
    for name in &shape.onnx_inputs {
        let values = match name.as_str() {
            "input_ids" => batch.input_ids.clone(),
            "attention_mask" => batch.attention_mask.clone(),
            _ => vec![0i64; batch.rows * batch.columns], // token_type_ids: one segment
        };
        inputs
            .push(Tensor::new(name.clone(), dims.clone(), Data::I64(values)).map_err(EngineError)?);
    }
    let outputs = engine.run(inputs)?;
    let hidden = outputs
        .first()
        .ok_or_else(|| EngineError("the model returned no output".to_owned()))?;
    let width = shape.dimensions;
    let Data::F32(values) = &hidden.data else {
        return Err(EngineError("the hidden state is not FP32".to_owned()));
    };
    if hidden.shape != [batch.rows, batch.columns, width] {
        return Err(EngineError(format!(
            "the hidden state has shape {:?}, expected [{}, {}, {width}]",
            hidden.shape, batch.rows, batch.columns
        )));
    }
    Ok((0..batch.rows)
        .map(|row| mean_pool_normalised(values, &batch.attention_mask, row, batch.columns, width))
        .collect())
}
