//! The one-task `runnext` slot of a worker.
//!
//! Loom model at the bottom of this file:
//! `RUSTFLAGS="--cfg goro_loom" cargo test -p goro-runtime --release --lib runnext -- --test-threads=1`
//!
//! Go: `p.runnext` in `runtime/proc.go` (`runqput(pp, gp, next=true)`).
//!
//! # Design
//!
//! A goroutine woken by a goroutine running on worker W is put into W's
//! `runnext` slot instead of the back of its run queue, so that it runs as soon
//! as the waker's poll returns, on the same core (a channel ping-pong between
//! two goroutines never leaves the core). A task already in the slot is
//! displaced to the back of the local queue, where other workers can steal it.
//! The slot itself can be stolen too (`take` from another worker), as a last
//! resort before a searching worker parks, so that a task in the slot of a
//! worker stuck in one long poll is not starved.
//!
//! # Invariants
//!
//! - The slot holds either null or a pointer obtained from `into_raw` of a
//!   value that nobody else owns; exactly one `swap` returns it.
//! - Only the owning worker calls [`RunNext::push`]; anybody may call
//!   [`RunNext::take`].
//!
//! # Memory ordering
//!
//! `push` publishes the task with the Release half of its `AcqRel` swap; the
//! Acquire half of the `swap` in `take` (the owner's or a stealer's) pairs with
//! it, so the taker sees the task fully written. The Acquire half of `push`
//! pairs with the Release half of an earlier `push` for the displaced task.

use std::marker::PhantomData;
use std::ptr::{self, NonNull};

use crate::loom::{AtomicPtr, Ordering};

/// A value that can travel through the slot as a raw pointer.
pub(crate) trait RawTask: Sized {
    /// Gives up ownership.
    fn into_raw(self) -> NonNull<()>;
    /// Takes ownership back.
    ///
    /// # Safety
    ///
    /// `ptr` must come from [`RawTask::into_raw`] of the same type and must not
    /// have been converted back already.
    unsafe fn from_raw(ptr: NonNull<()>) -> Self;
}

/// The slot. Go: `p.runnext`.
pub(crate) struct RunNext<T: RawTask> {
    /// Null or an owned task. Written by the owner (`push`) and by any taker.
    slot: AtomicPtr<()>,
    _owns: PhantomData<T>,
}

// SAFETY: the slot owns at most one `T` and hands it out by value to exactly
// one caller (single `swap`), so sharing the slot only moves `T`s between
// threads: `T: Send` is all that is needed.
unsafe impl<T: RawTask + Send> Sync for RunNext<T> {}
// SAFETY: as above, the slot is a container of at most one `T`.
unsafe impl<T: RawTask + Send> Send for RunNext<T> {}

impl<T: RawTask> RunNext<T> {
    pub(crate) fn new() -> Self {
        RunNext {
            slot: AtomicPtr::new(ptr::null_mut()),
            _owns: PhantomData,
        }
    }

    /// Puts `task` into the slot and returns the task it displaced, if any.
    /// Owner only.
    pub(crate) fn push(&self, task: T) -> Option<T> {
        let raw = task.into_raw().as_ptr();
        // AcqRel: Release publishes `task` to the taker's Acquire swap;
        // Acquire pairs with the Release of the push that stored `old`.
        let old = self.slot.swap(raw, Ordering::AcqRel);
        // SAFETY: a non-null value in the slot came from `into_raw` (slot
        // invariant) and the swap made us its only owner.
        NonNull::new(old).map(|p| unsafe { T::from_raw(p) })
    }

    /// Takes the task out of the slot. Owner or stealer.
    pub(crate) fn take(&self) -> Option<T> {
        // Cheap check first so stealers do not write to a cache line they do
        // not need; Relaxed is enough for a hint, the swap below decides.
        if self.slot.load(Ordering::Relaxed).is_null() {
            return None;
        }
        // Acquire pairs with the Release half of `push`.
        let old = self.slot.swap(ptr::null_mut(), Ordering::AcqRel);
        // SAFETY: as in `push`.
        NonNull::new(old).map(|p| unsafe { T::from_raw(p) })
    }

    /// Whether the slot looks occupied (a hint).
    pub(crate) fn is_occupied(&self) -> bool {
        !self.slot.load(Ordering::Relaxed).is_null()
    }
}

impl<T: RawTask> Drop for RunNext<T> {
    fn drop(&mut self) {
        // Dropping the slot drops the task it still holds.
        drop(self.take());
    }
}

#[cfg(all(test, goro_loom))]
mod loom_tests {
    //! Model of the runnext handoff: the owner pushes two tasks (the second
    //! displaces the first into its local queue) and runs what it takes back,
    //! while a stealer takes from the slot. Every task must run exactly once.
    //!
    //! Run (under a second once built):
    //! `RUSTFLAGS="--cfg goro_loom" cargo test -p goro-runtime --release --lib runnext -- --test-threads=1`

    use super::*;
    use crate::loom::{thread, Arc, AtomicUsize};

    struct Tok(Box<usize>);
    impl RawTask for Tok {
        fn into_raw(self) -> NonNull<()> {
            NonNull::from(Box::leak(self.0)).cast()
        }
        unsafe fn from_raw(ptr: NonNull<()>) -> Self {
            // SAFETY: caller guarantees `ptr` came from `into_raw` above.
            Tok(unsafe { Box::from_raw(ptr.as_ptr().cast()) })
        }
    }

    #[test]
    fn runnext_push_take_steal() {
        loom::model(|| {
            let slot = Arc::new(RunNext::<Tok>::new());
            let ran = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
            let stealer = {
                let (slot, ran) = (slot.clone(), ran.clone());
                thread::spawn(move || {
                    if let Some(t) = slot.take() {
                        ran[*t.0].fetch_add(1, Ordering::Relaxed);
                    }
                })
            };
            let mut local = Vec::new();
            local.extend(slot.push(Tok(Box::new(0))));
            local.extend(slot.push(Tok(Box::new(1))));
            local.extend(slot.take());
            for t in local {
                ran[*t.0].fetch_add(1, Ordering::Relaxed);
            }
            stealer.join().unwrap();
            if let Some(t) = slot.take() {
                ran[*t.0].fetch_add(1, Ordering::Relaxed);
            }
            assert_eq!(ran[0].load(Ordering::Relaxed), 1);
            assert_eq!(ran[1].load(Ordering::Relaxed), 1);
        });
    }
}
