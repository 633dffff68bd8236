//! The two runtime services this crate needs, in one place: arming a
//! deadline and starting a goroutine.
//!
//! # Design
//!
//! A deadline uses the goro runtime's timer wheel when the caller runs on a
//! goro runtime and the process-wide fallback timer thread elsewhere (tokio,
//! plain threads). A spawned function runs as a new goroutine on the current
//! goro runtime, or on a new thread off a runtime (as Go's `time.AfterFunc`
//! off a runtime would have nothing else to run on).
//!
//! TEMPORARY: both come from `goro-runtime` until the std-only `goro-hook`
//! crate carries the timer seam; this file is the only place to switch.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::Thread;
use std::time::Instant;

use goro_runtime::time::Alarm;

/// An armed one-shot timer; dropping it disarms it.
pub(crate) struct DeadlineTimer(Alarm);

/// Calls `f` once at `deadline` (on whichever thread processes timers; `f`
/// must be short and must not block).
#[track_caller]
pub(crate) fn arm_deadline(
    deadline: Instant,
    f: impl Fn() + Send + Sync + 'static,
) -> DeadlineTimer {
    let alarm = Alarm::new(f);
    alarm.reset_at(deadline);
    DeadlineTimer(alarm)
}

impl Drop for DeadlineTimer {
    fn drop(&mut self) {
        self.0.stop();
    }
}

/// Runs `fut` as a new goroutine of the current goro runtime, or on a new
/// thread when the caller is not on a goro runtime.
#[track_caller]
pub(crate) fn go(fut: impl Future<Output = ()> + Send + 'static) {
    go_at(fut, std::panic::Location::caller())
}

/// [`go`] with the spawn site to record.
pub(crate) fn go_at(
    fut: impl Future<Output = ()> + Send + 'static,
    _at: &'static std::panic::Location<'static>,
) {
    match goro_runtime::runtime::Handle::try_current() {
        Some(rt) => drop(rt.spawn(fut)),
        None => {
            std::thread::Builder::new()
                .name("goro-sync-go".into())
                .spawn(move || block_on(fut))
                .expect("goro-sync: cannot start a thread");
        }
    }
}

/// Wakes a parked thread.
struct ThreadWaker(Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// Polls `fut` to completion on this thread, parking between polls.
fn block_on<F: Future>(fut: F) -> F::Output {
    let mut fut = pin!(fut);
    let waker = Waker::from(Arc::new(ThreadWaker(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::park();
    }
}
