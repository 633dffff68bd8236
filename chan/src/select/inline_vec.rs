//! A vector that keeps its first `N` elements inline (on the stack, not
//! initialised until pushed) and spills to the heap only beyond, so a
//! `select` with up to [`INLINE_CASES`] cases allocates nothing.

use std::mem::MaybeUninit;

/// Cases a `select` handles without allocating (its permutation and locks
/// live on the stack); larger selects allocate per poll.
pub const INLINE_CASES: usize = 64;

/// Inline-first vector (see the module docs).
///
/// Invariant: `inline[..min(len, N)]` are initialised; `spill` holds the
/// elements from index `N` on.
pub(crate) struct InlineVec<T, const N: usize> {
    inline: [MaybeUninit<T>; N],
    len: usize,
    spill: Vec<T>,
}

impl<T, const N: usize> InlineVec<T, N> {
    /// An empty vector (no allocation, no initialisation).
    pub(crate) fn new() -> Self {
        InlineVec {
            inline: [const { MaybeUninit::uninit() }; N],
            len: 0,
            spill: Vec::new(),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn push(&mut self, v: T) {
        if self.len < N {
            self.inline[self.len].write(v);
        } else {
            self.spill.push(v);
        }
        self.len += 1;
    }

    pub(crate) fn get(&self, i: usize) -> &T {
        assert!(i < self.len, "index out of bounds");
        if i < N {
            // SAFETY: `i < min(len, N)`: initialised (type invariant).
            unsafe { self.inline[i].assume_init_ref() }
        } else {
            &self.spill[i - N]
        }
    }

    pub(crate) fn swap(&mut self, a: usize, b: usize) {
        if a == b {
            return;
        }
        assert!(a < self.len && b < self.len, "index out of bounds");
        let (lo, hi) = if a < b { (a, b) } else { (b, a) };
        if hi < N {
            // Moves the bytes of two initialised slots.
            self.inline.swap(lo, hi);
        } else if lo >= N {
            self.spill.swap(lo - N, hi - N);
        } else {
            // SAFETY: `lo < min(len, N)`: initialised (type invariant).
            let x = unsafe { self.inline[lo].assume_init_mut() };
            std::mem::swap(x, &mut self.spill[hi - N]);
        }
    }

    /// Drops every element, in reverse order of insertion (locks are released
    /// in reverse acquisition order).
    pub(crate) fn clear(&mut self) {
        while self.spill.pop().is_some() {}
        let n = self.len.min(N);
        // Keep the invariant even if a destructor panics.
        self.len = 0;
        for i in (0..n).rev() {
            // SAFETY: `i < n` was initialised and is dropped exactly once
            // (`len` is already 0).
            unsafe { self.inline[i].assume_init_drop() };
        }
    }
}

impl<T, const N: usize> Drop for InlineVec<T, N> {
    fn drop(&mut self) {
        self.clear();
    }
}

#[cfg(all(test, not(goro_loom)))]
mod tests {
    use super::*;

    #[test]
    fn spills_and_swaps() {
        let mut v = InlineVec::<String, 2>::new();
        for i in 0..5 {
            v.push(i.to_string());
        }
        v.swap(0, 4);
        v.swap(1, 3);
        v.swap(2, 2);
        let got: Vec<&str> = (0..v.len()).map(|i| v.get(i).as_str()).collect();
        assert_eq!(got, ["4", "3", "2", "1", "0"]);
        v.clear();
        assert_eq!(v.len(), 0);
        v.push("x".into());
        assert_eq!(v.get(0), "x");
    }
}
