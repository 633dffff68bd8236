//! One blocking channel operation: the state machine shared by the `Send` and
//! `Recv` futures and by `Receiver`'s `Stream` implementation (which uses it
//! as a wake-only watcher: [`Op::poll_watch`]).
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
use crate::hchan::{Hchan, Locked, RecvNow, SendNow};
use crate::waiter::Waiter;

/// Where an [`Op`] is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Not started (or finished and reset, for a reusable stream op).
    Idle,
    /// Queued on the channel; the outcome is decided by the cell.
    Waiting,
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

/// The snapshot of a channel for the goroutine registry.
pub(crate) fn wait_object<T>(chan: &Hchan<T>) -> WaitObject {
    WaitObject {
        id: chan.id(),
        made_at: Some(chan.made_at()),
        detail: ObjectDetail::Chan {
            cap: chan.cap(),
            len: chan.len(),
        },
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

    /// Queues this idle op as the only waiter of a one-case selection on
    /// `sendq` (`is_send`) or `recvq` of the channel whose lock `g` is, with
    /// `waker`, and moves it to `Waiting`. Returns the replaced waker, to be
    /// dropped after unlocking.
    ///
    /// # Safety
    ///
    /// The op is idle (its node is not queued on any channel), and the caller
    /// found under this same lock acquisition that the operation must wait
    /// (so the queue invariants of `src/hchan.rs` hold after queuing). The
    /// owner of the pinned op unlinks it (`cancel`) before it is dropped.
    #[must_use]
    pub(crate) unsafe fn enqueue_locked(
        self: Pin<&mut Self>,
        g: &mut Locked<'_, T>,
        waker: &Waker,
        is_send: bool,
    ) -> Option<Waker> {
        debug_assert_eq!(self.phase, Phase::Idle);
        // SAFETY: the node is not queued (caller contract), so no counterpart
        // can reach the cell; `self` is pinned, so node and cell stay put while
        // queued, and the owner unlinks them before they are dropped.
        unsafe {
            let old = self.cell.reset(waker);
            let st = g.state();
            let q = if is_send {
                &mut st.sendq
            } else {
                &mut st.recvq
            };
            q.push_back(&self.node, &self.cell, 0);
            self.get_unchecked_mut().phase = Phase::Waiting;
            old
        }
    }

    /// Waits for the cell to leave `WAITING`; `Ready` once the outcome (in the
    /// slot) belongs to the owner again.
    fn poll_outcome(self: Pin<&mut Self>, chan: &Hchan<T>, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            match self.cell.state() {
                CellState::Done(_) => {
                    // SAFETY: `phase` is not structurally pinned.
                    unsafe { self.get_unchecked_mut().phase = Phase::Idle };
                    return Poll::Ready(());
                }
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
                        return Poll::Pending;
                    }
                }
                CellState::Abandoned => unreachable!("owner polled an abandoned op"),
            }
        }
    }

    /// Polls a send of the value in the slot. Panics "send on closed channel".
    pub(crate) fn poll_send(
        mut self: Pin<&mut Self>,
        chan: &Hchan<T>,
        cx: &mut Context<'_>,
        at: &'static Location<'static>,
    ) -> Poll<()> {
        if self.phase == Phase::Idle {
            if hook::poll_budget(cx).is_pending() {
                return Poll::Pending;
            }
            let mut g = chan.lock();
            // SAFETY: idle: the node is not queued, the slot is ours.
            let v = match unsafe { self.node.take_slot() } {
                Some(v) => v,
                None => panic!("`Send` polled after completion"),
            };
            match chan.send_locked(g.state(), v) {
                SendNow::Sent(w) => {
                    drop(g);
                    if let Some(w) = w {
                        w.wake();
                    }
                    return Poll::Ready(());
                }
                SendNow::Closed(v) => {
                    drop(g);
                    drop(v);
                    panic!("send on closed channel");
                }
                SendNow::WouldBlock(v) => {
                    // SAFETY: idle: the node is not queued, the slot is ours.
                    unsafe { self.node.put_slot(Some(v)) };
                    // SAFETY: idle (not queued) and pinned; `g` is `chan`'s lock.
                    let old = unsafe { self.as_mut().enqueue_locked(&mut g, cx.waker(), true) };
                    drop(g);
                    drop(old);
                    hook::note_park(WaitReason::ChanSend, at, Some(wait_object(chan)));
                    return Poll::Pending;
                }
            }
        }
        match self.as_mut().poll_outcome(chan, cx) {
            Poll::Pending => {
                hook::note_park(WaitReason::ChanSend, at, Some(wait_object(chan)));
                Poll::Pending
            }
            Poll::Ready(()) => {
                // SAFETY: DONE observed: the slot is ours again.
                if unsafe { self.node.slot_is_some() } {
                    // Woken by close: the value was not taken.
                    // SAFETY: as above.
                    drop(unsafe { self.node.take_slot() });
                    panic!("send on closed channel");
                }
                Poll::Ready(())
            }
        }
    }

    /// Polls a receive. `Ready(None)`: closed and drained.
    pub(crate) fn poll_recv(
        mut self: Pin<&mut Self>,
        chan: &Hchan<T>,
        cx: &mut Context<'_>,
        at: &'static Location<'static>,
    ) -> Poll<Option<T>> {
        if self.phase == Phase::Idle {
            if hook::poll_budget(cx).is_pending() {
                return Poll::Pending;
            }
            let mut g = chan.lock();
            match chan.recv_locked(g.state()) {
                RecvNow::Value(v, w) => {
                    drop(g);
                    if let Some(w) = w {
                        w.wake();
                    }
                    return Poll::Ready(Some(v));
                }
                RecvNow::Closed => return Poll::Ready(None),
                RecvNow::WouldBlock => {
                    // SAFETY: idle (not queued) and pinned; `g` is `chan`'s lock.
                    let old = unsafe { self.as_mut().enqueue_locked(&mut g, cx.waker(), false) };
                    drop(g);
                    drop(old);
                    hook::note_park(WaitReason::ChanReceive, at, Some(wait_object(chan)));
                    return Poll::Pending;
                }
            }
        }
        match self.as_mut().poll_outcome(chan, cx) {
            Poll::Pending => {
                hook::note_park(WaitReason::ChanReceive, at, Some(wait_object(chan)));
                Poll::Pending
            }
            // SAFETY: DONE observed: the slot is ours again. Empty = closed.
            Poll::Ready(()) => match unsafe { self.node.take_slot() } {
                Some(v) => Poll::Ready(Some(v)),
                None => Poll::Ready(chan.recv_closed_outcome()),
            },
        }
    }

    /// Polls a stream receive (`Receiver`'s `poll_next`) as a wake-only
    /// watcher: the value is taken here, under the lock, never handed to the
    /// parked op. If the `next()` future that polled it is dropped, nothing
    /// was taken and the parked watcher only costs a spurious wake-up.
    pub(crate) fn poll_watch(
        mut self: Pin<&mut Self>,
        chan: &Hchan<T>,
        cx: &mut Context<'_>,
        at: &'static Location<'static>,
    ) -> Poll<Option<T>> {
        if self.phase == Phase::Idle && hook::poll_budget(cx).is_pending() {
            return Poll::Pending;
        }
        let mut g = chan.lock();
        let mut old = None;
        if self.phase == Phase::Waiting {
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
                old = self.cell.clear_waker();
                self.as_mut().get_unchecked_mut().phase = Phase::Idle;
            }
        }
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
                hook::note_park(WaitReason::ChanReceive, at, Some(wait_object(chan)));
                Poll::Pending
            }
        }
    }

    /// Cancels a parked watcher (`poll_watch`): nothing was taken, so there is
    /// nothing to give back.
    pub(crate) fn cancel_watch(self: Pin<&mut Self>, chan: &Hchan<T>) {
        if self.phase != Phase::Waiting {
            return;
        }
        let old = {
            let mut g = chan.lock();
            if self.cell.try_abandon() {
                // SAFETY: we hold the lock; the node is alive and at most
                // queued on this channel's watchq.
                unsafe { g.state().watchq.remove(&self.node) };
            }
            // SAFETY: unlinked (by us, or by the claimer, which finished under
            // the lock we now hold); nobody else sees the cell.
            unsafe { self.cell.clear_waker() }
        };
        drop(old);
        // SAFETY: `phase` is not structurally pinned.
        unsafe { self.get_unchecked_mut().phase = Phase::Idle };
    }

    /// Cancels a pending operation (the owner is being dropped). For a
    /// receive, a value already handed over is given back to the channel.
    pub(crate) fn cancel(self: Pin<&mut Self>, chan: &Hchan<T>, is_send: bool) {
        if self.phase != Phase::Waiting {
            return;
        }
        let this: &Self = &self;
        if this.cell.try_abandon() {
            // Nobody can claim the node any more; unlink it if no skipping
            // counterpart did already.
            // SAFETY: the node is alive and only ever queued on `chan`'s queue
            // of this direction.
            unsafe { chan.unlink(&this.node, is_send) };
            // SAFETY: the node is unlinked: nobody else sees the cell.
            drop(unsafe { this.cell.clear_waker() });
        } else {
            // Claimed or done: wait for DONE (the claimer holds the lock until then).
            if matches!(this.cell.state(), CellState::Claimed(_)) {
                drop(chan.lock());
            }
            if !is_send {
                // SAFETY: DONE: the slot is ours again.
                if let Some(v) = unsafe { this.node.take_slot() } {
                    chan.give_back(v);
                }
            }
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

    /// Builds the waiting state in place (replacing `Init`), holding `v`
    /// (the value to send, or `None`), and queues it under the lock `g` in
    /// the same critical section that found the operation must wait.
    ///
    /// # Safety
    ///
    /// `self` is `Init`; `g` is the lock of `chan`, under which the caller
    /// found that the operation must wait; the owner cancels the built op
    /// (`cancel`) before it is dropped.
    unsafe fn build_and_enqueue(
        self: Pin<&mut Self>,
        g: &mut Locked<'_, T>,
        v: Option<T>,
        waker: &Waker,
        is_send: bool,
    ) -> Option<Waker> {
        // SAFETY: `self` is `Init`, which is not structurally pinned (it holds
        // at most an unpinned `None` now), so overwriting it in place is
        // allowed; from here on `Built` stays at this pinned address until
        // the owner drops it.
        let this = unsafe { self.get_unchecked_mut() };
        debug_assert!(matches!(this, LazyOp::Init(None)));
        *this = LazyOp::Built(Op::new(v));
        let LazyOp::Built(op) = this else {
            unreachable!()
        };
        // SAFETY: the fresh op is idle and now pinned in place (above); the
        // lock and cancellation contract is forwarded from the caller.
        unsafe { Pin::new_unchecked(op).enqueue_locked(g, waker, is_send) }
    }

    /// Polls a send: on the first poll, the value is offered under the lock
    /// and the waiting state is built and queued under that same lock only
    /// if it must wait. Panics "send on closed channel".
    pub(crate) fn poll_send(
        mut self: Pin<&mut Self>,
        chan: &Hchan<T>,
        cx: &mut Context<'_>,
        at: &'static Location<'static>,
    ) -> Poll<()> {
        if let Some(op) = self.as_mut().built() {
            return op.poll_send(chan, cx, at);
        }
        if hook::poll_budget(cx).is_pending() {
            return Poll::Pending;
        }
        let mut g = chan.lock();
        // SAFETY: `Init` is not structurally pinned; only its value is moved out.
        let v = match unsafe { self.as_mut().get_unchecked_mut() } {
            LazyOp::Init(v) => v.take(),
            LazyOp::Built(_) => unreachable!("checked above"),
        };
        let Some(v) = v else {
            drop(g);
            panic!("`Send` polled after completion");
        };
        match chan.send_locked(g.state(), v) {
            SendNow::Sent(w) => {
                drop(g);
                if let Some(w) = w {
                    w.wake();
                }
                Poll::Ready(())
            }
            SendNow::Closed(v) => {
                drop(g);
                drop(v);
                panic!("send on closed channel");
            }
            SendNow::WouldBlock(v) => {
                // SAFETY: `self` is `Init` (its value taken above); `g` is
                // `chan`'s lock, under which `send_locked` found no receiver
                // and no room; `Send`'s `Drop` cancels the built op.
                let old = unsafe { self.build_and_enqueue(&mut g, Some(v), cx.waker(), true) };
                drop(g);
                drop(old);
                hook::note_park(WaitReason::ChanSend, at, Some(wait_object(chan)));
                Poll::Pending
            }
        }
    }

    /// Polls a receive (as [`LazyOp::poll_send`]). `Ready(None)`: closed and drained.
    pub(crate) fn poll_recv(
        mut self: Pin<&mut Self>,
        chan: &Hchan<T>,
        cx: &mut Context<'_>,
        at: &'static Location<'static>,
    ) -> Poll<Option<T>> {
        if let Some(op) = self.as_mut().built() {
            return op.poll_recv(chan, cx, at);
        }
        if hook::poll_budget(cx).is_pending() {
            return Poll::Pending;
        }
        let mut g = chan.lock();
        match chan.recv_locked(g.state()) {
            RecvNow::Value(v, w) => {
                drop(g);
                if let Some(w) = w {
                    w.wake();
                }
                Poll::Ready(Some(v))
            }
            RecvNow::Closed => Poll::Ready(None),
            RecvNow::WouldBlock => {
                // SAFETY: a receive's `Init` holds `None`; `g` is `chan`'s
                // lock, under which `recv_locked` found nothing to receive;
                // `Recv`'s `Drop` cancels the built op.
                let old = unsafe { self.build_and_enqueue(&mut g, None, cx.waker(), false) };
                drop(g);
                drop(old);
                hook::note_park(WaitReason::ChanReceive, at, Some(wait_object(chan)));
                Poll::Pending
            }
        }
    }

    /// Cancels a pending operation (the owner is being dropped); see
    /// [`Op::cancel`]. `Init` was never queued: nothing to undo (a value
    /// still to send is dropped with the future, unsent).
    pub(crate) fn cancel(self: Pin<&mut Self>, chan: &Hchan<T>, is_send: bool) {
        if let Some(op) = self.built() {
            op.cancel(chan, is_send);
        }
    }
}
