//! The parsed request handed to handlers: method, target, version, headers and a whole body.
//!
//! Header names and values are not copied: they are ranges into the request head, which is one
//! `Bytes` cut from the connection's read buffer. This module only stores and looks up; the
//! parsing that fills it lives in `decode.rs`.

use bytes::Bytes;
use std::ops::Range;

/// An HTTP request method.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    Get,
    Head,
    Post,
    Put,
    Delete,
    Patch,
    Options,
    Connect,
    Trace,
    /// Any other token; kept verbatim.
    Other(Box<str>),
}

impl Method {
    /// Maps a method token (case-sensitive, RFC 9110 §9.1) to a `Method`.
    pub fn from_token(token: &str) -> Method {
        match token {
            "GET" => Method::Get,
            "HEAD" => Method::Head,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "DELETE" => Method::Delete,
            "PATCH" => Method::Patch,
            "OPTIONS" => Method::Options,
            "CONNECT" => Method::Connect,
            "TRACE" => Method::Trace,
            other => Method::Other(other.into()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
            Method::Patch => "PATCH",
            Method::Options => "OPTIONS",
            Method::Connect => "CONNECT",
            Method::Trace => "TRACE",
            Method::Other(token) => token,
        }
    }

    /// Safe methods (RFC 9110 §9.2.1) do not change server state.
    pub fn is_safe(&self) -> bool {
        matches!(
            self,
            Method::Get | Method::Head | Method::Options | Method::Trace
        )
    }
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The protocol version of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    Http10,
    Http11,
}

/// Where one header field lives inside the request head.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct HeaderSpan {
    pub(crate) name: Range<u32>,
    pub(crate) value: Range<u32>,
}

/// One HTTP request, with its complete body.
///
/// Invariant: every range in `target`, `path_end` and `headers` lies inside `head`, and each
/// range covers valid UTF-8 for the target and the header names (httparse guarantees tokens).
#[derive(Clone, Debug)]
pub struct Request {
    pub(crate) head: Bytes,
    pub(crate) method: Method,
    pub(crate) version: Version,
    pub(crate) target: Range<u32>,
    /// End of the path inside `target` (the `?` or the end of the target).
    pub(crate) path_end: u32,
    pub(crate) headers: Vec<HeaderSpan>,
    pub(crate) body: Bytes,
    pub(crate) keep_alive: bool,
    /// The client's address, as the server's connection knows it (`None` where there is no
    /// socket, e.g. a request decoded from bytes in a test).
    pub(crate) peer: Option<std::net::SocketAddr>,
}

impl Request {
    /// The address of the client at the other end of the connection (the TCP peer: a proxy's
    /// address when there is one in front). `None` for a request that did not come over a
    /// socket (`TestClient` gives `127.0.0.1`).
    pub fn peer_addr(&self) -> Option<std::net::SocketAddr> {
        self.peer
    }

    /// Sets the peer address: for whoever received the request (the server's connection, the
    /// test client). The decoder leaves it `None`.
    pub fn set_peer_addr(&mut self, peer: Option<std::net::SocketAddr>) {
        self.peer = peer;
    }

    pub fn method(&self) -> &Method {
        &self.method
    }

    pub fn version(&self) -> Version {
        self.version
    }

    /// The request target as sent (origin-form: path and optional query).
    pub fn target(&self) -> &str {
        self.str_at(self.target.start..self.target.end)
    }

    /// The path part of the target, without the query; not percent-decoded.
    pub fn path(&self) -> &str {
        self.str_at(self.target.start..self.path_end)
    }

    /// The query string after `?`, if there is one; not percent-decoded.
    pub fn query(&self) -> Option<&str> {
        if self.path_end == self.target.end {
            return None;
        }
        Some(self.str_at(self.path_end + 1..self.target.end))
    }

    /// The first header with this name (ASCII case-insensitive).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        let name = name.as_bytes();
        self.headers
            .iter()
            .find(|span| self.is_named(span, name))
            .map(|span| self.value_of(span))
    }

    /// The first header with this name, if its value is valid UTF-8.
    pub fn header_str(&self, name: &str) -> Option<&str> {
        self.header(name)
            .and_then(|value| std::str::from_utf8(value).ok())
    }

    /// Every header with this name, in the order received.
    pub fn headers_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        // Compared as bytes, length first: no UTF-8 check per field (an extractor looks up
        // several names per request).
        let name = name.as_bytes();
        self.headers
            .iter()
            .filter(move |span| self.is_named(span, name))
            .map(|span| self.value_of(span))
    }

    fn is_named(&self, span: &HeaderSpan, name: &[u8]) -> bool {
        (span.name.end - span.name.start) as usize == name.len()
            && self.head[span.name.start as usize..span.name.end as usize]
                .eq_ignore_ascii_case(name)
    }

    fn value_of(&self, span: &HeaderSpan) -> &[u8] {
        &self.head[span.value.start as usize..span.value.end as usize]
    }

    /// All header fields, in the order received.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.headers.iter().map(|span| {
            (
                self.str_at(span.name.start..span.name.end),
                &self.head[span.value.start as usize..span.value.end as usize],
            )
        })
    }

    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// Takes the body out, leaving an empty one.
    pub fn take_body(&mut self) -> Bytes {
        std::mem::take(&mut self.body)
    }

    /// Whether the connection may stay open after this request (version and `Connection`).
    pub fn keep_alive(&self) -> bool {
        self.keep_alive
    }

    fn str_at(&self, range: Range<u32>) -> &str {
        let bytes = &self.head[range.start as usize..range.end as usize];
        // The decoder only stores ranges it checked to be UTF-8 (tokens and the target).
        std::str::from_utf8(bytes).unwrap_or("")
    }
}
