//! Parked operations and selects that are dropped, leaked or re-polled keep
//! the channel's queues sound and their FIFO places. Miri-clean:
//! `MIRIFLAGS=-Zmiri-ignore-leaks cargo +nightly miri test -p goro-chan --test parked_waiters`

use std::future::Future;
use std::pin::{pin, Pin};
use std::task::{Context, Poll, Waker};

use goro_chan::select::{into_case, select, CaseOutput, SelectCase};
use goro_chan::{make, TrySendError};

fn noop_cx() -> Context<'static> {
    Context::from_waker(Waker::noop())
}

/// `select` is an `unsafe fn` whose contract forbids leaking the future
/// (a `mem::forget` of a polled select needs `unsafe` and breaks that
/// contract; `select_engine_needs_unsafe` in goro-macros' UI tests
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

// `SelectCase` is sealed; an impl outside goro-chan does not compile
// (a `compile_fail` doc test on `SelectCase`, and `select_case_is_sealed` in
// goro-macros' UI tests).

/// Leaking a parked `Recv` or `Send` (safe) and then dropping the last
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

/// A select with a future case, woken by that
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

/// A waiter that a counterpart skipped while the select polled its
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

/// Wakes its task on the first poll; on the second, runs `act` once. Never
/// completes.
struct WakeThen<F: FnMut()>(u8, F);
impl<F: FnMut() + Unpin> Future for WakeThen<F> {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.0 += 1;
        match self.0 {
            1 => cx.waker().wake_by_ref(),
            2 => (self.1)(),
            _ => {}
        }
        Poll::Pending
    }
}

/// A parked select whose own future case, while re-polled, sends to a
/// buffered channel on which the select's receive case waits (the send
/// skips the select's own waiter, it cannot match itself, and buffers the
/// value): the select re-checks that case and receives the value instead
/// of parking beside it.
#[test]
fn select_receives_what_its_own_future_case_buffered() {
    let ch = make::<u32>(1);
    let tx = ch.clone();
    let mut c0 = into_case!(ch.recv());
    let mut c1 = into_case!(WakeThen(0, move || tx.try_send(1).unwrap()));
    {
        let mut cases = [&mut c0 as &mut dyn SelectCase, &mut c1];
        // SAFETY: pinned on the stack, so dropped at the end of this block,
        // never leaked.
        let mut s = pin!(unsafe { select(&mut cases, false) });
        assert!(s.as_mut().poll(&mut noop_cx()).is_pending()); // queued; the future woke it
        assert_eq!(s.as_mut().poll(&mut noop_cx()), Poll::Ready(Some(0)));
    }
    assert_eq!(c0.take_output(), Some(1));
}

/// The same for a send case: the own future case makes room in a full
/// buffered channel on which the select's send case waits.
#[test]
fn select_sends_into_room_its_own_future_case_made() {
    let ch = make::<u32>(1);
    ch.try_send(1).unwrap();
    let rx = ch.clone();
    let mut c0 = into_case!(ch.send(2));
    let mut c1 = into_case!(WakeThen(0, move || assert_eq!(rx.try_recv(), Ok(1))));
    {
        let mut cases = [&mut c0 as &mut dyn SelectCase, &mut c1];
        // SAFETY: pinned on the stack, so dropped at the end of this block,
        // never leaked.
        let mut s = pin!(unsafe { select(&mut cases, false) });
        assert!(s.as_mut().poll(&mut noop_cx()).is_pending());
        assert_eq!(s.as_mut().poll(&mut noop_cx()), Poll::Ready(Some(0)));
    }
    c0.take_output();
    assert_eq!(ch.try_recv(), Ok(2));
}
