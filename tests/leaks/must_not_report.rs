//! What the leak checker must not call "parked forever" (Go's leak profile
//! documents the same cases): a goroutine some other goroutine, a timer or
//! a live parent context can still wake.

use std::sync::OnceLock;
use std::time::Duration;

use goro::chan::{make, Chan};
use goro::leak::{self, Options};

/// A channel reachable from a global, used by a goroutine that is alive.
static GLOBAL: OnceLock<Chan<i32>> = OnceLock::new();

#[test]
fn channel_reachable_from_a_global_used_by_a_live_goroutine() {
    goro::run(async {
        let g = GLOBAL.get_or_init(|| make(0)).clone();
        let waiter = goro::go!(async move { g.recv().await });
        // A live goroutine (main) may still send on the global channel:
        // nothing is provably stuck, and the waiter is reported as alive
        // but not forever.
        let quick = Options::new().grace(Duration::from_millis(20));
        let report = leak::verify_none_with(quick).unwrap_err();
        assert!(report.goroutines().iter().all(|g| !g.forever));
        assert!(leak::find_stuck().is_empty());
        GLOBAL.get().unwrap().send(1).await;
        assert_eq!(waiter.await.unwrap(), Some(1));
    });
}

#[test]
fn channel_a_sleeping_goroutine_will_send_on() {
    goro::run(async {
        let ch = make::<i32>(0);
        let c = ch.clone();
        let recv = goro::go!(async move { c.recv().await });
        let ch2 = ch.clone();
        goro::go!(async move {
            goro::time::sleep(Duration::from_millis(400)).await;
            ch2.send(1).await;
        });
        drop(ch);
        let opts = Options::new()
            .caller_done()
            .grace(Duration::from_millis(30));
        let report = leak::verify_none_async(opts).await.unwrap_err();
        assert!(report.goroutines().iter().all(|g| !g.forever), "{report}");
        assert_eq!(recv.await.unwrap(), Some(1));
    });
}

#[test]
fn pending_time_after() {
    goro::run(async {
        let t = goro::time::after(Duration::from_millis(400));
        let h = goro::go!(async move { t.recv().await.is_some() });
        let opts = Options::new()
            .caller_done()
            .grace(Duration::from_millis(30));
        let report = leak::verify_none_async(opts).await.unwrap_err();
        assert_eq!(report.goroutines().len(), 1);
        assert!(!report.goroutines()[0].forever, "{report}");
        assert!(h.await.unwrap());
    });
}

#[test]
fn child_of_a_live_parent_context() {
    goro::run(async {
        let (parent, cancel) = goro::context::with_cancel(&goro::context::background());
        let (child, _child_cancel) = goro::context::with_cancel(&parent);
        let h = goro::go!(async move {
            child.done().recv().await;
            child.err().is_some()
        });
        // Wait (bounded) until it parked on the child's done channel.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !goro::runtime::snapshot()
            .iter()
            .any(|g| g.id == h.id() && g.wait_reason() == "chan receive")
        {
            assert!(std::time::Instant::now() < deadline, "did not park");
            goro::yield_now().await;
        }
        // The parent's cancel is held by main, which runs: not stuck.
        assert!(leak::find_stuck().is_empty());
        cancel();
        assert!(h.await.unwrap());
    });
}

/// Waits (bounded) until goroutine `id` is parked for `reason`.
async fn parked(id: goro::GoroutineId, reason: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !goro::runtime::snapshot()
        .iter()
        .any(|g| g.id == id && g.wait_reason() == reason)
    {
        assert!(std::time::Instant::now() < deadline, "did not park");
        goro::yield_now().await;
    }
}

/// `id` is alive and not proved stuck, by `find_stuck` (main running) nor
/// by a leak check.
fn not_stuck(id: goro::GoroutineId) {
    assert!(leak::find_stuck().iter().all(|g| g.id != id));
    let now = Options::new().grace(Duration::ZERO);
    let report = leak::verify_none_with(now).unwrap_err();
    let g = report.goroutines().iter().find(|g| g.id == id).unwrap();
    assert!(!g.forever, "{report}");
}

/// The only handle of a channel lies in the goroutine's own future, but in
/// the same poll the goroutine also waits (`join!`) on what will make it
/// close that channel: two waits at once prove nothing.
#[test]
fn join_of_a_private_wait_and_its_waker() {
    goro::run(async {
        let gate = make::<()>(0);
        let g = gate.clone();
        let h = goro::go!(async move {
            let ch = make::<()>(0);
            let closer = async {
                g.recv().await;
                ch.close();
            };
            // The receive is made (and its handle used) after the closer's
            // wait: the poll's last handle use and last park are both the
            // private channel's.
            futures::join!(closer, async { ch.recv().await }).1
        });
        parked(h.id(), "chan receive").await;
        not_stuck(h.id());
        gate.close();
        assert_eq!(h.await.unwrap(), None);
    });
}

/// The same with a mutex inside the goroutine's own future, locked by the
/// other branch of the `join!`.
#[test]
fn join_of_an_inline_mutex_and_its_unlocker() {
    goro::run(async {
        let gate = make::<()>(0);
        let g = gate.clone();
        let h = goro::go!(async move {
            let mu = goro::sync::Mutex::new(0);
            let held = mu.lock().await;
            let unlocker = async move {
                g.recv().await;
                drop(held);
            };
            let waiter = async { *mu.lock().await += 1 };
            futures::join!(unlocker, waiter);
        });
        parked(h.id(), "sync.Mutex.Lock").await;
        not_stuck(h.id());
        gate.close();
        h.await.unwrap();
    });
}

/// The only handle of a channel lies in the goroutine's own future, and in
/// the same poll it also awaits a foreign future (a `futures` oneshot, which
/// notes no park) that will make it close the channel: the goro wait is the
/// only one noted, but the foreign one can still wake it.
#[test]
fn join_of_a_private_wait_and_a_foreign_future() {
    goro::run(async {
        let (tx, rx) = futures::channel::oneshot::channel::<()>();
        let h = goro::go!(async move {
            let ch = make::<()>(0);
            let closer = async {
                rx.await.unwrap();
                ch.close();
            };
            futures::join!(closer, async { ch.recv().await }).1
        });
        parked(h.id(), "chan receive").await;
        not_stuck(h.id());
        tx.send(()).unwrap();
        assert_eq!(h.await.unwrap(), None);
    });
}

/// The same with a `select` over the goro wait and the foreign future: the
/// foreign one alone ends the wait.
#[test]
fn select_of_an_inline_mutex_and_a_foreign_future() {
    goro::run(async {
        let (tx, rx) = futures::channel::oneshot::channel::<()>();
        let h = goro::go!(async move {
            let mu = goro::sync::Mutex::new(0);
            let _held = mu.lock().await;
            let waiter = std::pin::pin!(async { *mu.lock().await += 1 });
            matches!(
                futures::future::select(rx, waiter).await,
                futures::future::Either::Left(_)
            )
        });
        parked(h.id(), "sync.Mutex.Lock").await;
        not_stuck(h.id());
        tx.send(()).unwrap();
        assert!(h.await.unwrap());
    });
}

/// A goroutine receives through its own handle; a plain thread holds the
/// other one and sends when told.
#[test]
fn handle_held_by_a_plain_thread() {
    goro::run(async {
        let ch = make::<i32>(0);
        let c = ch.clone();
        let h = goro::go!(async move { c.recv().await });
        let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
        let t = std::thread::spawn(move || {
            go_rx.recv().unwrap();
            ch.send_blocking(5);
        });
        parked(h.id(), "chan receive").await;
        not_stuck(h.id());
        go_tx.send(()).unwrap();
        assert_eq!(h.await.unwrap(), Some(5));
        t.join().unwrap();
    });
}

/// A goroutine receives, through its own handle, from a channel a pending
/// timer will send on (the timer holds the other handle).
#[test]
fn channel_a_pending_timer_will_send_on() {
    goro::run(async {
        let t = goro::time::after(Duration::from_millis(300));
        let h = goro::go!(async move { t.recv().await.is_some() });
        parked(h.id(), "chan receive").await;
        not_stuck(h.id());
        assert!(h.await.unwrap());
    });
}

/// A channel inside shared state (an `Arc`) that a running goroutine (main)
/// also holds: the waiter's handle is not in its own future.
#[test]
fn channel_in_an_arc_held_by_a_running_goroutine() {
    goro::run(async {
        struct State {
            ch: Chan<i32>,
        }
        let state = std::sync::Arc::new(State { ch: make(0) });
        let s = state.clone();
        let h = goro::go!(async move { s.ch.recv().await });
        parked(h.id(), "chan receive").await;
        not_stuck(h.id());
        state.ch.send(3).await;
        assert_eq!(h.await.unwrap(), Some(3));
    });
}

/// A handle in a global (a static) that main uses later, while the waiter
/// holds the other one in its own future.
#[test]
fn handle_in_a_static_used_later() {
    static LATER: OnceLock<Chan<i32>> = OnceLock::new();
    goro::run(async {
        let ch = make::<i32>(0);
        LATER.set(ch.clone()).unwrap();
        let h = goro::go!(async move { ch.recv().await });
        parked(h.id(), "chan receive").await;
        not_stuck(h.id());
        LATER.get().unwrap().send(9).await;
        assert_eq!(h.await.unwrap(), Some(9));
    });
}

/// Two goroutines parked on one channel through their own handles, while
/// a third (running) holds another handle: not stuck; once the third drops
/// its handle, both are.
#[test]
#[cfg_attr(
    goro_no_tracking,
    ignore = "needs handle tracking (goro_hook::HANDLE_TRACKING)"
)]
fn waiters_are_stuck_only_once_the_last_other_holder_drops() {
    goro::run(async {
        let ch = make::<i32>(0);
        let (a, b) = (ch.clone(), ch.clone());
        let ha = goro::go!(async move { a.recv().await });
        let hb = goro::go!(async move { b.recv().await });
        parked(ha.id(), "chan receive").await;
        parked(hb.id(), "chan receive").await;
        not_stuck(ha.id());
        not_stuck(hb.id());
        drop(ch);
        let stuck: Vec<_> = leak::find_stuck().iter().map(|g| g.id).collect();
        assert!(
            stuck.contains(&ha.id()) && stuck.contains(&hb.id()),
            "{stuck:?}"
        );
        let report = leak::verify_none_with(Options::new().grace(Duration::ZERO)).unwrap_err();
        let text = report.to_string();
        assert!(
            text.contains("every handle of the channel lies inside the futures of the goroutines parked on it")
                && text.contains("the last other handle was dropped by goroutine 1 (created at")
                && text.contains(", which is still alive"),
            "{text}"
        );
    });
}

/// A goroutine selecting between a channel only two parked goroutines hold
/// and one main still holds: main can wake the selector, which then
/// receives from the other one. Neither is stuck.
#[test]
fn select_peer_that_main_can_wake() {
    goro::run(async {
        let c1 = make::<i32>(0);
        let (c1a, c1b) = (c1.clone(), c1.clone());
        drop(c1);
        let c2 = make::<i32>(0);
        let c2b = c2.clone();
        let sender = goro::go!(async move { c1a.send(2).await });
        let selector = goro::go!(async move {
            goro::select! {
                _ = c2b.recv() => c1b.recv().await,
                _ = c1b.send(1) => None,
            }
        });
        parked(sender.id(), "chan send").await;
        parked(selector.id(), "select").await;
        not_stuck(sender.id());
        not_stuck(selector.id());
        c2.send(0).await;
        assert_eq!(selector.await.unwrap(), Some(2));
        sender.await.unwrap();
    });
}

/// A select with a future case (a long sleep) besides a channel only it
/// holds: the future may complete, so the select proves nothing.
#[test]
fn select_with_a_future_case() {
    goro::run(async {
        let gate = make::<()>(0);
        let g = gate.clone();
        let h = goro::go!(async move {
            let a = make::<i32>(0);
            goro::select! {
                v = a.recv() => v,
                _ = g.recv() => None,
                _ = goro::time::sleep(Duration::from_secs(3600)) => None,
            }
        });
        parked(h.id(), "select").await;
        not_stuck(h.id());
        gate.close();
        assert_eq!(h.await.unwrap(), None);
    });
}

/// Two cases of one select on the same handle, whose channel main also
/// holds: one handle inside the goroutine's future is not all of them.
#[test]
fn select_of_two_cases_on_one_handle_that_main_shares() {
    goro::run(async {
        let c = make::<i32>(0);
        let c2 = c.clone();
        let h = goro::go!(async move {
            goro::select! {
                v = c2.recv() => v,
                _ = c2.send(1) => Some(-1),
            }
        });
        parked(h.id(), "select").await;
        not_stuck(h.id());
        assert_eq!(c.recv().await, Some(1));
        assert_eq!(h.await.unwrap(), Some(-1));
    });
}
