//! Criterion benches of goroutine creation at Go's scale: spawn+join of
//! 1,000,000 goroutines, and skynet (1,000,000 leaf goroutines summing through
//! unbuffered channels). The side-by-side comparison with Go and tokio is
//! `benches/compare/` (see BENCHMARKS.md); these track goro alone over time.
//!
//! ```text
//! cargo bench --bench goroutines
//! ```

use std::future::Future;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use goro::chan::{self, Chan};
use goro::Runtime;

const N: u64 = 1_000_000;

/// Go: `func skynet(c chan int, num, size, div int)`.
#[allow(clippy::manual_async_fn)] // `+ Send` in the signature lets it spawn itself
fn skynet(c: Chan<u64>, num: u64, size: u64, div: u64) -> impl Future<Output = ()> + Send {
    async move {
        if size == 1 {
            c.send(num).await;
            return;
        }
        let rc = chan::make::<u64>(0);
        for i in 0..div {
            goro::go!(skynet(rc.clone(), num + i * (size / div), size / div, div));
        }
        let mut sum = 0;
        for _ in 0..div {
            sum += rc.recv().await.expect("skynet: channel closed");
        }
        c.send(sum).await;
    }
}

/// Runs `f` `iters` times on `rt` and returns the total time.
fn timed<Fut: Future<Output = ()> + Send + 'static>(
    rt: &Runtime,
    iters: u64,
    f: impl Fn() -> Fut,
) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let fut = f();
        let start = Instant::now();
        rt.block_on(fut).expect("runtime error");
        total += start.elapsed();
    }
    total
}

fn goroutines(c: &mut Criterion) {
    let rt = Runtime::builder().workers(2).build().expect("runtime");
    let mut g = c.benchmark_group("goroutines_workers2");
    g.sample_size(10);
    g.bench_function("spawn_join_1M", |b| {
        b.iter_custom(|iters| {
            timed(&rt, iters, || async {
                let hs: Vec<_> = (0..N).map(|i| goro::go!(async move { i })).collect();
                let mut sum = 0;
                for h in hs {
                    sum += h.await.expect("goroutine failed");
                }
                assert_eq!(sum, N * (N - 1) / 2);
            })
        })
    });
    g.bench_function("skynet_1M", |b| {
        b.iter_custom(|iters| {
            timed(&rt, iters, || async {
                let c = chan::make::<u64>(0);
                goro::go!(skynet(c.clone(), 0, N, 10));
                assert_eq!(c.recv().await, Some(N * (N - 1) / 2));
            })
        })
    });
    g.finish();
}

criterion_group!(benches, goroutines);
criterion_main!(benches);
