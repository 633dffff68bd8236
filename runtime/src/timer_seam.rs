//! The runtime's side of goro-hook's timer seam: timers created on a
//! goroutine (or a blocking-pool thread) of this runtime live in its timing
//! wheel, and `after_func`'s goroutines are spawned on it.
//!
//! Go: `addtimer`/`deltimer`/`modtimer` on the current P's timers.
//!
//! # Design
//!
//! [`RuntimeTimers`] wraps the driver's handle. `build` creates one per
//! runtime and the scheduler keeps it as an opaque
//! `Arc<dyn goro_hook::TimerDriver>` that `context` installs on every
//! thread of the runtime, so goro-hook's `TimerEntry::new` finds it. A key is
//! the wheel's slab key packed into a `u64`; arming never allocates. An
//! alarm function's panic is caught where it runs and follows the
//! runtime's `PanicPolicy`, naming where the alarm was created.

use std::panic::{catch_unwind, AssertUnwindSafe, Location};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use goro_hook::{TimerAction, TimerDriver};

use crate::context;
use crate::io::driver::{action_panicked, Handle};
use crate::time::wheel::{Action, Key};

/// This runtime's timers, as goro-hook sees them.
pub(crate) struct RuntimeTimers(pub(crate) Handle);

impl TimerDriver for RuntimeTimers {
    fn alloc(&self, action: TimerAction) -> u64 {
        let action = match action {
            TimerAction::Wake(w) => Action::Wake(w),
            TimerAction::Call { f, at } => Action::Call(Arc::new(move || {
                if let Err(payload) = catch_unwind(AssertUnwindSafe(|| f())) {
                    action_panicked(payload, Some(at));
                }
            })),
            // An action added to goro-hook after this runtime was written:
            // it never fires here.
            _ => Action::None,
        };
        self.0.inner().timers.alloc(action).to_u64()
    }

    fn arm(&self, key: u64, deadline: Instant) -> bool {
        let armed = self.0.inner().timers.arm(Key::from_u64(key), deadline);
        self.0.after_arm(armed.unpark);
        armed.was_armed
    }

    fn cancel(&self, key: u64) -> bool {
        self.0.inner().timers.cancel(Key::from_u64(key))
    }

    fn poll_fired(&self, key: u64, cx: &Context<'_>) -> Poll<()> {
        self.0.inner().timers.poll_fired(Key::from_u64(key), cx)
    }

    fn free(&self, key: u64) {
        self.0.inner().timers.free(Key::from_u64(key))
    }

    fn spawn(&self, fut: goro_hook::BoxFuture, at: &'static Location<'static>) {
        // The driver is installed only on this runtime's threads, where the
        // runtime is current; once it is no longer (the thread is leaving a
        // stopped runtime) the goroutine is dropped unstarted, as every
        // goroutine of a stopped runtime is (Go: the program has exited).
        if let Some(shared) = context::current_runtime() {
            drop(crate::scheduler::spawn(
                &shared,
                fut,
                at,
                context::current_goroutine(),
            ));
        }
    }
}
