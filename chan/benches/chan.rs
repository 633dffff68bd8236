//! Channel micro-benchmarks (criterion): `cargo bench -p goro-chan --bench chan`.
//!
//! Goroutines are OS threads here (the goro runtime lives in another crate),
//! so blocking workloads measure thread parking as much as the channel.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use goro_chan::make;
use goro_chan::select::{into_case, select_blocking, BlockingCase, CaseOutput};

fn uncontended(c: &mut Criterion) {
    let mut g = c.benchmark_group("uncontended");
    g.throughput(Throughput::Elements(1));
    let ch = make::<u64>(128);
    g.bench_function("try_send+try_recv cap128", |b| {
        b.iter(|| {
            ch.try_send(black_box(1)).unwrap();
            black_box(ch.try_recv().unwrap());
        })
    });
    g.bench_function("send+recv futures cap128", |b| {
        b.iter(|| {
            futures::executor::block_on(async {
                ch.send(black_box(1)).await;
                black_box(ch.recv().await);
            })
        })
    });
    let a = make::<u64>(1);
    let bb = make::<u64>(1);
    a.try_send(0).unwrap();
    g.bench_function("select 2 cases ready", |b| {
        b.iter(|| {
            let mut c0 = into_case!(&a);
            let mut c1 = into_case!(&bb);
            match select_blocking(&mut [&mut c0 as &mut dyn BlockingCase, &mut c1], false) {
                Some(0) => bb.try_send(c0.take_output().unwrap()).unwrap(),
                _ => a.try_send(c1.take_output().unwrap()).unwrap(),
            }
        })
    });
    g.finish();
}

/// Runs `iters` messages through a `producers` x `consumers` workload on
/// threads and returns the elapsed time.
fn mpmc(cap: usize, producers: usize, consumers: usize, iters: u64) -> Duration {
    let ch = make::<u64>(cap);
    let per_p = iters / producers as u64;
    let total = per_p * producers as u64;
    let per_c = total / consumers as u64;
    let extra = total - per_c * consumers as u64;
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..producers {
            let tx = ch.sender();
            s.spawn(move || {
                for i in 0..per_p {
                    tx.send_blocking(i);
                }
            });
        }
        for k in 0..consumers {
            let rx = ch.receiver();
            let n = per_c + if k == 0 { extra } else { 0 };
            s.spawn(move || {
                for _ in 0..n {
                    black_box(rx.recv_blocking());
                }
            });
        }
    });
    start.elapsed()
}

fn threads(c: &mut Criterion) {
    let mut g = c.benchmark_group("threads");
    g.throughput(Throughput::Elements(1));
    g.sample_size(10);
    g.bench_function("spsc cap1024", |b| {
        b.iter_custom(|n| mpmc(1024, 1, 1, n.max(1)))
    });
    g.bench_function("mpmc 4x4 cap1024", |b| {
        b.iter_custom(|n| mpmc(1024, 4, 4, n.max(16)))
    });
    g.bench_function("ping-pong unbuffered (round trip)", |b| {
        b.iter_custom(|n| {
            let ping = make::<u64>(0);
            let pong = make::<u64>(0);
            std::thread::scope(|s| {
                let (p, q) = (ping.clone(), pong.clone());
                s.spawn(move || {
                    while let Some(v) = p.recv_blocking() {
                        q.send_blocking(v);
                    }
                });
                let start = Instant::now();
                for i in 0..n {
                    ping.send_blocking(i);
                    black_box(pong.recv_blocking());
                }
                let t = start.elapsed();
                ping.close();
                t
            })
        })
    });
    g.finish();
}

fn tokio_rt(c: &mut Criterion) {
    let mut g = c.benchmark_group("tokio");
    g.throughput(Throughput::Elements(1));
    g.sample_size(10);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    g.bench_function("ping-pong unbuffered (round trip)", |b| {
        b.iter_custom(|n| {
            rt.block_on(async move {
                let ping = make::<u64>(0);
                let pong = make::<u64>(0);
                let (p, q) = (ping.clone(), pong.clone());
                let t = tokio::spawn(async move {
                    while let Some(v) = p.recv().await {
                        q.send(v).await;
                    }
                });
                let start = Instant::now();
                for i in 0..n {
                    ping.send(i).await;
                    black_box(pong.recv().await);
                }
                let el = start.elapsed();
                ping.close();
                t.await.unwrap();
                el
            })
        })
    });
    g.bench_function("spsc cap1024", |b| {
        b.iter_custom(|n| {
            rt.block_on(async move {
                let ch = make::<u64>(1024);
                let tx = ch.clone();
                let start = Instant::now();
                let t = tokio::spawn(async move {
                    for i in 0..n {
                        tx.send(i).await;
                    }
                });
                for _ in 0..n {
                    black_box(ch.recv().await);
                }
                t.await.unwrap();
                start.elapsed()
            })
        })
    });
    g.finish();
}

/// Go's `BenchmarkChanNonblocking`: non-blocking receives on an empty
/// channel from two threads at once (the lock-free fast-fail path).
fn nonblocking(c: &mut Criterion) {
    let mut g = c.benchmark_group("nonblocking");
    g.throughput(Throughput::Elements(1));
    g.sample_size(10);
    g.bench_function("try_recv empty, 2 threads", |b| {
        b.iter_custom(|n| {
            let ch = make::<u64>(0);
            let start = Instant::now();
            std::thread::scope(|s| {
                for _ in 0..2 {
                    let ch = &ch;
                    s.spawn(move || {
                        for _ in 0..n / 2 {
                            black_box(ch.try_recv().is_err());
                        }
                    });
                }
            });
            start.elapsed()
        })
    });
    g.finish();
}

criterion_group!(benches, uncontended, threads, tokio_rt, nonblocking);
criterion_main!(benches);
