//! One connection's HTTP/1.1 loop: decode what is buffered (pipelining), call the service for
//! each request in order, queue the responses in one output buffer and flush them together,
//! stream bodies, and wait for more bytes under the timeout of the decoder's phase. While a
//! handler is pending, the connection is watched: a client that closes it (EOF or an error)
//! gets its handler dropped at once, so whatever the handler awaits is cancelled (a batched
//! item is skipped before its batch runs; `kiln::batch`). A client that half-closes after
//! its request (`shutdown(SHUT_WR)`) counts as gone, as in Go's `net/http`. Bytes that
//! arrive meanwhile (a pipelined request) are kept, up to one request head
//! (`HttpLimits::head_bytes_max`); beyond that the connection is not watched until the
//! handler is done.
//!
//! What it does not do: parse (that is `http/`) or make syscalls (the runtime's `TcpStream`
//! does). A panicking service is answered with 500 and the connection closed.

use super::buffers::{current_date, return_output_buffer, take_output_buffer};
use super::{ConnConfig, Service};
use crate::http::{
    Body, BodyFraming, Decoded, DecoderPhase, EncodeOptions, Method, Request, RequestDecoder,
    Response, StatusCode, Version, encode_chunk_header, encode_continue, encode_head,
    encode_last_chunk,
};
use crate::runtime::{self, TcpStream};
use bytes::{Bytes, BytesMut};
use std::future::{Future, poll_fn};
use std::io;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::Poll;
use std::time::Instant;

/// Bodies up to this size are copied into the output buffer next to their head (one iovec);
/// larger ones are sent from their own `Bytes` without copying.
const INLINE_BODY_BYTES_MAX: usize = 2048;

/// Why a connection loop ends.
enum Close {
    /// Close quietly (peer gone, idle, shutdown, error while writing).
    Quiet,
    /// Answer with this error, then close.
    With(StatusCode, &'static str),
}

pub(super) struct Connection<'c> {
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
    /// The client's address, looked up (one `getpeername`) when the first request needs it.
    peer: Option<Option<std::net::SocketAddr>>,
}

impl<'c> Connection<'c> {
    pub(super) fn new(stream: TcpStream, config: &'c ConnConfig) -> Connection<'c> {
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
            peer: None,
        }
    }

    pub(super) async fn run<H: Service>(&mut self, handler: &H) {
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
    async fn serve_buffered<H: Service>(&mut self, handler: &H) -> Result<(), Close> {
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
    async fn answer<H: Service>(&mut self, handler: &H, mut request: Request) -> Option<Close> {
        self.served += 1;
        let stream = &self.stream;
        let peer = *self.peer.get_or_insert_with(|| stream.peer_addr().ok());
        request.set_peer_addr(peer);
        let limit = self.config.limits.requests_per_connection_max;
        let wants_keep_alive = request.keep_alive() && (limit == 0 || self.served < limit);
        let head_request = *request.method() == Method::Head;
        let version = request.version();
        let read_ahead_max = self.config.http_limits.head_bytes_max;
        let handled = run_handler(
            handler.call(request),
            &mut self.stream,
            &mut self.read_buf,
            read_ahead_max,
        );
        let response = match handled.await {
            Handled::Response(response) => response,
            Handled::ClientGone => {
                tracing::debug!("the client closed the connection; its handler was dropped");
                return Some(Close::Quiet);
            }
            Handled::Panicked => {
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

/// What became of a request's handler.
enum Handled {
    Response(Response),
    /// It panicked (answered 500 by the caller).
    Panicked,
    /// The client closed the connection while it was pending; it has been dropped.
    ClientGone,
}

/// Polls a handler future (a panic becomes `Panicked`, so one bad handler cannot take the
/// worker down) and, while it is pending, the connection: EOF or a receive error ends it as
/// `ClientGone` and drops the handler. Received bytes are appended to `buf` (cancel-safe:
/// the receive stays armed for the connection's next read) until it holds `read_ahead_max`.
async fn run_handler<F: Future<Output = Response>>(
    future: F,
    stream: &mut TcpStream,
    buf: &mut BytesMut,
    read_ahead_max: usize,
) -> Handled {
    let mut future = std::pin::pin!(future);
    poll_fn(|cx| {
        match std::panic::catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(cx))) {
            Ok(Poll::Ready(response)) => return Poll::Ready(Handled::Response(response)),
            Ok(Poll::Pending) => {}
            Err(_) => return Poll::Ready(Handled::Panicked),
        }
        while buf.len() < read_ahead_max {
            match stream.poll_read(cx, buf) {
                Poll::Ready(Ok(0) | Err(_)) => return Poll::Ready(Handled::ClientGone),
                Poll::Ready(Ok(_)) => {}
                Poll::Pending => break,
            }
        }
        Poll::Pending
    })
    .await
}
