//! `goro::leak::verify_none` and the end-of-test check of `#[goro::test]`.

use std::time::Duration;

use goro::chan::make;
use goro::leak::{self, Options};

#[test]
fn verify_none_passes_once_goroutines_finish() {
    goro::run(async {
        let ch = make::<i32>(0);
        let c = ch.clone();
        goro::go!(async move {
            c.send(1).await;
        });
        assert_eq!(ch.recv().await, Some(1));
        // The sender may still be finishing: the grace period covers it.
        leak::verify_none_async(Options::new()).await.unwrap();
        leak::verify_none().unwrap();
    });
}

#[test]
fn verify_none_reports_a_parked_sender() {
    goro::run(async {
        let ch = make::<i32>(0);
        let c = ch.clone();
        let h = goro::go!(async move {
            c.send(1).await;
        });
        let err =
            leak::verify_none_with(Options::new().grace(Duration::from_millis(20))).unwrap_err();
        let gs = err.goroutines();
        assert_eq!(gs.len(), 1);
        assert_eq!(gs[0].id, h.id());
        assert_eq!(gs[0].wait_reason, "chan send");
        assert!(gs[0]
            .parked_at
            .as_deref()
            .unwrap()
            .starts_with("tests/leak_check.rs:"));
        assert!(gs[0].created_at.starts_with("tests/leak_check.rs:"));
        assert_eq!(gs[0].created_by.unwrap().as_u64(), 1);
        // main may still send: not provably forever.
        assert!(!gs[0].forever);
        let text = err.to_string();
        assert!(
            text.starts_with(&format!(
                "goroutine {} [chan send]:\n    parked at tests/leak_check.rs:",
                h.id()
            )),
            "{text}"
        );
        assert!(leak::find_stuck().is_empty());
        assert_eq!(ch.recv().await, Some(1));
        h.await.unwrap();
    });
}

#[test]
fn options_ignore_current_and_spawn_site() {
    goro::run(async {
        let old = make::<()>(0);
        let o = old.clone();
        goro::go!(async move { o.recv().await });
        let opts = Options::new()
            .ignore_current()
            .grace(Duration::from_millis(10));
        assert!(leak::verify_none_with(opts.clone()).is_ok());
        let new = make::<()>(0);
        let n = new.clone();
        goro::go!(async move { n.recv().await });
        assert!(leak::verify_none_with(opts.clone()).is_err());
        assert!(leak::verify_none_with(opts.ignore_spawned_at("leak_check.rs")).is_ok());
        old.close();
        new.close();
    });
}

#[test]
fn goro_test_reports_leaks_and_marks_forever() {
    // `#[goro::test]`'s entry, called directly to look at its failure.
    let r = std::panic::catch_unwind(|| {
        goro::__private::test_entry(async {
            let ch = make::<i32>(0);
            let c = ch.clone();
            goro::go!(async move { c.send(5).await });
            drop(ch);
        })
    });
    let msg = r.unwrap_err();
    let msg = msg.downcast_ref::<String>().unwrap();
    assert!(
        msg.starts_with("goro::test: 1 goroutine(s) still alive at the end of the test (1 parked forever):\n\ngoroutine 2 [chan send]:"),
        "{msg}"
    );
    assert!(msg.contains("    parked forever: "), "{msg}");
}

/// The `parked forever` line of a goroutine that holds the only handle of
/// its channel names the missing other end, and the creator that left.
#[test]
#[cfg_attr(
    goro_no_tracking,
    ignore = "needs handle tracking (goro_hook::HANDLE_TRACKING)"
)]
fn report_names_the_other_end_of_an_exclusive_channel() {
    goro::run(async {
        let mid = goro::go!(async {
            goro::go!(async {
                let ch = make::<i32>(0);
                ch.send(1).await;
            })
            .id()
        });
        let mid_id = mid.id();
        let leaked = mid.await.unwrap(); // its creator has exited
                                         // Bounded wait (no sleep) until it is parked and proved stuck.
        for _ in 0..100_000 {
            if leak::find_stuck().iter().any(|g| g.id == leaked) {
                break;
            }
            goro::yield_now().await;
        }
        let err = leak::verify_none_async(Options::new().grace(Duration::from_millis(10)))
            .await
            .unwrap_err();
        let text = err.to_string();
        let line = format!(
            "    parked forever: nobody can ever receive from this channel: it holds the \
             channel's only handle, inside its own future; goroutine {mid_id}, which created \
             it, has exited\n"
        );
        assert!(
            text.contains(&format!("goroutine {leaked} [chan send]:\n")),
            "{text}"
        );
        assert!(text.ends_with(&line), "{text}\nexpected the line:\n{line}");
    });
}

/// At the end of a `#[goro::test]` body, the line says why and names the
/// other goroutines parked on the same object (the mutex waiters, by the
/// closed world) or the goroutines holding the channel's handles and who
/// dropped the last other one (the receivers).
#[test]
#[cfg_attr(
    goro_no_tracking,
    ignore = "needs handle tracking (goro_hook::HANDLE_TRACKING)"
)]
fn report_names_the_goroutines_stuck_on_the_same_object() {
    // The main goroutine's spawn site: the `test_entry` call below.
    let main_at = format!("tests/leak_check.rs:{}:9", line!() + 2);
    let r = std::panic::catch_unwind(|| {
        goro::__private::test_entry(async {
            let ch = make::<i32>(0);
            let (a, b) = (ch.clone(), ch.clone());
            goro::go!(async move { a.recv().await });
            goro::go!(async move { b.recv().await });
            drop(ch);
            let m = std::sync::Arc::new(goro::sync::Mutex::new(()));
            std::mem::forget(m.try_lock().unwrap()); // locked for good
            let (m1, m2) = (m.clone(), m);
            goro::go!(async move { drop(m1.lock().await) });
            goro::go!(async move { drop(m2.lock().await) });
        })
    });
    let msg = r.unwrap_err();
    let msg = msg.downcast_ref::<String>().unwrap();
    let world = "every goroutine left is parked for good, and no timer, IO, blocking job or \
                 outside thread remains";
    // The channel's every handle lies in its two receivers' futures: proved
    // without the closed world, naming who dropped the last other handle.
    let chan = |_other| {
        format!(
            "nobody can ever send on or close this channel: every handle of the channel \
             lies inside the futures of the goroutines parked on it (goroutines 2, 3); the \
             last other handle was dropped by goroutine 1 (created at {main_at}), which is \
             still alive"
        )
    };
    let mutex = |other| {
        format!(
            "nothing can ever wake it: {world}; also parked on this sync.Mutex: goroutine \
             {other} [sync.Mutex.Lock]"
        )
    };
    for (me, why) in [(2, chan(3)), (3, chan(2)), (4, mutex(5)), (5, mutex(4))] {
        let line = format!("    parked forever: {why}");
        let block = msg
            .split("\n\n")
            .find(|b| b.starts_with(&format!("goroutine {me} ")));
        assert!(
            block.is_some_and(|b| b.trim_end().ends_with(&line)),
            "{msg}\nexpected:\n{line}"
        );
    }
}

#[test]
fn goro_test_does_not_mark_forever_what_a_timer_may_wake() {
    let r = std::panic::catch_unwind(|| {
        goro::__private::test_entry(async {
            let ch = make::<i32>(0);
            let c = ch.clone();
            goro::go!(async move { c.recv().await });
            goro::go!(async move {
                goro::time::sleep(Duration::from_secs(3)).await;
                ch.send(1).await;
            });
        })
    });
    let msg = r.unwrap_err();
    let msg = msg.downcast_ref::<String>().unwrap();
    assert!(msg.contains("(0 parked forever)"), "{msg}");
}

#[goro::test]
async fn goro_test_passes_clean() {
    let ch = make::<i32>(1);
    let c = ch.clone();
    let h = goro::go!(async move { c.send(3).await });
    assert_eq!(ch.recv().await, Some(3));
    h.await.unwrap();
}

#[test]
fn goro_test_fails_on_a_panicking_goroutine() {
    let r = std::panic::catch_unwind(|| {
        goro::__private::test_entry(async {
            let h = goro::go!(async { panic!("boom") });
            let _ = h.await;
        })
    });
    let msg = r.unwrap_err();
    let msg = msg.downcast_ref::<String>().unwrap();
    assert!(
        msg.starts_with("panic: boom\n\ngoroutine 2 [running]:"),
        "{msg}"
    );
}

#[test]
fn goro_test_fails_on_deadlock() {
    let r = std::panic::catch_unwind(|| {
        goro::__private::test_entry(async { make::<()>(0).recv().await })
    });
    let msg = r.unwrap_err();
    let msg = msg.downcast_ref::<String>().unwrap();
    assert!(
        msg.starts_with("fatal error: all goroutines are asleep - deadlock!"),
        "{msg}"
    );
}

/// Waits (bounded) until `cond` holds on the runtime's goroutines.
async fn until(mut cond: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(std::time::Instant::now() < deadline, "timed out");
        goro::yield_now().await;
    }
}

#[test]
#[cfg_attr(
    goro_no_tracking,
    ignore = "needs handle tracking (goro_hook::HANDLE_TRACKING)"
)]
fn find_stuck_while_running_only_the_sole_holder() {
    goro::run(async {
        // Sole holder: the goroutine's own handle is the channel's only one.
        let alone = goro::go!(async {
            let ch = make::<i32>(0);
            ch.send(1).await;
        });
        // Not alone: main keeps a handle and may still receive.
        let shared = make::<i32>(0);
        let s = shared.clone();
        let sharer = goro::go!(async move { s.send(2).await });
        // Not inside its future: the only handle lives in an Arc others may hold.
        let boxed = std::sync::Arc::new(make::<i32>(0));
        let b = boxed.clone();
        let in_arc = goro::go!(async move { b.send(3).await });
        until(|| {
            goro::runtime::snapshot()
                .iter()
                .filter(|g| g.wait_reason() == "chan send")
                .count()
                == 3
        })
        .await;
        let stuck = leak::find_stuck();
        assert_eq!(stuck.len(), 1, "{stuck:?}");
        assert_eq!(stuck[0].id, alone.id());
        assert!(stuck[0].forever);
        // The others are woken, so they were rightly not called stuck.
        assert_eq!(shared.recv().await, Some(2));
        assert_eq!(boxed.recv().await, Some(3));
        sharer.await.unwrap();
        in_arc.await.unwrap();
        drop(alone);
    });
}

#[test]
fn a_clone_made_before_parking_is_not_forever() {
    goro::run(async {
        let (tx, rx) = (make::<goro::chan::Chan<i32>>(1), make::<()>(0));
        let r2 = rx.clone();
        let h = goro::go!(async move {
            let ch = make::<i32>(0);
            // Gives a clone away, then waits: the other side can answer.
            tx.send(ch.clone()).await;
            r2.close();
            ch.recv().await
        });
        rx.recv().await;
        until(|| {
            goro::runtime::snapshot()
                .iter()
                .any(|g| g.wait_reason() == "chan receive")
        })
        .await;
        assert!(leak::find_stuck().is_empty());
        drop(h);
    });
}

/// Waits (bounded) until goroutine `id` is parked for `reason`.
async fn parked_for(id: goro::GoroutineId, reason: &str) {
    until(|| {
        goro::runtime::snapshot()
            .iter()
            .any(|g| g.id == id && g.wait_reason() == reason)
    })
    .await;
}

/// A select whose every channel case goes through a handle inside the
/// goroutine's own future, of channels nobody else holds: stuck while the
/// program runs.
#[test]
#[cfg_attr(
    goro_no_tracking,
    ignore = "needs handle tracking (goro_hook::HANDLE_TRACKING)"
)]
fn select_on_channels_only_it_holds_is_stuck_while_running() {
    goro::run(async {
        let h = goro::go!(async {
            let (a, b) = (make::<i32>(0), make::<i32>(0));
            goro::select! {
                v = a.recv() => v,
                _ = b.send(1) => None,
            }
        });
        parked_for(h.id(), "select").await;
        let stuck = leak::find_stuck();
        assert_eq!(stuck.len(), 1, "{stuck:?}");
        assert_eq!(stuck[0].id, h.id());
        assert!(stuck[0].forever);
        let now = leak::Options::new().grace(Duration::ZERO);
        let report = leak::verify_none_with(now).unwrap_err();
        assert!(
            report.to_string().contains(
                "parked forever: nothing can ever wake it: it holds every handle of each of \
                 the 2 channels its cases wait on, inside its own future"
            ),
            "{report}"
        );
        drop(h);
    });
}

/// Two goroutines that only each other could wake, through channels whose
/// every handle lies inside their futures: one sends on `c1`, the other
/// selects between sending on `c1` and receiving from `c2`, which only it
/// holds. Neither can ever run again: both proved while the program runs
/// (the fixpoint of rule 2).
#[test]
#[cfg_attr(
    goro_no_tracking,
    ignore = "needs handle tracking (goro_hook::HANDLE_TRACKING)"
)]
fn goroutines_that_only_each_other_could_wake_are_stuck_together() {
    goro::run(async {
        let c1 = make::<i32>(0);
        let (c1a, c1b) = (c1.clone(), c1.clone());
        drop(c1);
        let sender = goro::go!(async move { c1a.send(2).await });
        let selector = goro::go!(async move {
            let c2 = make::<i32>(0);
            goro::select! {
                _ = c2.recv() => {},
                _ = c1b.send(1) => {},
            }
        });
        parked_for(sender.id(), "chan send").await;
        parked_for(selector.id(), "select").await;
        let mut stuck: Vec<_> = leak::find_stuck().iter().map(|g| g.id).collect();
        stuck.sort();
        assert_eq!(stuck, [sender.id(), selector.id()]);
        let now = leak::Options::new().grace(Duration::ZERO);
        let report = leak::verify_none_with(now).unwrap_err();
        let text = report.to_string();
        assert!(
            text.contains(&format!(
                "every handle of the channel lies inside the futures of the goroutines parked \
                 on it (goroutines {}, {})",
                sender.id(),
                selector.id()
            )),
            "{report}"
        );
        assert!(
            text.contains(&format!(
                "every handle of each of the 2 channels its cases wait on lies inside the \
                 futures of goroutines parked on them (goroutines {}, {})",
                sender.id(),
                selector.id()
            )),
            "{report}"
        );
        drop((sender, selector));
    });
}
