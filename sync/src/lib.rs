//! goro-sync: Go's `sync`, `golang.org/x/sync` and `context` packages for goro.
//!
//! Every primitive parks the goroutine (never the worker thread) and also works
//! under other executors (tokio) and, through its blocking forms, on plain threads.

// Primitives (sync helper).
pub mod sema;

// Context and the x/sync groups (context helper).
mod catch_unwind;
pub mod context;
pub mod errgroup;
pub mod singleflight;
