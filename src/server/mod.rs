//! `Server`: configuration and start-up, and the `Service` trait the server calls for each
//! request. The accept loop (`accept.rs`), the per-connection HTTP/1.1 loop (`conn.rs`) and the
//! per-worker output buffers and date cache (`buffers.rs`) live beside it, split the way
//! hyper splits `conn` and `dispatch`.
//!
//! One connection is one task: decode every request already buffered (pipelining), call the
//! service for each in order, encode the responses into one output buffer and flush them with a
//! single vectored send, then wait for more bytes under the right timeout (header deadline, body
//! timeout or idle keep-alive). Errors from the decoder answer with their status and close.
//! This module parses nothing itself and makes no syscall directly. Tests: `tests/it`.

mod accept;
mod buffers;
mod conn;

use crate::http::{Request, Response};
use crate::limits::{HttpLimits, RuntimeLimits, ServerLimits};
use crate::runtime::{self, Runtime, RuntimeConfig, ShutdownTrigger, TcpListener};
use std::future::Future;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::{Arc, Mutex};

/// Something that answers requests at the level of the bare server: an `App` (built), or any
/// `Fn(Request) -> impl Future<Output = Response>`. The future need not be `Send`: it runs on
/// the worker that accepted the connection. (App handlers, with extractors, are
/// `kiln::app::Handler`.)
pub trait Service: Send + Sync + 'static {
    type Future: Future<Output = Response> + 'static;
    fn call(&self, request: Request) -> Self::Future;

    /// A copy for one worker thread, with parts of its own, so that what a request clones is
    /// counted per worker instead of in counters every worker writes. `None` (the default)
    /// shares one instance between the workers. `BuiltApp` makes one.
    fn for_worker(&self) -> Option<Self>
    where
        Self: Sized,
    {
        None
    }
}

impl<F, Fut> Service for F
where
    F: Fn(Request) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Response> + 'static,
{
    type Future = Fut;
    fn call(&self, request: Request) -> Fut {
        self(request)
    }
}

/// Anything `Server::serve` accepts: a `Service`, or an `App` (built on the way).
pub trait IntoService {
    type Service: Service;
    fn into_service(self) -> Self::Service;
}

impl<H: Service> IntoService for H {
    type Service = H;
    fn into_service(self) -> H {
        self
    }
}

/// Server configuration; `bind` then `serve` (blocking, with signal handling) or `start`.
#[derive(Clone, Debug)]
pub struct Server {
    /// The resolved address, or why `bind`'s argument did not resolve (reported by `start`).
    addr: Result<SocketAddr, String>,
    workers: usize,
    multishot: bool,
    http_limits: HttpLimits,
    limits: ServerLimits,
    runtime_limits: RuntimeLimits,
}

impl Server {
    /// The address to listen on: a `SocketAddr`, `"127.0.0.1:8080"`, `("localhost", 8080)`...
    /// (anything `ToSocketAddrs`; the first address it resolves to). An address that does not
    /// resolve is reported by `start`/`serve`.
    pub fn bind(addr: impl ToSocketAddrs) -> Server {
        let addr = match addr.to_socket_addrs() {
            Ok(mut addrs) => addrs
                .next()
                .ok_or_else(|| "the address resolved to nothing".to_owned()),
            Err(error) => Err(error.to_string()),
        };
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
    pub fn serve(self, service: impl IntoService) -> io::Result<()> {
        self.serve_then(service, |_| {})
    }

    /// `serve`, calling `ready` with the bound address once the server accepts connections
    /// (to log it, or to tell a test which port `127.0.0.1:0` got).
    pub fn serve_then(
        self,
        service: impl IntoService,
        ready: impl FnOnce(SocketAddr),
    ) -> io::Result<()> {
        let pending: Arc<Mutex<(bool, Option<ShutdownTrigger>)>> = Arc::default();
        let on_signal = pending.clone();
        runtime::on_shutdown_signal(move || {
            let mut pending = on_signal.lock().unwrap_or_else(|e| e.into_inner());
            pending.0 = true;
            if let Some(trigger) = &pending.1 {
                trigger.shutdown();
            }
        })?;
        let handle = self.start(service)?;
        {
            let mut pending = pending.lock().unwrap_or_else(|e| e.into_inner());
            if pending.0 {
                handle.shutdown();
            }
            pending.1 = Some(handle.runtime.shutdown_trigger());
        }
        ready(handle.local_addr());
        handle.join();
        tracing::info!("server stopped");
        Ok(())
    }

    /// Binds and starts the workers, returning at once.
    pub fn start(self, service: impl IntoService) -> io::Result<ServerHandle> {
        let addr = self.addr.map_err(|reason| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("bind address: {reason}"),
            )
        })?;
        let first = TcpListener::bind_reuseport(addr, self.limits.listen_backlog_count)?;
        let local_addr = first.local_addr()?;
        let mut listeners = vec![Some(first)];
        for _ in 1..self.workers {
            listeners.push(Some(TcpListener::bind_reuseport(
                local_addr,
                self.limits.listen_backlog_count,
            )?));
        }
        let listeners = Mutex::new(listeners);
        let service = Arc::new(service.into_service());
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
            let service = service
                .for_worker()
                .map_or_else(|| service.clone(), Arc::new);
            // The worker's own copy: connections clone it, and that count stays per worker.
            let config = Arc::new(ConnConfig {
                http_limits: config.http_limits,
                limits: config.limits,
            });
            async move {
                match listener {
                    Some(listener) => accept::accept_loop(listener, service, config).await,
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

pub(crate) struct ConnConfig {
    pub(crate) http_limits: HttpLimits,
    pub(crate) limits: ServerLimits,
}
