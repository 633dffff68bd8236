//! goro-chan: Go-faithful channels for async Rust and plain threads, and the
//! engine behind `select!`.
//!
//! ```
//! let ch = goro_chan::make::<i32>(0);           // unbuffered: a rendezvous
//! let tx = ch.sender();
//! let t = std::thread::spawn(move || {
//!     for i in 0..3 { tx.send_blocking(i); }
//!     tx.close();
//! });
//! futures::executor::block_on(async {
//!     while let Some(v) = ch.recv().await { println!("{v}"); }
//! });
//! t.join().unwrap();
//! ```
//!
//! # Design
//!
//! Go's `runtime/chan.go`: one lock per channel guarding two FIFO waiter
//! queues (`src/hchan.rs`, Go's `hchan`), with direct handoff to a parked
//! counterpart. Unlike Go, the buffer of a buffered channel is a lock-free
//! ring (`src/ring.rs`) used without the lock while nobody waits; the lock
//! freezes it whenever it must decide (see "Lock-free fast path" there). Waiter nodes (`src/waiter.rs`, Go's
//! `sudog`) live inside the pending future, so blocking allocates nothing;
//! they are built (in place, under the lock that found the operation must
//! wait) only when an operation has to wait, so an operation that completes
//! at once never builds or moves them (`src/op.rs`, `LazyOp`).
//! Each waiter points to a *selection cell* (`src/cell.rs`): a plain send or
//! receive is a one-case selection, and `select` registers one cell in several
//! channels' queues; a counterpart commits a case only by winning a CAS on the
//! cell, so exactly one case of a `select` commits ([`select`], Go's
//! `select.go`).
//!
//! Nothing here knows the scheduler: parking goes through
//! [`goro_hook`], a no-op off the goro runtime, so channels work on
//! any executor and on plain threads (`*_blocking`).
//!
//! # Invariants
//!
//! Per channel, see `src/hchan.rs`: if `recvq` has a live waiter the
//! buffer is empty; if `sendq` has one the buffer is full.
//!
//! # Locking
//!
//! One lock per channel; several are taken only by `select`, in address
//! order. No waker is woken and no user code runs while a channel lock is held.
//!
//! # Memory ordering
//!
//! Channel state is ordered by its lock; the selection cell's ordering is
//! argued in `src/cell.rs`; the lock-free fast-fail checks of `try_send`,
//! `try_recv` and one-case selects with `default` (Go's) in `src/hchan.rs`.
//!
//! # Verification
//!
//! ```text
//! cargo test -p goro-chan                       # unit, semantics, select engine,
//!                                               # Go ports, zero-allocation, doc tests
//! RUSTFLAGS="--cfg goro_loom" cargo test -p goro-chan --release --lib loom
//!                                               # loom models (about a minute)
//! cargo +nightly miri test -p goro-chan --test semantics --test select_engine \
//!     -- --skip tokio --skip uniform --skip racing --skip select_to_select \
//!        --skip threads --skip per_sender --skip futures_executor
//!                                               # Miri (Stacked Borrows) on the
//!                                               # intrusive queues and cases
//! cargo bench -p goro-chan --bench chan         # criterion benchmarks
//! ```

mod blocking;
mod cell;
mod chan;
mod error;
pub(crate) mod hchan;
pub(crate) mod loom;
#[cfg(all(test, goro_loom))]
mod loom_tests;
mod op;
mod receiver;
mod recv;
mod ring;
pub mod select;
mod send;
mod sender;
pub(crate) mod waiter;

pub use chan::{make, Chan};

/// Polls a future to completion on the current plain thread, parking it
/// while the future is pending (one cached waker per thread). The engine of
/// the `*_blocking` forms; used by `goro-sync`'s blocking forms too. Not part
/// of the API.
#[doc(hidden)]
pub use blocking::block_on as __block_on;

/// The loom-switchable `UnsafeCell` and the poison-ignoring `lock` of this
/// crate's shim, shared with `goro-sync` (one copy for both). Not part of
/// the API.
#[doc(hidden)]
pub mod __loom {
    pub use crate::loom::{lock, UnsafeCell};
}
pub use error::{TryRecvError, TrySendError};
pub use receiver::Receiver;
pub use recv::Recv;
pub use send::Send;
pub use sender::Sender;
