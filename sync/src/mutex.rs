//! `Mutex<T>`: a mutual-exclusion lock that parks goroutines, with Go's
//! fairness.
//!
//! Go: `sync.Mutex` (`src/sync/mutex.go`, `internal/sync/mutex.go`).
//!
//! # Design
//!
//! The state is one atomic word (bits below) and the waiters are a
//! `Sema` (`src/sema.rs`) FIFO. The uncontended lock and unlock are one
//! compare-and-swap each and never touch the queue.
//!
//! Go's two modes, as in `mutex.go`:
//!
//! - *Normal mode*: waiters queue FIFO, but a woken waiter does not own the
//!   lock: it competes with goroutines that are arriving right now (and that
//!   are already running, so they usually win). A woken waiter that loses
//!   re-queues at the *front*. Barging keeps throughput high.
//! - *Starvation mode*: a woken waiter that loses after having waited more
//!   than [`STARVATION_THRESHOLD`] (1 ms) switches the mutex to starvation
//!   mode. Then unlock hands ownership directly to the first waiter, and
//!   arriving goroutines do not try to acquire: they queue at the tail. The
//!   mode ends when a waiter that receives the lock is the last one, or waited
//!   less than 1 ms.
//!
//! Unlike Go, a waiter never spins: a goroutine that cannot take the lock
//! parks at once (its worker picks another goroutine instead).
//!
//! # Invariants
//!
//! - `STARVING` implies `LOCKED` and a non-empty queue: in starvation mode the
//!   lock is never released, only passed on.
//! - `WAITERS` is set exactly when the queue is not empty; it and `STARVING`
//!   change only under the queue lock.
//! - `WOKEN` is set exactly while one popped waiter (status `Woken`) has not
//!   yet retried; only that waiter (or its cancellation) clears it, and while
//!   it is set unlock wakes nobody else (Go's `mutexWoken`).
//!
//! # Locking
//!
//! The queue lock (`Sema`) is a leaf. No waker is woken under it.
//!
//! # Memory ordering
//!
//! Acquiring CASes are Acquire and releasing ones Release (the pair that
//! publishes the protected value from one holder to the next). A handoff
//! publishes through the waiter's status (Release store, Acquire load: see
//! `sema.rs`).

use std::cell::UnsafeCell;
use std::fmt;
use std::future::Future;
use std::marker::PhantomPinned;
use std::ops::{Deref, DerefMut};
use std::panic::Location;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::hook::{self, ObjectDetail, WaitObject, WaitReason};
use crate::loom::{AtomicUsize, Ordering};
use crate::sema::{End, Sema, Status, Waiter};

/// Held by the goroutine that owns the lock.
const LOCKED: usize = 1;
/// A popped waiter is about to retry (Go's `mutexWoken`).
const WOKEN: usize = 2;
/// Starvation mode: unlock hands the lock to the first waiter.
const STARVING: usize = 4;
/// The queue is not empty.
const WAITERS: usize = 8;

/// How long a waiter may wait before the mutex switches to starvation mode
/// (Go's `starvationThresholdNs`, 1 ms).
///
/// ```
/// assert_eq!(goro_sync::mutex::STARVATION_THRESHOLD.as_micros(), 1000);
/// ```
pub const STARVATION_THRESHOLD: Duration = Duration::from_millis(1);

/// How long a waiter queued at `since` has waited. Under loom, always zero:
/// a model must not branch on wall time (an exploration must replay the
/// same way), so the models never see starvation mode.
#[inline]
fn waited(since: Instant) -> Duration {
    #[cfg(goro_loom)]
    {
        let _ = since;
        Duration::ZERO
    }
    #[cfg(not(goro_loom))]
    {
        since.elapsed()
    }
}

/// A mutual-exclusion lock protecting a `T`, with Go's fairness (see the
/// module docs). Waiting parks the goroutine, never the worker thread.
///
/// The lock is released when the [`MutexGuard`] is dropped, so unlocking a
/// mutex you do not hold is impossible. It is not reentrant: locking it again
/// while holding its guard waits forever (Go's deadlock).
///
/// ```
/// use goro_sync::Mutex;
/// use std::sync::Arc;
///
/// let m = Arc::new(Mutex::new(0));
/// futures::executor::block_on(async {
///     *m.lock().await += 1;
///     assert_eq!(*m.lock().await, 1);
/// });
/// ```
pub struct Mutex<T: ?Sized> {
    /// `LOCKED | WOKEN | STARVING | WAITERS`; see the module invariants.
    state: AtomicUsize,
    /// The waiters.
    sema: Sema<()>,
    made_at: &'static Location<'static>,
    value: UnsafeCell<T>,
}

// SAFETY: the lock gives one goroutine at a time access to the `T`, which may
// be on another thread: `T: Send` suffices, as for `std::sync::Mutex`.
unsafe impl<T: ?Sized + Send> Send for Mutex<T> {}
// SAFETY: as above.
unsafe impl<T: ?Sized + Send> Sync for Mutex<T> {}

impl<T> Mutex<T> {
    /// A new unlocked mutex holding `value`.
    ///
    /// ```
    /// let m = goro_sync::Mutex::new(vec![1, 2]);
    /// assert_eq!(m.try_lock().unwrap().len(), 2);
    /// ```
    #[track_caller]
    pub fn new(value: T) -> Self {
        Mutex {
            state: AtomicUsize::new(0),
            sema: Sema::new(()),
            made_at: Location::caller(),
            value: UnsafeCell::new(value),
        }
    }

    /// Consumes the mutex and returns the value.
    ///
    /// ```
    /// let m = goro_sync::Mutex::new(3);
    /// assert_eq!(m.into_inner(), 3);
    /// ```
    pub fn into_inner(self) -> T {
        self.value.into_inner()
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Locks the mutex, parking until it is available (Go: `m.Lock()`).
    ///
    /// Cancel-safe: dropping the future before it completes leaves the mutex
    /// as if it had never been called (a lock handed to it in starvation mode
    /// is passed on).
    ///
    /// ```
    /// let m = goro_sync::Mutex::new(1);
    /// let v = futures::executor::block_on(async { *m.lock().await });
    /// assert_eq!(v, 1);
    /// ```
    #[track_caller]
    pub fn lock(&self) -> Lock<'_, T> {
        // The use is noted by the first poll (`poll_budget_noting_use`).
        self.lock_at(Location::caller())
    }

    /// [`Mutex::lock`] with the call site given (for `Cond::wait`).
    pub(crate) fn lock_at(&self, at: &'static Location<'static>) -> Lock<'_, T> {
        Lock {
            mutex: self,
            node: Waiter::new(),
            since: None,
            woken: false,
            started: false,
            at,
            _pin: PhantomPinned,
        }
    }

    /// Locks the mutex from a plain thread, blocking it until the lock is
    /// available.
    ///
    /// ```
    /// let m = goro_sync::Mutex::new(5);
    /// assert_eq!(*m.lock_blocking(), 5);
    /// ```
    #[track_caller]
    pub fn lock_blocking(&self) -> MutexGuard<'_, T> {
        crate::block_on(self.lock())
    }

    /// Locks the mutex if that is possible without waiting (Go: `TryLock`).
    /// Fails while another goroutine holds it and in starvation mode.
    ///
    /// ```
    /// let m = goro_sync::Mutex::new(());
    /// let g = m.try_lock().unwrap();
    /// assert!(m.try_lock().is_none());
    /// drop(g);
    /// assert!(m.try_lock().is_some());
    /// ```
    pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        crate::note_use();
        let mut s = self.state.load(Ordering::Relaxed);
        loop {
            if s & (LOCKED | STARVING) != 0 {
                return None;
            }
            // Acquire: pairs with the Release of the previous unlock.
            match self.state.compare_exchange_weak(
                s,
                s | LOCKED,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Some(MutexGuard { mutex: self }),
                Err(a) => s = a,
            }
        }
    }

    /// A mutable reference to the value, without locking (`&mut self`
    /// proves nobody else holds it).
    ///
    /// ```
    /// let mut m = goro_sync::Mutex::new(1);
    /// *m.get_mut() = 2;
    /// assert_eq!(*m.try_lock().unwrap(), 2);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        self.value.get_mut()
    }

    fn wait_object(&self) -> WaitObject {
        WaitObject {
            id: self as *const Self as *const () as usize,
            made_at: Some(self.made_at),
            detail: ObjectDetail::Other("sync.Mutex"),
        }
    }

    /// One acquisition attempt in either mode's rules: takes the lock if it
    /// is free and not in starvation mode, clearing `WOKEN` if `woken`.
    fn try_acquire(&self, woken: bool) -> bool {
        // The uncontended case in one instruction, as Go's `Lock` does.
        // Acquire: pairs with the Release of the previous unlock.
        if !woken
            && self
                .state
                .compare_exchange_weak(0, LOCKED, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
        {
            return true;
        }
        let mut s = self.state.load(Ordering::Relaxed);
        while s & (LOCKED | STARVING) == 0 {
            let mut new = s | LOCKED;
            if woken {
                new &= !WOKEN;
            }
            // Acquire: pairs with the Release of the previous unlock.
            match self
                .state
                .compare_exchange_weak(s, new, Ordering::Acquire, Ordering::Relaxed)
            {
                Ok(_) => return true,
                Err(a) => s = a,
            }
        }
        false
    }

    /// Releases the lock (the guard's drop; a cancelled handoff).
    fn unlock(&self) {
        // Release: publishes the protected value to the next holder.
        if self
            .state
            .compare_exchange(LOCKED, 0, Ordering::Release, Ordering::Relaxed)
            .is_err()
        {
            self.unlock_slow();
        }
    }

    #[cold]
    fn unlock_slow(&self) {
        let mut s = self.state.load(Ordering::Relaxed);
        loop {
            debug_assert!(s & LOCKED != 0, "sync: unlock of unlocked mutex");
            if s & STARVING != 0 {
                if self.hand_off() {
                    return;
                }
                s = self.state.load(Ordering::Relaxed);
                continue;
            }
            match self.state.compare_exchange_weak(
                s,
                s & !LOCKED,
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(a) => s = a,
            }
        }
        if s & WAITERS != 0 && s & WOKEN == 0 {
            self.wake_one();
        }
    }

    /// Starvation mode: gives the lock (still `LOCKED`) to the first waiter.
    /// Returns false if the mode ended before we took the queue lock (the
    /// last waiter gave up), so the caller unlocks normally.
    fn hand_off(&self) -> bool {
        let mut g = self.sema.lock();
        if self.state.load(Ordering::Relaxed) & STARVING == 0 {
            return false;
        }
        // STARVING implies a non-empty queue (invariant).
        let p = g
            .queue
            .pop_front(Status::Handed)
            .expect("starving mutex has waiters");
        let mut clear = 0;
        if g.queue.is_empty() {
            clear |= WAITERS;
        }
        // Go: leave starvation mode if this waiter is the last one or did not
        // really starve.
        if g.queue.is_empty() || p.since.is_none_or(|t| waited(t) < STARVATION_THRESHOLD) {
            clear |= STARVING;
        }
        // Release: the new owner also reads the state; the value itself is
        // published through the waiter's status.
        self.state.fetch_and(!clear, Ordering::Release);
        drop(g);
        p.waker.wake();
        true
    }

    /// Normal mode: wakes the first waiter to compete for the lock, unless
    /// the lock was taken meanwhile, a waiter is already woken, or nobody
    /// waits (Go's `Unlock` slow path).
    fn wake_one(&self) {
        let mut g = self.sema.lock();
        let mut s = self.state.load(Ordering::Relaxed);
        loop {
            if s & (LOCKED | WOKEN | STARVING) != 0 || s & WAITERS == 0 {
                return;
            }
            let mut new = s | WOKEN;
            if g.queue.len() == 1 {
                new &= !WAITERS;
            }
            match self
                .state
                .compare_exchange_weak(s, new, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => break,
                Err(a) => s = a,
            }
        }
        let p = g
            .queue
            .pop_front(Status::Woken)
            .expect("WAITERS implies a waiter");
        drop(g);
        p.waker.wake();
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Mutex");
        match self.try_lock() {
            Some(g) => d.field("value", &&*g),
            None => d.field("value", &format_args!("<locked>")),
        };
        d.finish()
    }
}

impl<T: Default> Default for Mutex<T> {
    #[track_caller]
    fn default() -> Self {
        Mutex::new(T::default())
    }
}

/// Future of [`Mutex::lock`]. Cancel-safe (see there).
///
/// ```
/// let m = goro_sync::Mutex::new('a');
/// let lock: goro_sync::mutex::Lock<'_, char> = m.lock();
/// assert_eq!(*futures::executor::block_on(lock), 'a');
/// ```
#[must_use = "futures do nothing unless polled"]
// `repr(C)` with the node last: the node's links are uninitialized until it
// is queued, and laid out last, nothing is written to them when the future
// is built. With Rust's own field order LLVM wrote them anyway, merged with
// the neighbouring fields into 16-byte zero stores (and in
// `mutex_uncontended` on 1 worker those stores happened to cross a 4 KiB page
// on every `lock().await`: 20 ns instead of 6.5; BENCHMARKS.md).
#[repr(C)]
pub struct Lock<'a, T: ?Sized> {
    mutex: &'a Mutex<T>,
    at: &'static Location<'static>,
    /// When we first had to wait (Go's `waitStartTime`).
    since: Option<Instant>,
    /// True between seeing `Woken` and the retry that clears `WOKEN`.
    woken: bool,
    /// The first poll spent the cooperative budget check.
    started: bool,
    _pin: PhantomPinned,
    /// Our queue node; structurally pinned.
    node: Waiter,
}

impl<'a, T: ?Sized> Future for Lock<'a, T> {
    type Output = MutexGuard<'a, T>;

    /// The first poll's uncontended acquire is inlined into the caller;
    /// everything else is [`Lock::poll_slow`].
    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<MutexGuard<'a, T>> {
        // SAFETY: `node` is never moved out; the other fields are plain data.
        let this = unsafe { self.get_unchecked_mut() };
        if !this.started {
            // The first poll: nothing was queued (a node is queued only
            // after `started`) and no wake-up was passed to it.
            debug_assert_eq!(this.node.status(), Status::Idle);
            if hook::poll_budget_noting_use(cx).is_pending() {
                return Poll::Pending;
            }
            this.started = true;
            if this.mutex.try_acquire(false) {
                return Poll::Ready(MutexGuard { mutex: this.mutex });
            }
        }
        this.poll_slow(cx)
    }
}

impl<'a, T: ?Sized> Lock<'a, T> {
    /// [`Lock::poll`] after the first poll's fast attempt: a queued or
    /// woken node, or a lock that was held.
    #[inline(never)]
    fn poll_slow(&mut self, cx: &mut Context<'_>) -> Poll<MutexGuard<'a, T>> {
        let this = self;
        let m = this.mutex;
        match this.node.status() {
            Status::Idle => {}
            Status::Queued => match m.sema.poll_queued(&this.node, cx.waker()) {
                Status::Queued => {
                    hook::note_park(WaitReason::MutexLock, this.at, Some(m.wait_object()));
                    return Poll::Pending;
                }
                Status::Handed => {
                    this.node.reset();
                    return Poll::Ready(MutexGuard { mutex: m });
                }
                _ => {
                    this.node.reset();
                    this.woken = true;
                }
            },
            Status::Handed => {
                this.node.reset();
                return Poll::Ready(MutexGuard { mutex: m });
            }
            Status::Woken => {
                this.node.reset();
                this.woken = true;
            }
        }
        if m.try_acquire(this.woken) {
            this.woken = false;
            return Poll::Ready(MutexGuard { mutex: m });
        }
        // Slow path: under the queue lock, take the lock or queue up.
        let mut g = m.sema.lock();
        let mut s = m.state.load(Ordering::Relaxed);
        loop {
            if s & (LOCKED | STARVING) == 0 {
                let mut new = s | LOCKED;
                if this.woken {
                    new &= !WOKEN;
                }
                match m
                    .state
                    .compare_exchange_weak(s, new, Ordering::Acquire, Ordering::Relaxed)
                {
                    Ok(_) => {
                        drop(g);
                        this.woken = false;
                        return Poll::Ready(MutexGuard { mutex: m });
                    }
                    Err(a) => s = a,
                }
                continue;
            }
            let mut new = s | WAITERS;
            if this.woken {
                new &= !WOKEN;
                // Go: a woken waiter that lost after starving for over 1 ms
                // switches the mutex to starvation mode (the lock is held:
                // STARVING implies LOCKED).
                if s & LOCKED != 0 && this.since.is_some_and(|t| waited(t) > STARVATION_THRESHOLD) {
                    new |= STARVING;
                }
            }
            match m
                .state
                .compare_exchange_weak(s, new, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => break,
                Err(a) => s = a,
            }
        }
        // Go's lifo: a waiter that already waited keeps its place at the front.
        let end = if this.since.is_some() {
            End::Front
        } else {
            End::Back
        };
        let since = *this.since.get_or_insert_with(Instant::now);
        // SAFETY: lock held; `node` is pinned in this future, unqueued, and
        // removed by `Drop` if still queued.
        unsafe { g.queue.push(&this.node, end, 0, Some(since), cx.waker()) };
        drop(g);
        this.woken = false;
        hook::note_park(WaitReason::MutexLock, this.at, Some(m.wait_object()));
        Poll::Pending
    }
}

impl<T: ?Sized> Drop for Lock<'_, T> {
    /// Every finished or never-polled lock comes here with an idle node and
    /// no unused wake-up: that check is inlined into the owner's drop; a
    /// cancellation is [`Lock::cancel`].
    #[inline]
    fn drop(&mut self) {
        if self.node.status() != Status::Idle || self.woken {
            self.cancel();
        }
    }
}

impl<T: ?Sized> Lock<'_, T> {
    /// The drop of a lock whose node was queued, woken or handed the lock,
    /// or that holds an unused wake-up: leaves the queue, or passes the
    /// lock or the wake-up on.
    #[inline(never)]
    fn cancel(&mut self) {
        let m = self.mutex;
        // SAFETY: the node is alive, and queued only in this mutex's queue.
        let s = unsafe {
            m.sema.cancel(&self.node, |g| {
                if g.queue.is_empty() {
                    // The last waiter left: neither mode has anyone to serve.
                    m.state.fetch_and(!(WAITERS | STARVING), Ordering::Relaxed);
                }
            })
        };
        match s {
            // Pass-on rule: a handed lock is unlocked (which hands it on)...
            Status::Handed => m.unlock(),
            // ...and a wake-up we did not use goes to the next waiter.
            Status::Woken => self.woken = true,
            _ => {}
        }
        if self.woken {
            m.state.fetch_and(!WOKEN, Ordering::Relaxed);
            if m.state.load(Ordering::Relaxed) & (LOCKED | STARVING) == 0 {
                m.wake_one();
            }
        }
    }
}

impl<T: ?Sized> fmt::Debug for Lock<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lock")
            .field("status", &self.node.status())
            .finish()
    }
}

/// Proof of holding a [`Mutex`]; unlocks it when dropped (Go: `m.Unlock()`).
///
/// `Send` when `T: Send`: a guard may be held across `.await` and the
/// goroutine resumed on another worker.
///
/// ```
/// let m = goro_sync::Mutex::new(String::new());
/// let mut g = m.try_lock().unwrap();
/// g.push_str("hi");
/// drop(g);
/// assert_eq!(*m.try_lock().unwrap(), "hi");
/// ```
#[must_use = "the lock is released when the guard is dropped"]
pub struct MutexGuard<'a, T: ?Sized> {
    mutex: &'a Mutex<T>,
}

// SAFETY: the guard gives `&mut T` to whichever thread holds it; unlocking is
// thread-agnostic (no owner thread is recorded).
unsafe impl<T: ?Sized + Send> Send for MutexGuard<'_, T> {}
// SAFETY: a shared guard only gives `&T`.
unsafe impl<T: ?Sized + Sync> Sync for MutexGuard<'_, T> {}

impl<'a, T: ?Sized> MutexGuard<'a, T> {
    /// The mutex this guard holds (used by [`Cond`](crate::Cond) to check
    /// it is always given guards of the same mutex).
    ///
    /// ```
    /// let m = goro_sync::Mutex::new(0);
    /// let g = m.try_lock().unwrap();
    /// assert!(std::ptr::eq(goro_sync::MutexGuard::mutex(&g), &m));
    /// ```
    pub fn mutex(this: &Self) -> &'a Mutex<T> {
        this.mutex
    }
}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard proves we hold the lock.
        unsafe { &*self.mutex.value.get() }
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard proves we hold the lock, and `&mut self` that
        // no other reference through this guard exists.
        unsafe { &mut *self.mutex.value.get() }
    }
}

impl<T: ?Sized> Drop for MutexGuard<'_, T> {
    fn drop(&mut self) {
        self.mutex.unlock();
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}
