//! The `spawn_blocking` thread pool: grows on demand, shrinks when idle.
//!
//! Go has no counterpart API; it is what Go does implicitly when a goroutine
//! enters a blocking syscall (`entersyscallblock` hands the P to another M and
//! the runtime starts threads as needed). Here blocking code is moved off the
//! workers explicitly.
//!
//! # Design
//!
//! A FIFO of jobs under one mutex and a condvar. Submitting a job wakes an
//! idle thread if one is not already claimed by an earlier submission, else
//! starts a new thread (up to [`MAX_THREADS`]). A thread that stays idle for
//! the keep-alive period exits. Jobs are task cells like goroutines, so a job's result
//! reaches its `JoinHandle` like a goroutine's.
//!
//! # Invariants
//!
//! - `idle - notified` idle threads are free to take a new job without being
//!   told; `notified <= idle`.
//! - After `shutdown`, new jobs are dropped (their handles report
//!   cancellation) and threads exit when idle; running jobs finish on their
//!   own (threads are not joined: a blocking call cannot be interrupted).
//!
//! # Locking
//!
//! `state` is a leaf lock; jobs run and are dropped outside it.

use std::collections::VecDeque;
use std::thread;
use std::time::Duration;

use crate::context;
use crate::loom::{lock, Condvar, Mutex, StdArc};
use crate::scheduler::Shared;
use crate::task::Task;

/// The most threads the pool starts (tokio's default; Go's limit is 10000
/// threads for the whole process).
pub(crate) const MAX_THREADS: usize = 512;

struct State {
    queue: VecDeque<Task>,
    threads: usize,
    idle: usize,
    notified: usize,
    shutdown: bool,
    next_name: usize,
}

/// The pool. Owned by the runtime's `Shared`.
pub(crate) struct BlockingPool {
    state: Mutex<State>,
    cvar: Condvar,
    keep_alive: Duration,
}

impl BlockingPool {
    pub(crate) fn new(keep_alive: Duration) -> Self {
        BlockingPool {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                threads: 0,
                idle: 0,
                notified: 0,
                shutdown: true,
                next_name: 0,
            }),
            cvar: Condvar::new(),
            keep_alive,
        }
    }

    /// Queues `task`, waking or starting a thread for it.
    pub(crate) fn submit(&self, shared: &StdArc<Shared>, task: Task) {
        let mut st = lock(&self.state);
        if st.shutdown {
            drop(st);
            drop(task);
            return;
        }
        st.queue.push_back(task);
        if st.idle > st.notified {
            st.notified += 1;
            drop(st);
            self.cvar.notify_one();
            return;
        }
        if st.threads >= MAX_THREADS {
            return;
        }
        st.threads += 1;
        let name = st.next_name;
        st.next_name += 1;
        drop(st);
        let shared = shared.clone();
        let spawned = thread::Builder::new()
            .name(format!("goro-blocking-{name}"))
            .spawn(move || {
                let _rt = context::enter_runtime(shared.clone());
                let _tokio = shared.tokio.enter();
                shared.blocking.thread_main(&shared);
            });
        if spawned.is_err() {
            // Could not start a thread: the job stays queued for a running
            // thread, if any; otherwise it waits for the next submission.
            lock(&self.state).threads -= 1;
        }
    }

    fn thread_main(&self, shared: &Shared) {
        let mut st = lock(&self.state);
        loop {
            if let Some(task) = st.queue.pop_front() {
                drop(st);
                task.run();
                st = lock(&self.state);
                continue;
            }
            if st.shutdown {
                break;
            }
            st.idle += 1;
            if st.idle == st.threads {
                // The last job finished: it no longer keeps the deadlock
                // check from reporting.
                shared.poke_deadlock_check();
            }
            let (guard, timeout) = self
                .cvar
                .wait_timeout(st, self.keep_alive)
                .unwrap_or_else(|e| e.into_inner());
            st = guard;
            st.idle -= 1;
            if st.notified > 0 {
                st.notified -= 1;
                continue;
            }
            if timeout.timed_out() && st.queue.is_empty() {
                break;
            }
        }
        st.threads -= 1;
    }

    /// Stops taking jobs; queued ones are dropped, idle threads exit.
    pub(crate) fn shutdown(&self) {
        let mut st = lock(&self.state);
        st.shutdown = true;
        let queued = std::mem::take(&mut st.queue);
        drop(st);
        self.cvar.notify_all();
        drop(queued);
    }

    /// Accepts jobs again (runtime restart).
    pub(crate) fn restart(&self) {
        lock(&self.state).shutdown = false;
    }

    /// Threads currently in the pool.
    pub(crate) fn threads(&self) -> usize {
        lock(&self.state).threads
    }

    /// Jobs queued or running (a possible waker for the deadlock detector).
    pub(crate) fn busy(&self) -> usize {
        let st = lock(&self.state);
        st.queue.len() + (st.threads - st.idle)
    }
}
