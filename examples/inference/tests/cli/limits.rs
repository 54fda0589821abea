//! Each request limit of `inference::limits` hit through HTTP (the rest, which bound
//! configs and registries, are hit by unit tests beside their rules).

use crate::support::{Registry, Server, list};
use inference::limits::{
    REQUEST_BODY_BYTES_MAX, REQUEST_TIMEOUT_MS_MAX, ROWS_PER_REQUEST_MAX, TENSOR_ELEMENTS_MAX,
    TENSORS_PER_REQUEST_MAX,
};

fn features(rows: usize) -> String {
    format!(
        r#"{{"inputs":[{{"name":"features","shape":[{rows},8],"datatype":"FP32","data":{}}}]}}"#,
        list(&vec![0.5; rows * 8])
    )
}

#[test]
fn request_limits_answer_4xx() {
    let registry = Registry::new("limits").with_risk(|config| config);
    let server = Server::start(&registry);

    // REQUEST_BODY_BYTES_MAX: one byte over is refused before the handler runs.
    let big = vec![b' '; REQUEST_BODY_BYTES_MAX + 1];
    assert_eq!(
        server
            .request("POST", "/v2/models/risk/infer", &[], &big)
            .status,
        413
    );

    // ROWS_PER_REQUEST_MAX: at the limit fine, one over refused.
    let at = server.post_json("/v2/models/risk/infer", &features(ROWS_PER_REQUEST_MAX));
    assert_eq!(at.status, 200, "{}", at.text());
    let over = server.post_json("/v2/models/risk/infer", &features(ROWS_PER_REQUEST_MAX + 1));
    assert_eq!(over.status, 400);
    assert!(over.error().contains("1 to 1024 rows"), "{}", over.text());

    // TENSOR_ELEMENTS_MAX: the shape alone is refused (no data needs to be sent).
    let shape = format!(
        r#"{{"inputs":[{{"name":"features","shape":[{},8],"datatype":"FP32","data":[0]}}]}}"#,
        TENSOR_ELEMENTS_MAX / 8 + 1
    );
    let reply = server.post_json("/v2/models/risk/infer", &shape);
    assert_eq!(reply.status, 400);
    assert!(
        reply.error().contains("more than 1048576 elements"),
        "{}",
        reply.text()
    );

    // TENSORS_PER_REQUEST_MAX inputs.
    let inputs: Vec<String> = (0..=TENSORS_PER_REQUEST_MAX)
        .map(|i| format!(r#"{{"name":"x{i}","shape":[1],"datatype":"FP32","data":[0]}}"#))
        .collect();
    let many = format!(r#"{{"inputs":[{}]}}"#, inputs.join(","));
    let reply = server.post_json("/v2/models/risk/infer", &many);
    assert_eq!(reply.status, 400);
    assert!(reply.error().contains("1 to 16 inputs"), "{}", reply.text());

    // REQUEST_TIMEOUT_MS_MAX, as a header and as the timeout parameter.
    let over_ms = (REQUEST_TIMEOUT_MS_MAX + 1).to_string();
    let reply = server.request(
        "POST",
        "/v2/models/risk/infer",
        &[("timeout-ms", &over_ms)],
        features(1).as_bytes(),
    );
    assert_eq!(reply.status, 400);
    assert!(
        reply.error().contains("at most 60000 ms"),
        "{}",
        reply.text()
    );
    let at_ms = REQUEST_TIMEOUT_MS_MAX.to_string();
    let reply = server.request(
        "POST",
        "/v2/models/risk/infer",
        &[("timeout-ms", &at_ms)],
        features(1).as_bytes(),
    );
    assert_eq!(reply.status, 200);
    let over_us = features(1).replace(
        "{\"inputs\"",
        &format!(
            "{{\"parameters\":{{\"timeout\":{}}},\"inputs\"",
            (REQUEST_TIMEOUT_MS_MAX + 1) * 1000
        ),
    );
    assert_eq!(
        server.post_json("/v2/models/risk/infer", &over_us).status,
        400
    );
    let reply = server.request(
        "POST",
        "/v2/models/risk/infer",
        &[("timeout-ms", "soon")],
        features(1).as_bytes(),
    );
    assert_eq!(reply.status, 400);
}
