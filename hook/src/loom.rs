//! The only place `goro-hook` takes its lock and condition variable from.
//!
//! Under `--cfg goro_loom` they come from [loom](https://docs.rs/loom), so the
//! fallback timer thread's handshake runs under the model checker; otherwise
//! from `std` (goro-hook depends on nothing else).
//!
//! ```text
//! RUSTFLAGS="--cfg goro_loom" cargo test -p goro-hook --release --lib loom
//! ```

#[cfg(goro_loom)]
pub(crate) use loom::sync::{Condvar, Mutex, MutexGuard};
#[cfg(not(goro_loom))]
pub(crate) use std::sync::{Condvar, Mutex, MutexGuard};
