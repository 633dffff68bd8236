//! The one place atomics, locks, `Arc`, threads and cells come from.
//!
//! Under `--cfg goro_loom` these are loom's model-checked versions, so the same
//! scheduler code runs under the model checker; otherwise they are `std`'s.
//! Only the protocols that are modelled (the runnext slot, the parker, the idle
//! bookkeeping) need to go through here; code that loom cannot model anyway
//! (crossbeam-deque, thread-locals of the worker context) uses `std` directly.

#[cfg(goro_loom)]
#[allow(unused_imports)]
pub(crate) use loom::{
    sync::{
        atomic::{fence, AtomicBool, AtomicPtr, AtomicU64, AtomicU8, AtomicUsize, Ordering},
        Arc, Condvar, Mutex, MutexGuard,
    },
    thread,
};

#[cfg(not(goro_loom))]
#[allow(unused_imports)] // `Arc` and `thread` are used by the loom models only
pub(crate) use std::{
    sync::{
        atomic::{fence, AtomicBool, AtomicPtr, AtomicU64, AtomicU8, AtomicUsize, Ordering},
        Arc, Condvar, Mutex, MutexGuard,
    },
    thread,
};

/// `std`'s `Arc`, for trait objects (`loom`'s `Arc` cannot be unsized) and
/// for state that no model exercises concurrently.
pub(crate) use std::sync::Arc as StdArc;

/// Locks a mutex, ignoring poisoning: every critical section in the runtime
/// leaves its data consistent before any code that could panic runs.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    #[cfg(goro_loom)]
    {
        m.lock().unwrap()
    }
    #[cfg(not(goro_loom))]
    {
        m.lock().unwrap_or_else(|e| e.into_inner())
    }
}
