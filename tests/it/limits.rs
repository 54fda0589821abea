//! Every limit in `kiln::limits` hit over a real socket, each answered as documented.

use crate::support::{Client, TestServer, shared};
use kiln::limits::{HttpLimits, RuntimeLimits, ServerLimits};
use std::io::Read;
use std::time::{Duration, Instant};

fn http(limits: HttpLimits) -> TestServer {
    TestServer::with(limits, ServerLimits::default(), 1)
}

fn server(limits: ServerLimits) -> TestServer {
    TestServer::with(HttpLimits::default(), limits, 1)
}

fn expect_error_then_close(client: &mut Client, status: u16) {
    let response = client.response().expect("an error response");
    assert_eq!(response.status, status, "body: {}", response.body_str());
    assert_eq!(response.header("connection"), Some("close"));
    assert!(!response.body.is_empty(), "error responses carry a reason");
    assert!(client.is_closed(), "connection closed after {status}");
}

#[test]
fn head_bytes_max_answers_431() {
    let _guard = shared();
    let server = http(HttpLimits {
        head_bytes_max: 1024,
        ..HttpLimits::default()
    });
    let mut client = server.client();
    let value = "v".repeat(2000);
    client.send(format!("GET / HTTP/1.1\r\nHost: t\r\nX-Big: {value}\r\n\r\n").as_bytes());
    expect_error_then_close(&mut client, 431);
}

#[test]
fn header_count_max_answers_431() {
    let _guard = shared();
    let server = http(HttpLimits {
        header_count_max: 8,
        ..HttpLimits::default()
    });
    let mut client = server.client();
    let mut request = String::from("GET / HTTP/1.1\r\nHost: t\r\n");
    for index in 0..10 {
        request.push_str(&format!("X-H{index}: v\r\n"));
    }
    request.push_str("\r\n");
    client.send(request.as_bytes());
    expect_error_then_close(&mut client, 431);
}

#[test]
fn uri_bytes_max_answers_414() {
    let _guard = shared();
    let server = http(HttpLimits {
        uri_bytes_max: 64,
        ..HttpLimits::default()
    });
    let mut client = server.client();
    let path = "/a".repeat(100);
    client.send(format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
    expect_error_then_close(&mut client, 414);
}

#[test]
fn body_bytes_max_answers_413_for_content_length() {
    let _guard = shared();
    let server = http(HttpLimits {
        body_bytes_max: 16,
        ..HttpLimits::default()
    });
    let mut client = server.client();
    client.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n");
    expect_error_then_close(&mut client, 413);
}

#[test]
fn body_bytes_max_answers_413_for_chunked() {
    let _guard = shared();
    let server = http(HttpLimits {
        body_bytes_max: 16,
        ..HttpLimits::default()
    });
    let mut client = server.client();
    client.send(
        b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n\
          10\r\n0123456789abcdef\r\n10\r\n0123456789abcdef\r\n0\r\n\r\n",
    );
    expect_error_then_close(&mut client, 413);
}

#[test]
fn header_timeout_answers_408_then_closes() {
    let _guard = shared();
    let server = server(ServerLimits {
        header_timeout_ms: 300,
        ..ServerLimits::default()
    });
    let mut client = server.client();
    client.send(b"GET / HTTP/1.1\r\nHost: t\r\n");
    expect_error_then_close(&mut client, 408);
}

#[test]
fn a_connection_that_sends_nothing_is_closed_at_the_header_deadline() {
    let _guard = shared();
    let server = server(ServerLimits {
        header_timeout_ms: 200,
        ..ServerLimits::default()
    });
    let mut client = server.client();
    assert!(client.is_closed());
}

#[test]
fn body_timeout_answers_408() {
    let _guard = shared();
    let server = server(ServerLimits {
        body_timeout_ms: 200,
        ..ServerLimits::default()
    });
    let mut client = server.client();
    client.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nab");
    expect_error_then_close(&mut client, 408);
}

#[test]
fn idle_timeout_closes_a_quiet_keep_alive_connection() {
    let _guard = shared();
    let server = server(ServerLimits {
        idle_timeout_ms: 200,
        ..ServerLimits::default()
    });
    let mut client = server.client();
    assert_eq!(client.get("/").status, 200);
    let started = Instant::now();
    assert!(client.is_closed());
    assert!(started.elapsed() < Duration::from_secs(4));
}

#[test]
fn requests_per_connection_max_closes_after_the_last_one() {
    let _guard = shared();
    let server = server(ServerLimits {
        requests_per_connection_max: 2,
        ..ServerLimits::default()
    });
    let mut client = server.client();
    assert_eq!(client.get("/").header("connection"), None);
    assert_eq!(client.get("/").header("connection"), Some("close"));
    assert!(client.is_closed());
}

#[test]
fn connections_per_worker_max_refuses_new_connections_with_503() {
    let _guard = shared();
    let server = server(ServerLimits {
        connections_per_worker_max: 2,
        ..ServerLimits::default()
    });
    let mut first = server.client();
    let mut second = server.client();
    assert_eq!(first.get("/").status, 200);
    assert_eq!(second.get("/").status, 200);
    // The third is refused at once, with a reason and a hint to come back.
    let mut third = server.client();
    let refusal = third
        .response()
        .expect("a refusal without sending anything");
    assert_eq!(refusal.status, 503);
    assert_eq!(refusal.header("retry-after"), Some("1"));
    assert_eq!(refusal.header("connection"), Some("close"));
    assert!(third.is_closed());
    // When one closes, a new connection is served again.
    drop(first);
    let addr = server.addr;
    let served = crate::support::eventually(Duration::from_secs(5), || {
        crate::support::try_get(addr, "/") == Some(200)
    });
    assert!(served, "served again once there is room");
}

#[test]
fn write_timeout_drops_a_client_that_never_reads() {
    let _guard = shared();
    let server = server(ServerLimits {
        write_timeout_ms: 200,
        ..ServerLimits::default()
    });
    let mut client = server.client();
    client.send(b"GET /big HTTP/1.1\r\nHost: t\r\n\r\n");
    // Let the server fill the socket buffers and give up.
    std::thread::sleep(Duration::from_millis(1000));
    let mut received = Vec::new();
    let _ = client.stream.read_to_end(&mut received);
    assert!(
        received.len() < 4 * 1024 * 1024,
        "server gave up before sending everything ({} bytes)",
        received.len()
    );
    // The server is still healthy.
    assert_eq!(server.client().get("/").status, 200);
}

#[test]
fn pipeline_pending_bytes_max_flushes_early_and_keeps_order() {
    let _guard = shared();
    let server = server(ServerLimits {
        pipeline_pending_bytes_max: 1,
        ..ServerLimits::default()
    });
    let mut client = server.client();
    let batch: String = (0..16)
        .map(|i| format!("GET /path/{i} HTTP/1.1\r\nHost: t\r\n\r\n"))
        .collect();
    client.send(batch.as_bytes());
    for index in 0..16 {
        assert_eq!(
            client.response().unwrap().body_str(),
            format!("/path/{index}")
        );
    }
}

#[test]
fn tiny_receive_buffers_and_pending_limit_still_deliver_every_byte() {
    let _guard = shared();
    let handle = kiln::Server::bind("127.0.0.1:0")
        .workers(1)
        .runtime_limits(RuntimeLimits {
            recv_buffer_count: 2,
            recv_buffer_bytes: 64,
            recv_pending_bytes_max: 256,
            ..RuntimeLimits::default()
        })
        .start(crate::support::routes)
        .unwrap();
    let mut client = Client::connect(handle.local_addr());
    let body = "0123456789".repeat(20_000);
    client.send(
        format!(
            "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    );
    let response = client.response().unwrap();
    assert_eq!(response.body.len(), body.len());
    assert_eq!(response.body_str(), body);
    drop(client);
    handle.stop();
}

#[test]
fn shutdown_grace_drops_requests_that_take_too_long() {
    let _guard = shared();
    let server = server(ServerLimits {
        shutdown_grace_ms: 200,
        ..ServerLimits::default()
    });
    let mut client = server.client();
    client.send(b"GET /slow?ms=10000 HTTP/1.1\r\nHost: t\r\n\r\n");
    std::thread::sleep(Duration::from_millis(100));
    let started = Instant::now();
    server.stop();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "stopped after the grace period"
    );
    assert!(client.response().is_none(), "the slow request was dropped");
}
