//! Timers, tickers and `after_func` on the goro runtime.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use goro_time::{after, after_func, sleep, Ticker, Timer};

const MS: Duration = Duration::from_millis(1);

#[test]
fn after_func_runs_in_a_goroutine_even_if_dropped() {
    goro_runtime::run(async {
        let ch = goro_chan::make::<Option<goro_runtime::GoroutineId>>(1);
        let tx = ch.sender();
        // The handle is dropped at once: Go's AfterFunc still runs.
        drop(after_func(2 * MS, move || {
            tx.try_send(goro_runtime::current_id()).unwrap();
        }));
        let id = ch.recv().await.unwrap();
        assert!(id.is_some(), "f must run on a goroutine");
        assert_ne!(id, goro_runtime::current_id());
    });
}

#[test]
fn after_func_stop_prevents_and_reset_reschedules() {
    goro_runtime::run(async {
        let count = Arc::new(AtomicUsize::new(0));
        let c = count.clone();
        let done = goro_chan::make::<()>(4);
        let tx = done.sender();
        let t = after_func(5 * MS, move || {
            c.fetch_add(1, Ordering::SeqCst);
            let _ = tx.try_send(());
        });
        assert!(t.stop());
        assert!(!t.stop());
        sleep(15 * MS).await;
        assert_eq!(count.load(Ordering::SeqCst), 0);
        assert!(!t.reset(MS));
        done.recv().await.unwrap();
        assert_eq!(count.load(Ordering::SeqCst), 1);
        assert!(!t.stop());
    });
}

#[test]
fn timers_and_tickers_between_goroutines() {
    goro_runtime::run(async {
        let start = Instant::now();
        let t = Timer::new(3 * MS);
        let tk = Ticker::new(MS);
        let h = goro_runtime::spawn(async move {
            let mut ticks = 0;
            while ticks < 5 {
                tk.c().recv().await.unwrap();
                ticks += 1;
            }
            tk.stop();
            ticks
        });
        let at = t.c().recv().await.unwrap();
        assert!(at >= start + 3 * MS);
        assert_eq!(h.await.unwrap(), 5);
        after(MS).recv().await.unwrap();
    });
}

/// Many goroutines each resetting and stopping their own timer while the
/// driver fires them: after stop returns nothing is received (Go 1.23).
#[test]
fn stop_reset_race_on_runtime() {
    goro_runtime::run(async {
        let hs: Vec<_> = (0..200u64)
            .map(|i| {
                goro_runtime::spawn(async move {
                    let t = Timer::new(Duration::from_micros(i * 13 % 900));
                    for j in 0..20u64 {
                        t.reset(Duration::from_micros((i + j) * 7 % 700));
                        let spin = Instant::now() + Duration::from_micros(j * 31 % 700);
                        while Instant::now() < spin {
                            goro_runtime::yield_now().await;
                        }
                        t.stop();
                        assert!(t.c().try_recv().is_err(), "stale value after stop");
                    }
                    sleep(2 * MS).await;
                    assert!(t.c().try_recv().is_err(), "late value after stop");
                })
            })
            .collect();
        for h in hs {
            h.await.unwrap();
        }
    });
}
