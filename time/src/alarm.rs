//! `Alarm`: a re-armable timer that calls a function when it fires.
//!
//! Go: the runtime `timer` struct with its `f` callback (`runtime/time.go`),
//! the building block of `time.Timer`, `time.Ticker` and `time.AfterFunc`.
//!
//! # Design
//!
//! An alarm owns one goro-hook [`TimerEntry`] for its whole life (an entry
//! of the runtime's wheel when created on a goroutine, of the fallback timer
//! thread elsewhere), so [`Alarm::reset`] and [`Alarm::stop`] never
//! allocate. The function runs on whichever thread processes the timers (a
//! worker, the thread parked in the reactor, or the fallback timer thread),
//! with no lock held; it must be short and must not block. A panic in it is
//! caught and follows the runtime's `PanicPolicy`. Channel-based timers
//! ([`Timer`](crate::Timer)) build on it by making the function a
//! non-blocking send, and `after_func` by making it spawn a goroutine.
//!
//! # Invariants
//!
//! - `stop` and `reset` report whether the alarm was armed, as Go's
//!   `Timer.Stop`/`Timer.Reset` do. A `true` from `stop` means the function
//!   will not run for that arming; a `false` means it already ran, is running
//!   or was never armed. Callers that need "no stale effect after stop" (Go
//!   1.23 channels) pair the function with their own generation check.

use std::fmt;
use std::panic::Location;
use std::sync::Arc;
use std::time::{Duration, Instant};

use goro_hook::{TimerAction, TimerEntry};

use crate::sleep::far_future;

/// A timer that calls a function when it fires; re-armable, not periodic.
///
/// ```
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use std::sync::Arc;
/// use std::time::Duration;
/// use goro_time::Alarm;
///
/// let fired = Arc::new(AtomicBool::new(false));
/// let f = fired.clone();
/// let alarm = Alarm::new(move || f.store(true, Ordering::SeqCst));
/// assert!(!alarm.reset(Duration::from_secs(3600)));
/// assert!(alarm.stop());
/// assert!(!alarm.stop());
/// assert!(!fired.load(Ordering::SeqCst));
/// ```
pub struct Alarm {
    timer: TimerEntry,
}

impl Alarm {
    /// A new, unarmed alarm that will call `f` each time it fires, on the
    /// current runtime's timers (or the fallback timer thread off a
    /// runtime).
    ///
    /// If `f` panics, the panic follows the runtime's `PanicPolicy`: under
    /// `Abort` the runtime stops and `block_on` returns
    /// `RuntimeError::TimerPanic` naming where the alarm was created; under
    /// `Ignore` (and off a runtime) the panic is dropped. It never unwinds
    /// into the scheduler.
    #[track_caller]
    pub fn new(f: impl Fn() + Send + Sync + 'static) -> Alarm {
        let timer = TimerEntry::new(TimerAction::Call {
            f: Arc::new(f),
            at: Location::caller(),
        });
        Alarm { timer }
    }

    /// Arms the alarm to fire once after `d` (replacing any earlier arming).
    /// Returns whether it was armed (Go's `Reset` result). A zero `d` fires
    /// at the next timer tick, never inside this call.
    ///
    /// ```
    /// let a = goro_time::Alarm::new(|| {});
    /// assert!(!a.reset(std::time::Duration::from_secs(60)));
    /// assert!(a.reset(std::time::Duration::from_secs(60)));
    /// ```
    pub fn reset(&self, d: Duration) -> bool {
        self.reset_at(Instant::now().checked_add(d).unwrap_or_else(far_future))
    }

    /// Arms the alarm to fire once at `deadline`. Returns whether it was armed.
    ///
    /// ```
    /// let a = goro_time::Alarm::new(|| {});
    /// assert!(!a.reset_at(std::time::Instant::now() + std::time::Duration::from_secs(60)));
    /// ```
    pub fn reset_at(&self, deadline: Instant) -> bool {
        self.timer.arm(deadline)
    }

    /// Disarms the alarm. Returns whether it was armed (Go's `Stop` result).
    ///
    /// ```
    /// let a = goro_time::Alarm::new(|| {});
    /// assert!(!a.stop());
    /// ```
    pub fn stop(&self) -> bool {
        self.timer.cancel()
    }
}

impl fmt::Debug for Alarm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Alarm").finish_non_exhaustive()
    }
}
