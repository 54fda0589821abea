//! Request smuggling and malformed framing, table-driven, over a real socket. Each raw request
//! (from RFC 9112 and published smuggling research: CL.TE, TE.CL, TE.TE obfuscations, chunk
//! size tricks, line-ending tricks, duplicate framing headers) has an expected outcome: refused
//! with a status and the connection closed (so nothing can hide behind it), or accepted with
//! the connection still usable and the body read exactly as framed.

use crate::support::{TestServer, shared};

enum Outcome {
    /// Refused with this status; the connection is closed and the follow-up never answered.
    Refused(u16),
    /// Answered 200 with this body; the follow-up request on the same connection is answered.
    Accepted(&'static str),
}

use Outcome::{Accepted, Refused};

const POST: &str = "POST /echo HTTP/1.1\r\nHost: t\r\n";

/// (name, headers after the request line and Host, body part, expected)
const CASES: &[(&str, &str, &str, Outcome)] = &[
    // --- Content-Length and Transfer-Encoding together (CL.TE / TE.CL) ---
    (
        "CL then TE",
        "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
        "0\r\n\r\n",
        Refused(400),
    ),
    (
        "TE then CL",
        "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
        "0\r\n\r\n",
        Refused(400),
    ),
    (
        "CL with TE identity",
        "Content-Length: 5\r\nTransfer-Encoding: identity\r\n\r\n",
        "hello",
        Refused(400),
    ),
    // --- Content-Length oddities ---
    (
        "two different CLs",
        "Content-Length: 5\r\nContent-Length: 6\r\n\r\n",
        "hello!",
        Refused(400),
    ),
    (
        "two equal CLs",
        "Content-Length: 5\r\nContent-Length: 5\r\n\r\n",
        "hello",
        Refused(400),
    ),
    (
        "CL list in one field",
        "Content-Length: 5, 5\r\n\r\n",
        "hello",
        Refused(400),
    ),
    (
        "plus-signed CL",
        "Content-Length: +5\r\n\r\n",
        "hello",
        Refused(400),
    ),
    (
        "negative CL",
        "Content-Length: -5\r\n\r\n",
        "hello",
        Refused(400),
    ),
    (
        "hex CL",
        "Content-Length: 0x5\r\n\r\n",
        "hello",
        Refused(400),
    ),
    (
        "decimal point CL",
        "Content-Length: 5.0\r\n\r\n",
        "hello",
        Refused(400),
    ),
    (
        "space inside CL",
        "Content-Length: 5 5\r\n\r\n",
        "hello",
        Refused(400),
    ),
    ("empty CL", "Content-Length: \r\n\r\n", "", Refused(400)),
    (
        "overflowing CL",
        "Content-Length: 99999999999999999999999\r\n\r\n",
        "",
        Refused(400),
    ),
    (
        "leading zeros CL",
        "Content-Length: 005\r\n\r\n",
        "hello",
        Accepted("hello"),
    ),
    (
        "CL with trailing spaces",
        "Content-Length: 5  \r\n\r\n",
        "hello",
        Accepted("hello"),
    ),
    (
        "CL name with space before colon",
        "Content-Length : 5\r\n\r\n",
        "hello",
        Refused(400),
    ),
    // --- Transfer-Encoding obfuscations (TE.TE) ---
    (
        "chunked twice",
        "Transfer-Encoding: chunked, chunked\r\n\r\n",
        "0\r\n\r\n",
        Refused(400),
    ),
    (
        "chunked then gzip",
        "Transfer-Encoding: chunked, gzip\r\n\r\n",
        "0\r\n\r\n",
        Refused(501),
    ),
    (
        "gzip then chunked",
        "Transfer-Encoding: gzip, chunked\r\n\r\n",
        "0\r\n\r\n",
        Refused(501),
    ),
    (
        "unknown coding",
        "Transfer-Encoding: xchunked\r\n\r\n",
        "0\r\n\r\n",
        Refused(501),
    ),
    (
        "identity coding",
        "Transfer-Encoding: identity\r\n\r\n",
        "",
        Refused(501),
    ),
    (
        "two TE fields",
        "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n",
        "0\r\n\r\n",
        Refused(501),
    ),
    (
        "TE name with space before colon",
        "Transfer-Encoding : chunked\r\n\r\n",
        "0\r\n\r\n",
        Refused(400),
    ),
    (
        "TE value with vertical tab",
        "Transfer-Encoding: chunked\x0b\r\n\r\n",
        "0\r\n\r\n",
        Refused(400),
    ),
    (
        "TE with obs-fold",
        "Transfer-Encoding:\r\n chunked\r\n\r\n",
        "0\r\n\r\n",
        Refused(400),
    ),
    (
        "TE chunked with parameter",
        "Transfer-Encoding: chunked;q=1\r\n\r\n",
        "0\r\n\r\n",
        Refused(400),
    ),
    (
        "TE upper case is fine",
        "Transfer-Encoding: CHUNKED\r\n\r\n",
        "2\r\nok\r\n0\r\n\r\n",
        Accepted("ok"),
    ),
    // --- chunk framing tricks ---
    (
        "non-hex chunk size",
        "Transfer-Encoding: chunked\r\n\r\n",
        "zz\r\nhello\r\n0\r\n\r\n",
        Refused(400),
    ),
    (
        "negative chunk size",
        "Transfer-Encoding: chunked\r\n\r\n",
        "-5\r\nhello\r\n0\r\n\r\n",
        Refused(400),
    ),
    (
        "0x chunk size",
        "Transfer-Encoding: chunked\r\n\r\n",
        "0x5\r\nhello\r\n0\r\n\r\n",
        Refused(400),
    ),
    (
        "plus chunk size",
        "Transfer-Encoding: chunked\r\n\r\n",
        "+5\r\nhello\r\n0\r\n\r\n",
        Refused(400),
    ),
    (
        "overflowing chunk size",
        "Transfer-Encoding: chunked\r\n\r\n",
        "fffffffffffffffffff\r\nx\r\n0\r\n\r\n",
        Refused(400),
    ),
    (
        "space after chunk size",
        "Transfer-Encoding: chunked\r\n\r\n",
        "5 \r\nhello\r\n0\r\n\r\n",
        Refused(400),
    ),
    (
        "chunk data longer than its size",
        "Transfer-Encoding: chunked\r\n\r\n",
        "3\r\nhello\r\n0\r\n\r\n",
        Refused(400),
    ),
    (
        "bare LF after chunk size",
        "Transfer-Encoding: chunked\r\n\r\n",
        "5\nhello\r\n0\r\n\r\n",
        Refused(400),
    ),
    (
        "bare LF after chunk data",
        "Transfer-Encoding: chunked\r\n\r\n",
        "5\r\nhello\n0\r\n\r\n",
        Refused(400),
    ),
    (
        "chunk extension is fine",
        "Transfer-Encoding: chunked\r\n\r\n",
        "5;name=value\r\nhello\r\n0\r\n\r\n",
        Accepted("hello"),
    ),
    (
        "trailer CL is ignored",
        "Transfer-Encoding: chunked\r\n\r\n",
        "2\r\nok\r\n0\r\nContent-Length: 50\r\n\r\n",
        Accepted("ok"),
    ),
    // --- line endings and field syntax ---
    (
        "bare LF line endings",
        "Content-Length: 5\n\n",
        "hello",
        Refused(400),
    ),
    (
        "bare CR in a field",
        "X-A: a\rb\r\nContent-Length: 5\r\n\r\n",
        "hello",
        Refused(400),
    ),
    (
        "obs-fold continuation",
        "X-Folded: a\r\n b\r\nContent-Length: 5\r\n\r\n",
        "hello",
        Refused(400),
    ),
    (
        "NUL in a field value",
        "X-A: a\x00b\r\nContent-Length: 5\r\n\r\n",
        "hello",
        Refused(400),
    ),
    (
        "non-token field name",
        "X(A): 1\r\nContent-Length: 5\r\n\r\n",
        "hello",
        Refused(400),
    ),
    (
        "unknown expectation",
        "Expect: something-else\r\nContent-Length: 5\r\n\r\n",
        "hello",
        Refused(417),
    ),
    (
        "second Host",
        "Host: evil\r\nContent-Length: 5\r\n\r\n",
        "hello",
        Refused(400),
    ),
];

/// Request lines and versions, sent whole (no Host line added).
const RAW_CASES: &[(&str, &str, Outcome)] = &[
    (
        "HTTP/2 preface",
        "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
        Refused(505),
    ),
    (
        "HTTP/1.2",
        "GET / HTTP/1.2\r\nHost: t\r\n\r\n",
        Refused(505),
    ),
    ("HTTP/0.9 request line", "GET /\r\n\r\n", Refused(400)),
    (
        "lower-case version",
        "GET / http/1.1\r\nHost: t\r\n\r\n",
        Refused(400),
    ),
    (
        "double space in request line",
        "GET  / HTTP/1.1\r\nHost: t\r\n\r\n",
        Refused(400),
    ),
    (
        "extra word in request line",
        "GET / HTTP/1.1 x\r\nHost: t\r\n\r\n",
        Refused(400),
    ),
    (
        "missing Host on HTTP/1.1",
        "GET / HTTP/1.1\r\n\r\n",
        Refused(400),
    ),
    (
        "TE on HTTP/1.0",
        "POST /echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        Refused(400),
    ),
    (
        "absolute-form target",
        "GET http://t/ HTTP/1.1\r\nHost: t\r\n\r\n",
        Accepted("hello"),
    ),
    (
        "body on GET is read and skipped",
        "GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello",
        Accepted("hello"),
    ),
];

fn check(server: &TestServer, name: &str, raw: &str, expected: &Outcome) {
    let mut client = server.client();
    client.send(raw.as_bytes());
    // A valid request follows: answered only if the first was framed exactly.
    client.send(b"GET /path/follow-up HTTP/1.1\r\nHost: t\r\n\r\n");
    let response = client
        .response()
        .unwrap_or_else(|| panic!("{name}: no response"));
    match expected {
        Refused(status) => {
            assert_eq!(response.status, *status, "{name}: {}", response.body_str());
            assert_eq!(response.header("connection"), Some("close"), "{name}");
            assert!(client.is_closed(), "{name}: connection must close");
        }
        Accepted(body) => {
            assert_eq!(response.status, 200, "{name}: {}", response.body_str());
            assert_eq!(response.body_str(), *body, "{name}");
            let follow_up = client
                .response()
                .unwrap_or_else(|| panic!("{name}: follow-up not answered"));
            assert_eq!(follow_up.body_str(), "/path/follow-up", "{name}");
        }
    }
}

#[test]
fn the_smuggling_table_has_at_least_forty_cases() {
    assert!(CASES.len() + RAW_CASES.len() >= 40);
}

#[test]
fn framing_headers_and_chunks_get_their_expected_outcome() {
    let _guard = shared();
    let server = TestServer::start();
    for (name, headers, body, expected) in CASES {
        let raw = format!("{POST}{headers}{body}");
        check(&server, name, &raw, expected);
    }
}

#[test]
fn request_lines_and_versions_get_their_expected_outcome() {
    let _guard = shared();
    let server = TestServer::start();
    for (name, raw, expected) in RAW_CASES {
        check(&server, name, raw, expected);
    }
}
