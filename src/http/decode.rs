//! The per-connection request decoder: bytes from the connection's read buffer in, complete
//! requests (head and whole body) out, one at a time, pipelining included.
//!
//! The decoder is a small state machine over `Head` (scan for the blank line with `scan.rs`,
//! then parse with `head.rs`) and `Body` (Content-Length or `chunked.rs`). It is strict about
//! framing, because a lenient parser behind a proxy is how requests get smuggled (RFC 9112
//! §6.3, §11.2): bare LF or CR, obs-fold, conflicting or malformed lengths and unknown
//! transfer-codings are all refused. It makes no syscall and reads no clock; timeouts are the
//! server's (see `phase`). It does not write the `100 Continue` itself: it says when one is due.
//! Unit tests for the whole decoder (pipelining, byte-at-a-time feeding, limits and
//! property tests) are at the bottom of this file; each part's own rules are tested beside it.
//!
//! # After an error
//! `decode` returns `Err` once the request is known to be bad, having consumed an unspecified
//! part of it: the rest of `buf` is not a request boundary and must not be decoded again. The
//! server answers with the error's status and closes the connection. Later calls return the
//! same error.

mod chunked;
mod head;
mod host;
mod scan;

use bytes::{Buf, Bytes, BytesMut};

use crate::http::request::Request;
use crate::http::response::StatusCode;
use crate::limits::HttpLimits;

use chunked::ChunkedBody;
use head::{HeaderStorage, ParsedHead, RequestFraming, parse_head};
use scan::{ScanError, SectionScan, TargetScan};

/// Empty lines (CRLF) accepted before a request line (RFC 9112 §2.2 asks for at least one;
/// clients that send a stray CRLF after a body send one). Beyond it: 400.
pub(crate) const EMPTY_LINES_BEFORE_REQUEST_MAX: usize = 8;
const CRLF: &[u8] = b"\r\n";
const CR: u8 = b'\r';

/// Decodes the requests on one connection; reuse it for every request on that connection.
pub struct RequestDecoder {
    limits: HttpLimits,
    state: State,
    /// The error already returned, if any; the decoder stays failed.
    failure: Option<RequestError>,
}

/// The result of a successful `decode` step.
#[derive(Debug)]
pub enum Decoded {
    /// One complete request: head and whole body.
    Request(Request),
    /// The head said `Expect: 100-continue` and the body is not all here yet: write
    /// `encode_continue` and keep reading. Emitted at most once per request.
    ContinueExpected,
}

/// What the decoder is in the middle of, for the server's timeouts. It describes the state as
/// of the last `decode` call (bytes appended to the buffer since then are not looked at).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecoderPhase {
    /// No byte of a next request yet (empty lines before a request line do not count).
    Idle,
    /// Part of a request head has arrived.
    Head,
    /// The head is complete; the body is not.
    Body,
}

/// A request the decoder refuses: answer with `status` and close the connection.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RequestError {
    pub status: StatusCode,
    /// A short, fixed explanation, safe to send to the client.
    pub reason: &'static str,
}

impl RequestError {
    pub(crate) const fn new(status: StatusCode, reason: &'static str) -> RequestError {
        RequestError { status, reason }
    }

    pub(crate) const fn bad_request(reason: &'static str) -> RequestError {
        RequestError::new(StatusCode::BAD_REQUEST, reason)
    }
}

impl std::fmt::Display for RequestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status.as_u16(), self.reason)
    }
}

impl std::error::Error for RequestError {}

enum State {
    Head(HeadProgress),
    /// Boxed: a decoder lives as long as its connection, and most requests (no body, or a
    /// body already buffered) never enter this state, so idle connections stay small.
    Body(Box<PendingRequest>),
}

/// How far the current head has been looked at.
#[derive(Default)]
struct HeadProgress {
    empty_lines: usize,
    section: SectionScan,
    target: TargetScan,
}

/// A parsed head waiting for its body.
struct PendingRequest {
    /// The request, with an empty body until the body is complete.
    request: Request,
    body: BodyProgress,
    /// A `ContinueExpected` is still to be emitted.
    continue_pending: bool,
}

enum BodyProgress {
    /// Exactly this many bytes, taken from the buffer in one piece (zero copy).
    Length(usize),
    Chunked(ChunkedBody),
}

impl RequestDecoder {
    pub fn new(limits: HttpLimits) -> RequestDecoder {
        RequestDecoder {
            limits,
            state: State::Head(HeadProgress::default()),
            failure: None,
        }
    }

    /// Consumes bytes from `buf` (the connection's read buffer; bytes of a later pipelined
    /// request stay in it).
    ///
    /// `Ok(None)`: more bytes are needed. `Ok(Some(Decoded::Request(_)))`: one complete
    /// request; call again, another may already be in `buf`. `Ok(Some(ContinueExpected))`: see
    /// `Decoded`. `Err(_)`: the request is bad; see the module docs.
    ///
    /// A body framed by Content-Length is returned only once all of it is in `buf`, so the
    /// buffer must be able to grow to `head_bytes_max + body_bytes_max`.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Decoded>, RequestError> {
        if let Some(failure) = &self.failure {
            return Err(failure.clone());
        }
        let result = self.decode_step(buf);
        if let Err(error) = &result {
            self.failure = Some(error.clone());
        }
        result
    }

    /// What is in progress, for the server's timeouts.
    pub fn phase(&self) -> DecoderPhase {
        match &self.state {
            State::Head(progress) if !progress.section.started() => DecoderPhase::Idle,
            State::Head(_) => DecoderPhase::Head,
            State::Body(_) => DecoderPhase::Body,
        }
    }

    fn decode_step(&mut self, buf: &mut BytesMut) -> Result<Option<Decoded>, RequestError> {
        if let State::Head(progress) = &mut self.state {
            let limits = &self.limits;
            let parsed = with_header_storage(limits.header_count_max, |storage| {
                read_head(progress, buf, storage, limits)
            })?;
            let Some(mut pending) = parsed else {
                return Ok(None);
            };
            if let BodyProgress::Length(len) = pending.body
                && buf.len() >= len
            {
                // The whole body is here (always, for requests without one): done at once.
                pending.request.body = buf.split_to(len).freeze();
                self.state = State::Head(HeadProgress::default());
                return Ok(Some(Decoded::Request(pending.request)));
            }
            self.state = State::Body(Box::new(pending));
        }
        self.read_body(buf)
    }

    fn read_body(&mut self, buf: &mut BytesMut) -> Result<Option<Decoded>, RequestError> {
        let State::Body(pending) = &mut self.state else {
            return Ok(None);
        };
        let body = match &mut pending.body {
            BodyProgress::Length(len) => (buf.len() >= *len).then(|| buf.split_to(*len).freeze()),
            BodyProgress::Chunked(chunked) => {
                let limits = &self.limits;
                with_header_storage(limits.header_count_max, |storage| {
                    chunked.decode(buf, storage, limits)
                })?
            }
        };
        let Some(body) = body else {
            let continue_now = std::mem::take(&mut pending.continue_pending);
            return Ok(continue_now.then_some(Decoded::ContinueExpected));
        };
        pending.request.body = body;
        Ok(self.take_request().map(Decoded::Request))
    }

    /// Ends the current request, leaving the decoder ready for the next head.
    fn take_request(&mut self) -> Option<Request> {
        let idle = State::Head(HeadProgress::default());
        match std::mem::replace(&mut self.state, idle) {
            State::Body(pending) => Some(pending.request),
            State::Head(_) => None,
        }
    }
}

thread_local! {
    /// The httparse header slots, one set per thread rather than per decoder: a decoder lives
    /// as long as its connection, and an idle connection should not hold `header_count_max`
    /// slots (2 KiB at the default). Decoding is not re-entrant, so one set suffices.
    static HEADER_STORAGE: std::cell::RefCell<Option<HeaderStorage>> =
        const { std::cell::RefCell::new(None) };
}

/// Lends this thread's header slots, sized for `header_count_max`, to `f`.
fn with_header_storage<R>(header_count_max: usize, f: impl FnOnce(&mut HeaderStorage) -> R) -> R {
    HEADER_STORAGE.with(|cell| {
        let mut slot = cell.borrow_mut();
        let storage = match slot.as_mut() {
            Some(storage) if storage.header_count_max() == header_count_max => storage,
            _ => slot.insert(HeaderStorage::new(header_count_max)),
        };
        f(storage)
    })
}

/// Advances the head in `buf`; once it is complete and valid, cuts it out of `buf`.
fn read_head(
    progress: &mut HeadProgress,
    buf: &mut BytesMut,
    storage: &mut HeaderStorage,
    limits: &HttpLimits,
) -> Result<Option<PendingRequest>, RequestError> {
    if !progress.section.started() {
        skip_empty_lines(progress, buf)?;
        if buf.is_empty() || buf[..] == [CR] {
            return Ok(None);
        }
    }
    let scan_window = buf.get(..buf.len().min(limits.head_bytes_max));
    progress
        .target
        .scan(scan_window.unwrap_or_default(), limits.uri_bytes_max)?;
    let scanned = progress.section.scan(buf, limits.head_bytes_max);
    let Some(head_len) = scanned.map_err(head_scan_error)? else {
        return Ok(None);
    };
    let parsed = parse_head(buf.get(..head_len).unwrap_or_default(), storage, limits)?;
    let head = buf.split_to(head_len).freeze();
    Ok(Some(PendingRequest::new(parsed, head)))
}

/// Drops the empty lines before a request line (at most `EMPTY_LINES_BEFORE_REQUEST_MAX`).
fn skip_empty_lines(progress: &mut HeadProgress, buf: &mut BytesMut) -> Result<(), RequestError> {
    while buf.starts_with(CRLF) {
        progress.empty_lines += 1;
        if progress.empty_lines > EMPTY_LINES_BEFORE_REQUEST_MAX {
            return Err(RequestError::bad_request(
                "too many empty lines before the request line",
            ));
        }
        buf.advance(CRLF.len());
    }
    Ok(())
}

fn head_scan_error(error: ScanError) -> RequestError {
    match error {
        ScanError::BareLf => RequestError::bad_request("bare LF in request head"),
        ScanError::TooLong => RequestError::HEAD_TOO_LARGE,
    }
}

impl PendingRequest {
    fn new(parsed: ParsedHead, head: Bytes) -> PendingRequest {
        let body = match parsed.framing {
            // The head parser already refused lengths above `body_bytes_max` (a usize).
            RequestFraming::Length(len) => {
                BodyProgress::Length(usize::try_from(len).unwrap_or(usize::MAX))
            }
            RequestFraming::Chunked => BodyProgress::Chunked(ChunkedBody::new()),
        };
        let request = Request {
            head,
            method: parsed.method,
            version: parsed.version,
            target: parsed.target,
            path_end: parsed.path_end,
            headers: parsed.headers,
            body: Bytes::new(),
            keep_alive: parsed.keep_alive,
            peer: None,
        };
        PendingRequest {
            request,
            body,
            continue_pending: parsed.expect_continue,
        }
    }
}

#[cfg(test)]
mod tests;
