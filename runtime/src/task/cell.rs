//! The task cell: one allocation per goroutine holding its state word, its
//! metadata (the goroutine record), its schedule function and its future;
//! and the two kinds of handle onto it: [`Runnable`] (the right to poll it
//! once) and the wakers. The future's result does not live here: a
//! goroutine leaves it in its join slot (`slot`), so that the cell is
//! freed when the goroutine finishes, whoever holds its `JoinHandle`.
//!
//! Go: the `g` struct and its free lists (`gfget`/`gfput` in
//! `runtime/proc.go`).
//!
//! # Design
//!
//! The state machine is the one every Rust task cell has (async-task's,
//! tokio's): a state word with flags and a reference count, so that waking,
//! running, joining and dropping race through compare-and-swap on one word
//! and the future is only ever touched by whoever holds `SCHEDULED` or
//! `RUNNING`. goro writes its own for two reasons:
//!
//! - **Allocation.** A goroutine's cell is freed shortly after it
//!   finishes, usually on the thread that spawns the next ones (the
//!   registry's sweep, see `registry`). A small per-thread cache of freed
//!   cells, by size class ([`cache`]), gives the next spawn its memory
//!   without going through the allocator (Go keeps dead `g`s on per-P free
//!   lists for the same reason): glibc's `malloc`/`free` were a quarter of
//!   a spawn's instructions (callgrind, `spawn_wg`), and on two workers a
//!   cell freed by the worker that did not allocate it took an arena lock.
//! - **Fit.** The schedule function learns whether the task woke itself
//!   during its own poll, and a wake hands the waker's reference to the
//!   `Runnable` it schedules (no extra reference-count traffic). A task
//!   has no output and no joiner: both are the join slot's, which a
//!   goroutine's future fills.
//!
//! # State word
//!
//! Flags in the low byte, the reference count above it. References are
//! held by the `Runnable` (at most one) and by every waker. The allocation
//! is freed when the count is zero.
//!
//! - `SCHEDULED`: a `Runnable` exists (queued), or the running poll must
//!   make one when it returns (a wake during the poll).
//! - `RUNNING`: a `Runnable` is polling the future.
//! - `COMPLETED`: the future finished (and was dropped).
//! - `CLOSED`: the future was dropped unfinished (or is about to be, by the
//!   holder of `SCHEDULED`).
//!
//! # Invariants
//!
//! - The future is present from `spawn` until the holder of `SCHEDULED`
//!   (a `Runnable`) or `RUNNING` drops it: on completion, on finding
//!   `CLOSED` set, or when the `Runnable` is dropped unrun (which sets
//!   `CLOSED` after dropping it). Nobody else touches it.
//! - `SCHEDULED` without `RUNNING` means one `Runnable` exists, holding
//!   one reference.
//! - Nothing sets `CLOSED` on a running cell, and `CLOSED` with `SCHEDULED`
//!   arises only when the last reference is gone with the future still
//!   there (`last_ref`), which schedules the cell once so that its future
//!   is dropped. (Dropping a `Runnable` unrun drops the future first, then
//!   sets `CLOSED`.)
//!
//! # Memory ordering
//!
//! Every change of the flags is an `AcqRel` read-modify-write on the state
//! word (taking a reference is `Relaxed`, as in `Arc`):
//! a waker's writes before `wake` happen before the poll it causes (the
//! run's transition to `RUNNING` reads the wake's value or a later one). The last reference's decrement is `AcqRel`, as in `Arc`,
//! so the destruction sees every other holder's accesses.
//!
//! Loom models at the bottom of this file:
//! `RUSTFLAGS="--cfg goro_loom" cargo test -p goro-runtime --release --lib loom_cell`.

use std::alloc::Layout;
use std::cell::UnsafeCell;
use std::future::Future;
use std::marker::PhantomData;
use std::mem::{self, ManuallyDrop};
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};

use crate::loom::{AtomicUsize, Ordering};

const SCHEDULED: usize = 1 << 0;
const RUNNING: usize = 1 << 1;
const COMPLETED: usize = 1 << 2;
const CLOSED: usize = 1 << 3;
const REFERENCE: usize = 1 << 8;
const FLAGS: usize = REFERENCE - 1;

/// The functions of one cell type, shared by its `Runnable` and wakers
/// (which do not know the future's type).
struct TaskVtable {
    /// Polls the future (the caller holds the `Runnable`'s reference and
    /// `SCHEDULED`, passed on to the call).
    run: unsafe fn(NonNull<()>),
    /// Cancels the unfinished future ([`Body::cancel`]) and drops it in
    /// place.
    cancel: unsafe fn(NonNull<()>),
    /// Hands a `Runnable` (one reference) to the schedule function.
    schedule: unsafe fn(NonNull<()>, bool),
    /// Drops the metadata and the schedule function, frees the cell.
    destroy: unsafe fn(NonNull<()>),
}

/// The start of every cell.
#[repr(C)]
struct Header<M> {
    state: AtomicUsize,
    vtable: &'static TaskVtable,
    metadata: M,
}

#[repr(C)]
struct Cell<F, S, M> {
    header: Header<M>,
    schedule: S,
    /// Present as the invariants say.
    future: UnsafeCell<ManuallyDrop<F>>,
}

/// What a cell runs: a future that is handed the cell's metadata when it
/// is polled and when it is cancelled, so that it need not keep a pointer
/// to it (a goroutine's wrapper reaches its record so; any
/// `Future<Output = ()>` is a body that ignores the metadata).
pub(crate) trait Body<M> {
    /// Polls the body, as `Future::poll`.
    fn poll(self: Pin<&mut Self>, metadata: &M, cx: &mut Context<'_>) -> Poll<()>;
    /// The task is cancelled unfinished: the body is dropped in place right
    /// after this returns. Must not unwind.
    fn cancel(self: Pin<&mut Self>, metadata: &M);
    /// The cell is being freed (its body dropped long before): the last
    /// look at the metadata, before it is dropped. Must not unwind.
    fn destroyed(_metadata: &mut M) {}
}

impl<M, F: Future<Output = ()>> Body<M> for F {
    #[inline]
    fn poll(self: Pin<&mut Self>, _: &M, cx: &mut Context<'_>) -> Poll<()> {
        Future::poll(self, cx)
    }

    #[inline]
    fn cancel(self: Pin<&mut Self>, _: &M) {}
}

/// Aborts if dropped: held across code that must not unwind through a
/// half-updated cell (a future's `poll` or `drop`; goro's own futures
/// catch their panics before they get here).
struct AbortOnUnwind;

impl Drop for AbortOnUnwind {
    fn drop(&mut self) {
        std::process::abort();
    }
}

#[inline]
fn guarded<R>(f: impl FnOnce() -> R) -> R {
    let guard = AbortOnUnwind;
    let r = f();
    mem::forget(guard);
    r
}

#[inline]
fn header<'a, M>(ptr: NonNull<()>) -> &'a Header<M> {
    // SAFETY: every pointer handed around here points to a live cell, whose
    // `repr(C)` layout starts with its `Header<M>` (callers hold a reference
    // or the handle, which keeps it allocated).
    unsafe { ptr.cast::<Header<M>>().as_ref() }
}

/// Why the schedule function is called.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ScheduleInfo {
    /// The task was woken during its own poll (it yielded, or something
    /// it polled woke it at once) and is rescheduled as that poll ends.
    pub(crate) woken_while_running: bool,
}

impl<F, S, M> Cell<F, S, M>
where
    F: Body<M>,
    S: Fn(Runnable<M>, ScheduleInfo),
{
    const VTABLE: TaskVtable = TaskVtable {
        run: Self::run,
        cancel: Self::cancel,
        schedule: Self::schedule,
        destroy: Self::destroy,
    };

    const WAKER_VTABLE: RawWakerVTable = RawWakerVTable::new(
        Self::clone_waker,
        Self::wake,
        Self::wake_by_ref,
        Self::drop_waker,
    );

    fn layout() -> Layout {
        Layout::new::<Self>()
    }

    #[inline]
    fn from_ptr<'a>(ptr: NonNull<()>) -> &'a Self {
        // SAFETY: `ptr` is a live cell of this type (the vtable it was
        // reached through is this type's).
        unsafe { ptr.cast::<Self>().as_ref() }
    }

    unsafe fn run(ptr: NonNull<()>) {
        let cell = Self::from_ptr(ptr);
        let h = &cell.header;
        let mut state = h.state.load(Ordering::Acquire);
        loop {
            debug_assert!(state & SCHEDULED != 0 && state & RUNNING == 0);
            if state & CLOSED != 0 {
                // Closed while queued (scheduled only to drop its future):
                // what dropping the `Runnable` unrun does.
                drop(Runnable::<M> {
                    ptr,
                    _m: PhantomData,
                });
                return;
            }
            match h.state.compare_exchange_weak(
                state,
                (state & !SCHEDULED) | RUNNING,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    state = (state & !SCHEDULED) | RUNNING;
                    break;
                }
                Err(s) => state = s,
            }
        }
        // The poll's waker: borrowed, the `Runnable`'s reference keeps the
        // cell alive during the poll.
        // SAFETY: `WAKER_VTABLE`'s functions take this cell's pointer.
        let waker = ManuallyDrop::new(unsafe {
            Waker::from_raw(RawWaker::new(ptr.as_ptr(), &Self::WAKER_VTABLE))
        });
        let mut cx = Context::from_waker(&waker);
        // SAFETY: we hold `RUNNING`: the future is present and ours; the
        // cell never moves, so pinning it in place is sound.
        let polled = guarded(|| unsafe {
            Body::poll(
                Pin::new_unchecked(&mut **cell.future.get()),
                &h.metadata,
                &mut cx,
            )
        });
        match polled {
            Poll::Ready(()) => {
                // SAFETY: as above.
                unsafe { Self::drop_future(ptr) };
                update(&h.state, state, |s| (s & !RUNNING & !SCHEDULED) | COMPLETED);
                drop_ref::<M>(ptr);
            }
            Poll::Pending => {
                state = update(&h.state, state, |s| s & !RUNNING);
                // Nothing closes a running cell (see the invariants).
                debug_assert!(state & CLOSED == 0);
                if state & SCHEDULED != 0 {
                    // Woken during the poll: the `Runnable`'s reference
                    // goes to the new `Runnable`.
                    // SAFETY: `SCHEDULED` is set and we hold a reference.
                    unsafe { Self::schedule(ptr, true) };
                } else {
                    drop_ref::<M>(ptr);
                }
            }
        }
    }

    unsafe fn drop_future(ptr: NonNull<()>) {
        let cell = Self::from_ptr(ptr);
        // SAFETY: the caller owns the present future.
        guarded(|| unsafe { ManuallyDrop::drop(&mut *cell.future.get()) });
    }

    unsafe fn cancel(ptr: NonNull<()>) {
        let cell = Self::from_ptr(ptr);
        // SAFETY: the caller owns the present, unfinished future; the cell
        // never moves, so pinning it in place is sound.
        guarded(|| unsafe {
            Body::cancel(
                Pin::new_unchecked(&mut **cell.future.get()),
                &cell.header.metadata,
            );
        });
        // SAFETY: as above.
        unsafe { Self::drop_future(ptr) };
    }

    unsafe fn schedule(ptr: NonNull<()>, woken_while_running: bool) {
        let cell = Self::from_ptr(ptr);
        let runnable = Runnable {
            ptr,
            _m: PhantomData,
        };
        (cell.schedule)(
            runnable,
            ScheduleInfo {
                woken_while_running,
            },
        );
    }

    unsafe fn destroy(ptr: NonNull<()>) {
        let cell = ptr.cast::<Self>();
        // SAFETY: the last holder destroys the cell once: the metadata and
        // the schedule function are dropped, the future was dropped
        // before, and the memory goes back where `spawn` got it.
        unsafe {
            let c = cell.as_ptr();
            guarded(|| {
                F::destroyed(&mut (*c).header.metadata);
                std::ptr::drop_in_place(std::ptr::addr_of_mut!((*c).header.metadata));
                std::ptr::drop_in_place(std::ptr::addr_of_mut!((*c).schedule));
            });
            cache::dealloc(cell.cast(), Self::layout());
        }
    }

    unsafe fn clone_waker(ptr: *const ()) -> RawWaker {
        let ptr = NonNull::new(ptr.cast_mut()).expect("a task waker's pointer");
        add_ref::<M>(ptr);
        RawWaker::new(ptr.as_ptr(), &Self::WAKER_VTABLE)
    }

    unsafe fn wake(ptr: *const ()) {
        let ptr = NonNull::new(ptr.cast_mut()).expect("a task waker's pointer");
        let h = header::<M>(ptr);
        let mut state = h.state.load(Ordering::Acquire);
        loop {
            if state & (COMPLETED | CLOSED) != 0 {
                drop_ref::<M>(ptr);
                return;
            }
            // Scheduled or running: record the wake (a read-modify-write,
            // so the coming poll sees what the waker did) and give up the
            // waker's reference. Otherwise the reference becomes the
            // `Runnable`'s.
            match h.state.compare_exchange_weak(
                state,
                state | SCHEDULED,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    if state & (SCHEDULED | RUNNING) != 0 {
                        drop_ref::<M>(ptr);
                    } else {
                        // SAFETY: we set `SCHEDULED` and pass our reference.
                        unsafe { Self::schedule(ptr, false) };
                    }
                    return;
                }
                Err(s) => state = s,
            }
        }
    }

    unsafe fn wake_by_ref(ptr: *const ()) {
        let ptr = NonNull::new(ptr.cast_mut()).expect("a task waker's pointer");
        let h = header::<M>(ptr);
        let mut state = h.state.load(Ordering::Acquire);
        loop {
            if state & (COMPLETED | CLOSED) != 0 {
                return;
            }
            let idle = state & (SCHEDULED | RUNNING) == 0;
            // Idle: the new `Runnable` needs a reference of its own.
            let new = if idle {
                check_count(state);
                (state | SCHEDULED) + REFERENCE
            } else {
                state | SCHEDULED
            };
            match h
                .state
                .compare_exchange_weak(state, new, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => {
                    if idle {
                        // SAFETY: we set `SCHEDULED` and took a reference.
                        unsafe { Self::schedule(ptr, false) };
                    }
                    return;
                }
                Err(s) => state = s,
            }
        }
    }

    unsafe fn drop_waker(ptr: *const ()) {
        let ptr = NonNull::new(ptr.cast_mut()).expect("a task waker's pointer");
        drop_ref::<M>(ptr);
    }
}

/// Replaces the state word `state` (its last value seen) by `f` of it,
/// atomically (`AcqRel`), retrying from the current value if it changed;
/// returns the value replaced.
#[inline]
fn update(word: &AtomicUsize, mut state: usize, f: impl Fn(usize) -> usize) -> usize {
    loop {
        match word.compare_exchange_weak(state, f(state), Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => return state,
            Err(s) => state = s,
        }
    }
}

/// Aborts on a reference count about to overflow (as `Arc` does).
#[inline]
fn check_count(state: usize) {
    if state > isize::MAX as usize {
        std::process::abort();
    }
}

#[inline]
fn add_ref<M>(ptr: NonNull<()>) {
    let old = header::<M>(ptr)
        .state
        .fetch_add(REFERENCE, Ordering::Relaxed);
    check_count(old);
}

/// Gives up one reference; the last one frees the cell, or, if the future
/// is still there (nobody can wake it any more), schedules it once to be
/// dropped by a worker.
#[inline]
fn drop_ref<M>(ptr: NonNull<()>) {
    let h = header::<M>(ptr);
    let old = h.state.fetch_sub(REFERENCE, Ordering::AcqRel);
    if old & !FLAGS == REFERENCE {
        last_ref::<M>(ptr, old - REFERENCE);
    }
}

#[cold]
fn last_ref<M>(ptr: NonNull<()>, state: usize) {
    let h = header::<M>(ptr);
    if state & (COMPLETED | CLOSED) == 0 {
        // An unfinished future nobody can reach: close it and let a
        // `Runnable` drop it (as a cancelled task is dropped).
        h.state
            .store(SCHEDULED | CLOSED | REFERENCE, Ordering::Release);
        // SAFETY: `SCHEDULED` and the one reference are the new `Runnable`'s.
        unsafe { (h.vtable.schedule)(ptr, false) };
    } else {
        // SAFETY: no reference is left.
        unsafe { (h.vtable.destroy)(ptr) };
    }
}

/// Creates a cell running the future `make_future` builds (given the
/// metadata at its final address), scheduled with `schedule`. The returned
/// `Runnable` is not scheduled yet; the waker holds a reference of its own,
/// counted in the initial state word, so the spawn makes no read-modify-write
/// on the cell (whose memory may come warm from another core's cache, where
/// such an instruction waits for the line).
///
/// The bounds are what makes `Runnable` `Send`: the future and the
/// schedule function may run on any thread.
pub(crate) fn spawn<F, S, M>(
    metadata: M,
    make_future: impl FnOnce(&M) -> F,
    schedule: S,
) -> (Runnable<M>, Waker)
where
    F: Body<M> + Send + 'static,
    S: Fn(Runnable<M>, ScheduleInfo) + Send + Sync + 'static,
    M: Send + Sync + 'static,
{
    let ptr = build::<F, S, M>(metadata, make_future, schedule);
    // SAFETY: `WAKER_VTABLE`'s functions take this cell's pointer, and the
    // waker owns the second of the two references the state starts with.
    let waker =
        unsafe { Waker::from_raw(RawWaker::new(ptr.as_ptr(), &Cell::<F, S, M>::WAKER_VTABLE)) };
    (
        Runnable {
            ptr,
            _m: PhantomData,
        },
        waker,
    )
}

/// Allocates and fills a cell whose state starts `SCHEDULED` with two
/// references (the `Runnable`'s and the waker's `spawn` makes).
fn build<F, S, M>(metadata: M, make_future: impl FnOnce(&M) -> F, schedule: S) -> NonNull<()>
where
    F: Body<M> + Send + 'static,
    S: Fn(Runnable<M>, ScheduleInfo) + Send + Sync + 'static,
    M: Send + Sync + 'static,
{
    let layout = Cell::<F, S, M>::layout();
    let raw = cache::alloc(layout).cast::<Cell<F, S, M>>();
    // SAFETY: `raw` is fresh memory for a `Cell<F, S, M>`; the header,
    // schedule and future are written before any handle exists.
    unsafe {
        let c = raw.as_ptr();
        std::ptr::addr_of_mut!((*c).header).write(Header {
            state: AtomicUsize::new(SCHEDULED | (2 * REFERENCE)),
            vtable: &Cell::<F, S, M>::VTABLE,
            metadata,
        });
        std::ptr::addr_of_mut!((*c).schedule).write(schedule);
        // Must not unwind: the cell is half built.
        let fut = guarded(|| make_future(&(*c).header.metadata));
        std::ptr::addr_of_mut!((*c).future).write(UnsafeCell::new(ManuallyDrop::new(fut)));
    }
    raw.cast::<()>()
}

/// The right to poll a task once (holds `SCHEDULED` and one reference).
/// Dropping it unrun cancels the task: its future is dropped.
pub(crate) struct Runnable<M> {
    ptr: NonNull<()>,
    _m: PhantomData<M>,
}

// SAFETY: a `Runnable` may be run on any thread: `spawn`, the only maker of
// cells, requires the future and the schedule function to be `Send`
// (and the schedule function `Sync`), the metadata `Send + Sync`.
unsafe impl<M: Send + Sync> Send for Runnable<M> {}
// SAFETY: `&Runnable` only reads the metadata.
unsafe impl<M: Send + Sync> Sync for Runnable<M> {}

impl<M> Runnable<M> {
    /// Polls the task once. Returns as the poll does; a wake during it
    /// reschedules the task before this returns.
    pub(crate) fn run(self) {
        let ptr = self.ptr;
        mem::forget(self);
        // SAFETY: we hold `SCHEDULED` and a reference, both passed on.
        unsafe { (header::<M>(ptr).vtable.run)(ptr) }
    }

    /// Hands this `Runnable` to its schedule function.
    pub(crate) fn schedule(self) {
        let ptr = self.ptr;
        mem::forget(self);
        // SAFETY: as in `run`.
        unsafe { (header::<M>(ptr).vtable.schedule)(ptr, false) }
    }

    /// The task's metadata.
    pub(crate) fn metadata(&self) -> &M {
        &header::<M>(self.ptr).metadata
    }

    /// The cell's pointer, for a queue slot; `from_raw` takes it back.
    pub(crate) fn into_raw(self) -> NonNull<()> {
        let ptr = self.ptr;
        mem::forget(self);
        ptr
    }

    /// # Safety
    ///
    /// `ptr` came from [`Runnable::into_raw`] of this `M` and is taken back
    /// once.
    pub(crate) unsafe fn from_raw(ptr: NonNull<()>) -> Self {
        Runnable {
            ptr,
            _m: PhantomData,
        }
    }
}

impl<M> Drop for Runnable<M> {
    fn drop(&mut self) {
        let ptr = self.ptr;
        let h = header::<M>(ptr);
        // We hold `SCHEDULED`: the future is ours to cancel and drop
        // (closed or not).
        // SAFETY: see above.
        unsafe { (h.vtable.cancel)(ptr) };
        update(&h.state, h.state.load(Ordering::Acquire), |s| {
            (s & !SCHEDULED) | CLOSED
        });
        drop_ref::<M>(ptr);
    }
}

impl<M> std::fmt::Debug for Runnable<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runnable").finish_non_exhaustive()
    }
}

/// Per-thread caches of freed cells, by size class. Go: `gfput`/`gfget`.
///
/// A cell of at most [`cache::MAX`] bytes (alignment at most 16) is
/// allocated with the size of its class (`class_layout`). Freed on a
/// thread that runs a worker (between [`cache::enter`] and the drop of its
/// guard), it goes to that thread's list for its size (at most
/// [`cache::KEEP`] bytes of cells per size), to be handed to that thread's
/// next spawn of a cell of the same size class; the lists are emptied when
/// the thread stops being a worker, so a thread outside a runtime keeps
/// nothing. Under loom and AddressSanitizer every cell goes straight to the
/// allocator (a cached cell would hide a use after free from ASan).
pub(crate) mod cache {
    use std::alloc::{self, Layout};
    use std::ptr::NonNull;

    /// Largest cached cell size.
    pub(super) const MAX: usize = 1024;
    /// Bytes of free cells kept per size class and thread.
    #[cfg_attr(any(goro_loom, goro_asan), allow(dead_code))]
    pub(super) const KEEP: usize = 64 * 1024;
    const GRAIN: usize = 16;
    const CLASSES: usize = MAX / GRAIN;

    /// The layout cells of size class `class` are allocated with: 16
    /// bytes apart, 8 short of a multiple of 16, the usable sizes of
    /// glibc's chunks (a multiple of 16 would take the next chunk size:
    /// 16 bytes more per cell than the exact request).
    #[inline]
    pub(super) fn class_layout(class: usize) -> Layout {
        debug_assert!(class < CLASSES);
        // SAFETY: the alignment is a power of two, and the size (at most
        // `MAX + GRAIN / 2`) rounded up to it does not overflow `isize`.
        unsafe { Layout::from_size_align_unchecked((class + 1) * GRAIN + GRAIN / 2, GRAIN) }
    }

    /// The class of cells of `layout`, and the layout they are allocated
    /// with.
    #[inline]
    fn class(layout: Layout) -> Option<(usize, Layout)> {
        if layout.size() > MAX || layout.align() > GRAIN || layout.size() == 0 {
            return None;
        }
        let class = (layout.size() + GRAIN / 2).div_ceil(GRAIN).max(2) - 2;
        Some((class, class_layout(class)))
    }

    #[cfg(not(any(goro_loom, goro_asan)))]
    mod lists {
        use std::cell::Cell;
        use std::ptr::NonNull;

        use super::{CLASSES, KEEP};

        /// A free cell's first word: the next free cell of its list.
        struct Free {
            next: *mut Free,
        }

        pub(super) struct Lists {
            heads: [Cell<*mut Free>; CLASSES],
            counts: [Cell<u32>; CLASSES],
            /// Nested worker runs on this thread (`enter`); 0: no caching.
            pub(super) active: Cell<u32>,
        }

        impl Lists {
            const fn new() -> Self {
                Lists {
                    heads: [const { Cell::new(std::ptr::null_mut()) }; CLASSES],
                    counts: [const { Cell::new(0) }; CLASSES],
                    active: Cell::new(0),
                }
            }

            /// Frees every cached cell.
            pub(super) fn flush(&self) {
                for class in 0..CLASSES {
                    let layout = super::class_layout(class);
                    while let Some(p) = self.pop(class) {
                        // SAFETY: every cell on a list was allocated with
                        // its class's layout.
                        unsafe { std::alloc::dealloc(p.as_ptr(), layout) };
                    }
                }
            }

            #[inline]
            pub(super) fn pop(&self, class: usize) -> Option<NonNull<u8>> {
                let head = NonNull::new(self.heads[class].get())?;
                // SAFETY: a cell on the list is unused memory of at least
                // 24 bytes whose first word `push` wrote.
                self.heads[class].set(unsafe { head.as_ref().next });
                self.counts[class].set(self.counts[class].get() - 1);
                Some(head.cast())
            }

            /// Keeps `p`, or gives it back if the list is full.
            #[inline]
            pub(super) fn push(&self, class: usize, p: NonNull<u8>) -> Result<(), NonNull<u8>> {
                let n = self.counts[class].get();
                if self.active.get() == 0
                    || (n as usize + 1) * super::class_layout(class).size() > KEEP
                {
                    return Err(p);
                }
                let f = p.cast::<Free>();
                // SAFETY: `p` is an unused cell of this class (>= 24 bytes,
                // 16-aligned): room for the link.
                unsafe {
                    f.as_ptr().write(Free {
                        next: self.heads[class].get(),
                    })
                };
                self.heads[class].set(f.as_ptr());
                self.counts[class].set(n + 1);
                Ok(())
            }
        }

        impl Drop for Lists {
            fn drop(&mut self) {
                self.flush();
            }
        }

        thread_local! {
            pub(super) static LISTS: Lists = const { Lists::new() };
        }
    }

    /// This thread runs a worker until the guard is dropped: it caches
    /// freed cells meanwhile (nested calls nest).
    pub(crate) fn enter() -> Guard {
        #[cfg(not(any(goro_loom, goro_asan)))]
        let _ = lists::LISTS.try_with(|l| l.active.set(l.active.get() + 1));
        Guard(())
    }

    /// See [`enter`]: the last guard of a thread empties its lists.
    pub(crate) struct Guard(());

    impl Drop for Guard {
        fn drop(&mut self) {
            #[cfg(not(any(goro_loom, goro_asan)))]
            let _ = lists::LISTS.try_with(|l| {
                l.active.set(l.active.get() - 1);
                if l.active.get() == 0 {
                    l.flush();
                }
            });
        }
    }

    /// Memory for a cell of `layout`.
    #[inline]
    pub(crate) fn alloc(layout: Layout) -> NonNull<u8> {
        let layout = match class(layout) {
            Some((_class, rounded)) => {
                #[cfg(not(any(goro_loom, goro_asan)))]
                if let Ok(Some(p)) = lists::LISTS.try_with(|l| l.pop(_class)) {
                    return p;
                }
                rounded
            }
            None => layout,
        };
        // SAFETY: a cell's layout has a non-zero size (its header).
        let p = unsafe { alloc::alloc(layout) };
        NonNull::new(p).unwrap_or_else(|| alloc::handle_alloc_error(layout))
    }

    /// Frees a cell of `layout` that `alloc` gave.
    ///
    /// # Safety
    ///
    /// `p` came from `alloc(layout)` and nothing uses it any more.
    #[inline]
    pub(crate) unsafe fn dealloc(p: NonNull<u8>, layout: Layout) {
        let layout = match class(layout) {
            Some((_class, rounded)) => {
                #[cfg(not(any(goro_loom, goro_asan)))]
                if let Ok(Ok(())) = lists::LISTS.try_with(|l| l.push(_class, p)) {
                    return;
                }
                rounded
            }
            None => layout,
        };
        // SAFETY: `p` was allocated with this (rounded) layout.
        unsafe { alloc::dealloc(p.as_ptr(), layout) };
    }
}

/// What the unit tests and the loom models share: a counted metadata and
/// output, a future that waits a given number of polls and leaves its
/// output in a join slot (as a goroutine does), a FIFO run queue standing
/// in for a scheduler. Built on `crate::loom`, so the same code
/// runs under the model checker.
#[cfg(test)]
mod fixture {
    use std::collections::VecDeque;
    use std::future::Future;
    use std::pin::Pin;
    use std::task::{Context, Poll, Waker};

    use crate::loom::{Arc, AtomicUsize, Mutex, Ordering};

    pub(super) use super::super::slot::fixture::{Counted, Join};
    use super::super::slot::{self, Writer};
    use super::{spawn, Runnable, ScheduleInfo};

    /// Pending `left` times (waking itself, or keeping its waker in
    /// `slot`), then ready, leaving `out` in its join slot (`writer`:
    /// dropped last, so a cancelled task's joiner sees the future gone).
    struct Steps {
        left: usize,
        slot: Arc<Mutex<Option<Waker>>>,
        wake_self: bool,
        out: Option<Counted>,
        _alive: Counted,
        writer: Option<Writer<Counted>>,
    }
    impl Future for Steps {
        type Output = ();
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            if self.left == 0 {
                let out = self.out.take().expect("polled after completion");
                self.writer.take().expect("one result").finish(Ok(out));
                return Poll::Ready(());
            }
            self.left -= 1;
            if self.wake_self {
                cx.waker().wake_by_ref();
            } else {
                *self.slot.lock().unwrap() = Some(cx.waker().clone());
            }
            Poll::Pending
        }
    }

    /// Scheduled runnables, with whether they woke during their own poll.
    pub(super) type Queue = Arc<Mutex<VecDeque<(Runnable<Counted>, bool)>>>;

    /// One task's surroundings and counters: `meta` (cells freed), `futs`
    /// (futures dropped), `outs` (outputs dropped).
    pub(super) struct Fixture {
        pub(super) queue: Queue,
        pub(super) slot: Arc<Mutex<Option<Waker>>>,
        pub(super) meta: Arc<AtomicUsize>,
        pub(super) futs: Arc<AtomicUsize>,
        pub(super) outs: Arc<AtomicUsize>,
    }

    pub(super) fn fixture() -> Fixture {
        Fixture {
            queue: Arc::new(Mutex::new(VecDeque::new())),
            slot: Arc::new(Mutex::new(None)),
            meta: Arc::new(AtomicUsize::new(0)),
            futs: Arc::new(AtomicUsize::new(0)),
            outs: Arc::new(AtomicUsize::new(0)),
        }
    }

    impl Fixture {
        /// Spawns a `Steps` task and schedules it.
        pub(super) fn start(&self, left: usize, wake_self: bool) -> Join<Counted> {
            let q = self.queue.clone();
            let (writer, reader) = slot::new(0);
            let (r, _) = spawn(
                Counted(self.meta.clone()),
                |_| Steps {
                    left,
                    slot: self.slot.clone(),
                    wake_self,
                    out: Some(Counted(self.outs.clone())),
                    _alive: Counted(self.futs.clone()),
                    writer: Some(writer),
                },
                move |r: Runnable<Counted>, info: ScheduleInfo| {
                    q.lock().unwrap().push_back((r, info.woken_while_running));
                },
            );
            r.schedule();
            Join(Some(reader))
        }

        /// The parked task's waker.
        pub(super) fn parked(&self) -> Waker {
            self.slot.lock().unwrap().take().expect("parked")
        }

        pub(super) fn count(n: &Arc<AtomicUsize>) -> usize {
            n.load(Ordering::SeqCst)
        }
    }

    /// Runs what `queue` holds, in order, until it is empty; returns each
    /// run's "woken while running".
    pub(super) fn run_queue(queue: &Queue) -> Vec<bool> {
        let mut infos = Vec::new();
        loop {
            let next = queue.lock().unwrap().pop_front();
            match next {
                Some((r, info)) => {
                    infos.push(info);
                    r.run();
                }
                None => return infos,
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
    use std::task::{Context, Poll, Waker};

    use super::fixture::{fixture, run_queue, Counted, Fixture, Join};

    fn run_all(f: &Fixture) -> Vec<bool> {
        run_queue(&f.queue)
    }

    fn poll_handle(h: &mut Join<Counted>) -> Poll<Option<Counted>> {
        let mut cx = Context::from_waker(Waker::noop());
        Pin::new(h).poll(&mut cx)
    }

    #[test]
    fn runs_to_completion_and_hands_over_the_output_once() {
        let f = fixture();
        let mut h = f.start(1, false);
        assert!(poll_handle(&mut h).is_pending());
        assert_eq!(run_all(&f), [false]);
        assert!(!h.is_finished());
        f.parked().wake();
        assert_eq!(run_all(&f), [false]);
        assert!(h.is_finished());
        assert_eq!(Fixture::count(&f.futs), 1, "future dropped on completion");
        let out = match poll_handle(&mut h) {
            Poll::Ready(Some(out)) => out,
            other => panic!("expected the output, got {:?}", other.map(|o| o.is_some())),
        };
        drop(out);
        drop(h);
        assert_eq!(Fixture::count(&f.outs), 1);
        assert_eq!(Fixture::count(&f.meta), 1, "cell freed");
    }

    #[test]
    fn a_wake_during_the_poll_reschedules_as_woken_while_running() {
        let f = fixture();
        let h = f.start(2, true);
        assert_eq!(run_all(&f), [false, true, true]);
        assert!(h.is_finished());
        drop(h);
        assert_eq!(Fixture::count(&f.outs), 1, "detached output dropped");
        assert_eq!(Fixture::count(&f.meta), 1);
    }

    #[test]
    fn dropping_the_runnable_cancels() {
        let f = fixture();
        let mut h = f.start(1, false);
        drop(f.queue.lock().unwrap().pop_front());
        assert_eq!(Fixture::count(&f.futs), 1, "future dropped");
        assert!(h.is_finished());
        assert!(matches!(poll_handle(&mut h), Poll::Ready(None)));
        drop(h);
        assert_eq!(
            Fixture::count(&f.outs),
            1,
            "the unproduced output was in the future"
        );
        assert_eq!(Fixture::count(&f.meta), 1);
    }

    /// A task whose handle was dropped, parked (its waker in the slot).
    fn detached_and_parked() -> Fixture {
        let f = fixture();
        drop(f.start(1, false));
        run_all(&f);
        assert_eq!(Fixture::count(&f.meta), 0, "the waker in the slot keeps it");
        f
    }

    #[test]
    fn a_detached_task_finishes_and_drops_its_output() {
        let f = detached_and_parked();
        f.parked().wake();
        run_all(&f);
        assert_eq!(Fixture::count(&f.outs), 1);
        assert_eq!(Fixture::count(&f.meta), 1);
    }

    #[test]
    fn an_unreachable_task_is_scheduled_once_to_be_dropped() {
        let f = detached_and_parked();
        // The last waker goes: nobody can wake or join the task.
        drop(f.parked());
        assert_eq!(Fixture::count(&f.futs), 0);
        assert_eq!(run_all(&f), [false]);
        assert_eq!(Fixture::count(&f.futs), 1, "future dropped by the runnable");
        assert_eq!(Fixture::count(&f.meta), 1);
    }

    #[test]
    fn the_joiner_is_woken_on_completion() {
        struct Flag(AtomicUsize);
        impl std::task::Wake for Flag {
            fn wake(self: Arc<Self>) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        let f = fixture();
        let mut h = f.start(1, false);
        let flag = Arc::new(Flag(AtomicUsize::new(0)));
        let w = Waker::from(flag.clone());
        let mut cx = Context::from_waker(&w);
        assert!(Pin::new(&mut h).poll(&mut cx).is_pending());
        assert!(
            Pin::new(&mut h).poll(&mut cx).is_pending(),
            "same waker kept"
        );
        run_all(&f);
        assert_eq!(flag.0.load(Ordering::SeqCst), 0);
        f.parked().wake();
        run_all(&f);
        assert_eq!(flag.0.load(Ordering::SeqCst), 1, "woken once");
        assert!(matches!(
            Pin::new(&mut h).poll(&mut cx),
            Poll::Ready(Some(_))
        ));
    }

    // Under AddressSanitizer cells are not cached (see `cache`).
    #[cfg(not(goro_asan))]
    #[test]
    fn the_cache_reuses_cells_on_a_worker_thread_and_empties_after() {
        use std::alloc::Layout;
        let layout = Layout::from_size_align(200, 8).unwrap();
        let guard = super::cache::enter();
        let a = super::cache::alloc(layout);
        // SAFETY: `a` came from `alloc(layout)` and is not used again.
        unsafe { super::cache::dealloc(a, layout) };
        let b = super::cache::alloc(Layout::from_size_align(196, 16).unwrap());
        assert_eq!(a, b, "same class: the freed cell is reused");
        // SAFETY: as above (196 and 200 share the class).
        unsafe { super::cache::dealloc(b, layout) };
        drop(guard);
        let c = super::cache::alloc(layout);
        // SAFETY: as above.
        unsafe { super::cache::dealloc(c, layout) };
    }
}

/// Loom models of the state machine: wakes, polls, joins and detaches from
/// different threads, in every interleaving (up to the preemption bound).
#[cfg(all(test, goro_loom))]
mod loom_cell {
    use super::fixture::{fixture, run_queue, Counted, Fixture, Join};

    /// Parks the task, then races a thread that wakes and runs it to
    /// completion against `with_handle` on this thread; then checks that
    /// the output and the cell were each dropped exactly once.
    fn completion_races(with_handle: impl FnOnce(Join<Counted>)) {
        let f = fixture();
        let h = f.start(1, false);
        run_queue(&f.queue);
        let w = f.parked();
        let queue = f.queue.clone();
        let worker = loom::thread::spawn(move || {
            w.wake();
            run_queue(&queue);
        });
        with_handle(h);
        worker.join().unwrap();
        run_queue(&f.queue);
        assert_eq!(Fixture::count(&f.outs), 1);
        assert_eq!(Fixture::count(&f.meta), 1);
    }

    /// A thread wakes and polls the task while another joins it: the
    /// output arrives exactly once, the cell is freed once.
    #[test]
    fn wake_run_and_join_race() {
        loom::model(|| {
            completion_races(|h| {
                let out = loom::future::block_on(h);
                assert!(out.is_some());
            })
        });
    }

    /// The handle is dropped while the task completes on another thread.
    #[test]
    fn detach_races_completion() {
        loom::model(|| completion_races(drop));
    }

    /// The task is cancelled (its `Runnable` dropped unrun, as a stopping
    /// runtime does) while another thread joins it: the join ends with
    /// `None` after the future is dropped, exactly once.
    #[test]
    fn cancel_races_join() {
        loom::model(|| {
            let f = fixture();
            let h = f.start(1, false);
            run_queue(&f.queue);
            let w = f.parked();
            let (queue, futs) = (f.queue.clone(), f.futs.clone());
            let canceller = loom::thread::spawn(move || {
                w.wake();
                let r = queue.lock().unwrap().pop_front().expect("scheduled");
                drop(r);
                assert_eq!(Fixture::count(&futs), 1, "future dropped");
            });
            let out = loom::future::block_on(h);
            assert!(out.is_none(), "cancelled");
            assert_eq!(
                Fixture::count(&f.futs),
                1,
                "future dropped before the join ends"
            );
            canceller.join().unwrap();
            assert_eq!(Fixture::count(&f.meta), 1);
        });
    }

    /// Two wakers wake the parked task at once (one by reference): it is
    /// scheduled once, polled to completion, and freed when the last
    /// waker goes.
    #[test]
    fn concurrent_wakes_schedule_once() {
        loom::model(|| {
            let f = fixture();
            let h = f.start(1, false);
            run_queue(&f.queue);
            let w1 = f.parked();
            let w2 = w1.clone();
            let t = loom::thread::spawn(move || w2.wake_by_ref());
            w1.wake();
            t.join().unwrap();
            assert_eq!(f.queue.lock().unwrap().len(), 1, "scheduled once");
            run_queue(&f.queue);
            drop(h);
            assert_eq!(Fixture::count(&f.outs), 1);
            assert_eq!(Fixture::count(&f.meta), 1);
        });
    }
}
