//! Per-registration readiness state: what the reactor has seen, who waits.
//!
//! Go: `runtime.pollDesc` in `runtime/netpoll.go` (its `rg`/`wg` semaphores).
//!
//! # Design
//!
//! One word holds the readiness bits seen by the reactor plus a `tick` that
//! the reactor bumps on every event. A reader that got `WouldBlock` clears
//! only the bits it observed, and only if the tick is unchanged: readiness
//! that arrived after the observation is never lost (mio is edge-triggered,
//! so a lost edge would be a hang).
//!
//! Each direction has a list of waiters. Go's `pollDesc` has one slot per
//! direction (`rg`/`wg`), but Go's `fdMutex` queues the other goroutines
//! calling `Accept`/`Read` on the same fd behind the slot holder; here
//! every waiting task keeps its own waker in the list (deduplicated with
//! `Waker::will_wake`), and readiness wakes all of them: one wins the
//! operation, the others get `WouldBlock` and wait again. (A single slot
//! would let a second waiter evict the first one's waker: two goroutines
//! accepting on one listener, and one of them hangs with a connection
//! pending.) A waiter whose future was dropped stays in the list until the
//! next readiness event in its direction, as the single slot did.
//!
//! A filled waker slot counts as "a goroutine waits for IO" (pending
//! activity for the deadlock detector) until the reactor takes it or the
//! registration goes away; a waiting future that is dropped leaves its waker
//! counted until then. That can only delay a deadlock report, never cause a
//! false one.
//!
//! # Invariants
//!
//! - Readiness bits are only set by the reactor and only cleared by
//!   [`ScheduledIo::clear_readiness`] with an up-to-date tick.
//! - A waiter registers its waker and re-checks readiness under `waiters`;
//!   the reactor publishes readiness before taking wakers under `waiters`.
//!   So either the waiter sees the readiness or the reactor sees the waker.
//!
//! # Locking
//!
//! `waiters` protects the two waiter lists; no waker is called (or dropped,
//! in `clear_wakers`) while it is held.
//!
//! # Memory ordering
//!
//! `readiness` is updated with `AcqRel` read-modify-writes and read with
//! `Acquire`; the waker handshake itself is ordered by the `waiters` mutex.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::task::{Context, Poll, Waker};

/// Readable.
pub(crate) const READABLE: usize = 0b0_0001;
/// Writable.
pub(crate) const WRITABLE: usize = 0b0_0010;
/// The peer closed its write half (or the socket hung up).
pub(crate) const READ_CLOSED: usize = 0b0_0100;
/// The socket can no longer be written.
pub(crate) const WRITE_CLOSED: usize = 0b0_1000;
/// An error is pending on the socket.
pub(crate) const ERROR: usize = 0b1_0000;
/// The driver shut down: every wait completes (with an error).
pub(crate) const SHUTDOWN: usize = 0b10_0000;
/// Mask of the readiness bits; the tick is above them.
const READY_MASK: usize = 0xffff;
/// Shift of the tick.
const TICK_SHIFT: u32 = 16;

/// A direction of interest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Direction {
    /// Waiting to read (or accept, or receive).
    Read,
    /// Waiting to write (or connect, or send).
    Write,
}

impl Direction {
    /// Readiness bits that complete a wait in this direction.
    fn mask(self) -> usize {
        match self {
            Direction::Read => READABLE | READ_CLOSED | ERROR | SHUTDOWN,
            Direction::Write => WRITABLE | WRITE_CLOSED | ERROR | SHUTDOWN,
        }
    }
}

/// Readiness observed by a waiter, to be cleared after `WouldBlock`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ReadyEvent {
    tick: usize,
    /// The observed readiness bits of the direction.
    pub(crate) ready: usize,
}

#[derive(Default)]
struct Waiters {
    /// Tasks waiting for read readiness (each once). Keeps its capacity
    /// across wakeups, so steady-state waits do not allocate.
    readers: Vec<Waker>,
    /// Tasks waiting for write readiness (each once).
    writers: Vec<Waker>,
}

/// The state of one registration.
pub(crate) struct ScheduledIo {
    /// Readiness bits and tick. Written by the reactor and by clearing waiters.
    readiness: AtomicUsize,
    /// The waiter lists.
    waiters: Mutex<Waiters>,
}

impl Default for ScheduledIo {
    fn default() -> Self {
        ScheduledIo {
            readiness: AtomicUsize::new(0),
            waiters: Mutex::new(Waiters::default()),
        }
    }
}

impl ScheduledIo {
    /// Reactor side: publishes `ready` (bumping the tick) and moves the
    /// wakers it completes into `wake`, to be woken after all locks are
    /// released. Returns how many wakers were taken.
    pub(crate) fn set_readiness(&self, ready: usize, wake: &mut Vec<Waker>) -> usize {
        // AcqRel: Release pairs with the Acquire loads in `poll_ready`;
        // Acquire orders this after earlier clears.
        let _ = self
            .readiness
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |cur| {
                let tick = (cur >> TICK_SHIFT).wrapping_add(1);
                Some((tick << TICK_SHIFT) | ((cur | ready) & READY_MASK))
            });
        let mut w = self.waiters.lock().unwrap_or_else(|e| e.into_inner());
        let mut n = 0;
        if ready & Direction::Read.mask() != 0 {
            n += w.readers.len();
            wake.append(&mut w.readers);
        }
        if ready & Direction::Write.mask() != 0 {
            n += w.writers.len();
            wake.append(&mut w.writers);
        }
        n
    }

    /// Waiter side: readiness in `dir`, or registers `cx`'s waker.
    ///
    /// Returns `(poll, newly_waiting)`: `newly_waiting` is true when this call
    /// added a waker to the direction's list (the driver counts waiting
    /// tasks).
    pub(crate) fn poll_ready(
        &self,
        cx: &mut Context<'_>,
        dir: Direction,
    ) -> (Poll<ReadyEvent>, bool) {
        if let Some(ev) = self.ready(dir) {
            return (Poll::Ready(ev), false);
        }
        let mut w = self.waiters.lock().unwrap_or_else(|e| e.into_inner());
        let list = match dir {
            Direction::Read => &mut w.readers,
            Direction::Write => &mut w.writers,
        };
        let newly = !list.iter().any(|old| old.will_wake(cx.waker()));
        if newly {
            list.push(cx.waker().clone());
        }
        // Re-check under the lock: the reactor publishes before it locks.
        if let Some(ev) = self.ready(dir) {
            return (Poll::Ready(ev), newly);
        }
        (Poll::Pending, newly)
    }

    fn ready(&self, dir: Direction) -> Option<ReadyEvent> {
        // Acquire: pairs with the Release in `set_readiness`.
        let cur = self.readiness.load(Ordering::Acquire);
        let ready = cur & dir.mask();
        (ready != 0).then_some(ReadyEvent {
            tick: cur >> TICK_SHIFT,
            ready,
        })
    }

    /// After a read that drained a stream socket's receive buffer (see
    /// `IoSource::poll_read_stream`): clears `READABLE` only, unless the
    /// reactor reported new readiness since. The closed and error bits
    /// stay: they are final, and the next read must return them (EOF, the
    /// error) instead of waiting for an event that will not come.
    pub(crate) fn clear_readable(&self, ev: ReadyEvent) {
        self.clear_readiness(ReadyEvent {
            tick: ev.tick,
            ready: ev.ready & READABLE,
        });
    }

    /// After `WouldBlock`: clears the readiness `ev` observed, unless the
    /// reactor reported new readiness since (the tick moved). `SHUTDOWN`
    /// is never cleared.
    pub(crate) fn clear_readiness(&self, ev: ReadyEvent) {
        let _ = self
            .readiness
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |cur| {
                if cur >> TICK_SHIFT != ev.tick {
                    return None;
                }
                Some(cur & !(ev.ready & !SHUTDOWN))
            });
    }

    /// Drops the waiter lists (the registration goes away). Returns how
    /// many wakers they held.
    pub(crate) fn clear_wakers(&self) -> usize {
        let mut w = self.waiters.lock().unwrap_or_else(|e| e.into_inner());
        let n = w.readers.len() + w.writers.len();
        let (readers, writers) = (
            std::mem::take(&mut w.readers),
            std::mem::take(&mut w.writers),
        );
        drop(w);
        drop((readers, writers));
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;
    use std::task::Wake;

    struct Flag(AtomicBool);
    impl Wake for Flag {
        fn wake(self: Arc<Self>) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    #[test]
    fn readiness_arriving_after_observation_is_not_lost() {
        let io = ScheduledIo::default();
        let flag = Arc::new(Flag(AtomicBool::new(false)));
        let waker = Waker::from(flag.clone());
        let mut cx = Context::from_waker(&waker);
        let mut wake = Vec::new();
        assert!(io.poll_ready(&mut cx, Direction::Read).0.is_pending());
        io.set_readiness(READABLE, &mut wake);
        assert_eq!(wake.len(), 1);
        wake.drain(..).for_each(Waker::wake);
        assert!(flag.0.load(Ordering::SeqCst));
        let Poll::Ready(ev) = io.poll_ready(&mut cx, Direction::Read).0 else {
            panic!("not ready");
        };
        // New readiness arrives between the observation and the clear.
        io.set_readiness(READABLE, &mut wake);
        io.clear_readiness(ev);
        assert!(io.poll_ready(&mut cx, Direction::Read).0.is_ready());
        // An up-to-date clear does clear.
        let Poll::Ready(ev) = io.poll_ready(&mut cx, Direction::Read).0 else {
            panic!("not ready");
        };
        io.clear_readiness(ev);
        assert!(io.poll_ready(&mut cx, Direction::Read).0.is_pending());
        // Write readiness is independent of read readiness.
        io.set_readiness(WRITABLE, &mut wake);
        assert!(io.poll_ready(&mut cx, Direction::Write).0.is_ready());
        assert!(io.poll_ready(&mut cx, Direction::Read).0.is_pending());
    }

    /// Two tasks waiting to read (two goroutines accepting on one
    /// listener): readiness wakes both; neither evicts the other's waker.
    #[test]
    fn two_waiters_in_one_direction_are_both_woken() {
        let io = ScheduledIo::default();
        let (f1, f2) = (
            Arc::new(Flag(AtomicBool::new(false))),
            Arc::new(Flag(AtomicBool::new(false))),
        );
        let (w1, w2) = (Waker::from(f1.clone()), Waker::from(f2.clone()));
        let (newly1, newly2) = (
            io.poll_ready(&mut Context::from_waker(&w1), Direction::Read)
                .1,
            io.poll_ready(&mut Context::from_waker(&w2), Direction::Read)
                .1,
        );
        assert!(newly1 && newly2);
        // The same task polling again is not added twice.
        assert!(
            !io.poll_ready(&mut Context::from_waker(&w1), Direction::Read)
                .1
        );
        let mut wake = Vec::new();
        assert_eq!(io.set_readiness(READABLE, &mut wake), 2);
        wake.drain(..).for_each(Waker::wake);
        assert!(f1.0.load(Ordering::SeqCst) && f2.0.load(Ordering::SeqCst));
        assert_eq!(io.clear_wakers(), 0);
    }
}
