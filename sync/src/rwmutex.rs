//! `RwMutex<T>`: a reader/writer lock that parks goroutines; a waiting writer
//! blocks new readers.
//!
//! Go: `sync.RWMutex` (`src/sync/rwmutex.go`).
//!
//! # Design
//!
//! One atomic word holds the write bit, the count of active readers and two
//! summary bits of the `Sema` (`src/sema.rs`) queue (`QUEUED`, `WRITER_WAITING`).
//! The fast paths (uncontended `read`, `write` and their unlocks) are one
//! atomic operation each. Readers and writers wait in one FIFO.
//!
//! Go's policy, phase by phase: once a writer waits, new readers wait too
//! (so a writer is not starved by a stream of readers); when a writer
//! unlocks, every reader that queued up meanwhile is admitted together, before
//! the next writer (so readers are not starved by a stream of writers, as in
//! Go where `Unlock` releases all blocked readers before the next writer gets
//! the writer mutex); when the last reader leaves, the first queued writer
//! gets the lock. Admission is a direct handoff (status `Handed`): an admitted
//! waiter already holds its share.
//!
//! # Invariants
//!
//! - `WRITER` and a non-zero reader count are never set together.
//! - `QUEUED` is set exactly when the queue is not empty; `WRITER_WAITING`
//!   exactly when `writers` (queued writers, under the queue lock) is not
//!   zero. Both change only under the queue lock.
//! - A reader queues only while `WRITER` or `WRITER_WAITING` is set; a writer
//!   only while the lock is held or the queue is not empty.
//!
//! # Locking
//!
//! The queue lock is a leaf; wakers are woken after it is released.
//!
//! # Memory ordering
//!
//! Acquiring operations are Acquire, releasing ones Release (publishing the
//! value between writers and readers); handoffs publish through the
//! waiter's status (`sema.rs`).

use std::cell::UnsafeCell;
use std::fmt;
use std::future::Future;
use std::marker::PhantomPinned;
use std::ops::{Deref, DerefMut};
use std::panic::Location;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::hook::{self, ObjectDetail, WaitObject, WaitReason};
use crate::loom::{AtomicUsize, Ordering};
use crate::sema::{End, Pick, Sema, Status, Waiter, WakeList};

/// A writer holds the lock.
const WRITER: usize = 1;
/// At least one writer is queued: new readers queue too.
const WRITER_WAITING: usize = 2;
/// The queue is not empty.
const QUEUED: usize = 4;
/// One active reader.
const READER: usize = 8;

/// The data word of a queued reader / writer.
const KIND_READ: u64 = 0;
const KIND_WRITE: u64 = 1;

fn readers(s: usize) -> usize {
    s / READER
}

/// What the queue lock guards besides the queue.
struct Queued {
    /// Writers in the queue.
    writers: usize,
}

/// A reader/writer mutual-exclusion lock protecting a `T` (Go's
/// `sync.RWMutex`): many readers or one writer. A waiting writer blocks new
/// readers; readers that queued behind a writer go before the next writer.
///
/// ```
/// use goro_sync::RwMutex;
///
/// let m = RwMutex::new(1);
/// futures::executor::block_on(async {
///     let (a, b) = (m.read().await, m.read().await); // readers share
///     assert_eq!(*a + *b, 2);
///     drop((a, b));
///     *m.write().await += 1;
///     assert_eq!(*m.read().await, 2);
/// });
/// ```
pub struct RwMutex<T: ?Sized> {
    /// `WRITER | WRITER_WAITING | QUEUED | readers * READER`.
    state: AtomicUsize,
    sema: Sema<Queued>,
    made_at: &'static Location<'static>,
    value: UnsafeCell<T>,
}

// SAFETY: readers share `&T` across threads (`T: Sync`), a writer gets
// `&mut T` on any thread (`T: Send`); as `std::sync::RwLock`.
unsafe impl<T: ?Sized + Send> Send for RwMutex<T> {}
// SAFETY: as above.
unsafe impl<T: ?Sized + Send + Sync> Sync for RwMutex<T> {}

/// Which side of the lock a future or guard holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Side {
    Read,
    Write,
}

impl<T> RwMutex<T> {
    /// A new unlocked lock holding `value`.
    ///
    /// ```
    /// let m = goro_sync::RwMutex::new("x");
    /// assert_eq!(*m.try_read().unwrap(), "x");
    /// ```
    #[track_caller]
    pub fn new(value: T) -> Self {
        RwMutex {
            state: AtomicUsize::new(0),
            sema: Sema::new(Queued { writers: 0 }),
            made_at: Location::caller(),
            value: UnsafeCell::new(value),
        }
    }

    /// Consumes the lock and returns the value.
    ///
    /// ```
    /// assert_eq!(goro_sync::RwMutex::new(4).into_inner(), 4);
    /// ```
    pub fn into_inner(self) -> T {
        self.value.into_inner()
    }
}

impl<T: ?Sized> RwMutex<T> {
    /// Locks for reading, parking while a writer holds the lock or waits for
    /// it (Go: `RLock`). Cancel-safe: a dropped future leaves no trace (a
    /// read lock handed to it is released).
    ///
    /// ```
    /// let m = goro_sync::RwMutex::new(7);
    /// assert_eq!(*futures::executor::block_on(m.read()), 7);
    /// ```
    #[track_caller]
    pub fn read(&self) -> ReadLock<'_, T> {
        // The use is noted by the first poll (`poll_budget_noting_use`).
        ReadLock(Acquire::new(self, Side::Read))
    }

    /// Locks for writing, parking until no reader or writer holds the lock
    /// (Go: `Lock`). Cancel-safe like [`RwMutex::read`].
    ///
    /// ```
    /// let m = goro_sync::RwMutex::new(7);
    /// futures::executor::block_on(async { *m.write().await = 8 });
    /// assert_eq!(*m.try_read().unwrap(), 8);
    /// ```
    #[track_caller]
    pub fn write(&self) -> WriteLock<'_, T> {
        // The use is noted by the first poll (`poll_budget_noting_use`).
        WriteLock(Acquire::new(self, Side::Write))
    }

    /// [`RwMutex::read`] from a plain thread, blocking it.
    ///
    /// ```
    /// let m = goro_sync::RwMutex::new(1);
    /// assert_eq!(*m.read_blocking(), 1);
    /// ```
    #[track_caller]
    pub fn read_blocking(&self) -> RwMutexReadGuard<'_, T> {
        crate::block_on(self.read())
    }

    /// [`RwMutex::write`] from a plain thread, blocking it.
    ///
    /// ```
    /// let m = goro_sync::RwMutex::new(1);
    /// *m.write_blocking() += 1;
    /// assert_eq!(*m.read_blocking(), 2);
    /// ```
    #[track_caller]
    pub fn write_blocking(&self) -> RwMutexWriteGuard<'_, T> {
        crate::block_on(self.write())
    }

    /// Locks for reading if that is possible without waiting (Go: `TryRLock`).
    ///
    /// ```
    /// let m = goro_sync::RwMutex::new(());
    /// let w = m.try_write().unwrap();
    /// assert!(m.try_read().is_none());
    /// drop(w);
    /// assert!(m.try_read().is_some());
    /// ```
    pub fn try_read(&self) -> Option<RwMutexReadGuard<'_, T>> {
        crate::note_use();
        self.try_acquire_read()
            .then(|| RwMutexReadGuard { lock: self })
    }

    /// Locks for writing if that is possible without waiting (Go: `TryLock`).
    ///
    /// ```
    /// let m = goro_sync::RwMutex::new(());
    /// let r = m.try_read().unwrap();
    /// assert!(m.try_write().is_none());
    /// drop(r);
    /// assert!(m.try_write().is_some());
    /// ```
    pub fn try_write(&self) -> Option<RwMutexWriteGuard<'_, T>> {
        crate::note_use();
        // Acquire: pairs with the Release of the last unlock.
        self.state
            .compare_exchange(0, WRITER, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
            .then(|| RwMutexWriteGuard { lock: self })
    }

    /// A mutable reference to the value without locking.
    ///
    /// ```
    /// let mut m = goro_sync::RwMutex::new(1);
    /// *m.get_mut() += 1;
    /// assert_eq!(*m.try_read().unwrap(), 2);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        self.value.get_mut()
    }

    #[inline]
    fn try_acquire_read(&self) -> bool {
        let mut s = self.state.load(Ordering::Relaxed);
        while s & (WRITER | WRITER_WAITING) == 0 {
            // Acquire: pairs with the Release of the last writer's unlock.
            match self.state.compare_exchange_weak(
                s,
                s + READER,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(a) => s = a,
            }
        }
        false
    }

    fn wait_object(&self) -> WaitObject {
        WaitObject {
            id: self as *const Self as *const () as usize,
            made_at: Some(self.made_at),
            detail: ObjectDetail::Other("sync.RWMutex"),
        }
    }

    fn read_unlock(&self) {
        // Release: publishes nothing written, but orders our reads before a
        // later writer's writes.
        let old = self.state.fetch_sub(READER, Ordering::Release);
        debug_assert!(readers(old) > 0, "sync: RUnlock of unlocked RWMutex");
        if readers(old) == 1 && old & QUEUED != 0 {
            self.dispatch(false);
        }
    }

    fn write_unlock(&self) {
        // Release: publishes the writer's changes.
        if self
            .state
            .compare_exchange(WRITER, 0, Ordering::Release, Ordering::Relaxed)
            .is_err()
        {
            let old = self.state.fetch_and(!WRITER, Ordering::Release);
            debug_assert!(old & WRITER != 0, "sync: Unlock of unlocked RWMutex");
            self.dispatch(true);
        }
    }

    /// Makes `QUEUED` and `WRITER_WAITING` match the queue (under its lock).
    fn sync_bits(&self, queue_len: usize, writers: usize) {
        let mut set = 0;
        if queue_len > 0 {
            set |= QUEUED;
        }
        if writers > 0 {
            set |= WRITER_WAITING;
        }
        let clear = (QUEUED | WRITER_WAITING) & !set;
        if set != 0 {
            self.state.fetch_or(set, Ordering::Relaxed);
        }
        if clear != 0 {
            self.state.fetch_and(!clear, Ordering::Relaxed);
        }
    }

    /// Admits waiters the lock's state now allows: after a writer unlocked
    /// (`after_writer`), every reader queued now, else the first writer; when
    /// the readers are gone, the first writer; with no writer queued, every
    /// queued reader.
    fn dispatch(&self, after_writer: bool) {
        let mut wl = WakeList::new();
        let mut g = self.sema.lock();
        let before = g.queue.next_ticket();
        let readers_queued = g.queue.len() - g.state.writers;
        let admit_readers = (after_writer && readers_queued > 0) || g.state.writers == 0;
        loop {
            // Acquire: pairs with the Release of the unlock that left the
            // lock free (the admitted waiter's accesses follow it).
            let s = self.state.load(Ordering::Acquire);
            if s & WRITER != 0 {
                break;
            }
            let locked = &mut *g;
            let more = if admit_readers {
                locked.queue.drain(before, Status::Handed, &mut wl, |kind| {
                    if kind == KIND_READ {
                        self.state.fetch_add(READER, Ordering::Relaxed);
                        Pick::Take
                    } else {
                        Pick::Skip
                    }
                })
            } else {
                if readers(s) != 0 {
                    break;
                }
                let mut taken = false;
                locked
                    .queue
                    .drain(u64::MAX, Status::Handed, &mut wl, |kind| {
                        if taken {
                            Pick::Stop
                        } else if kind == KIND_WRITE {
                            taken = true;
                            // Before the handoff is published (see `drain`).
                            self.state.fetch_or(WRITER, Ordering::Relaxed);
                            Pick::Take
                        } else {
                            Pick::Skip
                        }
                    });
                if taken {
                    locked.state.writers -= 1;
                }
                false
            };
            self.sync_bits(locked.queue.len(), locked.state.writers);
            if !more {
                break;
            }
            drop(g);
            wl.wake_all();
            g = self.sema.lock();
        }
        drop(g);
        wl.wake_all();
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwMutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("RwMutex");
        match self.try_read() {
            Some(g) => d.field("value", &&*g),
            None => d.field("value", &format_args!("<locked>")),
        };
        d.finish()
    }
}

impl<T: Default> Default for RwMutex<T> {
    #[track_caller]
    fn default() -> Self {
        RwMutex::new(T::default())
    }
}

/// The shared state machine of [`ReadLock`] and [`WriteLock`].
// `repr(C)` with the node last, as `mutex::Lock` (see there).
#[repr(C)]
struct Acquire<'a, T: ?Sized> {
    lock: &'a RwMutex<T>,
    at: &'static Location<'static>,
    side: Side,
    started: bool,
    _pin: PhantomPinned,
    node: Waiter,
}

impl<'a, T: ?Sized> Acquire<'a, T> {
    #[track_caller]
    fn new(lock: &'a RwMutex<T>, side: Side) -> Self {
        Acquire {
            lock,
            side,
            node: Waiter::new(),
            started: false,
            at: Location::caller(),
            _pin: PhantomPinned,
        }
    }

    fn reason(&self) -> WaitReason {
        match self.side {
            Side::Read => WaitReason::RwMutexRLock,
            Side::Write => WaitReason::RwMutexLock,
        }
    }

    /// Ready once the lock is held on `self.side`. The first poll's
    /// uncontended acquire is inlined into the caller; everything else is
    /// [`Acquire::poll_slow`].
    #[inline]
    fn poll_acquire(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // SAFETY: `node` is never moved out; the rest is plain data.
        let this = unsafe { self.get_unchecked_mut() };
        if !this.started {
            // The first poll: nothing was queued (a node is queued only
            // after `started`).
            debug_assert_eq!(this.node.status(), Status::Idle);
            if hook::poll_budget_noting_use(cx).is_pending() {
                return Poll::Pending;
            }
            this.started = true;
            if this.try_fast() {
                return Poll::Ready(());
            }
        }
        this.poll_slow(cx)
    }

    /// The lock on `self.side` with one atomic operation, if it is free.
    #[inline]
    fn try_fast(&self) -> bool {
        let m = self.lock;
        match self.side {
            Side::Read => m.try_acquire_read(),
            Side::Write => m
                .state
                .compare_exchange(0, WRITER, Ordering::Acquire, Ordering::Relaxed)
                .is_ok(),
        }
    }

    /// [`Acquire::poll_acquire`] after the first poll's fast attempt.
    #[inline(never)]
    fn poll_slow(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let this = self;
        let m = this.lock;
        match this.node.status() {
            Status::Idle => {}
            Status::Queued => match m.sema.poll_queued(&this.node, cx.waker()) {
                Status::Queued => {
                    hook::note_park(this.reason(), this.at, Some(m.wait_object()));
                    return Poll::Pending;
                }
                _ => {
                    // Only handoffs happen here.
                    this.node.reset();
                    return Poll::Ready(());
                }
            },
            _ => {
                this.node.reset();
                return Poll::Ready(());
            }
        }
        if this.try_fast() {
            return Poll::Ready(());
        }
        let mut g = m.sema.lock();
        let mut s = m.state.load(Ordering::Relaxed);
        loop {
            let (free, must_wait) = match this.side {
                Side::Read => (s & (WRITER | WRITER_WAITING) == 0, s | QUEUED),
                Side::Write => (
                    s & (WRITER | QUEUED) == 0 && readers(s) == 0,
                    s | QUEUED | WRITER_WAITING,
                ),
            };
            let (new, order) = if free {
                let new = match this.side {
                    Side::Read => s + READER,
                    Side::Write => s | WRITER,
                };
                (new, Ordering::Acquire)
            } else {
                (must_wait, Ordering::Relaxed)
            };
            match m
                .state
                .compare_exchange_weak(s, new, order, Ordering::Relaxed)
            {
                Ok(_) if free => return Poll::Ready(()),
                Ok(_) => break,
                Err(a) => s = a,
            }
        }
        let kind = match this.side {
            Side::Read => KIND_READ,
            Side::Write => {
                g.state.writers += 1;
                KIND_WRITE
            }
        };
        // SAFETY: lock held; `node` is pinned in this future, unqueued, and
        // removed by `Drop` if still queued.
        unsafe { g.queue.push(&this.node, End::Back, kind, None, cx.waker()) };
        drop(g);
        hook::note_park(this.reason(), this.at, Some(m.wait_object()));
        Poll::Pending
    }
}

impl<T: ?Sized> Drop for Acquire<'_, T> {
    /// Every finished or never-polled acquire comes here with an idle node:
    /// that one load is inlined into the owner's drop; a cancellation is
    /// [`Acquire::cancel`].
    #[inline]
    fn drop(&mut self) {
        if self.node.status() != Status::Idle {
            self.cancel();
        }
    }
}

impl<T: ?Sized> Acquire<'_, T> {
    /// The drop of an acquire whose node was queued, woken or handed the
    /// lock: leaves the queue, or passes a handed lock on.
    #[inline(never)]
    fn cancel(&mut self) {
        let m = self.lock;
        let side = self.side;
        let mut removed_writer = false;
        // SAFETY: the node is alive and queued only in this lock's queue.
        let s = unsafe {
            m.sema.cancel(&self.node, |g| {
                if side == Side::Write {
                    g.state.writers -= 1;
                    removed_writer = true;
                }
                m.sync_bits(g.queue.len(), g.state.writers);
            })
        };
        match (s, side) {
            // Pass-on rule: a handed lock is released (admitting others).
            (Status::Handed, Side::Read) => m.read_unlock(),
            (Status::Handed, Side::Write) => m.write_unlock(),
            _ => {}
        }
        if removed_writer {
            // Readers this writer held back may go now.
            m.dispatch(false);
        }
    }
}

/// Future of [`RwMutex::read`].
///
/// ```
/// let m = goro_sync::RwMutex::new(0);
/// let f: goro_sync::rwmutex::ReadLock<'_, i32> = m.read();
/// assert_eq!(*futures::executor::block_on(f), 0);
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct ReadLock<'a, T: ?Sized>(Acquire<'a, T>);

/// Future of [`RwMutex::write`].
///
/// ```
/// let m = goro_sync::RwMutex::new(0);
/// let f: goro_sync::rwmutex::WriteLock<'_, i32> = m.write();
/// *futures::executor::block_on(f) = 1;
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct WriteLock<'a, T: ?Sized>(Acquire<'a, T>);

impl<'a, T: ?Sized> Future for ReadLock<'a, T> {
    type Output = RwMutexReadGuard<'a, T>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: structural pinning of the only field.
        let inner = unsafe { self.map_unchecked_mut(|s| &mut s.0) };
        let lock = inner.lock;
        inner.poll_acquire(cx).map(|()| RwMutexReadGuard { lock })
    }
}

impl<'a, T: ?Sized> Future for WriteLock<'a, T> {
    type Output = RwMutexWriteGuard<'a, T>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: structural pinning of the only field.
        let inner = unsafe { self.map_unchecked_mut(|s| &mut s.0) };
        let lock = inner.lock;
        inner.poll_acquire(cx).map(|()| RwMutexWriteGuard { lock })
    }
}

impl<T: ?Sized> fmt::Debug for ReadLock<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadLock")
            .field("status", &self.0.node.status())
            .finish()
    }
}

impl<T: ?Sized> fmt::Debug for WriteLock<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WriteLock")
            .field("status", &self.0.node.status())
            .finish()
    }
}

/// A shared read lock on an [`RwMutex`]; released when dropped (Go: `RUnlock`).
///
/// ```
/// let m = goro_sync::RwMutex::new(3);
/// let g: goro_sync::RwMutexReadGuard<'_, i32> = m.try_read().unwrap();
/// assert_eq!(*g, 3);
/// ```
#[must_use = "the lock is released when the guard is dropped"]
pub struct RwMutexReadGuard<'a, T: ?Sized> {
    lock: &'a RwMutex<T>,
}

/// The write lock on an [`RwMutex`]; released when dropped (Go: `Unlock`).
///
/// ```
/// let m = goro_sync::RwMutex::new(3);
/// let mut g: goro_sync::RwMutexWriteGuard<'_, i32> = m.try_write().unwrap();
/// *g = 4;
/// ```
#[must_use = "the lock is released when the guard is dropped"]
pub struct RwMutexWriteGuard<'a, T: ?Sized> {
    lock: &'a RwMutex<T>,
}

// SAFETY: a read guard gives `&T` to the thread holding it.
unsafe impl<T: ?Sized + Sync> Send for RwMutexReadGuard<'_, T> {}
// SAFETY: as above.
unsafe impl<T: ?Sized + Sync> Sync for RwMutexReadGuard<'_, T> {}
// SAFETY: a write guard gives `&mut T` to the thread holding it.
unsafe impl<T: ?Sized + Send + Sync> Send for RwMutexWriteGuard<'_, T> {}
// SAFETY: a shared write guard only gives `&T`.
unsafe impl<T: ?Sized + Sync> Sync for RwMutexWriteGuard<'_, T> {}

impl<T: ?Sized> Deref for RwMutexReadGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: a read lock is held: no writer exists.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T: ?Sized> Drop for RwMutexReadGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.read_unlock();
    }
}

impl<T: ?Sized> Deref for RwMutexWriteGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the write lock is held.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T: ?Sized> DerefMut for RwMutexWriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the write lock is held; `&mut self` excludes other uses.
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<T: ?Sized> Drop for RwMutexWriteGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.write_unlock();
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwMutexReadGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwMutexWriteGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}
