//! The only place `goro-sync`'s primitives take atomics, locks and `UnsafeCell`
//! from.
//!
//! Under `--cfg goro_loom` everything comes from [loom](https://docs.rs/loom),
//! so the same waiter-queue code runs under the model checker; otherwise from
//! `std`. [`UnsafeCell`] has loom's closure API (`with`, `with_mut`) in both
//! modes.
//!
//! Run the models (bounded):
//!
//! ```text
//! RUSTFLAGS="--cfg goro_loom" cargo test -p goro-sync --release --lib loom
//! ```

#[cfg(goro_loom)]
pub(crate) use loom::sync::atomic::{AtomicU64, AtomicU8, AtomicUsize, Ordering};
#[cfg(goro_loom)]
pub(crate) use loom::sync::{Mutex, MutexGuard};

#[cfg(not(goro_loom))]
pub(crate) use std::sync::atomic::{AtomicU64, AtomicU8, AtomicUsize, Ordering};
#[cfg(not(goro_loom))]
pub(crate) use std::sync::{Mutex, MutexGuard};

/// `UnsafeCell` with loom's access API in both modes.
#[cfg(goro_loom)]
#[derive(Debug)]
pub(crate) struct UnsafeCell<T>(loom::cell::UnsafeCell<T>);

#[cfg(goro_loom)]
impl<T> UnsafeCell<T> {
    pub(crate) fn new(v: T) -> Self {
        UnsafeCell(loom::cell::UnsafeCell::new(v))
    }
    #[inline]
    pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        self.0.with(f)
    }
    #[inline]
    pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        self.0.with_mut(f)
    }
}

/// `UnsafeCell` with loom's access API in both modes.
#[cfg(not(goro_loom))]
#[derive(Debug)]
pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

#[cfg(not(goro_loom))]
impl<T> UnsafeCell<T> {
    pub(crate) const fn new(v: T) -> Self {
        UnsafeCell(std::cell::UnsafeCell::new(v))
    }
    #[inline(always)]
    pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        f(self.0.get())
    }
    #[inline(always)]
    pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
}

/// Locks `m`, ignoring poisoning: no user code runs while a queue lock is
/// held, so a poisoned lock could only come from a bug in this crate's own
/// bookkeeping.
#[inline]
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}
