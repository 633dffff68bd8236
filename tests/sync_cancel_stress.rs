//! Cancellation under real contention on a goro runtime (2 workers): some
//! goroutines abandon their lock/acquire/wait futures after one or two polls
//! (so at whatever point each had reached: queued, woken, handed the lock),
//! others complete theirs. At the end nothing may be lost: every completed
//! critical section is counted, the locks are free, the weight is all back,
//! and nobody hangs (a lost hand-off would leave a goroutine parked forever
//! and the test would time out).

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::Poll;

use futures::poll;
use goro::context;
use goro::sync::semaphore::Weighted;
use goro::sync::{Mutex, RwMutex, WaitGroup};

const GOROUTINES: u64 = 8;
const ITERS: u64 = 2000;

/// Polls `f` up to `polls` times (yielding in between), then drops it;
/// returns its output if it completed.
async fn poll_then_drop<F: Future>(f: F, polls: u64) -> Option<F::Output> {
    let mut f = pin!(f);
    for _ in 0..polls {
        if let Poll::Ready(v) = poll!(f.as_mut()) {
            return Some(v);
        }
        goro::yield_now().await;
    }
    None
}

#[test]
fn mutex_rwmutex_weighted_survive_abandoned_waiters() {
    goro::Runtime::builder()
        .workers(2)
        .build()
        .unwrap()
        .block_on(async {
            let m = Arc::new(Mutex::new(0u64));
            let rw = Arc::new(RwMutex::new(0u64));
            let sem = Arc::new(Weighted::new(3));
            let done = Arc::new(AtomicU64::new(0));
            let wg = WaitGroup::new();
            for g in 0..GOROUTINES {
                let (m, rw, sem, done) = (m.clone(), rw.clone(), sem.clone(), done.clone());
                wg.go(async move {
                    let ctx = context::background();
                    for i in 0..ITERS {
                        let abandon = (g + i) % 3 == 0;
                        let polls = 1 + (i % 2);
                        if abandon {
                            if let Some(mut guard) = poll_then_drop(m.lock(), polls).await {
                                *guard += 1;
                                done.fetch_add(1, Ordering::Relaxed);
                            }
                            if let Some(mut guard) = poll_then_drop(rw.write(), polls).await {
                                *guard += 1;
                            }
                            drop(poll_then_drop(rw.read(), polls).await);
                            if let Some(r) =
                                poll_then_drop(sem.acquire(&ctx, 1 + (i % 3) as i64), polls).await
                            {
                                r.unwrap();
                                sem.release(1 + (i % 3) as i64);
                            }
                        } else {
                            let mut guard = m.lock().await;
                            *guard += 1;
                            done.fetch_add(1, Ordering::Relaxed);
                            goro::yield_now().await; // hold it across a yield
                            drop(guard);
                            *rw.write().await += 1;
                            drop(rw.read().await);
                            sem.acquire(&ctx, 2).await.unwrap();
                            sem.release(2);
                        }
                    }
                });
            }
            wg.wait().await;
            assert_eq!(
                *m.try_lock().expect("mutex left locked"),
                done.load(Ordering::Relaxed)
            );
            assert!(rw.try_write().is_some(), "rwmutex left locked");
            assert!(sem.try_acquire(3), "weight lost");
        })
        .unwrap();
}

#[test]
fn waitgroup_waiters_abandoned_while_counter_moves() {
    goro::Runtime::builder()
        .workers(2)
        .build()
        .unwrap()
        .block_on(async {
            let wg = WaitGroup::new();
            for round in 0..500u64 {
                wg.add(GOROUTINES as isize);
                for _ in 0..GOROUTINES {
                    let w = wg.clone();
                    drop(goro::spawn(async move { w.done() }));
                }
                // Some waits are abandoned midway; the last one must complete.
                let _ = poll_then_drop(wg.wait(), 1 + round % 2).await;
                wg.wait().await;
            }
        })
        .unwrap();
}
