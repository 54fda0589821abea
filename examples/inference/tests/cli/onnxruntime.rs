//! The onnxruntime engine through the binary (only with the `ort` feature): the risk model
//! served on onnxruntime, chosen by `config.json` and by `--engine`, answering with
//! onnxruntime's fixture over HTTP; a missing library leaving that model unavailable with
//! the reason while a tract model serves; `inference bench` timing both engines. The
//! library comes from `ORT_DYLIB_PATH`: without it the tests print why they skip (under
//! `CI` they fail).

use crate::support::{Registry, Server, list, numbers, risk_fixture, skip_or_fail};
use sonic_rs::{JsonContainerTrait, JsonValueTrait};
use std::path::PathBuf;
use std::process::Command;

/// Tolerance against onnxruntime's fixture (absolute, on probabilities): the same library
/// ran the fixture.
const TOLERANCE: f64 = 1e-5;

/// The library `ORT_DYLIB_PATH` names, or `None` (the reason printed; a failure under CI).
fn ort_library(test: &str) -> Option<PathBuf> {
    let path = std::env::var_os("ORT_DYLIB_PATH").map(PathBuf::from);
    if path.as_ref().is_some_and(|path| path.is_file()) {
        return path;
    }
    skip_or_fail(&format!(
        "{test}: ORT_DYLIB_PATH does not name the onnxruntime wheel's libonnxruntime.so.*"
    ));
    None
}

fn on_onnxruntime(config: String) -> String {
    config.replace("\"engine\": \"tract\"", "\"engine\": \"onnxruntime\"")
}

/// Sends the fixture's rows to `model` and checks the answer against onnxruntime's.
fn fixture_matches(server: &Server, model: &str) {
    let fixture = risk_fixture();
    let body = format!(
        r#"{{"inputs":[{{"name":"features","shape":[{},8],"datatype":"FP32","data":{}}}]}}"#,
        fixture.rows,
        list(&fixture.features)
    );
    let reply = server.post_json(&format!("/v2/models/{model}/infer"), &body);
    assert_eq!(reply.status, 200, "{}", reply.text());
    let got = numbers(&reply.json()["outputs"][0]["data"]);
    assert_eq!(got.len(), fixture.probabilities.len());
    for (index, (g, e)) in got.iter().zip(&fixture.probabilities).enumerate() {
        assert!((g - e).abs() <= TOLERANCE, "element {index}: {g} vs {e}");
    }
}

#[test]
fn a_model_configured_for_onnxruntime_serves_the_fixture() {
    if ort_library("a_model_configured_for_onnxruntime_serves_the_fixture").is_none() {
        return;
    }
    let registry = Registry::new("ort-config").with_risk(on_onnxruntime);
    let server = Server::start(&registry);
    fixture_matches(&server, "risk");
    let metadata = server.get("/v2/models/risk").json();
    assert_eq!(metadata["platform"].as_str(), Some("onnxruntime_onnx"));
    let config = server.get("/v2/models/risk/config").json();
    assert_eq!(config["engine"].as_str(), Some("onnxruntime"));
}

#[test]
fn the_engine_flag_moves_a_tract_model_and_the_library_flag_replaces_the_variable() {
    let Some(library) = ort_library("the_engine_flag_moves_a_tract_model") else {
        return;
    };
    let registry = Registry::new("ort-flag").with_risk(|config| config);
    let library = library.to_string_lossy().into_owned();
    let server = Server::start_without_env(
        &registry,
        &["--engine", "onnxruntime", "--ort-library", &library],
        &["ORT_DYLIB_PATH"],
    );
    fixture_matches(&server, "risk");
    let metadata = server.get("/v2/models/risk").json();
    assert_eq!(metadata["platform"].as_str(), Some("onnxruntime_onnx"));
    // The loaded config says which engine runs it, not what the file said.
    let config = server.get("/v2/models/risk/config").json();
    assert_eq!(config["engine"].as_str(), Some("onnxruntime"));
}

#[test]
fn without_a_library_the_onnxruntime_model_is_unavailable_and_tract_serves() {
    let registry = Registry::new("ort-missing")
        .with_risk(on_onnxruntime)
        .with_risk_named("risk-tract", |config| config);
    let server = Server::start_without_env(&registry, &[], &["ORT_DYLIB_PATH"]);
    let index = server.post_json("/v2/repository/index", "{}").json();
    let entry = |name: &str| {
        index
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"].as_str() == Some(name))
            .unwrap_or_else(|| panic!("{name} not in {index}"))
            .clone()
    };
    assert_eq!(entry("risk")["state"].as_str(), Some("UNAVAILABLE"));
    let reason = entry("risk")["reason"].as_str().unwrap().to_owned();
    assert!(
        reason.contains("--ort-library") && reason.contains("ORT_DYLIB_PATH"),
        "{reason}"
    );
    assert_eq!(entry("risk-tract")["state"].as_str(), Some("READY"));
    assert_eq!(server.post_json("/v2/models/risk/infer", "{}").status, 503);
    fixture_matches(&server, "risk-tract");
    drop(server);

    // A library path that is not there: the same, naming it.
    let server = Server::start_without_env(
        &registry,
        &["--ort-library", "/nonexistent/libonnxruntime.so.1.32.0"],
        &["ORT_DYLIB_PATH"],
    );
    let index = server.post_json("/v2/repository/index", "{}").json();
    let risk = index
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"].as_str() == Some("risk"))
        .unwrap()
        .clone();
    let reason = risk["reason"].as_str().unwrap();
    assert!(
        reason.contains("/nonexistent/libonnxruntime.so.1.32.0"),
        "{reason}"
    );
}

#[test]
fn bench_times_both_engines() {
    if ort_library("bench_times_both_engines").is_none() {
        return;
    }
    let registry = Registry::new("ort-bench").with_risk(|config| config);
    let output = Command::new(env!("CARGO_BIN_EXE_inference"))
        .args([
            "bench",
            "--iterations",
            "3",
            "--engine",
            "tract,onnxruntime",
        ])
        .arg("--models")
        .arg(registry.path())
        .output()
        .expect("the inference binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let rows: Vec<(String, String)> = stdout
        .lines()
        .filter(|line| line.starts_with("| risk |"))
        .map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            assert!(cells[4].parse::<u64>().is_ok(), "{stdout}");
            (cells[2].to_owned(), cells[3].to_owned())
        })
        .collect();
    let expected: Vec<(String, String)> = ["tract", "onnxruntime"]
        .iter()
        .flat_map(|engine| ["1", "8", "32"].map(|b| (engine.to_string(), b.to_owned())))
        .collect();
    assert_eq!(rows, expected, "{stdout}");
}
