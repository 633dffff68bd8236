//! Do CPU-bound goroutines spread over the workers? Runs the same work on a
//! 1-worker and a 2-worker runtime and prints both wall times.
//!
//! Each of N goroutines computes for a while, then yields (`yield_now`) or
//! does a channel round trip, many times over. Go spreads such goroutines
//! over its Ps; goro's workers steal a short local queue only when its owner
//! does not drain it (`runtime/src/scheduler/worker.rs`, `may_steal`), so
//! this is the check that goroutines which only talk to each other stay on
//! one core while independent work still uses every core.
//!
//! ```text
//! cargo run --release --example spread
//! ```
//!
//! On 2 free cores the long-slice rows run about 2x faster on 2 workers.

use std::time::Instant;

/// Total compute per row, in iterations of the inner loop.
const WORK: u64 = 320_000_000;

/// Runs `goroutines` goroutines, each computing `slice` iterations between
/// two pauses (a `yield_now`, or a send and a receive on its own channel),
/// on a runtime of `workers` workers; returns the wall time in ms.
fn run(workers: usize, goroutines: u64, slice: u64, chan: bool) -> f64 {
    let rt = goro::Runtime::builder()
        .workers(workers)
        .build()
        .expect("runtime");
    let start = Instant::now();
    rt.block_on(async move {
        let wg = goro::sync::WaitGroup::new();
        let rounds = WORK / slice / goroutines;
        for g in 0..goroutines {
            wg.go(async move {
                let mut x = g + 1;
                let ch = goro::chan::make::<u64>(1);
                for _ in 0..rounds {
                    for _ in 0..slice {
                        x = std::hint::black_box(
                            x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1),
                        );
                    }
                    if chan {
                        ch.send(x).await;
                        let _ = ch.recv().await;
                    } else {
                        goro::yield_now().await;
                    }
                }
                std::hint::black_box(x);
            });
        }
        wg.wait().await;
    })
    .expect("block_on");
    start.elapsed().as_secs_f64() * 1e3
}

fn main() {
    println!("goroutines  slice (iterations)  pause      1 worker   2 workers  speedup");
    for (goroutines, slice, chan) in [
        (2, 20_000, false),
        (8, 20_000, false),
        (8, 2_000, false),
        (4, 200, false),
        (8, 20_000, true),
    ] {
        let one = run(1, goroutines, slice, chan);
        let two = run(2, goroutines, slice, chan);
        let pause = if chan { "chan" } else { "yield_now" };
        println!(
            "{goroutines:>10}  {slice:>18}  {pause:<9} {one:>7.0} ms  {two:>7.0} ms  {:>6.2}",
            one / two
        );
    }
}
