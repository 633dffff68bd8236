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
//!   itself while running: after `yield_now` it goes to the injector (Go:
//!   `Gosched` -> `globrunqput`), after an exhausted poll budget to the back
//!   of the local queue (it stays with a goroutine it woke into `runnext`).
//!   Elsewhere it goes to the injector. A main goroutine that yields is
//!   polled again after [`worker::GLOBAL_QUEUE_INTERVAL`] tasks or when
//!   core 0 runs out of work, as if it were in the injector.
//! - Waking idle workers: every push to the injector, and every push that
//!   leaves a local queue at least [`worker::STEAL_MIN_LEN`] long, wakes a
//!   parked worker unless one is already searching or none is parked (Go's
//!   `ready()` -> `wakep()`). So does a push into `runnext` or a shorter
//!   local queue, unless a parked worker *watches*: a worker that parks while
//!   another is awake parks with a timeout ([`worker::RUNNEXT_WATCH`]) and
//!   then steals a task from another worker's `runnext` (or `yielded`) slot
//!   if that worker picked no task meanwhile (its published tick did not
//!   move): the task waits behind one long poll (a CPU loop, a blocking
//!   call); likewise from a short local queue whose owner picked fewer
//!   tasks meanwhile than it holds (it does not drain it). A message ping-pong between two goroutines of one core thus
//!   stays on that core and costs no wakeups (Go wakes a spinning P that
//!   steals `runnext` after 3 µs; in goro that was a futex wake every few
//!   messages and an idle worker that woke only to find the slot taken).
//! - Picking the next task ([`worker`]): every 61st tick the injector first
//!   (and a non-blocking poll of the driver, skipped when no goroutine
//!   waits for IO and no timer is due: `park::Driver::needs_poll`); then
//!   `runnext`, at most [`worker::RUNNEXT_CAP`] times in a row; then the
//!   `yielded` slot; then the local queue; then the injector; then
//!   searching (stealing half a queue from random victims whose queue holds
//!   at least [`worker::STEAL_MIN_LEN`] tasks: a few rounds, or up to a
//!   time budget if the previous search stole work; then, while another
//!   worker runs, a short sleep as a searcher and a last round, in which a
//!   `runnext`/`yielded` task its owner did not pick meanwhile is stolen
//!   too, and a shorter queue its owner does not drain); then parking. A
//!   short queue is left to its owner, which runs it within microseconds:
//!   its goroutines were mostly woken by the owner's running goroutine
//!   (they talk to it), and moving them to another core made every message
//!   cross cores.
//! - A thread stuck in one goroutine poll (a blocking call, a long loop)
//!   loses its core: the [`monitor`] thread (Go's sysmon) retakes it through
//!   the core's [`handoff::Lease`] and hands it to a spare thread; the stuck
//!   thread finishes its poll without a core and then waits as a spare.
//!   So a core is run by one thread at a time, but not always the same one.
//! - Idle workers ([`idle`]) park in their [`park::Parker`], or in the
//!   external [`park::Driver`] (timers + IO) if one is installed and free.
//!   Tasks the driver wakes inside a worker's park go to that worker's
//!   `runnext`/local queue without waking anybody (it runs them next); it
//!   wakes one other worker afterwards if more than one became ready.
//!
//! # Invariants
//!
//! - A `Task` (a task cell's `Runnable`) is in at most one place: a run queue,
//!   a `runnext` slot, the injector, or the hands of the thread running it.
//! - After `stop` returns, no thread runs a core, every queue is empty and
//!   every goroutine's future has been dropped.
//!
//! # Locking
//!
//! `block_on_turn` > `lifecycle` > `CoreSlot::state` (core handoff) >
//! `threads`, all taken outside any other runtime lock; `Idle::sleepers`,
//! a lease's runner record and the monitor's lock are leaves. No scheduler lock is held
//! while a task is polled or dropped.
//!
//! # Memory ordering
//!
//! Task handoff through the queues is ordered by crossbeam-deque and by the
//! `runnext` slot's AcqRel swaps. Wakeups follow [`idle`]'s Dekker protocol.
//! `stopping` is stored with Release (in `stop`) and loaded with Acquire by
//! workers and `schedule`.

pub(crate) mod deadlock;
pub(crate) mod handoff;
pub(crate) mod idle;
pub(crate) mod monitor;
pub(crate) mod park;
pub(crate) mod runnext;
mod spawn;
pub(crate) mod stuck;
pub(crate) mod watchdog;
pub(crate) mod worker;

#[cfg(all(test, not(goro_loom)))]
mod tests;

use std::io;
use std::panic::Location;
use std::ptr::NonNull;
use std::thread as std_thread;

use crossbeam_deque::{Injector, Stealer, Worker};
use crossbeam_utils::CachePadded;

use crate::blocking::BlockingPool;
use crate::config::{Config, PanicPolicy};
use crate::context::{self, WorkerCtx};
use crate::error::RuntimeError;
use crate::loom::{fence, lock, AtomicBool, AtomicUsize, Condvar, Mutex, Ordering, StdArc};
use crate::registry::{GoroutineId, Registry};
use crate::task::{panic_message, Panic, Task};

pub(crate) use spawn::{spawn, spawn_blocking};
pub(crate) use worker::{Core, CoreBox};

use handoff::{Lease, Observed};
use idle::Idle;
use monitor::Monitor;
use park::{DriverSlot, Parker};
use runnext::{RawTask, RunNext};

impl Remote {
    /// Whether the `runnext` or the `yielded` slot looks occupied (a hint).
    pub(crate) fn slots_occupied(&self) -> bool {
        self.runnext.is_occupied() || self.yielded.is_occupied()
    }

    /// Another worker took tasks from this core's queue or slots (see
    /// `Remote::steals`).
    pub(crate) fn note_stolen(&self) {
        // Relaxed: a progress hint for the monitor. Load and store rather
        // than an RMW: a lost count between two thieves only delays a
        // retake by a look.
        let n = self.steals.load(std::sync::atomic::Ordering::Relaxed);
        self.steals
            .store(n.wrapping_add(1), std::sync::atomic::Ordering::Relaxed);
    }
}

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
    /// A goroutine that spent its poll budget while the core's local queue
    /// was empty (pushed only by the thread running the core). Stolen only
    /// under `runnext`'s rule: in Go a goroutine keeps running until it
    /// blocks or its 10 ms slice ends, so a producer that woke its consumer
    /// into `runnext` is still running when an idle worker looks; goro's
    /// budget (128 operations) ends the poll far sooner, and a producer put
    /// in the stealable local queue at that point moved to the idle worker,
    /// splitting the pair over two cores (every message then moved the
    /// channel's cache lines between them).
    pub(crate) yielded: RunNext<Task>,
    /// Parks the thread running the core.
    pub(crate) parker: Parker,
    /// The core's scheduler tick, published by the thread running it each
    /// time it picks a task (Go: `p.schedtick`, read by `runqsteal`). A
    /// watching worker steals from `runnext`/`yielded` only if this did not
    /// move while it was parked: the owner is stuck in one long poll (see
    /// `worker::park`).
    pub(crate) ticks: std::sync::atomic::AtomicU32,
    /// How often other workers stole from this core's queue or slots (a
    /// hint): the monitor does not retake a computing core whose queued
    /// work others are taking (see `monitor::should_retake`).
    pub(crate) steals: std::sync::atomic::AtomicU32,
    /// The core's lease to the thread running it: lets the monitor take the
    /// core from a thread stuck in one poll (see [`handoff`]).
    pub(crate) lease: Lease<Core>,
}

/// Where a core waits while no thread runs it (the handoff between core 0's
/// dedicated thread and `block_on`, and from a thread that lost the core to
/// the monitor to a spare).
struct CoreSlot {
    /// Protected by its mutex.
    state: Mutex<SlotState>,
    cvar: Condvar,
    /// Number of `block_on` calls waiting for (or holding) this core; its
    /// dedicated thread gives the core up while this is non-zero.
    wanted: AtomicUsize,
}

struct SlotState {
    /// The core, when no thread runs it.
    core: Option<CoreBox>,
    /// Threads waiting for the core in `acquire_core` (spares).
    waiting: usize,
    /// The thread running the core, if any.
    runner: Option<Runner>,
}

/// The thread running a core.
struct Runner {
    thread: std_thread::ThreadId,
    /// `block_on`'s thread (it holds one count of `CoreSlot::wanted`).
    for_main: bool,
}

/// A worker thread (dedicated or spare). Go: an `m`.
struct WorkerThread {
    handle: std_thread::JoinHandle<()>,
    /// It lost its core while stuck in a poll and has not rejoined yet:
    /// `stop` does not wait for it.
    lost: bool,
}

/// The runtime's shared state. Go: `sched` plus `allp`.
pub(crate) struct Shared {
    /// Tasks scheduled from outside the workers. Go: `sched.runq`.
    pub(crate) injector: Injector<Task>,
    /// Per core, indexed by core number. Go: `allp`.
    /// Cache-line padded: each core's thread writes its own `runnext`,
    /// `ticks` and lease words on every task.
    pub(crate) remotes: Box<[CachePadded<Remote>]>,
    slots: Box<[CoreSlot]>,
    pub(crate) idle: Idle,
    pub(crate) driver: StdArc<DriverSlot>,
    /// The tokio runtime entered by worker and blocking threads (set once;
    /// `crate::tokio_compat`).
    pub(crate) tokio: crate::tokio_compat::TokioContext,
    pub(crate) registry: Registry,
    pub(crate) blocking: BlockingPool,
    /// Seed of every goroutine's generator (`Builder::rng_seed`, else random).
    pub(crate) rng_seed: u64,
    pub(crate) panic_policy: PanicPolicy,
    /// `Builder::detect_deadlocks`. Set once.
    pub(crate) detect_deadlocks: bool,
    /// A `block_on` runs the main goroutine (the deadlock check applies).
    pub(crate) main_active: AtomicBool,
    /// Live `Handle` clones (not the `Runtime`'s own): whoever holds one
    /// may spawn, so the deadlock check does not report while any lives.
    pub(crate) outside_handles: AtomicUsize,
    /// `Builder::watchdog`. Set once.
    watchdog: Option<std::time::Duration>,
    /// Incremented by every `start` (the watchdog of an older start exits).
    pub(crate) start_gen: AtomicUsize,
    /// A deadlock seen by the check but not yet confirmed. Leaf lock.
    pub(crate) deadlock_suspect: Mutex<Option<deadlock::Suspect>>,
    /// The waker that re-runs the deadlock check (`deadlock::Recheck`).
    pub(crate) recheck: std::sync::OnceLock<std::task::Waker>,
    /// Set (Release) by `stop`; workers and `schedule` load it (Acquire).
    stopping: AtomicBool,
    /// The main goroutine was woken (set by its waker, consumed by core 0's
    /// run loop inside `block_on`).
    pub(crate) main_woken: AtomicBool,
    /// A goroutine panicked under `PanicPolicy::Abort`.
    aborted: AtomicBool,
    /// The first such panic. Protected by its mutex.
    abort: Mutex<Option<RuntimeError>>,
    /// Worker threads, joined by `stop` (except those stuck in a poll
    /// without a core).
    threads: Mutex<Vec<WorkerThread>>,
    /// Notified (with `threads`) when a worker thread exits.
    thread_exit: Condvar,
    /// The monitor's state; its thread, joined by `stop`.
    pub(crate) monitor: Monitor,
    monitor_thread: Mutex<Option<std_thread::JoinHandle<()>>>,
    /// Serialises `start` and `stop`; true while running.
    lifecycle: Mutex<bool>,
    /// Held for the whole of a `block_on` (start, run, stop), so concurrent
    /// calls take turns and one's stop never cuts another's run short.
    pub(crate) block_on_turn: Mutex<()>,
}

impl Shared {
    pub(crate) fn new(cfg: Config, driver: Option<StdArc<dyn park::Driver>>) -> StdArc<Shared> {
        let n = cfg.workers;
        let driver = StdArc::new(DriverSlot::new(driver));
        let mut remotes = Vec::with_capacity(n);
        let mut slots = Vec::with_capacity(n);
        for i in 0..n {
            let local = Worker::new_fifo();
            remotes.push(CachePadded::new(Remote {
                stealer: local.stealer(),
                runnext: RunNext::new(),
                yielded: RunNext::new(),
                parker: Parker::new(driver.clone()),
                ticks: std::sync::atomic::AtomicU32::new(0),
                steals: std::sync::atomic::AtomicU32::new(0),
                lease: Lease::new(),
            }));
            slots.push(CoreSlot {
                state: Mutex::new(SlotState {
                    core: Some(CoreBox::new(Core::new(local, cfg.rng_seed, i))),
                    waiting: 0,
                    runner: None,
                }),
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
            tokio: cfg.tokio.clone(),
            registry: Registry::new(),
            blocking: BlockingPool::new(cfg.keep_alive),
            rng_seed: cfg.rng_seed,
            panic_policy: cfg.panic_policy,
            detect_deadlocks: cfg.detect_deadlocks,
            main_active: AtomicBool::new(false),
            outside_handles: AtomicUsize::new(0),
            watchdog: cfg.watchdog,
            start_gen: AtomicUsize::new(0),
            deadlock_suspect: Mutex::new(None),
            recheck: std::sync::OnceLock::new(),
            stopping: AtomicBool::new(true),
            main_woken: AtomicBool::new(false),
            aborted: AtomicBool::new(false),
            abort: Mutex::new(None),
            threads: Mutex::new(Vec::new()),
            thread_exit: Condvar::new(),
            monitor: Monitor::new(),
            monitor_thread: Mutex::new(None),
            lifecycle: Mutex::new(false),
            block_on_turn: Mutex::new(()),
        })
    }

    /// Whether something other than a runnable goroutine may still wake a
    /// goroutine: an armed timer, a goroutine waiting for IO, or a queued or
    /// running `spawn_blocking` job. The deadlock detector must not fire
    /// while this is true.
    pub(crate) fn has_pending_activity(&self) -> bool {
        self.driver.has_pending() || self.blocking.busy() > 0
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
        self.monitor.reset();
        handoff::register_process();
        // Release pairs with the Acquire loads in `is_stopping`.
        self.stopping.store(false, Ordering::Release);
        let started = (0..self.num_workers())
            .try_for_each(|i| self.spawn_worker(i))
            .and_then(|()| {
                let shared = self.clone();
                let m = std_thread::Builder::new()
                    .name("goro-monitor".into())
                    .spawn(move || monitor::run(shared))?;
                *lock(&self.monitor_thread) = Some(m);
                Ok(())
            });
        *running = true;
        if let Err(e) = started {
            drop(running);
            self.stop();
            return Err(e);
        }
        let gen = self.start_gen.fetch_add(1, Ordering::AcqRel) + 1;
        if let Some(every) = self.watchdog {
            watchdog::start(StdArc::downgrade(self), gen, every);
        }
        Ok(())
    }

    /// Starts a worker thread serving core `i`'s slot.
    fn spawn_worker(self: &StdArc<Self>, i: usize) -> io::Result<()> {
        let shared = self.clone();
        let handle = std_thread::Builder::new()
            .name(format!("goro-worker-{i}"))
            .spawn(move || worker_thread(shared, i))?;
        let mut threads = lock(&self.threads);
        // Forget threads that exited (surplus spares).
        threads.retain(|t| !t.handle.is_finished());
        threads.push(WorkerThread {
            handle,
            lost: false,
        });
        Ok(())
    }

    /// Takes core `i` from its thread, stuck in the poll `seen`, and puts
    /// it into its slot. Returns `None` if that failed (the poll ended),
    /// else whether a spare thread waits for the core.
    fn take_from_runner(&self, i: usize, seen: &Observed) -> Option<bool> {
        let ptr = self.remotes[i].lease.try_retake(seen)?;
        // SAFETY: the lease gave us the core: its thread only `lose`s its
        // handle from now on (see `handoff`).
        let core = unsafe { CoreBox::from_raw(ptr) };
        let slot = &self.slots[i];
        let mut st = lock(&slot.state);
        let lost = match st.runner.take() {
            Some(Runner { for_main: true, .. }) => {
                // `block_on`'s thread takes the core back (counting itself
                // in `wanted` again) when its poll returns.
                slot.wanted.fetch_sub(1, Ordering::AcqRel);
                None
            }
            Some(Runner { thread, .. }) => Some(thread),
            None => None,
        };
        debug_assert!(st.core.is_none(), "a running core is in its slot");
        st.core = Some(core);
        let spare = st.waiting > 0;
        drop(st);
        slot.cvar.notify_all();
        if let Some(id) = lost {
            if let Some(t) = lock(&self.threads)
                .iter_mut()
                .find(|t| t.handle.thread().id() == id)
            {
                t.lost = true;
            }
        }
        Some(spare)
    }

    /// Retakes core `i` from its thread, stuck in the poll `seen`, and
    /// hands it to a spare thread (started if none waits). Go: `retake` ->
    /// `handoffp` -> `startm`. The monitor's.
    pub(crate) fn retake(self: &StdArc<Self>, i: usize, seen: &Observed) -> bool {
        let Some(spare) = self.take_from_runner(i, seen) else {
            return false;
        };
        if !spare && !self.is_stopping() && self.spawn_worker(i).is_err() {
            // No thread for it: the core waits in its slot until its old
            // thread comes back as a spare.
        }
        true
    }

    /// Called by a worker thread whose core was retaken, once its poll
    /// returned: whether it should wait as a spare for the core (else it
    /// exits: the runtime stops, or another spare waits already). Go: an M
    /// back from a system call without a P parks (`stopm`).
    fn rejoin_as_spare(&self, i: usize) -> bool {
        let me = std_thread::current().id();
        let mut threads = lock(&self.threads);
        let Some(t) = threads.iter_mut().find(|t| t.handle.thread().id() == me) else {
            // `stop` gave up on this thread.
            return false;
        };
        t.lost = false;
        drop(threads);
        !self.is_stopping() && lock(&self.slots[i].state).waiting == 0
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
        let me = std_thread::current().id();
        self.monitor.shut_down();
        if let Some(m) = lock(&self.monitor_thread).take() {
            if m.thread().id() != me {
                let _ = m.join();
            }
        }
        for r in self.remotes.iter() {
            r.parker.unpark();
        }
        for s in self.slots.iter() {
            drop(lock(&s.state));
            s.cvar.notify_all();
        }
        self.blocking.shutdown();
        self.wait_for_workers(me);
        let threads = std::mem::take(&mut *lock(&self.threads));
        for t in threads {
            // A thread stuck in a poll without its core is left to finish
            // on its own (detached); it exits when its poll returns.
            if !t.lost && t.handle.thread().id() != me {
                // A worker that panicked outside a goroutine poll has already
                // unwound; nothing more to do for it here.
                let _ = t.handle.join();
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
            dropped.extend(r.yielded.take());
            if let Some(core) = lock(&s.state).core.as_mut() {
                core.drain_into(&mut dropped);
            }
        }
        self.drain_injector(&mut dropped);
        drop(dropped);
        self.cancel_registered();
        // The finished goroutines' records wait for a sweep, and their
        // registry wakers keep their tasks (and through them this runtime)
        // alive until then.
        self.registry.sweep_all();
        *running = false;
    }

    /// Cancels the parked goroutines of a stopping runtime: waking one
    /// schedules it, and `schedule` drops it because the runtime is
    /// stopping.
    ///
    /// `stop` does it, and again a thread `stop` left behind in a poll,
    /// once its poll is over (see `worker_thread`): a goroutine that thread
    /// had taken to run (scheduled, not yet running) was passed over by
    /// `stop`'s wake, and nothing else would ever wake it. If the runtime
    /// was started again meanwhile, the wakes are spurious ones, which
    /// every future tolerates.
    fn cancel_registered(&self) {
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
            // The task's future may hold the last reference to this runtime
            // (`task::Host::schedule`): once pushed, the task may be run to
            // completion by a worker or dropped by `stop`, and the runtime
            // with it, while this thread still uses it below.
            let _keep = self.keep_alive();
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

    /// A new reference to this runtime.
    fn keep_alive(&self) -> StdArc<Shared> {
        // SAFETY: a `Shared` only ever lives in the `StdArc` that
        // `Shared::new` returns, and `self` borrows it, so it is alive.
        unsafe {
            StdArc::increment_strong_count(std::ptr::from_ref(self));
            StdArc::from_raw(std::ptr::from_ref(self))
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
        if yielded && w.yielding.replace(false) {
            // `yield_now`. Go: `Gosched` -> `globrunqput` + `wakep`: the
            // goroutine goes behind every runnable goroutine, where an idle
            // worker can take it, and this core runs its own queue (and the
            // global queue every 61st tick) first. Pushing it to the back
            // of the local queue instead made a core whose goroutines yield
            // in a loop never empty its queue, so it never stole, while
            // goroutines waited on another core's queue.
            return Some(task);
        }
        let Ok(mut guard) = w.core.try_borrow_mut() else {
            return Some(task);
        };
        if guard.is_none() {
            return Some(task);
        }
        // Inside a goroutine poll the monitor may retake the core at any
        // time: touch it only inside a lease section (`handoff`).
        let in_poll = w.in_poll.get();
        if in_poll && !w.lease.leave_poll(&self.remotes[w.index].lease) {
            if let Some(core) = guard.take() {
                core.lose();
            }
            return Some(task);
        }
        let core = guard.as_mut().expect("checked above");
        if yielded {
            // A spent poll budget (Go: a preempted goroutine, whose time
            // slice here is `task::BUDGET` operations) or a wake by another
            // thread during the poll: behind this core's queue. The current
            // worker runs it again soon; no need to wake anybody, and a
            // producer that keeps its consumer in `runnext` stays with it
            // (the `yielded` slot when the queue is empty, see `Remote`).
            if core.local_is_empty() {
                if let Some(older) = self.remotes[w.index].yielded.push(task) {
                    core.push_local(older);
                }
            } else {
                core.push_local(task);
            }
            if in_poll {
                w.lease.resume_poll();
            }
            return None;
        }
        let displaced = self.remotes[w.index].runnext.push(task);
        let only_runnext = displaced.is_none();
        if let Some(displaced) = displaced {
            core.push_local(displaced);
        }
        let short_queue = core.local_len() < worker::STEAL_MIN_LEN;
        if in_poll {
            w.lease.resume_poll();
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
        // loop, a blocking call), so an idle worker must look at the slot:
        // one that watches already (parked with a timeout, see
        // `worker::park`) will, without a wakeup. Go wakes a spinning P
        // here; in a message ping-pong between two goroutines of this core
        // that was a futex wake per few messages, and an idle worker that
        // woke only to find the slot taken by its owner (CPU 1.2x that of
        // one worker). Otherwise wake an idle worker unless one is already
        // searching. Cheap when nobody is idle or somebody searches (a
        // fence and two loads). A task displaced into a local queue shorter
        // than `STEAL_MIN_LEN` is treated like one in `runnext`: a woken
        // worker would not steal it (see `worker::may_steal`) while this
        // worker drains its queue, so waking one only cost a futex wake
        // and a search per displaced task; the watcher steals it if this
        // worker does not drain the queue.
        if !((only_runnext || short_queue) && self.idle.watched()) {
            self.notify_parked();
        }
        None
    }

    /// Wakes a parked worker if nobody is searching. Go: `wakep()`.
    pub(crate) fn notify_parked(&self) {
        if let Some(w) = self.idle.worker_to_notify() {
            self.remotes[w].parker.unpark();
        }
    }

    /// Whether any queue holds a task another worker should take (the last
    /// searcher's re-check). Tasks in another worker's `runnext` or
    /// `yielded` slot or in a local queue shorter than
    /// [`worker::STEAL_MIN_LEN`] do not count: that worker is awake and
    /// runs them, and a parking worker watches them while it is (see
    /// `worker::park`; pushes there skip the wakeup while watched).
    pub(crate) fn has_visible_work(&self) -> bool {
        !self.injector.is_empty()
            || self
                .remotes
                .iter()
                .any(|r| r.stealer.len() >= worker::STEAL_MIN_LEN)
    }

    /// Takes core `i` for `block_on` (`for_main`) or for its dedicated thread
    /// (`None` when the runtime is stopping).
    pub(crate) fn acquire_core(&self, i: usize, for_main: bool) -> Option<CoreBox> {
        let slot = &self.slots[i];
        let mut st = lock(&slot.state);
        if for_main {
            slot.wanted.fetch_add(1, Ordering::AcqRel);
            // The thread running the core sees `wanted` after this unpark
            // (it re-checks after every park).
            self.remotes[i].parker.unpark();
        }
        loop {
            if !for_main && self.is_stopping() {
                return None;
            }
            // Acquire pairs with the AcqRel increments/decrements.
            if st.core.is_some() && (for_main || slot.wanted.load(Ordering::Acquire) == 0) {
                st.runner = Some(Runner {
                    thread: std_thread::current().id(),
                    for_main,
                });
                return st.core.take();
            }
            if !for_main {
                st.waiting += 1;
            }
            st = slot.cvar.wait(st).unwrap_or_else(|e| e.into_inner());
            if !for_main {
                st.waiting -= 1;
            }
        }
    }

    /// Gives core `i` back to its slot.
    pub(crate) fn release_core(&self, i: usize, c: CoreBox, for_main: bool) {
        let slot = &self.slots[i];
        let mut st = lock(&slot.state);
        st.core = Some(c);
        st.runner = None;
        if for_main {
            slot.wanted.fetch_sub(1, Ordering::AcqRel);
        }
        drop(st);
        slot.cvar.notify_all();
    }

    /// `stop`: waits until every worker thread has exited, except one stuck
    /// in a goroutine poll (a blocking call): its core is retaken (so the
    /// queues can be drained) and the thread left to finish on its own.
    fn wait_for_workers(&self, me: std_thread::ThreadId) {
        let n = self.num_workers();
        let mut seen: Vec<Option<(Observed, std::time::Instant)>> = (0..n).map(|_| None).collect();
        loop {
            let now = std::time::Instant::now();
            for (i, s) in seen.iter_mut().enumerate() {
                let obs = self.remotes[i].lease.observe();
                *s = match (s.take(), obs) {
                    (Some((old, since)), Some(obs)) if old.same_poll(&obs) => {
                        // In the same poll for a while: a blocking call.
                        if now.duration_since(since) >= STOP_RETAKE_AFTER
                            && self.take_from_runner(i, &obs).is_some()
                        {
                            None
                        } else {
                            Some((old, since))
                        }
                    }
                    (_, Some(obs)) => Some((obs, now)),
                    (_, None) => None,
                };
            }
            let threads = lock(&self.threads);
            let busy = threads
                .iter()
                .any(|t| !t.lost && t.handle.thread().id() != me && !t.handle.is_finished());
            if !busy {
                return;
            }
            let _ = self
                .thread_exit
                .wait_timeout(threads, STOP_RETAKE_AFTER)
                .unwrap_or_else(|e| e.into_inner());
        }
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
    /// `io::driver::action_panicked`): like a goroutine panic, it stops the
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

/// How long `stop` lets a worker thread stay in one goroutine poll before
/// it retakes the core and leaves the thread behind.
const STOP_RETAKE_AFTER: std::time::Duration = std::time::Duration::from_millis(1);

/// Body of a worker thread serving core `i` (its dedicated thread, or a
/// spare started by the monitor).
fn worker_thread(shared: StdArc<Shared>, i: usize) {
    let _tokio = shared.tokio.enter();
    while let Some(core) = shared.acquire_core(i, false) {
        let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            worker::run(&shared, i, core, None)
        }));
        match run {
            Ok(Some(core)) => shared.release_core(i, core, false),
            // The monitor (or `stop`) took the core while this thread was
            // stuck in a poll; the poll has returned.
            Ok(None) => {
                if shared.is_stopping() {
                    shared.cancel_registered();
                }
                if !shared.rejoin_as_spare(i) {
                    break;
                }
            }
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
    drop(lock(&shared.threads));
    shared.thread_exit.notify_all();
}
