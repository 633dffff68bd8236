//! Liveness of the scheduler under awkward timing: a goroutine woken into a
//! busy worker's `runnext` slot still runs promptly, a `*_blocking` call made
//! after the poll budget is used up returns, and goroutines spawned from
//! outside while the runtime stops are dropped, not stranded. Each test runs
//! its runtime on a helper thread with a deadline (`common::within`), so a
//! regression fails instead of hanging the suite.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod common;

use common::{until_parked, within};

/// A goroutine woken into the `runnext` slot of a worker whose poll
/// then goes on for long (here a blocking call) is run by an idle worker
/// instead of waiting for that poll to end.
#[test]
fn woken_goroutine_does_not_starve_in_runnext_while_other_workers_idle() {
    let latency = within(Duration::from_secs(20), "runnext starvation", || {
        let rt = goro::Runtime::builder().workers(4).build().unwrap();
        rt.block_on(async {
            let ch = goro::chan::make::<Instant>(0);
            let rx = ch.clone();
            let b = goro::spawn(async move { rx.recv().await.unwrap().elapsed() });
            until_parked(1, "chan receive").await;
            let a = goro::spawn(async move {
                // The behaviour under test needs the other workers parked
                // (idle, none searching) when B is woken; A itself is woken
                // by the timer on the worker that fires it.
                goro::time::sleep(Duration::from_millis(100)).await;
                ch.send(Instant::now()).await; // wakes B into this worker's runnext
                std::thread::sleep(Duration::from_secs(2)); // a long poll
            });
            let l = b.await.unwrap();
            a.await.unwrap();
            l
        })
        .unwrap()
    });
    assert!(
        latency < Duration::from_millis(500),
        "B ran {latency:?} after being woken, with 3 idle workers"
    );
}

/// A `*_blocking` channel call made by a goroutine that has used up its
/// poll budget returns (the budget charges only the goroutine's own poll).
#[test]
fn blocking_call_after_budget_exhausted_returns() {
    let v = within(
        Duration::from_secs(10),
        "recv_blocking after budget",
        || {
            goro::run(async move {
                let ch = goro::chan::make::<u32>(1000);
                for i in 0..128 {
                    ch.send(i).await; // ready: each uses one unit of the 128 budget
                }
                let first = ch.recv_blocking(); // must return 0 at once
                                                // Past the budget inside one poll, more blocking calls.
                ch.send_blocking(1000);
                let second = ch.recv_blocking();
                (first, second)
            })
        },
    );
    assert_eq!(v, (Some(0), Some(1)));
}

/// Goroutines scheduled from outside threads while the runtime stops
/// are never left in the drained injector: once `block_on` has returned and
/// the spawners are done, every goroutine is gone and every future was
/// dropped (a task left in the injector would keep its future, and its
/// registry entry, alive).
///
/// One exception, as documented on `Runtime::block_on`: `stop` leaves a
/// worker thread behind when it stays in one goroutine poll for over a
/// millisecond, which a loaded machine's scheduler can cause even for the
/// instant poll here. That goroutine may still be alive when `block_on`
/// returns and is dropped when the poll ends; the test waits for it
/// (bounded), so a leak fails it after 30 s, with the dump.
#[test]
fn outside_spawns_racing_stop_are_dropped() {
    within(Duration::from_secs(60), "spawn vs stop", || {
        let rt = goro::Runtime::builder().workers(2).build().unwrap();
        let dropped = Arc::new(Dropped::default());
        struct Counted(Arc<Dropped>);
        impl Drop for Counted {
            fn drop(&mut self) {
                *self.0.count.lock().unwrap() += 1;
                self.0.cvar.notify_all();
            }
        }
        for round in 0..200 {
            let made = Arc::new(AtomicUsize::new(0));
            *dropped.count.lock().unwrap() = 0;
            let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let spawners: Vec<_> = (0..2)
                .map(|_| {
                    let (h, made, dropped, stop) = (
                        rt.handle().clone(),
                        made.clone(),
                        dropped.clone(),
                        stop.clone(),
                    );
                    std::thread::spawn(move || {
                        while !stop.load(Ordering::SeqCst) {
                            let c = Counted(dropped.clone());
                            made.fetch_add(1, Ordering::SeqCst);
                            drop(h.spawn(async move {
                                let _c = c;
                                std::future::pending::<()>().await
                            }));
                        }
                    })
                })
                .collect();
            rt.block_on(async {
                for _ in 0..(round % 4) {
                    goro::yield_now().await;
                }
            })
            .unwrap();
            stop.store(true, Ordering::SeqCst);
            for s in spawners {
                s.join().unwrap();
            }
            // A goroutine still alive now is one a thread `stop` left
            // behind in a poll has yet to drop; every other one is gone
            // (one left in a queue or parked would keep its future).
            let dump = rt.handle().dump();
            let made = made.load(Ordering::SeqCst);
            let count = dropped.count.lock().unwrap();
            let (count, timeout) = dropped
                .cvar
                .wait_timeout_while(count, Duration::from_secs(30), |c| *c < made)
                .unwrap();
            assert!(
                !timeout.timed_out(),
                "round {round}: {} of {made} futures not dropped:\n{dump}",
                made - *count
            );
            drop(count);
            // The future is dropped just before its record leaves the
            // registry, on the same thread: a short, bounded wait.
            let deadline = Instant::now() + Duration::from_secs(30);
            while rt.handle().num_goroutine() != 0 {
                assert!(
                    Instant::now() < deadline,
                    "round {round}: goroutines left:\n{}",
                    rt.handle().dump()
                );
                std::thread::yield_now();
            }
        }
    });
}

/// Counts dropped futures; the test waits on `cvar` for the count.
#[derive(Default)]
struct Dropped {
    count: std::sync::Mutex<usize>,
    cvar: std::sync::Condvar,
}
