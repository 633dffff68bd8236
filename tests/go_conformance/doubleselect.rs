//! Port of `test/chan/doubleselect.go`: a select over four sends must never
//! run two of its cases, so no value arrives twice (and, checked here too,
//! none is lost).
//!
//! Ported: the whole program (the current form, where the sender closes all
//! four channels and a closer goroutine closes the mux channel after the four
//! mux goroutines finish). Changed: 10,000 iterations instead of Go's 100,000
//! (the flag default) to bound the time on a loaded 2-core CI machine in a
//! debug build; `tests/select_race.rs` runs a million races.

use std::collections::HashSet;

use goro::chan::{make, Chan};

use crate::common::{go, run};

const ITERATIONS: u32 = 10_000;

/// Sends a counter to one of four channels per select, then closes them all.
async fn sender(n: u32, c1: Chan<u32>, c2: Chan<u32>, c3: Chan<u32>, c4: Chan<u32>) {
    for i in 0..n {
        goro::select! {
            c1.send(i) => {}
            c2.send(i) => {}
            c3.send(i) => {}
            c4.send(i) => {}
        }
    }
    for c in [&c1, &c2, &c3, &c4] {
        c.close();
    }
}

/// Forwards `input` to `out` until `input` is closed, then reports on `done`.
async fn mux(out: Chan<u32>, input: Chan<u32>, done: Chan<bool>) {
    while let Some(v) = input.recv().await {
        out.send(v).await;
    }
    done.send(true).await;
}

/// Collects the values and fails on a duplicate.
async fn recver(input: Chan<u32>) -> HashSet<u32> {
    let mut seen = HashSet::new();
    while let Some(v) = input.recv().await {
        assert!(seen.insert(v), "got duplicate value: {v}");
    }
    seen
}

#[test]
fn doubleselect() {
    let seen = run(async {
        let cs: Vec<Chan<u32>> = (0..4).map(|_| make(0)).collect();
        let done = make::<bool>(0);
        let cmux = make::<u32>(0);
        go(sender(
            ITERATIONS,
            cs[0].clone(),
            cs[1].clone(),
            cs[2].clone(),
            cs[3].clone(),
        ));
        for c in &cs {
            go(mux(cmux.clone(), c.clone(), done.clone()));
        }
        let closer = {
            let (done, cmux) = (done.clone(), cmux.clone());
            go(async move {
                for _ in 0..4 {
                    done.recv().await;
                }
                cmux.close();
            })
        };
        let seen = recver(cmux).await;
        closer.await;
        seen
    });
    assert_eq!(seen.len(), ITERATIONS as usize, "values were lost");
}
