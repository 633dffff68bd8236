//! The stuck-goroutine watchdog: a thread that periodically logs, through
//! `tracing` at warn level, goroutines that became provably parked forever
//! while the program keeps running (`Builder::watchdog`).
//!
//! Go has no watchdog; its closest relative is the goroutine leak profile,
//! which a program samples itself.
//!
//! # Design
//!
//! One thread per running runtime, started by `Shared::start` and tagged
//! with the runtime's start generation: it exits when the runtime stops or
//! restarts (it is not joined: it holds only a `Weak` and wakes at most once
//! per interval). Each tick runs the same analysis as `leak::find_stuck`
//! (`scheduler::stuck`) and warns once per goroutine.

use std::collections::HashSet;
use std::sync::Weak;
use std::time::Duration;

use super::stuck::forever;
use crate::loom::Ordering;
use crate::registry::Site;

use super::Shared;

/// Starts the watchdog thread of generation `gen`.
pub(crate) fn start(shared: Weak<Shared>, gen: usize, every: Duration) {
    let spawned = std::thread::Builder::new()
        .name("goro-watchdog".into())
        .spawn(move || run(shared, gen, every));
    if let Err(e) = spawned {
        tracing::warn!(target: "goro::watchdog", "could not start the watchdog: {e}");
    }
}

fn run(shared: Weak<Shared>, gen: usize, every: Duration) {
    let mut warned = HashSet::new();
    loop {
        std::thread::park_timeout(every);
        let Some(s) = shared.upgrade() else { return };
        if s.is_stopping() || s.start_gen.load(Ordering::Acquire) != gen {
            return;
        }
        let all = s.registry.snapshot();
        for id in forever(&s, &all, None, false).into_iter().map(|g| g.id) {
            if !warned.insert(id) {
                continue;
            }
            if let Some(g) = all.iter().find(|g| g.id == id) {
                tracing::warn!(
                    target: "goro::watchdog",
                    goroutine = id.as_u64(),
                    wait_reason = g.wait_reason(),
                    created_at = %Site(g.created_at),
                    "goroutine parked forever:\n{g}"
                );
            }
        }
    }
}
