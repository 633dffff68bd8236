//! goro: Go's goroutines, channels and `select!` for Rust.
//!
//! See the README for an overview; the public API contract is kept stable.

pub use goro_runtime::hook;

pub use goro_runtime::runtime::Runtime;
pub use goro_runtime::{
    current_id, run, runtime, spawn, spawn_blocking, yield_now, GoroutineId, JoinError, JoinHandle,
};

pub use goro_chan as chan;

pub use goro_macros::{main, select, select_blocking, test};

/// Paths named by the code the macros generate. Not part of the API.
#[doc(hidden)]
pub mod __private {
    pub use goro_chan::select;
    pub use goro_runtime::{main_entry, test_entry};
}
