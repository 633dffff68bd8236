//! `sleep` and `sleep_until`: a future that completes at a deadline.
//!
//! Go: `time.Sleep` (`runtime.timeSleep` in `runtime/time.go`).
//!
//! # Design
//!
//! A [`Sleep`] takes a timer entry from the current thread's timer driver
//! (goro-hook's seam: the runtime's wheel on a goroutine, the fallback timer
//! thread elsewhere) on its first pending poll, with its task's waker as the
//! action, and frees it on drop. A deadline already reached completes
//! without touching the driver. Re-polling with a new waker replaces the
//! stored one (no clone if the waker is the same).

use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use goro_hook::{note_park, TimerAction, TimerEntry, WaitReason};

/// Pauses the current goroutine for at least `d` (Go's `time.Sleep`).
///
/// A zero duration completes at once. Timers have a resolution of 1 ms: the
/// sleep ends between `d` and about `d + 1ms` later (plus scheduling delay).
/// While pending, the goroutine shows `[sleep]` in the goroutine dump.
///
/// ```
/// # futures::executor::block_on(async {
/// let start = std::time::Instant::now();
/// goro_time::sleep(std::time::Duration::from_millis(5)).await;
/// assert!(start.elapsed() >= std::time::Duration::from_millis(5));
/// # });
/// ```
#[track_caller]
pub fn sleep(d: Duration) -> Sleep {
    let at = Location::caller();
    let now = Instant::now();
    Sleep::new(now.checked_add(d).unwrap_or_else(far_future), at)
}

/// Pauses the current goroutine until `deadline`.
///
/// ```
/// # futures::executor::block_on(async {
/// let deadline = std::time::Instant::now() + std::time::Duration::from_millis(2);
/// goro_time::sleep_until(deadline).await;
/// assert!(std::time::Instant::now() >= deadline);
/// # });
/// ```
#[track_caller]
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep::new(deadline, Location::caller())
}

/// An instant about 30 years from now: "never" for a duration that overflows.
pub(crate) fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86400 * 365 * 30)
}

/// The future returned by [`sleep`] and [`sleep_until`].
///
/// ```
/// # futures::executor::block_on(async {
/// let s: goro_time::Sleep = goro_time::sleep(std::time::Duration::ZERO);
/// s.await;
/// # });
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct Sleep {
    deadline: Instant,
    at: &'static Location<'static>,
    /// The timer, once registered.
    timer: Option<TimerEntry>,
}

impl Sleep {
    fn new(deadline: Instant, at: &'static Location<'static>) -> Self {
        Sleep {
            deadline,
            at,
            timer: None,
        }
    }

    /// The instant this sleep completes at.
    ///
    /// ```
    /// let d = std::time::Duration::from_millis(1);
    /// let s = goro_time::sleep(d);
    /// assert!(s.deadline() > std::time::Instant::now() - d);
    /// ```
    pub fn deadline(&self) -> Instant {
        self.deadline
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        match &this.timer {
            None => {
                if Instant::now() >= this.deadline {
                    return Poll::Ready(());
                }
                let timer = TimerEntry::new(TimerAction::Wake(cx.waker().clone()));
                timer.arm(this.deadline);
                this.timer = Some(timer);
            }
            Some(timer) => {
                if timer.poll_fired(cx).is_ready() {
                    return Poll::Ready(());
                }
            }
        }
        note_park(WaitReason::Sleep, this.at, None);
        Poll::Pending
    }
}

/// hyper's timer future: `goro_http`'s `Timer` hands out `Sleep`s as they
/// are (hyper's header-read timeout and HTTP/2 keep-alive run on goro's
/// timer wheel). Feature `hyper`.
#[cfg(feature = "hyper")]
impl hyper::rt::Sleep for Sleep {}

impl fmt::Debug for Sleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sleep")
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
    }
}
