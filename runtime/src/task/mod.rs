//! Tasks: a goroutine's future and its header in one allocation, the
//! goroutine wrapper (registry bookkeeping, panic capture), `spawn`.
//!
//! Go: `newproc` / `newproc1` in `runtime/proc.go`.
//!
//! # Design
//!
//! The task cell is `async-task`'s: one allocation holding the header (state
//! word, awaiter, vtable), our metadata — the goroutine's
//! [`GoroutineRecord`] — and the future; its state machine and waker vtable
//! are async-task's (model-checked and fuzzed upstream). On top of it:
//!
//! - [`Goroutine`] wraps the user's future: it polls it inside a hook scope
//!   for the record, records the wait state when the poll returns
//!   `Pending`, catches panics (so they become a `JoinError` and follow the
//!   runtime's `PanicPolicy`), and unregisters the record when dropped.
//! - The schedule function is the scheduler's
//!   ([`Shared::schedule`](crate::scheduler::Shared)).
//!
//! # Invariants
//!
//! - A goroutine's record is registered before its task is first scheduled
//!   and unregistered in the wrapper's destructor, which runs before the
//!   allocation (and the record in it) is freed.

mod join;

use std::any::Any;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe, Location};
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;

pub use join::{JoinError, JoinHandle};

use crate::context;
use crate::loom::StdArc;
use crate::registry::{GoroutineId, GoroutineRecord};
use crate::scheduler::Shared;

/// A panic payload.
pub(crate) type Panic = Box<dyn Any + Send + 'static>;

/// A runnable goroutine (or blocking job): the scheduler's unit of work.
pub(crate) type Task = async_task::Runnable<GoroutineRecord>;

/// A pointer to the record in the task header, carried by the future that
/// lives in the same allocation.
#[derive(Clone, Copy)]
struct RecordPtr(NonNull<GoroutineRecord>);

// SAFETY: `GoroutineRecord` is `Sync`; the pointer is only dereferenced as
// `&GoroutineRecord` while the task allocation (which holds both the record
// and the future carrying this pointer) is alive.
unsafe impl Send for RecordPtr {}

pin_project! {
    /// A goroutine's future as stored in its task. Go: the `g` running `fn`.
    ///
    /// The user's future is dropped by the wrapper, under `catch_unwind`:
    /// right after it completes (or panics), and on cancellation in the
    /// wrapper's destructor. async-task drops the wrapper under an
    /// abort-on-unwind guard, so a panicking destructor must never reach it;
    /// such a panic follows the runtime's `PanicPolicy` instead.
    pub(crate) struct Goroutine<F> {
        #[pin]
        fut: Option<F>,
        shared: StdArc<Shared>,
        record: RecordPtr,
        registered: bool,
    }

    impl<F> PinnedDrop for Goroutine<F> {
        fn drop(this: Pin<&mut Self>) {
            let mut this = this.project();
            // SAFETY: the record lives in the task header, which outlives
            // the future being dropped here.
            let record = unsafe { this.record.0.as_ref() };
            if this.fut.is_some() {
                // Cancelled (the runtime stopped, or the task was dropped
                // unfinished): drop the user's future here, not under
                // async-task's abort guard.
                let mut fut = this.fut.as_mut();
                if let Err(payload) = catch_unwind(AssertUnwindSafe(|| fut.set(None))) {
                    this.shared
                        .goroutine_panicked(record.id, record.spawned_at, &payload);
                }
            }
            if *this.registered {
                let waker = this.shared.registry.remove(record);
                drop(waker);
            }
        }
    }
}

impl<F: Future> Future for Goroutine<F> {
    type Output = Result<F::Output, Panic>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        // SAFETY: the record lives in the task header, which outlives the
        // future being polled.
        let record = unsafe { this.record.0.as_ref() };
        let mut fut = this.fut;
        record.set_running();
        let (polled, noted) = context::poll_scoped(record, cx.waker(), || {
            let out = match catch_unwind(AssertUnwindSafe(|| {
                fut.as_mut()
                    .as_pin_mut()
                    .expect("goroutine polled after completion")
                    .poll(cx)
            })) {
                Ok(Poll::Pending) => return Poll::Pending,
                Ok(Poll::Ready(v)) => Ok(v),
                Err(payload) => Err(payload),
            };
            // Finished: drop the user's future now, inside `catch_unwind`
            // (async-task would drop it under its abort-on-unwind guard).
            let dropped = catch_unwind(AssertUnwindSafe(|| fut.set(None)));
            Poll::Ready((out, dropped))
        });
        let (out, dropped) = match polled {
            Poll::Pending => {
                record.set_waiting(context::wait_record(noted));
                return Poll::Pending;
            }
            Poll::Ready(finished) => finished,
        };
        let out = match (out, dropped) {
            (Ok(v), Ok(())) => return Poll::Ready(Ok(v)),
            // The destructor panicked: the goroutine panicked.
            (Ok(v), Err(payload)) => {
                drop(v);
                payload
            }
            // A destructor panicking after a poll panic is dropped; the
            // first panic is the goroutine's.
            (Err(payload), _) => payload,
        };
        this.shared
            .goroutine_panicked(record.id, record.spawned_at, &out);
        Poll::Ready(Err(out))
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

/// Spawns `fut` as a goroutine of `shared`.
pub(crate) fn spawn_on<F>(
    shared: &StdArc<Shared>,
    fut: F,
    at: &'static Location<'static>,
    parent: Option<GoroutineId>,
) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let id = shared.registry.next_id();
    let record = GoroutineRecord::new(id, parent, at, shared.rng_seed);
    let sched = shared.clone();
    let (runnable, task) = async_task::Builder::new().metadata(record).spawn(
        |record: &GoroutineRecord| Goroutine {
            fut: Some(fut),
            shared: shared.clone(),
            record: RecordPtr(NonNull::from(record)),
            registered: true,
        },
        async_task::WithInfo(move |t: Task, info: async_task::ScheduleInfo| {
            sched.schedule(t, info.woken_while_running)
        }),
    );
    // SAFETY: the record lives in the task header until the allocation is
    // freed, which happens only after the future (whose destructor calls
    // `remove`) has been dropped.
    unsafe {
        shared
            .registry
            .insert(runnable.metadata(), Some(runnable.waker()))
    };
    // Go: `runqput(pp, newg, true); wakep()` — a new goroutine goes to
    // `runnext`, and `schedule` wakes an idle worker to look for work (it
    // may steal the new goroutine if the spawner keeps running).
    shared.schedule(runnable, false);
    JoinHandle::new(task, id)
}

pin_project! {
    /// A `spawn_blocking` job as a future that completes on its first poll.
    pub(crate) struct BlockingJob<F> {
        f: Option<F>,
        shared: StdArc<Shared>,
        id: GoroutineId,
        at: &'static Location<'static>,
    }
}

impl<F: FnOnce() -> R, R> Future for BlockingJob<F> {
    type Output = Result<R, Panic>;

    fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let f = this.f.take().expect("blocking job polled after completion");
        match catch_unwind(AssertUnwindSafe(f)) {
            Ok(v) => Poll::Ready(Ok(v)),
            Err(payload) => {
                this.shared.goroutine_panicked(*this.id, this.at, &payload);
                Poll::Ready(Err(payload))
            }
        }
    }
}

/// Spawns `f` on the blocking pool of `shared`.
pub(crate) fn spawn_blocking_on<F, R>(
    shared: &StdArc<Shared>,
    f: F,
    at: &'static Location<'static>,
    parent: Option<GoroutineId>,
) -> JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let id = shared.registry.next_id();
    let record = GoroutineRecord::new(id, parent, at, shared.rng_seed);
    let pool = shared.clone();
    let (runnable, task) = async_task::Builder::new().metadata(record).spawn(
        |_: &GoroutineRecord| BlockingJob {
            f: Some(f),
            shared: shared.clone(),
            id,
            at,
        },
        move |t: Task| pool.blocking.submit(&pool, t),
    );
    runnable.schedule();
    JoinHandle::new(task, id)
}
