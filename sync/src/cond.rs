//! `Cond`: a condition variable, a rendezvous point for goroutines waiting
//! for an event.
//!
//! Go: `sync.Cond` (`src/sync/cond.go`) over `runtime.notifyList`
//! (`runtime/sema.go`).
//!
//! # Design
//!
//! Waiters queue FIFO in a `Sema` (`src/sema.rs`). `wait(guard)` queues its
//! node *before* unlocking the mutex (Go's `notifyListAdd` before `Unlock`),
//! so a `signal` that follows the unlock cannot be missed. `signal` hands the
//! first waiter the signal (`Handed`); `broadcast` wakes every waiter queued
//! when it began (`Woken`, bounded by the queue's ticket, as Go's
//! `notifyList` tickets). A woken waiter then locks the mutex again.
//!
//! Pass-on rule: a waiter dropped after `signal` chose it but before it
//! returned re-signals, so the signal reaches another waiter (Go cannot
//! cancel a `Wait`; here a signal is never swallowed by a cancelled one).
//!
//! A `Cond` is bound to the mutex of the first guard given to `wait`; a guard
//! of another mutex panics (Go binds `c.L` at construction).

use std::fmt;
use std::future::Future;
use std::marker::PhantomPinned;
use std::panic::Location;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::hook::{self, ObjectDetail, WaitObject, WaitReason};
use crate::loom::{AtomicUsize, Ordering};
use crate::mutex::{Lock, Mutex, MutexGuard};
use crate::sema::{release_batch, End, Pick, Sema, Status, Waiter};

/// A condition variable (Go's `sync.Cond`), used with a [`Mutex`].
///
/// ```
/// use goro_sync::{Cond, Mutex};
/// use std::sync::Arc;
///
/// let state = Arc::new((Mutex::new(false), Cond::new()));
/// let s = state.clone();
/// let t = std::thread::spawn(move || {
///     *s.0.lock_blocking() = true;
///     s.1.signal();
/// });
/// futures::executor::block_on(async {
///     let (m, c) = &*state;
///     let mut ready = m.lock().await;
///     while !*ready {
///         ready = c.wait(ready).await;
///     }
/// });
/// t.join().unwrap();
/// ```
pub struct Cond {
    sema: Sema<()>,
    /// Address of the mutex this `Cond` is used with; 0 until the first wait.
    mutex: AtomicUsize,
    made_at: &'static Location<'static>,
}

impl Cond {
    /// A new condition variable.
    ///
    /// ```
    /// let c = goro_sync::Cond::new();
    /// c.signal(); // nobody waits: nothing happens
    /// ```
    #[track_caller]
    pub fn new() -> Self {
        Cond {
            sema: Sema::new(()),
            mutex: AtomicUsize::new(0),
            made_at: Location::caller(),
        }
    }

    /// Atomically unlocks the guard's mutex and parks until woken by
    /// [`signal`](Cond::signal) or [`broadcast`](Cond::broadcast), then locks
    /// the mutex again and returns its guard (Go: `c.Wait()`).
    ///
    /// As in Go, being woken does not mean the condition holds: call `wait`
    /// in a loop. Cancel-safe: a dropped future leaves the queue, passes on a
    /// signal it was chosen for, and gives up the mutex.
    ///
    /// # Panics
    ///
    /// If `guard` belongs to another mutex than the guards of earlier waits:
    /// `"sync: Cond.Wait with a guard of another Mutex"`.
    ///
    /// ```
    /// let (m, c) = (goro_sync::Mutex::new(0), goro_sync::Cond::new());
    /// futures::executor::block_on(async {
    ///     let g = m.lock().await;
    ///     let mut w = std::pin::pin!(c.wait(g));
    ///     // Poll once: the waiter queues and unlocks the mutex.
    ///     assert!(futures::poll!(w.as_mut()).is_pending());
    ///     c.signal();
    ///     assert_eq!(*w.await, 0);
    /// });
    /// ```
    #[track_caller]
    pub fn wait<'a, T: ?Sized>(&'a self, guard: MutexGuard<'a, T>) -> Wait<'a, T> {
        crate::note_use();
        self.bind(MutexGuard::mutex(&guard));
        Wait {
            cond: self,
            mutex: MutexGuard::mutex(&guard),
            guard: Some(guard),
            node: Waiter::new(),
            relock: None,
            at: Location::caller(),
            _pin: PhantomPinned,
        }
    }

    /// Wakes the goroutine that has waited longest, if any (Go: `c.Signal()`).
    ///
    /// ```
    /// goro_sync::Cond::new().signal();
    /// ```
    pub fn signal(&self) {
        crate::note_use();
        let p = self.sema.lock().queue.pop_front(Status::Handed);
        if let Some(p) = p {
            p.waker.wake();
        }
    }

    /// Wakes every goroutine waiting now (Go: `c.Broadcast()`).
    ///
    /// ```
    /// goro_sync::Cond::new().broadcast();
    /// ```
    pub fn broadcast(&self) {
        crate::note_use();
        release_batch(&self.sema, Status::Woken, |_, _| Pick::Take);
    }

    fn bind<T: ?Sized>(&self, m: &Mutex<T>) {
        let addr = m as *const Mutex<T> as *const () as usize;
        if let Err(bound) =
            self.mutex
                .compare_exchange(0, addr, Ordering::Relaxed, Ordering::Relaxed)
        {
            if bound != addr {
                panic!("sync: Cond.Wait with a guard of another Mutex");
            }
        }
    }

    fn wait_object(&self) -> WaitObject {
        WaitObject {
            id: self as *const Self as usize,
            made_at: Some(self.made_at),
            detail: ObjectDetail::Other("sync.Cond"),
        }
    }
}

impl Default for Cond {
    #[track_caller]
    fn default() -> Self {
        Cond::new()
    }
}

impl fmt::Debug for Cond {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cond")
            .field("waiters", &self.sema.lock().queue.len())
            .finish()
    }
}

/// Future of [`Cond::wait`]: resolves to the re-acquired guard.
///
/// ```
/// let (m, c) = (goro_sync::Mutex::new(()), goro_sync::Cond::new());
/// let g = m.try_lock().unwrap();
/// let w: goro_sync::cond::Wait<'_, ()> = c.wait(g);
/// drop(w); // never polled: the guard is simply dropped
/// assert!(m.try_lock().is_some());
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct Wait<'a, T: ?Sized> {
    cond: &'a Cond,
    mutex: &'a Mutex<T>,
    /// Held until our node is queued.
    guard: Option<MutexGuard<'a, T>>,
    node: Waiter,
    /// Re-locking after the wake-up; structurally pinned.
    relock: Option<Lock<'a, T>>,
    at: &'static Location<'static>,
    _pin: PhantomPinned,
}

impl<'a, T: ?Sized> Future for Wait<'a, T> {
    type Output = MutexGuard<'a, T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<MutexGuard<'a, T>> {
        // SAFETY: `node` and `relock` are structurally pinned, never moved
        // out; `relock` is only set while `None`.
        let this = unsafe { self.get_unchecked_mut() };
        let cond = this.cond;
        if let Some(relock) = this.relock.as_mut() {
            // SAFETY: pinned inside this pinned future.
            return unsafe { Pin::new_unchecked(relock) }.poll(cx);
        }
        if let Some(guard) = this.guard.take() {
            {
                let mut g = cond.sema.lock();
                // SAFETY: lock held; `node` is pinned here and removed on drop.
                unsafe { g.queue.push(&this.node, End::Back, 0, None, cx.waker()) };
            }
            // Queued first, then unlocked: a signal after the unlock finds us.
            drop(guard);
            hook::note_park(WaitReason::CondWait, this.at, Some(cond.wait_object()));
            return Poll::Pending;
        }
        let s = match this.node.status() {
            Status::Queued => cond.sema.poll_queued(&this.node, cx.waker()),
            s => s,
        };
        if s == Status::Queued {
            hook::note_park(WaitReason::CondWait, this.at, Some(cond.wait_object()));
            return Poll::Pending;
        }
        // Woken or signalled: the wait is over; lock again.
        this.node.reset();
        this.relock = Some(this.mutex.lock_at(this.at));
        // SAFETY: as above.
        unsafe { Pin::new_unchecked(this.relock.as_mut().expect("just set")) }.poll(cx)
    }
}

impl<T: ?Sized> Drop for Wait<'_, T> {
    fn drop(&mut self) {
        // SAFETY: the node is alive and queued only in this Cond's queue.
        let s = unsafe { self.cond.sema.cancel(&self.node, |_| {}) };
        if s == Status::Handed {
            // Chosen by `signal` but never returned: the signal goes on.
            self.cond.signal();
        }
    }
}

impl<T: ?Sized> fmt::Debug for Wait<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wait")
            .field("status", &self.node.status())
            .field("relocking", &self.relock.is_some())
            .finish()
    }
}
