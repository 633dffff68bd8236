//! Uniform choice among ready cases on the goro runtime, and its
//! reproducibility with `Builder::rng_seed`.
//!
//! Go: `TestSelectFairness` in `src/runtime/chan_test.go` (ported with Go's
//! shape in `tests/go_conformance/chan_test.rs`); Go has no seed, goro's
//! `rng_seed` is an addition.
//!
//! The significance level of the chi-square tests is fixed at 1e-6 (critical
//! value 30.66 for 3 degrees of freedom), and the runtime is seeded, so the
//! outcome is the same on every run.

mod common;

use goro::chan::{make, Chan};

use common::run_seeded;

const SEED: u64 = 0x5E1EC7;
/// Chi-square critical value for 3 degrees of freedom at significance 1e-6.
const CHI2_CRIT_DF3: f64 = 30.66;

/// Runs `rounds` selects over four always-ready channels on the main
/// goroutine of a runtime seeded with `seed`; returns the chosen indices.
fn choices(seed: u64, rounds: usize) -> Vec<usize> {
    run_seeded(Some(seed), async move {
        let cs: Vec<Chan<usize>> = (0..4).map(|_| make(1)).collect();
        for (i, c) in cs.iter().enumerate() {
            c.send(i).await;
        }
        let mut out = Vec::with_capacity(rounds);
        for _ in 0..rounds {
            let i = goro::select! {
                v = cs[0] => v,
                v = cs[1] => v,
                v = cs[2] => v,
                v = cs[3] => v,
            }
            .unwrap();
            out.push(i);
            cs[i].send(i).await;
        }
        out
    })
}

#[test]
fn the_same_seed_gives_the_same_choices() {
    let a = choices(SEED, 500);
    let b = choices(SEED, 500);
    assert_eq!(a, b, "rng_seed did not make select reproducible");
    let c = choices(SEED + 1, 500);
    assert_ne!(a, c, "different seeds gave the same 500 choices");
}

#[test]
fn ready_cases_are_chosen_uniformly() {
    const ROUNDS: usize = 40_000;
    let mut counts = [0u64; 4];
    for i in choices(SEED, ROUNDS) {
        counts[i] += 1;
    }
    let expected = ROUNDS as f64 / 4.0;
    let chi2: f64 = counts
        .iter()
        .map(|&n| (n as f64 - expected).powi(2) / expected)
        .sum();
    assert!(chi2 <= CHI2_CRIT_DF3, "counts {counts:?} (chi2 {chi2:.2})");
}
