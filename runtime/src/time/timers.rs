//! The timer half of the driver: the wheel under its lock, and the clock.
//!
//! Go: the timer parts of `runtime/time.go` and of `findrunnable` /
//! `checkTimers` in `runtime/proc.go`.
//!
//! # Design
//!
//! [`Timers`] keeps a [`Wheel`] and the instant the driver started. A real
//! deadline becomes a tick by rounding *up* to the next millisecond, the clock
//! reads as a tick rounded *down*, so no timer fires before its deadline (it
//! may fire up to about one millisecond after it).
//!
//! The thread that blocks in the reactor records, under the wheel lock, the
//! tick it intends to wake at (`parked_until`). Arming a timer that is due
//! earlier than that reports "unpark needed" to the caller, which interrupts
//! the reactor. Both sides hold the lock, so either the parker sees the new
//! timer when it computes its timeout, or the armer sees `parked_until`: no
//! lost wakeup.
//!
//! # Invariants
//!
//! - `parked_until` is `None` unless a thread is blocked (or about to block)
//!   in the reactor, and then it is the tick that thread will wake at or
//!   before (`u64::MAX`: no timeout). With nobody parked, arming a timer needs
//!   no unpark: the next parker computes its timeout from the wheel.
//! - Actions are run only after the wheel lock is released.
//!
//! # Locking
//!
//! `state` (rank "timer wheel") protects the wheel and `parked_until`. No
//! waker is called and no other runtime lock is taken while it is held.

use crate::loom::{lock, AtomicU64, AtomicUsize, Mutex, MutexGuard, Ordering};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use super::wheel::{Action, Key, Wheel};

/// A panic payload of a timer action.
pub(crate) type ActionPanic = Box<dyn std::any::Any + Send + 'static>;

/// The wheel, its lock and its clock.
pub(crate) struct Timers {
    /// Where a panicking action's payload goes. Set once.
    on_panic: fn(ActionPanic),
    /// Tick 0.
    start: Instant,
    /// The wheel and the parker's wake tick.
    state: Mutex<TimerState>,
    /// A lower bound on the wheel's next expiration (`u64::MAX`: none); lets
    /// [`process`](Self::process) skip the lock. Lowered under `state` by
    /// `arm`, recomputed under `state` by `process`.
    next_due: AtomicU64,
    /// `process` calls between taking due entries out of the wheel and
    /// having run their actions: they still count as armed for the
    /// deadlock check.
    firing: AtomicUsize,
}

struct TimerState {
    wheel: Wheel,
    /// Tick the reactor's parked thread wakes at; `None` if no thread is parked.
    /// Protected by `state`.
    parked_until: Option<u64>,
    /// Reused buffer for due actions (taken out while they run).
    fired: Vec<Action>,
    /// Set by [`Timers::close`]: actions are no longer kept.
    closed: bool,
}

/// Result of arming a timer.
#[must_use]
pub(crate) struct Armed {
    /// The timer was armed before (Go's `Reset` result).
    pub(crate) was_armed: bool,
    /// The new deadline is earlier than the parked reactor's wake-up.
    pub(crate) unpark: bool,
}

impl Timers {
    /// A timer set whose tick 0 is now; a panicking action's payload goes
    /// to `on_panic`.
    pub(crate) fn new(on_panic: fn(ActionPanic)) -> Self {
        Timers {
            on_panic,
            start: Instant::now(),
            state: Mutex::new(TimerState {
                wheel: Wheel::new(),
                parked_until: None,
                fired: Vec::new(),
                closed: false,
            }),
            next_due: AtomicU64::new(u64::MAX),
            firing: AtomicUsize::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, TimerState> {
        // Actions run outside the lock, so no user code panics under it.
        lock(&self.state)
    }

    /// The deadline as a tick, rounded up.
    pub(crate) fn deadline_tick(&self, deadline: Instant) -> u64 {
        let d = deadline.saturating_duration_since(self.start);
        let ms = d.as_millis();
        let ceil = if d > Duration::from_millis(ms as u64) {
            ms + 1
        } else {
            ms
        };
        u64::try_from(ceil).unwrap_or(u64::MAX)
    }

    /// The current tick, rounded down.
    pub(crate) fn now_tick(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// The instant of a tick.
    pub(crate) fn tick_instant(&self, tick: u64) -> Instant {
        self.start
            .checked_add(Duration::from_millis(tick))
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(86400 * 365))
    }

    /// Allocates an unarmed timer. Once the timers are
    /// [closed](Self::close), its action is dropped at once (it would never
    /// run).
    pub(crate) fn alloc(&self, action: Action) -> Key {
        let mut st = self.lock();
        if st.closed {
            let key = st.wheel.alloc(Action::None);
            drop(st);
            drop(action);
            return key;
        }
        st.wheel.alloc(action)
    }

    /// Cancels and frees a timer.
    pub(crate) fn free(&self, key: Key) {
        let action = self.lock().wheel.free(key);
        // After unlocking: the action's destructor may free other timers.
        drop(action);
    }

    /// The runtime that owns these timers is gone: drops every timer's
    /// action now (outside the lock) and every action given later, so none
    /// runs again. Breaks the cycles pending actions form with the timers
    /// (an action can own, through a fire-and-forget timer's keep-alive,
    /// the entry that holds the driver), which would otherwise keep the
    /// driver and those timers alive forever. Entries stay allocated until
    /// their owners free them.
    pub(crate) fn close(&self) {
        let mut actions = Vec::new();
        let mut st = self.lock();
        st.closed = true;
        st.wheel.take_actions(&mut actions);
        drop(st);
        // Each drop may free timers (taking the lock again); a panicking
        // destructor must not skip the others.
        for a in actions {
            if let Err(payload) = catch_unwind(AssertUnwindSafe(move || drop(a))) {
                (self.on_panic)(payload);
            }
        }
    }

    /// Arms (or re-arms) `key` for `deadline` (a due deadline fires at the
    /// next tick, never inline).
    pub(crate) fn arm(&self, key: Key, deadline: Instant) -> Armed {
        let when = self.deadline_tick(deadline);
        let mut st = self.lock();
        let was_armed = st.wheel.arm(key, when);
        let when = st.wheel.deadline(key).unwrap_or(when);
        let unpark = st.parked_until.is_some_and(|p| when < p);
        if let Some(next) = st.wheel.next_expiration() {
            // Relaxed: read only as a hint by `process`; the lock orders the rest.
            self.next_due.fetch_min(next, Ordering::Relaxed);
        }
        drop(st);
        Armed { was_armed, unpark }
    }

    /// Disarms `key`. Returns whether it was armed (Go's `Stop` result).
    pub(crate) fn cancel(&self, key: Key) -> bool {
        self.lock().wheel.cancel(key)
    }

    /// Whether `key` has fired since it was armed; if not, stores `cx`'s
    /// waker as its action (for goro-time's `Sleep`).
    pub(crate) fn poll_fired(&self, key: Key, cx: &Context<'_>) -> Poll<()> {
        let mut st = self.lock();
        if st.wheel.has_fired(key) {
            Poll::Ready(())
        } else if st.closed {
            // Nothing fires any more; a stored waker would only keep its
            // task alive.
            Poll::Pending
        } else {
            let old = st.wheel.set_waker(key, cx.waker());
            drop(st);
            drop(old);
            Poll::Pending
        }
    }

    /// Number of armed timers.
    pub(crate) fn armed_count(&self) -> usize {
        let armed = self.lock().wheel.armed_count();
        // SeqCst: pairs with the decrement in `process`.
        armed + self.firing.load(Ordering::SeqCst)
    }

    /// Whether a timer may be due now (a hint: `false` is exact only up to a
    /// concurrent `arm` not yet visible here, which the next check sees).
    pub(crate) fn maybe_due(&self) -> bool {
        // Relaxed: a hint, as in `process`.
        let next = self.next_due.load(Ordering::Relaxed);
        next != u64::MAX && self.now_tick() >= next
    }

    /// Fires every due timer (Go's `checkTimers`). Cheap when nothing is
    /// due: one atomic load and a clock read. Returns how many fired.
    pub(crate) fn process(&self) -> usize {
        let now = self.now_tick();
        // Relaxed: a hint; a stale (too early) value only costs a lock.
        if now < self.next_due.load(Ordering::Relaxed) {
            return 0;
        }
        let mut st = self.lock();
        // Counted before the entries leave the wheel (under its lock), so
        // `armed_count` never misses a timer between unlinking and firing.
        self.firing.fetch_add(1, Ordering::SeqCst);
        let mut fired = std::mem::take(&mut st.fired);
        st.wheel.process(now, &mut fired);
        self.next_due.store(
            st.wheel.next_expiration().unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
        drop(st);
        let n = fired.len();
        for a in fired.drain(..) {
            // A panicking action (an alarm function catches its own panics;
            // this is for wakers) must not unwind into the scheduler, nor
            // skip the other due actions.
            if let Err(payload) = catch_unwind(AssertUnwindSafe(|| a.run())) {
                (self.on_panic)(payload);
            }
        }
        // SeqCst (Release half): the actions' wakes happen before a
        // deadlock check that reads 0 here (`armed_count`).
        self.firing.fetch_sub(1, Ordering::SeqCst);
        // Give the buffer back (keeps its capacity) unless another thread
        // already put one there.
        let mut st = self.lock();
        if st.fired.capacity() < fired.capacity() {
            st.fired = fired;
        }
        n
    }

    /// Marks the reactor as about to block for at most `timeout` and returns
    /// how long it may block: until the next timer (or `timeout`). Must be
    /// paired with [`unparked`](Self::unparked).
    pub(crate) fn parking(&self, timeout: Option<Duration>) -> Option<Duration> {
        let now = Instant::now();
        let limit = timeout.map(|t| self.deadline_tick(now + t));
        let mut st = self.lock();
        let next = st.wheel.next_expiration();
        let until = match (next, limit) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        st.parked_until = Some(until.unwrap_or(u64::MAX));
        drop(st);
        match (next, timeout) {
            (Some(tick), t) => {
                let d = self.tick_instant(tick).saturating_duration_since(now);
                Some(t.map_or(d, |t| t.min(d)))
            }
            (None, t) => t,
        }
    }

    /// The reactor is no longer blocked.
    pub(crate) fn unparked(&self) {
        self.lock().parked_until = None;
    }
}

#[cfg(all(test, not(goro_loom)))]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::sync::{Arc, Barrier};

    /// Cancel racing with firing, on two threads, many times: exactly one
    /// of "cancel returned true" and "the action ran" happens each time.
    #[test]
    fn cancel_vs_fire_race() {
        let timers = Arc::new(Timers::new(drop));
        let count = Arc::new(AtomicUsize::new(0));
        let c = count.clone();
        let key = timers.alloc(Action::Call(Arc::new(move || {
            c.fetch_add(1, Ordering::SeqCst);
        })));
        let mut cancelled_total = 0;
        let rounds = 300;
        for _ in 0..rounds {
            let _ = timers.arm(key, Instant::now());
            // Wait (spinning on the clock, the thing under test) until due.
            let due = timers.lock().wheel.deadline(key).unwrap();
            while timers.now_tick() < due {
                std::hint::spin_loop();
            }
            let barrier = Arc::new(Barrier::new(2));
            let (t2, b2) = (timers.clone(), barrier.clone());
            let firer = std::thread::spawn(move || {
                b2.wait();
                t2.process();
            });
            barrier.wait();
            if timers.cancel(key) {
                cancelled_total += 1;
            }
            firer.join().unwrap();
            // Nothing is left armed either way.
            timers.process();
        }
        assert_eq!(cancelled_total + count.load(Ordering::SeqCst), rounds);
        timers.free(key);
    }

    #[test]
    fn deadline_rounds_up_clock_rounds_down() {
        let t = Timers::new(drop);
        assert_eq!(t.deadline_tick(t.start), 0);
        assert_eq!(t.deadline_tick(t.start + Duration::from_micros(1)), 1);
        assert_eq!(t.deadline_tick(t.start + Duration::from_millis(5)), 5);
        assert_eq!(t.deadline_tick(t.start + Duration::from_micros(5001)), 6);
        assert!(t.tick_instant(6) >= t.start + Duration::from_micros(5001));
    }
}

/// Model of the park/arm handshake: a timer armed while the reactor thread
/// is deciding how long to block is never missed: either the parker's
/// timeout covers it or the armer is told to unpark.
/// Run with `RUSTFLAGS="--cfg goro_loom" cargo test -p goro-runtime --lib loom_`.
#[cfg(all(test, goro_loom))]
mod loom_tests {
    use super::*;
    use crate::loom::{thread, Arc, AtomicBool};

    #[test]
    fn loom_arm_while_parking_is_never_missed() {
        loom::model(|| {
            let timers = Arc::new(Timers::new(drop));
            let key = timers.alloc(Action::None);
            let unparked = Arc::new(AtomicBool::new(false));
            let armer = {
                let (timers, unparked) = (timers.clone(), unparked.clone());
                thread::spawn(move || {
                    // Far enough that only the handshake, not the clock, can
                    // make the parker notice it.
                    let armed = timers.arm(key, Instant::now() + Duration::from_secs(60));
                    if armed.unpark {
                        unparked.store(true, Ordering::SeqCst);
                    }
                })
            };
            // The parker: no timeout of its own.
            let timeout = timers.parking(None);
            let covered = timeout.is_some();
            armer.join().unwrap();
            // Either it saw the timer (finite timeout) or it gets unparked.
            assert!(covered || unparked.load(Ordering::SeqCst));
            timers.unparked();
        });
    }
}
