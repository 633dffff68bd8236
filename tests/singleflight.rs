//! `goro::sync::singleflight`: Go's x/sync behaviour, on a goro runtime, a
//! single-threaded executor, tokio and plain threads.
//!
//! Ports of x/sync's tests are marked with their origin,
//! <https://github.com/golang/sync/blob/master/singleflight/singleflight_test.go>.

use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use futures::executor::LocalPool;
use futures::task::LocalSpawnExt;
use futures::FutureExt;
use goro::chan::make;
use goro::sync::singleflight::Group;

fn assert_send_sync<T: Send + Sync>() {}

#[test]
fn group_is_send_sync() {
    assert_send_sync::<Group<String, Arc<Vec<u8>>>>();
}

/// x/sync: TestDo.
#[test]
fn do_call() {
    let g = Group::<&str, &str>::new();
    let (v, shared) = futures::executor::block_on(g.do_call("key", async { "bar" }));
    assert_eq!((v, shared), ("bar", false));
}

/// x/sync: TestDoErr (the error is part of the value here).
#[test]
fn do_err() {
    let g = Group::<&str, Result<u32, String>>::new();
    let (v, _) =
        futures::executor::block_on(g.do_call("key", async { Err("some error".to_string()) }));
    assert_eq!(v, Err("some error".to_string()));
}

/// x/sync: TestDoDupSuppress. Go sleeps to let the duplicates enter `Do`;
/// a single-threaded executor runs them all until they park instead, so
/// the count is exact: one call, every caller shares it.
#[test]
fn do_dup_suppress() {
    const N: usize = 10;
    let g = Arc::new(Group::<&str, String>::new());
    let calls = Arc::new(AtomicUsize::new(0));
    let c = make::<String>(1);
    let results = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut pool = LocalPool::new();
    for _ in 0..N {
        let (g, calls, c, results) = (g.clone(), calls.clone(), c.clone(), results.clone());
        pool.spawner()
            .spawn_local(async move {
                let r = g
                    .do_call("key", async move {
                        calls.fetch_add(1, Ordering::SeqCst);
                        let v = c.recv().await.unwrap();
                        c.send(v.clone()).await; // pump; make available for any future calls
                        v
                    })
                    .await;
                results.lock().unwrap().push(r);
            })
            .unwrap();
    }
    pool.run_until_stalled();
    c.try_send("bar".to_string()).unwrap();
    pool.run();
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    let results = results.lock().unwrap();
    assert_eq!(results.len(), N);
    assert!(
        results.iter().all(|(v, shared)| v == "bar" && *shared),
        "{results:?}"
    );
}

/// x/sync: TestForget. After `forget`, a new call runs its own function,
/// and a third joins that second call, not the first.
#[test]
fn forget() {
    goro::run(async {
        let g = Arc::new(Group::<&str, u32>::new());
        let first_started = make::<()>(0);
        let unblock_first = make::<()>(0);
        let first_finished = make::<()>(0);
        {
            let (g, s, u, f) = (
                g.clone(),
                first_started.clone(),
                unblock_first.clone(),
                first_finished.clone(),
            );
            goro::go!(async move {
                g.do_call("key", async move {
                    s.close();
                    u.recv().await;
                    f.close();
                    1
                })
                .await
            });
        }
        first_started.recv().await;
        g.forget(&"key");

        let unblock_second = make::<()>(0);
        let u2 = unblock_second.clone();
        let mut second = pin!(g.do_call("key", async move {
            u2.recv().await;
            2
        }));
        assert!(futures::poll!(second.as_mut()).is_pending()); // in flight (Go's DoChan)
        unblock_first.close();
        first_finished.recv().await;

        let mut third = pin!(g.do_call("key", async { 3 }));
        assert!(futures::poll!(third.as_mut()).is_pending()); // joined the second
        unblock_second.close();
        assert_eq!(second.await, (2, true));
        assert_eq!(
            third.await,
            (2, true),
            "we should receive the result produced by the second call"
        );
    });
}

/// x/sync: TestPanicDo. A panicking call is reported to every caller: the
/// one that ran it and the ones that waited for it.
#[test]
fn panic_do() {
    const N: usize = 5;
    let g = Arc::new(Group::<&str, u32>::new());
    let gate = make::<()>(0);
    let panics = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let mut pool = LocalPool::new();
    for _ in 0..N {
        let (g, gate, panics) = (g.clone(), gate.clone(), panics.clone());
        pool.spawner()
            .spawn_local(async move {
                let r = std::panic::AssertUnwindSafe(g.do_call("key", async move {
                    gate.recv().await;
                    panic!("invalid memory address or nil pointer dereference")
                }))
                .catch_unwind()
                .await;
                let payload = r.expect_err("do_call should panic");
                let msg = payload
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap();
                panics.lock().unwrap().push(msg);
            })
            .unwrap();
    }
    pool.run_until_stalled();
    gate.close();
    pool.run();
    let panics = panics.lock().unwrap();
    assert_eq!(panics.len(), N);
    assert!(
        panics
            .iter()
            .all(|m| m == "invalid memory address or nil pointer dereference"),
        "{panics:?}"
    );
    // The key is free again.
    assert_eq!(
        futures::executor::block_on(g.do_call("key", async { 9 })),
        (9, false)
    );
}

/// Cancel safety: a leader dropped mid-call hands the call over: a waiter
/// runs its own future instead of hanging; a dropped waiter changes nothing.
#[test]
fn dropped_leader_hands_over() {
    goro::run(async {
        let g = Group::<u8, u32>::new();
        let mut leader = Box::pin(g.do_call(1, std::future::pending()));
        assert!(futures::poll!(leader.as_mut()).is_pending());
        let mut waiter = pin!(g.do_call(1, async { 7 }));
        assert!(futures::poll!(waiter.as_mut()).is_pending());
        {
            let mut dropped_waiter = pin!(g.do_call(1, async { 8 }));
            assert!(futures::poll!(dropped_waiter.as_mut()).is_pending());
        }
        drop(leader);
        // The waiter retries as leader with its own future.
        assert_eq!(waiter.await, (7, false));
    });
}

#[test]
fn under_tokio() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let g = Arc::new(Group::<u32, u32>::new());
        let gate = make::<()>(0);
        let calls = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        let (g1, gt, c1) = (g.clone(), gate.clone(), calls.clone());
        tasks.push(tokio::spawn(async move {
            g1.do_call(5, async move {
                c1.fetch_add(1, Ordering::SeqCst);
                gt.recv().await;
                25
            })
            .await
        }));
        // Wait (bounded) until the leader is in flight.
        let start = std::time::Instant::now();
        while calls.load(Ordering::SeqCst) == 0 {
            assert!(start.elapsed() < std::time::Duration::from_secs(20));
            tokio::task::yield_now().await;
        }
        for _ in 0..4 {
            let (g, c) = (g.clone(), calls.clone());
            tasks.push(tokio::spawn(async move {
                g.do_call(5, async move {
                    c.fetch_add(1, Ordering::SeqCst);
                    0
                })
                .await
            }));
        }
        // The joiners count themselves in under the lock before parking; a
        // closed gate after they have all parked lets the leader finish.
        // They may also arrive after the leader ended and run their own.
        gate.close();
        for t in tasks {
            let (v, _) = t.await.unwrap();
            assert!(v == 25 || v == 0);
        }
        assert!(calls.load(Ordering::SeqCst) >= 1);
    });
}

#[test]
fn on_plain_threads() {
    let g = Arc::new(Group::<u8, u8>::new());
    let gate = make::<()>(0);
    let started = make::<()>(0);
    let leader = {
        let (g, gate, started) = (g.clone(), gate.clone(), started.clone());
        std::thread::spawn(move || {
            futures::executor::block_on(g.do_call(0, async move {
                started.close();
                gate.recv().await;
                42
            }))
        })
    };
    started.recv_blocking();
    let waiter = {
        let g = g.clone();
        std::thread::spawn(move || futures::executor::block_on(g.do_call(0, async { 0 })))
    };
    // The waiter may or may not have joined before the gate opens; if it
    // joined it shares 42, else it runs its own call (0).
    gate.close();
    assert_eq!(leader.join().unwrap().0, 42);
    let (v, shared) = waiter.join().unwrap();
    assert!(
        (v, shared) == (42, true) || (v, shared) == (0, false),
        "{v} {shared}"
    );
}
