//! Request-smuggling shapes and malformed framing over a real socket: each is refused with the
//! expected status and the connection is closed, so no second request can hide in the body.

use crate::support::{TestServer, shared};

/// (name, raw request, expected status)
const REFUSED: &[(&str, &str, u16)] = &[
    (
        "content-length with transfer-encoding",
        "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        400,
    ),
    (
        "two content-lengths",
        "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
        400,
    ),
    (
        "repeated equal content-lengths",
        "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
        400,
    ),
    (
        "plus-signed length",
        "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: +5\r\n\r\nhello",
        400,
    ),
    ("bare LF line ending", "GET / HTTP/1.1\nHost: t\n\n", 400),
    (
        "obs-fold continuation line",
        "GET / HTTP/1.1\r\nHost: t\r\nX-Folded: a\r\n b\r\n\r\n",
        400,
    ),
    (
        "invalid chunk size",
        "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
        400,
    ),
    (
        "transfer-encoding not ending in chunked",
        "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, identity\r\n\r\n",
        501,
    ),
    (
        "unsupported transfer-coding",
        "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
        501,
    ),
    (
        "transfer-encoding on HTTP/1.0",
        "POST /echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        400,
    ),
    ("HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505),
    ("unknown version", "GET / HTTP/1.2\r\nHost: t\r\n\r\n", 505),
    ("missing host on HTTP/1.1", "GET / HTTP/1.1\r\n\r\n", 400),
];

#[test]
fn smuggling_shapes_are_refused_and_the_connection_closed() {
    let _guard = shared();
    let server = TestServer::start();
    for (name, request, status) in REFUSED {
        let mut client = server.client();
        // A valid request follows each bad one: it must never be answered.
        client.send(request.as_bytes());
        client.send(b"GET /path/smuggled HTTP/1.1\r\nHost: t\r\n\r\n");
        let response = client
            .response()
            .unwrap_or_else(|| panic!("{name}: no response"));
        assert_eq!(response.status, *status, "{name}: {}", response.body_str());
        assert_eq!(response.header("connection"), Some("close"), "{name}");
        assert!(client.is_closed(), "{name}: connection must close");
    }
}
