//! Channel cases of a `select`: receive ([`RecvCase`]) and send ([`SendCase`]).
//!
//! Go: an `scase` with its `sudog` (`selectgo` acquires one sudog per case,
//! and branches on the direction only where the value moves).
//!
//! # Design
//!
//! Each case embeds its own [`Waiter`], so a blocking select allocates
//! nothing. The waiter is built lazily ([`LazyNode`]): a case holds only its
//! value to send (if any) until the engine first queues it, so a select that
//! finds a case ready never builds the waiters. In the engine's ready pass
//! a case runs its channel's own non-blocking operation
//! ([`Hchan::try_send`], [`Hchan::try_recv`]: the code of `Chan::try_send`
//! and `Chan::try_recv`), which takes and releases the lock itself. If no
//! case was ready, then under the channel lock (held by the engine) the case
//! either commits at once (the same code as a plain send/receive) or builds
//! its waiter in place and queues it, pointing to the select's shared cell. The counterpart that wins the
//! cell's claim completes exactly this case; the engine then collects its
//! outcome with `__finish` and unlinks the other cases.
//!
//! Both directions share one core ([`CaseCore`]): the channel reference,
//! the phase, the lazy waiter, enqueueing, unregistering and `Drop`; the
//! direction ([`Dir`]) decides only which queue and which way the value
//! moves (`Hchan::ready_locked`, [`crate::op::outcome_from_slot`]). The two
//! public types differ only in their output.
//!
//! # Invariants
//!
//! - `phase == Queued` iff the waiter may be in the channel's queue; then
//!   the node is `Built` (it is built before it is first queued and stays
//!   built, at the same pinned address, until the case is dropped).
//! - While the node is not queued, the value to send is the case's: in
//!   `Init`, or in the built node's slot.
//! - The outcome exists only in phase `Committed`.

use std::fmt;
use std::marker::PhantomPinned;
use std::task::{Context, Poll};

use super::case::{sealed, BlockingCase, CaseKind, CaseOutput, ChanLock, Finished, SelectCase};
use super::case::{ParkedVia, StillQueued, TryLocked};
use crate::cell::SelCell;
use crate::chan::Chan;
use crate::error::{TryRecvError, TrySendError};
use crate::hchan::{Dir, Hchan, Now};
use crate::loom::Arc;
use crate::op::{give_back_cancelled, outcome_from_slot, Outcome};
use crate::waiter::Waiter;

/// Where a channel case is.
enum Phase<T> {
    Idle,
    Queued,
    /// Committed, with its outcome (until `take_output`).
    Committed(Outcome<T>),
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

/// How a channel case holds its channel.
pub(crate) enum ChanRef<'a, T> {
    Nil,
    /// A channel through a handle the case borrows, and that handle's
    /// address (told to the executor when the select parks).
    Borrowed {
        chan: &'a Hchan<T>,
        handle: usize,
    },
    /// The shared state of a handle given by value: it counts as a handle
    /// (the channel's `Arc` strong count) and lies here.
    Owned(Arc<Hchan<T>>),
}

impl<'a, T> ChanRef<'a, T> {
    /// The case of a borrowed `handle` (a nil one is a nil case).
    #[inline]
    pub(crate) fn borrowed(handle: &'a Chan<T>) -> Self {
        match handle.inner.as_deref() {
            Some(chan) => ChanRef::Borrowed {
                chan,
                handle: std::ptr::from_ref(handle) as usize,
            },
            None => ChanRef::Nil,
        }
    }
}

impl<T> ChanRef<'_, T> {
    #[inline]
    fn get(&self) -> Option<&Hchan<T>> {
        match self {
            ChanRef::Nil => None,
            ChanRef::Borrowed { chan, .. } => Some(chan),
            ChanRef::Owned(h) => Some(h),
        }
    }

    /// What the case waits through (`SelectCase::__parked_via`).
    fn parked_via(&self) -> ParkedVia {
        let (handle, h) = match self {
            ChanRef::Nil => return ParkedVia::Nothing,
            ChanRef::Borrowed { chan, handle } => (*handle, *chan),
            ChanRef::Owned(h) => (std::ptr::from_ref(h) as usize, &**h),
        };
        ParkedVia::Handle(handle, h.record.key())
    }
}

/// The direction-independent part of a channel case (see the module docs).
struct CaseCore<'a, T> {
    chan: ChanRef<'a, T>,
    dir: Dir,
    phase: Phase<T>,
    /// Holds the value to send until a receiver takes it; built on the
    /// first enqueue.
    node: LazyNode<T>,
    _pin: PhantomPinned,
}

impl<'a, T> CaseCore<'a, T> {
    #[inline]
    fn new(chan: ChanRef<'a, T>, dir: Dir, value: Option<T>) -> Self {
        CaseCore {
            chan,
            dir,
            phase: Phase::Idle,
            node: LazyNode::Init(value),
            _pin: PhantomPinned,
        }
    }

    fn kind(&self) -> CaseKind {
        match self.chan.get() {
            None => CaseKind::Nil,
            Some(h) => CaseKind::Chan(ChanLock(h.raw_lock())),
        }
    }

    /// The ready pass: the channel's own non-blocking operation
    /// ([`Hchan::try_send`], [`Hchan::try_recv`]), which fails lock-free
    /// when the channel certainly cannot proceed and otherwise takes and
    /// releases the lock and wakes the counterpart it completed. The waiter
    /// is not built.
    ///
    /// # Safety
    ///
    /// As [`SelectCase::__try_ready`]: the waiter is not queued.
    #[inline]
    unsafe fn try_ready(&mut self) -> Poll<()> {
        let Some(h) = self.chan.get() else {
            return Poll::Pending;
        };
        debug_assert!(matches!(self.phase, Phase::Idle));
        let out = match self.dir {
            Dir::Recv => match h.try_recv() {
                Ok(v) => Outcome::Received(v),
                Err(TryRecvError::Closed) => Outcome::Closed,
                Err(TryRecvError::Empty) => return Poll::Pending,
            },
            Dir::Send => {
                // SAFETY: not queued (caller contract): the value is ours.
                let v = unsafe { self.node.take_value() }.expect("send case without a value");
                match h.try_send(v) {
                    Ok(()) => Outcome::Sent,
                    Err(TrySendError::Closed(v)) => {
                        // SAFETY: as above. Kept, and dropped with the case
                        // (the engine panics "send on closed channel").
                        unsafe { self.node.put_value(v) };
                        Outcome::Closed
                    }
                    Err(TrySendError::Full(v)) => {
                        // SAFETY: as above.
                        unsafe { self.node.put_value(v) };
                        return Poll::Pending;
                    }
                }
            }
        };
        self.phase = Phase::Committed(out);
        Poll::Ready(())
    }

    /// # Safety
    ///
    /// As [`SelectCase::__try_locked`].
    unsafe fn try_locked(&mut self) -> TryLocked {
        let Some(h) = self.chan.get() else {
            return TryLocked::NotReady;
        };
        let dir = self.dir;
        let v = match dir {
            Dir::Send => {
                // SAFETY: not queued (caller contract): the value is ours.
                Some(unsafe { self.node.take_value() }.expect("send case without a value"))
            }
            Dir::Recv => None,
        };
        // SAFETY: the engine holds the lock (caller contract).
        let (out, w) = match unsafe { h.ready_locked_raw(dir, v) } {
            Now::Sent(w) => (Outcome::Sent, w),
            Now::Received(v, w) => (Outcome::Received(v), w),
            Now::Closed(v) => {
                if let Some(v) = v {
                    // SAFETY: as above. Kept, and dropped with the case.
                    unsafe { self.node.put_value(v) };
                }
                (Outcome::Closed, None)
            }
            Now::WouldBlock(v) => {
                if let Some(v) = v {
                    // SAFETY: as above.
                    unsafe { self.node.put_value(v) };
                }
                return TryLocked::NotReady;
            }
        };
        self.phase = Phase::Committed(out);
        TryLocked::Committed(w)
    }

    /// # Safety
    ///
    /// As [`SelectCase::__enqueue_locked`].
    unsafe fn enqueue_locked(&mut self, cell: *const SelCell, index: usize) {
        let Some(h) = self.chan.get() else { return };
        debug_assert!(matches!(self.phase, Phase::Idle));
        let dir = self.dir;
        // SAFETY: idle: not queued; the case stays put while queued (caller contract).
        let node = unsafe { self.node.build() };
        // SAFETY: lock held; the case stays put while queued (caller contract).
        unsafe { h.with_state_locked(|st| st.queue(dir).push_back(node, cell, index)) };
        self.phase = Phase::Queued;
    }

    /// # Safety
    ///
    /// As [`SelectCase::__still_queued_locked`].
    unsafe fn still_queued_locked(&mut self) -> StillQueued {
        if !matches!(self.phase, Phase::Queued) {
            return StillQueued::No;
        }
        let (Some(h), dir) = (self.chan.get(), self.dir) else {
            return StillQueued::No;
        };
        let node = self.node.node();
        // SAFETY: the caller holds this channel's lock (for `with_state_locked`
        // too); the node is alive and at most queued on this queue.
        let queued = unsafe {
            node.is_queued()
                && h.with_state_locked(|st| {
                    // Skipped in place by a party acting for this select
                    // (`cell::polling`), which may have made the channel ready
                    // for this case (an own future case that sent to a buffered
                    // channel): then take the waiter out, so the engine
                    // re-checks the case.
                    if h.ready_for_locked(st, dir) {
                        st.queue(dir).remove(node);
                        false
                    } else {
                        true
                    }
                })
        };
        if queued {
            return StillQueued::Yes;
        }
        self.phase = Phase::Idle;
        StillQueued::No
    }

    /// Unlinks the waiter if it may be queued.
    fn unlink(&mut self) {
        if !matches!(self.phase, Phase::Queued) {
            return;
        }
        if let Some(h) = self.chan.get() {
            // SAFETY: the node is alive and at most queued on this channel's
            // queue of this direction.
            unsafe { h.unlink(self.node.node(), self.dir) };
        }
    }

    fn unregister(&mut self) {
        self.unlink();
        if matches!(self.phase, Phase::Queued) {
            self.phase = Phase::Idle;
        }
    }

    /// Runs `f` on the slot after `DONE` (the counterpart unlinked the node
    /// and handed the slot back) if this case was queued, leaving the case
    /// idle; a case committed by `try_locked` is left as it is.
    fn with_done_slot(&mut self, f: impl FnOnce(&Hchan<T>, Dir, Option<T>) -> Phase<T>) {
        if !matches!(self.phase, Phase::Queued) {
            return;
        }
        self.phase = Phase::Idle;
        // A nil case is never queued.
        let Some(h) = self.chan.get() else { return };
        // SAFETY: DONE for this case: the slot is ours again.
        let slot = unsafe { self.node.node().take_slot() };
        self.phase = f(h, self.dir, slot);
    }

    fn finish(&mut self) -> Finished {
        self.with_done_slot(|h, dir, slot| Phase::Committed(outcome_from_slot(h, dir, slot)));
        match (&self.phase, self.dir) {
            (Phase::Committed(Outcome::Closed), Dir::Send) => Finished::SendOnClosed,
            _ => Finished::Done,
        }
    }

    fn cancel_won(&mut self) {
        self.with_done_slot(|h, dir, slot| {
            give_back_cancelled(h, dir, slot);
            Phase::Idle
        });
    }

    fn after_unlock(&self) {
        if let Some(h) = self.chan.get() {
            h.wake_watchers();
        }
    }

    /// The committed outcome; the case becomes idle.
    fn take_outcome(&mut self, what: &str) -> Outcome<T> {
        match std::mem::replace(&mut self.phase, Phase::Idle) {
            Phase::Committed(out) => out,
            other => {
                self.phase = other;
                panic!("take_output on a {what} case that did not commit")
            }
        }
    }
}

impl<T> Drop for CaseCore<'_, T> {
    fn drop(&mut self) {
        // Safety net: the engine unregisters before it completes or is dropped.
        self.unlink();
    }
}

impl<T> fmt::Debug for CaseCore<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let phase = match self.phase {
            Phase::Idle => "idle",
            Phase::Queued => "queued",
            Phase::Committed(_) => "committed",
        };
        f.debug_struct(match self.dir {
            Dir::Send => "SendCase",
            Dir::Recv => "RecvCase",
        })
        .field("nil", &self.chan.get().is_none())
        .field("phase", &phase)
        .finish()
    }
}

/// Implements the select protocol of a channel case type (a newtype over
/// [`CaseCore`]) by delegating to its core.
macro_rules! chan_case_protocol {
    ($case:ident) => {
        impl<T: Send> SelectCase for $case<'_, T> {
            fn __kind(&self) -> CaseKind {
                self.0.kind()
            }
            unsafe fn __try_ready(&mut self, _cx: &mut Context<'_>) -> Poll<()> {
                // SAFETY: forwarded.
                unsafe { self.0.try_ready() }
            }
            unsafe fn __try_locked(&mut self) -> TryLocked {
                // SAFETY: forwarded.
                unsafe { self.0.try_locked() }
            }
            unsafe fn __enqueue_locked(&mut self, cell: *const SelCell, index: usize) {
                // SAFETY: forwarded.
                unsafe { self.0.enqueue_locked(cell, index) }
            }
            unsafe fn __still_queued_locked(&mut self) -> StillQueued {
                // SAFETY: forwarded.
                unsafe { self.0.still_queued_locked() }
            }
            fn __unregister(&mut self) {
                self.0.unregister()
            }
            fn __finish(&mut self) -> Finished {
                self.0.finish()
            }
            fn __cancel_won(&mut self) {
                self.0.cancel_won()
            }
            fn __after_unlock(&self) {
                self.0.after_unlock()
            }
            fn __parked_via(&self) -> ParkedVia {
                self.0.chan.parked_via()
            }
        }

        impl<T> fmt::Debug for $case<'_, T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
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
pub struct RecvCase<'a, T>(CaseCore<'a, T>);

impl<'a, T> RecvCase<'a, T> {
    #[inline]
    pub(crate) fn new(chan: ChanRef<'a, T>) -> Self {
        RecvCase(CaseCore::new(chan, Dir::Recv, None))
    }
}

impl<T> CaseOutput for RecvCase<'_, T> {
    type Output = Option<T>;

    fn take_output(&mut self) -> Option<T> {
        match self.0.take_outcome("receive") {
            Outcome::Received(v) => Some(v),
            Outcome::Closed => None,
            Outcome::Sent => unreachable!("a receive case sent"),
        }
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
pub struct SendCase<'a, T>(CaseCore<'a, T>);

impl<'a, T> SendCase<'a, T> {
    #[inline]
    pub(crate) fn new(chan: &'a Chan<T>, v: T) -> Self {
        SendCase(CaseCore::new(ChanRef::borrowed(chan), Dir::Send, Some(v)))
    }
}

impl<T> CaseOutput for SendCase<'_, T> {
    type Output = ();

    fn take_output(&mut self) {
        // A send on a closed channel panicked in the engine already.
        let _ = self.0.take_outcome("send");
    }
}

// The protocol of both case types (one core, see the module docs). The
// sealing and `BlockingCase` impls stay outside the macro so that compiler
// diagnostics name the types.
impl<T: Send> sealed::Sealed for RecvCase<'_, T> {}
impl<T: Send> sealed::Sealed for SendCase<'_, T> {}
chan_case_protocol!(RecvCase);
chan_case_protocol!(SendCase);

impl<T: Send> BlockingCase for RecvCase<'_, T> {
    fn __as_select_case(&mut self) -> &mut dyn SelectCase {
        self
    }
}
impl<T: Send> BlockingCase for SendCase<'_, T> {
    fn __as_select_case(&mut self) -> &mut dyn SelectCase {
        self
    }
}
