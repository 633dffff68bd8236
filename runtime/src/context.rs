//! Per-thread runtime context: which worker core, if any, this thread runs,
//! and which goroutine it is polling.
//!
//! Go: `getg().m.p` — the current M's P, and `getg()` itself.
//!
//! # Design
//!
//! A worker thread (or the thread inside `block_on`) points the `WORKER`
//! thread-local at its [`WorkerCtx`] for as long as it runs a core. While a
//! goroutine is polled, `WorkerCtx::current` points at its registry record;
//! `hook::note_park` only fills the `noted` cell (no lock, no allocation) and
//! the goroutine wrapper stores it into the record when the poll returns
//! `Pending`. Off a worker, or between polls, the hooks fall back to their
//! no-op behaviour. Threads of the blocking pool set `RUNTIME` so that
//! `spawn` works there too.
//!
//! # Invariants
//!
//! - `WORKER` is non-null only between `enter_worker` and the drop of its
//!   guard, and then points to a `WorkerCtx` that outlives the guard.
//! - `current` is `Some` only during a goroutine poll, and the record it points
//!   to is alive for that poll.

use std::cell::{Cell, RefCell};
use std::panic::Location;
use std::ptr::{self, NonNull};
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use crate::hook::{WaitObject, WaitReason};
use crate::loom::StdArc;
use crate::registry::{GoroutineId, GoroutineRecord, WaitRecord};
use crate::scheduler::handoff::Holder;
use crate::scheduler::{CoreBox, Shared};

/// Ready operations a goroutine may do per poll before `poll_budget` makes it
/// yield. Go preempts a goroutine after 10 ms; an async task can only be
/// asked to yield at an await point, and this is the usual count (tokio's).
pub(crate) const BUDGET: u32 = 128;

/// A park noted by `hook::note_park` during the current poll.
#[derive(Clone, Copy)]
pub(crate) struct Noted {
    pub(crate) reason: WaitReason,
    pub(crate) at: &'static Location<'static>,
    pub(crate) on: Option<WaitObject>,
}

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
    /// The goroutine being polled (see module invariants).
    pub(crate) current: Cell<Option<NonNull<GoroutineRecord>>>,
    /// Remaining cooperative budget of the current poll.
    pub(crate) budget: Cell<u32>,
    /// The waker the current goroutine poll was given (null between polls;
    /// valid while `current` is `Some`). `poll_budget` charges only
    /// operations polled with this waker: a nested executor (a `*_blocking`
    /// call inside a goroutine) polls with its own waker, and making it
    /// yield would spin forever, since the budget refills only when the
    /// scheduler re-polls the goroutine.
    pub(crate) waker: Cell<*const Waker>,
    /// The last `note_park` of the current poll.
    pub(crate) noted: Cell<Option<Noted>>,
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

/// Restores the previous `WORKER` value on drop.
pub(crate) struct WorkerGuard {
    prev: *const WorkerCtx,
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
    WorkerGuard { prev }
}

/// Runs `f` with this thread's worker context, if it runs a core.
#[inline]
pub(crate) fn with_worker<R>(f: impl FnOnce(Option<&WorkerCtx>) -> R) -> R {
    let p = WORKER.with(|w| w.get());
    // SAFETY: a non-null `WORKER` points to a live `WorkerCtx` (module
    // invariant); it is only used through `&` on this thread.
    f(unsafe { p.as_ref() })
}

/// Restores the previous `RUNTIME` on drop.
pub(crate) struct RuntimeGuard {
    prev: Option<StdArc<Shared>>,
}

impl Drop for RuntimeGuard {
    fn drop(&mut self) {
        let prev = self.prev.take();
        RUNTIME.with(|r| *r.borrow_mut() = prev);
    }
}

/// Makes `shared` the current runtime of this (non-worker) thread.
pub(crate) fn enter_runtime(shared: StdArc<Shared>) -> RuntimeGuard {
    let prev = RUNTIME.with(|r| r.borrow_mut().replace(shared));
    RuntimeGuard { prev }
}

/// The runtime this thread belongs to (worker or blocking-pool thread).
pub(crate) fn current_runtime() -> Option<StdArc<Shared>> {
    with_worker(|w| w.map(|w| w.shared.clone())).or_else(|| RUNTIME.with(|r| r.borrow().clone()))
}

/// The id of the goroutine this thread is polling.
pub(crate) fn current_goroutine() -> Option<GoroutineId> {
    with_worker(|w| {
        w.and_then(|w| w.current.get())
            // SAFETY: `current` points to the live record of the goroutine
            // being polled on this thread (module invariant).
            .map(|r| unsafe { r.as_ref() }.id)
    })
}

/// Marks the start of a goroutine poll; the guard ends it.
pub(crate) struct PollGuard<'a> {
    ctx: Option<&'a WorkerCtx>,
    prev: Option<NonNull<GoroutineRecord>>,
    prev_budget: u32,
    prev_noted: Option<Noted>,
    prev_waker: *const Waker,
}

impl PollGuard<'_> {
    /// The wait to record if the poll returned `Pending`.
    pub(crate) fn wait_record(&self) -> WaitRecord {
        let noted = self.ctx.and_then(|c| c.noted.get());
        let since = self.ctx.map_or_else(Instant::now, |c| c.now.get());
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
}

impl Drop for PollGuard<'_> {
    fn drop(&mut self) {
        if let Some(c) = self.ctx {
            c.current.set(self.prev);
            c.budget.set(self.prev_budget);
            c.noted.set(self.prev_noted);
            c.waker.set(self.prev_waker);
        }
    }
}

/// Starts polling the goroutine `record` on this thread.
///
/// `waker` is the waker of the goroutine's own poll (`cx.waker()`).
///
/// # Safety
///
/// `record` and `waker` must stay alive until the returned guard is dropped.
pub(crate) unsafe fn enter_poll<'a>(
    ctx: Option<&'a WorkerCtx>,
    record: &GoroutineRecord,
    waker: &Waker,
) -> PollGuard<'a> {
    match ctx {
        Some(c) => {
            let prev = c.current.replace(Some(NonNull::from(record)));
            let prev_budget = c.budget.replace(BUDGET);
            let prev_noted = c.noted.replace(None);
            let prev_waker = c.waker.replace(waker);
            PollGuard {
                ctx: Some(c),
                prev,
                prev_budget,
                prev_noted,
                prev_waker,
            }
        }
        None => PollGuard {
            ctx: None,
            prev: None,
            prev_budget: 0,
            prev_noted: None,
            prev_waker: ptr::null(),
        },
    }
}

#[inline]
pub(crate) fn note_park(
    reason: WaitReason,
    at: &'static Location<'static>,
    on: Option<WaitObject>,
) {
    with_worker(|w| {
        if let Some(w) = w {
            if w.current.get().is_some() {
                w.noted.set(Some(Noted { reason, at, on }));
            }
        }
    })
}

/// Charges one ready operation to the current goroutine's budget; `Pending`
/// (after waking `cx`'s waker) when it is used up.
///
/// Only operations polled with the goroutine's own waker are charged. An
/// operation polled by a nested executor inside the goroutine (e.g. a
/// channel's `recv_blocking`, which polls with a thread-parking waker) is
/// not: yielding there would only make the nested executor re-poll at once,
/// forever, because the budget refills only when the scheduler polls the
/// goroutine again. (A combinator that polls sub-futures with its own waker,
/// like `FuturesUnordered`, is likewise not charged; it has its own yield
/// rule.)
#[inline]
pub(crate) fn poll_budget(cx: &mut Context<'_>) -> Poll<()> {
    with_worker(|w| match w {
        Some(w)
            if w.current.get().is_some()
                // SAFETY: `waker` is non-null only during a goroutine poll
                // (set by `enter_poll`, restored by its guard), and then
                // points to that poll's live waker.
                && unsafe { w.waker.get().as_ref() }.is_some_and(|g| cx.waker().will_wake(g)) =>
        {
            let b = w.budget.get();
            if b == 0 {
                cx.waker().wake_by_ref();
                Poll::Pending
            } else {
                w.budget.set(b - 1);
                Poll::Ready(())
            }
        }
        _ => Poll::Ready(()),
    })
}

#[inline]
pub(crate) fn rand_below(n: u32) -> u32 {
    debug_assert!(n > 0, "rand_below(0)");
    let from_goroutine = with_worker(|w| {
        w.and_then(|w| w.current.get())
            // SAFETY: `current` points to the live record of the goroutine
            // being polled on this thread (module invariant).
            .map(|r| unsafe { r.as_ref() }.rand_below(n))
    });
    from_goroutine.unwrap_or_else(|| fastrand::u32(0..n))
}
