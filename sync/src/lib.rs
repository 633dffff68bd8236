//! goro-sync: Go's `sync`, `golang.org/x/sync` and `context` packages for goro.
//!
//! Every primitive parks the goroutine (never the worker thread) and also works
//! under other executors (tokio) and, through its blocking forms, on plain threads.
//!
//! ```
//! use goro_sync::{Mutex, WaitGroup};
//! use std::sync::Arc;
//!
//! let wg = WaitGroup::new();
//! let total = Arc::new(Mutex::new(0));
//! let mut threads = Vec::new();
//! for i in 1..=3 {
//!     wg.add(1);
//!     let (wg, total) = (wg.clone(), total.clone());
//!     threads.push(std::thread::spawn(move || {
//!         *total.lock_blocking() += i;
//!         wg.done();
//!     }));
//! }
//! wg.wait_blocking();
//! assert_eq!(*total.lock_blocking(), 6);
//! # for t in threads { t.join().unwrap(); }
//! ```
//!
//! # Design
//!
//! One FIFO waiter queue (`src/sema.rs`, Go's `runtime/sema.go`) with the
//! waiter nodes inside the pending futures, so waiting never allocates; each
//! primitive keeps its fast path in one atomic word and uses the queue only to
//! wait and wake. Every waiting future is cancel-safe: dropped, it leaves
//! the primitive as if it had never waited, passing on any lock, permit or
//! signal it was handed meanwhile (the *pass-on rule*, `src/sema.rs`).
//!
//! Parking goes through the [`goro_hook`] seam ([`note_park`](goro_hook::note_park)
//! with Go's wait reasons, `sync.Mutex.Lock` and so on), a no-op off the goro
//! runtime: this crate does not depend on the runtime.
//!
//! # Locking
//!
//! One queue lock per primitive, a leaf: nothing else is locked, no waker is
//! woken and no user code runs while it is held.
//!
//! # Verification
//!
//! ```text
//! cargo test -p goro-sync
//! RUSTFLAGS="--cfg goro_loom" cargo test -p goro-sync --release --lib loom
//! ```

// The wait-reason seam.
pub(crate) use goro_hook as hook;

pub(crate) use goro_chan::__block_on as block_on;

// Primitives (sync helper).
pub mod cond;
pub(crate) mod loom;
#[cfg(all(test, goro_loom))]
mod loom_tests;
pub mod mutex;
pub mod once;
pub mod rwmutex;
pub(crate) mod sema;
pub mod semaphore;
pub mod waitgroup;

pub use cond::Cond;
pub use mutex::{Mutex, MutexGuard};
pub use once::{Once, OnceValue};
pub use rwmutex::{RwMutex, RwMutexReadGuard, RwMutexWriteGuard};
pub use waitgroup::WaitGroup;

// Context and the x/sync groups (context helper).
mod catch_unwind;
pub mod context;
pub mod errgroup;
pub mod singleflight;

/// Counts the calling thread as a possible waker in the runtime's deadlock
/// check when it is not a goroutine ([`goro_hook::note_primitive_use`]): a
/// plain thread or another executor's task that holds a lock, a permit or a
/// `WaitGroup` count may wake goroutines later, as a thread that used a
/// channel may. Called at the start of every operation.
#[inline]
pub(crate) fn note_use() {
    hook::note_primitive_use();
}
