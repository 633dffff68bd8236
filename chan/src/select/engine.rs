//! The select engine: Go's `selectgo` as a future, in named passes.
//!
//! Go: `runtime/select.go` (`selectgo`, `sellock`, `selunlock`).
//!
//! # Design
//!
//! Each poll of a fresh select looks at its cases in a fresh uniformly
//! random order (Go's `pollorder`, a Fisher-Yates shuffle drawn lazily from
//! the goroutine's generator, `hook::rand_below`: see `super::order`),
//! then:
//!
//! 1. The ready pass: each case in that order, one at a time, through its
//!    own non-blocking operation ([`SelectCase::__try_ready`]: for a
//!    channel case the channel's `try_send`/`try_recv`, lock-free when the
//!    channel certainly cannot proceed, else under that channel's lock
//!    alone; a future case is polled outside every lock). The first ready
//!    case commits and the select completes: no waiter was built, no other
//!    channel touched, only the looked-at part of the order drawn.
//!    If none was ready:
//!    - with `default` and at most one channel case, or with `default` and
//!      future cases: take `default` (a single non-blocking operation is
//!      linearizable by itself, Go's `selectnbsend`/`selectnbrecv`);
//!    - otherwise lock every channel once, in address order (Go's
//!      `lockorder`/`sellock`), and re-check the channel cases under all
//!      the locks, so that `default` is taken only if no case was ready at
//!      one moment (Go's `TestNonblockSelectRace`: the one-by-one pass does
//!      not show one moment).
//! 2. Still under all the locks, queue one waiter per channel case, all
//!    pointing to this select's selection cell, then unlock and park.
//! 3. When woken, the cell names the winner: the case whose counterpart won
//!    the cell's CAS (`src/cell.rs`). Unregister the losers, finish the
//!    winner, drop un-chosen futures in place.
//!
//! Future cases are polled outside every channel lock. A future that completes
//! while the select is parked must not race a channel counterpart, so on each
//! wake-up a select with future cases first abandons its cell (if that CAS
//! fails, a channel case already won and is taken). Its channel waiters stay
//! queued meanwhile (counterparts skip, and unlink, the waiters of an
//! abandoned cell), so they keep their FIFO places: if no future completed,
//! the engine re-checks under all the locks only the channel cases whose
//! waiter was skipped, re-queues those at the tail, and re-arms the cell
//! (`ABANDONED -> WAITING`). Between the abandon and the re-arm the select
//! is briefly not waiting on its channels: a counterpart arriving then passes
//! it by (as if it had come a moment earlier than the select's wake-up was
//! handled). Without future cases a wake-up that finds the cell still
//! `WAITING` is spurious and only refreshes the waker.
//!
//! Dropping the select (cancellation) abandons the cell; if a counterpart won
//! it first, a received value goes back to its channel (as for a dropped
//! `Recv`) and a completed send stays completed.
//!
//! # Invariants
//!
//! - Exactly one case commits: a channel case commits only through its
//!   channel's operations, after winning the cell (queued) or while no
//!   waiter is queued or the cell is abandoned (the ready pass, pass 2,
//!   `repoll_parked`); a future case commits only while no waiter is queued
//!   or the cell is abandoned (no counterpart can claim an abandoned cell).
//!   The ready pass stops at the first case that commits.
//! - When `poll` returns `Ready` or the select is dropped, no waiter of any
//!   case is queued and every un-chosen future that was polled has been
//!   dropped in place (one the ready pass never reached was never polled:
//!   it is dropped with its case).
//! - Up to [`INLINE_CASES`] cases, a select allocates nothing.
//! - After releasing the locks under which a case committed or the cases
//!   were queued, the engine calls `__after_unlock` on them, which wakes the
//!   channel's parked stream watchers if a receive became possible (as
//!   `Locked`'s drop does for plain operations).
//!
//! # Locking
//!
//! The ready pass holds at most one channel lock at a time (inside the
//! case's own operation). The locked re-check and pass 2, the re-poll and
//! the waker refresh hold several channel locks, always in address order
//! and each distinct lock once (two cases on one channel share it).
//! No waker is woken and no future is polled while a channel lock is held.
//!
//! # Soundness note
//!
//! The contract passes cases as `&mut dyn SelectCase`, not pinned. Waiters
//! (and polled future cases) live inside the cases, so a case must not move
//! while the select may have queued or polled it: the select future
//! unregisters everything and drops un-chosen futures before completing and
//! in its `Drop`. Leaking a *polled* select future (`mem::forget`) ends the
//! borrow of the cases without running that `Drop`, after which a case
//! could be moved or freed while its waiter is still queued. The borrow
//! checker cannot rule that out, so [`select`] is an `unsafe fn` whose
//! contract is "drop or complete the future, never leak it"; the `select!`
//! macro, which owns both the cases and the future, is its safe interface.
//! [`select_blocking`] stays safe: it drives its future to completion (or
//! drops it while unwinding) itself, so the future can never be leaked.
//! [`SelectCase`] is sealed, so every case's `__kind` is trusted.

use std::future::Future;
use std::marker::PhantomPinned;
use std::panic::Location;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use goro_hook as hook;

use super::case::{
    BlockingCase, CaseKind, ChanLock, Finished, ParkedVia, SelectCase, StillQueued, TryLocked,
};
use super::inline_vec::{InlineVec, INLINE_CASES};
use super::order::Order;
use crate::cell::{CellState, SelCell};
use crate::loom::{lock, MutexGuard};

/// Access to a case in the slice the engine was given (`&mut dyn SelectCase`
/// for `select`, `&mut dyn BlockingCase` for `select_blocking`).
#[doc(hidden)]
pub trait AsCase {
    /// The case.
    fn case(&mut self) -> &mut dyn SelectCase;
}

impl AsCase for &mut (dyn SelectCase + '_) {
    fn case(&mut self) -> &mut dyn SelectCase {
        &mut **self
    }
}

impl AsCase for &mut (dyn BlockingCase + '_) {
    fn case(&mut self) -> &mut dyn SelectCase {
        (**self).__as_select_case()
    }
}

/// Outcome of the passes of one poll.
enum Pass {
    Won(usize),
    Default,
    Parked,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Not parked: the next poll runs the passes.
    Start,
    /// Waiters queued on the cell.
    Waiting { has_futures: bool },
    /// Completed.
    Done,
}

/// The future returned by [`select`]: `Some(i)` when case `i` committed,
/// `None` when `default` was taken.
///
/// ```
/// use goro_chan::select::{select, CaseOutput, SelectCase};
/// let (a, b) = (goro_chan::make::<i32>(1), goro_chan::make::<i32>(1));
/// b.try_send(2).unwrap();
/// let mut c0 = goro_chan::select::into_case!(&a);
/// let mut c1 = goro_chan::select::into_case!(&b);
/// // SAFETY: the future is run to completion by `block_on`, never leaked.
/// let i = futures::executor::block_on(unsafe {
///     select(
///         &mut [&mut c0 as &mut dyn SelectCase, &mut c1 as &mut dyn SelectCase],
///         false,
///     )
/// });
/// assert_eq!(i, Some(1));
/// assert_eq!(c1.take_output(), Some(2));
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct Select<'a, C: AsCase> {
    cases: &'a mut [C],
    has_default: bool,
    /// The user's call site.
    at: &'static Location<'static>,
    /// The one selection cell every queued waiter points to. Pinned.
    cell: SelCell,
    phase: Phase,
    _pin: PhantomPinned,
}

/// Runs a `select` over `cases` (see the module docs). `Some(i)`: case `i`
/// committed; `None`: `default` taken (only when `has_default`).
///
/// The engine behind `goro::select!`; use the macro.
///
/// # Safety
///
/// The returned future must be dropped or run to completion before any case
/// is moved or dropped; it must not be leaked (`mem::forget`, a reference
/// cycle, ...) once polled. A polled select has waiters queued inside the
/// cases and may have polled future cases in place; only its completion or
/// its `Drop` unlinks them. (The `select!` macro keeps the cases and the
/// future as locals of the enclosing code and never leaks them.)
///
/// ```
/// use goro_chan::select::{select, SelectCase};
/// let ch = goro_chan::make::<i32>(0);
/// let mut c0 = goro_chan::select::into_case!(ch.recv());
/// // SAFETY: the future is run to completion by `block_on`, never leaked.
/// let i = futures::executor::block_on(unsafe { select(&mut [&mut c0 as &mut dyn SelectCase], true) });
/// assert_eq!(i, None); // nothing ready: default
/// ```
#[doc(hidden)]
#[track_caller]
pub unsafe fn select<'a, 'b, 'c>(
    cases: &'a mut [&'b mut (dyn SelectCase + 'c)],
    has_default: bool,
) -> Select<'a, &'b mut (dyn SelectCase + 'c)> {
    Select::new(cases, has_default, Location::caller())
}

/// [`select`] on a plain thread: parks the thread until a case commits.
///
/// Safe, unlike [`select`]: the select future is created, pinned and run to
/// completion (or dropped while unwinding) inside this call, so it cannot be
/// leaked, and blocking cases hold no futures.
///
/// ```
/// use goro_chan::select::{select_blocking, BlockingCase};
/// let ch = goro_chan::make::<i32>(1);
/// let mut c0 = goro_chan::select::into_case!(ch.send(1));
/// assert_eq!(select_blocking(&mut [&mut c0 as &mut dyn BlockingCase], false), Some(0));
/// ```
#[track_caller]
pub fn select_blocking<'a, 'b, 'c>(
    cases: &'a mut [&'b mut (dyn BlockingCase + 'c)],
    has_default: bool,
) -> Option<usize> {
    crate::blocking::block_on(Select::new(cases, has_default, Location::caller()))
}

impl<'a, C: AsCase> Select<'a, C> {
    fn new(cases: &'a mut [C], has_default: bool, at: &'static Location<'static>) -> Self {
        Select {
            cases,
            has_default,
            at,
            cell: SelCell::new(),
            phase: Phase::Start,
            _pin: PhantomPinned,
        }
    }

    /// Tells the executor the select parks, with the handles its channel
    /// cases hold or borrow (nil cases left out; a future case holds none,
    /// so the select proves nothing then): `hook::note_select_park`.
    fn note_park(&mut self) {
        let cases = self
            .cases
            .iter_mut()
            .filter_map(|c| match c.case().__parked_via() {
                ParkedVia::Nothing => None,
                ParkedVia::Handle(handle, record) => Some(Some((handle, record))),
                ParkedVia::Unknown => Some(None),
            });
        hook::note_select_park(self.at, cases);
    }

    /// Completes with case `i`: unregisters and releases the others, finishes
    /// `i`, and raises Go's panic for a send on a closed channel.
    fn finish(&mut self, i: usize) -> Option<usize> {
        self.phase = Phase::Done;
        for (j, c) in self.cases.iter_mut().enumerate() {
            if j != i {
                let c = c.case();
                c.__unregister();
                c.__release();
            }
        }
        if self.cases[i].case().__finish() == Finished::SendOnClosed {
            panic!("send on closed channel");
        }
        Some(i)
    }

    /// Completes with case `i`, committed by the ready pass at the last
    /// place drawn from `order`: nothing was queued, so only the futures
    /// the pass polled before it (the places drawn before `i`'s) are
    /// released; a case the pass never looked at was never polled, so
    /// nothing of it is pinned (its future is dropped with the case). Raises
    /// Go's panic for a send on a closed channel.
    fn finish_ready(&mut self, i: usize, order: &Order) -> Option<usize> {
        self.phase = Phase::Done;
        let looked = order.drawn() - 1;
        debug_assert_eq!(order.get(looked), i);
        for k in 0..looked {
            self.cases[order.get(k)].case().__release();
        }
        if self.cases[i].case().__finish() == Finished::SendOnClosed {
            panic!("send on closed channel");
        }
        Some(i)
    }

    /// Unregisters every case; the cell must not be `WAITING`.
    fn unregister_all(&mut self) {
        for c in self.cases.iter_mut() {
            c.case().__unregister();
        }
    }

    fn release_all(&mut self) {
        for c in self.cases.iter_mut() {
            c.case().__release();
        }
    }

    /// Waits until a claimer of case `i` has published `DONE`.
    fn sync_claimed(&mut self, i: usize) {
        if let CaseKind::Chan(l) = self.cases[i].case().__kind() {
            // SAFETY: the lock lives in a channel the case borrows or owns.
            drop(lock(unsafe { &*l.0 }));
        }
    }

    /// Pass 1: the ready pass, one case at a time in `order` (Go's
    /// `pollorder`), each through its own non-blocking operation
    /// ([`SelectCase::__try_ready`]): no waiter is built, and a channel case
    /// that certainly cannot proceed costs no lock. A ready case commits
    /// there; only the cases looked at before it were drawn from `order`.
    fn pass_ready(&mut self, order: &mut Order, cx: &mut Context<'_>) -> Option<usize> {
        while let Some(i) = order.next() {
            // SAFETY: phase `Start`: no waiter of any case is queued. A
            // future case is polled in place: the select releases (drops in
            // place) every un-chosen future before it completes or is
            // dropped, and is never leaked (`select`'s contract).
            if unsafe { self.cases[i].case().__try_ready(cx) }.is_ready() {
                return Some(i);
            }
        }
        None
    }

    /// After a ready pass that found nothing: decides `default`, or queues
    /// the waiters. Go's `selectgo`: all channels are locked at once
    /// (address order), so a `default` is taken only if no case was ready at
    /// one moment (Go's `TestNonblockSelectRace`: the one-by-one ready pass
    /// does not show one moment), and the waiters are queued under the same
    /// locks after a re-check. The ready pass alone decides when one moment
    /// is not needed: `default` with future cases (they are polled outside
    /// the locks anyway), and `default` with at most one channel case (its
    /// non-blocking operation is linearizable by itself, Go's
    /// `selectnbsend`/`selectnbrecv`).
    fn passes_locked(&mut self, order: &mut Order, has_futures: bool, waker: &Waker) -> Pass {
        if self.has_default {
            if has_futures {
                return Pass::Default;
            }
            let mut chans = 0;
            for c in self.cases.iter_mut() {
                if let CaseKind::Chan(_) = c.case().__kind() {
                    chans += 1;
                }
            }
            if chans <= 1 {
                return Pass::Default;
            }
        }
        order.complete();
        let mut locks = InlineVec::new();
        // SAFETY: the locks live in channels the cases borrow or own, which
        // outlive this call; the guards are dropped before it returns.
        unsafe { lock_all(self.cases, &mut locks) };
        // SAFETY: we hold every channel lock and nothing is queued (phase Start).
        if let Some((i, w)) = unsafe { try_all_locked(self.cases, order) } {
            locks.clear();
            self.cases[i].case().__after_unlock();
            if let Some(w) = w {
                w.wake();
            }
            return Pass::Won(i);
        }
        if self.has_default {
            return Pass::Default;
        }
        // SAFETY: we hold every channel lock; nothing is queued; the cell is
        // pinned and the select unregisters every waiter before it completes
        // or is dropped.
        let old = unsafe { enqueue_all_locked(self.cases, order, &self.cell, waker) };
        locks.clear();
        drop(old);
        // A send case queued on an unbuffered channel may let a parked stream
        // receive: wake the watchers now that the locks are released.
        for c in self.cases.iter_mut() {
            c.case().__after_unlock();
        }
        Pass::Parked
    }

    /// A parked select with future cases was woken and abandoned its cell
    /// (no counterpart can commit a case now), but its channel waiters stay
    /// queued, keeping their FIFO places (Go serves blocked receivers and
    /// senders in order). Polls the futures: one that completed wins.
    /// Otherwise, under all the locks, re-checks only the channel cases whose
    /// waiter a counterpart skipped meanwhile (a waiter still queued is not
    /// ready: a counterpart that found its channel ready would have dequeued
    /// it on the way), re-queues those at the tail and re-arms the cell.
    ///
    /// All of it runs inside [`crate::cell::polling`]: what acts on a channel
    /// from here on behalf of this select (its future cases, its re-checks)
    /// skips this select's own queued waiters without unlinking them, so
    /// they keep their places and the select never wakes itself through its
    /// own cases (a send case and a `Receiver` stream case on one channel).
    fn repoll_parked(&mut self, cx: &mut Context<'_>) -> Poll<Option<usize>> {
        let cell: *const SelCell = &self.cell;
        crate::cell::polling(cell, || self.repoll_parked_inner(cx))
    }

    /// [`Select::repoll_parked`] under the polling mark.
    fn repoll_parked_inner(&mut self, cx: &mut Context<'_>) -> Poll<Option<usize>> {
        let mut order = Order::new(self.cases.len());
        order.complete();
        for k in 0..order.len() {
            let i = order.get(k);
            let c = self.cases[i].case();
            if let CaseKind::Future = c.__kind() {
                // SAFETY: as in `pass_ready`: the select releases every
                // un-chosen future before it completes or is dropped.
                if unsafe { c.__poll_future(cx) }.is_ready() {
                    let r = self.finish(i);
                    // SAFETY: `finish` unregistered every waiter.
                    drop(unsafe { self.cell.clear_waker() });
                    return Poll::Ready(r);
                }
            }
        }
        let mut locks = InlineVec::new();
        // SAFETY: the locks live in channels the cases borrow or own, which
        // outlive this call; the guards are dropped before it returns.
        unsafe { lock_all(self.cases, &mut locks) };
        // The cases to queue again once the cell is re-armed, in `order`.
        let mut requeue: InlineVec<usize, INLINE_CASES> = InlineVec::new();
        for k in 0..order.len() {
            let i = order.get(k);
            let c = self.cases[i].case();
            if let CaseKind::Chan(_) = c.__kind() {
                // SAFETY: we hold every channel lock; the cell is abandoned.
                if unsafe { c.__still_queued_locked() } == StillQueued::Yes {
                    continue;
                }
                requeue.push(i);
                // SAFETY: we hold the lock; this case's waiter is not queued.
                if let TryLocked::Committed(w) = unsafe { c.__try_locked() } {
                    locks.clear();
                    c.__after_unlock();
                    if let Some(w) = w {
                        w.wake();
                    }
                    // `finish` unregisters the waiters still queued.
                    let r = self.finish(i);
                    // SAFETY: nothing is queued any more.
                    drop(unsafe { self.cell.clear_waker() });
                    return Poll::Ready(r);
                }
            }
        }
        // SAFETY: the cell is abandoned and we hold the lock of every channel
        // where one of its waiters is queued.
        let old = unsafe { self.cell.rearm(cx.waker()) };
        for k in 0..requeue.len() {
            let i = *requeue.get(k);
            // SAFETY: we hold every channel lock; the waiter is not queued
            // (found above under these locks); the cell is pinned and
            // outlives it (unregistered before the select completes or is
            // dropped). The cell is WAITING again, but no counterpart can
            // claim it before we unlock.
            unsafe { self.cases[i].case().__enqueue_locked(&self.cell, i) };
        }
        locks.clear();
        drop(old);
        for c in self.cases.iter_mut() {
            c.case().__after_unlock();
        }
        self.note_park();
        Poll::Pending
    }

    fn poll_inner(&mut self, cx: &mut Context<'_>) -> Poll<Option<usize>> {
        loop {
            match self.phase {
                Phase::Done => panic!("select polled after completion"),
                Phase::Start => {
                    if hook::poll_budget(cx).is_pending() {
                        return Poll::Pending;
                    }
                    let mut order = Order::new(self.cases.len());
                    if let Some(i) = self.pass_ready(&mut order, cx) {
                        return Poll::Ready(self.finish_ready(i, &order));
                    }
                    let has_futures = self
                        .cases
                        .iter_mut()
                        .any(|c| matches!(c.case().__kind(), CaseKind::Future));
                    match self.passes_locked(&mut order, has_futures, cx.waker()) {
                        Pass::Won(i) => return Poll::Ready(self.finish(i)),
                        Pass::Default => {
                            self.phase = Phase::Done;
                            self.release_all();
                            return Poll::Ready(None);
                        }
                        Pass::Parked => {
                            self.phase = Phase::Waiting { has_futures };
                            self.note_park();
                            return Poll::Pending;
                        }
                    }
                }
                Phase::Waiting { has_futures } => match self.cell.state() {
                    CellState::Done(i) => return Poll::Ready(self.finish(i)),
                    CellState::Claimed(i) => self.sync_claimed(i),
                    CellState::Waiting if has_futures => {
                        if hook::poll_budget(cx).is_pending() {
                            return Poll::Pending;
                        }
                        if self.cell.try_abandon() {
                            return self.repoll_parked(cx);
                        }
                    }
                    CellState::Waiting => {
                        let mut locks = InlineVec::new();
                        // SAFETY: the locks live in channels the cases borrow or
                        // own, which outlive this call; the guards are dropped
                        // before it returns.
                        unsafe { lock_all(self.cases, &mut locks) };
                        if self.cell.state() == CellState::Waiting {
                            // SAFETY: we hold every lock of a channel where a
                            // waiter of ours is queued, and saw WAITING.
                            let old = unsafe { self.cell.update_waker(cx.waker()) };
                            locks.clear();
                            drop(old);
                            self.note_park();
                            return Poll::Pending;
                        }
                    }
                    // Only if a future case panicked in `repoll_parked` and
                    // the select is polled again: carry on from there.
                    CellState::Abandoned => return self.repoll_parked(cx),
                },
            }
        }
    }
}

impl<C: AsCase> Future for Select<'_, C> {
    type Output = Option<usize>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<usize>> {
        // SAFETY: only `cell` is structurally pinned and it is never moved;
        // the other fields are plain data.
        let this = unsafe { self.get_unchecked_mut() };
        this.poll_inner(cx)
    }
}

impl<C: AsCase> Drop for Select<'_, C> {
    fn drop(&mut self) {
        match self.phase {
            Phase::Done => return,
            Phase::Start => {}
            Phase::Waiting { .. } => {
                // Already abandoned: a future case panicked in `repoll_parked`.
                if self.cell.try_abandon() || self.cell.state() == CellState::Abandoned {
                    self.unregister_all();
                } else {
                    let won = loop {
                        match self.cell.state() {
                            CellState::Claimed(i) => self.sync_claimed(i),
                            CellState::Done(i) => break i,
                            s => unreachable!("cell {s:?} after a failed abandon"),
                        }
                    };
                    for (j, c) in self.cases.iter_mut().enumerate() {
                        if j == won {
                            c.case().__cancel_won();
                        } else {
                            c.case().__unregister();
                        }
                    }
                }
                // SAFETY: nothing is queued any more.
                drop(unsafe { self.cell.clear_waker() });
            }
        }
        self.phase = Phase::Done;
        self.release_all();
    }
}

/// Commits the first channel case, in `order`, that is ready now.
///
/// # Safety
///
/// The caller holds every channel lock of `cases`; nothing is queued;
/// `order` is complete.
unsafe fn try_all_locked<C: AsCase>(
    cases: &mut [C],
    order: &Order,
) -> Option<(usize, Option<Waker>)> {
    for k in 0..order.len() {
        let i = order.get(k);
        let c = cases[i].case();
        if let CaseKind::Chan(_) = c.__kind() {
            // SAFETY: we hold every channel lock; nothing is queued.
            if let TryLocked::Committed(w) = unsafe { c.__try_locked() } {
                return Some((i, w));
            }
        }
    }
    None
}

/// Pass 2: queues every channel case on `cell`; returns the replaced waker,
/// to be dropped after unlocking.
///
/// # Safety
///
/// The caller holds every channel lock of `cases`; no waiter of these cases
/// is queued; `cell` is pinned and outlives the queued waiters (the select
/// unregisters them before it moves or drops).
unsafe fn enqueue_all_locked<C: AsCase>(
    cases: &mut [C],
    order: &Order,
    cell: &SelCell,
    waker: &Waker,
) -> Option<Waker> {
    // SAFETY: nothing is queued yet, so no counterpart can see the cell.
    let old = unsafe { cell.reset(waker) };
    for k in 0..order.len() {
        let i = order.get(k);
        let c = cases[i].case();
        if let CaseKind::Chan(_) = c.__kind() {
            // SAFETY: we hold the lock; `cell` outlives the queued waiter and
            // the case is not moved while the select borrows it (caller contract).
            unsafe { c.__enqueue_locked(cell, i) };
        }
    }
    old
}

/// Locks every distinct channel of `cases` in address order (Go's
/// `sellock`), pushing the guards to `guards` (empty; the caller's, so that
/// the list of up to [`INLINE_CASES`] guards is built in place: returning
/// it, or passing it to `drop`, copied a kilobyte on every parking select;
/// the caller releases them with `clear`).
///
/// # Safety
///
/// The channels outlive `'g`, and the guards are dropped before any case is
/// dropped or moved.
unsafe fn lock_all<'g, C: AsCase>(
    cases: &mut [C],
    guards: &mut InlineVec<MutexGuard<'g, ()>, INLINE_CASES>,
) {
    debug_assert_eq!(guards.len(), 0);
    let mut order: InlineVec<ChanLock, INLINE_CASES> = InlineVec::new();
    for c in cases.iter_mut() {
        if let CaseKind::Chan(l) = c.case().__kind() {
            order.push(l);
            // Insertion sort by address (case counts are small).
            let mut k = order.len() - 1;
            while k > 0 && order.get(k - 1).addr() > order.get(k).addr() {
                order.swap(k - 1, k);
                k -= 1;
            }
        }
    }
    for k in 0..order.len() {
        if k > 0 && order.get(k - 1).addr() == order.get(k).addr() {
            continue;
        }
        // SAFETY: by the caller's contract the lock outlives 'g.
        guards.push(lock(unsafe { &*order.get(k).0 }));
    }
}
