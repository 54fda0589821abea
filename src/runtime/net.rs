//! TCP sockets on the worker's ring: a SO_REUSEPORT listener with (multishot) accept, and a
//! stream with (multishot, provided-buffer) receive and vectored, short-write-safe send.
//!
//! On io_uring, the kernel-facing state of every operation lives in the driver (see
//! `driver.rs`); the types here hold only slot keys, so dropping a future or a stream never frees
//! memory the kernel may still write, and dropping a `TcpStream` cancels its operations and
//! closes the fd in one linked submission. On epoll (`epoll.rs`) they hold a registration key
//! and every operation is a plain non-blocking syscall. No HTTP here.

use super::context::{self, Io};
use super::driver::{OpData, SendBuffers};
use super::sys;
use bytes::{Bytes, BytesMut};
use std::future::{Future, poll_fn};
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::pin::Pin;
use std::task::{Context, Poll};

/// A listening socket bound with SO_REUSEPORT; each worker binds its own on the same address
/// and the kernel spreads connections across them.
#[derive(Debug)]
pub struct TcpListener {
    fd: OwnedFd,
}

impl TcpListener {
    pub fn bind_reuseport(addr: SocketAddr, backlog: u32) -> io::Result<TcpListener> {
        Ok(TcpListener {
            fd: sys::reuseport_listener(addr, backlog)?,
        })
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        sys::local_addr(self.fd.as_raw_fd())
    }

    /// Starts accepting (one multishot accept where the kernel has it). Dropping the returned
    /// `Incoming` stops accepting; connections then wait in the listen backlog.
    pub fn incoming(&self) -> io::Result<Incoming<'_>> {
        let fd = self.fd.as_raw_fd();
        let key = context::with_io(|io| match io {
            Io::Uring(driver) => driver.start_accept(fd),
            Io::Epoll(driver) => driver.register(fd),
        })?;
        Ok(Incoming {
            listener: self,
            key,
        })
    }
}

/// A stream of accepted connections.
#[derive(Debug)]
pub struct Incoming<'a> {
    listener: &'a TcpListener,
    key: usize,
}

impl Incoming<'_> {
    pub async fn next(&mut self) -> io::Result<TcpStream> {
        let key = self.key;
        let listener = self.listener.fd.as_raw_fd();
        let fd = poll_fn(|cx| {
            context::with_io(|io| match io {
                Io::Uring(driver) => driver.poll_accept(key, cx),
                Io::Epoll(driver) => driver.poll_accept(key, listener, cx),
            })
        })
        .await?;
        TcpStream::from_accepted(fd)
    }
}

impl Drop for Incoming<'_> {
    fn drop(&mut self) {
        if let Some(worker) = context::try_current() {
            match &mut *worker.io.borrow_mut() {
                Io::Uring(driver) => driver.drop_accept(self.key),
                Io::Epoll(driver) => driver.deregister_open(self.key, self.listener.fd.as_raw_fd()),
            }
        }
    }
}

/// How this stream receives.
#[derive(Debug)]
enum RecvMode {
    /// Epoll readiness; `key` is the stream's registration.
    Epoll { key: usize },
    /// Multishot receive into the worker's provided-buffer ring; the slot lives as long as
    /// the stream.
    Multishot { key: Option<usize> },
    /// Single-shot receive into a per-connection buffer; `key` is the operation in flight.
    Single { key: Option<usize> },
}

/// A connected TCP socket owned by one worker.
#[derive(Debug)]
pub struct TcpStream {
    fd: RawFd,
    recv: RecvMode,
}

/// Bytes asked of the kernel by one single-shot receive (fallback path).
const SINGLE_RECV_BYTES: usize = 8192;

impl TcpStream {
    fn from_accepted(fd: RawFd) -> io::Result<TcpStream> {
        // Latency matters more than segment count for request/response traffic.
        if let Err(error) = sys::set_nodelay(fd) {
            tracing::debug!(%error, "TCP_NODELAY refused");
        }
        let recv = context::with_io(|io| match io {
            Io::Uring(driver) if driver.features().recv_multishot => {
                Ok(RecvMode::Multishot { key: None })
            }
            Io::Uring(_) => Ok(RecvMode::Single { key: None }),
            Io::Epoll(driver) => driver.register(fd).map(|key| RecvMode::Epoll { key }),
        });
        match recv {
            Ok(recv) => Ok(TcpStream { fd, recv }),
            Err(error) => {
                sys::close(fd);
                Err(error)
            }
        }
    }

    /// Writes `bytes` at once if the socket takes them, without waiting (for refusals sent
    /// just before closing). Returns how many bytes went out.
    pub fn send_now(&self, bytes: &[u8]) -> io::Result<usize> {
        sys::send_now(self.fd, bytes)
    }

    /// The address of the other end (`getpeername`).
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        sys::peer_addr(self.fd)
    }

    pub fn as_raw_fd(&self) -> RawFd {
        self.fd
    }

    /// Appends received bytes to `buf`; `Ok(0)` means the peer closed its side.
    /// Cancel-safe: bytes that arrive after the returned future is dropped are kept for the
    /// next call.
    pub fn read<'a>(
        &'a mut self,
        buf: &'a mut BytesMut,
    ) -> impl Future<Output = io::Result<usize>> + 'a {
        poll_fn(move |cx| self.poll_read(cx, buf))
    }

    pub fn poll_read(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut BytesMut,
    ) -> Poll<io::Result<usize>> {
        let fd = self.fd;
        context::with_io(|io| match (&mut self.recv, io) {
            (RecvMode::Epoll { key }, Io::Epoll(driver)) => driver.poll_recv(*key, fd, cx, buf),
            (RecvMode::Epoll { .. }, Io::Uring(_)) | (_, Io::Epoll(_)) => {
                Poll::Ready(Err(io::Error::other("stream used on another backend")))
            }
            (RecvMode::Multishot { key }, Io::Uring(driver)) => {
                let key = *key.get_or_insert_with(|| driver.start_recv_multi(fd));
                driver.poll_recv_multi(key, cx, buf)
            }
            (RecvMode::Single { key }, Io::Uring(driver)) => {
                let current = match *key {
                    Some(current) => current,
                    None => {
                        let started =
                            driver.start_recv(fd, BytesMut::with_capacity(SINGLE_RECV_BYTES))?;
                        *key = Some(started);
                        started
                    }
                };
                let Poll::Ready((res, data)) = driver.poll_single(current, cx) else {
                    return Poll::Pending;
                };
                *key = None;
                let OpData::Recv(mut received) = data else {
                    return Poll::Ready(Err(io::Error::other("receive slot held other data")));
                };
                if res < 0 {
                    return Poll::Ready(Err(io::Error::from_raw_os_error(-res)));
                }
                let n = res as usize;
                // SAFETY: the kernel reports writing `n` bytes into the spare capacity that
                // `start_recv` offered (`n` never exceeds the length it was given).
                unsafe { received.set_len(received.len() + n) };
                if buf.is_empty() {
                    *buf = received;
                } else {
                    buf.extend_from_slice(&received);
                }
                Poll::Ready(Ok(n))
            }
        })
    }

    /// Sends every byte of `chunks` with vectored writes, resubmitting after short writes.
    /// Returns the (emptied) vector so the caller can reuse its allocation.
    pub async fn send_all(&mut self, chunks: Vec<Bytes>) -> (io::Result<()>, Vec<Bytes>) {
        if let RecvMode::Epoll { key } = self.recv {
            let mut chunks = chunks;
            let fd = self.fd;
            let result = poll_fn(|cx| {
                context::with_io(|io| match io {
                    Io::Epoll(driver) => driver.poll_send(key, fd, cx, &mut chunks),
                    Io::Uring(_) => {
                        Poll::Ready(Err(io::Error::other("stream used on another backend")))
                    }
                })
            })
            .await;
            chunks.clear();
            return (result, chunks);
        }
        let mut send = SendAll {
            fd: self.fd,
            buffers: Some(SendBuffers::new(chunks)),
            key: None,
        };
        let result = poll_fn(|cx| Pin::new(&mut send).poll_send(cx)).await;
        // Done: the kernel holds no pointer into the buffers any more.
        let chunks = send
            .buffers
            .take()
            .map(SendBuffers::recycle)
            .unwrap_or_default();
        (result, chunks)
    }
}

impl Drop for TcpStream {
    fn drop(&mut self) {
        let Some(worker) = context::try_current() else {
            sys::close(self.fd);
            return;
        };
        let mut io = worker.io.borrow_mut();
        match (&mut *io, &self.recv) {
            (Io::Epoll(driver), RecvMode::Epoll { key }) => {
                driver.deregister(*key);
                sys::close(self.fd);
            }
            (Io::Uring(driver), recv) => {
                match recv {
                    RecvMode::Multishot { key: Some(key) } => driver.drop_recv_multi(*key),
                    RecvMode::Single { key: Some(key) } => driver.drop_single(*key),
                    _ => {}
                }
                driver.close_socket(self.fd);
            }
            (Io::Epoll(_), _) => sys::close(self.fd),
        }
    }
}

struct SendAll {
    fd: RawFd,
    buffers: Option<Box<SendBuffers>>,
    key: Option<usize>,
}

impl SendAll {
    fn poll_send(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            if let Some(key) = self.key {
                let Poll::Ready((res, data)) = context::with_io(|io| match io {
                    Io::Uring(driver) => driver.poll_single(key, cx),
                    Io::Epoll(_) => Poll::Ready((-libc::EBADF, OpData::None)),
                }) else {
                    return Poll::Pending;
                };
                self.key = None;
                let OpData::Send(mut buffers) = data else {
                    return Poll::Ready(Err(io::Error::other("send slot held other data")));
                };
                if res < 0 {
                    self.buffers = Some(buffers);
                    return Poll::Ready(Err(io::Error::from_raw_os_error(-res)));
                }
                if res == 0 && buffers.remaining() > 0 {
                    self.buffers = Some(buffers);
                    return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
                }
                buffers.advance(res as usize);
                self.buffers = Some(buffers);
            }
            let Some(buffers) = self.buffers.take() else {
                return Poll::Ready(Ok(()));
            };
            if buffers.remaining() == 0 {
                self.buffers = Some(buffers);
                return Poll::Ready(Ok(()));
            }
            let fd = self.fd;
            let started = context::with_io(|io| match io {
                Io::Uring(driver) => driver.start_send(fd, buffers),
                Io::Epoll(_) => Err(io::Error::other("io_uring send on the epoll backend")),
            });
            match started {
                Ok(key) => self.key = Some(key),
                Err(error) => return Poll::Ready(Err(error)),
            }
        }
    }
}

impl Drop for SendAll {
    fn drop(&mut self) {
        if let (Some(key), Some(worker)) = (self.key, context::try_current())
            && let Io::Uring(driver) = &mut *worker.io.borrow_mut()
        {
            driver.drop_single(key);
        }
    }
}
