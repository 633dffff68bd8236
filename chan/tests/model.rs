//! Model-based tests: random sequences of channel operations, run on a real
//! channel and on a small sequential reference model of Go's semantics
//! (`runtime/chan.go`: a FIFO buffer, FIFO queues of blocked senders and
//! receivers, close waking both), compared after every step. proptest shrinks
//! a failing sequence to a minimal one.
//!
//! Blocking operations are futures polled by hand: a `send`/`recv` that must
//! wait stays *pending* (a blocked goroutine in Go's terms) until a later step
//! polls it again or cancels it (drops the future, goro's cancellation).
//! Every value is a [`Val`] whose drop is logged, so the test also proves
//! that each value sent ends exactly once: received, still buffered when the
//! channel is dropped, or dropped with a cancelled or panicked send.
//!
//! Where Go has no counterpart (a cancelled receive that had already been
//! handed a value), the model follows goro's documented rule
//! (`Hchan::give_back`): the value goes to the next queued receiver, else
//! back to the buffer front, unless a receive already reported the channel
//! closed and drained, in which case it is dropped.
//!
//! `PROPTEST_CASES` sets the number of cases (default 256 per test).

use std::collections::VecDeque;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

use goro_chan::{make, Chan, TryRecvError, TrySendError};
use proptest::prelude::*;

/// A value with an identity whose drop is recorded in a shared log.
struct Val {
    id: u32,
    log: Arc<Mutex<Vec<u32>>>,
}

impl Drop for Val {
    fn drop(&mut self) {
        self.log.lock().unwrap().push(self.id);
    }
}

impl std::fmt::Debug for Val {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Val({})", self.id)
    }
}

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

/// One step. Indices pick a pending operation modulo their number.
#[derive(Debug, Clone)]
enum Step {
    /// `ch.send(v)` polled once; if it must wait it stays pending.
    Send,
    /// `ch.recv()` polled once; if it must wait it stays pending.
    Recv,
    TrySend,
    TryRecv,
    Close,
    Len,
    Cap,
    /// Poll a pending send again.
    PollSend(usize),
    /// Poll a pending receive again.
    PollRecv(usize),
    /// Drop a pending send.
    CancelSend(usize),
    /// Drop a pending receive.
    CancelRecv(usize),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => Just(Step::Send),
        6 => Just(Step::Recv),
        4 => Just(Step::TrySend),
        4 => Just(Step::TryRecv),
        1 => Just(Step::Close),
        1 => Just(Step::Len),
        1 => Just(Step::Cap),
        3 => any::<usize>().prop_map(Step::PollSend),
        3 => any::<usize>().prop_map(Step::PollRecv),
        2 => any::<usize>().prop_map(Step::CancelSend),
        2 => any::<usize>().prop_map(Step::CancelRecv),
    ]
}

/// What the model says about a pending send.
#[derive(Debug, Clone, Copy, PartialEq)]
enum SendState {
    /// In `sendq` with its value.
    Queued,
    /// A receiver took the value (or it was moved into the buffer).
    Delivered,
    /// The channel was closed while it waited: it panics when polled.
    Closed,
}

/// What the model says about a pending receive.
#[derive(Debug, Clone, Copy, PartialEq)]
enum RecvState {
    Queued,
    /// Completed with this value, not yet observed by a poll.
    Got(u32),
    /// Woken by close: when polled it receives a value given back to the
    /// buffer meanwhile, else reports "closed and drained".
    Closed,
}

/// Go's channel, sequentially: ids instead of goroutines.
#[derive(Debug, Default)]
struct Model {
    cap: usize,
    buf: VecDeque<u32>,
    closed: bool,
    /// A receive has reported "closed and drained" (goro's `drained_seen`).
    drained_seen: bool,
    /// Blocked senders in FIFO order: (op id, value).
    sendq: VecDeque<(usize, u32)>,
    /// Blocked receivers in FIFO order: op ids.
    recvq: VecDeque<usize>,
    sends: Vec<SendState>,
    recvs: Vec<RecvState>,
}

/// The outcome of a receive attempt in the model.
enum RecvNow {
    Value(u32),
    Closed,
    WouldBlock,
}

impl Model {
    /// `chansend`'s non-blocking part: `Err(v)` when it would block.
    fn send_now(&mut self, v: u32) -> Result<(), u32> {
        assert!(!self.closed);
        if let Some(r) = self.recvq.pop_front() {
            self.recvs[r] = RecvState::Got(v);
            return Ok(());
        }
        if self.buf.len() < self.cap {
            self.buf.push_back(v);
            return Ok(());
        }
        Err(v)
    }

    /// `chanrecv`'s non-blocking part.
    fn recv_now(&mut self) -> RecvNow {
        if let Some(v) = self.buf.pop_front() {
            if self.buf.len() < self.cap {
                if let Some((s, sv)) = self.sendq.pop_front() {
                    self.buf.push_back(sv);
                    self.sends[s] = SendState::Delivered;
                }
            }
            return RecvNow::Value(v);
        }
        if let Some((s, sv)) = self.sendq.pop_front() {
            self.sends[s] = SendState::Delivered;
            return RecvNow::Value(sv);
        }
        if self.closed {
            self.drained_seen = true;
            return RecvNow::Closed;
        }
        RecvNow::WouldBlock
    }

    fn close(&mut self) {
        self.closed = true;
        // A receiver woken by close decides what it reports when it runs
        // (`recv_closed_outcome`): "closed and drained" is recorded then, not
        // here, since it may be cancelled first (issue 14).
        for r in self.recvq.drain(..) {
            self.recvs[r] = RecvState::Closed;
        }
        for (s, _) in self.sendq.drain(..) {
            self.sends[s] = SendState::Closed;
        }
    }

    /// A cancelled receive that had been handed `v` gives it back.
    /// Returns false if the value is dropped instead.
    fn give_back(&mut self, v: u32) -> bool {
        if let Some(r) = self.recvq.pop_front() {
            self.recvs[r] = RecvState::Got(v);
            true
        } else if self.closed && self.buf.is_empty() && self.drained_seen {
            false
        } else {
            self.buf.push_front(v);
            true
        }
    }
}

type SendFut<'a> = Pin<Box<goro_chan::Send<'a, Val>>>;
type RecvFut<'a> = Pin<Box<goro_chan::Recv<'a, Val>>>;

/// A pending operation: the model's id, the future, and its waker's flag.
struct Pending<F> {
    id: usize,
    fut: F,
    woken: Arc<Flag>,
}

fn new_waker() -> (Arc<Flag>, Waker) {
    let flag = Arc::new(Flag::default());
    (flag.clone(), Waker::from(flag))
}

fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_default()
}

/// Keeps the expected panics (caught and checked by the test) out of the
/// output; any other panic is reported as usual.
fn quiet_expected_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let prev = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let text = panic_text(info.payload());
            if text != "send on closed channel" && text != "close of closed channel" {
                prev(info);
            }
        }));
    });
}

/// Runs `steps` on a channel of capacity `cap` and on the model.
fn run(cap: usize, steps: &[Step]) -> Result<(), TestCaseError> {
    quiet_expected_panics();
    let log = Arc::new(Mutex::new(Vec::new()));
    let mut next_val = 0u32;
    // Values that must end up dropped exactly once by the end.
    let mut created = 0u32;
    let mut received: Vec<u32> = Vec::new();
    let mut model = Model {
        cap,
        ..Model::default()
    };
    let ch: Chan<Val> = make(cap);
    {
        let mut sends: Vec<Pending<SendFut<'_>>> = Vec::new();
        let mut recvs: Vec<Pending<RecvFut<'_>>> = Vec::new();
        let mut val = |log: &Arc<Mutex<Vec<u32>>>| {
            next_val += 1;
            created += 1;
            Val {
                id: next_val,
                log: log.clone(),
            }
        };

        // Polls a send; checks the outcome against the model. Returns true
        // when the future is finished (completed or panicked).
        fn poll_send(
            fut: &mut SendFut<'_>,
            waker: &Waker,
            expect: SendState,
        ) -> Result<bool, TestCaseError> {
            let mut cx = Context::from_waker(waker);
            match catch_unwind(AssertUnwindSafe(|| fut.as_mut().poll(&mut cx))) {
                Ok(Poll::Ready(())) => {
                    prop_assert_eq!(expect, SendState::Delivered, "send completed");
                    Ok(true)
                }
                Ok(Poll::Pending) => {
                    prop_assert_eq!(expect, SendState::Queued, "send pending");
                    Ok(false)
                }
                Err(p) => {
                    prop_assert_eq!(panic_text(&*p), "send on closed channel");
                    prop_assert_eq!(expect, SendState::Closed, "send panicked");
                    Ok(true)
                }
            }
        }

        fn poll_recv(
            fut: &mut RecvFut<'_>,
            waker: &Waker,
            expect: RecvState,
            received: &mut Vec<u32>,
        ) -> Result<bool, TestCaseError> {
            let mut cx = Context::from_waker(waker);
            match fut.as_mut().poll(&mut cx) {
                Poll::Ready(Some(v)) => {
                    prop_assert_eq!(expect, RecvState::Got(v.id), "recv got a value");
                    received.push(v.id);
                    Ok(true)
                }
                Poll::Ready(None) => {
                    prop_assert_eq!(expect, RecvState::Closed, "recv got closed");
                    Ok(true)
                }
                Poll::Pending => {
                    prop_assert_eq!(expect, RecvState::Queued, "recv pending");
                    Ok(false)
                }
            }
        }

        for s in steps {
            match *s {
                Step::Send => {
                    let v = val(&log);
                    let id = model.sends.len();
                    let expect = if model.closed {
                        SendState::Closed
                    } else {
                        match model.send_now(v.id) {
                            Ok(()) => SendState::Delivered,
                            Err(mv) => {
                                model.sendq.push_back((id, mv));
                                SendState::Queued
                            }
                        }
                    };
                    model.sends.push(expect);
                    let mut fut = Box::pin(ch.send(v));
                    let (woken, waker) = new_waker();
                    if !poll_send(&mut fut, &waker, expect)? {
                        sends.push(Pending { id, fut, woken });
                    }
                }
                Step::Recv => {
                    let id = model.recvs.len();
                    let expect = match model.recv_now() {
                        RecvNow::Value(v) => RecvState::Got(v),
                        RecvNow::Closed => RecvState::Closed,
                        RecvNow::WouldBlock => {
                            model.recvq.push_back(id);
                            RecvState::Queued
                        }
                    };
                    model.recvs.push(expect);
                    let mut fut = Box::pin(ch.recv());
                    let (woken, waker) = new_waker();
                    if !poll_recv(&mut fut, &waker, expect, &mut received)? {
                        recvs.push(Pending { id, fut, woken });
                    }
                }
                Step::TrySend => {
                    let v = val(&log);
                    let vid = v.id;
                    let got = ch.try_send(v);
                    if model.closed {
                        match got {
                            Err(TrySendError::Closed(back)) => prop_assert_eq!(back.id, vid),
                            other => prop_assert!(false, "try_send on closed: {:?}", other),
                        }
                    } else {
                        match (model.send_now(vid), got) {
                            (Ok(()), Ok(())) => {}
                            (Err(_), Err(TrySendError::Full(back))) => {
                                prop_assert_eq!(back.id, vid)
                            }
                            (m, r) => prop_assert!(false, "try_send: model {:?}, real {:?}", m, r),
                        }
                    }
                }
                Step::TryRecv => match (model.recv_now(), ch.try_recv()) {
                    (RecvNow::Value(m), Ok(v)) => {
                        prop_assert_eq!(m, v.id);
                        received.push(v.id);
                    }
                    (RecvNow::Closed, Err(TryRecvError::Closed)) => {}
                    (RecvNow::WouldBlock, Err(TryRecvError::Empty)) => {}
                    (m, r) => {
                        let m = match m {
                            RecvNow::Value(v) => format!("Value({v})"),
                            RecvNow::Closed => "Closed".into(),
                            RecvNow::WouldBlock => "WouldBlock".into(),
                        };
                        prop_assert!(false, "try_recv: model {}, real {:?}", m, r);
                    }
                },
                Step::Close => {
                    let r = catch_unwind(AssertUnwindSafe(|| ch.close()));
                    if model.closed {
                        let p = r.expect_err("close of a closed channel must panic");
                        prop_assert_eq!(panic_text(&*p), "close of closed channel");
                    } else {
                        prop_assert!(r.is_ok(), "close panicked");
                        model.close();
                    }
                }
                Step::Len => prop_assert_eq!(ch.len(), model.buf.len()),
                Step::Cap => prop_assert_eq!(ch.cap(), cap),
                Step::PollSend(i) if !sends.is_empty() => {
                    let i = i % sends.len();
                    let p = &mut sends[i];
                    let expect = model.sends[p.id];
                    if expect != SendState::Queued {
                        prop_assert!(
                            p.woken.0.load(Ordering::SeqCst),
                            "a completed send was not woken"
                        );
                    }
                    let (woken, waker) = new_waker();
                    p.woken = woken;
                    if poll_send(&mut p.fut, &waker, expect)? {
                        sends.remove(i);
                    }
                }
                Step::PollRecv(i) if !recvs.is_empty() => {
                    let i = i % recvs.len();
                    let p = &mut recvs[i];
                    let mut expect = model.recvs[p.id];
                    if expect == RecvState::Closed {
                        expect = match model.recv_now() {
                            RecvNow::Value(v) => RecvState::Got(v),
                            RecvNow::Closed => RecvState::Closed,
                            RecvNow::WouldBlock => unreachable!("closed never blocks"),
                        };
                    }
                    if expect != RecvState::Queued {
                        prop_assert!(
                            p.woken.0.load(Ordering::SeqCst),
                            "a completed receive was not woken"
                        );
                    }
                    let (woken, waker) = new_waker();
                    p.woken = woken;
                    if poll_recv(&mut p.fut, &waker, expect, &mut received)? {
                        recvs.remove(i);
                    }
                }
                Step::CancelSend(i) if !sends.is_empty() => {
                    let p = sends.remove(i % sends.len());
                    if model.sends[p.id] == SendState::Queued {
                        model.sendq.retain(|&(s, _)| s != p.id);
                    }
                    drop(p);
                }
                Step::CancelRecv(i) if !recvs.is_empty() => {
                    let p = recvs.remove(i % recvs.len());
                    match model.recvs[p.id] {
                        RecvState::Queued => model.recvq.retain(|&r| r != p.id),
                        RecvState::Got(v) => {
                            model.give_back(v);
                        }
                        RecvState::Closed => {}
                    }
                    drop(p);
                }
                Step::PollSend(_)
                | Step::PollRecv(_)
                | Step::CancelSend(_)
                | Step::CancelRecv(_) => {}
            }
            prop_assert_eq!(ch.len(), model.buf.len(), "len after {:?}", s);
        }
        // Cancel whatever is still pending, receives first (a receive that
        // was handed a value gives it back to the buffer).
        for p in recvs.drain(..) {
            if let RecvState::Got(v) = model.recvs[p.id] {
                model.give_back(v);
            }
        }
        for p in sends.drain(..) {
            if model.sends[p.id] == SendState::Queued {
                model.sendq.retain(|&(s, _)| s != p.id);
            }
        }
    }
    // Drain what is left: exactly the model's buffer, in order.
    let mut rest = Vec::new();
    while let Ok(v) = ch.try_recv() {
        rest.push(v.id);
    }
    prop_assert_eq!(rest, Vec::from(model.buf.clone()));
    drop(ch);
    // Every value was dropped exactly once.
    let mut dropped = log.lock().unwrap().clone();
    dropped.sort_unstable();
    prop_assert_eq!(dropped, (1..=created).collect::<Vec<_>>());
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        // PROPTEST_CASES, else 256 (a literal here would ignore the variable).
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(256),
        // No regression files: a failure prints its minimal sequence.
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn unbuffered_channel_matches_go_model(steps in prop::collection::vec(step(), 1..80)) {
        run(0, &steps)?;
    }

    #[test]
    fn buffered_channel_matches_go_model(
        cap in 1usize..4,
        steps in prop::collection::vec(step(), 1..80),
    ) {
        run(cap, &steps)?;
    }
}

/// The model itself is checked against a hand-worked Go trace (the API
/// contract's example): a full cap-2 buffer [100, 101] with 4 blocked
/// senders yields 100 101 0 1 2 3.
#[test]
fn model_agrees_with_go_fifo_example() {
    let mut m = Model {
        cap: 2,
        ..Model::default()
    };
    m.send_now(100).unwrap();
    m.send_now(101).unwrap();
    for v in 0..4 {
        let id = m.sends.len();
        m.sends.push(SendState::Queued);
        let blocked = m.send_now(v).unwrap_err();
        m.sendq.push_back((id, blocked));
    }
    let mut got = Vec::new();
    while let RecvNow::Value(v) = m.recv_now() {
        got.push(v);
    }
    assert_eq!(got, [100, 101, 0, 1, 2, 3]);
    assert!(m.sends.iter().all(|&s| s == SendState::Delivered));
}
