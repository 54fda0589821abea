//! The tract-onnx engine. At load: parse the ONNX file (value info ignored, as PyTorch
//! exports carry stale shapes), name the inputs and outputs the config serves, give each
//! input a fact whose batch dimension is the symbol `N`, then declutter and optimise.
//! A quantised model's int8 weights and their Cast/Mul dequantisation become fp32
//! constants once, at load, instead of on every call (`fold_dequantisation`; checked by a
//! test). The batch dimension stays symbolic: one plan runs every batch size.
//!
//! Other free dimensions (a text's sequence length) are made concrete: one plan per
//! distinct value, built on first use and kept (at most `PLANS_PER_ENGINE_MAX`; text models
//! only ever ask for their few length buckets). A symbolic sequence length would be one
//! plan for all, but with it tract 0.23 computes the attention mask of the PyTorch (dynamo)
//! export of MiniLM as `[N,1,1,S]` where its types (and onnxruntime) say `[N,1,S,S]` (the
//! mask's always-true `arange >= 0` factor seems to lose its broadcast shape), and its own
//! debug-build checks refuse the run; with a concrete length it computes the right shape.
//! Not here: batching, tokenizing, pooling. Tests at the bottom (the risk fixture always;
//! the text models in `service/tests.rs` when fetched).

use super::{Engine, EngineError, EngineInput, EngineOutput};
use crate::domain::{Data, Datatype, Tensor};
use std::path::Path;
use std::sync::{Arc, Mutex};
use tract_onnx::prelude::*;

/// Most plans one engine keeps (one per distinct set of concrete non-batch dimensions).
pub const PLANS_PER_ENGINE_MAX: usize = crate::limits::LENGTH_BUCKETS_MAX;

type Plan = Arc<TypedSimplePlan>;

/// The optimised plans of one model file.
pub struct TractEngine {
    /// The parsed model with its inputs and outputs named, before facts are set.
    parsed: InferenceModel,
    /// Plans by the concrete values of the inputs' free non-batch dimensions (empty key for
    /// a model without any).
    plans: Mutex<Vec<(Vec<usize>, Plan)>>,
    /// Dequantised weights by node name, folded once and shared by every plan (they do
    /// not depend on the input shapes).
    folded: Mutex<Vec<(String, Arc<tract_onnx::prelude::Tensor>)>>,
    inputs: Vec<EngineInput>,
    outputs: Vec<EngineOutput>,
}

impl std::fmt::Debug for TractEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TractEngine")
            .field("inputs", &self.inputs)
            .field("outputs", &self.outputs)
            .finish()
    }
}

fn engine_error(context: &str) -> impl Fn(TractError) -> EngineError + '_ {
    move |error| EngineError(format!("{context}: {error:#}"))
}

fn datum_type(datatype: Datatype) -> Result<DatumType, EngineError> {
    match datatype {
        Datatype::Int32 => Ok(DatumType::I32),
        Datatype::Int64 => Ok(DatumType::I64),
        Datatype::Fp32 => Ok(DatumType::F32),
        Datatype::Fp64 => Ok(DatumType::F64),
        Datatype::Bytes => Err(EngineError(
            "BYTES tensors do not go into a model".to_owned(),
        )),
    }
}

impl TractEngine {
    /// Loads `path` and optimises its first plan: with every free non-batch dimension set
    /// to `first_free_dims` (in input order; empty for a model without any). Slow (seconds
    /// for MiniLM): call it off the I/O workers.
    pub fn load(
        path: &Path,
        inputs: Vec<EngineInput>,
        outputs: Vec<EngineOutput>,
        first_free_dims: &[usize],
    ) -> Result<TractEngine, EngineError> {
        let context = format!("loading {}", path.display());
        let fail = engine_error(&context);
        let parsed = tract_onnx::onnx()
            .with_ignore_value_info(true)
            .model_for_path(path)
            .map_err(&fail)?
            .with_input_names(inputs.iter().map(|input| input.name.as_str()))
            .map_err(&fail)?
            .with_outputs_by_name(outputs.iter().map(|output| output.name.as_str()))
            .map_err(&fail)?;
        let engine = TractEngine {
            parsed,
            plans: Mutex::new(Vec::new()),
            folded: Mutex::new(Vec::new()),
            inputs,
            outputs,
        };
        engine
            .plan(first_free_dims)
            .map_err(|e| EngineError(format!("{context}: {e}")))?;
        Ok(engine)
    }

    /// The plan for these free dimensions, optimised now if it is the first call with them.
    fn plan(&self, free_dims: &[usize]) -> Result<Plan, EngineError> {
        let mut plans = self.plans.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, plan)) = plans.iter().find(|(key, _)| key == free_dims) {
            return Ok(plan.clone());
        }
        if plans.len() >= PLANS_PER_ENGINE_MAX {
            return Err(EngineError(format!(
                "more than {PLANS_PER_ENGINE_MAX} distinct input shapes for one model"
            )));
        }
        let started = std::time::Instant::now();
        let plan = self.optimise(free_dims)?;
        tracing::debug!(
            ?free_dims,
            optimise_ms = started.elapsed().as_millis() as u64,
            "plan ready"
        );
        plans.push((free_dims.to_vec(), plan.clone()));
        Ok(plan)
    }

    fn optimise(&self, free_dims: &[usize]) -> Result<Plan, EngineError> {
        let fail = engine_error("optimising the model");
        let mut model = self.parsed.clone();
        let batch = model.sym("N");
        let mut free = free_dims.iter();
        for (index, input) in self.inputs.iter().enumerate() {
            let mut dims: TVec<TDim> = TVec::new();
            for (axis, &dim) in input.shape.iter().enumerate() {
                dims.push(match (axis, dim) {
                    (0, _) => batch.to_dim(),
                    (_, -1) => {
                        let value = free.next().ok_or_else(|| {
                            EngineError(format!("no value for a free dimension of {}", input.name))
                        })?;
                        TDim::from(*value as i64)
                    }
                    (_, fixed) => TDim::from(fixed),
                });
            }
            let fact = TypedFact::dt_shape(datum_type(input.datatype)?, dims);
            model = model.with_input_fact(index, fact.into()).map_err(&fail)?;
        }
        let mut typed = model.into_typed().map_err(&fail)?;
        {
            let mut folded = self.folded.lock().unwrap_or_else(|e| e.into_inner());
            fold_dequantisation(&mut typed, &mut folded).map_err(&fail)?;
        }
        typed
            .into_optimized()
            .map_err(&fail)?
            .into_runnable()
            .map_err(&fail)
    }

    /// The free non-batch dimensions of these tensors (the plan key).
    fn free_dims(&self, inputs: &[Tensor]) -> Vec<usize> {
        let mut free = Vec::new();
        for (spec, tensor) in self.inputs.iter().zip(inputs) {
            for (axis, &dim) in spec.shape.iter().enumerate().skip(1) {
                if dim == -1 {
                    free.push(tensor.shape.get(axis).copied().unwrap_or(0));
                }
            }
        }
        free
    }

    /// Constants of `datatype` left in the optimised plan, with their shapes (a test
    /// checks which int8 weights are folded).
    pub fn constants_of(&self, datatype: DatumType) -> Vec<(String, Vec<usize>)> {
        let plans = self.plans.lock().unwrap_or_else(|e| e.into_inner());
        let Some((_, plan)) = plans.first() else {
            return Vec::new();
        };
        let model = plan.model();
        model
            .nodes()
            .iter()
            .filter(|node| node.op_is::<tract_onnx::tract_core::ops::konst::Const>())
            .filter_map(|node| {
                let fact = &node.outputs.first()?.fact;
                let shape = fact.shape.as_concrete()?.to_vec();
                (fact.datum_type == datatype).then(|| (node.name.clone(), shape))
            })
            .collect()
    }
}

/// Folds every computation on int8 (or uint8) constants into an fp32 constant, once: a
/// quantised weight `Cast`, then `Mul` by its scale, becomes the fp32 weight. tract's own
/// constant folding does this for the matrix weights but declines a fold whose result is
/// larger than its input and 4 MiB (the fp32 output of an int8 table is 4x its input), so
/// it left MiniLM's 30522 x 384 word-embedding table int8 and dequantised all of it on
/// every call (about 30 ms of a 37 ms batch-of-one call, measured). The price is memory:
/// that table takes 45 MiB in fp32 instead of 11 MiB, once: `cache` keeps each folded
/// value for the engine's other plans. Bounded: at most one fold per node.
fn fold_dequantisation(
    model: &mut TypedModel,
    cache: &mut Vec<(String, Arc<tract_onnx::prelude::Tensor>)>,
) -> TractResult<usize> {
    let mut folded_names: Vec<String> = Vec::new();
    for _ in 0..model.nodes().len() {
        let Some(node_id) = next_fold(model, &folded_names)? else {
            break;
        };
        let node_name = model.node(node_id).name.clone();
        let value = match cache.iter().find(|(name, _)| *name == node_name) {
            Some((_, value)) => value.clone(),
            None => {
                let value = eval_const(model, node_id)?;
                cache.push((node_name.clone(), value.clone()));
                value
            }
        };
        let name = format!("{node_name}.folded");
        let mut patch = TypedModelPatch::default();
        let wire = patch.add_const(&name, value)?;
        patch.shunt_outside(model, OutletId::new(node_id, 0), wire)?;
        patch.apply(model)?;
        folded_names.push(name);
    }
    Ok(folded_names.len())
}

/// The value of a node whose inputs are all constant.
fn eval_const(model: &TypedModel, node_id: usize) -> TractResult<Arc<tract_onnx::prelude::Tensor>> {
    let node = model.node(node_id);
    let inputs = model
        .node_input_facts(node_id)?
        .iter()
        .filter_map(|fact| fact.konst.clone())
        .map(|konst| konst.into_tvalue())
        .collect();
    let mut outputs = node
        .op
        .eval_out_of_plan(inputs)?
        .ok_or_else(|| TractError::msg(format!("{} cannot be evaluated at load", node.name)))?;
    Ok(outputs.remove(0).into_arc_tensor())
}

/// The next node whose inputs are all constant, one of them quantised (or already folded
/// here), and which something uses.
fn next_fold(model: &TypedModel, folded_names: &[String]) -> TractResult<Option<usize>> {
    use tract_onnx::tract_core::ops::konst::Const;
    use tract_onnx::tract_core::ops::source::TypedSource;
    for node in model.nodes() {
        if node.op_is::<Const>()
            || node.op_is::<TypedSource>()
            || node.inputs.is_empty()
            || node.outputs.len() != 1
            || node.outputs[0].successors.is_empty()
        {
            continue;
        }
        let facts = model.node_input_facts(node.id)?;
        if facts.iter().any(|fact| fact.konst.is_none()) {
            continue;
        }
        let quantised = node.inputs.iter().zip(&facts).any(|(outlet, fact)| {
            matches!(fact.datum_type, DatumType::I8 | DatumType::U8)
                || folded_names.contains(&model.node(outlet.node).name)
        });
        if quantised {
            return Ok(Some(node.id));
        }
    }
    Ok(None)
}

fn to_tract(tensor: &Tensor) -> TractResult<TValue> {
    let shape = &tensor.shape;
    let value = match &tensor.data {
        Data::I32(values) => tract_onnx::prelude::Tensor::from_shape(shape, values)?,
        Data::I64(values) => tract_onnx::prelude::Tensor::from_shape(shape, values)?,
        Data::F32(values) => tract_onnx::prelude::Tensor::from_shape(shape, values)?,
        Data::F64(values) => tract_onnx::prelude::Tensor::from_shape(shape, values)?,
        Data::Bytes(_) => return Err(TractError::msg("BYTES tensors do not go into a model")),
    };
    Ok(value.into_tvalue())
}

fn from_tract(value: &tract_onnx::prelude::Tensor, output: &EngineOutput) -> TractResult<Tensor> {
    fn elements<D: Datum + Copy>(value: &tract_onnx::prelude::Tensor) -> TractResult<Vec<D>> {
        let cast = value.cast_to::<D>()?;
        Ok(cast.to_plain_array_view::<D>()?.iter().copied().collect())
    }
    let data = match output.datatype {
        Datatype::Int32 => Data::I32(elements::<i32>(value)?),
        Datatype::Int64 => Data::I64(elements::<i64>(value)?),
        Datatype::Fp32 => Data::F32(elements::<f32>(value)?),
        Datatype::Fp64 => Data::F64(elements::<f64>(value)?),
        Datatype::Bytes => {
            return Err(TractError::msg(format!(
                "output {} cannot be BYTES",
                output.name
            )));
        }
    };
    Tensor::new(output.name.clone(), value.shape().to_vec(), data).map_err(TractError::msg)
}

impl Engine for TractEngine {
    fn run(&self, inputs: Vec<Tensor>) -> Result<Vec<Tensor>, EngineError> {
        let fail = engine_error("running the model");
        let plan = self.plan(&self.free_dims(&inputs))?;
        let values = inputs
            .iter()
            .map(to_tract)
            .collect::<TractResult<TVec<TValue>>>()
            .map_err(&fail)?;
        let results = plan.run(values).map_err(&fail)?;
        results
            .iter()
            .zip(&self.outputs)
            .map(|(value, output)| from_tract(value, output))
            .collect::<TractResult<Vec<Tensor>>>()
            .map_err(&fail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn models_dir() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models")
    }

    fn risk_engine() -> TractEngine {
        TractEngine::load(
            &models_dir().join("risk/1/model.onnx"),
            vec![EngineInput {
                name: "features".to_owned(),
                datatype: Datatype::Fp32,
                shape: vec![-1, 8],
            }],
            vec![EngineOutput {
                name: "probabilities".to_owned(),
                datatype: Datatype::Fp32,
            }],
            &[],
        )
        .unwrap()
    }

    /// The fixture of `scripts/risk_fixture.py`: rows and onnxruntime's outputs.
    fn risk_fixture() -> (Vec<f32>, Vec<f32>, usize) {
        let path =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/risk_reference.json");
        let text = std::fs::read(path).unwrap();
        let value: sonic_rs::Value = sonic_rs::from_slice(&text).unwrap();
        use sonic_rs::{JsonContainerTrait, JsonValueTrait};
        let floats = |key: &str| -> Vec<f32> {
            let array = value.get(key).and_then(|v| v.as_array()).unwrap();
            array.iter().map(|v| v.as_f64().unwrap() as f32).collect()
        };
        let rows = value.get("rows").and_then(|v| v.as_u64()).unwrap() as usize;
        (floats("features"), floats("probabilities"), rows)
    }

    /// Tolerance against onnxruntime: absolute, on probabilities in [0, 1]. Both run the
    /// same float32 graph; only summation order differs.
    const RISK_TOLERANCE: f32 = 1e-5;

    #[test]
    fn risk_matches_onnxruntime_in_one_batch_and_row_by_row() {
        let engine = risk_engine();
        let (features, expected, rows) = risk_fixture();
        let input = Tensor::new("features", vec![rows, 8], Data::F32(features.clone())).unwrap();
        let outputs = engine.run(vec![input]).unwrap();
        assert_eq!(outputs[0].shape, vec![rows, 2]);
        let Data::F32(got) = &outputs[0].data else {
            panic!("FP32 expected")
        };
        for (index, (g, e)) in got.iter().zip(&expected).enumerate() {
            assert!(
                (g - e).abs() <= RISK_TOLERANCE,
                "element {index}: {g} vs {e}"
            );
        }
        // The same plan runs a batch of one (a dynamic batch dimension, not re-optimised).
        let one = Tensor::new("features", vec![1, 8], Data::F32(features[8..16].to_vec()));
        let single = engine.run(vec![one.unwrap()]).unwrap();
        let Data::F32(row) = &single[0].data else {
            panic!("FP32 expected")
        };
        assert!((row[1] - expected[3]).abs() <= RISK_TOLERANCE);
    }

    #[test]
    fn a_missing_file_is_a_clear_error() {
        let error = TractEngine::load(Path::new("/nonexistent/model.onnx"), vec![], vec![], &[])
            .unwrap_err();
        assert!(error.0.contains("/nonexistent/model.onnx"), "{error}");
    }

    #[test]
    fn a_wrongly_shaped_input_is_an_error_not_a_panic() {
        let engine = risk_engine();
        let input = Tensor::new("features", vec![2, 4], Data::F32(vec![0.0; 8])).unwrap();
        assert!(engine.run(vec![input]).is_err());
    }
}
