//! The only place `goro-chan` takes atomics, locks, `Arc`, `UnsafeCell` and
//! threads from.
//!
//! Under `--cfg goro_loom` everything comes from [loom](https://docs.rs/loom),
//! so the same channel code runs under the model checker; otherwise from `std`.
//! [`UnsafeCell`] has loom's closure API (`with`, `with_mut`) in both modes.
//!
//! Run the models (bounded; about a minute on a loaded 2-core machine):
//!
//! ```text
//! RUSTFLAGS="--cfg goro_loom" cargo test -p goro-chan --release --lib loom
//! ```

#[cfg(goro_loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
#[cfg(goro_loom)]
#[allow(unused_imports)]
pub(crate) use loom::sync::{Arc, Mutex, MutexGuard};

#[cfg(not(goro_loom))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
#[cfg(not(goro_loom))]
#[allow(unused_imports)]
pub(crate) use std::sync::{Arc, Mutex, MutexGuard};

#[cfg(goro_loom)]
#[allow(unused_imports)]
pub(crate) use loom::thread;
#[cfg(not(goro_loom))]
#[allow(unused_imports)]
pub(crate) use std::thread;

/// `UnsafeCell` with loom's access API in both modes.
#[cfg(goro_loom)]
#[derive(Debug)]
pub struct UnsafeCell<T>(loom::cell::UnsafeCell<T>);

#[cfg(goro_loom)]
impl<T> UnsafeCell<T> {
    /// A cell holding `v`.
    pub fn new(v: T) -> Self {
        UnsafeCell(loom::cell::UnsafeCell::new(v))
    }
    /// Calls `f` with a shared pointer to the value.
    #[inline]
    pub fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        self.0.with(f)
    }
    /// Calls `f` with a mutable pointer to the value.
    #[inline]
    pub fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        self.0.with_mut(f)
    }
}

/// `UnsafeCell` with loom's access API in both modes.
#[cfg(not(goro_loom))]
#[derive(Debug)]
pub struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

#[cfg(not(goro_loom))]
impl<T> UnsafeCell<T> {
    /// A cell holding `v`.
    pub const fn new(v: T) -> Self {
        UnsafeCell(std::cell::UnsafeCell::new(v))
    }
    /// Calls `f` with a shared pointer to the value.
    #[inline(always)]
    pub fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        f(self.0.get())
    }
    /// Calls `f` with a mutable pointer to the value.
    #[inline(always)]
    pub fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
}

/// Locks `m`, ignoring poisoning: no user code runs while a channel (or,
/// in `goro-sync`, a waiter-queue) lock is held, so a poisoned lock can only
/// come from a bug in goro's own bookkeeping, which the state's invariants
/// would catch anyway.
#[inline]
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}
