//! Regression tests for the concurrency review of goro-chan (findings #1, #2,
//! #6, #8, #9, #11). Each test is the reviewer's reproducer, adapted where the
//! fix changed the API. Miri-clean:
//! `MIRIFLAGS=-Zmiri-ignore-leaks cargo +nightly miri test -p goro-chan --test review_regressions`

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Waker};

use goro_chan::select::{into_case, select, SelectCase};
use goro_chan::{make, TrySendError};

fn noop_cx() -> Context<'static> {
    Context::from_waker(Waker::noop())
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
