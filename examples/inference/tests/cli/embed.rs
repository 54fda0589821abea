//! MiniLM through real sockets: `/v1/embed` and the KServe route with BYTES texts give
//! onnxruntime's embeddings, texts are batched by padded-length bucket (seen through
//! `/stats`), and the text limits answer 400. Skipped, with the reason printed, when
//! `fetch-models` has not run (CI runs it first).

use crate::support::{Registry, Server, manifest_dir, minilm_fetched, numbers};
use inference::limits::{TEXT_BYTES_MAX, TEXTS_PER_REQUEST_MAX};
use sonic_rs::{JsonContainerTrait, JsonValueTrait};

/// Largest absolute difference allowed per component of the unit vectors (see
/// `service/tests.rs`).
const TOLERANCE: f64 = 1e-5;

fn reference() -> Vec<(String, Vec<f64>)> {
    let text = std::fs::read(manifest_dir().join("tests/fixtures/minilm_reference.json")).unwrap();
    let value: sonic_rs::Value = sonic_rs::from_slice(&text).unwrap();
    value["sentences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["text"].as_str().unwrap().to_owned(),
                numbers(&s["embedding"]),
            )
        })
        .collect()
}

fn close(got: &[f64], expected: &[f64]) -> bool {
    got.len() == expected.len()
        && got
            .iter()
            .zip(expected)
            .all(|(g, e)| (g - e).abs() <= TOLERANCE)
}

#[test]
fn minilm_embeds_groups_by_length_and_enforces_text_limits() {
    if !minilm_fetched("minilm_embeds_groups_by_length_and_enforces_text_limits") {
        return;
    }
    let registry = Registry::new("embed")
        .with_text_model("minilm")
        .with_risk(|c| c);
    let server = Server::start(&registry);
    let sentences = reference();
    // The sentences of 16 tokens or fewer (bucket 16): the first plan, already built.
    let short: Vec<&(String, Vec<f64>)> = sentences.iter().filter(|(t, _)| t.len() < 30).collect();
    let texts: Vec<&str> = short.iter().map(|(t, _)| t.as_str()).collect();
    let body = sonic_rs::to_string(&sonic_rs::json!({"texts": texts})).unwrap();
    let reply = server.post_json("/v1/embed", &body);
    assert_eq!(reply.status, 200, "{}", reply.text());
    let json = reply.json();
    assert_eq!(json["model"].as_str(), Some("minilm"));
    assert_eq!(json["dimensions"].as_u64(), Some(384));
    for (index, (text, expected)) in short.iter().enumerate() {
        let got = numbers(&json["embeddings"][index]);
        assert!(close(&got, expected), "{text:?}");
    }

    // KServe: one BYTES input, the embedding output.
    let kserve = format!(
        r#"{{"inputs":[{{"name":"text","shape":[1],"datatype":"BYTES","data":[{}]}}]}}"#,
        sonic_rs::to_string(&short[0].0).unwrap()
    );
    let reply = server.post_json("/v2/models/minilm/infer", &kserve);
    assert_eq!(reply.status, 200, "{}", reply.text());
    let output = &reply.json()["outputs"][0];
    assert_eq!(output["name"].as_str(), Some("embedding"));
    assert_eq!(numbers(&output["shape"]), vec![1.0, 384.0]);
    assert!(close(&numbers(&output["data"]), &short[0].1));

    // Mixed lengths in one request: short texts (bucket 16) and 20-30 token texts (bucket
    // 32) never share a batch.
    let mut mixed: Vec<String> = (0..6).map(|i| format!("short text number {i}")).collect();
    mixed.extend((0..6).map(|i| {
        format!(
            "{} {i}",
            "a somewhat longer sentence with many words".repeat(3)
        )
    }));
    let body = sonic_rs::to_string(&sonic_rs::json!({"texts": mixed})).unwrap();
    let reply = server.post_json("/v1/embed", &body);
    assert_eq!(reply.status, 200, "{}", reply.text());
    let stats = server.get("/v2/models/minilm/stats").json();
    let batches = stats["recent_batches"].as_array().unwrap();
    let buckets: Vec<u64> = batches
        .iter()
        .map(|b| b["bucket"].as_u64().unwrap())
        .collect();
    for batch in batches.iter() {
        let (min, max, bucket) = (
            batch["tokens_min"].as_u64().unwrap(),
            batch["tokens_max"].as_u64().unwrap(),
            batch["bucket"].as_u64().unwrap(),
        );
        let bucket_of = |t: u64| {
            [16u64, 32, 64, 128, 256]
                .into_iter()
                .find(|&b| t <= b)
                .unwrap()
        };
        assert_eq!(
            (bucket_of(min), bucket_of(max)),
            (bucket, bucket),
            "{batch}"
        );
    }
    assert!(
        buckets.contains(&16) && buckets.contains(&32),
        "{buckets:?}"
    );

    // Text limits.
    let many = vec!["x"; TEXTS_PER_REQUEST_MAX + 1];
    let reply = server.post_json(
        "/v1/embed",
        &sonic_rs::to_string(&sonic_rs::json!({"texts": many})).unwrap(),
    );
    assert_eq!(reply.status, 400);
    assert!(reply.error().contains("1 to 64 texts"), "{}", reply.text());
    let long = "x".repeat(TEXT_BYTES_MAX + 1);
    let reply = server.post_json(
        "/v1/embed",
        &sonic_rs::to_string(&sonic_rs::json!({"texts": [long]})).unwrap(),
    );
    assert_eq!(reply.status, 400);
    assert!(
        reply.error().contains("longer than 8192 bytes"),
        "{}",
        reply.text()
    );
    // 8 KiB in all: over TOKENIZE_INLINE_BYTES_MAX, so tokenized on the blocking pool.
    let at_limit = "x ".repeat(TEXT_BYTES_MAX / 2);
    let reply = server.post_json(
        "/v1/embed",
        &sonic_rs::to_string(&sonic_rs::json!({"texts": [at_limit]})).unwrap(),
    );
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(
        server.post_json("/v1/embed", r#"{"texts": []}"#).status,
        400
    );
    assert_eq!(
        server.post_json("/v1/embed", r#"{"texts": "one"}"#).status,
        400
    );
    assert_eq!(
        server
            .post_json("/v1/embed", r#"{"texts": ["a"], "model": "risk"}"#)
            .status,
        400
    );
    assert_eq!(
        server
            .post_json("/v1/embed", r#"{"texts": ["a"], "model": "nope"}"#)
            .status,
        404
    );
    let wrong = kserve.replace("BYTES", "FP32");
    assert_eq!(
        server.post_json("/v2/models/minilm/infer", &wrong).status,
        400
    );
}
