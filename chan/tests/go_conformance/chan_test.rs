//! Port of the channel tests of <https://github.com/golang/go/blob/master/src/runtime/chan_test.go>.
//!
//! `time.Sleep` "to let a goroutine block" becomes a future polled once by
//! hand. The select tests of the same Go file (`TestNonblockSelectRace`,
//! `TestNonblockSelectRace2`, `TestSelfSelect`, `TestSelectStress`,
//! `TestChanSendInterface`, `TestPseudoRandomSend`,
//! `TestSelectDuplicateChannel`, `TestSelectFairness`) are ported once, with
//! the `select!` macro, in the workspace's `tests/go_conformance/chan_test.rs`.

use std::collections::HashMap;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::Poll;

use goro_chan::select::{into_case, select_blocking, BlockingCase};
use goro_chan::{make, TryRecvError, TrySendError};

use crate::util::{go, poll_once};

/// `TestChan` (with Go's `testing.Short()` bound: capacities 0..20).
#[test]
fn test_chan() {
    for chan_cap in 0..20usize {
        {
            // Ensure that receive from empty chan blocks.
            let c = make::<i32>(chan_cap);
            let mut r1 = pin!(c.recv());
            let mut r2 = pin!(c.recv());
            assert!(
                poll_once(r1.as_mut()).is_pending(),
                "chan[{chan_cap}]: receive from empty chan"
            );
            assert!(
                poll_once(r2.as_mut()).is_pending(),
                "chan[{chan_cap}]: receive from empty chan"
            );
            // Ensure that non-blocking receive does not block.
            assert_eq!(c.try_recv(), Err(TryRecvError::Empty));
            c.send_blocking(0);
            c.send_blocking(0);
            assert_eq!(poll_once(r1.as_mut()), Poll::Ready(Some(0)));
            assert_eq!(poll_once(r2.as_mut()), Poll::Ready(Some(0)));
        }
        {
            // Ensure that send to full chan blocks.
            let c = make::<i32>(chan_cap);
            for i in 0..chan_cap {
                c.send_blocking(i as i32);
            }
            let mut s = pin!(c.send(0));
            assert!(
                poll_once(s.as_mut()).is_pending(),
                "chan[{chan_cap}]: send to full chan"
            );
            // Ensure that non-blocking send does not block.
            assert!(matches!(c.try_send(0), Err(TrySendError::Full(0))));
            c.recv_blocking();
            assert!(poll_once(s.as_mut()).is_ready());
        }
        {
            // Ensure that we receive 0 (None) from closed chan.
            let c = make::<i32>(chan_cap);
            for i in 0..chan_cap {
                c.send_blocking(i as i32);
            }
            c.close();
            for i in 0..chan_cap {
                assert_eq!(c.recv_blocking(), Some(i as i32));
            }
            assert_eq!(c.recv_blocking(), None);
            assert_eq!(c.recv_blocking(), None);
        }
        {
            // Ensure that close unblocks receive.
            let c = make::<i32>(chan_cap);
            let done = make::<bool>(0);
            let (c2, d2) = (c.clone(), done.clone());
            let t = go(move || d2.send_blocking(c2.recv_blocking().is_none()));
            c.close();
            assert!(
                done.recv_blocking().unwrap(),
                "chan[{chan_cap}]: received non zero from closed chan"
            );
            t.join().unwrap();
        }
        {
            // Send 100 integers, ensure that we receive them non-corrupted in FIFO order.
            let c = make::<i32>(chan_cap);
            let c2 = c.clone();
            let t = go(move || {
                for i in 0..100 {
                    c2.send_blocking(i);
                }
            });
            for i in 0..100 {
                assert_eq!(c.recv_blocking(), Some(i));
            }
            t.join().unwrap();

            // Send 1000 integers in 4 goroutines, ensure that we receive what we send.
            const P: usize = 4;
            const L: i32 = 1000;
            let senders: Vec<_> = (0..P)
                .map(|_| {
                    let c = c.clone();
                    go(move || {
                        for i in 0..L {
                            c.send_blocking(i);
                        }
                    })
                })
                .collect();
            let done = make::<HashMap<i32, usize>>(0);
            let receivers: Vec<_> = (0..P)
                .map(|_| {
                    let (c, done) = (c.clone(), done.clone());
                    go(move || {
                        let mut recv = HashMap::new();
                        for _ in 0..L {
                            *recv.entry(c.recv_blocking().unwrap()).or_insert(0) += 1;
                        }
                        done.send_blocking(recv);
                    })
                })
                .collect();
            let mut recv = HashMap::new();
            for _ in 0..P {
                for (k, v) in done.recv_blocking().unwrap() {
                    *recv.entry(k).or_insert(0) += v;
                }
            }
            assert_eq!(recv.len(), L as usize, "chan[{chan_cap}]");
            assert!(recv.values().all(|&v| v == P), "chan[{chan_cap}]");
            senders
                .into_iter()
                .chain(receivers)
                .for_each(|t| t.join().unwrap());
        }
        {
            // Test len/cap.
            let c = make::<i32>(chan_cap);
            assert_eq!((c.len(), c.cap()), (0, chan_cap));
            for i in 0..chan_cap {
                c.send_blocking(i as i32);
            }
            assert_eq!((c.len(), c.cap()), (chan_cap, chan_cap));
        }
    }
}

/// `TestNonblockRecvRace` (Go's short count: 100, here 1000).
#[test]
fn test_nonblock_recv_race() {
    for _ in 0..1000 {
        let c = make::<i32>(1);
        c.send_blocking(1);
        let c2 = c.clone();
        let t = go(move || {
            let mut c0 = into_case!(&c2);
            select_blocking(&mut [&mut c0 as &mut dyn BlockingCase], true)
                .expect("chan is not ready")
        });
        c.close();
        c.recv_blocking();
        t.join().unwrap();
    }
}

/// `TestMultiConsumer` (niter reduced from 271828 to 27182 for CI).
#[test]
fn test_multi_consumer() {
    const NWORK: usize = 23;
    const NITER: usize = 27182;
    let pn = [2usize, 3, 7, 11, 13, 17, 19, 23, 27, 31];
    let q = make::<usize>(NWORK * 3);
    let r = make::<usize>(NWORK * 3);
    let workers: Vec<_> = (0..NWORK)
        .map(|w| {
            let (q, r) = (q.receiver(), r.sender());
            go(move || {
                while let Some(v) = q.recv_blocking() {
                    // Mess with the fifo-ish nature of range.
                    if pn[w % pn.len()] == v {
                        std::thread::yield_now();
                    }
                    r.send_blocking(v);
                }
            })
        })
        .collect();
    let (q2, r2) = (q.clone(), r.clone());
    let feeder = go(move || {
        let mut expect = 0;
        for i in 0..NITER {
            let v = pn[i % pn.len()];
            expect += v;
            q2.send_blocking(v);
        }
        q2.close(); // no more work
        workers.into_iter().for_each(|w| w.join().unwrap()); // workers done
        r2.close(); // ... so there can be no more results
        expect
    });
    let (mut n, mut s) = (0, 0);
    while let Some(v) = r.recv_blocking() {
        n += 1;
        s += v;
    }
    let expect = feeder.join().unwrap();
    assert_eq!((n, s), (NITER, expect));
}

/// Not a Go test: the flag check Go's `TestChan` does with `recv1`/`recv2`,
/// through real threads that block (no sleeping: the main thread only checks
/// after it has itself sent the values).
#[test]
fn blocked_receivers_on_threads_get_values_in_order() {
    let c = make::<i32>(0);
    let got = Arc::new(AtomicBool::new(false));
    let (c2, g2) = (c.clone(), got.clone());
    let t = go(move || {
        let v = c2.recv_blocking();
        g2.store(true, Ordering::SeqCst);
        v
    });
    c.send_blocking(5);
    assert_eq!(t.join().unwrap(), Some(5));
    assert!(got.load(Ordering::SeqCst));
}
