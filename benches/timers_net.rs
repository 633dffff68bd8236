//! Timer and netpoller benchmarks: 100,000 goroutines sleeping 1 ms at once,
//! and one loopback TCP echo round trip.
//!
//! Go: `BenchmarkSleep` in `src/time/sleep_test.go` (many goroutines in
//! `time.Sleep`), and a `net.Conn` ping-pong like `BenchmarkTCP4OneShot`
//! in `src/net/tcpsock_test.go`.
//!
//! Run with `cargo bench --bench timers_net`.

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use goro::net::{TcpListener, TcpStream};

/// 100,000 goroutines each `sleep(1ms)` at once; the time until all woke.
fn sleep_100k(c: &mut Criterion) {
    let rt = goro::Runtime::builder().build().unwrap();
    let mut group = c.benchmark_group("time");
    group.sample_size(10);
    group.bench_function("100k concurrent sleep(1ms)", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async move {
                let start = Instant::now();
                for _ in 0..iters {
                    let hs: Vec<_> = (0..100_000)
                        .map(|_| goro::spawn(goro::time::sleep(Duration::from_millis(1))))
                        .collect();
                    for h in hs {
                        h.await.unwrap();
                    }
                }
                start.elapsed()
            })
            .unwrap()
        })
    });
    group.finish();
}

/// One 64-byte request and its echo over a loopback connection.
fn echo_round_trip(c: &mut Criterion) {
    let rt = goro::Runtime::builder().build().unwrap();
    let mut group = c.benchmark_group("net");
    group.bench_function("loopback echo round trip (64 B)", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async move {
                let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
                let addr = listener.local_addr().unwrap();
                let server = goro::spawn(async move {
                    let (s, _) = listener.accept().await.unwrap();
                    s.set_nodelay(true).unwrap();
                    let mut buf = [0u8; 64];
                    loop {
                        let mut n = 0;
                        while n < 64 {
                            match s.read(&mut buf[n..]).await.unwrap() {
                                0 => return,
                                k => n += k,
                            }
                        }
                        s.write_all(&buf).await.unwrap();
                    }
                });
                let c = TcpStream::connect(addr).await.unwrap();
                c.set_nodelay(true).unwrap();
                let msg = [7u8; 64];
                let mut back = [0u8; 64];
                let start = Instant::now();
                for _ in 0..iters {
                    c.write_all(&msg).await.unwrap();
                    let mut n = 0;
                    while n < 64 {
                        n += c.read(&mut back[n..]).await.unwrap();
                    }
                }
                let elapsed = start.elapsed();
                c.shutdown(std::net::Shutdown::Write).unwrap();
                server.await.unwrap();
                elapsed
            })
            .unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, sleep_100k, echo_round_trip);
criterion_main!(benches);
