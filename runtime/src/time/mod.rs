//! Timers: `sleep`, and [`Alarm`], the callback timer that the channel-based
//! `goro::time::{Timer, Ticker, after, tick, after_func}` are built on.
//!
//! Go: `runtime/time.go` and the runtime half of package `time`.
//!
//! # Design
//!
//! One hierarchical timing wheel per driver (`wheel`: 6 levels of 64 slots,
//! 1 ms ticks; O(1) insert, cancel and reset; entries in a slab, so re-arming
//! never allocates). The wheel sits with the IO reactor in the runtime's
//! driver: the last worker to go idle blocks in the reactor with the next
//! timer deadline as its timeout, and busy workers fire due timers between
//! goroutines (Go's `checkTimers`). There is no timer thread on a runtime;
//! off a runtime a process-wide driver thread serves timers.
//!
//! # Invariants
//!
//! - No timer fires before its deadline (deadlines round up to the next
//!   millisecond, the clock rounds down).
//! - Timer actions (wakers, alarm functions) run with no runtime lock held.
//!
//! # Locking
//!
//! One mutex per driver guards the wheel (rank "timer wheel": after channel
//! locks, before scheduler idle state). Nothing is called while it is held.

mod alarm;
mod sleep;
pub(crate) mod timers;
pub(crate) mod wheel;

pub use alarm::Alarm;
pub use sleep::{sleep, sleep_until, Sleep};
