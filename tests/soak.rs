//! Soak: thousands of goroutines doing random channel operations on a shared
//! set of buffered and unbuffered channels (sends, receives, `try_` forms,
//! `select!` with send and receive cases, with and without `default`), with
//! timeouts, closes, context cancellations (shared contexts cancelled at
//! random, children with timeouts), futures dropped at random points and
//! goroutines panicking at random under
//! `PanicPolicy::Ignore`; a ledger proves that no value is lost or
//! duplicated, and no goroutine is left at the end (judged by
//! `goro::leak::verify_none_async`). Run on 1, 2 and 4 workers.
//!
//! Sizes: `GORO_SOAK` unset (CI) runs a few rounds of 2,000 goroutines;
//! `GORO_SOAK=long` runs rounds of 10,000 goroutines until at least 10
//! million operations are done (or the time cap is hit, which fails).
//! `GORO_SOAK_SEED=N` replays a run.
//!
//! # The ledger
//!
//! Every value sent is a [`Token`] with a unique id. Its fate is recorded
//! exactly once:
//!
//! - `RECEIVED`: a receiver took it (and defused it);
//! - `DROPPED`: it was dropped while a channel operation was being polled
//!   or dropped (a `try_send` that gave it back, a send not chosen by
//!   `select!`, a cancelled send future, a send that panicked on a closed
//!   channel, or goro's documented drop of a value handed to a receive that
//!   was cancelled after the channel was reported closed and drained);
//! - anything else (a drop outside any channel operation, a second event,
//!   or none at all) fails the test.
//!
//! The sender also records what it knows: `CONFIRMED` (its send completed:
//! the value must have been received, or dropped by a cancelled receive on a
//! closed channel), `NOT_SENT` (`try_send` failed, or `select!` chose another
//! case: the value must not have been received), or nothing (the send future
//! was dropped, or the goroutine panicked: either fate is fine, but still
//! exactly one).

use std::cell::Cell;
use std::future::{poll_fn, Future};
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use goro::chan::{self, Chan, TryRecvError};
use goro::context::{self, CancelFunc};
use goro::runtime::PanicPolicy;

/// The run's size.
struct Size {
    goroutines: usize,
    ops_per_goroutine: usize,
    /// Rounds at least; a long run goes on until `min_ops`.
    rounds: usize,
    min_ops: u64,
    /// Failing guard: a run that has not finished by then fails.
    time_cap: Duration,
}

fn size() -> Size {
    match std::env::var("GORO_SOAK").as_deref() {
        Ok("long") => Size {
            goroutines: 10_000,
            ops_per_goroutine: 200,
            rounds: 1,
            min_ops: 10_000_000,
            time_cap: Duration::from_secs(1800),
        },
        _ => Size {
            goroutines: 2_000,
            ops_per_goroutine: 50,
            rounds: 3,
            min_ops: 0,
            time_cap: Duration::from_secs(120),
        },
    }
}

const RECEIVED: u8 = 1;
const DROPPED: u8 = 16;
/// Dropped outside any channel operation: a lost value.
const STRAY: u8 = 64;

const CONFIRMED: u8 = 1;
const NOT_SENT: u8 = 2;

/// The fates of one round's tokens, indexed by token id.
struct Ledger {
    fate: Vec<AtomicU8>,
    sender_saw: Vec<AtomicU8>,
    chan_of: Vec<AtomicU8>,
    next: AtomicU64,
    /// Operations ended by their context (`ctx.done()` chosen).
    ctx_done: AtomicU64,
}

impl Ledger {
    fn new(max: usize) -> Arc<Self> {
        let v = |_| AtomicU8::new(0);
        Arc::new(Ledger {
            fate: (0..max).map(v).collect(),
            sender_saw: (0..max).map(v).collect(),
            chan_of: (0..max).map(v).collect(),
            next: AtomicU64::new(0),
            ctx_done: AtomicU64::new(0),
        })
    }

    fn token(self: &Arc<Self>, chan: usize) -> Token {
        let id = self.next.fetch_add(1, Ordering::Relaxed) as usize;
        assert!(id < self.fate.len(), "ledger too small");
        self.chan_of[id].store(chan as u8, Ordering::Relaxed);
        Token {
            id,
            ledger: Some(self.clone()),
        }
    }

    fn saw(&self, id: usize, what: u8) {
        self.sender_saw[id].store(what, Ordering::Relaxed);
    }

    /// Checks every token of the round; `closed[c]` says whether channel `c`
    /// was closed. Returns the number of tokens.
    fn verify(&self, closed: &[bool]) -> usize {
        let n = self.next.load(Ordering::SeqCst) as usize;
        let mut lost = Vec::new();
        for id in 0..n {
            let fate = self.fate[id].load(Ordering::SeqCst);
            let saw = self.sender_saw[id].load(Ordering::SeqCst);
            let closed = closed[self.chan_of[id].load(Ordering::SeqCst) as usize];
            let ok = match (fate, saw) {
                (RECEIVED, CONFIRMED) | (RECEIVED, 0) => true,
                (DROPPED, NOT_SENT) | (DROPPED, 0) => true,
                // A completed send whose value went to a receive that was
                // cancelled after "closed and drained" was reported.
                (DROPPED, CONFIRMED) => closed,
                _ => false,
            };
            if !ok {
                lost.push((id, fate, saw, closed));
            }
        }
        assert!(
            lost.is_empty(),
            "{} of {n} tokens with a wrong fate (id, fate, sender saw, closed): {:?}",
            lost.len(),
            &lost[..lost.len().min(20)]
        );
        n
    }
}

thread_local! {
    /// True while a channel operation is polled or dropped on this thread.
    static IN_OP: Cell<bool> = const { Cell::new(false) };
}

/// Sets `IN_OP` for its lifetime (unwinding included).
struct OpScope(bool);

impl OpScope {
    fn enter() -> Self {
        OpScope(IN_OP.with(|c| c.replace(true)))
    }
}

impl Drop for OpScope {
    fn drop(&mut self) {
        IN_OP.with(|c| c.set(self.0));
    }
}

/// A channel operation future: its polls and its drop run inside an
/// [`OpScope`], so tokens it drops are counted as `DROPPED`.
struct Op<F>(std::mem::ManuallyDrop<F>);

impl<F> Op<F> {
    fn new(f: F) -> Self {
        Op(std::mem::ManuallyDrop::new(f))
    }
}

impl<F: Future> Future for Op<F> {
    type Output = F::Output;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let _scope = OpScope::enter();
        // SAFETY: structural pinning of the only field; it is never moved
        // out (dropped in place in `drop`).
        unsafe { self.map_unchecked_mut(|s| &mut *s.0) }.poll(cx)
    }
}

impl<F> Drop for Op<F> {
    fn drop(&mut self) {
        let _scope = OpScope::enter();
        // SAFETY: dropped once, here, in place.
        unsafe { std::mem::ManuallyDrop::drop(&mut self.0) }
    }
}

/// A value in flight. Its fate is recorded when it is received or dropped.
struct Token {
    id: usize,
    /// `None` once received.
    ledger: Option<Arc<Ledger>>,
}

impl Token {
    fn receive(mut self) {
        if let Some(l) = self.ledger.take() {
            l.fate[self.id].fetch_add(RECEIVED, Ordering::Relaxed);
        }
    }
}

impl Drop for Token {
    fn drop(&mut self) {
        if let Some(l) = self.ledger.take() {
            let fate = if IN_OP.with(Cell::get) {
                DROPPED
            } else {
                STRAY
            };
            l.fate[self.id].fetch_add(fate, Ordering::Relaxed);
        }
    }
}

/// Polls `fut` at most `polls` times (yielding in between), then gives up:
/// `None` means it was still pending (the caller drops it).
async fn poll_at_most<F: Future>(fut: Pin<&mut F>, polls: u32) -> Option<F::Output> {
    let mut fut = fut;
    let mut n = 0;
    poll_fn(move |cx| match fut.as_mut().poll(cx) {
        Poll::Ready(v) => Poll::Ready(Some(v)),
        Poll::Pending => {
            n += 1;
            if n >= polls {
                Poll::Ready(None)
            } else {
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        }
    })
    .await
}

const RANDOM_PANIC: &str = "soak: random panic";

/// A timeout for a `select!`: a `Timer`, stopped when dropped, rather than
/// `time::after`, because an `after` timer still pending when the runtime is
/// dropped is leaked with the runtime's IO driver (a reference cycle through
/// its keep-alive), which the AddressSanitizer stage of CI would report.
fn timeout_timer(d: Duration) -> goro::time::Timer {
    goro::time::Timer::new(d)
}

/// Records the outcome of a `select!` with a send case (of token `id`) and
/// a receive case: `Ok` if the send was chosen, else what was received.
fn settle_send_or_recv(ledger: &Ledger, id: usize, got: Result<(), Option<Token>>) {
    match got {
        Ok(()) => ledger.saw(id, CONFIRMED),
        Err(v) => {
            ledger.saw(id, NOT_SENT);
            if let Some(t) = v {
                t.receive();
            }
        }
    }
}

/// What a round's goroutines share.
struct Round {
    chans: Vec<Chan<Token>>,
    /// Set (after `close`) for each closed channel.
    closed: Vec<AtomicBool>,
    /// Contexts cancelled at random during the round, with their cancels.
    ctxs: Vec<(context::Context, CancelFunc)>,
    ledger: Arc<Ledger>,
    ops_done: Arc<AtomicU64>,
    /// A close (and a context cancel) happens once in this many operations.
    close_one_in: u32,
}

/// One goroutine's life: `ops` random operations.
async fn worker(round: Arc<Round>, seed: u64, ops: usize) {
    let Round {
        chans,
        closed,
        ctxs,
        ledger,
        ops_done,
        close_one_in,
    } = &*round;
    let close_one_in = *close_one_in;
    let mut rng = fastrand::Rng::with_seed(seed);
    let timeout = |rng: &mut fastrand::Rng| Duration::from_micros(rng.u64(0..2_000));
    for i in 0..ops {
        ops_done.fetch_add(1, Ordering::Relaxed);
        let c = rng.usize(..chans.len());
        let ch = &chans[c];
        // Closes come in the second half of a goroutine's life.
        if i >= ops / 2 && rng.u32(..close_one_in) == 0 {
            // Go: closing a closed channel panics; that kills this goroutine.
            ch.close();
            closed[c].store(true, Ordering::Relaxed);
            continue;
        }
        if rng.u32(..close_one_in) == 0 {
            // Cancel one of the round's shared contexts (again: a no-op).
            (ctxs[rng.usize(..ctxs.len())].1)();
        }
        let mut kind = rng.u32(..100);
        // Like a Go program, mostly avoid sending on a channel known to be
        // closed (the flag is set after `close`: some sends still race
        // with the close and panic).
        if closed[c].load(Ordering::Relaxed) && rng.u32(..20) != 0 {
            kind = rng.u32(10..20);
        }
        match kind {
            // try_send
            0..=9 => {
                let t = ledger.token(c);
                let id = t.id;
                let _scope = OpScope::enter();
                match ch.try_send(t) {
                    Ok(()) => ledger.saw(id, CONFIRMED),
                    Err(e) => {
                        ledger.saw(id, NOT_SENT);
                        drop(e.into_inner());
                    }
                }
            }
            // try_recv
            10..=19 => match ch.try_recv() {
                Ok(t) => t.receive(),
                Err(TryRecvError::Empty | TryRecvError::Closed) => {}
            },
            // send with a timeout (select)
            20..=34 => {
                let t = ledger.token(c);
                let id = t.id;
                let d = timeout(&mut rng);
                let timer = timeout_timer(d);
                let sent = Op::new(async {
                    goro::select! {
                        _ = ch.send(t) => true,
                        _ = timer.c() => false,
                    }
                })
                .await;
                ledger.saw(id, if sent { CONFIRMED } else { NOT_SENT });
            }
            // receive with a timeout (select)
            35..=49 => {
                let d = timeout(&mut rng);
                let timer = timeout_timer(d);
                let got = Op::new(async {
                    goro::select! {
                        v = ch.recv() => v,
                        _ = timer.c() => None,
                    }
                })
                .await;
                if let Some(t) = got {
                    t.receive();
                }
            }
            // select with a send and a receive case (and a timeout)
            50..=64 => {
                let c2 = rng.usize(..chans.len());
                let t = ledger.token(c);
                let id = t.id;
                let d = timeout(&mut rng);
                let other = &chans[c2];
                let timer = timeout_timer(d);
                let got = Op::new(async {
                    goro::select! {
                        _ = ch.send(t) => Ok(()),
                        v = other.recv() => Err(v),
                        _ = timer.c() => Err(None),
                    }
                })
                .await;
                settle_send_or_recv(ledger, id, got);
            }
            // a send future dropped after a few polls
            65..=74 => {
                let t = ledger.token(c);
                let id = t.id;
                let polls = rng.u32(1..4);
                let mut fut = pin!(Op::new(ch.send(t)));
                if poll_at_most(fut.as_mut(), polls).await.is_some() {
                    ledger.saw(id, CONFIRMED);
                }
            }
            // a receive future dropped after a few polls
            75..=84 => {
                let polls = rng.u32(1..4);
                let mut fut = pin!(Op::new(ch.recv()));
                if let Some(Some(t)) = poll_at_most(fut.as_mut(), polls).await {
                    t.receive();
                }
            }
            // a plain receive raced against a sleep by hand: the receive
            // future (not a select case) is dropped when the sleep wins
            85..=92 => {
                let d = timeout(&mut rng);
                let mut recv = pin!(Op::new(ch.recv()));
                let mut sleep = pin!(goro::time::sleep(d));
                let got = poll_fn(|cx| {
                    if let Poll::Ready(v) = recv.as_mut().poll(cx) {
                        return Poll::Ready(v);
                    }
                    sleep.as_mut().poll(cx).map(|()| None)
                })
                .await;
                if let Some(t) = got {
                    t.receive();
                }
            }
            // park on a send, then panic with the operation queued
            93 if rng.u32(..10) == 0 => {
                let t = ledger.token(c);
                let mut fut = pin!(Op::new(ch.send(t)));
                if poll_at_most(fut.as_mut(), 1).await.is_none() {
                    panic!("{RANDOM_PANIC}");
                }
            }
            // panic at random
            94 if rng.u32(..10) == 0 => panic!("{RANDOM_PANIC}"),
            // a send or a receive under a context: a shared one (cancelled
            // at random during the round) or a fresh child with a timeout
            98 | 99 => {
                let shared = &ctxs[rng.usize(..ctxs.len())].0;
                // Every wait is bounded: by the child's timeout, or (a child
                // that only its parent's random cancel can end) by a timer.
                let d = timeout(&mut rng);
                let (ctx, _cancel, timer) = if rng.bool() {
                    let (ctx, cancel) = context::with_timeout(shared, d);
                    (ctx, cancel, None)
                } else {
                    let (ctx, cancel) = context::with_cancel(shared);
                    (ctx, cancel, Some(timeout_timer(d)))
                };
                let expired = timer
                    .as_ref()
                    .map_or_else(chan::Receiver::nil, |t| t.c().clone());
                let done = ctx.done();
                if kind == 98 {
                    let t = ledger.token(c);
                    let id = t.id;
                    let sent = Op::new(async {
                        goro::select! {
                            _ = ch.send(t) => Some(true),
                            _ = done => Some(false),
                            _ = expired => None,
                        }
                    })
                    .await;
                    ledger.saw(
                        id,
                        if sent == Some(true) {
                            CONFIRMED
                        } else {
                            NOT_SENT
                        },
                    );
                    if sent == Some(false) {
                        assert!(ctx.err().is_some(), "done closed, no err");
                        ledger.ctx_done.fetch_add(1, Ordering::Relaxed);
                    }
                } else {
                    let got = Op::new(async {
                        goro::select! {
                            v = ch.recv() => Ok(v),
                            _ = done => Err(()),
                            _ = expired => Ok(None),
                        }
                    })
                    .await;
                    match got {
                        Ok(Some(t)) => t.receive(),
                        Ok(None) => {}
                        Err(()) => {
                            assert!(ctx.err().is_some(), "done closed, no err");
                            ledger.ctx_done.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            }
            // a non-blocking select (default) with a send and a receive case
            95..=97 => {
                let other = &chans[rng.usize(..chans.len())];
                let t = ledger.token(c);
                let id = t.id;
                let got = Op::new(async {
                    goro::select! {
                        _ = ch.send(t) => Ok(()),
                        v = other.recv() => Err(v),
                        default => Err(None),
                    }
                })
                .await;
                settle_send_or_recv(ledger, id, got);
            }
            _ => goro::yield_now().await,
        }
    }
}

/// Keeps the expected panics out of the output; others print as usual.
fn quiet_expected_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let prev = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let p = info.payload();
            let text = p
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            if ![
                RANDOM_PANIC,
                "send on closed channel",
                "close of closed channel",
            ]
            .contains(&text.as_str())
            {
                prev(info);
            }
        }));
    });
}

fn soak(workers: usize) {
    quiet_expected_panics();
    let size = size();
    let seed = std::env::var("GORO_SOAK_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| fastrand::u64(..));
    println!("soak: workers {workers}, seed {seed} (GORO_SOAK_SEED={seed} replays the choices)");
    let start = Instant::now();
    let rt = goro::Runtime::builder()
        .workers(workers)
        .on_goroutine_panic(PanicPolicy::Ignore)
        .rng_seed(seed)
        .build()
        .unwrap();
    let ops_done = Arc::new(AtomicU64::new(0));
    let mut rng = fastrand::Rng::with_seed(seed);
    let (mut tokens, mut panicked, mut closes, mut rounds) = (0usize, 0usize, 0usize, 0usize);
    let mut ctx_done = 0;
    while rounds < size.rounds || ops_done.load(Ordering::Relaxed) < size.min_ops {
        assert!(
            start.elapsed() < size.time_cap,
            "soak over its time cap {:?} after {rounds} rounds",
            size.time_cap
        );
        rounds += 1;
        // Unbuffered and buffered channels of a few capacities.
        let chans: Vec<Chan<Token>> = [0, 0, 0, 1, 1, 4, 16, 64].map(chan::make).into();
        let ops = size.goroutines * size.ops_per_goroutine;
        // Each operation creates at most one token.
        let ledger = Ledger::new(ops + 1);
        // Contexts shared by the round's goroutines, cancelled at random.
        let root = context::background();
        let round = Arc::new(Round {
            closed: chans.iter().map(|_| AtomicBool::new(false)).collect(),
            ctxs: (0..4).map(|_| context::with_cancel(&root)).collect(),
            // About half the channels get closed in a round, in its second
            // half; now and then one twice (a panic).
            close_one_in: (ops / 2 / (chans.len() / 2)).max(1) as u32,
            chans,
            ledger: ledger.clone(),
            ops_done: ops_done.clone(),
        });
        let round_seed = rng.u64(..);
        let time_left = size.time_cap.saturating_sub(start.elapsed());
        let (round_panicked, closed) = rt
            .block_on({
                let round = round.clone();
                let (goroutines, per) = (size.goroutines, size.ops_per_goroutine);
                async move {
                    let mut rng = fastrand::Rng::with_seed(round_seed);
                    let handles: Vec<_> = (0..goroutines)
                        .map(|_| goro::go!(worker(round.clone(), rng.u64(..), per)))
                        .collect();
                    let mut panicked = 0;
                    // A stuck goroutine fails the run (with the dump) at the
                    // time cap instead of hanging it.
                    let cap = goro::time::Timer::new(time_left);
                    for mut h in handles {
                        let r = goro::select! {
                            r = &mut h => r,
                            _ = cap.c() => panic!(
                                "soak round stuck at its time cap:\n{}",
                                goro::runtime::dump()
                            ),
                        };
                        match r {
                            Ok(()) => {}
                            Err(e) if e.is_panic() => panicked += 1,
                            Err(e) => panic!("goroutine failed: {e}"),
                        }
                    }
                    // The leak detector is the judge: no goroutine but main
                    // is left (it waits, bounded, for records removed just
                    // after their result was published).
                    if let Err(report) =
                        goro::leak::verify_none_async(goro::leak::Options::new()).await
                    {
                        panic!("goroutines left after the round:\n{report}");
                    }
                    assert_eq!(goro::runtime::num_goroutine(), 1);
                    // What is still buffered is received now.
                    let mut closed = Vec::new();
                    for ch in round.chans.iter() {
                        let _scope = OpScope::enter();
                        loop {
                            match ch.try_recv() {
                                Ok(t) => t.receive(),
                                Err(TryRecvError::Empty) => {
                                    closed.push(false);
                                    break;
                                }
                                Err(TryRecvError::Closed) => {
                                    closed.push(true);
                                    break;
                                }
                            }
                        }
                        assert_eq!(ch.len(), 0);
                    }
                    (panicked, closed)
                }
            })
            .expect("the soak's main goroutine failed");
        drop(round);
        tokens += ledger.verify(&closed);
        ctx_done += ledger.ctx_done.load(Ordering::SeqCst);
        panicked += round_panicked;
        closes += closed.iter().filter(|&&c| c).count();
    }
    let ops = ops_done.load(Ordering::Relaxed);
    println!(
        "soak: workers {workers}: {rounds} rounds, {ops} operations, {tokens} values sent, \
         all received once or returned; {panicked} goroutines panicked, {closes} channels \
         closed, {ctx_done} operations ended by their context; {:.1?}",
        start.elapsed()
    );
    assert!(panicked > 0, "the soak must exercise goroutine panics");
    assert!(closes > 0, "the soak must exercise close");
    assert!(ctx_done > 0, "the soak must exercise context cancellation");
}

#[test]
fn soak_1_worker() {
    soak(1);
}

#[test]
fn soak_2_workers() {
    soak(2);
}

#[test]
fn soak_4_workers() {
    soak(4);
}
