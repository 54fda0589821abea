//! Tests of the whole decoder through its public API: pipelining, byte-at-a-time feeding,
//! limits, smuggling shapes, `Expect`, phases, and property tests. The rules of each part are
//! also tested beside it (`head.rs`, `chunked.rs`, `scan.rs`).

use super::*;
use crate::http::encode::{encode_chunk_header, encode_last_chunk};
use crate::http::request::{Method, Version};
use bytes::BufMut;
use proptest::prelude::*;

/// What a test sees of a request (a `Request` has no `PartialEq`).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Seen {
    method: String,
    version: Version,
    target: String,
    path: String,
    query: Option<String>,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
    keep_alive: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Event {
    Request(Seen),
    Continue,
    Error(u16),
}

fn seen(request: &Request) -> Seen {
    Seen {
        method: request.method().to_string(),
        version: request.version(),
        target: request.target().to_owned(),
        path: request.path().to_owned(),
        query: request.query().map(str::to_owned),
        headers: request
            .headers()
            .map(|(name, value)| (name.to_owned(), value.to_vec()))
            .collect(),
        body: request.body().to_vec(),
        keep_alive: request.keep_alive(),
    }
}

/// Calls `decode` until it needs more bytes or fails, recording what it returned.
fn drain(decoder: &mut RequestDecoder, buf: &mut BytesMut, events: &mut Vec<Event>) -> bool {
    loop {
        match decoder.decode(buf) {
            Ok(None) => return true,
            Ok(Some(Decoded::Request(request))) => events.push(Event::Request(seen(&request))),
            Ok(Some(Decoded::ContinueExpected)) => events.push(Event::Continue),
            Err(error) => {
                events.push(Event::Error(error.status.as_u16()));
                return false;
            }
        }
    }
}

/// Feeds `input` in pieces that end at `cuts` (sorted offsets), draining after each piece.
/// Returns the events and what stayed in the buffer.
fn decode_cut(input: &[u8], cuts: &[usize], limits: HttpLimits) -> (Vec<Event>, Vec<u8>) {
    let mut decoder = RequestDecoder::new(limits);
    let mut buf = BytesMut::new();
    let mut events = Vec::new();
    let mut start = 0;
    let ends = cuts.iter().copied().chain(std::iter::once(input.len()));
    for end in ends {
        let end = end.clamp(start, input.len());
        buf.extend_from_slice(&input[start..end]);
        start = end;
        if !drain(&mut decoder, &mut buf, &mut events) {
            break;
        }
    }
    (events, buf.to_vec())
}

fn decode_whole(input: &[u8]) -> (Vec<Event>, Vec<u8>) {
    decode_cut(input, &[], HttpLimits::default())
}

fn decode_bytewise_with(input: &[u8], limits: HttpLimits) -> (Vec<Event>, Vec<u8>) {
    let cuts: Vec<usize> = (1..input.len()).collect();
    decode_cut(input, &cuts, limits)
}

fn without_continues(events: &[Event]) -> Vec<Event> {
    events
        .iter()
        .filter(|event| **event != Event::Continue)
        .cloned()
        .collect()
}

/// Decodes `input` whole and byte by byte, asserts both agree (apart from `Continue`, which
/// only a partial body triggers), and returns the whole-buffer events.
fn decode_both_ways(input: &[u8], limits: HttpLimits) -> Vec<Event> {
    let (whole, whole_rest) = decode_cut(input, &[], limits);
    let (bytewise, bytewise_rest) = decode_bytewise_with(input, limits);
    let shown = String::from_utf8_lossy(input);
    assert_eq!(
        without_continues(&whole),
        without_continues(&bytewise),
        "{shown:?}"
    );
    if !matches!(whole.last(), Some(Event::Error(_))) {
        assert_eq!(whole_rest, bytewise_rest, "{shown:?}");
    }
    whole
}

/// The status of the first error, or 200 if every request decoded.
fn outcome(input: &[u8], limits: HttpLimits) -> u16 {
    let events = decode_both_ways(input, limits);
    match events.last() {
        Some(Event::Error(status)) => *status,
        Some(Event::Request(_)) => 200,
        _ => 0,
    }
}

fn first_request(input: &[u8]) -> Seen {
    match decode_both_ways(input, HttpLimits::default()).first() {
        Some(Event::Request(seen)) => seen.clone(),
        other => panic!("expected a request, got {other:?}"),
    }
}

#[test]
fn simple_get_exposes_every_part() {
    let request = first_request(
        b"GET /items/7?sort=asc&x HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n",
    );
    assert_eq!(request.method, "GET");
    assert_eq!(request.version, Version::Http11);
    assert_eq!(request.target, "/items/7?sort=asc&x");
    assert_eq!(request.path, "/items/7");
    assert_eq!(request.query.as_deref(), Some("sort=asc&x"));
    assert_eq!(
        request.headers,
        [
            ("Host".to_owned(), b"example.com".to_vec()),
            ("Accept".to_owned(), b"*/*".to_vec())
        ]
    );
    assert!(request.body.is_empty());
    assert!(request.keep_alive);
}

#[test]
fn request_accessors_look_up_headers_case_insensitively() {
    let mut decoder = RequestDecoder::new(HttpLimits::default());
    let mut buf = BytesMut::from(
        &b"POST /x HTTP/1.1\r\nHost: h\r\nX-Tag: a\r\nx-tag: b\r\nContent-Length: 2\r\n\r\nhi"[..],
    );
    let Ok(Some(Decoded::Request(mut request))) = decoder.decode(&mut buf) else {
        panic!("expected a request");
    };
    assert_eq!(*request.method(), Method::Post);
    assert_eq!(request.header("X-TAG"), Some(&b"a"[..]));
    assert_eq!(request.header_str("host"), Some("h"));
    assert_eq!(
        request.headers_named("x-tag").collect::<Vec<_>>(),
        [b"a", b"b"]
    );
    assert_eq!(request.header("missing"), None);
    assert_eq!(request.take_body(), Bytes::from_static(b"hi"));
    assert!(request.body().is_empty());
}

#[test]
fn content_length_body_is_cut_from_the_buffer_without_copying() {
    let input = b"POST /upload HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhelloNEXT";
    let mut buf = BytesMut::with_capacity(input.len());
    buf.put_slice(input);
    let start = buf.as_ptr().addr();
    let head_len = input.len() - b"helloNEXT".len();
    let mut decoder = RequestDecoder::new(HttpLimits::default());
    let Ok(Some(Decoded::Request(request))) = decoder.decode(&mut buf) else {
        panic!("expected a request");
    };
    assert_eq!(&request.body()[..], b"hello");
    assert_eq!(request.body().as_ptr().addr(), start + head_len);
    assert_eq!(&buf[..], b"NEXT");
}

#[test]
fn get_without_length_has_an_empty_body_and_is_not_read_until_close() {
    let events = decode_both_ways(
        b"GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.0\r\n\r\nGET /c HTTP/1.1\r\nHost: h\r\n\r\n",
        HttpLimits::default(),
    );
    let targets: Vec<_> = events
        .iter()
        .map(|event| match event {
            Event::Request(seen) => (seen.target.as_str(), seen.body.len()),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(targets, [("/a", 0), ("/b", 0), ("/c", 0)]);
}

/// Sixteen requests of every framing in one buffer, then half of a seventeenth.
fn sixteen_pipelined_requests() -> (Vec<u8>, &'static [u8]) {
    let mut input = Vec::new();
    for index in 0..16 {
        let request = match index % 4 {
            0 => format!("GET /{index} HTTP/1.1\r\nHost: h\r\n\r\n"),
            1 => {
                format!("POST /{index} HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nb{index:02}")
            }
            2 => format!(
                "PUT /{index} HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nb{}\r\n1;e=1\r\n{}\r\n0\r\nT: 1\r\n\r\n",
                index / 10,
                index % 10
            ),
            _ => format!("DELETE /{index} HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n"),
        };
        input.extend_from_slice(request.as_bytes());
    }
    let partial: &'static [u8] = b"GET /16 HTTP/1.1\r\nHo";
    input.extend_from_slice(partial);
    (input, partial)
}

#[test]
fn sixteen_pipelined_requests_decode_in_order_and_leave_the_rest() {
    let (input, partial) = sixteen_pipelined_requests();
    let (events, rest) = decode_whole(&input);
    assert_eq!(events.len(), 16);
    for (index, event) in events.iter().enumerate() {
        let Event::Request(seen) = event else {
            panic!("{event:?}");
        };
        assert_eq!(seen.target, format!("/{index}"));
        let expected_body = match index % 4 {
            0 | 3 => String::new(),
            _ => format!("b{index:02}"),
        };
        assert_eq!(seen.body, expected_body.as_bytes(), "request {index}");
    }
    assert_eq!(rest, partial);
    assert_eq!(
        decode_bytewise_with(&input, HttpLimits::default()),
        (events, rest)
    );
}

#[test]
fn byte_at_a_time_equals_all_at_once() {
    let inputs: &[&[u8]] = &[
        b"GET / HTTP/1.1\r\nHost: h\r\n\r\n",
        b"\r\n\r\nGET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\nhello world",
        b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX: y\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi",
        b"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 5\r\n\r\n",
        b"GET / HTTP/1.1\nHost: h\r\n\r\n",
        b"GET / HTTP/2.0\r\n\r\n",
    ];
    for input in inputs {
        decode_both_ways(input, HttpLimits::default());
    }
    let (pipelined, _) = sixteen_pipelined_requests();
    decode_both_ways(&pipelined, HttpLimits::default());
}

#[test]
fn smuggling_shapes_are_refused() {
    let cases: &[(&str, &[u8], u16)] = &[
        (
            "CL.TE",
            b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nX",
            400,
        ),
        (
            "TE.CL",
            b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n",
            400,
        ),
        ("two CLs", b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello", 400),
        ("two different CLs", b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello", 400),
        ("CL list", b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 5\r\n\r\nhello", 400),
        ("CL plus", b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +5\r\n\r\nhello", 400),
        ("CL minus", b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n", 400),
        ("CL inner space", b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5 0\r\n\r\nhello", 400),
        ("CL hex", b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0x5\r\n\r\nhello", 400),
        ("CL space before colon", b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length : 5\r\n\r\nhello", 400),
        ("CL vertical tab", b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length:\x0b5\r\n\r\nhello", 400),
        ("TE on HTTP/1.0", b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
        ("chunked, gzip", b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 501),
        ("gzip, chunked", b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
        ("TE twice chunked", b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        ("TE space before colon", b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n", 400),
        ("TE obs-fold", b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n", 400),
        ("TE obs-fold value", b"POST / HTTP/1.1\r\nHost: h\r\nX: a\r\n Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
        ("TE vertical tab", b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: \x0bchunked\r\n\r\n0\r\n\r\n", 400),
        ("bare LF ends head", b"GET / HTTP/1.1\r\nHost: h\n\n", 400),
        ("bare LF in line", b"GET / HTTP/1.1\nHost: h\r\n\r\n", 400),
        ("bare CR", b"GET / HTTP/1.1\r\nHost: h\rX: y\r\n\r\n", 400),
        ("bare CR before LF", b"GET / HTTP/1.1\r\nHost: h\r\r\n\r\n", 400),
        ("NUL in value", b"GET / HTTP/1.1\r\nHost: h\r\nX: a\0b\r\n\r\n", 400),
        ("NUL in name", b"GET / HTTP/1.1\r\nHost: h\r\nX\0: ab\r\n\r\n", 400),
        ("NUL in target", b"GET /\0 HTTP/1.1\r\nHost: h\r\n\r\n", 400),
        ("chunk size g", b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\ng\r\n", 400),
        (
            "chunk size overflow",
            b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000005\r\nhello\r\n0\r\n\r\n",
            400,
        ),
        (
            "chunk data without CRLF",
            b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloGET / HTTP/1.1\r\n\r\n",
            400,
        ),
        (
            "chunk size bare LF",
            b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n",
            400,
        ),
        (
            "chunk size 0x",
            b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n",
            400,
        ),
        ("no Host", b"GET / HTTP/1.1\r\n\r\n", 400),
        ("two Hosts", b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
    ];
    for (name, input, expected) in cases {
        assert_eq!(outcome(input, HttpLimits::default()), *expected, "{name}");
    }
}

#[test]
fn bare_cr_anywhere_in_a_head_or_trailer_section_is_refused() {
    // The scanner leaves bare CRs to httparse: check it refuses one at every position.
    let request =
        b"POST /p?q HTTP/1.1\r\nHost: h\r\nX-A: b c\r\nTransfer-Encoding: chunked\r\n\r\n\
                    1\r\nx\r\n0\r\nT: 1\r\n\r\n";
    for position in 0..request.len() {
        let mut input = request.to_vec();
        input.insert(position, CR);
        let events = decode_both_ways(&input, HttpLimits::default());
        assert!(
            // An error, or (CR right before the blank line's LF) still waiting for the end.
            matches!(events.as_slice(), [Event::Error(400 | 505)] | []),
            "CR at {position}: {events:?}"
        );
    }
}

#[test]
fn versions_other_than_1_0_and_1_1_are_505() {
    let cases: &[&[u8]] = &[
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
        b"GET / HTTP/2.0\r\nHost: h\r\n\r\n",
        b"GET / HTTP/1.2\r\nHost: h\r\n\r\n",
        b"GET / HTTP/3\r\nHost: h\r\n\r\n",
    ];
    for input in cases {
        assert_eq!(outcome(input, HttpLimits::default()), 505);
    }
}

#[test]
fn empty_lines_before_the_request_line() {
    let request = b"GET / HTTP/1.1\r\nHost: h\r\n\r\n";
    let with_lines = |count: usize| {
        let mut input = CRLF.repeat(count);
        input.extend_from_slice(request);
        input
    };
    assert_eq!(outcome(&with_lines(1), HttpLimits::default()), 200);
    assert_eq!(
        outcome(
            &with_lines(EMPTY_LINES_BEFORE_REQUEST_MAX),
            HttpLimits::default()
        ),
        200
    );
    assert_eq!(
        outcome(
            &with_lines(EMPTY_LINES_BEFORE_REQUEST_MAX + 1),
            HttpLimits::default()
        ),
        400
    );
    assert_eq!(
        outcome(
            b"\nGET / HTTP/1.1\r\nHost: h\r\n\r\n",
            HttpLimits::default()
        ),
        400
    );
    assert_eq!(
        outcome(
            b"\rGET / HTTP/1.1\r\nHost: h\r\n\r\n",
            HttpLimits::default()
        ),
        400
    );
    // Each request gets its own allowance: a stray CRLF after every body is fine.
    let mut pipelined = Vec::new();
    for _ in 0..(EMPTY_LINES_BEFORE_REQUEST_MAX + 2) {
        pipelined.extend_from_slice(&with_lines(1));
    }
    let events = decode_both_ways(&pipelined, HttpLimits::default());
    assert_eq!(events.len(), EMPTY_LINES_BEFORE_REQUEST_MAX + 2);
}

#[test]
fn phases_follow_the_request() {
    let mut decoder = RequestDecoder::new(HttpLimits::default());
    let mut buf = BytesMut::new();
    let mut step = |decoder: &mut RequestDecoder, bytes: &[u8]| {
        buf.extend_from_slice(bytes);
        let decoded = decoder.decode(&mut buf).unwrap();
        (decoded.is_some(), decoder.phase())
    };
    assert_eq!(decoder.phase(), DecoderPhase::Idle);
    assert_eq!(step(&mut decoder, b""), (false, DecoderPhase::Idle));
    assert_eq!(step(&mut decoder, b"\r"), (false, DecoderPhase::Idle));
    assert_eq!(step(&mut decoder, b"\n\r\n"), (false, DecoderPhase::Idle));
    assert_eq!(step(&mut decoder, b"P"), (false, DecoderPhase::Head));
    assert_eq!(
        step(
            &mut decoder,
            b"OST / HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r"
        ),
        (false, DecoderPhase::Head)
    );
    assert_eq!(step(&mut decoder, b"\n"), (false, DecoderPhase::Body));
    assert_eq!(step(&mut decoder, b"h"), (false, DecoderPhase::Body));
    assert_eq!(step(&mut decoder, b"i"), (true, DecoderPhase::Idle));
}

#[test]
fn decoder_stays_failed_after_an_error() {
    let mut decoder = RequestDecoder::new(HttpLimits::default());
    let mut buf = BytesMut::from(&b"GET / HTTP/1.1\r\nHost: h\nX"[..]);
    let error = decoder.decode(&mut buf).unwrap_err();
    assert_eq!(error.status, StatusCode::BAD_REQUEST);
    assert_eq!(error.to_string(), "400 bare LF in request head");
    buf.clear();
    buf.extend_from_slice(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!(decoder.decode(&mut buf).unwrap_err(), error);
}

fn small_limits() -> HttpLimits {
    HttpLimits {
        head_bytes_max: 128,
        header_count_max: 4,
        uri_bytes_max: 32,
        body_bytes_max: 16,
    }
}

#[test]
fn head_without_terminator_beyond_head_bytes_max_is_431() {
    let mut input = b"GET / HTTP/1.1\r\nHost: h\r\nX-Long: ".to_vec();
    input.resize(small_limits().head_bytes_max - 1, b'a');
    assert_eq!(decode_cut(&input, &[], small_limits()).0, []);
    input.push(b'a');
    assert_eq!(outcome(&input, small_limits()), 431);
}

#[test]
fn complete_head_longer_than_head_bytes_max_is_431() {
    let build = |value_len: usize| {
        format!(
            "GET / HTTP/1.1\r\nHost: h\r\nX-Long: {}\r\n\r\n",
            "a".repeat(value_len)
        )
    };
    let fixed_len = build(0).len();
    let at_limit = build(small_limits().head_bytes_max - fixed_len);
    assert_eq!(at_limit.len(), small_limits().head_bytes_max);
    assert_eq!(outcome(at_limit.as_bytes(), small_limits()), 200);
    let over = build(small_limits().head_bytes_max - fixed_len + 1);
    assert_eq!(outcome(over.as_bytes(), small_limits()), 431);
}

#[test]
fn too_many_headers_is_431() {
    let ok = b"GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
    let too_many = b"GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n";
    assert_eq!(outcome(ok, small_limits()), 200);
    assert_eq!(outcome(too_many, small_limits()), 431);
}

#[test]
fn long_target_is_414_before_the_request_line_ends() {
    let uri_max = small_limits().uri_bytes_max;
    let mut line = b"GET /".to_vec();
    line.resize(b"GET ".len() + uri_max, b'a');
    // A target of exactly uri_bytes_max is accepted...
    let mut ok = line.clone();
    ok.extend_from_slice(b" HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!(outcome(&ok, small_limits()), 200);
    // ...and one more byte is refused at once, with no CRLF in sight.
    line.push(b'a');
    assert_eq!(outcome(&line, small_limits()), 414);
}

#[test]
fn content_length_above_body_bytes_max_is_413_before_the_body_arrives() {
    let max = small_limits().body_bytes_max;
    let head = |len: usize| format!("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: {len}\r\n\r\n");
    let mut at_limit = head(max).into_bytes();
    at_limit.resize(at_limit.len() + max, b'x');
    assert_eq!(outcome(&at_limit, small_limits()), 200);
    assert_eq!(outcome(head(max + 1).as_bytes(), small_limits()), 413);
}

#[test]
fn chunked_body_above_body_bytes_max_is_413() {
    let head = b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";
    let mut over = head.to_vec();
    over.extend_from_slice(b"8\r\n12345678\r\n8\r\n12345678\r\n1\r\n");
    assert_eq!(outcome(&over, small_limits()), 413);
    let mut at_limit = head.to_vec();
    at_limit.extend_from_slice(b"8\r\n12345678\r\n8\r\n12345678\r\n0\r\n\r\n");
    assert_eq!(outcome(&at_limit, small_limits()), 200);
}

#[test]
fn chunked_trailer_limits_are_431() {
    let head = b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n";
    let mut too_many = head.to_vec();
    too_many.extend_from_slice(b"A: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\n\r\n");
    assert_eq!(outcome(&too_many, small_limits()), 431);
    let mut too_long = head.to_vec();
    too_long.extend_from_slice(b"A: ");
    too_long.resize(too_long.len() + small_limits().head_bytes_max, b'a');
    assert_eq!(outcome(&too_long, small_limits()), 431);
}

#[test]
fn chunked_with_trailers_keeps_the_body_and_drops_the_trailers() {
    let request = first_request(
        b"POST /t HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n\
          3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nX-Sum: 5\r\n\r\n",
    );
    assert_eq!(request.body, b"abcde");
    assert!(request.headers.iter().all(|(name, _)| name != "X-Sum"));
}

#[test]
fn chunked_encoding_round_trips_through_the_decoder() {
    let pieces: &[&[u8]] = &[b"first piece ", b"x", &[0u8; 300], b"last"];
    let mut input = BytesMut::from(
        &b"POST /stream HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"[..],
    );
    for piece in pieces {
        encode_chunk_header(piece.len(), &mut input);
        input.put_slice(piece);
        input.put_slice(b"\r\n");
    }
    encode_last_chunk(&mut input);
    let request = first_request(&input);
    assert_eq!(request.body, pieces.concat());
}

#[test]
fn expect_100_continue_is_emitted_once_while_the_body_is_missing() {
    let head = b"PUT /f HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n";
    let mut decoder = RequestDecoder::new(HttpLimits::default());
    let mut buf = BytesMut::from(&head[..]);
    assert!(matches!(
        decoder.decode(&mut buf),
        Ok(Some(Decoded::ContinueExpected))
    ));
    assert!(matches!(decoder.decode(&mut buf), Ok(None)));
    buf.extend_from_slice(b"da");
    assert!(matches!(decoder.decode(&mut buf), Ok(None)));
    buf.extend_from_slice(b"ta");
    let Ok(Some(Decoded::Request(request))) = decoder.decode(&mut buf) else {
        panic!("expected the request");
    };
    assert_eq!(&request.body()[..], b"data");
}

#[test]
fn expect_100_continue_is_not_emitted_when_not_needed() {
    let cases: &[&[u8]] = &[
        // The body is already here.
        b"PUT / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi",
        // No body.
        b"PUT / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 0\r\n\r\n",
        // HTTP/1.0 ignores Expect.
        b"PUT / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi",
    ];
    for input in cases {
        let (events, _) = decode_whole(input);
        assert!(
            matches!(events.as_slice(), [Event::Request(_)]),
            "{events:?}"
        );
    }
    let mut http10_partial =
        BytesMut::from(&b"PUT / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n"[..]);
    let mut decoder = RequestDecoder::new(HttpLimits::default());
    assert!(matches!(decoder.decode(&mut http10_partial), Ok(None)));
}

#[test]
fn expect_100_continue_with_chunked_body() {
    let head =
        b"PUT / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n";
    let mut input = head.to_vec();
    input.extend_from_slice(b"2\r\nhi\r\n0\r\n\r\n");
    let (events, _) = decode_cut(&input, &[head.len()], HttpLimits::default());
    assert_eq!(events.first(), Some(&Event::Continue));
    assert!(
        matches!(events.as_slice(), [Event::Continue, Event::Request(seen)] if seen.body == b"hi")
    );
}

#[test]
fn other_expectations_are_417() {
    let input =
        b"PUT / HTTP/1.1\r\nHost: h\r\nExpect: something-else\r\nContent-Length: 2\r\n\r\nhi";
    assert_eq!(outcome(input, HttpLimits::default()), 417);
}

#[test]
fn http10_keep_alive() {
    let events = decode_both_ways(
        b"GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /b HTTP/1.0\r\n\r\n",
        HttpLimits::default(),
    );
    let keep_alive: Vec<bool> = events
        .iter()
        .map(|event| matches!(event, Event::Request(seen) if seen.keep_alive))
        .collect();
    assert_eq!(keep_alive, [true, false]);
    let close = first_request(b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
    assert!(!close.keep_alive);
}

#[test]
fn absolute_form_keeps_only_path_and_query() {
    let request = first_request(
        b"GET http://example.com:8080/p/q?x=1 HTTP/1.1\r\nHost: example.com:8080\r\n\r\n",
    );
    assert_eq!(request.target, "/p/q?x=1");
    assert_eq!(request.path, "/p/q");
    assert_eq!(request.query.as_deref(), Some("x=1"));
}

#[test]
fn unusual_methods_are_kept_verbatim() {
    let request = first_request(b"PROPFIND /dav HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!(request.method, "PROPFIND");
}

// ---- property tests ----

const PROPTEST_CASES: u32 = 384;

/// A valid request, built from parts, with what the decoder must return for it.
#[derive(Clone, Debug)]
struct GeneratedRequest {
    bytes: Vec<u8>,
    expected: Seen,
}

fn header_field() -> impl Strategy<Value = (String, String)> {
    let name = "[A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]{0,12}";
    let value = "([!-~\u{80}-\u{ff}]([ !-~\t]{0,20}[!-~])?)?";
    (name, value).prop_filter("framing headers are generated separately", |(name, _)| {
        let name = name.to_ascii_lowercase();
        ![
            "content-length",
            "transfer-encoding",
            "host",
            "connection",
            "expect",
        ]
        .contains(&name.as_str())
    })
}

fn generated_request() -> impl Strategy<Value = GeneratedRequest> {
    let method = prop::sample::select(vec![
        "GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "X-CUSTOM",
    ]);
    let path = "/[a-zA-Z0-9._~%/-]{0,24}";
    let query = prop::option::of("[a-zA-Z0-9=&%+._-]{0,16}");
    let headers = prop::collection::vec(header_field(), 0..6);
    let body = prop::collection::vec(any::<u8>(), 0..300);
    let chunk_sizes = prop::option::of(prop::collection::vec(1usize..64, 1..8));
    (method, path, query, headers, body, chunk_sizes).prop_map(
        |(method, path, query, headers, body, chunk_sizes)| {
            build_request(
                method,
                &path,
                query.as_deref(),
                &headers,
                &body,
                chunk_sizes.as_deref(),
            )
        },
    )
}

fn build_request(
    method: &str,
    path: &str,
    query: Option<&str>,
    headers: &[(String, String)],
    body: &[u8],
    chunk_sizes: Option<&[usize]>,
) -> GeneratedRequest {
    let target = match query {
        Some(query) => format!("{path}?{query}"),
        None => path.to_owned(),
    };
    let mut fields: Vec<(String, Vec<u8>)> = vec![("Host".into(), b"example.com".to_vec())];
    fields.extend(
        headers
            .iter()
            .map(|(name, value)| (name.clone(), value.clone().into_bytes())),
    );
    let framing = match chunk_sizes {
        Some(_) => ("Transfer-Encoding".to_owned(), b"chunked".to_vec()),
        None => (
            "Content-Length".to_owned(),
            body.len().to_string().into_bytes(),
        ),
    };
    fields.push(framing);
    let mut bytes = format!("{method} {target} HTTP/1.1\r\n").into_bytes();
    for (name, value) in &fields {
        bytes.extend_from_slice(name.as_bytes());
        bytes.extend_from_slice(b": ");
        bytes.extend_from_slice(value);
        bytes.extend_from_slice(b"\r\n");
    }
    bytes.extend_from_slice(b"\r\n");
    match chunk_sizes {
        Some(sizes) => put_chunked(&mut bytes, body, sizes),
        None => bytes.extend_from_slice(body),
    }
    let expected = Seen {
        method: method.to_owned(),
        version: Version::Http11,
        path: path.to_owned(),
        query: query.map(str::to_owned),
        target,
        headers: fields,
        body: body.to_vec(),
        keep_alive: true,
    };
    GeneratedRequest { bytes, expected }
}

/// Appends `body` as chunks of the given sizes (cycled), then the last chunk.
fn put_chunked(out: &mut Vec<u8>, body: &[u8], sizes: &[usize]) {
    let mut rest = body;
    let mut sizes = sizes.iter().cycle();
    while !rest.is_empty() {
        let size = sizes.next().copied().unwrap_or(1).min(rest.len());
        let (chunk, after) = rest.split_at(size);
        out.extend_from_slice(format!("{size:x}\r\n").as_bytes());
        out.extend_from_slice(chunk);
        out.extend_from_slice(b"\r\n");
        rest = after;
    }
    out.extend_from_slice(b"0\r\n\r\n");
}

#[derive(Clone, Debug)]
enum Mutation {
    Flip { at: usize, bit: u8 },
    Insert { at: usize, byte: u8 },
    Delete { at: usize },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let special = prop::sample::select(vec![
        b'\r', b'\n', b' ', b'\t', b':', b',', b';', b'0', b'\0', b'"',
    ]);
    prop_oneof![
        (any::<usize>(), 0u8..8).prop_map(|(at, bit)| Mutation::Flip { at, bit }),
        (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Insert { at, byte }),
        (any::<usize>(), special).prop_map(|(at, byte)| Mutation::Insert { at, byte }),
        any::<usize>().prop_map(|at| Mutation::Delete { at }),
    ]
}

fn apply(bytes: &mut Vec<u8>, mutation: &Mutation) {
    match *mutation {
        Mutation::Flip { at, bit } if !bytes.is_empty() => {
            let len = bytes.len();
            bytes[at % len] ^= 1 << bit;
        }
        Mutation::Insert { at, byte } => bytes.insert(at % (bytes.len() + 1), byte),
        Mutation::Delete { at } if !bytes.is_empty() => {
            let len = bytes.len();
            bytes.remove(at % len);
        }
        _ => {}
    }
}

fn sorted_cuts(mut cuts: Vec<usize>, len: usize) -> Vec<usize> {
    for cut in &mut cuts {
        *cut %= len + 1;
    }
    cuts.sort_unstable();
    cuts
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(PROPTEST_CASES))]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512), piece in 1usize..64) {
        let cuts: Vec<usize> = (piece..bytes.len()).step_by(piece).collect();
        let (events, _) = decode_cut(&bytes, &cuts, small_limits());
        prop_assert!(events.iter().filter(|event| matches!(event, Event::Error(_))).count() <= 1);
    }

    #[test]
    fn random_bytes_after_a_valid_start_never_panic(
        tail in prop::collection::vec(any::<u8>(), 0..256),
        chunked in any::<bool>(),
    ) {
        let start: &[u8] = if chunked {
            b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
        } else {
            b"GET / HTTP/1.1\r\nHost: h\r\n"
        };
        let mut input = start.to_vec();
        input.extend_from_slice(&tail);
        decode_both_ways(&input, small_limits());
    }

    #[test]
    fn valid_requests_split_anywhere_decode_like_whole(
        requests in prop::collection::vec(generated_request(), 1..4),
        cuts in prop::collection::vec(any::<usize>(), 0..12),
    ) {
        let input: Vec<u8> = requests.iter().flat_map(|request| request.bytes.clone()).collect();
        let expected: Vec<Event> = requests
            .iter()
            .map(|request| Event::Request(request.expected.clone()))
            .collect();
        let (whole, whole_rest) = decode_cut(&input, &[], HttpLimits::default());
        prop_assert_eq!(&whole, &expected);
        prop_assert!(whole_rest.is_empty());
        let (split, split_rest) = decode_cut(&input, &sorted_cuts(cuts, input.len()), HttpLimits::default());
        prop_assert_eq!(&split, &expected);
        prop_assert!(split_rest.is_empty());
    }

    #[test]
    fn mutated_requests_never_panic_and_split_like_whole(
        request in generated_request(),
        mutations in prop::collection::vec(mutation(), 1..4),
        cuts in prop::collection::vec(any::<usize>(), 0..12),
    ) {
        let mut bytes = request.bytes;
        for mutation in &mutations {
            apply(&mut bytes, mutation);
        }
        let (whole, _) = decode_cut(&bytes, &[], HttpLimits::default());
        let (split, _) = decode_cut(&bytes, &sorted_cuts(cuts, bytes.len()), HttpLimits::default());
        prop_assert_eq!(without_continues(&whole), without_continues(&split));
    }
}
