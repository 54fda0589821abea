//! The single-shot accept and receive paths (what kernels without multishot or provided-buffer
//! rings get), forced with `Server::multishot(false)`: the same behaviour as the default path.

use crate::support::{TestServer, shared};

#[test]
fn single_shot_paths_serve_keep_alive_pipelining_and_bodies() {
    let _guard = shared();
    let server = TestServer::single_shot();
    let mut client = server.client();
    assert_eq!(client.get("/").body_str(), "hello");
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
    client.send(
        b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    );
    assert_eq!(client.response().unwrap().body_str(), "hello");
    let body = "x".repeat(300_000);
    client.send(
        format!(
            "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    );
    assert_eq!(client.response().unwrap().body.len(), body.len());
    assert_eq!(client.get("/big").body.len(), 4 * 1024 * 1024);
}

#[test]
fn single_shot_paths_accept_many_connections_and_refuse_bad_framing() {
    let _guard = shared();
    let server = TestServer::single_shot();
    for _ in 0..50 {
        assert_eq!(server.client().get("/").status, 200);
    }
    let mut client = server.client();
    client
        .send(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n");
    assert_eq!(client.response().unwrap().status, 400);
    assert!(client.is_closed());
}
