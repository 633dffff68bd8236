//! The random order in which a select looks at its cases (Go's
//! `pollorder`), drawn lazily.
//!
//! Go: `selectgo` shuffles all cases (`cheaprandn` per case) before it looks
//! at any of them.
//!
//! # Design
//!
//! A forward Fisher-Yates shuffle, one step per [`Order::next`]: step `k`
//! swaps a uniformly random one of the cases not yet taken into place `k`.
//! A select whose first look finds a ready case draws one step only.
//!
//! For up to [`FACT_MAX`] cases the random digits of every step come from a
//! single draw `r` uniform in `0..n!`, read in mixed radix (`n`, `n - 1`,
//! ..., `1`): step `k` uses `r mod (n - k)` and divides `r` by `n - k`. The
//! map from `0..n!` to the digit sequences is a bijection, so each digit is
//! uniform and independent of the others: the order is an exactly uniform
//! permutation, for one call to the goroutine's generator instead of `n`.
//! Larger selects draw each step separately.
//!
//! Under loom every execution must be deterministic, so every step takes the
//! last remaining case, which makes the order: the last case first, then
//! the others in source order (the uniformity of the real order is tested
//! without loom).
//!
//! # Invariants
//!
//! - The permutation (`small[..n]`, or `large` beyond [`INLINE_CASES`]
//!   cases) holds `0..n`; its first `k` places are the order so far, the
//!   rest the cases not yet taken.
//! - With `digits: Some(r)`, `r` is uniform in `0..(n - k)!`.

#[cfg(not(goro_loom))]
use goro_hook as hook;

use super::inline_vec::INLINE_CASES;

/// Largest case count whose whole order comes from one draw (`12! < 2^32`).
#[cfg_attr(goro_loom, allow(dead_code))]
const FACT_MAX: usize = 12;

/// `FACT[n] == n!` for `n <= FACT_MAX`.
#[cfg_attr(goro_loom, allow(dead_code))]
const FACT: [u32; FACT_MAX + 1] = {
    let mut f = [1u32; FACT_MAX + 1];
    let mut i = 1;
    while i <= FACT_MAX {
        f[i] = f[i - 1] * i as u32;
        i += 1;
    }
    f
};

/// `RECIP[m] == floor((2^64 - 1) / m) + 1` for `2 <= m <= FACT_MAX`: the
/// constants of Lemire, Kaser and Kurz's exact division and remainder of
/// 32-bit numbers by multiplication ("Faster Remainder by Direct
/// Computation", 2019). The digits are read on every select, and a `div`
/// instruction is a long link in its dependent chain.
const RECIP: [u64; FACT_MAX + 1] = {
    let mut c = [0u64; FACT_MAX + 1];
    let mut m = 2;
    while m <= FACT_MAX {
        c[m] = u64::MAX / m as u64 + 1;
        m += 1;
    }
    c
};

/// `(r / m, r % m)` for `1 <= m <= FACT_MAX`, by multiplication ([`RECIP`]).
#[inline]
fn div_rem(r: u32, m: u32) -> (u32, u32) {
    if m == 1 {
        return (r, 0);
    }
    let c = RECIP[m as usize];
    let q = ((u128::from(c) * u128::from(r)) >> 64) as u32;
    let d = ((u128::from(c.wrapping_mul(u64::from(r))) * u128::from(m)) >> 64) as u32;
    (q, d)
}

/// `0..INLINE_CASES` in order.
const IDENTITY: [u8; INLINE_CASES] = {
    let mut p = [0u8; INLINE_CASES];
    let mut i = 0;
    while i < INLINE_CASES {
        p[i] = i as u8;
        i += 1;
    }
    p
};

/// A uniformly random order of `0..n`, drawn step by step (see the module docs).
pub(crate) struct Order {
    /// The permutation when `n <= INLINE_CASES` (a select up to that size
    /// allocates nothing; bytes keep the order cheap to build and move).
    small: [u8; INLINE_CASES],
    /// The permutation of a larger select.
    large: Option<Box<[u32]>>,
    /// The number of cases.
    n: usize,
    /// How many places are fixed.
    k: usize,
    /// The digits still to read, when the whole order was drawn at once.
    digits: Option<u32>,
}

impl Order {
    /// A fresh order of `0..n`; nothing drawn yet.
    #[inline]
    pub(crate) fn new(n: usize) -> Self {
        let large = (n > INLINE_CASES).then(|| {
            (0..n)
                .map(|i| u32::try_from(i).expect("too many select cases"))
                .collect()
        });
        Order {
            // Copied whole: byte stores read back as a block stall the
            // store buffer.
            small: IDENTITY,
            large,
            n,
            k: 0,
            digits: draw_all(n),
        }
    }

    /// The number of cases.
    pub(crate) fn len(&self) -> usize {
        self.n
    }

    /// The case at place `k` of the permutation.
    #[inline]
    fn at(&self, k: usize) -> usize {
        match &self.large {
            None => usize::from(self.small[k]),
            Some(p) => p[k] as usize,
        }
    }

    /// The next case in the order, `None` after the last.
    #[inline]
    pub(crate) fn next(&mut self) -> Option<usize> {
        let (n, k) = (self.n, self.k);
        if k == n {
            return None;
        }
        let m = (n - k) as u32;
        let d = match &mut self.digits {
            Some(r) => {
                let (q, d) = div_rem(*r, m);
                *r = q;
                d
            }
            None => step_below(m),
        };
        let j = k + d as usize;
        match &mut self.large {
            None => self.small.swap(k, j),
            Some(p) => p.swap(k, j),
        }
        self.k = k + 1;
        Some(self.at(k))
    }

    /// How many places are drawn so far.
    pub(crate) fn drawn(&self) -> usize {
        self.k
    }

    /// Draws the rest of the order; then [`Order::get`] reads all of it.
    pub(crate) fn complete(&mut self) {
        while self.next().is_some() {}
    }

    /// The case at place `k` (`k` below the places drawn so far).
    #[inline]
    pub(crate) fn get(&self, k: usize) -> usize {
        debug_assert!(k < self.k, "place {k} of the order not drawn yet");
        self.at(k)
    }
}

/// The digits of a whole order of `n` cases, if one draw holds them.
#[cfg(not(goro_loom))]
#[inline]
fn draw_all(n: usize) -> Option<u32> {
    match n {
        0 | 1 => Some(0),
        // The runtime's generator (seeded per runtime by `Builder::rng_seed`).
        _ if n <= FACT_MAX => Some(hook::rand_below(FACT[n])),
        _ => None,
    }
}

/// Under loom every step draws by itself ([`step_below`]).
#[cfg(goro_loom)]
fn draw_all(_n: usize) -> Option<u32> {
    None
}

/// One step's digit, in `0..m`, when the order was not drawn at once.
#[cfg(not(goro_loom))]
fn step_below(m: u32) -> u32 {
    hook::rand_below(m)
}

/// Under loom: always the last remaining case (see the module docs).
#[cfg(goro_loom)]
fn step_below(m: u32) -> u32 {
    m - 1
}

#[cfg(all(test, not(goro_loom)))]
mod tests {
    use super::*;

    /// The order of `n` cases from digits `r` (as `Order` reads them).
    fn order_of(n: usize, r: u32) -> Vec<usize> {
        let mut o = Order::new(n);
        o.digits = Some(r);
        std::iter::from_fn(|| o.next()).collect()
    }

    #[test]
    fn every_draw_gives_a_distinct_permutation() {
        for (n, &fact) in FACT.iter().enumerate().take(7).skip(1) {
            let mut seen = std::collections::HashSet::new();
            for r in 0..fact {
                let p = order_of(n, r);
                let mut sorted = p.clone();
                sorted.sort_unstable();
                assert_eq!(sorted, (0..n).collect::<Vec<_>>());
                assert!(seen.insert(p), "n={n}: draw {r} repeats a permutation");
            }
            assert_eq!(seen.len(), fact as usize);
        }
    }

    #[test]
    fn division_by_multiplication_is_exact() {
        for m in 1..=FACT_MAX as u32 {
            let edges = [
                0,
                1,
                m - 1,
                m,
                m + 1,
                FACT[FACT_MAX] - 1,
                u32::MAX - 1,
                u32::MAX,
            ];
            let mut state = 0x9E37_79B9_7F4A_7C15u64;
            let randoms = std::iter::repeat_with(move || {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1);
                (state >> 32) as u32
            });
            for r in edges
                .into_iter()
                .chain((0..20_000).map(|i| i * 24_001))
                .chain(randoms.take(20_000))
            {
                assert_eq!(div_rem(r, m), (r / m, r % m), "{r} / {m}");
            }
        }
    }

    #[test]
    fn factorials_fit_one_draw() {
        assert_eq!(FACT[4], 24);
        assert_eq!(FACT[FACT_MAX], 479_001_600);
        const { assert!(FACT_MAX < INLINE_CASES) };
    }

    #[test]
    fn large_orders_are_permutations_too() {
        let mut o = Order::new(100);
        o.complete();
        let mut got: Vec<usize> = (0..o.len()).map(|k| o.get(k)).collect();
        got.sort_unstable();
        assert_eq!(got, (0..100).collect::<Vec<_>>());
        let mut o = Order::new(INLINE_CASES);
        o.complete();
        let mut got: Vec<usize> = (0..o.len()).map(|k| o.get(k)).collect();
        got.sort_unstable();
        assert_eq!(got, (0..INLINE_CASES).collect::<Vec<_>>());
    }

    #[test]
    fn the_first_case_is_uniform() {
        // 24_000 orders of 4 cases: each case first about 6000 times.
        let mut counts = [0u32; 4];
        for _ in 0..24_000 {
            counts[Order::new(4).next().unwrap()] += 1;
        }
        for c in counts {
            assert!((5_400..6_600).contains(&c), "{counts:?}");
        }
    }
}
