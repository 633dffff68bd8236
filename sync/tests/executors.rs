//! The primitives under tokio (multi-threaded) and from plain threads
//! (the `*_blocking` forms), with contention.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use goro_sync::{Cond, Mutex, Once, OnceValue, RwMutex, WaitGroup};

const TASKS: usize = 8;
const ITERS: usize = 500;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokio_mutex_counts_every_increment() {
    let m = Arc::new(Mutex::new(0usize));
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..TASKS {
        let m = m.clone();
        set.spawn(async move {
            for _ in 0..ITERS {
                let mut g = m.lock().await;
                let v = *g;
                tokio::task::yield_now().await; // hold the guard across an await
                *g = v + 1;
            }
        });
    }
    while let Some(r) = set.join_next().await {
        r.unwrap();
    }
    assert_eq!(*m.lock().await, TASKS * ITERS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokio_rwmutex_readers_and_writers_exclude() {
    let m = Arc::new(RwMutex::new((0usize, 0usize)));
    let mut set = tokio::task::JoinSet::new();
    for i in 0..TASKS {
        let m = m.clone();
        set.spawn(async move {
            for _ in 0..ITERS / 5 {
                if i % 4 == 0 {
                    let mut g = m.write().await;
                    g.0 += 1;
                    tokio::task::yield_now().await;
                    g.1 += 1;
                } else {
                    let g = m.read().await;
                    assert_eq!(g.0, g.1, "a reader saw a half-done write");
                }
            }
        });
    }
    while let Some(r) = set.join_next().await {
        r.unwrap();
    }
    assert_eq!(m.read().await.0, 2 * ITERS / 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokio_waitgroup_once_cond() {
    let wg = WaitGroup::new();
    let once = Arc::new(Once::new());
    let cell = Arc::new(OnceValue::new());
    let calls = Arc::new(AtomicUsize::new(0));
    for _ in 0..TASKS {
        wg.add(1);
        let (wg, once, cell, calls) = (wg.clone(), once.clone(), cell.clone(), calls.clone());
        tokio::spawn(async move {
            once.call_once(|| {
                calls.fetch_add(1, Ordering::SeqCst);
            })
            .await;
            let v = cell
                .get_or_init(|| async {
                    tokio::task::yield_now().await;
                    42
                })
                .await;
            assert_eq!(*v, 42);
            wg.done();
        });
    }
    wg.wait().await;
    assert_eq!(calls.load(Ordering::SeqCst), 1);

    // Cond: a producer signals a consumer waiting for a flag.
    let pair = Arc::new((Mutex::new(false), Cond::new()));
    let p = pair.clone();
    let consumer = tokio::spawn(async move {
        let mut g = p.0.lock().await;
        while !*g {
            g = p.1.wait(g).await;
        }
    });
    tokio::task::yield_now().await;
    *pair.0.lock().await = true;
    pair.1.broadcast();
    consumer.await.unwrap();
}

#[test]
fn threads_blocking_forms() {
    let m = Arc::new(Mutex::new(0usize));
    let rw = Arc::new(RwMutex::new(0usize));
    let wg = WaitGroup::new();
    let once = Arc::new(Once::new());
    let ran = Arc::new(AtomicUsize::new(0));
    let mut threads = Vec::new();
    for _ in 0..4 {
        wg.add(1);
        let (m, rw, wg, once, ran) = (m.clone(), rw.clone(), wg.clone(), once.clone(), ran.clone());
        threads.push(std::thread::spawn(move || {
            once.call_once_blocking(|| {
                ran.fetch_add(1, Ordering::SeqCst);
            });
            for _ in 0..ITERS {
                *m.lock_blocking() += 1;
                *rw.write_blocking() += 1;
                let _ = *rw.read_blocking();
            }
            wg.done();
        }));
    }
    wg.wait_blocking();
    assert_eq!(*m.lock_blocking(), 4 * ITERS);
    assert_eq!(*rw.read_blocking(), 4 * ITERS);
    assert_eq!(ran.load(Ordering::SeqCst), 1);
    for t in threads {
        t.join().unwrap();
    }
}

#[test]
fn threads_cond_ping_pong() {
    // Two threads take turns through a Cond: each waits for its turn.
    let state = Arc::new((Mutex::new(0usize), Cond::new()));
    let s = state.clone();
    let t = std::thread::spawn(move || {
        for i in 0..100 {
            let mut g = s.0.lock_blocking();
            while *g != 2 * i + 1 {
                g = goro_chan::__block_on(s.1.wait(g));
            }
            *g += 1;
            s.1.broadcast();
        }
    });
    for i in 0..100 {
        let mut g = state.0.lock_blocking();
        while *g != 2 * i {
            g = goro_chan::__block_on(state.1.wait(g));
        }
        *g += 1;
        state.1.broadcast();
    }
    t.join().unwrap();
    assert_eq!(*state.0.lock_blocking(), 200);
}

#[test]
#[should_panic(expected = "sync: negative WaitGroup counter")]
fn negative_waitgroup_counter_panics_with_gos_text() {
    let wg = WaitGroup::new();
    wg.add(1);
    wg.done();
    wg.done();
}

/// Compile-time: guards and waiting futures may be held across `.await` in
/// a goroutine that moves between workers (allocation-freedom is checked in
/// `tests/alloc.rs`).
#[test]
fn guards_and_futures_are_send() {
    fn send<T: Send>(_: &T) {}
    let (m, rw, wg, c) = (
        Mutex::new(0),
        RwMutex::new(0),
        WaitGroup::new(),
        Cond::new(),
    );
    send(&m.lock());
    send(&m.try_lock());
    send(&rw.read());
    send(&rw.write());
    send(&rw.try_read());
    send(&wg.wait());
    send(&c.wait(m.try_lock().unwrap()));
}
