//! The Open Inference Protocol's infer request and response bodies, with Triton's binary
//! tensor data extension.
//!
//! Request: a JSON header (`id`, `parameters`, `inputs` with `name`, `shape`, `datatype`
//! and either `data`, flat or nested row-major, or a `binary_data_size` parameter;
//! `outputs` with an optional `binary_data` parameter), followed, when the
//! `Inference-Header-Content-Length` header says the JSON ends earlier, by the inputs'
//! binary data in input order. Unknown parameters are ignored; a `timeout` parameter (in
//! microseconds, as Triton's) sets the request's deadline.
//!
//! Response: JSON outputs, or for each output asked in binary (its `binary_data`
//! parameter, else the request's `binary_data_output`) a `binary_data_size` parameter and
//! its bytes appended after the JSON, whose length the `Inference-Header-Content-Length`
//! response header gives. Pure: bytes in, values or bytes out. Tests at the bottom;
//! through HTTP in `tests/cli/kserve.rs` and with the real `tritonclient`
//! (`tests/triton_client.py`).

use super::error::ApiError;
use crate::domain::tensor::element_count;
use crate::domain::{Data, Datatype, Tensor};
use crate::limits::{DATA_NESTING_MAX, TENSOR_ELEMENTS_MAX, TENSORS_PER_REQUEST_MAX};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use sonic_rs::{JsonContainerTrait, JsonValueTrait, Value};

#[derive(Deserialize)]
struct RawRequest {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    parameters: Option<Value>,
    inputs: Vec<RawInput>,
    #[serde(default)]
    outputs: Vec<RawOutput>,
}

#[derive(Deserialize)]
struct RawInput {
    name: String,
    shape: Vec<i64>,
    datatype: String,
    #[serde(default)]
    parameters: Option<Value>,
    #[serde(default)]
    data: Option<Value>,
}

#[derive(Deserialize)]
struct RawOutput {
    name: String,
    #[serde(default)]
    parameters: Option<Value>,
}

/// An output the client asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestedOutput {
    pub name: String,
    /// Its `binary_data` parameter, when given.
    pub binary: Option<bool>,
}

/// A parsed infer request.
#[derive(Clone, Debug, PartialEq)]
pub struct InferRequest {
    pub id: Option<String>,
    pub inputs: Vec<Tensor>,
    pub outputs: Vec<RequestedOutput>,
    /// The request's `binary_data_output` parameter.
    pub binary_data_output: bool,
    /// The request's `timeout` parameter, in microseconds.
    pub timeout_us: Option<u64>,
}

impl InferRequest {
    /// Whether output `name` goes in binary.
    pub fn wants_binary(&self, name: &str) -> bool {
        self.outputs
            .iter()
            .find(|output| output.name == name)
            .and_then(|output| output.binary)
            .unwrap_or(self.binary_data_output)
    }
}

fn parameter<'a>(parameters: &'a Option<Value>, key: &str) -> Option<&'a Value> {
    parameters.as_ref().and_then(|p| p.get(key))
}

/// Parses a request body; `header_length` is the `Inference-Header-Content-Length` header.
pub fn parse_infer(body: &Bytes, header_length: Option<&str>) -> Result<InferRequest, ApiError> {
    let json_length = match header_length {
        None => body.len(),
        Some(text) => text
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|&length| length <= body.len())
            .ok_or_else(|| {
                ApiError::bad_request(format!(
                    "Inference-Header-Content-Length {text:?} is not a length within the body ({} bytes)",
                    body.len()
                ))
            })?,
    };
    let raw: RawRequest = sonic_rs::from_slice(&body[..json_length])
        .map_err(|error| ApiError::bad_request(format!("malformed infer request: {error}")))?;
    if raw.inputs.is_empty() || raw.inputs.len() > TENSORS_PER_REQUEST_MAX {
        return Err(ApiError::bad_request(format!(
            "an infer request has 1 to {TENSORS_PER_REQUEST_MAX} inputs"
        )));
    }
    if raw.outputs.len() > TENSORS_PER_REQUEST_MAX {
        return Err(ApiError::bad_request(format!(
            "an infer request asks for at most {TENSORS_PER_REQUEST_MAX} outputs"
        )));
    }
    let mut binary = &body[json_length..];
    let mut inputs = Vec::with_capacity(raw.inputs.len());
    for input in &raw.inputs {
        if inputs.iter().any(|t: &Tensor| t.name == input.name) {
            return Err(ApiError::bad_request(format!(
                "input {:?} appears twice",
                input.name
            )));
        }
        inputs.push(parse_input(input, &mut binary)?);
    }
    if !binary.is_empty() {
        return Err(ApiError::bad_request(format!(
            "{} bytes of binary data are not claimed by any input's binary_data_size",
            binary.len()
        )));
    }
    let outputs = raw
        .outputs
        .iter()
        .map(|output| RequestedOutput {
            name: output.name.clone(),
            binary: parameter(&output.parameters, "binary_data").and_then(|v| v.as_bool()),
        })
        .collect();
    Ok(InferRequest {
        id: raw.id,
        inputs,
        outputs,
        binary_data_output: parameter(&raw.parameters, "binary_data_output")
            .and_then(|v| v.as_bool())
            .unwrap_or(false),
        timeout_us: parse_timeout(&raw.parameters)?,
    })
}

fn parse_timeout(parameters: &Option<Value>) -> Result<Option<u64>, ApiError> {
    match parameter(parameters, "timeout") {
        None => Ok(None),
        Some(value) => value
            .as_u64()
            .filter(|&us| us > 0)
            .map(Some)
            .ok_or_else(|| {
                ApiError::bad_request("the timeout parameter is a positive number of microseconds")
            }),
    }
}

fn parse_input(input: &RawInput, binary: &mut &[u8]) -> Result<Tensor, ApiError> {
    let bad = |why: String| ApiError::bad_request(format!("input {:?}: {why}", input.name));
    let datatype = Datatype::parse(&input.datatype).map_err(|e| bad(e.to_string()))?;
    let shape = input
        .shape
        .iter()
        .map(|&dim| usize::try_from(dim).map_err(|_| bad(format!("negative dimension {dim}"))))
        .collect::<Result<Vec<usize>, ApiError>>()?;
    let elements = element_count(&shape)
        .filter(|&count| count <= TENSOR_ELEMENTS_MAX)
        .ok_or_else(|| bad(format!("more than {TENSOR_ELEMENTS_MAX} elements")))?;
    let binary_size = parameter(&input.parameters, "binary_data_size");
    let data = match (binary_size, &input.data) {
        (Some(_), Some(_)) => return Err(bad("both data and binary_data_size".to_owned())),
        (None, None) => return Err(bad("no data".to_owned())),
        (Some(size), None) => {
            let size = size
                .as_u64()
                .and_then(|s| usize::try_from(s).ok())
                .filter(|&s| s <= binary.len())
                .ok_or_else(|| bad("binary_data_size exceeds the binary data sent".to_owned()))?;
            let (mine, rest) = binary.split_at(size);
            *binary = rest;
            Data::from_le_bytes(datatype, mine).map_err(bad)?
        }
        (None, Some(value)) => {
            let mut scalars = Vec::new();
            flatten(value, 0, &mut scalars).map_err(bad)?;
            json_data(datatype, &scalars).map_err(bad)?
        }
    };
    if data.len() != elements {
        return Err(bad(format!(
            "shape {shape:?} holds {elements} elements but {} were sent",
            data.len()
        )));
    }
    Tensor::new(input.name.clone(), shape, data).map_err(bad)
}

/// Collects the scalars of a nested array, depth-first (row-major).
fn flatten<'a>(value: &'a Value, depth: usize, out: &mut Vec<&'a Value>) -> Result<(), String> {
    match value.as_array() {
        Some(array) => {
            if depth >= DATA_NESTING_MAX {
                return Err(format!("data nests deeper than {DATA_NESTING_MAX}"));
            }
            for element in array.iter() {
                flatten(element, depth + 1, out)?;
                if out.len() > TENSOR_ELEMENTS_MAX {
                    return Err(format!("more than {TENSOR_ELEMENTS_MAX} elements"));
                }
            }
            Ok(())
        }
        None => {
            out.push(value);
            Ok(())
        }
    }
}

fn json_data(datatype: Datatype, scalars: &[&Value]) -> Result<Data, String> {
    fn each<T>(
        scalars: &[&Value],
        what: &str,
        read: impl Fn(&Value) -> Option<T>,
    ) -> Result<Vec<T>, String> {
        scalars
            .iter()
            .enumerate()
            .map(|(index, value)| {
                read(value).ok_or_else(|| format!("element {index} is not {what}"))
            })
            .collect()
    }
    Ok(match datatype {
        Datatype::Fp32 => Data::F32(each(scalars, "a number", |v| v.as_f64().map(|x| x as f32))?),
        Datatype::Fp64 => Data::F64(each(scalars, "a number", |v| v.as_f64())?),
        Datatype::Int64 => Data::I64(each(scalars, "an INT64 integer", |v| v.as_i64())?),
        Datatype::Int32 => Data::I32(each(scalars, "an INT32 integer", |v| {
            v.as_i64().and_then(|x| i32::try_from(x).ok())
        })?),
        Datatype::Bytes => Data::Bytes(each(scalars, "a string", |v| {
            v.as_str().map(|s| s.as_bytes().to_vec())
        })?),
    })
}

/// Serialises tensor data as a JSON array without copying it.
struct JsonData<'a>(&'a Data);

impl Serialize for JsonData<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Data::I32(v) => v.serialize(serializer),
            Data::I64(v) => v.serialize(serializer),
            Data::F32(v) => v.serialize(serializer),
            Data::F64(v) => v.serialize(serializer),
            Data::Bytes(v) => serializer.collect_seq(v.iter().map(|b| String::from_utf8_lossy(b))),
        }
    }
}

#[derive(Serialize)]
struct BinaryParameters {
    binary_data_size: usize,
}

#[derive(Serialize)]
struct OutputJson<'a> {
    name: &'a str,
    datatype: &'static str,
    shape: &'a [usize],
    #[serde(skip_serializing_if = "Option::is_none")]
    parameters: Option<BinaryParameters>,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<JsonData<'a>>,
}

#[derive(Serialize)]
struct ResponseJson<'a> {
    model_name: &'a str,
    model_version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    outputs: Vec<OutputJson<'a>>,
}

/// A rendered infer response: the body, and the JSON header's length when binary data
/// follows it.
#[derive(Debug)]
pub struct RenderedResponse {
    pub body: Vec<u8>,
    pub header_length: Option<usize>,
}

/// Renders outputs; `binary(name)` says which go in binary.
pub fn render_infer(
    model: &str,
    version: u64,
    id: Option<&str>,
    outputs: &[Tensor],
    binary: impl Fn(&str) -> bool,
) -> Result<RenderedResponse, sonic_rs::Error> {
    let mut tail = Vec::new();
    let mut json_outputs = Vec::with_capacity(outputs.len());
    for tensor in outputs {
        let in_binary = binary(&tensor.name);
        let (parameters, data) = if in_binary {
            let start = tail.len();
            tensor.data.write_le_bytes(&mut tail);
            let size = tail.len() - start;
            (
                Some(BinaryParameters {
                    binary_data_size: size,
                }),
                None,
            )
        } else {
            (None, Some(JsonData(&tensor.data)))
        };
        json_outputs.push(OutputJson {
            name: &tensor.name,
            datatype: tensor.datatype().as_str(),
            shape: &tensor.shape,
            parameters,
            data,
        });
    }
    let any_binary = outputs.iter().any(|t| binary(&t.name));
    let mut body = sonic_rs::to_vec(&ResponseJson {
        model_name: model,
        model_version: version.to_string(),
        id,
        outputs: json_outputs,
    })?;
    let header_length = any_binary.then_some(body.len());
    body.extend_from_slice(&tail);
    Ok(RenderedResponse {
        body,
        header_length,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<InferRequest, ApiError> {
        parse_infer(&Bytes::from(json.to_owned()), None)
    }

    #[test]
    fn flat_and_nested_data_parse_the_same() {
        let flat = parse(
            r#"{"inputs":[{"name":"x","shape":[2,2],"datatype":"FP32","data":[1,2,3,4.5]}]}"#,
        )
        .unwrap();
        let nested = parse(
            r#"{"id":"a","inputs":[{"name":"x","shape":[2,2],"datatype":"FP32","data":[[1,2],[3,4.5]]}],
                "parameters":{"whatever":{"deep":[1]}}}"#,
        )
        .unwrap();
        assert_eq!(flat.inputs, nested.inputs);
        assert_eq!(nested.inputs[0].data, Data::F32(vec![1.0, 2.0, 3.0, 4.5]));
        assert_eq!(nested.id.as_deref(), Some("a"));
    }

    #[test]
    fn wrong_data_is_refused_with_the_input_named() {
        let cases = [
            (
                r#"{"inputs":[{"name":"x","shape":[3],"datatype":"FP32","data":[1,2]}]}"#,
                "3 elements",
            ),
            (
                r#"{"inputs":[{"name":"x","shape":[1],"datatype":"INT64","data":[1.5]}]}"#,
                "INT64",
            ),
            (
                r#"{"inputs":[{"name":"x","shape":[1],"datatype":"INT32","data":[3000000000]}]}"#,
                "INT32",
            ),
            (
                r#"{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":["a"]}]}"#,
                "number",
            ),
            (
                r#"{"inputs":[{"name":"x","shape":[1],"datatype":"FP16","data":[1]}]}"#,
                "not supported",
            ),
            (
                r#"{"inputs":[{"name":"x","shape":[-1],"datatype":"FP32","data":[1]}]}"#,
                "negative",
            ),
            (
                r#"{"inputs":[{"name":"x","shape":[1],"datatype":"FP32"}]}"#,
                "no data",
            ),
            (r#"{"inputs":[]}"#, "1 to 16 inputs"),
            (
                r#"{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]},
                           {"name":"x","shape":[1],"datatype":"FP32","data":[1]}]}"#,
                "twice",
            ),
            (
                r#"{"inputs":[{"name":"x","shape":[2048,1024],"datatype":"FP32","data":[1]}]}"#,
                "more than 1048576 elements",
            ),
            (
                r#"{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[[[[[[[[[1]]]]]]]]]}]}"#,
                "nests deeper",
            ),
            (r#"{"inputs": [}"#, "malformed"),
            (
                r#"{"parameters":{"timeout":0},"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]}]}"#,
                "timeout",
            ),
        ];
        for (json, expected) in cases {
            let error = parse(json).unwrap_err();
            assert_eq!(error.status.as_u16(), 400, "{json}");
            assert!(
                error.message.contains(expected),
                "{json}: {}",
                error.message
            );
        }
    }

    #[test]
    fn data_nests_up_to_the_limit() {
        // DATA_NESTING_MAX = 8: a rank-8 tensor nests 8 deep.
        let deep = parse(
            r#"{"inputs":[{"name":"x","shape":[1,1,1,1,1,1,1,1],"datatype":"FP64","data":[[[[[[[[2.5]]]]]]]]}]}"#,
        )
        .unwrap();
        assert_eq!(deep.inputs[0].data, Data::F64(vec![2.5]));
    }

    #[test]
    fn binary_inputs_follow_the_json_header() {
        let json = br#"{"inputs":[{"name":"a","shape":[2],"datatype":"INT32","parameters":{"binary_data_size":8}},{"name":"b","shape":[1],"datatype":"BYTES","parameters":{"binary_data_size":6}}],"outputs":[{"name":"y","parameters":{"binary_data":false}}],"parameters":{"binary_data_output":true,"timeout":1500}}"#;
        let mut body = json.to_vec();
        body.extend_from_slice(&7i32.to_le_bytes());
        body.extend_from_slice(&(-1i32).to_le_bytes());
        body.extend_from_slice(&[2, 0, 0, 0, b'h', b'i']);
        let length = json.len().to_string();
        let request = parse_infer(&Bytes::from(body.clone()), Some(&length)).unwrap();
        assert_eq!(request.inputs[0].data, Data::I32(vec![7, -1]));
        assert_eq!(request.inputs[1].data, Data::Bytes(vec![b"hi".to_vec()]));
        assert!(!request.wants_binary("y"));
        assert!(request.wants_binary("z"));
        assert_eq!(request.timeout_us, Some(1500));

        body.push(0);
        let extra = parse_infer(&Bytes::from(body.clone()), Some(&length)).unwrap_err();
        assert!(extra.message.contains("not claimed"), "{}", extra.message);
        let beyond = parse_infer(&Bytes::from(body), Some("100000")).unwrap_err();
        assert!(beyond.message.contains("Inference-Header-Content-Length"));
    }

    #[test]
    fn binary_outputs_are_appended_after_the_header() {
        let outputs = [
            Tensor::new("p", vec![1, 2], Data::F32(vec![0.25, 0.75])).unwrap(),
            Tensor::new("l", vec![1], Data::I64(vec![1])).unwrap(),
        ];
        let rendered = render_infer("risk", 1, Some("r1"), &outputs, |name| name == "p").unwrap();
        let length = rendered.header_length.unwrap();
        let header: Value = sonic_rs::from_slice(&rendered.body[..length]).unwrap();
        assert_eq!(header["model_version"].as_str(), Some("1"));
        assert_eq!(
            header["outputs"][0]["parameters"]["binary_data_size"].as_u64(),
            Some(8)
        );
        assert_eq!(header["outputs"][1]["data"][0].as_i64(), Some(1));
        let tail = &rendered.body[length..];
        assert_eq!(
            Data::from_le_bytes(Datatype::Fp32, tail),
            Ok(Data::F32(vec![0.25, 0.75]))
        );

        let json = render_infer("risk", 1, None, &outputs, |_| false).unwrap();
        assert_eq!(json.header_length, None);
        let all: Value = sonic_rs::from_slice(&json.body).unwrap();
        assert!(all.get("id").is_none());
        assert_eq!(all["outputs"][0]["data"][1].as_f64(), Some(0.75));
    }
}
