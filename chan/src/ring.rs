//! The bounded buffer of a buffered channel: a lock-free ring (Vyukov's
//! bounded MPMC queue, in the layout of crossbeam-channel's array flavor)
//! whose two ends can each be *marked* to divert operations to the channel
//! lock.
//!
//! Go: `hchan.buf`, `sendx`, `recvx`, `qcount`. Go takes the channel lock
//! for every operation; here a send or receive that needs no waiter queue
//! moves its value through the ring without the lock.
//!
//! # Design
//!
//! `head` and `tail` are positions (a lap counter in the high bits, the slot
//! index in the low bits) and each slot carries a *stamp*: `pos` when slot
//! is free for the push at `pos`, `pos + 1` when it holds the value pushed at
//! `pos`. A push claims `tail` with a CAS, writes the value and publishes the
//! stamp; a pop claims `head` likewise, reads the value and frees the slot
//! for the next lap (crossbeam's `ArrayQueue::push`/`pop`). A claim that
//! loses its CAS to another thread spins a little longer each time before it
//! retries (crossbeam's `Backoff::spin`): on two cores the winner then makes
//! a few claims in a row with the word in its cache, instead of both cores
//! pulling the line back and forth and failing (measured on `mpmc_go_w2`,
//! 4 senders and 4 receivers on 2 workers: about one claim in five failed
//! its CAS, one in fifty with the backoff).
//!
//! One bit of each word (`mark`, just above the index bits) is owned by the
//! channel lock ([`crate::hchan`]):
//!
//! - a *marked* `tail` makes every lock-free push fail ([`TryPush::Marked`]),
//!   a marked `head` every lock-free pop. Those operations then take the
//!   channel lock, which serves waiter queues, `close` and values given back
//!   by cancelled receives;
//! - the lock holder sets a mark with an atomic `fetch_or`, so every
//!   lock-free push (pop) either claimed its position before the mark, in the
//!   word's modification order, or fails: after [`Ring::freeze`] (both
//!   marks) no lock-free operation can claim a position any more, and the
//!   positions seen by the freeze are final until the lock holder moves them.
//!   Operations that claimed a position before the freeze may still be
//!   writing (reading) their slot; the lock holder waits for exactly the
//!   slot it needs by its stamp (`frozen_push`/`frozen_pop`), as a Vyukov
//!   ring does anyway;
//! - only the lock holder changes a marked word, and only the lock holder
//!   clears a mark ([`Ring::set_marks`]).
//!
//! # Invariants
//!
//! - Positions only move forward; `head <= tail <= head + cap` (in
//!   positions), so [`count`] is the number of claimed values.
//! - A slot's stamp is `pos` (free for `pos`) or `pos + 1` (holds the value
//!   of `pos`), apart from the instant between a claim and its stamp store.
//! - While a word is marked, only the holder of the channel lock writes it.
//!
//! # Memory ordering
//!
//! The value in a slot is published by the stamp store (Release) and taken
//! after the stamp load (Acquire), in both directions. Claims are SeqCst
//! CASes and marks SeqCst `fetch_or`s, so the emptiness and fullness checks
//! ([`Ring::try_pop`], [`Ring::try_push`], [`Ring::looks_empty`],
//! [`Ring::looks_full`]) read both ends in one total order (crossbeam's
//! `fence(SeqCst)` argument).

use std::mem::MaybeUninit;

use crate::loom::{AtomicUsize, Ordering, UnsafeCell};

/// Keeps `head` and `tail` on separate cache lines: producers write one,
/// consumers the other.
#[repr(align(128))]
struct Padded<T>(T);

/// The ring's one allocation (a channel holds one pointer to it;
/// unbuffered channels have none): the read-mostly slot pointer first, then
/// each end on its own cache line.
struct Ends<T> {
    slots: Box<[Slot<T>]>,
    /// The mark bit, `(cap + 1).next_power_of_two()` (see [`Ring::mark`]),
    /// computed once: every claim, slot index and position step needs it.
    mark: usize,
    head: Padded<AtomicUsize>,
    tail: Padded<AtomicUsize>,
}

/// One buffer slot.
struct Slot<T> {
    stamp: AtomicUsize,
    value: UnsafeCell<MaybeUninit<T>>,
}

/// The buffer of a channel of capacity `cap >= 1` (see the module docs).
pub(crate) struct Ring<T> {
    ends: Box<Ends<T>>,
}

// SAFETY: values of `T` move between threads through the slots, whose
// accesses are ordered by the stamps (module docs); hence `T: Send`.
unsafe impl<T: Send> Send for Ring<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Sync for Ring<T> {}

/// Outcome of a lock-free push.
pub(crate) enum TryPush<T> {
    /// The value is in the ring.
    Pushed,
    /// The ring is full and `tail` was unmarked when read (the channel was
    /// open with no waiter at that moment); the value comes back.
    Full(T),
    /// `tail` is marked: the channel lock decides; the value comes back.
    Marked(T),
}

/// Outcome of a lock-free pop.
pub(crate) enum TryPop<T> {
    /// Took the oldest value.
    Popped(T),
    /// Empty, and `head` was unmarked when read.
    Empty,
    /// `head` is marked: the channel lock decides.
    Marked,
}

/// Waits for another thread that is between its claim and its stamp store
/// (a few instructions, unless it was preempted).
#[cfg_attr(goro_loom, allow(dead_code))]
struct Backoff(u32);

impl Backoff {
    fn new() -> Self {
        Backoff(0)
    }

    /// After a lost claim (the other end of a contended CAS won): spins,
    /// longer each time, never yields.
    #[inline]
    fn spin(&mut self) {
        #[cfg(not(goro_loom))]
        {
            for _ in 0..1u32 << self.0.min(6) {
                std::hint::spin_loop();
            }
            if self.0 <= 6 {
                self.0 += 1;
            }
        }
    }

    #[inline]
    fn snooze(&mut self) {
        #[cfg(goro_loom)]
        crate::loom::thread::yield_now();
        #[cfg(not(goro_loom))]
        {
            if self.0 < 6 {
                for _ in 0..1u32 << self.0 {
                    std::hint::spin_loop();
                }
                self.0 += 1;
            } else {
                std::thread::yield_now();
            }
        }
    }
}

impl<T> Ring<T> {
    /// An empty ring of capacity `cap` (at least 1).
    pub(crate) fn new(cap: usize) -> Self {
        assert!(cap >= 1, "a ring needs a capacity");
        assert!(cap <= usize::MAX / 8, "channel capacity {cap} is too large");
        Ring {
            ends: Box::new(Ends {
                mark: (cap + 1).next_power_of_two(),
                slots: (0..cap)
                    .map(|i| Slot {
                        stamp: AtomicUsize::new(i),
                        value: UnsafeCell::new(MaybeUninit::uninit()),
                    })
                    .collect(),
                head: Padded(AtomicUsize::new(0)),
                tail: Padded(AtomicUsize::new(0)),
            }),
        }
    }

    /// The capacity.
    #[inline]
    fn cap(&self) -> usize {
        self.ends.slots.len()
    }

    /// The mark bit: just above the index bits.
    #[inline]
    fn mark(&self) -> usize {
        self.ends.mark
    }

    /// One lap: the lowest lap bit, above the mark.
    #[inline]
    fn one_lap(&self) -> usize {
        self.mark() << 1
    }

    /// The position after `pos` (unmarked).
    #[inline]
    fn next(&self, pos: usize) -> usize {
        let index = pos & (self.mark() - 1);
        if index + 1 < self.cap() {
            pos + 1
        } else {
            (pos & !(self.one_lap() - 1)).wrapping_add(self.one_lap())
        }
    }

    /// The slot of position `pos`.
    #[inline]
    fn slot(&self, pos: usize) -> &Slot<T> {
        &self.ends.slots[pos & (self.mark() - 1)]
    }

    /// Number of values between positions `head` and `tail` (unmarked).
    #[inline]
    fn count(&self, head: usize, tail: usize) -> usize {
        let mask = self.mark() - 1;
        let (hix, tix) = (head & mask, tail & mask);
        if hix < tix {
            tix - hix
        } else if hix > tix {
            self.cap() - hix + tix
        } else if head == tail {
            0
        } else {
            self.cap()
        }
    }

    /// Pushes `v` without the lock, unless `tail` is marked or the ring is
    /// full (crossbeam's `ArrayQueue::push`).
    ///
    /// The uncontended claim of a free slot is inlined into the channel
    /// operation; anything else (a marked or full-looking ring, a lost
    /// claim) starts over in [`Ring::push_loop`], which re-reads `tail`:
    /// a failed first attempt changed nothing.
    #[inline]
    pub(crate) fn try_push(&self, v: T) -> TryPush<T> {
        let tail_word = &self.ends.tail.0;
        // Relaxed: only a hint for the CAS below, which re-reads the word.
        let tail = tail_word.load(Ordering::Relaxed);
        if tail & self.mark() == 0 {
            let slot = self.slot(tail);
            // Acquire: the pop that freed the slot is done with its value.
            // SeqCst claim: claims and marks are totally ordered (module docs).
            if slot.stamp.load(Ordering::Acquire) == tail
                && tail_word
                    .compare_exchange(tail, self.next(tail), Ordering::SeqCst, Ordering::Relaxed)
                    .is_ok()
            {
                // SAFETY: the claim of `tail` gives us the free slot until
                // we publish its stamp.
                slot.value.with_mut(|p| unsafe { (*p).write(v) });
                // Release: publishes the value with the stamp.
                slot.stamp.store(tail + 1, Ordering::Release);
                return TryPush::Pushed;
            }
        }
        self.push_loop(v)
    }

    /// [`Ring::try_push`] from the start, with retries and backoff.
    #[inline(never)]
    fn push_loop(&self, v: T) -> TryPush<T> {
        let (mark, one_lap) = (self.mark(), self.one_lap());
        let tail_word = &self.ends.tail.0;
        let mut backoff = Backoff::new();
        // Relaxed: only a hint for the CAS below, which re-reads the word.
        let mut tail = tail_word.load(Ordering::Relaxed);
        loop {
            if tail & mark != 0 {
                return TryPush::Marked(v);
            }
            let slot = self.slot(tail);
            // Acquire: the pop that freed the slot is done with its value.
            let stamp = slot.stamp.load(Ordering::Acquire);
            if stamp == tail {
                // SeqCst: claims and marks are totally ordered (module docs).
                match tail_word.compare_exchange(
                    tail,
                    self.next(tail),
                    Ordering::SeqCst,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        // SAFETY: the claim of `tail` gives us the free slot
                        // until we publish its stamp.
                        slot.value.with_mut(|p| unsafe { (*p).write(v) });
                        // Release: publishes the value with the stamp.
                        slot.stamp.store(tail + 1, Ordering::Release);
                        return TryPush::Pushed;
                    }
                    Err(t) => {
                        backoff.spin();
                        tail = t;
                    }
                }
            } else if stamp.wrapping_add(one_lap) == tail + 1 {
                // The slot still holds the previous lap's value: full, or
                // its pop is in flight.
                let head = self.ends.head.0.load(Ordering::SeqCst) & !mark;
                if head.wrapping_add(one_lap) == tail {
                    return TryPush::Full(v);
                }
                backoff.snooze();
                tail = tail_word.load(Ordering::Relaxed);
            } else {
                // Another push claimed this position meanwhile.
                backoff.snooze();
                tail = tail_word.load(Ordering::Relaxed);
            }
        }
    }

    /// Pops the oldest value without the lock, unless `head` is marked or the
    /// ring is empty (crossbeam's `ArrayQueue::pop`).
    ///
    /// As [`Ring::try_push`]: the uncontended claim of a full slot, and the
    /// answer "empty", are inlined; anything else starts over in
    /// [`Ring::pop_loop`].
    #[inline]
    pub(crate) fn try_pop(&self) -> TryPop<T> {
        let head_word = &self.ends.head.0;
        // Relaxed: only a hint for the CAS below, which re-reads the word.
        let head = head_word.load(Ordering::Relaxed);
        if head & self.mark() == 0 {
            let slot = self.slot(head);
            // Acquire: pairs with the push's Release stamp store.
            let stamp = slot.stamp.load(Ordering::Acquire);
            if stamp == head && self.ends.tail.0.load(Ordering::SeqCst) & !self.mark() == head {
                // Free for this lap and nothing claimed beyond: empty (as in
                // `pop_loop`; a select's ready pass meets this often).
                return TryPop::Empty;
            }
            // SeqCst claim: claims and marks are totally ordered (module docs).
            if stamp == head + 1
                && head_word
                    .compare_exchange(head, self.next(head), Ordering::SeqCst, Ordering::Relaxed)
                    .is_ok()
            {
                // SAFETY: the claim of `head` gives us the full slot until we
                // publish its stamp; the value was written before the stamp
                // we loaded (Acquire).
                let v = slot.value.with(|p| unsafe { (*p).assume_init_read() });
                // Release: the slot is free for the next lap.
                slot.stamp
                    .store(head.wrapping_add(self.one_lap()), Ordering::Release);
                return TryPop::Popped(v);
            }
        }
        self.pop_loop()
    }

    /// [`Ring::try_pop`] from the start, with retries and backoff.
    #[inline(never)]
    fn pop_loop(&self) -> TryPop<T> {
        let (mark, one_lap) = (self.mark(), self.one_lap());
        let head_word = &self.ends.head.0;
        let mut backoff = Backoff::new();
        // Relaxed: only a hint for the CAS below, which re-reads the word.
        let mut head = head_word.load(Ordering::Relaxed);
        loop {
            if head & mark != 0 {
                return TryPop::Marked;
            }
            let slot = self.slot(head);
            // Acquire: pairs with the push's Release stamp store.
            let stamp = slot.stamp.load(Ordering::Acquire);
            if stamp == head + 1 {
                // SeqCst: claims and marks are totally ordered (module docs).
                match head_word.compare_exchange(
                    head,
                    self.next(head),
                    Ordering::SeqCst,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        // SAFETY: the claim of `head` gives us the full slot
                        // until we publish its stamp; the value was written
                        // before the stamp we loaded (Acquire).
                        let v = slot.value.with(|p| unsafe { (*p).assume_init_read() });
                        // Release: the slot is free for the next lap.
                        slot.stamp
                            .store(head.wrapping_add(one_lap), Ordering::Release);
                        return TryPop::Popped(v);
                    }
                    Err(h) => {
                        backoff.spin();
                        head = h;
                    }
                }
            } else if stamp == head {
                // Free for this lap: empty, or its push is in flight.
                let tail = self.ends.tail.0.load(Ordering::SeqCst) & !mark;
                if tail == head {
                    return TryPop::Empty;
                }
                backoff.snooze();
                head = head_word.load(Ordering::Relaxed);
            } else {
                // Another pop claimed this position meanwhile.
                backoff.snooze();
                head = head_word.load(Ordering::Relaxed);
            }
        }
    }

    /// `Some(true)` if the ring is empty and `head` unmarked now; `None` if
    /// `head` is marked (the lock decides). `head` is read before `tail`: if
    /// `tail` then equals the unmarked head, the ring was empty when `head`
    /// was read (positions only grow and `head <= tail`).
    pub(crate) fn looks_empty(&self) -> Option<bool> {
        let mark = self.mark();
        // SeqCst: one total order with claims and marks (module docs).
        let head = self.ends.head.0.load(Ordering::SeqCst);
        if head & mark != 0 {
            return None;
        }
        let tail = self.ends.tail.0.load(Ordering::SeqCst) & !mark;
        Some(tail == head)
    }

    /// `Some(true)` if the ring is full and `tail` unmarked now; `None` if
    /// `tail` is marked (the lock decides). `tail` is read before `head`: if
    /// `head` is then a full lap behind the unmarked tail, the ring was full
    /// when `tail` was read.
    pub(crate) fn looks_full(&self) -> Option<bool> {
        let mark = self.mark();
        // SeqCst: one total order with claims and marks (module docs).
        let tail = self.ends.tail.0.load(Ordering::SeqCst);
        if tail & mark != 0 {
            return None;
        }
        let head = self.ends.head.0.load(Ordering::SeqCst) & !mark;
        Some(head.wrapping_add(self.one_lap()) == tail)
    }

    /// Number of values now (a racy snapshot, within `0..=cap`).
    pub(crate) fn len(&self) -> usize {
        let mark = self.mark();
        loop {
            // SeqCst: a consistent pair (re-read until `tail` is unchanged).
            let tail = self.ends.tail.0.load(Ordering::SeqCst);
            let head = self.ends.head.0.load(Ordering::SeqCst);
            if self.ends.tail.0.load(Ordering::SeqCst) == tail {
                return self.count(head & !mark, tail & !mark);
            }
        }
    }

    /// Marks both ends, so no lock-free operation claims a position any
    /// more; then the lock holder owns both ends ([`Ring::frozen_len`],
    /// [`Ring::frozen_push`], [`Ring::frozen_pop`]) until it clears a mark.
    ///
    /// # Safety
    ///
    /// The caller holds the channel lock.
    pub(crate) unsafe fn freeze(&self) {
        let mark = self.mark();
        // SeqCst: orders the mark after every earlier claim (module docs).
        self.ends.tail.0.fetch_or(mark, Ordering::SeqCst);
        self.ends.head.0.fetch_or(mark, Ordering::SeqCst);
    }

    /// The frozen positions, unmarked.
    fn frozen_ends(&self) -> (usize, usize) {
        let mark = self.mark();
        // Relaxed: marked words are written only by the lock holder (us).
        (
            self.ends.head.0.load(Ordering::Relaxed) & !mark,
            self.ends.tail.0.load(Ordering::Relaxed) & !mark,
        )
    }

    /// Number of values (claimed positions) in a frozen ring.
    ///
    /// # Safety
    ///
    /// The caller holds the channel lock and froze the ring.
    pub(crate) unsafe fn frozen_len(&self) -> usize {
        let (head, tail) = self.frozen_ends();
        self.count(head, tail)
    }

    /// Pushes `v` at the tail of a frozen ring that is not full.
    ///
    /// # Safety
    ///
    /// The caller holds the channel lock, froze the ring, and saw
    /// `frozen_len() < cap`.
    pub(crate) unsafe fn frozen_push(&self, v: T) {
        let (head, tail) = self.frozen_ends();
        debug_assert!(self.count(head, tail) < self.cap());
        let slot = self.slot(tail);
        let mut backoff = Backoff::new();
        // Acquire: a pop of the previous lap that claimed before the freeze
        // may still be reading this slot.
        while slot.stamp.load(Ordering::Acquire) != tail {
            backoff.snooze();
        }
        // SAFETY: the slot is free for `tail`, which only we can claim now.
        slot.value.with_mut(|p| unsafe { (*p).write(v) });
        slot.stamp.store(tail + 1, Ordering::Release);
        // Release: the new tail stays marked; only we write it.
        self.ends
            .tail
            .0
            .store(self.next(tail) | self.mark(), Ordering::Release);
    }

    /// Pops the head of a frozen ring.
    ///
    /// # Safety
    ///
    /// The caller holds the channel lock and froze the ring.
    pub(crate) unsafe fn frozen_pop(&self) -> Option<T> {
        let (head, tail) = self.frozen_ends();
        if head == tail {
            return None;
        }
        let slot = self.slot(head);
        let mut backoff = Backoff::new();
        // Acquire: a push that claimed before the freeze may still be
        // writing this slot; its stamp store publishes the value.
        while slot.stamp.load(Ordering::Acquire) != head + 1 {
            backoff.snooze();
        }
        // SAFETY: the slot holds the value of `head`, which only we can
        // claim now.
        let v = slot.value.with(|p| unsafe { (*p).assume_init_read() });
        slot.stamp
            .store(head.wrapping_add(self.one_lap()), Ordering::Release);
        self.ends
            .head
            .0
            .store(self.next(head) | self.mark(), Ordering::Release);
        Some(v)
    }

    /// Sets the marks to `push` (on `tail`) and `pop` (on `head`); with
    /// `clear == false` a set mark is never cleared.
    ///
    /// A marked word is stable (only the lock holder writes it), so clearing
    /// is a plain store; setting races with claims, hence `fetch_or`.
    ///
    /// # Safety
    ///
    /// The caller holds the channel lock.
    pub(crate) unsafe fn set_marks(&self, push: bool, pop: bool, clear: bool) {
        let mark = self.mark();
        for (word, want) in [(&self.ends.tail.0, push), (&self.ends.head.0, pop)] {
            // Relaxed: a marked value is ours to keep; an unmarked one is
            // re-read by the `fetch_or`.
            let cur = word.load(Ordering::Relaxed);
            if cur & mark != 0 {
                if !want && clear {
                    // Release: publishes the slots written while marked.
                    word.store(cur & !mark, Ordering::Release);
                }
            } else if want {
                // SeqCst: see `freeze`.
                word.fetch_or(mark, Ordering::SeqCst);
            }
        }
    }
}

impl<T> Drop for Ring<T> {
    fn drop(&mut self) {
        let mark = self.mark();
        // Relaxed: `&mut self`; every operation has finished.
        let mut pos = self.ends.head.0.load(Ordering::Relaxed) & !mark;
        let tail = self.ends.tail.0.load(Ordering::Relaxed) & !mark;
        while pos != tail {
            let slot = self.slot(pos);
            // SAFETY: positions in `head..tail` hold initialised values, and
            // nothing else can access them now.
            slot.value.with_mut(|p| unsafe { (*p).assume_init_drop() });
            pos = self.next(pos);
        }
    }
}

#[cfg(all(test, not(goro_loom)))]
mod tests {
    use super::{Ring, TryPop, TryPush};

    fn pop<T>(r: &Ring<T>) -> Option<T> {
        match r.try_pop() {
            TryPop::Popped(v) => Some(v),
            TryPop::Empty => None,
            TryPop::Marked => panic!("unexpectedly marked"),
        }
    }

    #[test]
    fn fifo_wraps_and_reports_full() {
        for cap in [1, 2, 3, 4, 7] {
            let r = Ring::new(cap);
            let mut next_in = 0;
            let mut next_out = 0;
            for round in 0..20 {
                let k = 1 + round % cap;
                for _ in 0..k {
                    assert!(matches!(r.try_push(next_in), TryPush::Pushed));
                    next_in += 1;
                }
                assert_eq!(r.len(), k);
                assert_eq!(r.looks_full(), Some(k == cap));
                if k == cap {
                    assert!(matches!(r.try_push(99), TryPush::Full(99)));
                }
                for _ in 0..k {
                    assert_eq!(pop(&r), Some(next_out));
                    next_out += 1;
                }
                assert_eq!(r.looks_empty(), Some(true));
                assert_eq!(pop(&r), None);
            }
        }
    }

    #[test]
    fn marks_divert_and_frozen_ops_keep_order() {
        let r = Ring::new(3);
        assert!(matches!(r.try_push(1), TryPush::Pushed));
        // SAFETY: the test is the only thread ("holds the lock").
        unsafe {
            r.freeze();
            assert!(matches!(r.try_push(2), TryPush::Marked(2)));
            assert!(matches!(r.try_pop(), TryPop::Marked));
            assert_eq!((r.looks_empty(), r.looks_full()), (None, None));
            assert_eq!(r.frozen_len(), 1);
            r.frozen_push(2);
            r.frozen_push(3);
            assert_eq!(r.frozen_len(), 3);
            assert_eq!(r.frozen_pop(), Some(1));
            r.set_marks(true, false, true);
        }
        assert!(matches!(r.try_push(4), TryPush::Marked(4)));
        assert_eq!(pop(&r), Some(2));
        // SAFETY: as above.
        unsafe { r.set_marks(false, false, true) };
        assert!(matches!(r.try_push(4), TryPush::Pushed));
        assert_eq!((pop(&r), pop(&r), pop(&r)), (Some(3), Some(4), None));
    }

    #[test]
    fn drop_drops_the_values_left() {
        use std::sync::Arc;
        let token = Arc::new(());
        let r = Ring::new(4);
        for _ in 0..3 {
            assert!(matches!(r.try_push(token.clone()), TryPush::Pushed));
        }
        drop(pop(&r));
        assert_eq!(Arc::strong_count(&token), 3);
        drop(r);
        assert_eq!(Arc::strong_count(&token), 1);
    }
}

#[cfg(all(test, not(goro_loom)))]
mod stress {
    use super::{Ring, TryPop, TryPush};
    use std::sync::Arc;

    /// Two pushers and two poppers on rings of 1 and 3 slots: every value
    /// arrives once, in order per pusher (bounded in iterations).
    #[test]
    fn mpmc_every_value_once_in_order_per_pusher() {
        for cap in [1, 3] {
            let r = Arc::new(Ring::new(cap));
            const N: u64 = 20_000;
            let pushers: Vec<_> = (0..2u64)
                .map(|p| {
                    let r = r.clone();
                    std::thread::spawn(move || {
                        for i in 0..N {
                            let mut v = (p << 32) | i;
                            loop {
                                match r.try_push(v) {
                                    TryPush::Pushed => break,
                                    TryPush::Full(x) | TryPush::Marked(x) => {
                                        v = x;
                                        std::thread::yield_now();
                                    }
                                }
                            }
                        }
                    })
                })
                .collect();
            let poppers: Vec<_> = (0..2)
                .map(|_| {
                    let r = r.clone();
                    std::thread::spawn(move || {
                        let mut last = [None::<u64>; 2];
                        let mut got = Vec::new();
                        while got.len() < N as usize {
                            match r.try_pop() {
                                TryPop::Popped(v) => {
                                    let (p, i) = ((v >> 32) as usize, v & 0xffff_ffff);
                                    assert!(last[p].is_none_or(|l| l < i), "out of order");
                                    last[p] = Some(i);
                                    got.push(v);
                                }
                                TryPop::Empty | TryPop::Marked => std::thread::yield_now(),
                            }
                        }
                        got
                    })
                })
                .collect();
            for t in pushers {
                t.join().unwrap();
            }
            let mut all: Vec<u64> = poppers
                .into_iter()
                .flat_map(|t| t.join().unwrap())
                .collect();
            all.sort_unstable();
            let want: Vec<u64> = (0..2u64)
                .flat_map(|p| (0..N).map(move |i| (p << 32) | i))
                .collect();
            assert_eq!(all, want);
        }
    }
}
