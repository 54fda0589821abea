//! Clients that misbehave (dribbling heads, vanishing mid-request, while their handler waits,
//! or mid-response; read-ahead while a handler waits and its limit), graceful
//! shutdown with requests in flight, and the fd-leak check over 10,000 connections.

use crate::support::{Client, Hold, TestServer, eventually, exclusive, held, shared};
use kiln::limits::{HttpLimits, ServerLimits};
use std::io::Write;
use std::time::{Duration, Instant};

#[test]
fn a_slow_client_does_not_delay_others_and_is_cut_at_the_deadline() {
    let _guard = shared();
    let server = TestServer::with(
        Default::default(),
        ServerLimits {
            header_timeout_ms: 600,
            ..ServerLimits::default()
        },
        1,
    );
    let mut slow = server.client();
    let head = b"GET / HTTP/1.1\r\nHost: t\r\nX-Slow: ";
    slow.send(&head[..5]);
    let started = Instant::now();
    // While the slow client dribbles, another client is answered at once, many times.
    let mut other = server.client();
    for (index, byte) in head[5..].iter().enumerate() {
        slow.stream.write_all(&[*byte]).unwrap();
        if index % 4 == 0 {
            let asked = Instant::now();
            assert_eq!(other.get("/").status, 200);
            assert!(asked.elapsed() < Duration::from_millis(300));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    // It keeps dribbling but the deadline counts from its first byte.
    let response = loop {
        if slow.stream.write_all(b"a").is_err() {
            break slow.response();
        }
        if started.elapsed() > Duration::from_millis(700) {
            break slow.response();
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let response = response.expect("408 for the slow head");
    assert_eq!(response.status, 408);
    assert!(slow.is_closed());
}

#[test]
fn a_client_that_disconnects_mid_request_does_not_hurt_the_server() {
    let _guard = shared();
    let server = TestServer::start();
    for _ in 0..50 {
        let mut client = server.client();
        client.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nabc");
        drop(client);
    }
    assert_eq!(server.client().get("/").status, 200);
}

#[test]
fn a_client_that_closes_while_its_handler_waits_gets_the_handler_dropped() {
    let _guard = shared();
    for (id, server) in [(1, TestServer::start()), (2, TestServer::single_shot())] {
        let mut client = server.client();
        client.send(format!("GET /hold?id={id}&ms=600000 HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
        assert!(eventually(Duration::from_secs(10), || held(id) == Hold::Running));
        drop(client);
        // The handler (and whatever it awaits: a batched item, a query) goes at once, not
        // after its ten minutes.
        assert!(
            eventually(Duration::from_secs(10), || held(id) == Hold::Dropped),
            "handler {id}: {:?}",
            held(id)
        );
        assert_eq!(server.client().get("/").status, 200);
    }
}

#[test]
fn a_request_pipelined_while_a_handler_waits_is_answered_after_it_in_order() {
    let _guard = shared();
    let server = TestServer::start();
    let mut client = server.client();
    client.send(b"GET /hold?id=4&ms=200 HTTP/1.1\r\nHost: t\r\n\r\n");
    assert!(eventually(Duration::from_secs(10), || held(4) == Hold::Running));
    client.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    let first = client.response().expect("the held response");
    assert_eq!(first.body_str(), "held");
    let second = client.response().expect("the pipelined response");
    assert_eq!(second.body_str(), "hello");
    assert_eq!(held(4), Hold::Completed);
}

#[test]
fn past_one_head_of_read_ahead_the_connection_is_not_watched_and_the_handler_completes() {
    let _guard = shared();
    let http = HttpLimits {
        head_bytes_max: 256,
        ..HttpLimits::default()
    };
    let server = TestServer::with(http, ServerLimits::default(), 1);
    let mut client = server.client();
    client.send(b"GET /hold?id=5&ms=300 HTTP/1.1\r\nHost: t\r\n\r\n");
    assert!(eventually(Duration::from_secs(10), || held(5) == Hold::Running));
    // More than `head_bytes_max` of a next head, then the client's write side closes: the
    // server stops reading at the limit, so it does not see the close and the handler runs
    // to its end.
    let mut padding = b"GET / HTTP/1.1\r\nX-Pad: ".to_vec();
    padding.resize(300, b'a');
    client.send(&padding);
    client.stream.shutdown(std::net::Shutdown::Write).unwrap();
    assert!(
        eventually(Duration::from_secs(10), || held(5) == Hold::Completed),
        "{:?}",
        held(5)
    );
}

#[test]
fn a_client_that_disconnects_mid_response_does_not_hurt_the_server() {
    let _guard = shared();
    let server = TestServer::start();
    for _ in 0..20 {
        let mut client = server.client();
        client.send(b"GET /big HTTP/1.1\r\nHost: t\r\n\r\n");
        let mut some = [0u8; 1024];
        let _ = std::io::Read::read(&mut client.stream, &mut some);
        drop(client);
    }
    assert_eq!(server.client().get("/").status, 200);
}

#[test]
fn graceful_shutdown_finishes_in_flight_requests_with_connection_close() {
    let _guard = shared();
    let server = TestServer::start();
    let addr = server.addr;
    let mut busy = server.client();
    busy.send(b"GET /slow?ms=300 HTTP/1.1\r\nHost: t\r\n\r\n");
    let mut idle = server.client();
    assert_eq!(idle.get("/").status, 200);
    std::thread::sleep(Duration::from_millis(50));
    let stopper = std::thread::spawn(move || server.stop());
    let response = busy.response().expect("in-flight request finishes");
    assert_eq!(response.status, 200);
    assert_eq!(response.body_str(), "slow done");
    assert_eq!(response.header("connection"), Some("close"));
    assert!(busy.is_closed());
    assert!(idle.is_closed(), "idle connections are closed");
    stopper.join().unwrap();
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "no longer accepting after shutdown"
    );
}

#[test]
fn ten_thousand_connections_leave_no_fd_behind() {
    let _guard = exclusive();
    let server = TestServer::start();
    let baseline = kiln::runtime::open_fd_count().unwrap();
    let mut opened = 0;
    while opened < 10_000 {
        let batch: Vec<Client> = (0..200).map(|_| server.client()).collect();
        opened += batch.len();
        for (index, mut client) in batch.into_iter().enumerate() {
            // Mix the ways a connection ends: after a request, mid-head, or silently.
            match index % 3 {
                0 => assert_eq!(client.get("/").status, 200),
                1 => client.send(b"GET / HTT"),
                _ => {}
            }
        }
    }
    let returned = eventually(Duration::from_secs(10), || {
        kiln::runtime::open_fd_count().unwrap() <= baseline
    });
    assert!(
        returned,
        "fds: baseline {baseline}, now {}",
        kiln::runtime::open_fd_count().unwrap()
    );
}
