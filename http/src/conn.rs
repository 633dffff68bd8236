//! One connection's bookkeeping for Go's server timeouts: what the socket
//! wrapper ([`ConnIo`]), the request wrapper (`service`) and the
//! connection's goroutine (`server`) share.
//!
//! Go: the read and write deadlines `net/http.conn.serve` sets on its
//! `net.Conn` (`ReadHeaderTimeout`, `IdleTimeout`, `WriteTimeout`).
//!
//! # Design
//!
//! hyper's own header-read timeout starts when hyper waits for the next
//! request, so on a keep-alive connection it would also cut idle time short;
//! and nothing of hyper times the protocol sniffing of the auto builder (a
//! client that sends half a request line). So goro keeps Go's clocks itself:
//!
//! - header clock (`ReadHeaderTimeout`): for the first request from accept
//!   (as Go); for later HTTP/1 requests from the first byte read while no
//!   request is in flight; stopped when a request reaches the service.
//! - idle clock (`IdleTimeout`): from the end of the last request, while no
//!   request is in flight and no new request's bytes have arrived.
//! - write deadline (`WriteTimeout`): set when a request reaches the service
//!   (`now + write_timeout`, as Go resets it per request); a write after it,
//!   or blocked past it, fails with `TimedOut` while a request is in flight.
//!
//! The connection goroutine arms one goro timer at the earliest clock and
//! closes the connection when a header or idle clock runs out.
//!
//! # Memory ordering
//!
//! The fields are counters and timestamps read as racy snapshots
//! (Relaxed): a stale read only delays a decision to the next check, and
//! deadlines only move later as activity happens, except when a request's
//! bytes start the header clock, which happens inside the connection
//! goroutine's own poll of the connection, so it re-reads right after (see
//! `server`). One pair is ordered: a request ending on another goroutine
//! (an HTTP/2 stream) stores `idle_since` before its Release decrement of
//! `in_flight`, and the clock loads `in_flight` with Acquire, so a clock
//! that sees no request in flight never uses an older `idle_since` (which
//! could close the connection early).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::sync::atomic::{AtomicU64, AtomicUsize};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use goro_runtime::net::TcpStream;
use goro_time::Sleep;
use hyper::rt::{Read, Write};

/// The timeouts, as configured on the `Server` (`None`: off).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Timeouts {
    pub(crate) read_header: Option<Duration>,
    pub(crate) idle: Option<Duration>,
    pub(crate) write: Option<Duration>,
}

/// What the next timer of a connection is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Clock {
    /// A request's header did not arrive in time: close.
    Header,
    /// No request for the idle timeout: close.
    Idle,
    /// A request is in flight: look again then.
    Recheck,
}

/// Shared state of one connection.
#[derive(Debug)]
pub(crate) struct ConnState {
    /// When the connection was accepted; the timestamps below are
    /// nanoseconds since then.
    epoch: Instant,
    timeouts: Timeouts,
    /// Requests handed to the service whose response has not finished.
    in_flight: AtomicUsize,
    /// Requests handed to the service so far.
    requests: AtomicU64,
    /// When the last request finished (0 until one has).
    idle_since: AtomicU64,
    /// 1 + when the first byte of a new request arrived while idle; 0 when
    /// the header clock is not running.
    header_started: AtomicU64,
    /// 1 + the write deadline of the latest request; 0 for none.
    write_deadline: AtomicU64,
    /// The client spoke HTTP/2 (its first bytes were the preface).
    h2: AtomicBool,
    /// The first read was seen (for the HTTP/2 sniff).
    first_read: AtomicBool,
}

impl ConnState {
    pub(crate) fn new(timeouts: Timeouts) -> Arc<ConnState> {
        Arc::new(ConnState {
            epoch: Instant::now(),
            timeouts,
            in_flight: AtomicUsize::new(0),
            requests: AtomicU64::new(0),
            idle_since: AtomicU64::new(0),
            header_started: AtomicU64::new(0),
            write_deadline: AtomicU64::new(0),
            h2: AtomicBool::new(false),
            first_read: AtomicBool::new(false),
        })
    }

    fn nanos(&self, t: Instant) -> u64 {
        u64::try_from(t.saturating_duration_since(self.epoch).as_nanos()).unwrap_or(u64::MAX - 1)
    }

    fn instant(&self, nanos: u64) -> Instant {
        self.epoch + Duration::from_nanos(nanos)
    }

    /// A request reached the service (its header was read).
    pub(crate) fn request_started(&self) {
        self.in_flight.fetch_add(1, Relaxed);
        self.requests.fetch_add(1, Relaxed);
        self.header_started.store(0, Relaxed);
        if let Some(w) = self.timeouts.write {
            let deadline = self.nanos(Instant::now() + w);
            self.write_deadline.store(deadline + 1, Relaxed);
        }
    }

    /// A request's response finished (or the request was abandoned).
    pub(crate) fn request_finished(&self) {
        self.idle_since.store(self.nanos(Instant::now()), Relaxed);
        // Release: pairs with the Acquire in `next_clock`, so a clock that
        // sees the request gone also sees when it ended.
        self.in_flight.fetch_sub(1, Release);
    }

    /// `buf` was just read from the socket.
    fn on_read(&self, buf: &[u8]) {
        if !self.first_read.swap(true, Relaxed) && buf.starts_with(b"PRI ") {
            self.h2.store(true, Relaxed);
        }
        if self.in_flight.load(Relaxed) == 0 && self.header_started.load(Relaxed) == 0 {
            self.header_started
                .store(self.nanos(Instant::now()) + 1, Relaxed);
        }
    }

    /// The write deadline in force, if a request is in flight.
    fn write_deadline(&self) -> Option<Instant> {
        if self.in_flight.load(Relaxed) == 0 {
            return None;
        }
        match self.write_deadline.load(Relaxed) {
            0 => None,
            d => Some(self.instant(d - 1)),
        }
    }

    /// The connection's next clock and when it runs out.
    pub(crate) fn next_clock(&self) -> Option<(Instant, Clock)> {
        let t = &self.timeouts;
        // Acquire: pairs with the Release in `request_finished`.
        if self.in_flight.load(Acquire) > 0 {
            return t.idle.map(|idle| (Instant::now() + idle, Clock::Recheck));
        }
        let requests = self.requests.load(Relaxed);
        if let Some(hdr) = t.read_header {
            if requests == 0 {
                // Go: the first request's header deadline counts from accept.
                return Some((self.epoch + hdr, Clock::Header));
            }
            let started = self.header_started.load(Relaxed);
            if started != 0 && !self.h2.load(Relaxed) {
                return Some((self.instant(started - 1) + hdr, Clock::Header));
            }
        }
        let idle = t.idle?;
        Some((
            self.instant(self.idle_since.load(Relaxed)) + idle,
            Clock::Idle,
        ))
    }
}

/// The accepted socket as hyper sees it: reads feed the header and idle
/// clocks, writes obey the write deadline.
#[derive(Debug)]
pub(crate) struct ConnIo {
    stream: TcpStream,
    state: Arc<ConnState>,
    /// Armed while a write is blocked and a write deadline is in force.
    write_timer: Option<Sleep>,
}

impl ConnIo {
    pub(crate) fn new(stream: TcpStream, state: Arc<ConnState>) -> ConnIo {
        ConnIo {
            stream,
            state,
            write_timer: None,
        }
    }
}

fn timed_out() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "http: write timeout")
}

impl Read for ConnIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        // hyper's cursor cannot show what one read filled, so read through a
        // second cursor view: remember how much was filled before.
        let this = &mut *self;
        // SAFETY: the slice is only handed to `TcpStream`'s reader, which
        // writes into it (never de-initialises bytes).
        let unfilled = unsafe { buf.as_mut() };
        let mut inner = hyper::rt::ReadBuf::uninit(unfilled);
        match Pin::new(&mut this.stream).poll_read(cx, inner.unfilled()) {
            Poll::Ready(Ok(())) => {
                let n = inner.filled().len();
                if n > 0 {
                    this.state.on_read(inner.filled());
                }
                // SAFETY: the inner read initialised the first `n` bytes of
                // the same memory.
                unsafe { buf.advance(n) };
                Poll::Ready(Ok(()))
            }
            other => other,
        }
    }
}

impl Write for ConnIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let deadline = this.state.write_deadline();
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Poll::Ready(Err(timed_out()));
        }
        match Pin::new(&mut this.stream).poll_write(cx, buf) {
            Poll::Pending => {
                let Some(deadline) = deadline else {
                    this.write_timer = None;
                    return Poll::Pending;
                };
                if this.write_timer.as_ref().map(Sleep::deadline) != Some(deadline) {
                    this.write_timer = Some(goro_time::sleep_until(deadline));
                }
                let timer = this.write_timer.as_mut().expect("just armed");
                match Pin::new(timer).poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Err(timed_out())),
                    Poll::Pending => Poll::Pending,
                }
            }
            ready => {
                this.write_timer = None;
                ready
            }
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
