//! A receive that `close` completed but that is cancelled before it reports
//! "closed" must not make the channel drop a value whose send completed
//! (issue 14): the value handed to another cancelled receive goes back to
//! the channel and is received by the next receive, and only then `None`.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use goro_chan::select::{into_case, select, SelectCase};
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
    assert_eq!(goro_chan::select::CaseOutput::take_output(&mut c0), Some(9));
    assert_eq!(ch.try_recv(), Err(TryRecvError::Closed));
}
