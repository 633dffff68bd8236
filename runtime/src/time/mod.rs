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
//! - Timer actions (wakers, alarm functions) run with no runtime lock held,
//!   each under `catch_unwind`: a panicking alarm function (or waker) never
//!   unwinds into the thread processing timers (a worker, or the thread in
//!   `block_on`); the panic follows the runtime's `PanicPolicy`
//!   ([`action_panicked`]).
//!
//! # Locking
//!
//! One mutex per driver guards the wheel (rank "timer wheel": after channel
//! locks, before scheduler idle state). Nothing is called while it is held.

pub(crate) mod timers;
pub(crate) mod wheel;

use std::panic::Location;

use crate::task::Panic;

/// A timer action panicked on this thread. On a worker of a goro runtime
/// (the only threads that process a runtime's timers) the panic follows its
/// `PanicPolicy`: under `Abort` the runtime stops and `block_on` returns
/// `RuntimeError::TimerPanic`; under `Ignore` it is dropped. Elsewhere it
/// is dropped. Either way the panic hook has already printed it.
pub(crate) fn action_panicked(payload: Panic, created_at: Option<&'static Location<'static>>) {
    if let Some(shared) = crate::context::current_runtime() {
        shared.timer_panicked(created_at, &payload);
    }
    // Dropping a payload can itself panic (a payload with a panicking
    // destructor); do not let that unwind either.
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(payload)));
}
