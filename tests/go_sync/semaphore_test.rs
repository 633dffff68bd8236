//! x/sync's `semaphore/semaphore_test.go` on a goro runtime, with real
//! contexts and deadlines (the plain-thread and tokio ports are in
//! `sync/tests/semaphore.rs`).
//!
//! Ported here: `TestWeightedAcquire` with Go's 10 ms `WithTimeout` (the
//! timeout is the behaviour under test: an acquire that would wait fails with
//! `DeadlineExceeded` once the deadline passes), and `TestWeighted`'s hammer
//! with goroutines.

use std::sync::Arc;
use std::time::Duration;

use goro::context::{self, Error};
use goro::sync::semaphore::Weighted;
use goro::sync::WaitGroup;

use crate::common::run;

/// x/sync: `TestWeightedAcquire`.
#[test]
fn test_weighted_acquire_with_timeouts() {
    run(async {
        let ctx = context::background();
        let sem = Weighted::new(2);
        let try_acquire = |n: i64| {
            let sem = &sem;
            let ctx = &ctx;
            async move {
                let (tctx, _cancel) = context::with_timeout(ctx, Duration::from_millis(10));
                match sem.acquire(&tctx, n).await {
                    Ok(()) => true,
                    Err(e) => {
                        assert_eq!(e, Error::DeadlineExceeded);
                        false
                    }
                }
            }
        };
        let mut tries = Vec::new();
        sem.acquire(&ctx, 1).await.unwrap();
        tries.push(try_acquire(1).await);
        tries.push(try_acquire(1).await);
        sem.release(2);
        tries.push(try_acquire(1).await);
        sem.acquire(&ctx, 1).await.unwrap();
        tries.push(try_acquire(1).await);
        assert_eq!(tries, [true, false, true, false]);
    });
}

/// x/sync: `TestWeighted` (`HammerWeighted`), with goroutines.
#[test]
fn test_weighted_hammer_goroutines() {
    run(async {
        let n = 8;
        let loops = 10_000 / n;
        let sem = Arc::new(Weighted::new(n));
        let wg = WaitGroup::new();
        for i in 0..n {
            let sem = sem.clone();
            wg.go(async move {
                let ctx = context::background();
                for _ in 0..loops {
                    sem.acquire(&ctx, i).await.unwrap();
                    goro::yield_now().await;
                    sem.release(i);
                }
            });
        }
        wg.wait().await;
        assert!(sem.try_acquire(n));
    });
}
