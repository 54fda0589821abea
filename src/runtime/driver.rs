//! The io_uring driver of one worker: the ring, the table of operations in flight, and the
//! dispatch of completions to the futures waiting on them.
//!
//! Ownership rule: every buffer, iovec array or fd handed to the kernel lives in an `Op` slot
//! of this driver until the kernel's final completion for it arrives, also when the future that
//! asked for it was dropped (the slot is then marked orphaned and freed on completion). A late
//! accept completion for an orphaned accept closes its fd. The driver's own kernel-visible
//! memory (the provided-buffer ring, the eventfd read's target) follows the same rule:
//! teardown (`drain`) cancels everything still in flight and waits for each final completion,
//! and `Drop` frees that memory only if it saw them all, else keeps it for the life of the
//! process. Closing the ring is not enough: the kernel cancels its requests asynchronously.
//! Nothing here knows about HTTP. Tests: `src/runtime/tests.rs`.

use super::bufring::BufRing;
use bytes::{Bytes, BytesMut};
use io_uring::{IoUring, cqueue, opcode, squeue, types};
use slab::Slab;
use std::collections::VecDeque;
use std::io;
use std::os::fd::RawFd;
use std::sync::Mutex;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// user_data of the eventfd read that wakes a blocked worker.
const EVENTFD_KEY: u64 = u64::MAX;
/// user_data of fire-and-forget operations (cancel, close) whose completion nobody awaits.
const IGNORED_KEY: u64 = u64::MAX - 1;
/// user_data of the start-up probe's multishot receive.
const PROBE_KEY: u64 = u64::MAX - 2;
/// Buffer group id of the provided-buffer ring.
const BUFFER_GROUP: u16 = 0;
/// When this many accepted fds wait in an accept slot, the multishot accept is paused
/// (cancelled) until the accept loop drains them; the listen backlog holds the rest.
///
/// Fds the kernel accepted before the pause reached it are queued all the same, never closed:
/// their clients already see them established, so closing one would end a connection without
/// an answer (and the accept loop, which refuses beyond `connections_per_worker_max` with a
/// 503, would never see it). One multishot accept takes all that waits in the listen backlog
/// at once, so the queue can exceed this count by about one backlog; each entry is an fd the
/// kernel already allocated, and the accept loop drains them without waiting.
const ACCEPT_QUEUE_PAUSE_COUNT: usize = 256;
/// How long teardown waits for the kernel to return its last operations.
pub(crate) const DRAIN_TIMEOUT: Duration = Duration::from_secs(2);

/// The I/O backend a worker runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    IoUring,
    Epoll,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::IoUring => "io_uring",
            Backend::Epoll => "epoll",
        }
    }
}

/// What the start-up probe found and chose.
#[derive(Clone, Copy, Debug)]
pub struct Features {
    pub backend: Backend,
    /// Ring set-up flags that the kernel accepted ("none" on epoll).
    pub setup: &'static str,
    /// Multishot receive into the provided-buffer ring (else single-shot recv per connection).
    pub recv_multishot: bool,
    /// Multishot accept (else one accept at a time).
    pub accept_multishot: bool,
}

/// What the start-up probe of multishot receive saw.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct RecvProbe {
    /// A byte arrived in a provided buffer and the receive stayed armed.
    pub(crate) delivered: bool,
    /// The result of the receive's final completion, if it came before the probe's deadline.
    pub(crate) final_result: Option<i32>,
}

impl RecvProbe {
    /// Multishot receive works, and the probe's receive is over.
    fn works(self) -> bool {
        self.delivered && self.final_result.is_some()
    }
}

/// Memory the kernel may read or write while an operation is in flight.
///
/// Invariant: every address an SQE takes from an `OpData` lies inside a heap allocation the
/// value owns (the `BytesMut` buffer, the `Box<SendBuffers>` with its iovec `Vec`), never
/// inside the `OpData` itself, so moving the value (into its slot) moves no byte the kernel
/// sees. A new variant must keep that.
pub(crate) enum OpData {
    None,
    /// A single-shot receive into this buffer's spare capacity (fallback path).
    Recv(BytesMut),
    /// A vectored send.
    Send(Box<SendBuffers>),
}

/// The chunks of one `sendmsg` and the iovec/msghdr that point into them.
pub(crate) struct SendBuffers {
    pub(crate) chunks: Vec<Bytes>,
    iovecs: Vec<libc::iovec>,
    msghdr: libc::msghdr,
}

/// Most iovecs in one sendmsg (well under IOV_MAX).
const SEND_IOVECS_MAX: usize = 64;

/// Most spare `SendBuffers` a worker keeps for reuse (each is about 100 bytes plus its iovec
/// array), so a send does not allocate them anew.
pub(crate) const SEND_BUFFERS_POOL_MAX: usize = 256;

thread_local! {
    // Boxed on purpose: a send hands its box to the driver, whose address the kernel uses.
    #[allow(clippy::vec_box)]
    static SEND_BUFFERS_POOL: std::cell::RefCell<Vec<Box<SendBuffers>>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

impl SendBuffers {
    /// Send buffers for `chunks`, reused from this worker's pool when it has one.
    pub(crate) fn new(chunks: Vec<Bytes>) -> Box<SendBuffers> {
        let pooled = SEND_BUFFERS_POOL
            .try_with(|pool| pool.borrow_mut().pop())
            .ok()
            .flatten();
        match pooled {
            Some(mut buffers) => {
                buffers.chunks = chunks;
                buffers
            }
            None => Box::new(SendBuffers {
                chunks,
                iovecs: Vec::with_capacity(8),
                // SAFETY: an all-zero msghdr is a valid empty message header.
                msghdr: unsafe { std::mem::zeroed() },
            }),
        }
    }

    /// Takes the chunks back (emptied, capacity kept) and pools the rest (bounded by
    /// `SEND_BUFFERS_POOL_MAX`). Only for buffers the kernel no longer uses.
    pub(crate) fn recycle(mut self: Box<SendBuffers>) -> Vec<Bytes> {
        let mut chunks = std::mem::take(&mut self.chunks);
        chunks.clear();
        self.iovecs.clear();
        self.msghdr.msg_iov = std::ptr::null_mut();
        self.msghdr.msg_iovlen = 0;
        let _ = SEND_BUFFERS_POOL.try_with(|pool| {
            let mut pool = pool.borrow_mut();
            if pool.len() < SEND_BUFFERS_POOL_MAX {
                pool.push(self);
            }
        });
        chunks
    }

    #[cfg(test)]
    pub(crate) fn pooled() -> usize {
        SEND_BUFFERS_POOL.with(|pool| pool.borrow().len())
    }

    /// Drops `sent` bytes from the front (after a short write).
    pub(crate) fn advance(&mut self, mut sent: usize) {
        let mut consumed = 0;
        for chunk in &mut self.chunks {
            if sent >= chunk.len() {
                sent -= chunk.len();
                consumed += 1;
            } else {
                let _ = chunk.split_to(sent);
                break;
            }
        }
        self.chunks.drain(..consumed);
    }

    pub(crate) fn remaining(&self) -> usize {
        self.chunks.iter().map(Bytes::len).sum()
    }

    fn prepare(&mut self) -> *const libc::msghdr {
        self.iovecs.clear();
        for chunk in self
            .chunks
            .iter()
            .filter(|c| !c.is_empty())
            .take(SEND_IOVECS_MAX)
        {
            self.iovecs.push(libc::iovec {
                iov_base: chunk.as_ptr() as *mut libc::c_void,
                iov_len: chunk.len(),
            });
        }
        self.msghdr.msg_iov = self.iovecs.as_mut_ptr();
        self.msghdr.msg_iovlen = self.iovecs.len() as _;
        &self.msghdr
    }
}

enum Op {
    Single {
        result: Option<(i32, u32)>,
        waker: Option<Waker>,
        data: OpData,
        orphaned: bool,
    },
    Accept {
        ready: VecDeque<RawFd>,
        error: Option<i32>,
        armed: bool,
        waker: Option<Waker>,
        orphaned: bool,
        /// A cancel was sent because `ready` reached the pause count; re-armed once drained.
        pausing: bool,
        listener: RawFd,
    },
    Recv {
        data: BytesMut,
        eof: bool,
        error: Option<i32>,
        armed: bool,
        cancelling: bool,
        waker: Option<Waker>,
        orphaned: bool,
        fd: RawFd,
    },
}

impl Op {
    /// The kernel still holds this operation: its final completion has not been seen.
    fn in_kernel(&self) -> bool {
        match self {
            Op::Single { result, .. } => result.is_none(),
            Op::Accept { armed, .. } | Op::Recv { armed, .. } => *armed,
        }
    }
}

pub(crate) struct Driver {
    ring: IoUring,
    ops: Slab<Op>,
    /// Freed only when no receive that selects from it is in flight (see `Drop`).
    bufs: Option<BufRing>,
    features: Features,
    eventfd: RawFd,
    /// Target of the eventfd read, which the kernel may write while `eventfd_armed`.
    eventfd_value: Box<u64>,
    /// The eventfd read is in the kernel (queued, final completion not seen yet).
    eventfd_armed: bool,
    /// Teardown has begun: the eventfd read is no longer re-armed.
    stopping: bool,
    /// The start-up probe's receive is in the kernel (its final completion came late).
    probe_armed: bool,
    recv_pending_bytes_max: usize,
    woken: Vec<Waker>,
    /// Test hook: this many pushes still fail as if the submission queue stayed full.
    #[cfg(test)]
    failing_pushes: usize,
}

/// Set-up flag combinations, most wanted first.
const SETUPS: [&str; 3] = [
    "SINGLE_ISSUER|DEFER_TASKRUN|TASKRUN_FLAG",
    "COOP_TASKRUN|TASKRUN_FLAG",
    "none",
];

fn build_ring(entries: u32, setups: &[&'static str]) -> io::Result<(IoUring, &'static str)> {
    let mut last_error = None;
    for &setup in setups {
        let mut builder = IoUring::builder();
        match setup {
            "SINGLE_ISSUER|DEFER_TASKRUN|TASKRUN_FLAG" => {
                builder
                    .setup_single_issuer()
                    .setup_defer_taskrun()
                    .setup_taskrun_flag();
            }
            "COOP_TASKRUN|TASKRUN_FLAG" => {
                builder.setup_coop_taskrun().setup_taskrun_flag();
            }
            _ => {}
        }
        builder.setup_cqsize(entries.saturating_mul(4));
        match builder.build(entries) {
            Ok(ring) => return Ok((ring, setup)),
            Err(error) => last_error = Some(error),
        }
    }
    Err(last_error.unwrap_or_else(|| io::Error::other("io_uring set-up failed")))
}

const REQUIRED_OPCODES: [(u8, &str); 6] = [
    (opcode::Accept::CODE, "accept"),
    (opcode::Recv::CODE, "recv"),
    (opcode::SendMsg::CODE, "sendmsg"),
    (opcode::AsyncCancel::CODE, "async_cancel"),
    (opcode::Close::CODE, "close"),
    (opcode::Read::CODE, "read"),
];

impl Features {
    pub(crate) const EPOLL: Features = Features {
        backend: Backend::Epoll,
        setup: "none",
        recv_multishot: false,
        accept_multishot: false,
    };
}

impl Driver {
    /// Builds the ring and probes the kernel; `multishot: false` forces the single-shot paths.
    pub(crate) fn new(
        limits: &crate::limits::RuntimeLimits,
        eventfd: RawFd,
        multishot: bool,
    ) -> io::Result<Driver> {
        Driver::with_setups(limits, eventfd, multishot, &SETUPS)
    }

    /// As `new`, trying only the given `SETUPS` entries (tests pin one set-up this way).
    pub(crate) fn with_setups(
        limits: &crate::limits::RuntimeLimits,
        eventfd: RawFd,
        multishot: bool,
        setups: &[&'static str],
    ) -> io::Result<Driver> {
        let (ring, setup) = build_ring(limits.ring_entries_count, setups)?;
        if !ring.params().is_feature_ext_arg() {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "io_uring lacks IORING_FEAT_EXT_ARG (kernel older than 5.11)",
            ));
        }
        let mut probe = io_uring::Probe::new();
        ring.submitter().register_probe(&mut probe)?;
        for (code, name) in REQUIRED_OPCODES {
            if !probe.is_supported(code) {
                return Err(io::Error::new(
                    io::ErrorKind::Unsupported,
                    format!("io_uring lacks the {name} operation"),
                ));
            }
        }
        // The provided-buffer ring exists only for multishot receive (allocated only then).
        let bufs = multishot
            .then(|| {
                BufRing::new(
                    limits.recv_buffer_count,
                    limits.recv_buffer_bytes,
                    BUFFER_GROUP,
                )
            })
            .filter(|bufs| {
                // SAFETY: the ring memory lives in `bufs`, which the driver frees only after it
                // has seen the final completion of every receive that may select from it, and
                // otherwise keeps for the life of the process (`Drop`), so the kernel never
                // reads a freed entry or writes a freed buffer.
                unsafe {
                    ring.submitter().register_buf_ring_with_flags(
                        bufs.ring_addr(),
                        bufs.count(),
                        bufs.group,
                        0,
                    )
                }
                .is_ok()
            });
        let registered = bufs.is_some();
        let mut driver = Driver {
            ring,
            ops: Slab::with_capacity(1024),
            bufs,
            features: Features {
                backend: Backend::IoUring,
                setup,
                recv_multishot: false,
                accept_multishot: registered,
            },
            eventfd,
            eventfd_value: Box::new(0),
            eventfd_armed: false,
            stopping: false,
            probe_armed: false,
            recv_pending_bytes_max: limits.recv_pending_bytes_max,
            woken: Vec::new(),
            #[cfg(test)]
            failing_pushes: 0,
        };
        driver.features.recv_multishot = registered && driver.probe_recv_multishot().works();
        driver.arm_eventfd();
        Ok(driver)
    }

    pub(crate) fn features(&self) -> Features {
        self.features
    }

    /// Tries a multishot receive on a socketpair. The probe then cancels its receive while both
    /// fds are still open and waits for the final completion, so the receive ends by that
    /// cancel and not by the end of stream that closing the pair would cause. A final
    /// completion later than the probe's deadline is left to teardown (`probe_armed`).
    pub(crate) fn probe_recv_multishot(&mut self) -> RecvProbe {
        let mut probe = RecvProbe::default();
        let mut fds = [0 as RawFd; 2];
        // SAFETY: passes a live two-element array for the new fds, as socketpair(2) requires.
        let created = unsafe {
            libc::socketpair(
                libc::AF_UNIX,
                libc::SOCK_STREAM | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
                0,
                fds.as_mut_ptr(),
            )
        };
        if created != 0 {
            return probe;
        }
        let entry = opcode::RecvMulti::new(types::Fd(fds[0]), BUFFER_GROUP)
            .build()
            .user_data(PROBE_KEY);
        if self.push(entry).is_ok() {
            self.probe_armed = true;
            let byte = [1u8];
            // SAFETY: writes one byte from a live local array to our own socket.
            unsafe { libc::write(fds[1], byte.as_ptr().cast(), 1) };
            let _ = self.ring.submit_and_wait(1);
            self.reap_probe(&mut probe);
            if self.probe_armed {
                let cancel = opcode::AsyncCancel::new(PROBE_KEY)
                    .build()
                    .user_data(IGNORED_KEY);
                let _ = self.push(cancel);
            }
            let deadline = Instant::now() + Duration::from_millis(500);
            while self.probe_armed && Instant::now() < deadline {
                let ts = types::Timespec::from(Duration::from_millis(50));
                let args = types::SubmitArgs::new().timespec(&ts);
                let _ = self.ring.submitter().submit_with_args(1, &args);
                self.reap_probe(&mut probe);
            }
        }
        sys_close_pair(fds);
        probe
    }

    /// Takes the probe's completions off the ring (nothing else is in flight during the probe).
    fn reap_probe(&mut self, probe: &mut RecvProbe) {
        let completions: Vec<(i32, u32)> = self
            .ring
            .completion()
            .filter(|cqe| cqe.user_data() == PROBE_KEY)
            .map(|cqe| (cqe.result(), cqe.flags()))
            .collect();
        for (res, flags) in completions {
            let more = cqueue::more(flags);
            probe.delivered |= res == 1 && more && cqueue::buffer_select(flags).is_some();
            if !more {
                probe.final_result = Some(res);
            }
            self.complete_probe(flags);
        }
    }

    /// A completion of the probe's receive: its buffer goes back; the final one ends it.
    fn complete_probe(&mut self, flags: u32) {
        self.recycle_buffer(flags);
        if !cqueue::more(flags) {
            self.probe_armed = false;
        }
    }

    fn arm_eventfd(&mut self) {
        let buf: *mut u64 = &mut *self.eventfd_value;
        let entry = opcode::Read::new(types::Fd(self.eventfd), buf.cast(), 8)
            .build()
            .user_data(EVENTFD_KEY);
        // A full queue is flushed inside push; a second failure means the ring is unusable,
        // and the next wait will report it.
        self.eventfd_armed = self.push(entry).is_ok();
    }

    /// Queues one SQE, flushing the submission queue first if it is full.
    fn push(&mut self, entry: squeue::Entry) -> io::Result<()> {
        #[cfg(test)]
        if self.failing_pushes > 0 {
            self.failing_pushes -= 1;
            return Err(io::Error::other(
                "io_uring submission queue full (test hook)",
            ));
        }
        // SAFETY: every entry built by this driver points only at memory owned by an `Op`
        // slot, `bufs` or `eventfd_value`, none of which is freed before the operation's
        // final completion (`Drop` keeps it for good otherwise), per the module invariant.
        if unsafe { self.ring.submission().push(&entry) }.is_ok() {
            return Ok(());
        }
        self.ring.submit()?;
        // SAFETY: as above.
        unsafe { self.ring.submission().push(&entry) }
            .map_err(|_| io::Error::other("io_uring submission queue full"))
    }

    /// Operations the kernel still holds (final completion not seen yet), the eventfd read
    /// included: while this is not zero, memory the kernel may write must stay allocated.
    pub(crate) fn in_flight(&self) -> usize {
        let ops = self.ops.iter().filter(|(_, op)| op.in_kernel()).count();
        ops + usize::from(self.eventfd_armed) + usize::from(self.probe_armed)
    }

    /// Teardown: stops re-arming the eventfd read, cancels every operation the kernel still
    /// holds (the eventfd read; a receive whose socket was closed without a cancel; those of
    /// leaked futures) and waits up to `DRAIN_TIMEOUT` for their final completions. Returns
    /// how many are still in the kernel; `Drop` then keeps their memory for good.
    pub(crate) fn drain(&mut self) -> usize {
        self.stopping = true;
        let mut keys: Vec<u64> = self
            .ops
            .iter()
            .filter(|(_, op)| op.in_kernel())
            .map(|(key, _)| key as u64)
            .collect();
        if self.eventfd_armed {
            keys.push(EVENTFD_KEY);
        }
        if self.probe_armed {
            keys.push(PROBE_KEY);
        }
        for key in keys {
            let cancel = opcode::AsyncCancel::new(key).build().user_data(IGNORED_KEY);
            if self.push(cancel).is_err() {
                break;
            }
        }
        let deadline = Instant::now() + DRAIN_TIMEOUT;
        while self.in_flight() > 0 && Instant::now() < deadline {
            match self.turn(true, Some(Duration::from_millis(20))) {
                Ok(wakers) => drop(wakers),
                Err(_) => break,
            }
        }
        self.in_flight()
    }

    /// The ring's fd (tests hold it open past the driver to widen the window in which the
    /// kernel could still act on a closed ring).
    #[cfg(test)]
    pub(crate) fn ring_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        use std::os::fd::AsRawFd;
        // SAFETY: the ring keeps its fd open for as long as it lives, and the returned borrow
        // cannot outlive `self`, which owns the ring.
        unsafe { std::os::fd::BorrowedFd::borrow_raw(self.ring.as_raw_fd()) }
    }

    /// Slots in the table, in flight or not (for tests of slot hygiene).
    #[cfg(test)]
    pub(crate) fn slot_count(&self) -> usize {
        self.ops.len()
    }

    /// Makes the next `count` pushes fail as a full submission queue whose flush failed would.
    #[cfg(test)]
    pub(crate) fn fail_next_pushes(&mut self, count: usize) {
        self.failing_pushes = count;
    }

    // ----- single-shot operations -----

    /// Starts a single-shot operation; `build` receives the operation's data and returns the
    /// SQE. `build` runs on `data` before it moves into its slot: the addresses it takes stay
    /// valid through that move because they point into heap allocations `data` owns (see the
    /// invariant on `OpData`), which the slot keeps until the final completion.
    pub(crate) fn start_single(
        &mut self,
        mut data: OpData,
        build: impl FnOnce(&mut OpData) -> squeue::Entry,
    ) -> io::Result<usize> {
        let entry = build(&mut data);
        let key = self.ops.insert(Op::Single {
            result: None,
            waker: None,
            data,
            orphaned: false,
        });
        if let Err(error) = self.push(entry.user_data(key as u64)) {
            self.ops.remove(key);
            return Err(error);
        }
        Ok(key)
    }

    pub(crate) fn start_send(&mut self, fd: RawFd, buffers: Box<SendBuffers>) -> io::Result<usize> {
        self.start_single(OpData::Send(buffers), |data| {
            let OpData::Send(buffers) = data else {
                unreachable!("start_send always passes OpData::Send")
            };
            let msghdr = buffers.prepare();
            // One chunk (a head with its body inlined, the common case): a plain send, which
            // spares the kernel copying in the msghdr and the iovec array.
            // SAFETY: `prepare` just pointed msg_iov at `iovlen` valid entries of
            // `buffers.iovecs`, a heap array inside the box, which neither moves when the box
            // moves into its slot nor is freed before the completion.
            let single = unsafe {
                let header = &*msghdr;
                (header.msg_iovlen == 1).then(|| *header.msg_iov)
            }
            .filter(|iovec| u32::try_from(iovec.iov_len).is_ok());
            match single {
                Some(iovec) => opcode::Send::new(
                    types::Fd(fd),
                    iovec.iov_base as *const u8,
                    iovec.iov_len as u32,
                )
                .flags(libc::MSG_NOSIGNAL)
                .build(),
                None => opcode::SendMsg::new(types::Fd(fd), msghdr)
                    .flags(libc::MSG_NOSIGNAL as u32)
                    .build(),
            }
        })
    }

    pub(crate) fn start_recv(&mut self, fd: RawFd, mut buffer: BytesMut) -> io::Result<usize> {
        const RECV_BYTES: usize = 8192;
        buffer.reserve(RECV_BYTES);
        self.start_single(OpData::Recv(buffer), |data| {
            let OpData::Recv(buffer) = data else {
                unreachable!("start_recv always passes OpData::Recv")
            };
            let spare = buffer.spare_capacity_mut();
            opcode::Recv::new(types::Fd(fd), spare.as_mut_ptr().cast(), spare.len() as u32).build()
        })
    }

    /// Polls a single-shot operation; on completion frees the slot and returns result, flags
    /// and the data handed to the kernel.
    pub(crate) fn poll_single(&mut self, key: usize, cx: &mut Context<'_>) -> Poll<(i32, OpData)> {
        let Some(Op::Single { result, waker, .. }) = self.ops.get_mut(key) else {
            return Poll::Ready((-libc::ECANCELED, OpData::None));
        };
        match result {
            Some(_) => {
                let Op::Single { result, data, .. } = self.ops.remove(key) else {
                    unreachable!("slot kind checked above")
                };
                let (res, _flags) = result.unwrap_or((-libc::ECANCELED, 0));
                Poll::Ready((res, data))
            }
            None => {
                set_waker(waker, cx);
                Poll::Pending
            }
        }
    }

    /// The future of a single-shot operation was dropped: free now if done, else orphan the
    /// slot (its data stays alive until the kernel's completion) and ask the kernel to cancel.
    pub(crate) fn drop_single(&mut self, key: usize) {
        let Some(Op::Single {
            result, orphaned, ..
        }) = self.ops.get_mut(key)
        else {
            return;
        };
        if result.is_some() {
            self.ops.remove(key);
            return;
        }
        *orphaned = true;
        let cancel = opcode::AsyncCancel::new(key as u64)
            .build()
            .user_data(IGNORED_KEY);
        let _ = self.push(cancel);
    }

    // ----- accept -----

    pub(crate) fn start_accept(&mut self, listener: RawFd) -> io::Result<usize> {
        let key = self.ops.insert(Op::Accept {
            ready: VecDeque::new(),
            error: None,
            armed: false,
            waker: None,
            orphaned: false,
            pausing: false,
            listener,
        });
        if let Err(error) = self.arm_accept(key) {
            // Nothing reached the kernel: the slot goes with the error.
            self.ops.remove(key);
            return Err(error);
        }
        Ok(key)
    }

    /// Submits the accept of slot `key`; the slot counts as armed only once the entry is queued.
    fn arm_accept(&mut self, key: usize) -> io::Result<()> {
        let Some(Op::Accept { listener, .. }) = self.ops.get(key) else {
            return Ok(());
        };
        let fd = types::Fd(*listener);
        let flags = libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK;
        let entry = if self.features.accept_multishot {
            opcode::AcceptMulti::new(fd).flags(flags).build()
        } else {
            opcode::Accept::new(fd, std::ptr::null_mut(), std::ptr::null_mut())
                .flags(flags)
                .build()
        };
        self.push(entry.user_data(key as u64))?;
        if let Some(Op::Accept { armed, .. }) = self.ops.get_mut(key) {
            *armed = true;
        }
        Ok(())
    }

    pub(crate) fn poll_accept(
        &mut self,
        key: usize,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<RawFd>> {
        let Some(Op::Accept {
            ready,
            error,
            armed,
            waker,
            ..
        }) = self.ops.get_mut(key)
        else {
            return Poll::Ready(Err(io::Error::other("accept slot missing")));
        };
        if let Some(fd) = ready.pop_front() {
            return Poll::Ready(Ok(fd));
        }
        if let Some(code) = error.take() {
            return Poll::Ready(Err(io::Error::from_raw_os_error(code)));
        }
        set_waker(waker, cx);
        if !*armed && let Err(error) = self.arm_accept(key) {
            return Poll::Ready(Err(error));
        }
        Poll::Pending
    }

    /// Stops accepting: queued fds are closed, the kernel operation is cancelled, and the slot
    /// is freed when its final completion arrives (late fds are closed then too).
    pub(crate) fn drop_accept(&mut self, key: usize) {
        let Some(Op::Accept {
            ready,
            armed,
            orphaned,
            ..
        }) = self.ops.get_mut(key)
        else {
            return;
        };
        ready.drain(..).for_each(super::sys::close);
        if !*armed {
            self.ops.remove(key);
            return;
        }
        *orphaned = true;
        let cancel = opcode::AsyncCancel::new(key as u64)
            .build()
            .user_data(IGNORED_KEY);
        let _ = self.push(cancel);
    }

    // ----- multishot receive -----

    pub(crate) fn start_recv_multi(&mut self, fd: RawFd) -> usize {
        self.ops.insert(Op::Recv {
            data: BytesMut::new(),
            eof: false,
            error: None,
            armed: false,
            cancelling: false,
            waker: None,
            orphaned: false,
            fd,
        })
    }

    /// Moves received bytes into `out`. `Ready(Ok(0))` is end of stream.
    pub(crate) fn poll_recv_multi(
        &mut self,
        key: usize,
        cx: &mut Context<'_>,
        out: &mut BytesMut,
    ) -> Poll<io::Result<usize>> {
        let Some(Op::Recv {
            data,
            eof,
            error,
            armed,
            cancelling,
            waker,
            fd,
            ..
        }) = self.ops.get_mut(key)
        else {
            return Poll::Ready(Err(io::Error::other("receive slot missing")));
        };
        if !data.is_empty() {
            let n = data.len();
            if out.is_empty() {
                std::mem::swap(out, data);
            } else {
                out.extend_from_slice(data);
                data.clear();
            }
            return Poll::Ready(Ok(n));
        }
        if let Some(code) = error.take() {
            *eof = true;
            return Poll::Ready(Err(io::Error::from_raw_os_error(code)));
        }
        if *eof {
            return Poll::Ready(Ok(0));
        }
        set_waker(waker, cx);
        if *armed || *cancelling {
            return Poll::Pending;
        }
        let entry = opcode::RecvMulti::new(types::Fd(*fd), BUFFER_GROUP)
            .build()
            .user_data(key as u64);
        // Armed only once queued: a slot whose submission failed is not waited for.
        if let Err(error) = self.push(entry) {
            return Poll::Ready(Err(error));
        }
        if let Some(Op::Recv { armed, .. }) = self.ops.get_mut(key) {
            *armed = true;
        }
        Poll::Pending
    }

    /// The connection is gone: cancel its receive; the slot is freed on the final completion.
    pub(crate) fn drop_recv_multi(&mut self, key: usize) {
        let Some(Op::Recv {
            armed, orphaned, ..
        }) = self.ops.get_mut(key)
        else {
            return;
        };
        if !*armed {
            self.ops.remove(key);
            return;
        }
        *orphaned = true;
        // The fd-wide cancel issued by `close_socket` reaches this operation too.
    }

    /// Cancels every operation on `fd`, then closes it (hard-linked so the close runs only
    /// after the cancel, and the fd number cannot be reused while operations still name it).
    pub(crate) fn close_socket(&mut self, fd: RawFd) {
        let cancel = opcode::AsyncCancel2::new(types::CancelBuilder::fd(types::Fd(fd)).all())
            .build()
            .flags(squeue::Flags::IO_HARDLINK)
            .user_data(IGNORED_KEY);
        let close = opcode::Close::new(types::Fd(fd))
            .build()
            .user_data(IGNORED_KEY);
        // Both must land in the same submission batch for the link to hold.
        let free = {
            let sq = self.ring.submission();
            sq.capacity() - sq.len()
        };
        if free < 2 && self.ring.submit().is_err() {
            super::sys::close(fd);
            return;
        }
        if self.push(cancel).is_err() || self.push(close).is_err() {
            super::sys::close(fd);
        }
    }

    // ----- the loop -----

    /// Submits queued SQEs and, when `wait` is set, blocks until a completion arrives or
    /// `timeout` passes. Then dispatches every completion and returns the wakers to call.
    pub(crate) fn turn(&mut self, wait: bool, timeout: Option<Duration>) -> io::Result<Vec<Waker>> {
        let submitted = match (wait, timeout) {
            (false, _) => self.ring.submit_and_wait(0),
            (true, None) => self.ring.submit_and_wait(1),
            (true, Some(timeout)) => {
                let ts = types::Timespec::from(timeout);
                let args = types::SubmitArgs::new().timespec(&ts);
                self.ring.submitter().submit_with_args(1, &args)
            }
        };
        match submitted {
            Ok(_) => {}
            Err(error)
                if matches!(
                    error.raw_os_error(),
                    Some(libc::ETIME) | Some(libc::EINTR) | Some(libc::EBUSY) | Some(libc::EAGAIN)
                ) => {}
            Err(error) => return Err(error),
        }
        self.dispatch();
        Ok(std::mem::take(&mut self.woken))
    }

    /// Gives back the (now empty) waker list so its allocation is reused.
    pub(crate) fn recycle_wakers(&mut self, mut wakers: Vec<Waker>) {
        wakers.clear();
        if self.woken.capacity() < wakers.capacity() {
            self.woken = wakers;
        }
    }

    fn dispatch(&mut self) {
        let mut rearm_eventfd = false;
        loop {
            let cqe = {
                let mut completion = self.ring.completion();
                completion.sync();
                match completion.next() {
                    Some(cqe) => cqe,
                    None => break,
                }
            };
            match cqe.user_data() {
                EVENTFD_KEY => {
                    self.eventfd_armed = false;
                    rearm_eventfd = !self.stopping;
                }
                IGNORED_KEY => {}
                PROBE_KEY => self.complete_probe(cqe.flags()),
                key => self.complete(key as usize, cqe.result(), cqe.flags()),
            }
        }
        if rearm_eventfd {
            self.arm_eventfd();
        }
    }

    fn complete(&mut self, key: usize, res: i32, flags: u32) {
        let more = cqueue::more(flags);
        let Some(op) = self.ops.get_mut(key) else {
            // A buffer may still ride on a completion for a slot we no longer know.
            self.recycle_buffer(flags);
            return;
        };
        match op {
            Op::Single {
                result,
                waker,
                orphaned,
                ..
            } => {
                if *orphaned {
                    self.ops.remove(key);
                    return;
                }
                *result = Some((res, flags));
                if let Some(waker) = waker.take() {
                    self.woken.push(waker);
                }
            }
            Op::Accept {
                ready,
                error,
                armed,
                waker,
                orphaned,
                pausing,
                ..
            } => {
                *armed = more;
                if !more {
                    *pausing = false;
                }
                if res >= 0 {
                    if *orphaned {
                        super::sys::close(res);
                    } else {
                        ready.push_back(res);
                    }
                } else if res != -libc::ECANCELED && !*orphaned {
                    *error = Some(-res);
                }
                if *orphaned && !more {
                    self.ops.remove(key);
                    return;
                }
                let pause = more && !*pausing && ready.len() >= ACCEPT_QUEUE_PAUSE_COUNT;
                if pause {
                    *pausing = true;
                }
                if let Some(waker) = waker.take() {
                    self.woken.push(waker);
                }
                if pause {
                    let cancel = opcode::AsyncCancel::new(key as u64)
                        .build()
                        .user_data(IGNORED_KEY);
                    let _ = self.push(cancel);
                }
            }
            Op::Recv { .. } => self.complete_recv(key, res, flags),
        }
    }

    fn complete_recv(&mut self, key: usize, res: i32, flags: u32) {
        let more = cqueue::more(flags);
        let bid = cqueue::buffer_select(flags);
        let Some(Op::Recv {
            data,
            eof,
            error,
            armed,
            cancelling,
            waker,
            orphaned,
            ..
        }) = self.ops.get_mut(key)
        else {
            return;
        };
        let mut cancel = false;
        if res > 0 {
            if let (Some(bid), Some(bufs), false) = (bid, self.bufs.as_ref(), *orphaned) {
                data.extend_from_slice(bufs.filled(bid, res as usize));
                cancel = more && !*cancelling && data.len() > self.recv_pending_bytes_max;
            }
        } else if res == 0 {
            *eof = true;
        } else if res != -libc::ENOBUFS && res != -libc::ECANCELED {
            *error = Some(-res);
        }
        if !more {
            *armed = false;
            *cancelling = false;
        }
        if cancel {
            *cancelling = true;
        }
        let finished = *orphaned && !more;
        let waker = waker.take();
        if let (Some(bid), Some(bufs)) = (bid, self.bufs.as_mut()) {
            bufs.recycle(bid);
        }
        if finished {
            self.ops.remove(key);
            return;
        }
        if cancel {
            // Backpressure: the reader is behind; stop the kernel filling buffers for it.
            let entry = opcode::AsyncCancel::new(key as u64)
                .build()
                .user_data(IGNORED_KEY);
            let _ = self.push(entry);
        }
        if let Some(waker) = waker {
            self.woken.push(waker);
        }
    }

    fn recycle_buffer(&mut self, flags: u32) {
        if let (Some(bid), Some(bufs)) = (cqueue::buffer_select(flags), self.bufs.as_mut()) {
            bufs.recycle(bid);
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // The worker drains before exiting; a driver dropped otherwise (a panicking worker, a
        // test) drains here.
        if !self.stopping {
            self.drain();
        }
        let in_flight = self.in_flight();
        if in_flight == 0 {
            // Every final completion was seen: nothing selects from the group any more.
            if let Some(bufs) = &self.bufs {
                let _ = self.ring.submitter().unregister_buf_ring(bufs.group);
            }
            return;
        }
        // The kernel may still write this memory, also after the ring closes (it cancels
        // asynchronously): keep it rather than free it.
        tracing::warn!(
            in_flight,
            "io_uring driver dropped with operations in flight; keeping their memory"
        );
        keep_for_the_kernel(KeptForTheKernel {
            _ops: std::mem::take(&mut self.ops),
            _bufs: self.bufs.take(),
            _eventfd_value: std::mem::replace(&mut self.eventfd_value, Box::new(0)),
        });
    }
}

/// What a driver whose drain timed out could not free: the kernel may still write it.
struct KeptForTheKernel {
    _ops: Slab<Op>,
    _bufs: Option<BufRing>,
    _eventfd_value: Box<u64>,
}

/// Addresses of `KeptForTheKernel` values, never freed. Held here so the memory stays
/// reachable (LeakSanitizer reports only unreachable memory, so any report stays a real
/// leak); at most one entry per worker whose drain timed out, each logged by `Drop`.
static KEPT_FOR_THE_KERNEL: Mutex<Vec<usize>> = Mutex::new(Vec::new());

fn keep_for_the_kernel(kept: KeptForTheKernel) {
    let address = Box::into_raw(Box::new(kept)).expose_provenance();
    KEPT_FOR_THE_KERNEL
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(address);
}

/// How many drivers kept memory for the kernel at teardown (for tests).
#[cfg(test)]
pub(crate) fn kept_for_the_kernel_count() -> usize {
    KEPT_FOR_THE_KERNEL
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .len()
}

fn set_waker(slot: &mut Option<Waker>, cx: &Context<'_>) {
    match slot {
        Some(waker) if waker.will_wake(cx.waker()) => {}
        _ => *slot = Some(cx.waker().clone()),
    }
}

fn sys_close_pair(fds: [RawFd; 2]) {
    super::sys::close(fds[0]);
    super::sys::close(fds[1]);
}
