//! Regression tests for the runtime findings of the concurrency review
//! (reproducers: review_findings.rs). Each test runs its runtime on a helper
//! thread and waits for it with a timeout, so a regression fails instead of
//! hanging the suite.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use goro::runtime::{PanicPolicy, RuntimeError};

/// Runs `f` on a helper thread; fails the test if it does not finish in
/// `limit`.
fn within<T: Send + 'static>(
    limit: Duration,
    what: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(limit) {
        Ok(v) => v,
        Err(_) => panic!("{what}: did not finish within {limit:?} (hang)"),
    }
}

/// Waits (yielding) until `n` goroutines other than main are parked with
/// wait reason `reason`.
async fn until_parked(n: usize, reason: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let parked = goro::runtime::snapshot()
            .iter()
            .filter(|g| g.id.as_u64() != 1 && g.wait_reason() == reason)
            .count();
        if parked >= n {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "goroutines never parked in {reason}"
        );
        goro::yield_now().await;
    }
}

/// #5: a goroutine woken into the `runnext` slot of a worker whose poll
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

/// #4: two goroutines accepting on one shared listener (Go: several
/// goroutines calling `l.Accept()`) both get a connection.
#[test]
fn two_acceptors_on_one_listener_both_get_a_connection() {
    let got = within(Duration::from_secs(10), "two acceptors", || {
        let rt = goro::Runtime::builder().workers(2).build().unwrap();
        rt.block_on(async {
            let l = Arc::new(goro::net::TcpListener::bind("127.0.0.1:0").await.unwrap());
            let addr = l.local_addr().unwrap();
            let (l1, l2) = (l.clone(), l.clone());
            let a1 = goro::spawn(async move { l1.accept().await.map(|_| ()) });
            let a2 = goro::spawn(async move { l2.accept().await.map(|_| ()) });
            until_parked(2, "IO wait").await;
            let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
            let c = std::thread::spawn(move || {
                let s1 = std::net::TcpStream::connect(addr).unwrap();
                let s2 = std::net::TcpStream::connect(addr).unwrap();
                // Keep both connections open until the acceptors are done.
                let _ = done_rx.recv_timeout(Duration::from_secs(10));
                drop((s1, s2));
            });
            let r = (a1.await.unwrap().is_ok(), a2.await.unwrap().is_ok());
            drop(done_tx);
            c.join().unwrap();
            r
        })
    });
    assert!(
        matches!(got, Ok((true, true))),
        "an acceptor was never woken: {got:?}"
    );
}

/// #7: a `*_blocking` channel call made by a goroutine that has used up its
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

struct Bomb(Arc<AtomicUsize>);
impl Drop for Bomb {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
        panic!("boom in drop");
    }
}

/// Completes at once; its destructor panics.
struct ReadyThenBoom(#[allow(dead_code)] Bomb);
impl std::future::Future for ReadyThenBoom {
    type Output = u32;
    fn poll(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<u32> {
        std::task::Poll::Ready(1)
    }
}

/// #10: a goroutine future whose destructor panics follows PanicPolicy
/// instead of aborting the process: after completing, and when cancelled
/// (dropped unfinished when the runtime stops).
#[test]
fn panicking_goroutine_destructor_follows_panic_policy() {
    let drops = Arc::new(AtomicUsize::new(0));
    let d = drops.clone();
    let (ignore, abort, cancelled) =
        within(Duration::from_secs(20), "destructor panic", move || {
            // Ignore: the JoinHandle sees a panic, the runtime keeps running.
            let rt = goro::Runtime::builder()
                .on_goroutine_panic(PanicPolicy::Ignore)
                .build()
                .unwrap();
            let d2 = d.clone();
            let ignore = rt.block_on(async move {
                let r = goro::spawn(ReadyThenBoom(Bomb(d2))).await;
                (
                    r.as_ref().map_err(|e| e.is_panic()).err(),
                    goro::spawn(async { 5 }).await.unwrap(),
                )
            });
            // Abort (default): the runtime stops with the panic.
            let rt = goro::Runtime::builder().build().unwrap();
            let d3 = d.clone();
            let abort = rt.block_on(async move {
                goro::go!(ReadyThenBoom(Bomb(d3))); // detached
                std::future::pending::<()>().await
            });
            // Cancelled: a goroutine parked forever holding a Bomb is dropped
            // when main returns.
            let rt = goro::Runtime::builder()
                .on_goroutine_panic(PanicPolicy::Ignore)
                .build()
                .unwrap();
            let d4 = d.clone();
            let cancelled = rt.block_on(async move {
                let bomb = Bomb(d4);
                let _g = goro::spawn(async move {
                    let _bomb = bomb;
                    std::future::pending::<()>().await
                });
                until_parked(1, "future wait").await;
                3
            });
            (ignore, abort, cancelled)
        });
    assert_eq!(ignore, Ok((Some(true), 5)));
    assert!(
        matches!(abort, Err(RuntimeError::GoroutinePanic { ref message, .. }) if message == "boom in drop"),
        "{abort:?}"
    );
    assert_eq!(cancelled, Ok(3));
    assert_eq!(drops.load(Ordering::SeqCst), 3);
}

/// #3: a panicking Alarm callback does not unwind through the scheduler.
/// Under Abort, `block_on` returns `RuntimeError::TimerPanic`; the runtime
/// stays usable (no stale main record, core 0 back, driver slot free).
#[test]
fn panicking_alarm_callback_follows_panic_policy() {
    let (first, left, second) = within(Duration::from_secs(20), "alarm panic (Abort)", || {
        let rt = goro::Runtime::builder().workers(1).build().unwrap();
        let first = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            rt.block_on(async {
                let a = goro::time::Alarm::new(|| panic!("alarm callback panicked"));
                a.reset(Duration::from_millis(10));
                // The panic stops the runtime before this sleep ends.
                goro::time::sleep(Duration::from_secs(30)).await;
                drop(a);
            })
        }));
        let left = rt.handle().num_goroutine();
        let second = rt.block_on(async { 2 });
        (first, left, second)
    });
    let first = first.expect("the alarm's panic unwound out of block_on");
    assert!(
        matches!(first, Err(RuntimeError::TimerPanic { ref message, created_at: Some(at) })
            if message == "alarm callback panicked" && at.file().ends_with("review_regressions.rs")),
        "{first:?}"
    );
    assert!(first
        .unwrap_err()
        .to_string()
        .starts_with("panic: alarm callback panicked\n"));
    assert_eq!(left, 0);
    assert_eq!(second, Ok(2));

    // Ignore: the panic is dropped, the alarm (and the runtime) keep working.
    let fired = within(Duration::from_secs(20), "alarm panic (Ignore)", || {
        let rt = goro::Runtime::builder()
            .workers(2)
            .on_goroutine_panic(PanicPolicy::Ignore)
            .build()
            .unwrap();
        rt.block_on(async {
            let n = Arc::new(AtomicUsize::new(0));
            let n2 = n.clone();
            let a = goro::time::Alarm::new(move || {
                if n2.fetch_add(1, Ordering::SeqCst) == 0 {
                    panic!("first firing panics");
                }
            });
            a.reset(Duration::from_millis(5));
            while n.load(Ordering::SeqCst) < 1 {
                goro::time::sleep(Duration::from_millis(5)).await;
            }
            a.reset(Duration::from_millis(5));
            while n.load(Ordering::SeqCst) < 2 {
                goro::time::sleep(Duration::from_millis(5)).await;
            }
            n.load(Ordering::SeqCst)
        })
    });
    assert_eq!(fired, Ok(2));
}

/// #12: goroutines scheduled from outside threads while the runtime stops
/// are never left in the drained injector: once `block_on` has returned and
/// the spawners are done, no goroutine is alive and every future was
/// dropped (a task left in the injector would keep its future, and its
/// registry entry, alive).
#[test]
fn outside_spawns_racing_stop_are_dropped() {
    within(Duration::from_secs(60), "spawn vs stop", || {
        let rt = goro::Runtime::builder().workers(2).build().unwrap();
        struct Counted(Arc<AtomicUsize>);
        impl Drop for Counted {
            fn drop(&mut self) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        for round in 0..200 {
            let made = Arc::new(AtomicUsize::new(0));
            let dropped = Arc::new(AtomicUsize::new(0));
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
            assert_eq!(
                rt.handle().num_goroutine(),
                0,
                "round {round}: goroutines left"
            );
            assert_eq!(
                dropped.load(Ordering::SeqCst),
                made.load(Ordering::SeqCst),
                "round {round}: futures not dropped"
            );
        }
    });
}
