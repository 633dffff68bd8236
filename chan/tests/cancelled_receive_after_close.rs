//! A value handed to a receive that is cancelled goes back to the channel
//! unless a receive already reported the channel closed and drained; a
//! receive that `close` completed but that is cancelled before it reports
//! "closed" reports nothing (issue 14): the value is received by the next
//! receive, and only then `None`.

use std::future::Future;
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use goro_chan::select::{into_case, select, CaseOutput, SelectCase};
use goro_chan::{make, TryRecvError};

fn noop_cx() -> Context<'static> {
    Context::from_waker(Waker::noop())
}

fn parked<F: Future>(mut f: Pin<Box<F>>) -> Pin<Box<F>> {
    assert!(f.as_mut().poll(&mut noop_cx()).is_pending());
    f
}

#[test]
fn plain_receive_cancelled_after_close_then_try_recv() {
    let ch = make::<String>(0);
    let r1 = parked(Box::pin(ch.recv()));
    let r2 = parked(Box::pin(ch.recv()));
    ch.try_send("v".to_string()).unwrap(); // handed to r1
    ch.close(); // completes r2 with "closed"
    drop(r2); // cancelled: never reported "closed"
    drop(r1); // cancelled: gives the value back
    assert_eq!(ch.try_recv().as_deref(), Ok("v"));
    assert_eq!(ch.try_recv(), Err(TryRecvError::Closed));
}

#[test]
fn receive_completed_by_close_takes_a_value_given_back_first() {
    let ch = make::<u32>(0);
    let r1 = parked(Box::pin(ch.recv()));
    let mut r2 = parked(Box::pin(ch.recv()));
    ch.try_send(7).unwrap(); // handed to r1
    ch.close(); // completes r2 with "closed"
    drop(r1); // gives 7 back
    assert_eq!(r2.as_mut().poll(&mut noop_cx()), Poll::Ready(Some(7)));
    let mut r3 = Box::pin(ch.recv());
    assert_eq!(r3.as_mut().poll(&mut noop_cx()), Poll::Ready(None));
    assert_eq!(ch.try_recv(), Err(TryRecvError::Closed));
}

#[test]
fn select_receive_case_cancelled_after_close_then_recv() {
    let ch = make::<u32>(0);
    let other = make::<u32>(0);
    let r1 = parked(Box::pin(ch.recv()));
    let mut c0 = into_case!(&ch);
    let mut c1 = into_case!(&other);
    {
        let mut cases = [&mut c0 as &mut dyn SelectCase, &mut c1];
        // SAFETY: boxed and dropped in this block, never leaked.
        let sel = parked(Box::pin(unsafe { select(&mut cases, false) }));
        ch.try_send(9).unwrap(); // handed to r1 (first in line)
        ch.close(); // completes the select's receive case with "closed"
        drop(sel); // cancelled: never reported "closed"
    }
    drop(r1); // gives 9 back
    let mut r = Box::pin(ch.recv());
    assert_eq!(r.as_mut().poll(&mut noop_cx()), Poll::Ready(Some(9)));
    assert_eq!(ch.try_recv(), Err(TryRecvError::Closed));
}

#[test]
fn select_receive_case_completed_by_close_takes_a_value_given_back_first() {
    let ch = make::<u32>(0);
    let other = make::<u32>(0);
    let r1 = parked(Box::pin(ch.recv()));
    let mut c0 = into_case!(&ch);
    let mut c1 = into_case!(&other);
    let got = {
        let mut cases = [&mut c0 as &mut dyn SelectCase, &mut c1];
        // SAFETY: boxed and dropped in this block, never leaked.
        let mut sel = parked(Box::pin(unsafe { select(&mut cases, false) }));
        ch.try_send(9).unwrap();
        ch.close();
        drop(r1); // gives 9 back before the select looks
        sel.as_mut().poll(&mut noop_cx())
    };
    assert_eq!(got, Poll::Ready(Some(0)));
    assert_eq!(c0.take_output(), Some(9));
    assert_eq!(ch.try_recv(), Err(TryRecvError::Closed));
}

/// A `Recv` that was handed a value, dropped
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

/// While no receive has reported the channel closed and drained, the
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
