//! Documents and search through real sockets with MiniLM: adding texts, exact search, the
//! switch to HNSW at the `--hnsw-threshold-docs` setting, opening a result (recorded as
//! passive feedback), every bad input and request limit with its 400 and reason, and the
//! `load-corpus` and `recall` commands. Skipped, with the reason printed, when
//! `fetch-models` has not run (CI runs it first).

use crate::support::{Registry, Server, minilm_fetched};
use inference::limits::{
    DOCUMENT_BYTES_MAX, DOCUMENTS_PER_REQUEST_MAX, QUERY_BYTES_MAX, SEARCH_RESULTS_MAX,
};
use sonic_rs::{JsonContainerTrait, JsonValueTrait};
use std::process::Command;

fn texts(texts: &[&str]) -> String {
    sonic_rs::to_string(&sonic_rs::json!({ "texts": texts })).unwrap()
}

fn search(server: &Server, query: &str, k: usize) -> sonic_rs::Value {
    let body = sonic_rs::to_string(&sonic_rs::json!({"query": query, "k": k})).unwrap();
    let reply = server.post_json("/v1/search", &body);
    assert_eq!(reply.status, 200, "{}", reply.text());
    reply.json()
}

fn added_ids(added: &sonic_rs::Value) -> Vec<i64> {
    added["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|id| id.as_i64().unwrap())
        .collect()
}

fn ids(found: &sonic_rs::Value) -> Vec<i64> {
    found["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|hit| hit["id"].as_i64().unwrap())
        .collect()
}

#[test]
fn documents_search_and_open_round_trip() {
    if !minilm_fetched("documents_search_and_open_round_trip") {
        return;
    }
    let registry = Registry::new("retrieval").with_text_model("minilm");
    let server = Server::start_with(&registry, &["--hnsw-threshold-docs", "10"]);

    let empty = search(&server, "anything at all", 5);
    assert_eq!(empty["results"].as_array().unwrap().len(), 0);
    assert!(empty["search_id"].is_null());

    let first = server.post_json(
        "/v1/documents",
        &texts(&[
            "The chef simmers a pot of lentil soup for dinner.",
            "My grandmother bakes fresh bread in the kitchen.",
            "Heavy rain and thunderstorms are expected tonight.",
            "The compiler rejects the unsafe pointer in the build.",
        ]),
    );
    assert_eq!(first.status, 200, "{}", first.text());
    let added = first.json();
    assert_eq!(added["ids"].as_array().unwrap().len(), 4);
    assert_eq!(added["method"].as_str(), Some("exact"));
    assert_eq!(added["model"].as_str(), Some("minilm"));

    let found = search(&server, "what should I cook for supper", 3);
    assert_eq!(found["method"].as_str(), Some("exact"));
    let cooking = &added_ids(&added)[..2];
    assert!(cooking.contains(&ids(&found)[0]), "{found}");
    let scores: Vec<f64> = found["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|hit| hit["score"].as_f64().unwrap())
        .collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
    assert!(scores[0] > 0.2 && scores[0] <= 1.0001, "{scores:?}");

    // Past the threshold (10 documents): the HNSW index answers.
    let more = server.post_json(
        "/v1/documents",
        &texts(&[
            "A cold front brings snow to the mountains this weekend.",
            "The forecast warns about strong winds along the coast.",
            "Our database server crashes under heavy load.",
            "The striker misses a late penalty in the final minute.",
            "The gardener prunes the apple trees in early spring.",
            "The violinist rehearses a slow blues in an empty hall.",
        ]),
    );
    assert_eq!(more.status, 200, "{}", more.text());
    assert_eq!(more.json()["method"].as_str(), Some("hnsw"));
    assert_eq!(more.json()["documents"].as_u64(), Some(10));
    let weather = search(&server, "storm and rain in the weather forecast", 3);
    assert_eq!(weather["method"].as_str(), Some("hnsw"));
    let weather_ids = [
        added_ids(&added)[2],
        added_ids(&more.json())[0],
        added_ids(&more.json())[1],
    ];
    assert!(weather_ids.contains(&ids(&weather)[0]), "{weather}");

    // Opening a result: recorded, and passive approval of MiniLM's version.
    let search_id = weather["search_id"].as_i64().unwrap();
    let opened_id = ids(&weather)[1];
    let open = server.post_json(
        &format!("/v1/search/{search_id}/open"),
        &format!(r#"{{"document": {opened_id}}}"#),
    );
    assert_eq!(open.status, 200, "{}", open.text());
    assert_eq!(open.json()["rank"].as_u64(), Some(1));
    let export = server.get("/v1/feedback.jsonl").text();
    assert!(
        export.contains(r#""model":"minilm""#) && export.contains(r#""source":"passive""#),
        "{export}"
    );
    // Opening it again answers the same rank but is not counted again.
    let again = server.post_json(
        &format!("/v1/search/{search_id}/open"),
        &format!(r#"{{"document": {opened_id}}}"#),
    );
    assert_eq!(again.status, 200, "{}", again.text());
    assert_eq!(again.json()["rank"].as_u64(), Some(1));
    let passive = |export: &str| export.matches(r#""source":"passive""#).count();
    assert_eq!(
        passive(&server.get("/v1/feedback.jsonl").text()),
        passive(&export)
    );
    let not_a_result = server.post_json(
        &format!("/v1/search/{search_id}/open"),
        r#"{"document": 999999}"#,
    );
    assert_eq!(not_a_result.status, 400);
    assert!(
        not_a_result.error().contains("not a result"),
        "{}",
        not_a_result.text()
    );
    let unknown = server.post_json("/v1/search/987654/open", r#"{"document": 1}"#);
    assert_eq!(unknown.status, 404);
    assert_eq!(
        server
            .post_json("/v1/search/abc/open", r#"{"document": 1}"#)
            .status,
        400
    );

    // Bad input and the request limits.
    let long_query = "q".repeat(QUERY_BYTES_MAX + 1);
    let long_text = "d".repeat(DOCUMENT_BYTES_MAX + 1);
    let many: Vec<&str> = vec!["a text"; DOCUMENTS_PER_REQUEST_MAX + 1];
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "/v1/search",
            r#"{"query": "x", "k": 0}"#.into(),
            "k must be 1 to 100",
        ),
        (
            "/v1/search",
            format!(r#"{{"query": "x", "k": {}}}"#, SEARCH_RESULTS_MAX + 1),
            "k must be 1 to 100",
        ),
        ("/v1/search", r#"{"query": " "}"#.into(), "1 to 1024 bytes"),
        (
            "/v1/search",
            format!(r#"{{"query": "{long_query}"}}"#),
            "1 to 1024 bytes",
        ),
        (
            "/v1/search",
            r#"{"query": "x", "top": 3}"#.into(),
            "malformed search request",
        ),
        ("/v1/documents", texts(&[]), "1 to 64 documents"),
        ("/v1/documents", texts(&many), "1 to 64 documents"),
        (
            "/v1/documents",
            texts(&["fine", &long_text]),
            "document 1 is longer than 2048",
        ),
        ("/v1/documents", "{".into(), "malformed documents request"),
    ];
    for (path, body, reason) in cases {
        let reply = server.post_json(path, &body);
        assert_eq!(reply.status, 400, "{path} {}", reply.text());
        assert!(reply.error().contains(reason), "{path}: {}", reply.text());
    }
}

fn run(args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_inference"))
        .args(args)
        .output()
        .expect("the inference binary runs");
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn load_corpus_then_search_it_and_measure_recall() {
    if !minilm_fetched("load_corpus_then_search_it_and_measure_recall") {
        return;
    }
    let registry = Registry::new("corpus").with_text_model("minilm");
    let models = registry.path().to_str().unwrap().to_owned();
    let db = registry.path().join("store.sqlite");
    let db = db.to_str().unwrap();
    let loaded = run(&[
        "load-corpus",
        "--models",
        &models,
        "--db",
        db,
        "--limit",
        "24",
    ]);
    assert_eq!(loaded.trim(), "added 24 documents; the store holds 24");
    let again = run(&[
        "load-corpus",
        "--models",
        &models,
        "--db",
        db,
        "--limit",
        "24",
    ]);
    assert_eq!(again.trim(), "added 0 documents; the store holds 24");

    // A stored text as the query finds itself first, with its topic.
    let corpus = inference::domain::corpus::demo_corpus().unwrap();
    let (topic, text) = &corpus[1];
    // Restarted on a store past the threshold: the graph is built at start.
    let server = Server::start_with(&registry, &["--hnsw-threshold-docs", "10"]);
    let found = search(&server, text, 2);
    assert_eq!(found["method"].as_str(), Some("hnsw"), "{found}");
    let top = &found["results"][0];
    assert_eq!(top["text"].as_str(), Some(text.as_str()), "{found}");
    assert_eq!(top["topic"].as_str(), Some(topic.as_str()), "{found}");
    assert!(top["score"].as_f64().unwrap() > 0.999, "{found}");
    drop(server);

    // A debug build of the HNSW crate is slow: small sets here, the figures come from the
    // release build (README).
    let table = run(&[
        "recall",
        "--db",
        db,
        "--queries",
        "10",
        "--synthetic",
        "100",
    ]);
    let rows: Vec<&str> = table
        .lines()
        .filter(|l| l.starts_with("| stored") || l.starts_with("| seeded"))
        .collect();
    assert_eq!(rows.len(), 3, "{table}");
    for row in rows {
        let recall: f64 = row.split('|').nth(5).unwrap().trim().parse().unwrap();
        assert!(recall >= 0.9, "{row}");
    }
}
