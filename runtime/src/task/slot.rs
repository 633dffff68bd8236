//! The join slot: where a goroutine's result waits for its `JoinHandle`,
//! apart from the task cell, so that a finished goroutine's cell (its
//! future's memory, its record) is freed when it finishes even while its
//! handle is held; what stays is this slot, the size of a state word and
//! the larger of the result and the joiner's waker (24 bytes for a
//! `JoinHandle<u64>`).
//!
//! Go has no join handle (a goroutine's result goes over a channel, and a
//! finished goroutine keeps nothing); this is what keeps a million held
//! handles from holding a million finished goroutines.
//!
//! # Design
//!
//! A one-shot slot with two owners: the [`Writer`] (the task: its
//! goroutine wrapper, or a blocking job) and the [`Reader`] (the join
//! handle). One allocation (from the task cells' per-thread cache, see
//! `cell::cache`): a state word and one place that holds the joiner's
//! waker until the writer finishes, and the result after.
//!
//! # State word
//!
//! - `WRITER`, `READER`: that end still holds the slot. Whoever clears the
//!   last one frees it.
//! - `DONE`: the writer finished (it cleared `WRITER` in the same step);
//!   `VALUE`: it left a result (else the task was cancelled). From `DONE`
//!   on only the reader touches the slot.
//! - `AWAITER`: the place holds the reader's waker (before `DONE`).
//! - `LOCKED`: a spin lock on the place before `DONE`, held by the reader to
//!   store or take its waker, and by the writer to take the waker and write
//!   the result; never held across user code other than a waker's
//!   `clone`/`drop`.
//!
//! # Invariants
//!
//! - Before `DONE` the place holds an `Option<Waker>` (`Some` exactly when
//!   `AWAITER` is set), read or written only under `LOCKED`; from `DONE`
//!   on it holds the result exactly while `VALUE` is set.
//! - `READER` cleared means no reader will look again: a writer that sees
//!   it (with an `Acquire` load or the read-modify-write that ends its
//!   lock) owns the slot alone. A reader that sees `DONE` owns it alone.
//!
//! # Memory ordering
//!
//! The writer's result is written before the `AcqRel` step that sets
//! `DONE`; the reader reads it after an `Acquire` load that sees `DONE`.
//! The lock is taken with `Acquire` and given back with `AcqRel`, so each
//! holder sees what the previous one wrote to the place. A free follows an
//! `Acquire` view of the other end's last step.
//!
//! Loom models at the bottom of this file:
//! `RUSTFLAGS="--cfg goro_loom" cargo test -p goro-runtime --release --lib loom_slot`.

use std::alloc::Layout;
use std::cell::UnsafeCell;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::ptr::NonNull;
use std::task::{Context, Waker};

use super::cell::cache;
use crate::loom::{spin_wait, AtomicUsize, Ordering};

const WRITER: usize = 1 << 0;
const READER: usize = 1 << 1;
const DONE: usize = 1 << 2;
const VALUE: usize = 1 << 3;
const AWAITER: usize = 1 << 4;
const LOCKED: usize = 1 << 5;

/// The joiner's waker, then the result.
union Place<T> {
    awaiter: ManuallyDrop<Option<Waker>>,
    value: ManuallyDrop<T>,
}

#[repr(C)]
struct Slot<T> {
    state: AtomicUsize,
    place: UnsafeCell<Place<T>>,
}

impl<T> Slot<T> {
    fn layout() -> Layout {
        Layout::new::<Self>()
    }

    /// Takes the lock on the place while `proceed` says so of the state
    /// word (seen unlocked); returns the state it locked (`Ok`), or the
    /// one `proceed` refused (`Err`).
    fn lock_if(&self, proceed: impl Fn(usize) -> bool) -> Result<usize, usize> {
        let mut state = self.state.load(Ordering::Acquire);
        loop {
            if !proceed(state) {
                return Err(state);
            }
            if state & LOCKED != 0 {
                spin_wait();
                state = self.state.load(Ordering::Acquire);
                continue;
            }
            match self.state.compare_exchange_weak(
                state,
                state | LOCKED,
                Ordering::Acquire,
                Ordering::Acquire,
            ) {
                Ok(_) => return Ok(state),
                Err(s) => state = s,
            }
        }
    }

    /// Gives the lock back, clearing `clear` and setting `set` in the same
    /// step; returns the state word it replaced.
    fn unlock(&self, clear: usize, set: usize) -> usize {
        let mut state = self.state.load(Ordering::Relaxed);
        loop {
            debug_assert!(state & LOCKED != 0);
            let new = (state & !(clear | LOCKED)) | set;
            match self
                .state
                .compare_exchange_weak(state, new, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => return state,
                Err(s) => state = s,
            }
        }
    }

    /// Takes the reader's waker out of the place.
    ///
    /// # Safety
    ///
    /// The caller holds `LOCKED` before `DONE`.
    unsafe fn take_awaiter(&self) -> Option<Waker> {
        // SAFETY: see above: the place holds the waker, and it is ours.
        unsafe { (*(*self.place.get()).awaiter).take() }
    }

    /// Moves the result out.
    ///
    /// # Safety
    ///
    /// `DONE` and `VALUE` are set and the caller owns the slot alone; it
    /// reads the result once.
    unsafe fn take_value(&self) -> T {
        // SAFETY: see above.
        unsafe { ManuallyDrop::take(&mut (*self.place.get()).value) }
    }

    /// Frees the slot.
    ///
    /// # Safety
    ///
    /// `this` is a slot both ends have let go of, whose place holds nothing
    /// to drop (no waker, no result).
    unsafe fn free(this: NonNull<Self>) {
        // SAFETY: see above; the memory came from `cache::alloc` with this
        // layout (`new`).
        unsafe { cache::dealloc(this.cast(), Self::layout()) };
    }
}

/// A new slot: its writer and its reader.
pub(crate) fn new<T>() -> (Writer<T>, Reader<T>) {
    let ptr = cache::alloc(Slot::<T>::layout()).cast::<Slot<T>>();
    // SAFETY: fresh memory for a `Slot<T>`, written before either end exists.
    unsafe {
        ptr.as_ptr().write(Slot {
            state: AtomicUsize::new(WRITER | READER),
            place: UnsafeCell::new(Place {
                awaiter: ManuallyDrop::new(None),
            }),
        });
    }
    (
        Writer {
            ptr,
            _t: PhantomData,
        },
        Reader {
            ptr,
            _t: PhantomData,
        },
    )
}

/// The task's end: [`Writer::finish`] leaves the result; dropped
/// unfinished, it tells the reader the task was cancelled.
pub(crate) struct Writer<T> {
    ptr: NonNull<Slot<T>>,
    _t: PhantomData<T>,
}

// SAFETY: the writer moves a `T` to the reader's thread.
unsafe impl<T: Send> Send for Writer<T> {}
// SAFETY: `&Writer` gives access to nothing.
unsafe impl<T> Sync for Writer<T> {}

impl<T> Writer<T> {
    /// Leaves `value` for the reader and wakes it; drops `value` if the
    /// reader is gone.
    pub(crate) fn finish(self, value: T) {
        let ptr = self.ptr;
        std::mem::forget(self);
        finish(ptr, Some(value));
    }
}

impl<T> Drop for Writer<T> {
    fn drop(&mut self) {
        finish(self.ptr, None);
    }
}

fn finish<T>(ptr: NonNull<Slot<T>>, value: Option<T>) {
    // SAFETY: the writer's share keeps the slot allocated.
    let slot = unsafe { ptr.as_ref() };
    let Ok(state) = slot.lock_if(|s| s & READER != 0) else {
        // The reader is gone for good: the slot is ours alone.
        drop(value);
        // SAFETY: no reader, and before `DONE` the place holds no waker
        // once the reader has gone (it takes its waker when it leaves).
        unsafe { Slot::free(ptr) };
        return;
    };
    let waker = if state & AWAITER != 0 {
        // SAFETY: we hold `LOCKED` before `DONE`.
        unsafe { slot.take_awaiter() }
    } else {
        None
    };
    let set = match value {
        Some(v) => {
            // SAFETY: we hold the lock; the place's waker (if any) was
            // taken: the result may take its place.
            unsafe {
                (*slot.place.get()).value = ManuallyDrop::new(v);
            }
            DONE | VALUE
        }
        None => DONE,
    };
    let before = slot.unlock(WRITER | AWAITER, set);
    if before & READER == 0 {
        // The reader left while we held the lock (it does not need the
        // lock when it has no waker stored): the slot is ours alone.
        if set & VALUE != 0 {
            // SAFETY: we wrote it above; nobody else reads it.
            drop(unsafe { slot.take_value() });
        }
        // SAFETY: no reader; the result is gone, the waker taken.
        unsafe { Slot::free(ptr) };
    }
    if let Some(w) = waker {
        w.wake();
    }
}

/// The join handle's end: the result (`Some`), or `None` if the task was
/// cancelled ([`Reader::poll_take`]). Dropping it detaches the task (the result,
/// when it comes, is dropped).
pub(crate) struct Reader<T> {
    ptr: NonNull<Slot<T>>,
    _t: PhantomData<T>,
}

// SAFETY: the reader moves the result (`T: Send`) to its thread.
unsafe impl<T: Send> Send for Reader<T> {}
// SAFETY: `&Reader` only reads the state word.
unsafe impl<T> Sync for Reader<T> {}

// The reader is a pointer: moving it moves no result.
impl<T> Unpin for Reader<T> {}

impl<T> Reader<T> {
    fn slot(&self) -> &Slot<T> {
        // SAFETY: the reader's share keeps the slot allocated.
        unsafe { self.ptr.as_ref() }
    }

    /// The task finished (with a result or cancelled).
    pub(crate) fn is_finished(&self) -> bool {
        self.slot().state.load(Ordering::Acquire) & DONE != 0
    }

    /// The result of the finished task whose state word the caller saw
    /// as `state` (with `DONE`): frees the slot, which is ours alone.
    fn take(self, state: usize) -> Option<T> {
        debug_assert!(state & DONE != 0 && state & WRITER == 0);
        let ptr = self.ptr;
        std::mem::forget(self);
        // SAFETY: `DONE`: the writer is gone and only we touch the slot;
        // the result (if `VALUE`) is read once, then the slot is freed.
        unsafe {
            let v = (state & VALUE != 0).then(|| ptr.as_ref().take_value());
            Slot::free(ptr);
            v
        }
    }
}

impl<T> Reader<T> {
    /// Polls for the result: `Ready` consumes the reader (its slot is
    /// freed), `Pending` gives it back with `cx`'s waker stored.
    pub(crate) fn poll_take(self, cx: &mut Context<'_>) -> Result<Option<T>, Self> {
        let slot = self.slot();
        if let Err(done) = slot.lock_if(|s| s & DONE == 0) {
            return Ok(self.take(done));
        }
        // SAFETY: we hold `LOCKED` before `DONE`: the place holds the waker.
        let place = unsafe { &mut *(*slot.place.get()).awaiter };
        let old = match place {
            Some(w) if w.will_wake(cx.waker()) => None,
            _ => place.replace(cx.waker().clone()),
        };
        slot.unlock(0, AWAITER);
        drop(old);
        Err(self)
    }
}

impl<T> Drop for Reader<T> {
    fn drop(&mut self) {
        let ptr = self.ptr;
        let slot = self.slot();
        let mut state = slot.state.load(Ordering::Acquire);
        loop {
            if state & DONE != 0 {
                // The writer is gone: drop the result, free the slot.
                // SAFETY: `DONE`: the slot is ours alone.
                unsafe {
                    if state & VALUE != 0 {
                        drop(slot.take_value());
                    }
                    Slot::free(ptr);
                }
                return;
            }
            if state & AWAITER == 0 {
                // No waker of ours to take: leave without the lock (a
                // writer holding it sees `READER` cleared when it unlocks).
                match slot.state.compare_exchange_weak(
                    state,
                    state & !READER,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                ) {
                    Ok(_) => return,
                    Err(s) => state = s,
                }
                continue;
            }
            // Our waker is stored: take it under the lock.
            match slot.lock_if(|s| s & DONE == 0) {
                Err(s) => state = s,
                Ok(_) => {
                    // SAFETY: we hold `LOCKED` before `DONE`.
                    let w = unsafe { slot.take_awaiter() };
                    slot.unlock(READER | AWAITER, 0);
                    drop(w);
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod fixture {
    use std::future::Future;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use super::Reader;
    use crate::loom::{Arc, AtomicUsize, Ordering};

    /// Counts its drops.
    pub(super) struct Counted(pub(super) Arc<AtomicUsize>);
    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// The reader as a future, as `JoinHandle` uses it.
    pub(super) struct Join<T>(pub(super) Option<Reader<T>>);
    impl<T> Future for Join<T> {
        type Output = Option<T>;
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
            match self.0.take().expect("polled after ready").poll_take(cx) {
                Ok(v) => Poll::Ready(v),
                Err(r) => {
                    self.0 = Some(r);
                    Poll::Pending
                }
            }
        }
    }
}

#[cfg(all(test, not(goro_loom)))]
mod tests {
    use std::future::Future;
    use std::pin::Pin;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::{Context, Poll, Wake, Waker};

    use super::fixture::{Counted, Join};

    struct Flag(AtomicUsize);
    impl Wake for Flag {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn the_result_reaches_a_waiting_reader_once_and_wakes_it() {
        let drops = Arc::new(AtomicUsize::new(0));
        let (w, r) = super::new::<Counted>();
        let mut join = Join(Some(r));
        let flag = Arc::new(Flag(AtomicUsize::new(0)));
        let waker = Waker::from(flag.clone());
        let mut cx = Context::from_waker(&waker);
        assert!(Pin::new(&mut join).poll(&mut cx).is_pending());
        assert!(Pin::new(&mut join).poll(&mut cx).is_pending());
        assert!(!join.0.as_ref().unwrap().is_finished());
        w.finish(Counted(drops.clone()));
        assert_eq!(flag.0.load(Ordering::SeqCst), 1, "woken once");
        assert!(join.0.as_ref().unwrap().is_finished());
        match Pin::new(&mut join).poll(&mut cx) {
            Poll::Ready(Some(v)) => drop(v),
            _ => panic!("expected the result"),
        }
        assert_eq!(drops.load(Ordering::SeqCst), 1);
        assert_eq!(Arc::strong_count(&flag), 2, "the stored waker was dropped");
    }

    #[test]
    fn a_result_nobody_reads_is_dropped_whichever_end_goes_last() {
        let drops = Arc::new(AtomicUsize::new(0));
        let (w, r) = super::new::<Counted>();
        drop(r);
        w.finish(Counted(drops.clone()));
        assert_eq!(drops.load(Ordering::SeqCst), 1, "writer last");
        let (w, r) = super::new::<Counted>();
        w.finish(Counted(drops.clone()));
        assert_eq!(drops.load(Ordering::SeqCst), 1);
        drop(r);
        assert_eq!(drops.load(Ordering::SeqCst), 2, "reader last");
    }

    #[test]
    fn a_dropped_writer_reads_as_cancelled_and_a_stored_waker_is_released() {
        let flag = Arc::new(Flag(AtomicUsize::new(0)));
        let waker = Waker::from(flag.clone());
        let mut cx = Context::from_waker(&waker);
        let (w, r) = super::new::<u64>();
        let mut join = Join(Some(r));
        assert!(Pin::new(&mut join).poll(&mut cx).is_pending());
        drop(w);
        assert_eq!(flag.0.load(Ordering::SeqCst), 1);
        assert!(matches!(
            Pin::new(&mut join).poll(&mut cx),
            Poll::Ready(None)
        ));
        // A reader that leaves with its waker stored gives the waker back.
        let (w, r) = super::new::<u64>();
        let mut join = Join(Some(r));
        assert!(Pin::new(&mut join).poll(&mut cx).is_pending());
        assert_eq!(Arc::strong_count(&flag), 3);
        drop(join);
        assert_eq!(Arc::strong_count(&flag), 2);
        w.finish(7);
        assert_eq!(flag.0.load(Ordering::SeqCst), 1, "nobody to wake");
    }
}

/// Loom models of the slot: the writer finishing (or dropped) on one
/// thread while the reader waits for it, leaves, or has left, on another.
/// Loom reports a leaked `Arc` (a result or waker never dropped), and the
/// counters show each result dropped exactly once.
#[cfg(all(test, goro_loom))]
mod loom_slot {
    use super::fixture::{Counted, Join};
    use crate::loom::{Arc, AtomicUsize, Ordering};

    fn count(n: &Arc<AtomicUsize>) -> usize {
        n.load(Ordering::SeqCst)
    }

    /// The result reaches a reader that waits (`block_on` stores its
    /// waker, and is woken by the writer) exactly once.
    #[test]
    fn finish_races_a_waiting_reader() {
        loom::model(|| {
            let drops = Arc::new(AtomicUsize::new(0));
            let (w, r) = super::new::<Counted>();
            let d = drops.clone();
            let t = loom::thread::spawn(move || w.finish(Counted(d)));
            let out = loom::future::block_on(Join(Some(r)));
            assert!(out.is_some());
            drop(out);
            t.join().unwrap();
            assert_eq!(count(&drops), 1);
        });
    }

    /// The reader leaves (after storing its waker, or without) while the
    /// writer finishes: the result is dropped once, by whichever end goes
    /// last, and the slot is freed once.
    #[test]
    fn finish_races_the_reader_leaving() {
        for poll_first in [false, true] {
            loom::model(move || {
                let drops = Arc::new(AtomicUsize::new(0));
                let (w, r) = super::new::<Counted>();
                let mut join = Join(Some(r));
                if poll_first {
                    let waker = futures_noop_waker();
                    let mut cx = std::task::Context::from_waker(&waker);
                    let p = std::future::Future::poll(std::pin::Pin::new(&mut join), &mut cx);
                    assert!(p.is_pending());
                }
                let d = drops.clone();
                let t = loom::thread::spawn(move || w.finish(Counted(d)));
                drop(join);
                t.join().unwrap();
                assert_eq!(count(&drops), 1);
            });
        }
    }

    /// The writer is dropped unfinished (the task cancelled) while the
    /// reader waits: the reader sees `None`.
    #[test]
    fn cancel_races_a_waiting_reader() {
        loom::model(|| {
            let (w, r) = super::new::<Counted>();
            let t = loom::thread::spawn(move || drop(w));
            assert!(loom::future::block_on(Join(Some(r))).is_none());
            t.join().unwrap();
        });
    }

    fn futures_noop_waker() -> std::task::Waker {
        std::task::Waker::noop().clone()
    }
}
