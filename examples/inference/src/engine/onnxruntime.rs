//! The ONNX Runtime engine, built only with the `ort` cargo feature. It uses ONNX Runtime's
//! C library through the `ort` crate with `load-dynamic`: the `libonnxruntime.so.*` that the
//! `onnxruntime` PyPI wheel ships (in `site-packages/onnxruntime/capi/`), named by
//! `--ort-library` or else `ORT_DYLIB_PATH`, is opened at run time when the first engine is
//! built, once per process (`environment`). Before `ort` sees the path, this file checks
//! that it is set and is a file. A missing, wrong or too old library (the C API asked for is
//! 17, so ONNX Runtime 1.17 or newer) becomes an `EngineError` that names the path. It never
//! panics: the panics `ort`'s loader may raise are caught and reported the same way.
//!
//! Each engine keeps one session per model instance (`EngineSpec::concurrent_runs`), because
//! ONNX Runtime's `Run` is not safe on one session from two threads. The sessions of one
//! file share their prepacked weights. A session runs with every graph optimisation
//! (`ORT_ENABLE_ALL`, as the Python peers do), sequential execution, one inter-op thread and
//! `--ort-threads` intra-op threads. The default is 1: the model then runs on the batcher's
//! instance thread, as tract does.
//!
//! Inputs go in as views of the batch's buffers, whatever their shape (there are no
//! per-length plans, unlike tract). Only the configured outputs are fetched, and each is
//! converted to its configured datatype. Not here: batching, tokenizing and pooling
//! (`service/runner.rs`); execution providers other than the CPU. Tests at the bottom: the
//! risk fixture and tract's outputs on the same rows, the text models against their
//! fixtures and tract (when fetched), and a missing or wrong library. They need
//! `ORT_DYLIB_PATH`; without it they print why they skip, and under `CI` they fail.

use super::{Engine, EngineError, EngineInput, EngineOutput, EngineSettings, EngineSpec};
use crate::domain::{Data, Datatype, Tensor};
use ort::environment::Environment;
use ort::session::builder::{GraphOptimizationLevel, PrepackedWeights};
use ort::session::{HasSelectedOutputs, OutputSelector, RunOptions, Session, SessionInputValue};
use ort::value::{DynValue, TensorElementType, TensorRef, ValueType};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The environment variable naming the library when `--ort-library` is not given (the
/// `ort` crate's own name for it).
pub const LIBRARY_VARIABLE: &str = "ORT_DYLIB_PATH";

/// Why no library was tried.
const NO_LIBRARY: &str = "engine \"onnxruntime\": no ONNX Runtime library given: pass \
     --ort-library PATH or set ORT_DYLIB_PATH to the libonnxruntime.so.* of the onnxruntime \
     wheel (site-packages/onnxruntime/capi/)";

/// The library this process loaded, and the environment every session lives in.
struct Runtime {
    library: PathBuf,
    environment: Environment,
}

/// Set once a library loaded; a failed load leaves it empty, so a later call may retry.
static RUNTIME: Mutex<Option<Runtime>> = Mutex::new(None);

/// The library `settings` name (`--ort-library`, else `ORT_DYLIB_PATH`), made absolute;
/// an error if neither is set or the path is not a file.
pub fn library_path(settings: &EngineSettings) -> Result<PathBuf, EngineError> {
    let (path, source) = match &settings.ort_library {
        Some(path) => (path.clone(), "--ort-library"),
        None => match std::env::var_os(LIBRARY_VARIABLE) {
            Some(value) if !value.is_empty() => (PathBuf::from(value), LIBRARY_VARIABLE),
            _ => return Err(EngineError(NO_LIBRARY.to_owned())),
        },
    };
    if !path.is_file() {
        return Err(EngineError(format!(
            "engine \"onnxruntime\": the ONNX Runtime library {} (from {source}) is not a file",
            path.display()
        )));
    }
    std::fs::canonicalize(&path).map_err(|e| EngineError(format!("{}: {e}", path.display())))
}

/// The process's ONNX Runtime environment, loading the library on the first call. One
/// library per process: asking for another afterwards is an error.
fn environment(settings: &EngineSettings) -> Result<Environment, EngineError> {
    let path = library_path(settings)?;
    let mut runtime = RUNTIME.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(loaded) = runtime.as_ref() {
        if loaded.library != path {
            return Err(EngineError(format!(
                "engine \"onnxruntime\": this process already loaded {}; it cannot load {} too",
                loaded.library.display(),
                path.display()
            )));
        }
        return Ok(loaded.environment.clone());
    }
    let environment = open_library(&path)?;
    tracing::info!(library = %path.display(), "ONNX Runtime loaded");
    *runtime = Some(Runtime {
        library: path,
        environment: environment.clone(),
    });
    Ok(environment)
}

/// Opens the library and builds the environment. `ort` reports a file that does not open,
/// lacks `OrtGetApiBase` or is older than the C API asked for as errors; a panic inside it
/// (its loader asserts on some of what a foreign library returns) is caught here.
fn open_library(path: &Path) -> Result<Environment, EngineError> {
    let attempt = std::panic::catch_unwind(|| -> Result<Environment, String> {
        let builder = ort::init_from(path).map_err(|e| load_error_text(&e))?;
        builder
            .with_name("kiln-inference")
            .with_telemetry(false)
            .build()
            .map_err(|e| e.to_string())
    });
    let reason = match attempt {
        Ok(Ok(environment)) => return Ok(environment),
        Ok(Err(reason)) => reason,
        Err(panic) => panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_else(|| "ort panicked".to_owned()),
    };
    Err(EngineError(format!(
        "engine \"onnxruntime\": cannot load ONNX Runtime from {}: {reason}",
        path.display()
    )))
}

/// `error` with the system's reason when `dlopen` failed (ort's message stops at
/// "dlopen failed"; the reason is the libloading error's source).
fn load_error_text(error: &ort::LoadDynamicError) -> String {
    if let ort::LoadDynamicError::Dlopen { error: dlopen, .. } = error
        && let Some(reason) = std::error::Error::source(dlopen)
    {
        return format!("{error}: {reason}");
    }
    error.to_string()
}

/// One session and the run options that select the configured outputs.
struct Slot {
    session: Session,
    options: RunOptions<HasSelectedOutputs>,
}

/// A model file loaded into ONNX Runtime sessions.
pub struct OrtEngine {
    /// One per thread that may run the engine at once; at least one.
    slots: Vec<Mutex<Slot>>,
    inputs: Vec<EngineInput>,
    outputs: Vec<EngineOutput>,
}

impl std::fmt::Debug for OrtEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrtEngine")
            .field("sessions", &self.slots.len())
            .field("inputs", &self.inputs)
            .field("outputs", &self.outputs)
            .finish()
    }
}

impl OrtEngine {
    /// Loads `spec.file` into `spec.concurrent_runs` sessions (at least one), loading the
    /// library first if this is the first engine. Checks that the config's inputs are
    /// exactly the model's and that its outputs exist.
    pub fn load(spec: EngineSpec<'_>, settings: &EngineSettings) -> Result<OrtEngine, EngineError> {
        let environment = environment(settings)?;
        let context = format!("loading {} on onnxruntime", spec.file.display());
        let fail = |reason: String| EngineError(format!("{context}: {reason}"));
        let weights = PrepackedWeights::new();
        let count = spec.concurrent_runs.max(1);
        let mut slots = Vec::with_capacity(count);
        for _ in 0..count {
            let session =
                open_session(&environment, spec.file, settings, &weights).map_err(fail)?;
            check_names(&session, &spec.inputs, &spec.outputs).map_err(fail)?;
            let selector = spec
                .outputs
                .iter()
                .fold(OutputSelector::no_default(), |selector, output| {
                    selector.with(output.name.as_str())
                });
            let options = RunOptions::new()
                .map_err(|e| fail(e.to_string()))?
                .with_outputs(selector);
            slots.push(Mutex::new(Slot { session, options }));
        }
        Ok(OrtEngine {
            slots,
            inputs: spec.inputs,
            outputs: spec.outputs,
        })
    }

    /// A free session, or (when every one is busy, which the batcher's one-call-per-instance
    /// rule should prevent) the first, waited for.
    fn slot(&self) -> std::sync::MutexGuard<'_, Slot> {
        for slot in &self.slots {
            if let Ok(guard) = slot.try_lock() {
                return guard;
            }
        }
        self.slots[0].lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn open_session(
    environment: &Environment,
    file: &Path,
    settings: &EngineSettings,
    weights: &PrepackedWeights,
) -> Result<Session, String> {
    let text = |e: ort::Error<_>| e.to_string();
    Session::builder(environment)
        .map_err(|e| e.to_string())?
        .with_optimization_level(GraphOptimizationLevel::All)
        .map_err(text)?
        .with_parallel_execution(false)
        .map_err(text)?
        .with_inter_threads(1)
        .map_err(text)?
        .with_intra_threads(settings.ort_intra_threads)
        .map_err(text)?
        .with_prepacked_weights(weights)
        .map_err(text)?
        .commit_from_file(file)
        .map_err(|e| e.to_string())
}

/// The config feeds every input of the model, by name, and every output it asks for exists.
fn check_names(
    session: &Session,
    inputs: &[EngineInput],
    outputs: &[EngineOutput],
) -> Result<(), String> {
    let model_inputs: Vec<&str> = session.inputs().iter().map(|i| i.name()).collect();
    let model_outputs: Vec<&str> = session.outputs().iter().map(|o| o.name()).collect();
    if let Some(missing) = inputs
        .iter()
        .find(|i| !model_inputs.contains(&i.name.as_str()))
    {
        return Err(format!(
            "the model has no input {:?} (it has {model_inputs:?})",
            missing.name
        ));
    }
    if let Some(unfed) = model_inputs
        .iter()
        .find(|name| !inputs.iter().any(|i| i.name == **name))
    {
        return Err(format!("the model's input {unfed:?} is not in the config"));
    }
    if let Some(missing) = outputs
        .iter()
        .find(|o| !model_outputs.contains(&o.name.as_str()))
    {
        return Err(format!(
            "the model has no output {:?} (it has {model_outputs:?})",
            missing.name
        ));
    }
    Ok(())
}

/// A view of `tensor`'s buffer for ONNX Runtime (no copy).
fn input_value(tensor: &Tensor) -> Result<SessionInputValue<'_>, String> {
    let shape = tensor.shape.clone();
    let text = |e: ort::Error| format!("input {}: {e}", tensor.name);
    Ok(match &tensor.data {
        Data::F32(values) => TensorRef::from_array_view((shape, values.as_slice()))
            .map_err(text)?
            .into(),
        Data::F64(values) => TensorRef::from_array_view((shape, values.as_slice()))
            .map_err(text)?
            .into(),
        Data::I32(values) => TensorRef::from_array_view((shape, values.as_slice()))
            .map_err(text)?
            .into(),
        Data::I64(values) => TensorRef::from_array_view((shape, values.as_slice()))
            .map_err(text)?
            .into(),
        Data::Bytes(_) => return Err("BYTES tensors do not go into a model".to_owned()),
    })
}

/// An output value as a tensor of `output.datatype`: copied when the model's element type
/// is that datatype, converted through f64 otherwise.
fn from_ort(value: &DynValue, output: &EngineOutput) -> Result<Tensor, String> {
    let ValueType::Tensor { ty, shape, .. } = value.dtype() else {
        return Err(format!("output {} is not a tensor", output.name));
    };
    let shape = shape
        .iter()
        .map(|&dim| usize::try_from(dim))
        .collect::<Result<Vec<usize>, _>>()
        .map_err(|_| format!("output {} has a negative dimension", output.name))?;
    let text = |e: ort::Error| format!("output {}: {e}", output.name);
    let data = match (ty, output.datatype) {
        (TensorElementType::Float32, Datatype::Fp32) => {
            Data::F32(value.try_extract_tensor::<f32>().map_err(text)?.1.to_vec())
        }
        (TensorElementType::Float64, Datatype::Fp64) => {
            Data::F64(value.try_extract_tensor::<f64>().map_err(text)?.1.to_vec())
        }
        (TensorElementType::Int32, Datatype::Int32) => {
            Data::I32(value.try_extract_tensor::<i32>().map_err(text)?.1.to_vec())
        }
        (TensorElementType::Int64, Datatype::Int64) => {
            Data::I64(value.try_extract_tensor::<i64>().map_err(text)?.1.to_vec())
        }
        (ty, datatype) => convert(widen(value, *ty, &output.name)?, datatype)
            .ok_or_else(|| format!("output {} cannot be {}", output.name, datatype.as_str()))?,
    };
    Tensor::new(output.name.clone(), shape, data)
}

/// The elements of a numeric output as f64.
fn widen(value: &DynValue, ty: TensorElementType, name: &str) -> Result<Vec<f64>, String> {
    let text = |e: ort::Error| format!("output {name}: {e}");
    Ok(match ty {
        TensorElementType::Float32 => {
            let values = value.try_extract_tensor::<f32>().map_err(text)?.1;
            values.iter().map(|&v| f64::from(v)).collect()
        }
        TensorElementType::Float64 => value.try_extract_tensor::<f64>().map_err(text)?.1.to_vec(),
        TensorElementType::Int32 => {
            let values = value.try_extract_tensor::<i32>().map_err(text)?.1;
            values.iter().map(|&v| f64::from(v)).collect()
        }
        TensorElementType::Int64 => {
            let values = value.try_extract_tensor::<i64>().map_err(text)?.1;
            values.iter().map(|&v| v as f64).collect()
        }
        other => {
            return Err(format!(
                "output {name} has element type {other:?}, which this engine does not convert"
            ));
        }
    })
}

/// `values` as `datatype` (`None` for BYTES).
fn convert(values: Vec<f64>, datatype: Datatype) -> Option<Data> {
    Some(match datatype {
        Datatype::Fp32 => Data::F32(values.iter().map(|&v| v as f32).collect()),
        Datatype::Fp64 => Data::F64(values),
        Datatype::Int32 => Data::I32(values.iter().map(|&v| v as i32).collect()),
        Datatype::Int64 => Data::I64(values.iter().map(|&v| v as i64).collect()),
        Datatype::Bytes => return None,
    })
}

impl Engine for OrtEngine {
    fn run(&self, inputs: Vec<Tensor>) -> Result<Vec<Tensor>, EngineError> {
        let fail = |reason: String| EngineError(format!("running the model: {reason}"));
        if inputs.len() != self.inputs.len() {
            return Err(fail(format!(
                "{} inputs for a model of {}",
                inputs.len(),
                self.inputs.len()
            )));
        }
        let mut values = Vec::with_capacity(inputs.len());
        for (spec, tensor) in self.inputs.iter().zip(&inputs) {
            values.push((spec.name.as_str(), input_value(tensor).map_err(fail)?));
        }
        let mut slot = self.slot();
        let Slot { session, options } = &mut *slot;
        let results = session
            .run_with_options(values, options)
            .map_err(|e| fail(e.to_string()))?;
        self.outputs
            .iter()
            .map(|output| {
                let value = results
                    .get(&output.name)
                    .ok_or_else(|| format!("no output {}", output.name))?;
                from_ort(value, output)
            })
            .collect::<Result<Vec<Tensor>, String>>()
            .map_err(fail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::config::EngineKind;
    use crate::service::registry::{build_engine, read_config, text_shape};
    use crate::service::runner::run_texts;

    fn models_dir() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models")
    }

    /// Prints why a test skips; under CI (`CI` set: `.ci/run` runs `.ci/setup` and points
    /// `ORT_DYLIB_PATH` at the venv's wheel) fails it instead.
    fn skip_or_fail(why: &str) {
        assert!(
            std::env::var_os("CI").is_none(),
            "{why} (CI provides it, so this must not happen there)"
        );
        eprintln!("skipped: {why}");
    }

    /// Whether `ORT_DYLIB_PATH` names a file; says why a test skips when not.
    fn library_given(test: &str) -> bool {
        let given = std::env::var_os(LIBRARY_VARIABLE)
            .map(PathBuf::from)
            .is_some_and(|path| path.is_file());
        if !given {
            skip_or_fail(&format!(
                "{test}: ORT_DYLIB_PATH does not name a libonnxruntime.so (the onnxruntime \
                 wheel's, e.g. ~/.cache/kiln-venv/lib/python3*/site-packages/onnxruntime/capi/)"
            ));
        }
        given
    }

    /// Model `name`'s committed config on `kind`, and its version-1 engine.
    fn engine_on(name: &str, kind: EngineKind) -> std::sync::Arc<dyn Engine> {
        let mut config = read_config(&models_dir(), name).unwrap();
        config.engine = kind;
        let file = models_dir().join(name).join("1/model.onnx");
        build_engine(&config, &file, &EngineSettings::default()).unwrap()
    }

    /// Tolerance against the onnxruntime fixture and against tract: absolute, on
    /// probabilities in [0, 1] or on unit-vector components. The fixture is onnxruntime
    /// itself (rounded to 6 decimals for the text models); tract differs in summation order.
    const TOLERANCE: f32 = 1e-5;

    fn largest_difference(a: &[f32], b: &[f32]) -> f32 {
        assert_eq!(a.len(), b.len());
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0f32, f32::max)
    }

    fn floats(tensor: &Tensor) -> &[f32] {
        let Data::F32(values) = &tensor.data else {
            panic!("FP32 expected")
        };
        values
    }

    /// The rows and onnxruntime's probabilities of `scripts/risk_fixture.py`.
    fn risk_fixture() -> (Vec<f32>, Vec<f32>, usize) {
        use sonic_rs::{JsonContainerTrait, JsonValueTrait};
        let path =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/risk_reference.json");
        let value: sonic_rs::Value = sonic_rs::from_slice(&std::fs::read(path).unwrap()).unwrap();
        let floats = |key: &str| -> Vec<f32> {
            let array = value.get(key).and_then(|v| v.as_array()).unwrap();
            array.iter().map(|v| v.as_f64().unwrap() as f32).collect()
        };
        let rows = value.get("rows").and_then(|v| v.as_u64()).unwrap() as usize;
        (floats("features"), floats("probabilities"), rows)
    }

    #[test]
    fn risk_matches_the_fixture_and_tract() {
        if !library_given("risk_matches_the_fixture_and_tract") {
            return;
        }
        let (features, expected, rows) = risk_fixture();
        let input = Tensor::new("features", vec![rows, 8], Data::F32(features.clone())).unwrap();
        let ort = engine_on("risk", EngineKind::Onnxruntime).run(vec![input.clone()]);
        let ort = ort.unwrap();
        assert_eq!(ort[0].shape, vec![rows, 2]);
        let against_fixture = largest_difference(floats(&ort[0]), &expected);
        let tract = engine_on("risk", EngineKind::Tract)
            .run(vec![input])
            .unwrap();
        let against_tract = largest_difference(floats(&ort[0]), floats(&tract[0]));
        eprintln!(
            "risk on onnxruntime: {against_fixture:e} from the fixture, {against_tract:e} from tract"
        );
        assert!(against_fixture <= TOLERANCE, "{against_fixture}");
        assert!(against_tract <= TOLERANCE, "{against_tract}");
        // Any batch size: one row alone gives that row's answer.
        let one = Tensor::new("features", vec![1, 8], Data::F32(features[8..16].to_vec()));
        let single = engine_on("risk", EngineKind::Onnxruntime).run(vec![one.unwrap()]);
        assert!((floats(&single.unwrap()[0])[1] - expected[3]).abs() <= TOLERANCE);
    }

    /// Runs the fixture's sentences (token ids as the fixture has them) through the batch
    /// function on both engines; compares with the fixture and with each other.
    fn text_model_matches(name: &str) {
        use sonic_rs::{JsonContainerTrait, JsonValueTrait};
        let file = models_dir().join(name).join("1/model.onnx");
        if !file.exists() {
            skip_or_fail(&format!(
                "{} is missing (run `inference fetch-models`)",
                file.display()
            ));
            return;
        }
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join(format!("tests/fixtures/{name}_reference.json"));
        let fixture: sonic_rs::Value = sonic_rs::from_slice(&std::fs::read(path).unwrap()).unwrap();
        let numbers = |value: &sonic_rs::Value| -> Vec<f64> {
            let array = value.as_array().unwrap();
            array.iter().map(|v| v.as_f64().unwrap()).collect()
        };
        let sentences = fixture["sentences"].as_array().unwrap();
        let ids: Vec<Vec<u32>> = sentences
            .iter()
            .map(|s| numbers(&s["ids"]).iter().map(|&v| v as u32).collect())
            .collect();
        let expected: Vec<Vec<f32>> = sentences
            .iter()
            .map(|s| numbers(&s["embedding"]).iter().map(|&v| v as f32).collect())
            .collect();
        let shape = text_shape(&read_config(&models_dir(), name).unwrap()).unwrap();
        let ort = run_texts(
            engine_on(name, EngineKind::Onnxruntime).as_ref(),
            &shape,
            &ids,
        );
        let ort = ort.unwrap();
        let tract = run_texts(engine_on(name, EngineKind::Tract).as_ref(), &shape, &ids);
        let tract = tract.unwrap();
        for (index, ((o, t), e)) in ort.iter().zip(&tract).zip(&expected).enumerate() {
            let (against_fixture, against_tract) =
                (largest_difference(o, e), largest_difference(o, t));
            eprintln!(
                "{name} sentence {index} on onnxruntime: {against_fixture:e} from the fixture, \
                 {against_tract:e} from tract"
            );
            assert!(
                against_fixture <= TOLERANCE,
                "{name} {index}: {against_fixture}"
            );
            assert!(
                against_tract <= TOLERANCE,
                "{name} {index}: {against_tract}"
            );
        }
    }

    #[test]
    fn minilm_matches_the_fixture_and_tract() {
        if library_given("minilm_matches_the_fixture_and_tract") {
            text_model_matches("minilm");
        }
    }

    #[test]
    fn paraphrase_minilm_matches_the_fixture_and_tract() {
        if library_given("paraphrase_minilm_matches_the_fixture_and_tract") {
            text_model_matches("paraphrase-minilm");
        }
    }

    #[test]
    fn two_instances_get_two_sessions_and_run_at_once() {
        if !library_given("two_instances_get_two_sessions_and_run_at_once") {
            return;
        }
        let mut config = read_config(&models_dir(), "risk").unwrap();
        config.engine = EngineKind::Onnxruntime;
        config.batching.instances = 2;
        let file = models_dir().join("risk/1/model.onnx");
        let engine = build_engine(&config, &file, &EngineSettings::default()).unwrap();
        let (features, expected, _) = risk_fixture();
        std::thread::scope(|scope| {
            for _ in 0..2 {
                scope.spawn(|| {
                    for _ in 0..50 {
                        let row =
                            Tensor::new("features", vec![1, 8], Data::F32(features[..8].to_vec()));
                        let out = engine.run(vec![row.unwrap()]).unwrap();
                        assert!((floats(&out[0])[1] - expected[1]).abs() <= TOLERANCE);
                    }
                });
            }
        });
    }

    #[test]
    fn a_missing_or_wrong_library_is_a_clear_error_not_a_panic() {
        let nothing = EngineSettings::default();
        if std::env::var_os(LIBRARY_VARIABLE).is_none() {
            let error = library_path(&nothing).unwrap_err();
            assert!(error.0.contains("--ort-library") && error.0.contains("ORT_DYLIB_PATH"));
        }
        let missing = EngineSettings {
            ort_library: Some(PathBuf::from("/nonexistent/libonnxruntime.so.1.32.0")),
            ..EngineSettings::default()
        };
        let error = library_path(&missing).unwrap_err();
        assert!(
            error.0.contains("/nonexistent/libonnxruntime.so.1.32.0"),
            "{error}"
        );
        assert!(error.0.contains("--ort-library"), "{error}");
        // A file that is not a shared library: dlopen refuses it (or, if another test
        // loaded the real library first, this process refuses a second one).
        let fake = std::env::temp_dir().join(format!("not-onnxruntime-{}.so", std::process::id()));
        std::fs::write(&fake, b"not an ELF file").unwrap();
        let wrong = EngineSettings {
            ort_library: Some(fake.clone()),
            ..EngineSettings::default()
        };
        let spec = EngineSpec {
            kind: EngineKind::Onnxruntime,
            file: &models_dir().join("risk/1/model.onnx"),
            inputs: Vec::new(),
            outputs: Vec::new(),
            first_free_dims: Vec::new(),
            concurrent_runs: 1,
        };
        let error = OrtEngine::load(spec, &wrong).unwrap_err();
        let _ = std::fs::remove_file(&fake);
        assert!(error.0.contains("not-onnxruntime"), "{error}");
    }
}
