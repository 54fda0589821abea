//! The one-shot result slot between a batcher instance thread and the task awaiting `submit`.
//!
//! `Submission` (the caller's future) and `Completer` (the batcher's end) share one `Slot`: a
//! result, the caller's `std::task::Waker`, and a `cancelled` flag. Completing stores the result
//! and wakes the waker outside the lock; for a kiln worker task that wake is the runtime's
//! cross-thread wake (remote queue + eventfd), as in `runtime/blocking.rs`. A `Completer` dropped
//! without an answer (queue dropped at shutdown, an instance thread unwinding) answers
//! `BatchError::Closed`, so no caller can wait forever. Dropping a `Submission` marks the slot
//! cancelled so the batcher can skip the item before its batch runs. This file knows nothing
//! about queues or dispatch; tests are in `batch/tests.rs`.

use super::BatchError;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

type Outcome<Out, E> = Result<Out, BatchError<E>>;

struct SlotState<Out, E> {
    result: Option<Outcome<Out, E>>,
    waker: Option<Waker>,
}

/// Shared by one `Submission` and one `Completer`.
pub(super) struct Slot<Out, E> {
    /// Set when the caller dropped its future before the result arrived.
    cancelled: AtomicBool,
    state: Mutex<SlotState<Out, E>>,
}

impl<Out, E> Slot<Out, E> {
    fn fill(&self, result: Outcome<Out, E>) {
        let waker = {
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            state.result = Some(result);
            state.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

/// Creates a connected pair: the batcher keeps the `Completer`, the caller awaits the
/// `Submission`.
pub(super) fn pair<Out, E>() -> (Completer<Out, E>, Submission<Out, E>) {
    let slot = Arc::new(Slot {
        cancelled: AtomicBool::new(false),
        state: Mutex::new(SlotState {
            result: None,
            waker: None,
        }),
    });
    let completer = Completer {
        slot: Some(slot.clone()),
    };
    let submission = Submission {
        inner: Inner::Waiting(slot),
    };
    (completer, submission)
}

/// The batcher's end of a slot. Answers exactly once: explicitly with `complete`, or with
/// `BatchError::Closed` when dropped unanswered.
pub(super) struct Completer<Out, E> {
    slot: Option<Arc<Slot<Out, E>>>,
}

impl<Out, E> Completer<Out, E> {
    /// True when the caller dropped its future; its item need not run.
    pub(super) fn is_cancelled(&self) -> bool {
        self.slot
            .as_ref()
            .is_some_and(|slot| slot.cancelled.load(Ordering::Acquire))
    }

    pub(super) fn complete(mut self, result: Outcome<Out, E>) {
        if let Some(slot) = self.slot.take() {
            slot.fill(result);
        }
    }
}

impl<Out, E> Drop for Completer<Out, E> {
    fn drop(&mut self) {
        if let Some(slot) = self.slot.take() {
            slot.fill(Err(BatchError::Closed));
        }
    }
}

enum Inner<Out, E> {
    /// Answered at submission (overloaded, closed, already expired).
    Immediate(Option<BatchError<E>>),
    Waiting(Arc<Slot<Out, E>>),
    Done,
}

/// The future returned by `Batcher::submit` and its variants: the item's own result.
///
/// The item is queued when `submit` is called, not on first poll, so an overloaded queue
/// answers at once. Dropping the future cancels the item: it is skipped if its batch has not
/// started yet (and counted in `BatchStats::cancelled_items`).
#[must_use = "the item is cancelled when its Submission is dropped"]
pub struct Submission<Out, E> {
    inner: Inner<Out, E>,
}

impl<Out, E> std::fmt::Debug for Submission<Out, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match self.inner {
            Inner::Immediate(_) => "immediate",
            Inner::Waiting(_) => "waiting",
            Inner::Done => "done",
        };
        f.debug_struct("Submission").field("state", &state).finish()
    }
}

impl<Out, E> Submission<Out, E> {
    pub(super) fn failed(error: BatchError<E>) -> Submission<Out, E> {
        Submission {
            inner: Inner::Immediate(Some(error)),
        }
    }

    /// Blocks the calling thread until the item is answered: for callers that are not tasks
    /// of a kiln runtime (a housekeeping thread, a command-line tool). Never call it on a
    /// worker thread: it would stop every connection of that worker until the answer comes.
    /// The wait is bounded as `await` is: every item is answered (`Closed` at worst).
    pub fn wait(mut self) -> Outcome<Out, E> {
        struct Unpark(std::thread::Thread);
        impl std::task::Wake for Unpark {
            fn wake(self: Arc<Self>) {
                self.0.unpark();
            }
        }
        let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
        let mut cx = Context::from_waker(&waker);
        loop {
            if let Poll::Ready(result) = Pin::new(&mut self).poll(&mut cx) {
                return result;
            }
            std::thread::park();
        }
    }
}

// The future holds no self-references and is never pin-projected.
impl<Out, E> Unpin for Submission<Out, E> {}

impl<Out, E> Future for Submission<Out, E> {
    type Output = Outcome<Out, E>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let result = match &mut self.inner {
            Inner::Immediate(error) => match error.take() {
                Some(error) => Err(error),
                None => panic!("Submission polled after it completed"),
            },
            Inner::Waiting(slot) => {
                let mut state = slot.state.lock().unwrap_or_else(|e| e.into_inner());
                match state.result.take() {
                    Some(result) => result,
                    None => {
                        match &mut state.waker {
                            Some(waker) if waker.will_wake(cx.waker()) => {}
                            waker => *waker = Some(cx.waker().clone()),
                        }
                        return Poll::Pending;
                    }
                }
            }
            Inner::Done => panic!("Submission polled after it completed"),
        };
        self.inner = Inner::Done;
        Poll::Ready(result)
    }
}

impl<Out, E> Drop for Submission<Out, E> {
    fn drop(&mut self) {
        if let Inner::Waiting(slot) = &self.inner {
            slot.cancelled.store(true, Ordering::Release);
        }
    }
}
