//! The timer seam: arm a deadline with a waker or a callback, on the
//! current thread's timer driver.
//!
//! Go: the runtime `timer` (`runtime/time.go`) that `time.Sleep`,
//! `time.Timer`, `time.Ticker` and `time.AfterFunc` are built on.
//!
//! # Design
//!
//! A [`TimerDriver`] is an executor's timers: a slab of entries named by
//! `u64` keys, each with an action (wake a waker, or call a function) and an
//! optional deadline. A primitive holds a [`TimerEntry`], which owns one key
//! of one driver for its whole life, so re-arming never allocates (on the
//! goro runtime the entries live in its timing wheel's slab).
//!
//! Which driver? The one the executor installed on the current thread with
//! [`enter_timer_driver`] (the goro runtime does so on its workers and its
//! blocking-pool threads), else the process-wide fallback: a `goro-timer`
//! thread started on first use, which serves every timer created off a goro
//! runtime (under tokio, another executor, or on plain threads). An entry
//! stays with the driver it was created on.
//!
//! # Invariants
//!
//! - No timer fires before its deadline, and arming never runs an action
//!   inside the call (a due deadline fires on the driver's next turn).
//! - Actions run with no driver lock held; a driver catches a panicking
//!   action (the goro runtime then follows its `PanicPolicy`; the fallback
//!   drops it after the panic hook has printed it).

mod fallback;

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

/// What a timer does when it fires.
///
/// ```
/// use goro_hook::TimerAction;
/// let wake = TimerAction::Wake(std::task::Waker::noop().clone());
/// let call = TimerAction::Call { f: std::sync::Arc::new(|| {}), at: std::panic::Location::caller() };
/// # drop((wake, call));
/// ```
#[non_exhaustive]
pub enum TimerAction {
    /// Wake this waker, once per registration ([`TimerEntry::poll_fired`]
    /// registers the next one).
    Wake(Waker),
    /// Call this function each time the timer fires, on the thread that
    /// processes the driver's timers; it must be short and must not block.
    Call {
        /// The function.
        f: Arc<dyn Fn() + Send + Sync>,
        /// Where the timer was created (named when `f` panics).
        at: &'static Location<'static>,
    },
}

impl fmt::Debug for TimerAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TimerAction::Wake(w) => f.debug_tuple("Wake").field(w).finish(),
            TimerAction::Call { at, .. } => f.debug_struct("Call").field("at", at).finish(),
        }
    }
}

/// An executor's timers, as the primitives use them through [`TimerEntry`].
///
/// Keys are the driver's own; a key that was freed must be ignored by every
/// method (a stale key never touches another timer). Every method may be
/// called from any thread.
///
/// ```
/// use std::panic::Location;
/// use std::sync::{Arc, Mutex};
/// use std::task::{Context, Poll};
/// use std::time::Instant;
/// use goro_hook::{TimerAction, TimerDriver};
///
/// /// A driver that never fires (an executor without timers), for illustration.
/// #[derive(Default)]
/// struct Never(Mutex<Vec<Option<bool>>>); // per key: Some(armed) while allocated
///
/// impl TimerDriver for Never {
///     fn alloc(&self, _: TimerAction) -> u64 {
///         let mut v = self.0.lock().unwrap();
///         v.push(Some(false));
///         v.len() as u64 - 1
///     }
///     fn arm(&self, key: u64, _: Instant) -> bool {
///         let mut v = self.0.lock().unwrap();
///         v[key as usize].replace(true).unwrap_or(false)
///     }
///     fn cancel(&self, key: u64) -> bool {
///         self.0.lock().unwrap()[key as usize].replace(false).unwrap_or(false)
///     }
///     fn poll_fired(&self, _: u64, _: &Context<'_>) -> Poll<()> {
///         Poll::Pending
///     }
///     fn free(&self, key: u64) {
///         self.0.lock().unwrap()[key as usize] = None;
///     }
///     fn spawn(&self, mut f: goro_hook::BoxFuture, _: &'static Location<'static>) {
///         // A toy executor: poll on a thread of its own until done.
///         std::thread::spawn(move || {
///             let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
///             while f.as_mut().poll(&mut cx).is_pending() {
///                 std::thread::yield_now();
///             }
///         });
///     }
/// }
///
/// let _installed = goro_hook::enter_timer_driver(Arc::new(Never::default()));
/// let t = goro_hook::TimerEntry::new(TimerAction::Wake(std::task::Waker::noop().clone()));
/// assert!(!t.arm(Instant::now()));
/// assert!(t.cancel());
/// ```
pub trait TimerDriver: Send + Sync + 'static {
    /// A new, unarmed timer with `action`; returns its key.
    fn alloc(&self, action: TimerAction) -> u64;

    /// Arms `key` to fire at `deadline`, replacing an earlier arming.
    /// Returns whether it was armed (Go's `Timer.Reset` result). A deadline
    /// already reached fires on the driver's next turn, never inside this
    /// call.
    fn arm(&self, key: u64, deadline: Instant) -> bool;

    /// Disarms `key`. Returns whether it was armed (Go's `Timer.Stop`
    /// result): `true` means the action will not run for that arming.
    fn cancel(&self, key: u64) -> bool;

    /// `Ready` if `key` fired since it was last armed; else makes `cx`'s
    /// waker its action (replacing the previous one) and returns `Pending`.
    fn poll_fired(&self, key: u64, cx: &Context<'_>) -> Poll<()>;

    /// Disarms and releases `key`.
    fn free(&self, key: u64);

    /// Runs `fut` in a new goroutine of this executor (the fallback driver
    /// runs it to completion on a new thread); `at` is the spawn site to
    /// record.
    fn spawn(&self, fut: BoxFuture, at: &'static Location<'static>);
}

thread_local! {
    /// The timer driver the executor installed on this thread, if any.
    static DRIVER: RefCell<Option<Arc<dyn TimerDriver>>> = const { RefCell::new(None) };
}

/// The driver of this thread: the installed one, else the fallback.
fn current_driver() -> Arc<dyn TimerDriver> {
    DRIVER
        .try_with(|d| d.borrow().clone())
        .ok()
        .flatten()
        .unwrap_or_else(|| fallback::driver().clone())
}

/// Makes `driver` the timer driver of the calling thread until the guard is
/// dropped (then the previous one is current again). An executor calls this
/// on each thread that runs its tasks.
///
/// See [`TimerDriver`] for an example.
pub fn enter_timer_driver(driver: Arc<dyn TimerDriver>) -> TimerDriverGuard {
    let prev = DRIVER.with(|d| d.borrow_mut().replace(driver));
    TimerDriverGuard {
        prev,
        _not_send: std::marker::PhantomData,
    }
}

/// Restores the previous timer driver of the thread on drop (see
/// [`enter_timer_driver`]).
#[must_use = "the driver is uninstalled when the guard is dropped"]
pub struct TimerDriverGuard {
    prev: Option<Arc<dyn TimerDriver>>,
    /// The guard restores a thread-local: it must stay on its thread.
    _not_send: std::marker::PhantomData<*const ()>,
}

impl Drop for TimerDriverGuard {
    fn drop(&mut self) {
        let prev = self.prev.take();
        // The thread-local may already be gone during thread teardown.
        let _ = DRIVER.try_with(|d| *d.borrow_mut() = prev);
    }
}

impl fmt::Debug for TimerDriverGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimerDriverGuard").finish_non_exhaustive()
    }
}

/// Runs `f` in a new goroutine of the current thread's executor (Go's
/// `go f()` from a timer callback: `time.AfterFunc`), or on a new thread
/// off a goro runtime.
///
/// ```
/// let (tx, rx) = std::sync::mpsc::channel();
/// goro_hook::spawn_detached(move || tx.send(7).unwrap());
/// assert_eq!(rx.recv().unwrap(), 7);
/// ```
#[track_caller]
pub fn spawn_detached(f: impl FnOnce() + Send + 'static) {
    current_driver().spawn(Box::pin(async move { f() }), Location::caller());
}

/// A detached goroutine's future, as the executor receives it.
pub type BoxFuture = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// Go's `go` statement for primitives that cannot name the runtime
/// (`WaitGroup::go`, `errgroup::Group::go`): runs `fut` in a new goroutine of
/// the current thread's executor, recording `at` as its spawn site. Off a
/// goro runtime (no driver installed on this thread) the future runs to
/// completion on a new thread of its own, so `go` always starts something,
/// as in Go.
///
/// ```
/// let (tx, rx) = std::sync::mpsc::channel();
/// goro_hook::spawn_at(async move { tx.send(7).unwrap() }, std::panic::Location::caller());
/// assert_eq!(rx.recv().unwrap(), 7);
/// ```
pub fn spawn_at(fut: impl Future<Output = ()> + Send + 'static, at: &'static Location<'static>) {
    current_driver().spawn(Box::pin(fut), at);
}

/// One timer of the current thread's driver, owned for its whole life:
/// arming, cancelling and polling it never allocate.
///
/// ```
/// use std::task::{Context, Waker};
/// use std::time::{Duration, Instant};
/// use goro_hook::{TimerAction, TimerEntry};
///
/// // Off a goro runtime: the fallback timer thread fires it.
/// let (tx, rx) = std::sync::mpsc::channel();
/// let t = TimerEntry::new(TimerAction::Call {
///     f: std::sync::Arc::new(move || tx.send(()).unwrap()),
///     at: std::panic::Location::caller(),
/// });
/// assert!(!t.arm(Instant::now() + Duration::from_millis(1)));
/// rx.recv().unwrap();
/// assert!(t.poll_fired(&Context::from_waker(Waker::noop())).is_ready());
/// assert!(!t.cancel());
/// ```
pub struct TimerEntry {
    driver: Arc<dyn TimerDriver>,
    key: u64,
}

impl TimerEntry {
    /// A new, unarmed timer with `action` on the current thread's driver.
    ///
    /// See the [type-level example](TimerEntry).
    pub fn new(action: TimerAction) -> TimerEntry {
        let driver = current_driver();
        let key = driver.alloc(action);
        TimerEntry { driver, key }
    }

    /// Arms the timer to fire at `deadline` (replacing an earlier arming).
    /// Returns whether it was armed. A reached deadline fires soon, never
    /// inside this call.
    ///
    /// See the [type-level example](TimerEntry).
    pub fn arm(&self, deadline: Instant) -> bool {
        self.driver.arm(self.key, deadline)
    }

    /// Disarms the timer. Returns whether it was armed; `true` means the
    /// action will not run for that arming.
    ///
    /// See the [type-level example](TimerEntry).
    pub fn cancel(&self) -> bool {
        self.driver.cancel(self.key)
    }

    /// `Ready` if the timer fired since it was last armed; else `cx`'s waker
    /// becomes its action and this returns `Pending`.
    ///
    /// See the [type-level example](TimerEntry).
    pub fn poll_fired(&self, cx: &Context<'_>) -> Poll<()> {
        self.driver.poll_fired(self.key, cx)
    }
}

impl Drop for TimerEntry {
    fn drop(&mut self) {
        self.driver.free(self.key);
    }
}

impl fmt::Debug for TimerEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimerEntry")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}
