//! Fuzz target: arbitrary bytes, fed in pieces, through `RequestDecoder`, and every decoded
//! request through its accessors and the response encoder.
//!
//! The first input byte picks the piece size, so the same bytes are tried whole and split,
//! which exercises the incremental paths (a head or a chunk size line arriving in parts). It
//! checks that nothing panics and that a request's parts are consistent; it does not check
//! what the right answer is (the unit tests in `src/http/` do that).
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
/// A piece size of 0 means "everything at once".
const WHOLE_INPUT: usize = 0;

fuzz_target!(|data: &[u8]| {
    let Some((&piece_choice, input)) = data.split_first() else {
        return;
    };
    let piece_len = match usize::from(piece_choice) {
        WHOLE_INPUT => input.len().max(1),
        len => len,
    };
    let mut decoder = RequestDecoder::new(LIMITS);
    let mut buf = BytesMut::new();
    for piece in input.chunks(piece_len) {
        buf.extend_from_slice(piece);
        if !drain(&mut decoder, &mut buf) {
            return;
        }
    }
});

/// Decodes until the decoder needs more bytes (true) or refuses the input (false).
fn drain(decoder: &mut RequestDecoder, buf: &mut BytesMut) -> bool {
    loop {
        match decoder.decode(buf) {
            Ok(None) => return true,
            Ok(Some(Decoded::Request(request))) => exercise(&request),
            Ok(Some(Decoded::ContinueExpected)) => {}
            Err(error) => {
                assert!(error.status.as_u16() >= 400, "{error}");
                return false;
            }
        }
    }
}

fn exercise(request: &Request) {
    let target = request.target();
    let path = request.path();
    assert!(target.starts_with(path), "{target:?} {path:?}");
    if let Some(query) = request.query() {
        assert!(target.ends_with(query));
    }
    assert!(request.body().len() <= LIMITS.body_bytes_max);
    let mut header_count = 0;
    for (name, value) in request.headers() {
        assert!(!name.is_empty());
        assert!(request.header(name).is_some());
        assert!(!value.contains(&b'\n'));
        header_count += 1;
    }
    assert!(header_count <= LIMITS.header_count_max);
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
}
