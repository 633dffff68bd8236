//! The goroutine's random generator behind [`rand_below`](crate::rand_below).
//!
//! # Design
//!
//! wyrand (Wang Yi's 64-bit generator, final v4.2 constants) for the state
//! step and Lemire's nearly-divisionless method for the range: the same
//! draws as `fastrand` 2's `Rng::u32(0..n)` for the same state. A draw is a
//! multiply or two, and the generator state is one `u64` an executor keeps
//! per goroutine (seeded, so `select!` choices are reproducible). Off a
//! scope, a thread-local state seeded from std's random hasher keys.

use std::cell::Cell;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};

/// Advances `state` and returns the next 64 random bits (wyrand).
#[inline]
fn next_u64(state: &Cell<u64>) -> u64 {
    let s = state.get().wrapping_add(0x2D35_8DCC_AA6C_78A5);
    state.set(s);
    let t = u128::from(s) * u128::from(s ^ 0x8BB8_4B93_962E_ACC9);
    (t as u64) ^ ((t >> 64) as u64)
}

/// A uniformly random number in `0..n` from `state` (0 when `n == 0`).
#[inline]
pub(crate) fn below(state: &Cell<u64>, n: u32) -> u32 {
    // Lemire, "Fast Random Integer Generation in an Interval" (2019): the
    // high half of `r * n` is uniform in `0..n` once the low half is
    // outside the biased zone `0..(2^32 mod n)`.
    let mut m = u64::from(next_u64(state) as u32) * u64::from(n);
    if (m as u32) < n {
        let threshold = n.wrapping_neg() % n.max(1);
        while (m as u32) < threshold {
            m = u64::from(next_u64(state) as u32) * u64::from(n);
        }
    }
    (m >> 32) as u32
}

thread_local! {
    /// The generator of code that runs outside a poll scope; 0 until seeded.
    static THREAD_RNG: Cell<u64> = const { Cell::new(0) };
}

/// A draw from this thread's own generator.
pub(crate) fn thread_below(n: u32) -> u32 {
    THREAD_RNG.with(|state| {
        if state.get() == 0 {
            // std seeds `RandomState` keys from the OS once per thread and
            // makes them distinct per call: a random 64-bit seed, std only.
            state.set(RandomState::new().build_hasher().finish() | 1);
        }
        below(state, n)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn below_stays_in_range_and_covers_it() {
        let state = Cell::new(7);
        let mut seen = [false; 5];
        for _ in 0..1000 {
            let v = below(&state, 5);
            assert!(v < 5);
            seen[v as usize] = true;
        }
        assert!(seen.iter().all(|&s| s), "{seen:?}");
        assert_eq!(below(&state, 1), 0);
    }

    #[test]
    fn the_same_seed_gives_the_same_draws() {
        let (a, b) = (Cell::new(42), Cell::new(42));
        let xs: Vec<u32> = (0..32).map(|_| below(&a, 1000)).collect();
        let ys: Vec<u32> = (0..32).map(|_| below(&b, 1000)).collect();
        assert_eq!(xs, ys);
        assert_eq!(a.get(), b.get());
    }

    #[test]
    fn thread_generators_draw_in_range() {
        for _ in 0..100 {
            assert!(thread_below(3) < 3);
        }
    }
}
