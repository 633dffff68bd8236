//! Timers on the goro runtime: the scheduler's idle worker drives them
//! (no timer or reactor thread).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use goro_runtime::runtime::Runtime;
use goro_time::sleep;

const MS: Duration = Duration::from_millis(1);

/// Names of this process's threads (Linux).
fn thread_names() -> Vec<String> {
    let mut names = Vec::new();
    if let Ok(dir) = std::fs::read_dir("/proc/self/task") {
        for e in dir.flatten() {
            if let Ok(n) = std::fs::read_to_string(e.path().join("comm")) {
                names.push(n.trim().to_string());
            }
        }
    }
    names
}

/// Sleeping on a runtime uses the runtime's own driver: neither goro-hook's
/// fallback timer thread nor the fallback netpoll thread is ever started by
/// this test binary (every test here runs on a runtime).
#[test]
fn sleep_on_runtime_uses_no_timer_thread() {
    goro_runtime::run(async {
        let start = Instant::now();
        sleep(5 * MS).await;
        assert!(start.elapsed() >= 5 * MS);
    });
    assert!(
        !thread_names()
            .iter()
            .any(|n| n == "goro-netpoll" || n == "goro-timer"),
        "a fallback driver thread was started"
    );
}

/// With one worker, the worker itself must block in the reactor with the
/// timer's deadline as its timeout, and come back for it.
#[test]
fn single_worker_parks_in_driver_until_deadline() {
    let rt = Runtime::builder().workers(1).build().unwrap();
    let elapsed = rt
        .block_on(async {
            let start = Instant::now();
            let h = goro_runtime::spawn(async {
                sleep(20 * MS).await;
                7
            });
            assert_eq!(h.await.unwrap(), 7);
            start.elapsed()
        })
        .unwrap();
    assert!(elapsed >= 20 * MS);
    assert!(elapsed < Duration::from_secs(5));
}

/// 100,000 goroutines sleeping at once all wake, none early.
#[test]
fn hundred_thousand_sleeping_goroutines() {
    goro_runtime::run(async {
        let start = Instant::now();
        let done = Arc::new(AtomicUsize::new(0));
        let handles: Vec<_> = (0..100_000u64)
            .map(|i| {
                let done = done.clone();
                goro_runtime::spawn(async move {
                    let d = Duration::from_millis(1 + i % 10);
                    sleep(d).await;
                    assert!(start.elapsed() >= d, "woke early");
                    done.fetch_add(1, Ordering::Relaxed);
                })
            })
            .collect();
        for h in handles {
            h.await.unwrap();
        }
        assert_eq!(done.load(Ordering::Relaxed), 100_000);
        assert!(start.elapsed() < Duration::from_secs(30));
    });
}

/// A sleep at the bottom of many nested spawns.
#[test]
fn sleep_inside_nested_spawns() {
    fn nest(depth: u32) -> std::pin::Pin<Box<dyn std::future::Future<Output = u32> + Send>> {
        Box::pin(async move {
            if depth == 0 {
                sleep(2 * MS).await;
                return 0;
            }
            sleep(Duration::from_micros(100)).await;
            goro_runtime::spawn(nest(depth - 1)).await.unwrap() + 1
        })
    }
    let start = Instant::now();
    let depth = goro_runtime::run(nest(200));
    assert_eq!(depth, 200);
    assert!(start.elapsed() >= 2 * MS);
}

/// A sleeping goroutine shows `[sleep` in the dump, at its call site.
#[test]
fn dump_shows_sleep() {
    goro_runtime::run(async {
        let h = goro_runtime::spawn(async move {
            sleep(Duration::from_secs(3600)).await;
        });
        // Poll the dump until it shows the wait (bounded).
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let dump = goro_runtime::runtime::dump();
            if dump.contains("[sleep") && dump.contains("runtime_time.rs") {
                break;
            }
            assert!(Instant::now() < deadline, "no sleep in dump:\n{dump}");
            goro_runtime::yield_now().await;
        }
        drop(h);
    });
}

/// No lost wakeups between goroutines that sleep and the worker that parks
/// in the driver: rounds of short random sleeps on a 2-worker runtime, many
/// times over; every round must finish (bounded time).
#[test]
fn stress_short_sleeps_no_lost_wakeup() {
    let rt = Runtime::builder().workers(2).build().unwrap();
    let start = Instant::now();
    rt.block_on(async move {
        let mut rng = fastrand::Rng::with_seed(99);
        for _ in 0..200 {
            let hs: Vec<_> = (0..8)
                .map(|_| {
                    let d = Duration::from_micros(rng.u64(0..1500));
                    goro_runtime::spawn(async move {
                        sleep(d).await;
                        sleep(Duration::ZERO).await;
                    })
                })
                .collect();
            for h in hs {
                h.await.unwrap();
            }
            assert!(start.elapsed() < Duration::from_secs(60), "lost wakeup");
        }
    })
    .unwrap();
}
