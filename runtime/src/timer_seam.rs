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

#[cfg(all(test, not(goro_loom)))]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Weak};
    use std::time::Duration;

    use crate::io::driver::{Handle, Inner};
    use crate::runtime::Runtime;

    /// Sets its flag when dropped: owned by a timer's function, it tells
    /// whether the timer was freed.
    struct DropFlag(Arc<AtomicBool>);

    impl Drop for DropFlag {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    fn runtime() -> Runtime {
        Runtime::builder().workers(1).build().unwrap()
    }

    /// The timer driver of the runtime this runs on.
    fn current_driver() -> Weak<Inner> {
        Handle::current().downgrade()
    }

    /// Regression (LeakSanitizer found it): an `after`, `tick` or
    /// `after_func` still armed when its runtime is dropped kept itself
    /// alive (its fire-and-forget keep-alive) and, through its timer entry,
    /// the runtime's timer driver: both leaked. Dropping the runtime now
    /// frees the driver and the timers.
    #[test]
    fn a_dropped_runtime_with_pending_fire_and_forget_timers_frees_its_driver() {
        let rt = runtime();
        let freed = Arc::new(AtomicBool::new(false));
        let flag = DropFlag(freed.clone());
        let driver = rt
            .block_on(async move {
                drop(goro_time::after(Duration::from_secs(3600)));
                drop(goro_time::tick(Duration::from_secs(3600)));
                let f = goro_time::after_func(Duration::from_secs(3600), move || {
                    let _ = &flag;
                });
                drop(f);
                current_driver()
            })
            .unwrap();
        assert!(driver.upgrade().is_some());
        assert!(!freed.load(Ordering::SeqCst));
        drop(rt);
        assert!(driver.upgrade().is_none(), "the timer driver leaked");
        assert!(freed.load(Ordering::SeqCst), "the after_func timer leaked");
    }

    /// A runtime stops between `block_on` calls but is not gone: a
    /// fire-and-forget timer armed in one call still fires in the next.
    #[test]
    fn fire_and_forget_timers_survive_a_stop_between_block_on_calls() {
        let rt = runtime();
        let (tx, rx) = std::sync::mpsc::channel::<u32>();
        let tx = std::sync::Mutex::new(tx);
        let after = rt
            .block_on(async move {
                drop(goro_time::after_func(Duration::from_millis(5), move || {
                    let _ = tx.lock().unwrap().send(7);
                }));
                goro_time::after(Duration::from_millis(5))
            })
            .unwrap();
        // The runtime is stopped here; both timers fire once it runs again.
        let got = rt
            .block_on(async move {
                assert!(after.recv().await.is_some());
                // The after_func goroutine runs soon; a bounded wait (a
                // failure guard, not synchronisation).
                for _ in 0..5000 {
                    if let Ok(v) = rx.try_recv() {
                        return Some(v);
                    }
                    goro_time::sleep(Duration::from_millis(1)).await;
                }
                None
            })
            .unwrap();
        assert_eq!(got, Some(7));
    }

    /// A timer that outlives its runtime (moved out of `block_on`) can
    /// still be stopped, reset and dropped: its entry is inert, not gone.
    #[test]
    fn a_timer_outliving_its_runtime_is_inert() {
        let rt = runtime();
        let (timer, ticker) = rt
            .block_on(async {
                (
                    goro_time::Timer::new(Duration::from_secs(3600)),
                    goro_time::Ticker::new(Duration::from_secs(3600)),
                )
            })
            .unwrap();
        drop(rt);
        assert!(timer.stop());
        assert!(!timer.reset(Duration::from_millis(1)));
        ticker.reset(Duration::from_millis(1));
        ticker.stop();
        drop((timer, ticker));
    }
}
