//! goro-runtime: goroutines on a work-stealing M:N scheduler.
//!
//! This crate owns everything that owns threads or time: tasks, the scheduler,
//! the goroutine registry, timers and the IO reactor. Channels (`goro-chan`)
//! and sync primitives talk to it only through [`hook`].
//!
//! # Lock ranks
//!
//! Locks are taken in this order, never the reverse; no task is woken while a
//! channel lock is held:
//!
//! 1. channel locks (several: in address order)
//! 2. timer wheel
//! 3. scheduler idle state

pub mod hook;
pub mod time;

/// TCP and UDP sockets for goroutines (Go's package `net`).
pub mod net {
    pub use crate::io::net::*;
}

mod io;

mod context;
