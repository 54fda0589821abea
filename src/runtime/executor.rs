//! The single-threaded task executor of one worker.
//!
//! Tasks are `!Send` futures kept in a slab. A task's waker may be called from any thread: on
//! the worker's own thread it pushes the task on the local ready queue; from another thread
//! (the blocking pool) it pushes on the worker's remote queue and writes the worker's eventfd.
//! Each task is queued at most once at a time (its `scheduled` flag), so both queues are bounded
//! by the number of live tasks. This module does no I/O of its own; the eventfd is read by the
//! driver.

use super::context::{self, WorkerShared};
use slab::Slab;
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Wake, Waker};

type LocalFuture = Pin<Box<dyn Future<Output = ()>>>;

/// Identifies a task: slab index plus a generation, so a stale waker of a finished task never
/// polls the task that reused its slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TaskKey {
    index: u32,
    generation: u32,
}

struct TaskEntry {
    generation: u32,
    /// `None` while the task is being polled.
    future: Option<LocalFuture>,
    waker: Waker,
    wake_state: Arc<TaskWaker>,
}

/// The part of a task that wakers hold; `Send + Sync`.
pub(crate) struct TaskWaker {
    key: TaskKey,
    scheduled: AtomicBool,
    worker: Arc<WorkerShared>,
}

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if self.scheduled.swap(true, Ordering::AcqRel) {
            return;
        }
        if context::current_worker_id() == Some(self.worker.id) {
            context::with_executor(|executor| executor.ready.borrow_mut().push_back(self.key));
        } else {
            self.worker.push_remote(self.key);
        }
    }
}

pub(crate) struct Executor {
    tasks: RefCell<Slab<TaskEntry>>,
    ready: RefCell<VecDeque<TaskKey>>,
    next_generation: Cell<u32>,
    shared: Arc<WorkerShared>,
}

impl Executor {
    pub(crate) fn new(shared: Arc<WorkerShared>) -> Executor {
        Executor {
            tasks: RefCell::new(Slab::new()),
            ready: RefCell::new(VecDeque::new()),
            next_generation: Cell::new(0),
            shared,
        }
    }

    pub(crate) fn spawn(&self, future: LocalFuture) {
        let generation = self.next_generation.get().wrapping_add(1);
        self.next_generation.set(generation);
        let mut tasks = self.tasks.borrow_mut();
        let entry = tasks.vacant_entry();
        let key = TaskKey {
            index: entry.key() as u32,
            generation,
        };
        let wake_state = Arc::new(TaskWaker {
            key,
            scheduled: AtomicBool::new(true),
            worker: self.shared.clone(),
        });
        entry.insert(TaskEntry {
            generation,
            future: Some(future),
            waker: Waker::from(wake_state.clone()),
            wake_state,
        });
        self.ready.borrow_mut().push_back(key);
    }

    pub(crate) fn task_count(&self) -> usize {
        self.tasks.borrow().len()
    }

    pub(crate) fn has_ready(&self) -> bool {
        !self.ready.borrow().is_empty()
    }

    /// Moves tasks woken from other threads onto the local ready queue.
    pub(crate) fn take_remote_wakes(&self) {
        let mut ready = self.ready.borrow_mut();
        self.shared.drain_remote(|key| ready.push_back(key));
    }

    /// Polls the tasks that are ready now (not the ones they wake), returns how many ran.
    pub(crate) fn run_ready(&self) -> usize {
        let count = self.ready.borrow().len();
        for _ in 0..count {
            let Some(key) = self.ready.borrow_mut().pop_front() else {
                break;
            };
            self.poll_task(key);
        }
        count
    }

    fn poll_task(&self, key: TaskKey) {
        let (mut future, waker) = {
            let mut tasks = self.tasks.borrow_mut();
            let Some(entry) = tasks.get_mut(key.index as usize) else {
                return;
            };
            if entry.generation != key.generation {
                return;
            }
            entry.wake_state.scheduled.store(false, Ordering::Release);
            let Some(future) = entry.future.take() else {
                return;
            };
            (future, entry.waker.clone())
        };
        let mut cx = Context::from_waker(&waker);
        let done = future.as_mut().poll(&mut cx).is_ready();
        let mut tasks = self.tasks.borrow_mut();
        if done {
            let removed = tasks.remove(key.index as usize);
            drop(tasks);
            // The future may own resources whose drop touches the executor (spawning, waking).
            drop(removed);
            drop(future);
        } else if let Some(entry) = tasks.get_mut(key.index as usize) {
            entry.future = Some(future);
        }
    }

    /// Schedules every task once (used at shutdown so each can notice it).
    pub(crate) fn wake_all(&self) {
        let wakers: Vec<Waker> = self
            .tasks
            .borrow()
            .iter()
            .map(|(_, entry)| entry.waker.clone())
            .collect();
        for waker in wakers {
            waker.wake();
        }
    }

    /// Drops every task (their resources go back to the driver).
    pub(crate) fn drop_all(&self) {
        let futures: Vec<LocalFuture> = self
            .tasks
            .borrow_mut()
            .drain()
            .filter_map(|entry| entry.future)
            .collect();
        self.ready.borrow_mut().clear();
        drop(futures);
    }
}

/// A handle to a spawned task's output; awaiting it yields the output. Dropping it detaches.
pub struct JoinHandle<T> {
    state: Rc<RefCell<JoinState<T>>>,
}

struct JoinState<T> {
    output: Option<T>,
    waker: Option<Waker>,
}

impl<T> Future for JoinHandle<T> {
    type Output = T;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let mut state = self.state.borrow_mut();
        match state.output.take() {
            Some(output) => Poll::Ready(output),
            None => {
                state.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

/// Wraps `future` so its output lands in a `JoinHandle`.
pub(crate) fn with_join_handle<F>(future: F) -> (LocalFuture, JoinHandle<F::Output>)
where
    F: Future + 'static,
    F::Output: 'static,
{
    let state = Rc::new(RefCell::new(JoinState {
        output: None,
        waker: None,
    }));
    let task = Box::pin(JoinTask {
        future,
        state: Some(state.clone()),
    });
    (task, JoinHandle { state })
}

/// Wraps `future` as a task whose output is dropped (no `JoinHandle`, no shared state).
pub(crate) fn detached<F>(future: F) -> LocalFuture
where
    F: Future + 'static,
    F::Output: 'static,
{
    Box::pin(JoinTask {
        future,
        state: None,
    })
}

/// A task: the spawned future itself plus where its output goes.
///
/// A hand-written future rather than `async move { future.await }`: the generator of such a
/// block keeps the captured (unstarted) future and the awaited one as separate fields, which
/// doubles every task's size (an idle connection's task is most of its memory).
struct JoinTask<F: Future> {
    future: F,
    state: Option<Rc<RefCell<JoinState<F::Output>>>>,
}

impl<F: Future> Future for JoinTask<F> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // SAFETY: `future` is structurally pinned: it is never moved out of or replaced while
        // the task is pinned (JoinTask has no Drop impl and no other access to it); `state`
        // is not pinned and is only used through a shared reference here.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: see above; `this.future` stays where it is until the task is dropped.
        let future = unsafe { Pin::new_unchecked(&mut this.future) };
        let output = match future.poll(cx) {
            Poll::Ready(output) => output,
            Poll::Pending => return Poll::Pending,
        };
        if let Some(state) = &this.state {
            let mut state = state.borrow_mut();
            state.output = Some(output);
            if let Some(waker) = state.waker.take() {
                waker.wake();
            }
        }
        Poll::Ready(())
    }
}
