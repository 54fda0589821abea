//! The thread-per-core io_uring runtime: the only module that talks to the kernel.
//!
//! Each worker thread owns an I/O backend (an io_uring ring in `driver`, or epoll in `epoll`
//! where io_uring is refused or `KILN_BACKEND=epoll`), a single-threaded executor (`executor`), timers
//! (`time`) and an eventfd through which other threads wake it (`context`). `net` offers TCP on
//! top, `blocking` a bounded pool for blocking work, `signal` graceful shutdown on
//! SIGINT/SIGTERM. Tasks need not be `Send`. This module knows nothing about HTTP; `server.rs`
//! builds the HTTP server from these pieces. Almost all `unsafe` of the crate lives here, each
//! block with a `// SAFETY:` comment.

mod blocking;
mod bufring;
mod context;
mod driver;
mod epoll;
mod executor;
mod net;
mod signal;
mod sys;
mod time;

pub use blocking::{BlockingError, SpawnBlocking, init_blocking_pool, spawn_blocking};
pub use driver::{Backend, Features};
pub use executor::JoinHandle;
pub use net::{Incoming, TcpListener, TcpStream};
pub use signal::on_shutdown_signal;
pub use sys::open_fd_count;
pub use time::{Deadline, Elapsed, Sleep, now, sleep, sleep_until, timeout, timeout_at, unix_secs};

use crate::limits::RuntimeLimits;
use context::{Worker, WorkerShared};
use executor::Executor;
use std::cell::RefCell;
use std::future::{Future, poll_fn};
use std::io;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::Poll;
use std::time::{Duration, Instant};

/// Configuration of a runtime.
#[derive(Clone, Debug)]
pub struct RuntimeConfig {
    pub workers: usize,
    pub limits: RuntimeLimits,
    /// After shutdown is requested, tasks still running after this long are dropped.
    pub shutdown_grace: Duration,
    /// Use multishot accept and receive where the kernel has them (default). `false` forces
    /// the single-shot paths that older kernels get, for tests and diagnosis.
    pub multishot: bool,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            workers: 1,
            limits: RuntimeLimits::default(),
            shutdown_grace: Duration::from_secs(10),
            multishot: true,
        }
    }
}

/// Spawns a task on the current worker. The future need not be `Send`.
pub fn spawn_local<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    let (task, handle) = executor::with_join_handle(future);
    context::with_executor(|executor| executor.spawn(task));
    handle
}

/// Spawns a task on this worker without a `JoinHandle`: its output is dropped. Cheaper than
/// `spawn_local` (no shared output slot), for tasks nobody waits on, such as connections.
pub fn spawn_detached<F>(future: F)
where
    F: Future + 'static,
    F::Output: 'static,
{
    let task = executor::detached(future);
    context::with_executor(|executor| executor.spawn(task));
}

/// True once shutdown was requested for this worker.
pub fn shutdown_requested() -> bool {
    context::current().shared.shutdown_requested()
}

/// Completes when shutdown is requested (every task is woken once at that moment).
pub async fn shutdown_signal() {
    poll_fn(|_| {
        if shutdown_requested() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await
}

/// What the start-up probe chose on this machine.
pub fn features() -> Features {
    context::with_io(|io| io.features())
}

/// A running set of workers.
pub struct Runtime {
    threads: Vec<std::thread::JoinHandle<()>>,
    shared: Vec<Arc<WorkerShared>>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("workers", &self.threads.len())
            .finish()
    }
}

/// The part of a runtime that can stop it from any thread.
#[derive(Clone)]
pub struct ShutdownTrigger {
    shared: Vec<Arc<WorkerShared>>,
}

impl std::fmt::Debug for ShutdownTrigger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShutdownTrigger").finish()
    }
}

impl ShutdownTrigger {
    pub fn shutdown(&self) {
        for worker in &self.shared {
            worker.request_shutdown();
        }
    }
}

impl Runtime {
    /// Starts `config.workers` threads; each builds its ring and then runs `main(index)` as its
    /// first task. Returns once every worker has its ring (or the first set-up error).
    pub fn start<F, Fut>(config: RuntimeConfig, main: F) -> io::Result<Runtime>
    where
        F: Fn(usize) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        sys::ignore_sigpipe();
        init_blocking_pool(
            config.limits.blocking_threads_count,
            config.limits.blocking_queue_max,
        );
        let main = Arc::new(main);
        let logged = Arc::new(AtomicBool::new(false));
        let mut threads = Vec::with_capacity(config.workers);
        let mut shared = Vec::with_capacity(config.workers);
        for index in 0..config.workers.max(1) {
            let worker_shared = Arc::new(WorkerShared::new()?);
            shared.push(worker_shared.clone());
            let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel(1);
            let main = main.clone();
            let config = config.clone();
            let logged = logged.clone();
            let thread = std::thread::Builder::new()
                .name(format!("kiln-worker-{index}"))
                .spawn(move || {
                    let (worker, fallback_reason) = match build_worker(&config, worker_shared) {
                        Ok(built) => built,
                        Err(error) => {
                            let _ = ready_tx.send(Err(error));
                            return;
                        }
                    };
                    let features = worker.io.borrow().features();
                    if !logged.swap(true, Ordering::Relaxed) {
                        log_features(features, fallback_reason.as_deref());
                    }
                    let _ = ready_tx.send(Ok(()));
                    run_worker(worker, &config, main(index));
                })?;
            ready_rx
                .recv()
                .map_err(|_| io::Error::other("worker thread died during set-up"))??;
            threads.push(thread);
        }
        Ok(Runtime { threads, shared })
    }

    pub fn shutdown_trigger(&self) -> ShutdownTrigger {
        ShutdownTrigger {
            shared: self.shared.clone(),
        }
    }

    /// Waits for every worker to finish.
    pub fn join(self) {
        for thread in self.threads {
            let _ = thread.join();
        }
    }
}

/// Environment variable that forces a backend: `uring` or `epoll`.
pub const BACKEND_ENV_VAR: &str = "KILN_BACKEND";

/// Which backend to use, from `KILN_BACKEND`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BackendChoice {
    Auto,
    Forced(Backend),
}

fn backend_choice() -> io::Result<BackendChoice> {
    match std::env::var(BACKEND_ENV_VAR) {
        Err(_) => Ok(BackendChoice::Auto),
        Ok(value) => match value.trim().to_ascii_lowercase().as_str() {
            "" | "auto" => Ok(BackendChoice::Auto),
            "uring" | "io_uring" | "io-uring" => Ok(BackendChoice::Forced(Backend::IoUring)),
            "epoll" => Ok(BackendChoice::Forced(Backend::Epoll)),
            other => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{BACKEND_ENV_VAR}={other:?}: expected `uring` or `epoll`"),
            )),
        },
    }
}

fn log_features(features: Features, fallback_reason: Option<&str>) {
    match features.backend {
        Backend::IoUring => tracing::info!(
            backend = "io_uring",
            setup = features.setup,
            recv = if features.recv_multishot {
                "multishot into provided-buffer ring"
            } else {
                "single-shot into per-connection buffer"
            },
            accept = if features.accept_multishot {
                "multishot"
            } else {
                "single-shot"
            },
            "runtime started"
        ),
        Backend::Epoll => tracing::info!(
            backend = "epoll",
            reason = fallback_reason.unwrap_or("forced with KILN_BACKEND=epoll"),
            "runtime started"
        ),
    }
}

/// Builds the worker's I/O backend; returns why io_uring was not used, if it was not.
fn build_io(config: &RuntimeConfig, eventfd: i32) -> io::Result<(context::Io, Option<String>)> {
    match backend_choice()? {
        BackendChoice::Forced(Backend::Epoll) => {
            Ok((context::Io::Epoll(epoll::EpollDriver::new(eventfd)?), None))
        }
        BackendChoice::Forced(Backend::IoUring) => {
            let driver = driver::Driver::new(&config.limits, eventfd, config.multishot)?;
            Ok((context::Io::Uring(driver), None))
        }
        BackendChoice::Auto => match driver::Driver::new(&config.limits, eventfd, config.multishot)
        {
            Ok(driver) => Ok((context::Io::Uring(driver), None)),
            Err(error) => {
                let reason = format!("io_uring unavailable: {error}");
                Ok((
                    context::Io::Epoll(epoll::EpollDriver::new(eventfd)?),
                    Some(reason),
                ))
            }
        },
    }
}

fn build_worker(
    config: &RuntimeConfig,
    shared: Arc<WorkerShared>,
) -> io::Result<(Rc<Worker>, Option<String>)> {
    let (io, fallback_reason) = build_io(config, shared.eventfd())?;
    let worker = Rc::new(Worker {
        executor: Executor::new(shared.clone()),
        shared,
        io: RefCell::new(io),
        timers: RefCell::new(time::Timers::new()),
    });
    Ok((worker, fallback_reason))
}

fn run_worker(
    worker: Rc<Worker>,
    config: &RuntimeConfig,
    main: impl Future<Output = ()> + 'static,
) {
    context::enter(worker.clone());
    worker.executor.spawn(Box::pin(main));
    if let Err(error) = event_loop(&worker, config.shutdown_grace) {
        tracing::error!(%error, "worker ring failed; dropping its tasks");
    }
    worker.executor.drop_all();
    drain(&worker);
    context::exit();
}

fn event_loop(worker: &Worker, grace: Duration) -> io::Result<()> {
    let mut grace_deadline: Option<Instant> = None;
    let mut woken = Vec::new();
    loop {
        worker.timers.borrow_mut().refresh_clock();
        worker.timers.borrow_mut().expire(&mut woken);
        woken.drain(..).for_each(|waker| waker.wake());
        worker.executor.take_remote_wakes();
        worker.executor.run_ready();

        let now = worker.timers.borrow().now_instant();
        if grace_deadline.is_none() && worker.shared.shutdown_requested() {
            grace_deadline = Some(now + grace);
            worker.executor.wake_all();
            continue;
        }
        if worker.executor.task_count() == 0 {
            return Ok(());
        }
        if grace_deadline.is_some_and(|deadline| now >= deadline) {
            tracing::warn!(
                tasks = worker.executor.task_count(),
                "shutdown grace period over; dropping remaining tasks"
            );
            return Ok(());
        }
        let wait = !worker.executor.has_ready();
        let mut timeout = worker.timers.borrow().next_timeout();
        if let Some(deadline) = grace_deadline {
            let left = deadline.saturating_duration_since(now);
            timeout = Some(timeout.map_or(left, |t| t.min(left)));
        }
        let mut wakers = worker.io.borrow_mut().turn(wait, timeout)?;
        wakers.drain(..).for_each(|waker| waker.wake());
        worker.io.borrow_mut().recycle_wakers(wakers);
    }
}

/// Cancels what the kernel still holds and waits until it has returned every operation
/// (buffers, fds, the eventfd read) or the drain time ends.
fn drain(worker: &Worker) {
    let left = worker.io.borrow_mut().drain();
    if left > 0 {
        tracing::warn!(left, "operations still in flight after drain");
    }
}

#[cfg(test)]
mod tests;
