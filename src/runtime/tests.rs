//! Unit tests of the runtime on a real ring: tasks, timers, cross-thread wakes, and the
//! cancellation rules (a dropped read loses no bytes; a dropped send or accept frees nothing
//! the kernel still uses).

use super::*;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::mpsc;
use std::task::{Context, Waker};

/// Kept for tests that must not overlap a future fd-counting test; none counts fds today
/// (process-wide counts race with other tests' runtimes, so tests check their own fds).
static FDS: std::sync::RwLock<()> = std::sync::RwLock::new(());

fn shared_fds() -> std::sync::RwLockReadGuard<'static, ()> {
    FDS.read().unwrap_or_else(|e| e.into_inner())
}

/// Held by tests that compare `driver::kept_for_the_kernel_count` before and after.
static KEPT_COUNT: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn kept_count_lock() -> std::sync::MutexGuard<'static, ()> {
    KEPT_COUNT.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs `make()` as the only task of a one-worker runtime and returns its output.
fn run<T, F, Fut>(make: F) -> T
where
    T: Send + 'static,
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = T> + 'static,
{
    run_timing_shutdown(make).0
}

#[test]
fn spawned_tasks_run_and_join_handles_yield_their_output() {
    let _shared = shared_fds();
    let sum = run(|| async {
        let handles: Vec<_> = (1..=10u32)
            .map(|n| spawn_local(async move { n * n }))
            .collect();
        let mut sum = 0;
        for handle in handles {
            sum += handle.await;
        }
        sum
    });
    assert_eq!(sum, 385);
}

#[test]
fn a_task_is_not_twice_its_future() {
    // An idle connection's memory is mostly its task: wrapping must not hold the future twice
    // (as `async move { future.await }` does).
    let payload = [7u8; 1024];
    let future = async move {
        std::future::ready(()).await;
        std::hint::black_box(payload);
    };
    let own = std::mem::size_of_val(&future);
    let joined = executor::with_join_handle(future).0;
    assert!(
        std::mem::size_of_val(&*joined) < own + 64,
        "joined task grew"
    );
    let detached = executor::detached(async move {
        std::future::ready(()).await;
        std::hint::black_box(payload);
    });
    assert!(
        std::mem::size_of_val(&*detached) < own + 64,
        "detached task grew"
    );
}

#[test]
fn the_send_buffers_pool_is_bounded_and_reused() {
    use super::driver::{SEND_BUFFERS_POOL_MAX, SendBuffers};
    let all: Vec<_> = (0..SEND_BUFFERS_POOL_MAX + 10)
        .map(|_| SendBuffers::new(vec![bytes::Bytes::from_static(b"x")]))
        .collect();
    for buffers in all {
        let chunks = buffers.recycle();
        assert!(chunks.is_empty());
    }
    assert_eq!(SendBuffers::pooled(), SEND_BUFFERS_POOL_MAX);
    let reused = SendBuffers::new(Vec::new());
    assert_eq!(SendBuffers::pooled(), SEND_BUFFERS_POOL_MAX - 1);
    assert_eq!(reused.remaining(), 0);
}

#[test]
fn detached_tasks_run_to_completion() {
    let _shared = shared_fds();
    let done = run(|| async {
        let flag = Rc::new(std::cell::Cell::new(false));
        let seen = flag.clone();
        spawn_detached(async move { seen.set(true) });
        sleep(Duration::from_millis(5)).await;
        flag.get()
    });
    assert!(done);
}

/// Polls `deadline` once (registering its timer), whatever it answers.
async fn poll_once(deadline: &mut Deadline) {
    std::future::poll_fn(|cx| {
        let _ = deadline.poll_elapsed(cx);
        Poll::Ready(())
    })
    .await;
}

/// The keys of this worker's registered timers.
fn timer_keys() -> Vec<time::TimerKey> {
    context::current()
        .timers
        .borrow()
        .entries
        .keys()
        .copied()
        .collect()
}

#[test]
fn a_deadline_moved_later_fires_at_the_new_time_and_moved_earlier_too() {
    let _shared = shared_fds();
    let (later, earlier, entries_while_waiting, entries_after) = run(|| async {
        let start = Instant::now();
        // Moved later twice before it is due: the first registration wakes early, is
        // re-registered, and the deadline still holds.
        let mut deadline = Deadline::new(now() + Duration::from_millis(20));
        poll_once(&mut deadline).await;
        deadline.reset(now() + Duration::from_millis(60));
        deadline.reset(now() + Duration::from_millis(80));
        std::future::poll_fn(|cx| deadline.poll_elapsed(cx)).await;
        let later = start.elapsed();
        // Moved earlier than its registered entry: registers anew and fires at the new time.
        let start = Instant::now();
        let mut deadline = Deadline::new(now() + Duration::from_secs(30));
        poll_once(&mut deadline).await;
        deadline.reset(now() + Duration::from_millis(20));
        let entries_while_waiting = timer_keys().len();
        std::future::poll_fn(|cx| deadline.poll_elapsed(cx)).await;
        let earlier = start.elapsed();
        drop(deadline);
        let entries_after = timer_keys().len();
        (later, earlier, entries_while_waiting, entries_after)
    });
    assert!(later >= Duration::from_millis(80), "{later:?}");
    assert!(later < Duration::from_secs(10), "{later:?}");
    assert!(earlier >= Duration::from_millis(20), "{earlier:?}");
    assert!(
        earlier < Duration::from_secs(10),
        "fired at the old 30 s deadline? {earlier:?}"
    );
    assert_eq!(entries_while_waiting, 1);
    assert_eq!(
        entries_after, 0,
        "a passed or dropped deadline leaves no timer behind"
    );
}

#[test]
fn a_deadline_moved_later_touches_no_timer_entry() {
    let _shared = shared_fds();
    let (first, second) = run(|| async {
        let mut deadline = Deadline::new(now() + Duration::from_secs(20));
        poll_once(&mut deadline).await;
        let first = timer_keys();
        deadline.reset(now() + Duration::from_secs(40));
        poll_once(&mut deadline).await;
        let second = timer_keys();
        (first, second)
    });
    assert_eq!(first.len(), 1);
    assert_eq!(first, second, "the registered entry stays as it was");
}

#[test]
fn timers_fire_in_deadline_order() {
    let _shared = shared_fds();
    let order = run(|| async {
        let order = Rc::new(RefCell::new(Vec::new()));
        let mut handles = Vec::new();
        for (label, ms) in [("c", 60u64), ("a", 20), ("b", 40)] {
            let order = order.clone();
            handles.push(spawn_local(async move {
                sleep(Duration::from_millis(ms)).await;
                order.borrow_mut().push(label);
            }));
        }
        for handle in handles {
            handle.await;
        }
        let order = order.borrow().clone();
        order.join("")
    });
    assert_eq!(order, "abc");
}

#[test]
fn timeout_elapses_for_a_future_that_never_completes() {
    let _shared = shared_fds();
    let outcome = run(|| async {
        let started = Instant::now();
        let result = timeout(Duration::from_millis(50), std::future::pending::<()>()).await;
        (result, started.elapsed())
    });
    assert_eq!(outcome.0, Err(Elapsed));
    assert!(outcome.1 >= Duration::from_millis(45));
}

#[test]
fn blocking_results_wake_the_worker_through_the_eventfd() {
    let _shared = shared_fds();
    let value = run(|| async {
        spawn_blocking(|| {
            std::thread::sleep(Duration::from_millis(30));
            99
        })
        .await
    });
    assert_eq!(value, Ok(99));
}

#[test]
fn a_dropped_read_loses_no_bytes() {
    let _shared = shared_fds();
    let listener = TcpListener::bind_reuseport("127.0.0.1:0".parse().unwrap(), 16).unwrap();
    let addr = listener.local_addr().unwrap();
    let listener = std::sync::Mutex::new(Some(listener));
    let client = std::thread::spawn(move || {
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        // The server's first read times out before these bytes are sent.
        std::thread::sleep(Duration::from_millis(150));
        stream.write_all(b"late bytes").unwrap();
        let mut reply = Vec::new();
        stream.read_to_end(&mut reply).unwrap();
        reply
    });
    let received = run(move || {
        let listener = listener.lock().unwrap().take().unwrap();
        async move {
            let mut incoming = listener.incoming().unwrap();
            let mut stream = incoming.next().await.unwrap();
            let mut buf = bytes::BytesMut::new();
            let first = timeout(Duration::from_millis(30), stream.read(&mut buf)).await;
            assert!(first.is_err(), "nothing was sent yet");
            while buf.len() < 10 {
                stream.read(&mut buf).await.unwrap();
            }
            let (sent, _) = stream
                .send_all(vec![bytes::Bytes::from_static(b"ok")])
                .await;
            sent.unwrap();
            buf
        }
    });
    assert_eq!(&received[..], b"late bytes");
    assert_eq!(client.join().unwrap(), b"ok");
}

#[test]
fn a_vectored_send_delivers_every_chunk_in_order() {
    let _shared = shared_fds();
    let listener = TcpListener::bind_reuseport("127.0.0.1:0".parse().unwrap(), 16).unwrap();
    let addr = listener.local_addr().unwrap();
    let listener = std::sync::Mutex::new(Some(listener));
    let client = std::thread::spawn(move || {
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        let mut all = Vec::new();
        stream.read_to_end(&mut all).unwrap();
        all
    });
    run(move || {
        let listener = listener.lock().unwrap().take().unwrap();
        async move {
            let mut incoming = listener.incoming().unwrap();
            let mut stream = incoming.next().await.unwrap();
            // 100 chunks (more than one sendmsg takes) totalling 8 MiB: short writes happen.
            let chunks: Vec<bytes::Bytes> = (0..100u8)
                .map(|i| bytes::Bytes::from(vec![i; 80 * 1024 + i as usize]))
                .collect();
            let (sent, _) = stream.send_all(chunks).await;
            sent.unwrap();
        }
    });
    let all = client.join().unwrap();
    let mut offset = 0;
    for i in 0..100u8 {
        let len = 80 * 1024 + i as usize;
        assert!(
            all[offset..offset + len].iter().all(|&b| b == i),
            "chunk {i}"
        );
        offset += len;
    }
    assert_eq!(offset, all.len());
}

#[test]
fn dropping_an_accept_closes_connections_that_arrive_late() {
    let _shared = shared_fds();
    let listener = TcpListener::bind_reuseport("127.0.0.1:0".parse().unwrap(), 64).unwrap();
    let addr = listener.local_addr().unwrap();
    let listener = std::sync::Mutex::new(Some(listener));
    let clients = run(move || {
        let listener = listener.lock().unwrap().take().unwrap();
        async move {
            let incoming = listener.incoming().unwrap();
            let clients: Vec<_> = (0..20)
                .map(|_| std::net::TcpStream::connect(addr).unwrap())
                .collect();
            // Accepts complete in the kernel while nobody polls; then the accept is dropped.
            sleep(Duration::from_millis(20)).await;
            drop(incoming);
            sleep(Duration::from_millis(20)).await;
            clients
        }
    });
    // Every connection the kernel accepted for the dropped accept was closed by the driver
    // (a leaked fd would keep it open and this read would time out); the rest were reset when
    // the listener closed.
    for mut client in clients {
        client
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut byte = [0u8; 1];
        match client.read(&mut byte) {
            Ok(0) => {}
            Ok(_) => panic!("unexpected data"),
            Err(error) => assert_eq!(
                error.kind(),
                std::io::ErrorKind::ConnectionReset,
                "connection left open: {error}"
            ),
        }
    }
}

/// Runs `f` on this worker's io_uring driver; `None` on the epoll backend.
fn with_uring<R>(f: impl FnOnce(&mut driver::Driver) -> R) -> Option<R> {
    context::with_io(|io| match io {
        context::Io::Uring(driver) => Some(f(driver)),
        context::Io::Epoll(_) => None,
    })
}

/// Starts a one-worker runtime whose only task is `make()`; returns its output and how long
/// the runtime took to stop (drain included) once the task had finished.
fn run_timing_shutdown<T, F, Fut>(make: F) -> (T, Duration)
where
    T: Send + 'static,
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = T> + 'static,
{
    let (tx, rx) = mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    let config = RuntimeConfig {
        workers: 1,
        limits: RuntimeLimits::default(),
        shutdown_grace: Duration::from_secs(1),
        multishot: true,
    };
    let runtime = Runtime::start(config, move |_| {
        let future = make();
        let tx = tx.lock().unwrap().clone();
        async move {
            let _ = tx.send(future.await);
        }
    })
    .expect("runtime starts");
    let output = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("task finished");
    let stopping = Instant::now();
    runtime.join();
    (output, stopping.elapsed())
}

/// Well under the drain time, which a shutdown waiting for a completion that never comes
/// takes in full.
const PROMPT_SHUTDOWN: Duration =
    Duration::from_millis(driver::DRAIN_TIMEOUT.as_millis() as u64 / 2);

#[test]
fn a_failed_submission_leaves_no_slot_behind_and_shutdown_stays_prompt() {
    let _shared = shared_fds();
    let listener = TcpListener::bind_reuseport("127.0.0.1:0".parse().unwrap(), 16).unwrap();
    let addr = listener.local_addr().unwrap();
    let listener = std::sync::Mutex::new(Some(listener));
    let client = std::thread::spawn(move || {
        // On epoll the test ends at once and closes the listener, so the connection may be
        // refused; on io_uring the listener lives until the accept has it.
        if let Ok(mut stream) = std::net::TcpStream::connect(addr) {
            let mut rest = Vec::new();
            let _ = stream.read_to_end(&mut rest);
        }
    });
    let (outcome, stop_time) = run_timing_shutdown(move || {
        let listener = listener.lock().unwrap().take().unwrap();
        async move {
            with_uring(|_| ())?;
            // The accept's first submission fails: `incoming` reports it and keeps no slot.
            with_uring(|driver| driver.fail_next_pushes(1));
            let accept_refused = listener.incoming().is_err();
            let slots_after_accept = with_uring(|driver| driver.slot_count())?;
            let mut incoming = listener.incoming().unwrap();
            let mut stream = incoming.next().await.unwrap();
            drop(incoming);
            // The receive's submission fails: the read reports it, and dropping the stream
            // frees its slot instead of waiting for a completion that never comes.
            with_uring(|driver| driver.fail_next_pushes(1));
            let mut buf = bytes::BytesMut::new();
            let read_refused = stream.read(&mut buf).await.is_err();
            drop(stream);
            sleep(Duration::from_millis(50)).await;
            let slots_at_end = with_uring(|driver| driver.slot_count())?;
            Some((
                accept_refused,
                slots_after_accept,
                read_refused,
                slots_at_end,
            ))
        }
    });
    client.join().unwrap();
    let Some((accept_refused, slots_after_accept, read_refused, slots_at_end)) = outcome else {
        return; // epoll backend: no submission queue
    };
    assert!(accept_refused, "the accept's failed submission is reported");
    assert_eq!(
        slots_after_accept, 0,
        "a failed accept submission kept its slot"
    );
    assert!(read_refused, "the receive's failed submission is reported");
    assert_eq!(slots_at_end, 0, "a slot outlived its failed submission");
    assert!(stop_time < PROMPT_SHUTDOWN, "shutdown took {stop_time:?}");
}

#[test]
fn a_worker_exiting_with_a_receive_armed_on_a_leaked_stream_stops_promptly_and_keeps_nothing() {
    let _shared = shared_fds();
    let _kept = kept_count_lock();
    let listener = TcpListener::bind_reuseport("127.0.0.1:0".parse().unwrap(), 16).unwrap();
    let addr = listener.local_addr().unwrap();
    let listener = std::sync::Mutex::new(Some(listener));
    let (connected_tx, connected_rx) = mpsc::channel::<()>();
    let client = std::thread::spawn(move || {
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        // Bytes that arrive after the worker exited, for a receive nobody cancelled.
        let _ = connected_rx.recv();
        let _ = stream.write_all(b"late bytes");
    });
    let kept_before = driver::kept_for_the_kernel_count();
    let (armed, stop_time) = run_timing_shutdown(move || {
        let listener = listener.lock().unwrap().take().unwrap();
        async move {
            let mut incoming = listener.incoming().unwrap();
            let mut stream = incoming.next().await.unwrap();
            let mut buf = bytes::BytesMut::new();
            // Arms the receive, then leaks the stream: nothing cancels the receive but the
            // worker's teardown.
            let _ = timeout(Duration::from_millis(10), stream.read(&mut buf)).await;
            std::mem::forget(stream);
            with_uring(|driver| driver.in_flight())
        }
    });
    let _ = connected_tx.send(());
    client.join().unwrap();
    if armed.is_none() {
        return; // epoll backend: the kernel holds no memory of ours
    }
    assert!(
        armed > Some(1),
        "the receive and the eventfd read were in flight"
    );
    assert!(stop_time < PROMPT_SHUTDOWN, "shutdown took {stop_time:?}");
    assert_eq!(
        driver::kept_for_the_kernel_count(),
        kept_before,
        "teardown saw every final completion, so it kept no memory for the kernel"
    );
}

/// Enters the ring behind `ring` once to reap completions, which runs the work the kernel
/// still has for it (DEFER_TASKRUN defers that work until its issuer, this thread, enters).
fn enter_ring(ring: &OwnedFd) {
    const IORING_ENTER_GETEVENTS: libc::c_uint = 1;
    // SAFETY: io_uring_enter with no submissions, no wait and no argument pointer reads and
    // writes no memory of ours besides the rings the kernel mapped itself.
    let _ = unsafe {
        libc::syscall(
            libc::SYS_io_uring_enter,
            ring.as_raw_fd(),
            0,
            0,
            IORING_ENTER_GETEVENTS,
            std::ptr::null::<libc::c_void>(),
            0,
        )
    };
}

/// Arms a receive on a socket pair's first end (multishot into the buffer ring where the
/// driver has it, else single-shot) and submits it, then returns the pair and a second fd of
/// the ring, as a child forked meanwhile would hold it: the kernel then cancels nothing when
/// the driver closes its ring fd, which widens to forever the window in which it cancels
/// asynchronously.
fn arm_a_receive_and_hold_the_ring(
    driver: &mut driver::Driver,
) -> (
    std::os::unix::net::UnixStream,
    std::os::unix::net::UnixStream,
    OwnedFd,
) {
    let (ours, peer) = std::os::unix::net::UnixStream::pair().unwrap();
    let mut cx = Context::from_waker(Waker::noop());
    if driver.features().recv_multishot {
        let key = driver.start_recv_multi(ours.as_raw_fd());
        let mut out = bytes::BytesMut::new();
        assert!(driver.poll_recv_multi(key, &mut cx, &mut out).is_pending());
    } else {
        let buffer = bytes::BytesMut::with_capacity(64);
        driver.start_recv(ours.as_raw_fd(), buffer).unwrap();
    }
    drop(driver.turn(false, None).unwrap());
    assert_eq!(driver.in_flight(), 2, "the receive and the eventfd read");
    let ring = driver.ring_fd().try_clone_to_owned().unwrap();
    (ours, peer, ring)
}

/// Tears a driver on ring set-up `setup` down the way a worker does, with a receive armed on a
/// leaked stream (multishot into the buffer ring, or single-shot), then sends a remote wake
/// and peer bytes after it is gone, with the ring file held open past the driver. The kernel
/// must write nothing: the eventfd keeps its count and the socket its bytes.
fn a_late_wake_after_teardown_finds_nothing_to_write(setup: &'static str, multishot: bool) {
    let eventfd = sys::eventfd().unwrap();
    let limits = RuntimeLimits::default();
    let driver = driver::Driver::with_setups(&limits, eventfd.as_raw_fd(), multishot, &[setup]);
    let Ok(mut driver) = driver else {
        eprintln!("this kernel refuses the ring set-up {setup}; nothing to check");
        return;
    };
    let (ours, peer, ring) = arm_a_receive_and_hold_the_ring(&mut driver);

    let mut io = context::Io::Uring(driver);
    assert_eq!(io.drain(), 0, "teardown saw every final completion");
    drop(io);
    sys::eventfd_write(eventfd.as_raw_fd());
    (&peer).write_all(b"late").unwrap();
    enter_ring(&ring);

    let mut count = [0u8; 8];
    let read = std::fs::File::from(eventfd.as_fd().try_clone_to_owned().unwrap()).read(&mut count);
    assert!(
        read.is_ok(),
        "the kernel read the eventfd after teardown: {read:?}"
    );
    assert_eq!(u64::from_ne_bytes(count), 1);
    ours.set_nonblocking(true).unwrap();
    let mut bytes = [0u8; 16];
    let received = (&ours).read(&mut bytes);
    assert!(
        matches!(received, Ok(4)),
        "the kernel received into our memory after teardown: {received:?}"
    );
}

#[test]
fn a_late_wake_after_teardown_finds_nothing_to_write_on_default_flags() {
    a_late_wake_after_teardown_finds_nothing_to_write("none", true);
    a_late_wake_after_teardown_finds_nothing_to_write("none", false);
}

#[test]
fn a_late_wake_after_teardown_finds_nothing_to_write_on_coop_taskrun() {
    a_late_wake_after_teardown_finds_nothing_to_write("COOP_TASKRUN|TASKRUN_FLAG", true);
    a_late_wake_after_teardown_finds_nothing_to_write("COOP_TASKRUN|TASKRUN_FLAG", false);
}

#[test]
fn a_late_wake_after_teardown_finds_nothing_to_write_on_defer_taskrun() {
    let setup = "SINGLE_ISSUER|DEFER_TASKRUN|TASKRUN_FLAG";
    a_late_wake_after_teardown_finds_nothing_to_write(setup, true);
    a_late_wake_after_teardown_finds_nothing_to_write(setup, false);
}

#[test]
fn the_start_up_probe_ends_its_receive_by_its_cancel_not_by_closing_its_fds() {
    let eventfd = sys::eventfd().unwrap();
    let limits = RuntimeLimits::default();
    let Ok(mut driver) = driver::Driver::new(&limits, eventfd.as_raw_fd(), true) else {
        return; // io_uring refused here: nothing to probe
    };
    let probe = driver.probe_recv_multishot();
    if !probe.delivered {
        return; // no multishot receive on this kernel
    }
    assert_eq!(
        probe.final_result,
        Some(-libc::ECANCELED),
        "the probe's receive ended otherwise than by its cancel"
    );
    assert_eq!(driver.in_flight(), 1, "only the eventfd read is left");
}

#[test]
fn a_drain_that_times_out_keeps_the_memory_the_kernel_still_writes() {
    let _kept = kept_count_lock();
    let eventfd = sys::eventfd().unwrap();
    let limits = RuntimeLimits::default();
    let Ok(mut driver) = driver::Driver::new(&limits, eventfd.as_raw_fd(), true) else {
        return; // io_uring refused here
    };
    let (_ours, peer, ring) = arm_a_receive_and_hold_the_ring(&mut driver);
    // No cancel reaches the kernel, so the drain waits its full time in vain.
    driver.fail_next_pushes(usize::MAX);
    let kept_before = driver::kept_for_the_kernel_count();
    let mut io = context::Io::Uring(driver);
    assert_eq!(
        io.drain(),
        2,
        "the receive and the eventfd read are still armed"
    );
    drop(io);
    assert_eq!(driver::kept_for_the_kernel_count(), kept_before + 1);

    // The kernel still writes after the driver is gone, into the memory it kept. Under
    // AddressSanitizer this also shows the kept memory is not reported as a leak.
    sys::eventfd_write(eventfd.as_raw_fd());
    (&peer).write_all(b"late").unwrap();
    enter_ring(&ring);
    let mut count = [0u8; 8];
    let read = std::fs::File::from(eventfd.as_fd().try_clone_to_owned().unwrap()).read(&mut count);
    assert_eq!(
        read.map_err(|error| error.kind()).err(),
        Some(std::io::ErrorKind::WouldBlock),
        "the eventfd read was still armed and took the count"
    );
}
