//! Sans-IO HTTP/1.1: request decoding (httparse + RFC 9112 framing) and response encoding.
//!
//! Nothing in this module makes a syscall or reads a clock: bytes come in as a `BytesMut`, and
//! the current date arrives as a number. The server loop in `server.rs` owns the socket and
//! feeds this module. Tests live beside the code and use raw bytes only.

mod date;
mod decode;
mod encode;
mod request;
mod response;

pub use date::HttpDate;
pub use decode::{Decoded, DecoderPhase, RequestDecoder, RequestError};
pub use encode::{
    BodyFraming, EncodeOptions, encode_chunk_header, encode_continue, encode_head,
    encode_last_chunk,
};
pub use request::{Method, Request, Version};
pub use response::{
    Body, BodyStream, HeaderValue, InvalidHeader, Response, StatusCode, check_header_name,
};
