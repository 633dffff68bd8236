//! goro: Go's goroutines, channels and `select!` for Rust.
//!
//! See the README for an overview; the public API contract is kept stable.

pub use goro_hook as hook;

/// Leak checks for tests and goroutines provably parked forever
/// (`verify_none`, `find_stuck`). Go: `go.uber.org/goleak` and the
/// goroutine leak profile.
pub use goro_runtime::leak;

pub use goro_runtime::runtime::Runtime;
pub use goro_runtime::{
    current_id, run, runtime, spawn, spawn_blocking, yield_now, GoroutineId, JoinError, JoinHandle,
};

pub use goro_chan as chan;

/// Go's `sync` and `golang.org/x/sync`: Mutex, RwMutex, WaitGroup, Once, Cond, errgroup, singleflight, semaphore.
pub use goro_sync as sync;

/// Go's package `context`: cancellation, deadlines and values across goroutines.
pub use goro_sync::context;

/// Timers: `sleep`, `Timer`, `Ticker`, `after`, `tick`, `after_func` (Go's package `time`).
pub use goro_time as time;

/// TCP and UDP sockets (Go's package `net`).
pub use goro_runtime::net;

/// The async IO traits `net::TcpStream` implements (futures-io's; tokio's
/// with the feature `tokio-io`, hyper's with `hyper`).
///
/// ```
/// fn takes_io(_: impl goro::io::AsyncRead + goro::io::AsyncWrite) {}
/// # fn f(s: goro::net::TcpStream) { takes_io(s) }
/// ```
pub mod io {
    pub use futures_io::{AsyncBufRead, AsyncRead, AsyncSeek, AsyncWrite};
}

/// Go's `net/http` server on hyper: `goro::http::serve`, `Server`, and
/// hyper's `Executor`/`Timer` on goro (feature `http`; the goro-http crate).
#[cfg(feature = "http")]
pub use goro_http as http;

pub use goro_macros::{main, select, select_blocking, test};

/// Starts a goroutine: Go's `go` statement. Evaluates to the goroutine's
/// [`JoinHandle`]; drop it to detach the goroutine, as `go f()` does.
///
/// `go!(fut)` is [`spawn`]`(fut)`: the spawn site recorded for the goroutine
/// dump is the `go!` call.
///
/// ```
/// let answer = goro::run(async {
///     let c = goro::chan::make::<u32>(0);
///     let tx = c.clone();
///     goro::go!(async move { tx.send(42).await });
///     c.recv().await
/// });
/// assert_eq!(answer, Some(42));
/// ```
#[macro_export]
macro_rules! go {
    ($fut:expr $(,)?) => {
        $crate::spawn($fut)
    };
}

/// Paths named by the code the macros generate. Not part of the API.
#[doc(hidden)]
pub mod __private {
    pub use goro_chan::select;
    pub use goro_runtime::__private::join_slot_pool_bytes;
    pub use goro_runtime::{main_entry, main_entry_with, test_entry, test_entry_with};
}

/// The README's code blocks run as doctests, so its example cannot rot.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
