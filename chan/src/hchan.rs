//! The channel object: one lock guarding two FIFO waiter queues, and a
//! lock-free ring buffer that the lock takes over whenever anyone waits.
//!
//! Go: `runtime.hchan` and `chansend`, `chanrecv`, `closechan` in
//! `runtime/chan.go`.
//!
//! # Design
//!
//! All operations take the channel lock, look at the state, and either finish
//! at once or leave a [`Waiter`] in `sendq`/`recvq`. A sender that finds a
//! queued receiver hands the value straight into the receiver's slot (Go's
//! direct `send`); a receiver that finds a queued sender on a full buffer takes
//! the head of the buffer and moves the sender's value to its tail (Go's
//! `recv`), which keeps blocked senders FIFO behind the buffered values. A
//! counterpart completes a queued waiter only after winning the claim on its
//! selection cell ([`crate::cell`]), so the same queues serve `select`.
//!
//! ## Lock-free fast path (buffered channels)
//!
//! The buffer is a bounded lock-free ring ([`crate::ring`]). While no
//! goroutine waits on the channel, it is open, and nothing was given back,
//! a send pushes and a receive pops without the lock (`LazyOp::poll_op`,
//! `try_send`, `try_recv`, streams), so producer and consumer touch only the
//! ring's two ends and its slots, not one lock word per message. The lock
//! keeps everything else: waiter queues, hand-off, close, give-back.
//!
//! The hand-shake is the ring's *marks* (one bit in `tail` diverts
//! lock-free pushes to the lock, one in `head` lock-free pops):
//!
//! - every critical section that decides on the buffer first *freezes* the
//!   ring (marks both ends with `fetch_or`, then owns it; `State::frozen`),
//!   so no lock-free operation can slip between "the buffer is empty/full"
//!   and queuing a waiter. Before that, an operation under the lock first
//!   tries the ring's lock-free path if the ring is not frozen
//!   (`Hchan::push_unfrozen`, `Hchan::pop_unfrozen`): an unmarked end means
//!   nobody waits on that side, so if it succeeds there is nothing to
//!   decide, and the ring is never marked for it (a mark diverts the other
//!   workers' concurrent lock-free operations to this lock);
//! - at unlock (`Locked`'s drop) the marks are set to what the state needs
//!   (`State::marks`): the tail stays marked while receivers, senders or
//!   stream watchers wait, after close, and while `front` holds given-back
//!   values; the head while senders wait (a receive must move the first
//!   one's value into the ring: Go's `recv`, keeping blocked senders FIFO
//!   behind the buffered values) or `front` holds values. Otherwise both
//!   are cleared and the fast path resumes;
//! - `select` (via [`Hchan::with_state_locked`]) releases the raw lock
//!   itself, so it leaves the ring frozen; the next `Hchan::lock` user thaws it.
//!
//! So every Go rule holds as under the lock: a parked receiver gets the
//! next value by hand-off (pushes are diverted while it waits), blocked
//! senders stay FIFO behind the buffer, a send after close never lands,
//! and "closed and drained" is decided under the lock.
//!
//! A value handed to a receiver whose future is dropped before it saw the
//! value (cancelled at the instant of handoff) is given back by
//! [`Hchan::give_back`]: to the next live queued receiver, or else to the
//! *front* of the buffer (`State::front`, ahead of the ring), where the next
//! receive takes it first. This may
//! make the buffer transiently hold more than `cap` values (even on an
//! unbuffered channel); `len` then reports them. The one exception: if a
//! receive has already reported the channel closed and drained, the value is
//! dropped with the cancelled receive. The send completed before close, as
//! in Go (the handoff is what completes it); resurrecting the value would
//! make a closed channel yield a value after a receiver saw it closed and
//! drained. Otherwise no value is ever lost.
//!
//! # Invariants
//!
//! - If `recvq` holds a live waiter, the buffer is empty; if `sendq` holds a
//!   live waiter, the buffer is full (`len >= cap`). ("Live": its cell is
//!   still waiting; decided waiters are skipped lazily.) For unbuffered
//!   channels this is Go's "at least one of sendq and recvq is empty".
//! - Once `closed` is set, both queues are emptied and nothing is queued again.
//! - `watchq` holds wake-only watchers (parked `Receiver` streams): no value
//!   ever moves through them. A watcher is queued only after its receive
//!   found nothing; whenever a critical section leaves a receive possible
//!   (a buffered value, a blocked sender whose cell is still `WAITING`,
//!   closed) with watchers queued, the
//!   party that unlocks wakes them all ([`Hchan::wake_watchers`]).
//!   `recv_waiting` does not count watchers: a non-blocking send to an
//!   unbuffered channel whose only receiver is a parked stream fails, and a
//!   blocking one parks, wakes the stream, and is received by its next poll.
//! - A select that re-polls its own cases while its cell is abandoned
//!   ([`crate::cell::polling`]) is never matched with itself: what acts on
//!   a channel on its behalf skips its waiters in place, so it never wakes
//!   itself through its own cases (issue 14).
//! - `drained_seen` is set only by a receive that reports "closed and
//!   drained" under the lock, never on behalf of a waiter that may still be
//!   cancelled (a receive completed by `close` decides when it is polled:
//!   [`Hchan::recv_closed_outcome`]).
//! - `front_len` mirrors `front.len()`; it is written only under the lock.
//! - While `recvq`, `sendq` or `watchq` holds a node, or `closed`, or
//!   `front` holds a value, the ring's tail is marked; while `sendq` or
//!   `front` holds one, its head is marked (set by the freeze that preceded
//!   the queuing, kept by every unlock).
//!
//! # Locking
//!
//! `lock` protects `state`. While it is held no user code runs: values are
//! moved, never dropped, and wakers are collected and woken after unlocking.
//! Several channel locks (a `select`) are taken in address order.
//!
//! # Memory ordering
//!
//! Everything in `state` is ordered by the lock; the ring's slots by their
//! stamps, its marks by SeqCst read-modify-writes ([`crate::ring`]). The
//! mirrors are stored with
//! Release at the end of each critical section (except a select's look
//! that found nothing, which may leave a waiting mirror stale `true`:
//! [`Hchan::ready_locked_raw`]) and loaded with Acquire by
//! the lock-free fast-fail checks, whose linearizability argument is Go's
//! (see [`Hchan::recv_would_block`], [`Hchan::send_would_block`]). `len()` is
//! a racy snapshot, as in Go.

use std::collections::VecDeque;
use std::panic::Location;
use std::task::Waker;

use crate::error::{TryRecvError, TrySendError};
use crate::loom::{lock, AtomicBool, AtomicUsize, Mutex, MutexGuard, Ordering, UnsafeCell};
use crate::ring::{Ring, TryPop, TryPush};
use crate::waiter::{WaitQueue, Waiter};

/// Maximum number of wakers collected under the lock before it is released to
/// wake them (close, or stream watchers, with many waiters): bounds stack use
/// without allocating.
const WAKE_BATCH: usize = 32;

/// Shared state of one channel (Go: `hchan`).
pub(crate) struct Hchan<T> {
    /// Protects `state`.
    lock: Mutex<()>,
    /// Protected by `lock`.
    state: UnsafeCell<State<T>>,
    /// The buffer of a buffered channel (`None` when unbuffered): lock-free
    /// while its ends are unmarked, the lock holder's once frozen (see
    /// [`crate::ring`] and "Lock-free fast path" above).
    ring: Option<Ring<T>>,
    /// Mirror of `state.front.len()`; written under `lock` (see `publish`).
    front_len: AtomicUsize,
    /// Mirror of `state.closed`; written under `lock`.
    closed: AtomicBool,
    /// Mirror of "`recvq` is not empty"; written under `lock`.
    recv_waiting: AtomicBool,
    /// Mirror of "`sendq` is not empty"; written under `lock`.
    send_waiting: AtomicBool,
    /// "`watchq` has watchers to wake" ([`State::watchers_need_wake`]);
    /// written under `lock`, acted on after unlocking ([`Hchan::wake_watchers`]).
    watch_wake: AtomicBool,
    /// Buffer capacity; set once.
    cap: usize,
    /// Where `make` was called; set once.
    made_at: &'static Location<'static>,
    /// What the runtime may read about this channel while it lives (handle
    /// count, last handle dropped); see `goro_hook::RecordSlot`.
    pub(crate) record: goro_hook::RecordSlot,
}

// SAFETY: `state` is only accessed under `lock`; values of `T` move between
// threads through it, hence `T: Send`.
unsafe impl<T: Send> Send for Hchan<T> {}
// SAFETY: as above; shared access is serialised by `lock`.
unsafe impl<T: Send> Sync for Hchan<T> {}

// A panic never leaves the state half-updated: no user code runs under the
// lock and the lock ignores poisoning, so observing a channel after a caught
// panic (Go's `recover`) is fine.
impl<T> std::panic::RefUnwindSafe for Hchan<T> {}
impl<T> std::panic::UnwindSafe for Hchan<T> {}

/// The lock-protected part of a channel.
pub(crate) struct State<T> {
    /// Values given back by cancelled receives ([`Hchan::give_back`]),
    /// received before the ring's: the front of the buffer (Go: `buf`,
    /// `sendx`, `recvx`, `qcount` are this and [`Hchan::ring`]). Empty
    /// almost always; allocates only when used.
    pub(crate) front: VecDeque<T>,
    /// The ring is frozen ([`Ring::freeze`]): both ends marked by a holder
    /// of the lock and not cleared since, so the lock holder owns it.
    pub(crate) frozen: bool,
    /// Go: `closed`.
    pub(crate) closed: bool,
    /// Blocked senders (Go: `sendq`).
    pub(crate) sendq: WaitQueue<T>,
    /// Blocked receivers (Go: `recvq`).
    pub(crate) recvq: WaitQueue<T>,
    /// Some receive has reported "closed and drained" (`None`/`Closed`); set
    /// under the lock, read by [`Hchan::give_back`].
    pub(crate) drained_seen: bool,
    /// Wake-only watchers: parked `Receiver` streams. A counterpart never
    /// hands a value to (or claims a send from) a watcher; watchers are woken
    /// when a receive could succeed and then receive by themselves.
    pub(crate) watchq: WaitQueue<T>,
}

impl<T> State<T> {
    /// True when a parked watcher must be woken: a receive could succeed now
    /// (a buffered value, a blocked sender that is still waiting, or closed).
    ///
    /// A sender whose cell is not `WAITING` does not count: a select that is
    /// re-polling its future cases keeps its abandoned waiters queued
    /// ([`crate::cell::polling`]), and its own stream case, which skipped
    /// them, must not be woken by them (issue 14). Walking `sendq` costs
    /// only while watchers are parked.
    ///
    /// `ring_len` is the ring's length now: while watchers are queued its
    /// tail is marked, so the ring only grows under the lock, and a racy
    /// snapshot errs only towards a spurious wake-up.
    fn watchers_need_wake(&self, ring_len: impl FnOnce() -> usize) -> bool {
        // SAFETY: `State` is only reachable under the channel lock.
        !self.watchq.is_empty()
            && (!self.front.is_empty()
                || self.closed
                || ring_len() > 0
                || unsafe { self.sendq.has_live() })
    }

    /// The marks the ring's ends must carry after this critical section:
    /// `(push, pop)`. Lock-free pushes are off while anyone waits (a parked
    /// receiver needs the hand-off, blocked senders their FIFO place, parked
    /// streams a wake-up), after close, and while given-back values sit in
    /// `front`; lock-free pops while senders wait (a receive moves the first
    /// one's value into the ring) or `front` holds values.
    fn marks(&self) -> (bool, bool) {
        let busy = !self.sendq.is_empty() || !self.front.is_empty();
        let push = busy || self.closed || !self.recvq.is_empty() || !self.watchq.is_empty();
        (push, busy)
    }
}

/// The direction of a channel operation (Go: `scase.c` with the case's
/// kind): which queue its waiter joins and what moves through its slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dir {
    /// `ch <- v`: the slot holds the value until a receiver takes it.
    Send,
    /// `<-ch`: the slot receives the value.
    Recv,
}

impl<T> State<T> {
    /// The waiter queue of direction `dir` (`sendq` or `recvq`).
    #[inline]
    pub(crate) fn queue(&mut self, dir: Dir) -> &mut WaitQueue<T> {
        match dir {
            Dir::Send => &mut self.sendq,
            Dir::Recv => &mut self.recvq,
        }
    }
}

/// Result of an operation of either direction attempted under the lock
/// ([`Hchan::ready_locked`]). Every waker is woken after unlocking.
pub(crate) enum Now<T> {
    /// A send completed.
    Sent(Option<Waker>),
    /// A receive took a value.
    Received(T, Option<Waker>),
    /// The channel is closed (and, for a receive, drained); a send's value
    /// comes back.
    Closed(Option<T>),
    /// The operation must wait; a send's value comes back.
    WouldBlock(Option<T>),
}

/// Result of a send attempted under the lock.
pub(crate) enum SendNow<T> {
    /// Sent; wake this waker (if any) after unlocking.
    Sent(Option<Waker>),
    /// The channel is closed; the value comes back.
    Closed(T),
    /// No receiver and no room; the value comes back.
    WouldBlock(T),
}

/// Result of a receive attempted under the lock.
pub(crate) enum RecvNow<T> {
    /// Received a value; wake this waker (if any) after unlocking.
    Value(T, Option<Waker>),
    /// Closed and drained.
    Closed,
    /// Nothing to receive yet.
    WouldBlock,
}

/// A held channel lock with access to the state. Dropping it publishes the
/// mirrors, unlocks, and then wakes the stream watchers if a receive became
/// possible ([`Hchan::wake_watchers`]).
pub(crate) struct Locked<'a, T> {
    chan: &'a Hchan<T>,
    guard: Option<MutexGuard<'a, ()>>,
}

impl<T> Drop for Locked<'_, T> {
    fn drop(&mut self) {
        self.chan.state.with_mut(|st| {
            // SAFETY: we hold the lock; no other `&mut State` is alive (`&mut self`).
            self.chan.publish(unsafe { &mut *st }, true)
        });
        drop(self.guard.take());
        self.chan.wake_watchers();
    }
}

impl<T> Locked<'_, T> {
    /// The state; valid while the lock is held.
    pub(crate) fn state(&mut self) -> &mut State<T> {
        // SAFETY: we hold `lock`, and `&mut self` makes this the only access.
        self.chan.state.with_mut(|s| unsafe { &mut *s })
    }
}

impl<T> Hchan<T> {
    /// A new open channel with capacity `cap` made at `made_at`.
    pub(crate) fn new(cap: usize, made_at: &'static Location<'static>) -> Self {
        Hchan {
            lock: Mutex::new(()),
            state: UnsafeCell::new(State {
                front: VecDeque::new(),
                frozen: false,
                closed: false,
                sendq: WaitQueue::new(),
                recvq: WaitQueue::new(),
                watchq: WaitQueue::new(),
                drained_seen: false,
            }),
            ring: (cap > 0).then(|| Ring::new(cap)),
            front_len: AtomicUsize::new(0),
            closed: AtomicBool::new(false),
            recv_waiting: AtomicBool::new(false),
            send_waiting: AtomicBool::new(false),
            watch_wake: AtomicBool::new(false),
            cap,
            made_at,
            record: goro_hook::RecordSlot::new(),
        }
    }

    /// Locks the channel.
    #[inline]
    pub(crate) fn lock(&self) -> Locked<'_, T> {
        Locked {
            chan: self,
            guard: Some(lock(&self.lock)),
        }
    }

    /// The raw lock, for `select`'s lock-all in address order.
    pub(crate) fn raw_lock(&self) -> &Mutex<()> {
        &self.lock
    }

    /// Accesses the state while the caller holds the lock some other way.
    ///
    /// # Safety
    ///
    /// The caller holds `self.raw_lock()` and no other reference to the state
    /// is alive for the duration of `f`.
    ///
    /// The ring is frozen first and stays frozen after `f` (its marks are
    /// never cleared here): the caller may decide on the buffer in one call
    /// and queue a waiter in a later one under the same lock, and it
    /// releases the raw lock without telling the channel. The next
    /// operation through [`Hchan::lock`] clears the marks.
    pub(crate) unsafe fn with_state_locked<R>(&self, f: impl FnOnce(&mut State<T>) -> R) -> R {
        // SAFETY: by the caller's contract.
        let r = self.state.with_mut(|s| {
            // SAFETY: by the caller's contract.
            let st = unsafe { &mut *s };
            self.freeze(st);
            f(st)
        });
        // SAFETY: still under the caller's lock; the `&mut` above has ended.
        self.state
            .with_mut(|s| self.publish(unsafe { &mut *s }, false));
        r
    }

    /// Whether the channel has a buffer (a ring for the lock-free fast path).
    #[inline]
    pub(crate) fn is_buffered(&self) -> bool {
        self.ring.is_some()
    }

    /// [`Hchan::ready_locked`] while the caller holds the lock some other
    /// way (`select`'s lock-all, as [`Hchan::with_state_locked`]), publishing
    /// the mirrors only if the operation completed.
    ///
    /// A select looks at every channel case under all its locks before it
    /// queues any waiter, so most of these calls find nothing; such a call
    /// changes no mirrored state except by dropping decided waiters from a
    /// queue, which leaves `recv_waiting`/`send_waiting` at most stale
    /// `true` until the next critical section of the channel publishes (the
    /// select's enqueue, or anyone's unlock). A stale `true` only sends a
    /// lock-free fast-fail to the lock, which decides exactly. The ring
    /// stays frozen, as after [`Hchan::with_state_locked`].
    ///
    /// # Safety
    ///
    /// As [`Hchan::with_state_locked`].
    pub(crate) unsafe fn ready_locked_raw(&self, dir: Dir, v: Option<T>) -> Now<T> {
        let now = self.state.with_mut(|s| {
            // SAFETY: by the caller's contract.
            let st = unsafe { &mut *s };
            self.freeze(st);
            self.ready_locked(st, dir, v)
        });
        if !matches!(now, Now::WouldBlock(_)) {
            // SAFETY: still under the caller's lock; the `&mut` above has ended.
            self.state
                .with_mut(|s| self.publish(unsafe { &mut *s }, false));
        }
        now
    }

    /// Buffer capacity.
    pub(crate) fn cap(&self) -> usize {
        self.cap
    }

    /// Buffered values now (a snapshot).
    pub(crate) fn len(&self) -> usize {
        // Relaxed: a racy snapshot, as Go's `len(ch)`; no data is read through it.
        self.front_len.load(Ordering::Relaxed) + self.ring_len_snapshot()
    }

    /// Where the channel was made.
    pub(crate) fn made_at(&self) -> &'static Location<'static> {
        self.made_at
    }

    /// Identity: the address of the shared state.
    pub(crate) fn id(&self) -> usize {
        self as *const Self as usize
    }

    /// Publishes the lock-free mirrors of `st` and the ring's marks; called
    /// under the lock at the end of every critical section (`Locked::drop`
    /// and `wake_watchers_slow` with `unlocking`, `with_state_locked`
    /// without).
    ///
    /// Marks: when `unlocking`, the ring's ends get exactly the marks the
    /// state needs ([`State::marks`]) and a frozen ring thaws; otherwise
    /// marks are only added. A mark the state needs was set, at the latest,
    /// by the freeze that preceded the decision to queue a waiter (every
    /// decision on the buffer freezes first), so no lock-free operation
    /// slipped in between the decision and the waiter's queuing.
    ///
    /// Release: pairs with the Acquire loads in `recv_would_block` and
    /// `send_would_block`; all stores of one critical section become visible
    /// together with everything before it, including an earlier `closed`.
    #[inline]
    fn publish(&self, st: &mut State<T>, unlocking: bool) {
        if let Some(ring) = &self.ring {
            let (push, pop) = st.marks();
            if unlocking {
                // SAFETY: we hold the lock.
                unsafe { ring.set_marks(push, pop, true) };
                st.frozen = false;
            } else if !st.frozen {
                // SAFETY: we hold the lock.
                unsafe { ring.set_marks(push, pop, false) };
            }
        }
        self.front_len.store(st.front.len(), Ordering::Release);
        self.recv_waiting
            .store(!st.recvq.is_empty(), Ordering::Release);
        self.send_waiting
            .store(!st.sendq.is_empty(), Ordering::Release);
        let need_wake = st.watchers_need_wake(|| self.ring_len_snapshot());
        self.watch_wake.store(need_wake, Ordering::Relaxed);
        if st.closed {
            self.closed.store(true, Ordering::Release);
        }
    }

    /// The ring's length now (a racy snapshot; 0 when unbuffered).
    fn ring_len_snapshot(&self) -> usize {
        self.ring.as_ref().map_or(0, Ring::len)
    }

    /// Freezes the ring (if any) for the rest of this critical section: the
    /// lock holder owns the buffer until `publish` thaws it.
    #[inline]
    fn freeze(&self, st: &mut State<T>) {
        if let (Some(ring), false) = (&self.ring, st.frozen) {
            // SAFETY: we hold the lock (the caller has `st`).
            unsafe { ring.freeze() };
            st.frozen = true;
        }
    }

    /// Buffered values, under the lock (freezes the ring).
    #[inline]
    fn buf_len(&self, st: &mut State<T>) -> usize {
        self.freeze(st);
        // SAFETY: we hold the lock and the ring is frozen.
        st.front.len() + self.ring.as_ref().map_or(0, |r| unsafe { r.frozen_len() })
    }

    /// Under the lock, before anything decided on the buffer: pushes `v`
    /// through the ring's lock-free path if the ring is not frozen and its
    /// tail unmarked (then nobody waits and `front` is empty, as of the last
    /// unlock, and this critical section has queued nobody since). Gives `v`
    /// back if the ring is frozen, marked or full: the caller then freezes
    /// and decides.
    ///
    /// A send that needs no waiter thus never marks the ring: marking it
    /// diverted every concurrent lock-free operation of the other workers
    /// to this lock, which then froze the ring again (a cascade measured on
    /// `mpmc_go_w2`: 5-8 % of all operations took the lock).
    #[inline]
    fn push_unfrozen(&self, st: &State<T>, v: T) -> Result<(), T> {
        match &self.ring {
            Some(r) if !st.frozen => match r.try_push(v) {
                TryPush::Pushed => Ok(()),
                TryPush::Full(v) | TryPush::Marked(v) => Err(v),
            },
            _ => Err(v),
        }
    }

    /// The receive side of [`Hchan::push_unfrozen`]: pops through the
    /// lock-free path if the ring is not frozen and its head unmarked (then
    /// no sender waits and `front` is empty), else `None` and the caller
    /// freezes and decides.
    #[inline]
    fn pop_unfrozen(&self, st: &State<T>) -> Option<T> {
        match &self.ring {
            Some(r) if !st.frozen => match r.try_pop() {
                TryPop::Popped(v) => Some(v),
                TryPop::Empty | TryPop::Marked => None,
            },
            _ => None,
        }
    }

    /// Takes the oldest buffered value, under the lock (freezes the ring).
    #[inline]
    fn buf_pop(&self, st: &mut State<T>) -> Option<T> {
        if let Some(v) = st.front.pop_front() {
            return Some(v);
        }
        self.freeze(st);
        // SAFETY: we hold the lock and the ring is frozen.
        self.ring.as_ref().and_then(|r| unsafe { r.frozen_pop() })
    }

    /// Appends `v` to the buffer, under the lock; the caller saw
    /// `buf_len(st) < cap` (so there is a ring with room).
    #[inline]
    fn buf_push(&self, st: &mut State<T>, v: T) {
        debug_assert!(st.frozen && self.buf_len(st) < self.cap);
        match &self.ring {
            // SAFETY: we hold the lock, the ring is frozen (by `buf_len`)
            // and has room (caller contract).
            Some(r) => unsafe { r.frozen_push(v) },
            None => unreachable!("a buffered value on an unbuffered channel"),
        }
    }

    /// Lock-free send into the ring (buffered channels): `Ok` if `v` is
    /// buffered; otherwise `v` comes back with `true` if the ring was full
    /// while no goroutine waited and the channel was open (so a
    /// non-blocking send may fail without the lock, by Go's argument in
    /// [`Hchan::send_would_block`]), `false` if the lock must decide.
    #[inline]
    pub(crate) fn try_push(&self, v: T) -> Result<(), (T, bool)> {
        match &self.ring {
            Some(r) => match r.try_push(v) {
                TryPush::Pushed => Ok(()),
                TryPush::Full(v) => Err((v, true)),
                TryPush::Marked(v) => Err((v, false)),
            },
            None => Err((v, false)),
        }
    }

    /// Lock-free receive from the ring (buffered channels): `Ok(v)`, or
    /// `Err(true)` if the ring was empty while `head` was unmarked (no
    /// sender waited, nothing given back), `Err(false)` if the lock must
    /// decide. An empty ring says nothing about `closed`.
    #[inline]
    pub(crate) fn try_pop(&self) -> Result<T, bool> {
        match &self.ring {
            Some(r) => match r.try_pop() {
                TryPop::Popped(v) => Ok(v),
                TryPop::Empty => Err(true),
                TryPop::Marked => Err(false),
            },
            None => Err(false),
        }
    }

    /// Go's `empty(c)`: nothing to receive right now.
    #[inline]
    ///
    /// Buffered: the ring's `looks_empty` (an unmarked head means no sender
    /// waits and `front` is empty).
    fn looks_empty(&self) -> bool {
        // Acquire: pairs with the Release stores in `publish`.
        match &self.ring {
            None => {
                !self.send_waiting.load(Ordering::Acquire)
                    && self.front_len.load(Ordering::Acquire) == 0
            }
            Some(r) => r.looks_empty() == Some(true),
        }
    }

    /// Go's `full(c)`: no room and no receiver right now.
    #[inline]
    ///
    /// Buffered: the ring's `looks_full` (an unmarked tail means nobody
    /// waits and `front` is empty).
    fn looks_full(&self) -> bool {
        // Acquire: pairs with the Release stores in `publish`.
        match &self.ring {
            None => !self.recv_waiting.load(Ordering::Acquire),
            Some(r) => r.looks_full() == Some(true),
        }
    }

    /// Lock-free fast-fail for a non-blocking receive (Go's `chanrecv` with
    /// `block == false`): true when the channel is open and empty now, so a
    /// receive would certainly get nothing; false when the locked path must
    /// decide.
    ///
    /// Correctness (Go's argument): `empty` is observed before `closed`. If
    /// the channel is then seen open, there was a moment (at the first load)
    /// when it was empty and open, since a channel never reopens.
    ///
    /// Unlike Go, "closed and drained" is not answered lock-free: a receive
    /// that reports it must record that under the lock (`drained_seen`), so
    /// that [`Hchan::give_back`] never puts a value back after it.
    #[inline]
    pub(crate) fn recv_would_block(&self) -> bool {
        // Acquire: pairs with the Release store in `publish`.
        self.looks_empty() && !self.closed.load(Ordering::Acquire)
    }

    /// Lock-free fast-fail for a non-blocking send (Go's `chansend` with
    /// `block == false`): true when a send would certainly block now.
    ///
    /// Correctness (Go's argument): `closed` is observed before `full`; a
    /// channel that is not ready for sending stays so when it is closed, so
    /// there was a moment when it was both open and full.
    #[inline]
    pub(crate) fn send_would_block(&self) -> bool {
        // Acquire: pairs with the Release store in `publish`.
        !self.closed.load(Ordering::Acquire) && self.looks_full()
    }

    /// Go's `chansend` fast part, under the lock: hand `v` to a queued
    /// receiver, else buffer it, else report why not.
    pub(crate) fn send_locked(&self, st: &mut State<T>, v: T) -> SendNow<T> {
        if st.closed {
            return SendNow::Closed(v);
        }
        // SAFETY: we hold the lock (the caller has `st`) and finish the claim below.
        if let Some(mut c) = unsafe { st.recvq.claim_front() } {
            c.with_slot(|slot| *slot = Some(v));
            return SendNow::Sent(c.finish());
        }
        let v = match self.push_unfrozen(st, v) {
            Ok(()) => return SendNow::Sent(None),
            Err(v) => v,
        };
        if self.buf_len(st) < self.cap {
            self.buf_push(st, v);
            return SendNow::Sent(None);
        }
        SendNow::WouldBlock(v)
    }

    /// The ready path of an operation of direction `dir` under the lock
    /// (Go's `chansend`/`chanrecv` before they enqueue): `v` is the value to
    /// send (`None` for a receive).
    #[inline]
    pub(crate) fn ready_locked(&self, st: &mut State<T>, dir: Dir, v: Option<T>) -> Now<T> {
        match (dir, v) {
            (Dir::Send, Some(v)) => match self.send_locked(st, v) {
                SendNow::Sent(w) => Now::Sent(w),
                SendNow::Closed(v) => Now::Closed(Some(v)),
                SendNow::WouldBlock(v) => Now::WouldBlock(Some(v)),
            },
            (Dir::Send, None) => unreachable!("a send without a value"),
            (Dir::Recv, _) => match self.recv_locked(st) {
                RecvNow::Value(v, w) => Now::Received(v, w),
                RecvNow::Closed => Now::Closed(None),
                RecvNow::WouldBlock => Now::WouldBlock(None),
            },
        }
    }

    /// Whether an operation of direction `dir` could complete now, under the
    /// lock (Go's `!full(c)`/`!empty(c)` or closed), counting only queued
    /// counterparts whose cell is still `WAITING`. For a select re-checking
    /// its own waiters that were skipped in place.
    pub(crate) fn ready_for_locked(&self, st: &mut State<T>, dir: Dir) -> bool {
        // SAFETY (both blocks): `st` is only reachable under the channel lock.
        st.closed
            || match dir {
                // SAFETY: see above.
                Dir::Send => self.buf_len(st) < self.cap || unsafe { st.recvq.has_live() },
                // SAFETY: see above.
                Dir::Recv => self.buf_len(st) > 0 || unsafe { st.sendq.has_live() },
            }
    }

    /// Go's `chanrecv` fast part, under the lock.
    pub(crate) fn recv_locked(&self, st: &mut State<T>) -> RecvNow<T> {
        if let Some(v) = self.pop_unfrozen(st) {
            return RecvNow::Value(v, None);
        }
        if let Some(v) = self.buf_pop(st) {
            let mut wake = None;
            if self.buf_len(st) < self.cap {
                // A sender blocked on the full buffer moves its value to the tail.
                // SAFETY: we hold the lock and finish the claim below.
                if let Some(mut c) = unsafe { st.sendq.claim_front() } {
                    if let Some(sv) = c.with_slot(Option::take) {
                        self.buf_push(st, sv);
                    }
                    wake = c.finish();
                }
            }
            return RecvNow::Value(v, wake);
        }
        // Empty buffer: only an unbuffered channel queues senders here.
        // SAFETY: we hold the lock and finish the claim below.
        if let Some(mut c) = unsafe { st.sendq.claim_front() } {
            let v = c.with_slot(Option::take);
            let wake = c.finish();
            match v {
                Some(v) => return RecvNow::Value(v, wake),
                None => unreachable!("queued sender without a value"),
            }
        }
        if st.closed {
            st.drained_seen = true;
            return RecvNow::Closed;
        }
        RecvNow::WouldBlock
    }

    /// Go's `closechan`. Panics "close of closed channel".
    pub(crate) fn close(&self) {
        let mut wakers: [Option<Waker>; WAKE_BATCH] = [const { None }; WAKE_BATCH];
        let mut first = true;
        loop {
            let mut n = 0;
            {
                let mut g = self.lock();
                let st = g.state();
                if first {
                    if st.closed {
                        drop(g);
                        panic!("close of closed channel");
                    }
                    st.closed = true;
                    first = false;
                    // Lock-free pushes stop here (the tail stays marked).
                    self.freeze(st);
                }
                while n < WAKE_BATCH {
                    // Receivers get "closed" (their slot stays empty); senders keep
                    // their value and panic when they see it. `drained_seen` is
                    // not set on a claimed receiver's behalf: it may be cancelled
                    // before it reports anything (issue 14); it re-checks under
                    // the lock when it does ([`Hchan::recv_closed_outcome`]).
                    // Every waiter is unlinked, a polling select's own included.
                    // SAFETY: we hold the lock and finish each claim at once.
                    let r = unsafe { st.recvq.claim_front_closing() };
                    // SAFETY: as above.
                    let c = r.or_else(|| unsafe { st.sendq.claim_front_closing() });
                    match c {
                        Some(c) => {
                            wakers[n] = c.finish();
                            n += 1;
                        }
                        None => break,
                    }
                }
            }
            for w in wakers.iter_mut().take(n) {
                if let Some(w) = w.take() {
                    w.wake();
                }
            }
            if n < WAKE_BATCH {
                return;
            }
        }
    }

    /// Go's `selectnbsend`: a send that never waits. The lock-free
    /// fast-fail first ([`Hchan::send_would_block`]), then the locked part;
    /// a receiver it completes is woken after unlocking.
    ///
    /// One of the two non-blocking operations (with [`Hchan::try_recv`])
    /// behind `Chan::try_send` and `select!`'s ready pass: a send case
    /// commits iff this returns `Ok` or `Closed` (which the select turns
    /// into Go's panic).
    #[inline]
    pub(crate) fn try_send(&self, v: T) -> Result<(), TrySendError<T>> {
        // Buffered: the lock-free ring first; full while nobody waited and
        // the channel was open is a failure without the lock (Go's argument,
        // as `send_would_block`).
        let v = match self.try_push(v) {
            Ok(()) => return Ok(()),
            Err((v, true)) => return Err(TrySendError::Full(v)),
            Err((v, false)) => v,
        };
        if self.send_would_block() {
            return Err(TrySendError::Full(v));
        }
        let mut g = self.lock();
        match self.send_locked(g.state(), v) {
            SendNow::Sent(w) => {
                drop(g);
                if let Some(w) = w {
                    w.wake();
                }
                Ok(())
            }
            SendNow::Closed(v) => Err(TrySendError::Closed(v)),
            SendNow::WouldBlock(v) => Err(TrySendError::Full(v)),
        }
    }

    /// Go's `selectnbrecv`: a receive that never waits. An open, empty
    /// channel fails lock-free ([`Hchan::recv_would_block`]); otherwise the
    /// locked part ([`Hchan::recv_now`]). A receive case of `select!`
    /// commits iff this returns `Ok` or `Closed`.
    #[inline]
    pub(crate) fn try_recv(&self) -> Result<T, TryRecvError> {
        // Buffered: the lock-free ring first. Empty while no sender waited:
        // Go's argument (empty observed before closed) answers "empty" if
        // the channel is still open.
        match self.try_pop() {
            Ok(v) => return Ok(v),
            Err(true) if !self.is_closed() => return Err(TryRecvError::Empty),
            Err(_) => {}
        }
        if self.recv_would_block() {
            return Err(TryRecvError::Empty);
        }
        self.recv_now()
    }

    /// A receive attempted now under the lock (`try_recv`'s locked part);
    /// a sender it completes is woken after unlocking.
    pub(crate) fn recv_now(&self) -> Result<T, TryRecvError> {
        let mut g = self.lock();
        match self.recv_locked(g.state()) {
            RecvNow::Value(v, w) => {
                drop(g);
                if let Some(w) = w {
                    w.wake();
                }
                Ok(v)
            }
            RecvNow::Closed => Err(TryRecvError::Closed),
            RecvNow::WouldBlock => Err(TryRecvError::Empty),
        }
    }

    /// The outcome of a receive that was completed by `close` (its slot
    /// stayed empty), decided now under the lock: a value given back to the
    /// buffer meanwhile by a cancelled receive ([`Hchan::give_back`]) is
    /// received first; otherwise the receive reports "closed and drained",
    /// recorded as `drained_seen`. Close never records that on a receiver's
    /// behalf, since the receiver may be cancelled before it reports.
    #[cold]
    pub(crate) fn recv_closed_outcome(&self) -> Option<T> {
        match self.recv_now() {
            Ok(v) => Some(v),
            Err(TryRecvError::Closed) => None,
            Err(TryRecvError::Empty) => unreachable!("a closed channel never blocks a receive"),
        }
    }

    /// Whether the channel is closed.
    pub(crate) fn is_closed(&self) -> bool {
        // Acquire: pairs with the Release store in `publish`.
        self.closed.load(Ordering::Acquire)
    }

    /// Returns a value that was handed to a receiver cancelled at the instant
    /// of handoff: to the next live queued receiver, else to the buffer front;
    /// but once a receive has reported the channel closed and drained, the
    /// value is dropped (after unlocking), with the cancelled receive.
    ///
    /// Go: the handoff to a parked receiver completes the send, before any
    /// later `close`; the value is that receive's. Giving it back is a
    /// courtesy that must stay invisible: "closed and drained", once some
    /// receive reported it, is final. Putting the value back then would make
    /// a closed channel yield a value after `Closed`. So the send counts as
    /// completed before close, as in Go, and the value is dropped with the
    /// cancelled receive. Until a receive has reported it (`drained_seen`;
    /// every such report is made under the lock), the value goes back to the
    /// front as usual: it is received before `Closed` and nothing is lost.
    pub(crate) fn give_back(&self, v: T) {
        let (wake, dropped) = {
            let mut g = self.lock();
            let st = g.state();
            // SAFETY: we hold the lock and finish the claim at once.
            match unsafe { st.recvq.claim_front() } {
                Some(mut c) => {
                    c.with_slot(|slot| *slot = Some(v));
                    (c.finish(), None)
                }
                None if st.closed && st.drained_seen && self.buf_len(st) == 0 => (None, Some(v)),
                None => {
                    // Freeze: `front` is ahead of the ring, so both ends stay
                    // marked while it holds values (`State::marks`).
                    self.freeze(st);
                    st.front.push_front(v);
                    (None, None)
                }
            }
        };
        if let Some(w) = wake {
            w.wake();
        }
        // User code (the value's `Drop`) runs outside the lock.
        drop(dropped);
    }

    /// Wakes every parked stream watcher if the last critical section left a
    /// receive possible. Called after unlocking by whoever changed the state:
    /// `Locked`'s drop, and the select engine after releasing its locks
    /// (`SelectCase::__after_unlock`).
    ///
    /// No lost wake-up: every critical section stores the flag. If a later
    /// one cleared it, then at that moment either the watchers were already
    /// taken (by another waker) or nothing could be received any more, and
    /// the next change sets it again. Relaxed: the flag only decides whether
    /// to take the lock, under which everything is re-read.
    ///
    /// This runs after every unlock, so the common case (no watcher to wake)
    /// is one inlined load; the batch of wakers lives in the cold path.
    #[inline]
    pub(crate) fn wake_watchers(&self) {
        if self.watch_wake.load(Ordering::Relaxed) {
            self.wake_watchers_slow();
        }
    }

    /// [`Hchan::wake_watchers`] once the flag was seen set: wake, and repeat
    /// while the flag is still set.
    #[cold]
    #[inline(never)]
    fn wake_watchers_slow(&self) {
        let mut wakers: [Option<Waker>; WAKE_BATCH] = [const { None }; WAKE_BATCH];
        loop {
            let mut n = 0;
            {
                let g = lock(&self.lock);
                self.state.with_mut(|s| {
                    // SAFETY: we hold the lock; no other reference to the state.
                    let st = unsafe { &mut *s };
                    while n < WAKE_BATCH && st.watchers_need_wake(|| self.ring_len_snapshot()) {
                        // SAFETY: we hold the lock and finish each claim at once.
                        match unsafe { st.watchq.claim_front() } {
                            Some(c) => {
                                wakers[n] = c.finish();
                                n += 1;
                            }
                            None => break,
                        }
                    }
                });
                // SAFETY: still under the lock; the `&mut` above has ended.
                self.state
                    .with_mut(|s| self.publish(unsafe { &mut *s }, true));
                drop(g);
            }
            for w in wakers.iter_mut().take(n) {
                if let Some(w) = w.take() {
                    w.wake();
                }
            }
            if !self.watch_wake.load(Ordering::Relaxed) {
                return;
            }
        }
    }

    /// Unlinks `node` from the queue of direction `dir` if it is queued.
    ///
    /// # Safety
    ///
    /// `node` is alive and, if queued, queued on this channel's queue of
    /// direction `dir`.
    pub(crate) unsafe fn unlink(&self, node: &Waiter<T>, dir: Dir) {
        let mut g = self.lock();
        // SAFETY: we hold the lock; contract forwarded from the caller.
        unsafe { g.state().queue(dir).remove(node) };
    }
}

// No `Drop` for `Hchan`: buffered values are dropped with the VecDeque. The
// queues are normally empty when the last handle goes (every pending
// operation borrows a handle), but a parked operation or select that was
// leaked (`mem::forget`, which is safe) leaves its node queued. That node
// lives in leaked memory and is never dereferenced again (the queues are
// dropped without walking them), so it is not asserted against (the
// assertion used to abort the process while unwinding).
