//! A vector that keeps its first `N` elements inline (on the stack) and spills
//! to the heap only beyond, so a `select` with up to [`INLINE_CASES`] cases
//! allocates nothing.

/// Cases a `select` handles without allocating (its permutation and locks
/// live on the stack); larger selects allocate per poll.
pub const INLINE_CASES: usize = 64;

/// Inline-first vector (see the module docs).
pub(crate) struct InlineVec<T, const N: usize> {
    inline: [Option<T>; N],
    len: usize,
    spill: Vec<T>,
}

impl<T, const N: usize> InlineVec<T, N> {
    /// An empty vector (no allocation).
    pub(crate) fn new() -> Self {
        InlineVec {
            inline: [const { None }; N],
            len: 0,
            spill: Vec::new(),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn push(&mut self, v: T) {
        if self.len < N {
            self.inline[self.len] = Some(v);
        } else {
            self.spill.push(v);
        }
        self.len += 1;
    }

    pub(crate) fn get(&self, i: usize) -> &T {
        assert!(i < self.len);
        if i < N {
            self.inline[i].as_ref().expect("inline slot below len")
        } else {
            &self.spill[i - N]
        }
    }

    pub(crate) fn swap(&mut self, a: usize, b: usize) {
        if a == b {
            return;
        }
        let (lo, hi) = if a < b { (a, b) } else { (b, a) };
        if hi < N {
            self.inline.swap(lo, hi);
        } else if lo >= N {
            self.spill.swap(lo - N, hi - N);
        } else {
            let x = self.inline[lo].as_mut().expect("inline slot below len");
            std::mem::swap(x, &mut self.spill[hi - N]);
        }
    }

    /// Drops every element in reverse order of insertion (locks are released
    /// in reverse acquisition order).
    pub(crate) fn clear(&mut self) {
        while self.spill.pop().is_some() {}
        for i in (0..self.len.min(N)).rev() {
            self.inline[i] = None;
        }
        self.len = 0;
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
        let mut v = InlineVec::<usize, 2>::new();
        for i in 0..5 {
            v.push(i);
        }
        v.swap(0, 4);
        v.swap(1, 3);
        v.swap(2, 2);
        let got: Vec<usize> = (0..v.len()).map(|i| *v.get(i)).collect();
        assert_eq!(got, [4, 3, 2, 1, 0]);
        v.clear();
        assert_eq!(v.len(), 0);
    }
}
