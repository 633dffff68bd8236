//! A goroutine that blocks its worker thread (a blocking call, a long loop
//! without `.await`) must not stall the goroutines queued behind it: the
//! monitor hands the worker's core to another thread (Go's sysmon retaking
//! a P from an M in a system call). And the runtime must still shut down.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use goro_runtime::runtime::Runtime;

/// Runs `f` on its own thread and fails the test if it does not finish in
/// `limit` (instead of hanging the test binary).
fn within<T: Send + 'static>(
    limit: Duration,
    what: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(limit) {
        Ok(v) => v,
        Err(_) => panic!("{what} did not finish within {limit:?}"),
    }
}

#[test]
fn one_worker_sleeping_goroutine_does_not_stop_a_ticker() {
    let ticks = within(Duration::from_secs(30), "block_on", || {
        let rt = Runtime::builder().workers(1).build().unwrap();
        rt.block_on(async {
            let ticks = Arc::new(AtomicU64::new(0));
            let stop = Arc::new(AtomicBool::new(false));
            let ticker = {
                let (ticks, stop) = (ticks.clone(), stop.clone());
                goro_runtime::spawn(async move {
                    while !stop.load(Ordering::Relaxed) {
                        goro_time::sleep(Duration::from_millis(10)).await;
                        ticks.fetch_add(1, Ordering::Relaxed);
                    }
                })
            };
            // Let the ticker start, so that it waits on its timer while the
            // sleeper holds the only worker.
            goro_runtime::yield_now().await;
            let sleeper = goro_runtime::spawn(async {
                std::thread::sleep(Duration::from_secs(1));
            });
            sleeper.await.unwrap();
            let during = ticks.load(Ordering::Relaxed);
            stop.store(true, Ordering::Relaxed);
            ticker.await.unwrap();
            during
        })
        .unwrap()
    });
    // 100 ticks if the ticker never waits for the sleeper; none if it waits
    // for the whole second. Generous for a loaded machine.
    assert!(ticks >= 20, "the ticker ticked only {ticks} times in 1 s");
}

#[test]
fn queue_of_a_blocked_worker_moves_to_another_thread() {
    // On one worker, a goroutine wakes another (into its worker's `runnext`
    // slot) and then blocks the thread: the woken one must run before the
    // blocking call returns.
    let ran_while_blocked = within(Duration::from_secs(30), "block_on", || {
        let rt = Runtime::builder().workers(1).build().unwrap();
        rt.block_on(async {
            let blocked = Arc::new(AtomicBool::new(true));
            let (tx, rx) = mpsc::channel::<bool>();
            let blocker = {
                let blocked = blocked.clone();
                goro_runtime::spawn(async move {
                    let b = blocked.clone();
                    let woken = goro_runtime::spawn(async move {
                        let _ = tx.send(b.load(Ordering::SeqCst));
                    });
                    // Blocks until the woken goroutine ran (bounded).
                    let seen = rx.recv_timeout(Duration::from_secs(10)).ok();
                    blocked.store(false, Ordering::SeqCst);
                    woken.await.unwrap();
                    seen
                })
            };
            blocker.await.unwrap()
        })
        .unwrap()
    });
    assert_eq!(ran_while_blocked, Some(true));
}

fn shutdown_with_a_stuck_goroutine(workers: usize) {
    let rt = Runtime::builder().workers(workers).build().unwrap();
    let (started_tx, started_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    // Spawned from outside, so it runs on a worker thread (not on the
    // thread inside `block_on`), where it blocks until released.
    let stuck = rt.handle().spawn(async move {
        started_tx.send(()).unwrap();
        let _ = release_rx.recv_timeout(Duration::from_secs(60));
    });
    started_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the blocking goroutine did not start");
    let rt = within(
        Duration::from_secs(20),
        "block_on with a stuck worker",
        move || {
            let v = rt
                .block_on(async {
                    let h = goro_runtime::spawn(async { 20 });
                    h.await.unwrap() + 1
                })
                .unwrap();
            assert_eq!(v, 21);
            rt
        },
    );
    let t = Instant::now();
    within(Duration::from_secs(20), "dropping the runtime", move || {
        drop(rt)
    });
    assert!(t.elapsed() < Duration::from_secs(20));
    release_tx.send(()).unwrap();
    drop(stuck);
}

#[test]
fn shutdown_while_a_goroutine_blocks_its_thread_workers_1() {
    shutdown_with_a_stuck_goroutine(1);
}

#[test]
fn shutdown_while_a_goroutine_blocks_its_thread_workers_2() {
    shutdown_with_a_stuck_goroutine(2);
}

#[test]
fn runtime_restarts_after_a_blocked_thread_came_back() {
    within(Duration::from_secs(30), "two runs", || {
        let rt = Runtime::builder().workers(1).build().unwrap();
        for round in 0..2u64 {
            let v = rt
                .block_on(async move {
                    let sleeper = goro_runtime::spawn(async move {
                        std::thread::sleep(Duration::from_millis(50));
                        round
                    });
                    let other = goro_runtime::spawn(async { 1 });
                    other.await.unwrap() + sleeper.await.unwrap()
                })
                .unwrap();
            assert_eq!(v, round + 1);
        }
    });
}

#[test]
fn one_worker_long_loop_without_await_does_not_stall_a_queued_goroutine() {
    // A goroutine computes (no `.await`, no blocking call) until a goroutine
    // queued behind it on the only worker has run: Go would preempt it
    // after 10 ms; goro gives the queue another thread.
    let ran = within(Duration::from_secs(30), "block_on", || {
        let rt = Runtime::builder().workers(1).build().unwrap();
        rt.block_on(async {
            let flag = Arc::new(AtomicBool::new(false));
            let looper = {
                let flag = flag.clone();
                goro_runtime::spawn(async move {
                    let f = flag.clone();
                    let queued =
                        goro_runtime::spawn(async move { f.store(true, Ordering::SeqCst) });
                    let t = Instant::now();
                    while !flag.load(Ordering::SeqCst) && t.elapsed() < Duration::from_secs(10) {
                        std::hint::spin_loop();
                    }
                    let ran = flag.load(Ordering::SeqCst);
                    queued.await.unwrap();
                    ran
                })
            };
            looper.await.unwrap()
        })
        .unwrap()
    });
    assert!(
        ran,
        "the queued goroutine did not run while the loop went on"
    );
}
