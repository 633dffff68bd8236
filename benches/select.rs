//! `select!` micro-benchmarks: four always-ready channels, and four mostly
//! idle channels (the fast path past idle cases, and the park/wake path).
//!
//! Go: `BenchmarkSelectUncontended`, `BenchmarkSelectNonblock` and
//! `BenchmarkSelectSyncContended` in `src/runtime/chan_test.go`.
//!
//! Run with `cargo bench --bench select`.

use std::thread;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use goro::chan::{make, Chan};

/// Four buffered channels that always hold a value: every select finds all
/// four cases ready, picks one at random and the value is put back.
fn four_ready(c: &mut Criterion) {
    let cs: Vec<Chan<usize>> = (0..4).map(|_| make(1)).collect();
    for (i, ch) in cs.iter().enumerate() {
        ch.try_send(i).unwrap();
    }
    let mut group = c.benchmark_group("select/4-ready");
    group.bench_function("select!", |b| {
        // One executor call per batch, so only the selects are timed.
        b.iter_custom(|iters| {
            futures::executor::block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    let i = goro::select! {
                        v = cs[0].recv() => v,
                        v = cs[1].recv() => v,
                        v = cs[2].recv() => v,
                        v = cs[3].recv() => v,
                    }
                    .unwrap();
                    cs[i].try_send(i).unwrap();
                }
                start.elapsed()
            })
        })
    });
    group.bench_function("select_blocking!", |b| {
        b.iter(|| {
            let i = goro::select_blocking! {
                v = cs[0].recv() => v,
                v = cs[1].recv() => v,
                v = cs[2].recv() => v,
                v = cs[3].recv() => v,
            }
            .unwrap();
            cs[i].try_send(i).unwrap();
        })
    });
    group.finish();
}

/// Four channels of which three are idle: with one ready (the fast path
/// must look past the idle cases), with none ready and `default`, and with
/// none ready so the select parks until another thread sends on one of them.
fn four_mostly_idle(c: &mut Criterion) {
    let idle: Vec<Chan<usize>> = (0..3).map(|_| make(0)).collect();
    let ready = make::<usize>(1);
    ready.try_send(0).unwrap();
    let mut group = c.benchmark_group("select/4-mostly-idle");
    group.bench_function("one-ready", |b| {
        b.iter(|| {
            let v = goro::select_blocking! {
                v = idle[0] => v,
                v = idle[1] => v,
                v = ready => v,
                v = idle[2] => v,
            };
            ready.try_send(v.unwrap()).unwrap();
        })
    });
    group.bench_function("default", |b| {
        b.iter(|| {
            goro::select_blocking! {
                v = idle[0] => v,
                v = idle[1] => v,
                v = idle[2] => v,
                default => None,
            }
        })
    });
    group.bench_function("park-and-wake", |b| {
        b.iter_custom(|iters| {
            let chans: Vec<Chan<u64>> = (0..4).map(|_| make(0)).collect();
            let feeder = {
                let chans = chans.clone();
                thread::spawn(move || {
                    for i in 0..iters {
                        chans[(i % 4) as usize].send_blocking(i);
                    }
                })
            };
            let start = Instant::now();
            for _ in 0..iters {
                goro::select_blocking! {
                    _ = chans[0] => {}
                    _ = chans[1] => {}
                    _ = chans[2] => {}
                    _ = chans[3] => {}
                }
            }
            let elapsed = start.elapsed();
            feeder.join().unwrap();
            elapsed
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = four_ready, four_mostly_idle
}
criterion_main!(benches);
