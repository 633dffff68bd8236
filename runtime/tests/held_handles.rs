//! A held `JoinHandle` keeps its goroutine's result, not the finished
//! goroutine: the goroutine's task cell (its future's memory, its record)
//! is freed once it finishes, whoever holds the handle. Checked with a
//! counting global allocator: its own test binary.

use goro_runtime::runtime::Runtime;

#[path = "support/counting_alloc.rs"]
mod counting_alloc;

use counting_alloc::LIVE;
use std::sync::atomic::Ordering;

/// Goroutines whose futures hold 4 KiB across an await.
fn spawn_big(n: usize) -> Vec<goro_runtime::JoinHandle<usize>> {
    (0..n)
        .map(|i| {
            goro_runtime::spawn(async move {
                let big = [i as u8; 4096];
                goro_runtime::yield_now().await;
                std::hint::black_box(&big);
                i
            })
        })
        .collect()
}

/// Spawns and joins trivial goroutines: each registry shard sweeps its
/// finished goroutines on a later spawn into it, which frees their cells.
async fn sweep() {
    let hs: Vec<_> = (0..4096).map(|_| goro_runtime::spawn(async {})).collect();
    for h in hs {
        h.await.unwrap();
    }
}

#[test]
fn finished_goroutines_are_freed_while_their_handles_are_held() {
    const N: usize = 10_000;
    let rt = Runtime::builder().workers(2).build().unwrap();
    rt.block_on(async {
        // Warm up: the join slots' pool, the registry's tables, the queues.
        for h in spawn_big(N) {
            h.await.unwrap();
        }
        sweep().await;
        let before = LIVE.load(Ordering::SeqCst);
        let handles = spawn_big(N);
        while !handles.iter().all(goro_runtime::JoinHandle::is_finished) {
            goro_runtime::yield_now().await;
        }
        sweep().await;
        let held = LIVE.load(Ordering::SeqCst) - before;
        // What stays per handle: the handle (16 bytes, in the vector) and
        // its result's slot (16 bytes, from a pool that may carve a few
        // blocks). Each finished goroutine's cell, had it stayed, would be
        // over 4 KiB: 40 MB for these.
        assert!(
            held < (N * 512) as isize,
            "{held} bytes held for {N} finished goroutines whose handles are held"
        );
        let mut sum = 0;
        for h in handles {
            sum += h.await.unwrap();
        }
        assert_eq!(sum, N * (N - 1) / 2);
    })
    .unwrap();
}
