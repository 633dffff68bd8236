//! Per-thread runtime context: which goroutine, if any, this thread is polling.
//!
//! This file currently holds only the behaviour for threads that are not
//! polling a goroutine (the hooks are no-ops and the generator is
//! thread-local); the scheduler extends it with the on-runtime branch.

use std::panic::Location;
use std::task::{Context, Poll};

use crate::hook::{WaitObject, WaitReason};

#[inline]
pub(crate) fn note_park(
    _reason: WaitReason,
    _at: &'static Location<'static>,
    _on: Option<WaitObject>,
) {
}

#[inline]
pub(crate) fn poll_budget(_cx: &mut Context<'_>) -> Poll<()> {
    Poll::Ready(())
}

#[inline]
pub(crate) fn rand_below(n: u32) -> u32 {
    fastrand::u32(0..n)
}
