//! The model registry on disk: `ROOT/{name}/config.json` and `ROOT/{name}/{version}/
//! model.onnx` (a text model's tokenizer file is named in its config, relative to
//! `ROOT/{name}`). `load_model` reads one model's config, builds an engine per version
//! directory (a version is a positive integer; the engine the config names, or the
//! `--engine` override) and starts its batchers; `list_models` names
//! the model directories. Blocking and slow (an optimise per version): called at start-up
//! and from the blocking pool, never on an I/O worker. Not here: which models are loaded
//! (`service/mod.rs`). Tests: `service/tests.rs`.

use super::runner::{BatchNotes, Runner, TextShape, start_tabular, start_text};
use crate::domain::config::check_model_name;
use crate::domain::{Datatype, ModelConfig};
use crate::engine::tokenizer::TextTokenizer;
use crate::engine::{Engine, EngineInput, EngineOutput, EngineSettings, EngineSpec};
use crate::limits::{CONFIG_FILE_BYTES_MAX, MODELS_MAX};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;

/// A loaded version of a model.
pub struct LoadedVersion {
    pub version: u64,
    pub runner: Runner,
    pub notes: Arc<BatchNotes>,
    /// Requests by outcome and their latencies (`/metrics`, the dashboard).
    pub metrics: Arc<crate::metrics::RequestMetrics>,
}

/// A loaded model: its config and every version found.
pub struct LoadedModel {
    pub config: ModelConfig,
    /// At least one; the highest is the default.
    pub versions: BTreeMap<u64, Arc<LoadedVersion>>,
}

impl LoadedModel {
    pub fn latest(&self) -> Option<&Arc<LoadedVersion>> {
        self.versions.values().next_back()
    }
}

/// The model directories under `root` (names that are valid model names), sorted, at most
/// `MODELS_MAX`.
pub fn list_models(root: &Path) -> std::io::Result<Vec<String>> {
    let mut names: Vec<String> = std::fs::read_dir(root)?
        .filter_map(Result::ok)
        .filter(|entry| entry.path().join("config.json").is_file())
        .filter_map(|entry| entry.file_name().into_string().ok())
        .filter(|name| check_model_name(name).is_ok())
        .collect();
    names.sort();
    if names.len() > MODELS_MAX {
        tracing::warn!(
            count = names.len(),
            "more than {MODELS_MAX} models in {}; the rest are ignored",
            root.display()
        );
        names.truncate(MODELS_MAX);
    }
    Ok(names)
}

/// Reads `ROOT/{name}/config.json`.
pub fn read_config(root: &Path, name: &str) -> Result<ModelConfig, String> {
    check_model_name(name)?;
    let path = root.join(name).join("config.json");
    let file = std::fs::File::open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut bytes = Vec::new();
    file.take(CONFIG_FILE_BYTES_MAX + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if bytes.len() as u64 > CONFIG_FILE_BYTES_MAX {
        return Err(format!(
            "{}: larger than {CONFIG_FILE_BYTES_MAX} bytes",
            path.display()
        ));
    }
    ModelConfig::parse(&bytes, name).map_err(|e| format!("{}: {e}", path.display()))
}

/// The version directories of a model (positive integers holding `model.onnx`), with the
/// reason for each that lacks its file.
fn versions(model_dir: &Path) -> (Vec<u64>, Vec<String>) {
    let mut found = Vec::new();
    let mut missing = Vec::new();
    let Ok(entries) = std::fs::read_dir(model_dir) else {
        return (found, missing);
    };
    for entry in entries.filter_map(Result::ok) {
        let Some(version) = entry
            .file_name()
            .to_str()
            .and_then(|name| name.parse::<u64>().ok())
            .filter(|&version| version > 0)
        else {
            continue;
        };
        let file = entry.path().join("model.onnx");
        if file.is_file() {
            found.push(version);
        } else {
            missing.push(format!("model file {} is missing", file.display()));
        }
    }
    found.sort_unstable();
    (found, missing)
}

/// Loads every version of model `name` on the engine its config names (or `settings`'
/// override, which the loaded config then shows). Fails (with a reason a person can act on)
/// when the config is wrong, no version has its model file, or a model file does not load.
pub fn load_model(
    root: &Path,
    name: &str,
    settings: &EngineSettings,
) -> Result<LoadedModel, String> {
    let mut config = read_config(root, name)?;
    config.engine = settings.engine_for(config.engine);
    let model_dir = root.join(name);
    let (found, missing) = versions(&model_dir);
    if found.is_empty() {
        let reason = missing.into_iter().next().unwrap_or_else(|| {
            format!(
                "no version directory with a model.onnx in {}",
                model_dir.display()
            )
        });
        return Err(format!("{reason} (run `inference fetch-models`?)"));
    }
    let tokenizer = match &config.text {
        Some(text) => Some(Arc::new(
            TextTokenizer::load(&model_dir.join(&text.tokenizer), text.max_tokens)
                .map_err(|e| format!("{e} (run `inference fetch-models`?)"))?,
        )),
        None => None,
    };
    let mut versions = BTreeMap::new();
    for version in found {
        let file = model_dir.join(version.to_string()).join("model.onnx");
        let loaded = load_version(&config, version, &file, tokenizer.clone(), settings)?;
        versions.insert(version, Arc::new(loaded));
    }
    Ok(LoadedModel { config, versions })
}

/// Builds the engine (`config.engine`) of one version's file: a text model's engine takes
/// the token inputs and returns the hidden state; a tabular one serves the config's tensors
/// as they are.
pub fn build_engine(
    config: &ModelConfig,
    file: &Path,
    settings: &EngineSettings,
) -> Result<Arc<dyn Engine>, String> {
    let (inputs, outputs, first_free_dims) = match &config.text {
        Some(text) => {
            let inputs = text
                .onnx_inputs
                .iter()
                .map(|name| EngineInput {
                    name: name.clone(),
                    datatype: Datatype::Int64,
                    shape: vec![-1, -1],
                })
                .collect();
            let outputs = vec![EngineOutput {
                name: text.hidden_output.clone(),
                datatype: Datatype::Fp32,
            }];
            // tract's first plan: the shortest bucket, for every onnx input's sequence axis.
            let first = vec![text.length_buckets[0]; text.onnx_inputs.len()];
            (inputs, outputs, first)
        }
        None => {
            let inputs = config
                .inputs
                .iter()
                .map(|spec| EngineInput {
                    name: spec.name.clone(),
                    datatype: spec.datatype,
                    shape: spec.shape.clone(),
                })
                .collect();
            let outputs = config
                .outputs
                .iter()
                .map(|spec| EngineOutput {
                    name: spec.name.clone(),
                    datatype: spec.datatype,
                })
                .collect();
            (inputs, outputs, Vec::new())
        }
    };
    let spec = EngineSpec {
        kind: config.engine,
        file,
        inputs,
        outputs,
        first_free_dims,
        concurrent_runs: config.batching.instances,
    };
    crate::engine::load(spec, settings).map_err(|e| e.0)
}

/// The batch-function shape of a text model.
pub fn text_shape(config: &ModelConfig) -> Option<TextShape> {
    config.text.as_ref().map(|text| TextShape {
        onnx_inputs: text.onnx_inputs.clone(),
        buckets: text.length_buckets.clone(),
        dimensions: config.dimensions(),
    })
}

fn load_version(
    config: &ModelConfig,
    version: u64,
    file: &Path,
    tokenizer: Option<Arc<TextTokenizer>>,
    settings: &EngineSettings,
) -> Result<LoadedVersion, String> {
    let notes = Arc::new(BatchNotes::default());
    let started = std::time::Instant::now();
    let engine = build_engine(config, file, settings)?;
    let runner = match (text_shape(config), tokenizer) {
        (Some(shape), Some(tokenizer)) => {
            let batcher = start_text(config, version, shape, engine, notes.clone())
                .map_err(|e| format!("starting the batcher: {e}"))?;
            Runner::Text { tokenizer, batcher }
        }
        _ => {
            let batcher = start_tabular(config, version, engine, notes.clone())
                .map_err(|e| format!("starting the batcher: {e}"))?;
            Runner::Tabular(batcher)
        }
    };
    tracing::info!(
        model = %config.name,
        version,
        engine = config.engine.as_str(),
        load_ms = started.elapsed().as_millis() as u64,
        "model loaded"
    );
    Ok(LoadedVersion {
        version,
        runner,
        notes,
        metrics: Arc::default(),
    })
}
