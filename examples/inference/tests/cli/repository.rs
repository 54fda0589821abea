//! The model repository extension through real sockets: the index with ready, unavailable
//! and unloaded models; unload then load at run time; a model whose file is missing is
//! logged at start, listed with its reason, answers 503, and the others still serve; so
//! does a model on onnxruntime in a build without the `ort` feature.

use crate::support::{Registry, Server};
use sonic_rs::{JsonContainerTrait, JsonValueTrait};

fn states(server: &Server, body: &str) -> Vec<(String, String)> {
    let reply = server.post_json("/v2/repository/index", body);
    assert_eq!(reply.status, 200, "{}", reply.text());
    reply
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["name"].as_str().unwrap().to_owned(),
                e["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn index_load_unload_and_a_missing_model_file() {
    let registry = Registry::new("repository")
        .with_risk(|c| c)
        .with_risk_named("risk-b", |c| c);
    // A model whose file is missing: its version directory is empty.
    std::fs::remove_file(registry.path().join("risk-b/1/model.onnx")).unwrap();
    let server = Server::start(&registry);
    assert!(
        server.log.iter().any(|line| line.contains("model not loaded") && line.contains("model.onnx is missing")),
        "{:#?}",
        server.log
    );

    let pairs = |list: &[(&str, &str)]| -> Vec<(String, String)> {
        list.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    };
    assert_eq!(
        states(&server, ""),
        pairs(&[("risk", "READY"), ("risk-b", "UNAVAILABLE")])
    );
    assert_eq!(
        states(&server, r#"{"ready": true}"#),
        pairs(&[("risk", "READY")])
    );
    let index = server.post_json("/v2/repository/index", "").json();
    assert!(
        index[1]["reason"]
            .as_str()
            .unwrap()
            .contains("fetch-models"),
        "{index}"
    );
    assert_eq!(index[0]["version"].as_str(), Some("1"));

    let not_ready = server.get("/v2/models/risk-b/ready");
    assert_eq!(not_ready.status, 503);
    assert!(not_ready.error().contains("not ready"));
    let body = r#"{"inputs":[{"name":"features","shape":[1,8],"datatype":"FP32","data":[0,0,0,0,0,0,0,0]}]}"#;
    assert_eq!(
        server.post_json("/v2/models/risk-b/infer", body).status,
        503
    );
    assert_eq!(server.post_json("/v2/models/risk/infer", body).status, 200);

    // Unload: 404 for new requests, listed as UNLOADED; load again: serves.
    assert_eq!(
        server
            .post_json("/v2/repository/models/risk/unload", "")
            .status,
        200
    );
    assert_eq!(server.post_json("/v2/models/risk/infer", body).status, 404);
    assert_eq!(
        states(&server, "")[0],
        ("risk".to_owned(), "UNLOADED".to_owned())
    );
    assert_eq!(
        server
            .post_json("/v2/repository/models/risk/load", "")
            .status,
        200
    );
    assert_eq!(server.post_json("/v2/models/risk/infer", body).status, 200);

    // The missing file arrives: load picks it up.
    std::os::unix::fs::symlink(
        crate::support::committed_models().join("risk/1/model.onnx"),
        registry.path().join("risk-b/1/model.onnx"),
    )
    .unwrap();
    assert_eq!(
        server
            .post_json("/v2/repository/models/risk-b/load", "")
            .status,
        200
    );
    assert_eq!(
        server.post_json("/v2/models/risk-b/infer", body).status,
        200
    );

    let unknown = server.post_json("/v2/repository/models/nope/load", "");
    assert_eq!(
        (unknown.status, unknown.error().contains("unknown model")),
        (404, true)
    );
    assert_eq!(
        server
            .post_json("/v2/repository/models/nope/unload", "")
            .status,
        404
    );
    assert_eq!(
        server
            .post_json("/v2/repository/models/..%2Fetc/load", "")
            .status,
        404
    );
    assert_eq!(server.post_json("/v2/repository/index", "{").status, 400);
}

#[test]
fn an_empty_registry_is_not_ready() {
    let registry = Registry::new("empty");
    let server = Server::start(&registry);
    let ready = server.get("/v2/health/ready");
    assert_eq!(
        (ready.status, ready.json()["ready"].as_bool()),
        (503, Some(false))
    );
    assert_eq!(server.get("/v2/health/live").status, 200);
}

#[cfg(not(feature = "ort"))]
#[test]
fn a_model_on_onnxruntime_without_the_feature_is_unavailable_and_the_others_serve() {
    let registry = Registry::new("repository-no-ort")
        .with_risk(|c| c.replace("\"engine\": \"tract\"", "\"engine\": \"onnxruntime\""))
        .with_risk_named("risk-b", |c| c);
    let server = Server::start(&registry);
    let index = server.post_json("/v2/repository/index", "{}").json();
    let entries = index.as_array().unwrap();
    let risk = entries
        .iter()
        .find(|e| e["name"].as_str() == Some("risk"))
        .unwrap();
    assert_eq!(risk["state"].as_str(), Some("UNAVAILABLE"));
    let reason = risk["reason"].as_str().unwrap();
    assert!(
        reason.contains("built without the `ort` feature: rebuild with --features ort"),
        "{reason}"
    );
    let other = entries
        .iter()
        .find(|e| e["name"].as_str() == Some("risk-b"))
        .unwrap();
    assert_eq!(other["state"].as_str(), Some("READY"));
    assert_eq!(server.get("/v2/models/risk/ready").status, 503);
    let body = r#"{"inputs":[{"name":"features","shape":[1,8],"datatype":"FP32","data":[950,3,5,12,6,800,1,0]}]}"#;
    assert_eq!(
        server.post_json("/v2/models/risk-b/infer", body).status,
        200
    );
}
