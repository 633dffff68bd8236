//! Global deadlock detection: "fatal error: all goroutines are asleep -
//! deadlock!", and no report while anything could still wake a goroutine.
//!
//! The negative tests keep a possible waker (a timer, a socket, a blocking
//! job, a plain thread) busy for a while before it wakes the goroutines:
//! that delay is the scenario under test (a false report would fire in it),
//! not a synchronisation; every test passes or fails on what `block_on`
//! returns.

use std::time::{Duration, Instant};

use goro::chan::make;
use goro::runtime::{Runtime, RuntimeError};

fn rt() -> Runtime {
    Runtime::builder().workers(2).build().unwrap()
}

fn deadlock_text(e: RuntimeError) -> String {
    assert!(matches!(e, RuntimeError::Deadlock { .. }), "{e}");
    e.to_string()
}

#[test]
fn main_receiving_alone_is_a_deadlock() {
    let start = Instant::now();
    let err = rt()
        .block_on(async {
            let ch = make::<i32>(0);
            ch.recv().await
        })
        .unwrap_err();
    let text = deadlock_text(err);
    assert!(start.elapsed() < Duration::from_secs(5));
    assert!(
        text.starts_with("fatal error: all goroutines are asleep - deadlock!\n\ngoroutine 1 [chan receive]:\n    parked at tests/deadlock.rs:"),
        "{text}"
    );
    assert!(text.contains("on chan (unbuffered, len 0) made at tests/deadlock.rs:"));
}

#[test]
fn goroutines_waiting_on_each_other() {
    let err = rt()
        .block_on(async {
            let a = make::<()>(0);
            let b = make::<()>(0);
            let (a2, b2) = (a.clone(), b.clone());
            let h = goro::go!(async move {
                a2.recv().await;
                b2.send(()).await;
            });
            b.recv().await;
            a.send(()).await;
            h.await.unwrap();
        })
        .unwrap_err();
    let text = deadlock_text(err);
    assert!(text.contains("goroutine 1 [chan receive]:"), "{text}");
    assert!(text.contains("goroutine 2 [chan receive]:"), "{text}");
    assert!(
        text.contains("created by goroutine 1 at tests/deadlock.rs:"),
        "{text}"
    );
}

#[test]
fn join_and_select_and_nil_are_asleep() {
    let err = rt()
        .block_on(async {
            let ch = make::<i32>(1);
            let nil = goro::chan::Chan::<i32>::nil();
            let c2 = ch.clone();
            let h = goro::go!(async move {
                goro::select! {
                    v = c2.recv() => v,
                    v = nil.recv() => v,
                }
            });
            drop(goro::go!(async {
                goro::chan::Chan::<u8>::nil().send(1).await
            }));
            h.await.unwrap()
        })
        .unwrap_err();
    let text = deadlock_text(err);
    assert!(text.contains("goroutine 1 [join wait]:"), "{text}");
    assert!(text.contains("goroutine 2 [select]:"), "{text}");
    assert!(
        text.contains("goroutine 3 [chan send (nil chan)]:"),
        "{text}"
    );
}

#[test]
fn select_with_no_cases_in_main() {
    let err = rt()
        .block_on(async {
            goro::select! {}
        })
        .unwrap_err();
    assert!(deadlock_text(err).contains("goroutine 1 [select (no cases)]:"));
}

#[test]
fn off_switch() {
    // A thread goro cannot know about (it has not used a goro handle yet
    // when main parks) wakes main later: with the check off, the runtime
    // simply waits for it.
    let rt = Runtime::builder()
        .workers(1)
        .detect_deadlocks(false)
        .build()
        .unwrap();
    let ch = make::<i32>(0);
    let outside = ch.clone();
    let (go, wait) = std::sync::mpsc::channel::<()>();
    let t = std::thread::spawn(move || {
        wait.recv().unwrap();
        std::thread::sleep(Duration::from_millis(150));
        outside.send_blocking(7);
    });
    let v = rt
        .block_on(async move {
            go.send(()).unwrap();
            ch.recv().await
        })
        .unwrap();
    assert_eq!(v, Some(7));
    t.join().unwrap();
}

#[test]
fn no_report_while_a_timer_is_armed() {
    let v = rt()
        .block_on(async {
            let ch = make::<i32>(0);
            let c = ch.clone();
            goro::go!(async move {
                goro::time::sleep(Duration::from_millis(150)).await;
                c.send(1).await;
            });
            let t = goro::time::after(Duration::from_millis(150));
            let r = ch.recv().await;
            t.recv().await;
            r
        })
        .unwrap();
    assert_eq!(v, Some(1));
}

#[test]
fn no_report_while_a_socket_may_wake() {
    let v = rt()
        .block_on(async {
            let l = goro::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = l.local_addr().unwrap();
            let ch = make::<bool>(0);
            let c = ch.clone();
            goro::go!(async move {
                let r = l.accept().await;
                c.send(r.is_ok()).await;
            });
            // The connection comes from a thread that never touches goro.
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(150));
                std::net::TcpStream::connect(addr).unwrap();
            });
            ch.recv().await
        })
        .unwrap();
    assert_eq!(v, Some(true));
}

#[test]
fn no_report_while_a_blocking_job_runs() {
    let v = rt()
        .block_on(async {
            let ch = make::<i32>(0);
            let c = ch.clone();
            goro::go!(async move {
                let n = goro::spawn_blocking(|| {
                    std::thread::sleep(Duration::from_millis(150));
                    5
                })
                .await
                .unwrap();
                c.send(n).await;
            });
            ch.recv().await
        })
        .unwrap();
    assert_eq!(v, Some(5));
}

#[test]
fn no_report_while_a_plain_thread_may_send() {
    let rt = rt();
    let ch = make::<i32>(0);
    let reqs = make::<i32>(0);
    let (ch2, reqs2) = (ch.clone(), reqs.clone());
    // A plain thread serving requests: it announces itself (goro learns
    // about a thread from its first channel use, or from this call) before
    // the goroutines it serves park; while it works (not parked in a goro
    // operation) it may wake anybody.
    let (ready_tx, ready) = std::sync::mpsc::channel();
    let t = std::thread::spawn(move || {
        goro::hook::note_outside_thread();
        ready_tx.send(()).unwrap();
        while let Some(x) = reqs2.recv_blocking() {
            std::thread::sleep(Duration::from_millis(150));
            ch2.send_blocking(x * 2);
        }
    });
    ready.recv().unwrap();
    let v = rt
        .block_on(async move {
            reqs.send(21).await;
            let v = ch.recv().await;
            reqs.close();
            v
        })
        .unwrap();
    assert_eq!(v, Some(42));
    t.join().unwrap();
}

#[test]
fn plain_thread_parked_in_goro_is_asleep_too() {
    // The thread waits in recv_blocking for a value only main could send,
    // and main waits for the thread: a deadlock across the boundary.
    let rt = rt();
    let a = make::<i32>(0);
    let b = make::<i32>(0);
    let (a2, b2) = (a.clone(), b.clone());
    let t = std::thread::spawn(move || {
        if let Some(v) = a2.recv_blocking() {
            b2.send_blocking(v);
        }
    });
    let err = rt.block_on(async move { b.recv().await }).unwrap_err();
    deadlock_text(err);
    a.close();
    t.join().unwrap();
}

#[test]
fn no_report_while_a_foreign_future_may_wake() {
    let (tx, rx) = futures::channel::oneshot::channel::<i32>();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(150));
        tx.send(9).unwrap();
    });
    let v = rt().block_on(async move { rx.await.unwrap() }).unwrap();
    assert_eq!(v, 9);
    t.join().unwrap();
}

/// A goroutine waits on a goro channel and, in the same poll, on a foreign
/// future a plain thread (which never touches goro) completes later: it is
/// not asleep for good, so no deadlock.
#[test]
fn no_report_while_a_foreign_future_joined_with_a_channel_may_wake() {
    let (tx, rx) = futures::channel::oneshot::channel::<()>();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(150));
        tx.send(()).unwrap();
    });
    let r = rt().block_on(async move {
        let ch = make::<i32>(0);
        let closer = async {
            rx.await.unwrap();
            ch.close();
        };
        futures::join!(closer, async { ch.recv().await }).1
    });
    assert_eq!(r.unwrap(), None);
    t.join().unwrap();
}

#[test]
#[should_panic(expected = "fatal error: all goroutines are asleep - deadlock!")]
fn run_panics_with_the_report() {
    goro::run(async { make::<()>(0).send(()).await });
}

#[test]
fn no_report_while_a_plain_thread_holds_a_mutex() {
    // A plain thread takes a goro Mutex (without ever touching a channel)
    // and holds it while it works; main waits for the lock. The thread's
    // use of the Mutex makes it a possible waker, like a channel use does.
    let rt = rt();
    let m = std::sync::Arc::new(goro::sync::Mutex::new(0));
    let m2 = m.clone();
    let (locked_tx, locked) = std::sync::mpsc::channel();
    let t = std::thread::spawn(move || {
        let mut g = m2.try_lock().expect("uncontended");
        locked_tx.send(()).unwrap();
        std::thread::sleep(Duration::from_millis(150));
        *g = 7;
    });
    locked.recv().unwrap();
    let v = rt.block_on(async move { *m.lock().await }).unwrap();
    assert_eq!(v, 7);
    t.join().unwrap();
}

#[test]
fn no_report_while_a_plain_thread_holds_a_lock_it_waited_for() {
    // As above, but the thread takes the locks by polling their futures on
    // a foreign executor (which notes nothing itself): the use is noted by
    // the lock futures' first poll.
    let rt = rt();
    let m = std::sync::Arc::new(goro::sync::Mutex::new(0));
    let rw = std::sync::Arc::new(goro::sync::RwMutex::new(0));
    let (m2, rw2) = (m.clone(), rw.clone());
    let (locked_tx, locked) = std::sync::mpsc::channel();
    let t = std::thread::spawn(move || {
        let mut g = futures::executor::block_on(m2.lock());
        let mut w = futures::executor::block_on(rw2.write());
        locked_tx.send(()).unwrap();
        std::thread::sleep(Duration::from_millis(150));
        *g = 7;
        *w = 8;
    });
    locked.recv().unwrap();
    let v = rt
        .block_on(async move { (*m.lock().await, *rw.read().await) })
        .unwrap();
    assert_eq!(v, (7, 8));
    t.join().unwrap();
}

#[test]
fn no_report_while_a_plain_thread_owes_a_waitgroup_done() {
    // The thread adds its own count (its first use), then works and calls
    // done; main waits for the group.
    let rt = rt();
    let wg = goro::sync::WaitGroup::new();
    let wg2 = wg.clone();
    let (added_tx, added) = std::sync::mpsc::channel();
    let t = std::thread::spawn(move || {
        wg2.add(1);
        added_tx.send(()).unwrap();
        std::thread::sleep(Duration::from_millis(150));
        wg2.done();
    });
    added.recv().unwrap();
    rt.block_on(async move { wg.wait().await }).unwrap();
    t.join().unwrap();
}
