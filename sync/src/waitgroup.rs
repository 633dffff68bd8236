//! `WaitGroup`: waits for a collection of goroutines to finish.
//!
//! Go: `sync.WaitGroup` (`src/sync/waitgroup.go`).
//!
//! # Design
//!
//! As Go's: one 64-bit atomic word, the counter in the high 32 bits (an
//! `i32`); the low bit says "someone waits" (Go keeps a waiter count there;
//! here the `Sema` (`src/sema.rs`) queue knows the count). `add` and `done`
//! are one `fetch_add`; only the call that brings the counter to zero with
//! waiters takes the queue lock, resets the word to zero (so the group is
//! reusable at once) and wakes every waiter that was queued, in batches.
//!
//! A `WaitGroup` is a cheap shared handle (`Clone`; Go passes `&wg`), so it
//! can move into the goroutines that call `done`.
//!
//! # Invariants
//!
//! - `WAITERS` is set only with a positive counter and only under the queue
//!   lock; the transition "counter zero with `WAITERS`" -> `0` is made under
//!   the queue lock, which wakes exactly the waiters queued before it.
//!
//! # Memory ordering
//!
//! `add` is AcqRel: the Release half publishes a finishing goroutine's work,
//! the Acquire half lets the last `done` see everyone's; waiters then learn of
//! it through their status (`sema.rs`) or their own Acquire load.

use std::fmt;
use std::future::Future;
use std::marker::PhantomPinned;
use std::panic::Location;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use crate::hook::{self, ObjectDetail, WaitObject, WaitReason};
use crate::loom::{AtomicU64, Ordering};
use crate::sema::{release_batch_locked, End, Pick, Sema, Status, Waiter};

/// Someone waits (under the queue lock).
const WAITERS: u64 = 1;

fn counter(s: u64) -> i32 {
    (s >> 32) as i32
}

struct Inner {
    /// `counter << 32 | WAITERS`.
    state: AtomicU64,
    sema: Sema<()>,
    made_at: &'static Location<'static>,
}

/// Waits for a collection of goroutines to finish (Go's `sync.WaitGroup`).
///
/// [`add`](WaitGroup::add) the number of goroutines, each calls
/// [`done`](WaitGroup::done) when finished, and [`wait`](WaitGroup::wait)
/// parks until the counter is zero. The group is reusable as soon as `wait`
/// returns. It is a shared handle: clones refer to the same group.
///
/// ```
/// use goro_sync::WaitGroup;
///
/// let wg = WaitGroup::new();
/// let mut threads = Vec::new();
/// for _ in 0..4 {
///     wg.add(1);
///     let wg = wg.clone();
///     threads.push(std::thread::spawn(move || wg.done()));
/// }
/// futures::executor::block_on(wg.wait());
/// # for t in threads { t.join().unwrap(); }
/// ```
#[derive(Clone)]
pub struct WaitGroup {
    inner: Arc<Inner>,
}

impl WaitGroup {
    /// A new group with counter zero.
    ///
    /// ```
    /// let wg = goro_sync::WaitGroup::new();
    /// futures::executor::block_on(wg.wait()); // zero: returns at once
    /// ```
    #[track_caller]
    pub fn new() -> Self {
        WaitGroup {
            inner: Arc::new(Inner {
                state: AtomicU64::new(0),
                sema: Sema::new(()),
                made_at: Location::caller(),
            }),
        }
    }

    /// Adds `delta` (which may be negative) to the counter; when it reaches
    /// zero every goroutine blocked in [`wait`](WaitGroup::wait) is released.
    ///
    /// # Panics
    ///
    /// `"sync: negative WaitGroup counter"` if the counter goes below zero,
    /// as Go. (The group is then unusable, as in Go.)
    ///
    /// ```
    /// let wg = goro_sync::WaitGroup::new();
    /// wg.add(2);
    /// wg.add(-2);
    /// let r = std::panic::catch_unwind(|| wg.add(-1));
    /// assert!(r.is_err());
    /// ```
    pub fn add(&self, delta: isize) {
        crate::note_use();
        let d = i32::try_from(delta).expect("sync: WaitGroup delta out of range");
        let inner = &*self.inner;
        // AcqRel: see the module's memory ordering.
        let old = inner
            .state
            .fetch_add((d as i64 as u64) << 32, Ordering::AcqRel);
        let v = counter(old).wrapping_add(d);
        if v < 0 {
            panic!("sync: negative WaitGroup counter");
        }
        if v == 0 && old & WAITERS != 0 {
            self.release_waiters();
        }
    }

    /// Decrements the counter by one (Go: `wg.Done()`).
    ///
    /// ```
    /// let wg = goro_sync::WaitGroup::new();
    /// wg.add(1);
    /// wg.done();
    /// futures::executor::block_on(wg.wait());
    /// ```
    pub fn done(&self) {
        self.add(-1);
    }

    /// The counter is zero and waiters are queued: release them.
    #[cold]
    fn release_waiters(&self) {
        let inner = &*self.inner;
        let g = inner.sema.lock();
        // Only the exact state "zero, with waiters" is released: an `add`
        // that raced in (Go calls that misuse) leaves the waiters for the
        // next zero.
        if inner
            .state
            .compare_exchange(WAITERS, 0, Ordering::AcqRel, Ordering::Relaxed)
            .is_err()
        {
            return;
        }
        // Everyone queued before the reset (under this same lock hold)
        // waits for this zero; a waiter that arrives after it waits for the
        // next one, and the ticket bound leaves it queued.
        release_batch_locked(&inner.sema, g, Status::Handed, |_, _| Pick::Take);
    }

    /// Parks until the counter is zero (Go: `wg.Wait()`). Cancel-safe.
    ///
    /// ```
    /// let wg = goro_sync::WaitGroup::new();
    /// wg.add(1);
    /// let w = wg.clone();
    /// let t = std::thread::spawn(move || w.done());
    /// futures::executor::block_on(wg.wait());
    /// t.join().unwrap();
    /// ```
    #[track_caller]
    pub fn wait(&self) -> Wait<'_> {
        crate::note_use();
        Wait {
            wg: self,
            node: Waiter::new(),
            at: Location::caller(),
            _pin: PhantomPinned,
        }
    }

    /// [`wait`](WaitGroup::wait) from a plain thread, blocking it.
    ///
    /// ```
    /// let wg = goro_sync::WaitGroup::new();
    /// wg.add(1);
    /// let w = wg.clone();
    /// std::thread::spawn(move || w.done());
    /// wg.wait_blocking();
    /// ```
    #[track_caller]
    pub fn wait_blocking(&self) {
        crate::block_on(self.wait())
    }

    /// Go's `wg.Go(f)` (Go 1.25): adds one to the counter and runs `fut` in
    /// a new goroutine that calls [`done`](WaitGroup::done) when it ends
    /// (also if it panics or is dropped, as Go's `defer wg.Done()`). Never
    /// blocks. On a goro runtime the goroutine is the runtime's, with this
    /// call as its spawn site; elsewhere (tokio, a plain thread) it runs on
    /// a thread of its own.
    ///
    /// ```
    /// use goro_sync::WaitGroup;
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    ///
    /// // Off a goro runtime each goroutine gets a thread; inside `goro::run`
    /// // the same code starts goroutines.
    /// futures::executor::block_on(async {
    ///     let wg = WaitGroup::new();
    ///     let n = Arc::new(AtomicUsize::new(0));
    ///     for _ in 0..10 {
    ///         let n = n.clone();
    ///         wg.go(async move { n.fetch_add(1, Ordering::Relaxed); });
    ///     }
    ///     wg.wait().await;
    ///     assert_eq!(n.load(Ordering::Relaxed), 10);
    /// });
    /// ```
    #[track_caller]
    pub fn go<F>(&self, fut: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        /// Go's `defer wg.Done()`.
        struct Done(WaitGroup);
        impl Drop for Done {
            fn drop(&mut self) {
                self.0.done();
            }
        }
        self.add(1);
        let done = Done(self.clone());
        hook::spawn_at(
            async move {
                let _done = done;
                fut.await;
            },
            Location::caller(),
        );
    }

    fn wait_object(&self) -> WaitObject {
        WaitObject {
            id: Arc::as_ptr(&self.inner) as *const () as usize,
            made_at: Some(self.inner.made_at),
            detail: ObjectDetail::Other("sync.WaitGroup"),
        }
    }
}

impl Default for WaitGroup {
    #[track_caller]
    fn default() -> Self {
        WaitGroup::new()
    }
}

impl fmt::Debug for WaitGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.inner.state.load(Ordering::Relaxed);
        f.debug_struct("WaitGroup")
            .field("counter", &counter(s))
            .finish()
    }
}

/// Future of [`WaitGroup::wait`].
///
/// ```
/// let wg = goro_sync::WaitGroup::new();
/// let w: goro_sync::waitgroup::Wait<'_> = wg.wait();
/// futures::executor::block_on(w);
/// ```
#[must_use = "futures do nothing unless polled"]
// `repr(C)` with the node last, as `mutex::Lock` (see there).
#[repr(C)]
pub struct Wait<'a> {
    wg: &'a WaitGroup,
    at: &'static Location<'static>,
    _pin: PhantomPinned,
    node: Waiter,
}

impl Future for Wait<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // SAFETY: `node` is never moved out.
        let this = unsafe { self.get_unchecked_mut() };
        let inner = &*this.wg.inner;
        match this.node.status() {
            Status::Idle => {}
            Status::Queued => {
                if inner.sema.poll_queued(&this.node, cx.waker()) == Status::Queued {
                    hook::note_park(
                        WaitReason::WaitGroupWait,
                        this.at,
                        Some(this.wg.wait_object()),
                    );
                    return Poll::Pending;
                }
                this.node.reset();
                return Poll::Ready(());
            }
            _ => {
                this.node.reset();
                return Poll::Ready(());
            }
        }
        // Acquire: pairs with the AcqRel of the `add` that made it zero.
        if counter(inner.state.load(Ordering::Acquire)) == 0 {
            return Poll::Ready(());
        }
        let mut g = inner.sema.lock();
        let mut s = inner.state.load(Ordering::Acquire);
        loop {
            if counter(s) == 0 {
                return Poll::Ready(());
            }
            match inner.state.compare_exchange_weak(
                s,
                s | WAITERS,
                Ordering::Acquire,
                Ordering::Acquire,
            ) {
                Ok(_) => break,
                Err(a) => s = a,
            }
        }
        // SAFETY: lock held; `node` is pinned here and removed on drop.
        unsafe { g.queue.push(&this.node, End::Back, 0, None, cx.waker()) };
        drop(g);
        hook::note_park(
            WaitReason::WaitGroupWait,
            this.at,
            Some(this.wg.wait_object()),
        );
        Poll::Pending
    }
}

impl Drop for Wait<'_> {
    fn drop(&mut self) {
        let inner = &*self.wg.inner;
        // SAFETY: the node is alive and queued only in this group's queue.
        // A waiter that leaves takes nothing with it: `WAITERS` may stay set
        // with an empty queue, which only costs the zeroing `add` a lock.
        unsafe { inner.sema.cancel(&self.node, |_| {}) };
    }
}

impl fmt::Debug for Wait<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wait")
            .field("status", &self.node.status())
            .finish()
    }
}
