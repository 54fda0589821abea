//! Response encoding: the status line and headers of a `Response` written into a `BytesMut`,
//! plus the small pieces of chunked framing and the interim `100 Continue`.
//!
//! The encoder owns the headers that frame the message (`content-length`, `transfer-encoding`,
//! `connection`) and `date` / `server`; any the handler set are dropped. It never copies a body:
//! it returns a `BodyFraming` that tells the server how to put the body bytes on the wire, and
//! the server sends `Body::Full` bytes as they are (vectored write). It does no I/O and reads no
//! clock (the date comes in as an `HttpDate`). Tests are at the bottom of this file.

use bytes::{BufMut, BytesMut};

use super::date::HttpDate;
use super::request::Version;
use super::response::{Body, Response};

const STATUS_LINE_PREFIX: &[u8] = b"HTTP/1.1 ";
const CRLF: &[u8] = b"\r\n";
const HEADER_SEPARATOR: &[u8] = b": ";
const SERVER_HEADER: &[u8] = b"server: kiln\r\n";
const DATE_HEADER_NAME: &[u8] = b"date: ";
const CONTENT_LENGTH_HEADER_NAME: &[u8] = b"content-length: ";
const CHUNKED_HEADER: &[u8] = b"transfer-encoding: chunked\r\n";
const CONNECTION_CLOSE_HEADER: &[u8] = b"connection: close\r\n";
const CONNECTION_KEEP_ALIVE_HEADER: &[u8] = b"connection: keep-alive\r\n";
const LAST_CHUNK: &[u8] = b"0\r\n\r\n";
const CONTINUE_RESPONSE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";
/// Headers the encoder writes itself; a handler's copies are dropped (ASCII case-insensitive).
const ENCODER_OWNED_HEADERS: [&str; 5] = [
    "content-length",
    "transfer-encoding",
    "connection",
    "date",
    "server",
];
/// Room for the status line, the encoder's own headers and the final CRLF, so encoding a head
/// reserves once.
const HEAD_OVERHEAD_BYTES: usize = 160;
/// `u64::MAX` has 20 decimal digits.
const U64_DECIMAL_DIGITS_MAX: usize = 20;
/// `u64::MAX` has 16 hexadecimal digits.
const U64_HEX_DIGITS_MAX: usize = 16;
const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

/// What the connection looks like for the response being encoded.
#[derive(Clone, Copy, Debug)]
pub struct EncodeOptions {
    /// Whether the connection stays open after this response.
    pub keep_alive: bool,
    /// The request was `HEAD`: headers describe the body, but no body bytes follow.
    pub head_request: bool,
    /// The request's version; decides how a streamed body is framed.
    pub version: Version,
}

/// How the server must send the body bytes that follow the head.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyFraming {
    /// No body bytes follow (empty body, HEAD request, or a status that forbids a body).
    None,
    /// Exactly this many bytes follow, as they are.
    Length(u64),
    /// Each chunk is `encode_chunk_header(len)`, the data, CRLF; then `encode_last_chunk`.
    Chunked,
    /// HTTP/1.0 stream: raw data, and the server closes the connection to end the body. The
    /// head already says `connection: close`, whatever `EncodeOptions::keep_alive` was.
    CloseDelimited,
}

/// Writes the response head (status line, headers, blank line) into `out` and returns how the
/// body must be framed. See the module docs for which headers the encoder owns.
pub fn encode_head(
    response: &Response,
    date: &HttpDate,
    options: EncodeOptions,
    out: &mut BytesMut,
) -> BodyFraming {
    out.reserve(HEAD_OVERHEAD_BYTES + handler_headers_bytes(response));
    put_status_line(response, out);
    put_handler_headers(response, out);
    out.put_slice(SERVER_HEADER);
    out.put_slice(DATE_HEADER_NAME);
    out.put_slice(date.as_bytes());
    out.put_slice(CRLF);
    let framing = put_framing_header(response, options, out);
    put_connection_header(options, framing, out);
    out.put_slice(CRLF);
    if options.head_request {
        return BodyFraming::None;
    }
    framing
}

/// `"{len:x}\r\n"`; the caller then writes the chunk data and CRLF. `len` must not be 0 (that is
/// the last chunk, see `encode_last_chunk`).
pub fn encode_chunk_header(len: usize, out: &mut BytesMut) {
    debug_assert!(len > 0, "an empty chunk would end the body");
    put_hex(len as u64, out);
    out.put_slice(CRLF);
}

/// The last chunk and the empty trailer section: `"0\r\n\r\n"`.
pub fn encode_last_chunk(out: &mut BytesMut) {
    out.put_slice(LAST_CHUNK);
}

/// The interim response to `Expect: 100-continue`.
pub fn encode_continue(out: &mut BytesMut) {
    out.put_slice(CONTINUE_RESPONSE);
}

fn put_status_line(response: &Response, out: &mut BytesMut) {
    out.put_slice(STATUS_LINE_PREFIX);
    put_decimal(u64::from(response.status.as_u16()), out);
    out.put_u8(b' ');
    out.put_slice(response.status.reason().as_bytes());
    out.put_slice(CRLF);
}

fn is_encoder_owned(name: &str) -> bool {
    ENCODER_OWNED_HEADERS
        .iter()
        .any(|owned| owned.eq_ignore_ascii_case(name))
}

fn handler_headers_bytes(response: &Response) -> usize {
    let line_overhead = HEADER_SEPARATOR.len() + CRLF.len();
    response
        .headers
        .iter()
        .map(|(name, value)| name.len() + value.as_bytes().len() + line_overhead)
        .sum()
}

fn put_handler_headers(response: &Response, out: &mut BytesMut) {
    for (name, value) in &response.headers {
        if is_encoder_owned(name) {
            continue;
        }
        out.put_slice(name.as_bytes());
        out.put_slice(HEADER_SEPARATOR);
        out.put_slice(value.as_bytes());
        out.put_slice(CRLF);
    }
}

/// Writes `content-length` or `transfer-encoding` (or neither) and returns the framing, as if
/// the request were not HEAD (the caller turns that into `None`).
fn put_framing_header(
    response: &Response,
    options: EncodeOptions,
    out: &mut BytesMut,
) -> BodyFraming {
    if response.status.forbids_body() {
        return BodyFraming::None;
    }
    match &response.body {
        Body::Empty => {
            put_content_length(0, out);
            BodyFraming::None
        }
        Body::Full(bytes) => {
            let len = bytes.len() as u64;
            put_content_length(len, out);
            BodyFraming::Length(len)
        }
        Body::Stream(_) if options.version == Version::Http11 => {
            out.put_slice(CHUNKED_HEADER);
            BodyFraming::Chunked
        }
        Body::Stream(_) if options.head_request => BodyFraming::None,
        Body::Stream(_) => BodyFraming::CloseDelimited,
    }
}

fn put_content_length(len: u64, out: &mut BytesMut) {
    out.put_slice(CONTENT_LENGTH_HEADER_NAME);
    put_decimal(len, out);
    out.put_slice(CRLF);
}

fn put_connection_header(options: EncodeOptions, framing: BodyFraming, out: &mut BytesMut) {
    let closes = !options.keep_alive || framing == BodyFraming::CloseDelimited;
    if closes {
        out.put_slice(CONNECTION_CLOSE_HEADER);
    } else if options.version == Version::Http10 {
        out.put_slice(CONNECTION_KEEP_ALIVE_HEADER);
    }
}

/// Appends `value` in decimal, without allocating.
pub(crate) fn put_decimal(value: u64, out: &mut BytesMut) {
    const BASE: u64 = 10;
    let mut digits = [0u8; U64_DECIMAL_DIGITS_MAX];
    let mut start = digits.len();
    let mut rest = value;
    loop {
        start -= 1;
        // A remainder below 10 always fits in a u8.
        digits[start] = b'0' + (rest % BASE) as u8;
        rest /= BASE;
        if rest == 0 {
            break;
        }
    }
    out.put_slice(&digits[start..]);
}

/// Appends `value` in lowercase hexadecimal, without allocating.
fn put_hex(value: u64, out: &mut BytesMut) {
    const BITS_PER_DIGIT: u32 = 4;
    const DIGIT_MASK: u64 = 0xf;
    let mut digits = [0u8; U64_HEX_DIGITS_MAX];
    let mut start = digits.len();
    let mut rest = value;
    loop {
        start -= 1;
        // The mask keeps the index below 16.
        digits[start] = HEX_DIGITS[(rest & DIGIT_MASK) as usize];
        rest >>= BITS_PER_DIGIT;
        if rest == 0 {
            break;
        }
    }
    out.put_slice(&digits[start..]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::response::{BodyStream, HeaderValue, StatusCode};
    use bytes::Bytes;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    const DATE: &str = "Sun, 06 Nov 1994 08:49:37 GMT";
    const DATE_SECS: u64 = 784_111_777;

    struct NoChunks;
    impl BodyStream for NoChunks {
        fn poll_next_chunk(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Bytes>> {
            Poll::Ready(None)
        }
    }

    fn options(keep_alive: bool, head_request: bool, version: Version) -> EncodeOptions {
        EncodeOptions {
            keep_alive,
            head_request,
            version,
        }
    }

    const KEEP_ALIVE_11: EncodeOptions = EncodeOptions {
        keep_alive: true,
        head_request: false,
        version: Version::Http11,
    };

    fn encode(response: &Response, options: EncodeOptions) -> (String, BodyFraming) {
        let mut out = BytesMut::new();
        let framing = encode_head(
            response,
            &HttpDate::from_unix_secs(DATE_SECS),
            options,
            &mut out,
        );
        (String::from_utf8(out.to_vec()).unwrap(), framing)
    }

    fn head(status_line: &str, lines: &[&str]) -> String {
        let mut expected = format!("{status_line}\r\n");
        for line in lines {
            expected.push_str(line);
            expected.push_str("\r\n");
        }
        expected.push_str("\r\n");
        expected
    }

    #[test]
    fn full_body_gets_content_length_and_length_framing() {
        let response = Response::ok("hello").with_static_header("content-type", "text/plain");
        let (text, framing) = encode(&response, KEEP_ALIVE_11);
        let date = format!("date: {DATE}");
        let expected = head(
            "HTTP/1.1 200 OK",
            &[
                "content-type: text/plain",
                "server: kiln",
                &date,
                "content-length: 5",
            ],
        );
        assert_eq!(text, expected);
        assert_eq!(framing, BodyFraming::Length(5));
    }

    #[test]
    fn empty_body_gets_content_length_zero() {
        let (text, framing) = encode(&Response::new(StatusCode::OK), KEEP_ALIVE_11);
        assert!(text.contains("\r\ncontent-length: 0\r\n"));
        assert_eq!(framing, BodyFraming::None);
    }

    #[test]
    fn statuses_that_forbid_a_body_get_no_length_header() {
        for status in [
            StatusCode::NO_CONTENT,
            StatusCode::NOT_MODIFIED,
            StatusCode::CONTINUE,
        ] {
            let response = Response::new(status).with_body("ignored");
            let (text, framing) = encode(&response, KEEP_ALIVE_11);
            assert!(!text.contains("content-length"), "{text}");
            assert!(!text.contains("transfer-encoding"), "{text}");
            assert_eq!(framing, BodyFraming::None);
        }
    }

    #[test]
    fn head_request_keeps_content_length_but_sends_no_body() {
        let response = Response::ok("hello");
        let (text, framing) = encode(&response, options(true, true, Version::Http11));
        assert!(text.contains("\r\ncontent-length: 5\r\n"));
        assert_eq!(framing, BodyFraming::None);
    }

    #[test]
    fn stream_on_http11_is_chunked() {
        let response = Response::new(StatusCode::OK).with_stream(NoChunks);
        let (text, framing) = encode(&response, KEEP_ALIVE_11);
        assert!(text.contains("\r\ntransfer-encoding: chunked\r\n"));
        assert!(!text.contains("content-length"));
        assert!(!text.contains("connection"));
        assert_eq!(framing, BodyFraming::Chunked);
    }

    #[test]
    fn stream_on_head_request_says_chunked_but_sends_nothing() {
        let response = Response::new(StatusCode::OK).with_stream(NoChunks);
        let (text, framing) = encode(&response, options(true, true, Version::Http11));
        assert!(text.contains("\r\ntransfer-encoding: chunked\r\n"));
        assert_eq!(framing, BodyFraming::None);
    }

    #[test]
    fn stream_on_http10_is_close_delimited_and_says_close() {
        let response = Response::new(StatusCode::OK).with_stream(NoChunks);
        let (text, framing) = encode(&response, options(true, false, Version::Http10));
        assert!(text.contains("\r\nconnection: close\r\n"));
        assert!(!text.contains("keep-alive"));
        assert!(!text.contains("transfer-encoding"));
        assert!(!text.contains("content-length"));
        assert_eq!(framing, BodyFraming::CloseDelimited);
    }

    #[test]
    fn connection_header_follows_keep_alive_and_version() {
        let cases = [
            (true, Version::Http11, None),
            (false, Version::Http11, Some("connection: close")),
            (true, Version::Http10, Some("connection: keep-alive")),
            (false, Version::Http10, Some("connection: close")),
        ];
        for (keep_alive, version, expected) in cases {
            let (text, _) = encode(&Response::ok("x"), options(keep_alive, false, version));
            let found = text.lines().find(|line| line.starts_with("connection"));
            assert_eq!(found, expected, "{keep_alive} {version:?}");
        }
    }

    #[test]
    fn encoder_drops_handler_set_framing_and_owned_headers() {
        let mut response = Response::ok("hello");
        for (name, value) in [
            ("Content-Length", "999"),
            ("transfer-encoding", "chunked"),
            ("CONNECTION", "upgrade"),
            ("Date", "yesterday"),
            ("server", "apache"),
            ("x-kept", "yes"),
        ] {
            let value = HeaderValue::try_from(value).unwrap();
            response.append_header(name, value).unwrap();
        }
        let (text, framing) = encode(&response, KEEP_ALIVE_11);
        assert_eq!(text.matches("content-length").count(), 1);
        assert!(text.contains("content-length: 5\r\n"));
        assert!(!text.to_ascii_lowercase().contains("chunked"));
        assert!(!text.contains("upgrade") && !text.contains("yesterday"));
        assert!(!text.contains("apache") && text.contains("server: kiln\r\n"));
        assert!(text.contains("x-kept: yes\r\n"));
        assert_eq!(framing, BodyFraming::Length(5));
    }

    #[test]
    fn unknown_status_has_an_empty_reason() {
        let (text, _) = encode(
            &Response::new(StatusCode::from_u16(299).unwrap()),
            KEEP_ALIVE_11,
        );
        assert!(text.starts_with("HTTP/1.1 299 \r\n"));
    }

    #[test]
    fn decimal_and_hex_formatting() {
        for value in [0, 1, 9, 10, 99, 100, 12_345, u64::from(u32::MAX), u64::MAX] {
            let mut out = BytesMut::new();
            put_decimal(value, &mut out);
            assert_eq!(&out[..], value.to_string().as_bytes());
            let mut out = BytesMut::new();
            put_hex(value, &mut out);
            assert_eq!(&out[..], format!("{value:x}").as_bytes());
        }
    }

    #[test]
    fn chunk_pieces() {
        let mut out = BytesMut::new();
        encode_chunk_header(0x1a2b, &mut out);
        out.put_slice(b"data\r\n");
        encode_last_chunk(&mut out);
        assert_eq!(&out[..], b"1a2b\r\ndata\r\n0\r\n\r\n");
        let mut out = BytesMut::new();
        encode_continue(&mut out);
        assert_eq!(&out[..], b"HTTP/1.1 100 Continue\r\n\r\n");
    }
}
