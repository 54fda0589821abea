//! Batching and backpressure through real sockets: rows of concurrent requests share model
//! calls; a model whose queue is full answers 503 with `Retry-After`, and a request whose
//! timeout passes before its batch runs answers 503 too; both leave the server serving; a
//! client that disconnects while its rows wait is dropped from the batch (they never run).

use crate::support::{Registry, Server, list};
use std::io::Write;
use std::time::{Duration, Instant};

#[test]
fn a_full_queue_answers_503_with_retry_after() {
    // Two items queued at most, one per batch, no waiting: a 500-row request overflows.
    let registry = Registry::new("overload").with_risk(|config| {
        config
            .replace("\"queue_items_max\": 4096", "\"queue_items_max\": 2")
            .replace("\"max_batch\": 64", "\"max_batch\": 1")
            .replace("\"adaptive\": true", "\"adaptive\": false")
    });
    let server = Server::start(&registry);
    let rows = 500;
    let body = format!(
        r#"{{"inputs":[{{"name":"features","shape":[{rows},8],"datatype":"FP32","data":{}}}]}}"#,
        list(&vec![1.0; rows * 8])
    );
    let reply = server.post_json("/v2/models/risk/infer", &body);
    assert_eq!(reply.status, 503, "{}", reply.text());
    assert_eq!(reply.header("retry-after"), Some("1"));
    assert!(reply.error().contains("queue is full"), "{}", reply.text());
    // The server still serves a request that fits.
    let one = format!(
        r#"{{"inputs":[{{"name":"features","shape":[1,8],"datatype":"FP32","data":{}}}]}}"#,
        list(&[1.0; 8])
    );
    assert_eq!(server.post_json("/v2/models/risk/infer", &one).status, 200);
}

#[test]
fn a_passed_deadline_answers_503() {
    let registry = Registry::new("deadline").with_risk(|config| config);
    let server = Server::start(&registry);
    // One microsecond: passed before the item reaches the model.
    let body = format!(
        r#"{{"parameters":{{"timeout":1}},"inputs":[{{"name":"features","shape":[1,8],"datatype":"FP32","data":{}}}]}}"#,
        list(&[1.0; 8])
    );
    let reply = server.post_json("/v2/models/risk/infer", &body);
    assert_eq!(reply.status, 503, "{}", reply.text());
    assert_eq!(reply.header("retry-after"), Some("1"));
    assert!(reply.error().contains("timeout"), "{}", reply.text());
    // A generous header timeout is met.
    let plain = body.replace(r#""parameters":{"timeout":1},"#, "");
    let reply = server.request(
        "POST",
        "/v2/models/risk/infer",
        &[("timeout-ms", "10000")],
        plain.as_bytes(),
    );
    assert_eq!(reply.status, 200, "{}", reply.text());
}

#[test]
fn rows_of_concurrent_requests_share_a_model_call() {
    // A 50 ms queue delay: requests arriving together wait for each other.
    let registry = Registry::new("shared-batches").with_risk(|config| {
        config
            .replace(
                "\"max_queue_delay_us\": 500",
                "\"max_queue_delay_us\": 50000",
            )
            .replace("\"adaptive\": true", "\"adaptive\": false")
    });
    let server = std::sync::Arc::new(Server::start(&registry));
    let requests = 12;
    let clients: Vec<_> = (0..requests)
        .map(|i| {
            let server = server.clone();
            std::thread::spawn(move || {
                let body = format!(
                    r#"{{"inputs":[{{"name":"features","shape":[1,8],"datatype":"FP32","data":{}}}]}}"#,
                    list(&[i as f64; 8])
                );
                server.post_json("/v2/models/risk/infer", &body).status
            })
        })
        .collect();
    for client in clients {
        assert_eq!(client.join().expect("client thread"), 200);
    }
    let stats = server.get("/v2/models/risk/stats").json();
    use sonic_rs::{JsonContainerTrait, JsonValueTrait};
    let sizes: Vec<u64> = stats["recent_batches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["size"].as_u64().unwrap())
        .collect();
    assert_eq!(sizes.iter().sum::<u64>(), requests as u64, "{sizes:?}");
    assert!(
        sizes.len() < requests,
        "no two requests shared a call: {sizes:?}"
    );
}

/// A counter of `/metrics` (0 when absent).
fn counter(server: &Server, line_start: &str) -> u64 {
    server
        .get("/metrics")
        .text()
        .lines()
        .find_map(|line| line.strip_prefix(line_start))
        .and_then(|rest| rest.trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn a_client_that_disconnects_is_dropped_from_its_batch() {
    // A 1 s delay (the most a config may ask) and no early dispatch: the rows wait in the
    // queue long enough for the client to leave.
    let registry = Registry::new("disconnect").with_risk(|config| {
        config
            .replace(
                "\"max_queue_delay_us\": 500",
                "\"max_queue_delay_us\": 1000000",
            )
            .replace(
                "\"adaptive\": true",
                "\"adaptive\": false, \"early_dispatch\": false",
            )
    });
    let server = Server::start(&registry);
    let body = format!(
        r#"{{"inputs":[{{"name":"features","shape":[3,8],"datatype":"FP32","data":{}}}]}}"#,
        list(&[1.0; 24])
    );
    let mut client = std::net::TcpStream::connect(&server.addr).expect("connects");
    let head = format!(
        "POST /v2/models/risk/infer HTTP/1.1\r\nhost: t\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    client.write_all(head.as_bytes()).expect("sends");
    client.write_all(body.as_bytes()).expect("sends");
    let queued = "inference_queue_depth{model=\"risk\",version=\"1\"} ";
    let deadline = Instant::now() + Duration::from_secs(20);
    while counter(&server, queued) < 3 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        counter(&server, queued),
        3,
        "the three rows wait in the queue:\n{}",
        server.get("/metrics").text()
    );
    drop(client);
    // When the delay ends, the batch is formed without them: cancelled, never run.
    let cancelled =
        "inference_batcher_items_total{model=\"risk\",version=\"1\",state=\"cancelled\"} ";
    let deadline = Instant::now() + Duration::from_secs(20);
    while counter(&server, cancelled) < 3 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(counter(&server, cancelled), 3);
    let dispatched =
        "inference_batcher_items_total{model=\"risk\",version=\"1\",state=\"dispatched\"} ";
    assert_eq!(counter(&server, dispatched), 0, "the model never ran them");
}
