//! `/metrics` and the dashboard through real sockets: the Prometheus text after requests of
//! every outcome (ok, bad input, expired, shed), the pages, the SSE stream delivering
//! re-rendered charts after requests (and its stream limit), the model list's stream showing
//! an unload, and the batching controls
//! changing the running batcher (with htmx and without) and kept across a restart until reset, refusing bad values with 422 and
//! their reason, unknown models with 404 and cross-site posts with 403; an unloaded model's
//! stream ends and it leaves the dashboard and `/metrics`.

use crate::support::{Registry, Reply, Server, list};
use sonic_rs::{JsonContainerTrait, JsonValueTrait};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// How long a test waits for the sampler and the stream (a sample a second).
const STREAM_WAIT: Duration = Duration::from_secs(20);

fn infer_rows(server: &Server, model: &str, rows: usize) -> Reply {
    let body = format!(
        r#"{{"inputs":[{{"name":"features","shape":[{rows},8],"datatype":"FP32","data":{}}}]}}"#,
        list(&vec![1.0; rows * 8])
    );
    server.post_json(&format!("/v2/models/{model}/infer"), &body)
}

fn metric(text: &str, line_start: &str) -> u64 {
    text.lines()
        .find_map(|line| line.strip_prefix(line_start))
        .and_then(|rest| rest.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {line_start:?} in\n{text}"))
}

fn post_form(server: &Server, model: &str, form: &str, headers: &[(&str, &str)]) -> Reply {
    let mut all = vec![("content-type", "application/x-www-form-urlencoded")];
    all.extend_from_slice(headers);
    server.request(
        "POST",
        &format!("/models/{model}/batching"),
        &all,
        form.as_bytes(),
    )
}

#[test]
fn metrics_count_every_outcome_batch_sizes_and_the_queue() {
    let registry = Registry::new("metrics")
        .with_risk(|config| config)
        .with_risk_named("tiny", |config| {
            config
                .replace("\"queue_items_max\": 4096", "\"queue_items_max\": 2")
                .replace("\"max_batch\": 64", "\"max_batch\": 1")
                .replace("\"adaptive\": true", "\"adaptive\": false")
        });
    let server = Server::start(&registry);
    for _ in 0..3 {
        assert_eq!(infer_rows(&server, "risk", 1).status, 200);
    }
    assert_eq!(infer_rows(&server, "risk", 5).status, 200);
    let wrong_shape =
        r#"{"inputs":[{"name":"features","shape":[1,3],"datatype":"FP32","data":[1,2,3]}]}"#;
    assert_eq!(
        server
            .post_json("/v2/models/risk/infer", wrong_shape)
            .status,
        400
    );
    let expired = format!(
        r#"{{"parameters":{{"timeout":1}},"inputs":[{{"name":"features","shape":[1,8],"datatype":"FP32","data":{}}}]}}"#,
        list(&[1.0; 8])
    );
    assert_eq!(
        server.post_json("/v2/models/risk/infer", &expired).status,
        503
    );
    assert_eq!(infer_rows(&server, "tiny", 500).status, 503, "a full queue");
    assert_eq!(server.post_json("/v2/models/nope/infer", "{}").status, 404);

    let reply = server.get("/metrics");
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let text = reply.text();
    let risk = r#"model="risk",version="1""#;
    let count = |name: &str| metric(&text, &format!("{name}{{{risk}}} "));
    let outcome = |model: &str, outcome: &str| {
        metric(
            &text,
            &format!(
                "inference_requests_total{{model=\"{model}\",version=\"1\",outcome=\"{outcome}\"}} "
            ),
        )
    };
    assert_eq!(outcome("risk", "ok"), 4);
    assert_eq!(outcome("risk", "bad_input"), 1);
    assert_eq!(outcome("risk", "expired"), 1);
    assert_eq!(outcome("risk", "shed"), 0);
    assert_eq!(outcome("tiny", "shed"), 1);
    assert_eq!(count("inference_request_duration_seconds_count"), 6);
    // 8 rows ran, in at least 2 batches (3 lone requests, then 5 rows).
    assert_eq!(count("inference_batch_size_sum"), 8);
    let batches = count("inference_batch_size_count");
    assert!((4..=8).contains(&batches), "{batches} batches");
    assert_eq!(
        metric(
            &text,
            &format!("inference_batch_size_bucket{{{risk},le=\"+Inf\"}} ")
        ),
        batches
    );
    assert_eq!(count("inference_queue_depth"), 0);
    assert!(count("inference_batch_size_limit") >= 1);
    assert!(text.contains("# TYPE inference_request_duration_seconds histogram"));
    let items = |model: &str, state: &str| {
        metric(
            &text,
            &format!(
                "inference_batcher_items_total{{model=\"{model}\",version=\"1\",state=\"{state}\"}} "
            ),
        )
    };
    assert_eq!(items("risk", "dispatched"), 8);
    assert!(
        items("tiny", "shed") > 400,
        "rows beyond the queue of 2 are shed"
    );
    assert!(!text.contains("nope"), "unknown models get no series");
}

#[test]
fn the_dashboard_lists_models_and_draws_svg_charts_with_controls() {
    let registry = Registry::new("dashboard").with_risk(|config| config);
    let server = Server::start(&registry);
    let index = server.get("/");
    assert_eq!(index.status, 200);
    let html = index.text();
    assert!(
        html.contains(r#"<a href="/models/risk">risk</a>"#),
        "{html}"
    );
    assert!(html.contains("READY"));

    let page = server.get("/models/risk");
    assert_eq!(page.status, 200);
    let html = page.text();
    for needle in [
        r#"sse-connect="/models/risk/events""#,
        r#"sse-swap="charts""#,
        "htmx-ext-sse",
        r#"id="chart-requests""#,
        r#"id="chart-latency""#,
        r#"id="chart-batches""#,
        r#"id="chart-queue""#,
        r#"id="chart-problems""#,
        "<svg viewBox=",
        "<title>Requests per second",
        "<title>1: 0 batches</title>",
        r#"name="max_batch" inputmode="numeric" value="64""#,
        r#"name="max_queue_delay_us" inputmode="numeric" value="500""#,
        r#"name="latency_objective_us" inputmode="numeric" value="2000""#,
        r#"name="adaptive" checked"#,
        r#"<b id="in-force-max-batch">64</b>"#,
    ] {
        assert!(html.contains(needle), "no {needle:?} in the page");
    }
    assert!(!html.contains("<script>"), "no inline chart code");
    let css = html
        .split("href=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a stylesheet link");
    let sheet = server.get(css);
    assert_eq!(sheet.status, 200);
    assert!(sheet.text().contains("figure.chart"));

    assert_eq!(server.get("/models/nope").status, 404);
    assert_eq!(server.get("/models/nope/events").status, 404);
}

/// Opens an event stream and returns the socket after its response head.
fn open_stream(server: &Server, path: &str) -> (TcpStream, String) {
    let mut stream = TcpStream::connect(&server.addr).expect("connects");
    stream
        .set_read_timeout(Some(Duration::from_millis(500)))
        .expect("timeout");
    let head = format!(
        "GET {path} HTTP/1.1\r\nhost: {}\r\naccept: text/event-stream\r\n\r\n",
        server.addr
    );
    stream.write_all(head.as_bytes()).expect("sends");
    let mut seen = Vec::new();
    let deadline = Instant::now() + STREAM_WAIT;
    while !seen.windows(4).any(|w| w == b"\r\n\r\n") && Instant::now() < deadline {
        let mut buffer = [0u8; 4096];
        match stream.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => seen.extend_from_slice(&buffer[..n]),
            Err(_) => {}
        }
    }
    (stream, String::from_utf8_lossy(&seen).into_owned())
}

/// Reads from `stream` onto `seen` until it contains `wanted`, the stream ends, or
/// `STREAM_WAIT` passes; returns all that was read.
fn read_until(stream: &mut TcpStream, mut seen: String, wanted: &str) -> String {
    let deadline = Instant::now() + STREAM_WAIT;
    while !seen.contains(wanted) && Instant::now() < deadline {
        let mut buffer = [0u8; 16384];
        match stream.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => seen.push_str(&String::from_utf8_lossy(&buffer[..n])),
            Err(_) => {}
        }
    }
    seen
}

#[test]
fn the_event_stream_sends_re_rendered_charts_after_requests() {
    let registry = Registry::new("events").with_risk(|config| config);
    let server = Server::start(&registry);
    let (mut stream, head) = open_stream(&server, "/models/risk/events");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.to_ascii_lowercase().contains("text/event-stream"),
        "{head}"
    );
    for _ in 0..7 {
        assert_eq!(infer_rows(&server, "risk", 1).status, 200);
    }
    let wanted = r#"<span id="total-requests">7</span>"#;
    let seen = read_until(&mut stream, String::new(), wanted);
    assert!(seen.contains("event: charts"), "{seen}");
    assert!(
        seen.contains(wanted),
        "the charts never counted 7 requests:\n{seen}"
    );
    assert!(seen.contains(r#"<div class="charts">"#), "the charts block");
    assert!(seen.contains("<polyline class=\"line s1\""), "a drawn line");
}

#[test]
fn the_model_list_stream_re_renders_the_table_as_models_unload_and_serve() {
    let registry = Registry::new("index-events")
        .with_risk(|config| config)
        .with_risk_named("other", |config| config);
    let server = Server::start(&registry);
    let page = server.get("/");
    assert_eq!(page.status, 200);
    assert!(
        String::from_utf8_lossy(&page.body).contains(r#"sse-connect="/events""#),
        "the list page subscribes to its stream"
    );
    let (mut stream, head) = open_stream(&server, "/events");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.to_ascii_lowercase().contains("text/event-stream"),
        "{head}"
    );
    let unloaded = server.post_json("/v2/repository/models/other/unload", "{}");
    assert_eq!(unloaded.status, 200);
    // The next table shows `other` unloaded (with its Load button) and `risk` still ready.
    let wanted = r#"<span class="state unloaded">UNLOADED</span>"#;
    let seen = read_until(&mut stream, String::new(), wanted);
    assert!(seen.contains("event: models"), "{seen}");
    assert!(
        seen.contains(wanted),
        "the table never showed the unload:\n{seen}"
    );
    assert!(seen.contains(r#"action="/models/other/load""#), "{seen}");
    assert!(
        seen.contains(r#"<a href="/models/risk">risk</a>"#),
        "{seen}"
    );
}

#[test]
fn dashboard_streams_max_refuses_one_more_stream() {
    let registry = Registry::new("streams").with_risk(|config| config);
    let server = Server::start(&registry);
    let max = inference::limits::DASHBOARD_STREAMS_MAX;
    let open: Vec<TcpStream> = (0..max)
        .map(|index| {
            let (stream, head) = open_stream(&server, "/models/risk/events");
            assert!(head.starts_with("HTTP/1.1 200"), "stream {index}: {head}");
            stream
        })
        .collect();
    let refused = server.get("/models/risk/events");
    assert_eq!(refused.status, 503, "{}", refused.text());
    assert!(refused.text().contains(&format!("at most {max}")));
    drop(open);
    // Closed streams free their slots (noticed at the next write, about a second).
    let deadline = Instant::now() + STREAM_WAIT;
    loop {
        let (_stream, head) = open_stream(&server, "/models/risk/events");
        if head.starts_with("HTTP/1.1 200") {
            break;
        }
        assert!(Instant::now() < deadline, "slots never freed: {head}");
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn a_batching_control_retunes_the_running_batcher_and_bad_values_are_refused() {
    let registry = Registry::new("controls").with_risk(|config| config);
    let server = Server::start(&registry);
    // Without JavaScript: applied, then 303 back to the page, which shows it.
    let reply = post_form(
        &server,
        "risk",
        "max_batch=4&max_queue_delay_us=1000000&latency_objective_us=3000",
        &[],
    );
    assert_eq!(reply.status, 303, "{}", reply.text());
    assert_eq!(reply.header("location"), Some("/models/risk"));
    let html = server.get("/models/risk").text();
    assert!(
        html.contains(r#"<b id="in-force-max-batch">4</b>"#),
        "{html}"
    );
    assert!(html.contains(r#"<b id="in-force-adaptive">off</b>"#));
    assert!(html.contains(r#"<b id="in-force-delay">1000000</b>"#));
    let metrics = server.get("/metrics").text();
    assert_eq!(
        metric(
            &metrics,
            "inference_batch_size_limit{model=\"risk\",version=\"1\"} "
        ),
        4
    );
    // The running batcher uses it: 8 rows go as two full batches of 4 (with the config's
    // max batch of 64 and this 1 s delay they would go as one batch of 8).
    assert_eq!(infer_rows(&server, "risk", 8).status, 200);
    let stats = server.get("/v2/models/risk/stats").json();
    let sizes: Vec<u64> = stats["recent_batches"]
        .as_array()
        .expect("batches")
        .iter()
        .map(|b| b["size"].as_u64().expect("size"))
        .collect();
    assert_eq!(sizes, vec![4, 4]);

    // With htmx: the form fragment comes back, saying so.
    let reply = post_form(
        &server,
        "risk",
        "max_batch=16&max_queue_delay_us=200&latency_objective_us=5000&adaptive=on",
        &[("hx-request", "true")],
    );
    assert_eq!(reply.status, 200, "{}", reply.text());
    let fragment = reply.text();
    assert!(
        fragment.contains("Applied to the running batcher."),
        "{fragment}"
    );
    assert!(!fragment.contains("<html"), "a fragment, not a page");
    assert!(fragment.contains(r#"name="adaptive" checked"#));

    // Bad values: 422 with the reason, nothing changed.
    for (form, reason) in [
        (
            "max_batch=0&max_queue_delay_us=10&latency_objective_us=10",
            "max batch must be from 1 to 256, not 0",
        ),
        (
            "max_batch=257&max_queue_delay_us=10&latency_objective_us=10",
            "max batch must be from 1 to 256, not 257",
        ),
        (
            "max_batch=8&max_queue_delay_us=1000001&latency_objective_us=10",
            "max queue delay (µs) must be from 0 to 1000000",
        ),
        (
            "max_batch=8&max_queue_delay_us=10&latency_objective_us=0&adaptive=on",
            "latency objective (µs) must be from 1 to 10000000, not 0",
        ),
        (
            "max_batch=eight&max_queue_delay_us=10&latency_objective_us=10",
            "max batch must be a whole number, not &quot;eight&quot;",
        ),
        (
            "max_queue_delay_us=10&latency_objective_us=10",
            "max batch is missing",
        ),
    ] {
        let reply = post_form(&server, "risk", form, &[]);
        assert_eq!(reply.status, 422, "{form}: {}", reply.text());
        assert!(
            reply.text().contains(reason),
            "{form}: no {reason:?} in {}",
            reply.text()
        );
    }
    let reply = post_form(
        &server,
        "risk",
        "max_batch=0&max_queue_delay_us=10&latency_objective_us=10",
        &[("hx-request", "true")],
    );
    assert_eq!(reply.status, 422);
    assert_eq!(reply.header("hx-retarget"), Some("#controls"));
    assert_eq!(reply.header("hx-reswap"), Some("outerHTML"));
    let html = server.get("/models/risk").text();
    assert!(
        html.contains(r#"<b id="in-force-max-batch">16</b>"#),
        "unchanged"
    );

    let reply = post_form(
        &server,
        "nope",
        "max_batch=8&max_queue_delay_us=10&latency_objective_us=10",
        &[],
    );
    assert_eq!(reply.status, 404);
    let reply = post_form(
        &server,
        "risk",
        "max_batch=2&max_queue_delay_us=10&latency_objective_us=10",
        &[("sec-fetch-site", "cross-site")],
    );
    assert_eq!(reply.status, 403);
    let html = server.get("/models/risk").text();
    assert!(
        html.contains(r#"<b id="in-force-max-batch">16</b>"#),
        "unchanged"
    );
}

#[test]
fn batching_settings_applied_on_the_dashboard_survive_a_restart_until_reset() {
    let registry = Registry::new("saved-tuning").with_risk(|config| config);
    {
        let server = Server::start(&registry);
        let html = server.get("/models/risk").text();
        assert!(html.contains("From config.json."), "{html}");
        let reply = post_form(
            &server,
            "risk",
            "max_batch=8&max_queue_delay_us=300&latency_objective_us=4000",
            &[("hx-request", "true")],
        );
        assert_eq!(reply.status, 200, "{}", reply.text());
        assert!(
            reply.text().contains("Saved on this dashboard at"),
            "{}",
            reply.text()
        );
    }
    // A new process on the same registry and store: the saved settings are in force.
    let server = Server::start(&registry);
    let html = server.get("/models/risk").text();
    assert!(
        html.contains(r#"<b id="in-force-max-batch">8</b>"#),
        "{html}"
    );
    assert!(html.contains(r#"<b id="in-force-delay">300</b>"#), "{html}");
    assert!(
        html.contains(r#"<b id="in-force-adaptive">off</b>"#),
        "{html}"
    );
    assert!(html.contains("Saved on this dashboard at"), "{html}");
    // So does a reload through the repository API.
    let reloaded = server.post_json("/v2/repository/models/risk/load", "{}");
    assert_eq!(reloaded.status, 200, "{}", reloaded.text());
    let html = server.get("/models/risk").text();
    assert!(
        html.contains(r#"<b id="in-force-max-batch">8</b>"#),
        "{html}"
    );
    // Reset (without JavaScript: 303 back): config.json's settings again, kept after a restart.
    let reset = server.request(
        "POST",
        "/models/risk/batching/reset",
        &[("content-type", "application/x-www-form-urlencoded")],
        b"",
    );
    assert_eq!(reset.status, 303, "{}", reset.text());
    let html = server.get("/models/risk").text();
    assert!(
        html.contains(r#"<b id="in-force-max-batch">64</b>"#),
        "{html}"
    );
    assert!(html.contains("From config.json."), "{html}");
    drop(server);
    let server = Server::start(&registry);
    let html = server.get("/models/risk").text();
    assert!(
        html.contains(r#"<b id="in-force-max-batch">64</b>"#),
        "{html}"
    );
    let cross = server.request(
        "POST",
        "/models/risk/batching/reset",
        &[("sec-fetch-site", "cross-site")],
        b"",
    );
    assert_eq!(cross.status, 403);
    let unknown = server.request("POST", "/models/nope/batching/reset", &[], b"");
    assert_eq!(unknown.status, 404);
}

#[test]
fn unloading_a_model_ends_its_stream_and_drops_it_from_the_dashboard() {
    let registry = Registry::new("unload-stream").with_risk(|config| config);
    let server = Server::start(&registry);
    let (mut stream, head) = open_stream(&server, "/models/risk/events");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert_eq!(
        server
            .post_json("/v2/repository/models/risk/unload", "")
            .status,
        200
    );
    // The stream's next tick finds no model and ends: the chunked body's last chunk, then
    // the connection stays or closes; either way no more events after the terminator.
    let seen = read_until(&mut stream, head, "\r\n0\r\n\r\n");
    assert!(
        seen.contains("\r\n0\r\n\r\n"),
        "the stream never ended:\n{seen}"
    );
    assert_eq!(server.get("/models/risk").status, 404);
    assert_eq!(server.get("/models/risk/events").status, 404);
    let index = server.get("/").text();
    assert!(index.contains("UNLOADED"), "{index}");
    assert!(!server.get("/metrics").text().contains("model=\"risk\""));
}
