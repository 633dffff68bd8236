//! Port of <https://github.com/golang/go/blob/master/test/chan/nonblock.go>:
//! "Test channel operations that test for blocking. Use several sizes and
//! types of operands."
//!
//! Go's non-blocking operations (`select` with `default`) are `try_send` and
//! `try_recv`. Go lets the peer goroutine block by sleeping; here the peer's
//! operation is a future polled once, so it is deterministically parked.

use std::fmt::Debug;
use std::pin::pin;
use std::task::Poll;

use goro_chan::{make, TryRecvError};

use crate::util::poll_once;

fn check<T: Clone + PartialEq + Debug + Send>(buffer: usize, to_receiver: T, from_sender: T) {
    let c = make::<T>(buffer);

    // Nothing to receive yet.
    assert_eq!(c.try_recv(), Err(TryRecvError::Empty), "blocked sender");

    // A receiver is blocked: the non-blocking send must succeed.
    {
        let mut r = pin!(c.recv());
        assert!(poll_once(r.as_mut()).is_pending());
        assert!(
            c.try_send(to_receiver.clone()).is_ok(),
            "receiver buffer={buffer}"
        );
        assert_eq!(poll_once(r.as_mut()), Poll::Ready(Some(to_receiver)));
    }

    // A sender is blocked (or buffered): the non-blocking receive must succeed.
    {
        let mut s = pin!(c.send(from_sender.clone()));
        let first = poll_once(s.as_mut());
        assert_eq!(first.is_ready(), buffer > 0);
        assert_eq!(c.try_recv(), Ok(from_sender), "sender buffer={buffer}");
        if first.is_pending() {
            assert!(poll_once(s.as_mut()).is_ready());
        }
    }
}

#[test]
fn nonblock() {
    for buffer in 0..2 {
        check::<i32>(buffer, 123, 234);
        check::<i64>(buffer, 123456, 234567);
        check::<bool>(buffer, true, true);
        check::<String>(buffer, "hello".into(), "hello again".into());
    }
}

/// The same with real threads: the peer blocks for real, and the
/// non-blocking side retries (Go's version sleeps; we spin on `try_*`).
#[test]
fn nonblock_threads() {
    for buffer in 0..2 {
        let c = make::<i32>(buffer);
        let rx = c.clone();
        let t = std::thread::spawn(move || rx.recv_blocking());
        while c.try_send(123).is_err() {
            std::thread::yield_now();
        }
        assert_eq!(t.join().unwrap(), Some(123));

        let tx = c.clone();
        let t = std::thread::spawn(move || tx.send_blocking(234));
        let v = loop {
            match c.try_recv() {
                Ok(v) => break v,
                Err(_) => std::thread::yield_now(),
            }
        };
        assert_eq!(v, 234);
        t.join().unwrap();
    }
}
