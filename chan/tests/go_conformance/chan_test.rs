//! Port of tests from <https://github.com/golang/go/blob/master/src/runtime/chan_test.go>.
//!
//! `time.Sleep` "to let a goroutine block" becomes a future polled once by
//! hand; Go's `select` becomes the select engine with hand-built cases.

use std::collections::HashMap;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::Poll;

use goro_chan::select::{into_case, select, select_blocking, BlockingCase, CaseOutput, SelectCase};
use goro_chan::{make, Chan, TryRecvError, TrySendError};

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

/// `TestNonblockSelectRace`: select acts on the state of the channels at one
/// moment; at least one of c1, c2 is always ready, so default must never run.
#[test]
fn test_nonblock_select_race() {
    let done = make::<bool>(1);
    for _ in 0..1000 {
        let c1 = make::<i32>(1);
        let c2 = make::<i32>(1);
        c1.send_blocking(1);
        let (a, b, d) = (c1.clone(), c2.clone(), done.clone());
        let t = go(move || {
            let mut x = into_case!(&a);
            let mut y = into_case!(&b);
            let i = select_blocking(&mut [&mut x as &mut dyn BlockingCase, &mut y], true);
            d.send_blocking(i.is_some());
        });
        c2.send_blocking(1);
        let _ = c1.try_recv();
        assert!(done.recv_blocking().unwrap(), "no chan is ready");
        t.join().unwrap();
    }
}

/// `TestNonblockSelectRace2`: same, with `close(c2)` replacing `c2 <- 1`.
#[test]
fn test_nonblock_select_race2() {
    let done = make::<bool>(1);
    for _ in 0..1000 {
        let c1 = make::<i32>(1);
        let c2 = make::<i32>(0);
        c1.send_blocking(1);
        let (a, b, d) = (c1.clone(), c2.clone(), done.clone());
        let t = go(move || {
            let mut x = into_case!(&a);
            let mut y = into_case!(&b);
            let i = select_blocking(&mut [&mut x as &mut dyn BlockingCase, &mut y], true);
            d.send_blocking(i.is_some());
        });
        c2.close();
        let _ = c1.try_recv();
        assert!(done.recv_blocking().unwrap(), "no chan is ready");
        t.join().unwrap();
    }
}

/// `TestSelfSelect`: send and receive on the same channel in one select
/// neither crash nor deadlock, and never receive their own value (unbuffered).
#[test]
fn test_self_select() {
    for chan_cap in [0usize, 10] {
        let c = make::<usize>(chan_cap);
        let ts: Vec<_> = (0..2usize)
            .map(|p| {
                let c = c.clone();
                go(move || {
                    for i in 0..1000 {
                        let mut s = into_case!(c.send(p));
                        let mut r = into_case!(&c);
                        let got = if p == 0 || i % 2 == 0 {
                            match select_blocking(
                                &mut [&mut s as &mut dyn BlockingCase, &mut r],
                                false,
                            ) {
                                Some(1) => r.take_output(),
                                _ => None,
                            }
                        } else {
                            match select_blocking(
                                &mut [&mut r as &mut dyn BlockingCase, &mut s],
                                false,
                            ) {
                                Some(0) => r.take_output(),
                                _ => None,
                            }
                        };
                        if chan_cap == 0 {
                            assert_ne!(got, Some(p), "self receive");
                        }
                    }
                })
            })
            .collect();
        ts.into_iter().for_each(|t| t.join().unwrap());
    }
}

/// `TestSelectStress` (Go's short N = 1e4, here 2000): senders, receivers and
/// two 4-way selects interact chaotically without deadlock; a finished
/// select case is disabled with a nil channel (Go's `c1[k] = nil`).
#[test]
fn test_select_stress() {
    const N: usize = 2000;
    let c: [Chan<i32>; 4] = [make(0), make(0), make(2), make(3)];
    let mut ts = Vec::new();
    for ch in &c {
        let ck = ch.clone();
        ts.push(go(move || (0..N).for_each(|_| ck.send_blocking(0))));
        let ck = ch.clone();
        ts.push(go(move || {
            (0..N).for_each(|_| assert!(ck.recv_blocking().is_some()))
        }));
    }
    let cs = c.clone();
    ts.push(go(move || {
        let mut n = [0usize; 4];
        let mut c1 = cs;
        for _ in 0..4 * N {
            let mut s3 = into_case!(c1[3].send(0));
            let mut s2 = into_case!(c1[2].send(0));
            let mut s0 = into_case!(c1[0].send(0));
            let mut s1 = into_case!(c1[1].send(0));
            let i = select_blocking(
                &mut [&mut s3 as &mut dyn BlockingCase, &mut s2, &mut s0, &mut s1],
                false,
            );
            let k = [3, 2, 0, 1][i.unwrap()];
            drop((s3, s2, s0, s1));
            n[k] += 1;
            if n[k] == N {
                c1[k] = Chan::nil();
            }
        }
    }));
    let cr = c.clone();
    ts.push(go(move || {
        let mut n = [0usize; 4];
        let mut c1 = cr;
        for _ in 0..4 * N {
            let mut r0 = into_case!(&c1[0]);
            let mut r1 = into_case!(&c1[1]);
            let mut r2 = into_case!(&c1[2]);
            let mut r3 = into_case!(&c1[3]);
            let k = select_blocking(
                &mut [&mut r0 as &mut dyn BlockingCase, &mut r1, &mut r2, &mut r3],
                false,
            )
            .unwrap();
            drop((r0, r1, r2, r3));
            n[k] += 1;
            if n[k] == N {
                c1[k] = Chan::nil();
            }
        }
    }));
    ts.into_iter().for_each(|t| t.join().unwrap());
}

/// `TestChanSendInterface`: sends of a pointer-like value in selects with default.
#[test]
fn test_chan_send_interface() {
    struct Mt;
    let m: Arc<dyn std::any::Any + Send + Sync> = Arc::new(Mt);
    let c = make::<Arc<dyn std::any::Any + Send + Sync>>(1);
    c.send_blocking(m.clone());
    let mut s = into_case!(c.send(m.clone()));
    assert_eq!(
        select_blocking(&mut [&mut s as &mut dyn BlockingCase], true),
        None
    );
    let mut s1 = into_case!(c.send(m.clone()));
    let mut s2 = into_case!(c.send(Arc::new(Mt)));
    assert_eq!(
        select_blocking(&mut [&mut s1 as &mut dyn BlockingCase, &mut s2], true),
        None
    );
    assert_eq!(c.len(), 1);
}

/// `TestPseudoRandomSend`: a select over two ready sends picks both.
#[test]
fn test_pseudo_random_send() {
    let n = 100;
    for chan_cap in [0usize, n] {
        let c = make::<usize>(chan_cap);
        let c2 = c.clone();
        let t = go(move || {
            (0..n)
                .map(|_| c2.recv_blocking().unwrap())
                .collect::<Vec<_>>()
        });
        for _ in 0..n {
            let mut one = into_case!(c.send(1));
            let mut zero = into_case!(c.send(0));
            select_blocking(&mut [&mut one as &mut dyn BlockingCase, &mut zero], false).unwrap();
        }
        let l = t.join().unwrap();
        let n1: usize = l.iter().sum();
        let n0 = n - n1;
        assert!(
            n0 > n / 10 && n1 > n / 10,
            "want pseudorandom, got {n0} zeros and {n1} ones (chan cap {chan_cap})"
        );
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

/// `TestSelectDuplicateChannel`: a select may queue on the same channel
/// several times; waking it through another channel must leave the first
/// channel's queue intact. Go orders the goroutines with sleeps; here the
/// select and the plain receive are futures polled in order.
#[test]
fn test_select_duplicate_channel() {
    let c = make::<i32>(0);
    let d = make::<i32>(0);
    // Goroutine A: select { case <-c: case <-c: case <-d: }
    let mut a0 = into_case!(&c);
    let mut a1 = into_case!(&c);
    let mut a2 = into_case!(&d);
    let mut cases = [&mut a0 as &mut dyn SelectCase, &mut a1, &mut a2];
    // SAFETY: pinned on the stack, so dropped at the end of its scope, never leaked.
    let mut a = pin!(unsafe { select(&mut cases, false) });
    assert!(poll_once(a.as_mut()).is_pending()); // A is queued first on c
                                                 // Goroutine B: <-c
    let mut b = pin!(c.recv());
    assert!(poll_once(b.as_mut()).is_pending()); // B is queued on c after A
    d.try_send(7).unwrap(); // wakes A, which dequeues itself from c
    assert_eq!(poll_once(a.as_mut()), Poll::Ready(Some(2)));
    c.try_send(8).unwrap(); // must wake B, not A
    assert_eq!(poll_once(b.as_mut()), Poll::Ready(Some(8)));
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
