//! Regression tests for the concurrency review of goro-chan (findings #1, #2,
//! #6, #8, #9, #11). Each test is the reviewer's reproducer, adapted where the
//! fix changed the API. Miri-clean:
//! `MIRIFLAGS=-Zmiri-ignore-leaks cargo +nightly miri test -p goro-chan --test review_regressions`

use std::future::Future;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use futures_core::Stream;
use goro_chan::select::{into_case, select, CaseOutput, SelectCase};
use goro_chan::{make, TryRecvError, TrySendError};

fn noop_cx() -> Context<'static> {
    Context::from_waker(Waker::noop())
}

/// A waker that counts its wake-ups.
#[derive(Default)]
struct Count(AtomicUsize);
impl Wake for Count {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}
fn counter() -> (Arc<Count>, Waker) {
    let c = Arc::new(Count::default());
    (c.clone(), Waker::from(c))
}
fn woken(c: &Count) -> usize {
    c.0.load(Ordering::SeqCst)
}

/// #1: `select` is now an `unsafe fn` whose contract forbids leaking the
/// future (the reviewer's `mem::forget` reproducer needs `unsafe` and breaks
/// that contract; `select_engine_needs_unsafe` in goro-macros' UI tests
/// checks the call does not compile without it). Upholding the contract, a
/// polled select that is dropped leaves nothing queued: the case may then be
/// moved out of its box (freeing it) and the channel used (Miri-clean).
#[test]
fn dropped_select_then_moved_case_is_fine() {
    let ch = make::<u64>(0);
    let mut boxed = Box::new(into_case!(ch.recv()));
    {
        let mut cases = [&mut *boxed as &mut dyn SelectCase];
        // SAFETY: pinned on the stack, so dropped at the end of this block,
        // never leaked.
        let mut fut = pin!(unsafe { select(&mut cases, false) });
        assert!(fut.as_mut().poll(&mut noop_cx()).is_pending());
    } // dropped: the case's waiter is unlinked
    let moved = *boxed; // the box allocation is freed here
    assert_eq!(
        ch.try_send(7),
        Err(TrySendError::Full(7)),
        "no receiver left queued"
    );
    drop(moved);
}

// #2: `SelectCase` is sealed; an impl outside goro-chan does not compile
// (a `compile_fail` doc test on `SelectCase`, and `select_case_is_sealed` in
// goro-macros' UI tests).

/// #11: leaking a parked `Recv` or `Send` (safe) and then dropping the last
/// handle used to trip debug assertions in the channel's and the wait
/// queue's `Drop` (a double panic: abort). A leaked node lives in leaked
/// memory and is never dereferenced again: nothing to assert.
///
/// Leaks on purpose: its leak report is suppressed in `.ci/lsan.supp`.
#[test]
fn leaked_parked_ops_then_last_handle_dropped() {
    let ch = make::<u32>(0);
    let mut r = Box::pin(ch.recv());
    assert!(r.as_mut().poll(&mut noop_cx()).is_pending());
    std::mem::forget(r);
    drop(ch);

    let ch = make::<u32>(0);
    let mut s = Box::pin(ch.send(1));
    assert!(s.as_mut().poll(&mut noop_cx()).is_pending());
    std::mem::forget(s);
    drop(ch);

    // A counterpart may even complete the leaked operation first: the value
    // goes into leaked memory (a leak, not a use after free).
    let ch = make::<u32>(0);
    let mut r = Box::pin(ch.recv());
    assert!(r.as_mut().poll(&mut noop_cx()).is_pending());
    std::mem::forget(r);
    assert_eq!(ch.try_send(3), Ok(()));
    drop(ch);
}

/// #6 (the reviewer's reproducer, with Go's answers): a `Receiver` stream
/// polled once by a `next()` that is then dropped (the losing branch of a
/// select) must not take the next value: its waiter is wake-only. With no
/// active receiver, 1 is buffered, 2 does not fit, and 1 is received first.
#[test]
fn receiver_stream_waiter_takes_nothing_and_keeps_fifo() {
    let ch = make::<u32>(1);
    let mut rx = ch.receiver();
    assert!(Pin::new(&mut rx).poll_next(&mut noop_cx()).is_pending());
    assert_eq!(ch.try_send(1), Ok(())); // buffered (the stream is only woken)
    assert_eq!(ch.try_send(2), Err(TrySendError::Full(2)));
    assert_eq!(rx.try_recv(), Ok(1), "FIFO: 1 was sent first");
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));

    // Unbuffered: a parked stream is not a receiver a send completes with.
    let ch = make::<u32>(0);
    let mut rx = ch.receiver();
    assert!(Pin::new(&mut rx).poll_next(&mut noop_cx()).is_pending());
    assert_eq!(
        ch.try_send(1),
        Err(TrySendError::Full(1)),
        "nobody is receiving"
    );
    assert_eq!(ch.len(), 0);
    // The stream's next poll still works (it re-registers).
    assert!(Pin::new(&mut rx).poll_next(&mut noop_cx()).is_pending());
}

/// #6: a live stream is woken by every event that makes a receive possible
/// and then takes the value itself: an unbuffered sender that parks, a
/// buffered send, close, and a value given back by a cancelled receive.
#[test]
fn receiver_stream_is_woken_and_receives_itself() {
    // Unbuffered: the sender parks, the stream is woken and takes its value.
    let ch = make::<u32>(0);
    let mut rx = ch.receiver();
    let (n, w) = counter();
    let mut cx = Context::from_waker(&w);
    assert!(Pin::new(&mut rx).poll_next(&mut cx).is_pending());
    let mut send = Box::pin(ch.send(5));
    assert!(send.as_mut().poll(&mut noop_cx()).is_pending());
    assert_eq!(woken(&n), 1, "the parked sender woke the stream");
    assert_eq!(Pin::new(&mut rx).poll_next(&mut cx), Poll::Ready(Some(5)));
    assert_eq!(send.as_mut().poll(&mut noop_cx()), Poll::Ready(()));

    // Buffered.
    let ch = make::<u32>(2);
    let mut rx = ch.receiver();
    let (n, w) = counter();
    let mut cx = Context::from_waker(&w);
    assert!(Pin::new(&mut rx).poll_next(&mut cx).is_pending());
    assert_eq!(ch.try_send(6), Ok(()));
    assert_eq!(woken(&n), 1);
    assert_eq!(Pin::new(&mut rx).poll_next(&mut cx), Poll::Ready(Some(6)));

    // Close.
    assert!(Pin::new(&mut rx).poll_next(&mut cx).is_pending());
    ch.close();
    assert_eq!(woken(&n), 2);
    assert_eq!(Pin::new(&mut rx).poll_next(&mut cx), Poll::Ready(None));

    // A value handed to a receive that is cancelled goes back to the buffer
    // and wakes the stream.
    let ch = make::<u32>(0);
    let mut r1 = Box::pin(ch.recv());
    assert!(r1.as_mut().poll(&mut noop_cx()).is_pending());
    let mut rx = ch.receiver();
    let (n, w) = counter();
    let mut cx = Context::from_waker(&w);
    assert!(Pin::new(&mut rx).poll_next(&mut cx).is_pending());
    assert_eq!(ch.try_send(7), Ok(())); // handed to r1, a real receiver
    assert_eq!(woken(&n), 0);
    drop(r1); // cancelled: 7 goes back
    assert_eq!(woken(&n), 1);
    assert_eq!(Pin::new(&mut rx).poll_next(&mut cx), Poll::Ready(Some(7)));
}

/// #6: a select whose send case parks on an unbuffered channel wakes a parked
/// stream, which then completes the select's send.
#[test]
fn receiver_stream_is_woken_by_a_parked_select_send() {
    let ch = make::<u32>(0);
    let mut rx = ch.receiver();
    let (n, w) = counter();
    let mut cx = Context::from_waker(&w);
    assert!(Pin::new(&mut rx).poll_next(&mut cx).is_pending());
    let mut c0 = into_case!(ch.send(8));
    {
        let mut cases = [&mut c0 as &mut dyn SelectCase];
        // SAFETY: pinned on the stack, so dropped at the end of this block,
        // never leaked.
        let mut sel = pin!(unsafe { select(&mut cases, false) });
        assert!(sel.as_mut().poll(&mut noop_cx()).is_pending());
        assert_eq!(woken(&n), 1);
        assert_eq!(Pin::new(&mut rx).poll_next(&mut cx), Poll::Ready(Some(8)));
        assert_eq!(sel.as_mut().poll(&mut noop_cx()), Poll::Ready(Some(0)));
    }
}

/// #6: watchers are all woken, so a stream whose `next()` was dropped (it is
/// never polled again) cannot swallow the wake-up of another stream.
#[test]
fn an_abandoned_stream_does_not_starve_another() {
    let ch = make::<u32>(1);
    let mut dead = ch.receiver();
    let mut live = ch.receiver();
    let (n, w) = counter();
    assert!(Pin::new(&mut dead).poll_next(&mut noop_cx()).is_pending());
    assert!(Pin::new(&mut live)
        .poll_next(&mut Context::from_waker(&w))
        .is_pending());
    assert_eq!(ch.try_send(9), Ok(()));
    assert_eq!(woken(&n), 1, "the live stream was woken too");
    assert_eq!(
        Pin::new(&mut live).poll_next(&mut Context::from_waker(&w)),
        Poll::Ready(Some(9))
    );
    drop(dead);
}

/// #8 (the reviewer's reproducer): a `Recv` that was handed a value, dropped
/// after `close` and after another receiver saw "closed and drained", must
/// not put the value back (a channel reported closed and drained never
/// yields again). The send completed before close, as in Go; the value is
/// dropped with the cancelled receive (exactly once: not leaked either).
#[test]
fn closed_and_drained_channel_never_yields_a_value_again() {
    let ch = make::<u32>(0);
    let mut r1 = Box::pin(ch.recv());
    assert!(r1.as_mut().poll(&mut noop_cx()).is_pending()); // R1 parked
    assert_eq!(ch.try_send(7), Ok(())); // unbuffered send completes: R1 has 7
    ch.close();
    assert_eq!(ch.try_recv(), Err(TryRecvError::Closed)); // R2: closed and drained
    drop(r1); // R1 cancelled
    assert_eq!((ch.len(), ch.cap()), (0, 0));
    assert_eq!(ch.try_recv(), Err(TryRecvError::Closed));

    // The value is dropped, not leaked.
    let v = Arc::new(());
    let ch = make::<Arc<()>>(0);
    let mut r1 = Box::pin(ch.recv());
    assert!(r1.as_mut().poll(&mut noop_cx()).is_pending());
    assert!(ch.try_send(v.clone()).is_ok());
    ch.close();
    assert_eq!(ch.try_recv(), Err(TryRecvError::Closed));
    drop(r1);
    assert_eq!(Arc::strong_count(&v), 1);

    // A receiver woken by close also reported "closed and drained".
    let ch = make::<u32>(0);
    let mut r1 = Box::pin(ch.recv());
    let mut r2 = Box::pin(ch.recv());
    assert!(r1.as_mut().poll(&mut noop_cx()).is_pending());
    assert_eq!(ch.try_send(7), Ok(())); // R1 has 7
    assert!(r2.as_mut().poll(&mut noop_cx()).is_pending());
    ch.close(); // wakes R2
    assert_eq!(r2.as_mut().poll(&mut noop_cx()), Poll::Ready(None));
    drop(r1);
    assert_eq!(ch.try_recv(), Err(TryRecvError::Closed));

    // The same through a select's receive case (`__cancel_won`).
    let ch = make::<u32>(0);
    let mut c0 = into_case!(ch.recv());
    {
        let mut cases = [&mut c0 as &mut dyn SelectCase];
        // SAFETY: pinned on the stack, so dropped at the end of this block,
        // never leaked.
        let mut sel = pin!(unsafe { select(&mut cases, false) });
        assert!(sel.as_mut().poll(&mut noop_cx()).is_pending());
        assert_eq!(ch.try_send(7), Ok(()));
        ch.close();
        assert_eq!(ch.try_recv(), Err(TryRecvError::Closed));
    } // the select is dropped after its case won
    assert_eq!(ch.len(), 0);
    assert_eq!(ch.try_recv(), Err(TryRecvError::Closed));
}

/// #8: while no receive has reported the channel closed and drained, the
/// value of a cancelled receive still goes back (nothing is lost): it is
/// received before `Closed`, in FIFO order.
#[test]
fn closed_but_not_reported_drained_gets_the_value_back_in_order() {
    // Unbuffered, closed after the handoff, nobody has seen it closed yet.
    let ch = make::<u32>(0);
    let mut r1 = Box::pin(ch.recv());
    assert!(r1.as_mut().poll(&mut noop_cx()).is_pending());
    assert_eq!(ch.try_send(7), Ok(()));
    ch.close();
    drop(r1);
    assert_eq!(ch.try_recv(), Ok(7));
    assert_eq!(ch.try_recv(), Err(TryRecvError::Closed));

    // Buffered values remain after close.
    let ch = make::<u32>(2);
    let mut r1 = Box::pin(ch.recv());
    assert!(r1.as_mut().poll(&mut noop_cx()).is_pending());
    assert_eq!(ch.try_send(1), Ok(())); // handed to R1
    assert_eq!(ch.try_send(2), Ok(()));
    assert_eq!(ch.try_send(3), Ok(()));
    ch.close();
    drop(r1); // 1 goes back to the front
    assert_eq!(ch.try_recv(), Ok(1));
    assert_eq!(ch.try_recv(), Ok(2));
    assert_eq!(ch.try_recv(), Ok(3));
    assert_eq!(ch.try_recv(), Err(TryRecvError::Closed));

    // Open channel: unchanged, the value goes back.
    let ch = make::<u32>(0);
    let mut r1 = Box::pin(ch.recv());
    assert!(r1.as_mut().poll(&mut noop_cx()).is_pending());
    assert_eq!(ch.try_send(4), Ok(()));
    drop(r1);
    assert_eq!(ch.try_recv(), Ok(4));
}

/// A future that wakes its task once without completing (a partial wake-up:
/// IO readiness then WouldBlock, a notification, ...).
struct WakeOnce(bool);
impl Future for WakeOnce {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if !self.0 {
            self.0 = true;
            cx.waker().wake_by_ref();
        }
        Poll::Pending
    }
}

/// #9 (the reviewer's reproducer): a select with a future case, woken by that
/// future, keeps its channel waiters' FIFO places: a receiver that queued
/// later is not served first.
#[test]
fn select_with_future_case_keeps_its_fifo_place() {
    let ch = make::<u32>(0);
    let mut c0 = into_case!(ch.recv());
    let mut c1 = into_case!(WakeOnce(false));
    {
        let mut cases = [
            &mut c0 as &mut dyn SelectCase,
            &mut c1 as &mut dyn SelectCase,
        ];
        // SAFETY: pinned on the stack, so dropped at the end of this block,
        // never leaked.
        let mut s = pin!(unsafe { select(&mut cases, false) });
        assert!(s.as_mut().poll(&mut noop_cx()).is_pending()); // queued first on ch
        let mut r2 = Box::pin(ch.recv());
        assert!(r2.as_mut().poll(&mut noop_cx()).is_pending()); // queued second
        assert!(s.as_mut().poll(&mut noop_cx()).is_pending()); // re-polled after its future's wake
        assert_eq!(ch.try_send(1), Ok(()));
        assert!(
            r2.as_mut().poll(&mut noop_cx()).is_pending(),
            "the later receiver got the value"
        );
        drop(r2);
        assert_eq!(s.as_mut().poll(&mut noop_cx()), Poll::Ready(Some(0)));
    }
    assert_eq!(c0.take_output(), Some(1));
}

/// #9: a waiter that a counterpart skipped while the select polled its
/// futures is re-checked (and the select commits it if ready), and a
/// re-armed select is still found by later counterparts.
#[test]
fn select_with_future_case_rechecks_skipped_waiters() {
    let a = make::<u32>(0);
    let b = make::<u32>(0);
    let mut c0 = into_case!(a.recv());
    let mut c1 = into_case!(b.send(5));
    let mut c2 = into_case!(WakeOnce(false));
    {
        let mut cases = [&mut c0 as &mut dyn SelectCase, &mut c1, &mut c2];
        // SAFETY: pinned on the stack, so dropped at the end of this block,
        // never leaked.
        let mut s = pin!(unsafe { select(&mut cases, false) });
        assert!(s.as_mut().poll(&mut noop_cx()).is_pending());
        assert!(s.as_mut().poll(&mut noop_cx()).is_pending()); // re-armed
                                                               // Still registered on both channels after the re-arm.
        assert_eq!(b.try_recv(), Ok(5));
        assert_eq!(s.as_mut().poll(&mut noop_cx()), Poll::Ready(Some(1)));
    }
    c1.take_output();
    assert_eq!(a.try_send(1), Err(TrySendError::Full(1)), "unregistered");
}
