//! Tests of the service: length-bucket grouping of text batches (with a recording engine,
//! so it runs without fetched files), the tabular path through a real batcher with the
//! committed risk model, and MiniLM's embeddings against onnxruntime's (skipped, with the
//! reason printed, when `fetch-models` has not run).

use super::runner::{BatchNotes, TextShape, run_texts, start_text};
use super::*;
use crate::domain::text::bucket_of;
use crate::engine::{Engine, EngineError};
use std::path::PathBuf;
use std::sync::Mutex;

fn models_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models")
}

/// An engine that records the sequence lengths of every batch and answers a hidden state
/// whose every vector is `[token id, 1, 0, ...]`.
struct Recording {
    width: usize,
    batches: Mutex<Vec<Vec<usize>>>,
}

impl Engine for Recording {
    fn run(&self, inputs: Vec<Tensor>) -> Result<Vec<Tensor>, EngineError> {
        let ids = &inputs[0];
        let mask = &inputs[1];
        let (rows, columns) = (ids.shape[0], ids.shape[1]);
        let (Data::I64(ids), Data::I64(mask)) = (&ids.data, &mask.data) else {
            return Err(EngineError("INT64 expected".to_owned()));
        };
        let lengths = (0..rows)
            .map(|r| mask[r * columns..(r + 1) * columns].iter().sum::<i64>() as usize)
            .collect();
        self.batches.lock().unwrap().push(lengths);
        let mut hidden = vec![0f32; rows * columns * self.width];
        for (position, &id) in ids.iter().enumerate() {
            hidden[position * self.width] = id as f32;
            hidden[position * self.width + 1] = 1.0;
        }
        let shape = vec![rows, columns, self.width];
        Ok(vec![
            Tensor::new("hidden", shape, Data::F32(hidden)).map_err(EngineError)?,
        ])
    }
}

fn text_config() -> ModelConfig {
    let json = r#"{
        "name": "t", "kind": "text", "engine": "tract",
        "inputs": [{"name": "text", "datatype": "BYTES", "shape": [-1]}],
        "outputs": [{"name": "embedding", "datatype": "FP32", "shape": [-1, 4]}],
        "batching": {"max_batch": 64, "max_queue_delay_us": 200000, "latency_objective_us": 50000},
        "text": {"tokenizer": "tokenizer.json", "max_tokens": 32,
                 "onnx_inputs": ["input_ids", "attention_mask", "token_type_ids"],
                 "hidden_output": "h", "length_buckets": [4, 8, 32]}
    }"#;
    ModelConfig::parse(json.as_bytes(), "t").unwrap()
}

#[test]
fn texts_are_batched_only_with_texts_of_their_length_bucket() {
    let engine = Arc::new(Recording {
        width: 4,
        batches: Mutex::new(Vec::new()),
    });
    let notes = Arc::new(BatchNotes::default());
    let shape = TextShape {
        onnx_inputs: vec![
            "input_ids".into(),
            "attention_mask".into(),
            "token_type_ids".into(),
        ],
        buckets: vec![4, 8, 32],
        dimensions: 4,
    };
    let batcher = start_text(
        &text_config(),
        1,
        shape.clone(),
        engine.clone(),
        notes.clone(),
    )
    .unwrap();
    // Twelve texts of lengths 2..=13 queued at once (the 200 ms delay lets each group fill).
    let submissions: Vec<_> = (2u32..14)
        .map(|length| {
            let ids: Vec<u32> = (1..=length).collect();
            let bucket = bucket_of(ids.len(), &shape.buckets) as u64;
            (length, batcher.submit_grouped(bucket, ids))
        })
        .collect();
    for (length, submission) in submissions {
        let embedding = submission.wait().unwrap();
        // Mean of [id, 1, 0, 0] over ids 1..=length, normalised: padding did not count.
        let mean = (length as f32 + 1.0) / 2.0;
        let norm = (mean * mean + 1.0).sqrt();
        assert!((embedding[0] - mean / norm).abs() < 1e-5, "length {length}");
    }
    let batches = engine.batches.lock().unwrap().clone();
    assert_eq!(batches.len(), 3, "one batch per bucket: {batches:?}");
    for lengths in &batches {
        let buckets: Vec<usize> = lengths
            .iter()
            .map(|&l| bucket_of(l, &shape.buckets))
            .collect();
        assert!(
            buckets.windows(2).all(|w| w[0] == w[1]),
            "mixed buckets: {lengths:?}"
        );
    }
    let noted: Vec<(usize, usize)> = notes
        .snapshot()
        .iter()
        .map(|n| (n.bucket, n.size))
        .collect();
    let mut sorted = noted.clone();
    sorted.sort();
    assert_eq!(sorted, vec![(4, 3), (8, 4), (32, 5)], "{noted:?}");
}

#[test]
fn a_failing_engine_answers_every_item_with_its_error() {
    struct Failing;
    impl Engine for Failing {
        fn run(&self, _: Vec<Tensor>) -> Result<Vec<Tensor>, EngineError> {
            Err(EngineError("boom".to_owned()))
        }
    }
    let shape = TextShape {
        onnx_inputs: vec!["input_ids".into()],
        buckets: vec![8],
        dimensions: 4,
    };
    assert_eq!(
        run_texts(&Failing, &shape, &[vec![1, 2]]),
        Err(EngineError("boom".to_owned()))
    );
}

#[test]
fn the_registry_loads_risk_and_reports_missing_files() {
    let root = std::env::temp_dir().join(format!("inference-registry-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(root.join("risk/1")).unwrap();
    std::fs::copy(
        models_dir().join("risk/config.json"),
        root.join("risk/config.json"),
    )
    .unwrap();
    std::fs::copy(
        models_dir().join("risk/1/model.onnx"),
        root.join("risk/1/model.onnx"),
    )
    .unwrap();
    std::fs::create_dir_all(root.join("minilm/1")).unwrap();
    std::fs::copy(
        models_dir().join("minilm/config.json"),
        root.join("minilm/config.json"),
    )
    .unwrap();

    let service = Inference::open(&root).unwrap();
    let index = service.index();
    let states: Vec<(&str, &str)> = index.iter().map(|e| (e.name.as_str(), e.state)).collect();
    assert_eq!(states, vec![("minilm", "UNAVAILABLE"), ("risk", "READY")]);
    assert!(
        index[0].reason.contains("model.onnx is missing"),
        "{}",
        index[0].reason
    );
    assert!(matches!(
        service.model("minilm"),
        Err(ServiceError::NotReady { .. })
    ));
    assert!(matches!(
        service.model("nope"),
        Err(ServiceError::UnknownModel(_))
    ));

    service.unload("risk").unwrap();
    assert!(matches!(
        service.model("risk"),
        Err(ServiceError::UnknownModel(_))
    ));
    assert_eq!(service.index()[1].state, "UNLOADED");
    service.load("risk").unwrap();
    assert!(service.model("risk").is_ok());
    assert_eq!(
        service.load("nope"),
        Err(ServiceError::UnknownModel("nope".into()))
    );
    let _ = std::fs::remove_dir_all(&root);
}

/// Tolerance of tract's text embeddings against onnxruntime's: the largest absolute
/// difference of any component of the unit vectors (384 components). The fixtures are
/// rounded to 6 decimals (5e-7); the largest difference measured here was 6.7e-7.
const TEXT_TOLERANCE: f32 = 1e-5;

/// A fetched text model's config and file, or `None` (the reason printed) when
/// `fetch-models` has not run.
fn fetched_text_model(name: &str) -> Option<(ModelConfig, PathBuf)> {
    let file = models_dir().join(name).join("1/model.onnx");
    let tokenizer = models_dir().join(name).join("tokenizer.json");
    if let Some(missing) = [&file, &tokenizer].into_iter().find(|path| !path.exists()) {
        eprintln!(
            "skipped: {} is missing (run `inference fetch-models`)",
            missing.display()
        );
        return None;
    }
    Some((registry::read_config(&models_dir(), name).unwrap(), file))
}

/// Runs the sentences of `tests/fixtures/{name}_reference.json` through the tokenizer and
/// the batch function (all in one batch, padded to their bucket: padding must change
/// nothing) and compares them with onnxruntime's.
fn compare_with_onnxruntime(name: &str, config: &ModelConfig, engine: &dyn Engine) {
    use sonic_rs::{JsonContainerTrait, JsonValueTrait};
    let text = config.text.clone().unwrap();
    let tokenizer = crate::engine::tokenizer::TextTokenizer::load(
        &models_dir().join(name).join(&text.tokenizer),
        text.max_tokens,
    )
    .unwrap();
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(format!("tests/fixtures/{name}_reference.json"));
    let fixture: sonic_rs::Value = sonic_rs::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let sentences = fixture["sentences"].as_array().unwrap();
    let mut all_ids = Vec::new();
    let mut expected = Vec::new();
    for sentence in sentences.iter() {
        let words = sentence["text"].as_str().unwrap();
        let ids = tokenizer.encode(words).unwrap();
        let fixture_ids: Vec<u32> = sentence["ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as u32)
            .collect();
        assert_eq!(ids, fixture_ids, "tokens of {words:?}");
        all_ids.push(ids);
        let embedding: Vec<f32> = sentence["embedding"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap() as f32)
            .collect();
        expected.push(embedding);
    }
    let shape = registry::text_shape(config).unwrap();
    let got = run_texts(engine, &shape, &all_ids).unwrap();
    for (index, (g, e)) in got.iter().zip(&expected).enumerate() {
        let worst = g
            .iter()
            .zip(e)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        eprintln!("{name} sentence {index}: largest difference from onnxruntime {worst:e}");
        assert!(worst <= TEXT_TOLERANCE, "{name} sentence {index}: {worst}");
    }
}

#[test]
fn minilm_embeddings_match_onnxruntime_and_its_int8_weights_are_folded_at_load() {
    let Some((config, file)) = fetched_text_model("minilm") else {
        return;
    };
    let text = config.text.clone().unwrap();
    let inputs = text
        .onnx_inputs
        .iter()
        .map(|name| crate::engine::EngineInput {
            name: name.clone(),
            datatype: Datatype::Int64,
            shape: vec![-1, -1],
        })
        .collect();
    let outputs = vec![crate::engine::EngineOutput {
        name: text.hidden_output.clone(),
        datatype: Datatype::Fp32,
    }];
    let first = vec![16; text.onnx_inputs.len()];
    let engine = crate::engine::tract::TractEngine::load(&file, inputs, outputs, &first).unwrap();
    // Every int8 weight is folded to fp32 at load, the word-embedding table included.
    let int8 = engine.constants_of(tract_onnx::prelude::DatumType::I8);
    assert_eq!(int8, Vec::new(), "int8 constants left");
    compare_with_onnxruntime("minilm", &config, &engine);
}

#[test]
fn paraphrase_minilm_embeddings_match_onnxruntime() {
    let Some((config, file)) = fetched_text_model("paraphrase-minilm") else {
        return;
    };
    let engine = registry::build_engine(&config, &file, &Default::default()).unwrap();
    compare_with_onnxruntime("paraphrase-minilm", &config, engine.as_ref());
}

#[test]
fn recent_batches_are_bounded() {
    use crate::limits::RECENT_BATCHES_MAX;
    let engine = Arc::new(Recording {
        width: 4,
        batches: Mutex::new(Vec::new()),
    });
    let notes = Arc::new(BatchNotes::default());
    let shape = TextShape {
        onnx_inputs: vec!["input_ids".into(), "attention_mask".into()],
        buckets: vec![4, 8, 32],
        dimensions: 4,
    };
    let mut config = text_config();
    config.batching.max_batch = 1;
    config.batching.max_queue_delay_us = 0;
    let batcher = start_text(&config, 1, shape, engine, notes.clone()).unwrap();
    for length in 1..=(RECENT_BATCHES_MAX as u32 + 5) {
        let ids = vec![length % 3 + 1];
        batcher.submit(ids).wait().unwrap();
    }
    let kept = notes.snapshot();
    assert_eq!(kept.len(), RECENT_BATCHES_MAX);
    assert!(kept.iter().all(|note| note.size == 1));
}

#[test]
fn text_count_and_size_limits() {
    use crate::limits::{TEXT_BYTES_MAX, TEXTS_PER_REQUEST_MAX};
    let at_size = vec![b'x'; TEXT_BYTES_MAX];
    let over_size = vec![b'x'; TEXT_BYTES_MAX + 1];
    assert!(check_texts(&[at_size.as_slice()]).is_ok());
    let error = check_texts(&[b"ok".as_slice(), over_size.as_slice()]).unwrap_err();
    assert_eq!(
        error,
        ServiceError::BadInput("text 1 is longer than 8192 bytes".into())
    );
    let many = vec![b"a".as_slice(); TEXTS_PER_REQUEST_MAX + 1];
    assert!(check_texts(&many).is_err());
    assert!(check_texts(&many[..TEXTS_PER_REQUEST_MAX]).is_ok());
    assert!(check_texts(&[]).is_err());
}

#[test]
fn registry_limits_on_configs_and_model_count() {
    use crate::limits::{CONFIG_FILE_BYTES_MAX, MODELS_MAX};
    let root =
        std::env::temp_dir().join(format!("inference-registry-limits-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    for index in 0..=MODELS_MAX {
        let dir = root.join(format!("m{index:03}"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("config.json"), "{}").unwrap();
    }
    // Not a model: no config.json, or a name that is not a model name.
    std::fs::create_dir_all(root.join("no-config")).unwrap();
    std::fs::create_dir_all(root.join(".hidden")).unwrap();
    std::fs::write(root.join(".hidden/config.json"), "{}").unwrap();
    let names = registry::list_models(&root).unwrap();
    assert_eq!(names.len(), MODELS_MAX);
    assert_eq!(names.first().map(String::as_str), Some("m000"));

    let padded = format!("{{{}}}", " ".repeat(CONFIG_FILE_BYTES_MAX as usize - 1));
    std::fs::write(root.join("m000/config.json"), padded).unwrap();
    let error = registry::read_config(&root, "m000").unwrap_err();
    assert!(error.contains("larger than 65536 bytes"), "{error}");
    let _ = std::fs::remove_dir_all(&root);
}
