//! Per-thread runtime context: which worker core, if any, this thread runs;
//! the poll scope a goroutine is polled in.
//!
//! Go: `getg().m.p` — the current M's P, and `getg()` itself.
//!
//! # Design
//!
//! A worker thread (or the thread inside `block_on`) points the `WORKER`
//! thread-local at its [`WorkerCtx`] for as long as it runs a core. Each
//! goroutine poll runs inside a `goro_hook::PollScope` ([`poll_scoped`]):
//! the primitives' hooks (`note_park`, `poll_budget`, `rand_below`) only
//! touch that scope (no lock, no allocation), and the goroutine wrapper
//! stores the noted park into the registry record when the poll returns
//! `Pending`. Threads of the blocking pool set `RUNTIME` so that `spawn`
//! works there too. Both install the runtime's timers as goro-hook's timer
//! driver of the thread, so timers created there use the runtime's wheel.
//!
//! # Invariants
//!
//! - `WORKER` is non-null only between `enter_worker` and the drop of its
//!   guard, and then points to a `WorkerCtx` that outlives the guard.

use std::cell::{Cell, RefCell};
use std::ptr;
use std::task::Waker;
use std::time::Instant;

use goro_hook::{ParkNote, PollScope, TimerDriverGuard, WaitReason};

use crate::loom::StdArc;
use crate::registry::{GoroutineId, GoroutineRecord, WaitRecord};
use crate::scheduler::{Core, Shared};

/// Ready operations a goroutine may do per poll before `poll_budget` makes it
/// yield. Go preempts a goroutine after 10 ms; an async task can only be
/// asked to yield at an await point, and this is the usual count (tokio's).
pub(crate) const BUDGET: u32 = 128;

/// The state of a thread that runs a worker core.
pub(crate) struct WorkerCtx {
    /// The runtime. Set once.
    pub(crate) shared: StdArc<Shared>,
    /// Which core this thread runs. Set once.
    pub(crate) index: usize,
    /// The core, while this thread holds it; borrowed briefly by the run loop
    /// and by wakers running on this thread.
    pub(crate) core: RefCell<Option<Box<Core>>>,
    /// Coarse clock for park timestamps (see `GoroutineState::Waiting`).
    pub(crate) now: Cell<Instant>,
    /// Set while this worker is inside its parker: wakers then run on this
    /// thread only from the driver (timers, IO), and the tasks they schedule
    /// here are run by this thread as soon as the park returns, so they
    /// wake nobody else (see `worker::park`). Go: `findRunnable` running
    /// the goroutines `netpoll` returned itself and `injectglist` waking Ms
    /// only for the others.
    pub(crate) in_park: Cell<bool>,
}

thread_local! {
    static WORKER: Cell<*const WorkerCtx> = const { Cell::new(ptr::null()) };
    static RUNTIME: RefCell<Option<StdArc<Shared>>> = const { RefCell::new(None) };
}

/// Restores the previous `WORKER` value (and timer driver) on drop.
pub(crate) struct WorkerGuard {
    prev: *const WorkerCtx,
    _timers: Option<TimerDriverGuard>,
}

impl Drop for WorkerGuard {
    fn drop(&mut self) {
        WORKER.with(|w| w.set(self.prev));
    }
}

/// Makes `ctx` this thread's worker context until the guard is dropped. The
/// caller keeps `ctx` alive (and in place) longer than the guard.
pub(crate) fn enter_worker(ctx: &WorkerCtx) -> WorkerGuard {
    let prev = WORKER.with(|w| w.replace(ctx));
    WorkerGuard {
        prev,
        _timers: enter_timers(&ctx.shared),
    }
}

/// Installs the runtime's timers as goro-hook's timer driver of this thread.
fn enter_timers(shared: &Shared) -> Option<TimerDriverGuard> {
    shared.timers.clone().map(goro_hook::enter_timer_driver)
}

/// Runs `f` with this thread's worker context, if it runs a core.
#[inline]
pub(crate) fn with_worker<R>(f: impl FnOnce(Option<&WorkerCtx>) -> R) -> R {
    let p = WORKER.with(|w| w.get());
    // SAFETY: a non-null `WORKER` points to a live `WorkerCtx` (module
    // invariant); it is only used through `&` on this thread.
    f(unsafe { p.as_ref() })
}

/// Restores the previous `RUNTIME` (and timer driver) on drop.
pub(crate) struct RuntimeGuard {
    prev: Option<StdArc<Shared>>,
    _timers: Option<TimerDriverGuard>,
}

impl Drop for RuntimeGuard {
    fn drop(&mut self) {
        let prev = self.prev.take();
        RUNTIME.with(|r| *r.borrow_mut() = prev);
    }
}

/// Makes `shared` the current runtime of this (non-worker) thread.
pub(crate) fn enter_runtime(shared: StdArc<Shared>) -> RuntimeGuard {
    let timers = enter_timers(&shared);
    let prev = RUNTIME.with(|r| r.borrow_mut().replace(shared));
    RuntimeGuard {
        prev,
        _timers: timers,
    }
}

/// The runtime this thread belongs to (worker or blocking-pool thread).
pub(crate) fn current_runtime() -> Option<StdArc<Shared>> {
    with_worker(|w| w.map(|w| w.shared.clone())).or_else(|| RUNTIME.with(|r| r.borrow().clone()))
}

/// The id of the goroutine this thread is polling.
pub(crate) fn current_goroutine() -> Option<GoroutineId> {
    goro_hook::current_goroutine().map(GoroutineId::new)
}

/// Polls the goroutine `record` with `waker` (the waker of the goroutine's
/// own poll, `cx.waker()`): runs `poll` inside a hook scope for it and
/// returns `poll`'s result with the park the goroutine noted, if any.
#[inline]
pub(crate) fn poll_scoped<R>(
    record: &GoroutineRecord,
    waker: &Waker,
    poll: impl FnOnce() -> R,
) -> (R, Option<ParkNote>) {
    let scope = PollScope::new(record.id.as_u64(), waker)
        .with_budget(BUDGET)
        .with_rng_state(record.rng_state());
    let out = scope.enter(poll);
    record.set_rng_state(scope.rng_state());
    (out, scope.park())
}

/// The wait to record for a poll that returned `Pending` after noting
/// `noted` (`FutureWait` when the pending future said nothing).
pub(crate) fn wait_record(noted: Option<ParkNote>) -> WaitRecord {
    let since = with_worker(|w| w.map_or_else(Instant::now, |c| c.now.get()));
    match noted {
        Some(n) => WaitRecord {
            reason: n.reason,
            at: Some(n.at),
            on: n.on,
            since,
        },
        None => WaitRecord {
            reason: WaitReason::FutureWait,
            at: None,
            on: None,
            since,
        },
    }
}
