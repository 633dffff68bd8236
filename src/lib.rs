//! goro: Go's goroutines, channels and `select!` for Rust.
//!
//! See the README for an overview; the public API contract is kept stable.

pub use goro_runtime::hook;
