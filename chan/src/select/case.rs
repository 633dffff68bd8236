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
//! 2. [`SelectCase::__try_locked`]: commit now if the channel is ready
//!    (lock held by the engine);
//! 3. [`SelectCase::__enqueue_locked`]: queue the case's waiter on the
//!    select's cell (lock held);
//! 4. after waking: [`SelectCase::__finish`] for the winner,
//!    [`SelectCase::__unregister`] for every other case,
//!    [`SelectCase::__release`] to drop un-chosen futures in place, and
//!    [`SelectCase::__cancel_won`] when a select is dropped after a
//!    counterpart committed one of its cases.
//!
//! The methods are hidden: only the engine calls them, and only the case
//! types of this module implement the trait.
//!
//! # Invariants
//!
//! - A case whose waiter was enqueued is not moved until it was unregistered
//!   or finished: it is borrowed by the select future, which unregisters
//!   everything before it completes and in its `Drop`. (The `select!` macro
//!   keeps cases as locals of the awaiting future, which is pinned.)

use std::task::{Context, Waker};

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

/// One case of a `select`, as the engine sees it (object safe).
///
/// Build cases with `select::into_case!`; the methods are the
/// engine's protocol and are not meant to be called directly.
///
/// ```
/// use goro_chan::select::{select, SelectCase};
/// let ch = goro_chan::make::<i32>(1);
/// ch.try_send(1).unwrap();
/// let mut c0 = goro_chan::select::into_case!(&ch);
/// let i = futures::executor::block_on(select(&mut [&mut c0 as &mut dyn SelectCase], false));
/// assert_eq!(i, Some(0));
/// ```
pub trait SelectCase: Send {
    /// What kind of case this is.
    #[doc(hidden)]
    fn __kind(&self) -> CaseKind;

    /// Lock-free fast-fail: true when the case is certainly not ready now
    /// (Go's `selectnbsend`/`selectnbrecv` checks).
    #[doc(hidden)]
    fn __would_block(&self) -> bool;

    /// Commits the case now if its channel is ready; returns the waker of the
    /// counterpart to wake after unlocking (`Some(None)`: committed, nobody to wake).
    ///
    /// # Safety
    ///
    /// The caller holds the lock named by [`SelectCase::__kind`], and no
    /// waiter of this case is queued.
    #[doc(hidden)]
    unsafe fn __try_locked(&mut self) -> Option<Option<Waker>>;

    /// Queues this case's waiter as case `index` of `cell`.
    ///
    /// # Safety
    ///
    /// The caller holds the case's channel lock; `cell` outlives the waiter's
    /// time in the queue; the case is not moved until [`SelectCase::__unregister`]
    /// or [`SelectCase::__finish`].
    #[doc(hidden)]
    unsafe fn __enqueue_locked(&mut self, cell: *const SelCell, index: usize);

    /// Removes this case's waiter from its channel if it is queued (takes the
    /// channel lock). The cell must no longer be `WAITING`.
    #[doc(hidden)]
    fn __unregister(&mut self);

    /// Polls a future case; true once it completed (its output is stored).
    #[doc(hidden)]
    fn __poll_future(&mut self, cx: &mut Context<'_>) -> bool;

    /// Collects the outcome of the winning case after its cell says `DONE`
    /// (or after [`SelectCase::__try_locked`] committed). Returns true for a
    /// send on a closed channel, which the engine turns into Go's panic.
    #[doc(hidden)]
    fn __finish(&mut self) -> bool;

    /// The select is dropped after a counterpart committed this case: a
    /// received value goes back to the channel.
    #[doc(hidden)]
    fn __cancel_won(&mut self);

    /// Drops a pending future in place (an un-chosen future case).
    #[doc(hidden)]
    fn __release(&mut self);
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
