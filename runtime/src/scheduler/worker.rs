//! A worker core and its run loop.
//!
//! Go: `p` (a processor) and `schedule()` / `findRunnable()` in
//! `runtime/proc.go`.
//!
//! # Design
//!
//! The loop picks one task at a time (see the parent module for the order),
//! runs it, and repeats; with nothing to do it searches, then parks. The
//! thread inside `block_on` runs core 0 with the main goroutine attached and
//! polls it whenever its waker fired.
//!
//! # Invariants
//!
//! - The `Core` is reachable only through the running thread's `WorkerCtx`
//!   and is never borrowed while a task runs (a waker on this thread borrows
//!   it to push).
//! - `core.searching` mirrors this worker's contribution to
//!   `Idle::num_searching`.

use std::cell::{Cell, RefCell};
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;
use std::time::Instant;

use crossbeam_deque::{Steal, Worker};

use super::handoff::Lease;
use super::Shared;
use crate::context::{self, WorkerCtx};
use crate::loom::{Ordering, StdArc};
use crate::task::Task;

/// Consecutive `runnext` polls before the local queue gets a turn (Go lets a
/// runnext goroutine inherit the time slice; tokio caps LIFO polls at 3).
pub(crate) const RUNNEXT_CAP: u32 = 16;

/// How long a parked worker sleeps between two looks at the other workers'
/// `runnext` and `yielded` slots while another worker is awake (see
/// [`park`]): a task there whose owner picked no task in between waits
/// behind one long poll and is stolen. Go steals `runnext` after
/// `runqgrab`'s `usleep(3)` (tens of µs with the OS's timer slack) from a
/// spinning P that `ready()` woke for it; goro does not wake anybody for a
/// task that only went into `runnext` while a worker watches, so a message
/// ping-pong on one core costs no wakeups, at the price of a longer delay
/// for a task stuck behind a long poll (Go preempts such a poll after
/// 10 ms). In the driver (epoll) the timeout is rounded up to 1 ms.
pub(crate) const RUNNEXT_WATCH: std::time::Duration = std::time::Duration::from_micros(200);

/// Every this many ticks the injector is looked at first (Go: 61).
pub(crate) const GLOBAL_QUEUE_INTERVAL: u32 = 61;

/// Steal rounds a searching worker makes at least before parking (Go:
/// `stealTries`).
const MIN_STEAL_ROUNDS: usize = 4;

/// How long a searcher whose previous search stole work keeps making steal
/// rounds before it parks (after at least [`MIN_STEAL_ROUNDS`]): long enough
/// that a producer spawning a task every few hundred ns finds it still
/// searching (no eventfd/futex wakeup per stolen batch, Go's spinning Ms).
/// A search that follows a fruitless one makes only the minimum rounds: a
/// worker that goes idle after every IO wake (its work comes from the
/// driver, not from other queues) must not burn the round trip spinning.
/// Bounded by the clock rather than by a count of `pause` instructions,
/// whose latency varies by an order of magnitude between CPUs (tens of ns
/// each on recent AMD parts). Measured (2 workers, CPU per op): 2 µs vs
/// 10 µs vs 30 µs: spawn_join 397 / 374 / 362 ns, select4_ready
/// 309 / 279 / 300 ns.
const SEARCH_BUDGET: std::time::Duration = std::time::Duration::from_micros(10);

/// How long a searcher that found nothing sleeps, still searching, before
/// its last round while another worker runs (see `search`). The OS's timer
/// slack makes it tens of µs (Go: `runqgrab`'s `usleep(3)`). Measured on 2
/// workers (CPU per op, loaded machine): without it, spawn_join +23 %,
/// select4_go +56 % (a searcher parked sooner, so more pushes woke it).
const SEARCH_LINGER: std::time::Duration = std::time::Duration::from_micros(3);

/// A local queue at least this long is stolen from at once; a shorter one
/// only if its owner does not drain it (see [`may_steal`]). Go steals from
/// any non-empty queue; goro's polls are short (a budget of 128
/// operations), so a short queue is usually run by its owner within
/// microseconds, and stealing it moved goroutines that talk to the owner's
/// running goroutine to the other core: every message then crossed cores
/// (select4_go on 2 workers ran 3x slower than on 1).
pub(crate) const STEAL_MIN_LEN: usize = 16;

/// Spin-loop hints between two steal rounds (a few, not a storm: see
/// [`SEARCH_BUDGET`]).
const SPINS_BETWEEN_ROUNDS: usize = 4;

/// A worker core. Go: `p`.
pub(crate) struct Core {
    /// Local run queue. Go: `p.runq`.
    local: Worker<Task>,
    /// Scheduler ticks. Go: `p.schedtick`.
    tick: u32,
    /// Consecutive polls taken from `runnext`.
    runnext_streak: u32,
    /// Whether this core counts in `Idle::num_searching`. Go: `m.spinning`.
    searching: bool,
    /// Whether this core's last search found work to steal: only then
    /// does the next search spin for [`SEARCH_BUDGET`] (see there).
    search_hit: bool,
    /// The other cores' ticks when this core last parked to watch their
    /// slots (see `park`); kept to reuse the allocation.
    watch_ticks: Vec<u32>,
    /// Victim selection.
    rng: fastrand::Rng,
}

impl Core {
    pub(crate) fn new(local: Worker<Task>, seed: u64, index: usize) -> Self {
        Core {
            local,
            tick: 0,
            runnext_streak: 0,
            searching: false,
            search_hit: false,
            watch_ticks: Vec::new(),
            rng: fastrand::Rng::with_seed(seed.wrapping_add(index as u64)),
        }
    }

    pub(crate) fn push_local(&mut self, task: Task) {
        self.local.push(task);
    }

    pub(crate) fn local_len(&self) -> usize {
        self.local.len()
    }

    pub(crate) fn local_is_empty(&self) -> bool {
        self.local.is_empty()
    }

    pub(crate) fn drain_into(&mut self, out: &mut Vec<Task>) {
        while let Some(t) = self.local.pop() {
            out.push(t);
        }
    }
}

/// A core, owned through a raw pointer rather than a `Box`: while its
/// thread is inside a goroutine poll the monitor may take it over (see
/// [`handoff`](super::handoff)), and the thread then gives up its pointer
/// without freeing the core ([`CoreBox::lose`]). A `Box` would claim unique
/// access for as long as it lives.
pub(crate) struct CoreBox(NonNull<Core>);

// SAFETY: a `CoreBox` owns its `Core` (which is `Send`) like a `Box` does.
unsafe impl Send for CoreBox {}

impl CoreBox {
    pub(crate) fn new(core: Core) -> Self {
        CoreBox(NonNull::from(Box::leak(Box::new(core))))
    }

    /// The pointer a retaker takes the core back from (see
    /// `handoff::Lease::begin`).
    pub(crate) fn as_ptr(&self) -> NonNull<Core> {
        self.0
    }

    /// Takes ownership of a core that was lent through [`CoreBox::as_ptr`]
    /// and retaken.
    ///
    /// # Safety
    ///
    /// `ptr` comes from `as_ptr` of a `CoreBox` whose holder has given it
    /// up or will only [`lose`](CoreBox::lose) it, and nobody else owns it.
    pub(crate) unsafe fn from_raw(ptr: NonNull<Core>) -> Self {
        CoreBox(ptr)
    }

    /// Gives up this handle without dropping the core: it was retaken and
    /// belongs to another thread now.
    pub(crate) fn lose(self) {
        std::mem::forget(self);
    }
}

impl Deref for CoreBox {
    type Target = Core;
    fn deref(&self) -> &Core {
        // SAFETY: a `CoreBox` owns its core (type invariant) until `lose`.
        unsafe { self.0.as_ref() }
    }
}

impl DerefMut for CoreBox {
    fn deref_mut(&mut self) -> &mut Core {
        // SAFETY: as in `deref`; `&mut self` is the only access.
        unsafe { self.0.as_mut() }
    }
}

impl Drop for CoreBox {
    fn drop(&mut self) {
        // SAFETY: the pointer came from `Box::leak` in `new` and is owned
        // by this handle (type invariant).
        drop(unsafe { Box::from_raw(self.0.as_ptr()) });
    }
}

/// The main goroutine, polled by core 0 inside `block_on`: returns `true`
/// when the main goroutine finished (returned or panicked).
pub(crate) type MainPoll<'a> = &'a mut dyn FnMut() -> bool;

/// Runs core `index` on this thread until the runtime stops, the main
/// goroutine (if given) finishes or a panic aborts it, (core 0's
/// dedicated thread) `block_on` wants the core, or the monitor retakes the
/// core while this thread is stuck in a poll. Returns the core, or `None`
/// if it was retaken.
pub(crate) fn run(
    shared: &StdArc<Shared>,
    index: usize,
    core: CoreBox,
    mut main: Option<MainPoll<'_>>,
) -> Option<CoreBox> {
    let lease = &shared.remotes[index].lease;
    let ctx = WorkerCtx {
        lease: lease.begin(core.as_ptr()),
        in_poll: Cell::new(false),
        shared: shared.clone(),
        index,
        core: RefCell::new(Some(core)),
        now: Cell::new(Instant::now()),
        in_park: Cell::new(false),
        yielding: Cell::new(false),
    };
    let guard = context::enter_worker(&ctx);
    // If anything below unwinds (it should not: goroutine polls, their
    // destructors and timer actions catch their panics), give the core back
    // to its slot so the runtime stays usable: a later `block_on`, or the
    // core's dedicated thread, takes it again.
    let mut unwind = ReleaseOnUnwind {
        ctx: &ctx,
        for_main: main.is_some(),
        armed: true,
    };
    // Tasks to run before polling a main goroutine that yielded
    // (`yield_now`): Go puts it on the global queue, which a busy core
    // looks at every 61st tick; polling it as soon as it is woken would
    // run it between every two tasks and starve this core's queue.
    let mut main_wait = 0u32;
    loop {
        if shared.is_stopping() {
            break;
        }
        match main.as_mut() {
            Some(poll_main) => {
                if shared.aborted() {
                    break;
                }
                // Load first: the swap is an RMW on a line other threads
                // write. Acquire pairs with the Release store in `wake_main`.
                if main_wait == 0
                    && shared.main_woken.load(Ordering::Relaxed)
                    && shared.main_woken.swap(false, Ordering::Acquire)
                {
                    reset_searching(&ctx);
                    let ((done, yielded), kept) = poll(&ctx, lease, || {
                        let done = poll_main();
                        (done, ctx.yielding.get())
                    });
                    if done || !kept {
                        break;
                    }
                    if yielded {
                        main_wait = GLOBAL_QUEUE_INTERVAL;
                    }
                }
            }
            None => {
                if shared.core_wanted(index) {
                    break;
                }
            }
        }
        if let Some(task) = next_task(&ctx) {
            main_wait = main_wait.saturating_sub(1);
            if !poll(&ctx, lease, || run_task(shared, task)).1 {
                break;
            }
            continue;
        }
        if main.is_some() && shared.main_woken.load(Ordering::Relaxed) {
            // The main goroutine is ready: poll it before searching (this
            // core has nothing else to run, even if main yielded).
            main_wait = 0;
            continue;
        }
        if let Some(task) = search(&ctx, main.is_some()) {
            if !poll(&ctx, lease, || run_task(shared, task)).1 {
                break;
            }
            continue;
        }
        park(&ctx, main.is_some());
    }
    unwind.armed = false;
    drop(unwind);
    drop(guard);
    let mut core = ctx.core.take()?;
    stop_searching(shared, &mut core);
    Some(core)
}

/// Runs `task` (a goroutine poll, or a job's run).
#[inline(always)]
fn run_task(shared: &Shared, task: Task) {
    #[cfg(all(test, not(goro_loom)))]
    seam::before_run(shared);
    #[cfg(not(all(test, not(goro_loom))))]
    let _ = shared;
    task.run();
}

/// A seam for the scheduler's unit tests: a hook that runs on a worker
/// thread after it took a task from a queue and entered its poll, before
/// the task is marked running.
#[cfg(all(test, not(goro_loom)))]
pub(super) mod seam {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Mutex;

    use super::Shared;

    /// The runtime (its address) whose next task run calls the hook.
    #[allow(clippy::type_complexity)]
    static BEFORE_RUN: Mutex<Option<(usize, Box<dyn FnOnce() + Send>)>> = Mutex::new(None);
    /// A hook is armed (spares the other tests' task runs the lock).
    static ARMED: AtomicBool = AtomicBool::new(false);

    /// Makes the next task run on `shared`'s workers call `hook` first.
    pub(crate) fn arm(shared: &Shared, hook: impl FnOnce() + Send + 'static) {
        *BEFORE_RUN.lock().unwrap() = Some((std::ptr::from_ref(shared) as usize, Box::new(hook)));
        ARMED.store(true, Ordering::SeqCst);
    }

    pub(super) fn before_run(shared: &Shared) {
        if !ARMED.load(Ordering::SeqCst) {
            return;
        }
        let mut armed = BEFORE_RUN.lock().unwrap_or_else(|e| e.into_inner());
        let hook = match armed.take() {
            Some((at, hook)) if at == std::ptr::from_ref(shared) as usize => hook,
            other => {
                *armed = other;
                return;
            }
        };
        ARMED.store(false, Ordering::SeqCst);
        drop(armed);
        hook();
    }
}

/// Runs one goroutine poll (`f`) with the core open to retaking (see
/// [`handoff`](super::handoff)). Returns `f`'s result and whether this
/// thread still holds the core (else it has given it up).
#[inline]
fn poll<R>(ctx: &WorkerCtx, lease: &Lease<Core>, f: impl FnOnce() -> R) -> (R, bool) {
    ctx.lease.enter_poll();
    ctx.in_poll.set(true);
    let r = f();
    ctx.in_poll.set(false);
    // A `yield_now` whose wake did not reach this core's scheduler (a
    // nested executor's waker) must not mark the next poll's self-wake.
    ctx.yielding.set(false);
    (r, leave_poll(ctx, lease))
}

/// This thread leaves its poll: keeps the core, or gives it up if it was
/// retaken meanwhile (a section inside the poll may have found that out
/// and given it up already; asking the lease again gives the same answer).
#[inline]
fn leave_poll(ctx: &WorkerCtx, lease: &Lease<Core>) -> bool {
    if ctx.lease.leave_poll(lease) {
        return true;
    }
    lose_core(ctx);
    false
}

#[cold]
fn lose_core(ctx: &WorkerCtx) {
    if let Some(c) = ctx.core.borrow_mut().take() {
        c.lose();
    }
}

/// About to run a task (or main): a worker that was woken as a searcher
/// and found work in its own queues stops counting as searching, else it
/// would suppress the wakeups (`notify_parked`) made while it runs, for
/// example for a goroutine it wakes into its `runnext` before a long poll.
/// Go: `resetspinning` in `schedule`.
#[inline]
fn reset_searching(ctx: &WorkerCtx) {
    let was = with_core(ctx, |c| std::mem::replace(&mut c.searching, false));
    stopped_searching(ctx, was);
}

/// `reset_searching`'s second half, after this core's `searching` was
/// cleared (`was`: it was set).
#[inline]
fn stopped_searching(ctx: &WorkerCtx, was: bool) {
    if was && ctx.shared.idle.transition_from_searching() {
        // We may have been the searcher producers relied on.
        ctx.shared.notify_parked();
    }
}

/// A core that leaves the run loop no longer searches.
fn stop_searching(shared: &Shared, core: &mut Core) {
    if core.searching {
        core.searching = false;
        if shared.idle.transition_from_searching() {
            shared.notify_parked();
        }
    }
}

/// Releases the core of an unwinding run loop (see `run`).
struct ReleaseOnUnwind<'a> {
    ctx: &'a WorkerCtx,
    for_main: bool,
    armed: bool,
}

impl Drop for ReleaseOnUnwind<'_> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        if self.ctx.in_poll.get() {
            // Unwound out of a poll: the core may have been retaken.
            self.ctx.in_poll.set(false);
            if self.ctx.core.try_borrow_mut().is_ok() {
                leave_poll(self.ctx, &self.ctx.shared.remotes[self.ctx.index].lease);
            }
        }
        // The unwind dropped any borrow of the core on its way here.
        let core = self
            .ctx
            .core
            .try_borrow_mut()
            .ok()
            .and_then(|mut c| c.take());
        if let Some(mut core) = core {
            stop_searching(&self.ctx.shared, &mut core);
            self.ctx
                .shared
                .release_core(self.ctx.index, core, self.for_main);
        }
    }
}

fn with_core<R>(ctx: &WorkerCtx, f: impl FnOnce(&mut Core) -> R) -> R {
    let mut core = ctx.core.borrow_mut();
    f(core.as_mut().expect("core taken while running"))
}

/// Takes a batch from the injector into the local queue and returns one.
fn steal_injector(shared: &Shared, local: &Worker<Task>) -> Option<Task> {
    loop {
        match shared.injector.steal_batch_and_pop(local) {
            Steal::Success(t) => return Some(t),
            Steal::Empty => return None,
            Steal::Retry => std::hint::spin_loop(),
        }
    }
}

/// The next task from this core's own queues (and, now and then, the
/// injector), with `reset_searching` done if there is one. Go: the first
/// half of `findRunnable`.
fn next_task(ctx: &WorkerCtx) -> Option<Task> {
    let shared = &*ctx.shared;
    let remote = &shared.remotes[ctx.index];
    // One borrow of the core for the common case: count the tick and, unless
    // it is a maintenance tick, pick the task (and stop searching if found).
    let picked = with_core(ctx, |c| {
        c.tick = c.tick.wrapping_add(1);
        // Relaxed: a progress hint for searchers (`steal_runnext`); only
        // this thread writes it.
        remote
            .ticks
            .store(c.tick, std::sync::atomic::Ordering::Relaxed);
        if c.tick % GLOBAL_QUEUE_INTERVAL == 0 {
            return None;
        }
        let t = pick_local(shared, remote, c);
        let was = t.is_some() && std::mem::replace(&mut c.searching, false);
        Some((t, was))
    });
    if let Some((t, was)) = picked {
        stopped_searching(ctx, was);
        return t;
    }
    // Maintenance, with the core not borrowed: timers fired by the driver
    // wake tasks onto this core.
    ctx.now.set(Instant::now());
    shared.driver.poll_now();
    let t = with_core(ctx, |c| {
        steal_injector(shared, &c.local).or_else(|| pick_local(shared, remote, c))
    });
    if t.is_some() {
        reset_searching(ctx);
    }
    t
}

/// `next_task`'s pick from this core's `runnext` and `yielded` slots, its
/// local queue, then the injector.
#[inline(always)]
fn pick_local(shared: &Shared, remote: &super::Remote, c: &mut Core) -> Option<Task> {
    let runnext = &remote.runnext;
    if c.runnext_streak < RUNNEXT_CAP {
        if let Some(t) = runnext.take() {
            c.runnext_streak += 1;
            return Some(t);
        }
    } else if let Some(t) = runnext.take() {
        // Fairness: the ping-pong pair goes behind the local queue.
        c.local.push(t);
    }
    c.runnext_streak = 0;
    if let Some(t) = remote.yielded.take() {
        // It spent its budget while the local queue was empty: its
        // turn is now, before anything queued since.
        return Some(t);
    }
    c.local.pop().or_else(|| steal_injector(shared, &c.local))
}

/// Steals work from the injector and other cores. Go: the stealing half of
/// `findRunnable` (`stealWork`), with at most half the workers spinning.
fn search(ctx: &WorkerCtx, has_main: bool) -> Option<Task> {
    let shared = &*ctx.shared;
    let (searching, hit) = with_core(ctx, |c| {
        if !c.searching {
            c.searching = shared.idle.transition_to_searching();
        }
        (c.searching, c.search_hit)
    });
    if !searching {
        return None;
    }
    let budget = if hit {
        SEARCH_BUDGET
    } else {
        std::time::Duration::ZERO
    };
    // No clock read at all for a short search.
    let started = hit.then(Instant::now);
    let mut round = 0;
    let mut lingered = false;
    loop {
        round += 1;
        let found = steal_round(ctx, None);
        let last = round >= MIN_STEAL_ROUNDS && started.is_none_or(|s| s.elapsed() >= budget);
        let mut found = found;
        if found.is_none()
            && last
            && !lingered
            && shared.idle.awake() > 1
            && !(has_main && shared.main_woken.load(Ordering::Relaxed))
        {
            // Another worker is running and may make work soon: stay a
            // searcher a little longer without burning CPU (a sleep, as
            // Go's `runqgrab` does before it steals `runnext`), so that its
            // pushes wake nobody; then steal a slot task its owner did not
            // pick meanwhile, or make one more round.
            lingered = true;
            let ticks = snapshot_ticks(ctx);
            std::thread::sleep(SEARCH_LINGER);
            found = steal_stuck_slot(ctx, &ticks).or_else(|| steal_round(ctx, Some(&ticks)));
            with_core(ctx, |c| c.watch_ticks = ticks);
        }
        if let Some(t) = found {
            let was_last = with_core(ctx, |c| {
                c.search_hit = true;
                c.searching = false;
                shared.idle.transition_from_searching()
            });
            if was_last {
                // We may have been the one producers relied on: let another
                // worker look for the rest. Go: `resetspinning` -> `wakep`.
                shared.notify_parked();
            }
            return Some(t);
        }
        if last || (has_main && shared.main_woken.load(Ordering::Relaxed)) {
            break;
        }
        for _ in 0..SPINS_BETWEEN_ROUNDS {
            std::hint::spin_loop();
        }
    }
    with_core(ctx, |c| c.search_hit = false);
    None
}

/// One steal round: the injector, then the other cores' local queues from
/// a random start (half a queue, up to crossbeam's batch limit, from the
/// first victim [`may_steal`] allows). `watched`: the other cores' ticks
/// some time ago (see `may_steal`).
fn steal_round(ctx: &WorkerCtx, watched: Option<&[u32]>) -> Option<Task> {
    let shared = &*ctx.shared;
    let n = shared.num_workers();
    with_core(ctx, |c| {
        if let Some(t) = steal_injector(shared, &c.local) {
            return Some(t);
        }
        let start = c.rng.usize(0..n);
        for i in 0..n {
            let v = (start + i) % n;
            if v == ctx.index || !may_steal(shared, v, watched) {
                continue;
            }
            loop {
                match shared.remotes[v].stealer.steal_batch_and_pop(&c.local) {
                    Steal::Success(t) => {
                        shared.remotes[v].note_stolen();
                        return Some(t);
                    }
                    Steal::Empty => break,
                    Steal::Retry => std::hint::spin_loop(),
                }
            }
        }
        None
    })
}

/// Whether core `v`'s local queue may be stolen from: it holds at least
/// [`STEAL_MIN_LEN`] tasks, or (given the ticks of a while ago) more tasks
/// than its owner picked since: at that pace it does not drain the queue
/// within another such while (a core stuck in one long poll picked none).
fn may_steal(shared: &Shared, v: usize, watched: Option<&[u32]>) -> bool {
    let remote = &shared.remotes[v];
    let len = remote.stealer.len();
    if len >= STEAL_MIN_LEN {
        return true;
    }
    if len == 0 {
        return false;
    }
    watched.is_some_and(|ticks| {
        // Relaxed: a progress hint (see `Remote::ticks`).
        let picked = remote
            .ticks
            .load(std::sync::atomic::Ordering::Relaxed)
            .wrapping_sub(ticks[v]);
        (picked as usize) < len
    })
}

/// The other cores' published ticks, in the core's reused buffer (give it
/// back with `c.watch_ticks = ticks`).
fn snapshot_ticks(ctx: &WorkerCtx) -> Vec<u32> {
    let mut ticks = with_core(ctx, |c| std::mem::take(&mut c.watch_ticks));
    ticks.clear();
    // Relaxed: progress hints (see `Remote::ticks`).
    ticks.extend(
        ctx.shared
            .remotes
            .iter()
            .map(|r| r.ticks.load(std::sync::atomic::Ordering::Relaxed)),
    );
    ticks
}

/// Steals the task in the `runnext` or `yielded` slot of a worker whose
/// published tick still reads as in `ticks` (taken before this worker
/// parked or lingered): that worker has been in one poll since (Go:
/// `runqsteal(.., stealRunNextG)`). The core is not borrowed.
fn steal_stuck_slot(ctx: &WorkerCtx, ticks: &[u32]) -> Option<Task> {
    let shared = &*ctx.shared;
    for (v, (remote, &t0)) in shared.remotes.iter().zip(ticks).enumerate() {
        if v == ctx.index || !remote.slots_occupied() {
            continue;
        }
        // Relaxed: a progress hint (see `Remote::ticks`).
        if remote.ticks.load(std::sync::atomic::Ordering::Relaxed) == t0 {
            if let Some(t) = remote.runnext.take().or_else(|| remote.yielded.take()) {
                remote.note_stolen();
                return Some(t);
            }
        }
    }
    None
}

/// Parks this worker until there may be work. Go: `stopm`.
fn park(ctx: &WorkerCtx, has_main: bool) {
    let shared = &*ctx.shared;
    let searching = with_core(ctx, |c| std::mem::replace(&mut c.searching, false));
    let last = shared.idle.transition_to_parked(ctx.index, searching);
    if last && shared.has_visible_work() {
        shared.notify_parked();
    }
    let remote = &shared.remotes[ctx.index];
    let must_run = shared.is_stopping()
        || remote.slots_occupied()
        || with_core(ctx, |c| !c.local.is_empty())
        || if has_main {
            shared.aborted() || shared.main_woken.load(Ordering::Acquire)
        } else {
            shared.core_wanted(ctx.index)
        };
    if !must_run && shared.idle.all_parked() {
        // Go: `checkdead` when the last M goes idle.
        ctx.shared.check_deadlock();
    }
    // Watch the other workers' `runnext`/`yielded` slots while one of them
    // is awake (only an awake worker fills them): park with a timeout and
    // steal a task there if its owner has picked no task since (see
    // [`RUNNEXT_WATCH`]). While this worker watches, a push into `runnext`
    // alone wakes nobody (`Shared::schedule_local`).
    // (This worker no longer counts as awake.) One watcher at a time; the
    // watch ends when the park returns.
    let mut watch = if !must_run && shared.idle.awake() > 0 && shared.idle.try_watch() {
        Some(snapshot_ticks(ctx))
    } else {
        None
    };
    if !must_run {
        ctx.in_park.set(true);
        if watch.is_some() {
            /// Ends the watch when the park returns or unwinds (a watcher
            /// flag left set would make `runnext` pushes wake nobody).
            struct Watching<'a>(&'a super::idle::Idle);
            impl Drop for Watching<'_> {
                fn drop(&mut self) {
                    self.0.stop_watching();
                }
            }
            let _watching = Watching(&shared.idle);
            remote.parker.park_timeout(RUNNEXT_WATCH);
        } else {
            remote.parker.park();
        }
        ctx.in_park.set(false);
    }
    let notified = shared.idle.transition_from_parked(ctx.index);
    shared.monitor.worker_unparked();
    let more = with_core(ctx, |c| {
        c.searching = notified;
        !c.local.is_empty()
    });
    if let Some(ticks) = watch.take() {
        if !notified && !more {
            if let Some(t) = steal_stuck_slot(ctx, &ticks) {
                with_core(ctx, |c| c.local.push(t));
            } else if let Some(t) = steal_round(ctx, Some(&ticks)) {
                // A batch from a queue its owner does not drain: if more
                // than this one came, let another worker help (pushes to
                // that short queue woke nobody). Go: `resetspinning` ->
                // `wakep` of a spinning M that found work.
                let batch = with_core(ctx, |c| {
                    c.local.push(t);
                    c.local.len() > 1
                });
                if batch {
                    shared.notify_parked();
                }
            }
        }
        with_core(ctx, |c| c.watch_ticks = ticks);
    }
    if more && !notified {
        // The driver made more than one task ready here while we were
        // parked (`schedule_local` skipped the wakeups, see
        // `WorkerCtx::in_park`): let another worker take the rest. Go:
        // `injectglist` starting Ms for the goroutines its P does not run.
        // No ordering beyond `notify_parked`'s own: the tasks were pushed
        // by this thread (the local queue is visible to stealers before
        // `worker_to_notify`'s SeqCst fence, which pairs with the fence in
        // `Idle::transition_to_parked`).
        shared.notify_parked();
    }
    ctx.now.set(Instant::now());
}
