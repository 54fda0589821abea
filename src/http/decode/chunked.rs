//! Incremental decoding of a chunked request body (RFC 9112 §7.1): size lines, chunk data,
//! the CRLF after each chunk, and the trailer section.
//!
//! Data is copied once, from the connection buffer into the body being assembled. Chunk
//! extensions are checked against the grammar and then ignored. Trailer fields are parsed
//! (so a malformed or oversized trailer section is refused) and then discarded: handlers only
//! see the header section. The total body is bounded by `body_bytes_max` (413, decided from the
//! size line before the chunk arrives). Tests are at the bottom of this file.

use bytes::{Buf, Bytes, BytesMut};

use crate::http::response::StatusCode;
use crate::limits::HttpLimits;

use super::RequestError;
use super::head::{HeaderStorage, is_ows, is_tchar, is_token};
use super::scan::{ScanError, SectionScan, find_byte};

/// Longest chunk-size line, extensions and CRLF included. Beyond it: 400.
pub(crate) const CHUNK_SIZE_LINE_BYTES_MAX: usize = 4096;
/// Bytes of chunk-size lines beyond the first `PLAIN_SIZE_LINE_BYTES` of each (extensions,
/// leading zeros), summed over one body. Beyond it: 400. Without it a client could send a
/// 4 KiB size line for every byte of body.
pub(crate) const CHUNK_SIZE_LINES_EXTRA_BYTES_MAX: usize = 16 * 1024;
/// A size line this long is free: 16 hex digits are enough for any u64.
const PLAIN_SIZE_LINE_BYTES: usize = 16;
const CRLF: &[u8] = b"\r\n";
const LF: u8 = b'\n';
const HEX_BASE: u64 = 16;

/// A chunked body in progress.
#[derive(Debug)]
pub(super) struct ChunkedBody {
    state: ChunkState,
    /// The chunk data decoded so far; never longer than `body_bytes_max`.
    body: BytesMut,
    /// Counted against `CHUNK_SIZE_LINES_EXTRA_BYTES_MAX`.
    size_line_extra_bytes: usize,
}

#[derive(Clone, Copy, Debug)]
enum ChunkState {
    /// Reading a chunk-size line; `scanned_bytes` of it held no LF.
    SizeLine { scanned_bytes: usize },
    /// Copying chunk data; `remaining_bytes` > 0.
    Data { remaining_bytes: u64 },
    /// The CRLF after chunk data.
    DataEnd,
    /// After the last chunk: the trailer section up to its blank line.
    Trailers(SectionScan),
}

/// What one step of decoding did.
enum Step {
    /// Go on with this state; bytes were consumed.
    Next(ChunkState),
    /// Wait for more bytes in this state.
    NeedMore(ChunkState),
    /// The body is complete, trailers included.
    Done,
}

impl ChunkedBody {
    pub(super) fn new() -> ChunkedBody {
        ChunkedBody {
            state: ChunkState::SizeLine { scanned_bytes: 0 },
            body: BytesMut::new(),
            size_line_extra_bytes: 0,
        }
    }

    /// Consumes what it can of `buf`; returns the whole body once the trailer section is read.
    /// Bytes after the body (a pipelined request) stay in `buf`.
    pub(super) fn decode(
        &mut self,
        buf: &mut BytesMut,
        storage: &mut HeaderStorage,
        limits: &HttpLimits,
    ) -> Result<Option<Bytes>, RequestError> {
        loop {
            // Every `Next` consumes at least one byte, so this loop ends.
            match self.step(buf, storage, limits)? {
                Step::Next(state) => self.state = state,
                Step::NeedMore(state) => {
                    self.state = state;
                    return Ok(None);
                }
                Step::Done => return Ok(Some(std::mem::take(&mut self.body).freeze())),
            }
        }
    }

    fn step(
        &mut self,
        buf: &mut BytesMut,
        storage: &mut HeaderStorage,
        limits: &HttpLimits,
    ) -> Result<Step, RequestError> {
        match self.state {
            ChunkState::SizeLine { scanned_bytes } => {
                self.step_size_line(buf, scanned_bytes, limits)
            }
            ChunkState::Data { remaining_bytes } => Ok(self.step_data(buf, remaining_bytes)),
            ChunkState::DataEnd => step_data_end(buf),
            ChunkState::Trailers(scan) => step_trailers(buf, scan, storage, limits),
        }
    }

    fn step_size_line(
        &mut self,
        buf: &mut BytesMut,
        scanned_bytes: usize,
        limits: &HttpLimits,
    ) -> Result<Step, RequestError> {
        let window_end = buf.len().min(CHUNK_SIZE_LINE_BYTES_MAX);
        let unscanned = buf.get(scanned_bytes..window_end).unwrap_or_default();
        let Some(lf_offset) = find_byte(unscanned, LF) else {
            if window_end >= CHUNK_SIZE_LINE_BYTES_MAX {
                return Err(RequestError::bad_request("chunk size line too long"));
            }
            let scanned_bytes = window_end;
            return Ok(Step::NeedMore(ChunkState::SizeLine { scanned_bytes }));
        };
        let lf = scanned_bytes + lf_offset;
        let line = buf
            .get(..lf)
            .and_then(|line| line.strip_suffix(b"\r"))
            .ok_or(RequestError::bad_request("bare LF in chunk size line"))?;
        self.size_line_extra_bytes += line.len().saturating_sub(PLAIN_SIZE_LINE_BYTES);
        if self.size_line_extra_bytes > CHUNK_SIZE_LINES_EXTRA_BYTES_MAX {
            return Err(RequestError::bad_request("too many chunk extension bytes"));
        }
        let size = parse_size_line(line)?;
        buf.advance(lf + 1);
        if size == 0 {
            return Ok(Step::Next(ChunkState::Trailers(SectionScan::default())));
        }
        let total = (self.body.len() as u64).checked_add(size);
        let fits = total.is_some_and(|total| total <= limits.body_bytes_max as u64);
        if !fits {
            return Err(RequestError::BODY_TOO_LARGE);
        }
        Ok(Step::Next(ChunkState::Data {
            remaining_bytes: size,
        }))
    }

    fn step_data(&mut self, buf: &mut BytesMut, remaining_bytes: u64) -> Step {
        let available = buf
            .len()
            .min(usize::try_from(remaining_bytes).unwrap_or(usize::MAX));
        if available == 0 {
            return Step::NeedMore(ChunkState::Data { remaining_bytes });
        }
        self.body
            .extend_from_slice(buf.get(..available).unwrap_or_default());
        buf.advance(available);
        let remaining_bytes = remaining_bytes - available as u64;
        if remaining_bytes == 0 {
            return Step::Next(ChunkState::DataEnd);
        }
        Step::NeedMore(ChunkState::Data { remaining_bytes })
    }
}

fn step_data_end(buf: &mut BytesMut) -> Result<Step, RequestError> {
    match buf.get(..CRLF.len()) {
        Some(CRLF) => {
            buf.advance(CRLF.len());
            Ok(Step::Next(ChunkState::SizeLine { scanned_bytes: 0 }))
        }
        None if CRLF.starts_with(&buf[..]) => Ok(Step::NeedMore(ChunkState::DataEnd)),
        _ => Err(RequestError::bad_request("chunk data not followed by CRLF")),
    }
}

fn step_trailers(
    buf: &mut BytesMut,
    mut scan: SectionScan,
    storage: &mut HeaderStorage,
    limits: &HttpLimits,
) -> Result<Step, RequestError> {
    let section_len = match scan.scan(buf, limits.head_bytes_max) {
        Ok(Some(len)) => len,
        Ok(None) => return Ok(Step::NeedMore(ChunkState::Trailers(scan))),
        Err(ScanError::TooLong) => return Err(RequestError::TRAILERS_TOO_LARGE),
        Err(ScanError::BareLf) => return Err(RequestError::bad_request("bare LF in trailers")),
    };
    let section = buf.get(..section_len).unwrap_or_default();
    check_trailer_section(section, storage)?;
    buf.advance(section_len);
    Ok(Step::Done)
}

/// Parses the trailer fields (RFC 9112 §7.1.2) to refuse a malformed section; the fields
/// themselves are discarded.
fn check_trailer_section(section: &[u8], storage: &mut HeaderStorage) -> Result<(), RequestError> {
    if section == CRLF {
        return Ok(());
    }
    let parsed = storage.with_trailer_slots(|slots| {
        httparse::parse_headers(section, slots).map(|status| match status {
            httparse::Status::Complete((len, _)) => Some(len),
            httparse::Status::Partial => None,
        })
    });
    match parsed {
        Ok(Some(len)) if len == section.len() => Ok(()),
        Err(httparse::Error::TooManyHeaders) => Err(RequestError::TOO_MANY_TRAILERS),
        _ => Err(RequestError::bad_request("malformed trailer section")),
    }
}

/// `chunk-size [ chunk-ext ]` without the CRLF: 1*HEXDIG (no sign, no `0x`, no spaces),
/// overflow-checked, then extensions.
fn parse_size_line(line: &[u8]) -> Result<u64, RequestError> {
    const INVALID_SIZE: RequestError = RequestError::bad_request("invalid chunk size");
    let digits_len = line
        .iter()
        .position(|b| !b.is_ascii_hexdigit())
        .unwrap_or(line.len());
    let (digits, extensions) = line.split_at(digits_len);
    if digits.is_empty() {
        return Err(INVALID_SIZE);
    }
    let size = digits.iter().try_fold(0u64, |size, &digit| {
        size.checked_mul(HEX_BASE)
            .and_then(|size| size.checked_add(hex_value(digit)))
            .ok_or(INVALID_SIZE)
    })?;
    if !is_valid_chunk_extensions(extensions) {
        return Err(RequestError::bad_request("invalid chunk extension"));
    }
    Ok(size)
}

fn hex_value(digit: u8) -> u64 {
    const LETTER_OFFSET: u8 = 10;
    let value = match digit {
        b'0'..=b'9' => digit - b'0',
        b'a'..=b'f' => digit - b'a' + LETTER_OFFSET,
        b'A'..=b'F' => digit - b'A' + LETTER_OFFSET,
        _ => 0,
    };
    u64::from(value)
}

/// `chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )` where the
/// name is a token and the value a token or quoted-string (RFC 9112 §7.1.1).
fn is_valid_chunk_extensions(extensions: &[u8]) -> bool {
    let mut rest = extensions;
    while !rest.is_empty() {
        let Some(after_semicolon) = skip_ows(rest).strip_prefix(b";") else {
            return false;
        };
        let Some(after_extension) = skip_extension(skip_ows(after_semicolon)) else {
            return false;
        };
        rest = after_extension;
    }
    true
}

/// Skips `name [ BWS "=" BWS value ]`; `None` if it is malformed.
fn skip_extension(input: &[u8]) -> Option<&[u8]> {
    let after_name = skip_token(input)?;
    let Some(after_equals) = skip_ows(after_name).strip_prefix(b"=") else {
        return Some(after_name);
    };
    let value = skip_ows(after_equals);
    if value.starts_with(b"\"") {
        skip_quoted_string(value)
    } else {
        skip_token(value)
    }
}

fn skip_ows(input: &[u8]) -> &[u8] {
    let start = input
        .iter()
        .position(|&b| !is_ows(b))
        .unwrap_or(input.len());
    input.get(start..).unwrap_or_default()
}

/// Skips a non-empty token.
fn skip_token(input: &[u8]) -> Option<&[u8]> {
    let len = input
        .iter()
        .position(|&b| !is_tchar(b))
        .unwrap_or(input.len());
    let (token, rest) = input.split_at(len);
    is_token(token).then_some(rest)
}

/// Skips `DQUOTE *( qdtext / quoted-pair ) DQUOTE` (RFC 9110 §5.6.4).
fn skip_quoted_string(input: &[u8]) -> Option<&[u8]> {
    let mut rest = input.strip_prefix(b"\"")?;
    loop {
        match rest.split_first()? {
            (b'"', after) => return Some(after),
            (b'\\', after) => {
                let (&escaped, after_pair) = after.split_first()?;
                if !is_quoted_pair_char(escaped) {
                    return None;
                }
                rest = after_pair;
            }
            (&byte, after) if is_qdtext(byte) => rest = after,
            _ => return None,
        }
    }
}

/// `qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text`
fn is_qdtext(byte: u8) -> bool {
    matches!(byte, b'\t' | b' ' | 0x21 | 0x23..=0x5B | 0x5D..=0x7E | 0x80..=0xFF)
}

/// `quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )`
fn is_quoted_pair_char(byte: u8) -> bool {
    matches!(byte, b'\t' | b' ' | 0x21..=0x7E | 0x80..=0xFF)
}

impl RequestError {
    pub(super) const TRAILERS_TOO_LARGE: RequestError = RequestError::new(
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        "trailer section too large",
    );
    pub(super) const TOO_MANY_TRAILERS: RequestError = RequestError::new(
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        "too many trailer fields",
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> HttpLimits {
        HttpLimits {
            body_bytes_max: 64,
            head_bytes_max: 64,
            header_count_max: 4,
            ..HttpLimits::default()
        }
    }

    /// Decodes `input` whole, then byte by byte; both must agree. Returns the body and the
    /// bytes left over after it.
    fn decode(input: &[u8]) -> Result<(Vec<u8>, Vec<u8>), u16> {
        let whole = decode_in_pieces(input, input.len().max(1));
        let bytewise = decode_in_pieces(input, 1);
        assert_eq!(whole, bytewise, "{:?}", String::from_utf8_lossy(input));
        whole
    }

    fn decode_in_pieces(input: &[u8], piece_len: usize) -> Result<(Vec<u8>, Vec<u8>), u16> {
        let limits = limits();
        let mut storage = HeaderStorage::new(limits.header_count_max);
        let mut chunked = ChunkedBody::new();
        let mut buf = BytesMut::new();
        let mut fed_bytes = 0;
        for piece in input.chunks(piece_len) {
            buf.extend_from_slice(piece);
            fed_bytes += piece.len();
            let decoded = chunked.decode(&mut buf, &mut storage, &limits);
            if let Some(body) = decoded.map_err(|error| error.status.as_u16())? {
                let mut rest = buf.to_vec();
                rest.extend_from_slice(&input[fed_bytes..]);
                return Ok((body.to_vec(), rest));
            }
        }
        Err(0)
    }

    #[test]
    fn chunked_table() {
        // Err(0) means "incomplete: needs more bytes".
        /// The body and what follows it, or the error status (0: needs more bytes).
        type Expected = Result<(&'static [u8], &'static [u8]), u16>;
        let cases: &[(&[u8], Expected)] = &[
            (b"5\r\nhello\r\n0\r\n\r\n", Ok((b"hello", b""))),
            (
                b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
                Ok((b"hello world", b"")),
            ),
            (b"0\r\n\r\n", Ok((b"", b""))),
            (
                b"0\r\n\r\nGET / HTTP/1.1\r\n",
                Ok((b"", b"GET / HTTP/1.1\r\n")),
            ),
            (b"A\r\n0123456789\r\n0\r\n\r\n", Ok((b"0123456789", b""))),
            (b"a\r\n0123456789\r\n0\r\n\r\n", Ok((b"0123456789", b""))),
            (b"0005\r\nhello\r\n000\r\n\r\n", Ok((b"hello", b""))),
            // Extensions are allowed and ignored.
            (
                b"5;name=value\r\nhello\r\n0;last\r\n\r\n",
                Ok((b"hello", b"")),
            ),
            (
                b"5 ; a = b ;c=\"q\\\"x\"\r\nhello\r\n0\r\n\r\n",
                Ok((b"hello", b"")),
            ),
            (b"5;\r\nhello\r\n0\r\n\r\n", Err(400)),
            (b"5;a=\r\nhello\r\n0\r\n\r\n", Err(400)),
            (b"5;a=\"open\r\nhello\r\n0\r\n\r\n", Err(400)),
            (b"5;a b\r\nhello\r\n0\r\n\r\n", Err(400)),
            (b"5;a\0\r\nhello\r\n0\r\n\r\n", Err(400)),
            // Trailers are parsed, then discarded.
            (
                b"5\r\nhello\r\n0\r\nX-Sum: 1\r\nX-Other: 2\r\n\r\n",
                Ok((b"hello", b"")),
            ),
            (b"0\r\nX-Sum: 1\r\n\r\nNEXT", Ok((b"", b"NEXT"))),
            (b"0\r\nBad Name: 1\r\n\r\n", Err(400)),
            (b"0\r\nX: 1\r\n folded\r\n\r\n", Err(400)),
            (b"0\r\nX: a\0b\r\n\r\n", Err(400)),
            (b"0\r\nX: 1\n\r\n", Err(400)),
            (b"0\r\nX: 1\r\n\n", Err(400)),
            (b"0\r\nX: 1\rY\r\n\r\n", Err(400)),
            // Size syntax.
            (b"g\r\nhello\r\n0\r\n\r\n", Err(400)),
            (b"\r\nhello\r\n0\r\n\r\n", Err(400)),
            (b" 5\r\nhello\r\n0\r\n\r\n", Err(400)),
            (b"5 \r\nhello\r\n0\r\n\r\n", Err(400)),
            (b"+5\r\nhello\r\n0\r\n\r\n", Err(400)),
            (b"-5\r\nhello\r\n0\r\n\r\n", Err(400)),
            (b"0x5\r\nhello\r\n0\r\n\r\n", Err(400)),
            (b"5\nhello\r\n0\r\n\r\n", Err(400)),
            (b"5\r\nhello\r\n0\n\r\n", Err(400)),
            (b"5\rhello\r\n0\r\n\r\n", Err(400)),
            (b"10000000000000000\r\n", Err(400)),
            (b"ffffffffffffffffff\r\n", Err(400)),
            // Data must be followed by exactly CRLF.
            (b"5\r\nhelloX\r\n0\r\n\r\n", Err(400)),
            (b"5\r\nhello\n0\r\n\r\n", Err(400)),
            (b"5\r\nhello\rX0\r\n\r\n", Err(400)),
            (b"5\r\nhello0\r\n\r\n", Err(400)),
            (b"3\r\nhello\r\n0\r\n\r\n", Err(400)),
            // Incomplete.
            (b"5\r\nhel", Err(0)),
            (b"5\r\nhello\r", Err(0)),
            (b"5\r\nhello\r\n0\r\n", Err(0)),
            (b"5\r\nhello\r\n0\r\nX: 1\r\n", Err(0)),
        ];
        for (input, expected) in cases {
            let expected = expected.map(|(body, rest)| (body.to_vec(), rest.to_vec()));
            assert_eq!(
                decode(input),
                expected,
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn body_larger_than_body_bytes_max_is_413_before_its_data_arrives() {
        // body_bytes_max is 64: one chunk of 0x41 = 65 bytes is refused from its size line.
        assert_eq!(decode(b"41\r\n"), Err(413));
        assert_eq!(decode(b"40\r\n").unwrap_err(), 0);
        let mut at_limit = b"20\r\n".to_vec();
        at_limit.extend_from_slice(&[b'a'; 32]);
        at_limit.extend_from_slice(b"\r\n20\r\n");
        at_limit.extend_from_slice(&[b'b'; 32]);
        at_limit.extend_from_slice(b"\r\n");
        let mut over = at_limit.clone();
        at_limit.extend_from_slice(b"0\r\n\r\n");
        assert_eq!(decode(&at_limit).unwrap().0.len(), 64);
        over.extend_from_slice(b"1\r\n");
        assert_eq!(decode(&over), Err(413));
    }

    #[test]
    fn size_line_longer_than_its_maximum_is_400() {
        let mut line = b"5;x=".to_vec();
        line.resize(CHUNK_SIZE_LINE_BYTES_MAX - 2, b'a');
        let mut ok = line.clone();
        ok.extend_from_slice(b"\r\nhello\r\n0\r\n\r\n");
        assert_eq!(decode(&ok).unwrap().0, b"hello");
        let mut too_long = line;
        too_long.push(b'a');
        too_long.extend_from_slice(b"\r\nhello\r\n0\r\n\r\n");
        assert_eq!(decode(&too_long), Err(400));
        // Also refused while the line is still arriving.
        assert_eq!(decode(&[b'5'; CHUNK_SIZE_LINE_BYTES_MAX]), Err(400));
    }

    #[test]
    fn chunk_extensions_are_bounded_per_body() {
        // Each size line is 1 digit + an extension: 4 data bytes per 1 KiB of extensions.
        let extension = format!(";x={}", "e".repeat(1024 + PLAIN_SIZE_LINE_BYTES - 4));
        let chunk = format!("1{extension}\r\nd\r\n");
        let chunks_allowed = CHUNK_SIZE_LINES_EXTRA_BYTES_MAX / 1024;
        let body = |chunks: usize| format!("{}0\r\n\r\n", chunk.repeat(chunks)).into_bytes();
        let decode_big = |input: &[u8]| {
            let limits = HttpLimits::default();
            let mut storage = HeaderStorage::new(limits.header_count_max);
            let mut buf = BytesMut::from(input);
            ChunkedBody::new()
                .decode(&mut buf, &mut storage, &limits)
                .map_err(|error| error.status.as_u16())
                .map(|body| body.map(|body| body.len()))
        };
        assert_eq!(decode_big(&body(chunks_allowed)), Ok(Some(chunks_allowed)));
        assert_eq!(decode_big(&body(chunks_allowed + 1)), Err(400));
        // Short extensions are free.
        let short = "1;a=b\r\nd\r\n".repeat(10_000) + "0\r\n\r\n";
        assert_eq!(decode_big(short.as_bytes()), Ok(Some(10_000)));
    }

    #[test]
    fn trailer_limits_are_431() {
        // header_count_max is 4 and head_bytes_max 64 in these limits.
        assert!(decode(b"0\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n").is_ok());
        assert_eq!(
            decode(b"0\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\n\r\n"),
            Err(431)
        );
        let long_value = format!("0\r\nX: {}\r\n\r\n", "v".repeat(60));
        assert_eq!(decode(long_value.as_bytes()), Err(431));
        assert_eq!(decode("0\r\nX: ".repeat(20).as_bytes()), Err(431));
    }
}
