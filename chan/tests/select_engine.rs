//! The select engine driven by hand-built cases (no macro), API.md "select".

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use goro_chan::select::{
    block_forever, into_case, select, select_blocking, BlockingCase, CaseOutput, SelectCase,
};
use goro_chan::{make, Chan, TryRecvError, TrySendError};

#[derive(Default)]
struct CountWaker(AtomicUsize);
impl Wake for CountWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn noop_cx() -> Context<'static> {
    Context::from_waker(Waker::noop())
}

fn panic_text(p: Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap()
}

#[test]
fn ready_case_is_chosen_and_output_taken() {
    let a = make::<i32>(1);
    let b = make::<i32>(1);
    b.try_send(7).unwrap();
    let mut c0 = into_case!(&a);
    let mut c1 = into_case!(b.recv());
    // SAFETY: the future is run to completion here, never leaked.
    let i = futures::executor::block_on(unsafe {
        select(&mut [&mut c0 as &mut dyn SelectCase, &mut c1], false)
    });
    assert_eq!(i, Some(1));
    assert_eq!(c1.take_output(), Some(7));
}

#[test]
fn default_only_when_nothing_ready() {
    let a = make::<i32>(0);
    let nil = Chan::<i32>::nil();
    let mut c0 = into_case!(&a);
    let mut c1 = into_case!(nil.send(1));
    let mut c2 = into_case!(a.send(3));
    let i = select_blocking(
        &mut [&mut c0 as &mut dyn BlockingCase, &mut c1, &mut c2],
        true,
    );
    assert_eq!(i, None);
    // The un-chosen send sent nothing.
    assert_eq!(a.try_recv(), Err(TryRecvError::Empty));
    // Only default.
    assert_eq!(select_blocking(&mut [], true), None);
}

#[test]
fn closed_receive_is_ready_with_none() {
    let a = make::<i32>(0);
    a.close();
    let mut c0 = into_case!(&a);
    assert_eq!(
        select_blocking(&mut [&mut c0 as &mut dyn BlockingCase], false),
        Some(0)
    );
    assert_eq!(c0.take_output(), None);
}

#[test]
fn uniform_choice_among_ready_cases() {
    let chans: Vec<Chan<usize>> = (0..3).map(|_| make(1)).collect();
    let mut hits = [0usize; 3];
    const N: usize = 3000;
    for _ in 0..N {
        for (k, c) in chans.iter().enumerate() {
            let _ = c.try_send(k);
        }
        let mut c0 = into_case!(&chans[0]);
        let mut c1 = into_case!(&chans[1]);
        let mut c2 = into_case!(&chans[2]);
        let i = select_blocking(
            &mut [&mut c0 as &mut dyn BlockingCase, &mut c1, &mut c2],
            false,
        )
        .unwrap();
        let v = match i {
            0 => c0.take_output(),
            1 => c1.take_output(),
            _ => c2.take_output(),
        };
        assert_eq!(v, Some(i));
        hits[i] += 1;
    }
    for h in hits {
        // Expected 1000 each; 6 sigma is about 155.
        assert!((800..1200).contains(&h), "{hits:?}");
    }
}

#[test]
fn unchosen_cases_do_nothing() {
    for _ in 0..200 {
        let r = make::<i32>(1);
        let s = make::<i32>(1);
        r.try_send(1).unwrap();
        let mut c0 = into_case!(r.recv());
        let mut c1 = into_case!(s.send(2));
        match select_blocking(&mut [&mut c0 as &mut dyn BlockingCase, &mut c1], false) {
            Some(0) => {
                assert_eq!(c0.take_output(), Some(1));
                assert_eq!(s.len(), 0, "send not chosen sent nothing");
            }
            Some(1) => {
                c1.take_output();
                assert_eq!(r.len(), 1, "receive not chosen took nothing");
                assert_eq!(s.try_recv(), Ok(2));
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn send_on_closed_channel_is_ready_and_panics() {
    let a = make::<i32>(0);
    a.close();
    let mut c0 = into_case!(a.send(1));
    let p = catch_unwind(AssertUnwindSafe(|| {
        select_blocking(&mut [&mut c0 as &mut dyn BlockingCase], false)
    }))
    .unwrap_err();
    assert_eq!(panic_text(p), "send on closed channel");
    // Closed while parked: the send case is woken and panics.
    let b = make::<i32>(0);
    let mut c0 = into_case!(b.send(1));
    let mut cases = [&mut c0 as &mut dyn SelectCase];
    // SAFETY: pinned on the stack, so dropped at the end of its scope, never leaked.
    let mut f = pin!(unsafe { select(&mut cases, false) });
    assert!(f.as_mut().poll(&mut noop_cx()).is_pending());
    b.close();
    let p = catch_unwind(AssertUnwindSafe(|| f.as_mut().poll(&mut noop_cx()))).unwrap_err();
    assert_eq!(panic_text(p), "send on closed channel");
}

#[test]
fn nil_cases_never_ready() {
    let nil = Chan::<i32>::nil();
    let mut c0 = into_case!(&nil);
    let mut c1 = into_case!(nil.send(1));
    let mut cases = [&mut c0 as &mut dyn SelectCase, &mut c1];
    // SAFETY: pinned on the stack, so dropped at the end of its scope, never leaked.
    let mut f = pin!(unsafe { select(&mut cases, false) });
    for _ in 0..3 {
        assert!(f.as_mut().poll(&mut noop_cx()).is_pending());
    }
}

#[test]
fn parked_select_woken_by_counterpart_commits_exactly_one() {
    let a = make::<i32>(0);
    let b = make::<i32>(0);
    let w = Arc::new(CountWaker::default());
    let waker = Waker::from(w.clone());
    let mut c0 = into_case!(&a);
    let mut c1 = into_case!(b.send(5));
    {
        let mut cases = [&mut c0 as &mut dyn SelectCase, &mut c1];
        // SAFETY: pinned on the stack, so dropped at the end of its scope, never leaked.
        let mut f = pin!(unsafe { select(&mut cases, false) });
        assert!(f
            .as_mut()
            .poll(&mut Context::from_waker(&waker))
            .is_pending());
        a.try_send(9).unwrap(); // hands 9 to the select's receive case
        assert_eq!(w.0.load(Ordering::SeqCst), 1);
        // The send case lost: no receiver may take its value now.
        assert_eq!(b.try_recv(), Err(TryRecvError::Empty));
        assert_eq!(
            f.as_mut().poll(&mut Context::from_waker(&waker)),
            Poll::Ready(Some(0))
        );
    }
    assert_eq!(c0.take_output(), Some(9));
    assert_eq!(b.try_recv(), Err(TryRecvError::Empty));
    assert_eq!(a.try_send(1), Err(TrySendError::Full(1)), "unregistered");
}

#[test]
fn dropped_select_unregisters_and_gives_back() {
    let a = make::<i32>(0);
    let b = make::<i32>(0);
    {
        let mut c0 = into_case!(&a);
        let mut c1 = into_case!(b.send(1));
        let mut cases = [&mut c0 as &mut dyn SelectCase, &mut c1];
        // SAFETY: pinned on the stack, so dropped at the end of its scope, never leaked.
        let mut f = pin!(unsafe { select(&mut cases, false) });
        assert!(f.as_mut().poll(&mut noop_cx()).is_pending());
    }
    assert_eq!(a.try_send(1), Err(TrySendError::Full(1)));
    assert_eq!(b.try_recv(), Err(TryRecvError::Empty));
    // A value handed to a select that is dropped before seeing it goes back.
    let c = make::<i32>(1);
    {
        let mut c0 = into_case!(&c);
        let mut c1 = into_case!(&a);
        let mut cases = [&mut c0 as &mut dyn SelectCase, &mut c1];
        // SAFETY: pinned on the stack, so dropped at the end of its scope, never leaked.
        let mut f = pin!(unsafe { select(&mut cases, false) });
        assert!(f.as_mut().poll(&mut noop_cx()).is_pending());
        c.try_send(4).unwrap();
        c.try_send(5).unwrap();
    }
    assert_eq!(c.try_recv(), Ok(4));
    assert_eq!(c.try_recv(), Ok(5));
}

#[test]
fn future_cases() {
    // Ready future.
    let a = make::<i32>(0);
    let mut c0 = into_case!(&a);
    let mut c1 = into_case!(async { 42 });
    // SAFETY: the future is run to completion here, never leaked.
    let i = futures::executor::block_on(unsafe {
        select(&mut [&mut c0 as &mut dyn SelectCase, &mut c1], false)
    });
    assert_eq!(i, Some(1));
    assert_eq!(c1.take_output(), 42);

    // A future that completes later (a receive on another channel, as a future).
    let b = make::<i32>(0);
    let b2 = b.clone();
    let t = std::thread::spawn(move || b2.send_blocking(8));
    let mut c0 = into_case!(&a);
    let mut c1 = into_case!(async { b.recv().await.unwrap() * 2 });
    // SAFETY: the future is run to completion here, never leaked.
    let i = futures::executor::block_on(unsafe {
        select(&mut [&mut c0 as &mut dyn SelectCase, &mut c1], false)
    });
    assert_eq!(i, Some(1));
    assert_eq!(c1.take_output(), 16);
    t.join().unwrap();
    assert_eq!(
        a.try_send(1),
        Err(TrySendError::Full(1)),
        "channel case unregistered"
    );

    // A channel case wins while the future is pending; the future is dropped.
    let a2 = a.clone();
    let t = std::thread::spawn(move || a2.send_blocking(3));
    let mut c0 = into_case!(&a);
    let mut c1 = into_case!(std::future::pending::<()>());
    // SAFETY: the future is run to completion here, never leaked.
    let i = futures::executor::block_on(unsafe {
        select(&mut [&mut c0 as &mut dyn SelectCase, &mut c1], false)
    });
    assert_eq!(i, Some(0));
    assert_eq!(c0.take_output(), Some(3));
    t.join().unwrap();
}

#[test]
fn same_channel_twice() {
    let ch = make::<i32>(0);
    let peer = ch.clone();
    let t = std::thread::spawn(move || peer.recv_blocking());
    let mut c0 = into_case!(ch.send(1));
    let mut c1 = into_case!(&ch);
    let i = select_blocking(&mut [&mut c0 as &mut dyn BlockingCase, &mut c1], false);
    assert_eq!(i, Some(0));
    assert_eq!(t.join().unwrap(), Some(1));
}

#[test]
fn select_to_select_rendezvous() {
    for _ in 0..200 {
        let ch = make::<u32>(0);
        let other = make::<u32>(0);
        let (ch2, other2) = (ch.clone(), other.clone());
        let t = std::thread::spawn(move || {
            let mut c0 = into_case!(ch2.send(11));
            let mut c1 = into_case!(&other2);
            select_blocking(&mut [&mut c0 as &mut dyn BlockingCase, &mut c1], false)
        });
        let mut c0 = into_case!(&ch);
        let mut c1 = into_case!(other.send(1));
        let i = select_blocking(&mut [&mut c0 as &mut dyn BlockingCase, &mut c1], false);
        let j = t.join().unwrap();
        match (i, j) {
            (Some(0), Some(0)) => assert_eq!(c0.take_output(), Some(11)),
            (Some(1), Some(1)) => c1.take_output(),
            other => panic!("mismatched commits {other:?}"),
        }
    }
}

#[test]
fn racing_selects_take_every_value_once() {
    const N: u64 = 3000;
    let a = make::<u64>(0);
    let b = make::<u64>(4);
    let producers: Vec<_> = [a.clone(), b.clone()]
        .into_iter()
        .enumerate()
        .map(|(k, ch)| {
            std::thread::spawn(move || {
                for i in 0..N {
                    ch.send_blocking(k as u64 * N + i);
                }
            })
        })
        .collect();
    let taken = Arc::new(AtomicUsize::new(0));
    let consumers: Vec<_> = (0..3)
        .map(|_| {
            let (a, b, taken) = (a.clone(), b.clone(), taken.clone());
            std::thread::spawn(move || {
                let mut got = Vec::new();
                while taken.fetch_add(1, Ordering::SeqCst) < 2 * N as usize {
                    let mut c0 = into_case!(&a);
                    let mut c1 = into_case!(&b);
                    match select_blocking(&mut [&mut c0 as &mut dyn BlockingCase, &mut c1], false) {
                        Some(0) => got.push(c0.take_output().unwrap()),
                        Some(1) => got.push(c1.take_output().unwrap()),
                        other => panic!("{other:?}"),
                    }
                }
                got
            })
        })
        .collect();
    for p in producers {
        p.join().unwrap();
    }
    let mut all: Vec<u64> = consumers
        .into_iter()
        .flat_map(|c| c.join().unwrap())
        .collect();
    all.sort_unstable();
    assert_eq!(all, (0..2 * N).collect::<Vec<_>>());
}

/// The case order is drawn in three regimes (one draw for up to 12 cases,
/// one draw per step beyond, a heap order beyond `INLINE_CASES`); each
/// chooses uniformly among ready cases.
#[test]
fn uniform_choice_for_every_order_size() {
    for n in [2, 12, 13, goro_chan::select::INLINE_CASES + 1] {
        let chans: Vec<Chan<usize>> = (0..n).map(|_| make(1)).collect();
        let rounds = 200 * n;
        let mut hits = vec![0usize; n];
        for _ in 0..rounds {
            for (k, c) in chans.iter().enumerate() {
                let _ = c.try_send(k);
            }
            let mut cases: Vec<_> = chans.iter().map(|c| into_case!(c)).collect();
            let mut dyns: Vec<&mut dyn BlockingCase> = cases
                .iter_mut()
                .map(|c| c as &mut dyn BlockingCase)
                .collect();
            let i = select_blocking(&mut dyns, false).unwrap();
            drop(dyns);
            assert_eq!(cases[i].take_output(), Some(i));
            hits[i] += 1;
        }
        for &h in &hits {
            // Expected 200 each; 7 sigma is about 100.
            assert!((100..300).contains(&h), "{n} cases: {hits:?}");
        }
    }
}

#[test]
fn many_cases_spill_beyond_inline() {
    let chans: Vec<Chan<usize>> = (0..100).map(|_| make(1)).collect();
    chans[77].try_send(77).unwrap();
    let mut cases: Vec<_> = chans.iter().map(|c| into_case!(c)).collect();
    let mut dyns: Vec<&mut dyn BlockingCase> = cases
        .iter_mut()
        .map(|c| c as &mut dyn BlockingCase)
        .collect();
    assert_eq!(select_blocking(&mut dyns, false), Some(77));
    drop(dyns);
    assert_eq!(cases[77].take_output(), Some(77));
    // Parked on 100 channels, woken by one of them.
    let mut cases: Vec<_> = chans.iter().map(|c| into_case!(c)).collect();
    let c5 = chans[5].clone();
    let t = std::thread::spawn(move || c5.send_blocking(5));
    let mut dyns: Vec<&mut dyn BlockingCase> = cases
        .iter_mut()
        .map(|c| c as &mut dyn BlockingCase)
        .collect();
    assert_eq!(select_blocking(&mut dyns, false), Some(5));
    t.join().unwrap();
}

#[test]
fn owned_receiver_operand() {
    let ch = make::<()>(0);
    ch.close();
    let mut c0 = into_case!(ch.receiver());
    assert_eq!(
        select_blocking(&mut [&mut c0 as &mut dyn BlockingCase], false),
        Some(0)
    );
    assert_eq!(c0.take_output(), None);
}

#[test]
fn block_forever_is_pending() {
    let mut f = pin!(block_forever());
    assert!(f.as_mut().poll(&mut noop_cx()).is_pending());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokio_select_ping_pong() {
    let ping = make::<u32>(0);
    let quit = make::<()>(0);
    let (p2, q2) = (ping.clone(), quit.clone());
    let t = tokio::spawn(async move {
        let mut n = 0;
        loop {
            let mut c0 = into_case!(&p2);
            let mut c1 = into_case!(&q2);
            // SAFETY: the future is awaited here: completed or dropped, never leaked.
            match unsafe { select(&mut [&mut c0 as &mut dyn SelectCase, &mut c1], false) }.await {
                Some(0) => n += c0.take_output().unwrap(),
                Some(1) => return n,
                _ => unreachable!(),
            }
        }
    });
    for i in 0..1000 {
        ping.send(i).await;
    }
    quit.close();
    assert_eq!(t.await.unwrap(), 499500);
}

/// A future that holds cases and a select across `.await` is `Send`, so the
/// `select!` expansion works inside goroutines (`spawn` needs `Send`).
#[test]
fn select_future_is_send() {
    fn assert_send<T: Send>(_: &T) {}
    let ch = make::<i32>(1);
    let rx = ch.receiver();
    let fut = async {
        let mut c0 = into_case!(&ch);
        let mut c1 = into_case!(rx.recv());
        let mut c2 = into_case!(ch.send(1));
        let mut c3 = into_case!(async { 5 });
        // SAFETY: the future is awaited here: completed or dropped, never leaked.
        let i = unsafe {
            select(
                &mut [&mut c0 as &mut dyn SelectCase, &mut c1, &mut c2, &mut c3],
                false,
            )
        }
        .await;
        (i, if i == Some(3) { c3.take_output() } else { 0 })
    };
    assert_send(&fut);
    let (i, _) = futures::executor::block_on(fut);
    assert!(i.is_some());
}
