//! Loom models of the channel and select protocols.
//!
//! Run (bounded by a preemption bound of 3; about a minute on a loaded
//! 2-core machine):
//!
//! ```text
//! RUSTFLAGS="--cfg goro_loom" cargo test -p goro-chan --release --lib loom
//! ```

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use crate::loom::thread;
use crate::select::{into_case, select, select_blocking, BlockingCase, CaseOutput, SelectCase};
use crate::{make, TryRecvError, TrySendError};

fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    b.preemption_bound = Some(3);
    b.check(f);
}

fn cx() -> Context<'static> {
    Context::from_waker(Waker::noop())
}

#[test]
fn loom_unbuffered_send_recv() {
    model(|| {
        let ch = make::<u32>(0);
        let tx = ch.clone();
        let t = thread::spawn(move || tx.send_blocking(7));
        assert_eq!(ch.recv_blocking(), Some(7));
        t.join().unwrap();
    });
}

#[test]
fn loom_buffered_fifo_two_senders_blocked() {
    model(|| {
        let ch = make::<u32>(1);
        let tx = ch.clone();
        let t = thread::spawn(move || {
            tx.send_blocking(1);
            tx.send_blocking(2);
        });
        assert_eq!(ch.recv_blocking(), Some(1));
        assert_eq!(ch.recv_blocking(), Some(2));
        t.join().unwrap();
    });
}

#[test]
fn loom_close_wakes_receiver() {
    model(|| {
        let ch = make::<u32>(0);
        let rx = ch.clone();
        let t = thread::spawn(move || rx.recv_blocking());
        ch.close();
        assert_eq!(t.join().unwrap(), None);
    });
}

#[test]
fn loom_cancelled_recv_never_loses_value() {
    model(|| {
        let ch = make::<u32>(0);
        let rx = ch.clone();
        let t = thread::spawn(move || {
            let mut r = pin!(rx.recv());
            // Either it takes a value now or it parks and is dropped.
            match r.as_mut().poll(&mut cx()) {
                Poll::Ready(v) => v,
                Poll::Pending => None,
            }
        });
        let sent = ch.try_send(1).is_ok();
        let got = t.join().unwrap();
        if sent {
            // Delivered to the receiver, or given back on its drop.
            assert!(got == Some(1) || ch.try_recv() == Ok(1));
        } else {
            assert_eq!(got, None);
        }
        assert_eq!(ch.try_recv(), Err(TryRecvError::Empty));
    });
}

#[test]
fn loom_cancelled_send_delivers_nothing_after_drop() {
    model(|| {
        let ch = make::<u32>(0);
        let tx = ch.clone();
        let t = thread::spawn(move || {
            let mut s = pin!(tx.send(1));
            s.as_mut().poll(&mut cx()).is_ready()
        });
        let got = ch.try_recv();
        let done = t.join().unwrap();
        // Received iff the send completed or was taken before its drop; never twice.
        if done {
            assert_eq!(got, Ok(1));
        }
        assert_eq!(ch.try_recv(), Err(TryRecvError::Empty));
        assert_eq!(ch.try_send(2), Err(TrySendError::Full(2)), "no waiter left");
    });
}

#[test]
fn loom_blocked_send_vs_close_panics() {
    model(|| {
        let ch = make::<u32>(0);
        let tx = ch.clone();
        let t = thread::spawn(move || {
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| tx.send_blocking(1)));
            r.unwrap_err().downcast_ref::<&str>().copied()
        });
        ch.close();
        assert_eq!(t.join().unwrap(), Some("send on closed channel"));
        // Not `try_recv`, which takes the lock on a closed channel: loom runs
        // every model thread on one OS thread, so a guard released while the
        // other model thread's panic is unwinding poisons the std mutex inside
        // loom's, and loom's `lock` unwraps that (an artifact of the model;
        // the real lock ignores poisoning). Check the published state instead.
        let h = ch.hchan().unwrap();
        assert!(h.is_closed() && h.len() == 0);
    });
}

#[test]
fn loom_close_after_buffered_values() {
    model(|| {
        let ch = make::<u32>(1);
        let rx = ch.clone();
        let t = thread::spawn(move || (rx.recv_blocking(), rx.recv_blocking()));
        ch.send_blocking(1);
        ch.close();
        assert_eq!(t.join().unwrap(), (Some(1), None));
    });
}

#[test]
fn loom_two_senders_one_receiver_unbuffered() {
    model(|| {
        let ch = make::<u32>(0);
        let (t1, t2) = (ch.clone(), ch.clone());
        let a = thread::spawn(move || t1.send_blocking(1));
        let b = thread::spawn(move || t2.send_blocking(2));
        let mut got = [ch.recv_blocking().unwrap(), ch.recv_blocking().unwrap()];
        got.sort_unstable();
        assert_eq!(got, [1, 2]);
        a.join().unwrap();
        b.join().unwrap();
    });
}

#[test]
fn loom_two_selects_race_on_same_channels() {
    model(|| {
        let a = make::<u32>(1);
        let b = make::<u32>(1);
        let (a2, b2) = (a.clone(), b.clone());
        let t = thread::spawn(move || {
            let mut c0 = into_case!(&a2);
            let mut c1 = into_case!(&b2);
            match select_blocking(&mut [&mut c0 as &mut dyn BlockingCase, &mut c1], false) {
                Some(0) => c0.take_output(),
                _ => c1.take_output(),
            }
        });
        a.try_send(1).unwrap();
        b.try_send(2).unwrap();
        let mut c0 = into_case!(&a);
        let mut c1 = into_case!(&b);
        let mine = match select_blocking(&mut [&mut c0 as &mut dyn BlockingCase, &mut c1], false) {
            Some(0) => c0.take_output(),
            _ => c1.take_output(),
        };
        let theirs = t.join().unwrap();
        let mut both = [mine.unwrap(), theirs.unwrap()];
        both.sort_unstable();
        assert_eq!(both, [1, 2]);
    });
}

#[test]
fn loom_select_vs_close() {
    model(|| {
        let a = make::<u32>(0);
        let b = make::<u32>(0);
        let (a2, b2) = (a.clone(), b.clone());
        let t = thread::spawn(move || {
            let mut c0 = into_case!(&a2);
            let mut c1 = into_case!(b2.send(5));
            let i = select_blocking(&mut [&mut c0 as &mut dyn BlockingCase, &mut c1], false);
            (i, c0.take_output())
        });
        a.close();
        assert_eq!(t.join().unwrap(), (Some(0), None));
        assert_eq!(b.try_recv(), Err(TryRecvError::Empty));
    });
}

#[test]
fn loom_select_dropped_while_racing_a_send() {
    model(|| {
        let a = make::<u32>(0);
        let b = make::<u32>(0);
        let (a2, b2) = (a.clone(), b.clone());
        let t = thread::spawn(move || {
            let mut c0 = into_case!(&a2);
            let mut c1 = into_case!(b2.send(9));
            let mut cases = [&mut c0 as &mut dyn SelectCase, &mut c1];
            // SAFETY: pinned on the stack, so dropped at the end of its scope, never leaked.
            let mut f = pin!(unsafe { select(&mut cases, false) });
            f.as_mut().poll(&mut cx())
        });
        let sent = a.try_send(1).is_ok();
        let got_b = b.try_recv();
        let first = t.join().unwrap();
        // Exactly one case may have committed.
        assert!(!(sent && got_b.is_ok()));
        if sent {
            // Taken by the select (Ready(Some(0))) or given back on its drop.
            assert!(first == Poll::Ready(Some(0)) || a.try_recv() == Ok(1));
        }
        assert_eq!(
            a.try_send(3),
            Err(TrySendError::Full(3)),
            "no waiter left on a"
        );
        assert_eq!(
            b.try_recv(),
            Err(TryRecvError::Empty),
            "no waiter left on b"
        );
    });
}

#[test]
fn loom_select_to_select_rendezvous() {
    model(|| {
        let a = make::<u32>(0);
        let b = make::<u32>(0);
        let (a2, b2) = (a.clone(), b.clone());
        let t = thread::spawn(move || {
            let mut c0 = into_case!(a2.send(1));
            let mut c1 = into_case!(&b2);
            select_blocking(&mut [&mut c0 as &mut dyn BlockingCase, &mut c1], false)
        });
        let mut c0 = into_case!(&a);
        let mut c1 = into_case!(b.send(2));
        let mine = select_blocking(&mut [&mut c0 as &mut dyn BlockingCase, &mut c1], false);
        let theirs = t.join().unwrap();
        assert_eq!(mine, theirs, "both sides commit the same channel");
    });
}

/// The ready pass fails a case lock-free when its channel looks not ready
/// (then re-checks under all the locks before it parks): counterparts that
/// make both cases ready meanwhile are never missed (no lost wake-up), and
/// exactly one case commits.
#[test]
fn loom_select_ready_pass_vs_counterparts() {
    model(|| {
        let a = make::<u32>(1);
        let b = make::<u32>(1);
        b.try_send(1).unwrap();
        let (a2, b2) = (a.clone(), b.clone());
        let t = thread::spawn(move || {
            a2.try_send(7).unwrap();
            b2.try_recv()
        });
        let mut c0 = into_case!(&a);
        let mut c1 = into_case!(b.send(2));
        let i = select_blocking(&mut [&mut c0 as &mut dyn BlockingCase, &mut c1], false);
        // `b` holds 1 until the thread takes it: the send case could not
        // commit before.
        assert_eq!(t.join().unwrap(), Ok(1));
        match i {
            Some(0) => {
                assert_eq!(c0.take_output(), Some(7));
                assert_eq!(
                    b.try_recv(),
                    Err(TryRecvError::Empty),
                    "send not chosen, yet sent"
                );
            }
            Some(1) => {
                c1.take_output();
                assert_eq!(b.try_recv(), Ok(2));
                assert_eq!(a.try_recv(), Ok(7), "receive not chosen, yet took");
            }
            other => panic!("select returned {other:?}"),
        }
    });
}

/// Go's `TestNonblockSelectRace` as a model: at every moment one of c1, c2 is
/// ready, so a select with default must never take the default.
#[test]
fn loom_select_default_sees_one_moment() {
    model(|| {
        let c1 = make::<u32>(1);
        let c2 = make::<u32>(1);
        c1.try_send(1).unwrap();
        let (a, b) = (c1.clone(), c2.clone());
        let t = thread::spawn(move || {
            let mut x = into_case!(&a);
            let mut y = into_case!(&b);
            select_blocking(&mut [&mut x as &mut dyn BlockingCase, &mut y], true)
        });
        c2.try_send(1).unwrap();
        let _ = c1.try_recv();
        assert!(
            t.join().unwrap().is_some(),
            "default taken while a case was ready"
        );
    });
}

/// The lock-free fast-fail of `try_recv` never hides a buffered value and
/// reports `Closed` only when closed and drained.
#[test]
fn loom_try_recv_fast_fail_vs_close() {
    model(|| {
        let c = make::<u32>(1);
        c.try_send(1).unwrap();
        let u = make::<u32>(0);
        let (c2, u2) = (c.clone(), u.clone());
        let t = thread::spawn(move || {
            c2.close();
            u2.close();
        });
        assert_eq!(c.try_recv(), Ok(1));
        let r = u.try_recv();
        assert!(r == Err(TryRecvError::Empty) || r == Err(TryRecvError::Closed));
        t.join().unwrap();
        assert_eq!(c.try_recv(), Err(TryRecvError::Closed));
        assert_eq!(u.try_recv(), Err(TryRecvError::Closed));
    });
}

/// The lock-free fast-fail of `try_send` sees a receiver that parked.
#[test]
fn loom_try_send_fast_fail_sees_parked_receiver() {
    model(|| {
        let c = make::<u32>(0);
        let rx = c.clone();
        let t = thread::spawn(move || rx.recv_blocking());
        loop {
            match c.try_send(5) {
                Ok(()) => break,
                Err(e) => {
                    assert!(e.is_full());
                    thread::yield_now();
                }
            }
        }
        assert_eq!(t.join().unwrap(), Some(5));
    });
}

/// A select with a future case (which itself receives from another channel)
/// racing sends on both channels: exactly one case commits and no value is
/// lost (a value handed to the dropped future's receive goes back).
#[test]
fn loom_select_future_case_vs_channel_case() {
    model(|| {
        let a = make::<u32>(0);
        let b = make::<u32>(0);
        let (a2, b2) = (a.clone(), b.clone());
        let t = thread::spawn(move || {
            let mut c0 = into_case!(&a2);
            let mut c1 = into_case!(async { b2.recv().await });
            // SAFETY: the future is run to completion here, never leaked.
            let i = crate::blocking::block_on(unsafe {
                select(&mut [&mut c0 as &mut dyn SelectCase, &mut c1], false)
            });
            match i {
                Some(0) => (0, c0.take_output()),
                _ => (1, c1.take_output()),
            }
        });
        let sent_a = a.try_send(1).is_ok();
        let sent_b = b.try_send(2).is_ok();
        if !sent_a && !sent_b {
            // Unblock the select for sure.
            a.send_blocking(1);
        }
        let (case, got) = t.join().unwrap();
        match case {
            0 => {
                assert_eq!(got, Some(1));
                if sent_b {
                    assert_eq!(
                        b.try_recv(),
                        Ok(2),
                        "value handed to the dropped future comes back"
                    );
                }
            }
            _ => {
                assert_eq!(got, Some(2));
                if sent_a {
                    assert_eq!(
                        a.try_recv(),
                        Ok(1),
                        "value handed to the unchosen case comes back"
                    );
                }
            }
        }
        assert_eq!(a.try_recv(), Err(TryRecvError::Empty));
        assert_eq!(b.try_recv(), Err(TryRecvError::Empty));
    });
}

/// A `Receiver` stream (a wake-only watcher) racing an
/// unbuffered sender and then `close`: the parked sender wakes the stream,
/// which takes the value itself; close wakes it again (no lost wake-up).
#[test]
fn loom_stream_watcher_vs_unbuffered_send_and_close() {
    use futures_core::Stream;
    model(|| {
        let ch = make::<u32>(0);
        let tx = ch.clone();
        let t = thread::spawn(move || {
            tx.send_blocking(4);
            tx.close();
        });
        let mut rx = ch.receiver();
        let mut next = || {
            crate::blocking::block_on(std::future::poll_fn(|cx| {
                std::pin::Pin::new(&mut rx).poll_next(cx)
            }))
        };
        assert_eq!(next(), Some(4));
        assert_eq!(next(), None);
        t.join().unwrap();
    });
}

/// A future that counts its polls (a loom-model probe).
struct Counted<'a, F> {
    f: F,
    /// A std atomic, untracked by loom: only the polling thread touches it.
    polls: &'a std::sync::atomic::AtomicUsize,
}

impl<F: Future + Unpin> Future for Counted<'_, F> {
    type Output = F::Output;
    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.polls
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        std::pin::Pin::new(&mut self.f).poll(cx)
    }
}

/// The stream's `next()` as an `Unpin` future (no `futures-util` here).
fn next<T>(rx: &mut crate::Receiver<T>) -> impl Future<Output = Option<T>> + Unpin + '_ {
    use futures_core::Stream;
    std::future::poll_fn(move |cx| std::pin::Pin::new(&mut *rx).poll_next(cx))
}

/// Issue 14, defect 1: a select with a send case and a `Receiver` stream
/// case on the same unbuffered channel parks instead of waking itself
/// through its own cases (without the fix the model never ends: the select
/// re-polls forever); a receiver on another thread takes the send.
#[test]
fn loom_select_send_and_own_stream_on_one_channel_park() {
    model(|| {
        let ch = make::<u32>(0);
        let rx2 = ch.clone();
        let t = thread::spawn(move || rx2.recv_blocking());
        let mut rx = ch.receiver();
        let polls = std::sync::atomic::AtomicUsize::new(0);
        let mut c0 = into_case!(ch.send(1));
        let mut c1 = into_case!(Counted {
            f: next(&mut rx),
            polls: &polls,
        });
        // SAFETY: run to completion here, never leaked.
        let i = crate::blocking::block_on(unsafe {
            select(&mut [&mut c0 as &mut dyn SelectCase, &mut c1], false)
        });
        assert_eq!(i, Some(0));
        let polls = polls.load(std::sync::atomic::Ordering::Relaxed);
        assert!(polls <= 3, "stream case polled {polls} times");
        assert_eq!(t.join().unwrap(), Some(1));
    });
}

/// A select with a send case, re-polling its future case (woken through
/// another channel) while a stream on another thread waits on the send
/// case's channel: the stream may skip the select's abandoned waiter in
/// that window, and must still be woken when the select re-queues it (the
/// skip-in-place is only for the select's own cases).
#[test]
fn loom_foreign_stream_during_select_repoll_is_woken() {
    model(|| {
        let ch = make::<u32>(0);
        let b = make::<u32>(0);
        let (ch2, b2) = (ch.clone(), b.clone());
        let t = thread::spawn(move || {
            b2.send_blocking(0);
            let mut rx = ch2.receiver();
            crate::blocking::block_on(next(&mut rx))
        });
        let mut c0 = into_case!(ch.send(1));
        let mut c1 = into_case!(async {
            loop {
                b.recv().await;
            }
        });
        // SAFETY: run to completion here, never leaked.
        let i = crate::blocking::block_on(unsafe {
            select(&mut [&mut c0 as &mut dyn SelectCase, &mut c1], false)
        });
        assert_eq!(i, Some(0));
        assert_eq!(t.join().unwrap(), Some(1));
    });
}

/// Issue 14, defect 2: a receive completed by `close` and then cancelled
/// before it reported "closed" (a plain receive, or a select's receive case
/// when `select_case`) does not make the channel drop a value handed to
/// another cancelled receive: in every interleaving of the send, the close
/// and the two cancellations, the value is received afterwards, then
/// `Closed`.
fn close_vs_cancelled_receives_keep_the_value(select_case: bool) {
    model(move || {
        let ch = make::<u32>(0);
        let other = make::<u32>(0);
        let mut r1 = Box::pin(ch.recv());
        assert!(r1.as_mut().poll(&mut cx()).is_pending());
        let mut c0 = into_case!(&ch);
        let mut c1 = into_case!(&other);
        let mut cases = [&mut c0 as &mut dyn SelectCase, &mut c1];
        let mut r2: std::pin::Pin<Box<dyn Future<Output = ()>>> = if select_case {
            // SAFETY: boxed and dropped below, never leaked.
            let sel = unsafe { select(&mut cases, false) };
            Box::pin(async move {
                sel.await;
            })
        } else {
            Box::pin(async {
                ch.recv().await;
            })
        };
        assert!(r2.as_mut().poll(&mut cx()).is_pending());
        let tx = ch.clone();
        let t = thread::spawn(move || {
            let sent = tx.try_send(7).is_ok();
            tx.close();
            sent
        });
        drop(r2);
        drop(r1);
        let sent = t.join().unwrap();
        if sent {
            assert_eq!(ch.try_recv(), Ok(7), "a completed send was lost");
        }
        assert_eq!(ch.try_recv(), Err(TryRecvError::Closed));
    });
}

#[test]
fn loom_close_vs_cancelled_receives_keeps_the_value() {
    close_vs_cancelled_receives_keep_the_value(false);
}

#[test]
fn loom_close_vs_cancelled_select_receive_keeps_the_value() {
    close_vs_cancelled_receives_keep_the_value(true);
}

// The lock-free ring of buffered channels (`src/ring.rs`) and its hand-shake
// with the channel lock (`src/hchan.rs`, "marks").

fn push_retrying<T>(r: &crate::ring::Ring<T>, mut v: T) {
    use crate::ring::TryPush;
    loop {
        match r.try_push(v) {
            TryPush::Pushed => return,
            TryPush::Full(x) | TryPush::Marked(x) => {
                v = x;
                thread::yield_now();
            }
        }
    }
}

fn pop_retrying<T>(r: &crate::ring::Ring<T>) -> T {
    use crate::ring::TryPop;
    loop {
        match r.try_pop() {
            TryPop::Popped(v) => return v,
            TryPop::Empty | TryPop::Marked => thread::yield_now(),
        }
    }
}

/// The ring alone, lock-free claims racing: two pushers on a ring of two
/// slots, then two poppers; each value arrives once. (No thread retries
/// here: a model where one thread spins on another's in-flight claim while a
/// third also spins has unbounded schedules under loom.)
#[test]
fn loom_ring_racing_claims() {
    use crate::loom::Arc;
    use crate::ring::{Ring, TryPop, TryPush};
    model(|| {
        let r = Arc::new(Ring::new(2));
        let pushers: Vec<_> = [1u32, 2]
            .into_iter()
            .map(|v| {
                let r = r.clone();
                thread::spawn(move || assert!(matches!(r.try_push(v), TryPush::Pushed)))
            })
            .collect();
        for t in pushers {
            t.join().unwrap();
        }
        let r2 = r.clone();
        let popper = thread::spawn(move || match r2.try_pop() {
            TryPop::Popped(v) => v,
            _ => panic!("two values, two pops"),
        });
        let mine = match r.try_pop() {
            TryPop::Popped(v) => v,
            _ => panic!("two values, two pops"),
        };
        let mut got = [mine, popper.join().unwrap()];
        got.sort_unstable();
        assert_eq!(got, [1, 2]);
        assert_eq!(r.len(), 0);
    });
}

/// The ring alone, one pusher and one popper on one slot, so every value
/// starts a new lap and each side waits for the other's claim in flight.
#[test]
fn loom_ring_laps_spsc() {
    use crate::loom::Arc;
    use crate::ring::Ring;
    model(|| {
        let r = Arc::new(Ring::new(1));
        let r2 = r.clone();
        let t = thread::spawn(move || {
            for v in 1..=3u32 {
                push_retrying(&r2, v);
            }
        });
        assert_eq!(
            [pop_retrying(&r), pop_retrying(&r), pop_retrying(&r)],
            [1, 2, 3]
        );
        t.join().unwrap();
    });
}

/// The freeze hand-shake: a lock holder freezes the ring, pops and pushes
/// under the freeze and thaws it, racing a lock-free push and a lock-free
/// pop that may have claimed their positions before the freeze (still
/// writing or reading their slot). Loom checks the slots are never accessed
/// concurrently; every value arrives exactly once, in FIFO order for the
/// values that were in the ring first.
#[test]
fn loom_ring_freeze_vs_lock_free_claims() {
    use crate::loom::Arc;
    use crate::ring::{Ring, TryPop};
    model(|| {
        let r = Arc::new(Ring::new(2));
        push_retrying(&r, 0u32);
        let (r1, r2) = (r.clone(), r.clone());
        let pusher = thread::spawn(move || push_retrying(&r1, 1));
        let popper = thread::spawn(move || match r2.try_pop() {
            TryPop::Popped(v) => Some(v),
            TryPop::Empty | TryPop::Marked => None,
        });
        // The "lock holder".
        // SAFETY: this thread is the only one acting as the lock holder.
        let (frozen_got, pushed) = unsafe {
            r.freeze();
            let got = r.frozen_pop();
            let pushed = r.frozen_len() < 2;
            if pushed {
                r.frozen_push(2);
            }
            r.set_marks(false, false, true);
            (got, pushed)
        };
        pusher.join().unwrap();
        let popped = popper.join().unwrap();
        let mut all: Vec<u32> = popped.into_iter().chain(frozen_got).collect();
        assert!(all.contains(&0), "0 was first in and was popped first");
        while let TryPop::Popped(v) = r.try_pop() {
            all.push(v);
        }
        all.sort_unstable();
        let want: Vec<u32> = if pushed { vec![0, 1, 2] } else { vec![0, 1] };
        assert_eq!(all, want);
    });
}

/// A receiver parking on an empty buffered channel against a lock-free
/// send: the send sees the receiver (marked tail) or the receiver sees the
/// value (its freeze): no lost wake-up.
#[test]
fn loom_ring_receiver_parks_vs_lock_free_send() {
    model(|| {
        let ch = make::<u32>(1);
        let tx = ch.clone();
        let t = thread::spawn(move || tx.send_blocking(1));
        assert_eq!(ch.recv_blocking(), Some(1));
        t.join().unwrap();
        assert_eq!(ch.len(), 0);
    });
}

/// A sender that blocks on a full channel of one slot, against a receiver
/// taking lock-free where it can: the blocked sender keeps its FIFO place
/// behind the buffered value (marked head), and the receive that frees the
/// slot moves its value in.
#[test]
fn loom_ring_blocked_sender_vs_lock_free_recv() {
    model(|| {
        let ch = make::<u32>(1);
        ch.try_send(1).unwrap();
        let tx = ch.clone();
        let t = thread::spawn(move || tx.send_blocking(2));
        assert_eq!([ch.recv_blocking(), ch.recv_blocking()], [Some(1), Some(2)]);
        t.join().unwrap();
        assert_eq!(ch.try_recv(), Err(TryRecvError::Empty));
    });
}

/// `close` against lock-free sends: a send that succeeded is received
/// before `Closed`; one after close reports `Closed` and keeps its value.
#[test]
fn loom_ring_close_vs_lock_free_send() {
    model(|| {
        let ch = make::<u32>(2);
        let tx = ch.clone();
        let t = thread::spawn(move || [tx.try_send(1), tx.try_send(2)]);
        ch.close();
        let rs = t.join().unwrap();
        for (v, r) in [1, 2].into_iter().zip(&rs) {
            match r {
                Ok(()) => assert_eq!(ch.try_recv(), Ok(v)),
                Err(e) => assert_eq!(e, &TrySendError::Closed(v)),
            }
        }
        assert!(
            rs[0].is_ok() || rs[1].is_err(),
            "a send after a closed one succeeded"
        );
        assert_eq!(ch.try_recv(), Err(TryRecvError::Closed));
    });
}

/// A `Receiver` stream parked on an empty buffered channel against a send
/// and close: the marked tail sends the value through the lock, which wakes
/// the stream.
#[test]
fn loom_ring_stream_watcher_vs_send_and_close() {
    model(|| {
        let ch = make::<u32>(1);
        let tx = ch.clone();
        let t = thread::spawn(move || {
            tx.send_blocking(4);
            tx.close();
        });
        let mut rx = ch.receiver();
        assert_eq!(crate::blocking::block_on(next(&mut rx)), Some(4));
        assert_eq!(crate::blocking::block_on(next(&mut rx)), None);
        t.join().unwrap();
    });
}

/// A value handed to a parked receive that is then cancelled goes back to
/// the front of the buffer, ahead of a later (possibly lock-free) send.
#[test]
fn loom_ring_give_back_stays_ahead_of_lock_free_send() {
    model(|| {
        let ch = make::<u32>(1);
        let mut r1 = Box::pin(ch.recv());
        assert!(r1.as_mut().poll(&mut cx()).is_pending());
        let tx = ch.clone();
        let t = thread::spawn(move || {
            let first = tx.try_send(7).is_ok();
            let second = tx.try_send(8).is_ok();
            (first, second)
        });
        drop(r1);
        let (first, second) = t.join().unwrap();
        let mut got = Vec::new();
        while let Ok(v) = ch.try_recv() {
            got.push(v);
        }
        let want: Vec<u32> = [(first, 7), (second, 8)]
            .into_iter()
            .filter_map(|(ok, v)| ok.then_some(v))
            .collect();
        assert_eq!(got, want);
    });
}

/// A thread that sends 1 then 2 on `ch` (blocking).
fn send_1_2_in_thread(ch: &crate::Chan<u32>) -> thread::JoinHandle<()> {
    let tx = ch.clone();
    thread::spawn(move || {
        tx.send_blocking(1);
        tx.send_blocking(2);
    })
}

/// A select receive case on a buffered channel leaves the ring frozen when
/// it releases the lock; the next operations still see every value in
/// order (and thaw it).
#[test]
fn loom_ring_select_then_lock_free_ops() {
    model(|| {
        let ch = make::<u32>(1);
        let t = send_1_2_in_thread(&ch);
        let mut c0 = into_case!(&ch);
        let i = select_blocking(&mut [&mut c0 as &mut dyn BlockingCase], false);
        assert_eq!(i, Some(0));
        assert_eq!(c0.take_output(), Some(1));
        assert_eq!(ch.recv_blocking(), Some(2));
        t.join().unwrap();
    });
}

/// Locked operations that need no waiter take the ring's lock-free path
/// under the lock (`Hchan::push_unfrozen`, `Hchan::pop_unfrozen`) instead
/// of freezing it: racing a lock-free counterpart on one slot (each side
/// may find the ring full/empty lock-free, take the lock and then succeed
/// there), the values arrive in order, no waiter is lost, and once both
/// are done the ring is left unmarked (lock-free both ways again).
#[test]
fn loom_ring_locked_op_without_waiter_leaves_ring_unmarked() {
    model(|| {
        let ch = make::<u32>(1);
        let t = send_1_2_in_thread(&ch);
        assert_eq!([ch.recv_blocking(), ch.recv_blocking()], [Some(1), Some(2)]);
        t.join().unwrap();
        let h = ch.inner.as_deref().expect("an open channel");
        assert!(h.try_push(3).is_ok(), "the tail was left marked");
        assert_eq!(h.try_pop().ok(), Some(3), "the head was left marked");
    });
}
