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
//! [`RUNNING_AFTER`] while goroutines wait in its queue and no other worker
//! is idle to steal them: where Go would preempt the goroutine.
//!
//! Cost: the monitor looks every [`MAX_DELAY`] while every poll it sees is
//! new; once a core is in the same poll at two looks it looks every
//! [`MIN_DELAY`], doubling back up to [`MAX_DELAY`] after [`IDLE_LOOKS`]
//! looks without such a core (Go: 20 µs, doubling to 10 ms after 50 idle
//! cycles; Go resets on a retake, goro on a suspect, and starts slow, so
//! that a runtime whose polls are short pays about 100 looks a second).
//! It sleeps until woken while every worker is parked. So a thread that
//! blocks is retaken after 10–20 ms at worst, and within a few looks of
//! 20 µs while the monitor is looking closely. The workers pay nothing per poll for it beyond
//! two stores (see `handoff`); a worker leaving its parker pays one load
//! ([`Monitor::worker_unparked`]).

use std::time::{Duration, Instant};

use super::handoff::Observed;
use super::Shared;
use crate::loom::{lock, AtomicBool, Condvar, Mutex, Ordering, StdArc};

/// Shortest sleep between looks (Go: sysmon's 20 µs).
pub(crate) const MIN_DELAY: Duration = Duration::from_micros(20);

/// Longest sleep between looks while a worker is awake (Go: 10 ms).
pub(crate) const MAX_DELAY: Duration = Duration::from_millis(10);

/// Looks without a retake before the delay starts doubling (Go: 50).
const IDLE_LOOKS: u32 = 50;

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
}

/// Body of the monitor thread. Go: `sysmon`.
pub(crate) fn run(shared: StdArc<Shared>) {
    let n = shared.num_workers();
    let mut seen: Vec<Option<Seen>> = (0..n).map(|_| None).collect();
    // Nothing is suspect yet: start slow (a runtime whose polls are all
    // short never makes the monitor look more often than every 10 ms).
    let mut delay = MAX_DELAY;
    let mut idle_looks = IDLE_LOOKS;
    loop {
        let go_on = if shared.idle.all_parked() {
            seen.iter_mut().for_each(|s| *s = None);
            delay = MAX_DELAY;
            idle_looks = IDLE_LOOKS;
            shared.monitor.wait_for_worker(&shared)
        } else {
            shared.monitor.sleep(delay)
        };
        if !go_on || shared.is_stopping() {
            return;
        }
        let now = Instant::now();
        // A core in the same poll as at the previous look (Go's sysmon
        // counts a retake as activity; here a long poll that may need one
        // is enough to look closely).
        let mut suspect = false;
        for (i, slot) in seen.iter_mut().enumerate() {
            let Some(obs) = shared.remotes[i].lease.observe() else {
                *slot = None;
                continue;
            };
            let seen = match slot {
                Some(s) if s.obs.same_poll(&obs) => s,
                _ => {
                    *slot = Some(Seen {
                        obs,
                        since: now,
                        cpu: None,
                    });
                    continue;
                }
            };
            suspect = true;
            let cpu0 = *seen.cpu.get_or_insert_with(|| obs.thread_cpu());
            let stuck = Stuck {
                wall: now.duration_since(seen.since),
                computed: cpu0.and_then(|c0| Some(obs.thread_cpu()?.saturating_sub(c0))),
                alone: n == 1,
            };
            if should_retake(&shared, i, &obs, &stuck) && shared.retake(i, &obs) {
                *slot = None;
            }
        }
        if suspect {
            delay = MIN_DELAY;
            idle_looks = 0;
        } else {
            idle_looks += 1;
            if idle_looks > IDLE_LOOKS {
                delay = (delay * 2).min(MAX_DELAY);
            }
        }
    }
}

/// How long a core's owner has been in one poll.
struct Stuck {
    /// Wall time since the monitor first saw the poll.
    wall: Duration,
    /// CPU time the owner used since the poll first looked long (`None`
    /// where it cannot be read).
    computed: Option<Duration>,
    /// The runtime has one worker.
    alone: bool,
}

/// Whether core `i`, whose owner is in the poll `obs`, should be retaken.
/// Go: the conditions in `retake` (for a P in a system call) and
/// `preemptone` (for a goroutine running 10 ms).
fn should_retake(shared: &Shared, i: usize, obs: &Observed, stuck: &Stuck) -> bool {
    if stuck.wall < BLOCKED_AFTER {
        return false;
    }
    let r = &shared.remotes[i];
    let queue_empty = !r.runnext.is_occupied() && r.stealer.is_empty();
    if obs.thread_blocked() {
        // Go: `runqempty(pp) && nmspinning+npidle > 0 && syscall < 10ms`:
        // others can take new work and the core's queue is empty: leave it
        // for now.
        return !(queue_empty && shared.idle.some_idle() && stuck.wall < RUNNING_AFTER);
    }
    // Computing (or runnable but not run by the OS). Go preempts a
    // goroutine after 10 ms; goro can only give the queue another thread,
    // which helps only if the owner really computes (an OS that does not
    // run it would not run another thread either) and nobody else can take
    // the queued work: another worker steals from this core's queue (and
    // wakes for it: every push notifies an idle worker).
    let computed = stuck.computed.unwrap_or(stuck.wall);
    computed >= RUNNING_AFTER && (stuck.alone || !shared.idle.some_idle()) && !queue_empty
}
