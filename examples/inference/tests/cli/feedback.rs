//! Feedback, recalibration and traffic splits through real sockets, on the committed risk
//! model (no fetched files needed): thresholded decisions, thumbs up and down, the JSONL
//! export in pages, approval per version, recalibrating the threshold (and `decide` using
//! it), a fixed split and an Exp3 split that moves traffic to the better-rated version
//! (and resumes after a restart), and each bad input and limit with its 4xx and reason.

use crate::support::{Registry, Reply, Server, list, risk_fixture};
use inference::limits::{
    FEEDBACK_EXPORT_ROWS_MAX, FEEDBACK_SUBJECT_BYTES_MAX, RECALIBRATION_SAMPLES_MIN,
    ROWS_PER_REQUEST_MAX,
};
use sonic_rs::{JsonContainerTrait, JsonValueTrait};

/// Adds `split` (JSON) to a config's text.
fn with_split(config: String, split: &str) -> String {
    let end = config.rfind('}').expect("a JSON object");
    format!("{}, \"split\": {split}\n}}\n", config[..end].trim_end())
}

/// The risk model with versions 1 and 2 (the same file) and `split` in its config.
fn two_versions(name: &str, split: &str) -> Registry {
    let split = split.to_owned();
    let registry = Registry::new(name).with_risk(move |c| with_split(c, &split));
    let model = registry.path().join("risk");
    std::fs::create_dir_all(model.join("2")).unwrap();
    std::os::unix::fs::symlink(
        crate::support::committed_models().join("risk/1/model.onnx"),
        model.join("2/model.onnx"),
    )
    .unwrap();
    registry
}

fn feedback(server: &Server, version: u64, subject: &str, label: &str, extra: &str) -> Reply {
    server.post_json(
        "/v1/feedback",
        &format!(
            r#"{{"model":"risk","version":{version},"subject":"{subject}","label":"{label}"{extra}}}"#
        ),
    )
}

fn rows_json(features: &[f64], rows: usize) -> String {
    let rows: Vec<String> = features.chunks(8).take(rows).map(list).collect();
    format!(r#"{{"features":[{}]}}"#, rows.join(","))
}

fn jsonl(reply: &Reply) -> Vec<sonic_rs::Value> {
    reply
        .text()
        .lines()
        .map(|line| sonic_rs::from_str(line).expect("a JSON line"))
        .collect()
}

#[test]
fn decisions_feedback_export_and_approval_round_trip() {
    let registry = Registry::new("feedback").with_risk(|c| c);
    let server = Server::start(&registry);
    let fixture = risk_fixture();

    let reply = server.post_json("/v1/models/risk/decide", &rows_json(&fixture.features, 4));
    assert_eq!(reply.status, 200, "{}", reply.text());
    let decided = reply.json();
    assert_eq!(decided["threshold"].as_f64(), Some(0.5));
    assert_eq!(decided["model_version"].as_u64(), Some(1));
    let decisions = decided["decisions"].as_array().unwrap();
    assert_eq!(decisions.len(), 4);
    for (index, decision) in decisions.iter().enumerate() {
        let score = decision["score"].as_f64().unwrap();
        assert!((score - fixture.probabilities[index * 2 + 1]).abs() < 1e-5);
        assert_eq!(decision["positive"].as_bool(), Some(score >= 0.5));
        assert_eq!(decision["subject"].as_str().unwrap().len(), 32);
    }
    let subject = decisions[0]["subject"].as_str().unwrap().to_owned();

    for (label, extra) in [
        ("up", ""),
        ("down", r#","score":0.7,"predicted":true"#),
        ("up", ""),
    ] {
        let reply = feedback(&server, 1, &subject, label, extra);
        assert_eq!(reply.status, 200, "{}", reply.text());
        assert!(reply.json()["id"].as_i64().unwrap() > 0);
    }

    // The export, whole and in pages.
    let all = server.get("/v1/feedback.jsonl");
    assert_eq!(all.status, 200);
    assert_eq!(all.header("content-type"), Some("application/x-ndjson"));
    let lines = jsonl(&all);
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[1]["label"].as_str(), Some("down"));
    assert_eq!(lines[1]["source"].as_str(), Some("active"));
    assert_eq!(lines[1]["score"].as_f64(), Some(0.7));
    assert_eq!(lines[0]["subject"].as_str(), Some(subject.as_str()));
    let first = server.get("/v1/feedback.jsonl?limit=2");
    assert_eq!(jsonl(&first).len(), 2);
    let next = first
        .header("x-next-after")
        .expect("a full page says where to go on");
    let rest = server.get(&format!("/v1/feedback.jsonl?after={next}&limit=2"));
    assert_eq!(jsonl(&rest).len(), 1);
    assert_eq!(rest.header("x-next-after"), None, "the last page");

    let approval = server.get("/v1/models/risk/approval?bucket_ms=86400000");
    assert_eq!(approval.status, 200, "{}", approval.text());
    let buckets = approval.json()["buckets"].as_array().unwrap().clone();
    assert_eq!(buckets.len(), 1);
    assert_eq!(buckets[0]["up"].as_u64(), Some(2));
    assert_eq!(buckets[0]["down"].as_u64(), Some(1));
    assert!((buckets[0]["rate"].as_f64().unwrap() - 2.0 / 3.0).abs() < 1e-9);

    let split = server.get("/v1/models/risk/split");
    assert_eq!(split.status, 200, "{}", split.text());
    let split = split.json();
    assert_eq!(split["policy"].as_str(), Some("latest"));
    assert_eq!(split["versions"][0]["share"].as_f64(), Some(1.0));
}

#[test]
fn bad_feedback_and_limits_answer_4xx_with_reasons() {
    let registry = Registry::new("feedback-bad").with_risk(|c| c);
    let server = Server::start(&registry);
    let cases: [(&str, &str, u16, &str); 8] = [
        (
            "/v1/feedback",
            r#"{"model":"risk","version":1,"subject":"s","label":"sideways"}"#,
            400,
            "label must be",
        ),
        (
            "/v1/feedback",
            r#"{"model":"risk","version":0,"subject":"s","label":"up"}"#,
            400,
            "positive integer",
        ),
        (
            "/v1/feedback",
            r#"{"model":"nope","version":1,"subject":"s","label":"up"}"#,
            404,
            "unknown model",
        ),
        (
            "/v1/feedback",
            r#"{"model":"risk","version":"9","subject":"s","label":"up"}"#,
            404,
            "no version",
        ),
        (
            "/v1/feedback",
            r#"{"model":"risk","version":1,"subject":"s","label":"up","score":2}"#,
            400,
            "score",
        ),
        (
            "/v1/feedback",
            r#"{"model":"risk","version":1,"subject":"","label":"up"}"#,
            400,
            "subject",
        ),
        (
            "/v1/feedback",
            r#"{"model":"risk""#,
            400,
            "malformed feedback",
        ),
        (
            "/v1/models/risk/decide",
            r#"{"features":[[1,2],[1]]}"#,
            400,
            "same number",
        ),
    ];
    for (path, body, status, reason) in cases {
        let reply = server.post_json(path, body);
        assert_eq!(reply.status, status, "{body}: {}", reply.text());
        assert!(reply.error().contains(reason), "{body}: {}", reply.text());
    }

    // FEEDBACK_SUBJECT_BYTES_MAX: at the limit fine, one over refused.
    let at = "s".repeat(FEEDBACK_SUBJECT_BYTES_MAX);
    assert_eq!(feedback(&server, 1, &at, "up", "").status, 200);
    let over = feedback(&server, 1, &format!("{at}s"), "up", "");
    assert_eq!(over.status, 400);
    assert!(
        over.error().contains("subject must be 1 to 128 bytes"),
        "{}",
        over.text()
    );

    // FEEDBACK_EXPORT_ROWS_MAX per page.
    let reply = server.get(&format!(
        "/v1/feedback.jsonl?limit={}",
        FEEDBACK_EXPORT_ROWS_MAX + 1
    ));
    assert_eq!(reply.status, 400);
    assert!(
        reply.error().contains("limit must be 1 to 10000"),
        "{}",
        reply.text()
    );
    assert_eq!(server.get("/v1/feedback.jsonl?limit=x").status, 400);

    // ROWS_PER_REQUEST_MAX for decisions; a model that is not a binary classifier.
    let rows = vec![vec![0.5f32; 8]; ROWS_PER_REQUEST_MAX + 1];
    let body = sonic_rs::to_string(&sonic_rs::json!({"features": rows})).unwrap();
    let reply = server.post_json("/v1/models/risk/decide", &body);
    assert_eq!(reply.status, 400);
    assert!(reply.error().contains("1 to 1024 rows"), "{}", reply.text());
    let reply = server.post_json("/v1/models/risk/decide", r#"{"features":[[1,2,3]]}"#);
    assert_eq!(reply.status, 400, "{}", reply.text());
    assert_eq!(
        server
            .post_json("/v1/models/nope/decide", r#"{"features":[[1]]}"#)
            .status,
        404
    );

    let reply = server.get("/v1/models/risk/approval?bucket_ms=0");
    assert_eq!(reply.status, 400);
    assert!(reply.error().contains("bucket_ms"), "{}", reply.text());
    assert_eq!(server.get("/v1/models/nope/split").status, 404);
}

#[test]
fn recalibration_needs_enough_feedback_then_moves_the_threshold() {
    let registry = Registry::new("recalibrate").with_risk(|c| c);
    let server = Server::start(&registry);
    // Transactions scored 0.30 and above turned out to be fraud; the model's 0.5 said
    // "legit" for those below 0.5 and was told it was wrong.
    let mut labelled = Vec::new();
    for i in 0..RECALIBRATION_SAMPLES_MIN {
        let fraud = i % 2 == 0;
        let score = if fraud {
            0.30 + i as f64 * 0.01
        } else {
            0.05 + i as f64 * 0.005
        };
        labelled.push((score, fraud));
    }
    let send = |(score, fraud): (f64, bool), index: usize| {
        let predicted = score >= 0.5;
        let label = if predicted == fraud { "up" } else { "down" };
        let extra = format!(r#","score":{score},"predicted":{predicted}"#);
        let reply = feedback(&server, 1, &format!("tx{index}"), label, &extra);
        assert_eq!(reply.status, 200, "{}", reply.text());
    };
    for (index, row) in labelled
        .iter()
        .take(RECALIBRATION_SAMPLES_MIN - 1)
        .enumerate()
    {
        send(*row, index);
    }
    // RECALIBRATION_SAMPLES_MIN: one row short.
    let short = server.post_json("/v1/models/risk/recalibrate", "");
    assert_eq!(short.status, 409, "{}", short.text());
    assert!(short.error().contains("at least 20"), "{}", short.text());

    send(
        labelled[RECALIBRATION_SAMPLES_MIN - 1],
        RECALIBRATION_SAMPLES_MIN - 1,
    );
    let reply = server.post_json("/v1/models/risk/recalibrate", "{}");
    assert_eq!(reply.status, 200, "{}", reply.text());
    let found = reply.json();
    let threshold = found["threshold"].as_f64().unwrap();
    assert!(threshold > 0.14 && threshold <= 0.30, "{}", reply.text());
    assert_eq!(found["previous_threshold"].as_f64(), Some(0.5));
    assert_eq!(found["f1"].as_f64(), Some(1.0));
    assert_eq!(found["samples"].as_u64(), Some(20));

    let fixture = risk_fixture();
    let decided = server.post_json("/v1/models/risk/decide", &rows_json(&fixture.features, 3));
    assert_eq!(decided.status, 200);
    let decided = decided.json();
    assert_eq!(decided["threshold"].as_f64(), Some(threshold));
    for decision in decided["decisions"].as_array().unwrap() {
        let score = decision["score"].as_f64().unwrap();
        assert_eq!(decision["positive"].as_bool(), Some(score >= threshold));
    }
    assert_eq!(
        server.post_json("/v1/models/risk/recalibrate", "{").status,
        400
    );
    assert_eq!(
        server.post_json("/v1/models/nope/recalibrate", "").status,
        404
    );
}

fn routed_versions(server: &Server, requests: usize) -> (usize, usize) {
    let body = r#"{"inputs":[{"name":"features","shape":[1,8],"datatype":"FP32","data":[950,3,5,12,6,800,1,0]}]}"#;
    let mut counts = (0, 0);
    for _ in 0..requests {
        let reply = server.post_json("/v2/models/risk/infer", body);
        assert_eq!(reply.status, 200, "{}", reply.text());
        match reply.json()["model_version"].as_str() {
            Some("1") => counts.0 += 1,
            Some("2") => counts.1 += 1,
            other => panic!("version {other:?}"),
        }
    }
    counts
}

fn shares(server: &Server) -> (String, Vec<(u64, f64, Option<f64>)>) {
    let reply = server.get("/v1/models/risk/split");
    assert_eq!(reply.status, 200, "{}", reply.text());
    let json = reply.json();
    let versions = json["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["version"].as_u64().unwrap(),
                v["share"].as_f64().unwrap(),
                v["approval_rate"].as_f64(),
            )
        })
        .collect();
    (json["policy"].as_str().unwrap().to_owned(), versions)
}

#[test]
fn fixed_split_routes_by_weight_and_explicit_versions_win() {
    let registry = two_versions(
        "split-fixed",
        r#"{"policy": "fixed", "versions": [1, 2], "weights": [0, 1]}"#,
    );
    let server = Server::start(&registry);
    assert_eq!(routed_versions(&server, 10), (0, 10));
    let explicit = server.post_json(
        "/v2/models/risk/versions/1/infer",
        r#"{"inputs":[{"name":"features","shape":[1,8],"datatype":"FP32","data":[1,2,3,4,5,6,7,8]}]}"#,
    );
    assert_eq!(explicit.json()["model_version"].as_str(), Some("1"));
    assert_eq!(
        shares(&server),
        ("fixed".to_owned(), vec![(1, 0.0, None), (2, 1.0, None)])
    );
    // Fixed splits do not learn.
    for i in 0..5 {
        assert_eq!(
            feedback(&server, 2, &format!("f{i}"), "down", "").status,
            200
        );
    }
    assert_eq!(shares(&server).1[1].1, 1.0);
    assert_eq!(shares(&server).1[1].2, Some(0.0));
}

#[test]
fn exp3_split_shifts_traffic_to_the_better_rated_version_and_resumes_after_restart() {
    let registry = two_versions(
        "split-exp3",
        r#"{"policy": "exp3", "versions": [1, 2], "gamma": 0.2, "seed": 3}"#,
    );
    let server = Server::start(&registry);
    let (policy, start) = shares(&server);
    assert_eq!(policy, "exp3");
    assert_eq!(start, vec![(1, 0.5, None), (2, 0.5, None)]);
    let (one, two) = routed_versions(&server, 40);
    assert!(
        one > 5 && two > 5,
        "an even split sends both some: {one} {two}"
    );

    for i in 0..30 {
        assert_eq!(feedback(&server, 2, &format!("a{i}"), "up", "").status, 200);
        assert_eq!(
            feedback(&server, 1, &format!("b{i}"), "down", "").status,
            200
        );
    }
    let (_, learned) = shares(&server);
    assert!(learned[1].1 > 0.85, "{learned:?}");
    assert_eq!((learned[0].2, learned[1].2), (Some(0.0), Some(1.0)));
    let (one, two) = routed_versions(&server, 60);
    assert!(two >= 45, "most traffic goes to version 2 now: {one} {two}");

    // The bandit is rebuilt from the stored feedback after a restart.
    drop(server);
    let server = Server::start(&registry);
    let (_, resumed) = shares(&server);
    assert!(
        (resumed[1].1 - learned[1].1).abs() < 1e-9,
        "{resumed:?} vs {learned:?}"
    );
}

#[test]
fn bad_split_configs_are_reported() {
    let registry = two_versions("split-bad", r#"{"policy": "exp3", "versions": [1]}"#);
    let server = Server::start(&registry);
    let index = server.post_json("/v2/repository/index", "");
    assert!(
        index.text().contains("split: name 2 to 8 versions"),
        "{}",
        index.text()
    );
    drop(server);

    let registry = two_versions(
        "split-missing",
        r#"{"policy": "fixed", "versions": [1, 3], "weights": [0, 1]}"#,
    );
    let server = Server::start(&registry);
    let reply = server.post_json(
        "/v2/models/risk/infer",
        r#"{"inputs":[{"name":"features","shape":[1,8],"datatype":"FP32","data":[1,2,3,4,5,6,7,8]}]}"#,
    );
    assert_eq!(reply.status, 503, "{}", reply.text());
    assert!(
        reply.error().contains("version 3, which is not loaded"),
        "{}",
        reply.text()
    );
}
