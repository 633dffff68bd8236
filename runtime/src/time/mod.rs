//! The runtime's timers: the timing wheel behind goro-hook's timer seam,
//! which `goro::time` (`sleep`, `Alarm`, `Timer`, `Ticker`, `after`, `tick`,
//! `after_func`) and context deadlines are built on.
//!
//! Go: `runtime/time.go`, the runtime half of package `time`.
//!
//! # Design
//!
//! One hierarchical timing wheel per driver (`wheel`: 6 levels of 64 slots,
//! 1 ms ticks; O(1) insert, cancel and reset; entries in a slab, so re-arming
//! never allocates). The wheel sits with the IO reactor in the runtime's
//! driver: the last worker to go idle blocks in the reactor with the next
//! timer deadline as its timeout, and busy workers fire due timers between
//! goroutines (Go's `checkTimers`). There is no timer thread on a runtime;
//! timers created off a runtime go to goro-hook's fallback timer thread.
//! The runtime installs its wheel as the goro-hook timer driver of its
//! threads (`crate::timer_seam`).
//!
//! # Invariants
//!
//! - No timer fires before its deadline (deadlines round up to the next
//!   millisecond, the clock rounds down).
//! - A dropped runtime closes its timers (`Timers::close`): every pending
//!   action is dropped and later ones are not kept, so no action (a
//!   fire-and-forget timer's keep-alive owns its timer entry, which holds
//!   the driver) keeps the driver alive after the runtime.
//! - Timer actions (wakers, alarm functions) run with no runtime lock held,
//!   each under `catch_unwind`: a panicking alarm function (or waker) never
//!   unwinds into the thread processing timers (a worker, or the thread in
//!   `block_on`); the panic goes to the `Timers`' panic handler (the
//!   driver's: it follows the runtime's `PanicPolicy`).
//!
//! # Locking
//!
//! One mutex per driver guards the wheel (rank "timer wheel": after channel
//! locks, before scheduler idle state). Nothing is called while it is held.

pub(crate) mod timers;
pub(crate) mod wheel;
