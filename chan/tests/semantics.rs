//! Go channel semantics, one test per rule (API.md "Channels").

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use goro_chan::{make, Chan, Receiver, Sender, TryRecvError, TrySendError};

/// A waker that counts its wakes.
#[derive(Default)]
struct CountWaker(AtomicUsize);
impl Wake for CountWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}
impl CountWaker {
    fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

fn poll_with<F: Future>(f: Pin<&mut F>, w: &Arc<CountWaker>) -> Poll<F::Output> {
    let waker = Waker::from(w.clone());
    f.poll(&mut Context::from_waker(&waker))
}

fn poll_noop<F: Future>(f: Pin<&mut F>) -> Poll<F::Output> {
    f.poll(&mut Context::from_waker(Waker::noop()))
}

fn panic_text(p: Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        panic!("non-string panic payload")
    }
}

#[test]
fn handles_are_send_sync_clone() {
    fn check<X: Send + Sync + Clone + PartialEq + std::fmt::Debug>() {}
    check::<Chan<String>>();
    check::<Sender<String>>();
    check::<Receiver<String>>();
    fn fut_send<X: Send>() {}
    fut_send::<goro_chan::Send<'static, String>>();
    fut_send::<goro_chan::Recv<'static, String>>();
    fn unpin<X: Unpin>() {}
    unpin::<Receiver<String>>();
}

#[test]
fn unbuffered_send_completes_only_when_taken() {
    let ch = make::<i32>(0);
    let w = Arc::new(CountWaker::default());
    let mut s = pin!(ch.send(7));
    assert!(poll_with(s.as_mut(), &w).is_pending());
    assert_eq!(ch.len(), 0);
    assert_eq!(w.count(), 0);
    assert_eq!(ch.try_recv(), Ok(7));
    assert_eq!(w.count(), 1, "receiver wakes the sender");
    assert!(poll_with(s.as_mut(), &w).is_ready());
    assert_eq!(ch.try_recv(), Err(TryRecvError::Empty));
}

#[test]
fn unbuffered_try_send_without_receiver_is_full() {
    let ch = make::<i32>(0);
    assert_eq!(ch.try_send(1), Err(TrySendError::Full(1)));
}

#[test]
fn buffered_fifo() {
    let ch = make::<i32>(5);
    for i in 0..5 {
        ch.try_send(i).unwrap();
    }
    assert_eq!(ch.len(), 5);
    assert_eq!(ch.try_send(5), Err(TrySendError::Full(5)));
    for i in 0..5 {
        assert_eq!(ch.try_recv(), Ok(i));
    }
}

#[test]
fn blocked_senders_are_fifo_behind_the_buffer() {
    let ch = make::<i32>(2);
    ch.try_send(100).unwrap();
    ch.try_send(101).unwrap();
    let mut sends: Vec<Pin<Box<goro_chan::Send<'_, i32>>>> =
        (0..4).map(|i| Box::pin(ch.send(i))).collect();
    for s in &mut sends {
        assert!(poll_noop(s.as_mut()).is_pending());
    }
    let got: Vec<i32> = (0..6).map(|_| ch.try_recv().unwrap()).collect();
    assert_eq!(got, [100, 101, 0, 1, 2, 3]);
    for s in &mut sends {
        assert!(poll_noop(s.as_mut()).is_ready());
    }
}

#[test]
fn blocked_receivers_are_fifo_and_get_direct_handoff() {
    let ch = make::<i32>(3);
    let mut recvs: Vec<_> = (0..3).map(|_| Box::pin(ch.recv())).collect();
    let wakers: Vec<_> = (0..3).map(|_| Arc::new(CountWaker::default())).collect();
    for (r, w) in recvs.iter_mut().zip(&wakers) {
        assert!(poll_with(r.as_mut(), w).is_pending());
    }
    for i in 0..3 {
        ch.try_send(i).unwrap();
        assert_eq!(ch.len(), 0, "handed directly, not buffered");
    }
    for (i, (r, w)) in recvs.iter_mut().zip(&wakers).enumerate() {
        assert_eq!(w.count(), 1);
        assert_eq!(poll_with(r.as_mut(), w), Poll::Ready(Some(i as i32)));
    }
}

#[test]
fn close_wakes_receivers_after_drain() {
    let ch = make::<i32>(0);
    let mut recvs: Vec<_> = (0..3).map(|_| Box::pin(ch.recv())).collect();
    let w = Arc::new(CountWaker::default());
    for r in &mut recvs {
        assert!(poll_with(r.as_mut(), &w).is_pending());
    }
    ch.close();
    assert_eq!(w.count(), 3);
    for r in &mut recvs {
        assert_eq!(poll_with(r.as_mut(), &w), Poll::Ready(None));
    }
    let b = make::<i32>(2);
    b.try_send(1).unwrap();
    b.try_send(2).unwrap();
    b.close();
    assert_eq!(b.len(), 2, "len counts buffered values after close");
    assert_eq!(b.recv_blocking(), Some(1));
    assert_eq!(b.recv_blocking(), Some(2));
    assert_eq!(b.recv_blocking(), None);
    assert_eq!(b.try_recv(), Err(TryRecvError::Closed));
}

#[test]
fn close_makes_blocked_senders_panic() {
    let ch = make::<String>(0);
    let mut sends: Vec<_> = (0..2).map(|i| Box::pin(ch.send(i.to_string()))).collect();
    let w = Arc::new(CountWaker::default());
    for s in &mut sends {
        assert!(poll_with(s.as_mut(), &w).is_pending());
    }
    ch.close();
    assert_eq!(w.count(), 2);
    for s in &mut sends {
        let p = catch_unwind(AssertUnwindSafe(|| poll_with(s.as_mut(), &w))).unwrap_err();
        assert_eq!(panic_text(p), "send on closed channel");
    }
}

#[test]
fn panic_texts() {
    let ch = make::<i32>(1);
    ch.close();
    let p = catch_unwind(AssertUnwindSafe(|| ch.close())).unwrap_err();
    assert_eq!(panic_text(p), "close of closed channel");
    let p = catch_unwind(AssertUnwindSafe(|| Chan::<i32>::nil().close())).unwrap_err();
    assert_eq!(panic_text(p), "close of nil channel");
    let p = catch_unwind(AssertUnwindSafe(|| ch.send_blocking(1))).unwrap_err();
    assert_eq!(panic_text(p), "send on closed channel");
    assert_eq!(ch.try_send(3), Err(TrySendError::Closed(3)));
}

#[test]
fn nil_channel_blocks_forever() {
    let nil = Chan::<i32>::nil();
    let w = Arc::new(CountWaker::default());
    let mut s = pin!(nil.send(1));
    let mut r = pin!(nil.recv());
    for _ in 0..3 {
        assert!(poll_with(s.as_mut(), &w).is_pending());
        assert!(poll_with(r.as_mut(), &w).is_pending());
    }
    assert_eq!(nil.try_send(1), Err(TrySendError::Full(1)));
    assert_eq!(nil.try_recv(), Err(TryRecvError::Empty));
    assert_eq!((nil.len(), nil.cap()), (0, 0));
    assert_eq!(nil, Chan::nil());
    assert_ne!(nil, make::<i32>(0));
    assert_eq!(format!("{nil:?}"), "Chan(nil)");
}

#[test]
fn dropping_handles_does_not_close_and_frees_buffer() {
    struct Tracked(Arc<AtomicUsize>);
    impl Drop for Tracked {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let drops = Arc::new(AtomicUsize::new(0));
    let ch = make::<Tracked>(4);
    let tx = ch.sender();
    for _ in 0..3 {
        ch.try_send(Tracked(drops.clone())).unwrap();
    }
    drop(ch);
    // The channel is still open through `tx`.
    assert!(tx.try_send(Tracked(drops.clone())).is_ok());
    assert_eq!(drops.load(Ordering::SeqCst), 0);
    drop(tx);
    assert_eq!(drops.load(Ordering::SeqCst), 4);
}

#[test]
fn cancelled_send_sends_nothing() {
    let ch = make::<i32>(0);
    {
        let mut s = pin!(ch.send(1));
        assert!(poll_noop(s.as_mut()).is_pending());
    }
    assert_eq!(ch.try_recv(), Err(TryRecvError::Empty));
    // A send cancelled after a receiver took the value counts as done.
    let mut s = Box::pin(ch.send(2));
    assert!(poll_noop(s.as_mut()).is_pending());
    assert_eq!(ch.try_recv(), Ok(2));
    drop(s);
    assert_eq!(ch.try_recv(), Err(TryRecvError::Empty));
}

#[test]
fn cancelled_recv_never_loses_a_value() {
    // Value handed over, receiver dropped before seeing it: back to the buffer front.
    let ch = make::<i32>(1);
    let mut r = Box::pin(ch.recv());
    assert!(poll_noop(r.as_mut()).is_pending());
    ch.try_send(1).unwrap(); // handed to `r`
    ch.try_send(2).unwrap(); // buffered
    drop(r);
    assert_eq!(ch.try_recv(), Ok(1));
    assert_eq!(ch.try_recv(), Ok(2));

    // ... or to the next queued receiver.
    let ch = make::<i32>(0);
    let mut r1 = Box::pin(ch.recv());
    let mut r2 = Box::pin(ch.recv());
    assert!(poll_noop(r1.as_mut()).is_pending());
    assert!(poll_noop(r2.as_mut()).is_pending());
    ch.try_send(5).unwrap();
    drop(r1);
    assert_eq!(poll_noop(r2.as_mut()), Poll::Ready(Some(5)));

    // A cancelled receiver that got nothing takes nothing.
    let mut r = Box::pin(ch.recv());
    assert!(poll_noop(r.as_mut()).is_pending());
    drop(r);
    assert_eq!(ch.try_send(1), Err(TrySendError::Full(1)));
}

#[test]
fn repoll_with_new_waker() {
    let ch = make::<i32>(0);
    let w1 = Arc::new(CountWaker::default());
    let w2 = Arc::new(CountWaker::default());
    let mut r = pin!(ch.recv());
    assert!(poll_with(r.as_mut(), &w1).is_pending());
    assert!(poll_with(r.as_mut(), &w2).is_pending());
    ch.try_send(1).unwrap();
    assert_eq!((w1.count(), w2.count()), (0, 1));
    assert_eq!(poll_with(r.as_mut(), &w2), Poll::Ready(Some(1)));
}

#[test]
fn debug_and_eq() {
    let ch = make::<i32>(2);
    ch.try_send(1).unwrap();
    assert_eq!(format!("{ch:?}"), "Chan { cap: 2, len: 1, closed: false }");
    assert_eq!(ch.sender(), ch.sender());
    assert_eq!(ch.receiver(), ch.clone().receiver());
    assert_ne!(ch, make::<i32>(2));
    assert_eq!(
        TrySendError::Full(1).to_string(),
        "sending on a full channel"
    );
    assert_eq!(
        TryRecvError::Closed.to_string(),
        "receiving on a closed channel"
    );
}

#[test]
fn receiver_stream_and_drop_gives_back() {
    use futures::StreamExt;
    let ch = make::<i32>(0);
    let mut rx = ch.receiver();
    let w = Arc::new(CountWaker::default());
    {
        let mut next = rx.next();
        assert!(poll_with(Pin::new(&mut next), &w).is_pending());
    }
    // The stream's waiter stays queued: a send hands the value to it.
    ch.try_send(3).unwrap();
    assert_eq!(w.count(), 1);
    drop(rx);
    // Dropped before it saw the value: the value goes back.
    assert_eq!(ch.try_recv(), Ok(3));
}

#[test]
fn threads_mpmc_every_value_once() {
    for cap in [0usize, 1, 16] {
        let ch = make::<u64>(cap);
        const N: u64 = 2000;
        let senders: Vec<_> = (0..3)
            .map(|p| {
                let tx = ch.sender();
                std::thread::spawn(move || {
                    for i in 0..N {
                        tx.send_blocking(p * N + i);
                    }
                })
            })
            .collect();
        let receivers: Vec<_> = (0..3)
            .map(|_| {
                let rx = ch.receiver();
                std::thread::spawn(move || {
                    let mut got = Vec::new();
                    while let Some(v) = rx.recv_blocking() {
                        got.push(v);
                    }
                    got
                })
            })
            .collect();
        for s in senders {
            s.join().unwrap();
        }
        ch.close();
        let mut all: Vec<u64> = receivers
            .into_iter()
            .flat_map(|r| r.join().unwrap())
            .collect();
        all.sort_unstable();
        assert_eq!(all, (0..3 * N).collect::<Vec<_>>(), "cap {cap}");
    }
}

#[test]
fn per_sender_order_is_preserved() {
    let ch = make::<(u8, u32)>(4);
    let hs: Vec<_> = (0..2u8)
        .map(|p| {
            let tx = ch.sender();
            std::thread::spawn(move || {
                for i in 0..3000 {
                    tx.send_blocking((p, i));
                }
            })
        })
        .collect();
    let mut next = [0u32; 2];
    for _ in 0..6000 {
        let (p, i) = ch.recv_blocking().unwrap();
        assert_eq!(next[p as usize], i);
        next[p as usize] += 1;
    }
    for h in hs {
        h.join().unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokio_ping_pong() {
    let ping = make::<u32>(0);
    let pong = make::<u32>(0);
    let (p2, q2) = (ping.clone(), pong.clone());
    let t = tokio::spawn(async move {
        while let Some(v) = p2.recv().await {
            q2.send(v + 1).await;
        }
    });
    for i in 0..2000 {
        ping.send(i).await;
        assert_eq!(pong.recv().await, Some(i + 1));
    }
    ping.close();
    t.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokio_close_panics_blocked_sender() {
    let ch = make::<u32>(0);
    let c2 = ch.clone();
    let t = tokio::spawn(async move { c2.send(1).await });
    // Close races with the send; both orders (parked or not yet polled) must
    // panic the sender.
    tokio::task::yield_now().await;
    ch.close();
    let err = t.await.unwrap_err();
    assert_eq!(panic_text(err.into_panic()), "send on closed channel");
}

#[test]
fn futures_executor_pipeline() {
    use futures::executor::LocalPool;
    use futures::task::LocalSpawnExt;
    let mut pool = LocalPool::new();
    let a = make::<u32>(0);
    let b = make::<u32>(3);
    let (a2, b2) = (a.clone(), b.clone());
    pool.spawner()
        .spawn_local(async move {
            for i in 0..100 {
                a2.send(i).await;
            }
            a2.close();
        })
        .unwrap();
    pool.spawner()
        .spawn_local(async move {
            while let Some(v) = a.recv().await {
                b2.send(v * 2).await;
            }
            b2.close();
        })
        .unwrap();
    let sum = pool.run_until(async move {
        let mut s = 0;
        while let Some(v) = b.recv().await {
            s += v;
        }
        s
    });
    assert_eq!(sum, 9900);
}

#[test]
fn hash_by_identity_and_unwind_safe() {
    use std::collections::HashSet;
    let a = make::<i32>(0);
    let b = make::<i32>(0);
    #[allow(clippy::mutable_key_type)] // hashed by identity, which never changes
    let set: HashSet<Chan<i32>> = [a.clone(), a.clone(), b.clone(), Chan::nil(), Chan::nil()]
        .into_iter()
        .collect();
    assert_eq!(set.len(), 3);
    let p = catch_unwind(|| a.close());
    assert!(p.is_ok());
    assert!(catch_unwind(|| a.close()).is_err());
}

/// Polls `fut` once; returns its output if ready, else drops (cancels) it.
async fn poll_once_or_cancel<F: Future>(fut: F) -> Option<F::Output> {
    let mut fut = pin!(fut);
    match std::future::poll_fn(|cx| Poll::Ready(fut.as_mut().poll(cx))).await {
        Poll::Ready(v) => Some(v),
        Poll::Pending => None,
    }
}

/// Receives cancelled right after parking never lose a value and never
/// duplicate one (bounded: 2000 values).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokio_cancelled_receives_lose_nothing() {
    const N: u32 = 2000;
    for cap in [0usize, 3] {
        let ch = make::<u32>(cap);
        let tx = ch.clone();
        // At least one cancellation for sure: nothing is sent yet.
        assert!(poll_once_or_cancel(ch.recv()).await.is_none());
        let producer = tokio::spawn(async move {
            for i in 0..N {
                tx.send(i).await;
                if i % 7 == 0 {
                    tokio::task::yield_now().await;
                }
            }
            tx.close();
        });
        let mut next = 0;
        loop {
            match poll_once_or_cancel(ch.recv()).await {
                Some(Some(v)) => {
                    assert_eq!(v, next, "cap {cap}: values in order, none lost");
                    next += 1;
                }
                Some(None) => break,
                None => tokio::task::yield_now().await,
            }
        }
        assert_eq!(next, N);
        producer.await.unwrap();
    }
}

/// Sends cancelled right after parking deliver each value at most once, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokio_cancelled_sends_deliver_at_most_once() {
    const N: u32 = 2000;
    let ch = make::<u32>(0);
    let rx = ch.clone();
    let consumer = tokio::spawn(async move {
        let mut got = Vec::new();
        while let Some(v) = rx.recv().await {
            got.push(v);
        }
        got
    });
    for i in 0..N {
        if poll_once_or_cancel(ch.send(i)).await.is_none() {
            tokio::task::yield_now().await;
        }
    }
    ch.close();
    let got = consumer.await.unwrap();
    assert!(
        got.windows(2).all(|w| w[0] < w[1]),
        "in order, no duplicates"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokio_receiver_streams_share_the_values() {
    use futures::StreamExt;
    const N: u64 = 3000;
    let ch = make::<u64>(8);
    let consumers: Vec<_> = (0..3)
        .map(|_| {
            let rx = ch.receiver();
            tokio::spawn(async move { rx.collect::<Vec<u64>>().await })
        })
        .collect();
    for i in 0..N {
        ch.send(i).await;
    }
    ch.close();
    let mut all = Vec::new();
    for c in consumers {
        let v = c.await.unwrap();
        assert!(v.windows(2).all(|w| w[0] < w[1]));
        all.extend(v);
    }
    all.sort_unstable();
    assert_eq!(all, (0..N).collect::<Vec<_>>());
}
