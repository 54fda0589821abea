//! The response a handler returns: status, headers and a body that is empty, whole, or a
//! stream of chunks.
//!
//! Header names and values are checked when they are added, so a value can never smuggle a
//! CR or LF into the head. Encoding onto the wire is `encode.rs`'s job, not this module's.

use bytes::Bytes;
use std::borrow::Cow;
use std::pin::Pin;
use std::task::{Context, Poll};

/// A status code with its reason phrase.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StatusCode(u16);

impl StatusCode {
    pub const CONTINUE: StatusCode = StatusCode(100);
    pub const OK: StatusCode = StatusCode(200);
    pub const CREATED: StatusCode = StatusCode(201);
    pub const NO_CONTENT: StatusCode = StatusCode(204);
    pub const MOVED_PERMANENTLY: StatusCode = StatusCode(301);
    pub const FOUND: StatusCode = StatusCode(302);
    pub const SEE_OTHER: StatusCode = StatusCode(303);
    pub const NOT_MODIFIED: StatusCode = StatusCode(304);
    pub const BAD_REQUEST: StatusCode = StatusCode(400);
    pub const UNAUTHORIZED: StatusCode = StatusCode(401);
    pub const FORBIDDEN: StatusCode = StatusCode(403);
    pub const NOT_FOUND: StatusCode = StatusCode(404);
    pub const METHOD_NOT_ALLOWED: StatusCode = StatusCode(405);
    pub const REQUEST_TIMEOUT: StatusCode = StatusCode(408);
    pub const CONFLICT: StatusCode = StatusCode(409);
    pub const LENGTH_REQUIRED: StatusCode = StatusCode(411);
    pub const PAYLOAD_TOO_LARGE: StatusCode = StatusCode(413);
    pub const URI_TOO_LONG: StatusCode = StatusCode(414);
    pub const UNSUPPORTED_MEDIA_TYPE: StatusCode = StatusCode(415);
    pub const EXPECTATION_FAILED: StatusCode = StatusCode(417);
    pub const UNPROCESSABLE_ENTITY: StatusCode = StatusCode(422);
    pub const TOO_MANY_REQUESTS: StatusCode = StatusCode(429);
    pub const REQUEST_HEADER_FIELDS_TOO_LARGE: StatusCode = StatusCode(431);
    pub const INTERNAL_SERVER_ERROR: StatusCode = StatusCode(500);
    pub const NOT_IMPLEMENTED: StatusCode = StatusCode(501);
    pub const SERVICE_UNAVAILABLE: StatusCode = StatusCode(503);
    pub const HTTP_VERSION_NOT_SUPPORTED: StatusCode = StatusCode(505);

    /// A status code from a number; `None` outside 100..=999.
    pub const fn from_u16(code: u16) -> Option<StatusCode> {
        if code >= 100 && code <= 999 {
            Some(StatusCode(code))
        } else {
            None
        }
    }

    pub const fn as_u16(self) -> u16 {
        self.0
    }

    /// 1xx, 204 and 304 responses never carry a body (RFC 9110 §6.4.1).
    pub const fn forbids_body(self) -> bool {
        self.0 < 200 || self.0 == 204 || self.0 == 304
    }

    pub fn reason(self) -> &'static str {
        match self.0 {
            100 => "Continue",
            101 => "Switching Protocols",
            200 => "OK",
            201 => "Created",
            202 => "Accepted",
            204 => "No Content",
            206 => "Partial Content",
            286 => "Stop Polling",
            301 => "Moved Permanently",
            302 => "Found",
            303 => "See Other",
            304 => "Not Modified",
            307 => "Temporary Redirect",
            308 => "Permanent Redirect",
            400 => "Bad Request",
            401 => "Unauthorized",
            403 => "Forbidden",
            404 => "Not Found",
            405 => "Method Not Allowed",
            406 => "Not Acceptable",
            408 => "Request Timeout",
            409 => "Conflict",
            410 => "Gone",
            411 => "Length Required",
            412 => "Precondition Failed",
            413 => "Content Too Large",
            414 => "URI Too Long",
            415 => "Unsupported Media Type",
            417 => "Expectation Failed",
            422 => "Unprocessable Content",
            429 => "Too Many Requests",
            431 => "Request Header Fields Too Large",
            500 => "Internal Server Error",
            501 => "Not Implemented",
            502 => "Bad Gateway",
            503 => "Service Unavailable",
            504 => "Gateway Timeout",
            505 => "HTTP Version Not Supported",
            _ => "",
        }
    }
}

/// Why a header name or value was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidHeader {
    pub reason: &'static str,
}

impl std::fmt::Display for InvalidHeader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invalid header: {}", self.reason)
    }
}

impl std::error::Error for InvalidHeader {}

/// A header value that contains no CR, LF or NUL (so it cannot split the head).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeaderValue(Bytes);

impl HeaderValue {
    /// For values written in source code; panics on CR, LF or NUL, which is a programmer error.
    pub const fn from_static(value: &'static str) -> HeaderValue {
        let bytes = value.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            assert!(
                bytes[i] != b'\r' && bytes[i] != b'\n' && bytes[i] != 0,
                "header value contains CR, LF or NUL"
            );
            i += 1;
        }
        HeaderValue(Bytes::from_static(bytes))
    }

    /// Checks a value built at run time (possibly from user input).
    pub fn try_from_bytes(value: impl Into<Bytes>) -> Result<HeaderValue, InvalidHeader> {
        let value = value.into();
        if value.iter().any(|&b| b == b'\r' || b == b'\n' || b == 0) {
            return Err(InvalidHeader {
                reason: "value contains CR, LF or NUL",
            });
        }
        Ok(HeaderValue(value))
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl TryFrom<String> for HeaderValue {
    type Error = InvalidHeader;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        HeaderValue::try_from_bytes(value)
    }
}

impl TryFrom<&str> for HeaderValue {
    type Error = InvalidHeader;
    fn try_from(value: &str) -> Result<Self, Self::Error> {
        HeaderValue::try_from_bytes(Bytes::copy_from_slice(value.as_bytes()))
    }
}

/// Checks that a header name is a non-empty RFC 9110 token.
pub fn check_header_name(name: &str) -> Result<(), InvalidHeader> {
    let is_tchar = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if name.is_empty() || !name.bytes().all(is_tchar) {
        return Err(InvalidHeader {
            reason: "name is not a token",
        });
    }
    Ok(())
}

/// A stream of body chunks, sent with chunked transfer-coding (SSE, large renders).
pub trait BodyStream {
    /// The next chunk; `Ready(None)` ends the body. An empty chunk is skipped.
    fn poll_next_chunk(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Bytes>>;
}

/// A response body.
pub enum Body {
    Empty,
    Full(Bytes),
    Stream(Pin<Box<dyn BodyStream>>),
}

impl std::fmt::Debug for Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Body::Empty => f.write_str("Body::Empty"),
            Body::Full(bytes) => write!(f, "Body::Full({} bytes)", bytes.len()),
            Body::Stream(_) => f.write_str("Body::Stream"),
        }
    }
}

/// An HTTP response. `Content-Length`, `Transfer-Encoding`, `Date`, `Server` and `Connection`
/// are written by the encoder; handlers set everything else.
#[derive(Debug)]
pub struct Response {
    pub status: StatusCode,
    pub headers: Vec<(Cow<'static, str>, HeaderValue)>,
    pub body: Body,
    /// Set by [`Response::error`]: the body is a bare reason, not a page the app designed, so
    /// an app may render it with its own error page (see `kiln::app::App::on_error`).
    plain_error: bool,
}

impl Response {
    pub fn new(status: StatusCode) -> Response {
        Response {
            status,
            headers: Vec::new(),
            body: Body::Empty,
            plain_error: false,
        }
    }

    /// 200 with a whole body.
    pub fn ok(body: impl Into<Bytes>) -> Response {
        Response::new(StatusCode::OK).with_body(body)
    }

    pub fn with_body(mut self, body: impl Into<Bytes>) -> Response {
        self.body = Body::Full(body.into());
        self
    }

    pub fn with_stream(mut self, stream: impl BodyStream + 'static) -> Response {
        self.body = Body::Stream(Box::pin(stream));
        self
    }

    /// Adds a header whose name and value are known at compile time.
    pub fn with_static_header(mut self, name: &'static str, value: &'static str) -> Response {
        debug_assert!(check_header_name(name).is_ok(), "bad header name {name}");
        self.headers
            .push((Cow::Borrowed(name), HeaderValue::from_static(value)));
        self
    }

    /// Adds a header (duplicates allowed, e.g. `Set-Cookie`).
    pub fn append_header(
        &mut self,
        name: impl Into<Cow<'static, str>>,
        value: HeaderValue,
    ) -> Result<(), InvalidHeader> {
        let name = name.into();
        check_header_name(&name)?;
        self.headers.push((name, value));
        Ok(())
    }

    /// Replaces every header of this name with one value.
    pub fn set_header(
        &mut self,
        name: impl Into<Cow<'static, str>>,
        value: HeaderValue,
    ) -> Result<(), InvalidHeader> {
        let name = name.into();
        check_header_name(&name)?;
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(&name));
        self.headers.push((name, value));
        Ok(())
    }

    /// The first header with this name (ASCII case-insensitive).
    pub fn header(&self, name: &str) -> Option<&HeaderValue> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, value)| value)
    }

    /// A plain-text response with a reason, used for every error the server itself produces.
    /// It is marked as a plain error (see [`Response::plain_error`]).
    pub fn error(status: StatusCode, reason: &str) -> Response {
        let mut body = Vec::with_capacity(reason.len() + 1);
        body.extend_from_slice(reason.as_bytes());
        body.push(b'\n');
        let mut response = Response::new(status)
            .with_static_header("content-type", "text/plain; charset=utf-8")
            .with_body(body);
        response.plain_error = true;
        response
    }

    /// The reason of a response made by [`Response::error`] (its body without the final
    /// newline), or `None` for any other response. An app's error hook renders these.
    pub fn plain_error(&self) -> Option<&str> {
        match &self.body {
            Body::Full(bytes) if self.plain_error => std::str::from_utf8(bytes)
                .ok()
                .map(|text| text.strip_suffix('\n').unwrap_or(text)),
            _ => None,
        }
    }
}
