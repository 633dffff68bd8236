//! The join slot: where a goroutine's result waits for its `JoinHandle`,
//! apart from the task cell, so that a finished goroutine's cell (its
//! future's memory, its record) is freed when it finishes even while its
//! handle is held; what stays is this slot: a state word and one word or
//! the result, whichever is larger (16 bytes for a `JoinHandle<u64>`).
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
//! waker (boxed: one word) until the writer finishes, and the result after
//! (the goroutine's output, or its panic payload, boxed).
//!
//! The waker is kept out of line (`StoredWaker`, 16 bytes from the slots'
//! pool) so that the place is as small as the result: a million held
//! handles of `u64` results keep 16 bytes each, not 24; it is allocated
//! only by a joiner that waits before the result comes (and reused while
//! it keeps waiting). From the pool, not `Box`: a joiner that waits on each
//! of many handles in turn made `malloc` a tenth of spawn_join's
//! instructions.
//!
//! # State word
//!
//! - `WRITER`, `READER`: that end still holds the slot. Whoever clears the
//!   last one frees it.
//! - `DONE`: the writer finished (it cleared `WRITER` in the same step);
//!   `VALUE`: it left a result (else the task was cancelled), `ERR`: the
//!   result is the panic payload. From `DONE` on only the reader touches
//!   the slot.
//! - `AWAITER`: the place holds the reader's waker (before `DONE`).
//! - `LOCKED`: a spin lock on the place before `DONE`, held by the reader to
//!   store or take its waker, and by the writer to take the waker and write
//!   the result; never held across user code other than a waker's
//!   `clone`/`drop`.
//! - Above the flags, set once: the task's runtime ([`runtime_tag`] of its
//!   address), which the join handle compares with the runtime it is
//!   awaited on, so the handle itself is two words.
//!
//! # Invariants
//!
//! - Before `DONE` the place holds an `Option<StoredWaker>` (`Some` exactly
//!   when `AWAITER` is set), read or written only under `LOCKED`; from
//!   `DONE` on it holds the result exactly while `VALUE` is set (the output
//!   if `ERR` is clear, the boxed panic payload if set).
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
use super::Panic;
use crate::loom::{spin_wait, AtomicUsize, Ordering};

const WRITER: usize = 1 << 0;
const READER: usize = 1 << 1;
const DONE: usize = 1 << 2;
const VALUE: usize = 1 << 3;
const AWAITER: usize = 1 << 4;
const LOCKED: usize = 1 << 5;
const ERR: usize = 1 << 6;
const FLAGS: usize = (1 << 7) - 1;

/// The bits of a runtime's address (its `Host`'s) that a slot keeps: all
/// but the flags'. Two runtimes alive at once are told apart by them: each
/// is an allocation of more than `FLAGS + 1` bytes, so their addresses
/// differ above the flag bits.
#[inline]
pub(crate) fn runtime_tag(addr: usize) -> usize {
    addr & !FLAGS
}

/// A waker in memory of its own (one word where it is kept), from the
/// slots' pool.
struct StoredWaker(NonNull<Waker>);

// SAFETY: it owns a `Waker`, which is `Send + Sync`.
unsafe impl Send for StoredWaker {}

impl StoredWaker {
    /// The pool's class of a waker's memory.
    const CLASS: usize = match pool::class(Layout::new::<Waker>()) {
        Some(class) => class,
        None => panic!("a waker fits a pooled slot"),
    };

    fn new(w: &Waker) -> Self {
        let p = pool::alloc(Self::CLASS).cast::<Waker>();
        // SAFETY: fresh memory for a `Waker` (16 bytes, 8-aligned).
        unsafe { p.as_ptr().write(w.clone()) };
        StoredWaker(p)
    }

    fn get(&self) -> &Waker {
        // SAFETY: we own the waker at `self.0`.
        unsafe { self.0.as_ref() }
    }

    fn get_mut(&mut self) -> &mut Waker {
        // SAFETY: we own the waker at `self.0`.
        unsafe { self.0.as_mut() }
    }

    fn into_waker(self) -> Waker {
        let p = self.0;
        std::mem::forget(self);
        // SAFETY: we own the waker at `p`: moved out once, then its memory
        // goes back to the pool it came from.
        unsafe {
            let w = p.as_ptr().read();
            pool::free(Self::CLASS, p.cast());
            w
        }
    }
}

impl Drop for StoredWaker {
    fn drop(&mut self) {
        let p = self.0;
        // SAFETY: as in `into_waker`, dropping the waker in place.
        unsafe {
            std::ptr::drop_in_place(p.as_ptr());
            pool::free(Self::CLASS, p.cast());
        }
    }
}

/// The joiner's waker, then the result.
union Place<T> {
    awaiter: ManuallyDrop<Option<StoredWaker>>,
    ok: ManuallyDrop<T>,
    err: ManuallyDrop<Box<Panic>>,
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
    unsafe fn take_awaiter(&self) -> Option<StoredWaker> {
        // SAFETY: see above: the place holds the waker, and it is ours.
        unsafe { (*(*self.place.get()).awaiter).take() }
    }

    /// Moves the result out of the slot whose state is `state`.
    ///
    /// # Safety
    ///
    /// `DONE` and `VALUE` are set in `state` and the caller owns the slot
    /// alone; it reads the result once.
    unsafe fn take_value(&self, state: usize) -> Result<T, Panic> {
        // SAFETY: see above; `ERR` tells which the place holds.
        unsafe {
            let place = &mut *self.place.get();
            if state & ERR != 0 {
                Err(*ManuallyDrop::take(&mut place.err))
            } else {
                Ok(ManuallyDrop::take(&mut place.ok))
            }
        }
    }

    /// Takes the result (if any) out of the slot whose state is `state`,
    /// and frees the slot.
    ///
    /// # Safety
    ///
    /// `DONE` is set in `state` and the caller owns the slot alone (and
    /// lets go of it: the slot is gone when this returns).
    unsafe fn drain(this: NonNull<Self>, state: usize) -> Option<Result<T, Panic>> {
        // SAFETY: see above; the result (if `VALUE`) is read once, then the
        // slot is freed.
        unsafe {
            let v = (state & VALUE != 0).then(|| this.as_ref().take_value(state));
            Slot::free(this);
            v
        }
    }

    /// Memory for a slot.
    #[inline]
    fn alloc() -> NonNull<Self> {
        if let Some(class) = pool::class(Self::layout()) {
            pool::alloc(class).cast()
        } else {
            cache::alloc(Self::layout()).cast()
        }
    }

    /// Frees the slot.
    ///
    /// # Safety
    ///
    /// `this` is a slot both ends have let go of, whose place holds nothing
    /// to drop (no waker, no result).
    #[inline]
    unsafe fn free(this: NonNull<Self>) {
        // SAFETY: see above; the memory came from `alloc`, which chose the
        // same way by the same layout.
        unsafe {
            if let Some(class) = pool::class(Self::layout()) {
                pool::free(class, this.cast());
            } else {
                cache::dealloc(this.cast(), Self::layout());
            }
        }
    }
}

/// A new slot for a task of the runtime at `runtime` (its address; 0:
/// none): its writer and its reader.
pub(crate) fn new<T>(runtime: usize) -> (Writer<T>, Reader<T>) {
    let ptr = Slot::<T>::alloc();
    // SAFETY: fresh memory for a `Slot<T>`, written before either end exists.
    unsafe {
        ptr.as_ptr().write(Slot {
            state: AtomicUsize::new(runtime_tag(runtime) | WRITER | READER),
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

/// The task's end: [`Writer::finish`] leaves the result (its output or
/// its panic); dropped unfinished, it tells the reader the task was
/// cancelled.
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
    pub(crate) fn finish(self, value: Result<T, Panic>) {
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

fn finish<T>(ptr: NonNull<Slot<T>>, value: Option<Result<T, Panic>>) {
    // A panic payload is boxed (one word in the place) before the lock.
    let value = value.map(|v| v.map_err(Box::new));
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
        Some(Ok(v)) => {
            // SAFETY: we hold the lock; the place's waker (if any) was
            // taken: the result may take its place.
            unsafe { (*slot.place.get()).ok = ManuallyDrop::new(v) };
            DONE | VALUE
        }
        Some(Err(p)) => {
            // SAFETY: as above.
            unsafe { (*slot.place.get()).err = ManuallyDrop::new(p) };
            DONE | VALUE | ERR
        }
        None => DONE,
    };
    let before = slot.unlock(WRITER | AWAITER, set);
    if before & READER == 0 {
        // The reader left while we held the lock (it does not need the
        // lock when it has no waker stored): the slot is ours alone, with
        // the result we wrote (the waker was taken).
        // SAFETY: see above; `set` has `DONE`.
        drop(unsafe { Slot::drain(ptr, set) });
    }
    if let Some(w) = waker {
        w.into_waker().wake();
    }
}

/// The join handle's end: the result (`Some`: the output, or the panic
/// payload), or `None` if the task was cancelled ([`Reader::poll_take`]).
/// Dropping it detaches the task (the result, when it comes, is dropped).
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

    /// The task's runtime ([`runtime_tag`] of its address; 0: none).
    pub(crate) fn runtime(&self) -> usize {
        self.slot().state.load(Ordering::Relaxed) & !FLAGS
    }

    /// The task finished (with a result or cancelled).
    pub(crate) fn is_finished(&self) -> bool {
        self.slot().state.load(Ordering::Acquire) & DONE != 0
    }

    /// The result of the finished task whose state word the caller saw
    /// as `state` (with `DONE`): frees the slot, which is ours alone.
    fn take(self, state: usize) -> Option<Result<T, Panic>> {
        debug_assert!(state & DONE != 0 && state & WRITER == 0);
        let ptr = self.ptr;
        std::mem::forget(self);
        // SAFETY: `DONE`: the writer is gone and only we touch the slot,
        // which we let go of.
        unsafe { Slot::drain(ptr, state) }
    }

    /// Polls for the result: `Ready` consumes the reader (its slot is
    /// freed), `Pending` gives it back with `cx`'s waker stored.
    pub(crate) fn poll_take(self, cx: &mut Context<'_>) -> Result<Option<Result<T, Panic>>, Self> {
        let slot = self.slot();
        let state = slot.state.load(Ordering::Acquire);
        if state & DONE != 0 {
            return Ok(self.take(state));
        }
        // No waker stored yet (only we set `AWAITER`): store ours before
        // taking the lock, not under it.
        let mut fresh = (state & AWAITER == 0).then(|| StoredWaker::new(cx.waker()));
        if let Err(done) = slot.lock_if(|s| s & DONE == 0) {
            drop(fresh);
            return Ok(self.take(done));
        }
        // SAFETY: we hold `LOCKED` before `DONE`: the place holds the waker.
        let place = unsafe { &mut *(*slot.place.get()).awaiter };
        let old = match place {
            Some(w) if w.get().will_wake(cx.waker()) => None,
            Some(w) => Some(std::mem::replace(w.get_mut(), cx.waker().clone())),
            None => {
                *place = fresh.take();
                debug_assert!(place.is_some(), "no waker stored without `AWAITER`");
                None
            }
        };
        slot.unlock(0, AWAITER);
        drop(old);
        drop(fresh);
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
                drop(unsafe { Slot::drain(ptr, state) });
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

/// Bytes the pool of join slots holds (carved blocks, in use or free):
/// never given back, bounded by the most slots alive at once.
pub(crate) fn pooled_bytes() -> usize {
    #[cfg(not(any(goro_loom, goro_asan)))]
    {
        pool::imp::blocks() * pool::imp::BLOCK
    }
    #[cfg(any(goro_loom, goro_asan))]
    {
        0
    }
}

/// Where slots come from. A slot of 16 or 24 bytes (an output of up to 16
/// bytes: `()`, a number, a `Box`, a pair of words), and a joiner's stored
/// waker (16), come from a pool of slots of their size, carved out of 16
/// KiB blocks; a larger slot from the task cells' cache (`cell::cache`).
///
/// Through `malloc`, 24-byte slots freed between 264-byte task cells
/// fragmented glibc's free lists: `spawn_wg` took 380 more instructions
/// per goroutine (callgrind: `_int_malloc`, `_int_free`,
/// `malloc_consolidate`), and each slot paid malloc's 8-byte chunk header.
///
/// # Design
///
/// Each thread keeps, per size, a list of free slots (and the unused rest
/// of the block it last carved). A thread gives its list to a global pool
/// when the list grows past `LOCAL_MAX` slots, and when it exits; a thread
/// whose list is empty takes the global pool's, or carves a new block. So
/// a thread that only frees (a worker finishing goroutines that another
/// thread spawned) hands its slots on, and memory stays bounded by the
/// most slots alive at once. Blocks are never given back to the allocator
/// (as Go keeps its `g`s): the pool keeps them reachable. Under loom and
/// AddressSanitizer every slot goes to the allocator instead (a pooled
/// slot would hide a use after free from ASan).
mod pool {
    use std::alloc::Layout;
    #[cfg(any(goro_loom, goro_asan))]
    use std::ptr::NonNull;

    /// Bytes of a pooled slot, by class (alignment: 8).
    pub(super) const SIZES: [usize; 2] = [16, 24];

    /// The class of slots of `layout`, if they are pooled.
    #[inline]
    pub(super) const fn class(layout: Layout) -> Option<usize> {
        if layout.align() > 8 {
            None
        } else if layout.size() <= SIZES[0] {
            Some(0)
        } else if layout.size() <= SIZES[1] {
            Some(1)
        } else {
            None
        }
    }

    #[cfg(any(goro_loom, goro_asan))]
    fn layout(class: usize) -> Layout {
        Layout::from_size_align(SIZES[class], 8).expect("a slot layout")
    }

    #[cfg(any(goro_loom, goro_asan))]
    pub(super) fn alloc(class: usize) -> NonNull<u8> {
        super::cache::alloc(layout(class))
    }

    /// # Safety
    ///
    /// `p` came from [`alloc`] of `class` and nothing uses it any more.
    #[cfg(any(goro_loom, goro_asan))]
    pub(super) unsafe fn free(class: usize, p: NonNull<u8>) {
        // SAFETY: the caller's contract; `alloc` used this layout.
        unsafe { super::cache::dealloc(p, layout(class)) }
    }

    #[cfg(not(any(goro_loom, goro_asan)))]
    pub(super) use imp::{alloc, free};

    #[cfg(not(any(goro_loom, goro_asan)))]
    pub(super) mod imp {
        use std::cell::Cell;
        use std::ptr::{self, NonNull};
        use std::sync::Mutex;

        use super::SIZES;

        /// Bytes of a block slots are carved from.
        pub(in super::super) const BLOCK: usize = 16 * 1024;
        /// Free slots of one size a thread keeps before it gives them to
        /// the pool.
        const LOCAL_MAX: usize = 4096;

        /// A free slot's first word: the next free slot of its list.
        struct Free {
            next: *mut Free,
        }

        /// A list of free slots: its head, its tail (where another list is
        /// appended) and its length.
        struct List {
            head: *mut Free,
            tail: *mut Free,
            len: usize,
        }

        // SAFETY: a list owns the free slots on it (memory nobody else
        // uses), which may be handed to any thread.
        unsafe impl Send for List {}

        impl List {
            const EMPTY: List = List {
                head: ptr::null_mut(),
                tail: ptr::null_mut(),
                len: 0,
            };

            /// Puts slot `p` first.
            ///
            /// # Safety
            ///
            /// `p` is an unused slot (at least 8 bytes, 8-aligned).
            unsafe fn push(&mut self, p: NonNull<u8>) {
                let f = p.cast::<Free>().as_ptr();
                // SAFETY: see above.
                unsafe { f.write(Free { next: self.head }) };
                if self.head.is_null() {
                    self.tail = f;
                }
                self.head = f;
                self.len += 1;
            }

            fn pop(&mut self) -> Option<NonNull<u8>> {
                let head = NonNull::new(self.head)?;
                // SAFETY: a free slot on this list, whose first word `push`
                // wrote.
                self.head = unsafe { head.as_ref().next };
                self.len -= 1;
                if self.head.is_null() {
                    self.tail = ptr::null_mut();
                }
                Some(head.cast())
            }

            /// Appends `other`, leaving it empty.
            fn append(&mut self, other: &mut List) {
                if other.head.is_null() {
                    return;
                }
                if self.head.is_null() {
                    self.head = other.head;
                } else {
                    // SAFETY: `tail` is the last free slot of this list.
                    unsafe { (*self.tail).next = other.head };
                }
                self.tail = other.tail;
                self.len += other.len;
                *other = List::EMPTY;
            }
        }

        struct Global {
            free: [List; 2],
            /// Every block carved, kept reachable (never freed).
            blocks: Vec<NonNull<u8>>,
        }

        // SAFETY: the blocks are plain memory; only their addresses are kept.
        unsafe impl Send for Global {}

        static GLOBAL: Mutex<Global> = Mutex::new(Global {
            free: [List::EMPTY, List::EMPTY],
            blocks: Vec::new(),
        });

        fn global() -> std::sync::MutexGuard<'static, Global> {
            GLOBAL.lock().unwrap_or_else(|e| e.into_inner())
        }

        /// One thread's slots of one size.
        struct Class {
            free: Cell<List>,
            /// The uncarved rest of this thread's last block of this size.
            next: Cell<*mut u8>,
            end: Cell<*mut u8>,
        }

        impl Class {
            const fn new() -> Class {
                Class {
                    free: Cell::new(List::EMPTY),
                    next: Cell::new(ptr::null_mut()),
                    end: Cell::new(ptr::null_mut()),
                }
            }

            #[inline]
            fn pop(&self) -> Option<NonNull<u8>> {
                let mut list = self.free.replace(List::EMPTY);
                let p = list.pop();
                self.free.set(list);
                p
            }

            #[inline]
            fn push(&self, class: usize, p: NonNull<u8>) {
                let mut list = self.free.replace(List::EMPTY);
                // SAFETY: `p` is an unused slot (caller).
                unsafe { list.push(p) };
                if list.len > LOCAL_MAX {
                    global().free[class].append(&mut list);
                }
                self.free.set(list);
            }

            #[inline]
            fn carve(&self, size: usize) -> Option<NonNull<u8>> {
                let next = self.next.get();
                if next.is_null() || (self.end.get() as usize) - (next as usize) < size {
                    return None;
                }
                // SAFETY: `next + size` is within the block (checked).
                self.next.set(unsafe { next.add(size) });
                NonNull::new(next)
            }

            #[cold]
            fn refill(&self, class: usize) -> NonNull<u8> {
                let mut g = global();
                if !g.free[class].head.is_null() {
                    let mut list = std::mem::replace(&mut g.free[class], List::EMPTY);
                    drop(g);
                    let mut mine = self.free.replace(List::EMPTY);
                    mine.append(&mut list);
                    self.free.set(mine);
                    return self.pop().expect("a non-empty list");
                }
                let layout =
                    std::alloc::Layout::from_size_align(BLOCK, 16).expect("a block layout");
                // SAFETY: the layout has a non-zero size.
                let block = NonNull::new(unsafe { std::alloc::alloc(layout) })
                    .unwrap_or_else(|| std::alloc::handle_alloc_error(layout));
                g.blocks.push(block);
                drop(g);
                // SAFETY: `BLOCK` bytes from `block` are ours.
                let end = unsafe { block.as_ptr().add(BLOCK) };
                self.next.set(block.as_ptr());
                self.end.set(end);
                self.carve(SIZES[class]).expect("a fresh block")
            }
        }

        struct Local([Class; 2]);

        impl Drop for Local {
            fn drop(&mut self) {
                // The thread exits: its free slots (and the uncarved rest of
                // its blocks, as free slots) go to the pool.
                for (class, c) in self.0.iter_mut().enumerate() {
                    while let Some(p) = c.carve(SIZES[class]) {
                        // SAFETY: an unused slot.
                        unsafe { c.free.get_mut().push(p) };
                    }
                    global().free[class].append(c.free.get_mut());
                }
            }
        }

        thread_local! {
            static LOCAL: Local = const { Local([Class::new(), Class::new()]) };
        }

        /// A slot's memory (`SIZES[class]` bytes, 8-aligned).
        #[inline]
        pub(in super::super) fn alloc(class: usize) -> NonNull<u8> {
            LOCAL
                .try_with(|l| {
                    let c = &l.0[class];
                    c.pop()
                        .or_else(|| c.carve(SIZES[class]))
                        .unwrap_or_else(|| c.refill(class))
                })
                .unwrap_or_else(|_| {
                    // This thread's pool is gone (it is exiting): take one
                    // from the global list, or one of our own.
                    if let Some(p) = global().free[class].pop() {
                        return p;
                    }
                    let layout = std::alloc::Layout::from_size_align(SIZES[class], 8)
                        .expect("a slot layout");
                    // Freed, it joins the pool as a carved one does (no
                    // pooled slot goes back to the allocator).
                    // SAFETY: non-zero size.
                    NonNull::new(unsafe { std::alloc::alloc(layout) })
                        .unwrap_or_else(|| std::alloc::handle_alloc_error(layout))
                })
        }

        /// Gives slot `p` of `class` back.
        ///
        /// # Safety
        ///
        /// `p` came from [`alloc`] of `class` and nothing uses it any more.
        #[inline]
        pub(in super::super) unsafe fn free(class: usize, p: NonNull<u8>) {
            if LOCAL.try_with(|l| l.0[class].push(class, p)).is_err() {
                // SAFETY: an unused slot (caller).
                unsafe { global().free[class].push(p) };
            }
        }

        /// Blocks carved so far (by every thread).
        pub(in super::super) fn blocks() -> usize {
            global().blocks.len()
        }
    }
}

/// What the slot's tests and the task cell's share: a counted value and the
/// reader as a future.
#[cfg(test)]
pub(super) mod fixture {
    use std::future::Future;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use super::Reader;
    use crate::loom::{Arc, AtomicUsize, Ordering};

    /// Counts its drops.
    pub(in crate::task) struct Counted(pub(in crate::task) Arc<AtomicUsize>);
    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// The reader as a future (`None`: cancelled), as `JoinHandle` uses
    /// it; the fixtures' tasks do not panic.
    pub(in crate::task) struct Join<T>(pub(in crate::task) Option<Reader<T>>);

    impl<T> Join<T> {
        #[cfg_attr(goro_loom, allow(dead_code))]
        pub(in crate::task) fn is_finished(&self) -> bool {
            self.0.as_ref().is_none_or(Reader::is_finished)
        }
    }

    impl<T> Future for Join<T> {
        type Output = Option<T>;
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
            match self.0.take().expect("polled after ready").poll_take(cx) {
                Ok(v) => Poll::Ready(v.map(|r| r.unwrap_or_else(|_| panic!("the task panicked")))),
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
        let (w, r) = super::new::<Counted>(0);
        let mut join = Join(Some(r));
        let flag = Arc::new(Flag(AtomicUsize::new(0)));
        let waker = Waker::from(flag.clone());
        let mut cx = Context::from_waker(&waker);
        assert!(Pin::new(&mut join).poll(&mut cx).is_pending());
        assert!(Pin::new(&mut join).poll(&mut cx).is_pending());
        assert!(!join.0.as_ref().unwrap().is_finished());
        w.finish(Ok(Counted(drops.clone())));
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
        let (w, r) = super::new::<Counted>(0);
        drop(r);
        w.finish(Ok(Counted(drops.clone())));
        assert_eq!(drops.load(Ordering::SeqCst), 1, "writer last");
        let (w, r) = super::new::<Counted>(0);
        w.finish(Ok(Counted(drops.clone())));
        assert_eq!(drops.load(Ordering::SeqCst), 1);
        drop(r);
        assert_eq!(drops.load(Ordering::SeqCst), 2, "reader last");
    }

    // Under AddressSanitizer slots are not pooled (see `pool`).
    #[cfg(not(goro_asan))]
    #[test]
    fn a_thread_that_only_frees_hands_its_slots_to_one_that_allocates() {
        use std::collections::HashSet;
        // Reuse on one thread.
        let a = super::pool::alloc(1);
        // SAFETY: `a` came from `alloc` and is not used again.
        unsafe { super::pool::free(1, a) };
        assert_eq!(super::pool::alloc(1), a, "the freed slot comes back");
        // SAFETY: as above.
        unsafe { super::pool::free(1, a) };
        // This thread allocates, another frees: the freeing thread's slots
        // come back here (through the global pool) instead of new blocks
        // being carved for every round.
        const ROUND: usize = 50_000;
        let start = super::pool::imp::blocks();
        let mut seen = HashSet::new();
        for _ in 0..20 {
            let slots: Vec<usize> = (0..ROUND)
                .map(|_| super::pool::alloc(1).as_ptr() as usize)
                .collect();
            seen.extend(slots.iter().copied());
            std::thread::spawn(move || {
                for p in slots {
                    let p = std::ptr::NonNull::new(p as *mut u8).unwrap();
                    // SAFETY: allocated above, freed once.
                    unsafe { super::pool::free(1, p) };
                }
            })
            .join()
            .unwrap();
        }
        let per_round = ROUND * super::pool::SIZES[1] / super::pool::imp::BLOCK + 1;
        let carved = super::pool::imp::blocks() - start;
        // Other tests in this process spawn goroutines meanwhile: allow
        // them a few rounds' worth.
        assert!(
            carved <= 4 * per_round,
            "{carved} blocks carved for 20 rounds of {ROUND} slots ({per_round} per round)"
        );
        assert!(seen.len() < 4 * ROUND, "{} distinct slots", seen.len());
    }

    #[test]
    fn a_slot_is_a_word_and_its_result_or_a_word() {
        assert_eq!(std::mem::size_of::<super::Slot<()>>(), 16);
        assert_eq!(std::mem::size_of::<super::Slot<u64>>(), 16);
        assert_eq!(std::mem::size_of::<super::Slot<(u64, u64)>>(), 24);
    }

    #[test]
    fn a_panic_payload_reaches_the_reader_or_is_dropped() {
        let drops = Arc::new(AtomicUsize::new(0));
        let mut cx = Context::from_waker(Waker::noop());
        let (w, r) = super::new::<u64>(0);
        w.finish(Err(Box::new(Counted(drops.clone()))));
        match r.poll_take(&mut cx) {
            Ok(Some(Err(p))) => assert!(p.downcast_ref::<Counted>().is_some()),
            _ => panic!("expected the panic payload"),
        }
        assert_eq!(drops.load(Ordering::SeqCst), 1);
        let (w, r) = super::new::<u64>(0);
        drop(r);
        w.finish(Err(Box::new(Counted(drops.clone()))));
        assert_eq!(drops.load(Ordering::SeqCst), 2, "dropped by the writer");
        let (w, r) = super::new::<u64>(0);
        w.finish(Err(Box::new(Counted(drops.clone()))));
        drop(r);
        assert_eq!(drops.load(Ordering::SeqCst), 3, "dropped by the reader");
    }

    #[test]
    fn a_dropped_writer_reads_as_cancelled_and_a_stored_waker_is_released() {
        let flag = Arc::new(Flag(AtomicUsize::new(0)));
        let waker = Waker::from(flag.clone());
        let mut cx = Context::from_waker(&waker);
        let (w, r) = super::new::<u64>(0);
        let mut join = Join(Some(r));
        assert!(Pin::new(&mut join).poll(&mut cx).is_pending());
        drop(w);
        assert_eq!(flag.0.load(Ordering::SeqCst), 1);
        assert!(matches!(
            Pin::new(&mut join).poll(&mut cx),
            Poll::Ready(None)
        ));
        // A reader that leaves with its waker stored gives the waker back.
        let (w, r) = super::new::<u64>(0);
        let mut join = Join(Some(r));
        assert!(Pin::new(&mut join).poll(&mut cx).is_pending());
        assert_eq!(Arc::strong_count(&flag), 3);
        drop(join);
        assert_eq!(Arc::strong_count(&flag), 2);
        w.finish(Ok(7));
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
            let (w, r) = super::new::<Counted>(0);
            let d = drops.clone();
            let t = loom::thread::spawn(move || w.finish(Ok(Counted(d))));
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
                let (w, r) = super::new::<Counted>(0);
                let mut join = Join(Some(r));
                if poll_first {
                    let waker = futures_noop_waker();
                    let mut cx = std::task::Context::from_waker(&waker);
                    let p = std::future::Future::poll(std::pin::Pin::new(&mut join), &mut cx);
                    assert!(p.is_pending());
                }
                let d = drops.clone();
                let t = loom::thread::spawn(move || w.finish(Ok(Counted(d))));
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
            let (w, r) = super::new::<Counted>(0);
            let t = loom::thread::spawn(move || drop(w));
            assert!(loom::future::block_on(Join(Some(r))).is_none());
            t.join().unwrap();
        });
    }

    fn futures_noop_waker() -> std::task::Waker {
        std::task::Waker::noop().clone()
    }
}
