//! `Receiver` as a `Stream`: its parked waiter is wake-only (a watcher). A
//! `next()` that is dropped takes nothing, values keep their FIFO order, and
//! a live stream is woken by every event that makes a receive possible.

use std::future::Future;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use futures_core::Stream;
use goro_chan::select::{into_case, select, SelectCase};
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

/// With Go's answers: a `Receiver` stream
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

/// a live stream is woken by every event that makes a receive possible
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

/// a select whose send case parks on an unbuffered channel wakes a parked
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

/// watchers are all woken, so a stream whose `next()` was dropped (it is
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
