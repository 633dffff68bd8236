//! Ports of the select tests in Go's `src/runtime/chan_test.go`.
//!
//! Ported:
//! - `TestSelectFairness`: two always-ready cases among four; checked with a
//!   chi-square test instead of Go's 10-sigma band (see [`CHI2_CRIT_DF1`]),
//!   plus a stricter variant over four always-ready cases, in both flavours.
//! - `TestSelectStress`: four senders, four receivers, a select sender and a
//!   select receiver over four channels (two unbuffered, cap 2, cap 3), each
//!   select disabling a channel by setting it to nil once it has done `N`
//!   operations on it. `N` is Go's `-short` value.
//! - `TestSelfSelect`, `TestNonblockSelectRace`, `TestNonblockSelectRace2`
//!   (with Go's `-short` iteration count), `TestPseudoRandomSend`,
//!   `TestChanSendInterface`.
//! - `TestSelectDuplicateChannel`: Go sleeps so that goroutine A queues on `c`
//!   before goroutine B; here the two operations are futures polled by hand in
//!   that order, which orders the queue deterministically.
//!
//! Not ported: `TestSelectStackAdjust`, `TestShrinkStackDuringBlockedSend`
//! and `TestNoShrinkStackWhileParking` test Go's stack shrinking, which has no
//! counterpart (a goroutine's state is its future and never moves once
//! pinned). The benchmarks are in `benches/select.rs`.
//!
//! # Reproducibility
//!
//! The fairness tests run the selects on the test thread, seeded with
//! `fastrand::seed(SEED)`: off a goro runtime the engine draws its case order
//! from that thread's generator, so the counts are the same on every run.
//! The significance level is fixed at `1e-6` anyway, so even an unseeded run
//! of a fair select fails only once in a million.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use goro::chan::{make, Chan};

use crate::common::{go, run, yield_now};

/// Seed of the case-order generator for the fairness tests.
const SEED: u64 = 0x60_5E1EC7;
/// Chi-square critical value for 1 degree of freedom at significance 1e-6.
const CHI2_CRIT_DF1: f64 = 23.93;
/// Chi-square critical value for 3 degrees of freedom at significance 1e-6.
const CHI2_CRIT_DF3: f64 = 30.66;

fn chi_square(counts: &[u64]) -> f64 {
    let total: u64 = counts.iter().sum();
    let expected = total as f64 / counts.len() as f64;
    counts
        .iter()
        .map(|&n| (n as f64 - expected).powi(2) / expected)
        .sum()
}

const TRIALS: usize = 10_000;

/// Go's `TestSelectFairness`, with the selecting loop on the test thread
/// (`select_blocking!`) and main's side on another thread.
#[test]
fn select_fairness() {
    let c1 = make::<u8>(TRIALS + 1);
    let c2 = make::<u8>(TRIALS + 1);
    for _ in 0..TRIALS + 1 {
        c1.try_send(1).unwrap();
        c2.try_send(2).unwrap();
    }
    let c3 = make::<u8>(0);
    let c4 = make::<u8>(0);
    let out = make::<u8>(0);
    let done = make::<u8>(0);

    let counter = {
        let (out, done) = (out.clone(), done.clone());
        std::thread::spawn(move || {
            let (mut cnt1, mut cnt2) = (0u64, 0u64);
            for _ in 0..TRIALS {
                match out.recv_blocking() {
                    Some(1) => cnt1 += 1,
                    Some(2) => cnt2 += 1,
                    b => panic!("unexpected value {b:?} on channel"),
                }
            }
            done.close();
            (cnt1, cnt2)
        })
    };

    fastrand::seed(SEED);
    loop {
        let b = goro::select_blocking! {
            b = c3 => b,
            b = c4 => b,
            b = c1 => b,
            b = c2 => b,
        };
        let b = b.expect("c1..c4 are never closed");
        let stop = goro::select_blocking! {
            out.send(b) => false,
            _ = done => true,
        };
        if stop {
            break;
        }
    }
    let (cnt1, cnt2) = counter.join().unwrap();
    let chi2 = chi_square(&[cnt1, cnt2]);
    assert!(
        chi2 <= CHI2_CRIT_DF1,
        "unfair select: in {TRIALS} trials, results were {cnt1}, {cnt2} (chi2 {chi2:.2})"
    );
}

/// Four always-ready cases are chosen uniformly, in both flavours.
#[test]
fn select_fairness_four_ready_cases() {
    const ROUNDS: usize = 40_000;
    let fill = || {
        let cs: Vec<Chan<usize>> = (0..4).map(|_| make(1)).collect();
        for (i, c) in cs.iter().enumerate() {
            c.try_send(i).unwrap();
        }
        cs
    };

    // select_blocking!
    fastrand::seed(SEED);
    let cs = fill();
    let mut counts = [0u64; 4];
    for _ in 0..ROUNDS {
        let i = goro::select_blocking! {
            v = cs[0].recv() => v,
            v = cs[1].recv() => v,
            v = cs[2].recv() => v,
            v = cs[3].recv() => v,
        }
        .unwrap();
        counts[i] += 1;
        cs[i].try_send(i).unwrap();
    }
    let chi2 = chi_square(&counts);
    assert!(
        chi2 <= CHI2_CRIT_DF3,
        "select_blocking! counts {counts:?} (chi2 {chi2:.2})"
    );

    // select!
    fastrand::seed(SEED.wrapping_add(1));
    let cs = fill();
    let counts = futures::executor::block_on(async {
        let mut counts = [0u64; 4];
        for _ in 0..ROUNDS {
            let i = goro::select! {
                v = cs[0].recv() => v,
                v = cs[1].recv() => v,
                v = cs[2].recv() => v,
                v = cs[3].recv() => v,
            }
            .unwrap();
            counts[i] += 1;
            cs[i].send(i).await;
        }
        counts
    });
    let chi2 = chi_square(&counts);
    assert!(
        chi2 <= CHI2_CRIT_DF3,
        "select! counts {counts:?} (chi2 {chi2:.2})"
    );
}

/// Go's `TestSelectStress`.
#[test]
fn select_stress() {
    const N: usize = 10_000;
    run(async {
        let c: [Chan<i32>; 4] = [make(0), make(0), make(2), make(3)];
        let mut tasks = Vec::new();
        for ck in &c {
            let tx = ck.clone();
            tasks.push(go(async move {
                for _ in 0..N {
                    tx.send(0).await;
                }
            }));
            let ck = ck.clone();
            tasks.push(go(async move {
                for _ in 0..N {
                    ck.recv().await;
                }
            }));
        }
        let mut c1 = c.clone();
        tasks.push(go(async move {
            let mut n = [0; 4];
            for _ in 0..4 * N {
                goro::select! {
                    c1[3].send(0) => {
                        n[3] += 1;
                        if n[3] == N { c1[3] = Chan::nil(); }
                    }
                    c1[2].send(0) => {
                        n[2] += 1;
                        if n[2] == N { c1[2] = Chan::nil(); }
                    }
                    c1[0].send(0) => {
                        n[0] += 1;
                        if n[0] == N { c1[0] = Chan::nil(); }
                    }
                    c1[1].send(0) => {
                        n[1] += 1;
                        if n[1] == N { c1[1] = Chan::nil(); }
                    }
                }
            }
        }));
        let mut c1 = c.clone();
        tasks.push(go(async move {
            let mut n = [0; 4];
            for _ in 0..4 * N {
                goro::select! {
                    _ = c1[0].recv() => {
                        n[0] += 1;
                        if n[0] == N { c1[0] = Chan::nil(); }
                    }
                    _ = c1[1].recv() => {
                        n[1] += 1;
                        if n[1] == N { c1[1] = Chan::nil(); }
                    }
                    _ = c1[2].recv() => {
                        n[2] += 1;
                        if n[2] == N { c1[2] = Chan::nil(); }
                    }
                    _ = c1[3].recv() => {
                        n[3] += 1;
                        if n[3] == N { c1[3] = Chan::nil(); }
                    }
                }
            }
        }));
        for t in tasks {
            t.await;
        }
    });
}

/// Go's `TestSelfSelect`: send and receive on the same channel in one select
/// neither crashes nor deadlocks, and (unbuffered) never receives its own value.
#[test]
fn self_select() {
    for cap in [0, 10] {
        run(async move {
            let c = make::<usize>(cap);
            let mut tasks = Vec::new();
            for p in 0..2 {
                let c = c.clone();
                tasks.push(go(async move {
                    for i in 0..1000 {
                        let v = if p == 0 || i % 2 == 0 {
                            goro::select! {
                                c.send(p) => None,
                                v = c.recv() => v,
                            }
                        } else {
                            goro::select! {
                                v = c.recv() => v,
                                c.send(p) => None,
                            }
                        };
                        if cap == 0 && v == Some(p) {
                            panic!("self receive");
                        }
                    }
                }));
            }
            for t in tasks {
                t.await;
            }
        });
    }
}

/// Go's `TestNonblockSelectRace` (`close == false`) and
/// `TestNonblockSelectRace2` (`close == true`): a non-blocking select must see
/// one of its channels ready when main makes `c2` ready before it takes `c1`.
fn nonblock_select_race_with(close: bool) {
    const N: usize = 1000;
    run(async move {
        let done = make::<bool>(1);
        for _ in 0..N {
            let c1 = make::<i32>(1);
            let c2 = make::<i32>(if close { 0 } else { 1 });
            c1.send(1).await;
            {
                let (c1, c2, done) = (c1.clone(), c2.clone(), done.clone());
                go(async move {
                    let ok = goro::select! {
                        _ = c1 => true,
                        _ = c2 => true,
                        default => false,
                    };
                    done.send(ok).await;
                });
            }
            if close {
                c2.close();
            } else {
                c2.send(1).await;
            }
            goro::select! {
                _ = c1 => {}
                default => {}
            }
            assert_eq!(done.recv().await, Some(true), "no chan is ready");
        }
    });
}

#[test]
fn nonblock_select_race() {
    nonblock_select_race_with(false);
}

#[test]
fn nonblock_select_race2() {
    nonblock_select_race_with(true);
}

/// Go's `TestPseudoRandomSend`: two send cases on one channel are chosen
/// pseudo-randomly.
#[test]
fn pseudo_random_send() {
    const N: usize = 100;
    for cap in [0, N] {
        let l = run(async move {
            let c = make::<usize>(cap);
            let receiver = {
                let c = c.clone();
                go(async move {
                    let mut l = Vec::with_capacity(N);
                    for _ in 0..N {
                        yield_now().await;
                        l.push(c.recv().await.unwrap());
                    }
                    l
                })
            };
            for _ in 0..N {
                goro::select! {
                    c.send(1) => {}
                    c.send(0) => {}
                }
            }
            receiver.await
        });
        let n1: usize = l.iter().sum();
        let n0 = N - n1;
        assert!(
            n0 > N / 10 && n1 > N / 10,
            "want pseudorandom, got {n0} zeros and {n1} ones (chan cap {cap})"
        );
    }
}

/// Go's `TestChanSendInterface`: send cases on a full channel with `default`.
#[test]
fn chan_send_interface() {
    #[derive(Debug)]
    struct Mt;
    futures::executor::block_on(async {
        let m = Arc::new(Mt);
        let c = make::<Arc<Mt>>(1);
        c.send(Arc::clone(&m)).await;
        goro::select! {
            c.send(Arc::clone(&m)) => {}
            default => {}
        }
        goro::select! {
            c.send(Arc::clone(&m)) => {}
            c.send(Arc::new(Mt)) => {}
            default => {}
        }
        // The values of the send cases that were not chosen were dropped.
        assert_eq!(Arc::strong_count(&m), 2);
    });
}

/// Go's `TestSelectDuplicateChannel`: a goroutine may be queued on the same
/// channel twice (two cases on `c`); when it wins on another channel it must
/// dequeue itself from `c` without corrupting `c`'s queue.
#[test]
fn select_duplicate_channel() {
    let c = make::<i32>(0);
    let d = make::<i32>(0);
    let mut cx = Context::from_waker(Waker::noop());

    // Goroutine A: queued first on c (twice) and on d.
    let mut a: Pin<Box<dyn Future<Output = Option<i32>>>> = Box::pin(async {
        goro::select! {
            v = c.recv() => v,
            v = c.recv() => v,
            v = d.recv() => v,
        }
    });
    assert!(a.as_mut().poll(&mut cx).is_pending());
    // Goroutine B: queued on c after A.
    let mut b = Box::pin(c.recv());
    assert!(b.as_mut().poll(&mut cx).is_pending());

    // Wake A through d; it dequeues itself from c.
    d.try_send(7).expect("A is waiting on d");
    assert_eq!(a.as_mut().poll(&mut cx), Poll::Ready(Some(7)));
    drop(a);
    // This send used to find A's stale entry in c's queue instead of B.
    c.try_send(8).expect("B is waiting on c");
    assert_eq!(b.as_mut().poll(&mut cx), Poll::Ready(Some(8)));
}
