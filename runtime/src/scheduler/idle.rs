//! Which workers are searching for work and which are parked.
//!
//! Loom model at the bottom of this file:
//! `RUSTFLAGS="--cfg goro_loom" LOOM_MAX_PREEMPTIONS=3 cargo test -p goro-runtime --release --lib idle -- --test-threads=1`
//!
//! Go: `sched.nmspinning`, `sched.pidle` and `wakep()` in `runtime/proc.go`.
//!
//! # Design
//!
//! A worker that runs out of local work becomes *searching* (Go: spinning):
//! it looks at the injector and steals from the other workers. At most half of
//! the workers (at least one) search at once. A worker that finds nothing parks and puts
//! itself on the sleeper list. A producer that makes work visible to other
//! workers (local queue, injector) calls [`Idle::worker_to_notify`], which picks
//! a sleeper only if nobody is searching (the searchers will find the work):
//! this keeps wakeups (futex syscalls) off the hot path.
//!
//! # Invariants
//!
//! - `num_unparked` = number of workers not on `sleepers`;
//!   `num_searching <= num_unparked`.
//! - A worker parks only after having been searching, or while another worker
//!   is searching (it cannot start searching only when half are already).
//! - No lost wakeup: the last searcher to park re-checks every queue after
//!   decrementing `num_searching` (see *Memory ordering*).
//!
//! # Locking
//!
//! `sleepers` is a leaf lock (rank "scheduler idle" in the crate's list); it
//! also serialises changes of `num_unparked`.
//!
//! # Memory ordering
//!
//! Dekker-style, all SeqCst: a producer does *push task; fence(SeqCst); load
//! num_searching*, the last searcher does *num_searching -= 1 (SeqCst);
//! fence(SeqCst); check queues*. In the single total order one of the two
//! loads sees the other side's write: either the producer sees no searcher
//! and wakes a sleeper, or the searcher sees the task and wakes one.

use crate::loom::{fence, lock, AtomicBool, AtomicUsize, Mutex, Ordering};

/// Idle-worker bookkeeping. Go: `sched.nmspinning` + `sched.pidle`.
pub(crate) struct Idle {
    num_workers: usize,
    /// Workers currently searching. Go: `sched.nmspinning`.
    num_searching: AtomicUsize,
    /// Workers not parked. Changed only under `sleepers`.
    num_unparked: AtomicUsize,
    /// Indices of parked workers. Go: `sched.pidle`.
    sleepers: Mutex<Vec<usize>>,
    /// Whether a parked worker wakes on a timeout to look for a task stuck
    /// in another worker's `runnext` (see `worker::park`). At most one
    /// does, as Go has one sysmon: the others park until notified.
    watching: AtomicBool,
}

impl Idle {
    pub(crate) fn new(num_workers: usize) -> Self {
        Idle {
            num_workers,
            num_searching: AtomicUsize::new(0),
            num_unparked: AtomicUsize::new(num_workers),
            sleepers: Mutex::new(Vec::with_capacity(num_workers)),
            watching: AtomicBool::new(false),
        }
    }

    /// Called by a producer after making a task visible to other workers:
    /// returns the parked worker to unpark, if one should be woken. The
    /// returned worker is counted as searching.
    ///
    /// Go: `wakep()`.
    pub(crate) fn worker_to_notify(&self) -> Option<usize> {
        // Pairs with the fence in `transition_to_parked`'s caller (Dekker):
        // our task push is ordered before our loads of the counters.
        fence(Ordering::SeqCst);
        if !self.should_wake() {
            return None;
        }
        let mut sleepers = lock(&self.sleepers);
        if !self.should_wake() {
            return None;
        }
        let w = sleepers.pop()?;
        // SeqCst: part of the Dekker protocol with searchers.
        self.num_searching.fetch_add(1, Ordering::SeqCst);
        self.num_unparked.fetch_add(1, Ordering::SeqCst);
        Some(w)
    }

    fn should_wake(&self) -> bool {
        // SeqCst: see the module docs.
        self.num_searching.load(Ordering::SeqCst) == 0
            && self.num_unparked.load(Ordering::SeqCst) < self.num_workers
    }

    /// Tries to become a searcher; fails when half the workers already are.
    /// Go: the `2*nmspinning >= gomaxprocs-npidle` check in `findRunnable`.
    pub(crate) fn transition_to_searching(&self) -> bool {
        let n = self.num_searching.load(Ordering::SeqCst);
        if 2 * n >= self.num_workers.max(2) {
            return false;
        }
        self.num_searching.fetch_add(1, Ordering::SeqCst);
        true
    }

    /// A searcher found work. Returns true if it was the last searcher: the
    /// caller must then wake another worker (there may be more work that
    /// producers did not announce because we were searching).
    pub(crate) fn transition_from_searching(&self) -> bool {
        // SeqCst: see the module docs.
        self.num_searching.fetch_sub(1, Ordering::SeqCst) == 1
    }

    /// Puts worker `w` on the sleeper list. Returns true if it was the last
    /// searcher: the caller must then `fence(SeqCst)` (done here) and re-check
    /// every queue before parking.
    pub(crate) fn transition_to_parked(&self, w: usize, searching: bool) -> bool {
        let mut sleepers = lock(&self.sleepers);
        let last = searching && self.num_searching.fetch_sub(1, Ordering::SeqCst) == 1;
        self.num_unparked.fetch_sub(1, Ordering::SeqCst);
        sleepers.push(w);
        drop(sleepers);
        // Pairs with the fence in `worker_to_notify` (Dekker).
        fence(Ordering::SeqCst);
        last
    }

    /// Called by worker `w` after its parker returned. Returns `true` if `w`
    /// was woken by [`Idle::worker_to_notify`] (it is now a searcher), `false`
    /// if it woke for another reason and took itself off the sleeper list (it
    /// is not searching).
    pub(crate) fn transition_from_parked(&self, w: usize) -> bool {
        let mut sleepers = lock(&self.sleepers);
        match sleepers.iter().position(|&s| s == w) {
            Some(i) => {
                sleepers.swap_remove(i);
                self.num_unparked.fetch_add(1, Ordering::SeqCst);
                false
            }
            None => true,
        }
    }

    /// Whether a parked worker watches the `runnext` slots: a task pushed
    /// only into a `runnext` slot then needs no wakeup (a hint; the watcher
    /// looks again within its timeout).
    pub(crate) fn watched(&self) -> bool {
        self.watching.load(Ordering::Relaxed)
    }

    /// Becomes the watcher (see [`Idle::watched`]) unless another worker
    /// is. Relaxed: a hint, the watcher's timeout bounds any delay.
    pub(crate) fn try_watch(&self) -> bool {
        !self.watching.load(Ordering::Relaxed)
            && self
                .watching
                .compare_exchange(false, true, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }

    /// The watcher stops watching.
    pub(crate) fn stop_watching(&self) {
        self.watching.store(false, Ordering::Relaxed);
    }

    /// Number of workers not parked (a hint: see `worker::park` and
    /// `worker::search`).
    pub(crate) fn awake(&self) -> usize {
        self.num_unparked.load(Ordering::Relaxed)
    }

    /// Whether every worker is parked (the monitor then sleeps; the
    /// deadlock check's trigger, Go's "no M running" in `checkdead`).
    pub(crate) fn all_parked(&self) -> bool {
        // SeqCst: Dekker with `Monitor::worker_unparked` (see there).
        self.num_unparked.load(Ordering::SeqCst) == 0
    }

    /// Whether some worker is parked or searching: it would take new work.
    /// A hint for the monitor.
    pub(crate) fn some_idle(&self) -> bool {
        self.num_searching.load(Ordering::Relaxed) > 0
            || self.num_unparked.load(Ordering::Relaxed) < self.num_workers
    }

    /// Back to "every worker awake, none searching" (runtime restart).
    pub(crate) fn reset(&self) {
        let mut sleepers = lock(&self.sleepers);
        sleepers.clear();
        self.num_searching.store(0, Ordering::SeqCst);
        self.num_unparked.store(self.num_workers, Ordering::SeqCst);
        self.watching.store(false, Ordering::Relaxed);
    }
}

#[cfg(all(test, goro_loom))]
mod loom_tests {
    //! Model of the idle protocol with the real parker: a worker that runs
    //! out of work and parks, racing a producer that pushes one task and
    //! notifies. The worker must get the task (loom reports a deadlock if the
    //! wakeup is lost). Two workers, so the searching/parked accounting and
    //! the last-searcher re-check are exercised.
    //!
    //! Run (about 5 s in release; removing the last-searcher re-check makes
    //! it fail with a loom deadlock already at 2 preemptions):
    //! `RUSTFLAGS="--cfg goro_loom" LOOM_MAX_PREEMPTIONS=3 cargo test -p goro-runtime --release --lib idle -- --test-threads=1`

    use super::*;
    use crate::loom::{thread, Arc, StdArc};
    use crate::scheduler::park::{DriverSlot, Parker};

    struct World {
        idle: Idle,
        parkers: Vec<Parker>,
        queue: AtomicUsize,
        done: AtomicUsize,
    }

    impl World {
        fn try_take(&self) -> bool {
            let mut n = self.queue.load(Ordering::SeqCst);
            while n > 0 {
                match self
                    .queue
                    .compare_exchange(n, n - 1, Ordering::SeqCst, Ordering::SeqCst)
                {
                    Ok(_) => return true,
                    Err(a) => n = a,
                }
            }
            false
        }
        fn notify(&self) {
            if let Some(w) = self.idle.worker_to_notify() {
                self.parkers[w].unpark();
            }
        }
    }

    fn worker(world: &World, w: usize) {
        let mut searching = false;
        loop {
            if world.done.load(Ordering::SeqCst) == 1 {
                return;
            }
            if !searching {
                searching = world.idle.transition_to_searching();
            }
            if world.try_take() {
                if searching && world.idle.transition_from_searching() {
                    world.notify();
                }
                world.done.store(1, Ordering::SeqCst);
                // Wake the other worker so the model terminates.
                for p in &world.parkers {
                    p.unpark();
                }
                return;
            }
            let last = world.idle.transition_to_parked(w, searching);
            if last && world.queue.load(Ordering::SeqCst) > 0 {
                world.notify();
            }
            if world.done.load(Ordering::SeqCst) == 0 {
                world.parkers[w].park();
            }
            searching = world.idle.transition_from_parked(w);
        }
    }

    #[test]
    fn idle_no_lost_wakeup() {
        loom::model(|| {
            let slot = StdArc::new(DriverSlot::new(None));
            let world = Arc::new(World {
                idle: Idle::new(2),
                parkers: vec![Parker::new(slot.clone()), Parker::new(slot)],
                queue: AtomicUsize::new(0),
                done: AtomicUsize::new(0),
            });
            let w1 = {
                let world = world.clone();
                thread::spawn(move || worker(&world, 1))
            };
            let p = {
                let world = world.clone();
                thread::spawn(move || {
                    world.queue.fetch_add(1, Ordering::SeqCst);
                    world.notify();
                })
            };
            worker(&world, 0);
            p.join().unwrap();
            w1.join().unwrap();
            assert_eq!(world.queue.load(Ordering::SeqCst), 0);
        });
    }
}
