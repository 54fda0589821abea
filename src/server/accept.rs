//! The accept loop of one worker: takes connections from its listener (multishot accept), spawns
//! a connection task for each, and refuses connections beyond `connections_per_worker_max`
//! with a canned 503 (one non-blocking write, then close).
//!
//! What it does not do: speak HTTP (that is `conn.rs`).

use super::conn::Connection;
use super::{ConnConfig, Service};
use crate::runtime::{self, TcpListener};
use std::cell::Cell;
use std::future::{Future, poll_fn};
use std::rc::Rc;
use std::sync::Arc;
use std::task::Poll;

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

pub(super) async fn accept_loop<H: Service>(
    listener: TcpListener,
    handler: Arc<H>,
    config: Arc<ConnConfig>,
) {
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
