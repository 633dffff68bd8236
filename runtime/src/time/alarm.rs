//! `Alarm`: a re-armable timer that calls a function when it fires.
//!
//! Go: the runtime `timer` struct with its `f` callback (`runtime/time.go`),
//! the building block of `time.Timer`, `time.Ticker` and `time.AfterFunc`.
//!
//! # Design
//!
//! An alarm owns one wheel entry for its whole life, so [`Alarm::reset`]
//! and [`Alarm::stop`] never allocate. The function runs on whichever thread
//! processes the timers (a worker, or the thread parked in the reactor), with
//! no runtime lock held; it must be short and must not block. A panic in it
//! is caught and follows the runtime's `PanicPolicy`. Channel-based
//! timers (`goro::time::Timer`) build on it by making the function a
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
use std::panic::{catch_unwind, AssertUnwindSafe, Location};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::sleep::far_future;
use super::wheel::{Action, Key};
use crate::io::driver::Handle;

/// A timer that calls a function when it fires; re-armable, not periodic.
///
/// ```
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use std::sync::Arc;
/// use std::time::Duration;
/// use goro_runtime::time::Alarm;
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
    handle: Handle,
    key: Key,
}

impl Alarm {
    /// A new, unarmed alarm that will call `f` each time it fires, on the
    /// current runtime's driver (or the process-wide one off a runtime).
    ///
    /// If `f` panics, the panic follows the runtime's
    /// [`PanicPolicy`](crate::runtime::PanicPolicy): under `Abort` the
    /// runtime stops and `block_on` returns
    /// [`RuntimeError::TimerPanic`](crate::runtime::RuntimeError::TimerPanic)
    /// naming where the alarm was created; under `Ignore` (and off a
    /// runtime) the panic is dropped. It never unwinds into the scheduler.
    #[track_caller]
    pub fn new(f: impl Fn() + Send + Sync + 'static) -> Alarm {
        let at = Location::caller();
        let handle = Handle::current();
        let f = move || {
            if let Err(payload) = catch_unwind(AssertUnwindSafe(&f)) {
                super::action_panicked(payload, Some(at));
            }
        };
        let key = handle.inner().timers.alloc(Action::Call(Arc::new(f)));
        Alarm { handle, key }
    }

    /// Arms the alarm to fire once after `d` (replacing any earlier arming).
    /// Returns whether it was armed (Go's `Reset` result). A zero `d` fires
    /// at the next timer tick, never inside this call.
    ///
    /// ```
    /// let a = goro_runtime::time::Alarm::new(|| {});
    /// assert!(!a.reset(std::time::Duration::from_secs(60)));
    /// assert!(a.reset(std::time::Duration::from_secs(60)));
    /// ```
    pub fn reset(&self, d: Duration) -> bool {
        self.reset_at(Instant::now().checked_add(d).unwrap_or_else(far_future))
    }

    /// Arms the alarm to fire once at `deadline`. Returns whether it was armed.
    ///
    /// ```
    /// let a = goro_runtime::time::Alarm::new(|| {});
    /// assert!(!a.reset_at(std::time::Instant::now() + std::time::Duration::from_secs(60)));
    /// ```
    pub fn reset_at(&self, deadline: Instant) -> bool {
        let armed = self.handle.inner().timers.arm(self.key, deadline);
        self.handle.after_arm(armed.unpark);
        armed.was_armed
    }

    /// Disarms the alarm. Returns whether it was armed (Go's `Stop` result).
    ///
    /// ```
    /// let a = goro_runtime::time::Alarm::new(|| {});
    /// assert!(!a.stop());
    /// ```
    pub fn stop(&self) -> bool {
        self.handle.inner().timers.cancel(self.key)
    }
}

impl Drop for Alarm {
    fn drop(&mut self) {
        self.handle.inner().timers.free(self.key);
    }
}

impl fmt::Debug for Alarm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Alarm").finish_non_exhaustive()
    }
}
