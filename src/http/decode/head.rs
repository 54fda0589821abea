//! Parsing one complete request head: httparse for the syntax, then the RFC 9112 / RFC 9110
//! rules httparse leaves to us (version, target form, Host, Content-Length, Transfer-Encoding,
//! Expect, Connection), which decide how the body is framed.
//!
//! It is handed a head that the scanner in `scan.rs` already found complete and free of bare
//! LF (httparse refuses bare CRs); it does not read a body or consume bytes. Header values are kept as ranges into the
//! head, never copied. Tests for each rule are at the bottom of this file.

use std::mem::MaybeUninit;
use std::ops::Range;

use crate::http::request::{HeaderSpan, Method, Version};
use crate::http::response::StatusCode;
use crate::limits::HttpLimits;

use super::RequestError;
use super::host::is_host_value;

const HTTP_NAME_PREFIX: &[u8] = b"HTTP/";
const CHUNKED: &[u8] = b"chunked";
const CLOSE: &[u8] = b"close";
const KEEP_ALIVE: &[u8] = b"keep-alive";
const CONTINUE_EXPECTATION: &[u8] = b"100-continue";
const ABSOLUTE_FORM_SCHEMES: [&str; 2] = ["http://", "https://"];
const DECIMAL_BASE: u64 = 10;

/// The httparse header slots, `header_count_max` of them, allocated once per thread and reused
/// for every head (and, if a chunked body ever has trailer fields, every trailer section).
pub(super) struct HeaderStorage {
    header_count_max: usize,
    /// For heads: httparse initializes the ones it uses, so reusing them costs nothing.
    head_slots: Vec<MaybeUninit<httparse::Header<'static>>>,
    /// For trailer sections (`httparse::parse_headers` wants initialized slots); allocated on the
    /// first non-empty trailer section, since most connections never send one.
    trailer_slots: Vec<httparse::Header<'static>>,
}

impl HeaderStorage {
    pub(super) fn header_count_max(&self) -> usize {
        self.header_count_max
    }

    pub(super) fn new(header_count_max: usize) -> HeaderStorage {
        HeaderStorage {
            header_count_max,
            head_slots: std::iter::repeat_with(MaybeUninit::uninit)
                .take(header_count_max)
                .collect(),
            trailer_slots: Vec::new(),
        }
    }

    /// Lends the head slots, typed for a buffer of lifetime `'b`, to `parse`.
    ///
    /// `Vec` and `MaybeUninit` are covariant, so the `'static` slots can be lent as `'b` ones; to
    /// store them again they are mapped back to uninitialized `'static` slots with an in-place
    /// `collect`, which reuses the allocation and compiles to nothing (no unsafe code needed to
    /// forget the buffer's lifetime).
    pub(super) fn with_head_slots<'b, R>(
        &mut self,
        parse: impl FnOnce(&mut [MaybeUninit<httparse::Header<'b>>]) -> R,
    ) -> R {
        let mut slots: Vec<MaybeUninit<httparse::Header<'b>>> =
            std::mem::take(&mut self.head_slots);
        let result = parse(&mut slots);
        self.head_slots = slots.into_iter().map(|_| MaybeUninit::uninit()).collect();
        result
    }

    /// Lends initialized slots for a trailer section, as `with_head_slots` does.
    pub(super) fn with_trailer_slots<'b, R>(
        &mut self,
        parse: impl FnOnce(&mut [httparse::Header<'b>]) -> R,
    ) -> R {
        if self.trailer_slots.is_empty() {
            self.trailer_slots = vec![httparse::EMPTY_HEADER; self.header_count_max];
        }
        let mut slots: Vec<httparse::Header<'b>> = std::mem::take(&mut self.trailer_slots);
        let result = parse(&mut slots);
        self.trailer_slots = slots.into_iter().map(|_| httparse::EMPTY_HEADER).collect();
        result
    }

    #[cfg(test)]
    pub(super) fn slots_addresses(&self) -> (usize, usize) {
        (
            self.head_slots.as_ptr().addr(),
            self.trailer_slots.as_ptr().addr(),
        )
    }
}

/// How the body of a request is delimited (RFC 9112 §6.3). A request without Content-Length or
/// Transfer-Encoding has an empty body (`Length(0)`): requests are never read until close.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum RequestFraming {
    Length(u64),
    Chunked,
}

/// Everything a `Request` needs except the head bytes and the body.
#[derive(Debug)]
pub(super) struct ParsedHead {
    pub(super) method: Method,
    pub(super) version: Version,
    pub(super) target: Range<u32>,
    pub(super) path_end: u32,
    pub(super) headers: Vec<HeaderSpan>,
    pub(super) keep_alive: bool,
    pub(super) framing: RequestFraming,
    /// `Expect: 100-continue` on HTTP/1.1 with a non-empty body.
    pub(super) expect_continue: bool,
}

/// Parses `head` (request line through the blank line, nothing after it).
pub(super) fn parse_head(
    head: &[u8],
    storage: &mut HeaderStorage,
    limits: &HttpLimits,
) -> Result<ParsedHead, RequestError> {
    storage.with_head_slots(|slots| parse_with_slots(head, slots, limits))
}

fn parse_with_slots<'b>(
    head: &'b [u8],
    slots: &mut [MaybeUninit<httparse::Header<'b>>],
    limits: &HttpLimits,
) -> Result<ParsedHead, RequestError> {
    let mut request = httparse::Request::new(&mut []);
    match request.parse_with_uninit_headers(head, slots) {
        Ok(httparse::Status::Complete(len)) if len == head.len() => {}
        Ok(_) => return Err(RequestError::bad_request("malformed request head")),
        Err(error) => return Err(httparse_error(error, head)),
    }
    let (Some(method), Some(target), Some(minor_version)) =
        (request.method, request.path, request.version)
    else {
        return Err(RequestError::bad_request("malformed request line"));
    };
    let version = match minor_version {
        0 => Version::Http10,
        1 => Version::Http11,
        _ => return Err(RequestError::VERSION_NOT_SUPPORTED),
    };
    if target.len() > limits.uri_bytes_max {
        return Err(RequestError::URI_TOO_LONG);
    }
    let method = Method::from_token(method);
    let (target, path_end) =
        locate_origin_form(&method, target, span_of(head, target.as_bytes())?)?;
    let mut summary = FieldSummary::default();
    let mut headers = Vec::with_capacity(request.headers.len());
    for header in request.headers.iter() {
        headers.push(HeaderSpan {
            name: span_of(head, header.name.as_bytes())?,
            value: span_of(head, header.value)?,
        });
        summary.observe(header.name, header.value)?;
    }
    summary.check_host(version)?;
    let framing = summary.framing(version, limits)?;
    let expect_continue = summary.expects_continue(version, framing)?;
    Ok(ParsedHead {
        method,
        version,
        target,
        path_end,
        headers,
        keep_alive: summary.keep_alive(version),
        framing,
        expect_continue,
    })
}

/// Maps an httparse error to a status: too many headers is 431, an unsupported `HTTP/x.y` is
/// 505 (httparse reports any version but 1.0 and 1.1 as `Version`), everything else is 400.
fn httparse_error(error: httparse::Error, head: &[u8]) -> RequestError {
    match error {
        httparse::Error::TooManyHeaders => RequestError::TOO_MANY_HEADERS,
        httparse::Error::Version if version_token_is_http(head) => {
            RequestError::VERSION_NOT_SUPPORTED
        }
        httparse::Error::Version => RequestError::bad_request("invalid HTTP version"),
        httparse::Error::HeaderName => RequestError::bad_request("invalid header name"),
        httparse::Error::HeaderValue => RequestError::bad_request("invalid header value"),
        httparse::Error::Token => RequestError::bad_request("invalid request line"),
        httparse::Error::NewLine => RequestError::bad_request("invalid line ending"),
        _ => RequestError::bad_request("malformed request head"),
    }
}

/// Whether the request line is three words and the third starts with `HTTP/` (so a bad version
/// is a version we do not support, not a malformed line).
fn version_token_is_http(head: &[u8]) -> bool {
    const REQUEST_LINE_WORDS: usize = 3;
    let line_end = head.iter().position(|&b| b == b'\r').unwrap_or(head.len());
    let request_line = head.get(..line_end).unwrap_or_default();
    let mut words = request_line.split(|&b| b == b' ');
    let version = words.nth(REQUEST_LINE_WORDS - 1);
    let has_more_words = words.next().is_some();
    !has_more_words && version.is_some_and(|word| word.starts_with(HTTP_NAME_PREFIX))
}

/// Where `part` (a subslice of `head`) lies inside `head`, as a range of u32 offsets.
fn span_of(head: &[u8], part: &[u8]) -> Result<Range<u32>, RequestError> {
    let start = part.as_ptr().addr().checked_sub(head.as_ptr().addr());
    let range = start
        .and_then(|start| Some(start..start.checked_add(part.len())?))
        .filter(|range| range.end <= head.len())
        .ok_or(RequestError::bad_request("malformed request head"))?;
    let to_u32 = |offset: usize| u32::try_from(offset).map_err(|_| RequestError::HEAD_TOO_LARGE);
    Ok(to_u32(range.start)?..to_u32(range.end)?)
}

/// Checks the target form (RFC 9112 §3.2) and returns the range of its origin-form part
/// (path and query) and where the path ends. Accepted: origin-form (`/path?query`),
/// asterisk-form (`*`, OPTIONS only) and absolute-form with a path (`http://host/path`, of which
/// only the path and query are kept). An absolute-form without a path, authority-form and
/// fragments are refused with 400.
fn locate_origin_form(
    method: &Method,
    target: &str,
    target_span: Range<u32>,
) -> Result<(Range<u32>, u32), RequestError> {
    const INVALID_TARGET: RequestError = RequestError::bad_request("invalid request target");
    if target.contains('#') {
        return Err(INVALID_TARGET);
    }
    let origin_offset = if target.starts_with('/') || (target == "*" && *method == Method::Options)
    {
        0
    } else {
        absolute_form_path_offset(target).ok_or(INVALID_TARGET)?
    };
    let origin = target.get(origin_offset..).ok_or(INVALID_TARGET)?;
    let path_len = origin.find('?').unwrap_or(origin.len());
    let to_u32 = |offset: usize| u32::try_from(offset).map_err(|_| INVALID_TARGET);
    let start = target_span.start + to_u32(origin_offset)?;
    let path_end = start + to_u32(path_len)?;
    Ok((start..target_span.end, path_end))
}

/// For `http://authority/path...` or `https://...` (scheme case-insensitive, authority not
/// empty), the offset of the path's `/`.
fn absolute_form_path_offset(target: &str) -> Option<usize> {
    let scheme_len = ABSOLUTE_FORM_SCHEMES
        .iter()
        .find(|scheme| {
            target
                .get(..scheme.len())
                .is_some_and(|prefix| prefix.eq_ignore_ascii_case(scheme))
        })?
        .len();
    let rest = target.get(scheme_len..)?;
    let authority_len = rest.find(['/', '?'])?;
    let path_starts = authority_len > 0
        && rest
            .get(authority_len..)
            .is_some_and(|path| path.starts_with('/'));
    path_starts.then_some(scheme_len + authority_len)
}

/// What the header fields say about framing and the connection, collected in one pass.
#[derive(Debug, Default)]
struct FieldSummary {
    content_length: Option<u64>,
    content_length_fields: usize,
    transfer_encoding: TransferCodings,
    host_fields: usize,
    connection_close: bool,
    connection_keep_alive: bool,
    expect_continue: bool,
    expect_other: bool,
}

/// The transfer-codings of every `Transfer-Encoding` field, read as one list.
#[derive(Debug, Default)]
struct TransferCodings {
    fields: usize,
    chunked_count: usize,
    last_is_chunked: bool,
    unsupported: bool,
}

impl FieldSummary {
    fn observe(&mut self, name: &str, value: &[u8]) -> Result<(), RequestError> {
        if name.eq_ignore_ascii_case("content-length") {
            self.content_length_fields += 1;
            self.content_length = Some(parse_content_length(value)?);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            self.transfer_encoding.observe(value)?;
        } else if name.eq_ignore_ascii_case("host") {
            self.host_fields += 1;
            if !is_host_value(trim_ows(value)) {
                return Err(RequestError::bad_request("invalid Host header"));
            }
        } else if name.eq_ignore_ascii_case("connection") {
            self.observe_connection(value);
        } else if name.eq_ignore_ascii_case("expect") {
            self.observe_expect(value);
        }
        Ok(())
    }

    fn observe_connection(&mut self, value: &[u8]) {
        for option in list_elements(value) {
            self.connection_close |= option.eq_ignore_ascii_case(CLOSE);
            self.connection_keep_alive |= option.eq_ignore_ascii_case(KEEP_ALIVE);
        }
    }

    fn observe_expect(&mut self, value: &[u8]) {
        if value.eq_ignore_ascii_case(CONTINUE_EXPECTATION) {
            self.expect_continue = true;
        } else {
            self.expect_other = true;
        }
    }

    /// RFC 9112 §3.2: an HTTP/1.1 request has exactly one Host; no request has two. (Each
    /// value is checked as it is seen, `is_host_value`.)
    fn check_host(&self, version: Version) -> Result<(), RequestError> {
        match (self.host_fields, version) {
            (0, Version::Http11) => Err(RequestError::bad_request("missing Host header")),
            (0 | 1, _) => Ok(()),
            _ => Err(RequestError::bad_request("multiple Host headers")),
        }
    }

    /// RFC 9112 §6.1 and §6.3, strictly: every ambiguity is refused.
    fn framing(
        &self,
        version: Version,
        limits: &HttpLimits,
    ) -> Result<RequestFraming, RequestError> {
        if self.content_length_fields > 1 {
            return Err(RequestError::bad_request("multiple Content-Length headers"));
        }
        if self.transfer_encoding.fields > 0 {
            return self.chunked_framing(version);
        }
        let length = self.content_length.unwrap_or(0);
        let fits = usize::try_from(length).is_ok_and(|length| length <= limits.body_bytes_max);
        if !fits {
            return Err(RequestError::BODY_TOO_LARGE);
        }
        Ok(RequestFraming::Length(length))
    }

    fn chunked_framing(&self, version: Version) -> Result<RequestFraming, RequestError> {
        let codings = &self.transfer_encoding;
        if version == Version::Http10 {
            return Err(RequestError::bad_request(
                "Transfer-Encoding in an HTTP/1.0 request",
            ));
        }
        if self.content_length_fields > 0 {
            return Err(RequestError::bad_request(
                "both Transfer-Encoding and Content-Length",
            ));
        }
        if codings.chunked_count > 1 {
            return Err(RequestError::bad_request("chunked applied more than once"));
        }
        if codings.unsupported {
            return Err(RequestError::UNSUPPORTED_TRANSFER_CODING);
        }
        if !codings.last_is_chunked {
            return Err(RequestError::bad_request(
                "chunked is not the final transfer-coding",
            ));
        }
        Ok(RequestFraming::Chunked)
    }

    /// 417 for any expectation but `100-continue`; HTTP/1.0 requests' `Expect` is ignored
    /// (RFC 9110 §10.1.1). A continue is only worth sending when a body is coming.
    fn expects_continue(
        &self,
        version: Version,
        framing: RequestFraming,
    ) -> Result<bool, RequestError> {
        if version == Version::Http10 {
            return Ok(false);
        }
        if self.expect_other {
            return Err(RequestError::EXPECTATION_FAILED);
        }
        Ok(self.expect_continue && framing != RequestFraming::Length(0))
    }

    fn keep_alive(&self, version: Version) -> bool {
        match version {
            Version::Http11 => !self.connection_close,
            Version::Http10 => self.connection_keep_alive && !self.connection_close,
        }
    }
}

impl TransferCodings {
    fn observe(&mut self, value: &[u8]) -> Result<(), RequestError> {
        self.fields += 1;
        for coding in list_elements(value) {
            let (name, parameters) = match coding.iter().position(|&b| b == b';') {
                Some(semicolon) => coding.split_at(semicolon),
                None => (coding, &[][..]),
            };
            let name = trim_ows(name);
            if !is_token(name) {
                return Err(RequestError::bad_request("invalid transfer-coding"));
            }
            let is_chunked = name.eq_ignore_ascii_case(CHUNKED);
            if is_chunked && !parameters.is_empty() {
                return Err(RequestError::bad_request("chunked takes no parameters"));
            }
            self.chunked_count += usize::from(is_chunked);
            self.unsupported |= !is_chunked;
            self.last_is_chunked = is_chunked;
        }
        Ok(())
    }
}

/// `Content-Length = 1*DIGIT`, nothing else (no sign, no spaces, no list), without overflow.
fn parse_content_length(value: &[u8]) -> Result<u64, RequestError> {
    const INVALID: RequestError = RequestError::bad_request("invalid Content-Length");
    if value.is_empty() {
        return Err(INVALID);
    }
    value.iter().try_fold(0u64, |length, &byte| {
        if !byte.is_ascii_digit() {
            return Err(INVALID);
        }
        length
            .checked_mul(DECIMAL_BASE)
            .and_then(|length| length.checked_add(u64::from(byte - b'0')))
            .ok_or(INVALID)
    })
}

/// The non-empty elements of a comma-separated list (RFC 9110 §5.6.1), trimmed of OWS.
fn list_elements(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|&b| b == b',')
        .map(trim_ows)
        .filter(|element| !element.is_empty())
}

pub(super) fn is_ows(byte: u8) -> bool {
    byte == b' ' || byte == b'\t'
}

fn trim_ows(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|&b| !is_ows(b))
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|&b| !is_ows(b))
        .map_or(start, |last| last + 1);
    bytes.get(start..end).unwrap_or_default()
}

/// RFC 9110 §5.6.2 `tchar`.
pub(super) fn is_tchar(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte)
}

pub(super) fn is_token(bytes: &[u8]) -> bool {
    !bytes.is_empty() && bytes.iter().all(|&b| is_tchar(b))
}

impl RequestError {
    pub(super) const URI_TOO_LONG: RequestError =
        RequestError::new(StatusCode::URI_TOO_LONG, "request target too long");
    pub(super) const HEAD_TOO_LARGE: RequestError = RequestError::new(
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        "request head too large",
    );
    pub(super) const TOO_MANY_HEADERS: RequestError = RequestError::new(
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        "too many header fields",
    );
    pub(super) const BODY_TOO_LARGE: RequestError =
        RequestError::new(StatusCode::PAYLOAD_TOO_LARGE, "request body too large");
    pub(super) const VERSION_NOT_SUPPORTED: RequestError = RequestError::new(
        StatusCode::HTTP_VERSION_NOT_SUPPORTED,
        "HTTP version not supported",
    );
    pub(super) const UNSUPPORTED_TRANSFER_CODING: RequestError =
        RequestError::new(StatusCode::NOT_IMPLEMENTED, "unsupported transfer-coding");
    pub(super) const EXPECTATION_FAILED: RequestError =
        RequestError::new(StatusCode::EXPECTATION_FAILED, "unsupported expectation");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(head: &str) -> Result<ParsedHead, RequestError> {
        let limits = HttpLimits::default();
        let mut storage = HeaderStorage::new(limits.header_count_max);
        parse_head(head.as_bytes(), &mut storage, &limits)
    }

    fn status(head: &str) -> u16 {
        match parse(head) {
            Ok(_) => 200,
            Err(error) => error.status.as_u16(),
        }
    }

    /// A request line and header lines (each without CRLF) joined into a head.
    fn head(request_line: &str, fields: &[&str]) -> String {
        let mut head = format!("{request_line}\r\n");
        for field in fields {
            head.push_str(field);
            head.push_str("\r\n");
        }
        head.push_str("\r\n");
        head
    }

    fn framing_of(fields: &[&str]) -> Result<RequestFraming, u16> {
        let mut all = vec!["Host: example.com"];
        all.extend_from_slice(fields);
        parse(&head("POST /submit HTTP/1.1", &all))
            .map(|parsed| parsed.framing)
            .map_err(|error| error.status.as_u16())
    }

    #[test]
    fn content_length_table() {
        let cases: &[(&[&str], Result<RequestFraming, u16>)] = &[
            (&[], Ok(RequestFraming::Length(0))),
            (&["Content-Length: 5"], Ok(RequestFraming::Length(5))),
            (&["content-length: 0"], Ok(RequestFraming::Length(0))),
            (&["Content-Length: 007"], Ok(RequestFraming::Length(7))),
            (&["Content-Length:   5   "], Ok(RequestFraming::Length(5))),
            (
                &["Content-Length: 2097152"],
                Ok(RequestFraming::Length(2_097_152)),
            ),
            (&["Content-Length: 2097153"], Err(413)),
            (&["Content-Length: 18446744073709551615"], Err(413)),
            (&["Content-Length: 18446744073709551616"], Err(400)),
            (&["Content-Length: 99999999999999999999999"], Err(400)),
            (&["Content-Length: +5"], Err(400)),
            (&["Content-Length: -1"], Err(400)),
            (&["Content-Length: 0x5"], Err(400)),
            (&["Content-Length: 5 5"], Err(400)),
            (&["Content-Length: 5, 5"], Err(400)),
            (&["Content-Length: 5,5"], Err(400)),
            (&["Content-Length: 5;"], Err(400)),
            (&["Content-Length: 5.0"], Err(400)),
            (&["Content-Length:"], Err(400)),
            (&["Content-Length: "], Err(400)),
            (&["Content-Length: 5", "Content-Length: 5"], Err(400)),
            (&["Content-Length: 5", "Content-Length: 6"], Err(400)),
            (&["Content-Length: 5", "content-length: 5"], Err(400)),
        ];
        for (fields, expected) in cases {
            assert_eq!(&framing_of(fields), expected, "{fields:?}");
        }
    }

    #[test]
    fn transfer_encoding_table() {
        let cases: &[(&[&str], Result<RequestFraming, u16>)] = &[
            (&["Transfer-Encoding: chunked"], Ok(RequestFraming::Chunked)),
            (&["Transfer-Encoding: CHUNKED"], Ok(RequestFraming::Chunked)),
            (
                &["transfer-encoding: Chunked "],
                Ok(RequestFraming::Chunked),
            ),
            (
                &["Transfer-Encoding: chunked,"],
                Ok(RequestFraming::Chunked),
            ),
            (
                &["Transfer-Encoding: , chunked"],
                Ok(RequestFraming::Chunked),
            ),
            (
                &["Transfer-Encoding: chunked", "Content-Length: 5"],
                Err(400),
            ),
            (
                &["Content-Length: 5", "Transfer-Encoding: chunked"],
                Err(400),
            ),
            (&["Transfer-Encoding: chunked, chunked"], Err(400)),
            (
                &["Transfer-Encoding: chunked", "Transfer-Encoding: chunked"],
                Err(400),
            ),
            (&["Transfer-Encoding: gzip, chunked"], Err(501)),
            (&["Transfer-Encoding: chunked, gzip"], Err(501)),
            (
                &["Transfer-Encoding: gzip", "Transfer-Encoding: chunked"],
                Err(501),
            ),
            (
                &["Transfer-Encoding: chunked", "Transfer-Encoding: gzip"],
                Err(501),
            ),
            (&["Transfer-Encoding: gzip"], Err(501)),
            (&["Transfer-Encoding: deflate"], Err(501)),
            (&["Transfer-Encoding: compress"], Err(501)),
            (&["Transfer-Encoding: identity"], Err(501)),
            (&["Transfer-Encoding: x-foo"], Err(501)),
            (&["Transfer-Encoding: xchunked"], Err(501)),
            (&["Transfer-Encoding: chunked;q=1"], Err(400)),
            (&["Transfer-Encoding: \"chunked\""], Err(400)),
            (&["Transfer-Encoding: chun ked"], Err(400)),
            (&["Transfer-Encoding:"], Err(400)),
            (&["Transfer-Encoding: ,"], Err(400)),
        ];
        for (fields, expected) in cases {
            assert_eq!(&framing_of(fields), expected, "{fields:?}");
        }
    }

    #[test]
    fn transfer_encoding_on_http10_is_refused() {
        let head = head("POST / HTTP/1.0", &["Transfer-Encoding: chunked"]);
        assert_eq!(status(&head), 400);
    }

    #[test]
    fn header_syntax_table() {
        let cases: &[(&[&str], u16)] = &[
            (&["X-Ok: fine"], 200),
            (&["X-Empty:"], 200),
            (&["X-Tab:\tvalue\t"], 200),
            (&["X-Obs-Text: caf\u{e9}"], 200),
            (&["X-Space : value"], 400),
            (&["X-Tab\t: value"], 400),
            (&[" X-Leading-Space: value"], 400),
            (&["X-Folded: a", " b"], 400),
            (&["X-Folded: a", "\tb"], 400),
            (&["Transfer-Encoding: gzip,", " chunked"], 400),
            (&["X-Nul: a\0b"], 400),
            (&["X-Ctl: a\x01b"], 400),
            (&["X-Del: a\x7fb"], 400),
            (&["X-Esc: a\x1bb"], 400),
            (&["No-Colon"], 400),
            (&[": no-name"], 400),
            (&["Bad(Name): v"], 400),
        ];
        for (fields, expected) in cases {
            let mut all = vec!["Host: h"];
            all.extend_from_slice(fields);
            let head = head("GET / HTTP/1.1", &all);
            assert_eq!(status(&head), *expected, "{fields:?}");
        }
    }

    #[test]
    fn request_line_table() {
        let cases: &[(&str, u16)] = &[
            ("GET / HTTP/1.1", 200),
            ("GET / HTTP/1.0", 200),
            ("CUSTOM-METHOD / HTTP/1.1", 200),
            ("GET / HTTP/2.0", 505),
            ("PRI * HTTP/2.0", 505),
            ("GET / HTTP/1.2", 505),
            ("GET / HTTP/3", 505),
            ("GET / HTTP/0.9", 505),
            ("GET / http/1.1", 400),
            ("GET / FOO/1.1", 400),
            ("GET / HTTP/1.1 ", 400),
            ("GET  / HTTP/1.1", 400),
            ("GET /  HTTP/1.1", 400),
            ("GET /", 400),
            ("GET", 400),
            ("G(T / HTTP/1.1", 400),
            ("GET /a\x7fb HTTP/1.1", 400),
            ("GET /caf\u{e9} HTTP/1.1", 200),
        ];
        for (line, expected) in cases {
            let head = head(line, &["Host: h"]);
            assert_eq!(status(&head), *expected, "{line:?}");
        }
    }

    #[test]
    fn target_with_invalid_utf8_is_refused() {
        let mut bytes = b"GET /\xff\xfe HTTP/1.1\r\nHost: h\r\n\r\n".to_vec();
        let limits = HttpLimits::default();
        let mut storage = HeaderStorage::new(limits.header_count_max);
        let result = parse_head(&bytes, &mut storage, &limits);
        assert_eq!(result.unwrap_err().status, StatusCode::BAD_REQUEST);
        bytes[5] = b'a';
        bytes[6] = b'b';
        assert!(parse_head(&bytes, &mut storage, &limits).is_ok());
    }

    #[test]
    fn target_forms() {
        // (request line, Ok((origin part, path)) or Err(status))
        type Located = Result<(&'static str, &'static str), u16>;
        let cases: &[(&str, Located)] = &[
            ("GET /a/b?x=1 HTTP/1.1", Ok(("/a/b?x=1", "/a/b"))),
            ("GET / HTTP/1.1", Ok(("/", "/"))),
            ("GET /? HTTP/1.1", Ok(("/?", "/"))),
            ("GET //double HTTP/1.1", Ok(("//double", "//double"))),
            ("OPTIONS * HTTP/1.1", Ok(("*", "*"))),
            ("GET * HTTP/1.1", Err(400)),
            ("GET http://example.com/a?b HTTP/1.1", Ok(("/a?b", "/a"))),
            ("GET HTTPS://example.com/ HTTP/1.1", Ok(("/", "/"))),
            ("GET http://example.com HTTP/1.1", Err(400)),
            ("GET http://example.com?q HTTP/1.1", Err(400)),
            ("GET http:///path HTTP/1.1", Err(400)),
            ("GET ftp://example.com/ HTTP/1.1", Err(400)),
            ("CONNECT example.com:443 HTTP/1.1", Err(400)),
            ("GET relative/path HTTP/1.1", Err(400)),
            ("GET /a#fragment HTTP/1.1", Err(400)),
        ];
        for (line, expected) in cases {
            let head_text = head(line, &["Host: h"]);
            let result = parse(&head_text).map_err(|error| error.status.as_u16());
            let located = result.map(|parsed| {
                let at = |range: Range<u32>| &head_text[range.start as usize..range.end as usize];
                (
                    at(parsed.target.clone()),
                    at(parsed.target.start..parsed.path_end),
                )
            });
            assert_eq!(&located, expected, "{line:?}");
        }
    }

    #[test]
    fn target_longer_than_uri_bytes_max_is_414() {
        let limits = HttpLimits {
            uri_bytes_max: 10,
            ..HttpLimits::default()
        };
        let mut storage = HeaderStorage::new(limits.header_count_max);
        let ok = head("GET /123456789 HTTP/1.1", &["Host: h"]);
        let too_long = head("GET /1234567890 HTTP/1.1", &["Host: h"]);
        assert!(parse_head(ok.as_bytes(), &mut storage, &limits).is_ok());
        let error = parse_head(too_long.as_bytes(), &mut storage, &limits).unwrap_err();
        assert_eq!(error, RequestError::URI_TOO_LONG);
    }

    #[test]
    fn too_many_headers_is_431() {
        let limits = HttpLimits {
            header_count_max: 3,
            ..HttpLimits::default()
        };
        let mut storage = HeaderStorage::new(limits.header_count_max);
        let ok = head("GET / HTTP/1.1", &["Host: h", "A: 1", "B: 2"]);
        let too_many = head("GET / HTTP/1.1", &["Host: h", "A: 1", "B: 2", "C: 3"]);
        assert_eq!(
            parse_head(ok.as_bytes(), &mut storage, &limits)
                .unwrap()
                .headers
                .len(),
            3
        );
        let error = parse_head(too_many.as_bytes(), &mut storage, &limits).unwrap_err();
        assert_eq!(error, RequestError::TOO_MANY_HEADERS);
    }

    #[test]
    fn host_rules() {
        let cases: &[(&str, &[&str], u16)] = &[
            ("GET / HTTP/1.1", &["Host: a"], 200),
            ("GET / HTTP/1.1", &["Host:"], 200),
            ("GET / HTTP/1.1", &[], 400),
            ("GET / HTTP/1.1", &["Host: a", "Host: a"], 400),
            ("GET / HTTP/1.1", &["Host: a", "host: b"], 400),
            ("GET / HTTP/1.0", &[], 200),
            ("GET / HTTP/1.0", &["Host: a"], 200),
            ("GET / HTTP/1.0", &["Host: a", "Host: b"], 400),
            // RFC 9110 §7.2: the value is `uri-host [ ":" port ]`.
            ("GET / HTTP/1.1", &["Host: example.com"], 200),
            ("GET / HTTP/1.1", &["Host: example.com:8080"], 200),
            ("GET / HTTP/1.1", &["Host: 127.0.0.1:80"], 200),
            ("GET / HTTP/1.1", &["Host: [::1]:8080"], 200),
            ("GET / HTTP/1.1", &["Host: [::1]"], 200),
            ("GET / HTTP/1.1", &["Host: a:"], 200),
            ("GET / HTTP/1.1", &["Host: "], 200),
            ("GET / HTTP/1.1", &["Host: xn--bcher-kva.example"], 200),
            ("GET / HTTP/1.1", &["Host: ex%41mple"], 200),
            ("GET / HTTP/1.1", &["Host: a b"], 400),
            ("GET / HTTP/1.1", &["Host: a/b"], 400),
            ("GET / HTTP/1.1", &["Host: a@b"], 400),
            ("GET / HTTP/1.1", &["Host: [::1"], 400),
            ("GET / HTTP/1.1", &["Host: ::1"], 400),
            ("GET / HTTP/1.1", &["Host: a:12x"], 400),
            ("GET / HTTP/1.1", &["Host: a:b:c"], 400),
            ("GET / HTTP/1.1", &["Host: a\tb"], 400),
            ("GET / HTTP/1.1", &["Host: bücher.example"], 400),
            ("GET / HTTP/1.1", &["Host: exa%mple"], 400),
            ("GET / HTTP/1.0", &["Host: a b"], 400),
            ("GET / HTTP/1.1", &["Host: a", "Host: a b"], 400),
        ];
        for (line, fields, expected) in cases {
            assert_eq!(status(&head(line, fields)), *expected, "{line} {fields:?}");
        }
    }

    /// The Host value grammar on bytes httparse lets through as well as ones it refuses first.

    #[test]
    fn keep_alive_rules() {
        let cases: &[(&str, &[&str], bool)] = &[
            ("GET / HTTP/1.1", &[], true),
            ("GET / HTTP/1.1", &["Connection: keep-alive"], true),
            ("GET / HTTP/1.1", &["Connection: close"], false),
            ("GET / HTTP/1.1", &["Connection: Upgrade, CLOSE"], false),
            (
                "GET / HTTP/1.1",
                &["Connection: te", "Connection: close"],
                false,
            ),
            ("GET / HTTP/1.1", &["Connection: closed"], true),
            ("GET / HTTP/1.0", &[], false),
            ("GET / HTTP/1.0", &["Connection: keep-alive"], true),
            ("GET / HTTP/1.0", &["Connection: Keep-Alive"], true),
            ("GET / HTTP/1.0", &["Connection: keep-alive, close"], false),
        ];
        for (line, fields, expected) in cases {
            let mut all = vec!["Host: h"];
            all.extend_from_slice(fields);
            let parsed = parse(&head(line, &all)).unwrap();
            assert_eq!(parsed.keep_alive, *expected, "{line} {fields:?}");
        }
    }

    #[test]
    fn expect_rules() {
        // (version, fields, Ok(expect_continue) or Err(status))
        let cases: &[(&str, &[&str], Result<bool, u16>)] = &[
            (
                "HTTP/1.1",
                &["Expect: 100-continue", "Content-Length: 5"],
                Ok(true),
            ),
            (
                "HTTP/1.1",
                &["Expect: 100-Continue", "Content-Length: 5"],
                Ok(true),
            ),
            (
                "HTTP/1.1",
                &["Expect: 100-continue", "Transfer-Encoding: chunked"],
                Ok(true),
            ),
            (
                "HTTP/1.1",
                &["Expect: 100-continue", "Content-Length: 0"],
                Ok(false),
            ),
            ("HTTP/1.1", &["Expect: 100-continue"], Ok(false)),
            (
                "HTTP/1.1",
                &["Expect: 200-ok", "Content-Length: 5"],
                Err(417),
            ),
            (
                "HTTP/1.1",
                &["Expect: 100-continue, foo", "Content-Length: 5"],
                Err(417),
            ),
            ("HTTP/1.1", &["Expect: foo"], Err(417)),
            (
                "HTTP/1.0",
                &["Expect: 100-continue", "Content-Length: 5"],
                Ok(false),
            ),
            ("HTTP/1.0", &["Expect: foo", "Content-Length: 5"], Ok(false)),
        ];
        for (version, fields, expected) in cases {
            let mut all = vec!["Host: h"];
            all.extend_from_slice(fields);
            let result = parse(&head(&format!("POST / {version}"), &all))
                .map(|parsed| parsed.expect_continue)
                .map_err(|error| error.status.as_u16());
            assert_eq!(&result, expected, "{version} {fields:?}");
        }
    }

    #[test]
    fn header_spans_point_at_trimmed_names_and_values() {
        let text = head(
            "GET / HTTP/1.1",
            &["Host:  example.com  ", "X-Empty:", "X-A:b"],
        );
        let parsed = parse(&text).unwrap();
        let at = |range: &Range<u32>| &text[range.start as usize..range.end as usize];
        let fields: Vec<(&str, &str)> = parsed
            .headers
            .iter()
            .map(|span| (at(&span.name), at(&span.value)))
            .collect();
        assert_eq!(
            fields,
            [("Host", "example.com"), ("X-Empty", ""), ("X-A", "b")]
        );
    }

    #[test]
    fn header_storage_is_reused_not_reallocated() {
        let limits = HttpLimits::default();
        let mut storage = HeaderStorage::new(limits.header_count_max);
        let trailers = b"X-Sum: 1\r\n\r\n";
        let parse_trailers = |storage: &mut HeaderStorage| {
            storage.with_trailer_slots(|slots| httparse::parse_headers(trailers, slots).is_ok())
        };
        assert!(parse_trailers(&mut storage));
        let addresses = storage.slots_addresses();
        let text = head("GET / HTTP/1.1", &["Host: h", "A: b"]);
        for _ in 0..3 {
            parse_head(text.as_bytes(), &mut storage, &limits).unwrap();
            assert!(parse_trailers(&mut storage));
            assert_eq!(storage.slots_addresses(), addresses);
        }
        let _ = parse_head(b"GET / HTTP/9.9\r\n\r\n", &mut storage, &limits);
        assert_eq!(storage.slots_addresses(), addresses);
    }
}
