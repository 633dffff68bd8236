//! Checks that the code `select!` and `select_blocking!` generate compiles and
//! behaves as `docs/design/select-expansion.md` promises, against a tiny
//! single-threaded stand-in for the engine defined in this file (the real
//! engine is exercised by the workspace's `tests/select_*.rs`).
//!
//! `extern crate self as goro` makes the generated `::goro::__private::select`
//! paths resolve to the stand-in below. It only ever needs to handle cases
//! that are ready on the first poll, or `default`: no test here waits.

#![allow(missing_docs)]

extern crate self as goro;

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use goro_macros::{select, select_blocking};

/// The stand-in engine, at the path the macros name.
pub mod __private {
    pub mod select {
        use std::convert::Infallible;
        use std::future::Future;
        use std::pin::Pin;
        use std::rc::Rc;
        use std::task::{Context, Poll};

        pub use crate::into_case;
        use crate::{Chan, Log};

        /// A case the stand-in can poll: `Some(())` when it committed.
        pub trait SelectCase {
            fn try_commit(&mut self, cx: &mut Context<'_>) -> bool;
        }
        /// The blocking flavour accepts only channel cases.
        pub trait BlockingCase: SelectCase {}

        pub trait CaseOutput {
            type Output;
            fn take_output(&mut self) -> Self::Output;
        }

        pub trait IntoCase {
            type Case;
            fn into_case(self) -> Self::Case;
        }

        pub struct RecvCase<'a> {
            chan: &'a Chan,
            out: Option<Option<u32>>,
        }
        pub struct SendCase {
            chan: Chan,
            value: Option<u32>,
        }
        pub struct FutureCase<F: Future> {
            fut: Pin<Box<F>>,
            out: Option<F::Output>,
        }
        /// Records its drop, to check cases are dropped before the body runs.
        pub struct Tracked {
            pub log: Log,
            pub ready: bool,
        }

        impl<'a> IntoCase for &'a Chan {
            type Case = RecvCase<'a>;
            fn into_case(self) -> RecvCase<'a> {
                RecvCase {
                    chan: self,
                    out: None,
                }
            }
        }
        impl<'a> IntoCase for &&'a Chan {
            type Case = RecvCase<'a>;
            fn into_case(self) -> RecvCase<'a> {
                RecvCase {
                    chan: self,
                    out: None,
                }
            }
        }
        impl IntoCase for crate::Send {
            type Case = SendCase;
            fn into_case(self) -> SendCase {
                SendCase {
                    chan: self.0,
                    value: Some(self.1),
                }
            }
        }
        impl<F: Future> IntoCase for F {
            type Case = FutureCase<F>;
            fn into_case(self) -> FutureCase<F> {
                FutureCase {
                    fut: Box::pin(self),
                    out: None,
                }
            }
        }
        impl IntoCase for Tracked {
            type Case = Tracked;
            fn into_case(self) -> Tracked {
                self
            }
        }

        impl SelectCase for RecvCase<'_> {
            fn try_commit(&mut self, _: &mut Context<'_>) -> bool {
                if self.chan.is_nil() {
                    return false;
                }
                match self.chan.0.as_ref().unwrap().borrow_mut().pop_front() {
                    Some(v) => {
                        self.out = Some(Some(v));
                        true
                    }
                    None => false,
                }
            }
        }
        impl BlockingCase for RecvCase<'_> {}
        impl CaseOutput for RecvCase<'_> {
            type Output = Option<u32>;
            fn take_output(&mut self) -> Option<u32> {
                self.out
                    .take()
                    .expect("output of a case that did not commit")
            }
        }

        impl SelectCase for SendCase {
            fn try_commit(&mut self, _: &mut Context<'_>) -> bool {
                match &self.chan.0 {
                    Some(q) if q.borrow().len() < 4 => {
                        q.borrow_mut().push_back(self.value.take().unwrap());
                        true
                    }
                    _ => false,
                }
            }
        }
        impl BlockingCase for SendCase {}
        impl CaseOutput for SendCase {
            type Output = ();
            fn take_output(&mut self) {
                assert!(self.value.is_none(), "output of a case that did not commit");
            }
        }

        impl<F: Future> SelectCase for FutureCase<F> {
            fn try_commit(&mut self, cx: &mut Context<'_>) -> bool {
                match self.fut.as_mut().poll(cx) {
                    Poll::Ready(v) => {
                        self.out = Some(v);
                        true
                    }
                    Poll::Pending => false,
                }
            }
        }
        impl<F: Future> CaseOutput for FutureCase<F> {
            type Output = F::Output;
            fn take_output(&mut self) -> F::Output {
                self.out
                    .take()
                    .expect("output of a case that did not commit")
            }
        }

        impl SelectCase for Tracked {
            fn try_commit(&mut self, _: &mut Context<'_>) -> bool {
                self.ready
            }
        }
        impl CaseOutput for Tracked {
            type Output = Log;
            fn take_output(&mut self) -> Log {
                Rc::clone(&self.log)
            }
        }
        impl Drop for Tracked {
            fn drop(&mut self) {
                self.log.borrow_mut().push("case dropped");
            }
        }

        /// Tries the cases in source order (the real engine permutes them).
        ///
        /// # Safety
        ///
        /// As the real engine's: the future is completed or dropped, never
        /// leaked, before a case is moved (the stand-in does not need it).
        pub unsafe fn select<'a>(
            cases: &'a mut [&'a mut dyn SelectCase],
            has_default: bool,
        ) -> impl Future<Output = Option<usize>> + 'a {
            std::future::poll_fn(move |cx| poll_cases(cases, has_default, cx))
        }

        pub fn select_blocking(
            cases: &mut [&mut dyn BlockingCase],
            has_default: bool,
        ) -> Option<usize> {
            let mut cx = Context::from_waker(std::task::Waker::noop());
            for (i, case) in cases.iter_mut().enumerate() {
                if case.try_commit(&mut cx) {
                    return Some(i);
                }
            }
            assert!(has_default, "the stand-in engine cannot block");
            None
        }

        fn poll_cases(
            cases: &mut [&mut dyn SelectCase],
            has_default: bool,
            cx: &mut Context<'_>,
        ) -> Poll<Option<usize>> {
            for (i, case) in cases.iter_mut().enumerate() {
                if case.try_commit(cx) {
                    return Poll::Ready(Some(i));
                }
            }
            if has_default {
                Poll::Ready(None)
            } else {
                Poll::Pending
            }
        }

        pub fn block_forever() -> impl Future<Output = Infallible> {
            std::future::pending()
        }

        pub fn block_forever_blocking() -> ! {
            panic!("the stand-in engine cannot block forever")
        }
    }
}

/// `into_case!` of the stand-in: plain trait dispatch (the real engine uses
/// autoref specialisation to also accept `&&Chan`, `Receiver`, ...).
#[macro_export]
macro_rules! into_case {
    ($e:expr) => {
        $crate::__private::select::IntoCase::into_case($e)
    };
}

type Log = Rc<RefCell<Vec<&'static str>>>;

/// A single-threaded stand-in channel: a queue of at most 4 values, or nil.
#[derive(Clone, Default)]
pub struct Chan(Option<Rc<RefCell<VecDeque<u32>>>>);

/// A pending send on a [`Chan`].
pub struct Send(Chan, u32);

impl Chan {
    fn new() -> Chan {
        Chan(Some(Rc::default()))
    }
    fn nil() -> Chan {
        Chan(None)
    }
    fn is_nil(&self) -> bool {
        self.0.is_none()
    }
    fn send(&self, v: u32) -> Send {
        Send(self.clone(), v)
    }
    fn len(&self) -> usize {
        self.0.as_ref().map_or(0, |q| q.borrow().len())
    }
    fn push(&self, v: u32) {
        self.0.as_ref().unwrap().borrow_mut().push_back(v);
    }
}

/// Polls `fut` once; the tests only build selects that finish at once.
fn now<F: Future>(fut: F) -> F::Output {
    let mut fut = pin!(fut);
    match fut.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("select did not complete on the first poll"),
    }
}

#[test]
fn receive_from_a_bare_channel_binds_the_option() {
    let rx = Chan::new();
    rx.push(7);
    let got = now(async {
        select! {
            v = rx => v,
        }
    });
    assert_eq!(got, Some(7));
    // `rx` was borrowed, not moved.
    assert_eq!(rx.len(), 0);
}

#[test]
fn every_case_form() {
    let a = Chan::new();
    let b = Chan::new();
    let out = now(async {
        let mut seen = Vec::new();
        for round in 0..4 {
            let r = select! {
                v = a => { seen.push(("a", v)); 0 }
                b.send(round) => { seen.push(("sent", None)); 1 }
                (x, y) = async { (round, round * 2) } => x + y,
                default => 99
            };
            seen.push(("result", Some(r)));
        }
        seen
    });
    // The stand-in tries cases in order: `a` is empty, the send fits 4 times.
    assert_eq!(out.len(), 8);
    assert_eq!(b.len(), 4);
    assert!(out.iter().step_by(2).all(|s| s.0 == "sent"));
}

#[test]
fn default_is_taken_when_nothing_is_ready() {
    let rx = Chan::new();
    let got = now(async {
        select! {
            v = rx => v.map(|v| v as i64).unwrap_or(-1),
            default => -2,
        }
    });
    assert_eq!(got, -2);
}

#[test]
fn only_default_runs_it() {
    let got = now(async {
        select! { default => "d" }
    });
    assert_eq!(got, "d");
    let got = select_blocking! { default => { "e" } };
    assert_eq!(got, "e");
}

#[test]
fn operands_are_evaluated_once_in_source_order() {
    let log = Rc::new(RefCell::new(Vec::new()));
    let ch = Chan::new();
    ch.push(1);
    let chan = |name: &'static str| {
        log.borrow_mut().push(name);
        ch.clone()
    };
    let value = |v: u32| {
        log.borrow_mut().push("value");
        v
    };
    let got = now(async {
        select! {
            v = async { chan("first").0.map(|_| 0) } => v,
            _ = chan("second").send(value(3)) => Some(1),
            _ = async { chan("third") } => Some(2),
        }
    });
    assert_eq!(got, Some(0));
    // The async blocks run when polled, the send's channel and value at once.
    assert_eq!(*log.borrow(), ["second", "value", "first"]);
}

#[test]
fn cases_are_dropped_before_the_body_runs() {
    let log: Log = Rc::default();
    now(async {
        select! {
            l = goro::__private::select::Tracked { log: Rc::clone(&log), ready: true } => {
                l.borrow_mut().push("body");
            }
            _ = goro::__private::select::Tracked { log: Rc::clone(&log), ready: false } => {}
        }
    });
    assert_eq!(*log.borrow(), ["case dropped", "case dropped", "body"]);

    let log: Log = Rc::default();
    now(async {
        select! {
            _ = goro::__private::select::Tracked { log: Rc::clone(&log), ready: false } => {}
            default => log.borrow_mut().push("default"),
        }
    });
    assert_eq!(*log.borrow(), ["case dropped", "default"]);
}

#[test]
fn body_may_reassign_a_borrowed_channel() {
    // Go's `c = nil` idiom: the case borrowed `ch`, the body replaces it.
    let mut ch = Chan::new();
    ch.push(1);
    let mut got = Vec::new();
    now(async {
        for _ in 0..3 {
            select! {
                v = ch => {
                    got.push(v);
                    ch = Chan::nil();
                }
                default => got.push(None),
            }
        }
    });
    assert!(ch.is_nil());
    assert_eq!(got, [Some(1), None, None]);
}

#[test]
fn field_operands_are_borrowed() {
    struct State {
        inner: (Chan, Chan),
    }
    let st = State {
        inner: (Chan::new(), Chan::new()),
    };
    st.inner.1.push(5);
    let got = now(async {
        select! {
            v = st.inner.0 => v,
            v = st.inner.1 => v,
        }
    });
    assert_eq!(got, Some(5));
    assert_eq!(st.inner.0.len() + st.inner.1.len(), 0);
}

#[test]
fn bodies_may_break_continue_return_try_and_await() {
    fn run(ch: &Chan) -> Result<u32, String> {
        now(async {
            let mut sum = 0;
            loop {
                select! {
                    v = ch => {
                        let v = v.ok_or("closed")?;
                        if v == 0 {
                            continue;
                        }
                        if v == 100 {
                            return Ok(sum);
                        }
                        sum += async { v }.await;
                    }
                    default => break,
                }
            }
            Err(format!("drained at {sum}"))
        })
    }
    let ch = Chan::new();
    for v in [1, 0, 2, 100] {
        ch.push(v);
    }
    assert_eq!(run(&ch), Ok(3));
    ch.push(4);
    assert_eq!(run(&ch), Err("drained at 4".to_string()));
}

#[test]
fn futures_by_mut_reference_and_by_value() {
    let got = now(async {
        let mut fut = pin!(async { 1 });
        let a = select! { v = &mut fut => v };
        let fut2 = async { 2 };
        #[allow(unused_parens)]
        let b = select! { v = (fut2) => v };
        a + b
    });
    assert_eq!(got, 3);
}

#[test]
fn blocking_flavor() {
    let rx = Chan::new();
    let tx = Chan::new();
    rx.push(9);
    let got = select_blocking! {
        v = rx => v,
        tx.send(1) => None,
    };
    assert_eq!(got, Some(9));
    let got = select_blocking! {
        v = rx => v,
        default => None
    };
    assert_eq!(got, None);
}

#[test]
fn empty_select_has_any_type() {
    // Type-checks as `u32`; polled once it stays pending.
    #[allow(unreachable_code)]
    let fut = async {
        let _never: u32 = select! {};
    };
    let mut fut = pin!(fut);
    assert!(fut
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
        .is_pending());
}

#[test]
fn usable_from_macro_rules() {
    macro_rules! recv_or {
        ($ch:expr, $d:expr) => {
            select! {
                v = $ch => v,
                default => $d,
            }
        };
    }
    let ch = Chan::new();
    ch.push(3);
    assert_eq!(now(async { recv_or!(ch, Some(0)) }), Some(3));
    // `ch` was borrowed through the `$ch:expr` group.
    assert_eq!(now(async { recv_or!(ch, Some(0)) }), Some(0));
}
