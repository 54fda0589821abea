//! Middleware in `around(next)` style, and the built-in layers that need nothing else:
//! request tracing, security headers and request ids.
//!
//! A middleware receives the request context and a `Next`; it may answer by itself, or call
//! `next.run(cx).await` and change the response. Layers wrap endpoints once, when the app is
//! built, so a request pays one virtual call per layer. Sessions and CSRF live in their own
//! modules.

use super::context::RequestContext;
use super::handler::{Endpoint, ResponseFuture};
use crate::http::{HeaderValue, Response};
use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

/// The rest of the chain after a middleware.
pub struct Next<S> {
    inner: Endpoint<S>,
}

impl<S> std::fmt::Debug for Next<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Next")
    }
}

impl<S> Next<S> {
    pub async fn run(self, cx: RequestContext<S>) -> Response {
        (self.inner)(cx).await
    }
}

/// A layer around handlers: `Fn(RequestContext<S>, Next<S>) -> impl Future<Output = Response>`.
pub trait Middleware<S>: Send + Sync + 'static {
    fn call(&self, cx: RequestContext<S>, next: Next<S>) -> ResponseFuture;

    /// A copy for one worker thread, so that what a request clones (an `Arc` of the layer's
    /// settings) is counted per worker, not in one counter every worker writes. `None` (the
    /// default, and what closures give) shares this instance between the workers.
    fn for_worker(&self) -> Option<Arc<dyn Middleware<S>>> {
        None
    }
}

/// The copies of middleware made for one worker: one per layer, however many routes it wraps.
pub(crate) struct WorkerLayers<S> {
    /// `(address of the shared layer, this worker's copy)`.
    copies: Vec<(usize, Arc<dyn Middleware<S>>)>,
}

impl<S> Default for WorkerLayers<S> {
    fn default() -> Self {
        WorkerLayers { copies: Vec::new() }
    }
}

impl<S: 'static> WorkerLayers<S> {
    /// This worker's copy of `layer` (or `layer` itself when it does not copy).
    pub(crate) fn copy_of(&mut self, layer: &Arc<dyn Middleware<S>>) -> Arc<dyn Middleware<S>> {
        let key = Arc::as_ptr(layer).cast::<()>() as usize;
        if let Some((_, copy)) = self.copies.iter().find(|(known, _)| *known == key) {
            return copy.clone();
        }
        let copy = layer.for_worker().unwrap_or_else(|| layer.clone());
        self.copies.push((key, copy.clone()));
        copy
    }
}

impl<S, F, Fut> Middleware<S> for F
where
    F: Fn(RequestContext<S>, Next<S>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Response> + 'static,
{
    fn call(&self, cx: RequestContext<S>, next: Next<S>) -> ResponseFuture {
        Box::pin(self(cx, next))
    }
}

/// Wraps `inner` in `middleware`.
pub(crate) fn wrap<S: 'static>(
    middleware: Arc<dyn Middleware<S>>,
    inner: Endpoint<S>,
) -> Endpoint<S> {
    Arc::new(move |cx| {
        middleware.call(
            cx,
            Next {
                inner: inner.clone(),
            },
        )
    })
}

/// One tracing span per request with method, route, status and latency; an event at the end.
pub fn trace<S: 'static>() -> impl Middleware<S> {
    |cx: RequestContext<S>, next: Next<S>| async move {
        let started = Instant::now();
        let method = cx.request.method().clone();
        let path = cx.request.path().to_owned();
        let route = cx.route().unwrap_or("").to_owned();
        let span = tracing::info_span!(
            "request",
            method = %method,
            route = %route,
            status = tracing::field::Empty,
            latency_us = tracing::field::Empty
        );
        let response = next.run(cx).await;
        let latency_us = started.elapsed().as_micros() as u64;
        span.record("status", response.status.as_u16());
        span.record("latency_us", latency_us);
        span.in_scope(|| {
            tracing::info!(
                %method,
                path,
                route,
                status = response.status.as_u16(),
                latency_us,
                "request"
            );
        });
        response
    }
}

/// Security headers for HTML apps; each is only added if the handler did not set it.
#[derive(Clone, Debug)]
pub struct SecurityHeaders {
    headers: Vec<(&'static str, HeaderValue)>,
}

impl Default for SecurityHeaders {
    fn default() -> Self {
        SecurityHeaders {
            headers: vec![
                (
                    "x-content-type-options",
                    HeaderValue::from_static("nosniff"),
                ),
                ("x-frame-options", HeaderValue::from_static("DENY")),
                (
                    "referrer-policy",
                    HeaderValue::from_static("strict-origin-when-cross-origin"),
                ),
                (
                    "cross-origin-opener-policy",
                    HeaderValue::from_static("same-origin"),
                ),
                (
                    "content-security-policy",
                    HeaderValue::from_static(
                        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'",
                    ),
                ),
            ],
        }
    }
}

impl SecurityHeaders {
    /// Replaces (or adds) one header, e.g. a custom `content-security-policy`.
    pub fn with(mut self, name: &'static str, value: HeaderValue) -> SecurityHeaders {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.headers.push((name, value));
        self
    }

    /// The middleware.
    pub fn layer<S: 'static>(self) -> impl Middleware<S> {
        WithSettings::new(self, |headers: Arc<SecurityHeaders>, cx, next| {
            Box::pin(async move {
                let mut response = next.run(cx).await;
                for (name, value) in &headers.headers {
                    if response.header(name).is_none() {
                        response
                            .headers
                            .push((std::borrow::Cow::Borrowed(*name), value.clone()));
                    }
                }
                response
            })
        })
    }
}

/// Middleware whose per-request future needs its settings: each worker gets its own copy of
/// them (`for_worker`), so the `Arc` a request clones is counted per worker.
pub(crate) struct WithSettings<T, S> {
    settings: Arc<T>,
    run: fn(Arc<T>, RequestContext<S>, Next<S>) -> ResponseFuture,
}

impl<T, S> WithSettings<T, S> {
    pub(crate) fn new(
        settings: T,
        run: fn(Arc<T>, RequestContext<S>, Next<S>) -> ResponseFuture,
    ) -> WithSettings<T, S> {
        WithSettings {
            settings: Arc::new(settings),
            run,
        }
    }
}

impl<T: Clone + Send + Sync + 'static, S: 'static> Middleware<S> for WithSettings<T, S> {
    fn call(&self, cx: RequestContext<S>, next: Next<S>) -> ResponseFuture {
        (self.run)(self.settings.clone(), cx, next)
    }

    fn for_worker(&self) -> Option<Arc<dyn Middleware<S>>> {
        Some(Arc::new(WithSettings {
            settings: Arc::new(T::clone(&self.settings)),
            run: self.run,
        }))
    }
}

/// The id of a request (from a valid incoming `X-Request-Id`, else generated), available as
/// `Extension<RequestId>` and echoed in the response's `X-Request-Id`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestId(pub String);

/// Longest incoming request id accepted; longer or odd ones are replaced.
const REQUEST_ID_BYTES_MAX: usize = 64;

fn valid_request_id(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= REQUEST_ID_BYTES_MAX
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

/// Middleware that assigns request ids.
pub fn request_id<S: 'static>() -> impl Middleware<S> {
    |mut cx: RequestContext<S>, next: Next<S>| async move {
        let incoming = cx
            .request
            .header_str("x-request-id")
            .filter(|value| valid_request_id(value))
            .map(str::to_owned);
        let id = incoming.unwrap_or_else(|| super::random::hex_token(16));
        cx.extensions.insert(RequestId(id.clone()));
        let mut response = next.run(cx).await;
        if let Ok(value) = HeaderValue::try_from(id) {
            let _ = response.set_header("x-request-id", value);
        }
        response
    }
}
