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
//! - [`Goroutine`] wraps the user's future: it points the worker context at
//!   the record while polling, records the wait state when the poll returns
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
    pub(crate) struct Goroutine<F> {
        #[pin]
        fut: F,
        shared: StdArc<Shared>,
        record: RecordPtr,
        registered: bool,
    }

    impl<F> PinnedDrop for Goroutine<F> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if *this.registered {
                // SAFETY: the record lives in the task header, which outlives
                // the future being dropped here.
                let record = unsafe { this.record.0.as_ref() };
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
        let fut = this.fut;
        let shared = &**this.shared;
        context::with_worker(|ctx| {
            // SAFETY: `record` is alive for this whole poll (see above), and
            // the guard is dropped at the end of this closure.
            let guard = unsafe { context::enter_poll(ctx, record) };
            record.set_running();
            match catch_unwind(AssertUnwindSafe(|| fut.poll(cx))) {
                Ok(Poll::Pending) => {
                    record.set_waiting(guard.wait_record());
                    Poll::Pending
                }
                Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
                Err(payload) => {
                    drop(guard);
                    shared.goroutine_panicked(record.id, record.spawned_at, &payload);
                    Poll::Ready(Err(payload))
                }
            }
        })
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
            fut,
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
    // Go: `runqput(pp, newg, true)` — a new goroutine goes to `runnext`.
    runnable.schedule();
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
