//! Ports from Go's `src/sync/rwmutex_test.go`.
//!
//! Ported: `TestParallelReaders`, `TestRWMutex` (`HammerRWMutex` with Go's
//! `-short` 1000 iterations; `GOMAXPROCS` is the runtime's 2 workers
//! throughout), `TestRLocker`'s exclusion check in a direct form.
//! Not ported: `TestRWDoubleRLock`-style misuse of unlocking (impossible by
//! type).

use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;

use goro::chan::{make, Chan};
use goro::sync::RwMutex;

use crate::common::{go, run};

async fn parallel_reader(
    m: Arc<RwMutex<()>>,
    clocked: Chan<bool>,
    cunlock: Chan<bool>,
    cdone: Chan<bool>,
) {
    let g = m.read().await;
    clocked.send(true).await;
    cunlock.recv().await;
    drop(g);
    cdone.send(true).await;
}

async fn do_test_parallel_readers(num_readers: usize) {
    let m = Arc::new(RwMutex::new(()));
    let (clocked, cunlock, cdone) = (make(0), make(0), make(0));
    for _ in 0..num_readers {
        go(parallel_reader(
            m.clone(),
            clocked.clone(),
            cunlock.clone(),
            cdone.clone(),
        ));
    }
    // Wait for all parallel RLock()s to succeed.
    for _ in 0..num_readers {
        clocked.recv().await;
    }
    for _ in 0..num_readers {
        cunlock.send(true).await;
    }
    for _ in 0..num_readers {
        cdone.recv().await;
    }
}

/// Go: `TestParallelReaders`.
#[test]
fn test_parallel_readers() {
    run(async {
        do_test_parallel_readers(1).await;
        do_test_parallel_readers(3).await;
        do_test_parallel_readers(4).await;
    });
}

async fn reader(
    rwm: Arc<RwMutex<()>>,
    iterations: usize,
    activity: Arc<AtomicI32>,
    cdone: Chan<bool>,
) {
    for _ in 0..iterations {
        let g = rwm.read().await;
        let n = activity.fetch_add(1, Ordering::SeqCst) + 1;
        assert!((1..10000).contains(&n), "wlock({n})");
        std::hint::black_box(0..100).for_each(drop);
        activity.fetch_add(-1, Ordering::SeqCst);
        drop(g);
    }
    cdone.send(true).await;
}

async fn writer(
    rwm: Arc<RwMutex<()>>,
    iterations: usize,
    activity: Arc<AtomicI32>,
    cdone: Chan<bool>,
) {
    for _ in 0..iterations {
        let g = rwm.write().await;
        let n = activity.fetch_add(10000, Ordering::SeqCst) + 10000;
        assert_eq!(n, 10000, "wlock({n})");
        std::hint::black_box(0..100).for_each(drop);
        activity.fetch_add(-10000, Ordering::SeqCst);
        drop(g);
    }
    cdone.send(true).await;
}

async fn hammer_rwmutex(num_readers: usize, iterations: usize) {
    let activity = Arc::new(AtomicI32::new(0));
    let rwm = Arc::new(RwMutex::new(()));
    let cdone = make::<bool>(0);
    go(writer(
        rwm.clone(),
        iterations,
        activity.clone(),
        cdone.clone(),
    ));
    let mut i = 0;
    while i < num_readers / 2 {
        go(reader(
            rwm.clone(),
            iterations,
            activity.clone(),
            cdone.clone(),
        ));
        i += 1;
    }
    go(writer(
        rwm.clone(),
        iterations,
        activity.clone(),
        cdone.clone(),
    ));
    while i < num_readers {
        go(reader(
            rwm.clone(),
            iterations,
            activity.clone(),
            cdone.clone(),
        ));
        i += 1;
    }
    // Wait for the 2 writers and all readers to finish.
    for _ in 0..2 + num_readers {
        cdone.recv().await;
    }
}

/// Go: `TestRWMutex`.
#[test]
fn test_rwmutex() {
    run(async {
        let n = 1000;
        for readers in [1, 3, 10, 5] {
            hammer_rwmutex(readers, n).await;
        }
    });
}

/// A waiting writer blocks new readers, and the readers queued behind it go
/// before the next writer (Go's writer preference, phase by phase).
#[test]
fn writer_preference() {
    run(async {
        let m = Arc::new(RwMutex::new(Vec::<&str>::new()));
        let first_reader = m.read().await;
        let order = make::<&str>(3);
        let writer_queued = make::<()>(0);
        {
            let (m, order) = (m.clone(), order.clone());
            go(async move {
                let mut g = m.write().await;
                g.push("writer");
                order.send("writer").await;
            });
        }
        // Until the writer queues, a new reader may still get in; once it has
        // queued, `try_read` fails. Wait (bounded) for that.
        let mut spins = 0;
        while let Some(r) = m.try_read() {
            drop(r);
            goro::yield_now().await;
            spins += 1;
            assert!(spins < 1_000_000, "the writer never queued");
        }
        drop(writer_queued);
        {
            let (m, order) = (m.clone(), order.clone());
            go(async move {
                let g = m.read().await;
                assert_eq!(
                    *g,
                    ["writer"],
                    "a reader that came after a waiting writer went first"
                );
                order.send("late reader").await;
            });
        }
        drop(first_reader);
        assert_eq!(order.recv().await, Some("writer"));
        assert_eq!(order.recv().await, Some("late reader"));
    });
}
