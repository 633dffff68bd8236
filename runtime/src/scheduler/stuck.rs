//! Which goroutines are provably parked forever.
//!
//! Go: the goroutine leak profile (Go 1.26+), which marks a blocked
//! goroutine leaked when no runnable goroutine can reach the object it
//! blocks on.
//!
//! # Rules
//!
//! A goroutine is *forever* only when nothing that can still run could wake
//! it; a false "forever" is a bug, a missed one a gap. goro proves it in two
//! ways.
//!
//! 1. While the program runs, per goroutine, when it parks: it parks on one
//!    channel operation through the only handle of that channel, and that
//!    handle lies inside its own pinned future (`context::wait_record`).
//!    Nobody else can reach the handle and no other can be made, so the
//!    operation never completes. Cost: channels note each use of a handle
//!    in the goroutine's poll scope (a thread-local `Cell` store, with the
//!    `Arc`'s count read relaxed); the check itself runs only when parking.
//!
//! 2. For a closed world: the goroutines considered are all parked for
//!    reasons only another goroutine can end (`deadlock::asleep_for_good`:
//!    channel, select, sync primitive, join; not `sleep`, IO or a foreign
//!    future), no timer is armed, no goroutine waits for IO, no blocking
//!    job runs, no `Handle` clone is alive and no outside thread that used
//!    goro channels is awake. Then none of them can ever be woken, whatever
//!    they hold. The caller of a check is part of the world unless it
//!    declares itself finished (the end of a `#[goro::test]` body, whose
//!    handles are dropped by then): a goroutine that may still act could
//!    wake any of them.

use super::deadlock::asleep_for_good;
use super::Shared;
use crate::registry::{GoroutineId, GoroutineSnapshot, GoroutineState};

/// The goroutines of `all` (a snapshot of `shared`'s registry) that are
/// provably parked forever. `finished`: the calling goroutine will not wake
/// anybody any more (it is excluded from the world instead of counting as
/// a live waker).
pub(crate) fn forever_ids(
    shared: &Shared,
    all: &[GoroutineSnapshot],
    me: Option<GoroutineId>,
    finished: bool,
) -> Vec<GoroutineId> {
    let others = all.iter().filter(|g| Some(g.id) != me);
    let exclusive: Vec<GoroutineId> = others
        .clone()
        .filter(|g| matches!(g.state, GoroutineState::Waiting { forever: true, .. }))
        .map(|g| g.id)
        .collect();
    if me.is_some() && !finished {
        return exclusive;
    }
    let closed = others.clone().all(asleep_for_good)
        && !shared.has_pending_activity()
        && shared
            .outside_handles
            .load(std::sync::atomic::Ordering::SeqCst)
            == 0
        && !goro_hook::outside_threads_awake(None);
    if !closed {
        return exclusive;
    }
    others.map(|g| g.id).collect()
}
