//! kubernetes#58107 (GoKer kubernetes_58107): two resource-quota workers
//! take the controller's `workerLock` for reading and then wait on their
//! queue's `sync.Cond` for work. Once the signals ran out, worker G3 waits
//! on its empty queue holding the read lock; the periodic `Sync` (G5) then
//! blocks taking the write lock, and worker G4 blocks taking the read lock
//! behind the pending writer (Go's RWMutex prefers writers). Fix (as
//! kubernetes'): the workers do not hold `workerLock` while pulling from
//! a queue.
//!
//! Go origin: src/runtime/testdata/testgoroutineleakprofile/goker/kubernetes58107.go
//! (timmyyuan/gobench goker/blocking/kubernetes/58107). Forced
//! interleaving: the helper's signals all come before any worker waits (so
//! are lost); G5 starts once G3 holds the read lock and is about to wait
//! (channel `in_wait`); G4 takes the read lock once a writer is pending
//! (`try_read` fails; a yield loop, no sleep). The Go kernel's workers and
//! `Sync` run forever even when fixed; here `Sync` runs 100 rounds and the
//! test (G1) then shuts the queues down (flag and `Broadcast`), so the
//! fixed form ends clean. In the buggy form G1 thus also leaks, waiting for
//! `Sync` to finish.
//! <https://github.com/kubernetes/kubernetes/pull/58107>

use std::sync::Arc;

use goro::chan::{make, Chan};
use goro::sync::{Cond, Mutex, RwMutex};

use super::{check, forever_reasons, leaks_of};

struct Queue {
    /// The cond's lock; `true` once shut down.
    shut_down: Mutex<bool>,
    cond: Cond,
}

impl Queue {
    fn new() -> Self {
        Queue {
            shut_down: Mutex::new(false),
            cond: Cond::new(),
        }
    }

    async fn get(&self, in_wait: Option<Chan<()>>) {
        let shut = self.shut_down.lock().await;
        if let Some(c) = in_wait {
            c.close();
        }
        if !*shut {
            let _shut = self.cond.wait(shut).await;
        }
    }

    fn put(&self) {
        self.cond.signal();
    }

    async fn shut_down(&self) {
        *self.shut_down.lock().await = true;
        self.cond.broadcast();
    }
}

struct ResourceQuotaController {
    worker_lock: RwMutex<()>,
    queue: Queue,
    missing_usage_queue: Queue,
    fixed: bool,
}

impl ResourceQuotaController {
    async fn worker(&self, queue: &Queue, in_wait: Option<Chan<()>>) {
        // workFunc, once: its quit is always true.
        if self.fixed {
            queue.get(in_wait).await;
            let _r = self.worker_lock.read().await;
        } else {
            let _r = self.worker_lock.read().await;
            queue.get(in_wait).await;
        }
    }

    async fn sync(&self, done: Chan<()>) {
        for _ in 0..100 {
            let _w = self.worker_lock.write().await;
            goro::yield_now().await;
        }
        done.close();
    }
}

async fn start_resource_quota_controller(fixed: bool) {
    let rq = Arc::new(ResourceQuotaController {
        worker_lock: RwMutex::new(()),
        queue: Queue::new(),
        missing_usage_queue: Queue::new(),
        fixed,
    });
    // HelperSignals: nobody waits yet, the signals are lost.
    for _ in 0..10 {
        rq.queue.put();
        rq.missing_usage_queue.put();
    }
    // Run: G3
    let in_wait = make::<()>(0);
    let (r3, w) = (rq.clone(), in_wait.clone());
    goro::go!(async move { r3.worker(&r3.queue, Some(w)).await });
    in_wait.recv().await;
    // Sync: G5
    let sync_done = make::<()>(0);
    let (r5, d) = (rq.clone(), sync_done.clone());
    goro::go!(async move { r5.sync(d).await });
    // Run: G4, once a writer is pending (or Sync is over).
    let (r4, d) = (rq.clone(), sync_done.clone());
    goro::go!(async move {
        loop {
            goro::select! {
                _ = d.recv() => break,
                default => match r4.worker_lock.try_read() {
                    Some(r) => {
                        drop(r);
                        goro::yield_now().await;
                    }
                    None => break,
                },
            }
        }
        r4.worker(&r4.missing_usage_queue, None).await
    });
    sync_done.recv().await;
    rq.queue.shut_down().await;
    rq.missing_usage_queue.shut_down().await;
}

#[test]
fn buggy_leaks_reader_writer_and_blocked_reader() {
    let leaks = check(start_resource_quota_controller(false));
    // Not proved while main runs (a gap): see the module doc of main.rs.
    leaks.assert_forever_while_running(&[]);
    let leaked = leaks.at_end;
    assert_eq!(
        forever_reasons(&leaked),
        [
            "chan receive",
            "sync.Cond.Wait",
            "sync.RWMutex.Lock",
            "sync.RWMutex.RLock"
        ]
    );
}

#[test]
fn fixed_workers_wait_without_the_read_lock() {
    assert!(leaks_of(start_resource_quota_controller(true)).is_empty());
}
