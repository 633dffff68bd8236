//! goro-runtime: goroutines on a work-stealing M:N scheduler.
//!
//! This crate owns everything that owns threads or time: tasks, the scheduler,
//! the goroutine registry, timers and the IO reactor. Channels (`goro-chan`)
//! and sync primitives talk to it only through `goro-hook`: the runtime polls
//! every goroutine inside a `goro_hook::PollScope`.
//!
//! ```
//! let sum = goro_runtime::run(async {
//!     let hs: Vec<_> = (0..10u64).map(|i| goro_runtime::spawn(async move { i * i })).collect();
//!     let mut sum = 0;
//!     for h in hs {
//!         sum += h.await.unwrap();
//!     }
//!     sum
//! });
//! assert_eq!(sum, 285);
//! ```
//!
//! # Module map
//!
//! - `config.rs`, `error.rs`: [`runtime::PanicPolicy`], the builder's
//!   resolved configuration, [`runtime::RuntimeError`].
//! - `registry/`: goroutine ids, spawn sites, wait states (a lock-free wait
//!   cell per goroutine); the dump.
//! - `task/`: the task cell (header + future in one allocation, its state
//!   machine, the per-worker cache of freed cells),
//!   the goroutine wrapper and its goro-hook poll scope, [`JoinHandle`].
//! - `scheduler/`: worker cores, `runnext`, stealing, idle/parking, the
//!   park `Driver` trait, spawning; with `context.rs` (a worker thread's
//!   state) and `blocking.rs` (the `spawn_blocking` pool), which it owns.
//! - `time/`: the timing wheel and its clock.
//! - `io/` ([`net`]): the mio reactor and the driver (reactor + wheel) that
//!   implements the scheduler's park `Driver`.
//! - `timer_seam.rs`: the wheel as goro-hook's timer driver.
//! - [`runtime`]: `Runtime`, `Builder`, `Handle`, diagnostics.
//!
//! # Dependency directions
//!
//! A module imports only modules listed below it (and `loom`, the shim for
//! atomics and locks, and the external `goro-hook`); the
//! `module_directions` test checks this:
//!
//! 1. `lib.rs`, `runtime.rs`: build, enter and spawn on a runtime.
//! 2. `timer_seam.rs`: the wheel as goro-hook's timer driver (wired into the
//!    io driver by the builder); `leak.rs`: the leak checks (on the
//!    scheduler's registry and analyses).
//! 3. `io/`: implements `scheduler::park::Driver`; uses `time/` for its
//!    wheel. The scheduler never names it.
//! 4. `scheduler/` with `context.rs` and `blocking.rs` (one unit: the
//!    scheduler's thread state and blocking pool point back at `Shared`).
//! 5. `time/`: the wheel and `Timers` (which hand a panicking action to a
//!    handler given at construction: `io::driver::action_panicked`).
//! 6. `task/`: takes its schedule function and a `task::Host` (implemented
//!    by the scheduler) as parameters.
//! 7. `config.rs`, `error.rs`; then `registry/`; then `tokio_compat.rs`
//!    (the tokio bridge's handle, a leaf); then `loom.rs`.
//!
//! So no cycle runs through `task/`, `time/` or the hook; the only mutual
//! imports are inside the scheduler unit of level 4.
//!
//! # Panics and Go
//!
//! See [`runtime::PanicPolicy`]: by default any goroutine panic stops the
//! runtime, as an unrecovered panic ends a Go program.
//!
//! # Deadlocks
//!
//! When no goroutine can ever run again, `block_on` returns
//! [`runtime::RuntimeError::Deadlock`] (Go's "fatal error: all goroutines
//! are asleep - deadlock!"). The check runs when the last worker goes idle;
//! it reports only if every goroutine is parked on something only another
//! goroutine can complete (not `sleep`, IO or a foreign future), no timer is
//! armed, no goroutine waits for IO, no `spawn_blocking` job is queued or
//! running, no [`runtime::Handle`] clone is alive (it could spawn), and no
//! thread outside the runtime that has used goro channels is awake (see
//! [`goro_hook::note_outside_thread`] for exactly how outside threads are known).
//!
//! # tokio-based libraries inside goroutines
//!
//! With the feature `tokio-compat`, each runtime enters a tokio runtime's
//! context on its worker threads, the thread inside `block_on` and its
//! blocking-pool threads: the runtime given to
//! [`Builder::tokio`](runtime::Builder), else one current-thread tokio
//! runtime per process started on its own thread (`goro-tokio`). Then
//! `tokio::spawn`, `tokio::time` and `tokio::net` (and the clients built on
//! them) work inside goroutines as they are.
//!
//! The cost: tokio's reactor is a second reactor. A tokio socket or timer is
//! driven by the tokio runtime's thread and wakes the goroutine from there
//! (a cross-thread wake, a few microseconds more than goro's own `net` and
//! `time`, which never go through tokio); `tokio::spawn` runs its task on the
//! tokio runtime, not as a goroutine; the background runtime is one more
//! thread and epoll instance per process. Without the feature nothing of
//! this is compiled.
//!
//! # Lock ranks
//!
//! Locks are taken in this order, never the reverse; no task is woken while a
//! channel lock is held:
//!
//! 0. a `goro-time` timer's state (it sends on its channel and re-arms its
//!    alarm while holding it); goro-hook's fallback timer state is a leaf
//!    (nothing runs under it)
//! 1. channel locks (several: in address order)
//! 2. the reactor's poll lock (only try-locked; held while blocked in the OS
//!    and while computing the timeout), then the timer wheel, then the
//!    reactor's registration slab, then one registration's waker slots
//!    (timer actions and IO wakers run after all of these are released)
//! 3. registry shard
//! 4. scheduler idle state (`Idle::sleepers`), blocking-pool state
//!
//! Outside all of these, in this order: the `block_on` turn (held for a
//! whole `block_on`), the runtime lifecycle lock (start/stop), a core-handoff
//! slot, the worker-thread list; none is held while a goroutine is polled,
//! except the turn, which only other `block_on` callers wait for. Leaves,
//! taken with nothing else held: a core lease's runner record
//! (`scheduler::handoff`), the monitor's sleep lock.

pub mod leak;
pub mod runtime;

/// TCP and UDP sockets for goroutines (Go's package `net`).
pub mod net {
    pub use crate::io::net::*;
}

mod io;

mod blocking;
mod config;
mod context;
mod error;
mod loom;
mod registry;
mod scheduler;
mod task;
mod time;
mod timer_seam;
mod tokio_compat;

use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::task::{Context, Poll};

pub use registry::GoroutineId;
pub use task::{JoinError, JoinHandle};

/// Spawns a goroutine on the current runtime. Go: the `go` statement.
///
/// The new goroutine goes to the current worker's `runnext` slot, so it runs
/// soon, on this core. Records the call site and the spawning goroutine for
/// the dump.
///
/// # Panics
///
/// When called outside a goro runtime (not from a goroutine or a blocking
/// job): use [`runtime::Handle::spawn`] there.
///
/// ```
/// goro_runtime::run(async {
///     let h = goro_runtime::spawn(async { "hi" });
///     assert_eq!(h.await.unwrap(), "hi");
/// });
/// ```
#[track_caller]
pub fn spawn<F>(fut: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let at = Location::caller();
    let parent = context::current_goroutine();
    // On a worker: spawn through its runtime reference (no clone of it).
    let mut fut = Some(fut);
    if let Some(h) = context::with_worker(|w| {
        w.map(|w| scheduler::spawn(&w.shared, fut.take().expect("taken once"), at, parent))
    }) {
        return h;
    }
    let fut = fut.expect("not taken off a worker");
    match context::current_runtime() {
        Some(shared) => scheduler::spawn(&shared, fut, at, parent),
        None => panic!("goro::spawn called outside a goro runtime (use Runtime::handle().spawn)"),
    }
}

/// Runs blocking code on the runtime's blocking pool, off the workers.
///
/// The pool starts threads as jobs arrive and lets them exit after being
/// idle for the keep-alive period (`Builder::thread_keep_alive`).
///
/// # Panics
///
/// When called outside a goro runtime.
///
/// ```
/// goro_runtime::run(async {
///     let h = goro_runtime::spawn_blocking(|| std::fs::metadata(".").is_ok());
///     assert!(h.await.unwrap());
/// });
/// ```
#[track_caller]
pub fn spawn_blocking<F, R>(f: F) -> JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let at = Location::caller();
    match context::current_runtime() {
        Some(shared) => scheduler::spawn_blocking(&shared, f, at, context::current_goroutine()),
        None => panic!("goro::spawn_blocking called outside a goro runtime"),
    }
}

/// Yields: the current goroutine goes behind the other runnable ones.
/// Go: `runtime.Gosched`.
///
/// ```
/// goro_runtime::run(async {
///     goro_runtime::yield_now().await;
/// });
/// ```
pub fn yield_now() -> YieldNow {
    YieldNow { yielded: false }
}

/// The future returned by [`yield_now`].
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct YieldNow {
    yielded: bool,
}

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        // Tell the scheduler this self-wake is a `Gosched`: the goroutine
        // goes behind every runnable goroutine, not only this core's.
        context::with_worker(|w| {
            if let Some(w) = w {
                w.yielding.set(true);
            }
        });
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// The id of the goroutine being polled on this thread, if any.
///
/// ```
/// assert_eq!(goro_runtime::current_id(), None);
/// goro_runtime::run(async {
///     let id = goro_runtime::spawn(async { goro_runtime::current_id().unwrap() }).await.unwrap();
///     assert!(id.as_u64() > 1);
/// });
/// ```
pub fn current_id() -> Option<GoroutineId> {
    context::current_goroutine()
}

/// Runs `fut` as the main goroutine of a new runtime with the default
/// configuration and returns its output.
///
/// # Panics
///
/// With the [`runtime::RuntimeError`]'s Display text, on an unrecovered
/// goroutine panic (or a deadlock, once detected).
///
/// ```
/// assert_eq!(goro_runtime::run(async { 3 }), 3);
/// ```
#[track_caller]
pub fn run<F: Future>(fut: F) -> F::Output {
    let rt = runtime::Runtime::builder()
        .build()
        .expect("goro: could not start the runtime");
    match rt.block_on(fut) {
        Ok(v) => v,
        Err(e) => panic!("{e}"),
    }
}

/// Entry point of `#[goro::main]`: runs `fut` on a default runtime; on a
/// [`runtime::RuntimeError`] prints its Display to stderr and exits with
/// status 2, as Go does.
#[doc(hidden)]
#[track_caller]
pub fn main_entry<F, T>(fut: F) -> T
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    main_entry_with(runtime::Runtime::builder(), fut)
}

/// Entry point of `#[goro::main(workers = 4, ..)]`: as [`main_entry`], on
/// a runtime built by `builder` (the attribute's arguments are its knobs).
#[doc(hidden)]
#[track_caller]
pub fn main_entry_with<F, T>(builder: runtime::Builder, fut: F) -> T
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let rt = match builder.build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("goro: could not start the runtime: {e}");
            std::process::exit(2);
        }
    };
    match rt.block_on(fut) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    }
}

/// Entry point of `#[goro::test]`: runs `fut` as the main goroutine of a
/// fresh default runtime, then checks that no goroutine is left (after
/// [`leak::DEFAULT_GRACE`], as [`leak::verify_none`]).
///
/// # Panics
///
/// With the [`runtime::RuntimeError`]'s Display on a deadlock or a
/// goroutine panic, and with the leak report when goroutines are left at
/// the end of the body.
#[doc(hidden)]
#[track_caller]
pub fn test_entry<F, T>(fut: F) -> T
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    test_entry_with(runtime::Runtime::builder(), fut)
}

/// Entry point of `#[goro::test(workers = 2, ..)]`: as [`test_entry`] (the
/// leak check included), on a runtime built by `builder`.
#[doc(hidden)]
#[track_caller]
pub fn test_entry_with<F, T>(builder: runtime::Builder, fut: F) -> T
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let checked = async move {
        let out = fut.await;
        // The body's locals are dropped: main acts no more.
        let leaks = leak::verify_none_async(leak::Options::new().caller_done()).await;
        (out, leaks)
    };
    let rt = builder.build().expect("goro: could not start the runtime");
    let checked = match rt.block_on(checked) {
        Ok(v) => v,
        Err(e) => panic!("{e}"),
    };
    match checked {
        (out, Ok(())) => out,
        (_, Err(report)) => {
            let n = report.goroutines().len();
            let forever = report.goroutines().iter().filter(|g| g.forever).count();
            panic!(
                "goro::test: {n} goroutine(s) still alive at the end of the test ({forever} parked forever):\n\n{report}"
            )
        }
    }
}

/// Paths used by macro expansions, and what the leak tests of the facade
/// crate account for.
#[doc(hidden)]
pub mod __private {
    pub use crate::{main_entry, main_entry_with, test_entry, test_entry_with};

    /// Bytes held by the pool of join slots (`JoinHandle`s' results): it
    /// keeps its blocks, bounded by the most slots alive at once, so a
    /// count of live heap bytes must leave them out.
    pub fn join_slot_pool_bytes() -> usize {
        crate::task::join_slot_pool_bytes()
    }
}

#[cfg(test)]
mod auto_traits {
    //! Send/Sync/Unpin of the public types, checked at compile time.

    use super::*;
    use runtime::{Builder, Handle, PanicPolicy, Runtime, RuntimeError};

    fn send_sync<T: Send + Sync>() {}
    fn unpin<T: Unpin>() {}
    fn copy_ord<T: Copy + Eq + Ord + std::hash::Hash + std::fmt::Debug + std::fmt::Display>() {}

    #[test]
    fn public_types_have_the_expected_auto_traits() {
        send_sync::<Runtime>();
        send_sync::<Handle>();
        send_sync::<Builder>();
        send_sync::<JoinHandle<String>>();
        send_sync::<JoinError>();
        send_sync::<RuntimeError>();
        send_sync::<PanicPolicy>();
        send_sync::<runtime::GoroutineSnapshot>();
        unpin::<JoinHandle<std::cell::Cell<u8>>>();
        copy_ord::<GoroutineId>();
        fn error<E: std::error::Error + Send + Sync + 'static>() {}
        error::<JoinError>();
        error::<RuntimeError>();
    }
}
