//! Which goroutines are provably parked forever.
//!
//! Go: the goroutine leak profile (Go 1.26+), which marks a blocked
//! goroutine leaked when no runnable goroutine can reach the object it
//! blocks on.
//!
//! # Rules
//!
//! A goroutine is *forever* only when nothing that can still run could wake
//! it; a false "forever" is a bug, a missed one a gap. goro cannot trace
//! memory as Go's garbage collector does, so it proves it from what it
//! knows for sure about where handles lie (`task::wait_record`): only a
//! poll that noted exactly one park proves anything. Three rules:
//!
//! 1. **Inline object** (at park time): it waits on a sync primitive that
//!    lies inside its own pinned future; nobody else can reach it.
//! 2. **Channel held only by its waiters** (while the program runs): the
//!    goroutines parked on channel `c` through a handle inside their own
//!    futures ("private" handles) are `P`; if `c` has exactly `|P|` live
//!    handles (counted through the channel's record, `goro_hook::inspect`),
//!    every handle is one of theirs: nobody else can send, receive, close
//!    or clone one, so none of them can ever be woken. Each member of `P`
//!    holds at least one live handle of `c` (the one its operation
//!    borrows) and its private one (alive: a dropped handle's note is
//!    forgotten), so `|P|` handles means the two are the same and no other
//!    exists. The goroutines are looked at twice, before and after the
//!    count, and must be in the same park both times (not polled in
//!    between), so the count and the parks describe one moment. Both
//!    looks need every member clean (`ParkProof::clean`): a member that
//!    was woken since its last poll started is runnable, even when the
//!    wake landed during the poll that then recorded its park (the waker
//!    raised the watch's flag before waking it, and the checker, having
//!    seen the waker's own later park in the first look, sees the flag in
//!    the second: `goro_hook::WakerWatch`).
//!
//!    A `select!` joins in when every one of its channel cases holds or
//!    borrows a handle inside its own future (nil cases never fire; a
//!    future case, or more than `goro_hook::SELECT_NOTE_CASES` channel
//!    cases, proves nothing): it waits on each of those channels, and is
//!    one of `P` for each (once per channel, however many cases it has
//!    there). Rule 2 then becomes a greatest fixpoint: starting from every
//!    goroutine parked through private handles, a channel is *dead* when
//!    its live handles number exactly its waiters in the set and all of
//!    them are still in the set; a goroutine stays in the set while every
//!    channel it waits on is dead. The set left only its own members could
//!    wake, through channels nobody else holds, and all of them are
//!    parked: none ever runs again. (One goroutine selecting on two
//!    channels only it holds; a sender on `c1` and a selector on `c1` and
//!    a `c2` only the selector holds: `tests/leak_check.rs`.)
//! 3. **Closed world** (a check whose caller is done, or the watchdog):
//!    the goroutines considered are all parked for reasons only another
//!    goroutine can end (`deadlock::asleep_for_good`: channel, select, sync
//!    primitive, join; not `sleep`, IO or a foreign future), no timer is
//!    armed, no goroutine waits for IO, no blocking job runs, no `Handle`
//!    clone is alive and no outside thread that used goro channels is
//!    awake. Then none of them can ever be woken, whatever they hold. The
//!    caller of a check is part of the world unless it declares itself
//!    finished (the end of a `#[goro::test]` body, whose handles are
//!    dropped by then): a goroutine that may still act could wake any of
//!    them.
//!
//! Not used: "the goroutine that last used a handle holds it". A handle
//! moves without being used (captured by a spawned goroutine, sent over a
//! channel, put in shared state), so its last user says nothing about who
//! can use it next; a proof built on it would report goroutines that can
//! still be woken. Where a handle lies is known for sure only while an
//! operation borrows it (it cannot move then) and inside a pinned future.
//!
//! Foreign futures: a goroutine that polls a goro operation and, in the
//! same poll, a future that notes nothing (a `futures` oneshot inside
//! `join!` or `select`) may be woken by that future. Its future is polled
//! with a watched waker (`goro_hook::WakerWatch`, in its record): every
//! copy of the waker kept by anything but goro's own primitives is counted
//! while it lives, and a wake through one flags the goroutine until its
//! next poll. A snapshot of a goroutine with such a copy (or flag) is not
//! `clean` (`ParkProof::clean`): none of the three rules uses it (rule 1's
//! and rule 2's proofs are dropped in `GoroutineRecord::snapshot`, rule 3
//! and the deadlock check do not count it asleep for good).

use std::collections::HashMap;
use std::panic::Location;

use goro_hook::RecordKey;

use super::deadlock::asleep_for_good;
use super::Shared;
use crate::registry::{GoroutineId, GoroutineSnapshot, GoroutineState, Private};

/// Why a goroutine is parked forever (the rule that proved it).
#[derive(Clone, Debug)]
pub(crate) enum Why {
    /// Rule 1: the object lies inside its own future.
    Inline,
    /// Rule 2: every live handle of the channel lies in one of `holders`,
    /// all parked on it. `last_drop`: who dropped a handle of it last
    /// (`None` inside: a thread outside every goroutine) and where that
    /// goroutine was spawned.
    Handles {
        holders: Vec<GoroutineId>,
        last_drop: Option<(Option<u64>, Option<&'static Location<'static>>)>,
    },
    /// Rule 2 for a select: every live handle of each of the `channels`
    /// channels its cases wait on lies in one of `holders`, all parked on
    /// them (the fixpoint in `held_only_by_waiters`).
    Select {
        holders: Vec<GoroutineId>,
        channels: usize,
    },
    /// Rule 3: a closed world.
    ClosedWorld,
}

/// A goroutine proved parked forever, and why.
#[derive(Clone, Debug)]
pub(crate) struct Stuck {
    pub(crate) id: GoroutineId,
    pub(crate) why: Why,
}

/// The goroutines of `all` (a snapshot of `shared`'s registry) that are
/// provably parked forever. `me`: the calling goroutine, if any (running,
/// so a possible waker of anyone); `finished`: it will not wake anybody any
/// more (it is excluded from the world instead of counting as a live
/// waker).
pub(crate) fn forever(
    shared: &Shared,
    all: &[GoroutineSnapshot],
    me: Option<GoroutineId>,
    finished: bool,
) -> Vec<Stuck> {
    let others = || all.iter().filter(|g| Some(g.id) != me);
    let mut out: Vec<Stuck> = others()
        .filter(|g| matches!(g.state, GoroutineState::Waiting { forever: true, .. }))
        .map(|g| Stuck {
            id: g.id,
            why: Why::Inline,
        })
        .collect();
    out.extend(held_only_by_waiters(shared, all));
    if me.is_some() && !finished {
        return out;
    }
    let closed = others().all(asleep_for_good)
        && !shared.has_pending_activity()
        && shared
            .outside_handles
            .load(std::sync::atomic::Ordering::SeqCst)
            == 0
        && !goro_hook::outside_threads_awake(None);
    if closed {
        for g in others() {
            if !out.iter().any(|s| s.id == g.id) {
                out.push(Stuck {
                    id: g.id,
                    why: Why::ClosedWorld,
                });
            }
        }
    }
    out
}

/// A goroutine parked on channels through private handles (`ParkProof::private`).
struct Member {
    id: GoroutineId,
    seq: u32,
    private: Private,
    /// Parked in a select (else in one channel operation).
    select: bool,
    /// Still possibly parked forever (the fixpoint below).
    alive: bool,
}

/// A channel some member waits on.
struct Channel {
    key: RecordKey,
    /// Indices into the members, each once.
    members: Vec<usize>,
    /// Its live handles, counted under one inspection.
    handles: Option<usize>,
    last_drop: Option<(Option<u64>, Option<&'static Location<'static>>)>,
    /// Every handle lies inside a member still alive (the fixpoint below).
    dead: bool,
}

/// Rule 2 (module docs) over `all`, as a greatest fixpoint: start from
/// every goroutine parked through private handles; a channel is dead when
/// it has exactly as many live handles as goroutines of the set wait on it
/// (each holds at least one, inside its own future, so those are all of
/// them); a goroutine stays in the set while every channel it waits on is
/// dead (one channel operation: that one; a select: each case's). What
/// remains is a set of parked goroutines that only its own members could
/// wake, through channels nobody else holds: none of them ever runs again.
fn held_only_by_waiters(shared: &Shared, all: &[GoroutineSnapshot]) -> Vec<Stuck> {
    let mut members: Vec<Member> = all
        .iter()
        .filter_map(|g| {
            let p = g.park?;
            (!p.private.is_none()).then_some(Member {
                id: g.id,
                seq: p.seq,
                private: p.private,
                select: matches!(
                    g.state,
                    GoroutineState::Waiting {
                        reason: goro_hook::WaitReason::Select,
                        ..
                    }
                ),
                alive: true,
            })
        })
        .collect();
    if members.is_empty() {
        return Vec::new();
    }
    // Keyed by the record key's parts (a key holds atomics, not a good key).
    let mut index: HashMap<(usize, u64), usize> = HashMap::new();
    let mut chans: Vec<Channel> = Vec::new();
    for (m, member) in members.iter().enumerate() {
        for key in member.private.keys() {
            let c = *index.entry(key.to_parts()).or_insert_with(|| {
                chans.push(Channel {
                    key,
                    members: Vec::new(),
                    handles: None,
                    last_drop: None,
                    dead: false,
                });
                chans.len() - 1
            });
            // `Private` holds each channel once (`Private::of`).
            chans[c].members.push(m);
        }
    }
    let inspection = goro_hook::inspect();
    for c in &mut chans {
        c.handles = inspection.handles(c.key);
        c.last_drop = inspection.last_drop(c.key);
    }
    drop(inspection);
    loop {
        for c in &mut chans {
            c.dead =
                c.handles == Some(c.members.len()) && c.members.iter().all(|&m| members[m].alive);
        }
        let mut changed = false;
        for member in &mut members {
            if member.alive
                && !member
                    .private
                    .keys()
                    .all(|k| index.get(&k.to_parts()).is_some_and(|&c| chans[c].dead))
            {
                member.alive = false;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    if !members.iter().any(|m| m.alive) {
        return Vec::new();
    }
    // The survivors must still be in the same parks as before the count:
    // the parks and the counts describe one moment.
    let again = shared.registry.snapshot();
    let same_park = |m: &Member| {
        again.iter().any(|g| {
            g.id == m.id
                && matches!(g.state, GoroutineState::Waiting { .. })
                && g.park
                    .is_some_and(|p| p.seq == m.seq && p.private == m.private)
        })
    };
    if !members.iter().filter(|m| m.alive).all(same_park) {
        // Something moved: prove nothing this time (the next check will).
        return Vec::new();
    }
    let mut out = Vec::new();
    for member in members.iter().filter(|m| m.alive) {
        let mut holders: Vec<GoroutineId> = Vec::new();
        let mut last_drop = None;
        for key in member.private.keys() {
            let c = &chans[index[&key.to_parts()]];
            last_drop = last_drop.or(c.last_drop);
            for &m in &c.members {
                if !holders.contains(&members[m].id) {
                    holders.push(members[m].id);
                }
            }
        }
        holders.sort_unstable();
        let channels = member.private.keys().count();
        out.push(Stuck {
            id: member.id,
            why: if channels == 1 && !member.select {
                Why::Handles { holders, last_drop }
            } else {
                Why::Select { holders, channels }
            },
        });
    }
    out
}
