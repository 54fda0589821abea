//! Per-worker state and the thread-local that lets futures reach it.
//!
//! `WorkerShared` is the `Send + Sync` part other threads touch (remote wake queue, eventfd,
//! shutdown flag). `Worker` is the thread-local part (driver, executor, timers). Futures find
//! the worker through a thread-local set for the life of `Worker::run`; nothing here blocks.

use super::driver::Driver;
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
        remote.push(key);
        drop(remote);
        self.notify();
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

/// Everything one worker thread owns.
pub(crate) struct Worker {
    pub(crate) shared: std::sync::Arc<WorkerShared>,
    pub(crate) executor: Executor,
    pub(crate) driver: RefCell<Driver>,
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

pub(crate) fn with_driver<R>(f: impl FnOnce(&mut Driver) -> R) -> R {
    let worker = current();
    let mut driver = worker.driver.borrow_mut();
    f(&mut driver)
}
