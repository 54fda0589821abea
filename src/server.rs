//! `Server`: configuration, start-up, the accept loop and the per-connection HTTP/1.1 loop that
//! joins the runtime (sockets, timers) to the sans-IO `http` module.
//!
//! One connection is one task: decode every request already buffered (pipelining), call the
//! handler for each in order, encode the responses into one output buffer and flush them with a
//! single vectored send, then wait for more bytes under the right timeout (header deadline, body
//! timeout or idle keep-alive). Errors from the decoder answer with their status and close.
//! This module parses nothing itself and makes no syscall directly.

use crate::http::{
    Body, BodyFraming, Decoded, DecoderPhase, EncodeOptions, HttpDate, Method, Request,
    RequestDecoder, Response, StatusCode, Version, encode_chunk_header, encode_continue,
    encode_head, encode_last_chunk,
};
use crate::limits::{HttpLimits, RuntimeLimits, ServerLimits};
use crate::runtime::{self, Runtime, RuntimeConfig, ShutdownTrigger, TcpListener, TcpStream};
use bytes::{Bytes, BytesMut};
use std::cell::{Cell, RefCell};
use std::future::{Future, poll_fn};
use std::io;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::Instant;

/// Bodies up to this size are copied into the output buffer next to their head (one iovec);
/// larger ones are sent from their own `Bytes` without copying.
const INLINE_BODY_BYTES_MAX: usize = 2048;
/// Output buffers kept per worker for reuse by connections that have something to write.
const OUTPUT_POOL_MAX: usize = 256;
/// Capacity of a fresh output buffer.
const OUTPUT_BUFFER_BYTES: usize = 8192;

/// Something that answers requests: any `Fn(Request) -> impl Future<Output = Response>`.
/// The future need not be `Send`: it runs on the worker that accepted the connection.
pub trait Handler: Send + Sync + 'static {
    type Future: Future<Output = Response> + 'static;
    fn call(&self, request: Request) -> Self::Future;
}

impl<F, Fut> Handler for F
where
    F: Fn(Request) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Response> + 'static,
{
    type Future = Fut;
    fn call(&self, request: Request) -> Fut {
        self(request)
    }
}

/// Anything `Server::serve` accepts: a `Handler`, or an `App` (built on the way).
pub trait IntoHandler {
    type Handler: Handler;
    fn into_handler(self) -> Self::Handler;
}

impl<H: Handler> IntoHandler for H {
    type Handler = H;
    fn into_handler(self) -> H {
        self
    }
}

/// Server configuration; `bind` then `serve` (blocking, with signal handling) or `start`.
#[derive(Clone, Debug)]
pub struct Server {
    addr: SocketAddr,
    workers: usize,
    multishot: bool,
    http_limits: HttpLimits,
    limits: ServerLimits,
    runtime_limits: RuntimeLimits,
}

impl Server {
    pub fn bind(addr: SocketAddr) -> Server {
        Server {
            addr,
            workers: std::thread::available_parallelism().map_or(1, usize::from),
            multishot: true,
            http_limits: HttpLimits::default(),
            limits: ServerLimits::default(),
            runtime_limits: RuntimeLimits::default(),
        }
    }

    /// Worker threads (one ring each). Default: one per available core.
    pub fn workers(mut self, workers: usize) -> Server {
        self.workers = workers.max(1);
        self
    }

    /// Use multishot accept and receive where the kernel has them (default `true`); `false`
    /// forces the single-shot paths older kernels get (for tests and diagnosis).
    pub fn multishot(mut self, multishot: bool) -> Server {
        self.multishot = multishot;
        self
    }

    pub fn http_limits(mut self, limits: HttpLimits) -> Server {
        self.http_limits = limits;
        self
    }

    pub fn limits(mut self, limits: ServerLimits) -> Server {
        self.limits = limits;
        self
    }

    pub fn runtime_limits(mut self, limits: RuntimeLimits) -> Server {
        self.runtime_limits = limits;
        self
    }

    /// Serves until SIGINT/SIGTERM, then shuts down gracefully and returns.
    pub fn serve(self, handler: impl IntoHandler) -> io::Result<()> {
        let pending: Arc<Mutex<(bool, Option<ShutdownTrigger>)>> = Arc::default();
        let on_signal = pending.clone();
        runtime::on_shutdown_signal(move || {
            let mut pending = on_signal.lock().unwrap_or_else(|e| e.into_inner());
            pending.0 = true;
            if let Some(trigger) = &pending.1 {
                trigger.shutdown();
            }
        })?;
        let handle = self.start(handler)?;
        {
            let mut pending = pending.lock().unwrap_or_else(|e| e.into_inner());
            if pending.0 {
                handle.shutdown();
            }
            pending.1 = Some(handle.runtime.shutdown_trigger());
        }
        handle.join();
        tracing::info!("server stopped");
        Ok(())
    }

    /// Binds and starts the workers, returning at once.
    pub fn start(self, handler: impl IntoHandler) -> io::Result<ServerHandle> {
        let first = TcpListener::bind_reuseport(self.addr, self.limits.listen_backlog_count)?;
        let local_addr = first.local_addr()?;
        let mut listeners = vec![Some(first)];
        for _ in 1..self.workers {
            listeners.push(Some(TcpListener::bind_reuseport(
                local_addr,
                self.limits.listen_backlog_count,
            )?));
        }
        let listeners = Mutex::new(listeners);
        let handler = Arc::new(handler.into_handler());
        let config = Arc::new(ConnConfig {
            http_limits: self.http_limits,
            limits: self.limits,
        });
        let runtime_config = RuntimeConfig {
            workers: self.workers,
            limits: self.runtime_limits,
            shutdown_grace: std::time::Duration::from_millis(self.limits.shutdown_grace_ms),
            multishot: self.multishot,
        };
        let runtime = Runtime::start(runtime_config, move |index| {
            let listener = listeners
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get_mut(index)
                .and_then(Option::take);
            let handler = handler.clone();
            let config = config.clone();
            async move {
                match listener {
                    Some(listener) => accept_loop(listener, handler, config).await,
                    None => tracing::error!(index, "worker started without a listener"),
                }
            }
        })?;
        tracing::info!(addr = %local_addr, workers = self.workers, "listening");
        Ok(ServerHandle {
            local_addr,
            runtime,
        })
    }
}

/// A running server.
#[derive(Debug)]
pub struct ServerHandle {
    local_addr: SocketAddr,
    runtime: Runtime,
}

impl ServerHandle {
    /// The bound address (with the real port when bound to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Starts graceful shutdown: stop accepting, finish in-flight requests (answered with
    /// `Connection: close`), close idle connections. Returns at once; `join` waits.
    pub fn shutdown(&self) {
        self.runtime.shutdown_trigger().shutdown();
    }

    /// Waits until every worker has stopped.
    pub fn join(self) {
        self.runtime.join();
    }

    /// `shutdown` then `join`.
    pub fn stop(self) {
        self.shutdown();
        self.join();
    }
}

struct ConnConfig {
    http_limits: HttpLimits,
    limits: ServerLimits,
}

/// What a connection beyond `connections_per_worker_max` gets before it is closed.
const OVERLOAD_RESPONSE: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nserver: kiln\r\nretry-after: 1\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: 30\r\nconnection: close\r\n\r\nserver at connection capacity\n";

/// Which of two futures finished first.
enum Either<A, B> {
    Left(A),
    Right(B),
}

async fn first<A: Future, B: Future>(a: A, b: B) -> Either<A::Output, B::Output> {
    let mut a = std::pin::pin!(a);
    let mut b = std::pin::pin!(b);
    poll_fn(|cx| {
        if let Poll::Ready(output) = a.as_mut().poll(cx) {
            return Poll::Ready(Either::Left(output));
        }
        b.as_mut().poll(cx).map(Either::Right)
    })
    .await
}

async fn accept_loop<H: Handler>(listener: TcpListener, handler: Arc<H>, config: Arc<ConnConfig>) {
    let open = Rc::new(Cell::new(0usize));
    let max = config.limits.connections_per_worker_max.max(1);
    let mut refused: u64 = 0;
    let mut incoming = None;
    while !runtime::shutdown_requested() {
        if incoming.is_none() {
            match listener.incoming() {
                Ok(started) => incoming = Some(started),
                Err(error) => {
                    tracing::error!(%error, "cannot accept");
                    runtime::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            }
        }
        let Some(accepting) = incoming.as_mut() else {
            continue;
        };
        let accepted = first(accepting.next(), runtime::shutdown_signal()).await;
        match accepted {
            Either::Left(Ok(stream)) if open.get() >= max => {
                // Beyond the limit: refuse at once (one non-blocking write, then close) so a
                // flood costs bounded work and its clients learn to come back later.
                let _ = stream.send_now(OVERLOAD_RESPONSE);
                refused += 1;
                if refused.is_power_of_two() {
                    tracing::warn!(refused, max, "connections refused: worker at capacity");
                }
            }
            Either::Left(Ok(stream)) => {
                open.set(open.get() + 1);
                let handler = handler.clone();
                let config = config.clone();
                let open = open.clone();
                runtime::spawn_detached(async move {
                    // Owned here and borrowed by `run`: an async fn taking `self` by value
                    // would hold the connection twice in its state (argument and local).
                    let mut connection = Connection::new(stream, &config);
                    connection.run(&*handler).await;
                    drop(connection);
                    open.set(open.get().saturating_sub(1));
                });
            }
            Either::Left(Err(error)) => {
                // EMFILE/ENFILE and the like: back off instead of spinning.
                tracing::warn!(%error, "accept failed");
                incoming = None;
                runtime::sleep(std::time::Duration::from_millis(50)).await;
            }
            Either::Right(()) => break,
        }
    }
}

thread_local! {
    static OUTPUT_POOL: RefCell<Vec<BytesMut>> = const { RefCell::new(Vec::new()) };
    static DATE: Cell<(u64, Option<HttpDate>)> = const { Cell::new((0, None)) };
}

fn take_output_buffer() -> BytesMut {
    OUTPUT_POOL
        .with(|pool| pool.borrow_mut().pop())
        .unwrap_or_else(|| BytesMut::with_capacity(OUTPUT_BUFFER_BYTES))
}

fn return_output_buffer(mut buffer: BytesMut) {
    buffer.clear();
    // The sent heads were split off this buffer; once they are all dropped its whole
    // allocation is free again (no copy, no allocation). Otherwise it is not pooled.
    if !buffer.try_reclaim(OUTPUT_BUFFER_BYTES) {
        return;
    }
    OUTPUT_POOL.with(|pool| {
        let mut pool = pool.borrow_mut();
        if pool.len() < OUTPUT_POOL_MAX {
            pool.push(buffer);
        }
    });
}

/// The `Date` value for this second, formatted once per second per worker.
fn current_date() -> HttpDate {
    let secs = runtime::unix_secs();
    DATE.with(|cache| match cache.get() {
        (cached, Some(date)) if cached == secs => date,
        _ => {
            let date = HttpDate::from_unix_secs(secs);
            cache.set((secs, Some(date)));
            date
        }
    })
}

/// Why a connection loop ends.
enum Close {
    /// Close quietly (peer gone, idle, shutdown, error while writing).
    Quiet,
    /// Answer with this error, then close.
    With(StatusCode, &'static str),
}

struct Connection<'c> {
    stream: TcpStream,
    config: &'c ConnConfig,
    decoder: RequestDecoder,
    read_buf: BytesMut,
    /// Encoded heads (and small bodies) not yet flushed; `None` while idle.
    output: Option<BytesMut>,
    /// Chunks to send, in order; the output buffer's bytes go in before each large body.
    chunks: Vec<Bytes>,
    pending_bytes: usize,
    served: u64,
    head_deadline: Option<Instant>,
    /// The one timer of the connection, moved for each read and each send (moving it later
    /// costs no timer operation; see `runtime::Deadline`).
    deadline: runtime::Deadline,
}

impl<'c> Connection<'c> {
    fn new(stream: TcpStream, config: &'c ConnConfig) -> Connection<'c> {
        let now = runtime::now();
        Connection {
            stream,
            config,
            decoder: RequestDecoder::new(config.http_limits),
            read_buf: BytesMut::new(),
            output: None,
            chunks: Vec::new(),
            pending_bytes: 0,
            served: 0,
            // A new connection must send its first head within the header deadline.
            head_deadline: Some(now + config.limits.header_timeout()),
            deadline: runtime::Deadline::new(now + config.limits.header_timeout()),
        }
    }

    async fn run<H: Handler>(&mut self, handler: &H) {
        let close = loop {
            if self.read_buf.is_empty() && self.decoder.phase() == DecoderPhase::Idle {
                // Idle: only this small wait lives in the connection's task, so an idle
                // keep-alive connection costs little memory.
                if let Err(close) = self.read_more().await {
                    break close;
                }
            }
            // Active: the larger state (handler, sends, streams) is boxed while it runs.
            if let Err(close) = Box::pin(self.serve_buffered(handler)).await {
                break close;
            }
        };
        if let Close::With(status, reason) = close {
            let response = Response::error(status, reason);
            self.queue_response(response, false, false, Version::Http11);
            let _ = Box::pin(self.flush()).await;
        }
        if let Some(output) = self.output.take() {
            return_output_buffer(output);
        }
    }

    /// Answers every request that can be completed from buffered (and further arriving)
    /// bytes, flushes, and returns once the connection is idle again.
    async fn serve_buffered<H: Handler>(&mut self, handler: &H) -> Result<(), Close> {
        loop {
            match self.decoder.decode(&mut self.read_buf) {
                Ok(Some(Decoded::Request(request))) => {
                    self.head_deadline = None;
                    if let Some(close) = self.answer(handler, request).await {
                        return Err(close);
                    }
                }
                Ok(Some(Decoded::ContinueExpected)) => {
                    encode_continue(self.output_buffer());
                    self.flush().await.map_err(|_| Close::Quiet)?;
                }
                Ok(None) => {
                    self.flush().await.map_err(|_| Close::Quiet)?;
                    if self.decoder.phase() == DecoderPhase::Idle && self.read_buf.is_empty() {
                        return Ok(());
                    }
                    self.read_more().await?;
                }
                Err(error) => return Err(Close::With(error.status, error.reason)),
            }
        }
    }

    /// Runs the handler for one request and queues (or streams) its response.
    /// `Some` ends the connection.
    async fn answer<H: Handler>(&mut self, handler: &H, request: Request) -> Option<Close> {
        self.served += 1;
        let limit = self.config.limits.requests_per_connection_max;
        let wants_keep_alive = request.keep_alive() && (limit == 0 || self.served < limit);
        let head_request = *request.method() == Method::Head;
        let version = request.version();
        let response = match catch_unwind(handler.call(request)).await {
            Ok(response) => response,
            Err(()) => {
                tracing::error!("handler panicked; answering 500 and closing");
                self.queue_response(
                    Response::error(StatusCode::INTERNAL_SERVER_ERROR, "internal server error"),
                    false,
                    head_request,
                    version,
                );
                let _ = Box::pin(self.flush()).await;
                return Some(Close::Quiet);
            }
        };
        // Decided after the handler: a shutdown that began meanwhile closes this connection.
        let keep_alive = wants_keep_alive && !runtime::shutdown_requested();
        let (framing, stream) = self.queue_response(response, keep_alive, head_request, version);
        // Streams and the flushes below are the uncommon paths: boxed, so the future of
        // every request (allocated per request) stays small.
        if let Some(stream) = stream
            && Box::pin(self.send_stream(framing, stream)).await.is_err()
        {
            return Some(Close::Quiet);
        }
        if !keep_alive || framing == BodyFraming::CloseDelimited {
            let _ = Box::pin(self.flush()).await;
            return Some(Close::Quiet);
        }
        if self.pending_bytes >= self.config.limits.pipeline_pending_bytes_max
            && Box::pin(self.flush()).await.is_err()
        {
            return Some(Close::Quiet);
        }
        None
    }

    fn output_buffer(&mut self) -> &mut BytesMut {
        self.output.get_or_insert_with(take_output_buffer)
    }

    /// Encodes the head (and a whole body) into the output; returns a stream body, if any,
    /// for the caller to send after flushing.
    fn queue_response(
        &mut self,
        response: Response,
        keep_alive: bool,
        head_request: bool,
        version: Version,
    ) -> (BodyFraming, Option<Pin<Box<dyn crate::http::BodyStream>>>) {
        let date = current_date();
        let options = EncodeOptions {
            keep_alive,
            head_request,
            version,
        };
        let output = self.output.get_or_insert_with(take_output_buffer);
        let before = output.len();
        let framing = encode_head(&response, &date, options, output);
        self.pending_bytes += output.len() - before;
        match (response.body, framing) {
            (Body::Full(body), BodyFraming::Length(_)) => {
                self.pending_bytes += body.len();
                if body.len() <= INLINE_BODY_BYTES_MAX {
                    output.extend_from_slice(&body);
                } else {
                    self.chunks.push(output.split().freeze());
                    self.chunks.push(body);
                }
                (framing, None)
            }
            (Body::Stream(stream), BodyFraming::Chunked | BodyFraming::CloseDelimited) => {
                (framing, Some(stream))
            }
            _ => (framing, None),
        }
    }

    /// Sends everything queued, within the write timeout.
    async fn flush(&mut self) -> io::Result<()> {
        if let Some(output) = self.output.as_mut()
            && !output.is_empty()
        {
            self.chunks.push(output.split().freeze());
        }
        self.pending_bytes = 0;
        if self.chunks.is_empty() {
            return Ok(());
        }
        let chunks = std::mem::take(&mut self.chunks);
        self.deadline
            .reset(runtime::now() + self.config.limits.write_timeout());
        let deadline = &mut self.deadline;
        let mut send = std::pin::pin!(self.stream.send_all(chunks));
        let sent = poll_fn(|cx| {
            if let Poll::Ready(sent) = send.as_mut().poll(cx) {
                return Poll::Ready(Some(sent));
            }
            deadline.poll_elapsed(cx).map(|()| None)
        })
        .await;
        match sent {
            Some((result, chunks)) => {
                self.chunks = chunks;
                result
            }
            None => Err(io::Error::new(io::ErrorKind::TimedOut, "write timeout")),
        }
    }

    async fn send_stream(
        &mut self,
        framing: BodyFraming,
        mut stream: Pin<Box<dyn crate::http::BodyStream>>,
    ) -> io::Result<()> {
        self.flush().await?;
        loop {
            let next = poll_fn(|cx| stream.as_mut().poll_next_chunk(cx)).await;
            let output = self.output.get_or_insert_with(take_output_buffer);
            match next {
                Some(chunk) if chunk.is_empty() => continue,
                Some(chunk) => {
                    if framing == BodyFraming::Chunked {
                        encode_chunk_header(chunk.len(), output);
                        self.chunks.push(output.split().freeze());
                        self.chunks.push(chunk);
                        output.extend_from_slice(b"\r\n");
                    } else {
                        self.chunks.push(chunk);
                    }
                    self.flush().await?;
                }
                None => {
                    if framing == BodyFraming::Chunked {
                        encode_last_chunk(output);
                    }
                    return self.flush().await;
                }
            }
        }
    }

    /// Waits for more bytes under the timeout that fits the decoder's phase.
    async fn read_more(&mut self) -> Result<(), Close> {
        let limits = &self.config.limits;
        let phase = self.decoder.phase();
        let now = runtime::now();
        let deadline = match phase {
            DecoderPhase::Idle => self
                .head_deadline
                .unwrap_or_else(|| now + limits.idle_timeout()),
            DecoderPhase::Head => *self
                .head_deadline
                .get_or_insert_with(|| now + limits.header_timeout()),
            DecoderPhase::Body => now + limits.body_timeout(),
        };
        if phase == DecoderPhase::Idle {
            // Nothing in progress: release buffers so an idle connection costs little memory.
            if self.read_buf.is_empty() {
                self.read_buf = BytesMut::new();
            }
            if let Some(output) = self.output.take() {
                return_output_buffer(output);
            }
        }
        self.deadline.reset(deadline);
        let outcome = ReadWithDeadline {
            stream: &mut self.stream,
            buf: &mut self.read_buf,
            deadline: &mut self.deadline,
            watch_shutdown: phase == DecoderPhase::Idle,
        }
        .await;
        match (outcome, phase) {
            (ReadOutcome::Data, _) => Ok(()),
            (ReadOutcome::Closed | ReadOutcome::Shutdown, _) => Err(Close::Quiet),
            // A new connection that never sent a byte is cut quietly, like an idle one.
            (ReadOutcome::Elapsed, DecoderPhase::Idle) => Err(Close::Quiet),
            (ReadOutcome::Elapsed, DecoderPhase::Head) => Err(Close::With(
                StatusCode::REQUEST_TIMEOUT,
                "request head not received in time",
            )),
            (ReadOutcome::Elapsed, DecoderPhase::Body) => Err(Close::With(
                StatusCode::REQUEST_TIMEOUT,
                "request body not received in time",
            )),
        }
    }
}

enum ReadOutcome {
    Data,
    Closed,
    Elapsed,
    Shutdown,
}

/// One receive raced against a deadline and, for idle connections, against shutdown.
/// Written by hand (not with combinators) because it is what an idle connection's task holds,
/// and its size is the idle memory per connection.
struct ReadWithDeadline<'a> {
    stream: &'a mut TcpStream,
    buf: &'a mut BytesMut,
    deadline: &'a mut runtime::Deadline,
    watch_shutdown: bool,
}

impl Future for ReadWithDeadline<'_> {
    type Output = ReadOutcome;
    fn poll(self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<ReadOutcome> {
        let this = self.get_mut();
        match this.stream.poll_read(cx, this.buf) {
            Poll::Ready(Ok(0) | Err(_)) => return Poll::Ready(ReadOutcome::Closed),
            Poll::Ready(Ok(_)) => return Poll::Ready(ReadOutcome::Data),
            Poll::Pending => {}
        }
        if this.watch_shutdown && runtime::shutdown_requested() {
            return Poll::Ready(ReadOutcome::Shutdown);
        }
        this.deadline
            .poll_elapsed(cx)
            .map(|()| ReadOutcome::Elapsed)
    }
}

/// Polls a handler future, turning a panic into `Err(())` so one bad handler cannot take the
/// worker (and every other connection on it) down.
async fn catch_unwind<F: Future>(future: F) -> Result<F::Output, ()> {
    let mut future = std::pin::pin!(future);
    poll_fn(
        |cx| match std::panic::catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(cx))) {
            Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(_) => Poll::Ready(Err(())),
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_overload_response_is_well_framed() {
        let text = std::str::from_utf8(super::OVERLOAD_RESPONSE).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        let length: usize = head
            .lines()
            .find_map(|line| line.strip_prefix("content-length: "))
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(length, body.len());
    }
}
