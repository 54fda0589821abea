//! `TestClient`: drive an app in-process, without sockets, with a fluent request builder and
//! assertions on status, headers and HTML (htmx headers included).
//!
//! Requests are written as HTTP/1.1 bytes and parsed by the real decoder, then answered by the
//! app on a real one-worker runtime (so handlers may use timers, `spawn_blocking` and local
//! tasks); the response body is collected, streams included (up to `stream_timeout`). Cookies
//! set by responses are kept and sent back, as a browser would. The CSRF token a page carries
//! (a `csrf_token` field, an `X-CSRF-Token` in `hx-headers`, a `csrf-token` meta tag) is
//! remembered and sent with unsafe requests the way the page would send it, and redirects
//! (3xx, `HX-Redirect`, `HX-Location`) can be followed. Server behaviour over sockets (framing,
//! timeouts) is tested with real sockets in `tests/it`, not here.

use crate::http::{Body, Decoded, Request, RequestDecoder, Response, StatusCode};
use crate::limits::{HttpLimits, RuntimeLimits};
use crate::runtime::{Runtime, RuntimeConfig};
use crate::server::{IntoService, Service};
use bytes::{Bytes, BytesMut};
use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::future::poll_fn;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};
use std::time::Duration;

/// How long a streaming body is collected before the client stops reading it.
const STREAM_TIMEOUT_DEFAULT: Duration = Duration::from_secs(5);
/// How long a request may take before the client gives up with a panic (a test failure).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// The client port of a test request's peer address (`RequestBuilder::peer` changes it).
const TEST_PEER_PORT: u16 = 40_000;
/// Most redirects `follow_redirects` follows before it fails the test (a redirect loop).
pub const REDIRECTS_MAX: usize = 10;
/// Hex digits in a kiln CSRF token (32 random bytes).
const CSRF_TOKEN_HEX_DIGITS: usize = 64;

struct Job {
    request: Request,
    stream_timeout: Duration,
    reply: mpsc::Sender<TestResponse>,
}

#[derive(Default)]
struct Inbox {
    jobs: VecDeque<Job>,
    waker: Option<Waker>,
    closed: bool,
}

/// An in-process client for an app or handler.
pub struct TestClient {
    inbox: Arc<Mutex<Inbox>>,
    runtime: Option<Runtime>,
    cookies: RefCell<BTreeMap<String, String>>,
    /// The CSRF token of the last page that carried one.
    csrf_token: RefCell<Option<String>>,
    stream_timeout: Duration,
}

impl std::fmt::Debug for TestClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestClient").finish()
    }
}

impl TestClient {
    /// Starts a one-worker runtime serving `app` (an `App` or any service).
    pub fn new(app: impl IntoService) -> TestClient {
        let handler = Arc::new(app.into_service());
        let inbox = Arc::new(Mutex::new(Inbox::default()));
        let worker_inbox = inbox.clone();
        let config = RuntimeConfig {
            workers: 1,
            limits: RuntimeLimits {
                recv_buffer_count: 16,
                ..RuntimeLimits::default()
            },
            shutdown_grace: Duration::from_secs(1),
            multishot: true,
        };
        let runtime = Runtime::start(config, move |_| {
            let inbox = worker_inbox.clone();
            let handler = handler.clone();
            async move { serve_jobs(inbox, handler).await }
        })
        .expect("the test runtime starts (io_uring available)");
        TestClient {
            inbox,
            runtime: Some(runtime),
            cookies: RefCell::new(BTreeMap::new()),
            csrf_token: RefCell::new(None),
            stream_timeout: STREAM_TIMEOUT_DEFAULT,
        }
    }

    /// How long streaming bodies (SSE) are read before the client stops.
    pub fn stream_timeout(mut self, timeout: Duration) -> TestClient {
        self.stream_timeout = timeout;
        self
    }

    pub fn get(&self, path: &str) -> RequestBuilder<'_> {
        self.request("GET", path)
    }

    pub fn head(&self, path: &str) -> RequestBuilder<'_> {
        self.request("HEAD", path)
    }

    pub fn post(&self, path: &str) -> RequestBuilder<'_> {
        self.request("POST", path)
    }

    pub fn put(&self, path: &str) -> RequestBuilder<'_> {
        self.request("PUT", path)
    }

    pub fn patch(&self, path: &str) -> RequestBuilder<'_> {
        self.request("PATCH", path)
    }

    pub fn delete(&self, path: &str) -> RequestBuilder<'_> {
        self.request("DELETE", path)
    }

    pub fn request(&self, method: &str, path: &str) -> RequestBuilder<'_> {
        RequestBuilder {
            client: self,
            method: method.to_owned(),
            path: path.to_owned(),
            headers: Vec::new(),
            body: Vec::new(),
            send_cookies: true,
            send_csrf: true,
            follow: false,
            peer: std::net::SocketAddr::from(([127, 0, 0, 1], TEST_PEER_PORT)),
        }
    }

    /// The CSRF token of the last page that carried one (what the client sends).
    pub fn csrf_token(&self) -> Option<String> {
        self.csrf_token.borrow().clone()
    }

    /// A cookie the client holds (set by an earlier response).
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.cookies.borrow().get(name).cloned()
    }

    /// Sets or replaces a cookie the client sends.
    pub fn set_cookie(&self, name: &str, value: &str) {
        self.cookies
            .borrow_mut()
            .insert(name.to_owned(), value.to_owned());
    }

    pub fn clear_cookies(&self) {
        self.cookies.borrow_mut().clear();
    }

    fn execute(&self, request: Request) -> TestResponse {
        let (reply, answer) = mpsc::channel();
        let waker = {
            let mut inbox = self.inbox.lock().unwrap_or_else(|e| e.into_inner());
            inbox.jobs.push_back(Job {
                request,
                stream_timeout: self.stream_timeout,
                reply,
            });
            inbox.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
        let response = answer
            .recv_timeout(REQUEST_TIMEOUT)
            .expect("the app answered within the test request timeout");
        self.remember_cookies(&response);
        if let Some(token) = find_csrf_token(response.text()) {
            *self.csrf_token.borrow_mut() = Some(token);
        }
        response
    }

    fn remember_cookies(&self, response: &TestResponse) {
        let mut cookies = self.cookies.borrow_mut();
        for value in response.headers_all("set-cookie") {
            let Ok(cookie) = cookie::Cookie::parse_encoded(value.to_owned()) else {
                continue;
            };
            let expired = cookie.max_age().is_some_and(|age| age.is_zero())
                || cookie
                    .expires_datetime()
                    .is_some_and(|at| at < cookie::time::OffsetDateTime::now_utc());
            if expired {
                cookies.remove(cookie.name());
            } else {
                cookies.insert(cookie.name().to_owned(), cookie.value().to_owned());
            }
        }
    }
}

impl Drop for TestClient {
    fn drop(&mut self) {
        let waker = {
            let mut inbox = self.inbox.lock().unwrap_or_else(|e| e.into_inner());
            inbox.closed = true;
            inbox.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_trigger().shutdown();
            runtime.join();
        }
    }
}

/// The first kiln CSRF token in a page: 64 hex digits shortly after the word `csrf` (a
/// `csrf_token` field, `X-CSRF-Token` in `hx-headers`, a `csrf-token` meta tag).
fn find_csrf_token(page: &str) -> Option<String> {
    let lower = page.to_ascii_lowercase();
    let mut from = 0;
    while let Some(found) = lower[from..].find("csrf") {
        let start = from + found;
        let window = &page[start..page.len().min(start + 96)];
        let bytes = window.as_bytes();
        let mut run = 0;
        for (index, byte) in bytes.iter().enumerate() {
            if byte.is_ascii_hexdigit() {
                run += 1;
                let next_is_hex = bytes.get(index + 1).is_some_and(u8::is_ascii_hexdigit);
                if run == CSRF_TOKEN_HEX_DIGITS && !next_is_hex {
                    return Some(window[index + 1 - run..=index].to_owned());
                }
            } else {
                run = 0;
            }
        }
        from = start + 4;
    }
    None
}

async fn serve_jobs<H: Service>(inbox: Arc<Mutex<Inbox>>, handler: Arc<H>) {
    loop {
        let job = poll_fn(|cx| {
            let mut inbox = inbox.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(job) = inbox.jobs.pop_front() {
                return Poll::Ready(Some(job));
            }
            if inbox.closed || crate::runtime::shutdown_requested() {
                return Poll::Ready(None);
            }
            inbox.waker = Some(cx.waker().clone());
            Poll::Pending
        })
        .await;
        let Some(job) = job else {
            return;
        };
        let head_request = *job.request.method() == crate::http::Method::Head;
        let response = handler.call(job.request).await;
        let response = collect(response, head_request, job.stream_timeout).await;
        let _ = job.reply.send(response);
    }
}

async fn collect(response: Response, head_request: bool, stream_timeout: Duration) -> TestResponse {
    let headers = response
        .headers
        .iter()
        .map(|(name, value)| {
            (
                name.to_ascii_lowercase(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect();
    let body = match response.body {
        _ if head_request => Bytes::new(),
        Body::Empty => Bytes::new(),
        Body::Full(bytes) => bytes,
        Body::Stream(mut stream) => {
            let mut collected = BytesMut::new();
            let deadline = crate::runtime::now() + stream_timeout;
            loop {
                let next = crate::runtime::timeout_at(
                    deadline,
                    poll_fn(|cx| stream.as_mut().poll_next_chunk(cx)),
                )
                .await;
                match next {
                    Ok(Some(chunk)) => collected.extend_from_slice(&chunk),
                    Ok(None) | Err(_) => break,
                }
            }
            collected.freeze()
        }
    };
    TestResponse {
        status: response.status,
        headers,
        body,
        redirects: Vec::new(),
    }
}

/// A request being built; `send` runs it.
#[must_use = "call .send() to run the request"]
pub struct RequestBuilder<'c> {
    client: &'c TestClient,
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    send_cookies: bool,
    send_csrf: bool,
    follow: bool,
    peer: std::net::SocketAddr,
}

impl std::fmt::Debug for RequestBuilder<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestBuilder")
            .field("method", &self.method)
            .field("path", &self.path)
            .finish()
    }
}

impl RequestBuilder<'_> {
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Sends the request as if from this client address (`Request::peer_addr`; the default
    /// is `127.0.0.1:40000`).
    pub fn peer(mut self, peer: std::net::SocketAddr) -> Self {
        self.peer = peer;
        self
    }

    /// An htmx 2.x request (`HX-Request: true`).
    pub fn htmx(self) -> Self {
        self.header("HX-Request", "true")
    }

    /// An htmx 2.x request aimed at an element id (`HX-Target`).
    pub fn htmx_target(self, id: &str) -> Self {
        self.htmx().header("HX-Target", id)
    }

    /// An htmx 2.x boosted navigation (`HX-Boosted: true`).
    pub fn htmx_boosted(self) -> Self {
        self.htmx().header("HX-Boosted", "true")
    }

    /// An htmx 2.x history-restore request.
    pub fn htmx_history_restore(self) -> Self {
        self.htmx().header("HX-History-Restore-Request", "true")
    }

    /// An htmx 4.x partial request (`HX-Request-Type: partial`).
    pub fn htmx4_partial(self) -> Self {
        self.header("HX-Request", "true")
            .header("HX-Request-Type", "partial")
    }

    /// An htmx 4.x full-page request (`HX-Request-Type: full`).
    pub fn htmx4_full(self) -> Self {
        self.header("HX-Request", "true")
            .header("HX-Request-Type", "full")
    }

    /// A urlencoded form body.
    pub fn form<T: serde::Serialize + ?Sized>(mut self, form: &T) -> Self {
        let body = serde_html_form::to_string(form).expect("test form serialises");
        self.body = body.into_bytes();
        self.header("Content-Type", "application/x-www-form-urlencoded")
    }

    /// A JSON body.
    pub fn json<T: serde::Serialize + ?Sized>(mut self, value: &T) -> Self {
        self.body = sonic_rs::to_vec(value).expect("test JSON serialises");
        self.header("Content-Type", "application/json")
    }

    /// A `multipart/form-data` body as a browser sends a form with file inputs: the text
    /// `fields`, then the `files` as (field name, file name, bytes). Like a form without
    /// JavaScript, the remembered CSRF token goes in the `csrf_token` field (unless `fields`
    /// has one or `without_csrf` came first), not in the header.
    pub fn multipart(mut self, fields: &[(&str, &str)], files: &[(&str, &str, &[u8])]) -> Self {
        const BOUNDARY: &str = "----kilnTestBoundary7MA4YWxkTrZu0gW";
        let mut body = Vec::new();
        let mut part = |head: String, data: &[u8]| {
            assert!(
                memchr::memmem::find(data, BOUNDARY.as_bytes()).is_none(),
                "test multipart data contains the boundary"
            );
            body.extend_from_slice(format!("--{BOUNDARY}\r\n{head}\r\n\r\n").as_bytes());
            body.extend_from_slice(data);
            body.extend_from_slice(b"\r\n");
        };
        let has_token = fields
            .iter()
            .any(|(name, _)| *name == crate::app::CSRF_FIELD);
        if self.send_csrf
            && !has_token
            && let Some(token) = self.client.csrf_token()
        {
            part(
                format!(
                    "Content-Disposition: form-data; name=\"{}\"",
                    crate::app::CSRF_FIELD
                ),
                token.as_bytes(),
            );
        }
        for (name, value) in fields {
            part(
                format!("Content-Disposition: form-data; name=\"{name}\""),
                value.as_bytes(),
            );
        }
        for (name, filename, data) in files {
            part(
                format!(
                    "Content-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\nContent-Type: application/octet-stream"
                ),
                data,
            );
        }
        body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
        self.body = body;
        self.send_csrf = false;
        self.header(
            "Content-Type",
            &format!("multipart/form-data; boundary={BOUNDARY}"),
        )
    }

    /// A raw body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// Do not send the client's cookies with this request.
    pub fn without_cookies(mut self) -> Self {
        self.send_cookies = false;
        self
    }

    /// Do not add the remembered CSRF token to this (unsafe) request.
    pub fn without_csrf(mut self) -> Self {
        self.send_csrf = false;
        self
    }

    /// Follow redirects as a browser and htmx would: a 301/302/303 with `GET`, a 307/308 with
    /// the same method and body, `HX-Redirect` with a full-page `GET`, `HX-Location` with an
    /// htmx `GET`; at most `REDIRECTS_MAX`. The final response lists the URLs it went through
    /// (`TestResponse::redirects`).
    pub fn follow_redirects(mut self) -> Self {
        self.follow = true;
        self
    }

    /// Runs the request and returns the response. Panics (fails the test) if the request
    /// is not valid HTTP/1.1.
    pub fn send(self) -> TestResponse {
        if !self.follow {
            return self.send_once();
        }
        let client = self.client;
        let peer = self.peer;
        let mut response = self.send_once();
        let mut redirects = Vec::new();
        while let Some(next) = response.next_request(client) {
            assert!(
                redirects.len() < REDIRECTS_MAX,
                "more than {REDIRECTS_MAX} redirects: {redirects:?}"
            );
            redirects.push(next.path.clone());
            response = next.peer(peer).send_once();
        }
        response.redirects = redirects;
        response
    }

    fn wants_csrf(&self) -> bool {
        let safe = matches!(self.method.as_str(), "GET" | "HEAD" | "OPTIONS" | "TRACE");
        let has_header = self
            .headers
            .iter()
            .any(|(name, _)| name.eq_ignore_ascii_case(crate::app::CSRF_HEADER));
        self.send_csrf && !safe && !has_header
    }

    fn send_once(mut self) -> TestResponse {
        if self.wants_csrf()
            && let Some(token) = self.client.csrf_token()
        {
            self.headers.push(("X-CSRF-Token".to_owned(), token));
        }
        let mut raw = format!("{} {} HTTP/1.1\r\nHost: test\r\n", self.method, self.path);
        for (name, value) in &self.headers {
            raw.push_str(&format!("{name}: {value}\r\n"));
        }
        if self.send_cookies {
            let cookies = self.client.cookies.borrow();
            if !cookies.is_empty() {
                let pairs: Vec<String> = cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
                raw.push_str(&format!("Cookie: {}\r\n", pairs.join("; ")));
            }
        }
        if !self.body.is_empty() {
            raw.push_str(&format!("Content-Length: {}\r\n", self.body.len()));
        }
        raw.push_str("\r\n");
        let mut buf = BytesMut::from(raw.as_bytes());
        buf.extend_from_slice(&self.body);
        let limits = HttpLimits {
            body_bytes_max: usize::MAX / 2,
            ..HttpLimits::default()
        };
        let mut request = match RequestDecoder::new(limits).decode(&mut buf) {
            Ok(Some(Decoded::Request(request))) => request,
            other => panic!("test request is not valid HTTP/1.1: {other:?}"),
        };
        request.set_peer_addr(Some(self.peer));
        self.client.execute(request)
    }
}

/// A collected response with assertion helpers (each returns `&Self` to chain).
#[derive(Clone, Debug)]
pub struct TestResponse {
    pub status: StatusCode,
    /// Header names lower-cased, in order.
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
    /// With `follow_redirects`: the URLs followed to reach this response, in order.
    pub redirects: Vec<String>,
}

impl TestResponse {
    /// Where this response sends the client: `Location` of a 3xx, `HX-Redirect`, or the path
    /// of `HX-Location` (plain or JSON).
    pub fn redirect_target(&self) -> Option<String> {
        if self.status.as_u16() / 100 == 3
            && let Some(location) = self.header("location")
        {
            return Some(location.to_owned());
        }
        if let Some(target) = self.header("hx-redirect") {
            return Some(target.to_owned());
        }
        let location = self.header("hx-location")?;
        if location.trim_start().starts_with('{') {
            let value: sonic_rs::Value = sonic_rs::from_str(location).ok()?;
            return sonic_rs::JsonValueTrait::as_str(&value["path"]).map(str::to_owned);
        }
        Some(location.to_owned())
    }

    /// The request a browser (or htmx) makes next, if this response redirects.
    fn next_request<'c>(&self, client: &'c TestClient) -> Option<RequestBuilder<'c>> {
        let target = self.redirect_target()?;
        let status = self.status.as_u16();
        if status / 100 == 3 && self.header("location").is_some() {
            return Some(client.get(&target));
        }
        if self.header("hx-redirect").is_some() {
            return Some(client.get(&target));
        }
        Some(client.get(&target).htmx())
    }

    /// The response redirects to `target` (a 3xx `Location`, `HX-Redirect` or `HX-Location`).
    #[track_caller]
    pub fn assert_redirect_to(&self, target: &str) -> &Self {
        assert_eq!(
            self.redirect_target().as_deref(),
            Some(target),
            "redirect target; status {}, headers {:?}",
            self.status(),
            self.headers
        );
        self
    }

    pub fn status(&self) -> u16 {
        self.status.as_u16()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn headers_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.body).unwrap_or("<not UTF-8>")
    }

    pub fn json<T: serde::de::DeserializeOwned>(&self) -> T {
        sonic_rs::from_slice(&self.body).unwrap_or_else(|error| {
            panic!("body is not the expected JSON ({error}): {}", self.text())
        })
    }

    #[track_caller]
    pub fn assert_status(&self, status: u16) -> &Self {
        assert_eq!(
            self.status(),
            status,
            "unexpected status; body: {}",
            self.text()
        );
        self
    }

    #[track_caller]
    pub fn assert_header(&self, name: &str, value: &str) -> &Self {
        assert_eq!(
            self.header(name),
            Some(value),
            "header {name}; all: {:?}",
            self.headers
        );
        self
    }

    #[track_caller]
    pub fn assert_no_header(&self, name: &str) -> &Self {
        assert_eq!(self.header(name), None, "header {name} should be absent");
        self
    }

    #[track_caller]
    pub fn assert_contains(&self, needle: &str) -> &Self {
        assert!(
            self.text().contains(needle),
            "body does not contain {needle:?}:\n{}",
            self.text()
        );
        self
    }

    #[track_caller]
    pub fn assert_not_contains(&self, needle: &str) -> &Self {
        assert!(
            !self.text().contains(needle),
            "body contains {needle:?}:\n{}",
            self.text()
        );
        self
    }

    /// `Vary` lists this header name (case-insensitive).
    #[track_caller]
    pub fn assert_varies_on(&self, name: &str) -> &Self {
        let varies = self.headers_all("vary").any(|value| {
            value
                .split(',')
                .any(|item| item.trim().eq_ignore_ascii_case(name))
        });
        assert!(varies, "Vary does not list {name}: {:?}", self.headers);
        self
    }
}
