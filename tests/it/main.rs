//! The one integration-test binary: server behaviour over real sockets on 127.0.0.1.
//!
//! `support` starts servers and speaks raw HTTP/1.1; each other module covers one area.
//! The sans-IO parser has its own unit and property tests inside `src/http/`.

mod fallback;
mod hostile;
mod limits;
mod protocol;
mod robustness;
mod smuggling;
mod support;
