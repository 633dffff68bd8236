//! Spawning goroutines and blocking jobs on a runtime: the scheduler's side
//! of [`task::spawn`], and what a task needs from its runtime
//! ([`task::Host`]).
//!
//! Go: `newproc` / `newproc1` in `runtime/proc.go`.

use std::future::Future;
use std::panic::Location;
use std::time::Instant;

use super::Shared;
use crate::context;
use crate::loom::StdArc;
use crate::registry::{GoroutineId, GoroutineRecord, Registry};
use crate::task::{self, JoinHandle, Panic, Task};

impl task::Host for Shared {
    fn registry(&self) -> &Registry {
        &self.registry
    }

    fn goroutine_panicked(&self, id: GoroutineId, at: &'static Location<'static>, payload: &Panic) {
        Shared::goroutine_panicked(self, id, at, payload)
    }

    #[inline]
    fn park_time(&self) -> Instant {
        context::with_worker(|w| w.map_or_else(Instant::now, |c| c.now.get()))
    }

    #[inline]
    fn schedule(&self, task: Task, woken_while_running: bool) {
        Shared::schedule(self, task, woken_while_running)
    }

    fn stopping(&self) -> bool {
        self.is_stopping()
    }
}

/// Spawns `fut` as a goroutine of `shared`, spawned at `at` by `parent`.
/// Inlined, as `task::spawn` is (see there: the record's copies).
#[inline]
pub(crate) fn spawn<F>(
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
    let (runnable, handle) = task::spawn(shared.clone(), fut, record);
    // Go: `runqput(pp, newg, true); wakep()` — a new goroutine goes to
    // `runnext`, and `schedule` wakes an idle worker to look for work (it
    // may steal the new goroutine if the spawner keeps running).
    shared.schedule(runnable, false);
    handle
}

/// Spawns `f` on the blocking pool of `shared`.
pub(crate) fn spawn_blocking<F, R>(
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
    task::spawn_blocking(shared, f, record, move |t: Task| {
        pool.blocking.submit(&pool, t)
    })
}
