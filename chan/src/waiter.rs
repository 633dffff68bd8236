//! Waiter nodes and the intrusive FIFO queue of them.
//!
//! Go: `runtime.sudog` (the waiter) and `runtime.waitq` (the queue), in
//! `runtime/chan.go`.
//!
//! # Design
//!
//! A [`Waiter`] lives inside the pending operation's future (or inside a
//! `select` case), which is pinned, so blocking never allocates. A channel's
//! `sendq` and `recvq` are doubly linked lists threaded through those nodes.
//! Each node carries the value slot (the value to send, or where a received
//! value lands: Go's `sudog.elem`) and points to its owner's selection cell
//! ([`SelCell`]) with its case index.
//!
//! [`WaitQueue::claim_front`] is Go's `waitq.dequeue`: it pops nodes from the
//! front, skipping (and unlinking) those whose cell is already decided
//! (abandoned, or won through another channel), until it wins a claim.
//!
//! # Invariants
//!
//! - A node's links, `queued` flag, cell pointer and index are read and written
//!   only under the lock of the channel whose queue it is (or may be) in.
//! - A queued node is pinned and alive: its owner unlinks it (under the lock)
//!   before its memory is released, unless a counterpart already did.
//! - The slot belongs to the owner while the node is not queued, and to the
//!   counterpart that won the claim from the claim until it stores `DONE`.
//!
//! # Locking
//!
//! Every method of [`WaitQueue`] requires the lock of the channel that owns
//! the queue.

use std::marker::PhantomPinned;
use std::ptr;
use std::task::Waker;

use crate::cell::{CellState, SelCell};
use crate::loom::UnsafeCell;

/// Link fields of a waiter; protected by the lock of the channel it is queued on.
struct Links<T> {
    prev: *const Waiter<T>,
    next: *const Waiter<T>,
    /// True while the node is in a queue.
    queued: bool,
    /// The owner's selection cell; set when queued.
    cell: *const SelCell,
    /// The case index this node stands for in its owner's selection (32
    /// bits, next to `queued`: a node is 8 bytes smaller, and every parked
    /// operation and select case holds one).
    index: u32,
}

/// One blocked operation's node (Go: `sudog`).
pub(crate) struct Waiter<T> {
    /// Protected by the lock of the channel the node is queued on.
    links: UnsafeCell<Links<T>>,
    /// The value: owner's while unqueued, the claimer's until `DONE`.
    slot: UnsafeCell<Option<T>>,
    _pin: PhantomPinned,
}

// SAFETY: the raw pointers in `links` are only dereferenced under the channel
// lock, following the invariants in the module docs; the slot moves a `T`
// between threads, hence `T: Send`.
unsafe impl<T: Send> Send for Waiter<T> {}
// SAFETY: shared access goes through the channel lock or the cell protocol.
unsafe impl<T: Send> Sync for Waiter<T> {}

impl<T> Waiter<T> {
    /// A fresh unqueued node holding `value`.
    pub(crate) fn new(value: Option<T>) -> Self {
        Waiter {
            links: UnsafeCell::new(Links {
                prev: ptr::null(),
                next: ptr::null(),
                queued: false,
                cell: ptr::null(),
                index: 0,
            }),
            slot: UnsafeCell::new(value),
            _pin: PhantomPinned,
        }
    }

    /// Takes the slot's value.
    ///
    /// # Safety
    ///
    /// The caller owns the slot: the node is not queued and no claimer is
    /// between its claim and `DONE` (the owner observed `DONE`, or never
    /// queued the node, or holds the channel lock after unlinking it).
    pub(crate) unsafe fn take_slot(&self) -> Option<T> {
        // SAFETY: exclusive access by the caller's contract.
        self.slot.with_mut(|s| unsafe { (*s).take() })
    }

    /// Stores `v` in the slot.
    ///
    /// # Safety
    ///
    /// As for [`Waiter::take_slot`].
    pub(crate) unsafe fn put_slot(&self, v: Option<T>) {
        // SAFETY: exclusive access by the caller's contract.
        self.slot.with_mut(|s| unsafe { *s = v });
    }

    /// Whether the node is in a queue now.
    ///
    /// # Safety
    ///
    /// The caller holds the lock of the channel on which the node is (or may
    /// be) queued.
    pub(crate) unsafe fn is_queued(&self) -> bool {
        // SAFETY: links are read under the channel lock (caller contract).
        self.links.with(|l| unsafe { (*l).queued })
    }
}

/// A FIFO of waiters (Go: `waitq`). Protected by its channel's lock.
pub(crate) struct WaitQueue<T> {
    head: *const Waiter<T>,
    tail: *const Waiter<T>,
}

/// A waiter whose cell this counterpart has claimed; it must be finished with
/// [`Claimed::finish`] before the channel lock is released.
pub(crate) struct Claimed<T> {
    node: *const Waiter<T>,
    cell: *const SelCell,
    index: usize,
    waker: Option<Waker>,
}

impl<T> Claimed<T> {
    /// Runs `f` on the claimed waiter's slot.
    pub(crate) fn with_slot<R>(&mut self, f: impl FnOnce(&mut Option<T>) -> R) -> R {
        // SAFETY: the node stays alive until DONE (its owner waits for DONE or
        // for our channel lock), and the claim gives us the slot.
        unsafe { (*self.node).slot.with_mut(|s| f(&mut *s)) }
    }

    /// Publishes `DONE` and returns the owner's waker, to be woken after the
    /// channel lock is released.
    pub(crate) fn finish(self) -> Option<Waker> {
        // SAFETY: we won the claim on `cell` (see `claim_front`) and the
        // cell outlives the claim (its owner waits for DONE).
        unsafe { (*self.cell).set_done(self.index) };
        self.waker
    }
}

impl<T> WaitQueue<T> {
    /// An empty queue.
    pub(crate) const fn new() -> Self {
        WaitQueue {
            head: ptr::null(),
            tail: ptr::null(),
        }
    }

    /// True if no node (live or not) is queued.
    pub(crate) fn is_empty(&self) -> bool {
        self.head.is_null()
    }

    /// Appends `node`, which will be completed as case `index` of `cell`.
    ///
    /// # Safety
    ///
    /// The caller holds the channel lock; `node` is pinned, alive and not
    /// queued, and stays alive until it is unlinked (by [`WaitQueue::remove`]
    /// or by a counterpart); `cell` outlives the node's time in the queue.
    pub(crate) unsafe fn push_back(
        &mut self,
        node: *const Waiter<T>,
        cell: *const SelCell,
        index: usize,
    ) {
        let tail = self.tail;
        // SAFETY: `node` is alive and its links are ours under the lock.
        unsafe {
            (*node).links.with_mut(|l| {
                debug_assert!(!(*l).queued, "waiter queued twice");
                (*l).prev = tail;
                (*l).next = ptr::null();
                (*l).queued = true;
                (*l).cell = cell;
                (*l).index = u32::try_from(index).expect("a select has fewer than 2^32 cases");
            });
        }
        if tail.is_null() {
            self.head = node;
        } else {
            // SAFETY: queued nodes are alive (invariant) and we hold the lock.
            unsafe { (*tail).links.with_mut(|l| (*l).next = node) };
        }
        self.tail = node;
    }

    /// Unlinks `node` if it is queued here; returns whether it was.
    ///
    /// # Safety
    ///
    /// The caller holds this queue's channel lock and `node` is alive and
    /// either unqueued or queued in this queue.
    pub(crate) unsafe fn remove(&mut self, node: *const Waiter<T>) -> bool {
        // SAFETY: links are ours under the lock; neighbours are alive (invariant).
        unsafe {
            let (prev, next, queued) = (*node).links.with(|l| ((*l).prev, (*l).next, (*l).queued));
            if !queued {
                return false;
            }
            if prev.is_null() {
                self.head = next;
            } else {
                (*prev).links.with_mut(|l| (*l).next = next);
            }
            if next.is_null() {
                self.tail = prev;
            } else {
                (*next).links.with_mut(|l| (*l).prev = prev);
            }
            (*node).links.with_mut(|l| {
                (*l).prev = ptr::null();
                (*l).next = ptr::null();
                (*l).queued = false;
            });
        }
        true
    }

    /// Pops nodes from the front until one's cell is claimed by the caller
    /// (Go: `waitq.dequeue`, which skips selects that already completed).
    /// Nodes whose cell was decided otherwise are unlinked and skipped,
    /// except those of a select that is re-polling its own cases on this
    /// thread ([`crate::cell::polling`]): this caller acts for that select,
    /// which cannot match itself, so its waiters stay queued in place.
    ///
    /// # Safety
    ///
    /// The caller holds this queue's channel lock and must call
    /// [`Claimed::finish`] before releasing it.
    #[inline]
    pub(crate) unsafe fn claim_front(&mut self) -> Option<Claimed<T>> {
        // SAFETY: forwarded.
        unsafe { self.claim(true) }
    }

    /// As [`WaitQueue::claim_front`], but unlinks every skipped node, a
    /// polling select's own included: `close` empties the queues for good.
    ///
    /// # Safety
    ///
    /// As [`WaitQueue::claim_front`].
    pub(crate) unsafe fn claim_front_closing(&mut self) -> Option<Claimed<T>> {
        // SAFETY: forwarded.
        unsafe { self.claim(false) }
    }

    /// Claims the first claimable node; `keep_own`: leave the waiters of a
    /// select polling on this thread in place.
    ///
    /// # Safety
    ///
    /// As [`WaitQueue::claim_front`].
    #[inline]
    unsafe fn claim(&mut self, keep_own: bool) -> Option<Claimed<T>> {
        let mut node = self.head;
        while !node.is_null() {
            // SAFETY: `node` is queued, hence alive; we hold the lock.
            let (cell, index, next) = unsafe {
                (*node)
                    .links
                    .with(|l| ((*l).cell, (*l).index as usize, (*l).next))
            };
            // SAFETY: the cell outlives its queued nodes (push_back contract).
            let cell_ref = unsafe { &*cell };
            if cell_ref.try_claim(index) {
                // SAFETY: queued here; we hold the lock. Then: we just won the claim.
                let waker = unsafe {
                    self.remove(node);
                    cell_ref.take_waker()
                };
                return Some(Claimed {
                    node,
                    cell,
                    index,
                    waker,
                });
            }
            if !(keep_own && crate::cell::is_polling_here(cell)) {
                // SAFETY: queued here; we hold the lock.
                unsafe { self.remove(node) };
            }
            node = next;
        }
        None
    }

    /// True if some queued node's cell is still `WAITING` (a counterpart
    /// could claim it now).
    ///
    /// # Safety
    ///
    /// The caller holds this queue's channel lock.
    pub(crate) unsafe fn has_live(&self) -> bool {
        let mut node = self.head;
        while !node.is_null() {
            // SAFETY: `node` is queued, hence alive; we hold the lock.
            let (cell, next) = unsafe { (*node).links.with(|l| ((*l).cell, (*l).next)) };
            // SAFETY: the cell outlives its queued nodes.
            if unsafe { &*cell }.state() == CellState::Waiting {
                return true;
            }
            node = next;
        }
        false
    }
}

// No `Drop` for `WaitQueue`: it is normally empty when its channel is freed
// (no handle and no pending operation remains), but nodes of a leaked
// operation (`mem::forget` of a parked future, which is safe) may still be
// linked. They live in leaked memory and dropping the queue does not touch
// them, so that is not asserted against.
