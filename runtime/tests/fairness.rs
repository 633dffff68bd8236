//! A goroutine that spins on `yield_now` must not starve the others, and the
//! cooperative budget makes a goroutine that never waits yield.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use goro_runtime::runtime::Runtime;

fn spinner_does_not_starve(workers: usize) {
    let rt = Runtime::builder().workers(workers).build().unwrap();
    rt.block_on(async {
        let stop = Arc::new(AtomicBool::new(false));
        let spins = Arc::new(AtomicU64::new(0));
        let spinners: Vec<_> = (0..workers + 1)
            .map(|_| {
                let (stop, spins) = (stop.clone(), spins.clone());
                goro_runtime::spawn(async move {
                    while !stop.load(Ordering::Relaxed) {
                        spins.fetch_add(1, Ordering::Relaxed);
                        goro_runtime::yield_now().await;
                    }
                })
            })
            .collect();
        // Another goroutine makes progress step by step (each step goes
        // through the scheduler), while the spinners keep spinning.
        let worker = goro_runtime::spawn(async {
            let mut n = 0u32;
            for _ in 0..1000 {
                n += goro_runtime::spawn(async { 1 }).await.unwrap();
                goro_runtime::yield_now().await;
            }
            n
        });
        assert_eq!(worker.await.unwrap(), 1000);
        stop.store(true, Ordering::Relaxed);
        for s in spinners {
            s.await.unwrap();
        }
        assert!(spins.load(Ordering::Relaxed) > 0);
    })
    .unwrap();
}

#[test]
fn yield_spinner_does_not_starve_workers_1() {
    spinner_does_not_starve(1);
}

#[test]
fn yield_spinner_does_not_starve_workers_2() {
    spinner_does_not_starve(2);
}

/// A main goroutine that yields in a loop while goroutines on every worker
/// yield in a loop must not starve the goroutines queued behind them.
/// Before the fix a yielding main was polled between every two tasks of
/// core 0 and a yielding goroutine went to the back of its own worker's
/// queue, so the other worker never ran out of work to steal: 2,000
/// trivial goroutines waited about 9 s (18,000 main iterations) on 2
/// workers. Go's `Gosched` puts the goroutine on the global queue; goro now
/// does the same, and polls a yielding main as if it were there.
fn yielding_main_does_not_starve(workers: usize) {
    const TRIVIAL: u64 = 2000;
    const SPINNERS: u64 = 1000;
    // Go needs a few dozen; the bug needed one per queued task.
    const MAX_MAIN_ITERATIONS: u32 = 500;
    let rt = Runtime::builder().workers(workers).build().unwrap();
    rt.block_on(async {
        let stop = Arc::new(AtomicBool::new(false));
        let done = Arc::new(AtomicU64::new(0));
        let mut handles = Vec::new();
        for i in 0..TRIVIAL + SPINNERS {
            let (stop, done) = (stop.clone(), done.clone());
            handles.push(goro_runtime::spawn(async move {
                if i % 3 == 1 {
                    while !stop.load(Ordering::Relaxed) {
                        goro_runtime::yield_now().await;
                    }
                } else {
                    done.fetch_add(1, Ordering::Relaxed);
                }
            }));
        }
        let guard = std::time::Instant::now();
        let mut iterations = 0u32;
        while done.load(Ordering::Relaxed) < TRIVIAL
            && iterations < MAX_MAIN_ITERATIONS
            && guard.elapsed() < std::time::Duration::from_secs(60)
        {
            iterations += 1;
            // Main computes for a while between yields (a CPU loop, not a
            // sleep: nothing here waits for anything).
            let t = std::time::Instant::now();
            while t.elapsed() < std::time::Duration::from_micros(100) {
                std::hint::spin_loop();
            }
            goro_runtime::yield_now().await;
        }
        let finished = done.load(Ordering::Relaxed);
        stop.store(true, Ordering::Relaxed);
        for h in handles {
            h.await.unwrap();
        }
        assert_eq!(
            finished,
            TRIVIAL,
            "only {finished} of {TRIVIAL} goroutines ran after {iterations} main iterations ({:?})",
            guard.elapsed()
        );
    })
    .unwrap();
}

#[test]
fn yielding_main_does_not_starve_queued_goroutines_workers_1() {
    yielding_main_does_not_starve(1);
}

#[test]
fn yielding_main_does_not_starve_queued_goroutines_workers_2() {
    yielding_main_does_not_starve(2);
}

/// Calls `poll_budget` forever, counting the ready operations it got in its
/// first poll.
struct Greedy {
    ready_in_first_poll: Option<u32>,
    polls: u32,
}

impl Future for Greedy {
    type Output = (u32, u32);
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<(u32, u32)> {
        self.polls += 1;
        let mut n = 0;
        while goro_hook::poll_budget(cx).is_ready() {
            n += 1;
            if n > 10_000 {
                break;
            }
        }
        if self.ready_in_first_poll.is_none() {
            self.ready_in_first_poll = Some(n);
            // Pending: poll_budget woke us, so we are polled again.
            return Poll::Pending;
        }
        Poll::Ready((self.ready_in_first_poll.unwrap(), self.polls))
    }
}

#[test]
fn budget_is_128_ready_operations_per_poll() {
    let (first, polls) = goro_runtime::run(async {
        goro_runtime::spawn(Greedy {
            ready_in_first_poll: None,
            polls: 0,
        })
        .await
        .unwrap()
    });
    assert_eq!(first, 128);
    assert_eq!(polls, 2);
}

#[test]
fn budget_is_unlimited_off_runtime() {
    let waker = futures::task::noop_waker();
    let cx = Context::from_waker(&waker);
    for _ in 0..1000 {
        assert!(goro_hook::poll_budget(&cx).is_ready());
    }
}

#[test]
fn rand_below_is_reproducible_with_a_seed() {
    let draw = |seed| {
        let rt = Runtime::builder()
            .workers(2)
            .rng_seed(seed)
            .build()
            .unwrap();
        rt.block_on(async {
            let main: Vec<u32> = (0..16).map(|_| goro_hook::rand_below(1000)).collect();
            let child = goro_runtime::spawn(async {
                (0..16)
                    .map(|_| goro_hook::rand_below(1000))
                    .collect::<Vec<u32>>()
            })
            .await
            .unwrap();
            (main, child)
        })
        .unwrap()
    };
    let a = draw(42);
    assert_eq!(a, draw(42));
    assert_ne!(a, draw(43));
    assert!(a.0.iter().chain(&a.1).all(|&v| v < 1000));
    assert_ne!(a.0, a.1, "each goroutine has its own sequence");
}

/// A goroutine spawned by one that then spins without awaiting must still
/// run (on another worker): spawning wakes an idle worker, which may steal
/// from the spawner's runnext slot. Bounded by a deadline, not a sleep.
#[test]
fn spawned_goroutine_runs_while_spawner_spins() {
    let rt = Runtime::builder().workers(2).build().unwrap();
    rt.block_on(async {
        let h = goro_runtime::spawn(async {
            let flag = Arc::new(AtomicBool::new(false));
            let f = flag.clone();
            drop(goro_runtime::spawn(async move {
                f.store(true, Ordering::Release)
            }));
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
            while !flag.load(Ordering::Acquire) {
                assert!(
                    std::time::Instant::now() < deadline,
                    "spawned goroutine never ran"
                );
                std::hint::spin_loop();
            }
        });
        h.await.unwrap();
    })
    .unwrap();
}

/// A goroutine woken (over a channel) into the `runnext` slot of a worker
/// whose goroutine then spins without awaiting must run on the other
/// worker, whether that worker was woken for it or was already parked
/// watching the slots (after the first rounds it is: the pair below
/// ping-pongs in between). Bounded by rounds and a deadline, not a sleep.
#[test]
fn woken_goroutine_runs_while_waker_spins_workers_2() {
    woken_goroutine_runs_while_waker_spins(2);
}

/// As above with several idle workers: one watches, the others sleep.
#[test]
fn woken_goroutine_runs_while_waker_spins_workers_4() {
    woken_goroutine_runs_while_waker_spins(4);
}

fn woken_goroutine_runs_while_waker_spins(workers: usize) {
    use futures::channel::mpsc;
    use futures::StreamExt;
    const ROUNDS: u64 = 200;
    let rt = Runtime::builder().workers(workers).build().unwrap();
    rt.block_on(async {
        let (to_echo, mut echo_rx) = mpsc::unbounded::<u64>();
        let (echo_tx, mut back) = mpsc::unbounded::<u64>();
        let seen = Arc::new(AtomicU64::new(0));
        let echo = {
            let seen = seen.clone();
            goro_runtime::spawn(async move {
                while let Some(v) = echo_rx.next().await {
                    seen.store(v, Ordering::Release);
                    // A short ping-pong so that the idle worker parks
                    // watching between the rounds.
                    echo_tx.unbounded_send(v).unwrap();
                }
            })
        };
        let waker = goro_runtime::spawn(async move {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
            for round in 1..=ROUNDS {
                // Wakes `echo` into this worker's `runnext`, then spins
                // until it ran elsewhere.
                to_echo.unbounded_send(round).unwrap();
                while seen.load(Ordering::Acquire) != round {
                    assert!(
                        std::time::Instant::now() < deadline,
                        "woken goroutine never ran (round {round})"
                    );
                    std::hint::spin_loop();
                }
                assert_eq!(back.next().await, Some(round));
            }
        });
        waker.await.unwrap();
        echo.await.unwrap();
    })
    .unwrap();
}
