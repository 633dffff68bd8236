//! tokio's task primitives: `spawn` + `JoinHandle`, `JoinSet`, `oneshot`.

use std::future::Future;
use std::sync::atomic::Ordering;

use tokio::task::JoinSet;

use super::async_chan::{yield_until, EXITED, STARTED};
use crate::measure::{current_rss_kib, triangle, Measurement, Stopwatch};

/// Spawn `n` tasks returning their index, keep the `JoinHandle`s, await them.
pub async fn spawn_join(n: u64) -> Measurement {
    let sw = Stopwatch::start();
    let mut handles = Vec::with_capacity(n as usize);
    for i in 0..n {
        handles.push(tokio::spawn(async move { i }));
    }
    let mut sum = 0;
    for h in handles {
        sum += h.await.expect("task panicked");
    }
    let m = sw.stop(n);
    m.expect(sum == triangle(n), || format!("sum={sum}"))
}

/// The same with a `JoinSet` (results in completion order).
pub async fn spawn_join_set(n: u64) -> Measurement {
    let sw = Stopwatch::start();
    let mut set = JoinSet::new();
    for i in 0..n {
        set.spawn(async move { i });
    }
    let mut sum = 0;
    while let Some(r) = set.join_next().await {
        sum += r.expect("task panicked");
    }
    let m = sw.stop(n);
    m.expect(sum == triangle(n), || format!("sum={sum}"))
}

// Not an `async fn`: the explicit `+ Send` lets rustc check the spawn of
// itself inside (an `async fn` would need its own Send-ness to compute it).
#[allow(clippy::manual_async_fn)]
fn skynet_node(num: u64, size: u64, div: u64) -> impl Future<Output = u64> + Send {
    async move {
        if size == 1 {
            return num;
        }
        let sub = size / div;
        let children: Vec<_> = (0..div)
            .map(|i| tokio::spawn(skynet_node(num + i * sub, sub, div)))
            .collect();
        let mut sum = 0;
        for c in children {
            sum += c.await.expect("task panicked");
        }
        sum
    }
}

/// Skynet with results returned through `JoinHandle`s (idiomatic tokio).
pub async fn skynet(leaves: u64) -> Measurement {
    let sw = Stopwatch::start();
    let sum = tokio::spawn(skynet_node(0, leaves, 10))
        .await
        .expect("task panicked");
    let m = sw.stop(1);
    m.expect(sum == triangle(leaves), || format!("sum={sum}"))
}

/// `n` tasks each parked on its own `oneshot` receiver (the senders are held
/// in a Vec, 8 bytes each, counted in the result).
pub async fn parked_oneshot(n: u64) -> Measurement {
    STARTED.store(0, Ordering::Relaxed);
    EXITED.store(0, Ordering::Relaxed);
    let baseline = current_rss_kib();
    let sw = Stopwatch::start();
    let mut senders = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let (tx, rx) = tokio::sync::oneshot::channel::<u64>();
        senders.push(tx);
        tokio::spawn(async move {
            STARTED.fetch_add(1, Ordering::Release);
            let _ = rx.await;
            EXITED.fetch_add(1, Ordering::Release);
        });
    }
    yield_until(&STARTED, n).await;
    let mut m = sw.stop(n);
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let now = current_rss_kib();
    m.bytes_per_task = Some(now.saturating_sub(baseline) as f64 * 1024.0 / n as f64);
    drop(senders);
    yield_until(&EXITED, n).await;
    let exited = EXITED.load(Ordering::Acquire);
    m.expect(exited == n, || format!("exited={exited}"))
}

/// Go-shaped spawn (issue 15): `n` tasks each add their index to a shared
/// sum and count themselves done; the last one wakes main (WaitGroup-style).
pub async fn spawn_wg(n: u64) -> Measurement {
    use std::sync::atomic::AtomicU64;
    use std::sync::Arc;
    struct Group {
        sum: AtomicU64,
        left: AtomicU64,
        done: tokio::sync::Notify,
    }
    let g = Arc::new(Group {
        sum: AtomicU64::new(0),
        left: AtomicU64::new(n),
        done: tokio::sync::Notify::new(),
    });
    let sw = Stopwatch::start();
    for i in 0..n {
        let g = g.clone();
        tokio::spawn(async move {
            g.sum.fetch_add(i, Ordering::Relaxed);
            if g.left.fetch_sub(1, Ordering::AcqRel) == 1 {
                g.done.notify_one();
            }
        });
    }
    while g.left.load(Ordering::Acquire) != 0 {
        g.done.notified().await;
    }
    let m = sw.stop(n);
    let sum = g.sum.load(Ordering::Relaxed);
    m.expect(sum == triangle(n), || format!("sum={sum}"))
}
