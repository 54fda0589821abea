//! A bounded pool of threads for blocking work (SQLite queries, CPU-heavy calls), shared by all
//! workers of the process.
//!
//! `spawn_blocking(f).await` queues `f`; a pool thread runs it and wakes the awaiting task,
//! which for a worker task means the remote queue plus the worker's eventfd. The queue has a
//! fixed capacity: when it is full, `spawn_blocking` answers `BlockingError::Overloaded` at
//! once (the HTTP layer turns that into 503). A panic inside `f` is caught and reported as
//! `BlockingError::Panicked`; it never takes the pool thread down.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::task::{Context, Poll, Waker};

type Job = Box<dyn FnOnce() + Send>;

/// Why a blocking job produced no result. As a handler's response (`kiln::app::IntoResponse`):
/// 503 with `Retry-After: 1` when overloaded, 500 when the job panicked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BlockingError {
    /// The queue was full; try again later.
    Overloaded,
    /// The job panicked.
    Panicked,
}

impl std::fmt::Display for BlockingError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BlockingError::Overloaded => f.write_str("blocking pool queue is full"),
            BlockingError::Panicked => f.write_str("blocking job panicked"),
        }
    }
}

impl std::error::Error for BlockingError {}

struct Queue {
    jobs: VecDeque<Job>,
    capacity: usize,
}

struct Pool {
    queue: Mutex<Queue>,
    available: Condvar,
}

static POOL: OnceLock<Arc<Pool>> = OnceLock::new();

/// Starts the process-wide pool with these sizes; later calls keep the first pool.
pub fn init_blocking_pool(threads: usize, queue_capacity: usize) {
    POOL.get_or_init(|| start_pool(threads.max(1), queue_capacity.max(1)));
}

fn pool() -> &'static Arc<Pool> {
    POOL.get_or_init(|| {
        let defaults = crate::limits::RuntimeLimits::default();
        start_pool(defaults.blocking_threads_count, defaults.blocking_queue_max)
    })
}

fn start_pool(threads: usize, capacity: usize) -> Arc<Pool> {
    let pool = Arc::new(Pool {
        queue: Mutex::new(Queue {
            jobs: VecDeque::with_capacity(capacity.min(1024)),
            capacity,
        }),
        available: Condvar::new(),
    });
    for index in 0..threads {
        let pool = pool.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("kiln-blocking-{index}"))
            .spawn(move || run_pool_thread(&pool));
        if let Err(error) = spawned {
            tracing::error!(%error, "could not start a blocking-pool thread");
        }
    }
    pool
}

fn run_pool_thread(pool: &Pool) {
    loop {
        let job = {
            let mut queue = pool.queue.lock().unwrap_or_else(|e| e.into_inner());
            loop {
                if let Some(job) = queue.jobs.pop_front() {
                    break job;
                }
                queue = pool
                    .available
                    .wait(queue)
                    .unwrap_or_else(|e| e.into_inner());
            }
        };
        job();
    }
}

struct Slot<T> {
    result: Option<Result<T, BlockingError>>,
    waker: Option<Waker>,
}

/// The future returned by `spawn_blocking`.
pub struct SpawnBlocking<T> {
    slot: Arc<Mutex<Slot<T>>>,
}

/// Runs `f` on the blocking pool; await the result.
pub fn spawn_blocking<T, F>(f: F) -> SpawnBlocking<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    spawn_on(pool(), f)
}

fn spawn_on<T, F>(pool: &Pool, f: F) -> SpawnBlocking<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let slot = Arc::new(Mutex::new(Slot {
        result: None,
        waker: None,
    }));
    let job_slot = slot.clone();
    let job: Job = Box::new(move || {
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
            .map_err(|_| BlockingError::Panicked);
        finish(&job_slot, result);
    });
    let mut queue = pool.queue.lock().unwrap_or_else(|e| e.into_inner());
    if queue.jobs.len() >= queue.capacity {
        drop(queue);
        finish(&slot, Err(BlockingError::Overloaded));
    } else {
        queue.jobs.push_back(job);
        drop(queue);
        pool.available.notify_one();
    }
    SpawnBlocking { slot }
}

fn finish<T>(slot: &Mutex<Slot<T>>, result: Result<T, BlockingError>) {
    let waker = {
        let mut slot = slot.lock().unwrap_or_else(|e| e.into_inner());
        slot.result = Some(result);
        slot.waker.take()
    };
    if let Some(waker) = waker {
        waker.wake();
    }
}

impl<T> Future for SpawnBlocking<T> {
    type Output = Result<T, BlockingError>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut slot = self.slot.lock().unwrap_or_else(|e| e.into_inner());
        match slot.result.take() {
            Some(result) => Poll::Ready(result),
            None => {
                slot.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::task::Wake;

    struct ThreadWaker(std::thread::Thread);

    impl Wake for ThreadWaker {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }

    /// Minimal block_on for pool futures (they are woken from the pool thread).
    fn block_on<F: Future>(future: F) -> F::Output {
        let mut future = std::pin::pin!(future);
        let waker = Waker::from(Arc::new(ThreadWaker(std::thread::current())));
        let mut cx = Context::from_waker(&waker);
        loop {
            if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
                return output;
            }
            std::thread::park_timeout(std::time::Duration::from_millis(50));
        }
    }

    #[test]
    fn result_comes_back_to_the_awaiting_task() {
        let pool = start_pool(2, 8);
        assert_eq!(block_on(spawn_on(&pool, || 6 * 7)), Ok(42));
    }

    #[test]
    fn blocking_queue_max_answers_overloaded_at_once() {
        let pool = start_pool(1, 1);
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let (started_tx, started_rx) = mpsc::channel::<()>();
        // Occupy the only thread, then fill the only queue place.
        let busy = spawn_on(&pool, move || {
            started_tx.send(()).unwrap();
            release_rx.recv().unwrap();
        });
        started_rx.recv().unwrap();
        let queued = spawn_on(&pool, || 1);
        let refused = spawn_on(&pool, || 2);
        assert_eq!(block_on(refused), Err(BlockingError::Overloaded));
        release_tx.send(()).unwrap();
        assert_eq!(block_on(busy), Ok(()));
        assert_eq!(block_on(queued), Ok(1));
    }

    #[test]
    fn a_panicking_job_is_reported_and_the_thread_survives() {
        let pool = start_pool(1, 4);
        let panicked = spawn_on(&pool, || -> u8 { panic!("job panic on purpose (test)") });
        assert_eq!(block_on(panicked), Err(BlockingError::Panicked));
        assert_eq!(block_on(spawn_on(&pool, || 7)), Ok(7));
    }
}
