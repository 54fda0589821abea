//! The epoll backend: the same worker model as the io_uring driver, for hosts where io_uring
//! is refused (seccomp, `kernel.io_uring_disabled`) or forced off with `KILN_BACKEND=epoll`.
//!
//! Readiness-based and edge-triggered: each socket is registered once for in, out and hang-up;
//! an operation is tried at once, and only when the kernel answers EAGAIN does its future store
//! a waker and clear the readiness flag, which the next edge sets again. Nothing is ever lent
//! to the kernel across calls, so there is nothing in flight to drain. No HTTP here.

use bytes::{Bytes, BytesMut};
use slab::Slab;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

/// Token of the worker's eventfd (remote wakes).
const EVENTFD_TOKEN: u64 = u64::MAX;
/// Events fetched per epoll_wait.
const EVENTS_PER_WAIT_COUNT: usize = 1024;
/// Bytes asked of the kernel per receive (into the worker's scratch buffer).
const RECV_BYTES: usize = 16 * 1024;
/// Most iovecs per writev.
const SEND_IOVECS_MAX: usize = 64;

struct Registration {
    readable: bool,
    writable: bool,
    read_waker: Option<Waker>,
    write_waker: Option<Waker>,
}

pub(crate) struct EpollDriver {
    epoll: OwnedFd,
    registrations: Slab<Registration>,
    eventfd: RawFd,
    events: Vec<libc::epoll_event>,
    woken: Vec<Waker>,
    /// Receives land here and only the bytes that arrived are copied to the connection, so
    /// an idle connection holds no receive buffer (as with io_uring's provided buffers).
    scratch: Box<[u8]>,
}

fn check(result: libc::c_int) -> io::Result<libc::c_int> {
    if result < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(result)
    }
}

fn check_size(result: isize) -> io::Result<usize> {
    if result < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(result as usize)
    }
}

fn would_block(error: &io::Error) -> bool {
    error.kind() == io::ErrorKind::WouldBlock
}

impl EpollDriver {
    pub(crate) fn new(eventfd: RawFd) -> io::Result<EpollDriver> {
        // SAFETY: epoll_create1 takes no pointers; a non-negative result is a new fd we own.
        let fd = check(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) })?;
        // SAFETY: `fd` was just created and is owned by nobody else.
        let epoll = unsafe { OwnedFd::from_raw_fd(fd) };
        let driver = EpollDriver {
            epoll,
            registrations: Slab::with_capacity(1024),
            eventfd,
            events: Vec::with_capacity(EVENTS_PER_WAIT_COUNT),
            woken: Vec::new(),
            scratch: vec![0; RECV_BYTES].into_boxed_slice(),
        };
        // Level-triggered: the eventfd is drained whenever it fires.
        driver.control(
            libc::EPOLL_CTL_ADD,
            eventfd,
            libc::EPOLLIN as u32,
            EVENTFD_TOKEN,
        )?;
        Ok(driver)
    }

    fn control(&self, op: libc::c_int, fd: RawFd, events: u32, token: u64) -> io::Result<()> {
        let mut event = libc::epoll_event { events, u64: token };
        // SAFETY: passes a live epoll_event; the kernel copies it before returning.
        check(unsafe { libc::epoll_ctl(self.epoll.as_raw_fd(), op, fd, &mut event) })?;
        Ok(())
    }

    /// Registers a socket for edge-triggered readiness; returns its key.
    pub(crate) fn register(&mut self, fd: RawFd) -> io::Result<usize> {
        let key = self.registrations.insert(Registration {
            readable: true,
            writable: true,
            read_waker: None,
            write_waker: None,
        });
        let events = (libc::EPOLLIN | libc::EPOLLOUT | libc::EPOLLRDHUP | libc::EPOLLET) as u32;
        if let Err(error) = self.control(libc::EPOLL_CTL_ADD, fd, events, key as u64) {
            self.registrations.remove(key);
            return Err(error);
        }
        Ok(key)
    }

    /// Forgets a socket that is about to be closed (closing removes it from the epoll set).
    pub(crate) fn deregister(&mut self, key: usize) {
        self.registrations.try_remove(key);
    }

    /// Forgets a socket that stays open (a listener that stops accepting): removed from the
    /// epoll set too, so its old key can never wake a later registration.
    pub(crate) fn deregister_open(&mut self, key: usize, fd: RawFd) {
        let _ = self.control(libc::EPOLL_CTL_DEL, fd, 0, 0);
        self.registrations.try_remove(key);
    }

    fn not_ready(&mut self, key: usize, cx: &Context<'_>, read: bool) {
        if let Some(registration) = self.registrations.get_mut(key) {
            let (ready, waker) = if read {
                (&mut registration.readable, &mut registration.read_waker)
            } else {
                (&mut registration.writable, &mut registration.write_waker)
            };
            *ready = false;
            *waker = Some(cx.waker().clone());
        }
    }

    fn is_ready(&self, key: usize, read: bool) -> bool {
        self.registrations
            .get(key)
            .is_some_and(|r| if read { r.readable } else { r.writable })
    }

    pub(crate) fn poll_accept(
        &mut self,
        key: usize,
        listener: RawFd,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<RawFd>> {
        loop {
            if !self.is_ready(key, true) {
                self.not_ready(key, cx, true);
                return Poll::Pending;
            }
            let flags = libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK;
            // SAFETY: null address pointers are allowed by accept4 when the peer address is
            // not wanted; a non-negative result is a new fd owned by the caller.
            let accepted = check(unsafe {
                libc::accept4(listener, std::ptr::null_mut(), std::ptr::null_mut(), flags)
            });
            match accepted {
                Ok(fd) => return Poll::Ready(Ok(fd)),
                Err(error) if would_block(&error) => {
                    self.not_ready(key, cx, true);
                    return Poll::Pending;
                }
                Err(error)
                    if error.kind() == io::ErrorKind::Interrupted
                        || error.raw_os_error() == Some(libc::ECONNABORTED) => {}
                Err(error) => return Poll::Ready(Err(error)),
            }
        }
    }

    /// Receives into `buf`'s spare capacity; `Ready(Ok(0))` is end of stream.
    pub(crate) fn poll_recv(
        &mut self,
        key: usize,
        fd: RawFd,
        cx: &mut Context<'_>,
        buf: &mut BytesMut,
    ) -> Poll<io::Result<usize>> {
        loop {
            if !self.is_ready(key, true) {
                self.not_ready(key, cx, true);
                return Poll::Pending;
            }
            let scratch = &mut self.scratch;
            // SAFETY: `scratch` is writable memory of `scratch.len()` bytes owned by the driver.
            let received = check_size(unsafe {
                libc::recv(fd, scratch.as_mut_ptr().cast(), scratch.len(), 0)
            });
            match received {
                Ok(n) => {
                    buf.extend_from_slice(&self.scratch[..n]);
                    return Poll::Ready(Ok(n));
                }
                Err(error) if would_block(&error) => {
                    self.not_ready(key, cx, true);
                    return Poll::Pending;
                }
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Poll::Ready(Err(error)),
            }
        }
    }

    /// Sends the front of `chunks` (dropping what was sent) until all is sent or the socket is
    /// full.
    pub(crate) fn poll_send(
        &mut self,
        key: usize,
        fd: RawFd,
        cx: &mut Context<'_>,
        chunks: &mut Vec<Bytes>,
    ) -> Poll<io::Result<()>> {
        loop {
            chunks.retain(|chunk| !chunk.is_empty());
            if chunks.is_empty() {
                return Poll::Ready(Ok(()));
            }
            if !self.is_ready(key, false) {
                self.not_ready(key, cx, false);
                return Poll::Pending;
            }
            let iovecs: Vec<libc::iovec> = chunks
                .iter()
                .take(SEND_IOVECS_MAX)
                .map(|chunk| libc::iovec {
                    iov_base: chunk.as_ptr() as *mut libc::c_void,
                    iov_len: chunk.len(),
                })
                .collect();
            // SAFETY: an all-zero msghdr is a valid empty message header.
            let mut message: libc::msghdr = unsafe { std::mem::zeroed() };
            message.msg_iov = iovecs.as_ptr() as *mut libc::iovec;
            message.msg_iovlen = iovecs.len() as _;
            // SAFETY: the iovecs point into `chunks`, alive and unchanged for this call.
            let sent = check_size(unsafe {
                libc::sendmsg(fd, &message, libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT)
            });
            match sent {
                Ok(mut n) => {
                    for chunk in chunks.iter_mut() {
                        let take = n.min(chunk.len());
                        let _ = chunk.split_to(take);
                        n -= take;
                        if n == 0 {
                            break;
                        }
                    }
                }
                Err(error) if would_block(&error) => {
                    self.not_ready(key, cx, false);
                    return Poll::Pending;
                }
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Poll::Ready(Err(error)),
            }
        }
    }

    /// Waits for readiness (when `wait`) up to `timeout`, then returns the wakers to call.
    pub(crate) fn turn(&mut self, wait: bool, timeout: Option<Duration>) -> io::Result<Vec<Waker>> {
        let timeout_ms: libc::c_int = match (wait, timeout) {
            (false, _) => 0,
            (true, None) => -1,
            // Round up so a timer never fires early and the loop never spins on 0 ms.
            (true, Some(timeout)) => timeout
                .as_nanos()
                .div_ceil(1_000_000)
                .min(libc::c_int::MAX as u128) as libc::c_int,
        };
        self.events.clear();
        // SAFETY: the kernel writes at most `capacity` events into the vector's buffer.
        let count = unsafe {
            libc::epoll_wait(
                self.epoll.as_raw_fd(),
                self.events.as_mut_ptr(),
                self.events.capacity() as libc::c_int,
                timeout_ms,
            )
        };
        if count < 0 {
            let error = io::Error::last_os_error();
            if error.kind() == io::ErrorKind::Interrupted {
                return Ok(std::mem::take(&mut self.woken));
            }
            return Err(error);
        }
        // SAFETY: epoll_wait initialised the first `count` events.
        unsafe { self.events.set_len(count as usize) };
        for index in 0..self.events.len() {
            let event = self.events[index];
            let (token, bits) = (event.u64, event.events);
            if token == EVENTFD_TOKEN {
                super::sys::eventfd_drain(self.eventfd);
                continue;
            }
            let Some(registration) = self.registrations.get_mut(token as usize) else {
                continue;
            };
            let hangup = (libc::EPOLLHUP | libc::EPOLLERR) as u32;
            if bits & ((libc::EPOLLIN | libc::EPOLLRDHUP) as u32 | hangup) != 0 {
                registration.readable = true;
                self.woken.extend(registration.read_waker.take());
            }
            if bits & (libc::EPOLLOUT as u32 | hangup) != 0 {
                registration.writable = true;
                self.woken.extend(registration.write_waker.take());
            }
        }
        Ok(std::mem::take(&mut self.woken))
    }

    pub(crate) fn recycle_wakers(&mut self, mut wakers: Vec<Waker>) {
        wakers.clear();
        if self.woken.capacity() < wakers.capacity() {
            self.woken = wakers;
        }
    }
}
