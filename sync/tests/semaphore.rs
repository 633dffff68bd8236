//! `semaphore::Weighted`: ports of x/sync's `semaphore/semaphore_test.go`
//! (<https://go.googlesource.com/sync>, BSD-licensed) on plain threads and
//! tokio, and the cancel paths of `acquire`.
//!
//! Ported: `TestWeighted` (hammer, no sleeps: Go sleeps a random few µs while
//! holding, which only varies the interleaving), `TestWeightedPanic`,
//! `TestWeightedTryAcquire`, `TestWeightedAcquire` (with contexts cancelled
//! by hand instead of 10 ms timeouts), `TestWeightedDoesntBlockIfTooBig`,
//! `TestLargeAcquireDoesntStarve`, `TestAllocCancelDoesntStarve`,
//! `TestWeightedAcquireCanceled` (go.dev/issue/63615).

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Poll, Waker};

use goro_sync::context::{self, background, CancelFunc, Context, Error::Canceled};
use goro_sync::semaphore::Weighted;
use goro_sync::WaitGroup;

/// A cancellable context and its cancel function, as Go's `WithCancel`.
fn with_cancel() -> (Context, CancelFunc) {
    context::with_cancel(&background())
}

fn block_on<F: Future>(f: F) -> F::Output {
    goro_chan::__block_on(f)
}

fn poll_once<F: Future>(f: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    f.poll(&mut std::task::Context::from_waker(Waker::noop()))
}

/// x/sync: `TestWeighted` (`HammerWeighted` with `n` = 4 threads).
#[test]
fn test_weighted() {
    let n = 4;
    let loops = 10_000 / n;
    let sem = Arc::new(Weighted::new(n as i64));
    let threads: Vec<_> = (0..n)
        .map(|i| {
            let sem = sem.clone();
            std::thread::spawn(move || {
                for _ in 0..loops {
                    block_on(sem.acquire(&background(), i as i64)).unwrap();
                    sem.release(i as i64);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert!(sem.try_acquire(n as i64), "all weight is back");
}

/// x/sync: `TestWeightedPanic`.
#[test]
#[should_panic(expected = "semaphore: released more than held")]
fn test_weighted_panic() {
    Weighted::new(1).release(1);
}

/// x/sync: `TestWeightedTryAcquire`.
#[test]
fn test_weighted_try_acquire() {
    let ctx = background();
    let sem = Weighted::new(2);
    let mut tries = Vec::new();
    block_on(sem.acquire(&ctx, 1)).unwrap();
    tries.push(sem.try_acquire(1));
    tries.push(sem.try_acquire(1));
    sem.release(2);
    tries.push(sem.try_acquire(1));
    block_on(sem.acquire(&ctx, 1)).unwrap();
    tries.push(sem.try_acquire(1));
    assert_eq!(tries, [true, false, true, false]);
}

/// x/sync: `TestWeightedAcquire`: an acquire that would wait fails when its
/// context is cancelled (Go: a 10 ms timeout; here cancelled once it waits).
#[test]
fn test_weighted_acquire() {
    let ctx = background();
    let sem = Weighted::new(2);
    let try_acquire = |n: i64| -> bool {
        let (c, cancel) = with_cancel();
        let mut f = pin!(sem.acquire(&c, n));
        match poll_once(f.as_mut()) {
            Poll::Ready(r) => r.is_ok(),
            Poll::Pending => {
                cancel();
                block_on(f).is_ok()
            }
        }
    };
    let mut tries = Vec::new();
    block_on(sem.acquire(&ctx, 1)).unwrap();
    tries.push(try_acquire(1));
    tries.push(try_acquire(1));
    sem.release(2);
    tries.push(try_acquire(1));
    block_on(sem.acquire(&ctx, 1)).unwrap();
    tries.push(try_acquire(1));
    assert_eq!(tries, [true, false, true, false]);
}

/// x/sync: `TestWeightedDoesntBlockIfTooBig`: a request larger than the
/// size waits only for its context and holds nobody up.
#[test]
fn test_weighted_doesnt_block_if_too_big() {
    let n = 2;
    let sem = Arc::new(Weighted::new(n));
    let (ctx, cancel) = with_cancel();
    let big = {
        let (sem, ctx) = (sem.clone(), ctx.clone());
        std::thread::spawn(move || block_on(sem.acquire(&ctx, n + 1)))
    };
    let wg = WaitGroup::new();
    let threads: Vec<_> = (0..n * 3)
        .map(|_| {
            wg.add(1);
            let (sem, wg) = (sem.clone(), wg.clone());
            std::thread::spawn(move || {
                block_on(sem.acquire(&background(), 1)).unwrap();
                sem.release(1);
                wg.done();
            })
        })
        .collect();
    wg.wait_blocking();
    cancel();
    assert_eq!(big.join().unwrap(), Err(Canceled));
    for t in threads {
        t.join().unwrap();
    }
}

/// x/sync: `TestLargeAcquireDoesntStarve`: a request for all the weight is
/// granted although small holders keep releasing and re-acquiring.
#[test]
fn test_large_acquire_doesnt_starve() {
    let ctx = background();
    let n = 4;
    let sem = Arc::new(Weighted::new(n));
    let running = Arc::new(AtomicBool::new(true));
    let wg = WaitGroup::new();
    let mut threads = Vec::new();
    for _ in 0..n {
        block_on(sem.acquire(&ctx, 1)).unwrap();
        wg.add(1);
        let (sem, running, wg) = (sem.clone(), running.clone(), wg.clone());
        threads.push(std::thread::spawn(move || {
            while running.load(Ordering::SeqCst) {
                sem.release(1);
                block_on(sem.acquire(&background(), 1)).unwrap();
            }
            sem.release(1);
            wg.done();
        }));
    }
    block_on(sem.acquire(&ctx, n)).unwrap();
    running.store(false, Ordering::SeqCst);
    sem.release(n);
    wg.wait_blocking();
    for t in threads {
        t.join().unwrap();
    }
}

/// x/sync: `TestAllocCancelDoesntStarve`: cancelling a large queued request
/// lets the small ones behind it through.
#[test]
fn test_alloc_cancel_doesnt_starve() {
    let sem = Weighted::new(10);
    // Block off a portion of the semaphore so that acquire(10) must wait.
    block_on(sem.acquire(&background(), 1)).unwrap();
    let (ctx, cancel) = with_cancel();
    let mut big = pin!(sem.acquire(&ctx, 10));
    assert!(poll_once(big.as_mut()).is_pending(), "acquire(10) waits");
    // Now a small request queues behind it...
    let bg = background();
    let mut small = pin!(sem.acquire(&bg, 1));
    assert!(
        poll_once(small.as_mut()).is_pending(),
        "FIFO: behind the large request"
    );
    // ...and cancelling the large one must let it through.
    cancel();
    assert_eq!(poll_once(big.as_mut()), Poll::Ready(Err(Canceled)));
    assert_eq!(poll_once(small.as_mut()), Poll::Ready(Ok(())));
    sem.release(1);
    sem.release(1);
    assert!(sem.try_acquire(10));
}

/// x/sync: `TestWeightedAcquireCanceled` (go.dev/issue/63615): a context
/// cancelled before the weight becomes available fails the acquire, and the
/// weight is all there afterwards; a done context fails even a free acquire.
#[test]
fn test_weighted_acquire_canceled() {
    let sem = Weighted::new(2);
    let (ctx, cancel) = with_cancel();
    block_on(sem.acquire(&background(), 1)).unwrap();
    let mut f = pin!(sem.acquire(&ctx, 2));
    assert!(poll_once(f.as_mut()).is_pending());
    // Cancel, then release the token: the grant may race with the cancel;
    // either way the acquire fails and gives back what it was granted.
    cancel();
    sem.release(1);
    assert_eq!(block_on(f), Err(Canceled));
    assert!(
        sem.try_acquire(2),
        "TryAcquire after canceled Acquire failed"
    );
    sem.release(2);
    assert_eq!(block_on(sem.acquire(&ctx, 1)), Err(Canceled));
    assert!(sem.try_acquire(2));
}

/// Cancel safety: an acquire dropped while queued, and one dropped after it
/// was granted but before it returned, lose no weight.
#[test]
fn dropped_acquires_lose_nothing() {
    let sem = Weighted::new(3);
    let ctx = background();
    assert!(sem.try_acquire(3));
    let mut a = Box::pin(sem.acquire(&ctx, 2));
    let mut b = pin!(sem.acquire(&ctx, 1));
    assert!(poll_once(a.as_mut()).is_pending());
    assert!(poll_once(b.as_mut()).is_pending());
    sem.release(2); // grants `a` (2), FIFO
    drop(a); // granted but never returned: gives its 2 back, which lets `b` in
    assert_eq!(poll_once(b.as_mut()), Poll::Ready(Ok(())));
    sem.release(1);
    sem.release(1);
    assert!(sem.try_acquire(3), "all weight is back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokio_weighted_bounds_concurrency() {
    let sem = Arc::new(Weighted::new(3));
    let inside = Arc::new(std::sync::atomic::AtomicI64::new(0));
    let mut set = tokio::task::JoinSet::new();
    for i in 0..16 {
        let (sem, inside) = (sem.clone(), inside.clone());
        set.spawn(async move {
            let w = 1 + i % 3;
            for _ in 0..50 {
                sem.acquire(&background(), w).await.unwrap();
                let now = inside.fetch_add(w, Ordering::SeqCst) + w;
                assert!(now <= 3, "weight {now} inside a semaphore of 3");
                tokio::task::yield_now().await;
                inside.fetch_sub(w, Ordering::SeqCst);
                sem.release(w);
            }
        });
    }
    while let Some(r) = set.join_next().await {
        r.unwrap();
    }
    assert!(sem.try_acquire(3));
}
