//! HTTP/1.1 behaviour over a real socket: keep-alive, pipelining, chunked bodies,
//! 100-continue, HTTP/1.0, HEAD, streaming responses, server headers.

use crate::support::{TestServer, shared};

#[test]
fn keep_alive_serves_several_requests_on_one_connection() {
    let _guard = shared();
    let server = TestServer::start();
    let mut client = server.client();
    for _ in 0..3 {
        let response = client.get("/");
        assert_eq!(response.status, 200);
        assert_eq!(response.body_str(), "hello");
        assert_eq!(response.header("connection"), None);
    }
}

#[test]
fn responses_carry_server_date_and_length() {
    let _guard = shared();
    let server = TestServer::start();
    let response = server.client().get("/");
    assert_eq!(response.header("server"), Some("kiln"));
    let date = response.header("date").expect("date header");
    assert_eq!(date.len(), 29, "IMF-fixdate: {date}");
    assert!(date.ends_with(" GMT"));
    assert_eq!(response.header("content-length"), Some("5"));
}

#[test]
fn sixteen_pipelined_requests_in_one_write_are_answered_in_order() {
    let _guard = shared();
    let server = TestServer::start();
    let mut client = server.client();
    let mut batch = String::new();
    for index in 0..16 {
        batch.push_str(&format!("GET /path/{index} HTTP/1.1\r\nHost: t\r\n\r\n"));
    }
    client.send(batch.as_bytes());
    for index in 0..16 {
        let response = client.response().expect("pipelined response");
        assert_eq!(response.status, 200);
        assert_eq!(response.body_str(), format!("/path/{index}"));
    }
}

#[test]
fn chunked_request_body_is_decoded() {
    let _guard = shared();
    let server = TestServer::start();
    let mut client = server.client();
    client.send(
        b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n\
          5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nX-Trailer: yes\r\n\r\n",
    );
    let response = client.response().unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(response.body_str(), "hello, world");
    assert_eq!(response.header("x-method"), Some("POST"));
    // The connection stays usable after a chunked body.
    assert_eq!(client.get("/").status, 200);
}

#[test]
fn content_length_body_arriving_in_pieces_is_assembled() {
    let _guard = shared();
    let server = TestServer::start();
    let mut client = server.client();
    client.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nab");
    std::thread::sleep(std::time::Duration::from_millis(30));
    client.send(b"cdefghij");
    let response = client.response().unwrap();
    assert_eq!(response.body_str(), "abcdefghij");
}

#[test]
fn expect_continue_gets_100_before_the_body_is_sent() {
    let _guard = shared();
    let server = TestServer::start();
    let mut client = server.client();
    client.send(
        b"PUT /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n",
    );
    let interim = client.response().expect("100 Continue");
    assert_eq!(interim.status, 100);
    client.send(b"data");
    let response = client.response().unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(response.body_str(), "data");
}

#[test]
fn http10_without_keep_alive_is_closed_after_the_response() {
    let _guard = shared();
    let server = TestServer::start();
    let mut client = server.client();
    client.send(b"GET / HTTP/1.0\r\n\r\n");
    let response = client.response().unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(response.header("connection"), Some("close"));
    assert!(client.is_closed());
}

#[test]
fn http10_with_keep_alive_stays_open() {
    let _guard = shared();
    let server = TestServer::start();
    let mut client = server.client();
    for _ in 0..2 {
        client.send(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        let response = client.response().unwrap();
        assert_eq!(response.status, 200);
        assert_eq!(response.header("connection"), Some("keep-alive"));
    }
}

#[test]
fn connection_close_is_honoured() {
    let _guard = shared();
    let server = TestServer::start();
    let mut client = server.client();
    client.send(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    let response = client.response().unwrap();
    assert_eq!(response.header("connection"), Some("close"));
    assert!(client.is_closed());
}

#[test]
fn head_gets_length_but_no_body() {
    let _guard = shared();
    let server = TestServer::start();
    let mut client = server.client();
    client.send(b"HEAD / HTTP/1.1\r\nHost: t\r\n\r\n");
    let response = client.head_response().unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(response.header("content-length"), Some("5"));
    // The next response starts right after the head: no stray body bytes.
    assert_eq!(client.get("/").body_str(), "hello");
}

#[test]
fn streaming_body_is_sent_chunked() {
    let _guard = shared();
    let server = TestServer::start();
    let mut client = server.client();
    let response = client.get("/stream");
    assert_eq!(response.header("transfer-encoding"), Some("chunked"));
    assert_eq!(response.body_str(), "one two three");
    assert_eq!(client.get("/").status, 200);
}

#[test]
fn large_body_is_sent_whole() {
    let _guard = shared();
    let server = TestServer::start();
    let mut client = server.client();
    let response = client.get("/big");
    assert_eq!(response.body.len(), 4 * 1024 * 1024);
    assert!(response.body.iter().all(|&b| b == b'x'));
    assert_eq!(client.get("/").status, 200);
}

#[test]
fn blocking_pool_result_wakes_the_worker() {
    let _guard = shared();
    let server = TestServer::start();
    assert_eq!(server.client().get("/blocking").body_str(), "5050");
}

#[test]
fn a_panicking_handler_gets_500_and_the_server_survives() {
    let _guard = shared();
    let server = TestServer::start();
    let mut client = server.client();
    let response = client.get("/panic");
    assert_eq!(response.status, 500);
    assert!(client.is_closed());
    assert_eq!(server.client().get("/").status, 200);
}

#[test]
fn several_workers_share_the_port() {
    let _guard = shared();
    let server = TestServer::with(Default::default(), Default::default(), 2);
    for _ in 0..20 {
        assert_eq!(server.client().get("/").status, 200);
    }
}

#[test]
fn handlers_see_the_client_address_of_their_connection() {
    let _guard = shared();
    let server = TestServer::start();
    let mut client = server.client();
    let local = client.stream.local_addr().expect("client address");
    for _ in 0..2 {
        let response = client.get("/peer");
        assert_eq!(response.body_str(), format!("Some({local})"));
    }
    let mut other = server.client();
    let other_local = other.stream.local_addr().expect("client address");
    assert_ne!(other_local, local);
    assert_eq!(
        other.get("/peer").body_str(),
        format!("Some({other_local})")
    );
}
