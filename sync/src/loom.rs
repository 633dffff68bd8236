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

/// `UnsafeCell` with loom's access API in both modes, and `lock` (ignoring
/// poisoning: no user code runs while a queue lock is held): goro-chan's,
/// built under the same cfg.
pub(crate) use goro_chan::__loom::{lock, UnsafeCell};
