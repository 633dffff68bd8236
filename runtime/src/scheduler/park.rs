//! Parking an idle worker thread, in the runtime's own condvar parker or in
//!
//! Loom model at the bottom of this file:
//! `RUSTFLAGS="--cfg goro_loom" cargo test -p goro-runtime --release --lib park -- --test-threads=1`
//! the external driver (timers + IO).
//!
//! Go: `notesleep`/`notewakeup` on `m.park`, and `netpoll(delay)` for the
//! last idle M (`findRunnable` blocks in the netpoller with the next timer as
//! its timeout).
//!
//! # Design
//!
//! One [`Parker`] per worker core. `park` consumes a pending notification or
//! blocks; `unpark` leaves a notification or wakes the blocked thread. If a
//! [`Driver`] is installed, the first worker to park while the driver is free
//! blocks *in the driver* (so timers fire and IO is polled while everybody is
//! idle); the others block on their condvar. `unpark` of a worker parked in the
//! driver calls [`Driver::unpark`].
//!
//! # Invariants
//!
//! - `state` is `EMPTY`, `NOTIFIED`, `PARKED_CONDVAR` or `PARKED_DRIVER`.
//! - Only the thread running the worker's core calls `park` (one at a time);
//!   any thread may call `unpark`.
//! - At most one thread is inside `Driver::park` at a time (`driver_busy`).
//! - No lost wakeup: an `unpark` that happens after `park` started either
//!   finds `NOTIFIED` left for the next `park`, or finds the parked state and
//!   wakes that thread (proof sketch: every transition is a single RMW on
//!   `state`; the condvar path changes `EMPTY -> PARKED_CONDVAR` while holding
//!   `lock`, and `unpark` takes `lock` before notifying, so the notification
//!   cannot fall between the state change and `wait`).
//!
//! # Locking
//!
//! `lock` protects nothing but the condvar handshake; it is a leaf lock.
//!
//! # Memory ordering
//!
//! `unpark`'s `swap(NOTIFIED, AcqRel)` releases everything the waker wrote
//! (the task it queued) to the `Acquire` half of the parker's RMW that
//! consumes `NOTIFIED`.

use std::time::Duration;

use crate::loom::{lock, AtomicBool, AtomicUsize, Condvar, Mutex, Ordering, StdArc};

/// The hook through which the timer wheel and the IO reactor take over a
/// worker's idle time.
///
/// Go: `netpoll(delay)` / `netpollBreak`.
pub(crate) trait Driver: Send + Sync {
    /// Blocks until [`Driver::unpark`] is called, an event is ready or
    /// `timeout` elapses (`None`: the driver's own deadline, e.g. the next
    /// timer, or forever). Fires due timers and dispatches ready IO, waking
    /// their tasks, before returning. `Some(Duration::ZERO)` polls without
    /// blocking.
    fn park(&self, timeout: Option<Duration>);
    /// Interrupts a concurrent or the next [`Driver::park`].
    fn unpark(&self);
    /// Whether a non-blocking poll may find something to do (an IO waiter,
    /// a due timer). A hint for the busy workers' maintenance poll: `false`
    /// lets them skip the syscall. Go: `netpollAnyWaiters` in
    /// `findRunnable`.
    fn needs_poll(&self) -> bool {
        true
    }
    /// Whether a timer or IO may still wake a goroutine (an armed timer, a
    /// task waiting for IO): pending activity for the deadlock detector.
    fn has_pending(&self) -> bool {
        false
    }
    /// Installs the driver's per-thread state (where timers and sockets
    /// created on this thread register) on a thread of the runtime, until
    /// the returned guard is dropped.
    fn enter_thread(&self) -> Option<Box<dyn std::any::Any>> {
        None
    }
}

const EMPTY: usize = 0;
const NOTIFIED: usize = 1;
const PARKED_CONDVAR: usize = 2;
const PARKED_DRIVER: usize = 3;

/// The driver, shared by all parkers of a runtime, with the flag that makes
/// one thread at a time block in it.
pub(crate) struct DriverSlot {
    driver: Option<StdArc<dyn Driver>>,
    /// Set while a thread is inside `driver.park`.
    busy: AtomicBool,
}

impl DriverSlot {
    pub(crate) fn new(driver: Option<StdArc<dyn Driver>>) -> Self {
        DriverSlot {
            driver,
            busy: AtomicBool::new(false),
        }
    }

    /// Runs `f` with the driver if there is one and nobody else holds it.
    pub(crate) fn try_with<R>(&self, f: impl FnOnce(&dyn Driver) -> R) -> Option<R> {
        let driver = self.driver.as_ref()?;
        // Acquire pairs with the Release store below by the previous holder,
        // so its effects inside the driver happen before ours.
        if self
            .busy
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            return None;
        }
        /// Frees the slot when `f` returns or unwinds (a panic escaping the
        /// driver must not leave it busy: no thread could park in the
        /// driver again, and timers would stop firing while all are idle).
        struct Release<'a>(&'a AtomicBool);
        impl Drop for Release<'_> {
            fn drop(&mut self) {
                // Release pairs with the Acquire CAS above of the next holder.
                self.0.store(false, Ordering::Release);
            }
        }
        let _release = Release(&self.busy);
        Some(f(&**driver))
    }

    /// See [`Driver::has_pending`] (`false` without a driver).
    pub(crate) fn has_pending(&self) -> bool {
        self.driver.as_ref().is_some_and(|d| d.has_pending())
    }

    /// See [`Driver::enter_thread`].
    pub(crate) fn enter_thread(&self) -> Option<Box<dyn std::any::Any>> {
        self.driver.as_ref().and_then(|d| d.enter_thread())
    }

    /// Polls the driver without blocking, if it is free (a worker's
    /// maintenance tick, so timers fire while every worker is busy).
    pub(crate) fn poll_now(&self) {
        match self.driver.as_ref() {
            Some(d) if d.needs_poll() => {}
            _ => return,
        }
        self.try_with(|d| d.park(Some(Duration::ZERO)));
    }
}

/// A worker's parker. Go: `m.park` (a `note`).
pub(crate) struct Parker {
    state: AtomicUsize,
    lock: Mutex<()>,
    cvar: Condvar,
    driver: StdArc<DriverSlot>,
}

impl Parker {
    pub(crate) fn new(driver: StdArc<DriverSlot>) -> Self {
        Parker {
            state: AtomicUsize::new(EMPTY),
            lock: Mutex::new(()),
            cvar: Condvar::new(),
            driver,
        }
    }

    /// Blocks the calling thread until [`Parker::unpark`] (possibly one that
    /// happened before this call) or, when parked in the driver, until the
    /// driver returns (a timer or IO event). Spurious returns are allowed.
    pub(crate) fn park(&self) {
        self.park_inner(None)
    }

    /// As [`Parker::park`], but returns after about `timeout` at the latest
    /// (in the driver: its resolution, a millisecond for epoll).
    pub(crate) fn park_timeout(&self, timeout: Duration) {
        self.park_inner(Some(timeout))
    }

    fn park_inner(&self, timeout: Option<Duration>) {
        // Acquire pairs with `unpark`'s swap: we see what the unparker wrote.
        if self
            .state
            .compare_exchange(NOTIFIED, EMPTY, Ordering::Acquire, Ordering::Acquire)
            .is_ok()
        {
            return;
        }
        let in_driver = self.driver.try_with(|d| {
            // AcqRel: Acquire pairs with `unpark`'s swap when it fails.
            match self.state.compare_exchange(
                EMPTY,
                PARKED_DRIVER,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => {}
                Err(actual) => {
                    debug_assert_eq!(actual, NOTIFIED);
                    self.state.swap(EMPTY, Ordering::Acquire);
                    return;
                }
            }
            /// Leaves the parked state when the driver returns or unwinds
            /// (else the next `park` would find `PARKED_DRIVER`).
            struct Unparked<'a>(&'a AtomicUsize);
            impl Drop for Unparked<'_> {
                fn drop(&mut self) {
                    // Either still PARKED_DRIVER (timer/IO woke us) or
                    // NOTIFIED; Acquire pairs with `unpark`'s swap.
                    self.0.swap(EMPTY, Ordering::Acquire);
                }
            }
            let _unparked = Unparked(&self.state);
            d.park(timeout);
        });
        if in_driver.is_some() {
            return;
        }
        let mut guard = lock(&self.lock);
        // Acquire pairs with `unpark`'s swap when it fails.
        match self.state.compare_exchange(
            EMPTY,
            PARKED_CONDVAR,
            Ordering::Acquire,
            Ordering::Acquire,
        ) {
            Ok(_) => {}
            Err(actual) => {
                debug_assert_eq!(actual, NOTIFIED);
                self.state.swap(EMPTY, Ordering::Acquire);
                return;
            }
        }
        let deadline = timeout.map(|t| std::time::Instant::now() + t);
        loop {
            let timed_out = match deadline {
                None => {
                    guard = self.cvar.wait(guard).unwrap_or_else(|e| e.into_inner());
                    false
                }
                Some(d) => {
                    let left = d.saturating_duration_since(std::time::Instant::now());
                    let (g, r) = self
                        .cvar
                        .wait_timeout(guard, left)
                        .unwrap_or_else(|e| e.into_inner());
                    guard = g;
                    r.timed_out()
                }
            };
            // Acquire pairs with `unpark`'s swap.
            if self
                .state
                .compare_exchange(NOTIFIED, EMPTY, Ordering::Acquire, Ordering::Acquire)
                .is_ok()
            {
                return;
            }
            if timed_out {
                // Leave the parked state; an `unpark` racing with this
                // left NOTIFIED instead, which we consume (it is for us).
                // Acquire pairs with `unpark`'s swap.
                if self
                    .state
                    .compare_exchange(PARKED_CONDVAR, EMPTY, Ordering::Acquire, Ordering::Acquire)
                    .is_err()
                {
                    self.state.swap(EMPTY, Ordering::Acquire);
                }
                return;
            }
            // Spurious condvar wakeup: keep waiting.
        }
    }

    /// Wakes the thread parked in [`Parker::park`], or makes its next `park`
    /// return immediately.
    pub(crate) fn unpark(&self) {
        // Release pairs with the Acquire RMWs in `park`.
        match self.state.swap(NOTIFIED, Ordering::AcqRel) {
            EMPTY | NOTIFIED => {}
            PARKED_CONDVAR => {
                // Taking the lock orders this notify after the parker's
                // `wait` started (it changed the state under the lock).
                drop(lock(&self.lock));
                self.cvar.notify_one();
            }
            PARKED_DRIVER => {
                if let Some(d) = self.driver.driver.as_ref() {
                    d.unpark();
                }
            }
            s => unreachable!("invalid parker state {s}"),
        }
    }
}

#[cfg(all(test, goro_loom))]
mod loom_tests {
    //! Models of park/unpark with and without a driver: no lost wakeup.
    //!
    //! Run (under a second once built):
    //! `RUSTFLAGS="--cfg goro_loom" cargo test -p goro-runtime --release --lib park -- --test-threads=1`

    use super::*;
    use crate::loom::{thread, Arc};

    /// A driver that blocks on a condvar until unparked (stand-in for mio).
    struct TestDriver {
        woken: Mutex<bool>,
        cvar: Condvar,
    }
    impl Driver for TestDriver {
        fn park(&self, _timeout: Option<Duration>) {
            let mut w = lock(&self.woken);
            while !*w {
                w = self.cvar.wait(w).unwrap();
            }
            *w = false;
        }
        fn unpark(&self) {
            *lock(&self.woken) = true;
            self.cvar.notify_one();
        }
    }

    fn model(driver: Option<StdArc<dyn Driver>>) {
        let parker = Arc::new(Parker::new(StdArc::new(DriverSlot::new(driver))));
        let flag = Arc::new(AtomicBool::new(false));
        let t = {
            let (parker, flag) = (parker.clone(), flag.clone());
            thread::spawn(move || {
                flag.store(true, Ordering::Release);
                parker.unpark();
            })
        };
        // Park until the flag is seen: must terminate (loom reports a
        // deadlock if a wakeup is lost).
        while !flag.load(Ordering::Acquire) {
            parker.park();
        }
        t.join().unwrap();
    }

    #[test]
    fn park_unpark_condvar() {
        loom::model(|| model(None));
    }

    #[test]
    fn park_unpark_driver() {
        loom::model(|| {
            let d: StdArc<dyn Driver> = StdArc::new(TestDriver {
                woken: Mutex::new(false),
                cvar: Condvar::new(),
            });
            model(Some(d))
        });
    }
}
