//! The narrow interface through which channels and sync primitives talk to the
//! runtime.
//!
//! Nothing outside `goro-runtime` knows how the scheduler works. A primitive that
//! is about to return `Poll::Pending` calls [`note_park`] to say *why* the current
//! goroutine parks, *where* (the user's call site), and *on what*; the runtime
//! records it in the goroutine registry so the dump, the deadlock detector and
//! the leak checker can report it. Being woken needs no call: the runtime notes
//! "running" when it polls the goroutine again.
//!
//! Every function here is cheap and a no-op (or a plain default) when the caller
//! is not a goroutine of a goro runtime, so channels and sync primitives work
//! unchanged under tokio, any other executor, or on plain threads.
//!
//! Go: the `waitReason` argument of `runtime.gopark`.

use std::fmt;
use std::panic::Location;

pub use crate::outside::{note_handle_use, note_outside_thread, OutsideThread};
use std::task::{Context, Poll};

/// Why a goroutine is parked, in Go's words (`runtime.waitReason`).
///
/// The [`Display`](fmt::Display) form is exactly the text Go prints in a
/// goroutine traceback header, e.g. `chan receive`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WaitReason {
    /// Blocked sending on a channel.
    ChanSend,
    /// Blocked receiving from a channel.
    ChanReceive,
    /// Blocked forever sending on a nil channel.
    ChanSendNilChan,
    /// Blocked forever receiving from a nil channel.
    ChanReceiveNilChan,
    /// Blocked in a `select!` with at least one case.
    Select,
    /// Blocked forever in `select! {}`.
    SelectNoCases,
    /// `sync.Mutex.Lock`.
    MutexLock,
    /// `sync.RWMutex.RLock`.
    RwMutexRLock,
    /// `sync.RWMutex.Lock`.
    RwMutexLock,
    /// `sync.WaitGroup.Wait`.
    WaitGroupWait,
    /// `sync.Cond.Wait`.
    CondWait,
    /// `sync.Once.Do` (waiting for another caller's function to finish).
    OnceDo,
    /// `time.Sleep`.
    Sleep,
    /// Waiting for a socket to become ready.
    IoWait,
    /// Awaiting a goroutine's `JoinHandle`.
    JoinWait,
    /// Awaiting a future that did not say why it is pending.
    FutureWait,
}

impl WaitReason {
    /// Go's text for this wait reason.
    pub const fn as_str(self) -> &'static str {
        match self {
            WaitReason::ChanSend => "chan send",
            WaitReason::ChanReceive => "chan receive",
            WaitReason::ChanSendNilChan => "chan send (nil chan)",
            WaitReason::ChanReceiveNilChan => "chan receive (nil chan)",
            WaitReason::Select => "select",
            WaitReason::SelectNoCases => "select (no cases)",
            WaitReason::MutexLock => "sync.Mutex.Lock",
            WaitReason::RwMutexRLock => "sync.RWMutex.RLock",
            WaitReason::RwMutexLock => "sync.RWMutex.Lock",
            WaitReason::WaitGroupWait => "sync.WaitGroup.Wait",
            WaitReason::CondWait => "sync.Cond.Wait",
            WaitReason::OnceDo => "sync.Once.Do",
            WaitReason::Sleep => "sleep",
            WaitReason::IoWait => "IO wait",
            WaitReason::JoinWait => "join wait",
            WaitReason::FutureWait => "future wait",
        }
    }
}

impl WaitReason {
    /// Every reason, in declaration order (`ALL[r as usize] == r`).
    const ALL: [WaitReason; 16] = [
        WaitReason::ChanSend,
        WaitReason::ChanReceive,
        WaitReason::ChanSendNilChan,
        WaitReason::ChanReceiveNilChan,
        WaitReason::Select,
        WaitReason::SelectNoCases,
        WaitReason::MutexLock,
        WaitReason::RwMutexRLock,
        WaitReason::RwMutexLock,
        WaitReason::WaitGroupWait,
        WaitReason::CondWait,
        WaitReason::OnceDo,
        WaitReason::Sleep,
        WaitReason::IoWait,
        WaitReason::JoinWait,
        WaitReason::FutureWait,
    ];

    /// The inverse of `r as u8` (for the registry's lock-free wait cell).
    pub(crate) fn from_u8(v: u8) -> WaitReason {
        Self::ALL
            .get(usize::from(v))
            .copied()
            .unwrap_or(WaitReason::FutureWait)
    }
}

#[cfg(test)]
#[test]
fn wait_reason_round_trips_through_u8() {
    for r in WaitReason::ALL {
        assert_eq!(WaitReason::from_u8(r as u8), r);
    }
}

impl fmt::Display for WaitReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a parked goroutine waits on, as seen at the moment it parked.
///
/// A plain `Copy` snapshot so that parking never allocates. `id` identifies the
/// object (the address of its shared state) so that analyses can group the
/// goroutines parked on the same channel or lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WaitObject {
    /// Identity of the object: the address of its shared state, stable while
    /// any handle to it exists.
    pub id: usize,
    /// Where the object was created (`make::<T>(..)`, `Mutex::new`, ...).
    pub made_at: Option<&'static Location<'static>>,
    /// Kind-specific detail.
    pub detail: ObjectDetail,
}

/// Kind-specific part of a [`WaitObject`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ObjectDetail {
    /// A channel with its capacity and its length when the goroutine parked.
    Chan {
        /// Buffer capacity (0: unbuffered).
        cap: usize,
        /// Buffered values when the goroutine parked.
        len: usize,
    },
    /// Any other object, named by its Go type (`sync.Mutex`, ...).
    Other(&'static str),
}

impl fmt::Display for WaitObject {
    /// `chan (unbuffered, len 0) made at src/search.rs:35:13`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.detail {
            ObjectDetail::Chan { cap: 0, len } => write!(f, "chan (unbuffered, len {len})")?,
            ObjectDetail::Chan { cap, len } => write!(f, "chan (cap {cap}, len {len})")?,
            ObjectDetail::Other(name) => f.write_str(name)?,
        }
        if let Some(at) = self.made_at {
            write!(f, " made at {}:{}:{}", at.file(), at.line(), at.column())?;
        }
        Ok(())
    }
}

/// Notes that the current goroutine is about to park (return `Poll::Pending`)
/// for `reason`, at the user's call site `at`, waiting on `on`.
///
/// Call it on the path that returns `Pending`, after the waker is registered.
/// A later call in the same poll replaces an earlier one (a `select!` notes
/// [`WaitReason::Select`] after its cases noted theirs). Off a goro runtime this
/// does nothing.
#[inline]
pub fn note_park(reason: WaitReason, at: &'static Location<'static>, on: Option<WaitObject>) {
    crate::context::note_park(reason, Some(at), on)
}

/// The cooperative budget: call at the start of every operation that may
/// complete without waiting (a ready channel send or receive).
///
/// Returns `Poll::Pending` (after waking the task, so it is rescheduled behind
/// the other runnable goroutines) once the current goroutine has used up its
/// budget in this poll; the operation must then return `Pending` *before*
/// committing anything. Off a goro runtime it is always `Ready`.
///
/// Go: the scheduler's preemption of a goroutine that runs too long.
#[inline]
pub fn poll_budget(cx: &mut Context<'_>) -> Poll<()> {
    crate::context::poll_budget(cx)
}

/// A uniformly random number in `0..n` (`n > 0`), from the current runtime's
/// generator when called on a goroutine (seeded by `Builder::rng_seed`, so
/// `select!` choices are reproducible), else from a thread-local generator.
#[inline]
pub fn rand_below(n: u32) -> u32 {
    crate::context::rand_below(n)
}
