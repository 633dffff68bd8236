//! The M:N work-stealing scheduler: worker cores, run queues, idle workers.
//!
//! Go: `runtime/proc.go` (`schedule`, `findRunnable`, `runqput`, `runqsteal`,
//! `wakep`); the names below follow Go's where the concept is the same.
//!
//! # Design
//!
//! - `N` worker *cores* (Go's Ps; `N` = GOMAXPROCS). Each has a local FIFO
//!   run queue (a crossbeam-deque `Worker`, stealable through its `Stealer`)
//!   and a one-task [`runnext`] slot. A global `Injector` takes tasks
//!   scheduled from outside the runtime.
//! - A core is run by one thread at a time. Core `i` has a dedicated thread
//!   `goro-worker-i`. The thread that calls `Runtime::block_on` *borrows core
//!   0* from its dedicated thread for the duration of the call (the dedicated
//!   thread waits, holding nothing) and polls the main goroutine on it between
//!   other tasks. So at most `N` threads run goroutines at once, a message
//!   ping-pong between main and another goroutine stays on one core, and
//!   goroutines spawned through a `Handle` run even when nobody is inside
//!   `block_on`.
//! - Scheduling (a waker firing, or a spawn): on a thread that runs a core of
//!   the same runtime, the task goes to that core's `runnext` (a displaced
//!   task goes to the back of the local queue), except a task that woke
//!   itself while running (`yield_now`, an exhausted budget), which goes to
//!   the back of the local queue. Elsewhere it goes to the injector.
//! - Waking idle workers: every push (to `runnext`, the local queue or the
//!   injector) wakes a parked worker unless one is already searching or none
//!   is parked (Go's `ready()` -> `wakep()`). A goroutine woken into the
//!   `runnext` slot of a worker that then computes for long (or blocks)
//!   without awaiting is thus stolen by the woken worker instead of waiting
//!   for that poll to end. To keep a message ping-pong on one core, a
//!   searcher steals from a `runnext` slot only after a grace period
//!   ([`worker::RUNNEXT_GRACE`], Go: 3 µs) during which the owner picked no
//!   task (its published tick did not move).
//! - Picking the next task ([`worker`]): every 61st tick the injector first
//!   (and a non-blocking poll of the driver, skipped when no goroutine
//!   waits for IO and no timer is due: `park::Driver::needs_poll`); then
//!   `runnext`, at most [`worker::RUNNEXT_CAP`] times in a row; then the
//!   local queue; then the injector; then searching (stealing half a queue
//!   from random victims; a victim's `runnext` as a last resort: a few
//!   rounds, or up to a time budget if the previous search stole work);
//!   then parking.
//! - Idle workers ([`idle`]) park in their [`park::Parker`], or in the
//!   external [`park::Driver`] (timers + IO) if one is installed and free.
//!   Tasks the driver wakes inside a worker's park go to that worker's
//!   `runnext`/local queue without waking anybody (it runs them next); it
//!   wakes one other worker afterwards if more than one became ready.
//!
//! # Invariants
//!
//! - A `Task` (async-task `Runnable`) is in at most one place: a run queue,
//!   a `runnext` slot, the injector, or the hands of the thread running it.
//! - After `stop` returns, no thread runs a core, every queue is empty and
//!   every goroutine's future has been dropped.
//!
//! # Locking
//!
//! `block_on_turn` > `lifecycle` > `CoreSlot::core` (core handoff), all
//! taken outside any other runtime lock; `Idle::sleepers` is a leaf. No scheduler lock is held
//! while a task is polled or dropped.
//!
//! # Memory ordering
//!
//! Task handoff through the queues is ordered by crossbeam-deque and by the
//! `runnext` slot's AcqRel swaps. Wakeups follow [`idle`]'s Dekker protocol.
//! `stopping` is stored with Release (in `stop`) and loaded with Acquire by
//! workers and `schedule`.

pub(crate) mod idle;
pub(crate) mod park;
pub(crate) mod runnext;
pub(crate) mod worker;

#[cfg(all(test, not(goro_loom)))]
mod tests;

use std::io;
use std::panic::Location;
use std::ptr::NonNull;
use std::thread as std_thread;

use crossbeam_deque::{Injector, Stealer, Worker};

use crate::blocking::BlockingPool;
use crate::context::{self, WorkerCtx};
use crate::loom::{fence, lock, AtomicBool, AtomicUsize, Condvar, Mutex, Ordering, StdArc};
use crate::registry::{GoroutineId, Registry};
use crate::runtime::{PanicPolicy, RuntimeError};
use crate::task::{panic_message, Panic, Task};

pub(crate) use worker::Core;

use idle::Idle;
use park::{DriverSlot, Parker};
use runnext::{RawTask, RunNext};

impl RawTask for Task {
    fn into_raw(self) -> NonNull<()> {
        Task::into_raw(self)
    }
    unsafe fn from_raw(ptr: NonNull<()>) -> Self {
        // SAFETY: the caller guarantees `ptr` came from `into_raw` and is
        // converted back once.
        unsafe { Task::from_raw(ptr) }
    }
}

/// What other threads may touch of a core.
pub(crate) struct Remote {
    /// Steals from the core's local queue.
    pub(crate) stealer: Stealer<Task>,
    /// The core's `runnext` slot (pushed only by the thread running the core).
    pub(crate) runnext: RunNext<Task>,
    /// Parks the thread running the core.
    pub(crate) parker: Parker,
    /// The core's scheduler tick, published by the thread running it each
    /// time it picks a task (Go: `p.schedtick`, read by `runqsteal`). A
    /// searcher steals from `runnext` only if this did not move during a
    /// grace period: the owner is stuck in one long poll (see
    /// `worker::search`).
    pub(crate) ticks: std::sync::atomic::AtomicU32,
}

/// Where a core waits while no thread runs it (the handoff between core 0's
/// dedicated thread and `block_on`).
struct CoreSlot {
    /// The core, when no thread runs it.
    core: Mutex<Option<Box<Core>>>,
    cvar: Condvar,
    /// Number of `block_on` calls waiting for (or holding) this core; its
    /// dedicated thread gives the core up while this is non-zero.
    wanted: AtomicUsize,
}

/// Configuration fixed at build time.
pub(crate) struct Config {
    pub(crate) workers: usize,
    pub(crate) panic_policy: PanicPolicy,
    pub(crate) rng_seed: u64,
    pub(crate) detect_deadlocks: bool,
    pub(crate) keep_alive: std::time::Duration,
    pub(crate) driver: Option<StdArc<dyn park::Driver>>,
    /// Handle of the same driver for timers and sockets created on this
    /// runtime (`crate::io::driver::Handle::current`).
    pub(crate) io: Option<crate::io::driver::Handle>,
    /// The same driver's timers as goro-hook's timer driver.
    pub(crate) timers: Option<StdArc<dyn goro_hook::TimerDriver>>,
}

/// The runtime's shared state. Go: `sched` plus `allp`.
pub(crate) struct Shared {
    /// Tasks scheduled from outside the workers. Go: `sched.runq`.
    pub(crate) injector: Injector<Task>,
    /// Per core, indexed by core number. Go: `allp`.
    pub(crate) remotes: Box<[Remote]>,
    slots: Box<[CoreSlot]>,
    pub(crate) idle: Idle,
    pub(crate) driver: StdArc<DriverSlot>,
    /// The timer/IO driver's handle (set once): where timers and sockets
    /// created on this runtime register.
    pub(crate) io: Option<crate::io::driver::Handle>,
    /// goro-hook's timer driver for the runtime's threads (set once;
    /// installed by `context`).
    pub(crate) timers: Option<StdArc<dyn goro_hook::TimerDriver>>,
    pub(crate) registry: Registry,
    pub(crate) blocking: BlockingPool,
    /// Seed of every goroutine's generator (`Builder::rng_seed`, else random).
    pub(crate) rng_seed: u64,
    pub(crate) panic_policy: PanicPolicy,
    /// Builder::detect_deadlocks (kept for the deadlock detector).
    #[allow(dead_code)]
    pub(crate) detect_deadlocks: bool,
    /// Set (Release) by `stop`; workers and `schedule` load it (Acquire).
    stopping: AtomicBool,
    /// The main goroutine was woken (set by its waker, consumed by core 0's
    /// run loop inside `block_on`).
    pub(crate) main_woken: AtomicBool,
    /// A goroutine panicked under `PanicPolicy::Abort`.
    aborted: AtomicBool,
    /// The first such panic. Protected by its mutex.
    abort: Mutex<Option<RuntimeError>>,
    /// Worker threads, joined by `stop`.
    threads: Mutex<Vec<std_thread::JoinHandle<()>>>,
    /// Serialises `start` and `stop`; true while running.
    lifecycle: Mutex<bool>,
    /// Held for the whole of a `block_on` (start, run, stop), so concurrent
    /// calls take turns and one's stop never cuts another's run short.
    pub(crate) block_on_turn: Mutex<()>,
}

impl Shared {
    pub(crate) fn new(cfg: Config) -> StdArc<Shared> {
        let n = cfg.workers;
        let driver = StdArc::new(DriverSlot::new(cfg.driver));
        let mut remotes = Vec::with_capacity(n);
        let mut slots = Vec::with_capacity(n);
        for i in 0..n {
            let local = Worker::new_fifo();
            remotes.push(Remote {
                stealer: local.stealer(),
                runnext: RunNext::new(),
                parker: Parker::new(driver.clone()),
                ticks: std::sync::atomic::AtomicU32::new(0),
            });
            slots.push(CoreSlot {
                core: Mutex::new(Some(Box::new(Core::new(local, cfg.rng_seed, i)))),
                cvar: Condvar::new(),
                wanted: AtomicUsize::new(0),
            });
        }
        StdArc::new(Shared {
            injector: Injector::new(),
            remotes: remotes.into(),
            slots: slots.into(),
            idle: Idle::new(n),
            driver,
            io: cfg.io,
            timers: cfg.timers,
            registry: Registry::new(),
            blocking: BlockingPool::new(cfg.keep_alive),
            rng_seed: cfg.rng_seed,
            panic_policy: cfg.panic_policy,
            detect_deadlocks: cfg.detect_deadlocks,
            stopping: AtomicBool::new(true),
            main_woken: AtomicBool::new(false),
            aborted: AtomicBool::new(false),
            abort: Mutex::new(None),
            threads: Mutex::new(Vec::new()),
            lifecycle: Mutex::new(false),
            block_on_turn: Mutex::new(()),
        })
    }

    /// Whether something other than a runnable goroutine may still wake a
    /// goroutine: an armed timer, a goroutine waiting for IO, or a queued or
    /// running `spawn_blocking` job. The deadlock detector must not fire
    /// while this is true.
    #[allow(dead_code)] // for the deadlock detector
    pub(crate) fn has_pending_activity(&self) -> bool {
        self.io.as_ref().is_some_and(|io| io.has_pending()) || self.blocking.busy() > 0
    }

    pub(crate) fn num_workers(&self) -> usize {
        self.remotes.len()
    }

    #[inline]
    pub(crate) fn is_stopping(&self) -> bool {
        // Acquire pairs with the Release store in `stop`.
        self.stopping.load(Ordering::Acquire)
    }

    /// Starts the worker threads if the runtime is not running.
    pub(crate) fn start(self: &StdArc<Self>) -> io::Result<()> {
        let mut running = lock(&self.lifecycle);
        if *running {
            return Ok(());
        }
        self.idle.reset();
        self.main_woken.store(false, Ordering::Relaxed);
        self.aborted.store(false, Ordering::Relaxed);
        *lock(&self.abort) = None;
        self.blocking.restart();
        // Release pairs with the Acquire loads in `is_stopping`.
        self.stopping.store(false, Ordering::Release);
        let mut threads = lock(&self.threads);
        for i in 0..self.num_workers() {
            let shared = self.clone();
            let spawned = std_thread::Builder::new()
                .name(format!("goro-worker-{i}"))
                .spawn(move || worker_thread(shared, i));
            match spawned {
                Ok(t) => threads.push(t),
                Err(e) => {
                    drop(threads);
                    *running = true;
                    drop(running);
                    self.stop();
                    return Err(e);
                }
            }
        }
        *running = true;
        Ok(())
    }

    /// Stops the runtime: joins the worker threads, then drops every queued
    /// and every parked goroutine (Go: what `exit` does to the other
    /// goroutines when `main.main` returns).
    pub(crate) fn stop(&self) {
        let mut running = lock(&self.lifecycle);
        if !*running {
            return;
        }
        // Release pairs with the Acquire loads in `is_stopping`.
        self.stopping.store(true, Ordering::Release);
        for r in self.remotes.iter() {
            r.parker.unpark();
        }
        for s in self.slots.iter() {
            drop(lock(&s.core));
            s.cvar.notify_all();
        }
        self.blocking.shutdown();
        let threads = std::mem::take(&mut *lock(&self.threads));
        let me = std_thread::current().id();
        for t in threads {
            if t.thread().id() != me {
                // A worker that panicked outside a goroutine poll has already
                // unwound; nothing more to do for it here.
                let _ = t.join();
            }
        }
        // Drain the queues. Dropping a task drops its future; wakers fired
        // by those destructors drop their tasks at once (`stopping`).
        //
        // Pairs with the fence in `schedule` after its injector push (see
        // there): a push that this drain misses sees `stopping`.
        fence(Ordering::SeqCst);
        let mut dropped = Vec::new();
        for (s, r) in self.slots.iter().zip(self.remotes.iter()) {
            dropped.extend(r.runnext.take());
            if let Some(core) = lock(&s.core).as_mut() {
                core.drain_into(&mut dropped);
            }
        }
        self.drain_injector(&mut dropped);
        drop(dropped);
        // Cancel the parked goroutines: waking one schedules it, and
        // `schedule` drops it because the runtime is stopping.
        let mut before = usize::MAX;
        loop {
            let wakers = self.registry.wakers();
            if wakers.is_empty() || wakers.len() >= before {
                break;
            }
            before = wakers.len();
            for w in wakers {
                w.wake();
            }
        }
        *running = false;
    }

    /// Schedules `task`. `yielded`: it woke itself while running.
    ///
    /// Go: `ready()` -> `runqput(pp, gp, next=true)`.
    pub(crate) fn schedule(&self, task: Task, yielded: bool) {
        task.metadata().set_runnable();
        if self.is_stopping() {
            drop(task);
            return;
        }
        let rest = context::with_worker(|w| match w {
            Some(w) if std::ptr::eq(&*w.shared, self) => self.schedule_local(w, task, yielded),
            _ => Some(task),
        });
        if let Some(task) = rest {
            self.injector.push(task);
            // A thread outside the workers may have read `stopping == false`
            // above just before `stop` set it and drained the injector; its
            // push would then sit in the drained injector forever (the
            // task's future holds an `Arc<Shared>`: a leaked cycle, and a
            // later `block_on` would resume a goroutine of the previous
            // run). Dekker with `stop`: push; fence; load `stopping` here,
            // store `stopping`; fence; drain there. In the SeqCst fence
            // order either `stop`'s drain sees this push, or this load sees
            // `stopping` and the task is dropped here.
            //
            // The drain below takes the tasks one at a time and re-checks
            // `stopping` for each: if a `start` ran in between (the runtime
            // is running again), the task goes back and the drain ends, so
            // a task scheduled on the restarted runtime is never dropped.
            fence(Ordering::SeqCst);
            if self.stopping.load(Ordering::Relaxed) {
                loop {
                    let t = match self.injector.steal() {
                        crossbeam_deque::Steal::Success(t) => t,
                        crossbeam_deque::Steal::Retry => continue,
                        crossbeam_deque::Steal::Empty => return,
                    };
                    if self.is_stopping() {
                        drop(t);
                    } else {
                        self.injector.push(t);
                        break;
                    }
                }
            }
            self.notify_parked();
        }
    }

    /// Moves every task of the injector into `out`.
    fn drain_injector(&self, out: &mut Vec<Task>) {
        loop {
            match self.injector.steal() {
                crossbeam_deque::Steal::Success(t) => out.push(t),
                crossbeam_deque::Steal::Retry => {}
                crossbeam_deque::Steal::Empty => break,
            }
        }
    }

    /// Pushes to the current core; gives the task back if this thread holds
    /// no core right now.
    fn schedule_local(&self, w: &WorkerCtx, task: Task, yielded: bool) -> Option<Task> {
        let Ok(mut guard) = w.core.try_borrow_mut() else {
            return Some(task);
        };
        let Some(core) = guard.as_mut() else {
            return Some(task);
        };
        if yielded {
            // Go: `Gosched` puts the goroutine behind the others. The current
            // worker runs it again soon; no need to wake anybody.
            core.push_local(task);
            return None;
        }
        if let Some(displaced) = self.remotes[w.index].runnext.push(task) {
            core.push_local(displaced);
        }
        drop(guard);
        if w.in_park.get() {
            // Dispatched by the driver inside this worker's park: this
            // worker runs it next (see `WorkerCtx::in_park`; `worker::park`
            // wakes another worker if more than one task became ready).
            return None;
        }
        // Go: `ready()` -> `runqput(.., next=true); wakep()`. Even a task
        // that only filled the empty `runnext` slot must be able to run
        // elsewhere if this worker's current poll goes on for long (a CPU
        // loop, a blocking call): wake an idle worker unless one is already
        // searching (it may steal from the slot). Cheap when nobody is
        // idle or somebody searches (a fence and two loads).
        self.notify_parked();
        None
    }

    /// Wakes a parked worker if nobody is searching. Go: `wakep()`.
    pub(crate) fn notify_parked(&self) {
        if let Some(w) = self.idle.worker_to_notify() {
            self.remotes[w].parker.unpark();
        }
    }

    /// Whether any queue holds a task another worker should take (the last
    /// searcher's re-check, by worker `me`). A task in another worker's
    /// `runnext` slot counts only if that worker stays stuck in one poll for
    /// the grace period (`worker::runnext_stuck`): in a ping-pong the slot is
    /// occupied half the time, and counting it would make an idle worker
    /// wake itself over and over.
    pub(crate) fn has_visible_work(&self, me: usize) -> bool {
        !self.injector.is_empty()
            || self.remotes.iter().any(|r| !r.stealer.is_empty())
            || self
                .remotes
                .iter()
                .enumerate()
                .any(|(v, r)| v != me && r.runnext.is_occupied() && worker::runnext_stuck(r))
    }

    /// Takes core `i` for `block_on` (`for_main`) or for its dedicated thread
    /// (`None` when the runtime is stopping).
    pub(crate) fn acquire_core(&self, i: usize, for_main: bool) -> Option<Box<Core>> {
        let slot = &self.slots[i];
        let mut core = lock(&slot.core);
        if for_main {
            slot.wanted.fetch_add(1, Ordering::AcqRel);
            // The dedicated thread sees `wanted` after this unpark (it
            // re-checks after every park).
            self.remotes[i].parker.unpark();
        }
        loop {
            if !for_main && self.is_stopping() {
                return None;
            }
            // Acquire pairs with the AcqRel increments/decrements.
            if core.is_some() && (for_main || slot.wanted.load(Ordering::Acquire) == 0) {
                return core.take();
            }
            core = slot.cvar.wait(core).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Gives core `i` back to its slot.
    pub(crate) fn release_core(&self, i: usize, c: Box<Core>, for_main: bool) {
        let slot = &self.slots[i];
        let mut core = lock(&slot.core);
        *core = Some(c);
        if for_main {
            slot.wanted.fetch_sub(1, Ordering::AcqRel);
        }
        drop(core);
        slot.cvar.notify_all();
    }

    /// Whether core `i` should be handed to a waiting `block_on`.
    pub(crate) fn core_wanted(&self, i: usize) -> bool {
        // Acquire pairs with the increment in `acquire_core`.
        self.slots[i].wanted.load(Ordering::Acquire) > 0
    }

    /// A goroutine (or blocking job) panicked. Go: an unrecovered panic
    /// kills the program; under `PanicPolicy::Abort` the runtime stops and
    /// `block_on` returns the panic.
    pub(crate) fn goroutine_panicked(
        &self,
        id: GoroutineId,
        at: &'static Location<'static>,
        payload: &Panic,
    ) {
        if self.panic_policy != PanicPolicy::Abort {
            return;
        }
        self.abort_with(RuntimeError::GoroutinePanic {
            id,
            message: panic_message(payload),
            spawned_at: at,
        });
    }

    /// A timer action panicked on one of this runtime's threads (see
    /// `time::action_panicked`): like a goroutine panic, it stops the
    /// runtime under `PanicPolicy::Abort` and is dropped under `Ignore`.
    pub(crate) fn timer_panicked(&self, at: Option<&'static Location<'static>>, payload: &Panic) {
        if self.panic_policy != PanicPolicy::Abort {
            return;
        }
        self.abort_with(RuntimeError::TimerPanic {
            message: panic_message(payload),
            created_at: at,
        });
    }

    /// Records `err` as the reason the runtime stops (the first one wins)
    /// and makes `block_on` return it.
    fn abort_with(&self, err: RuntimeError) {
        let mut abort = lock(&self.abort);
        if abort.is_none() {
            *abort = Some(err);
        }
        drop(abort);
        // Release pairs with the Acquire load in `take_abort`/`aborted`.
        self.aborted.store(true, Ordering::Release);
        self.wake_main();
    }

    /// Whether a goroutine panic stopped the runtime.
    #[inline]
    pub(crate) fn aborted(&self) -> bool {
        // Acquire pairs with the Release store in `goroutine_panicked`.
        self.aborted.load(Ordering::Acquire)
    }

    pub(crate) fn take_abort(&self) -> Option<RuntimeError> {
        lock(&self.abort).take()
    }

    /// Makes core 0's run loop poll the main goroutine.
    pub(crate) fn wake_main(&self) {
        // Release pairs with the Acquire swap in the run loop.
        self.main_woken.store(true, Ordering::Release);
        // Woken by the driver on the thread that runs core 0, inside its own
        // park (the main goroutine's socket or timer): that thread returns
        // from the driver right after dispatching and then reads
        // `main_woken` (its own store, program order), so unparking itself
        // would only cost an eventfd write and an extra `epoll_wait`.
        let own_park = context::with_worker(|w| {
            w.is_some_and(|w| w.index == 0 && w.in_park.get() && std::ptr::eq(&*w.shared, self))
        });
        if !own_park {
            self.remotes[0].parker.unpark();
        }
    }
}

/// Body of the dedicated thread of core `i`.
fn worker_thread(shared: StdArc<Shared>, i: usize) {
    while let Some(core) = shared.acquire_core(i, false) {
        let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            worker::run(&shared, i, core, None)
        }));
        match run {
            Ok(core) => shared.release_core(i, core, false),
            // A panic escaped the run loop (none should: see `worker::run`).
            // The loop gave the core back while unwinding; the panic hook
            // printed the panic. Keep serving the core rather than leave its
            // queue without a thread.
            Err(payload) => {
                let _ =
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(payload)));
            }
        }
    }
}
