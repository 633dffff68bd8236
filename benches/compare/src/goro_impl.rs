//! The goro programs: the Go programs of `go/main.go`, line for line, on goro's
//! runtime, channels and `select!` (written against `shared/design/API.md`).
//!
//! Built with the `goro` feature (runtime + channels) and `goro-select`
//! (select!). Without them the runner marks goro "not available".

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};

use goro::chan::{make, Chan};

use crate::measure::{
    check_timers, current_rss_kib, nth_prime, triangle, Measurement, Stopwatch, SLEEP,
};

/// `goro::go!(fut)` from API.md: the facade does not export the macro yet, so
/// this is its function form, `goro::spawn` (the same call).
macro_rules! go {
    ($fut:expr) => {
        goro::spawn($fut)
    };
}

/// Runs the warm-up (if any) and the measured run of `workload` as the main
/// goroutine of one goro runtime with `workers` workers.
pub fn run(workload: &str, n: u64, warmup: u64, workers: usize) -> Option<Measurement> {
    if !supports(workload) {
        return None;
    }
    let rt = goro::Runtime::builder()
        .workers(workers)
        .build()
        .expect("build goro runtime");
    let workload = workload.to_owned();
    let out = rt.block_on(async move {
        if warmup > 0 {
            let w = dispatch(&workload, warmup).await;
            if !w.ok {
                return w.warmup_failed();
            }
        }
        dispatch(&workload, n).await
    });
    Some(out.unwrap_or_else(|e| panic!("goro runtime: {e}")))
}

/// Workloads implemented with what this build of goro has.
pub fn supports(workload: &str) -> bool {
    !matches!(
        crate::workloads::program_of(workload),
        "select4_ready" | "select4_idle" | "tcp_echo_rtt" | "select4_go"
    ) || cfg!(feature = "goro-select")
}

async fn dispatch(workload: &str, n: u64) -> Measurement {
    match workload {
        "pingpong_unbuffered" => pingpong(n).await,
        "spsc_cap1" => spsc(n, 1).await,
        "spsc_cap1024" => spsc(n, 1024).await,
        "mpmc_cap1" => mpmc(n, 1, 4, 4).await,
        "mpmc_cap1024" => mpmc(n, 1024, 4, 4).await,
        "spawn_join" => spawn_join(n).await,
        "skynet" => skynet(n).await,
        "parked_goroutine" => parked(n).await,
        "prime_sieve" => sieve(n).await,
        #[cfg(feature = "goro-select")]
        "select4_ready" => select::select4_ready(n).await,
        #[cfg(feature = "goro-select")]
        "select4_idle" => select::select4_idle(n).await,
        "timers_100k_sleep" => timers_sleep(n).await,
        #[cfg(feature = "goro-select")]
        "tcp_echo_rtt" => net::tcp_echo_rtt(n).await,
        "mutex_uncontended" => sync_w::mutex_uncontended(n).await,
        "mutex_contended" => sync_w::mutex_contended(n, 8).await,
        "waitgroup_fanin" => sync_w::waitgroup_fanin(n, 10_000).await,
        "rwmutex_read_mostly" => sync_w::rwmutex_read_mostly(n, 8).await,
        // context (issue 10).
        "ctx_cancel_fanout" => ctx::cancel_fanout(n).await,
        w if crate::http_load::is_http(w) => http_hello(workload, n).await,
        other => go_shaped::dispatch(crate::workloads::program_of(other), n).await,
    }
}

/// goro+hyper: `goro::http::Server` (default timeouts) serving hello world
/// while the Go load generator of `workload` runs (in a blocking job: it
/// waits for a child process).
async fn http_hello(workload: &str, n: u64) -> Measurement {
    let listener = goro::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("local_addr");
    let stop = make::<()>(0);
    let stopped = stop.clone();
    let server = go!(goro::http::Server::new().serve_with_shutdown(
        listener,
        crate::http_load::Hello,
        async move {
            stopped.recv().await;
        }
    ));
    let workload = workload.to_owned();
    let m = goro::spawn_blocking(move || crate::http_load::measure(&workload, addr, n))
        .await
        .expect("load generator job");
    stop.close();
    let served = server.await;
    m.expect(matches!(served, Ok(Ok(()))), || {
        format!("serve: {served:?}")
    })
}

async fn pingpong(n: u64) -> Measurement {
    let ping = make::<u64>(0);
    let pong = make::<u64>(0);
    {
        let (ping, pong) = (ping.clone(), pong.clone());
        let _echo = go!(async move {
            while let Some(v) = ping.recv().await {
                pong.send(v).await;
            }
        });
    }
    let sw = Stopwatch::start();
    let mut sum = 0;
    for i in 0..n {
        ping.send(i).await;
        sum += pong.recv().await.unwrap_or(0);
    }
    let m = sw.stop(n);
    ping.close();
    m.expect(sum == triangle(n), || format!("sum={sum}"))
}

async fn spsc(n: u64, cap: usize) -> Measurement {
    let ch = make::<u64>(cap);
    let sw = Stopwatch::start();
    {
        let ch = ch.clone();
        let _producer = go!(async move {
            for i in 0..n {
                ch.send(i).await;
            }
            ch.close();
        });
    }
    let (mut sum, mut count) = (0, 0);
    while let Some(v) = ch.recv().await {
        sum += v;
        count += 1;
    }
    let m = sw.stop(n);
    m.expect(sum == triangle(n) && count == n, || {
        format!("sum={sum},count={count}")
    })
}

async fn mpmc(n: u64, cap: usize, producers: u64, consumers: u64) -> Measurement {
    let ch = make::<u64>(cap);
    let sw = Stopwatch::start();
    let prods: Vec<_> = (0..producers)
        .map(|p| {
            let ch = ch.clone();
            go!(async move {
                let mut i = p;
                while i < n {
                    ch.send(i).await;
                    i += producers;
                }
            })
        })
        .collect();
    let cons: Vec<_> = (0..consumers)
        .map(|_| {
            let ch = ch.clone();
            go!(async move {
                let (mut s, mut k) = (0u64, 0u64);
                while let Some(v) = ch.recv().await {
                    s += v;
                    k += 1;
                }
                (s, k)
            })
        })
        .collect();
    for p in prods {
        p.await.expect("producer panicked");
    }
    ch.close();
    let (mut sum, mut count) = (0, 0);
    for c in cons {
        let (s, k) = c.await.expect("consumer panicked");
        sum += s;
        count += k;
    }
    let m = sw.stop(n);
    m.expect(sum == triangle(n) && count == n, || {
        format!("sum={sum},count={count}")
    })
}

async fn spawn_join(n: u64) -> Measurement {
    let sw = Stopwatch::start();
    let mut handles = Vec::with_capacity(n as usize);
    for i in 0..n {
        handles.push(go!(async move { i }));
    }
    let mut sum = 0;
    for h in handles {
        sum += h.await.expect("goroutine panicked");
    }
    let m = sw.stop(n);
    m.expect(sum == triangle(n), || format!("sum={sum}"))
}

// Not an `async fn`: the explicit `+ Send` lets rustc check the spawn of
// itself inside (an `async fn` would need its own Send-ness to compute it).
#[allow(clippy::manual_async_fn)]
fn skynet_node(c: Chan<u64>, num: u64, size: u64, div: u64) -> impl Future<Output = ()> + Send {
    async move {
        if size == 1 {
            c.send(num).await;
            return;
        }
        let rc = make::<u64>(0);
        let sub = size / div;
        for i in 0..div {
            let _child = go!(skynet_node(rc.clone(), num + i * sub, sub, div));
        }
        let mut sum = 0;
        for _ in 0..div {
            sum += rc.recv().await.unwrap_or(0);
        }
        c.send(sum).await;
    }
}

async fn skynet(leaves: u64) -> Measurement {
    let sw = Stopwatch::start();
    let c = make::<u64>(0);
    let _root = go!(skynet_node(c.clone(), 0, leaves, 10));
    let sum = c.recv().await.unwrap_or(0);
    let m = sw.stop(1);
    m.expect(sum == triangle(leaves), || format!("sum={sum}"))
}

static STARTED: AtomicU64 = AtomicU64::new(0);
static EXITED: AtomicU64 = AtomicU64::new(0);

async fn yield_until(counter: &AtomicU64, n: u64) {
    while counter.load(Ordering::Acquire) < n {
        goro::yield_now().await;
    }
}

async fn parked(n: u64) -> Measurement {
    let ch = make::<u64>(0);
    STARTED.store(0, Ordering::Relaxed);
    EXITED.store(0, Ordering::Relaxed);
    let baseline = current_rss_kib();
    let sw = Stopwatch::start();
    for _ in 0..n {
        let ch = ch.clone();
        let _g = go!(async move {
            STARTED.fetch_add(1, Ordering::Release);
            let _ = ch.recv().await;
            EXITED.fetch_add(1, Ordering::Release);
        });
    }
    yield_until(&STARTED, n).await;
    let mut m = sw.stop(n);
    // Let the last goroutines finish the poll that parks them.
    for _ in 0..1000 {
        goro::yield_now().await;
    }
    let now = current_rss_kib();
    m.bytes_per_task = Some(now.saturating_sub(baseline) as f64 * 1024.0 / n as f64);
    ch.close();
    yield_until(&EXITED, n).await;
    let exited = EXITED.load(Ordering::Acquire);
    m.expect(exited == n, || format!("exited={exited}"))
}

async fn sieve(nprimes: u64) -> Measurement {
    let want = nth_prime(nprimes);
    let sw = Stopwatch::start();
    let mut ch = make::<u64>(0);
    {
        let ch = ch.clone();
        let _generate = go!(async move {
            let mut i = 2;
            loop {
                ch.send(i).await;
                i += 1;
            }
        });
    }
    let mut last = 0;
    for _ in 0..nprimes {
        let prime = ch.recv().await.unwrap_or(0);
        last = prime;
        let ch1 = make::<u64>(0);
        let (input, out) = (ch.clone(), ch1.clone());
        let _filter = go!(async move {
            while let Some(i) = input.recv().await {
                if i % prime != 0 {
                    out.send(i).await;
                }
            }
        });
        ch = ch1;
    }
    let m = sw.stop(1);
    // As in Go, the chain stays blocked; the runtime drops it when main returns.
    m.expect(last == want, || format!("last={last},want={want}"))
}

async fn timers_sleep(n: u64) -> Measurement {
    let sw = Stopwatch::start();
    let mut handles = Vec::with_capacity(n as usize);
    for _ in 0..n {
        handles.push(go!(async {
            let t0 = std::time::Instant::now();
            goro::time::sleep(SLEEP).await;
            t0.elapsed()
        }));
    }
    let mut slept = Vec::with_capacity(n as usize);
    for h in handles {
        slept.push(h.await.expect("goroutine panicked"));
    }
    let m = sw.stop(n);
    check_timers(m, n, &slept)
}

#[cfg(feature = "goro-select")]
mod net {
    use std::net::Shutdown;

    use futures::AsyncReadExt;
    use goro::chan::make;
    use goro::net::{TcpListener, TcpStream};

    use crate::measure::{fill_msg, Measurement, Stopwatch, MSG};

    /// Echoes everything read on `conn` until EOF; returns the bytes echoed.
    async fn echo(conn: TcpStream) -> u64 {
        conn.set_nodelay(true).expect("set_nodelay");
        let mut buf = vec![0u8; 4096];
        let mut total = 0;
        loop {
            let k = conn.read(&mut buf).await.expect("server read");
            if k == 0 {
                return total;
            }
            conn.write_all(&buf[..k]).await.expect("server write");
            total += k as u64;
        }
    }

    pub async fn tcp_echo_rtt(n: u64) -> Measurement {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local_addr");
        let quit = make::<()>(0);
        let done = make::<u64>(16);
        {
            let (quit, done) = (quit.clone(), done.clone());
            let _server = go!(async move {
                loop {
                    goro::select! {
                        accepted = listener.accept() => {
                            let (conn, _peer) = accepted.expect("accept");
                            let done = done.clone();
                            let _conn = go!(async move { done.send(echo(conn).await).await });
                        }
                        _ = quit.recv() => break,
                    }
                }
            });
        }

        let mut conn = TcpStream::connect(addr).await.expect("connect");
        conn.set_nodelay(true).expect("set_nodelay");
        let (mut msg, mut reply) = ([0u8; MSG], [0u8; MSG]);
        let mut bad = 0u64;
        let sw = Stopwatch::start();
        for i in 0..n {
            fill_msg(&mut msg, i);
            conn.write_all(&msg).await.expect("client write");
            conn.read_exact(&mut reply).await.expect("client read");
            bad += u64::from(reply != msg);
        }
        let m = sw.stop(n);
        conn.shutdown(Shutdown::Write).expect("shutdown");
        let echoed = done.recv().await.unwrap_or(0);
        quit.close();
        m.expect(bad == 0 && echoed == n * MSG as u64, || {
            format!("bad_replies={bad},echoed={echoed}")
        })
    }
}

#[cfg(feature = "goro-select")]
mod select {
    use goro::chan::{make, Chan};

    use crate::measure::{triangle, Measurement, Stopwatch};

    async fn select4(cs: &[Chan<u64>; 4]) -> Option<u64> {
        let [c0, c1, c2, c3] = cs;
        goro::select! {
            v = c0.recv() => v,
            v = c1.recv() => v,
            v = c2.recv() => v,
            v = c3.recv() => v,
        }
    }

    pub async fn select4_ready(n: u64) -> Measurement {
        let cs: [Chan<u64>; 4] = std::array::from_fn(|_| make(1024));
        let sw = Stopwatch::start();
        for (k, c) in cs.iter().enumerate() {
            let c = c.clone();
            let _producer = go!(async move {
                let mut i = k as u64;
                while i < n {
                    c.send(i).await;
                    i += 4;
                }
            });
        }
        let mut sum = 0;
        for _ in 0..n {
            sum += select4(&cs).await.unwrap_or(0);
        }
        let m = sw.stop(n);
        m.expect(sum == triangle(n), || format!("sum={sum}"))
    }

    pub async fn select4_idle(n: u64) -> Measurement {
        let cs: [Chan<u64>; 4] = std::array::from_fn(|_| make(1024));
        let ack = make::<u64>(0);
        let sw = Stopwatch::start();
        {
            let (cs, ack) = (cs.clone(), ack.clone());
            let _producer = go!(async move {
                for i in 0..n {
                    cs[(i % 4) as usize].send(i).await;
                    ack.recv().await;
                }
            });
        }
        let mut sum = 0;
        for _ in 0..n {
            sum += select4(&cs).await.unwrap_or(0);
            ack.send(0).await;
        }
        let m = sw.stop(n);
        m.expect(sum == triangle(n), || format!("sum={sum}"))
    }
}

/// The sync workloads: `goro::sync::{Mutex, RwMutex, WaitGroup}`.
mod sync_w {
    use std::sync::Arc;

    use goro::sync::{Mutex, RwMutex, WaitGroup};

    use crate::measure::{Measurement, Stopwatch};

    pub async fn mutex_uncontended(n: u64) -> Measurement {
        let m = Mutex::new(0u64);
        let sw = Stopwatch::start();
        for _ in 0..n {
            *m.lock().await += 1;
        }
        let r = sw.stop(n);
        let v = *m.lock().await;
        r.expect(v == n, || format!("count={v}"))
    }

    pub async fn mutex_contended(n: u64, tasks: u64) -> Measurement {
        let m = Arc::new(Mutex::new(0u64));
        let per = n / tasks;
        let wg = WaitGroup::new();
        let sw = Stopwatch::start();
        for _ in 0..tasks {
            let m = m.clone();
            wg.go(async move {
                for _ in 0..per {
                    *m.lock().await += 1;
                }
            });
        }
        wg.wait().await;
        let r = sw.stop(per * tasks);
        let v = *m.lock().await;
        r.expect(v == per * tasks, || format!("count={v}"))
    }

    pub async fn waitgroup_fanin(n: u64, batch: u64) -> Measurement {
        let wg = WaitGroup::new();
        let sw = Stopwatch::start();
        let mut done = 0;
        while done < n {
            let k = batch.min(n - done);
            wg.add(k as isize);
            for _ in 0..k {
                let wg = wg.clone();
                drop(goro::spawn(async move { wg.done() }));
            }
            wg.wait().await;
            done += k;
        }
        sw.stop(n).expect(true, String::new)
    }

    pub async fn rwmutex_read_mostly(n: u64, tasks: u64) -> Measurement {
        let m = Arc::new(RwMutex::new(0u64));
        let per = n / tasks;
        let wg = WaitGroup::new();
        let sw = Stopwatch::start();
        for _ in 0..tasks {
            let m = m.clone();
            wg.go(async move {
                let mut seen = 0;
                for i in 0..per {
                    if i % 10 == 0 {
                        *m.write().await += 1;
                    } else {
                        seen += *m.read().await;
                    }
                }
                std::hint::black_box(seen);
            });
        }
        wg.wait().await;
        let r = sw.stop(per * tasks);
        let writes = per.div_ceil(10) * tasks;
        let v = *m.read().await;
        r.expect(v == writes, || format!("writes={v}"))
    }
}

/// context (issue 10).
mod ctx {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;

    use goro::chan::make;
    use goro::context::{self, Error};

    use crate::measure::{Measurement, Stopwatch};

    /// `n` goroutines each wait on the done channel of their own child of
    /// one context; the section is from cancelling the root until the last
    /// one has woken (Go's `ctxCancelFanout`).
    pub async fn cancel_fanout(n: u64) -> Measurement {
        let (root, cancel) = context::with_cancel(&context::background());
        let (ready_left, woke_left) = (Arc::new(AtomicU64::new(n)), Arc::new(AtomicU64::new(n)));
        let canceled = Arc::new(AtomicU64::new(0));
        let (all_ready, all_woke) = (make::<()>(0), make::<()>(0));
        for _ in 0..n {
            let (root, ready_left, woke_left, canceled) = (
                root.clone(),
                ready_left.clone(),
                woke_left.clone(),
                canceled.clone(),
            );
            let (all_ready, all_woke) = (all_ready.clone(), all_woke.clone());
            drop(goro::spawn(async move {
                let (child, _cancel_child) = context::with_cancel(&root);
                let done = child.done();
                if ready_left.fetch_sub(1, Ordering::AcqRel) == 1 {
                    all_ready.close();
                }
                done.recv().await;
                if child.err() == Some(Error::Canceled) {
                    canceled.fetch_add(1, Ordering::Relaxed);
                }
                if woke_left.fetch_sub(1, Ordering::AcqRel) == 1 {
                    all_woke.close();
                }
            }));
        }
        all_ready.recv().await;
        let sw = Stopwatch::start();
        cancel();
        all_woke.recv().await;
        let m = sw.stop(n);
        let c = canceled.load(Ordering::Relaxed);
        m.expect(c == n, || format!("canceled={c}"))
    }
}

/// The Go-shaped programs (issue 15): every producer and consumer is a
/// goroutine; main only starts them and waits.
mod go_shaped {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;

    use goro::chan::{make, Chan};

    use crate::measure::{triangle, Measurement, Stopwatch};

    pub async fn dispatch(program: &str, n: u64) -> Measurement {
        match program {
            "pingpong_go" => pingpong(n).await,
            "spsc_go" => spsc(n).await,
            "mpmc_go" => super::mpmc(n, 1024, 4, 4).await,
            #[cfg(feature = "goro-select")]
            "select4_go" => select4(n).await,
            "spawn_wg" => spawn_wg(n).await,
            other => unreachable!("goro: unsupported workload {other}"),
        }
    }

    async fn pingpong(n: u64) -> Measurement {
        let ping = make::<u64>(0);
        let pong = make::<u64>(0);
        let sw = Stopwatch::start();
        {
            let (ping, pong) = (ping.clone(), pong.clone());
            let _echo = go!(async move {
                while let Some(v) = ping.recv().await {
                    pong.send(v).await;
                }
            });
        }
        let pinger = go!(async move {
            let mut sum = 0;
            for i in 0..n {
                ping.send(i).await;
                sum += pong.recv().await.unwrap_or(0);
            }
            ping.close();
            sum
        });
        let sum = pinger.await.expect("pinger panicked");
        let m = sw.stop(n);
        m.expect(sum == triangle(n), || format!("sum={sum}"))
    }

    async fn spsc(n: u64) -> Measurement {
        let ch = make::<u64>(1024);
        let sw = Stopwatch::start();
        {
            let ch = ch.clone();
            let _producer = go!(async move {
                for i in 0..n {
                    ch.send(i).await;
                }
                ch.close();
            });
        }
        let consumer = go!(async move {
            let (mut sum, mut count) = (0, 0);
            while let Some(v) = ch.recv().await {
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

    #[cfg(feature = "goro-select")]
    async fn select4(n: u64) -> Measurement {
        use goro::chan::Chan;
        let cs: [Chan<u64>; 4] = std::array::from_fn(|_| make(1024));
        let sw = Stopwatch::start();
        for (k, c) in cs.iter().enumerate() {
            let c = c.clone();
            let _producer = go!(async move {
                let mut i = k as u64;
                while i < n {
                    c.send(i).await;
                    i += 4;
                }
            });
        }
        let selector = go!(async move {
            let [c0, c1, c2, c3] = &cs;
            let mut sum = 0;
            for _ in 0..n {
                sum += goro::select! {
                    v = c0.recv() => v,
                    v = c1.recv() => v,
                    v = c2.recv() => v,
                    v = c3.recv() => v,
                }
                .unwrap_or(0);
            }
            sum
        });
        let sum = selector.await.expect("selector panicked");
        let m = sw.stop(n);
        m.expect(sum == triangle(n), || format!("sum={sum}"))
    }

    /// Go's `wg.Add(n)`; each goroutine `wg.Done()`; main `wg.Wait()`: a
    /// counter, and the goroutine that brings it to zero sends on `done`.
    async fn spawn_wg(n: u64) -> Measurement {
        // One shared reference per goroutine (Go's closure shares `wg`
        // and `res` by pointer; tokio's version shares one `Arc` too).
        struct Group {
            sum: AtomicU64,
            left: AtomicU64,
            done: Chan<()>,
        }
        let g = Arc::new(Group {
            sum: AtomicU64::new(0),
            left: AtomicU64::new(n),
            done: make::<()>(1),
        });
        let sw = Stopwatch::start();
        for i in 0..n {
            let g = g.clone();
            drop(go!(async move {
                g.sum.fetch_add(i, Ordering::Relaxed);
                if g.left.fetch_sub(1, Ordering::AcqRel) == 1 {
                    g.done.send(()).await;
                }
            }));
        }
        g.done.recv().await;
        let m = sw.stop(n);
        let sum = g.sum.load(Ordering::Relaxed);
        m.expect(sum == triangle(n), || format!("sum={sum}"))
    }
}
