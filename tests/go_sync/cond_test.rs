//! Ports from Go's `src/sync/cond_test.go`.
//!
//! Ported: `TestCondSignal`, `TestCondSignalGenerations`, `TestCondBroadcast`,
//! `TestRace` (three goroutines passing a counter through a Cond).
//! Not ported: `TestCondSignalStealing` (it relies on Go's `Cond.L` being
//! locked by a non-waiter while signalled; covered by the FIFO tests),
//! `TestCondCopy` (a `Cond` cannot be copied in Rust).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use goro::chan::make;
use goro::sync::{Cond, Mutex};

use crate::common::{go, run};

/// Go: `TestCondSignal`.
#[test]
fn test_cond_signal() {
    run(async {
        let mc = Arc::new((Mutex::new(()), Cond::new()));
        let mut n = 2;
        let running = make::<bool>(n);
        let awake = make::<bool>(n);
        for _ in 0..n {
            let (mc, running, awake) = (mc.clone(), running.clone(), awake.clone());
            go(async move {
                let g = mc.0.lock().await;
                running.send(true).await;
                let g = mc.1.wait(g).await;
                awake.send(true).await;
                drop(g);
            });
        }
        for _ in 0..n {
            running.recv().await; // Wait for everyone to run.
        }
        while n > 0 {
            assert!(awake.try_recv().is_err(), "goroutine not asleep");
            let g = mc.0.lock().await;
            mc.1.signal();
            drop(g);
            awake.recv().await; // Will deadlock if no goroutine wakes up
            assert!(awake.try_recv().is_err(), "too many goroutines awake");
            n -= 1;
        }
        mc.1.signal();
    });
}

/// Go: `TestCondSignalGenerations`: signals wake waiters in FIFO order.
#[test]
fn test_cond_signal_generations() {
    run(async {
        let mc = Arc::new((Mutex::new(()), Cond::new()));
        let n = 100;
        let running = make::<bool>(n);
        let awake = make::<usize>(n);
        for i in 0..n {
            {
                let (mc, running, awake) = (mc.clone(), running.clone(), awake.clone());
                go(async move {
                    let g = mc.0.lock().await;
                    running.send(true).await;
                    let g = mc.1.wait(g).await;
                    awake.send(i).await;
                    drop(g);
                });
            }
            if i > 0 {
                let a = awake.recv().await.unwrap();
                assert_eq!(a, i - 1, "wrong goroutine woke up");
            }
            running.recv().await;
            let g = mc.0.lock().await;
            mc.1.signal();
            drop(g);
        }
    });
}

/// Go: `TestCondBroadcast`.
#[test]
fn test_cond_broadcast() {
    run(async {
        let mc = Arc::new((Mutex::new(false), Cond::new()));
        let n = 200;
        let running = make::<usize>(n);
        let awake = make::<usize>(n);
        for g in 0..n {
            let (mc, running, awake) = (mc.clone(), running.clone(), awake.clone());
            go(async move {
                let mut exit = mc.0.lock().await;
                while !*exit {
                    running.send(g).await;
                    exit = mc.1.wait(exit).await;
                    awake.send(g).await;
                }
            });
        }
        for i in 0..n {
            for _ in 0..n {
                running.recv().await; // Will deadlock unless n are running.
            }
            if i == n - 1 {
                *mc.0.lock().await = true;
            }
            assert!(awake.try_recv().is_err(), "goroutine not asleep");
            let g = mc.0.lock().await;
            mc.1.broadcast();
            drop(g);
            let mut seen = vec![false; n];
            for _ in 0..n {
                let g = awake.recv().await.unwrap();
                assert!(!seen[g], "goroutine woke up twice");
                seen[g] = true;
            }
        }
        assert!(running.try_recv().is_err(), "goroutine did not exit");
        mc.1.broadcast();
    });
}

/// Go: `TestRace`: a counter passed around three goroutines via a Cond.
#[test]
fn test_race() {
    run(async {
        let mc = Arc::new((Mutex::new(0), Cond::new()));
        let done = make::<bool>(0);
        let stage1 = Arc::new(AtomicBool::new(false));
        for me in 0..3 {
            let (mc, done, _stage1) = (mc.clone(), done.clone(), stage1.clone());
            go(async move {
                let mut x = mc.0.lock().await;
                // Each goroutine waits for its turn `me`, bumps, and broadcasts.
                for _ in 0..100 {
                    while *x % 3 != me {
                        x = mc.1.wait(x).await;
                    }
                    *x += 1;
                    mc.1.broadcast();
                }
                drop(x);
                done.send(true).await;
            });
        }
        for _ in 0..3 {
            done.recv().await;
        }
        stage1.store(true, Ordering::SeqCst);
        assert_eq!(*mc.0.lock().await, 300);
    });
}
