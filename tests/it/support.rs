//! Test support: a test server on 127.0.0.1:0 with a small set of routes, and a raw HTTP/1.1
//! client over std's blocking `TcpStream` that parses responses byte-exactly.
//!
//! Tests that count process-wide resources (fds, RSS) take `exclusive()`; every other test
//! takes `shared()`, so counts are not disturbed by tests running in parallel.

use bytes::Bytes;
use kiln::http::{BodyStream, Request, Response, StatusCode};
use kiln::limits::{HttpLimits, ServerLimits};
use kiln::{Server, ServerHandle};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::task::{Context, Poll};
use std::time::Duration;

static RESOURCES: RwLock<()> = RwLock::new(());

pub fn shared() -> RwLockReadGuard<'static, ()> {
    RESOURCES.read().unwrap_or_else(|e| e.into_inner())
}

pub fn exclusive() -> RwLockWriteGuard<'static, ()> {
    RESOURCES.write().unwrap_or_else(|e| e.into_inner())
}

/// The routes every test server answers.
pub async fn routes(mut request: Request) -> Response {
    let path = request.path().to_string();
    match path.as_str() {
        "/" => Response::ok("hello").with_static_header("content-type", "text/plain"),
        "/echo" => {
            let body = request.take_body();
            let mut response = Response::ok(body);
            let method = kiln::http::HeaderValue::try_from(request.method().as_str()).unwrap();
            response.set_header("x-method", method).unwrap();
            response
        }
        "/slow" => {
            let ms: u64 = request
                .query()
                .and_then(|q| q.strip_prefix("ms="))
                .and_then(|v| v.parse().ok())
                .unwrap_or(100);
            kiln::runtime::sleep(Duration::from_millis(ms)).await;
            Response::ok("slow done")
        }
        "/big" => Response::ok(vec![b'x'; 4 * 1024 * 1024]),
        "/stream" => Response::new(StatusCode::OK).with_stream(Chunks(vec![
            Bytes::from_static(b"one "),
            Bytes::from_static(b"two "),
            Bytes::from_static(b"three"),
        ])),
        "/blocking" => {
            let sum = kiln::runtime::spawn_blocking(|| (1..=100u64).sum::<u64>())
                .await
                .unwrap();
            Response::ok(sum.to_string())
        }
        "/panic" => panic!("handler panic on purpose (test)"),
        "/hold" => {
            // `/hold?id=K&ms=N`: waits N ms; `held(K)` tells whether it ran to its end or
            // was dropped before (the client went away).
            let query = request.query().unwrap_or_default().to_owned();
            let field = |name: &str| {
                query
                    .split('&')
                    .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
                    .and_then(|value| value.parse::<u64>().ok())
                    .unwrap_or(0)
            };
            let watch = HoldWatch(field("id") as usize % HOLDS.len());
            HOLDS[watch.0].store(Hold::Running as u8, Ordering::SeqCst);
            kiln::runtime::sleep(Duration::from_millis(field("ms"))).await;
            HOLDS[watch.0].store(Hold::Completed as u8, Ordering::SeqCst);
            Response::ok("held")
        }
        "/peer" => Response::ok(format!("{:?}", request.peer_addr())),
        _ if path.starts_with("/path/") => Response::ok(path),
        _ => Response::error(StatusCode::NOT_FOUND, "not found"),
    }
}

/// What became of the `/hold` handler with a given id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hold {
    NotStarted = 0,
    Running = 1,
    Completed = 2,
    /// Dropped before it completed.
    Dropped = 3,
}

static HOLDS: [AtomicU8; 16] = [const { AtomicU8::new(0) }; 16];

/// The state of `/hold?id=K` (each test uses its own K).
pub fn held(id: usize) -> Hold {
    match HOLDS[id % HOLDS.len()].load(Ordering::SeqCst) {
        1 => Hold::Running,
        2 => Hold::Completed,
        3 => Hold::Dropped,
        _ => Hold::NotStarted,
    }
}

/// Marks a `/hold` handler `Dropped` if it goes before completing.
struct HoldWatch(usize);

impl Drop for HoldWatch {
    fn drop(&mut self) {
        let _ = HOLDS[self.0].compare_exchange(
            Hold::Running as u8,
            Hold::Dropped as u8,
            Ordering::SeqCst,
            Ordering::SeqCst,
        );
    }
}

/// A body stream that yields its chunks in order, one per poll.
struct Chunks(Vec<Bytes>);

impl BodyStream for Chunks {
    fn poll_next_chunk(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        if self.0.is_empty() {
            Poll::Ready(None)
        } else {
            Poll::Ready(Some(self.0.remove(0)))
        }
    }
}

pub struct TestServer {
    pub handle: Option<ServerHandle>,
    pub addr: SocketAddr,
}

impl TestServer {
    pub fn start() -> TestServer {
        TestServer::with(HttpLimits::default(), ServerLimits::default(), 1)
    }

    pub fn with(http: HttpLimits, limits: ServerLimits, workers: usize) -> TestServer {
        TestServer::build(Server::bind("127.0.0.1:0"), http, limits, workers)
    }

    /// A server forced onto the single-shot accept/receive paths that older kernels get.
    pub fn single_shot() -> TestServer {
        TestServer::build(
            Server::bind("127.0.0.1:0").multishot(false),
            HttpLimits::default(),
            ServerLimits::default(),
            1,
        )
    }

    fn build(server: Server, http: HttpLimits, limits: ServerLimits, workers: usize) -> TestServer {
        let handle = server
            .workers(workers)
            .http_limits(http)
            .limits(limits)
            .start(routes)
            .expect("server starts");
        TestServer {
            addr: handle.local_addr(),
            handle: Some(handle),
        }
    }

    pub fn client(&self) -> Client {
        Client::connect(self.addr)
    }

    pub fn stop(mut self) {
        if let Some(handle) = self.handle.take() {
            handle.stop();
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(handle) = self.handle.take() {
            handle.stop();
        }
    }
}

#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn body_str(&self) -> &str {
        std::str::from_utf8(&self.body).unwrap()
    }
}

pub struct Client {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

impl Client {
    pub fn from_stream(stream: TcpStream) -> Client {
        Client {
            stream,
            buf: Vec::new(),
        }
    }

    pub fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        stream.set_nodelay(true).unwrap();
        Client {
            stream,
            buf: Vec::new(),
        }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("send");
    }

    pub fn get(&mut self, path: &str) -> RawResponse {
        self.send(format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
        self.response().expect("a response")
    }

    fn fill(&mut self) -> bool {
        let mut chunk = [0u8; 65536];
        match self.stream.read(&mut chunk) {
            Ok(0) => false,
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                true
            }
            Err(error) if error.kind() == std::io::ErrorKind::ConnectionReset => false,
            Err(error) => panic!("read failed: {error}"),
        }
    }

    /// Reads one response; `None` if the connection closed before a full head arrived.
    pub fn response(&mut self) -> Option<RawResponse> {
        self.read_response(false)
    }

    /// Reads one response to a HEAD request (no body bytes follow the head).
    pub fn head_response(&mut self) -> Option<RawResponse> {
        self.read_response(true)
    }

    fn read_response(&mut self, head_only: bool) -> Option<RawResponse> {
        let end = loop {
            if let Some(pos) = find(&self.buf, b"\r\n\r\n") {
                break pos;
            }
            if !self.fill() {
                return None;
            }
        };
        let head = String::from_utf8(self.buf[..end].to_vec()).unwrap();
        self.buf.drain(..end + 4);
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap();
        assert!(
            status_line.starts_with("HTTP/1.1 "),
            "status line {status_line:?}"
        );
        let status: u16 = status_line[9..12].parse().unwrap();
        let headers: Vec<(String, String)> = lines
            .map(|line| {
                let (name, value) = line.split_once(':').expect("header colon");
                (name.to_string(), value.trim().to_string())
            })
            .collect();
        let mut response = RawResponse {
            status,
            headers,
            body: Vec::new(),
        };
        if head_only || status < 200 || status == 204 || status == 304 {
            return Some(response);
        }
        if let Some(length) = response.header("content-length") {
            let length: usize = length.parse().unwrap();
            while self.buf.len() < length {
                assert!(self.fill(), "connection closed inside a body");
            }
            response.body = self.buf.drain(..length).collect();
        } else if response.header("transfer-encoding") == Some("chunked") {
            response.body = self.read_chunked();
        } else {
            while self.fill() {}
            response.body = std::mem::take(&mut self.buf);
        }
        Some(response)
    }

    fn read_chunked(&mut self) -> Vec<u8> {
        let mut body = Vec::new();
        loop {
            let line_end = loop {
                if let Some(pos) = find(&self.buf, b"\r\n") {
                    break pos;
                }
                assert!(self.fill(), "closed inside chunk size");
            };
            let size_text = String::from_utf8(self.buf[..line_end].to_vec()).unwrap();
            let size = usize::from_str_radix(size_text.trim(), 16).unwrap();
            self.buf.drain(..line_end + 2);
            while self.buf.len() < size + 2 {
                assert!(self.fill(), "closed inside chunk data");
            }
            body.extend(self.buf.drain(..size));
            assert_eq!(&self.buf[..2], b"\r\n");
            self.buf.drain(..2);
            if size == 0 {
                return body;
            }
        }
    }

    /// True when the server closed the connection (EOF or reset) within the read timeout,
    /// with no further bytes.
    pub fn is_closed(&mut self) -> bool {
        if !self.buf.is_empty() {
            return false;
        }
        let mut byte = [0u8; 1];
        match self.stream.read(&mut byte) {
            Ok(0) => true,
            Ok(_) => false,
            Err(error) => error.kind() == std::io::ErrorKind::ConnectionReset,
        }
    }
}

pub fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Polls `condition` every 10 ms until it holds or `limit` passes.
pub fn eventually(limit: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + limit;
    while std::time::Instant::now() < deadline {
        if condition() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    condition()
}

/// One GET on a fresh connection; the status, or `None` if the connection failed or closed
/// without a response (never panics, for use under load and refusal).
pub fn try_get(addr: SocketAddr, path: &str) -> Option<u16> {
    let mut stream = TcpStream::connect(addr).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let _ = stream.write_all(format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
    let mut client = Client {
        stream,
        buf: Vec::new(),
    };
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| client.response()))
        .ok()
        .flatten()
        .map(|response| response.status)
}
