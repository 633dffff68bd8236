//! knative/serving#2137 (GoKer serving_2137): a circuit breaker test helper.
//! Each request's mutex is locked by the test (G1) before its goroutine runs
//! `Breaker::maybe`, whose thunk locks that mutex too. With one active slot,
//! request 2's goroutine (G3) takes the slot and blocks on its mutex, held by
//! G1; request 1's goroutine (G2) blocks on the full active channel; G1 has
//! unlocked request 1 and waits for request 1's `accepted`, which G2 sends
//! only once it got the slot: G1, G2 and G3 deadlock. Fixed form (ours, not
//! checked against the upstream fix): release every request's mutex before
//! waiting for any result.
//!
//! Go origin: src/runtime/testdata/testgoroutineleakprofile/goker/serving2137.go
//! (timmyyuan/gobench goker/blocking/serving/2137). Forced interleaving: the
//! original relies on the scheduler letting G3 reach the active slot first;
//! here G2 waits (channel `g3_in_thunk`) until G3 is inside its thunk.
//! <https://github.com/knative/serving/pull/2137>

use std::sync::Arc;

use goro::chan::{make, Chan};
use goro::sync::{Mutex, WaitGroup};

use super::{check, forever_reasons, leaks_of};

struct Breaker {
    pending_requests: Chan<()>,
    active_requests: Chan<()>,
}

impl Breaker {
    fn new(queue_depth: usize, max_concurrency: usize) -> Self {
        Breaker {
            pending_requests: make(queue_depth + max_concurrency),
            active_requests: make(max_concurrency),
        }
    }

    async fn maybe<F: std::future::Future<Output = ()>>(&self, thunk: F) -> bool {
        goro::select! {
            _ = self.pending_requests.send(()) => {
                // Wait for capacity in the active queue.
                self.active_requests.send(()).await;
                thunk.await;
                // Release capacity in the active and pending request queue.
                self.active_requests.recv().await;
                goro::yield_now().await;
                self.pending_requests.recv().await;
                true
            }
            default => false,
        }
    }
}

struct Request {
    lock: Mutex<()>,
    accepted: Chan<bool>,
}

async fn concurrent_requests(fixed: bool) {
    let b = Arc::new(Breaker::new(1, 1));
    let requests: Vec<Arc<Request>> = (0..2)
        .map(|_| {
            Arc::new(Request {
                lock: Mutex::new(()),
                accepted: make(1),
            })
        })
        .collect();
    let g3_in_thunk = make::<()>(0);
    let mut guards = Vec::new();
    for (i, r) in requests.iter().enumerate() {
        // concurrentRequest
        guards.push(r.lock.lock().await);
        let start = Arc::new(WaitGroup::new());
        start.add(1);
        let (b, r, s, in_thunk) = (b.clone(), r.clone(), start.clone(), g3_in_thunk.clone());
        goro::go!(async move {
            // G2 (i == 0), G3 (i == 1)
            s.done();
            goro::yield_now().await;
            if i == 0 {
                in_thunk.recv().await;
            }
            let ok = b
                .maybe(async {
                    if i == 1 {
                        in_thunk.close();
                    }
                    // Will block on the locked mutex.
                    let _g = r.lock.lock().await;
                    goro::yield_now().await;
                })
                .await;
            r.accepted.send(ok).await;
        });
        start.wait().await;
    }
    if fixed {
        drop(guards);
        for r in &requests {
            let ok = r.accepted.recv().await;
            r.accepted.send(ok.unwrap()).await;
        }
    } else {
        // unlockAll
        for (r, g) in requests.iter().zip(guards) {
            drop(g);
            goro::yield_now().await;
            // Verify that the function has completed.
            let ok = r.accepted.recv().await;
            goro::yield_now().await;
            // Requeue for next usage.
            r.accepted.send(ok.unwrap()).await;
        }
    }
}

#[test]
fn buggy_deadlocks_test_and_both_requests() {
    let leaks = check(concurrent_requests(false));
    // Not proved while main runs (a gap): see the module doc of main.rs.
    leaks.assert_forever_while_running(&[]);
    let leaked = leaks.at_end;
    assert_eq!(
        forever_reasons(&leaked),
        ["chan receive", "chan send", "sync.Mutex.Lock"]
    );
}

#[test]
fn fixed_releases_every_lock_before_waiting() {
    assert!(leaks_of(concurrent_requests(true)).is_empty());
}
