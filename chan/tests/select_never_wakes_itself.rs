//! A `select` must never wake itself through its own cases (issue 14): a
//! send case and a `Receiver` stream case on the same unbuffered channel,
//! with nobody else on it, park like Go's
//! `select { case ch <- v: case x := <-ch: }`. Counted in polls, no timing.

use std::future::Future;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use futures::StreamExt;
use goro_chan::select::{into_case, select, CaseOutput, SelectCase};
use goro_chan::{make, TryRecvError};

/// A waker that counts its wake-ups.
#[derive(Default)]
struct Count(AtomicUsize);
impl Wake for Count {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// A future that counts how often it is polled.
struct Counted<F> {
    f: F,
    polls: Arc<AtomicUsize>,
}
impl<F: Future + Unpin> Future for Counted<F> {
    type Output = F::Output;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.polls.fetch_add(1, Ordering::SeqCst);
        Pin::new(&mut self.f).poll(cx)
    }
}

/// Polls `fut` as an executor would: again whenever it was woken, at most
/// `bound` times. Returns the number of polls and the last result.
fn drive<F: Future + ?Sized>(
    mut fut: Pin<&mut F>,
    count: &Count,
    waker: &Waker,
    bound: usize,
) -> (usize, Poll<F::Output>) {
    let mut cx = Context::from_waker(waker);
    let mut polls = 0;
    loop {
        let seen = count.0.load(Ordering::SeqCst);
        polls += 1;
        let r = fut.as_mut().poll(&mut cx);
        if r.is_ready() || count.0.load(Ordering::SeqCst) == seen || polls >= bound {
            return (polls, r);
        }
    }
}

#[test]
fn send_case_and_stream_case_on_one_channel_park() {
    let ch = make::<u32>(0);
    let mut rx = ch.receiver();
    let stream_polls = Arc::new(AtomicUsize::new(0));
    let count = Arc::new(Count::default());
    let waker = Waker::from(count.clone());
    let mut c0 = into_case!(ch.send(1));
    let mut c1 = into_case!(Counted {
        f: rx.next(),
        polls: stream_polls.clone(),
    });
    {
        let mut cases = [&mut c0 as &mut dyn SelectCase, &mut c1];
        // SAFETY: pinned on the stack, so completed or dropped in this block.
        let mut fut = pin!(unsafe { select(&mut cases, false) });
        let (polls, r) = drive(fut.as_mut(), &count, &waker, 1000);
        assert!(r.is_pending());
        assert!(
            polls <= 3,
            "the select kept waking itself: {polls} polls before it parked"
        );
        let parked_at = stream_polls.load(Ordering::SeqCst);
        assert!(parked_at <= 3, "stream case polled {parked_at} times");
        // Parked for good: nothing wakes it until a counterpart comes.
        let woken = count.0.load(Ordering::SeqCst);
        assert_eq!(drive(fut.as_mut(), &count, &waker, 1000).0, 1);
        assert_eq!(count.0.load(Ordering::SeqCst), woken, "woke itself again");

        // A receiver takes the send case's value.
        assert_eq!(ch.try_recv(), Ok(1));
        assert!(count.0.load(Ordering::SeqCst) > woken);
        let (_, r) = drive(fut.as_mut(), &count, &waker, 10);
        assert_eq!(r, Poll::Ready(Some(0)));
    }
    c0.take_output();
    assert_eq!(ch.try_recv(), Err(TryRecvError::Empty));
}

/// The same shape with the select's own receive case on the channel too
/// (send + receive + stream): still parks, and a sender from outside is
/// taken by the receive case.
#[test]
fn send_recv_and_stream_cases_on_one_channel_park() {
    let ch = make::<u32>(0);
    let mut rx = ch.receiver();
    let count = Arc::new(Count::default());
    let waker = Waker::from(count.clone());
    let mut c0 = into_case!(ch.send(1));
    let mut c1 = into_case!(ch.recv());
    let mut c2 = into_case!(Counted {
        f: rx.next(),
        polls: Arc::new(AtomicUsize::new(0)),
    });
    {
        let mut cases = [&mut c0 as &mut dyn SelectCase, &mut c1, &mut c2];
        // SAFETY: pinned on the stack, so completed or dropped in this block.
        let mut fut = pin!(unsafe { select(&mut cases, false) });
        let (polls, r) = drive(fut.as_mut(), &count, &waker, 1000);
        assert!(r.is_pending());
        assert!(polls <= 3, "woke itself: {polls} polls");
        assert_eq!(
            ch.try_send(5),
            Ok(()),
            "the receive case is a parked receiver"
        );
        let (_, r) = drive(fut.as_mut(), &count, &waker, 10);
        assert_eq!(r, Poll::Ready(Some(1)));
    }
    assert_eq!(c1.take_output(), Some(5));
}

/// A select nested in another's future case: the outer select's send case
/// and the inner select's stream case on one channel must not spin either.
#[test]
fn nested_select_stream_and_outer_send_park() {
    let ch = make::<u32>(0);
    let mut rx = ch.receiver();
    let count = Arc::new(Count::default());
    let waker = Waker::from(count.clone());
    let inner = async {
        let mut n = into_case!(rx.next());
        let mut never = into_case!(std::future::pending::<()>());
        let mut cases = [&mut n as &mut dyn SelectCase, &mut never];
        // SAFETY: awaited in place: completed or dropped, never leaked.
        unsafe { select(&mut cases, false) }.await
    };
    let mut c0 = into_case!(ch.send(1));
    let mut c1 = into_case!(inner);
    let mut cases = [&mut c0 as &mut dyn SelectCase, &mut c1];
    // SAFETY: pinned on the stack, so completed or dropped in this scope.
    let mut fut = pin!(unsafe { select(&mut cases, false) });
    let (polls, r) = drive(fut.as_mut(), &count, &waker, 1000);
    assert!(r.is_pending());
    assert!(polls <= 4, "woke itself: {polls} polls");
    assert_eq!(ch.try_recv(), Ok(1));
    let (_, r) = drive(fut.as_mut(), &count, &waker, 10);
    assert_eq!(r, Poll::Ready(Some(0)));
}
