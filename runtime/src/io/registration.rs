//! A mio source registered with the current driver: readiness waits and the
//! "try, and on `WouldBlock` clear readiness and wait" loop.
//!
//! Go: `internal/poll.FD` with `pollDesc.waitRead` / `waitWrite`.
//!
//! # Design
//!
//! [`IoSource::poll_io`] runs an operation when the reactor last reported
//! the direction ready; on `WouldBlock` it clears exactly the readiness it
//! observed (see [`ScheduledIo::clear_readiness`]) and waits again. Pending
//! waits are noted to the registry as `IO wait`.
//!
//! # Invariants
//!
//! - The source is registered from construction until drop; `Drop`
//!   deregisters it and frees its token before the OS handle is closed.

use std::io;
use std::panic::Location;
use std::sync::Arc;
use std::task::{Context, Poll};

use mio::{Interest, Token};

use super::driver::Handle;
use super::scheduled_io::{Direction, ReadyEvent, ScheduledIo, SHUTDOWN};
use goro_hook::{note_park, WaitReason};

/// A registered mio source.
pub(crate) struct IoSource<E: mio::event::Source> {
    /// The OS handle; `None` only during drop.
    io: Option<E>,
    /// Its readiness state, shared with the reactor.
    sched: Arc<ScheduledIo>,
    /// Its reactor token.
    token: Token,
    /// The driver it is registered with.
    handle: Handle,
}

impl<E: mio::event::Source> IoSource<E> {
    /// Registers `io` with the current driver for reads and writes.
    pub(crate) fn new(mut io: E) -> io::Result<Self> {
        let handle = Handle::current();
        let (sched, token) = handle
            .inner()
            .reactor
            .register(&mut io, Interest::READABLE | Interest::WRITABLE)?;
        Ok(IoSource {
            io: Some(io),
            sched,
            token,
            handle,
        })
    }

    /// The OS handle.
    pub(crate) fn get_ref(&self) -> &E {
        self.io.as_ref().expect("IoSource used during drop")
    }

    /// Waits for readiness in `dir`.
    pub(crate) fn poll_ready(
        &self,
        cx: &mut Context<'_>,
        dir: Direction,
        at: &'static Location<'static>,
    ) -> Poll<io::Result<ReadyEvent>> {
        let (poll, newly) = self.sched.poll_ready(cx, dir);
        if newly {
            self.handle.inner().reactor.add_waiting();
        }
        match poll {
            Poll::Ready(ev) if ev.ready & SHUTDOWN != 0 => Poll::Ready(Err(io::Error::other(
                "goro: the runtime that owns this socket has shut down",
            ))),
            Poll::Ready(ev) => Poll::Ready(Ok(ev)),
            Poll::Pending => {
                note_park(WaitReason::IoWait, at, None);
                Poll::Pending
            }
        }
    }

    /// Runs `op` when `dir` is ready, retrying after `WouldBlock`.
    pub(crate) fn poll_io<R>(
        &self,
        cx: &mut Context<'_>,
        dir: Direction,
        at: &'static Location<'static>,
        op: impl FnMut(&E) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        self.poll_io_then(cx, dir, at, op, |_, _| {})
    }

    /// [`IoSource::poll_io`] for a read of `len` bytes from a stream socket
    /// (`op` returns the count read): a read that returned some bytes but
    /// fewer than `len` drained the socket's receive buffer, so the read
    /// readiness it observed is cleared (not a hang-up or an error: those
    /// stay for the next read to return), and the next read waits for the
    /// reactor's next event instead of making a syscall that would fail
    /// with `EAGAIN` (one per request of a keep-alive HTTP connection). The
    /// registration is edge-triggered (mio's epoll), so data that arrives
    /// after the read raises a new event; if the reactor saw one since the
    /// readiness was observed, the tick moved and the clear does nothing.
    /// tokio's `PollEvented` does the same.
    pub(crate) fn poll_read_stream(
        &self,
        cx: &mut Context<'_>,
        len: usize,
        at: &'static Location<'static>,
        op: impl FnMut(&E) -> io::Result<usize>,
    ) -> Poll<io::Result<usize>> {
        self.poll_io_then(cx, Direction::Read, at, op, |&n, ev| {
            if n > 0 && n < len {
                self.sched.clear_readable(ev);
            }
        })
    }

    /// The loop of [`IoSource::poll_io`]; `done` sees a successful result
    /// with the readiness it was obtained under.
    #[inline]
    fn poll_io_then<R>(
        &self,
        cx: &mut Context<'_>,
        dir: Direction,
        at: &'static Location<'static>,
        mut op: impl FnMut(&E) -> io::Result<R>,
        done: impl FnOnce(&R, ReadyEvent),
    ) -> Poll<io::Result<R>> {
        loop {
            let ev = match self.poll_ready(cx, dir, at) {
                Poll::Ready(Ok(ev)) => ev,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            };
            match op(self.get_ref()) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.sched.clear_readiness(ev),
                Ok(r) => {
                    done(&r, ev);
                    return Poll::Ready(Ok(r));
                }
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }

    /// Clears observed readiness (for operations that detect "not yet"
    /// some other way than `WouldBlock`, like a connect in progress).
    pub(crate) fn clear_readiness(&self, ev: ReadyEvent) {
        self.sched.clear_readiness(ev)
    }
}

impl<E: mio::event::Source> Drop for IoSource<E> {
    fn drop(&mut self) {
        if let Some(mut io) = self.io.take() {
            self.handle.inner().reactor.deregister(&mut io, self.token);
        }
    }
}

impl<E: mio::event::Source + std::fmt::Debug> std::fmt::Debug for IoSource<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.io.fmt(f)
    }
}
