//! One blocking channel operation of either direction ([`Dir`]): the state
//! machine shared by the `Send` and `Recv` futures ([`LazyOp::poll_op`], the
//! one ready path) and by `Receiver`'s `Stream` implementation (which uses
//! it as a wake-only watcher: [`Op::poll_watch`]).
//!
//! Go: the blocking tail of `chansend`/`chanrecv` (acquire a `sudog`, enqueue,
//! `gopark`, then check `mysg.success`).
//!
//! # Design
//!
//! An [`Op`] is a one-case selection: it owns a [`SelCell`] and one [`Waiter`]
//! pointing to it, both inside the pinned future, so blocking allocates
//! nothing. The commit point is the counterpart's claim of the cell (see
//! [`crate::cell`]):
//!
//! - a send dropped while its cell is still `WAITING` abandons it: nothing was
//!   delivered to anyone, and the value is dropped with the future. Once a
//!   receiver has claimed it, the value is delivered and the send counts as done;
//! - a receive dropped while `WAITING` abandons it and takes nothing. If a
//!   sender had already handed it a value, the drop gives the value back to
//!   the channel ([`Hchan::give_back`]), so no value is lost; unless the
//!   channel has been closed and a receive has reported it drained meanwhile:
//!   then the send completed before close, as in Go, and the value is dropped
//!   with the receive.
//!
//! ## Lazy waiting state ([`LazyOp`])
//!
//! Most operations complete at once (a buffered value, room in the buffer, a
//! parked counterpart), so the `Send`/`Recv` futures do not build the ~100
//! bytes of waiting state (cell, waiter node) up front; building and moving
//! it on every operation was the largest cost of buffered channel traffic.
//! They hold a [`LazyOp`]:
//!
//! ```text
//!  Init(value) ──first poll: lock; ready? ──yes──► done (Init(None)), unlock
//!                                       │
//!                                       no: still under the same lock,
//!                                       build Op in place, queue it
//!                                       ▼
//!                               Built(Op: Waiting) ──DONE──► Built(Op: Idle)
//! ```
//!
//! The outcome is read from the slot, as Go reads `sudog.elem` and
//! `success`: a send whose slot was emptied was received, one whose value is
//! still there was woken by close; a receive whose slot holds a value got
//! it, one with an empty slot was completed by close ([`Outcome`]).
//!
//! One lock acquisition either way: the ready path and, if it must wait, the
//! building and queuing of the waiter happen in the same critical section
//! (Go's `chansend`/`chanrecv` also enqueue their `sudog` under the lock that
//! found the channel not ready). The `Op` is written into the pinned future
//! and never moved afterwards; `Init` holds no pinned data.
//!
//! # Invariants
//!
//! - `phase == Waiting` iff the waiter was queued and the outcome not yet
//!   consumed by the owner; only then may a counterpart touch the node or cell.
//! - The owner touches the slot only when the waiter is not queued and the
//!   cell is not `CLAIMED` (it waits for `DONE` by taking the channel lock).
//! - A [`LazyOp`] in `Init` was never queued: no counterpart knows it, so
//!   dropping it needs no lock (a value still to send is dropped unsent).
//!   It becomes `Built` only under the channel lock, in place in the pinned
//!   future, immediately followed by queuing; `Built` is structurally pinned
//!   and never replaced or moved until the future is dropped (whose `Drop`
//!   cancels it).

use std::marker::PhantomPinned;
use std::panic::Location;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use goro_hook::{self as hook, ObjectDetail, WaitObject, WaitReason};

use crate::cell::{CellState, SelCell};
use crate::hchan::{Dir, Hchan, Locked, Now, RecvNow};
use crate::waiter::Waiter;

/// Where an [`Op`] is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Not started (or finished and reset, for a reusable stream op).
    Idle,
    /// Queued on the channel; the outcome is decided by the cell.
    Waiting,
}

/// How a completed send or receive ended.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Outcome<T> {
    /// A receiver took the sent value (or it was buffered).
    Sent,
    /// The receive got a value.
    Received(T),
    /// The channel is closed: a send panics, a receive reports `None`.
    Closed,
}

impl Dir {
    /// What a goroutine parked in an operation of this direction waits for.
    fn wait_reason(self) -> WaitReason {
        match self {
            Dir::Send => WaitReason::ChanSend,
            Dir::Recv => WaitReason::ChanReceive,
        }
    }
}

/// The outcome of an operation of direction `dir` that a counterpart (or
/// `close`) completed, read from its waiter's slot after `DONE` (Go reads
/// `sudog.elem` and `success`). A send's value still there (woken by close)
/// is dropped here; a receive completed by close decides under the lock
/// ([`Hchan::recv_closed_outcome`]).
pub(crate) fn outcome_from_slot<T>(chan: &Hchan<T>, dir: Dir, slot: Option<T>) -> Outcome<T> {
    match (dir, slot) {
        (Dir::Send, None) => Outcome::Sent,
        (Dir::Send, Some(_)) => Outcome::Closed,
        (Dir::Recv, Some(v)) => Outcome::Received(v),
        (Dir::Recv, None) => match chan.recv_closed_outcome() {
            Some(v) => Outcome::Received(v),
            None => Outcome::Closed,
        },
    }
}

/// Settles an operation of direction `dir` that was completed by a
/// counterpart but is cancelled before its owner saw the outcome (`slot`,
/// read after `DONE`): a received value goes back to the channel
/// ([`Hchan::give_back`]); a send stays sent, and a value a close left in a
/// send's slot is dropped.
pub(crate) fn give_back_cancelled<T>(chan: &Hchan<T>, dir: Dir, slot: Option<T>) {
    if let (Dir::Recv, Some(v)) = (dir, slot) {
        chan.give_back(v);
    }
}

/// A pending channel operation (see the module docs).
pub(crate) struct Op<T> {
    /// Owner-private; not structurally pinned.
    phase: Phase,
    /// The selection cell of this one-case selection.
    cell: SelCell,
    /// The waiter queued on the channel; its slot holds the value to send.
    node: Waiter<T>,
    _pin: PhantomPinned,
}

/// A send or receive polled on a nil channel: parks forever (out of line:
/// the futures' polls are inlined into their callers).
#[cold]
#[inline(never)]
pub(crate) fn nil_park<R>(reason: WaitReason, at: &'static Location<'static>) -> Poll<R> {
    hook::note_park(reason, at, None);
    Poll::Pending
}

/// Where an operation runs: the user's call site and the address of the
/// handle it goes through (noted when it parks, for the executor's proof of
/// "parked forever"; see `hook::note_chan_park`).
#[derive(Clone, Copy)]
pub(crate) struct Site {
    /// The user's call site.
    pub(crate) at: &'static Location<'static>,
    /// Address of the handle (`Chan`) the operation goes through.
    pub(crate) handle: usize,
}

impl Site {
    /// The operation parks on `chan` for `reason`: tells the executor.
    #[inline]
    fn note_park<T>(self, chan: &Hchan<T>, reason: WaitReason) {
        hook::note_chan_park(
            reason,
            self.at,
            wait_object(chan),
            self.handle,
            chan.record.key(),
        );
    }
}

/// The snapshot of a channel for the goroutine registry (taken at park
/// time only: reading `closed` costs the send/receive path nothing).
pub(crate) fn wait_object<T>(chan: &Hchan<T>) -> WaitObject {
    WaitObject {
        id: chan.id(),
        made_at: Some(chan.made_at()),
        detail: ObjectDetail::chan(chan.cap(), chan.len(), chan.is_closed()),
    }
}

impl<T> Op<T> {
    /// A new idle operation; `value` is the value to send (None for a receive).
    pub(crate) fn new(value: Option<T>) -> Self {
        Op {
            phase: Phase::Idle,
            cell: SelCell::new(),
            node: Waiter::new(value),
            _pin: PhantomPinned,
        }
    }

    /// True while queued on a channel.
    pub(crate) fn is_waiting(&self) -> bool {
        self.phase == Phase::Waiting
    }

    /// Takes the value to send back out of an idle op (used when a `Send`
    /// future becomes a select case before it was polled).
    pub(crate) fn into_value(self) -> Option<T> {
        debug_assert_eq!(self.phase, Phase::Idle);
        // SAFETY: the op was never queued, so the slot is ours.
        unsafe { self.node.take_slot() }
    }

    /// Queues this idle op, holding `v` (the value to send, or `None`), as
    /// the only waiter of a one-case selection on the queue of direction
    /// `dir` of the channel whose lock `g` is, with `waker`, and moves it to
    /// `Waiting`. Returns the replaced waker, to be dropped after unlocking.
    ///
    /// # Safety
    ///
    /// The op is idle (its node is not queued on any channel), and the caller
    /// found under this same lock acquisition that the operation must wait
    /// (so the queue invariants of `src/hchan.rs` hold after queuing). The
    /// owner of the pinned op unlinks it (`cancel`) before it is dropped.
    #[must_use]
    unsafe fn enqueue_locked(
        self: Pin<&mut Self>,
        g: &mut Locked<'_, T>,
        v: Option<T>,
        waker: &Waker,
        dir: Dir,
    ) -> Option<Waker> {
        debug_assert_eq!(self.phase, Phase::Idle);
        // SAFETY: the node is not queued (caller contract), so the slot and
        // the cell are ours; `self` is pinned, so node and cell stay put
        // while queued, and the owner unlinks them before they are dropped.
        unsafe {
            self.node.put_slot(v);
            let old = self.cell.reset(waker);
            g.state().queue(dir).push_back(&self.node, &self.cell, 0);
            self.get_unchecked_mut().phase = Phase::Waiting;
            old
        }
    }

    /// Waits for the cell to leave `WAITING`; then reads the outcome from
    /// the slot (see the module docs) and goes back to idle.
    fn poll_outcome(
        self: Pin<&mut Self>,
        chan: &Hchan<T>,
        cx: &mut Context<'_>,
        dir: Dir,
        site: Site,
    ) -> Poll<Outcome<T>> {
        loop {
            match self.cell.state() {
                CellState::Done(_) => break,
                CellState::Claimed(_) => {
                    // The claimer holds the lock until DONE (cell invariant).
                    drop(chan.lock());
                }
                CellState::Waiting => {
                    let g = chan.lock();
                    if self.cell.state() == CellState::Waiting {
                        // SAFETY: we hold the lock of the only channel the
                        // waiter is queued on, and saw WAITING under it.
                        let old = unsafe { self.cell.update_waker(cx.waker()) };
                        drop(g);
                        drop(old);
                        site.note_park(chan, dir.wait_reason());
                        return Poll::Pending;
                    }
                }
                CellState::Abandoned => unreachable!("owner polled an abandoned op"),
            }
        }
        // SAFETY: `phase` is not structurally pinned.
        let this = unsafe { self.get_unchecked_mut() };
        this.phase = Phase::Idle;
        // SAFETY: DONE observed: the slot is ours again.
        let slot = unsafe { this.node.take_slot() };
        Poll::Ready(outcome_from_slot(chan, dir, slot))
    }

    /// Polls a stream receive (`Receiver`'s `poll_next`) as a wake-only
    /// watcher: the value is taken here, under the lock, never handed to the
    /// parked op. If the `next()` future that polled it is dropped, nothing
    /// was taken and the parked watcher only costs a spurious wake-up.
    pub(crate) fn poll_watch(
        mut self: Pin<&mut Self>,
        chan: &Hchan<T>,
        cx: &mut Context<'_>,
        site: Site,
    ) -> Poll<Option<T>> {
        if self.phase == Phase::Idle {
            if hook::poll_budget(cx).is_pending() {
                return Poll::Pending;
            }
            // Not parked: the lock-free fast path of a buffered channel.
            if let Ok(v) = chan.try_pop() {
                return Poll::Ready(Some(v));
            }
        }
        let mut g = chan.lock();
        let old = self.as_mut().unwatch_locked(&mut g);
        match chan.recv_locked(g.state()) {
            RecvNow::Value(v, w) => {
                drop(g);
                drop(old);
                if let Some(w) = w {
                    w.wake();
                }
                Poll::Ready(Some(v))
            }
            RecvNow::Closed => {
                drop(g);
                drop(old);
                Poll::Ready(None)
            }
            RecvNow::WouldBlock => {
                // SAFETY: the node is not queued, so the cell is ours; `self`
                // is pinned, so node and cell stay put while queued, and the
                // owner's `Drop` calls `cancel_watch`.
                let older = unsafe {
                    let older = self.cell.reset(cx.waker());
                    g.state().watchq.push_back(&self.node, &self.cell, 0);
                    self.as_mut().get_unchecked_mut().phase = Phase::Waiting;
                    older
                };
                drop(g);
                drop((old, older));
                site.note_park(chan, WaitReason::ChanReceive);
                Poll::Pending
            }
        }
    }

    /// Takes a parked watcher (`poll_watch`) off the channel's `watchq`
    /// under the lock `g` and makes it idle; returns its waker, to be
    /// dropped after unlocking. Nothing moves through a watcher, so there is
    /// nothing to give back.
    fn unwatch_locked(self: Pin<&mut Self>, g: &mut Locked<'_, T>) -> Option<Waker> {
        if self.phase != Phase::Waiting {
            return None;
        }
        // Under the lock the cell is WAITING or DONE: a claimer holds this
        // channel's lock (the only one the watcher is queued on) from its
        // claim to DONE.
        if self.cell.try_abandon() {
            // SAFETY: we hold the lock; the node is alive and at most
            // queued on this channel's watchq.
            unsafe { g.state().watchq.remove(&self.node) };
        }
        // SAFETY: the node is unlinked (by us or by the claimer, which is
        // done with it); nobody else sees the cell. `phase` is not
        // structurally pinned.
        unsafe {
            let this = self.get_unchecked_mut();
            this.phase = Phase::Idle;
            this.cell.clear_waker()
        }
    }

    /// Cancels a parked watcher (`poll_watch`).
    pub(crate) fn cancel_watch(self: Pin<&mut Self>, chan: &Hchan<T>) {
        if self.phase != Phase::Waiting {
            return;
        }
        let old = self.unwatch_locked(&mut chan.lock());
        drop(old);
    }

    /// Cancels a pending operation of direction `dir` (the owner is being
    /// dropped). For a receive, a value already handed over is given back
    /// to the channel.
    ///
    /// Every completed `Send`/`Recv` future that once waited comes here when
    /// dropped, idle: that check is inlined into the drop, the cancellation
    /// itself ([`Op::cancel_waiting`]) is not.
    #[inline]
    fn cancel(self: Pin<&mut Self>, chan: &Hchan<T>, dir: Dir) {
        if self.phase == Phase::Waiting {
            self.cancel_waiting(chan, dir);
        }
    }

    /// [`Op::cancel`] of an op that is still `Waiting`.
    #[inline(never)]
    fn cancel_waiting(self: Pin<&mut Self>, chan: &Hchan<T>, dir: Dir) {
        debug_assert_eq!(self.phase, Phase::Waiting);
        let this: &Self = &self;
        if this.cell.try_abandon() {
            // Nobody can claim the node any more; unlink it if no skipping
            // counterpart did already.
            // SAFETY: the node is alive and only ever queued on `chan`'s queue
            // of this direction.
            unsafe { chan.unlink(&this.node, dir) };
            // SAFETY: the node is unlinked: nobody else sees the cell.
            drop(unsafe { this.cell.clear_waker() });
        } else {
            // Claimed or done: wait for DONE (the claimer holds the lock until then).
            if matches!(this.cell.state(), CellState::Claimed(_)) {
                drop(chan.lock());
            }
            // SAFETY: DONE: the slot is ours again.
            give_back_cancelled(chan, dir, unsafe { this.node.take_slot() });
        }
        // SAFETY: `phase` is not structurally pinned.
        unsafe { self.get_unchecked_mut().phase = Phase::Idle };
    }
}

/// The state of a `Send`/`Recv` future: the waiting state ([`Op`]) is built
/// only when the operation must wait (see the module docs).
pub(crate) enum LazyOp<T> {
    /// No waiter was ever queued: the value still to send (`None` for a
    /// receive, or for a send that completed without waiting). Not
    /// structurally pinned: the value is moved out on the first poll.
    Init(Option<T>),
    /// The operation had to wait: the full waiting state, built in place in
    /// the pinned future under the channel lock that found it must wait.
    /// Structurally pinned; never moved or overwritten until dropped.
    Built(Op<T>),
}

impl<T> LazyOp<T> {
    /// True while queued on a channel.
    pub(crate) fn is_waiting(&self) -> bool {
        match self {
            LazyOp::Init(_) => false,
            LazyOp::Built(op) => op.is_waiting(),
        }
    }

    /// The value still to send, if the operation never waited (for `Send`
    /// becoming a select case before it was polled).
    pub(crate) fn into_value(self) -> Option<T> {
        match self {
            LazyOp::Init(v) => v,
            LazyOp::Built(op) => op.into_value(),
        }
    }

    /// The built op, pinned.
    fn built(self: Pin<&mut Self>) -> Option<Pin<&mut Op<T>>> {
        // SAFETY: `Built` is structurally pinned; nothing is moved here.
        match unsafe { self.get_unchecked_mut() } {
            LazyOp::Init(_) => None,
            // SAFETY: as above.
            LazyOp::Built(op) => Some(unsafe { Pin::new_unchecked(op) }),
        }
    }

    /// The op to queue: an `Init` is replaced by an idle waiting state,
    /// built in place.
    ///
    /// # Safety
    ///
    /// `self` is `Init` or an idle `Built`, and the caller queues the op
    /// at once under the channel lock that found it must wait (so no value
    /// is pending in `Init`); the owner cancels the built op (`cancel`)
    /// before it is dropped.
    unsafe fn build(self: Pin<&mut Self>) -> Pin<&mut Op<T>> {
        // SAFETY: `Init` is not structurally pinned (it holds at most an
        // unpinned `None` now), so overwriting it in place is allowed; from
        // here on `Built` stays at this pinned address until the owner drops
        // it. A `Built` is not moved.
        let this = unsafe { self.get_unchecked_mut() };
        if let LazyOp::Init(_) = this {
            *this = LazyOp::Built(Op::new(None));
        }
        match this {
            // SAFETY: as above.
            LazyOp::Built(op) => unsafe { Pin::new_unchecked(op) },
            LazyOp::Init(_) => unreachable!("built above"),
        }
    }

    /// Polls a send (`dir == Send`) or a receive: the one ready path. The
    /// first poll (and a poll after completion) runs the operation under
    /// the lock and, only if it must wait, builds and queues the waiting
    /// state under that same lock; a queued operation waits for its cell.
    ///
    /// Inlined into the futures' polls is only the lock-free fast path of a
    /// buffered channel whose ring end is unmarked (nobody waits; see
    /// `src/ring.rs`); the rest is [`LazyOp::poll_slow`] (the fast path
    /// paid that function's register saves and restores: a fifth of a
    /// buffered send's instructions). Unbuffered operations pay a little
    /// for it: 0.8 % more instructions in unbuffered ping-pong (a
    /// non-inlined fast path kept that at 0.3 % but gave back most of the
    /// buffered gain; BENCHMARKS.md).
    ///
    /// Panics "`Send` polled after completion" for a send without a value.
    #[inline(always)]
    pub(crate) fn poll_op(
        mut self: Pin<&mut Self>,
        chan: &Hchan<T>,
        cx: &mut Context<'_>,
        dir: Dir,
        site: Site,
    ) -> Poll<Outcome<T>> {
        // An unbuffered channel has no ring: straight to the lock, without
        // moving the value out of the future and back.
        if !chan.is_buffered() {
            return self.poll_slow(chan, cx, dir, site);
        }
        // SAFETY: `Init` is not structurally pinned; nothing pinned moves.
        let LazyOp::Init(slot) = (unsafe { self.as_mut().get_unchecked_mut() }) else {
            return self.poll_slow(chan, cx, dir, site);
        };
        if hook::poll_budget(cx).is_pending() {
            return Poll::Pending;
        }
        match (dir, slot.take()) {
            (Dir::Send, Some(v)) => match chan.try_push(v) {
                Ok(()) => return Poll::Ready(Outcome::Sent),
                Err((v, _)) => *slot = Some(v),
            },
            (Dir::Recv, _) => {
                if let Ok(v) = chan.try_pop() {
                    return Poll::Ready(Outcome::Received(v));
                }
            }
            (Dir::Send, None) => {}
        }
        self.poll_after_ring(chan, cx, dir, site)
    }

    /// [`LazyOp::poll_locked`] after the ring's fast path failed. Its own
    /// function, with `poll_locked` inlined into it and into `poll_slow`,
    /// so that neither the futures' polls nor an unbuffered operation pay
    /// for the lock path's frame twice (`poll_slow` calling `poll_locked`
    /// out of line instead cost unbuffered ping-pong 3.5 % more
    /// instructions).
    #[inline(never)]
    fn poll_after_ring(
        self: Pin<&mut Self>,
        chan: &Hchan<T>,
        cx: &mut Context<'_>,
        dir: Dir,
        site: Site,
    ) -> Poll<Outcome<T>> {
        self.poll_locked(chan, cx, dir, site)
    }

    /// [`LazyOp::poll_op`] of an unbuffered channel or a built op: a
    /// queued op waits for its cell; otherwise the ready path under the
    /// lock.
    #[inline(never)]
    fn poll_slow(
        mut self: Pin<&mut Self>,
        chan: &Hchan<T>,
        cx: &mut Context<'_>,
        dir: Dir,
        site: Site,
    ) -> Poll<Outcome<T>> {
        if let Some(op) = self.as_mut().built() {
            if op.is_waiting() {
                return op.poll_outcome(chan, cx, dir, site);
            }
        }
        if hook::poll_budget(cx).is_pending() {
            return Poll::Pending;
        }
        self.poll_locked(chan, cx, dir, site)
    }

    /// The ready path under the lock (the budget already charged): runs
    /// the operation, or builds and queues the waiting state under that
    /// same lock. Inlined into its two callers, so that an unbuffered
    /// operation makes one call, as before the fast path was split off.
    #[inline(always)]
    fn poll_locked(
        mut self: Pin<&mut Self>,
        chan: &Hchan<T>,
        cx: &mut Context<'_>,
        dir: Dir,
        site: Site,
    ) -> Poll<Outcome<T>> {
        let mut g = chan.lock();
        // SAFETY: not queued: `Init`'s value is not structurally pinned, and
        // an idle op's slot is the owner's.
        let v = match unsafe { self.as_mut().get_unchecked_mut() } {
            LazyOp::Init(v) => v.take(),
            // SAFETY: as above.
            LazyOp::Built(op) => unsafe { op.node.take_slot() },
        };
        if dir == Dir::Send && v.is_none() {
            drop(g);
            panic!("`Send` polled after completion");
        }
        let (out, wake, unsent) = match chan.ready_locked(g.state(), dir, v) {
            Now::Sent(w) => (Outcome::Sent, w, None),
            Now::Received(v, w) => (Outcome::Received(v), w, None),
            Now::Closed(v) => (Outcome::Closed, None, v),
            Now::WouldBlock(v) => {
                // SAFETY: not queued (checked above); `g` is `chan`'s lock,
                // under which `ready_locked` found the operation must wait;
                // the owning future's `Drop` cancels the built op.
                let old = unsafe { self.build().enqueue_locked(&mut g, v, cx.waker(), dir) };
                drop(g);
                drop(old);
                site.note_park(chan, dir.wait_reason());
                return Poll::Pending;
            }
        };
        drop(g);
        if let Some(w) = wake {
            w.wake();
        }
        // A send's value on a closed channel: user code, outside the lock.
        drop(unsent);
        Poll::Ready(out)
    }

    /// Cancels a pending operation of direction `dir` (the owner is being
    /// dropped); see [`Op::cancel`]. `Init` was never queued: nothing to
    /// undo (a value still to send is dropped with the future, unsent).
    #[inline]
    pub(crate) fn cancel(self: Pin<&mut Self>, chan: &Hchan<T>, dir: Dir) {
        if let Some(op) = self.built() {
            op.cancel(chan, dir);
        }
    }
}

#[cfg(all(test, not(goro_loom)))]
mod tests {
    use goro_hook::ObjectDetail;

    use super::wait_object;

    #[test]
    fn wait_object_says_whether_the_channel_is_closed() {
        let ch = crate::make::<i32>(2);
        ch.try_send(1).unwrap();
        let detail = |ch: &crate::Chan<i32>| wait_object(ch.inner.as_deref().unwrap()).detail;
        assert_eq!(detail(&ch), ObjectDetail::Chan { cap: 2, len: 1 });
        ch.close();
        assert_eq!(detail(&ch), ObjectDetail::ClosedChan { cap: 2, len: 1 });
        let made = wait_object(ch.inner.as_deref().unwrap()).made_at.unwrap();
        assert_eq!((made.file(), made.line()), (file!(), line!() - 7));
    }
}
