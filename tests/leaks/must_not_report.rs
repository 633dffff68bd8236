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
