//! A hierarchical timing wheel: O(1) insert, cancel and reset.
//!
//! Go: the per-P timer heap of `runtime/time.go` (`addtimer`, `deltimer`,
//! `modtimer`, `runtimer`); the algorithm is the hashed hierarchical wheel of
//! Varghese & Lauck, as used by the Linux kernel and tokio's `time::wheel`.
//!
//! # Design
//!
//! Time is counted in ticks of 1 ms since the driver started. The wheel has
//! [`NUM_LEVELS`] levels of [`LEVEL_MULT`] slots. A slot of level `l` covers
//! `64^l` ticks, so a level covers `64^(l+1)` ticks and the whole wheel
//! `2^36` ms (about 2.2 years); a deadline farther away is parked in the top
//! level and re-inserted when its slot comes up.
//!
//! An entry is placed on the level given by the highest bit in which its
//! deadline differs from the wheel's current tick (`elapsed`), in the slot
//! that deadline falls in. When processing reaches a slot of level `l > 0`
//! (its start is due), the slot's entries are cascaded: each is re-inserted,
//! now landing on a lower level, or fired if its deadline is due.
//!
//! Entries live in a slab (`Vec<Entry>` plus a free list) and each slot is an
//! intrusive doubly-linked list threaded through the slab by index, so insert,
//! cancel and reset are O(1) and re-arming an existing timer never allocates.
//! A timer is named by a [`Key`] (slab index + generation); a stale key (of a
//! freed entry) is detected by its generation.
//!
//! The wheel is a plain data structure: it is not thread-safe and it never
//! calls a waker. [`Wheel::process`] moves the due actions into a caller's
//! buffer so the caller can run them after releasing its lock.
//!
//! # Invariants
//!
//! - An entry is `armed` iff it is linked into exactly one slot list, the one
//!   named by its `level` and `slot`; `occupied[l]` bit `s` is set iff the list
//!   of level `l` slot `s` is non-empty.
//! - Every armed entry has `when > elapsed` (due entries are fired, never kept).
//! - For every level `l`, no occupied slot starts before `elapsed` rounded down
//!   to that level's slot size, except through the top level's wrap-around.
//!   Hence the earliest occupied slot of the lowest non-empty level is the next
//!   expiration, and processing never skips an entry.
//! - A deadline tick is rounded *up* from the real deadline and the current
//!   tick is rounded *down* from the real clock, so no entry fires early.
//!
//! # Locking
//!
//! None here; the owner ([`super::driver::TimerDriver`]) keeps the wheel under
//! one mutex (rank "timer wheel", after channel locks).

use std::sync::Arc;
use std::task::Waker;

/// log2 of the number of slots per level.
const LEVEL_BITS: u32 = 6;
/// Slots per level.
pub(crate) const LEVEL_MULT: usize = 1 << LEVEL_BITS;
/// Number of levels.
pub(crate) const NUM_LEVELS: usize = 6;
/// Ticks covered by the whole wheel (2^36 ms).
pub(crate) const MAX_DURATION: u64 = 1 << (LEVEL_BITS as usize * NUM_LEVELS);
/// Null link in the intrusive lists and the free list.
const NIL: u32 = u32::MAX;

/// Names one timer entry in a [`Wheel`]: slab index plus generation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Key {
    index: u32,
    generation: u32,
}

impl Key {
    /// The key as one number (for goro-hook's `TimerDriver` keys).
    pub(crate) fn to_u64(self) -> u64 {
        (u64::from(self.generation) << 32) | u64::from(self.index)
    }

    /// The inverse of [`to_u64`](Self::to_u64).
    pub(crate) fn from_u64(v: u64) -> Key {
        Key {
            index: v as u32,
            generation: (v >> 32) as u32,
        }
    }
}

/// What to do when an entry fires.
#[derive(Default)]
pub(crate) enum Action {
    /// Nothing registered yet (or the waker was already taken by a firing).
    #[default]
    None,
    /// Wake this waker (taken out: fires once per registration).
    Wake(Waker),
    /// Call this function (cloned out: stays registered for re-arming).
    Call(Arc<dyn Fn() + Send + Sync>),
}

impl Action {
    /// Runs the action. Must be called without any runtime lock held.
    pub(crate) fn run(self) {
        match self {
            Action::None => {}
            Action::Wake(w) => w.wake(),
            Action::Call(f) => f(),
        }
    }
}

/// One timer: a slab slot.
struct Entry {
    /// Slab generation; bumped when the entry is freed.
    generation: u32,
    /// The deadline tick (exact, never clamped).
    when: u64,
    /// Level of the slot list this entry is linked into (valid iff `armed`).
    level: u8,
    /// Slot of the slot list this entry is linked into (valid iff `armed`).
    slot: u8,
    /// Linked into a slot list.
    armed: bool,
    /// Fired since it was last armed.
    fired: bool,
    /// Allocated (not on the free list).
    in_use: bool,
    /// Previous entry in the slot list.
    prev: u32,
    /// Next entry in the slot list, or next free entry.
    next: u32,
    /// What to do on firing.
    action: Action,
}

/// Head of one slot's list.
#[derive(Clone, Copy)]
struct Slot {
    head: u32,
}

/// The earliest occupied slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Expiration {
    level: usize,
    slot: usize,
    /// The tick at which the slot starts.
    deadline: u64,
}

/// The hierarchical timing wheel. See the module docs.
pub(crate) struct Wheel {
    /// The current tick: everything due at or before it has fired.
    elapsed: u64,
    /// `levels[l][s]`: list head of level `l`, slot `s`.
    levels: [[Slot; LEVEL_MULT]; NUM_LEVELS],
    /// Bit `s` of `occupied[l]` is set iff slot `s` of level `l` is non-empty.
    occupied: [u64; NUM_LEVELS],
    /// The slab of entries.
    entries: Vec<Entry>,
    /// Head of the free list through `Entry::next`.
    free: u32,
    /// Number of armed entries.
    armed: usize,
}

impl Default for Wheel {
    fn default() -> Self {
        Self::new()
    }
}

impl Wheel {
    /// An empty wheel at tick 0.
    pub(crate) fn new() -> Self {
        Wheel {
            elapsed: 0,
            levels: [[Slot { head: NIL }; LEVEL_MULT]; NUM_LEVELS],
            occupied: [0; NUM_LEVELS],
            entries: Vec::new(),
            free: NIL,
            armed: 0,
        }
    }

    /// Number of armed timers.
    pub(crate) fn armed_count(&self) -> usize {
        self.armed
    }

    /// Allocates an unarmed entry with `action`.
    pub(crate) fn alloc(&mut self, action: Action) -> Key {
        let index = if self.free != NIL {
            let index = self.free;
            let e = &mut self.entries[index as usize];
            self.free = e.next;
            e.in_use = true;
            e.armed = false;
            e.fired = false;
            e.prev = NIL;
            e.next = NIL;
            e.action = action;
            index
        } else {
            let index = u32::try_from(self.entries.len()).expect("too many timers");
            assert!(index != NIL, "too many timers");
            self.entries.push(Entry {
                generation: 0,
                when: 0,
                level: 0,
                slot: 0,
                armed: false,
                fired: false,
                in_use: true,
                prev: NIL,
                next: NIL,
                action,
            });
            index
        };
        Key {
            index,
            generation: self.entries[index as usize].generation,
        }
    }

    /// Cancels and frees the entry. A stale key is ignored. Returns the
    /// entry's action, for the caller to drop after releasing its lock (it
    /// may own user data whose destructor frees other timers).
    pub(crate) fn free(&mut self, key: Key) -> Action {
        if self.get(key).is_none() {
            return Action::None;
        }
        self.cancel(key);
        let free = self.free;
        let e = &mut self.entries[key.index as usize];
        e.in_use = false;
        e.generation = e.generation.wrapping_add(1);
        let action = std::mem::take(&mut e.action);
        e.next = free;
        self.free = key.index;
        action
    }

    /// Takes every entry's action out (the entries stay allocated and keep
    /// their arming; they fire nothing from now on) into `out`, for the
    /// caller to drop after releasing its lock. For a driver that shuts
    /// down: an action may own, directly or not, the entry's own
    /// [`TimerEntry`](goro_hook::TimerEntry) and so the driver (a
    /// fire-and-forget timer's keep-alive), a cycle only this breaks.
    pub(crate) fn take_actions(&mut self, out: &mut Vec<Action>) {
        out.extend(
            self.entries
                .iter_mut()
                .filter(|e| e.in_use)
                .map(|e| std::mem::take(&mut e.action))
                .filter(|a| !matches!(a, Action::None)),
        );
    }

    fn get(&self, key: Key) -> Option<&Entry> {
        self.entries
            .get(key.index as usize)
            .filter(|e| e.in_use && e.generation == key.generation)
    }

    fn get_mut(&mut self, key: Key) -> Option<&mut Entry> {
        self.entries
            .get_mut(key.index as usize)
            .filter(|e| e.in_use && e.generation == key.generation)
    }

    /// Stores `waker` as the entry's action unless an equivalent one is
    /// already there (no clone on a repeated poll). Returns the replaced
    /// action, for the caller to drop after releasing its lock.
    pub(crate) fn set_waker(&mut self, key: Key, waker: &Waker) -> Action {
        match self.get_mut(key) {
            Some(e) => match &e.action {
                Action::Wake(w) if w.will_wake(waker) => Action::None,
                _ => std::mem::replace(&mut e.action, Action::Wake(waker.clone())),
            },
            None => Action::None,
        }
    }

    /// Whether the entry is armed (waiting to fire).
    #[cfg(test)]
    pub(crate) fn is_armed(&self, key: Key) -> bool {
        self.get(key).is_some_and(|e| e.armed)
    }

    /// Whether the entry fired since it was last armed.
    pub(crate) fn has_fired(&self, key: Key) -> bool {
        self.get(key).is_some_and(|e| e.fired)
    }

    /// The entry's deadline tick, if armed.
    pub(crate) fn deadline(&self, key: Key) -> Option<u64> {
        self.get(key).filter(|e| e.armed).map(|e| e.when)
    }

    /// Arms (or re-arms) the entry to fire at tick `when`. Returns whether it
    /// was armed before (Go's `Reset` result).
    ///
    /// A deadline at or before the current tick is placed at the next tick:
    /// arming never runs an action inline (Go too fires due timers from the
    /// scheduler, never from `Reset`).
    pub(crate) fn arm(&mut self, key: Key, when: u64) -> bool {
        let was_armed = self.cancel(key);
        let when = when.max(self.elapsed + 1);
        let Some(e) = self.get_mut(key) else {
            return was_armed;
        };
        e.fired = false;
        e.when = when;
        self.link(key.index);
        was_armed
    }

    /// Disarms the entry. Returns whether it was armed (Go's `Stop` result):
    /// `false` if it already fired or was never armed.
    pub(crate) fn cancel(&mut self, key: Key) -> bool {
        match self.get(key) {
            Some(e) if e.armed => {
                self.unlink(key.index);
                true
            }
            _ => false,
        }
    }

    /// Marks the entry fired and takes (waker) or clones (callback) its action.
    fn fire(&mut self, index: u32) -> Action {
        let e = &mut self.entries[index as usize];
        debug_assert!(!e.armed);
        e.fired = true;
        match &mut e.action {
            Action::None => Action::None,
            Action::Wake(_) => std::mem::take(&mut e.action),
            Action::Call(f) => Action::Call(f.clone()),
        }
    }

    /// Links an entry (not armed, `when > elapsed`) into its slot.
    fn link(&mut self, index: u32) {
        let when = self.entries[index as usize].when;
        debug_assert!(when > self.elapsed);
        // A deadline beyond the wheel's span is parked in the top level at the
        // farthest reachable slot; it is re-inserted when that slot comes up.
        let placed = when.min(self.elapsed + MAX_DURATION - 1);
        let level = level_for(self.elapsed, placed);
        let slot = slot_for(placed, level);
        let head = self.levels[level][slot].head;
        {
            let e = &mut self.entries[index as usize];
            e.level = level as u8;
            e.slot = slot as u8;
            e.armed = true;
            e.prev = NIL;
            e.next = head;
        }
        if head != NIL {
            self.entries[head as usize].prev = index;
        }
        self.levels[level][slot].head = index;
        self.occupied[level] |= 1 << slot;
        self.armed += 1;
    }

    /// Unlinks an armed entry from its slot.
    fn unlink(&mut self, index: u32) {
        let (level, slot, prev, next) = {
            let e = &mut self.entries[index as usize];
            debug_assert!(e.armed);
            e.armed = false;
            (e.level as usize, e.slot as usize, e.prev, e.next)
        };
        if prev == NIL {
            self.levels[level][slot].head = next;
        } else {
            self.entries[prev as usize].next = next;
        }
        if next != NIL {
            self.entries[next as usize].prev = prev;
        }
        if self.levels[level][slot].head == NIL {
            self.occupied[level] &= !(1 << slot);
        }
        let e = &mut self.entries[index as usize];
        e.prev = NIL;
        e.next = NIL;
        self.armed -= 1;
    }

    /// The earliest occupied slot, if any.
    fn next_slot(&self) -> Option<Expiration> {
        (0..NUM_LEVELS).find_map(|level| self.next_slot_in(level))
    }

    fn next_slot_in(&self, level: usize) -> Option<Expiration> {
        let occupied = self.occupied[level];
        if occupied == 0 {
            return None;
        }
        let slot_range = slot_range(level);
        let level_range = slot_range * LEVEL_MULT as u64;
        let now_slot = (self.elapsed / slot_range) % LEVEL_MULT as u64;
        let zeros = occupied.rotate_right(now_slot as u32).trailing_zeros() as u64;
        let slot = ((now_slot + zeros) % LEVEL_MULT as u64) as usize;
        let level_start = self.elapsed & !(level_range - 1);
        let mut deadline = level_start + slot as u64 * slot_range;
        if deadline <= self.elapsed && level > 0 {
            // Only the top level wraps around (deadlines parked at the span's end).
            deadline += level_range;
        }
        Some(Expiration {
            level,
            slot,
            deadline: deadline.max(self.elapsed),
        })
    }

    /// A lower bound on the next deadline tick: the start of the earliest
    /// occupied slot (exact for level 0). `None` when no timer is armed.
    ///
    /// Waiting until this tick and calling [`process`](Self::process) either
    /// fires timers or cascades them to a lower level; it never oversleeps.
    pub(crate) fn next_expiration(&self) -> Option<u64> {
        self.next_slot().map(|e| e.deadline)
    }

    /// Advances the wheel to tick `now`, moving the action of every entry due
    /// at or before `now` into `fired`, in deadline order (entries due in the
    /// same tick in unspecified order). Run them after releasing the lock.
    pub(crate) fn process(&mut self, now: u64, fired: &mut Vec<Action>) {
        if now < self.elapsed {
            return;
        }
        while let Some(exp) = self.next_slot() {
            if exp.deadline > now {
                break;
            }
            self.elapsed = exp.deadline;
            // Take the whole slot list, then fire or cascade each entry.
            let mut index = self.levels[exp.level][exp.slot].head;
            self.levels[exp.level][exp.slot].head = NIL;
            self.occupied[exp.level] &= !(1 << exp.slot);
            while index != NIL {
                let next = {
                    let e = &mut self.entries[index as usize];
                    e.armed = false;
                    let next = e.next;
                    e.prev = NIL;
                    e.next = NIL;
                    next
                };
                self.armed -= 1;
                if self.entries[index as usize].when <= self.elapsed {
                    // Due at this slot's start (a level-0 slot is one tick).
                    let action = self.fire(index);
                    fired.push(action);
                } else {
                    // Cascade: re-insert relative to the slot start; it lands
                    // on a lower level and fires in order in a later round.
                    self.link(index);
                }
                index = next;
            }
        }
        self.elapsed = now;
    }
}

/// Ticks covered by one slot of `level`.
fn slot_range(level: usize) -> u64 {
    1 << (LEVEL_BITS as usize * level)
}

/// The level for a deadline `when` seen from tick `elapsed`.
fn level_for(elapsed: u64, when: u64) -> usize {
    const SLOT_MASK: u64 = (1 << LEVEL_BITS) - 1;
    let mut masked = (elapsed ^ when) | SLOT_MASK;
    if masked >= MAX_DURATION {
        masked = MAX_DURATION - 1;
    }
    let significant = 63 - masked.leading_zeros() as usize;
    significant / LEVEL_BITS as usize
}

/// The slot of `when` in `level`.
fn slot_for(when: u64, level: usize) -> usize {
    ((when >> (LEVEL_BITS as usize * level)) % LEVEL_MULT as u64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;

    /// A callback action recording `id` into `log` with the tick it fired at.
    fn recorder(log: &Arc<Mutex<Vec<usize>>>, id: usize) -> Action {
        let log = log.clone();
        Action::Call(Arc::new(move || log.lock().unwrap().push(id)))
    }

    fn run_all(fired: &mut Vec<Action>) {
        for a in fired.drain(..) {
            a.run();
        }
    }

    #[test]
    fn level_and_slot() {
        assert_eq!(level_for(0, 1), 0);
        assert_eq!(level_for(0, 63), 0);
        assert_eq!(level_for(0, 64), 1);
        assert_eq!(level_for(0, 4095), 1);
        assert_eq!(level_for(0, 4096), 2);
        assert_eq!(level_for(0, MAX_DURATION - 1), NUM_LEVELS - 1);
        assert_eq!(level_for(0, u64::MAX), NUM_LEVELS - 1);
        assert_eq!(slot_for(65, 0), 1);
        assert_eq!(slot_for(65, 1), 1);
    }

    #[test]
    fn fires_at_deadline_not_before() {
        let mut w = Wheel::new();
        let log = Arc::new(Mutex::new(Vec::new()));
        let k = w.alloc(recorder(&log, 7));
        assert!(!w.arm(k, 100));
        assert_eq!(w.next_expiration(), Some(64));
        let mut fired = Vec::new();
        w.process(99, &mut fired);
        assert!(fired.is_empty());
        assert!(w.is_armed(k));
        assert_eq!(w.next_expiration(), Some(100));
        w.process(100, &mut fired);
        assert_eq!(fired.len(), 1);
        run_all(&mut fired);
        assert_eq!(*log.lock().unwrap(), vec![7]);
        assert!(!w.is_armed(k));
        assert!(w.has_fired(k));
        assert_eq!(w.next_expiration(), None);
    }

    /// 10,000 random timers fire in deadline order, none early, none lost.
    #[test]
    fn random_timers_fire_in_order() {
        let mut rng = fastrand::Rng::with_seed(0x5eed);
        let mut w = Wheel::new();
        let n = 10_000;
        let mut deadlines = Vec::with_capacity(n);
        let fired_at: Arc<Mutex<Vec<(usize, u64)>>> = Arc::new(Mutex::new(Vec::new()));
        let now = Arc::new(AtomicUsize::new(0));
        for i in 0..n {
            // Mix short, medium and very long deadlines (beyond the span too).
            let when = match rng.u32(0..10) {
                0..=5 => rng.u64(1..5_000),
                6..=8 => rng.u64(1..10_000_000),
                _ => rng.u64(1..MAX_DURATION * 3),
            };
            deadlines.push(when);
            let (log, now) = (fired_at.clone(), now.clone());
            let k = w.alloc(Action::Call(Arc::new(move || {
                log.lock()
                    .unwrap()
                    .push((i, now.load(Ordering::Relaxed) as u64))
            })));
            w.arm(k, when);
        }
        assert_eq!(w.armed_count(), n);
        let mut fired = Vec::new();
        // Advance by jumping to each next expiration (like a parked driver),
        // plus occasional random oversleeps.
        while let Some(next) = w.next_expiration() {
            let t = if rng.bool() {
                next
            } else {
                next + rng.u64(0..3)
            };
            now.store(t as usize, Ordering::Relaxed);
            w.process(t, &mut fired);
            run_all(&mut fired);
        }
        let log = fired_at.lock().unwrap();
        assert_eq!(log.len(), n);
        let mut last = 0;
        for &(i, at) in log.iter() {
            assert!(at >= deadlines[i], "timer {i} fired early");
            // Fired at most 2 ticks (the random oversleep) late.
            assert!(
                at <= deadlines[i] + 2,
                "timer {i} fired late: {at} vs {}",
                deadlines[i]
            );
            assert!(deadlines[i] >= last, "out of order");
            last = deadlines[i];
        }
    }

    /// Processing with large jumps still fires everything in order.
    #[test]
    fn big_jumps_fire_in_order() {
        let mut rng = fastrand::Rng::with_seed(42);
        let mut w = Wheel::new();
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut deadlines = Vec::new();
        for i in 0..2_000 {
            let when = rng.u64(1..1_000_000);
            deadlines.push(when);
            let k = w.alloc(recorder(&log, i));
            w.arm(k, when);
        }
        let mut fired = Vec::new();
        let mut t = 0;
        while w.armed_count() > 0 {
            t += rng.u64(1..50_000);
            w.process(t, &mut fired);
            for a in fired.drain(..) {
                a.run();
            }
            for &i in log.lock().unwrap().iter() {
                assert!(deadlines[i] <= t);
            }
        }
        let log = log.lock().unwrap();
        assert_eq!(log.len(), 2_000);
        assert!(log.windows(2).all(|p| deadlines[p[0]] <= deadlines[p[1]]));
    }

    #[test]
    fn cancel_and_reset() {
        let mut w = Wheel::new();
        let log = Arc::new(Mutex::new(Vec::new()));
        let a = w.alloc(recorder(&log, 1));
        let b = w.alloc(recorder(&log, 2));
        let c = w.alloc(recorder(&log, 3));
        w.arm(a, 10);
        w.arm(b, 20);
        w.arm(c, 5000);
        assert!(w.cancel(a));
        assert!(!w.cancel(a));
        // Reset an armed timer: reports it was armed, moves it.
        assert!(w.arm(b, 7));
        // Reset to a later deadline across levels.
        assert!(w.arm(c, 3));
        assert_eq!(w.armed_count(), 2);
        let mut fired = Vec::new();
        w.process(30, &mut fired);
        run_all(&mut fired);
        assert_eq!(*log.lock().unwrap(), vec![3, 2]);
        // Stop after fire reports false; reset after fire reports false.
        assert!(!w.cancel(b));
        assert!(!w.arm(b, 40));
        // Arming in the past places the timer at the next tick.
        assert!(!w.arm(a, 30));
        assert_eq!(w.next_expiration(), Some(31));
        w.process(31, &mut fired);
        run_all(&mut fired);
        assert_eq!(*log.lock().unwrap(), vec![3, 2, 1]);
        assert!(w.has_fired(a));
        w.free(b);
        assert_eq!(w.armed_count(), 0);
        // Stale key is ignored; the slab slot is reused.
        assert!(!w.cancel(b));
        let d = w.alloc(Action::None);
        assert_eq!(d.index, b.index);
        assert_ne!(d.generation, b.generation);
        assert!(!w.is_armed(b));
    }

    /// Re-arming the same timer reuses its slab slot: the slab never grows.
    #[test]
    fn rearm_does_not_allocate() {
        let mut w = Wheel::new();
        let k = w.alloc(Action::None);
        let mut fired = Vec::new();
        for t in 1..10_000u64 {
            w.arm(k, t + (t % 300));
            w.process(t, &mut fired);
            fired.clear();
        }
        assert_eq!(w.entries.len(), 1);
        assert!(w.entries.capacity() <= 4);
    }

    /// Every interleaving of cancel and fire of one entry, decided by the
    /// order in which the owner of the wheel lock runs them: exactly one of
    /// "cancel returned true" and "the action ran" happens.
    #[test]
    fn cancel_vs_fire_exclusive() {
        for cancel_first in [false, true] {
            for when in [1u64, 63, 64, 65, 5000] {
                let mut w = Wheel::new();
                let count = Arc::new(AtomicUsize::new(0));
                let c2 = count.clone();
                let k = w.alloc(Action::Call(Arc::new(move || {
                    c2.fetch_add(1, Ordering::SeqCst);
                })));
                w.arm(k, when);
                let mut fired = Vec::new();
                let cancelled = if cancel_first {
                    let c = w.cancel(k);
                    w.process(when, &mut fired);
                    c
                } else {
                    w.process(when, &mut fired);
                    w.cancel(k)
                };
                run_all(&mut fired);
                assert_eq!(
                    cancelled as usize + count.load(Ordering::SeqCst),
                    1,
                    "cancel_first={cancel_first} when={when}"
                );
            }
        }
    }
}

/// Model-checked: the wheel's owner lock serialises cancel and fire, so for
/// one entry exactly one of them wins under every interleaving.
/// Run with `RUSTFLAGS="--cfg goro_loom" cargo test -p goro-runtime --lib loom_`.
#[cfg(all(test, goro_loom))]
mod loom_tests {
    use super::*;
    use loom::sync::atomic::{AtomicUsize, Ordering};
    use loom::sync::Mutex;

    #[test]
    fn loom_cancel_vs_fire() {
        loom::model(|| {
            let wheel = loom::sync::Arc::new(Mutex::new(Wheel::new()));
            let count = Arc::new(AtomicUsize::new(0));
            let c = count.clone();
            let key = {
                let mut w = wheel.lock().unwrap();
                let key = w.alloc(Action::Call(Arc::new(move || {
                    c.fetch_add(1, Ordering::SeqCst);
                })));
                w.arm(key, 1);
                key
            };
            let w2 = wheel.clone();
            let canceller = loom::thread::spawn(move || w2.lock().unwrap().cancel(key));
            let mut fired = Vec::new();
            wheel.lock().unwrap().process(1, &mut fired);
            // Actions run after the lock is released.
            for a in fired {
                a.run();
            }
            let cancelled = canceller.join().unwrap();
            assert_eq!(usize::from(cancelled) + count.load(Ordering::SeqCst), 1);
        });
    }
}
