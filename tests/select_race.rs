//! Exactly one case of a select commits, under heavy races: no value is lost
//! and none is delivered twice.
//!
//! Go: the property `test/chan/doubleselect.go` and `TestSelectStress` guard,
//! at a larger scale.

mod common;

use std::time::{Duration, Instant};

use goro::chan::{make, Chan};

use common::{go, run};

/// A million select-sends race between two receivers, each of which selects
/// over both channels. Every value must arrive exactly once.
///
/// Bounded: 1,000,000 iterations, or fewer if `TIME_LIMIT` runs out first (a
/// debug build on a loaded 2-core machine); the check then covers the values
/// actually sent, and the count reached is printed.
#[test]
fn million_select_send_races_lose_and_duplicate_nothing() {
    const ITERATIONS: u32 = 1_000_000;
    const TIME_LIMIT: Duration = Duration::from_secs(60);

    let (sent, received) = run(async {
        let a = make::<u32>(0);
        let b = make::<u32>(0);
        let receivers: Vec<_> = (0..2)
            .map(|_| {
                let (a, b) = (a.clone(), b.clone());
                go(async move {
                    let mut got = Vec::new();
                    let (mut a, mut b) = (a, b);
                    let mut open = 2;
                    while open > 0 {
                        goro::select! {
                            v = a.recv() => match v {
                                Some(v) => got.push(v),
                                None => { a = Chan::nil(); open -= 1; }
                            },
                            v = b.recv() => match v {
                                Some(v) => got.push(v),
                                None => { b = Chan::nil(); open -= 1; }
                            },
                        }
                    }
                    got
                })
            })
            .collect();

        let start = Instant::now();
        let mut sent = 0;
        while sent < ITERATIONS {
            goro::select! {
                a.send(sent) => {}
                b.send(sent) => {}
            }
            sent += 1;
            if sent % 4096 == 0 && start.elapsed() > TIME_LIMIT {
                break;
            }
        }
        a.close();
        b.close();
        let mut received = Vec::with_capacity(sent as usize);
        for r in receivers {
            received.extend(r.await);
        }
        (sent, received)
    });

    if sent < ITERATIONS {
        println!("time limit reached after {sent} select-sends");
    }
    assert_eq!(received.len(), sent as usize, "values lost or duplicated");
    let mut seen = vec![false; sent as usize];
    for v in received {
        assert!(
            !std::mem::replace(&mut seen[v as usize], true),
            "duplicate {v}"
        );
    }
}

/// Two producers, one select receiver that disables each channel (sets it to
/// nil) when it is closed: every value exactly once.
#[test]
fn select_receiver_sees_every_value_once() {
    const N: usize = 5_000;
    let received = run(async {
        let c: [Chan<usize>; 2] = [make(0), make(2)];
        for (k, ck) in c.iter().enumerate() {
            let ck = ck.clone();
            go(async move {
                for i in 0..N {
                    ck.send(k * N + i).await;
                }
                ck.close();
            });
        }
        let mut c1 = c.clone();
        let mut got = Vec::new();
        let mut open = 2;
        while open > 0 {
            goro::select! {
                v = c1[0].recv() => match v {
                    Some(v) => got.push(v),
                    None => { c1[0] = Chan::nil(); open -= 1; }
                },
                v = c1[1].recv() => match v {
                    Some(v) => got.push(v),
                    None => { c1[1] = Chan::nil(); open -= 1; }
                },
            }
        }
        got
    });
    let mut sorted = received;
    sorted.sort_unstable();
    assert_eq!(sorted, (0..2 * N).collect::<Vec<_>>());
}
