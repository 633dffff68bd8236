//! The two runtime services contexts need, in one place: arming a deadline
//! and starting an `after_func` in its own goroutine.
//!
//! # Design
//!
//! Both go through `goro-hook`'s timer seam, so this crate never depends on
//! the runtime: a deadline is a [`TimerEntry`] with a call action (the goro
//! runtime's timing wheel when created on a goro runtime, the process-wide
//! fallback timer thread elsewhere: tokio, plain threads), and a function
//! starts with [`goro_hook::spawn_detached`] (a new goroutine of the current
//! thread's runtime, or a new thread off a runtime).

use std::panic::Location;
use std::sync::Arc;
use std::time::Instant;

use goro_hook::{TimerAction, TimerEntry};

/// An armed one-shot timer; dropping it disarms and frees it.
pub(crate) struct DeadlineTimer {
    _entry: TimerEntry,
}

/// Calls `f` once at `deadline` (on whichever thread processes timers; `f`
/// must be short and must not block).
#[track_caller]
pub(crate) fn arm_deadline(
    deadline: Instant,
    f: impl Fn() + Send + Sync + 'static,
) -> DeadlineTimer {
    let entry = TimerEntry::new(TimerAction::Call {
        f: Arc::new(f),
        at: Location::caller(),
    });
    entry.arm(deadline);
    DeadlineTimer { _entry: entry }
}

/// Runs `f` in a new goroutine of the current thread's runtime, or on a
/// new thread off a runtime.
#[track_caller]
pub(crate) fn go(f: impl FnOnce() + Send + 'static) {
    goro_hook::spawn_detached(f);
}
