//! Scheduler micro-benchmarks: spawn+join, yield, and a wake ping-pong
//! between two goroutines (the runnext path).
//!
//! `cargo bench -p goro-runtime --bench scheduler`
//!
//! Each sample runs inside one `block_on` (`iter_custom`), because
//! `block_on` stops the runtime when its main goroutine returns.

#![allow(missing_docs)]

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use futures::channel::mpsc;
use futures::{SinkExt, StreamExt};
use goro_runtime::runtime::Runtime;

fn timed<F, Fut>(rt: &Runtime, iters: u64, f: F) -> Duration
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    rt.block_on(async {
        let start = Instant::now();
        for _ in 0..iters {
            f().await;
        }
        start.elapsed()
    })
    .unwrap()
}

fn spawn_join(c: &mut Criterion) {
    let mut g = c.benchmark_group("spawn_join");
    g.throughput(Throughput::Elements(1000));
    for workers in [1, 2] {
        let rt = Runtime::builder().workers(workers).build().unwrap();
        g.bench_function(format!("1000 goroutines, workers({workers})"), |b| {
            b.iter_custom(|iters| {
                timed(&rt, iters, || async {
                    let hs: Vec<_> = (0..1000u64)
                        .map(|i| goro_runtime::spawn(async move { i }))
                        .collect();
                    let mut s = 0;
                    for h in hs {
                        s += h.await.unwrap();
                    }
                    assert_eq!(s, 999 * 500);
                })
            })
        });
    }
    g.finish();
}

fn yield_loop(c: &mut Criterion) {
    let mut g = c.benchmark_group("yield");
    g.throughput(Throughput::Elements(1000));
    let rt = Runtime::builder().workers(1).build().unwrap();
    g.bench_function("1000 yield_now", |b| {
        b.iter_custom(|iters| {
            timed(&rt, iters, || async {
                for _ in 0..1000 {
                    goro_runtime::yield_now().await;
                }
            })
        })
    });
    g.finish();
}

fn ping_pong(c: &mut Criterion) {
    let mut g = c.benchmark_group("ping_pong");
    const ROUNDS: u64 = 1000;
    g.throughput(Throughput::Elements(ROUNDS));
    for workers in [1, 2] {
        let rt = Runtime::builder().workers(workers).build().unwrap();
        g.bench_function(format!("1000 round trips, workers({workers})"), |b| {
            b.iter_custom(|iters| {
                timed(&rt, iters, || async {
                    let (mut ping_tx, mut ping_rx) = mpsc::channel::<u64>(0);
                    let (mut pong_tx, mut pong_rx) = mpsc::channel::<u64>(0);
                    let echo = goro_runtime::spawn(async move {
                        while let Some(v) = ping_rx.next().await {
                            pong_tx.send(v).await.unwrap();
                        }
                    });
                    for i in 0..ROUNDS {
                        ping_tx.send(i).await.unwrap();
                        assert_eq!(pong_rx.next().await, Some(i));
                    }
                    drop(ping_tx);
                    echo.await.unwrap();
                })
            })
        });
    }
    g.finish();
}

criterion_group!(benches, spawn_join, yield_loop, ping_pong);
criterion_main!(benches);
