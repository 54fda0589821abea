//! A model's `config.json` in the registry directory (`models/{name}/config.json`): what
//! it serves (inputs and outputs with name, datatype and shape; `-1` is a free dimension,
//! and the first is always the batch), its kind (tabular or text), its engine (`tract` or
//! `onnxruntime`, whether or not this build has the latter), and its batching settings. `ModelConfig::parse` reads and checks it against `limits`; it does
//! not open model files (that is `engine/`) nor scan directories (`service/registry.rs`).
//! Tests at the bottom.

use super::tensor::Datatype;
use crate::limits::{
    BATCH_SIZE_MAX, INSTANCES_PER_MODEL_MAX, LENGTH_BUCKETS_MAX, MODEL_NAME_BYTES_MAX,
    QUEUE_DELAY_US_MAX, QUEUE_ITEMS_MAX, TOKENS_PER_TEXT_MAX,
};
use serde::{Deserialize, Serialize};

/// One input or output as served.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TensorSpec {
    pub name: String,
    pub datatype: Datatype,
    /// `-1` for a free dimension; the first dimension is the batch and must be `-1`.
    pub shape: Vec<i64>,
}

impl TensorSpec {
    /// The fixed dimensions after the batch dimension, or `None` if one is free.
    pub fn row_shape(&self) -> Option<Vec<usize>> {
        self.shape
            .iter()
            .skip(1)
            .map(|&dim| usize::try_from(dim).ok())
            .collect()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    /// Rows of numbers in, rows of numbers out.
    Tabular,
    /// Texts in (BYTES), one L2-normalised sentence embedding per text out.
    Text,
}

/// Which engine runs a model. Every kind parses whatever the build: a model asking for an
/// engine this binary was built without fails to load with the reason (`engine::load`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EngineKind {
    /// tract-onnx, pure Rust: always built in.
    Tract,
    /// ONNX Runtime through the `ort` crate: only with the `ort` cargo feature.
    #[serde(alias = "ort")]
    Onnxruntime,
}

impl EngineKind {
    /// The name in `config.json` and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            EngineKind::Tract => "tract",
            EngineKind::Onnxruntime => "onnxruntime",
        }
    }

    /// The `platform` of the model metadata (Triton's names where there is one).
    pub fn platform(self) -> &'static str {
        match self {
            EngineKind::Tract => "tract_onnx",
            EngineKind::Onnxruntime => "onnxruntime_onnx",
        }
    }
}

impl std::str::FromStr for EngineKind {
    type Err = String;

    /// `tract`, `onnxruntime` or its short name `ort` (as in `config.json`).
    fn from_str(name: &str) -> Result<EngineKind, String> {
        match name {
            "tract" => Ok(EngineKind::Tract),
            "onnxruntime" | "ort" => Ok(EngineKind::Onnxruntime),
            other => Err(format!(
                "unknown engine {other:?}: tract or onnxruntime (ort)"
            )),
        }
    }
}

/// Batching settings (Triton's dynamic batcher; Clipper's AIMD when `adaptive`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchingConfig {
    /// Most items in one model call (1..=`BATCH_SIZE_MAX`).
    pub max_batch: usize,
    /// Longest an item waits for others, in microseconds.
    pub max_queue_delay_us: u64,
    /// Items waiting across groups before requests are refused with 503.
    #[serde(default = "default_queue_items")]
    pub queue_items_max: usize,
    /// Adapt the batch size to `latency_objective_us` (AIMD).
    #[serde(default)]
    pub adaptive: bool,
    /// A model call slower than this is a miss for the adaptive limit, in microseconds.
    pub latency_objective_us: u64,
    /// Model instances (threads), each running batches.
    #[serde(default = "default_instances")]
    pub instances: usize,
    /// Send a batch before the delay when every request in flight is already queued or
    /// running (kiln's `BatchConfig::early_dispatch`): a lone client is not made to wait.
    #[serde(default = "default_early_dispatch")]
    pub early_dispatch: bool,
}

fn default_early_dispatch() -> bool {
    true
}

fn default_queue_items() -> usize {
    1_024
}

fn default_instances() -> usize {
    1
}

/// What a text model needs beyond its ONNX file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TextConfig {
    /// The tokenizer file, relative to the model's directory.
    pub tokenizer: String,
    /// Tokens kept per text (special tokens included); longer texts are cut.
    pub max_tokens: usize,
    /// The ONNX inputs, in the model's order: each one of `input_ids`, `attention_mask`,
    /// `token_type_ids`.
    pub onnx_inputs: Vec<String>,
    /// The ONNX output holding the last hidden state `[batch, sequence, hidden]`.
    pub hidden_output: String,
    /// Padded-length buckets (ascending); texts are batched only with texts of their bucket.
    pub length_buckets: Vec<usize>,
}

/// A model's configuration, checked.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    pub name: String,
    pub kind: ModelKind,
    pub engine: EngineKind,
    pub inputs: Vec<TensorSpec>,
    pub outputs: Vec<TensorSpec>,
    pub batching: BatchingConfig,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<TextConfig>,
    /// How requests without a version are split between versions (`domain/bandit.rs`);
    /// without it they go to the latest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split: Option<super::bandit::SplitConfig>,
}

/// The ONNX input names a text model may have.
pub const TEXT_ONNX_INPUTS: [&str; 3] = ["input_ids", "attention_mask", "token_type_ids"];

impl ModelConfig {
    /// Parses `bytes` (the file's contents) and checks it; `dir_name` is the directory the
    /// file is in, which must be the model's name.
    pub fn parse(bytes: &[u8], dir_name: &str) -> Result<ModelConfig, String> {
        let config: ModelConfig =
            sonic_rs::from_slice(bytes).map_err(|error| format!("config.json: {error}"))?;
        config.check(dir_name)?;
        Ok(config)
    }

    fn check(&self, dir_name: &str) -> Result<(), String> {
        check_model_name(&self.name)?;
        if self.name != dir_name {
            return Err(format!(
                "config name {:?} differs from its directory {dir_name:?}",
                self.name
            ));
        }
        self.check_batching()?;
        if let Some(split) = &self.split {
            split.check()?;
        }
        if self.inputs.is_empty() || self.outputs.is_empty() {
            return Err("a model needs at least one input and one output".to_owned());
        }
        for spec in self.inputs.iter().chain(&self.outputs) {
            check_spec(spec)?;
        }
        match self.kind {
            ModelKind::Tabular => self.check_tabular(),
            ModelKind::Text => self.check_text(),
        }
    }

    fn check_batching(&self) -> Result<(), String> {
        let batching = &self.batching;
        if !(1..=BATCH_SIZE_MAX).contains(&batching.max_batch) {
            return Err(format!(
                "batching.max_batch must be in 1..={BATCH_SIZE_MAX}"
            ));
        }
        if !(1..=QUEUE_ITEMS_MAX).contains(&batching.queue_items_max) {
            return Err(format!(
                "batching.queue_items_max must be in 1..={QUEUE_ITEMS_MAX}"
            ));
        }
        if !(1..=INSTANCES_PER_MODEL_MAX).contains(&batching.instances) {
            return Err(format!(
                "batching.instances must be in 1..={INSTANCES_PER_MODEL_MAX}"
            ));
        }
        if batching.max_queue_delay_us > QUEUE_DELAY_US_MAX {
            return Err(format!(
                "batching.max_queue_delay_us must be at most {QUEUE_DELAY_US_MAX}"
            ));
        }
        if batching.latency_objective_us == 0 {
            return Err("batching.latency_objective_us must be positive".to_owned());
        }
        Ok(())
    }

    fn check_tabular(&self) -> Result<(), String> {
        if self.text.is_some() {
            return Err("a tabular model has no `text` section".to_owned());
        }
        for spec in self.inputs.iter().chain(&self.outputs) {
            if spec.datatype == super::Datatype::Bytes {
                return Err(format!(
                    "tabular tensor {}: BYTES is for text models",
                    spec.name
                ));
            }
            if spec.row_shape().is_none() {
                return Err(format!(
                    "tabular tensor {}: only the first (batch) dimension may be -1",
                    spec.name
                ));
            }
        }
        Ok(())
    }

    fn check_text(&self) -> Result<(), String> {
        let text = self
            .text
            .as_ref()
            .ok_or("a text model needs a `text` section")?;
        let [input] = self.inputs.as_slice() else {
            return Err("a text model has exactly one input (BYTES, shape [-1])".to_owned());
        };
        if input.datatype != super::Datatype::Bytes || input.shape != [-1] {
            return Err("a text model's input is BYTES with shape [-1]".to_owned());
        }
        let [output] = self.outputs.as_slice() else {
            return Err("a text model has exactly one output (FP32, [-1, dimensions])".to_owned());
        };
        if output.datatype != super::Datatype::Fp32
            || output.shape.len() != 2
            || output.shape[1] < 1
        {
            return Err("a text model's output is FP32 with shape [-1, dimensions]".to_owned());
        }
        check_text_config(text)
    }

    /// The embedding width of a text model (its output's second dimension).
    pub fn dimensions(&self) -> usize {
        self.outputs
            .first()
            .and_then(|spec| spec.shape.get(1))
            .and_then(|&dim| usize::try_from(dim).ok())
            .unwrap_or(0)
    }
}

fn check_text_config(text: &TextConfig) -> Result<(), String> {
    if !(2..=TOKENS_PER_TEXT_MAX).contains(&text.max_tokens) {
        return Err(format!(
            "text.max_tokens must be in 2..={TOKENS_PER_TEXT_MAX}"
        ));
    }
    if !text.onnx_inputs.iter().any(|name| name == "input_ids") {
        return Err("text.onnx_inputs must include input_ids".to_owned());
    }
    if let Some(other) = text
        .onnx_inputs
        .iter()
        .find(|name| !TEXT_ONNX_INPUTS.contains(&name.as_str()))
    {
        return Err(format!("text.onnx_inputs: unknown input {other:?}"));
    }
    let buckets = &text.length_buckets;
    if buckets.is_empty() || buckets.windows(2).any(|pair| pair[0] >= pair[1]) {
        return Err("text.length_buckets must be ascending and not empty".to_owned());
    }
    if buckets.len() > LENGTH_BUCKETS_MAX {
        return Err(format!(
            "text.length_buckets has at most {LENGTH_BUCKETS_MAX} buckets"
        ));
    }
    if buckets.last() != Some(&text.max_tokens) {
        return Err("text.length_buckets must end at text.max_tokens".to_owned());
    }
    Ok(())
}

fn check_spec(spec: &TensorSpec) -> Result<(), String> {
    if spec.name.is_empty() || spec.name.len() > MODEL_NAME_BYTES_MAX {
        return Err(format!(
            "tensor names are 1 to {MODEL_NAME_BYTES_MAX} bytes"
        ));
    }
    if spec.shape.first() != Some(&-1) {
        return Err(format!(
            "tensor {}: the first dimension is the batch and must be -1",
            spec.name
        ));
    }
    if spec.shape.iter().skip(1).any(|&dim| dim == 0 || dim < -1) {
        return Err(format!(
            "tensor {}: dimensions are positive or -1",
            spec.name
        ));
    }
    Ok(())
}

/// Model names are directory names: 1 to `MODEL_NAME_BYTES_MAX` of `[A-Za-z0-9_.-]`, not
/// starting with a dot.
pub fn check_model_name(name: &str) -> Result<(), String> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.');
    if name.is_empty()
        || name.len() > MODEL_NAME_BYTES_MAX
        || name.starts_with('.')
        || !name.chars().all(allowed)
    {
        return Err(format!(
            "model names are 1 to {MODEL_NAME_BYTES_MAX} of A-Z a-z 0-9 _ - . (not starting with .)"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const RISK: &str = r#"{
        "name": "risk", "kind": "tabular", "engine": "tract",
        "inputs": [{"name": "features", "datatype": "FP32", "shape": [-1, 8]}],
        "outputs": [{"name": "probabilities", "datatype": "FP32", "shape": [-1, 2]}],
        "batching": {"max_batch": 32, "max_queue_delay_us": 500, "adaptive": true,
                     "latency_objective_us": 5000}
    }"#;

    fn risk_with(from: &str, to: &str) -> Result<ModelConfig, String> {
        ModelConfig::parse(RISK.replace(from, to).as_bytes(), "risk")
    }

    #[test]
    fn a_tabular_config_parses_with_defaults() {
        let config = ModelConfig::parse(RISK.as_bytes(), "risk").unwrap();
        assert_eq!(config.batching.queue_items_max, 1_024);
        assert_eq!(config.batching.instances, 1);
        assert_eq!(config.inputs[0].row_shape(), Some(vec![8]));
    }

    #[test]
    fn batching_limits_are_enforced() {
        assert!(risk_with("\"max_batch\": 32", "\"max_batch\": 257").is_err());
        assert!(risk_with("\"max_batch\": 32", "\"max_batch\": 256").is_ok());
        assert!(risk_with("\"max_batch\": 32", "\"max_batch\": 0").is_err());
        let delay = risk_with("500", "1000001").unwrap_err();
        assert!(delay.contains("max_queue_delay_us"), "{delay}");
        let queue = risk_with("\"adaptive\"", "\"queue_items_max\": 16385, \"adaptive\"");
        assert!(queue.unwrap_err().contains("queue_items_max"));
        let instances = risk_with("\"adaptive\"", "\"instances\": 9, \"adaptive\"");
        assert!(instances.unwrap_err().contains("instances"));
    }

    #[test]
    fn shapes_and_names_are_checked() {
        let batch = risk_with("[-1, 8]", "[4, 8]").unwrap_err();
        assert!(batch.contains("first dimension"), "{batch}");
        let free = risk_with("[-1, 8]", "[-1, -1]").unwrap_err();
        assert!(free.contains("only the first"), "{free}");
        assert!(risk_with("[-1, 8]", "[-1, 0]").is_err());
        let dir = ModelConfig::parse(RISK.as_bytes(), "other").unwrap_err();
        assert!(dir.contains("differs"), "{dir}");
        assert!(risk_with("\"engine\": \"tract\"", "\"engine\": \"tflite\"").is_err());
        assert!(
            risk_with(
                "\"FP32\", \"shape\": [-1, 8]",
                "\"FP16\", \"shape\": [-1, 8]"
            )
            .is_err()
        );
        assert!(risk_with("\"kind\"", "\"surprise\": 1, \"kind\"").is_err());
    }

    #[test]
    fn both_engines_parse_whatever_the_build_and_others_are_refused() {
        let ort = risk_with("\"engine\": \"tract\"", "\"engine\": \"onnxruntime\"");
        assert_eq!(ort.unwrap().engine, EngineKind::Onnxruntime);
        let short = risk_with("\"engine\": \"tract\"", "\"engine\": \"ort\"");
        assert_eq!(short.unwrap().engine, EngineKind::Onnxruntime);
        let error = risk_with("\"engine\": \"tract\"", "\"engine\": \"tflite\"").unwrap_err();
        assert!(error.contains("tflite"), "{error}");
        for kind in [EngineKind::Tract, EngineKind::Onnxruntime] {
            assert_eq!(kind.as_str().parse::<EngineKind>(), Ok(kind));
        }
        assert_eq!("ort".parse::<EngineKind>(), Ok(EngineKind::Onnxruntime));
        assert!(
            "tflite"
                .parse::<EngineKind>()
                .unwrap_err()
                .contains("tract or onnxruntime")
        );
    }

    #[test]
    fn model_names_are_safe_directory_names() {
        assert!(check_model_name("minilm-L6_v2.int8").is_ok());
        for bad in ["", ".hidden", "a/b", "..", "naïve", &"x".repeat(65)] {
            assert!(check_model_name(bad).is_err(), "{bad:?}");
        }
        assert!(check_model_name(&"x".repeat(64)).is_ok());
    }

    #[test]
    fn text_configs_are_checked() {
        let text = r#"{
            "name": "t", "kind": "text", "engine": "tract",
            "inputs": [{"name": "text", "datatype": "BYTES", "shape": [-1]}],
            "outputs": [{"name": "embedding", "datatype": "FP32", "shape": [-1, 384]}],
            "batching": {"max_batch": 16, "max_queue_delay_us": 1000, "latency_objective_us": 50000},
            "text": {"tokenizer": "tokenizer.json", "max_tokens": 128,
                     "onnx_inputs": ["input_ids", "attention_mask"],
                     "hidden_output": "last_hidden_state", "length_buckets": [16, 64, 128]}
        }"#;
        let config = ModelConfig::parse(text.as_bytes(), "t").unwrap();
        assert_eq!(config.dimensions(), 384);
        let unordered = text.replace("[16, 64, 128]", "[64, 16, 128]");
        assert!(ModelConfig::parse(unordered.as_bytes(), "t").is_err());
        let short = text.replace("[16, 64, 128]", "[16, 64]");
        assert!(ModelConfig::parse(short.as_bytes(), "t").is_err());
        let unknown = text.replace("\"attention_mask\"]", "\"pixel_values\"]");
        assert!(ModelConfig::parse(unknown.as_bytes(), "t").is_err());
        let many = text.replace("[16, 64, 128]", "[1, 2, 3, 4, 5, 6, 7, 8, 128]");
        let error = ModelConfig::parse(many.as_bytes(), "t").unwrap_err();
        assert!(error.contains("at most 8 buckets"), "{error}");
        let eight = text.replace("[16, 64, 128]", "[1, 2, 3, 4, 5, 6, 7, 128]");
        assert!(ModelConfig::parse(eight.as_bytes(), "t").is_ok());
        let too_long = text.replace("128", "513");
        assert!(ModelConfig::parse(too_long.as_bytes(), "t").is_err());
    }
}
