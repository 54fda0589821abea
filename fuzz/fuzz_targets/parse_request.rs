//! Fuzz target: arbitrary bytes through `RequestDecoder`, fed whole and in pieces, and every
//! decoded request through its accessors and the response encoder.
//!
//! The first input byte picks the piece size. Oracles: nothing panics; a request's parts are
//! consistent; and feeding the same bytes whole or in pieces gives the same requests, the same
//! error and the same leftover bytes (only `ContinueExpected`, which depends on what has
//! arrived, may differ). It does not know the right answer for a given input: the unit tests in
//! `src/http/` do.
#![no_main]

use bytes::BytesMut;
use kiln::http::{
    Decoded, EncodeOptions, HttpDate, Request, RequestDecoder, Response, encode_head,
};
use kiln::limits::HttpLimits;
use libfuzzer_sys::fuzz_target;

/// Small limits, so that the fuzzer reaches every limit with short inputs.
const LIMITS: HttpLimits = HttpLimits {
    head_bytes_max: 1024,
    header_count_max: 16,
    uri_bytes_max: 256,
    body_bytes_max: 4096,
};

/// What decoding produced, in a comparable form.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Request {
        method: String,
        target: String,
        headers: Vec<(String, Vec<u8>)>,
        body: Vec<u8>,
        keep_alive: bool,
    },
    Error(u16),
    /// Input exhausted without an error; these bytes were left in the buffer.
    Leftover(Vec<u8>),
}

fuzz_target!(|data: &[u8]| {
    let Some((&piece_choice, input)) = data.split_first() else {
        return;
    };
    let piece_len = usize::from(piece_choice).max(1);
    let whole = decode(input, input.len().max(1));
    let pieces = decode(input, piece_len);
    assert_eq!(whole, pieces, "piece length {piece_len}");
});

/// Feeds `input` in pieces of `piece_len`, decoding after each, until the input ends or the
/// decoder refuses it.
fn decode(input: &[u8], piece_len: usize) -> Vec<Outcome> {
    let mut decoder = RequestDecoder::new(LIMITS);
    let mut buf = BytesMut::new();
    let mut outcomes = Vec::new();
    for piece in input.chunks(piece_len) {
        buf.extend_from_slice(piece);
        if !drain(&mut decoder, &mut buf, &mut outcomes) {
            return outcomes;
        }
    }
    outcomes.push(Outcome::Leftover(buf.to_vec()));
    outcomes
}

/// Decodes until the decoder needs more bytes (true) or refuses the input (false).
fn drain(decoder: &mut RequestDecoder, buf: &mut BytesMut, outcomes: &mut Vec<Outcome>) -> bool {
    loop {
        match decoder.decode(buf) {
            Ok(None) => return true,
            Ok(Some(Decoded::Request(request))) => outcomes.push(exercise(&request)),
            Ok(Some(Decoded::ContinueExpected)) => {}
            Err(error) => {
                assert!(error.status.as_u16() >= 400, "{error}");
                outcomes.push(Outcome::Error(error.status.as_u16()));
                return false;
            }
        }
    }
}

/// Checks a request's parts against each other, encodes a response to it, and returns it in
/// comparable form.
fn exercise(request: &Request) -> Outcome {
    let target = request.target();
    let path = request.path();
    assert!(target.starts_with(path), "{target:?} {path:?}");
    if let Some(query) = request.query() {
        assert!(target.ends_with(query));
    }
    assert!(request.body().len() <= LIMITS.body_bytes_max);
    let mut headers = Vec::new();
    for (name, value) in request.headers() {
        assert!(!name.is_empty());
        assert!(request.header(name).is_some());
        assert!(!value.contains(&b'\n') && !value.contains(&b'\r'));
        headers.push((name.to_owned(), value.to_vec()));
    }
    assert!(headers.len() <= LIMITS.header_count_max);
    let _ = request.header_str("host");
    let mut out = BytesMut::new();
    let options = EncodeOptions {
        keep_alive: request.keep_alive(),
        head_request: request.method().as_str() == "HEAD",
        version: request.version(),
    };
    let response = Response::ok(request.body().clone());
    encode_head(&response, &HttpDate::from_unix_secs(0), options, &mut out);
    assert!(out.ends_with(b"\r\n\r\n"));
    Outcome::Request {
        method: request.method().to_string(),
        target: target.to_owned(),
        headers,
        body: request.body().to_vec(),
        keep_alive: request.keep_alive(),
    }
}
