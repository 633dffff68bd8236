//! The selection cell: the one word that decides which operation of a waiting
//! goroutine commits.
//!
//! Go: `g.selectDone` (the CAS that lets exactly one channel win a blocked
//! `select`) together with `sudog.success` and the `goready` handshake.
//!
//! # Design
//!
//! Every pending operation owns one cell. A plain `send`/`recv` future is a
//! one-case selection; a `select` registers one waiter node per channel case,
//! all pointing to the same cell. A counterpart (the goroutine on the other
//! side of a channel, or `close`) may complete a waiter only after it has won
//! the compare-and-swap `WAITING -> CLAIMED(i)` on the waiter's cell; it then
//! moves the value through the waiter's slot, unlinks the waiter, takes the
//! waker, and publishes `DONE(i)`. The owner abandons a cell (when it is
//! dropped, or before re-polling future cases) with `WAITING -> ABANDONED`.
//! So exactly one party decides the outcome, and a claimed case is always
//! carried out in full.
//!
//! ```text
//!            counterpart wins CAS                counterpart finished
//! WAITING ───────────────────────► CLAIMED(i) ─────────────────────► DONE(i)
//!    │   ▲
//!    │   └── owner re-arms, holding every lock where a waiter is queued
//!    └── owner wins CAS ──► ABANDONED
//! ```
//!
//! (A parked select with future cases abandons its cell to poll them while
//! its channel waiters stay queued, then re-arms it: [`SelCell::rearm`].)
//!
//! # Invariants
//!
//! - Only a party that holds the lock of the channel on which waiter `i` is
//!   queued can move the cell to `CLAIMED(i)`, and it keeps holding that lock
//!   until it has stored `DONE(i)`. Hence an owner that sees `CLAIMED(i)` can
//!   wait for `DONE(i)` by locking that channel once.
//! - After `DONE(i)` no counterpart touches the cell or any of the owner's
//!   waiter nodes again: the owner may free them.
//! - The waker is written by the owner only while no counterpart can claim the
//!   cell (the cell is not yet shared, or the owner holds the lock of every
//!   channel where one of its waiters is queued), and is taken by the party
//!   that won the claim, under the lock of that channel.
//!
//! # Proof sketch
//!
//! *Exactly one case commits.* A case commits either by a counterpart's claim
//! (`WAITING -> CLAIMED(i)`, a CAS, so at most one succeeds and none after an
//! abandon), or by its owner while no counterpart can claim (the select's
//! passes 1-2, before the cell is shared; or while the cell is `ABANDONED`,
//! whose queued waiters counterparts skip). These never overlap: the owner
//! commits directly only while holding the lock of the channel involved, and
//! a counterpart can only claim a queued waiter of a `WAITING` cell. The
//! owner re-arms an abandoned cell only under the locks of every channel
//! where one of its waiters is queued, after re-checking, under the same
//! locks, the cases whose waiter was skipped (a waiter still queued was not
//! passed by any counterpart, so its channel has nothing for it).
//!
//! *No lost wake-up.* An owner queues its waiters and stores its waker under
//! the channel locks after finding nothing ready under the same locks; a
//! counterpart that arrives later holds one of those locks, finds the waiter,
//! and takes the waker with the claim. A re-poll that sees `WAITING` refreshes
//! the waker under all the locks, so a claim either happens before the
//! refresh (the owner sees it under the lock and does not park) or after it
//! (and takes the refreshed waker).
//!
//! *No use after free.* The owner frees a waiter only after unlinking it under
//! its channel lock, or after seeing `DONE` (published by the claimer as its
//! last access, under the lock), or after taking the lock once when it saw
//! `CLAIMED` (the claimer keeps the lock until `DONE`).
//!
//! # Memory ordering
//!
//! The claim CAS is `AcqRel`: its Acquire pairs with the Release of the
//! channel lock under which the owner queued the waiter (slot and waker
//! contents are published by that lock anyway). The `DONE` store is Release
//! and pairs with the Acquire load in [`SelCell::state`], so the owner sees
//! what the counterpart wrote into the waiter's slot. The owner's abandon CAS
//! is `AcqRel` for symmetry with the claim (they race on the same word).

use std::task::Waker;

use crate::loom::{AtomicUsize, Ordering, UnsafeCell};

const WAITING: usize = 0;
const ABANDONED: usize = 1;
// CLAIMED(i) = 2 + 2i, DONE(i) = 3 + 2i.

/// What a selection cell says right now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CellState {
    /// Nobody has decided yet.
    Waiting,
    /// The owner gave up; counterparts skip (and unlink) its waiters.
    Abandoned,
    /// A counterpart won case `i` and is completing it under that channel's lock.
    Claimed(usize),
    /// Case `i` was completed by a counterpart; its waiter is unlinked.
    Done(usize),
}

/// A selection cell (see the module docs).
#[derive(Debug)]
pub struct SelCell {
    /// The packed [`CellState`].
    state: AtomicUsize,
    /// The owner's waker; access rules in the module docs.
    waker: UnsafeCell<Option<Waker>>,
}

// SAFETY: `waker` is only accessed under the protocol in the module docs: the
// owner writes it while no counterpart can claim the cell, and only the single
// counterpart that won the claim takes it. `Waker` is `Send + Sync`.
unsafe impl Sync for SelCell {}

impl SelCell {
    /// A fresh cell in state `WAITING` with no waker.
    pub(crate) fn new() -> Self {
        SelCell {
            state: AtomicUsize::new(WAITING),
            waker: UnsafeCell::new(None),
        }
    }

    /// The current state (Acquire: pairs with the Release store in [`SelCell::set_done`]).
    #[inline]
    pub(crate) fn state(&self) -> CellState {
        decode(self.state.load(Ordering::Acquire))
    }

    /// Resets the cell for a new registration and stores `waker`. Returns the
    /// replaced waker, to be dropped after the channel locks are released.
    ///
    /// # Safety
    ///
    /// No waiter pointing to this cell may be queued on any channel (so no
    /// counterpart can access the cell concurrently).
    #[must_use]
    pub(crate) unsafe fn reset(&self, waker: &Waker) -> Option<Waker> {
        // Relaxed: the cell is published to counterparts by the channel lock
        // under which the waiters are queued afterwards (lock Release ->
        // counterpart's lock Acquire).
        self.state.store(WAITING, Ordering::Relaxed);
        // SAFETY: by the caller's contract nobody else can access the waker.
        self.waker
            .with_mut(|w| unsafe { set_waker(&mut *w, waker) })
    }

    /// `ABANDONED -> WAITING` with `waker` stored: the owner takes its cell
    /// back while some of its waiters may still be queued (they were skipped
    /// by no counterpart). Returns the replaced waker, to be dropped after
    /// the channel locks are released.
    ///
    /// # Safety
    ///
    /// The cell is `ABANDONED` (so no counterpart is between a claim and
    /// `DONE`), and the caller holds the lock of every channel on which a
    /// waiter pointing to this cell is queued.
    #[must_use]
    pub(crate) unsafe fn rearm(&self, waker: &Waker) -> Option<Waker> {
        debug_assert_eq!(self.state(), CellState::Abandoned);
        // Relaxed: counterparts only read the cell under a channel lock the
        // caller holds, whose release publishes this store.
        self.state.store(WAITING, Ordering::Relaxed);
        // SAFETY: no counterpart can access the cell (caller contract).
        self.waker
            .with_mut(|w| unsafe { set_waker(&mut *w, waker) })
    }

    /// Replaces the stored waker if it would not wake the same task. Returns
    /// the replaced waker, to be dropped after the channel locks are released.
    ///
    /// # Safety
    ///
    /// The caller holds the lock of every channel on which a waiter pointing to
    /// this cell is queued, and has seen [`CellState::Waiting`] under those locks.
    #[must_use]
    pub(crate) unsafe fn update_waker(&self, waker: &Waker) -> Option<Waker> {
        // SAFETY: by the caller's contract no counterpart can claim the cell,
        // so nobody else accesses the waker.
        self.waker
            .with_mut(|w| unsafe { set_waker(&mut *w, waker) })
    }

    /// Tries `WAITING -> CLAIMED(index)`; true if this counterpart won.
    ///
    /// The caller must hold the lock of the channel on which waiter `index` is
    /// queued and keep holding it until [`SelCell::set_done`].
    #[inline]
    pub(crate) fn try_claim(&self, index: usize) -> bool {
        // AcqRel: races with other claims and the owner's abandon (see module docs).
        self.state
            .compare_exchange(WAITING, 2 + 2 * index, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
    }

    /// Takes the owner's waker.
    ///
    /// # Safety
    ///
    /// The caller won [`SelCell::try_claim`] and has not yet called [`SelCell::set_done`].
    #[inline]
    pub(crate) unsafe fn take_waker(&self) -> Option<Waker> {
        // SAFETY: the claim gives this counterpart exclusive access until DONE.
        self.waker.with_mut(|w| unsafe { (*w).take() })
    }

    /// Publishes `DONE(index)`. The caller must not touch the cell or the
    /// waiter afterwards.
    ///
    /// # Safety
    ///
    /// The caller won `try_claim(index)`.
    #[inline]
    pub(crate) unsafe fn set_done(&self, index: usize) {
        // Release: pairs with the Acquire in `state`, publishing the slot write.
        self.state.store(3 + 2 * index, Ordering::Release);
    }

    /// Tries `WAITING -> ABANDONED` (the owner gives up); true if it won.
    #[inline]
    pub(crate) fn try_abandon(&self) -> bool {
        // AcqRel: races with counterparts' claims on the same word.
        self.state
            .compare_exchange(WAITING, ABANDONED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// Drops the stored waker, if any.
    ///
    /// # Safety
    ///
    /// No waiter pointing to this cell is queued on any channel.
    pub(crate) unsafe fn clear_waker(&self) -> Option<Waker> {
        // SAFETY: by the caller's contract nobody else can access the waker.
        self.waker.with_mut(|w| unsafe { (*w).take() })
    }
}

/// One select whose own queued waiters are abandoned while it polls its
/// future cases on this thread ([`polling`]); frames of nested selects link
/// to their parent.
struct Frame {
    cell: *const SelCell,
    parent: *const Frame,
}

#[cfg(not(goro_loom))]
std::thread_local! {
    /// The innermost [`Frame`] of this thread, or null.
    static POLLING: std::cell::Cell<*const Frame> = const { std::cell::Cell::new(std::ptr::null()) };
}

#[cfg(goro_loom)]
loom::thread_local! {
    /// The innermost [`Frame`] of this (model) thread, or null.
    static POLLING: std::cell::Cell<*const Frame> = std::cell::Cell::new(std::ptr::null());
}

/// Runs `f` (a select re-polling its own cases while its cell is
/// `ABANDONED`) with `cell` marked as polling on this thread: counterparts
/// acting on this thread inside `f` (the select's own future cases, such as
/// a `Receiver` stream, and its own re-checks) skip the select's own queued
/// waiters *without unlinking them* ([`is_polling_here`]).
///
/// A select cannot match itself (one select commits one case), so such a
/// skip is not a counterpart passing the waiter by: the waiter keeps its
/// FIFO place and the select need not re-queue it. Re-queuing would tell
/// the channel's stream watchers that a sender arrived, and when the
/// watcher is the select's own stream case that wakes the select itself,
/// which re-polls, skips, re-queues and wakes again forever (issue 14).
pub(crate) fn polling<R>(cell: *const SelCell, f: impl FnOnce() -> R) -> R {
    let frame = Frame {
        cell,
        parent: POLLING.with(|p| p.get()),
    };
    struct Restore(*const Frame);
    impl Drop for Restore {
        fn drop(&mut self) {
            POLLING.with(|p| p.set(self.0));
        }
    }
    let _restore = Restore(frame.parent);
    POLLING.with(|p| p.set(&frame));
    f()
}

/// True if `cell` belongs to a select that is re-polling its own cases on
/// this thread, in [`polling`] (or an enclosing select's [`polling`], for a
/// select nested in another's future case). Used only for waiters whose
/// claim failed, so the common path never reads the thread-local.
pub(crate) fn is_polling_here(cell: *const SelCell) -> bool {
    let mut f = POLLING.with(|p| p.get());
    while !f.is_null() {
        // SAFETY: frames live on the stack of the `polling` calls that are
        // still running on this thread (each restores its parent on exit).
        let frame = unsafe { &*f };
        if frame.cell == cell {
            return true;
        }
        f = frame.parent;
    }
    false
}

/// Stores a clone of `new` in `slot` unless the stored waker already wakes
/// the same task; returns the replaced waker (a waker's drop may run foreign
/// code, which must not run under a channel lock).
fn set_waker(slot: &mut Option<Waker>, new: &Waker) -> Option<Waker> {
    match slot {
        Some(old) if old.will_wake(new) => None,
        _ => slot.replace(goro_hook::clone_waker(new)),
    }
}

#[inline]
fn decode(s: usize) -> CellState {
    match s {
        WAITING => CellState::Waiting,
        ABANDONED => CellState::Abandoned,
        s if s % 2 == 0 => CellState::Claimed((s - 2) / 2),
        s => CellState::Done((s - 3) / 2),
    }
}

#[cfg(all(test, not(goro_loom)))]
mod tests {
    use super::*;
    use std::task::Waker;

    #[test]
    fn claim_then_done() {
        let c = SelCell::new();
        // SAFETY: the cell is not shared.
        drop(unsafe { c.reset(Waker::noop()) });
        assert_eq!(c.state(), CellState::Waiting);
        assert!(c.try_claim(3));
        assert!(!c.try_claim(1));
        assert!(!c.try_abandon());
        assert_eq!(c.state(), CellState::Claimed(3));
        // SAFETY: we won the claim.
        unsafe {
            assert!(c.take_waker().is_some());
            c.set_done(3);
        }
        assert_eq!(c.state(), CellState::Done(3));
    }

    #[test]
    fn abandon_blocks_claims() {
        let c = SelCell::new();
        assert!(c.try_abandon());
        assert!(!c.try_claim(0));
        assert_eq!(c.state(), CellState::Abandoned);
    }
}
