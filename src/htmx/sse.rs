//! Server-sent events for htmx: a bounded channel whose receiving end is a streaming
//! `text/event-stream` response body.
//!
//! ```
//! use kiln::htmx::sse::{self, Event};
//! use kiln::http::Response;
//! use std::time::Duration;
//!
//! async fn clock() -> Response {
//!     let (sender, response) = sse::channel(16);
//!     kiln::runtime::spawn_local(async move {
//!         for n in 0.. {
//!             kiln::runtime::sleep(Duration::from_secs(1)).await;
//!             let event = Event::new("tick").data(&format!("<p>{n}</p>"));
//!             if sender.send(event).await.is_err() {
//!                 break; // the client is gone
//!             }
//!         }
//!     });
//!     response
//! }
//! ```
//!
//! The wire format is standard SSE, which both htmx majors consume: htmx 2's `htmx-ext-sse`
//! (a browser `EventSource`; `sse-swap="tick"` swaps the data of `event: tick`, unnamed events
//! are called `message`) and htmx 4's `hx-sse` extension (it reads any `text/event-stream`
//! response with `fetch`: unnamed events are swapped into the target, named ones are fired as
//! DOM events with `{data, id}`; `Last-Event-ID` comes back on reconnect, see `LastEventId`).
//! Multi-line HTML becomes one `data:` line per line; `id:` and `retry:` are optional.
//!
//! The queue holds at most `events_queued_max` events: `send` waits while it is full
//! (backpressure) and fails with `Closed` once the body stream is dropped, which the server
//! does when a write to the client fails. An idle stream sends a `: keep-alive` comment every
//! `keep_alive_interval_ms`, which is also how a vanished client is noticed. The stream ends
//! when every `Sender` is dropped. Everything lives on one worker (`Rc`, not `Send`); senders
//! on other threads are not supported. Tests: `htmx/tests.rs`.

use crate::app::{FromRequest, RequestContext};
use crate::http::{Response, StatusCode};
use crate::runtime::Sleep;
use bytes::{BufMut, Bytes, BytesMut};
use slab::Slab;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

/// Default idle time before a `: keep-alive` comment (well under common proxy timeouts).
pub const KEEP_ALIVE_INTERVAL_MS_DEFAULT: u64 = 15_000;

const KEEP_ALIVE_COMMENT: &[u8] = b": keep-alive\n\n";

/// Settings of one event stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SseConfig {
    /// Events that may wait for the client before `send` waits; at least 1.
    pub events_queued_max: usize,
    /// Idle time after which a `: keep-alive` comment is sent; 0 sends none.
    pub keep_alive_interval_ms: u64,
}

impl Default for SseConfig {
    fn default() -> SseConfig {
        SseConfig {
            events_queued_max: 16,
            keep_alive_interval_ms: KEEP_ALIVE_INTERVAL_MS_DEFAULT,
        }
    }
}

/// A channel with room for `capacity` queued events (at least 1) and the default keep-alive.
/// Return the `Response` from the handler; send from a task (`runtime::spawn_local`).
pub fn channel(capacity: usize) -> (Sender, Response) {
    channel_with(SseConfig {
        events_queued_max: capacity,
        ..SseConfig::default()
    })
}

/// A channel with explicit settings.
pub fn channel_with(config: SseConfig) -> (Sender, Response) {
    let shared = Rc::new(RefCell::new(Shared {
        queue: VecDeque::with_capacity(config.events_queued_max.clamp(1, 64)),
        events_queued_max: config.events_queued_max.max(1),
        senders: 1,
        receiver_alive: true,
        receiver_waker: None,
        waiting_senders: Slab::new(),
    }));
    let keep_alive = (config.keep_alive_interval_ms > 0)
        .then(|| Duration::from_millis(config.keep_alive_interval_ms));
    let stream = SseStream {
        shared: shared.clone(),
        keep_alive,
        heartbeat: None,
    };
    let response = Response::new(StatusCode::OK)
        .with_static_header("content-type", "text/event-stream")
        .with_static_header("cache-control", "no-cache")
        .with_static_header("x-accel-buffering", "no")
        .with_stream(stream);
    (Sender { shared }, response)
}

/// One event, encoded as it is built.
///
/// Line breaks in the event name or id would end the field early, so they are replaced with
/// spaces; data keeps them (one `data:` line per line). Browsers' `EventSource` ignores an
/// event whose data is empty.
#[derive(Clone, Debug)]
pub struct Event {
    buf: BytesMut,
}

impl Default for Event {
    fn default() -> Event {
        Event::message()
    }
}

impl Event {
    /// A named event (`event: name`): htmx 2 swaps it where `sse-swap="name"`, htmx 4 fires it
    /// as a DOM event.
    pub fn new(name: &str) -> Event {
        Event::message().field("event", name)
    }

    /// An unnamed event: htmx 4 swaps it into the target; htmx 2 sees it as `message`.
    pub fn message() -> Event {
        Event {
            buf: BytesMut::with_capacity(128),
        }
    }

    /// Appends `text` (HTML, usually) as `data:` lines, one per line (`\n`, `\r\n` or `\r`).
    pub fn data(mut self, text: &str) -> Event {
        for line in lines(text) {
            self.buf.put_slice(b"data: ");
            self.buf.put_slice(line.as_bytes());
            self.buf.put_u8(b'\n');
        }
        self
    }

    /// `id: <id>`: the client sends it back as `Last-Event-ID` when it reconnects.
    pub fn id(self, id: &str) -> Event {
        self.field("id", id)
    }

    /// `retry: <ms>`: how long the client waits before reconnecting.
    pub fn retry(mut self, delay: Duration) -> Event {
        self.buf.put_slice(b"retry: ");
        self.buf.put_slice(delay.as_millis().to_string().as_bytes());
        self.buf.put_u8(b'\n');
        self
    }

    /// A comment line (`: text`), ignored by clients.
    pub fn comment(mut self, text: &str) -> Event {
        for line in lines(text) {
            self.buf.put_slice(b": ");
            self.buf.put_slice(line.as_bytes());
            self.buf.put_u8(b'\n');
        }
        self
    }

    /// The event on the wire, with its terminating blank line.
    pub fn into_bytes(mut self) -> Bytes {
        self.buf.put_u8(b'\n');
        self.buf.freeze()
    }

    fn field(mut self, name: &str, value: &str) -> Event {
        self.buf.put_slice(name.as_bytes());
        self.buf.put_slice(b": ");
        for &byte in value.as_bytes() {
            let byte = if matches!(byte, b'\r' | b'\n') {
                b' '
            } else {
                byte
            };
            self.buf.put_u8(byte);
        }
        self.buf.put_u8(b'\n');
        self
    }
}

/// Splits on `\r\n`, `\n` and `\r`, as SSE clients do; `""` is one empty line.
fn lines(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let current = rest?;
        match current.find(['\r', '\n']) {
            Some(end) => {
                let skip = if current[end..].starts_with("\r\n") {
                    2
                } else {
                    1
                };
                rest = Some(&current[end + skip..]);
                Some(&current[..end])
            }
            None => {
                rest = None;
                Some(current)
            }
        }
    })
}

/// The client is gone: the body stream was dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Closed;

impl std::fmt::Display for Closed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the event stream is closed")
    }
}

impl std::error::Error for Closed {}

/// Why `try_send` did not queue an event; the event comes back.
#[derive(Debug)]
#[non_exhaustive]
pub enum TrySendError {
    /// The queue is at `events_queued_max`.
    Full(Event),
    /// The client is gone.
    Closed(Event),
}

impl std::fmt::Display for TrySendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TrySendError::Full(_) => f.write_str("SSE queue is full"),
            TrySendError::Closed(_) => f.write_str("SSE client is gone"),
        }
    }
}

impl std::error::Error for TrySendError {}

/// State shared by the senders and the body stream of one channel.
struct Shared {
    /// Encoded events; at most `events_queued_max`.
    queue: VecDeque<Bytes>,
    events_queued_max: usize,
    /// Live `Sender`s; the stream ends when it reaches 0 and the queue is empty.
    senders: usize,
    receiver_alive: bool,
    receiver_waker: Option<Waker>,
    /// Wakers of pending `send`/`closed` futures, one slot per future.
    waiting_senders: Slab<Option<Waker>>,
}

impl Shared {
    fn take_sender_wakers(&mut self) -> Vec<Waker> {
        self.waiting_senders
            .iter_mut()
            .filter_map(|(_, waker)| waker.take())
            .collect()
    }

    /// Stores `waker` in the future's slot, creating the slot on first use.
    fn register_sender(&mut self, slot: &mut Option<usize>, waker: &Waker) {
        match slot.and_then(|key| self.waiting_senders.get_mut(key)) {
            Some(entry) => match entry {
                Some(existing) if existing.will_wake(waker) => {}
                _ => *entry = Some(waker.clone()),
            },
            None => *slot = Some(self.waiting_senders.insert(Some(waker.clone()))),
        }
    }

    fn unregister_sender(&mut self, slot: &mut Option<usize>) {
        if let Some(key) = slot.take() {
            self.waiting_senders.try_remove(key);
        }
    }
}

/// The sending half: cheap to clone; the stream ends when the last clone is dropped.
pub struct Sender {
    shared: Rc<RefCell<Shared>>,
}

impl std::fmt::Debug for Sender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sender")
            .field("closed", &self.is_closed())
            .finish()
    }
}

impl Sender {
    /// Queues `event`, waiting while the queue is full. `Err(Closed)` once the client is gone.
    pub fn send(&self, event: Event) -> SendFuture<'_> {
        SendFuture {
            sender: self,
            event: Some(event),
            slot: None,
        }
    }

    /// Queues `event` if there is room, without waiting.
    pub fn try_send(&self, event: Event) -> Result<(), TrySendError> {
        let mut shared = self.shared.borrow_mut();
        if !shared.receiver_alive {
            return Err(TrySendError::Closed(event));
        }
        if shared.queue.len() >= shared.events_queued_max {
            return Err(TrySendError::Full(event));
        }
        shared.queue.push_back(event.into_bytes());
        let waker = shared.receiver_waker.take();
        drop(shared);
        if let Some(waker) = waker {
            waker.wake();
        }
        Ok(())
    }

    /// True once the body stream was dropped (the client is gone or the response was never
    /// sent).
    pub fn is_closed(&self) -> bool {
        !self.shared.borrow().receiver_alive
    }

    /// Completes when the client is gone: for producers that otherwise wait on something
    /// else and want to stop early.
    pub fn closed(&self) -> WaitClosed<'_> {
        WaitClosed {
            sender: self,
            slot: None,
        }
    }
}

impl Clone for Sender {
    fn clone(&self) -> Sender {
        self.shared.borrow_mut().senders += 1;
        Sender {
            shared: self.shared.clone(),
        }
    }
}

impl Drop for Sender {
    fn drop(&mut self) {
        let waker = {
            let mut shared = self.shared.borrow_mut();
            shared.senders -= 1;
            if shared.senders == 0 {
                shared.receiver_waker.take()
            } else {
                None
            }
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

/// The future of `Sender::send`.
#[must_use = "futures do nothing unless awaited"]
pub struct SendFuture<'a> {
    sender: &'a Sender,
    event: Option<Event>,
    /// This future's slot in `Shared::waiting_senders`, while it waits.
    slot: Option<usize>,
}

impl Future for SendFuture<'_> {
    type Output = Result<(), Closed>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let mut shared = this.sender.shared.borrow_mut();
        if !shared.receiver_alive {
            shared.unregister_sender(&mut this.slot);
            return Poll::Ready(Err(Closed));
        }
        let Some(event) = this.event.take() else {
            // Polled again after completing.
            return Poll::Ready(Ok(()));
        };
        if shared.queue.len() >= shared.events_queued_max {
            this.event = Some(event);
            shared.register_sender(&mut this.slot, cx.waker());
            return Poll::Pending;
        }
        shared.unregister_sender(&mut this.slot);
        shared.queue.push_back(event.into_bytes());
        let waker = shared.receiver_waker.take();
        drop(shared);
        if let Some(waker) = waker {
            waker.wake();
        }
        Poll::Ready(Ok(()))
    }
}

impl Drop for SendFuture<'_> {
    fn drop(&mut self) {
        if self.slot.is_some()
            && let Ok(mut shared) = self.sender.shared.try_borrow_mut()
        {
            shared.unregister_sender(&mut self.slot);
        }
    }
}

/// The future of `Sender::closed`.
#[must_use = "futures do nothing unless awaited"]
pub struct WaitClosed<'a> {
    sender: &'a Sender,
    slot: Option<usize>,
}

impl Future for WaitClosed<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        let mut shared = this.sender.shared.borrow_mut();
        if !shared.receiver_alive {
            shared.unregister_sender(&mut this.slot);
            return Poll::Ready(());
        }
        shared.register_sender(&mut this.slot, cx.waker());
        Poll::Pending
    }
}

impl Drop for WaitClosed<'_> {
    fn drop(&mut self) {
        if self.slot.is_some()
            && let Ok(mut shared) = self.sender.shared.try_borrow_mut()
        {
            shared.unregister_sender(&mut self.slot);
        }
    }
}

/// The receiving half: the response body. Dropping it closes the channel.
struct SseStream {
    shared: Rc<RefCell<Shared>>,
    keep_alive: Option<Duration>,
    /// Runs while the stream is idle; reset by every chunk written.
    heartbeat: Option<Sleep>,
}

impl crate::http::BodyStream for SseStream {
    fn poll_next_chunk(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        let this = self.get_mut();
        let mut shared = this.shared.borrow_mut();
        if let Some(chunk) = take_queued(&mut shared.queue) {
            let wakers = shared.take_sender_wakers();
            drop(shared);
            wakers.into_iter().for_each(Waker::wake);
            this.heartbeat = None;
            return Poll::Ready(Some(chunk));
        }
        if shared.senders == 0 {
            return Poll::Ready(None);
        }
        match &shared.receiver_waker {
            Some(waker) if waker.will_wake(cx.waker()) => {}
            _ => shared.receiver_waker = Some(cx.waker().clone()),
        }
        drop(shared);
        let Some(interval) = this.keep_alive else {
            return Poll::Pending;
        };
        let heartbeat = this
            .heartbeat
            .get_or_insert_with(|| crate::runtime::sleep(interval));
        match Pin::new(heartbeat).poll(cx) {
            Poll::Ready(()) => {
                this.heartbeat = None;
                Poll::Ready(Some(Bytes::from_static(KEEP_ALIVE_COMMENT)))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

/// Everything queued, as one chunk (one write for a burst of events).
fn take_queued(queue: &mut VecDeque<Bytes>) -> Option<Bytes> {
    if queue.len() <= 1 {
        return queue.pop_front();
    }
    let total = queue.iter().map(Bytes::len).sum();
    let mut chunk = BytesMut::with_capacity(total);
    for event in queue.drain(..) {
        chunk.put_slice(&event);
    }
    Some(chunk.freeze())
}

impl Drop for SseStream {
    fn drop(&mut self) {
        let wakers = match self.shared.try_borrow_mut() {
            Ok(mut shared) => {
                shared.receiver_alive = false;
                shared.queue.clear();
                shared.receiver_waker = None;
                shared.take_sender_wakers()
            }
            Err(_) => Vec::new(),
        };
        wakers.into_iter().for_each(Waker::wake);
    }
}

/// The `Last-Event-ID` request header: the `id` of the last event a reconnecting client saw
/// (`EventSource` in htmx 2, `hx-sse` in htmx 4). Never rejects.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LastEventId(pub Option<String>);

impl<S> FromRequest<S> for LastEventId {
    type Rejection = std::convert::Infallible;

    async fn from_request(cx: &mut RequestContext<S>) -> Result<Self, Self::Rejection> {
        let id = cx
            .request
            .header("last-event-id")
            .map(|value| String::from_utf8_lossy(value).into_owned());
        Ok(LastEventId(id))
    }
}
