//! The poll scope: what an executor tells the primitives about the goroutine
//! it is polling, and what they tell it back.
//!
//! Go: `getg()` — the running goroutine — as seen by `gopark` (the wait
//! reason) and by `fastrand` (the per-M generator).
//!
//! # Design
//!
//! An executor that wants goro's diagnostics creates a [`PollScope`] on its
//! stack for each poll of a goroutine and polls inside
//! [`PollScope::enter`]. `enter` points a thread-local at the scope and
//! restores the previous value when the closure returns or unwinds, so
//! scopes nest (a runtime polled inside another runtime's goroutine) and a
//! primitive always sees the innermost one. Every hook is then one
//! thread-local load, a null check and plain `Cell` reads and writes: no
//! lock, no allocation, no virtual call. After the poll the executor reads
//! what was noted ([`PollScope::park`], [`PollScope::rng_state`]).
//!
//! # Invariants
//!
//! - `CURRENT` is non-null only inside `PollScope::enter`, and then points to
//!   the scope `enter` was called on, which is borrowed (so alive and not
//!   moved) for the whole call.
//! - A `&PollScope` obtained from `CURRENT` never outlives the closure of
//!   `with_current` (the closure is generic over the reference's lifetime).
//!   `PollScope` is `!Sync` (it holds `Cell`s), so it never reaches another
//!   thread.

use std::cell::Cell;
use std::fmt;
use std::panic::Location;
use std::ptr;
use std::task::{Context, Poll, Waker};

use crate::rng;
use crate::{RecordKey, WaitObject, WaitReason};

thread_local! {
    /// The innermost scope entered on this thread (see module invariants).
    static CURRENT: Cell<*const PollScope<'static>> = const { Cell::new(ptr::null()) };
}

/// Runs `f` with the innermost scope entered on this thread, if any.
#[inline]
fn with_current<R>(f: impl for<'s> FnOnce(Option<&'s PollScope<'s>>) -> R) -> R {
    let p = CURRENT.with(Cell::get);
    // SAFETY: a non-null `CURRENT` points to a scope alive for the whole
    // `enter` call we are inside of (module invariants); the reference given
    // to `f` cannot outlive `f`, which returns before `enter` does.
    f(unsafe { p.as_ref() })
}

/// A park noted during a poll: why, where and on what the goroutine waits.
///
/// ```
/// use goro_hook::{PollScope, WaitReason};
/// use std::panic::Location;
///
/// let waker = std::task::Waker::noop();
/// let scope = PollScope::new(7, waker);
/// scope.enter(|| goro_hook::note_park(WaitReason::Sleep, Location::caller(), None));
/// let note = scope.park().unwrap();
/// assert_eq!(note.reason, WaitReason::Sleep);
/// assert!(note.on.is_none());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ParkNote {
    /// Why the goroutine parks.
    pub reason: WaitReason,
    /// The user's call site of the parking operation.
    pub at: &'static Location<'static>,
    /// What it waits on, when the primitive knows.
    pub on: Option<WaitObject>,
}

/// One poll of one goroutine, as the executor polling it describes it to
/// the primitives (and learns back from them).
///
/// Create it on the stack right before polling the goroutine's future, poll
/// inside [`enter`](Self::enter), then read [`park`](Self::park) if the poll
/// returned `Pending` and keep [`rng_state`](Self::rng_state) for the next
/// poll. Without a scope every hook is a no-op, which is what other
/// executors (tokio, plain threads) get.
///
/// ```
/// use std::task::{Context, Poll};
/// use goro_hook::PollScope;
///
/// let waker = std::task::Waker::noop();
/// let scope = PollScope::new(42, waker).with_budget(2).with_rng_state(1);
/// let polled = scope.enter(|| {
///     assert_eq!(goro_hook::current_goroutine(), Some(42));
///     let cx = Context::from_waker(waker);
///     (0..3).map(|_| goro_hook::poll_budget(&cx)).collect::<Vec<_>>()
/// });
/// assert_eq!(polled, [Poll::Ready(()), Poll::Ready(()), Poll::Pending]);
/// assert_eq!(goro_hook::current_goroutine(), None);
/// ```
pub struct PollScope<'a> {
    /// The goroutine's id, as the executor numbers it (Go: `goid`). Set once.
    goroutine: u64,
    /// The waker the goroutine is polled with. Set once.
    waker: &'a Waker,
    /// Ready operations left before [`poll_budget`] says `Pending`.
    budget: Cell<u32>,
    /// The goroutine's generator state ([`rand_below`]).
    rng: Cell<u64>,
    /// The last [`note_park`] of this poll.
    park: Cell<Option<ParkNote>>,
    /// The last [`note_handle_use`] of this poll.
    handle: Cell<Option<HandleNote>>,
    /// The handles the last [`note_select_park`] of this poll parked
    /// through (`None`: none, or a case that proves nothing).
    select: Cell<Option<SelectNote>>,
    /// [`note_park`] calls in this poll.
    parks: Cell<u32>,
    /// Where the goroutine was spawned, if the executor said. Set once.
    spawned_at: Option<&'static Location<'static>>,
}

/// The last noted use of a primitive's handle in a poll ([`note_handle_use`],
/// [`note_chan_use`]: goro's channels note the handle an operation parks
/// through): which handle (its address), of which object, how
/// many handles of that object existed then (when counted), and the
/// object's record.
///
/// The executor uses it to prove a goroutine parked forever: a goroutine
/// parked on an object through a handle that lies inside its own (pinned)
/// future is the only one that can use that handle; if the object's record
/// later counts no handle but such ones, held by goroutines parked on it,
/// nobody can ever reach the object again. A use noted in a poll is
/// forgotten if that handle is dropped in the same poll.
///
/// ```
/// let scope = goro_hook::PollScope::new(3, std::task::Waker::noop());
/// scope.enter(|| goro_hook::note_handle_use(0x1000, 0x2000, 1));
/// if goro_hook::HANDLE_TRACKING {
///     let h = scope.handle_use().unwrap();
///     assert_eq!((h.handle, h.object, h.handles), (0x1000, 0x2000, 1));
/// } else {
///     assert!(scope.handle_use().is_none()); // compiled out
/// }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct HandleNote {
    /// Address of the handle used.
    pub handle: usize,
    /// The object's identity ([`WaitObject::id`]).
    pub object: usize,
    /// Live handles of the object at that moment (the one used included);
    /// 0 when not counted ([`note_chan_use`]: the executor asks the
    /// object's record instead).
    pub handles: usize,
    /// The object's record, if it keeps one ([`note_chan_use`]).
    pub record: Option<RecordKey>,
}

impl<'a> PollScope<'a> {
    /// A scope for polling goroutine `goroutine` with `waker` (the waker of
    /// the `Context` the executor polls the goroutine's future with), with
    /// an unlimited budget and a generator seeded from `goroutine`.
    ///
    /// ```
    /// let scope = goro_hook::PollScope::new(1, std::task::Waker::noop());
    /// assert_eq!(scope.goroutine(), 1);
    /// ```
    pub fn new(goroutine: u64, waker: &'a Waker) -> Self {
        PollScope {
            goroutine,
            waker,
            budget: Cell::new(u32::MAX),
            rng: Cell::new(goroutine),
            park: Cell::new(None),
            handle: Cell::new(None),
            select: Cell::new(None),
            parks: Cell::new(0),
            spawned_at: None,
        }
    }

    /// Says where the goroutine was spawned (recorded by primitives that
    /// remember who dropped their handles).
    ///
    /// ```
    /// let at = std::panic::Location::caller();
    /// let scope = goro_hook::PollScope::new(1, std::task::Waker::noop()).with_spawned_at(at);
    /// assert_eq!(scope.spawned_at(), Some(at));
    /// ```
    #[must_use]
    pub fn with_spawned_at(mut self, at: &'static Location<'static>) -> Self {
        self.spawned_at = Some(at);
        self
    }

    /// Where the goroutine was spawned, if the executor said.
    pub fn spawned_at(&self) -> Option<&'static Location<'static>> {
        self.spawned_at
    }

    /// How many parks were noted in this poll: more than one means the
    /// goroutine waits on several things at once (`join!` and the like),
    /// and the last one alone says nothing about when it may be woken.
    ///
    /// ```
    /// let scope = goro_hook::PollScope::new(1, std::task::Waker::noop());
    /// assert_eq!(scope.parks(), 0);
    /// ```
    pub fn parks(&self) -> u32 {
        self.parks.get()
    }

    /// Allows `budget` ready operations in this poll (see [`poll_budget`]).
    ///
    /// ```
    /// let scope = goro_hook::PollScope::new(1, std::task::Waker::noop()).with_budget(128);
    /// assert_eq!(scope.budget(), 128);
    /// ```
    #[must_use]
    pub fn with_budget(self, budget: u32) -> Self {
        self.budget.set(budget);
        self
    }

    /// Continues the goroutine's generator from `state` (what
    /// [`rng_state`](Self::rng_state) returned after its previous poll, or a
    /// seed).
    ///
    /// ```
    /// let scope = goro_hook::PollScope::new(1, std::task::Waker::noop()).with_rng_state(9);
    /// assert_eq!(scope.rng_state(), 9);
    /// ```
    #[must_use]
    pub fn with_rng_state(self, state: u64) -> Self {
        self.rng.set(state);
        self
    }

    /// Runs `f` (the poll) with this scope as the current one on this
    /// thread; the previous scope, if any, is current again when `f`
    /// returns or unwinds.
    ///
    /// ```
    /// let scope = goro_hook::PollScope::new(3, std::task::Waker::noop());
    /// assert_eq!(scope.enter(goro_hook::current_goroutine), Some(3));
    /// ```
    pub fn enter<R>(&self, f: impl FnOnce() -> R) -> R {
        /// Restores the previous `CURRENT` on drop (also when `f` unwinds).
        struct Restore(*const PollScope<'static>);
        impl Drop for Restore {
            fn drop(&mut self) {
                CURRENT.with(|c| c.set(self.0));
            }
        }
        let this = ptr::from_ref(self).cast::<PollScope<'static>>();
        let _restore = Restore(CURRENT.with(|c| c.replace(this)));
        f()
    }

    /// The goroutine this scope polls.
    ///
    /// ```
    /// assert_eq!(goro_hook::PollScope::new(5, std::task::Waker::noop()).goroutine(), 5);
    /// ```
    pub fn goroutine(&self) -> u64 {
        self.goroutine
    }

    /// The last park noted in this scope (see [`note_park`]), if any.
    ///
    /// ```
    /// assert!(goro_hook::PollScope::new(5, std::task::Waker::noop()).park().is_none());
    /// ```
    pub fn park(&self) -> Option<ParkNote> {
        self.park.get()
    }

    /// Notes `park` as this poll's last park, and counts it.
    #[inline]
    fn record_park(&self, park: ParkNote) {
        self.park.set(Some(park));
        self.parks.set(self.parks.get().saturating_add(1));
    }

    /// The last handle use noted in this scope (see [`HandleNote`]); always
    /// `None` when tracking is compiled out ([`HANDLE_TRACKING`](crate::HANDLE_TRACKING)).
    pub fn handle_use(&self) -> Option<HandleNote> {
        self.handle.get()
    }

    /// The handles the last select of this poll parked through
    /// ([`note_select_park`]), if every channel case named its handle and
    /// there were at most [`SELECT_NOTE_CASES`]; always `None` when
    /// tracking is compiled out.
    ///
    /// ```
    /// assert!(goro_hook::PollScope::new(5, std::task::Waker::noop()).select_handles().is_none());
    /// ```
    pub fn select_handles(&self) -> Option<SelectNote> {
        self.select.get()
    }

    /// The ready operations left in this poll's budget.
    ///
    /// ```
    /// assert_eq!(goro_hook::PollScope::new(5, std::task::Waker::noop()).budget(), u32::MAX);
    /// ```
    pub fn budget(&self) -> u32 {
        self.budget.get()
    }

    /// The generator state to continue from in the goroutine's next poll.
    ///
    /// ```
    /// let scope = goro_hook::PollScope::new(5, std::task::Waker::noop()).with_rng_state(1);
    /// scope.enter(|| goro_hook::rand_below(10));
    /// assert_ne!(scope.rng_state(), 1);
    /// ```
    pub fn rng_state(&self) -> u64 {
        self.rng.get()
    }
}

impl fmt::Debug for PollScope<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PollScope")
            .field("goroutine", &self.goroutine)
            .field("budget", &self.budget.get())
            .field("park", &self.park.get())
            .finish_non_exhaustive()
    }
}

/// The id of the goroutine being polled on this thread (the innermost
/// [`PollScope`]), if any.
///
/// ```
/// assert_eq!(goro_hook::current_goroutine(), None);
/// ```
#[inline]
pub fn current_goroutine() -> Option<u64> {
    with_current(|s| s.map(|s| s.goroutine))
}

/// Notes a use of a primitive's handle through which the goroutine parks
/// (goro's channels call [`note_chan_use`] when an operation parks, not on
/// ready operations): `handle` is the handle's address, `object` the
/// object's identity (as in [`WaitObject::id`]), `handles` how many handles
/// of it are alive now. On a goroutine: one `Cell` store in its scope
/// ([`PollScope::handle_use`]). Off any goroutine: the thread becomes an
/// outside participant of the deadlock check (see
/// [`note_outside_thread`](crate::note_outside_thread)).
///
/// ```
/// goro_hook::note_handle_use(0x10, 0x20, 1);
/// ```
#[inline]
pub fn note_handle_use(handle: usize, object: usize, handles: usize) {
    note_use(HandleNote {
        handle,
        object,
        handles,
        record: None,
    });
}

/// The common part of [`note_handle_use`] and [`note_chan_use`]: on a
/// goroutine, one `Cell` store; off any, the thread becomes an outside
/// participant of the deadlock check.
///
/// Built with `--cfg goro_no_tracking` ([`HANDLE_TRACKING`](crate::HANDLE_TRACKING)
/// `false`): nothing is stored on a goroutine (the off-goroutine part,
/// which the deadlock check needs, stays).
#[inline]
#[cfg_attr(goro_no_tracking, allow(unused_variables))]
fn note_use(note: HandleNote) {
    let on_goroutine = with_current(|s| match s {
        Some(s) => {
            #[cfg(not(goro_no_tracking))]
            s.handle.set(Some(note));
            true
        }
        None => false,
    });
    if !on_goroutine {
        crate::outside::note_use_off_goroutine();
    }
}

/// [`note_handle_use`] for an object that keeps a record
/// ([`RecordSlot`](crate::RecordSlot)): the executor counts its handles
/// through the record when it needs to, so the operation does not.
/// goro-chan calls it when a send or receive parks, naming the handle it
/// parks through; ready operations only call
/// [`note_primitive_use`](crate::note_primitive_use), so the proof costs
/// the hot path nothing.
///
/// ```
/// let slot = goro_hook::RecordSlot::new();
/// let scope = goro_hook::PollScope::new(3, std::task::Waker::noop());
/// scope.enter(|| goro_hook::note_chan_use(0x1000, 0x2000, slot.key()));
/// if goro_hook::HANDLE_TRACKING {
///     assert_eq!(scope.handle_use().unwrap().record, Some(slot.key()));
/// }
/// ```
#[inline]
pub fn note_chan_use(handle: usize, object: usize, record: RecordKey) {
    note_use(HandleNote {
        handle,
        object,
        handles: 0,
        record: Some(record),
    });
}

/// The handle at address `handle` is being dropped: forgets a use of it
/// noted in this poll; returns the current goroutine's id and spawn site,
/// if polled in a scope.
#[inline]
#[cfg_attr(goro_no_tracking, allow(dead_code))]
pub(crate) fn dropping_handle(handle: usize) -> (Option<u64>, Option<&'static Location<'static>>) {
    with_current(|s| match s {
        Some(s) => {
            if s.handle.get().is_some_and(|h| h.handle == handle) {
                s.handle.set(None);
            }
            if s.select
                .get()
                .is_some_and(|n| n.handles().contains(&handle))
            {
                s.select.set(None);
            }
            (Some(s.goroutine), s.spawned_at)
        }
        None => (None, None),
    })
}

/// Notes that the current goroutine is about to park (return `Poll::Pending`)
/// for `reason`, at the user's call site `at`, waiting on `on`.
///
/// Call it on the path that returns `Pending`, after the waker is registered.
/// A later call in the same poll replaces an earlier one (a `select!` notes
/// [`WaitReason::Select`] after its cases noted theirs). Off a goro runtime this
/// does nothing.
///
/// ```
/// use goro_hook::{note_park, WaitReason};
/// // Off the runtime: a no-op.
/// note_park(WaitReason::ChanReceive, std::panic::Location::caller(), None);
/// ```
#[inline]
pub fn note_park(reason: WaitReason, at: &'static Location<'static>, on: Option<WaitObject>) {
    with_current(|s| {
        if let Some(s) = s {
            s.record_park(ParkNote { reason, at, on });
        }
    })
}

/// [`note_park`] for a channel operation that parks through the handle at
/// address `handle` on the channel `on` whose record is `record`: notes the
/// park and, as [`note_chan_use`] does, the handle it parks through (the
/// executor's proof of "parked forever"), with one thread-local access. The
/// handle part is compiled out with `--cfg goro_no_tracking`.
///
/// ```
/// use goro_hook::{ObjectDetail, PollScope, RecordSlot, WaitObject, WaitReason};
/// let slot = RecordSlot::new();
/// let on = WaitObject { id: 0x2000, made_at: None, detail: ObjectDetail::Other("chan") };
/// let scope = PollScope::new(3, std::task::Waker::noop());
/// let at = std::panic::Location::caller();
/// scope.enter(|| goro_hook::note_chan_park(WaitReason::ChanSend, at, on, 0x1000, slot.key()));
/// assert_eq!(scope.park().unwrap().reason, WaitReason::ChanSend);
/// if goro_hook::HANDLE_TRACKING {
///     assert_eq!(scope.handle_use().unwrap().handle, 0x1000);
/// }
/// ```
#[inline]
#[cfg_attr(goro_no_tracking, allow(unused_variables))]
pub fn note_chan_park(
    reason: WaitReason,
    at: &'static Location<'static>,
    on: WaitObject,
    handle: usize,
    record: RecordKey,
) {
    with_current(|s| {
        if let Some(s) = s {
            #[cfg(not(goro_no_tracking))]
            s.handle.set(Some(HandleNote {
                handle,
                object: on.id,
                handles: 0,
                record: Some(record),
            }));
            s.record_park(ParkNote {
                reason,
                at,
                on: Some(on),
            });
        }
    })
}

/// Most channel cases of one select whose handles [`note_select_park`]
/// keeps; a select with more proves nothing.
pub const SELECT_NOTE_CASES: usize = 4;

/// The handles a select parked through ([`note_select_park`],
/// [`PollScope::select_handles`]): per channel case (nil cases left out),
/// the address of its handle and its channel's record
/// ([`RecordKey::to_bits`]), at most [`SELECT_NOTE_CASES`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SelectNote {
    handles: [usize; SELECT_NOTE_CASES],
    records: [u64; SELECT_NOTE_CASES],
    len: u8,
}

impl SelectNote {
    /// The addresses of the channel cases' handles.
    pub fn handles(&self) -> &[usize] {
        &self.handles[..usize::from(self.len)]
    }

    /// The channel cases' records ([`RecordKey::to_bits`]), in the order of
    /// [`handles`](Self::handles).
    pub fn records(&self) -> &[u64] {
        &self.records[..usize::from(self.len)]
    }

    /// The note of `cases`, `None` if one of them is `None` or there are
    /// more than [`SELECT_NOTE_CASES`] (or none).
    #[cfg_attr(goro_no_tracking, allow(dead_code))]
    fn of(cases: impl IntoIterator<Item = Option<(usize, RecordKey)>>) -> Option<Self> {
        let mut note = SelectNote {
            handles: [0; SELECT_NOTE_CASES],
            records: [0; SELECT_NOTE_CASES],
            len: 0,
        };
        for case in cases {
            let (handle, record) = case?;
            let i = usize::from(note.len);
            *note.handles.get_mut(i)? = handle;
            note.records[i] = record.to_bits();
            note.len += 1;
        }
        (note.len > 0).then_some(note)
    }
}

/// [`note_park`] for a select ([`WaitReason::Select`]) that parks on its
/// channel cases: `cases` gives, per channel case (nil cases left out),
/// the address of the handle the case holds or borrows and the channel's
/// record, or `None` for a case that holds no handle (a future case): then
/// the select proves nothing. As for
/// [`note_chan_park`], the executor uses the handles for its proof of
/// "parked forever" ([`PollScope::select_handles`]); that part is compiled
/// out with `--cfg goro_no_tracking`.
///
/// ```
/// use goro_hook::{PollScope, RecordSlot, WaitReason};
/// let (a, b) = (RecordSlot::new(), RecordSlot::new());
/// let scope = PollScope::new(3, std::task::Waker::noop());
/// let at = std::panic::Location::caller();
/// scope.enter(|| {
///     goro_hook::note_select_park(at, [Some((0x10, a.key())), Some((0x18, b.key()))])
/// });
/// assert_eq!(scope.park().unwrap().reason, WaitReason::Select);
/// if goro_hook::HANDLE_TRACKING {
///     let note = scope.select_handles().unwrap();
///     assert_eq!(note.handles(), [0x10, 0x18]);
///     assert_eq!(note.records(), [a.key().to_bits(), b.key().to_bits()]);
/// }
/// ```
#[inline]
#[cfg_attr(goro_no_tracking, allow(unused_variables))]
pub fn note_select_park<I>(at: &'static Location<'static>, cases: I)
where
    I: IntoIterator<Item = Option<(usize, RecordKey)>>,
{
    with_current(|s| {
        if let Some(s) = s {
            #[cfg(not(goro_no_tracking))]
            s.select.set(SelectNote::of(cases));
            s.record_park(ParkNote {
                reason: WaitReason::Select,
                at,
                on: None,
            });
        }
    })
}

/// The cooperative budget: call at the start of every operation that may
/// complete without waiting (a ready channel send or receive).
///
/// Returns `Poll::Pending` (after waking the task, so it is rescheduled behind
/// the other runnable goroutines) once the current goroutine has used up its
/// budget in this poll; the operation must then return `Pending` *before*
/// committing anything. Off a goro runtime it is always `Ready`.
///
/// Only operations polled with the goroutine's own waker are charged. An
/// operation polled by a nested executor inside the goroutine (e.g. a
/// channel's `recv_blocking`, which polls with a thread-parking waker) is
/// not: yielding there would only make the nested executor re-poll at once,
/// forever, because the budget refills only when the executor polls the
/// goroutine again. (A combinator that polls sub-futures with its own waker,
/// like `FuturesUnordered`, is likewise not charged; it has its own yield
/// rule.)
///
/// Go: the scheduler's preemption of a goroutine that runs too long.
///
/// ```
/// let cx = std::task::Context::from_waker(std::task::Waker::noop());
/// assert!(goro_hook::poll_budget(&cx).is_ready());
/// ```
#[inline]
pub fn poll_budget(cx: &Context<'_>) -> Poll<()> {
    with_current(|s| match s {
        Some(s) if polled_with_own_waker(s, cx) => charge(s, cx),
        _ => Poll::Ready(()),
    })
}

/// Whether `cx` is the goroutine's own poll context (see [`poll_budget`]):
/// its waker has the data pointer of the scope's. The data pointer alone
/// decides: another executor's waker has its own data; a waker with the
/// same data and another vtable is a copy of the goroutine's own (the waker
/// watch's foreign clones share the data), whose wake reaches the goroutine
/// just the same. One comparison instead of `will_wake`'s two.
#[inline]
fn polled_with_own_waker(s: &PollScope<'_>, cx: &Context<'_>) -> bool {
    cx.waker().data() == s.waker.data()
}

/// One ready operation of the goroutine `s` polls, charged to its budget
/// (see [`poll_budget`]).
#[inline]
fn charge(s: &PollScope<'_>, cx: &Context<'_>) -> Poll<()> {
    let left = s.budget.get();
    if left == 0 {
        cx.waker().wake_by_ref();
        Poll::Pending
    } else {
        s.budget.set(left - 1);
        Poll::Ready(())
    }
}

/// [`poll_budget`], and off a goroutine what
/// [`note_primitive_use`](crate::note_primitive_use) does, with one look at
/// the current scope: for an operation whose first poll is where the
/// calling thread uses the primitive (a lock's).
///
/// ```
/// let cx = std::task::Context::from_waker(std::task::Waker::noop());
/// assert!(goro_hook::poll_budget_noting_use(&cx).is_ready());
/// ```
#[inline]
pub fn poll_budget_noting_use(cx: &Context<'_>) -> Poll<()> {
    with_current(|s| match s {
        Some(s) if polled_with_own_waker(s, cx) => charge(s, cx),
        Some(_) => Poll::Ready(()),
        None => {
            crate::outside::note_use_off_goroutine();
            Poll::Ready(())
        }
    })
}

/// A uniformly random number in `0..n` (`n > 0`), from the current
/// goroutine's generator when called inside a [`PollScope`] (the goro
/// runtime seeds it from `Builder::rng_seed`, so `select!` choices are
/// reproducible), else from a thread-local generator.
///
/// ```
/// assert!(goro_hook::rand_below(6) < 6);
/// ```
#[inline]
pub fn rand_below(n: u32) -> u32 {
    debug_assert!(n > 0, "rand_below(0)");
    with_current(|s| s.map(|s| rng::below(&s.rng, n))).unwrap_or_else(|| rng::thread_below(n))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::Wake;

    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    #[test]
    fn scopes_nest_and_unwind_restores_the_outer_one() {
        let w = Waker::noop();
        let outer = PollScope::new(1, w);
        outer.enter(|| {
            let inner = PollScope::new(2, w);
            inner.enter(|| assert_eq!(current_goroutine(), Some(2)));
            assert_eq!(current_goroutine(), Some(1));
            let r = std::panic::catch_unwind(|| {
                PollScope::new(3, w).enter(|| panic!("boom"));
            });
            assert!(r.is_err());
            assert_eq!(current_goroutine(), Some(1));
        });
        assert_eq!(current_goroutine(), None);
    }

    #[test]
    fn the_last_park_noted_wins() {
        let scope = PollScope::new(1, Waker::noop());
        let at = Location::caller();
        scope.enter(|| {
            note_park(WaitReason::ChanSend, at, None);
            note_park(WaitReason::Select, at, None);
        });
        assert_eq!(scope.park().map(|p| p.reason), Some(WaitReason::Select));
        // Outside the scope, noting does nothing.
        note_park(WaitReason::Sleep, at, None);
        assert_eq!(scope.park().map(|p| p.reason), Some(WaitReason::Select));
    }

    #[test]
    fn an_exhausted_budget_wakes_the_goroutine_and_other_wakers_are_not_charged() {
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        let scope = PollScope::new(1, &waker).with_budget(1);
        scope.enter(|| {
            let nested = Context::from_waker(Waker::noop());
            for _ in 0..10 {
                assert!(poll_budget(&nested).is_ready());
            }
            let cx = Context::from_waker(&waker);
            assert!(poll_budget(&cx).is_ready());
            assert!(poll_budget(&cx).is_pending());
        });
        assert_eq!(count.0.load(Ordering::Relaxed), 1);
        assert_eq!(scope.budget(), 0);
    }

    #[test]
    fn the_same_rng_state_gives_the_same_draws_in_a_scope() {
        let draw = |state| {
            let scope = PollScope::new(1, Waker::noop()).with_rng_state(state);
            scope.enter(|| (0..16).map(|_| rand_below(100)).collect::<Vec<_>>())
        };
        assert_eq!(draw(5), draw(5));
        assert_ne!(draw(5), draw(6));
    }
}
