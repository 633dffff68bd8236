//! Tasks: a goroutine's future and its header in one allocation, the
//! goroutine wrapper (registry bookkeeping, panic capture), `spawn`.
//!
//! Go: `newproc` / `newproc1` in `runtime/proc.go`.
//!
//! # Design
//!
//! The task cell is goro's own ([`cell`], loom-modelled): one allocation
//! holding the header (state word, vtable), our metadata — the
//! goroutine's [`GoroutineRecord`] — and the future; freed cells are kept
//! per worker thread for the next spawns (Go's `g` free lists). The result
//! goes to a join slot ([`slot`], loom-modelled) apart from the cell, which
//! the `JoinHandle` reads: a finished goroutine's cell is freed whether or
//! not its handle is held. On top of it:
//!
//! - [`Goroutine`] wraps the user's future: it polls it inside a goro-hook
//!   poll scope for the record ([`poll_scoped`]), records the wait state when the poll returns
//!   `Pending`, catches panics (so they become a `JoinError` and follow the
//!   runtime's `PanicPolicy`), unregisters the record when it finishes (or
//!   is dropped unfinished), and then leaves its result in the join slot.
//! - The task knows no scheduler: [`spawn`] and [`spawn_blocking`] take the
//!   schedule function, and what a goroutine needs from its runtime (its
//!   registry, the panic policy, a clock) comes through the [`Host`] trait,
//!   which the scheduler's `Shared` implements (a generic parameter, so the
//!   calls are static).
//!
//! # Invariants
//!
//! - A goroutine's record is registered before its task is first scheduled
//!   and retired when the wrapper finishes or is dropped unfinished, before
//!   the join slot is filled (a joiner that wakes sees the goroutine gone
//!   from the count); the registry's waker keeps the allocation (and the
//!   record in it) alive until a sweep unregisters it.

pub(crate) mod cell;
mod join;
mod slot;

use std::any::Any;
use std::future::Future;
use std::mem::ManuallyDrop;
use std::panic::{catch_unwind, AssertUnwindSafe, Location};
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use goro_hook::{ParkNote, PollScope, WaitReason};
use pin_project_lite::pin_project;

pub use join::{JoinError, JoinHandle};
pub(crate) use slot::pooled_bytes as join_slot_pool_bytes;

use crate::loom::StdArc;
use crate::registry::{GoroutineId, GoroutineRecord, HostRef, Private, Registry, WaitRecord};
use slot::Writer;

/// Ready operations a goroutine may do per poll before `poll_budget` makes it
/// yield. Go preempts a goroutine after 10 ms; an async task can only be
/// asked to yield at an await point, and this is the usual count (tokio's).
pub(crate) const BUDGET: u32 = 128;

/// What a task needs from the runtime that runs it. Implemented by the
/// scheduler's `Shared`.
pub(crate) trait Host: Send + Sync + 'static {
    /// The registry the goroutine's record is in.
    fn registry(&self) -> &Registry;
    /// Goroutine `id`, spawned at `at`, panicked with `payload` (uncaught):
    /// follow the runtime's `PanicPolicy`.
    fn goroutine_panicked(&self, id: GoroutineId, at: &'static Location<'static>, payload: &Panic);
    /// The instant to record as the start of a park (a coarse clock is fine).
    fn park_time(&self) -> Instant;
    /// Queues goroutine `task` to run (`woken_while_running`: it woke
    /// itself during its own poll, i.e. it yielded).
    ///
    /// `task` may hold the last reference to `self` (its record owns the
    /// task's reference to the runtime, see [`spawn`]), and nothing keeps
    /// the task alive during the call but `task` itself: once the task is
    /// dropped or handed to a queue another thread takes from, `self` may
    /// be used only under a reference of its own.
    fn schedule(&self, task: Task, woken_while_running: bool);
    /// The runtime is stopping: a finished goroutine's record is swept out
    /// of the registry at once (see `Registry::retire`).
    fn stopping(&self) -> bool;
}

/// A panic payload.
pub(crate) type Panic = Box<dyn Any + Send + 'static>;

/// A runnable goroutine (or blocking job): the scheduler's unit of work.
pub(crate) type Task = cell::Runnable<GoroutineRecord>;

/// The runtime of goroutine `record`, of type `H`: for the goroutine's own
/// future (a `Goroutine<_, H>`), which only `spawn::<_, H>` makes, with a
/// record that holds an `StdArc<H>` and outlives the future.
#[inline]
fn host_of<H: Host>(record: &GoroutineRecord) -> &H {
    let host = record
        .host
        .as_ref()
        .expect("a goroutine task's record holds its runtime");
    // SAFETY: see above: `H` is the type the reference was made with.
    unsafe { host.get::<H>() }
}

/// A goroutine's future as stored in its task: the body of its task cell
/// ([`cell::Body`]), which hands it the goroutine's record at every poll
/// and at cancellation. Go: the `g` running `fn`.
///
/// The user's future is dropped by the wrapper, under `catch_unwind`:
/// right after it completes (or panics), and on cancellation. The task
/// cell drops the wrapper under an abort-on-unwind guard, so a panicking
/// destructor must never reach it; such a panic follows the runtime's
/// `PanicPolicy` instead.
pub(crate) struct Goroutine<F: Future, H: Host> {
    /// The user's future: present exactly while `slot` is `Some` (it is
    /// dropped in place, pinned, as the slot's writer is taken). Not an
    /// `Option`: an async block has no spare value for `None`, and the tag
    /// would be a word in every goroutine.
    fut: ManuallyDrop<F>,
    /// The join slot's end; `None` once the result is in it or the
    /// goroutine was cancelled (dropped, it tells the joiner so).
    slot: Option<Writer<F::Output>>,
    /// The runtime: the record's (`GoroutineRecord::host`, see `host_of`).
    host: std::marker::PhantomData<fn(&H)>,
}

impl<F: Future, H: Host> Goroutine<F, H> {
    fn new(fut: F, slot: Writer<F::Output>) -> Self {
        Goroutine {
            fut: ManuallyDrop::new(fut),
            slot: Some(slot),
            host: std::marker::PhantomData,
        }
    }

    /// Takes the slot's writer and drops the user's future in place (under
    /// `catch_unwind`: a panicking destructor comes back as `Err`).
    ///
    /// # Safety
    ///
    /// `self` is pinned and the future present (`slot` is `Some`).
    unsafe fn finish_future(&mut self) -> (Writer<F::Output>, std::thread::Result<()>) {
        let slot = self.slot.take().expect("the goroutine's future is present");
        let fut = &mut self.fut;
        // SAFETY: the caller's contract: the future is present; it is
        // dropped in place (as pinning requires) and never touched again
        // (`slot` is `None` from now on).
        let dropped = catch_unwind(AssertUnwindSafe(|| unsafe { ManuallyDrop::drop(fut) }));
        (slot, dropped)
    }
}

impl<F: Future, H: Host> Drop for Goroutine<F, H> {
    fn drop(&mut self) {
        // The cell cancels an unfinished body before dropping it, and a
        // finished one has dropped its future: nothing is left here.
        debug_assert!(self.slot.is_none(), "a goroutine dropped uncancelled");
        if self.slot.is_some() {
            // SAFETY: present (`slot` is `Some`); dropped in place.
            unsafe { ManuallyDrop::drop(&mut self.fut) };
        }
    }
}

/// Takes goroutine `record` (of a runtime of type `H`) out of the count.
fn retire<H: Host>(record: &GoroutineRecord) {
    let host = host_of::<H>(record);
    host.registry().retire(record, host.stopping());
}

impl<F: Future, H: Host> cell::Body<GoroutineRecord> for Goroutine<F, H> {
    fn poll(self: Pin<&mut Self>, record: &GoroutineRecord, cx: &mut Context<'_>) -> Poll<()> {
        // The future's place: pinned, so a handle inside it stays there.
        let future = (
            std::ptr::from_ref::<Self>(&self) as usize,
            std::mem::size_of::<Self>(),
        );
        // SAFETY: the user's future is only reached pinned (below) or
        // dropped in place (`finish_future`); nothing is moved out.
        let this = unsafe { self.get_unchecked_mut() };
        // One span per goroutine poll (id, spawn site), so subscribers can
        // follow goroutines; free when no subscriber wants trace level.
        let span = tracing::trace_span!(
            "goroutine",
            id = record.id.as_u64(),
            spawned_at = %crate::registry::Site(record.spawned_at)
        );
        let _entered = span.enter();
        record.set_running();
        let host = std::ptr::from_ref(host_of::<H>(record)).cast::<()>() as usize;
        // SAFETY: the watch lies in the task header, which every clone of
        // the task's waker keeps alive; a task's wakers all share the
        // task's data pointer and vtable.
        let waker = unsafe { record.watch.watched(cx.waker()) };
        let mut cx = Context::from_waker(&waker);
        let polled = poll_scoped(
            record,
            &waker,
            host,
            future,
            || {
                assert!(this.slot.is_some(), "goroutine polled after completion");
                let out = match catch_unwind(AssertUnwindSafe(|| {
                    // SAFETY: present (`slot` is `Some`), and pinned: the
                    // wrapper is, and the future is never moved out of it.
                    unsafe { Pin::new_unchecked(&mut *this.fut) }.poll(&mut cx)
                })) {
                    Ok(Poll::Pending) => return Poll::Pending,
                    Ok(Poll::Ready(v)) => Ok(v),
                    Err(payload) => Err(payload),
                };
                // Finished: drop the user's future now, inside `catch_unwind`
                // (the task cell would drop it under its abort-on-unwind guard).
                // SAFETY: pinned, and present (checked above).
                let (slot, dropped) = unsafe { this.finish_future() };
                Poll::Ready((out, slot, dropped))
            },
            |polled| {
                polled
                    .is_pending()
                    .then(|| host_of::<H>(record).park_time())
            },
            |w| {
                tracing::trace!(
                    target: "goro::park",
                    reason = w.reason.as_str(),
                    at = w.at.map(|l| tracing::field::display(crate::registry::Site(l))),
                    "park"
                );
            },
        );
        let (out, slot, dropped) = match polled {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(finished) => finished,
        };
        let out = match (out, dropped) {
            (Ok(v), Ok(())) => Ok(v),
            // The destructor panicked: the goroutine panicked.
            (Ok(v), Err(payload)) => {
                drop(v);
                Err(payload)
            }
            // A destructor panicking after a poll panic is dropped; the
            // first panic is the goroutine's.
            (Err(payload), _) => Err(payload),
        };
        if let Err(payload) = &out {
            host_of::<H>(record).goroutine_panicked(record.id, record.spawned_at, payload);
        }
        retire::<H>(record);
        slot.finish(out);
        Poll::Ready(())
    }

    fn cancel(self: Pin<&mut Self>, record: &GoroutineRecord) {
        // SAFETY: as in `poll`.
        let this = unsafe { self.get_unchecked_mut() };
        if this.slot.is_none() {
            return;
        }
        // Cancelled (the runtime stopped, or the task was dropped
        // unfinished): drop the user's future here, not under the task
        // cell's abort guard; then retire, then tell the joiner.
        // SAFETY: pinned, and present (`slot` is `Some`).
        let (slot, dropped) = unsafe { this.finish_future() };
        if let Err(payload) = dropped {
            host_of::<H>(record).goroutine_panicked(record.id, record.spawned_at, &payload);
        }
        retire::<H>(record);
        drop(slot);
    }

    fn destroyed(record: &mut GoroutineRecord) {
        if let Some(host) = record.host.take() {
            // SAFETY: `spawn::<_, H>` made it from an `StdArc<H>`.
            unsafe { host.release::<H>() };
        }
    }
}

/// The text of a panic payload, as Go prints a panic value.
pub(crate) fn panic_message(payload: &Panic) -> String {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "Box<dyn Any>".to_owned()
    }
}

/// Polls the goroutine `record` with `waker` (the waker of the goroutine's
/// own poll, `cx.waker()`): runs `poll` inside a goro-hook poll scope for it
/// and returns `poll`'s result. If `parked` says the poll returned
/// `Pending` (it gives the park's time then), records the wait the poll
/// noted (`set_waiting`), after showing it to `on_park`.
///
/// `host` identifies the runtime (its `Host`'s address): a `JoinHandle`
/// awaited during the poll compares it with its own task's runtime.
/// `future` is the goroutine future's (address, size), for what its park
/// proves (`park_proof`).
#[inline]
pub(crate) fn poll_scoped<R>(
    record: &GoroutineRecord,
    waker: &Waker,
    host: usize,
    future: (usize, usize),
    poll: impl FnOnce() -> R,
    parked: impl FnOnce(&R) -> Option<Instant>,
    on_park: impl FnOnce(&WaitRecord),
) -> R {
    let scope = PollScope::new(record.id.as_u64(), waker)
        .with_budget(BUDGET)
        .with_rng_state(record.rng_state())
        .with_spawned_at(record.spawned_at);
    /// Restores the previous host when the poll ends or unwinds.
    struct Restore(usize);
    impl Drop for Restore {
        #[inline]
        fn drop(&mut self) {
            CURRENT_HOST.with(|h| h.set(self.0));
        }
    }
    let restore = Restore(CURRENT_HOST.with(|h| h.replace(host)));
    let out = scope.enter(poll);
    drop(restore);
    record.set_rng_state(scope.rng_state());
    if let Some(since) = parked(&out) {
        let w = wait_record(&scope, future, since);
        on_park(&w);
        record.set_waiting(&w);
    }
    out
}

thread_local! {
    /// The runtime (its `Host`'s address) of the goroutine being polled on
    /// this thread; 0 between polls.
    static CURRENT_HOST: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// The runtime of the goroutine being polled on this thread (0: none).
pub(crate) fn current_host() -> usize {
    CURRENT_HOST.with(std::cell::Cell::get)
}

/// What a park proves about who can still wake the goroutine, from where
/// its future lies (`future`: address, size) and what its poll noted.
///
/// Only a poll that noted exactly one park proves anything: a goroutine
/// that waits on several things at once (`join!`, a select over futures)
/// may be woken by any of them. Then:
///
/// - `inline`: it waits on a sync primitive (mutex, `RWMutex`,
///   `WaitGroup`, `Cond`, `Once`) that lies inside its own pinned future.
///   A spawned future is `'static`: no other goroutine or thread can hold a
///   reference into it, so nobody else can unlock, signal or finish it, and
///   the goroutine itself is parked: it is parked forever.
/// - `private`: it waits on a channel operation through a handle that lies
///   inside its own future (the handle the parking operation noted, of the
///   same channel, not dropped since). Nobody else can use *that* handle;
///   whether others hold other handles of the channel is asked later,
///   through the channel's record (`scheduler::stuck`). A select is
///   `private` when every one of its channel cases holds or borrows a
///   handle inside its future (nil cases never fire; a future case proves
///   nothing): it waits on all those channels (`Private` keeps up to
///   `SELECT_NOTE_CASES` of them).
#[inline(always)]
fn park_proof(park: &ParkNote, scope: &PollScope<'_>, future: (usize, usize)) -> (bool, Private) {
    let inside = |addr: usize| addr >= future.0 && addr < future.0.saturating_add(future.1);
    if scope.parks() != 1 {
        return (false, Private::NONE);
    }
    if park.reason == WaitReason::Select {
        let private = scope
            .select_handles()
            .filter(|n| n.handles().iter().all(|&h| inside(h)))
            .map_or(Private::NONE, |n| Private::of_bits(n.records()));
        return (false, private);
    }
    let Some(on) = park.on else {
        return (false, Private::NONE);
    };
    match park.reason {
        WaitReason::MutexLock
        | WaitReason::RwMutexLock
        | WaitReason::RwMutexRLock
        | WaitReason::WaitGroupWait
        | WaitReason::CondWait
        | WaitReason::OnceDo => (inside(on.id), Private::NONE),
        WaitReason::ChanSend | WaitReason::ChanReceive => {
            let private = scope
                .handle_use()
                .filter(|h| h.object == on.id && inside(h.handle))
                .and_then(|h| h.record)
                .map_or(Private::NONE, Private::one);
            (false, private)
        }
        _ => (false, Private::NONE),
    }
}

/// The wait to record for a poll (in `scope`) that returned `Pending` at
/// `since` (`FutureWait` when the pending future noted nothing); `future`
/// is the goroutine future's (address, size).
#[inline]
fn wait_record(scope: &PollScope<'_>, future: (usize, usize), since: Instant) -> WaitRecord {
    match scope.park() {
        Some(n) => {
            let (forever, private) = park_proof(&n, scope, future);
            WaitRecord {
                reason: n.reason,
                // A join's call site is inside the runtime (`JoinHandle::poll`):
                // not worth showing.
                at: (n.reason != WaitReason::JoinWait).then_some(n.at),
                on: n.on,
                since,
                forever,
                private,
            }
        }
        None => WaitRecord {
            reason: WaitReason::FutureWait,
            at: None,
            on: None,
            since,
            forever: false,
            private: Private::NONE,
        },
    }
}

/// Creates the task of goroutine `record` running `fut` on `host` (scheduled
/// with [`Host::schedule`]), and registers the record. The caller schedules
/// the returned task for its first poll.
///
/// `host` is the task's one reference to its runtime: the record owns it
/// ([`HostRef`]), and both the goroutine's future and the schedule function
/// ([`schedule_goroutine`]) reach the runtime through the record, so the
/// schedule function captures nothing and the future holds no pointer of
/// its own (the task allocation stays the same size: the record grows by
/// what the schedule function and the future shrink). A spawn costs one
/// reference-count increment, and a wake hands the waker's reference to
/// the task it schedules instead of taking a new one and then dropping the
/// waker's: one atomic read-modify-write less per wake.
///
/// Inlined (as is `scheduler::spawn`), so the record is built where it is
/// moved into the task cell: out of line, its 136 bytes (then) were copied
/// three times per spawn (callgrind, `spawn_wg`: 3 memcpy calls, ~87
/// instructions, and store-forwarding stalls on the freshly written words);
/// inlined, once, into the allocation.
#[inline]
pub(crate) fn spawn<F, H>(
    host: StdArc<H>,
    fut: F,
    mut record: GoroutineRecord,
) -> (Task, JoinHandle<F::Output>)
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
    H: Host,
{
    let id = record.id;
    let host = HostRef::new(host);
    let rt = host.addr();
    record.host = Some(host);
    let (writer, reader) = slot::new(rt);
    let (runnable, waker) = cell::spawn(
        record,
        |_: &GoroutineRecord| Goroutine::<F, H>::new(fut, writer),
        schedule_goroutine::<H>,
    );
    // SAFETY: the record lives in the task header until the allocation is
    // freed, which happens only after the future (whose destructor calls
    // `remove`) has been dropped. The runtime is alive: the record in the
    // task holds it.
    unsafe {
        host_of::<H>(runnable.metadata())
            .registry()
            .insert(runnable.metadata(), Some(waker))
    };
    (runnable, JoinHandle::new(reader, id))
}

/// The schedule function of the goroutine tasks of runtime type `H`: a
/// function item, of size zero (see [`spawn`]).
fn schedule_goroutine<H: Host>(t: Task, info: cell::ScheduleInfo) {
    let host = t
        .metadata()
        .host
        .as_ref()
        .expect("a goroutine task's record holds its runtime");
    // SAFETY: `spawn` made this reference from an `StdArc<H>` (this
    // function is the schedule function of exactly the tasks `spawn::<_,
    // H>` made).
    let host: *const H = unsafe { host.get::<H>() };
    // SAFETY: the record, which holds the reference, lives as long as the
    // task's allocation, which `t` keeps alive; `Host::schedule` does not
    // use the runtime after letting go of `t` unless it holds a reference
    // of its own.
    unsafe { &*host }.schedule(t, info.woken_while_running);
}

pin_project! {
    /// A `spawn_blocking` job as a future that completes on its first poll,
    /// leaving its result in its join slot (dropped unrun, the slot tells
    /// the joiner it was cancelled).
    pub(crate) struct BlockingJob<F, R, H> {
        f: Option<F>,
        host: StdArc<H>,
        id: GoroutineId,
        at: &'static Location<'static>,
        slot: Option<Writer<R>>,
    }
}

impl<F: FnOnce() -> R, R, H: Host> Future for BlockingJob<F, R, H> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
        let this = self.project();
        let f = this.f.take().expect("blocking job polled after completion");
        let out = catch_unwind(AssertUnwindSafe(f));
        if let Err(payload) = &out {
            this.host.goroutine_panicked(*this.id, this.at, payload);
        }
        let slot = this.slot.take().expect("blocking job finished twice");
        slot.finish(out);
        Poll::Ready(())
    }
}

/// Creates the task of blocking job `record` running `f` on `host`,
/// scheduled (once) with `schedule`, and schedules it.
pub(crate) fn spawn_blocking<F, R, H, S>(
    host: &StdArc<H>,
    f: F,
    record: GoroutineRecord,
    schedule: S,
) -> JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
    H: Host,
    S: Fn(Task) + Send + Sync + 'static,
{
    let (id, at) = (record.id, record.spawned_at);
    let (writer, reader) = slot::new(StdArc::as_ptr(host).cast::<()>() as usize);
    // A blocking job is not registered: the spawn's waker is not needed.
    let (runnable, _) = cell::spawn(
        record,
        |_: &GoroutineRecord| BlockingJob {
            f: Some(f),
            host: host.clone(),
            id,
            at,
            slot: Some(writer),
        },
        move |t: Task, _: cell::ScheduleInfo| schedule(t),
    );
    runnable.schedule();
    JoinHandle::new(reader, id)
}
