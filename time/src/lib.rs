//! goro-time: Go's package `time` for goroutines (`goro::time`).
//!
//! [`sleep`], [`sleep_until`], [`Alarm`] (a re-armable callback timer) and
//! the channel forms [`Timer`], [`Ticker`], [`after`], [`tick`] and
//! [`after_func`]. This crate depends only on `goro-hook` (its timer seam:
//! the runtime's timing wheel on a goroutine, a fallback timer thread
//! elsewhere) and `goro-chan`, so Go's timers work on any executor without
//! compiling the scheduler. It is its own crate, not part of `goro-chan`,
//! because it is Go's package `time`, not part of the channel core: a user
//! of the channels alone does not pay for timers.
//!
//! Go: `time/sleep.go`, `time/tick.go` and the channel timer parts of
//! `runtime/time.go` (Go 1.23 semantics).
//!
//! # Design
//!
//! Every timer is an [`Alarm`] (one entry of the runtime's timer wheel, so
//! `stop`/`reset` never allocate) plus a small state under a mutex. When the
//! alarm fires, its function (running on a worker or the thread parked in
//! the reactor, never inside `stop`/`reset`) takes that mutex and, if the
//! timer is still armed and due, does a non-blocking send of the current
//! instant on a one-slot channel. A ticker's send is dropped when the slot
//! is still full: a slow receiver loses ticks, as in Go.
//!
//! Go 1.23 semantics: `stop` and `reset` disarm and *drain the channel*
//! under the same mutex, so once they return no value from before the call
//! can be received, and they return `true` if the timer was armed or its
//! value had not been received yet.
//!
//! Differences from Go: the channel reports `cap() == 1` and `len()` up to 1
//! (Go 1.23 reports 0 for both); a `Timer` or `Ticker` whose every handle is
//! dropped is cancelled (Go 1.23 collects it too), but `after`'s timer lives
//! until it fires and `tick`'s ticker as long as its runtime (so it keeps
//! counting as pending runtime activity, like a leaked `time.Tick` in Go
//! before 1.23); off a runtime, as long as the process.
//!
//! Such a fire-and-forget timer (and an `after_func` whose handle was
//! dropped) is kept alive by its driver, not by itself: the alarm's function,
//! which the driver's timer entry owns, holds a `KeepAlive` slot with the
//! timer while it is armed (taken out when it fires or is stopped). The
//! timer holds only a weak reference to that slot. When a runtime is
//! dropped it drops its entries' functions, and with them every timer kept
//! alive this way and the timer entries' references to its driver; a
//! self-reference would have kept the timer, and through its entry the
//! whole driver, alive forever.
//!
//! # Invariants
//!
//! - `State::armed` is true from `reset` (or creation) until the value of
//!   that arming is delivered (or `stop`); a firing that finds it false, or
//!   finds the deadline not reached (a stale firing of an earlier arming),
//!   does nothing.
//! - The channel holds at most one value, and only a value of the current
//!   arming.
//!
//! # Locking
//!
//! A timer's `state` mutex, then (inside it) its `KeepAlive` slot (only an
//! `Option` moves under it; a released keep-alive is dropped after both
//! locks), the channel's lock or the timer wheel; the wheel lock is never held when `state` is taken, because alarm
//! functions run after the wheel lock is released.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use goro_chan::{Chan, Receiver};

mod alarm;
mod sleep;

pub use alarm::Alarm;
pub use sleep::{sleep, sleep_until, Sleep};

/// What a firing does.
enum Kind {
    /// Send the instant on the one-slot channel (Timer, Ticker).
    Chan(Chan<Instant>),
    /// Run the function in a new goroutine (`after_func`).
    Func(Arc<dyn Fn() + Send + Sync>),
}

/// A timer's mutable state. Protected by `Shared::state`.
struct State {
    /// Armed and its value not yet delivered.
    armed: bool,
    /// The deadline of the current arming.
    deadline: Instant,
    /// Ticker period (`None`: one-shot).
    period: Option<Duration>,
}

/// The keep-alive of a fire-and-forget timer (`after`, `tick`, an
/// `after_func` whose handle was dropped): holds the timer while it is
/// armed. Owned by the alarm's function alone, which the timer driver's
/// entry owns, so the timer is kept alive by its driver, not by itself: a
/// driver that shuts down (a dropped runtime) drops its entries' functions
/// and with them every timer they keep alive, so no reference cycle
/// outlives it.
struct KeepAlive(Mutex<Option<Arc<Shared>>>);

impl KeepAlive {
    /// Replaces the kept timer; returns the previous one, to be dropped
    /// after the caller's locks are released.
    fn replace(&self, keep: Option<Arc<Shared>>) -> Option<Arc<Shared>> {
        // Only `Option` moves happen under this lock.
        let mut slot = self.0.lock().unwrap_or_else(|e| e.into_inner());
        std::mem::replace(&mut *slot, keep)
    }
}

struct Shared {
    state: Mutex<State>,
    /// What a firing does.
    kind: Kind,
    /// The timer's entry in its driver; its function owns the keep-alive.
    alarm: Alarm,
    /// The alarm function's keep-alive: dead once the driver dropped the
    /// function (shut down), then the timer can no longer be kept alive.
    keep: Weak<KeepAlive>,
}

impl Shared {
    fn new(kind: Kind, deadline: Instant, period: Option<Duration>) -> Arc<Shared> {
        let keep = Arc::new(KeepAlive(Mutex::new(None)));
        Arc::new_cyclic(|weak: &Weak<Shared>| {
            let weak = weak.clone();
            let keep_weak = Arc::downgrade(&keep);
            let alarm = Alarm::new(move || {
                if let Some(shared) = weak.upgrade() {
                    shared.fire(&keep);
                }
            });
            Shared {
                state: Mutex::new(State {
                    armed: false,
                    deadline,
                    period,
                }),
                kind,
                alarm,
                keep: keep_weak,
            }
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing that can panic runs under this lock except user-free
        // channel operations; stay usable if one did.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn alarm(&self) -> &Alarm {
        &self.alarm
    }

    /// Keeps this timer alive while it is armed (until it fires or is
    /// stopped), even with no handle left. No effect once the driver has
    /// shut down: the timer can never fire then. Call with `state` held.
    fn keep_alive(self: &Arc<Self>) -> Option<Arc<Shared>> {
        self.keep
            .upgrade()
            .and_then(|keep| keep.replace(Some(self.clone())))
    }

    /// Stops keeping this timer alive; returns the keep-alive, to be
    /// dropped after `state` is released. Call with `state` held.
    fn release(&self) -> Option<Arc<Shared>> {
        self.keep.upgrade().and_then(|keep| keep.replace(None))
    }

    /// The alarm went off; `keep` is the alarm function's keep-alive.
    fn fire(self: &Arc<Self>, keep: &KeepAlive) {
        let now = Instant::now();
        let mut st = self.lock();
        if !st.armed || now < st.deadline {
            // Stopped, or a stale firing of an earlier arming.
            return;
        }
        let mut keepalive = None;
        match st.period {
            Some(period) => {
                // Next tick strictly in the future; missed ticks are skipped
                // (Go: `t.when += t.period * (1 + -delta/t.period)`).
                let mut next = st.deadline + period;
                if next <= now {
                    let behind = now.duration_since(next).as_nanos() / period.as_nanos();
                    next += period * u32::try_from(behind + 1).unwrap_or(u32::MAX);
                }
                st.deadline = next;
                self.alarm().reset_at(next);
            }
            None => {
                st.armed = false;
                keepalive = keep.replace(None);
            }
        }
        match &self.kind {
            // Full: a slow receiver has not taken the last tick; drop this one.
            Kind::Chan(ch) => {
                let _ = ch.try_send(now);
            }
            Kind::Func(f) => spawn_func(f.clone()),
        }
        drop(st);
        drop(keepalive);
    }

    /// Disarms and drains. Returns Go's `Stop` result.
    fn stop_locked(&self, st: &mut State) -> bool {
        let was = st.armed;
        st.armed = false;
        self.alarm().stop();
        was | self.drain()
    }

    fn drain(&self) -> bool {
        let mut drained = false;
        if let Kind::Chan(ch) = &self.kind {
            while ch.try_recv().is_ok() {
                drained = true;
            }
        }
        drained
    }

    /// Re-arms for `d` (and `period`). Returns Go's `Reset` result.
    fn reset(self: &Arc<Self>, d: Duration, period: Option<Duration>) -> bool {
        let mut st = self.lock();
        let was = self.stop_locked(&mut st);
        let deadline = deadline_after(d);
        st.armed = true;
        st.deadline = deadline;
        st.period = period;
        let mut old = None;
        if let Kind::Func(_) = self.kind {
            // Like Go's AfterFunc, the function runs even if every handle
            // to the timer is dropped.
            old = self.keep_alive();
        }
        self.alarm().reset_at(deadline);
        drop(st);
        drop(old);
        was
    }
}

fn deadline_after(d: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(d)
        .unwrap_or_else(|| now + Duration::from_secs(86400 * 365 * 30))
}

/// A single event: after the duration, the current instant is sent on
/// [`c`](Timer::c) (or, for [`after_func`], a function runs). Go's `time.Timer`.
///
/// ```
/// # futures::executor::block_on(async {
/// use std::time::Duration;
/// let t = goro_time::Timer::new(Duration::from_millis(1));
/// let fired_at = t.c().recv().await.unwrap();
/// assert!(!t.stop()); // already fired and received
/// # let _ = fired_at;
/// # });
/// ```
pub struct Timer {
    shared: Arc<Shared>,
    c: Receiver<Instant>,
}

impl Timer {
    /// A timer that sends the current instant on [`c`](Self::c) after `d`
    /// (Go's `time.NewTimer`).
    pub fn new(d: Duration) -> Timer {
        let ch = goro_chan::make::<Instant>(1);
        let c = ch.receiver();
        let shared = Shared::new(Kind::Chan(ch), deadline_after(d), None);
        shared.reset(d, None);
        Timer { shared, c }
    }

    /// The channel on which the instant is delivered. Nil for a timer made
    /// by [`after_func`].
    ///
    /// ```
    /// let t = goro_time::Timer::new(std::time::Duration::from_secs(60));
    /// assert!(t.c().try_recv().is_err());
    /// let f = goro_time::after_func(std::time::Duration::from_secs(60), || {});
    /// assert_eq!(f.c().cap(), 0);
    /// f.stop();
    /// ```
    pub fn c(&self) -> &Receiver<Instant> {
        &self.c
    }

    /// Stops the timer (Go 1.23 `Stop`): returns `true` if it was armed or
    /// its value had not been received; after it returns, no value from
    /// before the call is received from [`c`](Self::c). For an
    /// [`after_func`] timer, `true` means the function will not run for the
    /// stopped arming.
    ///
    /// ```
    /// let t = goro_time::Timer::new(std::time::Duration::from_secs(60));
    /// assert!(t.stop());
    /// assert!(!t.stop());
    /// ```
    pub fn stop(&self) -> bool {
        let mut st = self.shared.lock();
        let r = self.shared.stop_locked(&mut st);
        let keepalive = self.shared.release();
        drop(st);
        drop(keepalive);
        r
    }

    /// Re-arms the timer to fire after `d` (Go 1.23 `Reset`): returns
    /// whether it was armed (or its value unreceived); no value from before
    /// the call is received after it returns.
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// let t = goro_time::Timer::new(std::time::Duration::from_secs(60));
    /// assert!(t.reset(std::time::Duration::from_millis(1)));
    /// t.c().recv().await.unwrap();
    /// # });
    /// ```
    pub fn reset(&self, d: Duration) -> bool {
        self.shared.reset(d, None)
    }
}

impl fmt::Debug for Timer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timer").finish_non_exhaustive()
    }
}

/// Delivers ticks at intervals on [`c`](Ticker::c). Go's `time.Ticker`.
///
/// The channel holds one tick; a receiver slower than the period misses
/// ticks (they are dropped, not queued).
///
/// ```
/// # futures::executor::block_on(async {
/// let t = goro_time::Ticker::new(std::time::Duration::from_millis(1));
/// for _ in 0..3 {
///     t.c().recv().await.unwrap();
/// }
/// t.stop();
/// # });
/// ```
pub struct Ticker {
    shared: Arc<Shared>,
    c: Receiver<Instant>,
}

impl Ticker {
    /// A ticker with period `d` (Go's `time.NewTicker`).
    ///
    /// # Panics
    ///
    /// If `d` is zero: "non-positive interval for NewTicker".
    #[track_caller]
    pub fn new(d: Duration) -> Ticker {
        if d.is_zero() {
            panic!("non-positive interval for NewTicker");
        }
        let ch = goro_chan::make::<Instant>(1);
        let c = ch.receiver();
        let shared = Shared::new(Kind::Chan(ch), deadline_after(d), Some(d));
        shared.reset(d, Some(d));
        Ticker { shared, c }
    }

    /// The channel on which ticks are delivered.
    ///
    /// See the [type-level example](Ticker).
    pub fn c(&self) -> &Receiver<Instant> {
        &self.c
    }

    /// Turns the ticker off; no tick from before the call is received after
    /// it returns (Go 1.23).
    ///
    /// See the [type-level example](Ticker).
    pub fn stop(&self) {
        let mut st = self.shared.lock();
        self.shared.stop_locked(&mut st);
        let keepalive = self.shared.release();
        drop(st);
        drop(keepalive);
    }

    /// Stops the ticker and restarts it with period `d` (Go's `Ticker.Reset`).
    ///
    /// # Panics
    ///
    /// If `d` is zero: "non-positive interval for Ticker.Reset".
    ///
    /// ```
    /// let t = goro_time::Ticker::new(std::time::Duration::from_secs(60));
    /// t.reset(std::time::Duration::from_secs(30));
    /// t.stop();
    /// ```
    #[track_caller]
    pub fn reset(&self, d: Duration) {
        if d.is_zero() {
            panic!("non-positive interval for Ticker.Reset");
        }
        self.shared.reset(d, Some(d));
    }
}

impl fmt::Debug for Ticker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ticker").finish_non_exhaustive()
    }
}

/// Sends the current instant on the returned channel after `d` (Go's
/// `time.After`). The timer stays alive until it fires.
///
/// ```
/// # futures::executor::block_on(async {
/// goro_time::after(std::time::Duration::from_millis(1)).recv().await.unwrap();
/// # });
/// ```
pub fn after(d: Duration) -> Receiver<Instant> {
    let t = Timer::new(d);
    let st = t.shared.lock();
    let old = if st.armed {
        t.shared.keep_alive()
    } else {
        None
    };
    drop(st);
    drop(old);
    t.c.clone()
}

/// A channel of ticks every `d` (Go's `time.Tick`); a zero `d` gives a nil
/// channel. The ticker can never be stopped and stays alive (and counts as
/// pending runtime activity) for the rest of the program.
///
/// ```
/// # futures::executor::block_on(async {
/// let c = goro_time::tick(std::time::Duration::from_millis(1));
/// c.recv().await.unwrap();
/// assert_eq!(goro_time::tick(std::time::Duration::ZERO).cap(), 0);
/// # });
/// ```
pub fn tick(d: Duration) -> Receiver<Instant> {
    if d.is_zero() {
        return Receiver::nil();
    }
    let t = Ticker::new(d);
    let st = t.shared.lock();
    let old = t.shared.keep_alive();
    drop(st);
    drop(old);
    t.c.clone()
}

/// Runs `f` in its own goroutine after `d` (Go's `time.AfterFunc`). The
/// returned timer's [`stop`](Timer::stop) prevents the call,
/// [`reset`](Timer::reset) schedules it again; dropping the timer does not
/// cancel it. Its [`c`](Timer::c) is nil.
///
/// The goroutine is spawned on the runtime whose timers fire the timer;
/// off a goro runtime (the fallback timer thread) `f` runs on a new thread.
///
/// ```
/// goro_runtime::run(async {
///     let tx = goro_chan::make::<u32>(1);
///     let rx = tx.receiver();
///     let t = goro_time::after_func(std::time::Duration::from_millis(1), move || {
///         tx.try_send(42).unwrap();
///     });
///     assert_eq!(rx.recv().await, Some(42));
///     assert!(!t.stop());
/// });
/// ```
pub fn after_func(d: Duration, f: impl Fn() + Send + Sync + 'static) -> Timer {
    let shared = Shared::new(Kind::Func(Arc::new(f)), deadline_after(d), None);
    shared.reset(d, None);
    Timer {
        shared,
        c: Receiver::nil(),
    }
}

/// Runs an `after_func` function in a new goroutine of the runtime that
/// fired it (on a new thread off a runtime: the fallback timer thread must
/// not run user code that may block).
fn spawn_func(f: Arc<dyn Fn() + Send + Sync>) {
    goro_hook::spawn_detached(move || f());
}
