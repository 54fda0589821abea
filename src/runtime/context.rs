//! Per-worker state and the thread-local that lets futures reach it.
//!
//! `WorkerShared` is the `Send + Sync` part other threads touch (remote wake queue, eventfd,
//! shutdown flag). `Worker` is the thread-local part (I/O backend, executor, timers). Futures find
//! the worker through a thread-local set for the life of `Worker::run`; nothing here blocks.

use super::driver::{Driver, Features};
use super::epoll::EpollDriver;
use super::executor::{Executor, TaskKey};
use super::time::Timers;
use std::cell::{Cell, RefCell};
use std::os::fd::{AsRawFd, OwnedFd};
use std::rc::Rc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

static NEXT_WORKER_ID: AtomicU64 = AtomicU64::new(1);

/// The part of a worker that other threads may touch.
pub(crate) struct WorkerShared {
    pub(crate) id: u64,
    remote: Mutex<Vec<TaskKey>>,
    /// Written to wake the worker's ring from another thread.
    eventfd: OwnedFd,
    shutdown: AtomicBool,
}

impl WorkerShared {
    pub(crate) fn new() -> std::io::Result<WorkerShared> {
        Ok(WorkerShared {
            id: NEXT_WORKER_ID.fetch_add(1, Ordering::Relaxed),
            remote: Mutex::new(Vec::new()),
            eventfd: super::sys::eventfd()?,
            shutdown: AtomicBool::new(false),
        })
    }

    pub(crate) fn eventfd(&self) -> i32 {
        self.eventfd.as_raw_fd()
    }

    pub(crate) fn push_remote(&self, key: TaskKey) {
        let mut remote = self.remote.lock().unwrap_or_else(|e| e.into_inner());
        let was_empty = remote.is_empty();
        remote.push(key);
        drop(remote);
        // Only the first wake after a drain needs the eventfd: while the queue is non-empty a
        // notification is already pending and the worker takes the whole queue at once.
        if was_empty {
            self.notify();
        }
    }

    pub(crate) fn drain_remote(&self, mut f: impl FnMut(TaskKey)) {
        let mut remote = self.remote.lock().unwrap_or_else(|e| e.into_inner());
        for key in remote.drain(..) {
            f(key);
        }
    }

    /// Wakes the worker's ring (it may be blocked in io_uring_enter).
    pub(crate) fn notify(&self) {
        super::sys::eventfd_write(self.eventfd());
    }

    pub(crate) fn request_shutdown(&self) {
        self.shutdown.store(true, Ordering::Release);
        self.notify();
    }

    pub(crate) fn shutdown_requested(&self) -> bool {
        self.shutdown.load(Ordering::Acquire)
    }
}

/// The I/O backend of one worker.
// One value per worker thread: its size does not matter, an extra indirection on every I/O
// call would.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Io {
    Uring(Driver),
    Epoll(EpollDriver),
}

impl Io {
    pub(crate) fn turn(
        &mut self,
        wait: bool,
        timeout: Option<std::time::Duration>,
    ) -> std::io::Result<Vec<std::task::Waker>> {
        match self {
            Io::Uring(driver) => driver.turn(wait, timeout),
            Io::Epoll(driver) => driver.turn(wait, timeout),
        }
    }

    pub(crate) fn recycle_wakers(&mut self, wakers: Vec<std::task::Waker>) {
        match self {
            Io::Uring(driver) => driver.recycle_wakers(wakers),
            Io::Epoll(driver) => driver.recycle_wakers(wakers),
        }
    }

    /// Worker teardown: cancels and waits for what the kernel still holds; returns how many
    /// operations are left in it (none with epoll, which lends the kernel no memory).
    pub(crate) fn drain(&mut self) -> usize {
        match self {
            Io::Uring(driver) => driver.drain(),
            Io::Epoll(_) => 0,
        }
    }

    pub(crate) fn features(&self) -> Features {
        match self {
            Io::Uring(driver) => driver.features(),
            Io::Epoll(_) => Features::EPOLL,
        }
    }
}

/// Everything one worker thread owns.
pub(crate) struct Worker {
    pub(crate) shared: std::sync::Arc<WorkerShared>,
    pub(crate) executor: Executor,
    pub(crate) io: RefCell<Io>,
    pub(crate) timers: RefCell<Timers>,
}

thread_local! {
    static CURRENT: RefCell<Option<Rc<Worker>>> = const { RefCell::new(None) };
    static CURRENT_ID: Cell<u64> = const { Cell::new(0) };
}

pub(crate) fn enter(worker: Rc<Worker>) {
    CURRENT_ID.with(|id| id.set(worker.shared.id));
    CURRENT.with(|current| *current.borrow_mut() = Some(worker));
}

pub(crate) fn exit() {
    CURRENT_ID.with(|id| id.set(0));
    let worker = CURRENT.with(|current| current.borrow_mut().take());
    drop(worker);
}

pub(crate) fn current_worker_id() -> Option<u64> {
    let id = CURRENT_ID.with(Cell::get);
    (id != 0).then_some(id)
}

/// The current worker; panics outside a worker thread, which is a programmer error
/// (runtime futures are only usable inside `Runtime` workers).
pub(crate) fn current() -> Rc<Worker> {
    try_current().expect("kiln runtime function called outside a kiln worker thread")
}

pub(crate) fn try_current() -> Option<Rc<Worker>> {
    CURRENT.with(|current| current.borrow().clone())
}

pub(crate) fn with_executor<R>(f: impl FnOnce(&Executor) -> R) -> R {
    f(&current().executor)
}

pub(crate) fn with_io<R>(f: impl FnOnce(&mut Io) -> R) -> R {
    let worker = current();
    let mut io = worker.io.borrow_mut();
    f(&mut io)
}
