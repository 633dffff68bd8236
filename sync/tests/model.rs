//! Model-based tests of the `sync` primitives: random operation sequences
//! run on the real primitive and on a small sequential reference model of
//! Go's semantics, compared after every step; proptest shrinks a failing
//! sequence to a minimal one. (The same approach as `chan/tests/model.rs`.)
//!
//! Waiting operations are futures polled by hand with a waker that records
//! whether it was woken: a future that must wait stays *pending* (a blocked
//! goroutine in Go's terms) until a later step polls it again or cancels it
//! (drops the future, goro's cancellation). Besides results, every step
//! checks wake-ups: whoever the model says was released (a WaitGroup's
//! waiters, a granted semaphore request, a cancelled context's watchers)
//! must have been woken, and a free mutex with waiters must have woken one
//! of them (no lost wake-up).
//!
//! - `WaitGroup`: `add` (negative too), `done`, `wait`; Go's panic text for a
//!   negative counter.
//! - `Mutex`: `lock`, `try_lock`, unlock, cancelled lock futures. Go's mutex
//!   switches to starvation mode after a waiter waited 1 ms, which depends
//!   on the clock, so the model checks what holds in both modes: mutual
//!   exclusion, a free uncontended mutex is always acquirable, the protected
//!   value, at most one woken waiter at a time, and no lost wake-up.
//! - `RwMutex`: readers and writers with Go's writer preference.
//! - `semaphore::Weighted`: x/sync's FIFO with weights, `try_acquire`,
//!   `release` (its panic), requests larger than the size, acquires whose
//!   context is cancelled before, while and after they are granted. The
//!   model is exact (no clock involved): `cur` and the queue length are
//!   compared through `Debug` after every step.
//! - `context`: random trees of `with_cancel`, `with_cancel_cause`,
//!   `with_deadline` (past and far), `without_cancel`; cancelling any node;
//!   `err`, `cause`, `deadline` and `done` of every node against Go's
//!   propagation rules, and watchers of `done` woken.
//! - `Once`: `call_once` runs its function exactly once, a panicking one
//!   included (Go marks it done).
//!
//! `PROPTEST_CASES` sets the number of cases (default 256 per test).

use std::collections::VecDeque;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll, Wake, Waker};

use proptest::prelude::*;

/// A waker that records whether it was woken.
#[derive(Default)]
struct Flag(AtomicBool);

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// A pending future with the flag of the waker it was last polled with.
struct Pending<F: Future + ?Sized> {
    fut: Pin<Box<F>>,
    flag: Arc<Flag>,
}

impl<F: Future + ?Sized> Pending<F> {
    fn new(fut: Pin<Box<F>>) -> Self {
        Pending {
            fut,
            flag: Arc::new(Flag::default()),
        }
    }

    /// Polls with a fresh flag; the old one's state is lost.
    fn poll(&mut self) -> Poll<F::Output> {
        self.flag = Arc::new(Flag::default());
        let waker = Waker::from(self.flag.clone());
        self.fut.as_mut().poll(&mut TaskContext::from_waker(&waker))
    }

    fn woken(&self) -> bool {
        self.flag.0.load(Ordering::SeqCst)
    }
}

/// The message of a caught panic.
fn panic_text(p: Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_default()
}

/// Cases per test: `PROPTEST_CASES`, else 256. Also quiets the panics the
/// tests provoke on purpose.
fn config() -> ProptestConfig {
    quiet_expected_panics();
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    ProptestConfig {
        cases,
        // No regression files: a failure prints its minimal sequence.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// The panics the tests provoke on purpose (and check through
/// `catch_unwind`): Go's panic texts, and the `Once` test's own.
const EXPECTED_PANICS: [&str; 3] = [
    "sync: negative WaitGroup counter",
    "semaphore: released more than held",
    "once ",
];

/// Installs (once) a panic hook that does not print the expected panics
/// (thousands of cases would flood the log with them); every other panic
/// goes to the default hook.
fn quiet_expected_panics() {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let p = info.payload();
            let msg = p
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| p.downcast_ref::<String>().map(String::as_str))
                .unwrap_or("");
            if !EXPECTED_PANICS.iter().any(|e| msg.starts_with(e)) {
                default(info);
            }
        }));
    });
}

/// The index of a pending operation chosen by a step (`i` modulo their
/// number), if any is pending.
fn pick(i: usize, len: usize) -> Option<usize> {
    (len > 0).then(|| i % len)
}

mod waitgroup {
    use super::*;
    use goro_sync::WaitGroup;

    #[derive(Debug, Clone)]
    pub(super) enum Step {
        Add(isize),
        Done,
        /// `wg.wait()` polled once; stays pending if it must wait.
        Wait,
        Poll(usize),
        Cancel(usize),
    }

    pub(super) fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            4 => (-2isize..=3).prop_map(Step::Add),
            4 => Just(Step::Done),
            4 => Just(Step::Wait),
            3 => any::<usize>().prop_map(Step::Poll),
            2 => any::<usize>().prop_map(Step::Cancel),
        ]
    }

    #[derive(Debug, Clone, Copy, PartialEq)]
    enum W {
        /// Waiting for the counter to reach zero.
        Queued,
        /// The counter reached zero: released (woken), not yet polled.
        Released,
    }

    pub(super) fn run(steps: &[Step]) -> Result<(), TestCaseError> {
        let wg = WaitGroup::new();
        let mut counter: i64 = 0;
        let mut waits: Vec<(Pending<dyn Future<Output = ()> + '_>, W)> = Vec::new();
        for (n, step) in steps.iter().enumerate() {
            match *step {
                Step::Add(_) | Step::Done => {
                    let d = match *step {
                        Step::Add(d) => d,
                        _ => -1,
                    };
                    let r = catch_unwind(AssertUnwindSafe(|| wg.add(d)));
                    if counter + d as i64 >= 0 {
                        prop_assert!(r.is_ok(), "step {n}: add({d}) panicked at {counter}");
                    }
                    if counter + (d as i64) < 0 {
                        let text = panic_text(r.expect_err("negative counter must panic"));
                        prop_assert_eq!(text, "sync: negative WaitGroup counter");
                        // The group is unusable after this, as in Go.
                        return Ok(());
                    }
                    counter += d as i64;
                    if counter == 0 {
                        for w in &mut waits {
                            w.1 = W::Released;
                        }
                    }
                }
                Step::Wait => {
                    let mut p =
                        Pending::new(Box::pin(wg.wait()) as Pin<Box<dyn Future<Output = ()>>>);
                    let ready = p.poll().is_ready();
                    prop_assert_eq!(
                        ready,
                        counter == 0,
                        "step {}: wait at counter {}",
                        n,
                        counter
                    );
                    if !ready {
                        waits.push((p, W::Queued));
                    }
                }
                Step::Poll(i) => {
                    if let Some(i) = pick(i, waits.len()) {
                        let ready = waits[i].0.poll().is_ready();
                        prop_assert_eq!(ready, waits[i].1 == W::Released, "step {}: poll", n);
                        if ready {
                            waits.remove(i);
                        }
                    }
                }
                Step::Cancel(i) => {
                    if let Some(i) = pick(i, waits.len()) {
                        waits.remove(i);
                    }
                }
            }
            for (k, (p, state)) in waits.iter().enumerate() {
                // Released waiters were woken; queued ones were not.
                prop_assert_eq!(
                    p.woken(),
                    *state == W::Released,
                    "step {}: waiter {} woken={} but {:?}",
                    n,
                    k,
                    p.woken(),
                    state
                );
            }
        }
        // Finish: cancel the waits, bring the counter to zero; a new wait
        // completes at once.
        waits.clear();
        wg.add(-(counter as isize));
        let mut p = Pending::new(Box::pin(wg.wait()));
        prop_assert!(p.poll().is_ready());
        Ok(())
    }
}

mod mutex {
    use super::*;
    use goro_sync::{Mutex, MutexGuard};

    #[derive(Debug, Clone)]
    pub(super) enum Step {
        /// `m.lock()` polled once; stays pending if it must wait.
        Lock,
        TryLock,
        /// Drop the guard, if held.
        Unlock,
        /// Add one to the value under the held guard.
        Write,
        Poll(usize),
        Cancel(usize),
    }

    pub(super) fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            5 => Just(Step::Lock),
            3 => Just(Step::TryLock),
            5 => Just(Step::Unlock),
            2 => Just(Step::Write),
            5 => any::<usize>().prop_map(Step::Poll),
            2 => any::<usize>().prop_map(Step::Cancel),
        ]
    }

    type LockFut<'a> = dyn Future<Output = MutexGuard<'a, u64>> + 'a;

    pub(super) fn run(steps: &[Step]) -> Result<(), TestCaseError> {
        let m = Mutex::new(0u64);
        let mut value = 0u64;
        let mut guard: Option<MutexGuard<'_, u64>> = None;
        // In the order they first parked (the queue order: a woken waiter
        // that loses the race re-queues at the front).
        let mut pending: VecDeque<Pending<LockFut<'_>>> = VecDeque::new();
        for (n, step) in steps.iter().enumerate() {
            match *step {
                Step::Lock => {
                    let mut p = Pending::new(Box::pin(m.lock()) as Pin<Box<LockFut<'_>>>);
                    match p.poll() {
                        Poll::Ready(g) => {
                            prop_assert!(guard.is_none(), "step {n}: two holders");
                            prop_assert_eq!(*g, value);
                            guard = Some(g);
                        }
                        Poll::Pending => {
                            // A free mutex nobody waits for is taken at once.
                            prop_assert!(
                                guard.is_some() || !pending.is_empty(),
                                "step {}: lock of a free, uncontended mutex waited",
                                n
                            );
                            pending.push_back(p);
                        }
                    }
                }
                Step::TryLock => match m.try_lock() {
                    Some(g) => {
                        prop_assert!(guard.is_none(), "step {n}: try_lock of a held mutex");
                        prop_assert_eq!(*g, value);
                        guard = Some(g);
                    }
                    None => prop_assert!(
                        guard.is_some() || !pending.is_empty(),
                        "step {}: try_lock of a free, uncontended mutex failed",
                        n
                    ),
                },
                Step::Unlock => drop(guard.take()),
                Step::Write => {
                    if let Some(g) = guard.as_mut() {
                        **g += 1;
                        value += 1;
                    }
                }
                Step::Poll(i) => {
                    if let Some(i) = pick(i, pending.len()) {
                        if let Poll::Ready(g) = pending[i].poll() {
                            prop_assert!(guard.is_none(), "step {n}: two holders");
                            prop_assert_eq!(*g, value);
                            guard = Some(g);
                            pending.remove(i);
                        }
                    }
                }
                Step::Cancel(i) => {
                    if let Some(i) = pick(i, pending.len()) {
                        pending.remove(i);
                    }
                }
            }
            let woken: Vec<usize> = (0..pending.len()).filter(|&k| pending[k].woken()).collect();
            // Go's mutexWoken / starvation handoff: one waiter at a time.
            prop_assert!(
                woken.len() <= 1,
                "step {n}: several waiters woken: {woken:?}"
            );
            // No lost wake-up: a free mutex with waiters has woken one
            // (it may not own the lock: it competes in normal mode).
            if guard.is_none() && !pending.is_empty() {
                prop_assert!(
                    woken.len() == 1,
                    "step {n}: free mutex, waiters, none woken"
                );
            }
        }
        // Cancelling every waiter and unlocking leaves the mutex free.
        pending.clear();
        drop(guard.take());
        let g = m.try_lock();
        prop_assert!(g.is_some(), "mutex left locked");
        prop_assert_eq!(*g.unwrap(), value);
        Ok(())
    }
}

mod rwmutex {
    use super::*;
    use goro_sync::{RwMutex, RwMutexReadGuard, RwMutexWriteGuard};

    #[derive(Debug, Clone)]
    pub(super) enum Step {
        Read,
        Write,
        TryRead,
        TryWrite,
        /// Drop a held read guard.
        ReadUnlock(usize),
        WriteUnlock,
        Poll(usize),
        Cancel(usize),
    }

    pub(super) fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            4 => Just(Step::Read),
            3 => Just(Step::Write),
            2 => Just(Step::TryRead),
            2 => Just(Step::TryWrite),
            4 => any::<usize>().prop_map(Step::ReadUnlock),
            4 => Just(Step::WriteUnlock),
            5 => any::<usize>().prop_map(Step::Poll),
            2 => any::<usize>().prop_map(Step::Cancel),
        ]
    }

    enum Got<'a> {
        R(RwMutexReadGuard<'a, ()>),
        W(RwMutexWriteGuard<'a, ()>),
    }

    struct Op<'a> {
        write: bool,
        p: Pending<dyn Future<Output = Got<'a>> + 'a>,
    }

    pub(super) fn run(steps: &[Step]) -> Result<(), TestCaseError> {
        let m = RwMutex::new(());
        let mut readers: Vec<RwMutexReadGuard<'_, ()>> = Vec::new();
        let mut writer: Option<RwMutexWriteGuard<'_, ()>> = None;
        let mut pending: Vec<Op<'_>> = Vec::new();
        for (n, step) in steps.iter().enumerate() {
            let writer_waits = |pending: &Vec<Op<'_>>| pending.iter().any(|o| o.write);
            let mut got = None;
            match *step {
                Step::Read | Step::Write => {
                    let write = matches!(step, Step::Write);
                    let fut: Pin<Box<dyn Future<Output = Got<'_>> + '_>> = if write {
                        Box::pin(async { Got::W(m.write().await) })
                    } else {
                        Box::pin(async { Got::R(m.read().await) })
                    };
                    let mut op = Op {
                        write,
                        p: Pending::new(fut),
                    };
                    match op.p.poll() {
                        Poll::Ready(g) => got = Some(g),
                        Poll::Pending => {
                            // Free and uncontended: acquired at once.
                            let free = writer.is_none()
                                && (!write || readers.is_empty())
                                && pending.is_empty();
                            prop_assert!(!free, "step {n}: uncontended {step:?} waited");
                            pending.push(op);
                        }
                    }
                }
                Step::TryRead => match m.try_read() {
                    Some(g) => got = Some(Got::R(g)),
                    None => prop_assert!(
                        writer.is_some() || writer_waits(&pending),
                        "step {}: try_read failed with no writer holding or waiting",
                        n
                    ),
                },
                Step::TryWrite => match m.try_write() {
                    Some(g) => got = Some(Got::W(g)),
                    None => prop_assert!(
                        writer.is_some() || !readers.is_empty() || !pending.is_empty(),
                        "step {}: try_write of a free, uncontended RwMutex failed",
                        n
                    ),
                },
                Step::ReadUnlock(i) => {
                    if let Some(i) = pick(i, readers.len()) {
                        drop(readers.swap_remove(i));
                    }
                }
                Step::WriteUnlock => drop(writer.take()),
                Step::Poll(i) => {
                    if let Some(i) = pick(i, pending.len()) {
                        if let Poll::Ready(g) = pending[i].p.poll() {
                            pending.remove(i);
                            got = Some(g);
                        }
                    }
                }
                Step::Cancel(i) => {
                    if let Some(i) = pick(i, pending.len()) {
                        pending.remove(i);
                    }
                }
            }
            match got {
                Some(Got::R(g)) => {
                    prop_assert!(writer.is_none(), "step {n}: read lock while written");
                    readers.push(g);
                }
                Some(Got::W(g)) => {
                    prop_assert!(
                        writer.is_none() && readers.is_empty(),
                        "step {}: write lock while held ({} readers)",
                        n,
                        readers.len()
                    );
                    writer = Some(g);
                }
                None => {}
            }
            // Go's writer preference: once a writer waits, a new reader
            // waits too (try_read fails) until that writer has had its turn.
            if writer_waits(&pending) || writer.is_some() {
                prop_assert!(m.try_read().is_none(), "step {n}: reader overtook a writer");
            }
            // No lost wake-up: free, with waiters, someone was woken.
            if writer.is_none() && readers.is_empty() && !pending.is_empty() {
                prop_assert!(
                    pending.iter().any(|o| o.p.woken()),
                    "step {}: free RwMutex, waiters, none woken",
                    n
                );
            }
        }
        pending.clear();
        readers.clear();
        drop(writer.take());
        prop_assert!(m.try_write().is_some(), "RwMutex left locked");
        Ok(())
    }
}

mod semaphore {
    use super::*;
    use goro_sync::context::{self, CancelFunc, Context, Error};
    use goro_sync::semaphore::Weighted;

    /// Contexts: 0 background, 1 and 2 cancellable, 3 a child of 1.
    const CTXS: usize = 4;

    #[derive(Debug, Clone)]
    pub(super) enum Step {
        /// `acquire(ctx, n)` polled once.
        Acquire {
            n: i64,
            ctx: usize,
        },
        TryAcquire(i64),
        Release(i64),
        Poll(usize),
        /// Drop a pending acquire.
        Cancel(usize),
        /// Cancel context 1, 2 or 3.
        CancelCtx(usize),
    }

    pub(super) fn step(size: i64) -> impl Strategy<Value = Step> {
        prop_oneof![
            6 => (0..=size + 1, 0..CTXS).prop_map(|(n, ctx)| Step::Acquire { n, ctx }),
            2 => (0..=size).prop_map(Step::TryAcquire),
            5 => (1..=3i64).prop_map(Step::Release),
            5 => any::<usize>().prop_map(Step::Poll),
            2 => any::<usize>().prop_map(Step::Cancel),
            1 => (1..CTXS).prop_map(Step::CancelCtx),
        ]
    }

    #[derive(Debug, Clone, Copy, PartialEq)]
    enum A {
        Queued,
        /// Granted by a release (weight counted in `cur`), not yet polled.
        Granted,
        /// Larger than the size: waits for its context only.
        Doomed,
    }

    /// x/sync's `Weighted`, sequentially.
    struct Model {
        size: i64,
        cur: i64,
        /// Queued requests: (op id, weight).
        queue: VecDeque<(usize, i64)>,
        ops: Vec<(A, i64, usize)>,
        cancelled: [bool; CTXS],
    }

    impl Model {
        fn notify(&mut self) {
            while let Some(&(id, n)) = self.queue.front() {
                if self.size - self.cur < n {
                    break;
                }
                self.cur += n;
                self.queue.pop_front();
                self.ops[id].0 = A::Granted;
            }
        }

        /// The request leaves (cancelled, or its context is done): a
        /// granted weight is given back; waiters behind may now fit.
        fn leave(&mut self, id: usize) {
            match self.ops[id].0 {
                A::Queued => self.queue.retain(|&(q, _)| q != id),
                A::Granted => self.cur -= self.ops[id].1,
                A::Doomed => return,
            }
            self.notify();
        }

        fn cancel_ctx(&mut self, c: usize) {
            self.cancelled[c] = true;
            if c == 1 {
                self.cancelled[3] = true;
            }
        }
    }

    type AcqFut<'a> = dyn Future<Output = Result<(), Error>> + 'a;

    pub(super) fn run(size: i64, steps: &[Step]) -> Result<(), TestCaseError> {
        let sem = Weighted::new(size);
        let bg = context::background();
        let (c1, k1) = context::with_cancel(&bg);
        let (c2, k2) = context::with_cancel(&bg);
        let (c3, k3) = context::with_cancel(&c1);
        let ctxs: [Context; CTXS] = [bg.clone(), c1, c2, c3];
        let mut cancels: [Option<CancelFunc>; CTXS] = [None, Some(k1), Some(k2), Some(k3)];
        let mut model = Model {
            size,
            cur: 0,
            queue: VecDeque::new(),
            ops: Vec::new(),
            cancelled: [false; CTXS],
        };
        // The weight held by the test (acquires it saw succeed).
        let mut held = 0;
        // (op id, future)
        let mut pending: Vec<(usize, Pending<AcqFut<'_>>)> = Vec::new();
        for (n, step) in steps.iter().enumerate() {
            match *step {
                Step::Acquire { n: w, ctx } => {
                    let id = model.ops.len();
                    model.ops.push((A::Queued, w, ctx));
                    let mut p =
                        Pending::new(Box::pin(sem.acquire(&ctxs[ctx], w)) as Pin<Box<AcqFut<'_>>>);
                    let got = p.poll();
                    let want = if model.cancelled[ctx] {
                        Poll::Ready(Err(Error::Canceled))
                    } else if size - model.cur >= w && model.queue.is_empty() {
                        model.cur += w;
                        held += w;
                        Poll::Ready(Ok(()))
                    } else if w > size {
                        model.ops[id].0 = A::Doomed;
                        Poll::Pending
                    } else {
                        model.queue.push_back((id, w));
                        Poll::Pending
                    };
                    prop_assert_eq!(got, want, "step {}: {:?}", n, step);
                    if want.is_pending() {
                        pending.push((id, p));
                    }
                }
                Step::TryAcquire(w) => {
                    let want = size - model.cur >= w && model.queue.is_empty();
                    if want {
                        model.cur += w;
                        held += w;
                    }
                    prop_assert_eq!(sem.try_acquire(w), want, "step {}: {:?}", n, step);
                }
                Step::Release(w) => {
                    if w > model.cur {
                        let r = catch_unwind(AssertUnwindSafe(|| sem.release(w)));
                        let text = panic_text(r.expect_err("over-release must panic"));
                        prop_assert_eq!(text, "semaphore: released more than held");
                    } else if w <= held {
                        // (Releasing weight granted to a request that has
                        // not seen its grant yet is misuse: skipped.)
                        sem.release(w);
                        held -= w;
                        model.cur -= w;
                        model.notify();
                    }
                }
                Step::Poll(i) => {
                    if let Some(i) = pick(i, pending.len()) {
                        let id = pending[i].0;
                        let (state, _, ctx) = model.ops[id];
                        let got = pending[i].1.poll();
                        let want = if model.cancelled[ctx] {
                            // x/sync: a done context wins, even over a grant
                            // (the weight is given back).
                            model.leave(id);
                            Poll::Ready(Err(Error::Canceled))
                        } else if state == A::Granted {
                            held += model.ops[id].1;
                            Poll::Ready(Ok(()))
                        } else {
                            Poll::Pending
                        };
                        prop_assert_eq!(got, want, "step {}: poll of {:?}", n, state);
                        if want.is_ready() {
                            pending.remove(i);
                        }
                    }
                }
                Step::Cancel(i) => {
                    if let Some(i) = pick(i, pending.len()) {
                        let (id, _) = pending.remove(i);
                        model.leave(id);
                    }
                }
                Step::CancelCtx(c) => {
                    if let Some(cancel) = cancels[c].take() {
                        cancel();
                        model.cancel_ctx(c);
                    }
                }
            }
            // The real semaphore's weight and queue, as the model's.
            prop_assert_eq!(
                format!("{sem:?}"),
                format!(
                    "Weighted {{ size: {}, cur: {}, waiters: {} }}",
                    size,
                    model.cur,
                    model.queue.len()
                ),
                "step {}: {:?}",
                n,
                step
            );
            // Granted requests and those whose context is done were woken.
            for (id, p) in &pending {
                let (state, _, ctx) = model.ops[*id];
                if state == A::Granted || model.cancelled[ctx] {
                    prop_assert!(p.woken(), "step {n}: op {id} ({state:?}) not woken");
                }
            }
        }
        for (id, p) in pending.drain(..) {
            drop(p);
            model.leave(id);
        }
        // Exactly `size - cur` is free.
        prop_assert!(sem.try_acquire(size - model.cur));
        prop_assert!(!sem.try_acquire(1));
        drop(cancels);
        Ok(())
    }
}

mod context_tree {
    use super::*;
    use goro_sync::context::{self, CancelCauseFunc, CancelFunc, Context, Error};
    use std::time::{Duration, Instant};

    #[derive(Debug, Clone)]
    pub(super) enum Step {
        WithCancel(usize),
        WithCancelCause(usize),
        /// `with_deadline` at an instant already past.
        DeadlinePast(usize),
        /// `with_deadline` `hours` hours from the start.
        DeadlineFar {
            parent: usize,
            hours: u64,
        },
        WithoutCancel(usize),
        /// Call the node's cancel function (with a cause for a cause node).
        Cancel(usize),
        /// Drop the node's cancel function (which cancels too).
        DropCancel(usize),
        /// Watch the node's `done` channel: a receive polled once.
        Watch(usize),
    }

    pub(super) fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            4 => any::<usize>().prop_map(Step::WithCancel),
            2 => any::<usize>().prop_map(Step::WithCancelCause),
            1 => any::<usize>().prop_map(Step::DeadlinePast),
            2 => (any::<usize>(), 1..4u64).prop_map(|(parent, hours)| Step::DeadlineFar { parent, hours }),
            1 => any::<usize>().prop_map(Step::WithoutCancel),
            4 => any::<usize>().prop_map(Step::Cancel),
            1 => any::<usize>().prop_map(Step::DropCancel),
            2 => any::<usize>().prop_map(Step::Watch),
        ]
    }

    type WatchFut = dyn Future<Output = Option<()>>;

    enum Canceller {
        None,
        Plain(CancelFunc),
        Cause(CancelCauseFunc),
    }

    struct Node {
        ctx: Context,
        cancel: Canceller,
        parent: Option<usize>,
        /// Detached from its parent's cancellation (`without_cancel`).
        detached: bool,
        err: Option<Error>,
        cause: Option<String>,
        deadline: Option<Instant>,
    }

    /// Go's propagation: a node cancelled with (err, cause) passes both to
    /// every descendant not yet done, except through `without_cancel`.
    fn cancel(nodes: &mut [Node], i: usize, err: Error, cause: String) {
        if nodes[i].err.is_some() {
            return;
        }
        nodes[i].err = Some(err);
        nodes[i].cause = Some(cause.clone());
        let children: Vec<usize> = (i + 1..nodes.len())
            .filter(|&c| nodes[c].parent == Some(i) && !nodes[c].detached)
            .collect();
        for c in children {
            cancel(nodes, c, err, cause.clone());
        }
    }

    fn text(e: Error) -> String {
        match e {
            Error::Canceled => "context canceled".into(),
            Error::DeadlineExceeded => "context deadline exceeded".into(),
        }
    }

    pub(super) fn run(steps: &[Step]) -> Result<(), TestCaseError> {
        let start = Instant::now();
        let mut nodes = vec![Node {
            ctx: context::background(),
            cancel: Canceller::None,
            parent: None,
            detached: false,
            err: None,
            cause: None,
            deadline: None,
        }];
        let mut watches: Vec<(usize, Pending<WatchFut>)> = Vec::new();
        for (n, step) in steps.iter().enumerate() {
            let len = nodes.len();
            match *step {
                Step::WithCancel(p) | Step::WithCancelCause(p) => {
                    let p = p % len;
                    let (ctx, cancel) = if matches!(step, Step::WithCancel(_)) {
                        let (c, f) = context::with_cancel(&nodes[p].ctx);
                        (c, Canceller::Plain(f))
                    } else {
                        let (c, f) = context::with_cancel_cause(&nodes[p].ctx);
                        (c, Canceller::Cause(f))
                    };
                    let (err, cause, deadline) =
                        (nodes[p].err, nodes[p].cause.clone(), nodes[p].deadline);
                    nodes.push(Node {
                        ctx,
                        cancel,
                        parent: Some(p),
                        detached: false,
                        err,
                        cause,
                        deadline,
                    });
                }
                Step::DeadlinePast(p) | Step::DeadlineFar { parent: p, .. } => {
                    let p = p % len;
                    let d = match *step {
                        Step::DeadlineFar { hours, .. } => {
                            start + Duration::from_secs(3600 * hours)
                        }
                        _ => start,
                    };
                    let (ctx, f) = context::with_deadline(&nodes[p].ctx, d);
                    let parent = &nodes[p];
                    // A parent already done passes its error on; else a past
                    // deadline cancels at once. An earlier parent deadline
                    // wins (Go: it is then just WithCancel).
                    let deadline = Some(parent.deadline.map_or(d, |pd| pd.min(d)));
                    let (err, cause) = match parent.err {
                        Some(e) => (Some(e), parent.cause.clone()),
                        None if d <= Instant::now() => (
                            Some(Error::DeadlineExceeded),
                            Some(text(Error::DeadlineExceeded)),
                        ),
                        None => (None, None),
                    };
                    nodes.push(Node {
                        ctx,
                        cancel: Canceller::Plain(f),
                        parent: Some(p),
                        detached: false,
                        err,
                        cause,
                        deadline,
                    });
                }
                Step::WithoutCancel(p) => {
                    let p = p % len;
                    nodes.push(Node {
                        ctx: context::without_cancel(&nodes[p].ctx),
                        cancel: Canceller::None,
                        parent: Some(p),
                        detached: true,
                        err: None,
                        cause: None,
                        deadline: None,
                    });
                }
                Step::Cancel(i) | Step::DropCancel(i) => {
                    let i = i % len;
                    let drop_it = matches!(step, Step::DropCancel(_));
                    let cause = match std::mem::replace(&mut nodes[i].cancel, Canceller::None) {
                        Canceller::None => None,
                        Canceller::Plain(f) => {
                            if drop_it {
                                drop(f);
                            } else {
                                f();
                                nodes[i].cancel = Canceller::Plain(f);
                            }
                            Some(text(Error::Canceled))
                        }
                        Canceller::Cause(f) => {
                            let why = format!("cause {n}");
                            if drop_it {
                                drop(f);
                                Some(text(Error::Canceled))
                            } else {
                                f.cancel_with(why.clone());
                                nodes[i].cancel = Canceller::Cause(f);
                                Some(why)
                            }
                        }
                    };
                    if let Some(cause) = cause {
                        cancel(&mut nodes, i, Error::Canceled, cause);
                    }
                }
                Step::Watch(i) => {
                    let i = i % len;
                    let ctx = nodes[i].ctx.clone();
                    let mut p = Pending::new(
                        Box::pin(async move { ctx.done().recv().await }) as Pin<Box<WatchFut>>
                    );
                    match p.poll() {
                        Poll::Ready(v) => {
                            prop_assert!(
                                v.is_none() && nodes[i].err.is_some(),
                                "step {n}: watch of {i}"
                            )
                        }
                        Poll::Pending => {
                            prop_assert!(
                                nodes[i].err.is_none(),
                                "step {n}: done node {i} not closed"
                            );
                            watches.push((i, p));
                        }
                    }
                }
            }
            for (i, node) in nodes.iter().enumerate() {
                prop_assert_eq!(node.ctx.err(), node.err, "step {}: err of node {}", n, i);
                prop_assert_eq!(
                    context::cause(&node.ctx).map(|c| c.to_string()),
                    node.cause.clone(),
                    "step {}: cause of node {}",
                    n,
                    i
                );
                prop_assert_eq!(
                    node.ctx.deadline(),
                    node.deadline,
                    "step {}: deadline of {}",
                    n,
                    i
                );
                let closed = matches!(
                    node.ctx.done().try_recv(),
                    Err(goro_chan::TryRecvError::Closed)
                );
                prop_assert_eq!(closed, node.err.is_some(), "step {}: done of node {}", n, i);
            }
            // Watchers of done nodes were woken and see the close.
            let mut k = 0;
            while k < watches.len() {
                let i = watches[k].0;
                if nodes[i].err.is_some() {
                    prop_assert!(
                        watches[k].1.woken(),
                        "step {n}: watcher of node {i} not woken"
                    );
                    prop_assert_eq!(watches[k].1.poll(), Poll::Ready(None));
                    watches.remove(k);
                } else {
                    prop_assert!(
                        !watches[k].1.woken(),
                        "step {n}: watcher of live node {i} woken"
                    );
                    k += 1;
                }
            }
        }
        Ok(())
    }
}

mod once {
    use super::*;
    use goro_sync::Once;
    use std::sync::atomic::AtomicUsize;

    /// `call_once` with a function that panics or not; Go runs only the
    /// first call's function, and a panicking one still counts as done.
    pub(super) fn run(panics: &[bool]) -> Result<(), TestCaseError> {
        let once = Once::new();
        let runs = AtomicUsize::new(0);
        for (n, &panic) in panics.iter().enumerate() {
            let r = catch_unwind(AssertUnwindSafe(|| {
                once.call_once_blocking(|| {
                    runs.fetch_add(1, Ordering::SeqCst);
                    if panic {
                        panic!("once {n}");
                    }
                })
            }));
            prop_assert_eq!(r.is_err(), n == 0 && panic, "call {}", n);
            prop_assert!(once.is_done());
            prop_assert_eq!(runs.load(Ordering::SeqCst), 1);
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn waitgroup_matches_go_model(steps in prop::collection::vec(waitgroup::step(), 1..60)) {
        waitgroup::run(&steps)?;
    }

    #[test]
    fn mutex_matches_go_model(steps in prop::collection::vec(mutex::step(), 1..80)) {
        mutex::run(&steps)?;
    }

    #[test]
    fn rwmutex_matches_go_model(steps in prop::collection::vec(rwmutex::step(), 1..80)) {
        rwmutex::run(&steps)?;
    }

    #[test]
    fn weighted_semaphore_matches_x_sync_model(
        (size, steps) in (1..5i64).prop_flat_map(|size| {
            (Just(size), prop::collection::vec(semaphore::step(size), 1..80))
        })
    ) {
        semaphore::run(size, &steps)?;
    }

    #[test]
    fn context_tree_matches_go_model(steps in prop::collection::vec(context_tree::step(), 1..50)) {
        context_tree::run(&steps)?;
    }

    #[test]
    fn once_runs_once(panics in prop::collection::vec(any::<bool>(), 1..8)) {
        once::run(&panics)?;
    }
}
