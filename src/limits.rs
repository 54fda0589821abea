//! Every limit the server enforces, in one place, with its default.
//!
//! Units are last in names (`_bytes`, `_ms`, `_count`). Each limit maps to one observable
//! behaviour (a status code or a closed connection) and has a test that hits it: the sans-IO
//! ones in `src/http/` unit tests, the socket ones in `tests/it/limits.rs`.
//! This module holds data only; it enforces nothing itself.

use std::time::Duration;

/// Limits on a single HTTP/1.1 request, enforced by the sans-IO decoder (`http::RequestDecoder`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HttpLimits {
    /// Largest request head (request line + headers + blank line). Beyond it: 431.
    pub head_bytes_max: usize,
    /// Most header fields in one head. Beyond it: 431.
    pub header_count_max: usize,
    /// Longest request target (path + query). Beyond it: 414.
    pub uri_bytes_max: usize,
    /// Largest request body, whether framed by Content-Length or chunked. Beyond it: 413.
    pub body_bytes_max: usize,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            head_bytes_max: 16 * 1024,
            header_count_max: 64,
            uri_bytes_max: 8 * 1024,
            body_bytes_max: 2 * 1024 * 1024,
        }
    }
}

/// Limits on connections and time, enforced by the server loop (`server.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServerLimits {
    /// From the first byte of a request head (or from accept, for a new connection) until the
    /// head is complete. Beyond it: 408 and the connection is closed.
    pub header_timeout_ms: u64,
    /// A keep-alive connection with no request in progress is closed after this long.
    pub idle_timeout_ms: u64,
    /// A request body that stops arriving for this long: 408 and close.
    pub body_timeout_ms: u64,
    /// A response the client does not read for this long: the connection is dropped.
    pub write_timeout_ms: u64,
    /// Open connections per worker. Beyond it, new connections are refused at once: they get a
    /// `503` with `Retry-After: 1` and are closed.
    pub connections_per_worker_max: usize,
    /// The listen(2) backlog of each worker's listener.
    pub listen_backlog_count: u32,
    /// Requests answered per connection before it is closed (0 = no limit).
    pub requests_per_connection_max: u64,
    /// Responses queued but not yet written (pipelining) before the server stops reading.
    pub pipeline_pending_bytes_max: usize,
    /// How long graceful shutdown waits for in-flight requests before closing them anyway.
    pub shutdown_grace_ms: u64,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            header_timeout_ms: 10_000,
            idle_timeout_ms: 60_000,
            body_timeout_ms: 30_000,
            write_timeout_ms: 30_000,
            connections_per_worker_max: 25_000,
            listen_backlog_count: 4096,
            requests_per_connection_max: 0,
            pipeline_pending_bytes_max: 256 * 1024,
            shutdown_grace_ms: 10_000,
        }
    }
}

impl ServerLimits {
    pub(crate) fn header_timeout(&self) -> Duration {
        Duration::from_millis(self.header_timeout_ms)
    }
    pub(crate) fn idle_timeout(&self) -> Duration {
        Duration::from_millis(self.idle_timeout_ms)
    }
    pub(crate) fn body_timeout(&self) -> Duration {
        Duration::from_millis(self.body_timeout_ms)
    }
    pub(crate) fn write_timeout(&self) -> Duration {
        Duration::from_millis(self.write_timeout_ms)
    }
}

/// Limits of the runtime itself (rings, buffers, pools).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RuntimeLimits {
    /// Submission queue entries per worker ring.
    pub ring_entries_count: u32,
    /// Provided buffers per worker (a power of two, at most 32768).
    pub recv_buffer_count: u16,
    /// Size of each provided receive buffer.
    pub recv_buffer_bytes: u32,
    /// Received bytes a connection may hold unread before its receive is paused.
    pub recv_pending_bytes_max: usize,
    /// Threads in the blocking pool (shared by all workers).
    pub blocking_threads_count: usize,
    /// Jobs waiting for a blocking thread; beyond it `spawn_blocking` fails with `Overloaded`.
    pub blocking_queue_max: usize,
}

impl Default for RuntimeLimits {
    fn default() -> Self {
        RuntimeLimits {
            ring_entries_count: 4096,
            recv_buffer_count: 1024,
            recv_buffer_bytes: 4096,
            recv_pending_bytes_max: 64 * 1024,
            blocking_threads_count: 16,
            blocking_queue_max: 4096,
        }
    }
}
