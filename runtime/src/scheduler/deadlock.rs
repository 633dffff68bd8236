//! The global deadlock check: "fatal error: all goroutines are asleep -
//! deadlock!".
//!
//! Go: `checkdead` in `runtime/proc.go`, called when the last M goes idle.
//!
//! # Design
//!
//! The last worker to park runs [`Shared::check_deadlock`] before it blocks.
//! It reports a deadlock only when every one of these holds:
//!
//! 1. the main goroutine is inside `block_on` (a runtime driven only through
//!    handles has no "program" to end) and the runtime is neither stopping
//!    nor aborted;
//! 2. no task is queued anywhere (injector, local queues, `runnext` slots)
//!    and the main goroutine was not woken;
//! 3. no timer is armed, no goroutine waits for IO and no `spawn_blocking`
//!    job is queued or running (`has_pending_activity`): each could wake a
//!    goroutine later;
//! 4. no [`Handle`](crate::runtime::Handle) clone is alive: its holder could
//!    spawn a goroutine (the `Runtime`'s own handle, borrowed through
//!    `Runtime::handle`, is not counted: a thread spawning through a shared
//!    `&Runtime` while `block_on` runs must hold a clone);
//! 5. every goroutine is parked for a reason only another goroutine can end
//!    (channel, select, sync primitive, join): not `sleep`, `IO wait`, or a
//!    foreign future (`future wait`: its waker is unknown, e.g. a tokio
//!    oneshot);
//! 6. no thread outside the runtime that has used goro channels is awake
//!    (`goro_hook::outside_threads_awake`).
//!
//! A deadlock is reported once it has persisted unchanged (the same
//! goroutines, parked at the same instants) for 30 ms: a check runs again
//! then. This gives a thread that was just handed a channel handle (which
//! goro learns about only from its first operation) time to show itself;
//! it is not needed for soundness otherwise.
//!
//! If only (6) fails, the check registers a waker that re-runs it when an
//! outside thread parks in a goro operation or exits. A `spawn_blocking`
//! job finishing and the last `Handle` clone being dropped also re-run it.
//!
//! # Why a report is never false
//!
//! All workers are parked, so no goroutine is being polled and no worker
//! pushes a task, except a worker parked in the driver that dispatches a
//! timer or IO event. A timer being fired counts as armed until its action
//! (the wake) has run (`Timers::firing`), and a goroutine woken by IO was
//! parked in `IO wait`, which (5) excludes; a blocking job's wake happens
//! before the pool counts it finished (both under the pool lock). The check
//! reads these counters *before* the queues, so a wake they no longer count
//! has pushed its goroutine where the queue check sees it. The remaining
//! wakers are the ones (4) and (6) exclude. So when all six hold, nothing
//! can ever schedule a goroutine again.

use std::sync::{Arc, Weak};
use std::task::{Wake, Waker};
use std::time::{Duration, Instant};

use crate::loom::lock;

/// A deadlock seen but not yet confirmed: when, and its fingerprint.
pub(crate) type Suspect = (Instant, Fingerprint);

/// The parked goroutines: (id, parked since).
pub(crate) type Fingerprint = Vec<(u64, Instant)>;

/// How long a deadlock must persist, unchanged, before it is reported.
const CONFIRM: Duration = Duration::from_millis(30);

use crate::error::RuntimeError;
use crate::loom::{Ordering, StdArc};
use crate::registry::{format_dump, GoroutineSnapshot, GoroutineState};
use goro_hook::WaitReason;

use super::Shared;

/// Whether `g` is parked on something only another goroutine (or an
/// outside participant, checked separately) can complete: not a timer, IO
/// or a foreign future, and no foreign waker of it alive (a foreign future
/// awaited in the same poll as a goro operation, `goro_hook::WakerWatch`).
pub(crate) fn asleep_for_good(g: &GoroutineSnapshot) -> bool {
    match g.state {
        GoroutineState::Waiting { reason, .. } => {
            g.park.is_some_and(|p| p.clean)
                && !matches!(
                    reason,
                    WaitReason::Sleep | WaitReason::IoWait | WaitReason::FutureWait
                )
        }
        _ => false,
    }
}

/// Re-runs the check: unparks core 0, which parks again as the last idle
/// worker.
pub(crate) struct Recheck(pub(crate) Weak<Shared>);

impl Wake for Recheck {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        if let Some(s) = self.0.upgrade() {
            s.remotes[0].parker.unpark();
        }
    }
}

impl Shared {
    /// The waker that re-runs the deadlock check.
    pub(crate) fn recheck_waker(self: &StdArc<Self>) -> &Waker {
        self.recheck
            .get_or_init(|| Waker::from(Arc::new(Recheck(StdArc::downgrade(self)))))
    }

    /// Something that could have kept the check from reporting went away
    /// (a blocking job finished, the last `Handle` clone was dropped): make
    /// the last idle worker run it again.
    pub(crate) fn poke_deadlock_check(&self) {
        if self.detect_deadlocks && self.main_active.load(Ordering::Acquire) {
            self.remotes[0].parker.unpark();
        }
    }

    /// Run by the last worker to park, `me`, before it blocks (see the
    /// module docs). Reports a deadlock through `abort_with`.
    pub(crate) fn check_deadlock(self: &StdArc<Self>) {
        if !self.detect_deadlocks
            || !self.main_active.load(Ordering::Acquire)
            || self.is_stopping()
            || self.aborted()
        {
            return;
        }
        let Some((dump, print)) = self.deadlocked() else {
            *lock(&self.deadlock_suspect) = None;
            return;
        };
        // Confirm: the same goroutines, parked the same way, a little
        // later. A thread goro cannot know about yet (one that was just
        // handed a handle and has not used it) usually shows itself within
        // this delay.
        let mut suspect = lock(&self.deadlock_suspect);
        match &*suspect {
            Some((since, p)) if *p == print => {
                if since.elapsed() >= CONFIRM {
                    drop(suspect);
                    self.report_deadlock(dump);
                }
            }
            _ => {
                *suspect = Some((Instant::now(), print));
                drop(suspect);
                let recheck = self.recheck_waker().clone();
                let spawned = std::thread::Builder::new()
                    .name("goro-deadlock-confirm".into())
                    .spawn(move || {
                        std::thread::sleep(CONFIRM);
                        recheck.wake();
                    });
                if spawned.is_err() {
                    self.report_deadlock(dump);
                }
            }
        }
    }

    fn report_deadlock(&self, dump: String) {
        tracing::error!(target: "goro::deadlock", "all goroutines are asleep - deadlock!");
        self.abort_with(RuntimeError::Deadlock { dump });
    }

    /// The dump and a fingerprint of the parked goroutines, if the runtime
    /// is deadlocked now.
    fn deadlocked(self: &StdArc<Self>) -> Option<(String, Fingerprint)> {
        // (3) timers (armed or being fired), IO, blocking jobs; (4)
        // handles. First: a timer or job that finished waking somebody
        // has pushed that goroutine before it stopped counting here, so
        // the queue check below sees it.
        if self.has_pending_activity() || self.outside_handles.load(Ordering::SeqCst) > 0 {
            return None;
        }
        // (2) queued work, and a woken main goroutine.
        if self.main_woken.load(Ordering::SeqCst)
            || !self.injector.is_empty()
            || self
                .remotes
                .iter()
                .any(|r| !r.stealer.is_empty() || r.slots_occupied())
        {
            return None;
        }
        // (5) every goroutine asleep for good. Usually one is not (the
        // main goroutine is running, or a goroutine is runnable): find that
        // one without copying the whole table.
        if self.registry.any(|g| !asleep_for_good(g)) {
            return None;
        }
        let gs = self.registry.snapshot();
        if gs.is_empty() || !gs.iter().all(asleep_for_good) {
            return None;
        }
        // (6) outside threads; re-checked when one of them sleeps or exits.
        if goro_hook::outside_threads_awake(Some(self.recheck_waker())) {
            return None;
        }
        // Re-check (2): a task pushed meanwhile means somebody was awake.
        if self.main_woken.load(Ordering::Acquire) || !self.injector.is_empty() {
            return None;
        }
        let print = gs
            .iter()
            .map(|g| match g.state {
                GoroutineState::Waiting { since, .. } => (g.id.as_u64(), since),
                _ => (g.id.as_u64(), Instant::now()),
            })
            .collect();
        Some((format_dump(&gs), print))
    }
}
