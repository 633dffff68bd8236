//! The one FIFO waiter queue every primitive of this crate builds on.
//!
//! Go: `runtime/sema.go` (`semaRoot`: a lock, a waiter count and a queue of
//! `sudog`s; `semacquire1` and `semrelease1`), minus the address-keyed treap:
//! each primitive owns its queue, so no lookup is needed.
//!
//! # Design
//!
//! A [`Sema<S>`] is a lock guarding a [`Queue`] of [`Waiter`] nodes together
//! with whatever state `S` the primitive must change atomically with its queue
//! (the weighted semaphore's `cur`, the read-write mutex's queued writers...).
//! A primitive keeps its fast path in its own atomic word and takes this lock
//! only when a goroutine must wait or a waiter must be woken.
//!
//! A [`Waiter`] lives inside the pending future (which is pinned), so waiting
//! never allocates: the queue is a doubly linked list threaded through those
//! nodes (as `chan/src/waiter.rs` does for channels). Each node has a
//! [`Status`]:
//!
//! ```text
//!        push (owner, lock)         pop (releaser, lock)
//! Idle ─────────────────────► Queued ────────────────────► Woken  (retry)
//!   ▲                            │   └───────────────────► Handed (you own it)
//!   │  remove (owner, lock)      │
//!   └────────────────────────────┘      reset (owner): Woken/Handed -> Idle
//! ```
//!
//! `Woken` says "the thing you wait for may be available: try again" (Go's
//! `semrelease` without handoff); `Handed` says "it was given to you" (Go's
//! `handoff` with `s.ticket = 1`): the lock's ownership, a permit, a signal.
//! Every primitive's future obeys the *pass-on rule* when it is dropped:
//! a `Queued` node is removed (nothing was given to it); a `Woken` node wakes
//! the next waiter if the resource is free; a `Handed` node gives back what it
//! was handed (unlocks, releases, re-signals). So cancellation loses nothing.
//!
//! Releasers take wakers out under the lock into a fixed-size [`WakeList`] and
//! wake them after unlocking; a release that must wake more than
//! [`WakeList::CAP`] waiters does so in batches, bounded by a *ticket*: every
//! push takes the next ticket, so a broadcast wakes only the waiters that were
//! queued when it started (Go's `notifyList` tickets).
//!
//! # Invariants
//!
//! - A node's links, waker, ticket, data and start time are read and written
//!   only under the lock of the queue it is (or may be) in, and hold a value
//!   only while it is queued: the push that queues it writes them all, the
//!   unlink that dequeues it moves them out (a future that never waits never
//!   writes them).
//! - A node's status is `Queued` exactly while it is linked in a queue. It is
//!   changed only under that queue's lock, except that the owner resets an
//!   unlinked node to `Idle`.
//! - A queued node is pinned and alive: its owner removes it (under the lock)
//!   before its memory is released, unless a releaser popped it first; the
//!   status store is the releaser's last access to the node.
//!
//! # Locking
//!
//! One lock per primitive (per [`Sema`]), a leaf: no other lock is taken while
//! it is held, no waker is woken and no user code runs under it.
//!
//! # Memory ordering
//!
//! The status leaves `Queued` with a Release store (under the lock) that pairs
//! with the owner's Acquire load in [`Waiter::status`]: an owner that sees
//! `Handed` sees everything the releaser did before handing over (for a mutex,
//! the previous holder's writes to the protected value). The owner may then
//! free the node without taking the lock, because the releaser no longer
//! touches it.

use std::marker::PhantomPinned;
use std::mem::MaybeUninit;
use std::ptr;
use std::task::Waker;
use std::time::Instant;

use crate::loom::{self, AtomicU8, Mutex, MutexGuard, Ordering, UnsafeCell};

/// Where a waiter stands; see the module docs for the transitions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Status {
    /// Not queued; the owner may queue it.
    Idle = 0,
    /// Linked in a queue, parked.
    Queued = 1,
    /// Popped without a handoff: the owner must try again (Go: woken by
    /// `semrelease` without `handoff`).
    Woken = 2,
    /// Popped with a handoff: the owner now holds what it waited for.
    Handed = 3,
}

impl Status {
    fn from_u8(v: u8) -> Status {
        match v {
            0 => Status::Idle,
            1 => Status::Queued,
            2 => Status::Woken,
            _ => Status::Handed,
        }
    }
}

/// Which end of the queue a waiter joins.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum End {
    /// The tail: FIFO (Go: `semacquire` with `lifo == false`).
    Back,
    /// The head: a waiter that was woken, failed, and waits again keeps its
    /// turn (Go: `lifo == true`, used by `sync.Mutex`).
    Front,
}

/// What a releaser decides about one queued waiter during [`Queue::drain`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Pick {
    /// Pop it and wake it with the drain's status.
    Take,
    /// Leave it queued and look at the next one.
    Skip,
    /// Leave it and every later waiter queued.
    Stop,
}

/// Link fields of a waiter; protected by the lock of the queue it is in.
/// Written in full by [`Queue::push`] and moved out by `Queue::unlink`:
/// initialized exactly while the node is queued.
struct Links {
    prev: *const Waiter,
    next: *const Waiter,
    waker: Option<Waker>,
    /// The queue's ticket counter when the node was pushed.
    ticket: u64,
    /// Primitive-specific word (a weight, reader-or-writer).
    data: u64,
    /// When the owner first started waiting (the mutex's starvation clock).
    since: Option<Instant>,
}

/// One waiting operation's node (Go: `sudog`), embedded in its future.
///
/// `repr(C)`, the links last: a future that embeds the node last (as
/// `mutex::Lock` does) then writes nothing past the status when it is built.
#[repr(C)]
pub(crate) struct Waiter {
    /// A [`Status`]; see the module invariants for who writes it.
    status: AtomicU8,
    _pin: PhantomPinned,
    /// Protected by the lock of the queue the node is in; initialized
    /// exactly while the node is queued (see [`Links`]). A fresh node writes
    /// nothing here: a future that never waits (every uncontended lock)
    /// does not pay for zeroing and moving 64 bytes.
    links: UnsafeCell<MaybeUninit<Links>>,
}

// SAFETY: the raw pointers and the waker in `links` are only touched under the
// queue lock (module invariants); `status` is atomic.
unsafe impl Send for Waiter {}
// SAFETY: as for `Send`: shared access goes through the queue lock or the atomic.
unsafe impl Sync for Waiter {}

impl Waiter {
    /// A fresh, unqueued node.
    pub(crate) fn new() -> Self {
        Waiter {
            links: UnsafeCell::new(MaybeUninit::uninit()),
            status: AtomicU8::new(Status::Idle as u8),
            _pin: PhantomPinned,
        }
    }

    /// The node's status. Acquire: pairs with the releaser's Release store,
    /// so an owner that sees `Woken` or `Handed` sees the releaser's writes.
    #[inline]
    pub(crate) fn status(&self) -> Status {
        Status::from_u8(self.status.load(Ordering::Acquire))
    }

    /// Makes a popped node reusable (owner only, node not queued).
    #[inline]
    pub(crate) fn reset(&self) {
        debug_assert_ne!(self.status(), Status::Queued, "reset of a queued waiter");
        // Relaxed: nobody else reads an unqueued node's status.
        self.status.store(Status::Idle as u8, Ordering::Relaxed);
    }

    fn set_status(&self, s: Status) {
        // Release: pairs with the Acquire load in `status` (module docs).
        self.status.store(s as u8, Ordering::Release);
    }
}

/// A waiter popped by a releaser: wake `waker` after unlocking.
pub(crate) struct Popped {
    pub(crate) waker: Waker,
    /// When it started waiting, if its owner said.
    pub(crate) since: Option<Instant>,
}

/// A FIFO of waiters (Go: the `sudog` list of one `semaRoot` address).
/// Protected by its [`Sema`]'s lock.
pub(crate) struct Queue {
    head: *const Waiter,
    tail: *const Waiter,
    len: usize,
    next_ticket: u64,
}

// SAFETY: the queue is only reachable through its `Sema`'s lock, and the
// nodes it points to are `Send + Sync`.
unsafe impl Send for Queue {}

impl Queue {
    const fn new() -> Self {
        Queue {
            head: ptr::null(),
            tail: ptr::null(),
            len: 0,
            next_ticket: 0,
        }
    }

    /// Number of queued waiters.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// True if nobody waits.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The ticket the next pushed waiter will get: [`Queue::drain`] with this
    /// bound leaves alone every waiter that arrives after now.
    #[inline]
    pub(crate) fn next_ticket(&self) -> u64 {
        self.next_ticket
    }

    /// Queues `node` at `end` with its `data` word, start time and `waker`,
    /// and marks it `Queued`.
    ///
    /// # Safety
    ///
    /// The caller holds this queue's lock; `node` is pinned, alive, not
    /// queued, and stays alive until it is removed by [`Queue::remove`] or
    /// popped.
    pub(crate) unsafe fn push(
        &mut self,
        node: &Waiter,
        end: End,
        data: u64,
        since: Option<Instant>,
        waker: &Waker,
    ) {
        debug_assert_ne!(node.status(), Status::Queued, "waiter queued twice");
        let ticket = self.next_ticket;
        self.next_ticket += 1;
        let p: *const Waiter = node;
        let (prev, next) = match end {
            End::Back => (self.tail, ptr::null()),
            End::Front => (ptr::null(), self.head),
        };
        let links = Links {
            prev,
            next,
            waker: Some(goro_hook::clone_waker(waker)),
            ticket,
            data,
            since,
        };
        // SAFETY: the node's links are ours under the lock. It is not queued,
        // so they hold nothing (never written, or moved out by `unlink`):
        // overwriting them drops nothing.
        node.links.with_mut(|l| unsafe { (*l).write(links) });
        if prev.is_null() {
            self.head = p;
        } else {
            // SAFETY: queued nodes are alive (invariant); we hold the lock.
            unsafe { (*prev).links.with_mut(|l| (*l).assume_init_mut().next = p) };
        }
        if next.is_null() {
            self.tail = p;
        } else {
            // SAFETY: as above.
            unsafe { (*next).links.with_mut(|l| (*l).assume_init_mut().prev = p) };
        }
        self.len += 1;
        // Relaxed: the owner itself wrote it, under the lock every reader of
        // a `Queued` node takes.
        node.status.store(Status::Queued as u8, Ordering::Relaxed);
    }

    /// Replaces a queued node's waker (a re-poll with another waker).
    ///
    /// # Safety
    ///
    /// The caller holds this queue's lock and `node` is queued here.
    pub(crate) unsafe fn set_waker(&mut self, node: &Waiter, waker: &Waker) {
        node.links.with_mut(|l| {
            // SAFETY: the links are ours under the lock, and initialized:
            // the node is queued.
            let w = unsafe { &mut (*l).assume_init_mut().waker };
            match w {
                Some(w) if w.will_wake(waker) => {}
                w => *w = Some(goro_hook::clone_waker(waker)),
            }
        });
    }

    /// Unlinks `node` (which must be queued here) without waking it.
    ///
    /// # Safety
    ///
    /// The caller holds this queue's lock and `node` is queued in it.
    unsafe fn unlink(&mut self, node: *const Waiter) -> Links {
        // SAFETY: the node is queued here, hence alive; we hold the lock.
        unsafe {
            // Queued nodes' links are initialized (see `Links`).
            let (prev, next) = (*node).links.with(|l| {
                let l = (*l).assume_init_ref();
                (l.prev, l.next)
            });
            if prev.is_null() {
                self.head = next;
            } else {
                (*prev)
                    .links
                    .with_mut(|l| (*l).assume_init_mut().next = next);
            }
            if next.is_null() {
                self.tail = prev;
            } else {
                (*next)
                    .links
                    .with_mut(|l| (*l).assume_init_mut().prev = prev);
            }
            self.len -= 1;
            // Moved out: the links are uninitialized again, as the node is
            // no longer queued.
            (*node).links.with_mut(|l| (*l).assume_init_read())
        }
    }

    /// Removes `node` if it is still queued (its owner gives up) and returns
    /// its status: `Idle` if it was removed (nothing was given to it), else
    /// the `Woken`/`Handed` a releaser set.
    ///
    /// # Safety
    ///
    /// The caller holds this queue's lock and `node` is alive and either
    /// queued here or not queued at all.
    pub(crate) unsafe fn remove(&mut self, node: &Waiter) -> Status {
        match node.status() {
            Status::Queued => {
                // SAFETY: queued here (caller contract), lock held.
                drop(unsafe { self.unlink(node) });
                node.reset_after_remove();
                Status::Idle
            }
            s => s,
        }
    }

    /// Pops the first waiter and gives it status `to` (`Woken` or `Handed`).
    pub(crate) fn pop_front(&mut self, to: Status) -> Option<Popped> {
        debug_assert!(matches!(to, Status::Woken | Status::Handed));
        if self.head.is_null() {
            return None;
        }
        let node = self.head;
        // SAFETY: head is queued here and we hold the lock.
        let links = unsafe { self.unlink(node) };
        // SAFETY: the node stays alive until its status leaves `Queued`; this
        // store is our last access to it.
        unsafe { (*node).set_status(to) };
        Some(Popped {
            waker: links.waker.expect("a queued waiter has a waker"),
            since: links.since,
        })
    }

    /// Pops, in queue order, the waiters pushed before ticket `before` that
    /// `pick` takes, giving each status `to` and moving its waker to `wl`.
    /// Stops at the first [`Pick::Stop`], or when `wl` is full.
    ///
    /// `pick` must make every state change that a `Take` implies (adding a
    /// reader, the held weight...) itself: the status store that follows
    /// publishes the grant, and the woken owner may act on it at once.
    ///
    /// Returns true if it stopped because `wl` was full: wake `wl` after
    /// unlocking, then call again (with the same bound) to go on.
    pub(crate) fn drain(
        &mut self,
        before: u64,
        to: Status,
        wl: &mut WakeList,
        mut pick: impl FnMut(u64) -> Pick,
    ) -> bool {
        debug_assert!(matches!(to, Status::Woken | Status::Handed));
        let mut cur = self.head;
        while !cur.is_null() {
            // SAFETY: `cur` is queued here, hence alive; we hold the lock.
            let (next, ticket, data) = unsafe {
                (*cur).links.with(|l| {
                    let l = (*l).assume_init_ref();
                    (l.next, l.ticket, l.data)
                })
            };
            if ticket >= before {
                // Arrived after the drain began (or re-queued at the front
                // since): not ours to wake.
                cur = next;
                continue;
            }
            if wl.is_full() {
                // Checked before `pick`, which may commit state for a Take.
                return true;
            }
            match pick(data) {
                Pick::Stop => break,
                Pick::Skip => {}
                Pick::Take => {
                    // SAFETY: queued here, lock held.
                    let links = unsafe { self.unlink(cur) };
                    // SAFETY: last access to the node (module invariants).
                    unsafe { (*cur).set_status(to) };
                    wl.push(links.waker.expect("a queued waiter has a waker"));
                }
            }
            cur = next;
        }
        false
    }
}

impl Waiter {
    fn reset_after_remove(&self) {
        // Relaxed: the owner removed its own node under the lock.
        self.status.store(Status::Idle as u8, Ordering::Relaxed);
    }
}

// No `Drop` assertion for `Queue`: every future removes its node when it is
// dropped, but a leaked future (`mem::forget` of a boxed, pinned one, which is
// safe) leaves its node linked in leaked memory; dropping the queue does not
// touch it.

/// A lock guarding a waiter queue and the primitive's state `S`.
pub(crate) struct Sema<S> {
    inner: Mutex<Locked<S>>,
}

/// What [`Sema::lock`] gives access to.
pub(crate) struct Locked<S> {
    /// The waiters.
    pub(crate) queue: Queue,
    /// The primitive's state that changes together with its queue.
    pub(crate) state: S,
}

/// The locked queue and state.
pub(crate) type SemaGuard<'a, S> = MutexGuard<'a, Locked<S>>;

impl<S> Sema<S> {
    /// An empty queue with state `state`.
    pub(crate) fn new(state: S) -> Self {
        Sema {
            inner: Mutex::new(Locked {
                queue: Queue::new(),
                state,
            }),
        }
    }

    /// Takes the queue lock.
    #[inline]
    pub(crate) fn lock(&self) -> SemaGuard<'_, S> {
        loom::lock(&self.inner)
    }

    /// A re-poll of a node that was `Queued`: refreshes its waker under the
    /// lock if it still is, and returns its status.
    pub(crate) fn poll_queued(&self, node: &Waiter, waker: &Waker) -> Status {
        let mut g = self.lock();
        let s = node.status();
        if s == Status::Queued {
            // SAFETY: lock held, node queued here.
            unsafe { g.queue.set_waker(node, waker) };
        }
        s
    }

    /// The owner gives up waiting: removes `node` if it is still queued
    /// (then runs `removed` under the lock) and returns its status: `Idle` if
    /// nothing was given to it, else `Woken`/`Handed`, which the caller must
    /// pass on. The node is reset to `Idle` either way.
    ///
    /// # Safety
    ///
    /// `node` is alive and either not queued or queued in this `Sema`.
    #[inline]
    pub(crate) unsafe fn cancel(
        &self,
        node: &Waiter,
        removed: impl FnOnce(&mut Locked<S>),
    ) -> Status {
        // The common case, a future that never waited (or took what it was
        // handed), costs one load here.
        match node.status() {
            Status::Idle => Status::Idle,
            // SAFETY: by the caller's contract.
            s => unsafe { self.cancel_slow(node, s, removed) },
        }
    }

    /// [`Sema::cancel`] of a node that was queued, woken or handed (`s`).
    ///
    /// # Safety
    ///
    /// As [`Sema::cancel`].
    #[inline(never)]
    unsafe fn cancel_slow(
        &self,
        node: &Waiter,
        s: Status,
        removed: impl FnOnce(&mut Locked<S>),
    ) -> Status {
        let s = if s == Status::Queued {
            let mut g = self.lock();
            // SAFETY: lock held; node alive, queued here or not at all.
            let s = unsafe { g.queue.remove(node) };
            if s == Status::Idle {
                removed(&mut g);
            }
            s
        } else {
            s
        };
        node.reset();
        s
    }
}

/// Up to [`WakeList::CAP`] wakers collected under a lock, woken after it.
pub(crate) struct WakeList {
    wakers: [Option<Waker>; WakeList::CAP],
    len: usize,
}

impl WakeList {
    /// Batch size: wakers taken per lock hold (tokio's `WakeList` uses 32 too).
    pub(crate) const CAP: usize = 32;

    /// An empty list (on the stack: no allocation).
    pub(crate) fn new() -> Self {
        WakeList {
            wakers: [const { None }; WakeList::CAP],
            len: 0,
        }
    }

    fn is_full(&self) -> bool {
        self.len == Self::CAP
    }

    /// Adds one waker (the list must not be full).
    pub(crate) fn push(&mut self, w: Waker) {
        self.wakers[self.len] = Some(w);
        self.len += 1;
    }

    /// Wakes and forgets every collected waker. Call with no lock held.
    pub(crate) fn wake_all(&mut self) {
        for w in &mut self.wakers[..self.len] {
            if let Some(w) = w.take() {
                w.wake();
            }
        }
        self.len = 0;
    }
}

impl Drop for WakeList {
    fn drop(&mut self) {
        self.wake_all();
    }
}

/// Wakes, in batches, every waiter pushed before now that `pick` takes,
/// giving each status `to`; `pick` sees the primitive's state and the
/// waiter's data word. Locks and unlocks `sema` itself.
pub(crate) fn release_batch<S>(sema: &Sema<S>, to: Status, pick: impl FnMut(&mut S, u64) -> Pick) {
    release_batch_locked(sema, sema.lock(), to, pick)
}

/// [`release_batch`] starting under a lock the caller already holds: "now"
/// is the moment that lock was taken, so a state change made under it and
/// the set of waiters released belong together.
pub(crate) fn release_batch_locked<'a, S>(
    sema: &'a Sema<S>,
    mut g: SemaGuard<'a, S>,
    to: Status,
    mut pick: impl FnMut(&mut S, u64) -> Pick,
) {
    let mut wl = WakeList::new();
    let before = g.queue.next_ticket();
    loop {
        let Locked { queue, state } = &mut *g;
        let more = queue.drain(before, to, &mut wl, |d| pick(state, d));
        drop(g);
        wl.wake_all();
        if !more {
            return;
        }
        g = sema.lock();
    }
}

#[cfg(all(test, not(goro_loom)))]
mod tests {
    use super::*;
    use std::pin::pin;
    use std::task::Waker;

    #[test]
    fn fifo_push_pop_and_remove() {
        let sema = Sema::new(());
        let a = pin!(Waiter::new());
        let b = pin!(Waiter::new());
        let c = pin!(Waiter::new());
        let w = Waker::noop();
        let mut g = sema.lock();
        // SAFETY: lock held; the pinned nodes outlive their time in the queue.
        unsafe {
            g.queue.push(&a, End::Back, 1, None, w);
            g.queue.push(&b, End::Back, 2, None, w);
            g.queue.push(&c, End::Front, 3, None, w);
        }
        assert_eq!(g.queue.len(), 3);
        // SAFETY: lock held; `b` is queued here.
        assert_eq!(unsafe { g.queue.remove(&b) }, Status::Idle);
        assert_eq!(b.status(), Status::Idle);
        assert!(g.queue.pop_front(Status::Handed).is_some());
        assert_eq!(c.status(), Status::Handed, "the front push goes first");
        assert_eq!(a.status(), Status::Queued);
        assert!(g.queue.pop_front(Status::Woken).is_some());
        assert_eq!(a.status(), Status::Woken);
        assert!(g.queue.pop_front(Status::Woken).is_none());
        // SAFETY: lock held; `a` is not queued.
        assert_eq!(unsafe { g.queue.remove(&a) }, Status::Woken);
        a.reset();
        c.reset();
        let size = std::mem::size_of::<Waiter>();
        assert!(size <= 96, "waiter node grew to {size} bytes");
    }

    #[test]
    fn drain_respects_ticket_bound_pick_and_batches() {
        let sema = Sema::new(0u64);
        let nodes: Vec<_> = (0..40).map(|_| Box::pin(Waiter::new())).collect();
        let w = Waker::noop();
        let mut g = sema.lock();
        for (i, n) in nodes.iter().enumerate() {
            // SAFETY: lock held; boxed pinned nodes outlive the queue use.
            unsafe { g.queue.push(n, End::Back, i as u64, None, w) };
        }
        let late = Box::pin(Waiter::new());
        // SAFETY: as above.
        unsafe { g.queue.push(&late, End::Back, 99, None, w) };
        drop(g);
        // Take the even ones: 20 of them, all before the bound.
        release_batch(&sema, Status::Handed, |_, d| {
            if d % 2 == 0 {
                Pick::Take
            } else {
                Pick::Skip
            }
        });
        for (i, n) in nodes.iter().enumerate() {
            let want = if i % 2 == 0 {
                Status::Handed
            } else {
                Status::Queued
            };
            assert_eq!(n.status(), want, "node {i}");
        }
        assert_eq!(late.status(), Status::Queued);
        // 21 left, `late` included: one more batch takes them all.
        release_batch(&sema, Status::Woken, |_, _| Pick::Take);
        assert!(nodes.iter().all(|n| n.status() != Status::Queued));
        assert_eq!(late.status(), Status::Woken);
        assert!(sema.lock().queue.is_empty());
    }
}
