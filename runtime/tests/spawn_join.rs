//! Spawning and joining many goroutines, from inside goroutines.

use goro_runtime::runtime::Runtime;

/// One million goroutines: 1000 parents, each spawning and joining 1000
/// children, on every worker count the CI machine might pick.
#[test]
fn spawn_one_million_from_goroutines() {
    let rt = Runtime::builder().workers(2).build().unwrap();
    let total = rt
        .block_on(async {
            let parents: Vec<_> = (0..1000u64)
                .map(|p| {
                    goro_runtime::spawn(async move {
                        let kids: Vec<_> = (0..1000u64)
                            .map(|k| goro_runtime::spawn(async move { p * 1000 + k }))
                            .collect();
                        let mut sum = 0u64;
                        for k in kids {
                            sum += k.await.unwrap();
                        }
                        sum
                    })
                })
                .collect();
            let mut total = 0u64;
            for p in parents {
                total += p.await.unwrap();
            }
            total
        })
        .unwrap();
    let n = 1_000_000u64;
    assert_eq!(total, n * (n - 1) / 2);
}

#[test]
fn spawn_join_on_each_worker_count() {
    for w in [1, 2, 3, 4] {
        let rt = Runtime::builder().workers(w).build().unwrap();
        let v = rt
            .block_on(async {
                let hs: Vec<_> = (0..2000u64)
                    .map(|i| goro_runtime::spawn(async move { i }))
                    .collect();
                let mut s = 0;
                for h in hs {
                    s += h.await.unwrap();
                }
                s
            })
            .unwrap();
        assert_eq!(v, 1999 * 2000 / 2, "workers({w})");
    }
}

#[test]
fn handle_spawn_from_outside_without_block_on() {
    // Core 0's dedicated thread runs goroutines while nobody is in block_on,
    // even with a single worker.
    let rt = Runtime::builder().workers(1).build().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let _detached = rt.handle().spawn(async move {
        let inner = goro_runtime::spawn(async { 41 }).await.unwrap();
        tx.send(inner + 1).unwrap();
    });
    assert_eq!(rx.recv().unwrap(), 42);
}

#[test]
fn block_on_twice_restarts() {
    let rt = Runtime::builder().workers(2).build().unwrap();
    for i in 0..3 {
        let v = rt
            .block_on(async move { goro_runtime::spawn(async move { i * 2 }).await.unwrap() })
            .unwrap();
        assert_eq!(v, i * 2);
    }
}

#[test]
fn several_runtimes_at_once() {
    let threads: Vec<_> = (0..4)
        .map(|t| {
            std::thread::spawn(move || {
                for round in 0..5 {
                    let rt = Runtime::builder().workers(2).build().unwrap();
                    let v = rt
                        .block_on(async move {
                            let hs: Vec<_> = (0..100)
                                .map(|i| goro_runtime::spawn(async move { i + t + round }))
                                .collect();
                            let mut s = 0;
                            for h in hs {
                                s += h.await.unwrap();
                            }
                            // Ids are per runtime: main is 1 on every one.
                            assert_eq!(goro_runtime::current_id().unwrap().as_u64(), 1);
                            s
                        })
                        .unwrap();
                    assert_eq!(v, 4950 + 100 * (t + round));
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

#[test]
fn spawn_blocking_returns_and_can_spawn() {
    let v = goro_runtime::run(async {
        goro_runtime::spawn_blocking(|| {
            // The blocking pool belongs to the runtime: spawn works here.
            goro_runtime::spawn(async { 7 })
        })
        .await
        .unwrap()
        .await
        .unwrap()
    });
    assert_eq!(v, 7);
}

#[test]
#[should_panic(expected = "outside a goro runtime")]
fn spawn_outside_runtime_panics() {
    drop(goro_runtime::spawn(async {}));
}
