//! `Once` and `OnceValue<T>`: run an initialisation exactly once; everyone
//! else parks until it is done.
//!
//! Go: `sync.Once` (`src/sync/once.go`) and `sync.OnceValue` (`oncefunc.go`).
//!
//! # Design
//!
//! One atomic state (`INCOMPLETE -> RUNNING -> DONE | PANICKED`) and a
//! `Sema` (`src/sema.rs`) queue. The first caller to move `INCOMPLETE ->
//! RUNNING` runs the function; callers that find `RUNNING` queue up and are
//! all woken (status `Woken`) when the state leaves `RUNNING`; they then read
//! the state again. The fast path, once done, is one Acquire load.
//!
//! `OnceValue`'s initialiser is a future, so the runner itself may be
//! cancelled (dropped) mid-way: the state goes back to `INCOMPLETE` and the
//! waiters are woken, and the first of them to retry runs *its* initialiser.
//! Nothing is lost and nobody waits for a runner that no longer exists.
//!
//! Panics: Go's `Once.Do` treats a panicking `f` as having returned (later
//! calls do nothing); Go's `OnceValue` re-panics with the same value on every
//! call. Here the first caller gets the original panic and every other caller
//! (waiting or later) panics with its message (a panic payload cannot be
//! cloned).
//!
//! # Invariants
//!
//! - Only the runner (the caller that won `INCOMPLETE -> RUNNING`) writes the
//!   value or the panic message, before its Release store of `DONE` /
//!   `PANICKED`; after that they are read-only.
//! - A waiter queues only after seeing `RUNNING` under the queue lock, and a
//!   runner leaves `RUNNING` before taking the queue lock to wake everyone:
//!   so no waiter sleeps through the end of a run.

use std::cell::UnsafeCell;
use std::fmt;
use std::future::Future;
use std::marker::PhantomPinned;
use std::mem::MaybeUninit;
use std::panic::{self, AssertUnwindSafe, Location};
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::hook::{self, ObjectDetail, WaitObject, WaitReason};
use crate::loom::{AtomicU8, Ordering};
use crate::sema::{release_batch, End, Pick, Sema, Status, Waiter};

const INCOMPLETE: u8 = 0;
const RUNNING: u8 = 1;
const DONE: u8 = 2;
const PANICKED: u8 = 3;

/// The state machine shared by [`Once`] and [`OnceValue`].
struct Core {
    state: AtomicU8,
    sema: Sema<()>,
    made_at: &'static Location<'static>,
}

impl Core {
    #[track_caller]
    fn new() -> Self {
        Core {
            state: AtomicU8::new(INCOMPLETE),
            sema: Sema::new(()),
            made_at: Location::caller(),
        }
    }

    /// Acquire: pairs with the runner's Release store of the final state.
    fn state(&self) -> u8 {
        self.state.load(Ordering::Acquire)
    }

    fn try_begin(&self) -> bool {
        self.state
            .compare_exchange(INCOMPLETE, RUNNING, Ordering::Acquire, Ordering::Acquire)
            .is_ok()
    }

    /// The runner leaves `RUNNING` for `to` (Release: publishes the value)
    /// and wakes every waiter.
    fn finish(&self, to: u8) {
        self.state.store(to, Ordering::Release);
        release_batch(&self.sema, Status::Woken, |_, _| Pick::Take);
    }

    fn wait_object(&self, name: &'static str) -> WaitObject {
        WaitObject {
            id: self as *const Self as usize,
            made_at: Some(self.made_at),
            detail: ObjectDetail::Other(name),
        }
    }

    /// While the state is `RUNNING`: queues `node` (or refreshes it) and
    /// returns `Pending`; `Ready` once the caller should look at the state
    /// again.
    fn poll_wait(
        &self,
        node: &Waiter,
        cx: &Context<'_>,
        at: &'static Location<'static>,
        name: &'static str,
    ) -> Poll<()> {
        match node.status() {
            Status::Queued => {
                if self.sema.poll_queued(node, cx.waker()) == Status::Queued {
                    hook::note_park(WaitReason::OnceDo, at, Some(self.wait_object(name)));
                    return Poll::Pending;
                }
                node.reset();
                return Poll::Ready(());
            }
            Status::Woken | Status::Handed => {
                node.reset();
                return Poll::Ready(());
            }
            Status::Idle => {}
        }
        let mut g = self.sema.lock();
        if self.state.load(Ordering::Acquire) != RUNNING {
            return Poll::Ready(());
        }
        // SAFETY: lock held; `node` is pinned in the caller's future, and
        // removed by its `Drop` if still queued.
        unsafe { g.queue.push(node, End::Back, 0, None, cx.waker()) };
        drop(g);
        hook::note_park(WaitReason::OnceDo, at, Some(self.wait_object(name)));
        Poll::Pending
    }

    /// Drop of a waiting future: leave the queue. A wake-up needs no passing
    /// on: every waiter was woken.
    fn cancel_wait(&self, node: &Waiter) {
        // SAFETY: the node is alive and queued only in this queue.
        unsafe { self.sema.cancel(node, |_| {}) };
    }
}

/// Runs a function exactly once (Go's `sync.Once`).
///
/// ```
/// use goro_sync::Once;
/// use std::sync::atomic::{AtomicU32, Ordering};
///
/// static CALLS: AtomicU32 = AtomicU32::new(0);
/// let once = Once::new();
/// futures::executor::block_on(async {
///     once.call_once(|| { CALLS.fetch_add(1, Ordering::Relaxed); }).await;
///     once.call_once(|| { CALLS.fetch_add(1, Ordering::Relaxed); }).await;
/// });
/// assert_eq!(CALLS.load(Ordering::Relaxed), 1);
/// ```
pub struct Once {
    core: Core,
}

impl Once {
    /// A new `Once` whose function has not run.
    ///
    /// ```
    /// let once = goro_sync::Once::new();
    /// assert!(!once.is_done());
    /// ```
    #[track_caller]
    pub fn new() -> Self {
        Once { core: Core::new() }
    }

    /// Whether a `call_once` function has finished (returned or panicked).
    ///
    /// ```
    /// let once = goro_sync::Once::new();
    /// futures::executor::block_on(once.call_once(|| {}));
    /// assert!(once.is_done());
    /// ```
    pub fn is_done(&self) -> bool {
        self.core.state() == DONE
    }

    /// Calls `f` if no call of `call_once` on this `Once` has run its
    /// function yet; otherwise parks until that function has finished, and
    /// does not call `f` (Go: `once.Do(f)`).
    ///
    /// If `f` panics, the panic propagates to this caller and the `Once`
    /// counts as done, as in Go. Calling `call_once` on the same `Once` from
    /// inside `f` waits forever (Go's deadlock). Cancel-safe.
    ///
    /// ```
    /// let once = goro_sync::Once::new();
    /// let mut x = 0;
    /// futures::executor::block_on(once.call_once(|| x += 1));
    /// assert_eq!(x, 1);
    /// ```
    #[track_caller]
    pub fn call_once<F: FnOnce()>(&self, f: F) -> CallOnce<'_, F> {
        crate::note_use();
        CallOnce {
            once: self,
            f: Some(f),
            node: Waiter::new(),
            at: Location::caller(),
            _pin: PhantomPinned,
        }
    }

    /// [`call_once`](Once::call_once) from a plain thread, blocking it.
    ///
    /// ```
    /// let once = goro_sync::Once::new();
    /// once.call_once_blocking(|| println!("once"));
    /// assert!(once.is_done());
    /// ```
    #[track_caller]
    pub fn call_once_blocking<F: FnOnce()>(&self, f: F) {
        crate::block_on(self.call_once(f))
    }
}

impl Default for Once {
    #[track_caller]
    fn default() -> Self {
        Once::new()
    }
}

impl fmt::Debug for Once {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Once")
            .field("done", &self.is_done())
            .finish()
    }
}

/// Future of [`Once::call_once`].
///
/// ```
/// let once = goro_sync::Once::new();
/// let f: goro_sync::once::CallOnce<'_, _> = once.call_once(|| {});
/// futures::executor::block_on(f);
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct CallOnce<'a, F> {
    once: &'a Once,
    f: Option<F>,
    node: Waiter,
    at: &'static Location<'static>,
    _pin: PhantomPinned,
}

impl<F: FnOnce()> Future for CallOnce<'_, F> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // SAFETY: `node` is never moved out; `f` is not structurally pinned.
        let this = unsafe { self.get_unchecked_mut() };
        let core = &this.once.core;
        loop {
            match core.state() {
                DONE => return Poll::Ready(()),
                INCOMPLETE if core.try_begin() => {
                    let f = this.f.take().expect("CallOnce polled after completion");
                    // Go: a panicking f counts as done; the panic goes on.
                    struct Finish<'a>(&'a Core);
                    impl Drop for Finish<'_> {
                        fn drop(&mut self) {
                            self.0.finish(DONE);
                        }
                    }
                    let finish = Finish(core);
                    f();
                    drop(finish);
                    return Poll::Ready(());
                }
                INCOMPLETE => continue,
                _ => {
                    if core
                        .poll_wait(&this.node, cx, this.at, "sync.Once")
                        .is_pending()
                    {
                        return Poll::Pending;
                    }
                }
            }
        }
    }
}

impl<F> Drop for CallOnce<'_, F> {
    fn drop(&mut self) {
        self.once.core.cancel_wait(&self.node);
    }
}

impl<F> fmt::Debug for CallOnce<'_, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallOnce")
            .field("status", &self.node.status())
            .finish()
    }
}

/// A value computed once by an async initialiser (Go's `sync.OnceValue`).
///
/// ```
/// use goro_sync::OnceValue;
///
/// let config: OnceValue<String> = OnceValue::new();
/// futures::executor::block_on(async {
///     let a = config.get_or_init(|| async { "loaded".to_string() }).await;
///     let b = config.get_or_init(|| async { unreachable!() }).await;
///     assert_eq!((a.as_str(), b.as_str()), ("loaded", "loaded"));
/// });
/// ```
pub struct OnceValue<T> {
    core: Core,
    /// Written once by the runner before `DONE`.
    value: UnsafeCell<MaybeUninit<T>>,
    /// Written once by the runner before `PANICKED`.
    panic: UnsafeCell<Option<String>>,
}

// SAFETY: the value is written by one runner and then only shared (`&T`),
// possibly on other threads: `T: Send + Sync`, as `std::sync::OnceLock`.
unsafe impl<T: Send + Sync> Sync for OnceValue<T> {}
// SAFETY: moving the cell moves the `T`.
unsafe impl<T: Send> Send for OnceValue<T> {}

impl<T> OnceValue<T> {
    /// An empty cell.
    ///
    /// ```
    /// let v: goro_sync::OnceValue<u8> = goro_sync::OnceValue::new();
    /// assert!(v.get().is_none());
    /// ```
    #[track_caller]
    pub fn new() -> Self {
        OnceValue {
            core: Core::new(),
            value: UnsafeCell::new(MaybeUninit::uninit()),
            panic: UnsafeCell::new(None),
        }
    }

    /// The value, if an initialiser has completed.
    ///
    /// ```
    /// let v = goro_sync::OnceValue::new();
    /// futures::executor::block_on(v.get_or_init(|| async { 1 }));
    /// assert_eq!(v.get(), Some(&1));
    /// ```
    pub fn get(&self) -> Option<&T> {
        if self.core.state() == DONE {
            // SAFETY: DONE (Acquire) means the value was written (invariant).
            Some(unsafe { (*self.value.get()).assume_init_ref() })
        } else {
            None
        }
    }

    /// Returns the value, running `init` to compute it if no initialiser
    /// has completed yet; meanwhile other callers park (Go's `OnceValue`).
    ///
    /// If the initialiser panics, this caller gets the panic and every other
    /// caller, now or later, panics with the same message (Go re-panics with
    /// the same value). If the future running the initialiser is dropped
    /// before it completes, a waiting caller runs its own initialiser.
    ///
    /// ```
    /// let v = goro_sync::OnceValue::new();
    /// let x = futures::executor::block_on(v.get_or_init(|| async { 6 * 7 }));
    /// assert_eq!(*x, 42);
    /// ```
    #[track_caller]
    pub fn get_or_init<F, Fut>(&self, init: F) -> GetOrInit<'_, T, F, Fut>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = T>,
    {
        crate::note_use();
        GetOrInit {
            cell: self,
            init: Some(init),
            fut: None,
            node: Waiter::new(),
            at: Location::caller(),
            _pin: PhantomPinned,
        }
    }

    fn value_ref(&self) -> &T {
        // SAFETY: called after seeing DONE (Acquire): the value was written.
        unsafe { (*self.value.get()).assume_init_ref() }
    }

    fn repanic(&self) -> ! {
        // SAFETY: PANICKED (Acquire) means the message was written, once.
        let msg = unsafe { (*self.panic.get()).clone() }.unwrap_or_default();
        panic::panic_any(msg)
    }
}

impl<T> Default for OnceValue<T> {
    #[track_caller]
    fn default() -> Self {
        OnceValue::new()
    }
}

impl<T> Drop for OnceValue<T> {
    fn drop(&mut self) {
        if self.core.state.load(Ordering::Relaxed) == DONE {
            // SAFETY: DONE: the value was written and is dropped once, here.
            unsafe { self.value.get_mut().assume_init_drop() };
        }
    }
}

impl<T: fmt::Debug> fmt::Debug for OnceValue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OnceValue")
            .field("value", &self.get())
            .finish()
    }
}

/// Future of [`OnceValue::get_or_init`].
///
/// ```
/// let v = goro_sync::OnceValue::new();
/// let f: goro_sync::once::GetOrInit<'_, i32, _, _> = v.get_or_init(|| async { 1 });
/// assert_eq!(*futures::executor::block_on(f), 1);
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct GetOrInit<'a, T, F, Fut> {
    cell: &'a OnceValue<T>,
    init: Option<F>,
    /// Our initialiser, while we are the runner; structurally pinned.
    fut: Option<Fut>,
    node: Waiter,
    at: &'static Location<'static>,
    _pin: PhantomPinned,
}

impl<'a, T, F, Fut> Future for GetOrInit<'a, T, F, Fut>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = T>,
{
    type Output = &'a T;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<&'a T> {
        // SAFETY: `fut` and `node` are structurally pinned and never moved
        // out; `fut` is only replaced while `None`, and dropped in place.
        let this = unsafe { self.get_unchecked_mut() };
        let cell = this.cell;
        let core = &cell.core;
        loop {
            if let Some(fut) = this.fut.as_mut() {
                // SAFETY: `fut` is pinned inside this pinned future.
                let fut = unsafe { Pin::new_unchecked(fut) };
                match panic::catch_unwind(AssertUnwindSafe(|| fut.poll(cx))) {
                    Ok(Poll::Pending) => return Poll::Pending,
                    Ok(Poll::Ready(v)) => {
                        this.fut = None;
                        // SAFETY: we are the runner: sole writer before DONE.
                        unsafe { (*cell.value.get()).write(v) };
                        core.finish(DONE);
                        return Poll::Ready(cell.value_ref());
                    }
                    Err(payload) => {
                        this.fut = None;
                        // SAFETY: we are the runner: sole writer before PANICKED.
                        unsafe { *cell.panic.get() = Some(crate::catch_unwind::message(&payload)) };
                        core.finish(PANICKED);
                        panic::resume_unwind(payload);
                    }
                }
            }
            match core.state() {
                DONE => return Poll::Ready(cell.value_ref()),
                PANICKED => cell.repanic(),
                INCOMPLETE if core.try_begin() => {
                    let init = this.init.take().expect("GetOrInit polled after completion");
                    this.fut = Some(init());
                }
                INCOMPLETE => {}
                _ => {
                    if core
                        .poll_wait(&this.node, cx, this.at, "sync.OnceValue")
                        .is_pending()
                    {
                        return Poll::Pending;
                    }
                }
            }
        }
    }
}

impl<T, F, Fut> Drop for GetOrInit<'_, T, F, Fut> {
    fn drop(&mut self) {
        let core = &self.cell.core;
        if self.fut.is_some() {
            // The runner gives up: drop its initialiser, reopen the cell and
            // wake the waiters, one of which will run its own.
            self.fut = None;
            core.finish(INCOMPLETE);
        }
        core.cancel_wait(&self.node);
    }
}

impl<T, F, Fut> fmt::Debug for GetOrInit<'_, T, F, Fut> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GetOrInit")
            .field("running", &self.fut.is_some())
            .field("status", &self.node.status())
            .finish()
    }
}
