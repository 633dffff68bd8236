//! `semaphore::Weighted`: a weighted semaphore whose acquire honours a
//! context's cancellation.
//!
//! Go: `golang.org/x/sync/semaphore`.
//!
//! # Design
//!
//! As x/sync's: `size`, `cur` (the weight held) and a FIFO of waiters, all
//! under one lock (the `Sema` (`src/sema.rs`) lock). A request is granted at
//! once only if it fits *and nobody waits*; `release` grants queued requests
//! in order and stops at the first that does not fit, so a large request is
//! not starved by a stream of small ones. A request larger than `size` can
//! never succeed: it does not queue (so it blocks nobody) and only waits for
//! its context to be done, as x/sync's.
//!
//! Grants are handoffs (status `Handed`): the weight is added to `cur` by the
//! releaser. Pass-on rule: an acquire that is dropped (or whose context is
//! done) after it was granted gives the weight back (x/sync: "pretend we
//! didn't"), and one that leaves the queue lets the waiters behind it be
//! granted if they now fit.
//!
//! The [`Context`]'s `done()` channel is received from inside the future, so
//! a cancellation wakes it; the waiting future allocates nothing.
//!
//! # Invariants
//!
//! - `0 <= cur <= size`; the queue is non-empty only if its first request
//!   does not fit (`size - cur < n`), between releases.

use std::fmt;
use std::future::Future;
use std::marker::PhantomPinned;
use std::panic::Location;
use std::pin::Pin;
use std::task::Poll;

use goro_chan::{Receiver, Recv, TryRecvError};

use crate::context::{self, Context};
use crate::hook::{self, ObjectDetail, WaitObject, WaitReason};
use crate::sema::{release_batch, End, Pick, Sema, Status, Waiter};

/// A weighted semaphore (x/sync's `semaphore.Weighted`): a bound on the total
/// weight of concurrent holders.
///
/// ```
/// use goro_sync::semaphore::Weighted;
///
/// let sem = Weighted::new(2);
/// assert!(sem.try_acquire(2));
/// assert!(!sem.try_acquire(1));
/// sem.release(2);
/// assert!(sem.try_acquire(1));
/// ```
pub struct Weighted {
    size: i64,
    /// `cur`, the weight held; under the queue lock.
    sema: Sema<i64>,
    made_at: &'static Location<'static>,
}

impl Weighted {
    /// A semaphore of total weight `n` (Go: `NewWeighted(n)`).
    ///
    /// ```
    /// let sem = goro_sync::semaphore::Weighted::new(10);
    /// assert!(sem.try_acquire(10));
    /// ```
    #[track_caller]
    pub fn new(n: i64) -> Self {
        Weighted {
            size: n,
            sema: Sema::new(0),
            made_at: Location::caller(),
        }
    }

    /// Acquires weight `n`, parking until it is available or `ctx` is done
    /// (Go: `s.Acquire(ctx, n)`). On success returns `Ok(())`; on failure
    /// returns `ctx`'s error and leaves the semaphore unchanged. If `ctx` is
    /// already done, fails even if the weight is free (x/sync). A request
    /// larger than the semaphore's size waits only for `ctx`, without
    /// blocking other requests. Cancel-safe.
    ///
    /// ```
    /// use goro_sync::{context, semaphore::Weighted};
    ///
    /// let sem = Weighted::new(3);
    /// let ctx = context::background();
    /// futures::executor::block_on(async {
    ///     sem.acquire(&ctx, 2).await.unwrap();
    ///     assert!(!sem.try_acquire(2));
    ///     sem.release(2);
    ///     // A cancelled context fails the acquire, even with weight free.
    ///     let (ctx, cancel) = context::with_cancel(&ctx);
    ///     cancel();
    ///     assert_eq!(sem.acquire(&ctx, 1).await, Err(context::Error::Canceled));
    /// });
    /// ```
    #[track_caller]
    pub fn acquire<'a>(&'a self, ctx: &'a Context, n: i64) -> Acquire<'a> {
        crate::note_use();
        Acquire {
            sem: self,
            ctx,
            n,
            phase: Phase::Start,
            done_recv: None,
            done: None,
            node: Waiter::new(),
            at: Location::caller(),
            _pin: PhantomPinned,
        }
    }

    /// Acquires weight `n` without waiting; false (and no change) if it is
    /// not available or others wait (Go: `TryAcquire`).
    ///
    /// ```
    /// let sem = goro_sync::semaphore::Weighted::new(1);
    /// assert!(sem.try_acquire(1));
    /// assert!(!sem.try_acquire(1));
    /// ```
    pub fn try_acquire(&self, n: i64) -> bool {
        crate::note_use();
        let mut g = self.sema.lock();
        let ok = self.size - g.state >= n && g.queue.is_empty();
        if ok {
            g.state += n;
        }
        ok
    }

    /// Releases weight `n` and grants queued requests that now fit, in
    /// order (Go: `Release`).
    ///
    /// # Panics
    ///
    /// `"semaphore: released more than held"` if more is released than is
    /// held, as x/sync.
    ///
    /// ```
    /// let sem = goro_sync::semaphore::Weighted::new(1);
    /// assert!(std::panic::catch_unwind(|| sem.release(1)).is_err());
    /// ```
    pub fn release(&self, n: i64) {
        crate::note_use();
        {
            let mut g = self.sema.lock();
            g.state -= n;
            if g.state < 0 {
                g.state += n;
                drop(g);
                panic!("semaphore: released more than held");
            }
        }
        self.notify_waiters();
    }

    /// Grants, in order, queued requests that fit; stops at the first that
    /// does not (x/sync's `notifyWaiters`).
    fn notify_waiters(&self) {
        let size = self.size;
        release_batch(&self.sema, Status::Handed, |cur, n| {
            let n = n as i64;
            if size - *cur < n {
                // Not enough for the next waiter: a large request is not
                // starved by smaller ones behind it.
                Pick::Stop
            } else {
                *cur += n;
                Pick::Take
            }
        });
    }

    fn wait_object(&self) -> WaitObject {
        WaitObject {
            id: self as *const Self as usize,
            made_at: Some(self.made_at),
            detail: ObjectDetail::Other("semaphore.Weighted"),
        }
    }
}

impl fmt::Debug for Weighted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let g = self.sema.lock();
        f.debug_struct("Weighted")
            .field("size", &self.size)
            .field("cur", &g.state)
            .field("waiters", &g.queue.len())
            .finish()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Start,
    /// Queued for the weight (or granted, see the node's status).
    Queued,
    /// The request exceeds the size: waiting for the context only.
    Doomed,
    Finished,
}

/// Future of [`Weighted::acquire`].
///
/// ```
/// use goro_sync::{context, semaphore::Weighted};
/// let (sem, ctx) = (Weighted::new(1), context::background());
/// let f: goro_sync::semaphore::Acquire<'_> = sem.acquire(&ctx, 1);
/// assert!(futures::executor::block_on(f).is_ok());
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct Acquire<'a> {
    sem: &'a Weighted,
    ctx: &'a Context,
    n: i64,
    phase: Phase,
    /// A receive on `done`; borrows it, so it is declared (and dropped)
    /// first. Structurally pinned.
    done_recv: Option<Recv<'static, ()>>,
    /// The context's done channel; never moved once `done_recv` borrows it
    /// (this future is `!Unpin`).
    done: Option<Receiver<()>>,
    node: Waiter,
    at: &'static Location<'static>,
    _pin: PhantomPinned,
}

impl Acquire<'_> {
    /// Polls the receive on the context's done channel; `Ready` once it is
    /// closed (or a value arrived: a done channel only closes).
    fn poll_done(&mut self, cx: &mut std::task::Context<'_>) -> Poll<()> {
        if self.done_recv.is_none() {
            let rx = self.done.insert(self.ctx.done());
            // SAFETY: `rx` lives in this pinned future and is neither moved
            // nor dropped while `done_recv` (declared first, so dropped
            // first, and cleared before `done` is replaced) borrows it.
            let rx: &'static Receiver<()> = unsafe { &*(rx as *const Receiver<()>) };
            self.done_recv = Some(rx.recv());
        }
        // SAFETY: `done_recv` is structurally pinned in this pinned future.
        let recv = unsafe { Pin::new_unchecked(self.done_recv.as_mut().expect("just set")) };
        recv.poll(cx).map(|_| ())
    }

    fn ctx_error(&self) -> context::Error {
        self.ctx.err().expect("context done but err() is None")
    }
}

impl Future for Acquire<'_> {
    type Output = Result<(), context::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `node` and `done_recv` are structurally pinned and never
        // moved out; the other fields are plain data.
        let this = unsafe { self.get_unchecked_mut() };
        let sem = this.sem;
        match this.phase {
            Phase::Finished => panic!("semaphore Acquire polled after completion"),
            Phase::Start => {
                if hook::poll_budget(cx).is_pending() {
                    return Poll::Pending;
                }
                // x/sync: a context done before the call fails it, even if
                // the weight is free.
                if matches!(this.ctx.done().try_recv(), Err(TryRecvError::Closed)) {
                    this.phase = Phase::Finished;
                    return Poll::Ready(Err(this.ctx_error()));
                }
                let mut g = sem.sema.lock();
                if sem.size - g.state >= this.n && g.queue.is_empty() {
                    g.state += this.n;
                    this.phase = Phase::Finished;
                    return Poll::Ready(Ok(()));
                }
                if this.n > sem.size {
                    drop(g);
                    this.phase = Phase::Doomed;
                } else {
                    // SAFETY: lock held; `node` is pinned here and removed on drop.
                    unsafe {
                        g.queue
                            .push(&this.node, End::Back, this.n as u64, None, cx.waker())
                    };
                    drop(g);
                    this.phase = Phase::Queued;
                }
            }
            Phase::Queued | Phase::Doomed => {}
        }
        if this.phase == Phase::Queued {
            let s = match this.node.status() {
                Status::Queued => sem.sema.poll_queued(&this.node, cx.waker()),
                s => s,
            };
            if s == Status::Handed {
                this.node.reset();
                this.phase = Phase::Finished;
                // x/sync: acquired, but the context is done: give it back.
                if matches!(this.ctx.done().try_recv(), Err(TryRecvError::Closed)) {
                    sem.release(this.n);
                    return Poll::Ready(Err(this.ctx_error()));
                }
                return Poll::Ready(Ok(()));
            }
        }
        if this.poll_done(cx).is_ready() {
            if this.phase == Phase::Queued {
                this.give_up();
            }
            this.phase = Phase::Finished;
            return Poll::Ready(Err(this.ctx_error()));
        }
        // Go: an Acquire waits in a select on its context and its grant.
        hook::note_park(WaitReason::Select, this.at, Some(sem.wait_object()));
        Poll::Pending
    }
}

impl Acquire<'_> {
    /// Leaves the queue, applying the pass-on rule; returns whether the
    /// weight had been granted (and is now given back).
    fn give_up(&mut self) -> bool {
        let sem = self.sem;
        // SAFETY: the node is alive and queued only in this queue.
        let s = unsafe { sem.sema.cancel(&self.node, |_| {}) };
        if s == Status::Handed {
            // Granted after all: pretend we were not (x/sync).
            sem.release(self.n);
            true
        } else {
            if s == Status::Idle {
                // We may have been the large request holding others back.
                sem.notify_waiters();
            }
            false
        }
    }
}

impl Drop for Acquire<'_> {
    fn drop(&mut self) {
        self.done_recv = None;
        if self.phase == Phase::Queued {
            self.give_up();
        }
    }
}

impl fmt::Debug for Acquire<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Acquire")
            .field("n", &self.n)
            .field("phase", &self.phase)
            .finish()
    }
}
