//! The monitor thread: retakes the core of a thread stuck in one goroutine
//! poll.
//!
//! Go: `sysmon` and `retake` in `runtime/proc.go`.
//!
//! # Design
//!
//! A goroutine that blocks its thread (`std::thread::sleep`, synchronous file
//! IO, a long loop without `.await`) would stall every goroutine queued on
//! its core, and on a one-worker runtime the timers too. The monitor looks
//! at every core's [`Lease`](super::handoff::Lease) now and then; a core
//! whose thread is in the same poll at two looks in a row, for long enough,
//! is retaken ([`handoff`](super::handoff)) and handed to a spare thread
//! (`Shared::hand_off`), as Go hands the P of an M blocked in a system call
//! to another M. The blocked thread finishes its poll without a core and then
//! waits as a spare.
//!
//! When to retake (`should_retake`): a thread blocked in the kernel
//! (Linux: its state in `/proc`) for [`BLOCKED_AFTER`], when the core has
//! queued work, or no other worker is idle (nobody else would run new work
//! or fire timers), or after [`RUNNING_AFTER`] anyway (restore the
//! parallelism the blocked thread took): Go's rule for a P in a system
//! call. A thread that computes (its CPU clock advances) for
//! [`RUNNING_AFTER`] while goroutines wait in its queue, no other worker
//! is idle to steal them and none stole any since the previous look: where
//! Go would preempt the goroutine.
//!
//! Cost: the monitor looks every [`MAX_DELAY`] while every poll it sees is
//! new; when a poll first looks long (the same at two looks), or after a
//! retake, it looks again after [`MIN_DELAY`], doubling back up to
//! [`MAX_DELAY`] (Go: 20 µs after a retake, doubling to 10 ms after 50 idle
//! cycles; goro starts slow and backs off at once, so that a runtime whose
//! polls are short pays about 100 looks a second and a long poll about
//! ten). The thread's state is read (a syscall) only when the cheap
//! conditions allow a retake. It sleeps until woken once every worker has
//! been parked for a whole look. So a thread that blocks is retaken after
//! 10–20 ms at worst. The workers pay two stores and a load per poll for it
//! (see `handoff`); a worker leaving its parker pays one load
//! ([`Monitor::worker_unparked`]).

use std::time::{Duration, Instant};

use super::handoff::Observed;
use super::Shared;
use crate::loom::{lock, AtomicBool, Condvar, Mutex, Ordering, StdArc};

/// Shortest sleep between looks (Go: sysmon's 20 µs).
pub(crate) const MIN_DELAY: Duration = Duration::from_micros(20);

/// Longest sleep between looks while a worker is awake (Go: 10 ms).
pub(crate) const MAX_DELAY: Duration = Duration::from_millis(10);

/// A thread blocked in the kernel this long in one poll loses its core
/// (Go: a P in a system call for one sysmon tick, at least 20 µs).
pub(crate) const BLOCKED_AFTER: Duration = Duration::from_micros(20);

/// A thread computing this long in one poll loses its core (Go preempts a
/// goroutine after 10 ms: `forcePreemptNS`).
pub(crate) const RUNNING_AFTER: Duration = Duration::from_millis(10);

/// The monitor's shared state (in `Shared`).
pub(crate) struct Monitor {
    /// Set while the monitor waits for a worker to wake (every worker
    /// parked); protected by `lock` for the condvar handshake.
    sleeping: AtomicBool,
    lock: Mutex<MonitorState>,
    cvar: Condvar,
}

struct MonitorState {
    /// The monitor should exit (the runtime stops).
    exit: bool,
    /// A worker woke while the monitor was sleeping.
    woken: bool,
}

impl Monitor {
    pub(crate) fn new() -> Self {
        Monitor {
            sleeping: AtomicBool::new(false),
            lock: Mutex::new(MonitorState {
                exit: false,
                woken: false,
            }),
            cvar: Condvar::new(),
        }
    }

    /// Before starting the monitor thread.
    pub(crate) fn reset(&self) {
        let mut st = lock(&self.lock);
        st.exit = false;
        st.woken = false;
    }

    /// Makes the monitor thread exit soon.
    pub(crate) fn shut_down(&self) {
        lock(&self.lock).exit = true;
        self.cvar.notify_all();
    }

    /// A worker left its parker (called by every worker after `park`).
    /// Go: `sysmonwake` when an M starts running again.
    #[inline]
    pub(crate) fn worker_unparked(&self) {
        // SeqCst: Dekker with `wait_for_worker` (`sleeping` there, the
        // worker's `Idle` count here, which the caller's transition made
        // with SeqCst): either the monitor sees this worker unparked, or
        // this load sees it sleeping.
        if self.sleeping.load(Ordering::SeqCst) {
            lock(&self.lock).woken = true;
            self.cvar.notify_all();
        }
    }

    /// Sleeps `d`; false when the monitor must exit.
    fn sleep(&self, d: Duration) -> bool {
        let st = lock(&self.lock);
        if st.exit {
            return false;
        }
        let (st, _) = self
            .cvar
            .wait_timeout(st, d)
            .unwrap_or_else(|e| e.into_inner());
        !st.exit
    }

    /// Sleeps until a worker unparks (all are parked: none can be stuck).
    /// False when the monitor must exit.
    fn wait_for_worker(&self, shared: &Shared) -> bool {
        let mut st = lock(&self.lock);
        st.woken = false;
        // SeqCst: see `worker_unparked`.
        self.sleeping.store(true, Ordering::SeqCst);
        while !st.exit && !st.woken && shared.idle.all_parked() {
            st = self.cvar.wait(st).unwrap_or_else(|e| e.into_inner());
        }
        self.sleeping.store(false, Ordering::Relaxed);
        !st.exit
    }
}

/// A core's owner as seen at the previous look.
struct Seen {
    obs: Observed,
    since: Instant,
    /// The owner thread's CPU time when the poll first looked long (`None`
    /// until then, or where it cannot be read).
    cpu: Option<Option<Duration>>,
    /// The core's `Remote::steals` at the previous look.
    steals: u32,
}

/// Body of the monitor thread. Go: `sysmon`.
pub(crate) fn run(shared: StdArc<Shared>) {
    let n = shared.num_workers();
    let mut seen: Vec<Option<Seen>> = (0..n).map(|_| None).collect();
    // Nothing is suspect yet: start slow (a runtime whose polls are all
    // short never makes the monitor look more often than every 10 ms).
    let mut delay = MAX_DELAY;
    // Every worker was parked at the previous look too.
    let mut was_idle = false;
    loop {
        // Sleep until a worker wakes only once the runtime has stayed idle
        // for a whole look: a runtime whose workers park and wake all the
        // time must not pay a monitor wakeup each time.
        let idle = shared.idle.all_parked();
        let go_on = if idle && was_idle {
            seen.iter_mut().for_each(|s| *s = None);
            delay = MAX_DELAY;
            was_idle = false;
            shared.monitor.wait_for_worker(&shared)
        } else {
            was_idle = idle;
            shared.monitor.sleep(if idle { MAX_DELAY } else { delay })
        };
        if !go_on || shared.is_stopping() {
            return;
        }
        let now = Instant::now();
        // Go's sysmon looks every 20 µs again after a retake; here also
        // when a poll first looks long, so that a blocked thread loses its
        // core within a few looks. A poll that stays long without needing a
        // retake (it computes, others are idle) lets the delay grow again.
        let mut closer = false;
        for (i, slot) in seen.iter_mut().enumerate() {
            let Some(obs) = shared.remotes[i].lease.observe() else {
                *slot = None;
                continue;
            };
            // Relaxed: a progress hint (see `Remote::steals`).
            let steals = shared.remotes[i]
                .steals
                .load(std::sync::atomic::Ordering::Relaxed);
            let seen = match slot {
                Some(s) if s.obs.same_poll(&obs) => s,
                _ => {
                    *slot = Some(Seen {
                        obs,
                        since: now,
                        cpu: None,
                        steals,
                    });
                    continue;
                }
            };
            let served = std::mem::replace(&mut seen.steals, steals) != steals;
            let cpu0 = *seen.cpu.get_or_insert_with(|| {
                closer = true;
                obs.thread_cpu()
            });
            let stuck = Stuck {
                wall: now.duration_since(seen.since),
                cpu0,
                alone: n == 1,
                served,
            };
            if should_retake(&shared, i, &obs, &stuck) && shared.retake(i, &obs) {
                closer = true;
                *slot = None;
            }
        }
        delay = if closer {
            MIN_DELAY
        } else {
            (delay * 2).min(MAX_DELAY)
        };
    }
}

/// How long a core's owner has been in one poll.
struct Stuck {
    /// Wall time since the monitor first saw the poll.
    wall: Duration,
    /// The owner's CPU time when the poll first looked long (`None` where
    /// it cannot be read).
    cpu0: Option<Duration>,
    /// The runtime has one worker.
    alone: bool,
    /// Other workers stole from the core's queue or slots since the
    /// previous look: its queued work is not starved.
    served: bool,
}

/// Whether core `i`, whose owner is in the poll `obs`, should be retaken.
/// Go: the conditions in `retake` (for a P in a system call) and
/// `preemptone` (for a goroutine running 10 ms).
fn should_retake(shared: &Shared, i: usize, obs: &Observed, stuck: &Stuck) -> bool {
    if stuck.wall < BLOCKED_AFTER {
        return false;
    }
    let r = &shared.remotes[i];
    let queue_empty = !r.slots_occupied() && r.stealer.is_empty();
    let some_idle = shared.idle.some_idle();
    // The cheap checks first: reading the thread's state costs a syscall
    // or three.
    // Go: `runqempty(pp) && nmspinning+npidle > 0 && syscall < 10ms`:
    // others can take new work and the core's queue is empty: leave it
    // for now.
    let blocked_rule = !(queue_empty && some_idle && stuck.wall < RUNNING_AFTER);
    // Computing (or runnable but not run by the OS). Go preempts a
    // goroutine after 10 ms; goro can only give the queue another thread,
    // which helps only if the owner really computes (an OS that does not
    // run it would not run another thread either) and nobody else can take
    // the queued work: another worker steals from this core's queue (and
    // wakes for it, or its watcher steals a short queue the core does not
    // drain: see `worker::may_steal`).
    //
    // Nor while other workers keep stealing from the queue (`served`): a
    // goroutine that spawns or wakes goroutines in a long loop (a Go `main`
    // starting a million goroutines) then keeps its core, and the runtime
    // does not run one thread more than it has cores (the retaken thread
    // goes on computing): spawn_wg on 2 workers ran slower than on 1.
    let computing_rule =
        !queue_empty && (stuck.alone || !some_idle) && !stuck.served && stuck.wall >= RUNNING_AFTER;
    if !blocked_rule && !computing_rule {
        return false;
    }
    if obs.thread_blocked() {
        return blocked_rule;
    }
    let computed = match (stuck.cpu0, obs.thread_cpu()) {
        (Some(c0), Some(c)) => c.saturating_sub(c0),
        _ => stuck.wall,
    };
    computing_rule && computed >= RUNNING_AFTER
}
