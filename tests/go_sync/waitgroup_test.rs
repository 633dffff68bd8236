//! Ports from Go's `src/sync/waitgroup_test.go`.
//!
//! Ported: `TestWaitGroup`, `TestWaitGroupMisuse`, `TestWaitGroupRace`,
//! `TestWaitGroupGo`. Not ported: `TestWaitGroupAlign` (Go's 64-bit atomic
//! alignment on 32-bit platforms; Rust aligns `AtomicU64`).

use std::sync::atomic::{AtomicI32, AtomicI64, Ordering};
use std::sync::Arc;

use goro::chan::make;
use goro::sync::WaitGroup;

use crate::common::{go, panic_message, run};

async fn test_waitgroup(wg1: &WaitGroup, wg2: &WaitGroup) {
    let n = 16;
    wg1.add(n);
    wg2.add(n);
    let exited = make::<bool>(n as usize);
    for _ in 0..n {
        let (wg1, wg2, exited) = (wg1.clone(), wg2.clone(), exited.clone());
        go(async move {
            wg1.done();
            wg2.wait().await;
            exited.send(true).await;
        });
    }
    wg1.wait().await;
    for _ in 0..n {
        assert!(
            exited.try_recv().is_err(),
            "WaitGroup released group too soon"
        );
        wg2.done();
    }
    for _ in 0..n {
        exited.recv().await; // Will block if barrier fails to unlock someone.
    }
}

/// Go: `TestWaitGroup` (the same groups 8 times: they must be reusable).
#[test]
fn test_wait_group() {
    run(async {
        let (wg1, wg2) = (WaitGroup::new(), WaitGroup::new());
        for _ in 0..8 {
            test_waitgroup(&wg1, &wg2).await;
        }
    });
}

/// Go: `TestWaitGroupMisuse`.
#[test]
fn test_wait_group_misuse() {
    let wg = WaitGroup::new();
    wg.add(1);
    wg.done();
    assert_eq!(
        panic_message(|| wg.done()).as_deref(),
        Some("sync: negative WaitGroup counter")
    );
}

/// Go: `TestWaitGroupRace`.
#[test]
fn test_wait_group_race() {
    run(async {
        for _ in 0..1000 {
            let wg = WaitGroup::new();
            let n = Arc::new(AtomicI32::new(0));
            for _ in 0..2 {
                wg.add(1);
                let (wg, n) = (wg.clone(), n.clone());
                go(async move {
                    n.fetch_add(1, Ordering::SeqCst);
                    wg.done();
                });
            }
            wg.wait().await;
            assert_eq!(n.load(Ordering::SeqCst), 2, "Spurious wakeup from Wait");
        }
    });
}

/// Go: `TestWaitGroupGo` (Go 1.25's `wg.Go`).
#[test]
fn test_wait_group_go() {
    run(async {
        let wg = WaitGroup::new();
        let i = Arc::new(AtomicI64::new(0));
        for _ in 0..1000 {
            let i = i.clone();
            wg.go(async move {
                i.fetch_add(1, Ordering::SeqCst);
            });
        }
        wg.wait().await;
        assert_eq!(i.load(Ordering::SeqCst), 1000);
    });
}
