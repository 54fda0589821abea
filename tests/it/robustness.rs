//! Clients that misbehave (dribbling heads, vanishing mid-request or mid-response), graceful
//! shutdown with requests in flight, and the fd-leak check over 10,000 connections.

use crate::support::{Client, TestServer, eventually, exclusive, shared};
use kiln::limits::ServerLimits;
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
