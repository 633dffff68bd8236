//! Channel cases of a `select`: receive ([`RecvCase`]) and send ([`SendCase`]).
//!
//! Go: an `scase` with its `sudog` (`selectgo` acquires one sudog per case).
//!
//! # Design
//!
//! Each case embeds its own [`Waiter`], so a blocking select allocates
//! nothing. The waiter is built lazily ([`LazyNode`]): a case holds only its
//! value to send (if any) until the engine first queues it, so a select that
//! finds a case ready never builds the waiters. Under the channel lock (held
//! by the engine) the case either commits at once (the same code as a plain
//! send/receive) or builds its waiter in place and queues it, pointing to the
//! select's shared cell. The counterpart that wins the
//! cell's claim completes exactly this case; the engine then collects its
//! outcome with `__finish` and unlinks the other cases.
//!
//! # Invariants
//!
//! - `phase == Queued` iff the waiter may be in the channel's queue; then
//!   the node is `Built` (it is built before it is first queued and stays
//!   built, at the same pinned address, until the case is dropped).
//! - While the node is not queued, the value to send is the case's: in
//!   `Init`, or in the built node's slot.
//! - `out` is `Some` only in phase `Committed`.

use std::fmt;
use std::marker::PhantomPinned;
use std::task::{Context, Waker};

use super::case::{sealed, BlockingCase, CaseKind, CaseOutput, ChanLock, SelectCase};
use crate::cell::SelCell;
use crate::hchan::{Hchan, RecvNow, SendNow};
use crate::loom::Arc;
use crate::waiter::Waiter;

/// Where a channel case is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Idle,
    Queued,
    Committed,
}

/// A case's waiter, built on its first enqueue (see the module docs).
enum LazyNode<T> {
    /// Never queued: the value to send (`None` for a receive, or once taken).
    Init(Option<T>),
    /// Built in place by the first enqueue; may be queued (phase `Queued`).
    Built(Waiter<T>),
}

impl<T> LazyNode<T> {
    /// Takes the value to send.
    ///
    /// # Safety
    ///
    /// The node is not queued (the case is not in phase `Queued`).
    unsafe fn take_value(&mut self) -> Option<T> {
        match self {
            LazyNode::Init(v) => v.take(),
            // SAFETY: not queued: the slot is the owner's.
            LazyNode::Built(n) => unsafe { n.take_slot() },
        }
    }

    /// Puts the value to send back.
    ///
    /// # Safety
    ///
    /// As for [`LazyNode::take_value`].
    unsafe fn put_value(&mut self, v: T) {
        match self {
            LazyNode::Init(slot) => *slot = Some(v),
            // SAFETY: not queued: the slot is the owner's.
            LazyNode::Built(n) => unsafe { n.put_slot(Some(v)) },
        }
    }

    /// The node to queue, built now (holding the value) if it was not yet.
    ///
    /// # Safety
    ///
    /// The node is not queued; once queued, the case is not moved until it
    /// is unlinked (the engine's contract).
    unsafe fn build(&mut self) -> &Waiter<T> {
        if let LazyNode::Init(v) = self {
            // Not queued and never was: no pointer to the node exists yet,
            // so building it in place is fine.
            *self = LazyNode::Built(Waiter::new(v.take()));
        }
        match self {
            LazyNode::Built(n) => n,
            LazyNode::Init(_) => unreachable!("built above"),
        }
    }

    /// The built node (phase `Queued` or after it).
    fn node(&self) -> &Waiter<T> {
        match self {
            LazyNode::Built(n) => n,
            LazyNode::Init(_) => unreachable!("a queued case has a built node"),
        }
    }
}

/// Whether a case's waiter is still queued; a queued case whose waiter a
/// counterpart skipped and unlinked goes back to `Idle`. Shared by
/// [`RecvCase`] and [`SendCase`].
///
/// # Safety
///
/// The caller holds the lock of the case's channel.
unsafe fn still_queued_locked<T>(phase: &mut Phase, node: &LazyNode<T>) -> bool {
    if *phase != Phase::Queued {
        return false;
    }
    // SAFETY: the caller holds this channel's lock.
    if unsafe { node.node().is_queued() } {
        return true;
    }
    *phase = Phase::Idle;
    false
}

/// How a receive case holds its channel.
pub(crate) enum ChanRef<'a, T> {
    Nil,
    Borrowed(&'a Hchan<T>),
    Owned(Arc<Hchan<T>>),
}

impl<T> ChanRef<'_, T> {
    fn get(&self) -> Option<&Hchan<T>> {
        match self {
            ChanRef::Nil => None,
            ChanRef::Borrowed(h) => Some(h),
            ChanRef::Owned(h) => Some(h),
        }
    }
}

impl<'a, T> From<Option<&'a Hchan<T>>> for ChanRef<'a, T> {
    fn from(h: Option<&'a Hchan<T>>) -> Self {
        match h {
            Some(h) => ChanRef::Borrowed(h),
            None => ChanRef::Nil,
        }
    }
}

fn kind_of<T>(h: Option<&Hchan<T>>) -> CaseKind {
    match h {
        None => CaseKind::Nil,
        Some(h) => CaseKind::Chan(ChanLock(h.raw_lock())),
    }
}

/// A receive case (Go: `case v, ok := <-ch`); output `Option<T>`.
///
/// ```
/// use goro_chan::select::{select_blocking, BlockingCase, CaseOutput};
/// let ch = goro_chan::make::<&str>(1);
/// ch.try_send("x").unwrap();
/// let mut c = goro_chan::select::into_case!(&ch);
/// assert_eq!(select_blocking(&mut [&mut c as &mut dyn BlockingCase], false), Some(0));
/// assert_eq!(c.take_output(), Some("x"));
/// ```
pub struct RecvCase<'a, T> {
    chan: ChanRef<'a, T>,
    phase: Phase,
    /// Built on the first enqueue.
    node: LazyNode<T>,
    /// The committed output: `Some(None)` = closed.
    out: Option<Option<T>>,
    _pin: PhantomPinned,
}

impl<'a, T> RecvCase<'a, T> {
    pub(crate) fn new(chan: ChanRef<'a, T>) -> Self {
        RecvCase {
            chan,
            phase: Phase::Idle,
            node: LazyNode::Init(None),
            out: None,
            _pin: PhantomPinned,
        }
    }
}

impl<T: Send> sealed::Sealed for RecvCase<'_, T> {}

impl<T: Send> SelectCase for RecvCase<'_, T> {
    fn __kind(&self) -> CaseKind {
        kind_of(self.chan.get())
    }

    fn __would_block(&self) -> bool {
        self.chan.get().is_none_or(Hchan::recv_would_block)
    }

    unsafe fn __try_locked(&mut self) -> Option<Option<Waker>> {
        let h = self.chan.get()?;
        // SAFETY: the engine holds the lock (caller contract).
        match unsafe { h.with_state_locked(|st| h.recv_locked(st)) } {
            RecvNow::Value(v, w) => {
                self.out = Some(Some(v));
                self.phase = Phase::Committed;
                Some(w)
            }
            RecvNow::Closed => {
                self.out = Some(None);
                self.phase = Phase::Committed;
                Some(None)
            }
            RecvNow::WouldBlock => None,
        }
    }

    unsafe fn __enqueue_locked(&mut self, cell: *const SelCell, index: usize) {
        let Some(h) = self.chan.get() else { return };
        debug_assert_eq!(self.phase, Phase::Idle);
        // SAFETY: idle: not queued; the case stays put while queued (caller contract).
        let node = unsafe { self.node.build() };
        // SAFETY: lock held; the case stays put while queued (caller contract).
        unsafe { h.with_state_locked(|st| st.recvq.push_back(node, cell, index)) };
        self.phase = Phase::Queued;
    }

    unsafe fn __still_queued_locked(&mut self) -> bool {
        // SAFETY: the engine holds this channel's lock (caller contract).
        unsafe { still_queued_locked(&mut self.phase, &self.node) }
    }

    fn __unregister(&mut self) {
        if self.phase != Phase::Queued {
            return;
        }
        if let Some(h) = self.chan.get() {
            // SAFETY: the node is alive and at most queued on this channel's recvq.
            unsafe { h.unlink(self.node.node(), false) };
        }
        self.phase = Phase::Idle;
    }

    unsafe fn __poll_future(&mut self, _cx: &mut Context<'_>) -> bool {
        false
    }

    fn __finish(&mut self) -> bool {
        if self.phase == Phase::Queued {
            // SAFETY: the cell says DONE for this case: the counterpart unlinked
            // the node and handed the slot back. Empty: completed by `close`,
            // decided now under the lock (a value given back comes first).
            self.out = Some(match unsafe { self.node.node().take_slot() } {
                Some(v) => Some(v),
                None => self.chan.get().and_then(Hchan::recv_closed_outcome),
            });
            self.phase = Phase::Committed;
        }
        false
    }

    fn __cancel_won(&mut self) {
        if self.phase == Phase::Queued {
            self.phase = Phase::Idle;
            // SAFETY: as in `__finish`.
            if let (Some(v), Some(h)) = (unsafe { self.node.node().take_slot() }, self.chan.get()) {
                h.give_back(v);
            }
        }
    }

    fn __release(&mut self) {}

    fn __after_unlock(&self) {
        if let Some(h) = self.chan.get() {
            h.wake_watchers();
        }
    }
}

impl<T: Send> BlockingCase for RecvCase<'_, T> {
    fn __as_select_case(&mut self) -> &mut dyn SelectCase {
        self
    }
}

impl<T> CaseOutput for RecvCase<'_, T> {
    type Output = Option<T>;

    fn take_output(&mut self) -> Option<T> {
        match self.out.take() {
            Some(v) => {
                self.phase = Phase::Idle;
                v
            }
            None => panic!("take_output on a receive case that did not commit"),
        }
    }
}

impl<T> Drop for RecvCase<'_, T> {
    fn drop(&mut self) {
        // Safety net: the engine unregisters before it completes or is dropped.
        if self.phase == Phase::Queued {
            if let Some(h) = self.chan.get() {
                // SAFETY: the node is alive and at most queued on this recvq.
                unsafe { h.unlink(self.node.node(), false) };
            }
        }
    }
}

impl<T> fmt::Debug for RecvCase<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecvCase")
            .field("nil", &self.chan.get().is_none())
            .field("phase", &self.phase)
            .finish()
    }
}

/// A send case (Go: `case ch <- v`); output `()`. Not chosen, it sends nothing.
///
/// ```
/// use goro_chan::select::{select_blocking, BlockingCase};
/// let ch = goro_chan::make::<i32>(0);
/// let mut c = goro_chan::select::into_case!(ch.send(1));
/// // No receiver: with a default, the send is not taken.
/// assert_eq!(select_blocking(&mut [&mut c as &mut dyn BlockingCase], true), None);
/// ```
pub struct SendCase<'a, T> {
    chan: Option<&'a Hchan<T>>,
    phase: Phase,
    /// Holds the value until a receiver takes it; the waiter is built on
    /// the first enqueue.
    node: LazyNode<T>,
    /// Committed on a closed channel (panics in the engine).
    closed: bool,
    _pin: PhantomPinned,
}

impl<'a, T> SendCase<'a, T> {
    pub(crate) fn new(chan: Option<&'a Hchan<T>>, v: T) -> Self {
        SendCase {
            chan,
            phase: Phase::Idle,
            node: LazyNode::Init(Some(v)),
            closed: false,
            _pin: PhantomPinned,
        }
    }
}

impl<T: Send> sealed::Sealed for SendCase<'_, T> {}

impl<T: Send> SelectCase for SendCase<'_, T> {
    fn __kind(&self) -> CaseKind {
        kind_of(self.chan)
    }

    fn __would_block(&self) -> bool {
        self.chan.is_none_or(Hchan::send_would_block)
    }

    unsafe fn __try_locked(&mut self) -> Option<Option<Waker>> {
        let h = self.chan?;
        // SAFETY: not queued (caller contract): the value is ours.
        let v = unsafe { self.node.take_value() }.expect("send case without a value");
        // SAFETY: the engine holds the lock (caller contract).
        match unsafe { h.with_state_locked(|st| h.send_locked(st, v)) } {
            SendNow::Sent(w) => {
                self.phase = Phase::Committed;
                Some(w)
            }
            SendNow::Closed(v) => {
                // SAFETY: as above.
                unsafe { self.node.put_value(v) };
                self.closed = true;
                self.phase = Phase::Committed;
                Some(None)
            }
            SendNow::WouldBlock(v) => {
                // SAFETY: as above.
                unsafe { self.node.put_value(v) };
                None
            }
        }
    }

    unsafe fn __enqueue_locked(&mut self, cell: *const SelCell, index: usize) {
        let Some(h) = self.chan else { return };
        debug_assert_eq!(self.phase, Phase::Idle);
        // SAFETY: idle: not queued; the case stays put while queued (caller contract).
        let node = unsafe { self.node.build() };
        // SAFETY: lock held; the case stays put while queued (caller contract).
        unsafe { h.with_state_locked(|st| st.sendq.push_back(node, cell, index)) };
        self.phase = Phase::Queued;
    }

    unsafe fn __still_queued_locked(&mut self) -> bool {
        // SAFETY: the engine holds this channel's lock (caller contract).
        unsafe { still_queued_locked(&mut self.phase, &self.node) }
    }

    fn __unregister(&mut self) {
        if self.phase != Phase::Queued {
            return;
        }
        if let Some(h) = self.chan {
            // SAFETY: the node is alive and at most queued on this channel's sendq.
            unsafe { h.unlink(self.node.node(), true) };
        }
        self.phase = Phase::Idle;
    }

    unsafe fn __poll_future(&mut self, _cx: &mut Context<'_>) -> bool {
        false
    }

    fn __finish(&mut self) -> bool {
        if self.phase == Phase::Queued {
            self.phase = Phase::Committed;
            // SAFETY: DONE for this case: the slot is ours again. A value still
            // there means the channel was closed.
            self.closed = unsafe { self.node.node().slot_is_some() };
        }
        self.closed
    }

    fn __cancel_won(&mut self) {
        // The value was delivered (or the channel closed): nothing to undo.
        if self.phase == Phase::Queued {
            self.phase = Phase::Idle;
        }
    }

    fn __release(&mut self) {}

    fn __after_unlock(&self) {
        if let Some(h) = self.chan {
            h.wake_watchers();
        }
    }
}

impl<T: Send> BlockingCase for SendCase<'_, T> {
    fn __as_select_case(&mut self) -> &mut dyn SelectCase {
        self
    }
}

impl<T> CaseOutput for SendCase<'_, T> {
    type Output = ();

    fn take_output(&mut self) {
        assert_eq!(
            self.phase,
            Phase::Committed,
            "take_output on a send case that did not commit"
        );
        self.phase = Phase::Idle;
    }
}

impl<T> Drop for SendCase<'_, T> {
    fn drop(&mut self) {
        // Safety net: the engine unregisters before it completes or is dropped.
        if self.phase == Phase::Queued {
            if let Some(h) = self.chan {
                // SAFETY: the node is alive and at most queued on this sendq.
                unsafe { h.unlink(self.node.node(), true) };
            }
        }
    }
}

impl<T> fmt::Debug for SendCase<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendCase")
            .field("nil", &self.chan.is_none())
            .field("phase", &self.phase)
            .finish()
    }
}
