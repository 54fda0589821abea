//! Tests of `htmx::sse`: event framing, end of stream, heartbeats, `Closed` when the client
//! goes, `Last-Event-ID`, and the bounded channel's mechanics polled by hand (backpressure,
//! the bound, closing from either end). Split from `htmx/tests.rs` (extractor, page versus
//! fragment, response headers), which it shares nothing with.

use super::sse::{self, Event, SseConfig, TrySendError};
use crate::app::{App, get};
use crate::http::{Body, BodyStream, Response};
use crate::test::TestClient;
use bytes::Bytes;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------------
// Server-sent events: framing

#[test]
fn events_are_framed_one_data_line_per_html_line() {
    let event = Event::new("row")
        .data("<tr>\n  <td>1</td>\r\n</tr>\r<!-- end -->")
        .id("7")
        .retry(Duration::from_secs(3));
    assert_eq!(
        event.into_bytes(),
        "event: row\ndata: <tr>\ndata:   <td>1</td>\ndata: </tr>\ndata: <!-- end -->\nid: 7\nretry: 3000\n\n"
    );
    assert_eq!(
        Event::message().data("<p>hi</p>").into_bytes(),
        "data: <p>hi</p>\n\n"
    );
    assert_eq!(Event::message().data("").into_bytes(), "data: \n\n");
    assert_eq!(
        Event::message().data("a\n").into_bytes(),
        "data: a\ndata: \n\n"
    );
    assert_eq!(
        Event::message().comment("x\ny").into_bytes(),
        ": x\n: y\n\n"
    );
    // A line break in a name or id cannot start a new field.
    assert_eq!(
        Event::new("a\ndata: injected").id("1\r\n2").into_bytes(),
        "event: a data: injected\nid: 1  2\n\n"
    );
}

/// Sends `count` events from a local task, then drops the sender.
async fn three_rows() -> Response {
    let (sender, response) = sse::channel(4);
    crate::runtime::spawn_local(async move {
        for n in 1..=3 {
            let event = Event::new("row").data(&format!("<tr>\n<td>{n}</td>\n</tr>"));
            if sender.send(event).await.is_err() {
                return;
            }
        }
        let _ = sender
            .send(Event::message().data("<p>done</p>").id("3"))
            .await;
    });
    response
}

#[test]
fn an_sse_response_streams_events_and_ends_when_the_sender_drops() {
    let client = TestClient::new(App::new().route("/events", get(three_rows)));
    let started = Instant::now();
    let response = client.get("/events").htmx().send();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "ended by the sender, not the timeout"
    );
    response
        .assert_status(200)
        .assert_header("content-type", "text/event-stream")
        .assert_header("cache-control", "no-cache")
        .assert_header("x-accel-buffering", "no");
    let mut expected = String::new();
    for n in 1..=3 {
        expected.push_str(&format!(
            "event: row\ndata: <tr>\ndata: <td>{n}</td>\ndata: </tr>\n\n"
        ));
    }
    expected.push_str("data: <p>done</p>\nid: 3\n\n");
    assert_eq!(response.text(), expected);
}

#[test]
fn an_idle_stream_sends_heartbeats() {
    async fn slow() -> Response {
        let config = SseConfig {
            events_queued_max: 4,
            keep_alive_interval_ms: 20,
        };
        let (sender, response) = sse::channel_with(config);
        crate::runtime::spawn_local(async move {
            crate::runtime::sleep(Duration::from_millis(150)).await;
            let _ = sender.send(Event::new("late").data("<p>late</p>")).await;
        });
        response
    }
    let client = TestClient::new(App::new().route("/slow", get(slow)));
    let response = client.get("/slow").send();
    let text = response.text();
    assert!(text.starts_with(": keep-alive\n\n"), "{text:?}");
    assert!(
        text.ends_with("event: late\ndata: <p>late</p>\n\n"),
        "{text:?}"
    );
    assert_eq!(
        text.replace(": keep-alive\n\n", ""),
        "event: late\ndata: <p>late</p>\n\n"
    );
}

#[test]
fn a_sender_sees_closed_when_the_client_goes_away() {
    let closed = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicUsize::new(0));
    let (task_closed, task_sent) = (closed.clone(), sent.clone());
    let endless = move || {
        let (closed, sent) = (task_closed.clone(), task_sent.clone());
        async move {
            let (sender, response) = sse::channel(2);
            crate::runtime::spawn_local(async move {
                loop {
                    if sender
                        .send(Event::new("tick").data("<p>tick</p>"))
                        .await
                        .is_err()
                    {
                        closed.store(true, Ordering::SeqCst);
                        return;
                    }
                    sent.fetch_add(1, Ordering::SeqCst);
                    crate::runtime::sleep(Duration::from_millis(5)).await;
                }
            });
            response
        }
    };
    let client = TestClient::new(App::new().route("/ticks", get(endless)))
        .stream_timeout(Duration::from_millis(100));
    let response = client.get("/ticks").send();
    assert!(
        response
            .text()
            .starts_with("event: tick\ndata: <p>tick</p>\n\n")
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while !closed.load(Ordering::SeqCst) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(closed.load(Ordering::SeqCst), "the sender saw Closed");
    assert!(sent.load(Ordering::SeqCst) >= 1);
}

#[test]
fn last_event_id_is_extracted() {
    async fn resume(sse::LastEventId(id): sse::LastEventId) -> String {
        id.unwrap_or_else(|| "none".into())
    }
    let client = TestClient::new(App::new().route("/", get(resume)));
    client.get("/").send().assert_contains("none");
    client
        .get("/")
        .header("Last-Event-ID", "42")
        .send()
        .assert_contains("42");
}

// ---------------------------------------------------------------------------------------------
// Server-sent events: the channel, polled by hand (no runtime needed without heartbeats)

#[derive(Default)]
struct CountingWaker(AtomicUsize);

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn quiet_channel(events_queued_max: usize) -> (sse::Sender, Pin<Box<dyn BodyStream>>) {
    let config = SseConfig {
        events_queued_max,
        keep_alive_interval_ms: 0,
    };
    let (sender, response) = sse::channel_with(config);
    match response.body {
        Body::Stream(stream) => (sender, stream),
        other => panic!("not a stream: {other:?}"),
    }
}

fn poll_once<F: Future + Unpin>(future: &mut F, waker: &Waker) -> Poll<F::Output> {
    Pin::new(future).poll(&mut Context::from_waker(waker))
}

fn next_chunk(stream: &mut Pin<Box<dyn BodyStream>>, waker: &Waker) -> Poll<Option<Bytes>> {
    stream
        .as_mut()
        .poll_next_chunk(&mut Context::from_waker(waker))
}

#[test]
fn send_waits_when_the_queue_is_full_and_resumes_when_it_drains() {
    let (sender, mut stream) = quiet_channel(2);
    let counter = Arc::new(CountingWaker::default());
    let waker = Waker::from(counter.clone());
    for n in 0..2 {
        let mut send = sender.send(Event::message().data(&n.to_string()));
        assert_eq!(poll_once(&mut send, &waker), Poll::Ready(Ok(())));
    }
    let mut third = sender.send(Event::message().data("2"));
    assert_eq!(poll_once(&mut third, &waker), Poll::Pending);
    assert_eq!(poll_once(&mut third, &waker), Poll::Pending, "still full");
    assert!(matches!(
        sender.try_send(Event::message().data("x")),
        Err(TrySendError::Full(_))
    ));
    assert_eq!(counter.0.load(Ordering::SeqCst), 0);

    // Draining wakes the waiting sender; the queued events leave as one chunk.
    let chunk = next_chunk(&mut stream, &waker);
    assert_eq!(
        chunk,
        Poll::Ready(Some(Bytes::from("data: 0\n\ndata: 1\n\n")))
    );
    assert_eq!(counter.0.load(Ordering::SeqCst), 1);
    assert_eq!(poll_once(&mut third, &waker), Poll::Ready(Ok(())));
    drop(third);
    assert_eq!(
        next_chunk(&mut stream, &waker),
        Poll::Ready(Some(Bytes::from("data: 2\n\n")))
    );
    assert_eq!(next_chunk(&mut stream, &waker), Poll::Pending);
}

#[test]
fn the_queue_never_holds_more_than_its_bound() {
    let (sender, mut stream) = quiet_channel(3);
    let waker = Waker::noop();
    let mut queued = 0;
    while sender.try_send(Event::message().data("x")).is_ok() {
        queued += 1;
        assert!(queued <= 3);
    }
    assert_eq!(queued, 3);
    let Poll::Ready(Some(chunk)) = next_chunk(&mut stream, waker) else {
        panic!("queued events are ready");
    };
    assert_eq!(chunk.len(), 3 * "data: x\n\n".len());
    // A capacity of 0 is taken as 1.
    let (sender, _stream) = quiet_channel(0);
    assert!(sender.try_send(Event::message().data("a")).is_ok());
    assert!(matches!(
        sender.try_send(Event::message().data("b")),
        Err(TrySendError::Full(_))
    ));
}

#[test]
fn dropping_the_stream_closes_every_sender() {
    let (sender, stream) = quiet_channel(1);
    let clone = sender.clone();
    let counter = Arc::new(CountingWaker::default());
    let waker = Waker::from(counter.clone());
    assert!(
        sender
            .try_send(Event::message().data("fills the queue"))
            .is_ok()
    );
    let mut waiting = clone.send(Event::message().data("waits"));
    assert_eq!(poll_once(&mut waiting, &waker), Poll::Pending);
    let mut closed = sender.closed();
    assert_eq!(poll_once(&mut closed, &waker), Poll::Pending);
    assert!(!sender.is_closed());

    drop(stream);
    assert_eq!(
        counter.0.load(Ordering::SeqCst),
        2,
        "both waiting futures are woken"
    );
    assert_eq!(
        poll_once(&mut waiting, &waker),
        Poll::Ready(Err(sse::Closed))
    );
    assert_eq!(poll_once(&mut closed, &waker), Poll::Ready(()));
    assert!(sender.is_closed() && clone.is_closed());
    let mut send = sender.send(Event::new("late"));
    assert_eq!(poll_once(&mut send, &waker), Poll::Ready(Err(sse::Closed)));
    assert!(matches!(
        sender.try_send(Event::new("late")),
        Err(TrySendError::Closed(_))
    ));
}

#[test]
fn the_stream_ends_after_the_last_sender_and_the_queue_drain() {
    let (sender, mut stream) = quiet_channel(4);
    let counter = Arc::new(CountingWaker::default());
    let waker = Waker::from(counter.clone());
    let clone = sender.clone();
    assert!(sender.try_send(Event::new("a").data("1")).is_ok());
    drop(sender);
    assert_eq!(
        next_chunk(&mut stream, &waker),
        Poll::Ready(Some(Bytes::from("event: a\ndata: 1\n\n")))
    );
    assert_eq!(
        next_chunk(&mut stream, &waker),
        Poll::Pending,
        "one sender is left"
    );
    assert!(clone.try_send(Event::new("b").data("2")).is_ok());
    assert_eq!(
        counter.0.load(Ordering::SeqCst),
        1,
        "a send wakes the stream"
    );
    drop(clone);
    assert_eq!(
        next_chunk(&mut stream, &waker),
        Poll::Ready(Some(Bytes::from("event: b\ndata: 2\n\n")))
    );
    assert_eq!(next_chunk(&mut stream, &waker), Poll::Ready(None));
}

#[test]
fn a_dropped_waiting_send_frees_its_waker_slot() {
    let (sender, mut stream) = quiet_channel(1);
    let counter = Arc::new(CountingWaker::default());
    let waker = Waker::from(counter.clone());
    assert!(sender.try_send(Event::message().data("full")).is_ok());
    for _ in 0..100 {
        let mut send = sender.send(Event::message().data("abandoned"));
        assert_eq!(poll_once(&mut send, &waker), Poll::Pending);
    }
    // None of the abandoned futures is woken: their slots went with them.
    assert!(matches!(
        next_chunk(&mut stream, &waker),
        Poll::Ready(Some(_))
    ));
    assert_eq!(counter.0.load(Ordering::SeqCst), 0);
}

#[test]
fn over_a_real_socket_a_client_hang_up_closes_the_sender() {
    use std::io::{Read, Write};
    let closed = Arc::new(AtomicBool::new(false));
    let task_closed = closed.clone();
    let events = move || {
        let closed = task_closed.clone();
        async move {
            let config = SseConfig {
                events_queued_max: 4,
                keep_alive_interval_ms: 10,
            };
            let (sender, response) = sse::channel_with(config);
            crate::runtime::spawn_local(async move {
                let _ = sender.send(Event::new("hello").data("<p>hi</p>")).await;
                // Heartbeats are what notice the hang-up; the producer only waits.
                sender.closed().await;
                closed.store(true, Ordering::SeqCst);
            });
            response
        }
    };
    let server = crate::Server::bind("127.0.0.1:0")
        .workers(1)
        .start(App::new().route("/events", get(events)))
        .unwrap();
    let mut socket = std::net::TcpStream::connect(server.local_addr()).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    socket
        .write_all(b"GET /events HTTP/1.1\r\nHost: t\r\nHX-Request: true\r\n\r\n")
        .unwrap();
    let mut received = Vec::new();
    let mut buf = [0u8; 1024];
    while !String::from_utf8_lossy(&received).contains(": keep-alive") {
        let n = socket.read(&mut buf).unwrap();
        assert!(n > 0, "the stream stays open");
        received.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&received).to_lowercase();
    assert!(text.contains("content-type: text/event-stream"), "{text}");
    assert!(text.contains("transfer-encoding: chunked"), "{text}");
    assert!(text.contains("event: hello\ndata: <p>hi</p>\n\n"), "{text}");
    drop(socket);
    let deadline = Instant::now() + Duration::from_secs(5);
    while !closed.load(Ordering::SeqCst) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(
        closed.load(Ordering::SeqCst),
        "the producer learned that the client left"
    );
    server.stop();
}
