//! goro: Go's goroutines, channels and `select!` for Rust.
//!
//! See the README for an overview; the public API contract is kept stable.

pub use goro_runtime::hook;

/// Timers: `sleep`, `Timer`, `Ticker`, `after`, `tick` (Go's package `time`).
pub use goro_time as time;

/// TCP and UDP sockets (Go's package `net`).
pub use goro_runtime::net;
