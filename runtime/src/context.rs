//! Per-thread runtime context: which worker core, if any, this thread runs,
//! and which runtime a blocking-pool thread belongs to.
//!
//! Go: `getg().m.p` — the current M's P.
//!
//! # Design
//!
//! A worker thread (or the thread inside `block_on`) points the `WORKER`
//! thread-local at its [`WorkerCtx`] for as long as it runs a core. Threads
//! of the blocking pool set `RUNTIME` so that `spawn` works there too. Both
//! let the runtime's driver install its per-thread state
//! (`park::Driver::enter_thread`: the IO handle for sockets, goro-hook's
//! timer driver), so timers and sockets created there use the runtime's. Which goroutine is being
//! polled is goro-hook's business (each poll runs in a `PollScope`, see
//! `task::poll_scoped`); [`current_goroutine`] reads it from there.
//!
//! # Invariants
//!
//! - `WORKER` is non-null only between `enter_worker` and the drop of its
//!   guard, and then points to a `WorkerCtx` that outlives the guard.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::ptr;
use std::time::Instant;

use crate::loom::StdArc;
use crate::registry::GoroutineId;
use crate::scheduler::handoff::Holder;
use crate::scheduler::{CoreBox, Shared};

/// The state of a thread that runs a worker core.
pub(crate) struct WorkerCtx {
    /// The runtime. Set once.
    pub(crate) shared: StdArc<Shared>,
    /// Which core this thread runs. Set once.
    pub(crate) index: usize,
    /// The core, while this thread holds it; borrowed briefly by the run loop
    /// and by wakers running on this thread.
    /// `None` once the monitor retook the core while this thread was
    /// stuck in a poll (see `scheduler::handoff`).
    pub(crate) core: RefCell<Option<CoreBox>>,
    /// This thread's side of the core's lease (see `scheduler::handoff`).
    pub(crate) lease: Holder,
    /// Set while a goroutine is polled: the core may be retaken then, and
    /// a waker on this thread touches it only inside a lease section.
    pub(crate) in_poll: Cell<bool>,
    /// Coarse clock for park timestamps (see `GoroutineState::Waiting`).
    pub(crate) now: Cell<Instant>,
    /// Set while this worker is inside its parker: wakers then run on this
    /// thread only from the driver (timers, IO), and the tasks they schedule
    /// here are run by this thread as soon as the park returns, so they
    /// wake nobody else (see `worker::park`). Go: `findRunnable` running
    /// the goroutines `netpoll` returned itself and `injectglist` waking Ms
    /// only for the others.
    pub(crate) in_park: Cell<bool>,
    /// Set by `yield_now` inside the poll that is running on this thread
    /// (cleared by the run loop after each poll): the goroutine's
    /// self-wake is an explicit yield, which goes to the global queue
    /// (Go: `Gosched` -> `globrunqput`), not a spent poll budget, which
    /// stays on this core (see `Shared::schedule_local`).
    pub(crate) yielding: Cell<bool>,
}

thread_local! {
    static WORKER: Cell<*const WorkerCtx> = const { Cell::new(ptr::null()) };
    static RUNTIME: RefCell<Option<StdArc<Shared>>> = const { RefCell::new(None) };
}

/// Restores the previous `WORKER` value (and timer driver) on drop.
pub(crate) struct WorkerGuard {
    prev: *const WorkerCtx,
    _driver: Option<Box<dyn Any>>,
    _runtime_thread: goro_hook::RuntimeThreadGuard,
    /// The thread keeps freed task cells for its next spawns meanwhile.
    _cells: crate::task::cell::cache::Guard,
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
        _driver: ctx.shared.driver.enter_thread(),
        _runtime_thread: goro_hook::enter_runtime_thread(),
        _cells: crate::task::cell::cache::enter(),
    }
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
    _driver: Option<Box<dyn Any>>,
    _runtime_thread: goro_hook::RuntimeThreadGuard,
}

impl Drop for RuntimeGuard {
    fn drop(&mut self) {
        let prev = self.prev.take();
        RUNTIME.with(|r| *r.borrow_mut() = prev);
    }
}

/// Makes `shared` the current runtime of this (non-worker) thread.
pub(crate) fn enter_runtime(shared: StdArc<Shared>) -> RuntimeGuard {
    let driver = shared.driver.enter_thread();
    let prev = RUNTIME.with(|r| r.borrow_mut().replace(shared));
    RuntimeGuard {
        prev,
        _driver: driver,
        _runtime_thread: goro_hook::enter_runtime_thread(),
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
