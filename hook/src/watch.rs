//! The waker watch: whether anything but goro's own primitives holds a copy
//! of a goroutine's waker, i.e. whether a foreign future (one that notes no
//! park) could still wake it.
//!
//! Go: nothing; every Go blocking operation is the runtime's own.
//!
//! # Why
//!
//! A goroutine that in one poll waits on a goro operation and on a foreign
//! future (`join!`, `select` over a `futures` oneshot) notes one park, the
//! goro one; the foreign future keeps a copy of the waker and may wake it at
//! any time. The stuck analysis and the deadlock check must not judge such
//! a goroutine by its goro wait alone.
//!
//! # Design
//!
//! The executor polls the goroutine with a *watched* waker
//! ([`WakerWatch::watched`]): same target (it delegates every call to the
//! goroutine's own waker), but its clones are classified. A clone made by a
//! goro primitive ([`clone_waker`], which marks the clone on its thread) is a
//! plain watched waker; any other clone is a *foreign* waker: it counts
//! itself in the watch while it lives. Every wake through either kind
//! raises a flag that the goroutine's next poll clears
//! ([`WakerWatch::is_clean`] is false while either says so): a woken
//! goroutine is runnable until it is polled again, whatever its last park
//! says, and its wake may have landed during the poll that recorded that
//! park (before the park was written), so the registry's state alone
//! cannot tell. A foreign
//! future that keeps its waker across polls (`will_wake` saves a clone)
//! keeps a foreign one, which `will_wake` tells apart from the watched
//! waker of the next poll only by its vtable, so at worst it re-clones: the
//! count stays exact.
//!
//! A goro primitive not routed through [`clone_waker`] (a timer, IO, a join)
//! counts as foreign while it holds the waker: a lost proof, never a false
//! one.
//!
//! # Memory ordering
//!
//! A goro primitive's wake raises `woken` (Release) before it wakes the
//! goroutine's own waker. A checker that has seen anything the waking
//! goroutine did after that wake (its next park, a handle it dropped: read
//! with Acquire) and then calls [`is_clean`](WakerWatch::is_clean) sees
//! the flag, or the poll start that cleared it (below).
//!
//! A foreign waker that wakes: (1) wakes the goroutine's own waker, (2)
//! raises `woken` (Release), (3) leaves the count (Release), (4) drops its
//! reference. [`is_clean`](WakerWatch::is_clean) loads the count, then
//! `woken` (Acquire): a count that already excludes the waker shows the
//! flag, unless a later poll start cleared it (`AcqRel` swap), and that
//! poll start is then visible to a reader that looks at the goroutine's
//! state after `is_clean`: it is no longer parked where it was.

use std::cell::Cell;
use std::mem::ManuallyDrop;
use std::ops::Deref;
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, Ordering};
use std::task::{RawWaker, RawWakerVTable, Waker};

/// The watch's three ordered steps (module docs, memory ordering), written
/// once and instantiated over std's atomics (`std_steps`) and, for the
/// model, loom's (`loom_tests`).
macro_rules! steps {
    ($a:ident) => {
        /// A foreign waker woke the goroutine (after waking it): raise the
        /// flag, then leave the count.
        #[inline]
        pub(crate) fn foreign_woke(woken: &$a::AtomicBool, foreign: &$a::AtomicU32) {
            woken.store(true, $a::Ordering::Release);
            foreign.fetch_sub(1, $a::Ordering::Release);
        }

        /// A goro primitive is about to wake the goroutine: raise the
        /// flag first, so that from now until the goroutine's next poll
        /// starts it is not clean (it is runnable, whatever its last park
        /// says).
        #[inline]
        pub(crate) fn goro_wakes(woken: &$a::AtomicBool) {
            woken.store(true, $a::Ordering::Release);
        }

        /// A poll starts: it sees what a flagged wake announced.
        #[inline]
        pub(crate) fn poll_starts(woken: &$a::AtomicBool) {
            if woken.load($a::Ordering::Relaxed) {
                woken.swap(false, $a::Ordering::AcqRel);
            }
        }

        /// No foreign waker alive, none woke it since its poll started;
        /// read before the goroutine's state.
        #[inline]
        pub(crate) fn is_clean(woken: &$a::AtomicBool, foreign: &$a::AtomicU32) -> bool {
            foreign.load($a::Ordering::Acquire) == 0 && !woken.load($a::Ordering::Acquire)
        }
    };
}

mod std_steps {
    use std::sync::atomic as a;
    steps!(a);
}

thread_local! {
    /// Set while a goro primitive clones a waker ([`clone_waker`]).
    static GORO_CLONE: Cell<bool> = const { Cell::new(false) };
}

/// Clones `waker` as a goro primitive does when it queues a waiter: a
/// watched goroutine's waker cloned here is not counted as held by foreign
/// code (see [`WakerWatch`]). Any other waker is simply cloned.
///
/// ```
/// let w = goro_hook::clone_waker(std::task::Waker::noop());
/// assert!(w.will_wake(std::task::Waker::noop()));
/// ```
#[inline]
pub fn clone_waker(waker: &Waker) -> Waker {
    own_clones(|| waker.clone())
}

/// Runs `f` (goro code only, e.g. an inner task's poll that registers the
/// waker) with every waker clone on this thread counted as goro's own (see
/// [`clone_waker`]).
///
/// ```
/// let w = goro_hook::own_clones(|| std::task::Waker::noop().clone());
/// drop(w);
/// ```
#[inline]
pub fn own_clones<R>(f: impl FnOnce() -> R) -> R {
    /// Restores the previous flag (also when `f` unwinds).
    struct Restore(bool);
    impl Drop for Restore {
        #[inline]
        fn drop(&mut self) {
            let prev = self.0;
            let _ = GORO_CLONE.try_with(|c| c.set(prev));
        }
    }
    let prev = GORO_CLONE.try_with(|c| c.replace(true)).unwrap_or(true);
    let _restore = Restore(prev);
    f()
}

/// Watches one goroutine's waker (see the module docs). Lives next to the
/// goroutine's own waker target (the task header), so that it outlives
/// every waker it hands out.
///
/// ```
/// use goro_hook::WakerWatch;
/// use std::sync::Arc;
/// use std::task::{Wake, Waker};
///
/// struct Task { watch: WakerWatch }
/// impl Wake for Task { fn wake(self: Arc<Self>) {} }
///
/// let task = Arc::new(Task { watch: WakerWatch::new() });
/// let own = Waker::from(task.clone());
/// // SAFETY: the watch lives in the `Arc` that `own` keeps alive, and
/// // clones of an `Arc` waker keep its data and vtable.
/// let watched = unsafe { task.watch.watched(&own) };
/// let queued = goro_hook::clone_waker(&watched); // a goro primitive
/// assert!(task.watch.is_clean());
/// let foreign = (*watched).clone(); // anybody else
/// assert!(!task.watch.is_clean());
/// drop(foreign);
/// assert!(task.watch.is_clean());
/// drop(queued);
/// ```
#[derive(Debug)]
pub struct WakerWatch {
    /// The goroutine's own waker (data, vtable); set by the first poll.
    data: AtomicPtr<()>,
    vtable: AtomicPtr<RawWakerVTable>,
    /// Foreign wakers alive.
    foreign: AtomicU32,
    /// A waker (goro's or foreign) woke the goroutine since its last poll
    /// started.
    woken: AtomicBool,
}

impl Default for WakerWatch {
    fn default() -> Self {
        WakerWatch::new()
    }
}

/// A watched waker lent for one poll ([`WakerWatch::watched`]); derefs to
/// the [`Waker`] to poll with.
#[derive(Debug)]
pub struct Watched<'a> {
    waker: ManuallyDrop<Waker>,
    _watch: std::marker::PhantomData<&'a WakerWatch>,
}

impl Deref for Watched<'_> {
    type Target = Waker;
    fn deref(&self) -> &Waker {
        &self.waker
    }
}

impl WakerWatch {
    /// A watch with no waker yet.
    pub const fn new() -> Self {
        WakerWatch {
            data: AtomicPtr::new(ptr::null_mut()),
            vtable: AtomicPtr::new(ptr::null_mut()),
            foreign: AtomicU32::new(0),
            woken: AtomicBool::new(false),
        }
    }

    /// A poll of the goroutine starts: returns the waker to poll it with,
    /// which wakes `own` (the goroutine's own waker). Clears the "woken"
    /// flag (the poll sees whatever that wake announced). The executor
    /// marks the goroutine running before calling this (a checker that
    /// reads the cleared flag then sees it no longer parked where it was).
    ///
    /// # Safety
    ///
    /// - `self` does not move and stays alive for as long as any clone of
    ///   `own` does (it lies inside what `own` keeps alive: a task header,
    ///   the `Arc` of a [`std::task::Wake`] type);
    /// - every call on this watch passes a clone of the same waker, and
    ///   cloning it gives a waker with the same data and vtable (true of
    ///   async-task's wakers and of `Waker::from(Arc<W>)`).
    #[inline]
    pub unsafe fn watched(&self, own: &Waker) -> Watched<'_> {
        self.learn_own(own);
        std_steps::poll_starts(&self.woken);
        // SAFETY: `GORO` expects a pointer to a live `WakerWatch` whose own
        // waker is set (done above); the `ManuallyDrop` is never dropped, so
        // this lent waker holds no reference, and it cannot outlive `self`.
        let waker = unsafe { Waker::from_raw(RawWaker::new(ptr::from_ref(self).cast(), &GORO)) };
        Watched {
            waker: ManuallyDrop::new(waker),
            _watch: std::marker::PhantomData,
        }
    }

    /// Keeps `own` (the goroutine's own waker, one reference) in the watch
    /// for the executor: the watch learns the waker (as the first
    /// [`watched`](Self::watched) would), and the reference it holds is
    /// the caller's to take back with [`take_own`](Self::take_own) (the
    /// watch never drops it by itself). goro's registry keeps each
    /// task alive this way without a waker of its own per goroutine.
    ///
    /// ```
    /// use std::sync::Arc;
    /// struct T;
    /// impl std::task::Wake for T { fn wake(self: Arc<Self>) {} }
    /// let t = Arc::new(T);
    /// let watch = goro_hook::WakerWatch::new();
    /// // SAFETY: `watch` outlives every clone of the waker used with it here.
    /// unsafe { watch.adopt_own(std::task::Waker::from(t.clone())) };
    /// assert_eq!(Arc::strong_count(&t), 2);
    /// let w = watch.own_clone().unwrap();
    /// assert_eq!(Arc::strong_count(&t), 3);
    /// drop(w);
    /// // SAFETY: the reference `adopt_own` kept is taken back once.
    /// drop(unsafe { watch.take_own() });
    /// assert_eq!(Arc::strong_count(&t), 1);
    /// ```
    ///
    /// # Safety
    ///
    /// As for [`watched`](Self::watched): `own` is the goroutine's own
    /// waker, the one every later `watched` call passes a clone of.
    #[inline]
    pub unsafe fn adopt_own(&self, own: Waker) {
        self.learn_own(&own);
        // The reference now belongs to whoever will call `take_own`.
        std::mem::forget(own);
    }

    /// Records `own` as the goroutine's own waker the first time; later
    /// calls must pass a clone of it (the callers' contracts).
    #[inline]
    fn learn_own(&self, own: &Waker) {
        if self.vtable.load(Ordering::Relaxed).is_null() {
            self.data.store(own.data().cast_mut(), Ordering::Relaxed);
            self.vtable
                .store(ptr::from_ref(own.vtable()).cast_mut(), Ordering::Release);
        }
        debug_assert!(
            self.data.load(Ordering::Relaxed) == own.data().cast_mut(),
            "WakerWatch used with another waker"
        );
    }

    /// A new reference to the goroutine's own waker, if the watch knows it
    /// ([`adopt_own`](Self::adopt_own) or a poll).
    pub fn own_clone(&self) -> Option<Waker> {
        if self.vtable.load(Ordering::Acquire).is_null() {
            return None;
        }
        Some((*self.own()).clone())
    }

    /// Takes back the reference [`adopt_own`](Self::adopt_own) kept, as a
    /// waker the caller owns. Dropping it may free the memory the watch
    /// lies in: drop it only once done with the watch.
    ///
    /// # Safety
    ///
    /// `adopt_own` was called on this watch, and its reference was not
    /// taken back yet.
    #[must_use = "dropping the waker gives the reference back"]
    pub unsafe fn take_own(&self) -> Waker {
        ManuallyDrop::into_inner(self.own())
    }

    /// No foreign waker of the goroutine is alive, and no waker woke it
    /// since its last poll started: only goro's primitives can wake it,
    /// and none has yet.
    #[inline]
    pub fn is_clean(&self) -> bool {
        std_steps::is_clean(&self.woken, &self.foreign)
    }

    /// The goroutine's own waker, cloned (one more reference on its
    /// target, owned by the caller's new waker).
    fn clone_own(&self) {
        let c = (*self.own()).clone();
        debug_assert!(c.data() == self.data.load(Ordering::Relaxed).cast_const());
        std::mem::forget(c);
    }

    /// The goroutine's own waker, as one reference the caller owns or
    /// borrows (it decides: `into_inner` gives it away).
    fn own(&self) -> ManuallyDrop<Waker> {
        let vt = self.vtable.load(Ordering::Acquire);
        let data = self.data.load(Ordering::Relaxed).cast_const();
        // SAFETY: set by `watched` from the goroutine's own waker (a
        // `&'static RawWakerVTable` and its data) before any watched waker
        // existed; the caller's waker holds a reference on its target.
        ManuallyDrop::new(unsafe { Waker::from_raw(RawWaker::new(data, &*vt)) })
    }
}

/// The watch behind a watched or foreign waker's data pointer.
///
/// # Safety
///
/// `data` comes from a waker of `GORO`/`FOREIGN`, which is alive.
unsafe fn watch<'a>(data: *const ()) -> &'a WakerWatch {
    // SAFETY: such a waker points to a watch that outlives it (`watched`'s
    // contract).
    unsafe { &*data.cast::<WakerWatch>() }
}

static GORO: RawWakerVTable = RawWakerVTable::new(goro_clone, own_wake, own_wake_by_ref, own_drop);
static FOREIGN: RawWakerVTable = RawWakerVTable::new(
    foreign_clone,
    foreign_wake,
    foreign_wake_by_ref,
    foreign_drop,
);

unsafe fn goro_clone(data: *const ()) -> RawWaker {
    // SAFETY: called on a live watched waker.
    let w = unsafe { watch(data) };
    w.clone_own();
    if GORO_CLONE.try_with(Cell::get).unwrap_or(false) {
        RawWaker::new(data, &GORO)
    } else {
        w.foreign.fetch_add(1, Ordering::Relaxed);
        RawWaker::new(data, &FOREIGN)
    }
}

unsafe fn own_wake(data: *const ()) {
    // SAFETY: called on a live watched waker, which owns one reference;
    // `wake` gives it to the own waker.
    let w = unsafe { watch(data) };
    std_steps::goro_wakes(&w.woken);
    ManuallyDrop::into_inner(w.own()).wake();
}

unsafe fn own_wake_by_ref(data: *const ()) {
    // SAFETY: called on a live watched waker.
    let w = unsafe { watch(data) };
    std_steps::goro_wakes(&w.woken);
    w.own().wake_by_ref();
}

unsafe fn own_drop(data: *const ()) {
    // SAFETY: called on a live watched waker, which owns one reference:
    // given back.
    drop(ManuallyDrop::into_inner(unsafe { watch(data) }.own()));
}

unsafe fn foreign_clone(data: *const ()) -> RawWaker {
    // SAFETY: called on a live foreign waker.
    let w = unsafe { watch(data) };
    w.clone_own();
    w.foreign.fetch_add(1, Ordering::Relaxed);
    RawWaker::new(data, &FOREIGN)
}

unsafe fn foreign_wake(data: *const ()) {
    // SAFETY: called on a live foreign waker; its reference keeps the watch
    // alive until `own_drop` below.
    let w = unsafe { watch(data) };
    let own = w.own();
    own.wake_by_ref();
    std_steps::foreign_woke(&w.woken, &w.foreign);
    // Gives the foreign waker's reference back (the watch may be freed
    // after this).
    drop(ManuallyDrop::into_inner(own));
}

unsafe fn foreign_wake_by_ref(data: *const ()) {
    // SAFETY: called on a live foreign waker.
    let w = unsafe { watch(data) };
    w.own().wake_by_ref();
    w.woken.store(true, Ordering::Release);
}

unsafe fn foreign_drop(data: *const ()) {
    // SAFETY: called on a live foreign waker.
    let w = unsafe { watch(data) };
    let own = w.own();
    w.foreign.fetch_sub(1, Ordering::Release);
    // Gives its reference back (the watch may be freed after this).
    drop(ManuallyDrop::into_inner(own));
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::sync::Arc;
    use std::task::Wake;

    struct Task {
        watch: WakerWatch,
        wakes: AtomicUsize,
    }
    impl Wake for Task {
        fn wake(self: Arc<Self>) {
            self.wakes.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn task() -> (Arc<Task>, Waker) {
        let t = Arc::new(Task {
            watch: WakerWatch::new(),
            wakes: AtomicUsize::new(0),
        });
        let w = Waker::from(t.clone());
        (t, w)
    }

    #[test]
    fn goro_clones_are_clean_until_they_wake_the_task() {
        let (t, own) = task();
        // SAFETY: the watch lives in the `Arc` the waker keeps alive.
        let watched = unsafe { t.watch.watched(&own) };
        let q = clone_waker(&watched);
        assert!(q.will_wake(&watched));
        assert!(t.watch.is_clean());
        assert_eq!(Arc::strong_count(&t), 3);
        q.wake_by_ref();
        // Woken: runnable, not clean until its next poll starts.
        assert!(!t.watch.is_clean());
        q.wake();
        assert_eq!(t.wakes.load(Ordering::Relaxed), 2);
        assert_eq!(Arc::strong_count(&t), 2);
        assert!(!t.watch.is_clean());
        // SAFETY: as above.
        let _next = unsafe { t.watch.watched(&own) };
        assert!(t.watch.is_clean());
    }

    #[test]
    fn foreign_clones_are_counted_until_dropped_or_woken() {
        let (t, own) = task();
        // SAFETY: as above.
        let watched = unsafe { t.watch.watched(&own) };
        let f = (*watched).clone();
        assert!(!f.will_wake(&watched), "re-cloned by will_wake users");
        let g = f.clone();
        assert!(!t.watch.is_clean());
        drop(f);
        assert!(!t.watch.is_clean());
        g.wake();
        assert_eq!(t.wakes.load(Ordering::Relaxed), 1);
        // Woken by a foreign waker: not clean until the next poll starts.
        assert!(!t.watch.is_clean());
        // SAFETY: as above.
        let _next = unsafe { t.watch.watched(&own) };
        assert!(t.watch.is_clean());
        assert_eq!(Arc::strong_count(&t), 2);
    }

    #[test]
    fn clones_of_a_foreign_waker_stay_foreign_even_in_goro_code() {
        let (t, own) = task();
        // SAFETY: as above.
        let watched = unsafe { t.watch.watched(&own) };
        let f = (*watched).clone();
        let g = clone_waker(&f);
        drop(f);
        assert!(!t.watch.is_clean());
        drop(g);
        assert!(t.watch.is_clean());
        assert_eq!(Arc::strong_count(&t), 2);
    }
}

#[cfg(all(test, goro_loom))]
mod loom_tests {
    //! Model of the watch's ordering: a checker that finds a goroutine
    //! clean and still parked (the state it reads after `is_clean`) only
    //! ever judges a park whose poll saw the foreign wake's event. Run:
    //! `RUSTFLAGS="--cfg goro_loom" cargo test -p goro-hook --release --lib watch`

    mod loom_steps {
        use loom::sync::atomic as a;
        steps!(a);
    }

    use loom::sync::atomic::{AtomicBool, AtomicU32, AtomicU8, Ordering};
    use loom::sync::Arc;

    const RUNNING: u8 = 0;
    const WAITING: u8 = 1;
    const RUNNABLE: u8 = 2;

    struct World {
        /// What the foreign future waits for.
        event: AtomicBool,
        /// async-task's "woken while running" bit (an RMW on its state).
        scheduled: AtomicBool,
        /// The registry's state word.
        state: AtomicU8,
        woken: AtomicBool,
        foreign: AtomicU32,
        /// What the poll saw of `event`.
        saw: AtomicBool,
    }

    #[test]
    fn a_clean_parked_goroutine_saw_the_foreign_wake() {
        loom::model(|| {
            let w = Arc::new(World {
                event: AtomicBool::new(false),
                scheduled: AtomicBool::new(false),
                state: AtomicU8::new(RUNNING),
                woken: AtomicBool::new(false),
                foreign: AtomicU32::new(1),
                saw: AtomicBool::new(false),
            });
            // The foreign waker: the event, the wake, then the watch steps.
            let waker = {
                let w = w.clone();
                loom::thread::spawn(move || {
                    w.event.store(true, Ordering::Release);
                    w.scheduled.swap(true, Ordering::AcqRel);
                    loom_steps::foreign_woke(&w.woken, &w.foreign);
                })
            };
            // The goroutine's poll: starts, looks at the event, parks, and
            // is rescheduled if woken meanwhile.
            let poll = {
                let w = w.clone();
                loom::thread::spawn(move || {
                    loom_steps::poll_starts(&w.woken);
                    w.saw
                        .store(w.event.load(Ordering::Acquire), Ordering::Relaxed);
                    w.state.store(WAITING, Ordering::Release);
                    if w.scheduled.swap(false, Ordering::AcqRel) {
                        w.state.store(RUNNABLE, Ordering::Relaxed);
                    }
                })
            };
            // The checker.
            let clean = loom_steps::is_clean(&w.woken, &w.foreign);
            let parked = w.state.load(Ordering::Acquire) == WAITING;
            waker.join().unwrap();
            poll.join().unwrap();
            if clean && parked {
                assert!(
                    w.saw.load(Ordering::Relaxed),
                    "judged a park that missed the wake"
                );
            }
        });
    }

    /// Rule 2's window: goroutine A registered as a waiter and, before its
    /// poll recorded the park, B (a goro primitive) handed it a value and
    /// woke it, then parked itself. A checker that sees B's park and then
    /// finds A clean and still in the park it recorded must be looking at
    /// a park whose poll saw B's value.
    #[test]
    fn a_goro_wake_during_the_poll_that_parks_is_seen() {
        loom::model(|| {
            let w = Arc::new(World {
                event: AtomicBool::new(false),
                scheduled: AtomicBool::new(false),
                state: AtomicU8::new(RUNNING),
                woken: AtomicBool::new(false),
                foreign: AtomicU32::new(0),
                saw: AtomicBool::new(false),
            });
            let b_parked = Arc::new(AtomicBool::new(false));
            // B: hands over the value, wakes A through goro's waker (flag
            // first), then parks (its registry state, Release).
            let b = {
                let (w, b_parked) = (w.clone(), b_parked.clone());
                loom::thread::spawn(move || {
                    w.event.store(true, Ordering::Release);
                    loom_steps::goro_wakes(&w.woken);
                    w.scheduled.swap(true, Ordering::AcqRel);
                    b_parked.store(true, Ordering::Release);
                })
            };
            // A's poll, as in the model above.
            let a = {
                let w = w.clone();
                loom::thread::spawn(move || {
                    loom_steps::poll_starts(&w.woken);
                    w.saw
                        .store(w.event.load(Ordering::Acquire), Ordering::Relaxed);
                    w.state.store(WAITING, Ordering::Release);
                    if w.scheduled.swap(false, Ordering::AcqRel) {
                        w.state.store(RUNNABLE, Ordering::Relaxed);
                    }
                })
            };
            // The checker: B's park first (rule 2's first look), then A.
            let b_seen = b_parked.load(Ordering::Acquire);
            let clean = loom_steps::is_clean(&w.woken, &w.foreign);
            let parked = w.state.load(Ordering::Acquire) == WAITING;
            b.join().unwrap();
            a.join().unwrap();
            if b_seen && clean && parked {
                assert!(
                    w.saw.load(Ordering::Relaxed),
                    "judged a park woken during its own poll"
                );
            }
        });
    }
}
