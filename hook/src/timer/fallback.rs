//! The fallback timer driver: one process-wide `goro-timer` thread for
//! every timer created off a goro runtime.
//!
//! Go: none (Go always has its runtime); tokio's and async-io's timer
//! threads play this role for them.
//!
//! # Design
//!
//! A slab of entries (index + generation keys, a free list) and a binary
//! min-heap of `(deadline, index, arming)`. Re-arming or cancelling only
//! bumps the entry's `arming` number, so heap items of earlier armings are
//! recognised as stale when popped (lazy deletion); the heap is compacted
//! when stale items outnumber live ones, so a timer reset in a loop does not
//! grow it without bound. The thread waits on a condition variable until
//! the earliest deadline; arming a deadline earlier than the one it waits
//! for notifies it.
//!
//! # Invariants
//!
//! - An entry is armed iff `deadline` is `Some`; then exactly one heap item
//!   carries its current `arming` number.
//! - `wait` is `Until(t)` or `Forever` only while the thread is blocked (or
//!   about to block, under the lock) in the condition variable, with `t` its
//!   wake-up time. An `arm` earlier than that notifies, under the lock, so
//!   the wake-up is never lost; while the thread runs actions (`Busy`) it
//!   recomputes its timeout from the heap before blocking again.
//! - Actions run with the lock released, each under `catch_unwind`.
//! - An entry owns its action until it is freed. goro-time keeps a
//!   fire-and-forget timer (`after`, `tick`, a dropped `after_func`) alive
//!   from its action, so such a timer lives until it fires (then it is
//!   freed) or, for `tick`, as long as the process: always reachable from
//!   this driver, never a leak; the thread and its driver live for the
//!   process.
//!
//! # Locking
//!
//! `state` protects everything; no action, waker or destructor of user data
//! runs while it is held (`free` drops the action after unlocking).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::panic::{catch_unwind, AssertUnwindSafe, Location};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use super::{BoxFuture, TimerAction, TimerDriver};
use crate::loom::{Condvar, Mutex, MutexGuard};

/// The process-wide fallback driver, started on first use.
pub(super) fn driver() -> &'static Arc<dyn TimerDriver> {
    static FALLBACK: OnceLock<Arc<dyn TimerDriver>> = OnceLock::new();
    FALLBACK.get_or_init(|| {
        let timers = Arc::new(Fallback::default());
        let run = timers.clone();
        std::thread::Builder::new()
            .name("goro-timer".into())
            .spawn(move || run.run())
            .expect("goro: cannot start the timer thread");
        timers
    })
}

/// What the timer thread is doing. Protected by `Fallback::state`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Wait {
    /// Running (or collecting) actions: it looks at the heap again before
    /// blocking.
    Busy,
    /// Blocked until this instant (or a notification).
    Until(Instant),
    /// Blocked until a notification.
    Forever,
}

/// An action as stored in an entry.
enum Stored {
    /// No waker registered (or it was taken by a firing).
    None,
    Wake(Waker),
    Call(Arc<dyn Fn() + Send + Sync>),
}

struct Entry {
    /// Bumped when the entry is freed; part of the key.
    generation: u32,
    /// Allocated (not on the free list).
    in_use: bool,
    /// The deadline while armed.
    deadline: Option<Instant>,
    /// Bumped on every arm and cancel: names the live heap item.
    arming: u64,
    /// Fired since last armed.
    fired: bool,
    action: Stored,
}

#[derive(Default)]
struct State {
    entries: Vec<Entry>,
    /// Indices of freed entries.
    free: Vec<u32>,
    /// `(deadline, index, arming)`, earliest first; items whose `arming` is
    /// not the entry's current one are stale.
    heap: BinaryHeap<Reverse<(Instant, u32, u64)>>,
    /// Number of armed entries.
    armed: usize,
    wait: Option<Wait>,
}

/// The fallback driver's shared state.
struct Fallback {
    state: Mutex<State>,
    wake: Condvar,
}

impl Default for Fallback {
    fn default() -> Self {
        Fallback {
            state: Mutex::new(State::default()),
            wake: Condvar::new(),
        }
    }
}

fn key(index: u32, generation: u32) -> u64 {
    (u64::from(generation) << 32) | u64::from(index)
}

impl State {
    fn entry(&mut self, key: u64) -> Option<&mut Entry> {
        let (index, generation) = (key as u32, (key >> 32) as u32);
        self.entries
            .get_mut(index as usize)
            .filter(|e| e.in_use && e.generation == generation)
    }

    /// Disarms the entry; returns whether it was armed.
    fn disarm(&mut self, key: u64) -> bool {
        let Some(e) = self.entry(key) else {
            return false;
        };
        let was = e.deadline.take().is_some();
        e.arming += 1;
        if was {
            self.armed -= 1;
        }
        was
    }
}

impl Fallback {
    fn lock(&self) -> MutexGuard<'_, State> {
        // No user code runs under the lock; stay usable regardless.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The timer thread.
    fn run(&self) {
        let mut due = Vec::new();
        let mut st = self.lock();
        loop {
            st = self.turn(st, &mut due);
        }
    }

    /// One turn of the timer thread: fires what is due (running the
    /// actions with the lock released), or else blocks until the earliest
    /// deadline or a notification. Takes and returns the lock.
    fn turn<'a>(
        &'a self,
        mut st: MutexGuard<'a, State>,
        due: &mut Vec<Stored>,
    ) -> MutexGuard<'a, State> {
        let now = Instant::now();
        while let Some(&Reverse((when, index, arming))) = st.heap.peek() {
            if when > now {
                break;
            }
            st.heap.pop();
            let e = &mut st.entries[index as usize];
            if e.arming != arming || e.deadline.is_none() {
                continue; // stale
            }
            e.deadline = None;
            e.fired = true;
            due.push(match &mut e.action {
                Stored::None => Stored::None,
                Stored::Wake(_) => std::mem::replace(&mut e.action, Stored::None),
                Stored::Call(f) => Stored::Call(f.clone()),
            });
            st.armed -= 1;
        }
        if !due.is_empty() {
            st.wait = Some(Wait::Busy);
            drop(st);
            for action in due.drain(..) {
                // The panic hook has printed a panic; off a runtime there
                // is no policy to follow, so drop it (and a panicking
                // payload destructor) and go on.
                let _ = catch_unwind(AssertUnwindSafe(|| match action {
                    Stored::None => {}
                    Stored::Wake(w) => w.wake(),
                    Stored::Call(f) => f(),
                }));
            }
            return self.lock();
        }
        let mut st = match st.heap.peek() {
            Some(&Reverse((when, _, _))) => {
                st.wait = Some(Wait::Until(when));
                let timeout = when.saturating_duration_since(now);
                self.wake
                    .wait_timeout(st, timeout)
                    .unwrap_or_else(|e| e.into_inner())
                    .0
            }
            None => {
                st.wait = Some(Wait::Forever);
                self.wake.wait(st).unwrap_or_else(|e| e.into_inner())
            }
        };
        st.wait = Some(Wait::Busy);
        st
    }
}

impl TimerDriver for Fallback {
    fn alloc(&self, action: TimerAction) -> u64 {
        let action = match action {
            TimerAction::Wake(w) => Stored::Wake(w),
            TimerAction::Call { f, .. } => Stored::Call(f),
        };
        let mut st = self.lock();
        let index = match st.free.pop() {
            Some(index) => index,
            None => {
                let index = u32::try_from(st.entries.len()).expect("too many timers");
                st.entries.push(Entry {
                    generation: 0,
                    in_use: false,
                    deadline: None,
                    arming: 0,
                    fired: false,
                    action: Stored::None,
                });
                index
            }
        };
        let e = &mut st.entries[index as usize];
        e.in_use = true;
        e.fired = false;
        let old = std::mem::replace(&mut e.action, action);
        let k = key(index, e.generation);
        drop(st);
        drop(old);
        k
    }

    fn arm(&self, key: u64, deadline: Instant) -> bool {
        let mut st = self.lock();
        let was = st.disarm(key);
        let Some(e) = st.entry(key) else {
            return was;
        };
        e.deadline = Some(deadline);
        e.fired = false;
        let item = Reverse((deadline, key as u32, e.arming));
        st.armed += 1;
        st.heap.push(item);
        if st.heap.len() > 64 && st.heap.len() > 4 * st.armed {
            // Mostly stale items: keep the live ones.
            let State { heap, entries, .. } = &mut *st;
            heap.retain(|Reverse((_, i, a))| {
                let e = &entries[*i as usize];
                e.arming == *a && e.deadline.is_some()
            });
        }
        let notify = match st.wait {
            Some(Wait::Until(t)) => deadline < t,
            Some(Wait::Forever) => true,
            Some(Wait::Busy) | None => false,
        };
        if notify {
            // Under the lock: the thread is blocked in `wait` (it set
            // `wait` and released the lock atomically), so it gets this.
            st.wait = Some(Wait::Busy);
            self.wake.notify_one();
        }
        was
    }

    fn cancel(&self, key: u64) -> bool {
        self.lock().disarm(key)
    }

    fn poll_fired(&self, key: u64, cx: &Context<'_>) -> Poll<()> {
        let mut st = self.lock();
        let Some(e) = st.entry(key) else {
            return Poll::Pending;
        };
        if e.fired {
            return Poll::Ready(());
        }
        let old = match &e.action {
            Stored::Wake(w) if w.will_wake(cx.waker()) => return Poll::Pending,
            _ => std::mem::replace(&mut e.action, Stored::Wake(cx.waker().clone())),
        };
        drop(st);
        drop(old);
        Poll::Pending
    }

    fn free(&self, key: u64) {
        let mut st = self.lock();
        st.disarm(key);
        let Some(e) = st.entry(key) else {
            return;
        };
        e.in_use = false;
        e.generation = e.generation.wrapping_add(1);
        let old = std::mem::replace(&mut e.action, Stored::None);
        st.free.push(key as u32);
        drop(st);
        drop(old);
    }

    fn spawn(&self, fut: BoxFuture, _at: &'static Location<'static>) {
        // The timer thread (or the caller) must not run user code that may
        // block: give the future its own thread, which runs it to completion.
        std::thread::Builder::new()
            .name("goro-detached".into())
            .spawn(move || block_on(fut))
            .expect("goro-hook: cannot start a thread for a detached goroutine");
    }
}

/// Polls `fut` to completion on this thread, parking it between wakes.
fn block_on(mut fut: BoxFuture) {
    struct Unpark(std::thread::Thread);
    impl std::task::Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
        fn wake_by_ref(self: &Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    while fut.as_mut().poll(&mut cx).is_pending() {
        std::thread::park();
    }
}

#[cfg(all(test, not(goro_loom)))]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Duration;

    fn call(tx: mpsc::Sender<u32>, v: u32) -> TimerAction {
        TimerAction::Call {
            f: Arc::new(move || {
                let _ = tx.send(v);
            }),
            at: Location::caller(),
        }
    }

    /// Bounded wait for a value (a failure guard, not synchronisation).
    fn recv(rx: &mpsc::Receiver<u32>) -> u32 {
        rx.recv_timeout(Duration::from_secs(10))
            .expect("timer did not fire")
    }

    #[test]
    fn timers_fire_in_deadline_order_and_never_early() {
        let d = driver();
        let (tx, rx) = mpsc::channel();
        let start = Instant::now();
        let keys: Vec<u64> = [30u64, 10, 20]
            .iter()
            .map(|&ms| {
                let k = d.alloc(call(tx.clone(), ms as u32));
                assert!(!d.arm(k, start + Duration::from_millis(ms)));
                k
            })
            .collect();
        for want in [10, 20, 30] {
            assert_eq!(recv(&rx), want);
            assert!(start.elapsed() >= Duration::from_millis(u64::from(want)));
        }
        for k in keys {
            d.free(k);
        }
    }

    #[test]
    fn cancel_reports_armed_and_a_cancelled_timer_never_fires() {
        let d = driver();
        let (tx, rx) = mpsc::channel();
        let never = d.alloc(call(tx.clone(), 1));
        let later = d.alloc(call(tx, 2));
        assert!(!d.arm(never, Instant::now() + Duration::from_millis(5)));
        assert!(d.cancel(never));
        assert!(!d.cancel(never));
        assert!(!d.arm(later, Instant::now() + Duration::from_millis(20)));
        // `later` fires after `never`'s deadline: had `never` fired, its
        // value would come first.
        assert_eq!(recv(&rx), 2);
        assert!(rx.try_recv().is_err());
        d.free(never);
        d.free(later);
    }

    #[test]
    fn rearming_an_earlier_deadline_wakes_the_thread_and_stale_keys_are_ignored() {
        let d = driver();
        let (tx, rx) = mpsc::channel();
        let k = d.alloc(call(tx, 3));
        assert!(!d.arm(k, Instant::now() + Duration::from_secs(3600)));
        // The thread now waits for an hour; the re-arm must wake it.
        assert!(d.arm(k, Instant::now()));
        assert_eq!(recv(&rx), 3);
        let cx = Context::from_waker(Waker::noop());
        assert!(d.poll_fired(k, &cx).is_ready());
        d.free(k);
        // A freed key is stale: no effect, even once its slot is reused.
        assert!(!d.arm(k, Instant::now()));
        assert!(!d.cancel(k));
        assert!(d.poll_fired(k, &cx).is_pending());
        let k2 = d.alloc(TimerAction::Wake(Waker::noop().clone()));
        assert_ne!(k, k2);
        d.free(k);
        assert!(!d.arm(k2, Instant::now() + Duration::from_secs(3600)));
        assert!(d.cancel(k2));
        d.free(k2);
    }

    #[test]
    fn a_reset_loop_does_not_grow_the_heap_without_bound() {
        let timers = Fallback::default();
        let k = timers.alloc(TimerAction::Wake(Waker::noop().clone()));
        for _ in 0..10_000 {
            timers.arm(k, Instant::now() + Duration::from_secs(3600));
        }
        assert!(timers.lock().heap.len() <= 65);
        timers.free(k);
    }
}

/// Model of the arm/wait handshake: a timer armed (earlier than anything
/// the thread waits for) while the timer thread decides how long to block
/// is never missed. loom's `wait_timeout` never times out, so a lost
/// notification deadlocks the model.
/// Run with `RUSTFLAGS="--cfg goro_loom" cargo test -p goro-hook --lib loom`.
#[cfg(all(test, goro_loom))]
mod loom_tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    #[test]
    fn loom_arm_while_the_timer_thread_waits_is_never_missed() {
        loom::model(|| {
            let timers = loom::sync::Arc::new(Fallback::default());
            let fired = Arc::new(AtomicBool::new(false));
            let f = fired.clone();
            let key = timers.alloc(TimerAction::Call {
                f: Arc::new(move || f.store(true, Ordering::SeqCst)),
                at: Location::caller(),
            });
            // The thread first sees only a far deadline.
            timers.arm(key, Instant::now() + Duration::from_secs(3600));
            let thread = {
                let (timers, fired) = (timers.clone(), fired.clone());
                loom::thread::spawn(move || {
                    let mut due = Vec::new();
                    let mut st = timers.lock();
                    while !fired.load(Ordering::SeqCst) {
                        st = timers.turn(st, &mut due);
                    }
                })
            };
            // Re-armed as due now: the thread must notice.
            assert!(timers.arm(key, Instant::now()));
            thread.join().unwrap();
            timers.free(key);
        });
    }
}
