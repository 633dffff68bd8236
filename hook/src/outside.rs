//! Threads outside every goro runtime that use goro channels: the possible
//! wakers the deadlock detector cannot see in the goroutine registry.
//!
//! Go has no counterpart: every Go thread that can touch a channel is one of
//! the runtime's Ms. goro channels also work from plain threads and other
//! executors, and such a thread may wake a goroutine at any time, so the
//! global deadlock check must know about them.
//!
//! # How goro knows about an outside thread
//!
//! A thread becomes an *outside participant* the first time it uses a goro
//! channel handle (any operation, `clone` included) while it is neither
//! polling a goroutine nor a thread of a runtime's blocking pool (whose jobs
//! the runtime counts itself). From then until the thread exits it counts as
//! a possible waker of any goroutine of any runtime, except while it is
//! parked inside a goro blocking operation (`send_blocking`,
//! `recv_blocking`, `select_blocking!`): then it can only continue when a
//! goroutine or another participant wakes it, so it is asleep like a
//! goroutine. The waker of such a parked thread marks it active again
//! *before* unparking it, so a goroutine that wakes it and then parks is
//! never taken for the last one awake. A thread inside `Runtime::block_on`
//! runs the main goroutine and does not count (the executor marks its
//! threads with [`enter_runtime_thread`]).
//!
//! A thread that holds a handle it has not used yet (a handle moved into a
//! freshly spawned thread that sleeps before its first operation) is not
//! known until that first operation. The runtime reports a deadlock only
//! after it persisted unchanged for 30 ms, which covers a thread that
//! starts and uses its handle at once; a thread that waits longer before
//! its first operation must call [`note_outside_thread`] (or use the
//! handle, e.g. `clone` it) before the goroutines it will wake park, or the
//! runtime be built with `detect_deadlocks(false)`.
//!
//! # Memory ordering
//!
//! Participant states are stored and loaded SeqCst: the detector and a
//! participant going to sleep form a Dekker pair over (`RECHECKS`, a
//! participant's state): the detector registers its recheck waker, then
//! reads the states; a participant stores `BLOCKED`, then reads whether a
//! recheck is wanted. One of the two sees the other's write.

use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::Waker;

/// The thread is parked inside a goro blocking operation.
const BLOCKED: u8 = 1;
/// The thread is inside `Runtime::block_on` (it runs the main goroutine).
const IN_RUNTIME: u8 = 2;
/// A wake-up is pending (the next `prepare_park` returns `false`).
const NOTIFIED: u8 = 4;

/// Every live participant's state.
static PARTICIPANTS: Mutex<Vec<Arc<AtomicU8>>> = Mutex::new(Vec::new());
/// Wakers of runtimes whose deadlock check found only participants awake:
/// woken when a participant sleeps or exits.
static RECHECKS: Mutex<Vec<Waker>> = Mutex::new(Vec::new());
/// `RECHECKS.len()`, readable without the lock.
static RECHECK_COUNT: AtomicUsize = AtomicUsize::new(0);

/// Removes the thread's state from `PARTICIPANTS` when the thread exits.
struct Registration(Arc<AtomicU8>);

impl Drop for Registration {
    fn drop(&mut self) {
        let mut ps = PARTICIPANTS.lock().unwrap_or_else(PoisonError::into_inner);
        ps.retain(|p| !Arc::ptr_eq(p, &self.0));
        drop(ps);
        wake_rechecks();
    }
}

thread_local! {
    static ME: RefCell<Option<Registration>> = const { RefCell::new(None) };
    /// Set while the thread is a runtime thread (`enter_runtime_thread`).
    static RUNTIME_THREAD: Cell<bool> = const { Cell::new(false) };
}

/// One outside participant (see the module docs), as held by the waker of a
/// thread parked in a goro blocking operation.
///
/// Its state and its wake-up flag are one atomic word, so that "parked in a
/// goro operation" and "woken" can never be observed in the wrong order: a
/// thread is either blocked with no wake-up pending, or awake.
///
/// ```
/// // A plain thread announces itself before it holds a goro handle it will
/// // use only later:
/// let me = goro_hook::note_outside_thread().unwrap();
/// me.wake(); // a wake-up before the park: the park returns at once
/// assert!(!me.prepare_park());
/// ```
#[derive(Clone, Debug)]
pub struct OutsideThread(Arc<AtomicU8>);

impl OutsideThread {
    /// Called by the thread itself before `std::thread::park`: consumes a
    /// pending wake-up and returns `false` (do not park), or marks the thread
    /// blocked and returns `true`. Call it again after every return from
    /// `park` (spurious wake-ups leave the thread blocked).
    pub fn prepare_park(&self) -> bool {
        // SeqCst: see the module docs (Dekker with the detector).
        let prev = self
            .0
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |s| {
                Some(if s & NOTIFIED != 0 {
                    s & !NOTIFIED
                } else {
                    s | BLOCKED
                })
            })
            .unwrap_or_else(|s| s);
        if prev & NOTIFIED != 0 {
            return false;
        }
        if prev & BLOCKED == 0 && RECHECK_COUNT.load(Ordering::SeqCst) > 0 {
            wake_rechecks();
        }
        true
    }

    /// Wakes the thread (from its waker, before `Thread::unpark`): it is
    /// awake from this instant on.
    pub fn wake(&self) {
        // SeqCst: see the module docs.
        let _ = self
            .0
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |s| {
                Some((s & !BLOCKED) | NOTIFIED)
            });
    }
}

fn wake_rechecks() {
    let wakers = {
        let mut r = RECHECKS.lock().unwrap_or_else(PoisonError::into_inner);
        RECHECK_COUNT.store(0, Ordering::SeqCst);
        std::mem::take(&mut *r)
    };
    for w in wakers {
        w.wake();
    }
}

/// Registers the calling thread as an outside participant (see the module
/// docs) unless it is a goroutine or a runtime thread; returns its record.
///
/// Channels call this on every use of a handle off the runtime; a plain
/// thread may call it itself to be counted before its first channel
/// operation.
///
/// ```
/// assert!(goro_hook::note_outside_thread().is_some());
/// let _runtime_thread = goro_hook::enter_runtime_thread();
/// assert!(goro_hook::note_outside_thread().is_none());
/// ```
pub fn note_outside_thread() -> Option<OutsideThread> {
    if on_runtime_thread() {
        return None;
    }
    ME.try_with(|me| {
        let mut me = me.borrow_mut();
        let reg = me.get_or_insert_with(|| {
            let state = Arc::new(AtomicU8::new(0));
            PARTICIPANTS
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(state.clone());
            Registration(state)
        });
        OutsideThread(reg.0.clone())
    })
    .ok()
}

/// Whether this thread polls a goroutine or belongs to a runtime (worker,
/// blocking pool).
#[inline]
fn on_runtime_thread() -> bool {
    crate::current_goroutine().is_some() || RUNTIME_THREAD.with(Cell::get)
}

/// Whether the calling thread is already a participant.
#[inline]
fn is_participant() -> bool {
    ME.try_with(|me| me.borrow().is_some()).unwrap_or(true)
}

/// Executor side: marks the calling thread as a runtime thread (a worker,
/// a blocking-pool thread, or a thread inside `block_on`, which runs the
/// main goroutine) until the guard is dropped. It is then no outside
/// participant: if it was one, it does not count as awake meanwhile.
///
/// ```
/// let _me = goro_hook::note_outside_thread();
/// {
///     let _guard = goro_hook::enter_runtime_thread();
///     assert!(goro_hook::note_outside_thread().is_none());
/// }
/// assert!(goro_hook::note_outside_thread().is_some());
/// ```
pub fn enter_runtime_thread() -> RuntimeThreadGuard {
    let prev = RUNTIME_THREAD.with(|f| f.replace(true));
    let state = ME
        .try_with(|me| me.borrow().as_ref().map(|r| r.0.clone()))
        .ok()
        .flatten();
    let had = state
        .as_ref()
        .map(|s| s.fetch_or(IN_RUNTIME, Ordering::SeqCst) & IN_RUNTIME != 0);
    RuntimeThreadGuard { prev, state, had }
}

/// See [`enter_runtime_thread`].
#[derive(Debug)]
#[must_use = "the thread is a runtime thread only until the guard is dropped"]
pub struct RuntimeThreadGuard {
    prev: bool,
    state: Option<Arc<AtomicU8>>,
    had: Option<bool>,
}

impl Drop for RuntimeThreadGuard {
    fn drop(&mut self) {
        RUNTIME_THREAD.with(|f| f.set(self.prev));
        if let (Some(s), Some(false)) = (&self.state, self.had) {
            s.fetch_and(!IN_RUNTIME, Ordering::SeqCst);
        }
    }
}

/// Executor side: whether some outside participant (see the module docs)
/// may still wake a goroutine. If `recheck` is given, it is woken when that
/// may have changed (a participant parks in a goro operation or exits).
///
/// ```
/// let _guard = goro_hook::enter_runtime_thread();
/// // Other threads of this process may be participants; this one is not.
/// let _ = goro_hook::outside_threads_awake(None);
/// ```
pub fn outside_threads_awake(recheck: Option<&Waker>) -> bool {
    if let Some(w) = recheck {
        // Register first, then read the states (Dekker, module docs).
        let mut r = RECHECKS.lock().unwrap_or_else(PoisonError::into_inner);
        if !r.iter().any(|x| x.will_wake(w)) {
            r.push(w.clone());
        }
        RECHECK_COUNT.store(r.len(), Ordering::SeqCst);
    }
    let awake = PARTICIPANTS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
        .any(|p| p.load(Ordering::SeqCst) & (BLOCKED | IN_RUNTIME) == 0);
    awake
}

/// The part of [`note_handle_use`](crate::note_handle_use) off a goroutine.
#[cold]
pub(crate) fn note_use_off_goroutine() {
    if !is_participant() {
        let _ = note_outside_thread();
    }
}

/// Notes a use of a goro primitive (a channel operation or handle clone, a
/// lock, a permit, a `WaitGroup` count) by the calling thread: off a
/// goroutine the thread becomes an outside participant of the deadlock
/// check (registered once; later calls are a thread-local check). On a
/// goroutine: one thread-local load.
///
/// ```
/// goro_hook::note_primitive_use();
/// ```
#[inline]
pub fn note_primitive_use() {
    if crate::current_goroutine().is_none() {
        note_use_off_goroutine();
    }
}
