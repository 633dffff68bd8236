//! The channel workloads for the async Rust peers, written once over a small
//! channel trait and run on a tokio multi-thread runtime.
//!
//! Implementations: tokio's `mpsc`, flume, kanal and async-channel. Go's
//! unbuffered channel (capacity 0) maps to each crate's closest: flume and kanal
//! have capacity 0 (rendezvous; kanal's differs from Go's, see the report), tokio
//! mpsc and async-channel need capacity >= 1 and get 1. Go closes a channel with
//! `close`; these crates close when the last sender is dropped, which the
//! workloads use the same way ([`AsyncChan::close`]).

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::measure::{current_rss_kib, nth_prime, triangle, Measurement, Stopwatch};

/// A bounded async channel of `u64`.
pub trait AsyncChan: 'static {
    /// Sending half.
    type Tx: Clone + Send + Sync + 'static;
    /// Receiving half.
    type Rx: Send + 'static;
    /// The capacity this crate really uses for Go's capacity `cap`.
    fn effective_cap(cap: usize) -> usize;
    /// A channel of Go capacity `cap` (0 = unbuffered).
    fn bounded(cap: usize) -> (Self::Tx, Self::Rx);
    /// Sends `v`; false when the channel is closed.
    fn send(tx: &Self::Tx, v: u64) -> impl Future<Output = bool> + Send;
    /// Receives; `None` when closed and drained.
    fn recv(rx: &mut Self::Rx) -> impl Future<Output = Option<u64>> + Send;
    /// Go's `close(ch)` through this sender: the crates that close when the
    /// last sender is dropped just drop it (the workloads call this where the
    /// Go program closes, after every other sender is gone).
    fn close(tx: Self::Tx) {
        drop(tx);
    }
}

/// A channel whose receiving half can be cloned (multi-consumer).
pub trait Mpmc: AsyncChan {
    /// Another receiver of the same channel.
    fn clone_rx(rx: &Self::Rx) -> Self::Rx;
}

/// `tokio::sync::mpsc` (single consumer).
pub struct TokioMpsc;

impl AsyncChan for TokioMpsc {
    type Tx = tokio::sync::mpsc::Sender<u64>;
    type Rx = tokio::sync::mpsc::Receiver<u64>;
    fn effective_cap(cap: usize) -> usize {
        cap.max(1)
    }
    fn bounded(cap: usize) -> (Self::Tx, Self::Rx) {
        tokio::sync::mpsc::channel(Self::effective_cap(cap))
    }
    async fn send(tx: &Self::Tx, v: u64) -> bool {
        tx.send(v).await.is_ok()
    }
    fn recv(rx: &mut Self::Rx) -> impl Future<Output = Option<u64>> + Send {
        rx.recv()
    }
}

/// flume, async API.
pub struct Flume;

impl AsyncChan for Flume {
    type Tx = flume::Sender<u64>;
    type Rx = flume::Receiver<u64>;
    fn effective_cap(cap: usize) -> usize {
        cap
    }
    fn bounded(cap: usize) -> (Self::Tx, Self::Rx) {
        flume::bounded(cap)
    }
    async fn send(tx: &Self::Tx, v: u64) -> bool {
        tx.send_async(v).await.is_ok()
    }
    async fn recv(rx: &mut Self::Rx) -> Option<u64> {
        rx.recv_async().await.ok()
    }
}

impl Mpmc for Flume {
    fn clone_rx(rx: &Self::Rx) -> Self::Rx {
        rx.clone()
    }
}

/// kanal, async API.
pub struct Kanal;

impl AsyncChan for Kanal {
    type Tx = kanal::AsyncSender<u64>;
    type Rx = kanal::AsyncReceiver<u64>;
    fn effective_cap(cap: usize) -> usize {
        cap
    }
    fn bounded(cap: usize) -> (Self::Tx, Self::Rx) {
        kanal::bounded_async(cap)
    }
    async fn send(tx: &Self::Tx, v: u64) -> bool {
        tx.send(v).await.is_ok()
    }
    async fn recv(rx: &mut Self::Rx) -> Option<u64> {
        rx.recv().await.ok()
    }
}

impl Mpmc for Kanal {
    fn clone_rx(rx: &Self::Rx) -> Self::Rx {
        rx.clone()
    }
}

/// async-channel (smol's).
pub struct AsyncChannel;

impl AsyncChan for AsyncChannel {
    type Tx = async_channel::Sender<u64>;
    type Rx = async_channel::Receiver<u64>;
    fn effective_cap(cap: usize) -> usize {
        cap.max(1)
    }
    fn bounded(cap: usize) -> (Self::Tx, Self::Rx) {
        async_channel::bounded(Self::effective_cap(cap))
    }
    async fn send(tx: &Self::Tx, v: u64) -> bool {
        tx.send(v).await.is_ok()
    }
    async fn recv(rx: &mut Self::Rx) -> Option<u64> {
        rx.recv().await.ok()
    }
}

impl Mpmc for AsyncChannel {
    fn clone_rx(rx: &Self::Rx) -> Self::Rx {
        rx.clone()
    }
}

/// goro's own channels (`goro::chan`) driven by tokio's scheduler: isolates the
/// channel from goro's runtime. Go semantics: capacity 0 is a rendezvous and
/// dropping handles does not close, so `close` closes.
#[cfg(feature = "goro-chan")]
pub struct GoroChanOnTokio;

#[cfg(feature = "goro-chan")]
impl AsyncChan for GoroChanOnTokio {
    type Tx = goro::chan::Chan<u64>;
    type Rx = goro::chan::Chan<u64>;
    fn effective_cap(cap: usize) -> usize {
        cap
    }
    fn bounded(cap: usize) -> (Self::Tx, Self::Rx) {
        let ch = goro::chan::make(cap);
        (ch.clone(), ch)
    }
    async fn send(tx: &Self::Tx, v: u64) -> bool {
        tx.send(v).await;
        true
    }
    async fn recv(rx: &mut Self::Rx) -> Option<u64> {
        rx.recv().await
    }
    fn close(tx: Self::Tx) {
        tx.close();
    }
}

#[cfg(feature = "goro-chan")]
impl Mpmc for GoroChanOnTokio {
    fn clone_rx(rx: &Self::Rx) -> Self::Rx {
        rx.clone()
    }
}

// ---------------------------------------------------------------------------
// Workloads. Each runs inside a task on the runtime (never in `block_on`'s
// thread), like Go's main goroutine runs on a P.

/// Unbuffered ping-pong: `n` round trips.
pub async fn pingpong<C: AsyncChan>(n: u64) -> Measurement {
    let (ping_tx, mut ping_rx) = C::bounded(0);
    let (pong_tx, mut pong_rx) = C::bounded(0);
    tokio::spawn(async move {
        while let Some(v) = C::recv(&mut ping_rx).await {
            if !C::send(&pong_tx, v).await {
                break;
            }
        }
    });
    let sw = Stopwatch::start();
    let mut sum = 0;
    for i in 0..n {
        C::send(&ping_tx, i).await;
        sum += C::recv(&mut pong_rx).await.unwrap_or(0);
    }
    let m = sw.stop(n);
    C::close(ping_tx);
    m.expect(sum == triangle(n), || format!("sum={sum}"))
}

/// One producer, one consumer, `n` messages.
pub async fn spsc<C: AsyncChan>(n: u64, cap: usize) -> Measurement {
    let (tx, mut rx) = C::bounded(cap);
    let sw = Stopwatch::start();
    tokio::spawn(async move {
        for i in 0..n {
            C::send(&tx, i).await;
        }
        C::close(tx);
    });
    let (mut sum, mut count) = (0, 0);
    while let Some(v) = C::recv(&mut rx).await {
        sum += v;
        count += 1;
    }
    let m = sw.stop(n);
    m.expect(sum == triangle(n) && count == n, || {
        format!("sum={sum},count={count}")
    })
}

/// `producers` x `consumers` over one channel, `n` messages in all.
pub async fn mpmc<C: Mpmc>(n: u64, cap: usize, producers: u64, consumers: u64) -> Measurement {
    let (tx, rx) = C::bounded(cap);
    let sw = Stopwatch::start();
    let mut prods = Vec::new();
    for p in 0..producers {
        let tx = tx.clone();
        prods.push(tokio::spawn(async move {
            let mut i = p;
            while i < n {
                C::send(&tx, i).await;
                i += producers;
            }
        }));
    }
    let mut results = Vec::new();
    for _ in 0..consumers {
        let mut rx = C::clone_rx(&rx);
        results.push(tokio::spawn(async move {
            let (mut s, mut k) = (0, 0);
            while let Some(v) = C::recv(&mut rx).await {
                s += v;
                k += 1;
            }
            (s, k)
        }));
    }
    drop(rx);
    for p in prods {
        p.await.expect("producer panicked");
    }
    C::close(tx);
    let (mut sum, mut count) = (0, 0);
    for r in results {
        let (s, k) = r.await.expect("consumer panicked");
        sum += s;
        count += k;
    }
    let m = sw.stop(n);
    m.expect(sum == triangle(n) && count == n, || {
        format!("sum={sum},count={count}")
    })
}

// Not an `async fn`: the explicit `+ Send` lets rustc check the spawn of
// itself inside (an `async fn` would need its own Send-ness to compute it).
#[allow(clippy::manual_async_fn)]
fn skynet_node<C: AsyncChan>(
    tx: C::Tx,
    num: u64,
    size: u64,
    div: u64,
) -> impl Future<Output = ()> + Send {
    async move {
        if size == 1 {
            C::send(&tx, num).await;
            return;
        }
        let (rtx, mut rrx) = C::bounded(0);
        for i in 0..div {
            let sub = size / div;
            tokio::spawn(skynet_node::<C>(rtx.clone(), num + i * sub, sub, div));
        }
        let mut sum = 0;
        for _ in 0..div {
            sum += C::recv(&mut rrx).await.unwrap_or(0);
        }
        C::send(&tx, sum).await;
    }
}

/// Skynet with a channel per node, as in Go.
pub async fn skynet<C: AsyncChan>(leaves: u64) -> Measurement {
    let sw = Stopwatch::start();
    let (tx, mut rx) = C::bounded(0);
    tokio::spawn(skynet_node::<C>(tx, 0, leaves, 10));
    let sum = C::recv(&mut rx).await.unwrap_or(0);
    let m = sw.stop(1);
    m.expect(sum == triangle(leaves), || format!("sum={sum}"))
}

/// Counters for the parked workload (statics, so tasks capture nothing, like
/// the Go closures that refer to package-level state).
pub static STARTED: AtomicU64 = AtomicU64::new(0);
/// See [`STARTED`].
pub static EXITED: AtomicU64 = AtomicU64::new(0);

/// Waits (yielding) until `counter` reaches `n`.
pub async fn yield_until(counter: &AtomicU64, n: u64) {
    while counter.load(Ordering::Acquire) < n {
        tokio::task::yield_now().await;
    }
}

/// `n` tasks blocked on a receive from one shared channel.
pub async fn parked<C: Mpmc>(n: u64) -> Measurement {
    let (tx, rx) = C::bounded(0);
    STARTED.store(0, Ordering::Relaxed);
    EXITED.store(0, Ordering::Relaxed);
    let baseline = current_rss_kib();
    let sw = Stopwatch::start();
    for _ in 0..n {
        let mut rx = C::clone_rx(&rx);
        tokio::spawn(async move {
            STARTED.fetch_add(1, Ordering::Release);
            let _ = C::recv(&mut rx).await;
            EXITED.fetch_add(1, Ordering::Release);
        });
    }
    yield_until(&STARTED, n).await;
    let mut m = sw.stop(n);
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let now = current_rss_kib();
    m.bytes_per_task = Some(now.saturating_sub(baseline) as f64 * 1024.0 / n as f64);
    C::close(tx);
    yield_until(&EXITED, n).await;
    let exited = EXITED.load(Ordering::Acquire);
    m.expect(exited == n, || format!("exited={exited}"))
}

/// Go's prime sieve: a chain of filter tasks.
pub async fn sieve<C: AsyncChan>(nprimes: u64) -> Measurement {
    let want = nth_prime(nprimes);
    let sw = Stopwatch::start();
    let (tx, mut rx) = C::bounded(0);
    tokio::spawn(async move {
        let mut i = 2;
        while C::send(&tx, i).await {
            i += 1;
        }
    });
    let mut last = 0;
    for _ in 0..nprimes {
        let prime = C::recv(&mut rx).await.unwrap_or(0);
        last = prime;
        let (tx1, rx1) = C::bounded(0);
        let mut input = std::mem::replace(&mut rx, rx1);
        tokio::spawn(async move {
            while let Some(i) = C::recv(&mut input).await {
                if i % prime != 0 && !C::send(&tx1, i).await {
                    break;
                }
            }
        });
    }
    let m = sw.stop(1);
    // Go's program leaves the chain blocked; dropping `rx` would instead make
    // the whole chain unwind while the next measurement runs.
    std::mem::forget(rx);
    m.expect(last == want, || format!("last={last},want={want}"))
}

/// Receives from whichever of the four is ready (tokio::select!, random order).
async fn select4<C: AsyncChan>(rs: &mut [C::Rx; 4]) -> Option<u64> {
    let [r0, r1, r2, r3] = rs;
    tokio::select! {
        v = C::recv(r0) => v,
        v = C::recv(r1) => v,
        v = C::recv(r2) => v,
        v = C::recv(r3) => v,
    }
}

/// select over 4 receives kept mostly ready by 4 producers.
pub async fn select4_ready<C: AsyncChan>(n: u64) -> Measurement {
    let (txs, mut rxs): (Vec<_>, Vec<_>) = (0..4).map(|_| C::bounded(1024)).unzip();
    let mut rs: [C::Rx; 4] = std::array::from_fn(|_| rxs.remove(0));
    let sw = Stopwatch::start();
    for (k, tx) in txs.iter().enumerate() {
        let tx = tx.clone();
        tokio::spawn(async move {
            let mut i = k as u64;
            while i < n {
                C::send(&tx, i).await;
                i += 4;
            }
        });
    }
    let mut sum = 0;
    for _ in 0..n {
        sum += select4::<C>(&mut rs).await.unwrap_or(0);
    }
    let m = sw.stop(n);
    // The senders in `txs` stay alive until here: a closed channel would be
    // "ready" with None (Go's channels here are never closed).
    drop(txs);
    m.expect(sum == triangle(n), || format!("sum={sum}"))
}

/// select over 4 mostly idle receives: one value at a time, then an ack.
pub async fn select4_idle<C: AsyncChan>(n: u64) -> Measurement {
    let (txs, mut rxs): (Vec<_>, Vec<_>) = (0..4).map(|_| C::bounded(1024)).unzip();
    let mut rs: [C::Rx; 4] = std::array::from_fn(|_| rxs.remove(0));
    let (ack_tx, mut ack_rx) = C::bounded(0);
    let sw = Stopwatch::start();
    let producer_txs = txs.clone();
    tokio::spawn(async move {
        for i in 0..n {
            C::send(&producer_txs[(i % 4) as usize], i).await;
            if C::recv(&mut ack_rx).await.is_none() {
                break;
            }
        }
    });
    let mut sum = 0;
    for _ in 0..n {
        sum += select4::<C>(&mut rs).await.unwrap_or(0);
        C::send(&ack_tx, 0).await;
    }
    let m = sw.stop(n);
    drop(txs);
    m.expect(sum == triangle(n), || format!("sum={sum}"))
}

// Go-shaped variants (issue 15): every producer and consumer is a task; the
// measuring task only starts them and waits for the result.

/// Two tasks bounce `n` values over two unbuffered channels; main waits.
pub async fn pingpong_go<C: AsyncChan>(n: u64) -> Measurement {
    let (ping_tx, mut ping_rx) = C::bounded(0);
    let (pong_tx, mut pong_rx) = C::bounded(0);
    let sw = Stopwatch::start();
    let echo = tokio::spawn(async move {
        while let Some(v) = C::recv(&mut ping_rx).await {
            if !C::send(&pong_tx, v).await {
                break;
            }
        }
    });
    let pinger = tokio::spawn(async move {
        let mut sum = 0;
        for i in 0..n {
            C::send(&ping_tx, i).await;
            sum += C::recv(&mut pong_rx).await.unwrap_or(0);
        }
        C::close(ping_tx);
        sum
    });
    let sum = pinger.await.expect("pinger panicked");
    let m = sw.stop(n);
    echo.await.expect("echo panicked");
    m.expect(sum == triangle(n), || format!("sum={sum}"))
}

/// Producer and consumer tasks over a capacity-1024 channel; main waits.
pub async fn spsc_go<C: AsyncChan>(n: u64) -> Measurement {
    let (tx, mut rx) = C::bounded(1024);
    let sw = Stopwatch::start();
    tokio::spawn(async move {
        for i in 0..n {
            C::send(&tx, i).await;
        }
        C::close(tx);
    });
    let consumer = tokio::spawn(async move {
        let (mut sum, mut count) = (0, 0);
        while let Some(v) = C::recv(&mut rx).await {
            sum += v;
            count += 1;
        }
        (sum, count)
    });
    let (sum, count) = consumer.await.expect("consumer panicked");
    let m = sw.stop(n);
    m.expect(sum == triangle(n) && count == n, || {
        format!("sum={sum},count={count}")
    })
}

/// select4_ready with the selecting loop in its own task; main waits.
pub async fn select4_go<C: AsyncChan>(n: u64) -> Measurement {
    let (txs, mut rxs): (Vec<_>, Vec<_>) = (0..4).map(|_| C::bounded(1024)).unzip();
    let mut rs: [C::Rx; 4] = std::array::from_fn(|_| rxs.remove(0));
    let sw = Stopwatch::start();
    for (k, tx) in txs.iter().enumerate() {
        let tx = tx.clone();
        tokio::spawn(async move {
            let mut i = k as u64;
            while i < n {
                C::send(&tx, i).await;
                i += 4;
            }
        });
    }
    let selector = tokio::spawn(async move {
        let mut sum = 0;
        for _ in 0..n {
            sum += select4::<C>(&mut rs).await.unwrap_or(0);
        }
        sum
    });
    let sum = selector.await.expect("selector panicked");
    let m = sw.stop(n);
    // The senders stay alive until here (see `select4_ready`).
    drop(txs);
    m.expect(sum == triangle(n), || format!("sum={sum}"))
}
