//! The KServe v2 routes on the risk model through real sockets: health, server and model
//! metadata, readiness, config, stats, infer with flat and nested JSON data and with
//! Triton's binary tensors, outputs against onnxruntime's fixture, and every error shape.

use crate::support::{Registry, Server, list, numbers, risk_fixture};
use sonic_rs::{JsonContainerTrait, JsonValueTrait};

/// Tolerance against onnxruntime (absolute, on probabilities): same float32 graph, only the
/// summation order differs.
const TOLERANCE: f64 = 1e-5;

fn risk_server(name: &str) -> (Registry, Server) {
    let registry = Registry::new(name).with_risk(|config| config);
    let server = Server::start(&registry);
    (registry, server)
}

fn risk_request(rows: usize, features: &[f64]) -> String {
    format!(
        r#"{{"id":"req-1","inputs":[{{"name":"features","shape":[{rows},8],"datatype":"FP32","data":{}}}]}}"#,
        list(features)
    )
}

#[test]
fn health_and_metadata() {
    let (_registry, server) = risk_server("metadata");
    let live = server.get("/v2/health/live");
    assert_eq!(
        (live.status, live.json()["live"].as_bool()),
        (200, Some(true))
    );
    let ready = server.get("/v2/health/ready");
    assert_eq!(
        (ready.status, ready.json()["ready"].as_bool()),
        (200, Some(true))
    );

    let meta = server.get("/v2").json();
    assert_eq!(meta["name"].as_str(), Some("kiln-inference"));
    let extensions: Vec<&str> = meta["extensions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e.as_str())
        .collect();
    assert!(extensions.contains(&"binary_tensor_data"), "{extensions:?}");

    let model = server.get("/v2/models/risk");
    assert_eq!(model.status, 200);
    let model = model.json();
    assert_eq!(model["name"].as_str(), Some("risk"));
    assert_eq!(model["versions"][0].as_str(), Some("1"));
    assert_eq!(model["inputs"][0]["name"].as_str(), Some("features"));
    assert_eq!(model["inputs"][0]["datatype"].as_str(), Some("FP32"));
    assert_eq!(numbers(&model["inputs"][0]["shape"]), vec![-1.0, 8.0]);
    assert_eq!(model["outputs"][0]["name"].as_str(), Some("probabilities"));
    assert_eq!(server.get("/v2/models/risk/versions/1").status, 200);

    let ready = server.get("/v2/models/risk/ready");
    assert_eq!(
        (ready.status, ready.json()["ready"].as_bool()),
        (200, Some(true))
    );
    assert_eq!(server.get("/v2/models/risk/versions/1/ready").status, 200);

    let config = server.get("/v2/models/risk/config").json();
    assert_eq!(config["batching"]["max_batch"].as_u64(), Some(64));
    assert_eq!(config["kind"].as_str(), Some("tabular"));
}

#[test]
fn risk_outputs_match_onnxruntime_over_http() {
    let (_registry, server) = risk_server("fixture");
    let fixture = risk_fixture();
    let reply = server.post_json(
        "/v2/models/risk/infer",
        &risk_request(fixture.rows, &fixture.features),
    );
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let json = reply.json();
    assert_eq!(json["model_name"].as_str(), Some("risk"));
    assert_eq!(json["model_version"].as_str(), Some("1"));
    assert_eq!(json["id"].as_str(), Some("req-1"));
    let output = &json["outputs"][0];
    assert_eq!(output["name"].as_str(), Some("probabilities"));
    assert_eq!(output["datatype"].as_str(), Some("FP32"));
    assert_eq!(numbers(&output["shape"]), vec![fixture.rows as f64, 2.0]);
    let got = numbers(&output["data"]);
    assert_eq!(got.len(), fixture.probabilities.len());
    for (index, (g, e)) in got.iter().zip(&fixture.probabilities).enumerate() {
        assert!((g - e).abs() <= TOLERANCE, "element {index}: {g} vs {e}");
    }
    // The stats route saw the rows run in batches no larger than the configured 64.
    let stats = server.get("/v2/models/risk/stats").json();
    let sizes: Vec<u64> = stats["recent_batches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["size"].as_u64().unwrap())
        .collect();
    assert_eq!(sizes.iter().sum::<u64>(), fixture.rows as u64, "{sizes:?}");
    assert!(sizes.iter().all(|&s| (1..=64).contains(&s)));
}

#[test]
fn nested_data_versioned_routes_and_unknown_parameters() {
    let (_registry, server) = risk_server("nested");
    let fixture = risk_fixture();
    let rows: Vec<String> = fixture.features.chunks(8).take(2).map(list).collect();
    let body = format!(
        r#"{{"parameters":{{"priority":3,"custom":{{"x":[1]}}}},"inputs":[{{"name":"features","shape":[2,8],"datatype":"FP32","parameters":{{"shared_memory_region":null}},"data":[{}]}}],"outputs":[{{"name":"probabilities"}}]}}"#,
        rows.join(",")
    );
    let reply = server.post_json("/v2/models/risk/versions/1/infer", &body);
    assert_eq!(reply.status, 200, "{}", reply.text());
    let got = numbers(&reply.json()["outputs"][0]["data"]);
    for (g, e) in got.iter().zip(&fixture.probabilities[..4]) {
        assert!((g - e).abs() <= TOLERANCE);
    }
    assert!(reply.json().get("id").is_none());
}

#[test]
fn binary_tensors_in_and_out() {
    let (_registry, server) = risk_server("binary");
    let fixture = risk_fixture();
    let rows = 3;
    let header = format!(
        r#"{{"inputs":[{{"name":"features","shape":[{rows},8],"datatype":"FP32","parameters":{{"binary_data_size":{}}}}}],"outputs":[{{"name":"probabilities","parameters":{{"binary_data":true}}}}]}}"#,
        rows * 8 * 4
    );
    let mut body = header.as_bytes().to_vec();
    for value in &fixture.features[..rows * 8] {
        body.extend_from_slice(&(*value as f32).to_le_bytes());
    }
    let length = header.len().to_string();
    let reply = server.request(
        "POST",
        "/v2/models/risk/infer",
        &[("inference-header-content-length", &length)],
        &body,
    );
    assert_eq!(reply.status, 200, "{}", reply.text());
    let json_length: usize = reply
        .header("inference-header-content-length")
        .unwrap()
        .parse()
        .unwrap();
    let json: sonic_rs::Value = sonic_rs::from_slice(&reply.body[..json_length]).unwrap();
    let output = &json["outputs"][0];
    assert_eq!(
        output["parameters"]["binary_data_size"].as_u64(),
        Some((rows * 2 * 4) as u64)
    );
    assert!(output.get("data").is_none());
    let tail = &reply.body[json_length..];
    assert_eq!(tail.len(), rows * 2 * 4);
    for (index, chunk) in tail.chunks_exact(4).enumerate() {
        let got = f32::from_le_bytes(chunk.try_into().unwrap()) as f64;
        assert!((got - fixture.probabilities[index]).abs() <= TOLERANCE);
    }

    // binary_data_output for every output, JSON input.
    let json_in = risk_request(1, &fixture.features[..8]).replace(
        r#"{"id":"req-1","#,
        r#"{"parameters":{"binary_data_output":true},"#,
    );
    let reply = server.post_json("/v2/models/risk/infer", &json_in);
    assert_eq!(reply.status, 200, "{}", reply.text());
    let json_length: usize = reply
        .header("inference-header-content-length")
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(reply.body.len() - json_length, 8);
}

#[test]
fn error_shapes_and_statuses() {
    let (_registry, server) = risk_server("errors");
    let good = risk_request(1, &[0.0; 8]);
    let cases: Vec<(&str, String, u16, &str)> = vec![
        ("/v2/models/nope/infer", good.clone(), 404, "unknown model"),
        (
            "/v2/models/risk/versions/2/infer",
            good.clone(),
            404,
            "no version",
        ),
        (
            "/v2/models/risk/versions/x/infer",
            good.clone(),
            404,
            "no version",
        ),
        (
            "/v2/models/risk/infer",
            "{\"inputs\": [".to_owned(),
            400,
            "malformed",
        ),
        ("/v2/models/risk/infer", "[]".to_owned(), 400, "malformed"),
        (
            "/v2/models/risk/infer",
            good.replace("[1,8]", "[1,4]"),
            400,
            "4 elements",
        ),
        (
            "/v2/models/risk/infer",
            risk_request(2, &[0.0; 8]).replace("[2,8]", "[2,4]"),
            400,
            "has shape [2, 4]",
        ),
        (
            "/v2/models/risk/infer",
            good.replace("FP32", "FP64"),
            400,
            "is FP64, the model takes FP32",
        ),
        (
            "/v2/models/risk/infer",
            good.replace("FP32", "FP16"),
            400,
            "not supported",
        ),
        (
            "/v2/models/risk/infer",
            good.replace("FP32", "REAL"),
            400,
            "unknown datatype",
        ),
        (
            "/v2/models/risk/infer",
            good.replace("\"features\"", "\"other\""),
            400,
            "\\\"features\\\" is missing",
        ),
        (
            "/v2/models/risk/infer",
            good.replace("]}]}", "]}],\"outputs\":[{\"name\":\"label\"}]}"),
            400,
            "no output \\\"label\\\"",
        ),
        (
            "/v2/models/risk/infer",
            good.replace("[1,8]", "[0,8]")
                .replace("[0,0,0,0,0,0,0,0]", "[]"),
            400,
            "1 to 1024 rows",
        ),
    ];
    for (path, body, status, expected) in cases {
        let reply = server.post_json(path, &body);
        assert_eq!(reply.status, status, "{path} {body}: {}", reply.text());
        let message = reply.error();
        let shown = sonic_rs::to_string(&message).unwrap();
        assert!(shown.contains(expected), "{path} {body}: {shown}");
    }
    // kiln's own 404 and 405 come in the same shape.
    let missing = server.get("/v2/nothing/here");
    assert_eq!(missing.status, 404);
    missing.error();
    let wrong_method = server.get("/v2/models/risk/infer");
    assert_eq!(wrong_method.status, 405);
    wrong_method.error();
    let unknown = server.get("/v2/models/nope");
    assert_eq!(
        (unknown.status, unknown.error().contains("unknown model")),
        (404, true)
    );
    assert_eq!(server.get("/v2/models/nope/ready").status, 404);
    assert_eq!(server.get("/v2/models/risk/versions/9/ready").status, 404);
}
