//! The select case protocol: what the engine asks of every case.
//!
//! Go: the per-case steps of `selectgo` (`scase`), made a trait so that cases
//! on channels of different element types, and future cases, sit in one slice.
//!
//! # Design
//!
//! The engine ([`super::engine`]) drives every case through:
//!
//! 1. [`SelectCase::__kind`]: nil (never ready), a future, or a channel with
//!    its lock (so the engine can lock channels in address order);
//! 2. [`SelectCase::__try_ready`]: the ready pass, one case at a time:
//!    commit now if the case is ready (a channel case takes and releases
//!    its own lock; no waiter is built);
//! 3. if none was: [`SelectCase::__try_locked`] (commit now if the channel
//!    is ready, lock held by the engine) and
//!    [`SelectCase::__enqueue_locked`] (queue the case's waiter on the
//!    select's cell, lock held);
//! 4. after waking: [`SelectCase::__finish`] for the winner,
//!    [`SelectCase::__unregister`] for every other case,
//!    [`SelectCase::__release`] to drop un-chosen futures in place, and
//!    [`SelectCase::__cancel_won`] when a select is dropped after a
//!    counterpart committed one of its cases.
//!
//! The methods are hidden: only the engine calls them. The trait is sealed
//! (a private supertrait): only the case types of this crate implement it, so
//! the engine may trust what [`SelectCase::__kind`] returns (the lock of a
//! channel that the case borrows or owns).
//!
//! # Invariants
//!
//! - A case whose waiter was enqueued is not moved until it was unregistered
//!   or finished: it is borrowed by the select future, which unregisters
//!   everything before it completes and in its `Drop`. (The `select!` macro
//!   keeps cases as locals of the awaiting future, which is pinned.)

use std::task::{Context, Poll, Waker};

use crate::cell::SelCell;
use crate::loom::Mutex;

/// The lock of a channel case, for locking several channels in address order.
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChanLock(pub(crate) *const Mutex<()>);

impl ChanLock {
    /// The address that orders the locks.
    pub(crate) fn addr(self) -> usize {
        self.0 as usize
    }
}

/// What kind of case this is.
#[doc(hidden)]
#[derive(Clone, Copy, Debug)]
pub enum CaseKind {
    /// A case on a nil channel: never ready.
    Nil,
    /// A future case: ready when the future completes.
    Future,
    /// A channel case, with its channel's lock.
    Chan(ChanLock),
}

/// What [`SelectCase::__try_locked`] did.
#[doc(hidden)]
#[derive(Debug)]
pub enum TryLocked {
    /// The case is not ready; nothing changed.
    NotReady,
    /// The case committed; wake this counterpart (if any) after unlocking.
    Committed(Option<Waker>),
}

/// Whether a parked case's waiter is still queued
/// ([`SelectCase::__still_queued_locked`]).
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StillQueued {
    /// Still queued: no counterpart passed it by, its case is not ready.
    Yes,
    /// Not queued (the case is idle now).
    No,
}

/// How the winning case finished ([`SelectCase::__finish`]).
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Finished {
    /// Its output is ready.
    Done,
    /// A send on a closed channel: the engine raises Go's panic.
    SendOnClosed,
}

/// One case of a `select`, as the engine sees it (object safe).
///
/// Build cases with `select::into_case!`; the methods are the
/// engine's protocol and are not meant to be called directly. Methods that
/// only channel cases or only future cases need have default bodies that do
/// nothing (a future case is never queued; a channel case holds no future).
///
/// The trait is sealed: the engine trusts the channel lock a case reports,
/// so only this crate's case types ([`RecvCase`](super::RecvCase),
/// [`SendCase`](super::SendCase), [`FutureCase`](super::FutureCase)) implement it.
///
/// ```
/// use goro_chan::select::{select_blocking, BlockingCase};
/// let ch = goro_chan::make::<i32>(1);
/// ch.try_send(1).unwrap();
/// let mut c0 = goro_chan::select::into_case!(&ch);
/// assert_eq!(select_blocking(&mut [&mut c0 as &mut dyn BlockingCase], false), Some(0));
/// ```
///
/// An implementation outside this crate does not compile:
///
/// ```compile_fail,E0277
/// use goro_chan::select::{CaseKind, SelectCase};
/// struct Evil;
/// impl SelectCase for Evil {
///     fn __kind(&self) -> CaseKind { CaseKind::Nil }
/// }
/// ```
pub trait SelectCase: Send + sealed::Sealed {
    /// What kind of case this is.
    #[doc(hidden)]
    fn __kind(&self) -> CaseKind;

    /// The ready pass: commits the case now if it is ready, and reports
    /// `Ready` if it did. A channel case runs its channel's non-blocking
    /// operation (Go's `selectnbsend`/`selectnbrecv`: lock-free when the
    /// channel certainly cannot proceed, else under the channel lock, which
    /// it releases, waking the counterpart it completed); a future case
    /// polls its future once; a nil case is never ready. No waiter is built.
    ///
    /// # Safety
    ///
    /// No waiter of this case is queued. A future case is polled in place,
    /// as by [`SelectCase::__poll_future`].
    #[doc(hidden)]
    unsafe fn __try_ready(&mut self, _cx: &mut Context<'_>) -> Poll<()> {
        Poll::Pending
    }

    /// Channel cases: commits the case now if its channel is ready.
    ///
    /// # Safety
    ///
    /// The caller holds the lock named by [`SelectCase::__kind`], and no
    /// waiter of this case is queued.
    #[doc(hidden)]
    unsafe fn __try_locked(&mut self) -> TryLocked {
        TryLocked::NotReady
    }

    /// Channel cases: queues this case's waiter as case `index` of `cell`.
    ///
    /// # Safety
    ///
    /// The caller holds the case's channel lock; `cell` outlives the waiter's
    /// time in the queue; the case is not moved until [`SelectCase::__unregister`]
    /// or [`SelectCase::__finish`].
    #[doc(hidden)]
    unsafe fn __enqueue_locked(&mut self, _cell: *const SelCell, _index: usize) {}

    /// Channel cases, after the engine abandoned the cell of a parked select
    /// (to poll its future cases): whether this case's waiter is still
    /// queued (no counterpart skipped it, so it keeps its place and its case
    /// is not ready); if not, the case is reset to idle. A waiter skipped in
    /// place by a party acting for this select (`cell::polling`) whose case
    /// became ready meanwhile is taken out (`No`), so the engine re-checks
    /// it. Called once per re-poll, before the cell is re-armed (own
    /// waiters count as not live only while it is abandoned).
    ///
    /// # Safety
    ///
    /// The caller holds the lock named by [`SelectCase::__kind`], and the
    /// case's cell is `ABANDONED`.
    #[doc(hidden)]
    unsafe fn __still_queued_locked(&mut self) -> StillQueued {
        StillQueued::No
    }

    /// Channel cases: removes this case's waiter from its channel if it is
    /// queued (takes the channel lock). The cell must no longer be `WAITING`.
    #[doc(hidden)]
    fn __unregister(&mut self) {}

    /// Future cases: polls the future; `Ready` once it completed (its output
    /// is stored).
    ///
    /// # Safety
    ///
    /// The future is polled in place: the case must not be moved until
    /// [`SelectCase::__release`] ran, the output was taken, or it is dropped.
    #[doc(hidden)]
    unsafe fn __poll_future(&mut self, _cx: &mut Context<'_>) -> Poll<()> {
        Poll::Pending
    }

    /// Collects the outcome of the winning case after its cell says `DONE`
    /// (or after [`SelectCase::__try_locked`] committed).
    #[doc(hidden)]
    fn __finish(&mut self) -> Finished {
        Finished::Done
    }

    /// Channel cases: the select is dropped after a counterpart committed
    /// this case: a received value goes back to the channel.
    #[doc(hidden)]
    fn __cancel_won(&mut self) {}

    /// Future cases: drops a pending future in place (an un-chosen case).
    #[doc(hidden)]
    fn __release(&mut self) {}

    /// Channel cases: called by the engine after it released the channel
    /// locks under which this case committed or was queued: wakes the
    /// channel's parked stream watchers if a receive became possible (see
    /// `Hchan::wake_watchers`).
    #[doc(hidden)]
    fn __after_unlock(&self) {}

    /// What the case waits through, told to the executor when the select
    /// parks (`goro_hook::note_select_park`).
    #[doc(hidden)]
    fn __parked_via(&self) -> ParkedVia {
        ParkedVia::Unknown
    }
}

/// What a parked case waits through ([`SelectCase::__parked_via`]).
#[doc(hidden)]
#[derive(Clone, Copy, Debug)]
pub enum ParkedVia {
    /// Nothing can complete it (a nil channel).
    Nothing,
    /// A channel, through the handle at this address, whose record this is.
    Handle(usize, goro_hook::RecordKey),
    /// Something the executor cannot see (a future case).
    Unknown,
}

/// The private supertrait that seals [`SelectCase`].
pub(crate) mod sealed {
    /// Implemented only by this crate's case types.
    pub trait Sealed {}
}

/// A case that `select_blocking` accepts: channel cases only.
///
/// ```
/// use goro_chan::select::{select_blocking, BlockingCase};
/// let ch = goro_chan::make::<i32>(1);
/// let mut c0 = goro_chan::select::into_case!(ch.send(5));
/// assert_eq!(select_blocking(&mut [&mut c0 as &mut dyn BlockingCase], false), Some(0));
/// assert_eq!(ch.try_recv(), Ok(5));
/// ```
#[diagnostic::on_unimplemented(
    message = "`select_blocking!` accepts only channel cases (receive, send) and `default`, not `{Self}`",
    label = "a future case needs the async `select!`"
)]
pub trait BlockingCase: SelectCase {
    /// This case as a plain select case.
    #[doc(hidden)]
    fn __as_select_case(&mut self) -> &mut dyn SelectCase;
}

/// The value a committed case produced.
///
/// ```
/// use goro_chan::select::{select_blocking, BlockingCase, CaseOutput};
/// let ch = goro_chan::make::<i32>(1);
/// ch.try_send(5).unwrap();
/// let mut c0 = goro_chan::select::into_case!(ch.recv());
/// assert_eq!(select_blocking(&mut [&mut c0 as &mut dyn BlockingCase], false), Some(0));
/// assert_eq!(c0.take_output(), Some(5));
/// ```
pub trait CaseOutput {
    /// `Option<T>` for a receive, `()` for a send, `F::Output` for a future.
    type Output;

    /// Takes the output of the committed case. Panics if the case did not
    /// commit or the output was already taken.
    fn take_output(&mut self) -> Self::Output;
}
