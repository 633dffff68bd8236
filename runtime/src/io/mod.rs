//! The IO reactor (Go's netpoller) and the driver that also runs timers.
//!
//! Go: `runtime/netpoll.go`, `netpoll_epoll.go`, `internal/poll/fd_poll_runtime.go`.
//!
//! # Design
//!
//! - `reactor`: one `mio::Poll`, a slab of registrations, a `mio::Waker`.
//! - `scheduled_io`: per-registration readiness (with a tick, so readiness
//!   is never lost between an observation and its clearing) and waker slots.
//! - `registration`: a registered mio source and the try/`WouldBlock`/wait loop.
//! - `driver`: reactor + timer wheel behind `park(timeout)` / `unpark()`.
//! - `net`: `TcpListener`, `TcpStream`, `UdpSocket` (exported as `goro_runtime::net`).
//!
//! # Invariants
//!
//! - No waker runs while a reactor or timer lock is held.
//! - A task waiting on a socket is counted as pending activity by the driver
//!   until it is woken or the socket is dropped.
//!
//! # Locking
//!
//! Reactor `poll` (try-locked; held while blocked in the OS) < timer wheel <
//! reactor slab < a registration's waker slots.

pub(crate) mod driver;
pub(crate) mod net;
pub(crate) mod reactor;
pub(crate) mod registration;
pub(crate) mod scheduled_io;
