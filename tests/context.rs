//! `goro::context`: Go's behaviour on a goro runtime, under tokio and on
//! plain threads.
//!
//! Ports of Go's tests are marked with their origin,
//! <https://github.com/golang/go/blob/master/src/context/context_test.go>
//! (`x_test.go` there): Go's `otherContext{c}` wrapper (a context that is
//! not one of the package's own) becomes a `with_value` layer, the nearest
//! thing here (contexts are not a trait).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use goro::chan::{make, TryRecvError};
use goro::context::{self, Context, Error, Key};

const VERY_LONG: Duration = Duration::from_secs(1000 * 3600);
/// Failure guard for waits that must complete (never a synchronisation sleep).
const GUARD: Duration = Duration::from_secs(20);

struct Wrap;
impl Key for Wrap {
    type Value = ();
}
/// Go's `otherContext{c}`.
fn other(c: &Context) -> Context {
    context::with_value(c, Wrap, ())
}

fn is_done(c: &Context) -> bool {
    c.done().try_recv() == Err(TryRecvError::Closed)
}

/// Waits (bounded) for `c` to be done, on a plain thread.
fn wait_done(c: &Context) {
    let done = c.done();
    let start = Instant::now();
    while done.try_recv() != Err(TryRecvError::Closed) {
        assert!(
            start.elapsed() < GUARD,
            "context not done after {GUARD:?}: {c:?}"
        );
        std::thread::yield_now();
    }
}

fn assert_send_sync<T: Send + Sync>() {}

#[test]
fn types_are_send_sync() {
    assert_send_sync::<Context>();
    assert_send_sync::<context::CancelFunc>();
    assert_send_sync::<context::CancelCauseFunc>();
    assert_send_sync::<context::StopFunc>();
    assert_send_sync::<Error>();
}

/// Go: TestBackground, TestTODO.
#[test]
fn background_and_todo() {
    for (c, name) in [
        (context::background(), "context.Background"),
        (context::todo(), "context.TODO"),
    ] {
        assert_eq!(format!("{c:?}"), name);
        assert!(c.done().is_nil_for_test());
        assert_eq!(c.err(), None);
        assert_eq!(c.deadline(), None);
    }
}

trait NilCheck {
    fn is_nil_for_test(&self) -> bool;
}
impl NilCheck for goro::chan::Receiver<()> {
    fn is_nil_for_test(&self) -> bool {
        *self == goro::chan::Receiver::nil()
    }
}

/// Go: TestWithCancel.
#[test]
fn with_cancel() {
    let (c1, cancel) = context::with_cancel(&context::background());
    assert_eq!(format!("{c1:?}"), "context.Background.WithCancel");
    let o = other(&c1);
    let (c2, _cancel2) = context::with_cancel(&o);
    let contexts = [c1, o, c2];
    for c in &contexts {
        assert!(!c.done().is_nil_for_test());
        assert_eq!(c.err(), None);
        assert_eq!(c.done().try_recv(), Err(TryRecvError::Empty));
    }
    cancel(); // Should propagate synchronously.
    for c in &contexts {
        assert!(is_done(c), "{c:?} not done");
        assert_eq!(c.err(), Some(Error::Canceled));
    }
}

fn test_deadline(c: &Context, name: &str) {
    wait_done(c);
    assert_eq!(c.err(), Some(Error::DeadlineExceeded), "{name}");
}

/// Go: TestDeadline.
#[test]
fn deadline() {
    let short = Duration::from_millis(1);
    let (c, _k1) = context::with_deadline(&context::background(), Instant::now() + short);
    assert!(
        format!("{c:?}").starts_with("context.Background.WithDeadline("),
        "{c:?}"
    );
    test_deadline(&c, "WithDeadline");

    let (c, _k2) = context::with_deadline(&context::background(), Instant::now() + short);
    test_deadline(&other(&c), "WithDeadline+otherContext");

    let (c, _k3) = context::with_deadline(&context::background(), Instant::now() + short);
    let (c, _k4) = context::with_deadline(&other(&c), Instant::now() + VERY_LONG);
    test_deadline(&c, "WithDeadline+otherContext+WithDeadline");

    let (c, _k5) = context::with_deadline(&context::background(), Instant::now() - short);
    test_deadline(&c, "WithDeadline+inthepast");

    let (c, _k6) = context::with_deadline(&context::background(), Instant::now());
    test_deadline(&c, "WithDeadline+now");
}

/// Go: TestTimeout.
#[test]
fn timeout() {
    let short = Duration::from_millis(1);
    let (c, _k1) = context::with_timeout(&context::background(), short);
    assert!(
        format!("{c:?}").starts_with("context.Background.WithDeadline("),
        "{c:?}"
    );
    test_deadline(&c, "WithTimeout");

    let (c, _k2) = context::with_timeout(&context::background(), short);
    test_deadline(&other(&c), "WithTimeout+otherContext");

    let (c, _k3) = context::with_timeout(&context::background(), short);
    let (c, _k4) = context::with_timeout(&other(&c), VERY_LONG);
    test_deadline(&c, "WithTimeout+otherContext+WithTimeout");
}

/// Go: TestCanceledTimeout.
#[test]
fn canceled_timeout() {
    let (c, _k1) = context::with_timeout(&context::background(), Duration::from_secs(1));
    let o = other(&c);
    let (c, cancel) = context::with_timeout(&o, Duration::from_secs(2));
    cancel(); // Should propagate synchronously.
    assert!(is_done(&c));
    assert_eq!(c.err(), Some(Error::Canceled));
}

/// A deadline earlier in the parent wins; the child reports it.
#[test]
fn deadline_is_the_earliest_in_the_chain() {
    let soon = Instant::now() + Duration::from_secs(10);
    let (p, _k1) = context::with_deadline(&context::background(), soon);
    let (c, _k2) = context::with_deadline(&p, soon + Duration::from_secs(10));
    assert_eq!(c.deadline(), Some(soon));
    let (c, _k3) = context::with_cancel(&other(&c));
    assert_eq!(c.deadline(), Some(soon));
    assert_eq!(context::without_cancel(&c).deadline(), None);
}

struct K1;
impl Key for K1 {
    type Value = Option<&'static str>;
}
struct K2;
impl Key for K2 {
    type Value = Option<&'static str>;
}
struct K3;
impl Key for K3 {
    type Value = Option<&'static str>;
}

/// Go: TestValues (a key set to nil there is a key set to `None` here).
#[test]
fn values() {
    fn get<K: Key<Value = Option<&'static str>>>(c: &Context) -> &'static str {
        c.value::<K>().copied().flatten().unwrap_or("")
    }
    fn check(c: &Context, nm: &str, v1: &str, v2: &str, v3: &str) {
        assert_eq!(
            (get::<K1>(c), get::<K2>(c), get::<K3>(c)),
            (v1, v2, v3),
            "{nm}"
        );
    }
    let c0 = context::background();
    check(&c0, "c0", "", "", "");

    let c1 = context::with_value(&context::background(), K1, Some("c1k1"));
    check(&c1, "c1", "c1k1", "", "");
    assert!(
        format!("{c1:?}").starts_with("context.Background.WithValue("),
        "{c1:?}"
    );

    let c2 = context::with_value(&c1, K2, Some("c2k2"));
    check(&c2, "c2", "c1k1", "c2k2", "");
    let c3 = context::with_value(&c2, K3, Some("c3k3"));
    check(&c3, "c3", "c1k1", "c2k2", "c3k3");
    let c4 = context::with_value(&c3, K1, None);
    check(&c4, "c4", "", "c2k2", "c3k3");

    let o0 = other(&context::background());
    check(&o0, "o0", "", "", "");
    let o1 = other(&context::with_value(
        &context::background(),
        K1,
        Some("c1k1"),
    ));
    check(&o1, "o1", "c1k1", "", "");
    let o2 = context::with_value(&o1, K2, Some("o2k2"));
    check(&o2, "o2", "c1k1", "o2k2", "");
    let o3 = other(&c4);
    check(&o3, "o3", "", "c2k2", "c3k3");
    let o4 = context::with_value(&o3, K3, None);
    check(&o4, "o4", "", "c2k2", "");

    // Values pass through cancel, deadline and without_cancel layers.
    let (c5, _k) = context::with_timeout(&c3, VERY_LONG);
    check(&context::without_cancel(&c5), "c5", "c1k1", "c2k2", "c3k3");
}

#[derive(Debug)]
struct MyErr(&'static str);
impl std::fmt::Display for MyErr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}
impl std::error::Error for MyErr {}

fn cause_text(c: &Context) -> Option<String> {
    context::cause(c).map(|e| e.to_string())
}

/// Go: TestCause (the table, case by case).
#[test]
fn cause_table() {
    let bg = context::background();
    let cause_err: context::Cause = Arc::new(MyErr("cause"));
    let canceled = Some("context canceled".to_string());
    let exceeded = Some("context deadline exceeded".to_string());
    let cause = Some("cause".to_string());

    // "Background"
    assert_eq!((bg.err(), cause_text(&bg)), (None, None));
    // "TODO"
    assert_eq!(cause_text(&context::todo()), None);
    // "WithCancel"
    let (c, cancel) = context::with_cancel(&bg);
    cancel();
    assert_eq!(
        (c.err(), cause_text(&c)),
        (Some(Error::Canceled), canceled.clone())
    );
    // "WithCancelCause"
    let (c, cancel) = context::with_cancel_cause(&bg);
    cancel.cancel_with_cause(Some(cause_err.clone()));
    assert_eq!(
        (c.err(), cause_text(&c)),
        (Some(Error::Canceled), cause.clone())
    );
    // "WithCancelCause nil"
    let (c, cancel) = context::with_cancel_cause(&bg);
    cancel.cancel_with_cause(None);
    assert_eq!(
        (c.err(), cause_text(&c)),
        (Some(Error::Canceled), canceled.clone())
    );
    // "WithCancelCause: parent cause before child"
    let (parent, cancel_parent) = context::with_cancel_cause(&bg);
    let (child, cancel_child) = context::with_cancel_cause(&parent);
    cancel_parent.cancel_with("parent cause");
    cancel_child.cancel_with_cause(Some(cause_err.clone()));
    assert_eq!(cause_text(&child), Some("parent cause".into()));
    // "WithCancelCause: parent cause after child"
    let (parent, cancel_parent) = context::with_cancel_cause(&bg);
    let (child, cancel_child) = context::with_cancel_cause(&parent);
    cancel_child.cancel_with_cause(Some(cause_err.clone()));
    cancel_parent.cancel_with("parent cause");
    assert_eq!(cause_text(&child), cause.clone());
    // "parent of WithCancelCause"
    let (parent, cancel) = context::with_cancel_cause(&bg);
    let (child, _k) = context::with_cancel(&parent);
    cancel.cancel_with_cause(Some(cause_err.clone()));
    assert_eq!(
        (child.err(), cause_text(&child)),
        (Some(Error::Canceled), cause.clone())
    );
    // "WithTimeout"
    let (c, _k) = context::with_timeout(&bg, Duration::ZERO);
    assert_eq!(
        (c.err(), cause_text(&c)),
        (Some(Error::DeadlineExceeded), exceeded.clone())
    );
    // "WithTimeout canceled"
    let (c, cancel) = context::with_timeout(&bg, VERY_LONG);
    cancel();
    assert_eq!(
        (c.err(), cause_text(&c)),
        (Some(Error::Canceled), canceled.clone())
    );
    // "WithTimeoutCause"
    let (c, _k) = context::with_timeout_cause(&bg, Duration::ZERO, cause_err.clone());
    assert_eq!(
        (c.err(), cause_text(&c)),
        (Some(Error::DeadlineExceeded), cause.clone())
    );
    // "WithTimeoutCause canceled"
    let (c, cancel) = context::with_timeout_cause(&bg, VERY_LONG, cause_err.clone());
    cancel();
    assert_eq!(
        (c.err(), cause_text(&c)),
        (Some(Error::Canceled), canceled.clone())
    );
    // "WithTimeoutCause stacked": the parent's deadline (and cause) wins
    let (p, _k1) = context::with_cancel_cause(&bg);
    let (p, _k2) = context::with_timeout_cause(&p, Duration::ZERO, cause_err.clone());
    let (c, _k3) = context::with_timeout_cause(&p, VERY_LONG, Arc::new(MyErr("other")));
    assert_eq!(
        (c.err(), cause_text(&c)),
        (Some(Error::DeadlineExceeded), cause.clone())
    );
    // "WithDeadlineCause"
    let (c, _k) = context::with_deadline_cause(&bg, Instant::now(), cause_err.clone());
    assert_eq!(
        (c.err(), cause_text(&c)),
        (Some(Error::DeadlineExceeded), cause.clone())
    );
    // "WithoutCancel"
    assert_eq!(cause_text(&context::without_cancel(&bg)), None);
    // "WithoutCancel canceled"
    let (c, cancel) = context::with_cancel_cause(&bg);
    cancel.cancel_with_cause(Some(cause_err.clone()));
    let w = context::without_cancel(&c);
    assert_eq!((w.err(), cause_text(&w)), (None, None));
    // "WithoutCancel timeout"
    let (c, _k) = context::with_timeout_cause(&bg, Duration::ZERO, cause_err);
    let w = context::without_cancel(&c);
    assert_eq!((w.err(), cause_text(&w)), (None, None));
}

/// Go: TestCauseRace. A reader that sees `err()` must see the cause.
#[test]
fn cause_race() {
    let (ctx, cancel) = context::with_cancel_cause(&context::background());
    let reader = {
        let ctx = ctx.clone();
        std::thread::spawn(move || {
            let start = Instant::now();
            while ctx.err().is_none() {
                assert!(start.elapsed() < GUARD);
                std::hint::spin_loop();
            }
            context::cause(&ctx)
                .expect("err() is set but cause is not")
                .to_string()
        })
    };
    cancel.cancel_with("race cause");
    assert_eq!(reader.join().unwrap(), "race cause");
}

/// Go: `WithoutCancel`'s documented behaviour (values kept, never done).
#[test]
fn without_cancel() {
    let (ctx, cancel) =
        context::with_cancel(&context::with_value(&context::background(), K1, Some("v")));
    let w = context::without_cancel(&ctx);
    assert!(format!("{w:?}").ends_with(".WithoutCancel"));
    cancel();
    assert!(w.done().is_nil_for_test());
    assert_eq!(w.err(), None);
    assert_eq!(w.value::<K1>(), Some(&Some("v")));
    // A child of a without_cancel context is cancelled only by itself.
    let (child, cancel_child) = context::with_cancel(&w);
    assert_eq!(child.err(), None);
    cancel_child();
    assert_eq!(child.err(), Some(Error::Canceled));
}

/// Go: TestAfterFuncCalledAfterCancel.
#[test]
fn after_func_called_after_cancel() {
    let (ctx, cancel) = context::with_cancel(&context::background());
    let donec = make::<()>(0);
    let d = donec.clone();
    let stop = context::after_func(&ctx, move || d.close());
    assert_eq!(
        donec.try_recv(),
        Err(TryRecvError::Empty),
        "after_func called before the context is done"
    );
    cancel();
    assert_eq!(donec.recv_blocking(), None);
    assert!(!stop(), "stop() = true, want false");
}

/// Go: TestAfterFuncCalledAfterTimeout.
#[test]
fn after_func_called_after_timeout() {
    let (ctx, _cancel) = context::with_timeout(&context::background(), Duration::from_millis(1));
    let donec = make::<()>(0);
    let d = donec.clone();
    let stop = context::after_func(&ctx, move || d.close());
    assert_eq!(donec.recv_blocking(), None);
    assert!(!stop());
}

/// Go: TestAfterFuncCalledImmediately.
#[test]
fn after_func_called_immediately() {
    let (ctx, cancel) = context::with_cancel(&context::background());
    cancel();
    let donec = make::<()>(0);
    let d = donec.clone();
    let stop = context::after_func(&ctx, move || d.close());
    assert_eq!(donec.recv_blocking(), None);
    assert!(!stop());
}

/// Go: TestAfterFuncNotCalledAfterStop.
#[test]
fn after_func_not_called_after_stop() {
    let (ctx, cancel) = context::with_cancel(&context::background());
    let called = Arc::new(AtomicBool::new(false));
    let c = called.clone();
    let stop = context::after_func(&ctx, move || c.store(true, Ordering::SeqCst));
    assert!(stop(), "stop() = false, want true");
    cancel();
    // A later after_func does run: once it has, the stopped one would have
    // been started by the same cancel walk, which ran before this call.
    let probe = make::<()>(0);
    let p = probe.clone();
    let _s = context::after_func(&ctx, move || p.close());
    assert_eq!(probe.recv_blocking(), None);
    assert!(
        !called.load(Ordering::SeqCst),
        "after_func called after stop"
    );
    assert!(!stop(), "stop() = true, want false (already stopped)");
}

/// Go: TestAfterFuncCalledAsynchronously: cancel returns while f blocks.
#[test]
fn after_func_called_asynchronously() {
    let (ctx, cancel) = context::with_cancel(&context::background());
    let gate = make::<()>(0);
    let started = make::<()>(0);
    let (g, s) = (gate.clone(), started.clone());
    let _stop = context::after_func(&ctx, move || {
        s.close();
        g.recv_blocking();
    });
    cancel(); // returns although f blocks
    assert_eq!(started.recv_blocking(), None);
    gate.close();
}

/// An after_func on a context that can never be done never runs, and its
/// stop reports that it kept it from running.
#[test]
fn after_func_on_background() {
    let stop = context::after_func(&context::background(), || unreachable!());
    assert!(stop());
    assert!(!stop());
}

/// Go: TestWithCancelCanceledParent (a child of a parent cancelled with a cause).
#[test]
fn child_of_a_done_parent_is_done() {
    let (parent, cancel) = context::with_cancel_cause(&context::background());
    cancel.cancel_with("gone");
    let (c, _k) = context::with_cancel(&other(&parent));
    assert!(is_done(&c));
    assert_eq!(c.err(), Some(Error::Canceled));
    assert_eq!(cause_text(&c), Some("gone".into()));
}

#[test]
fn dropping_the_cancel_func_cancels() {
    let (parent, _k) = context::with_cancel(&context::background());
    let c = {
        let (c, _cancel) = context::with_cancel(&parent);
        c
    };
    assert_eq!(c.err(), Some(Error::Canceled));
    assert_eq!(parent.err(), None);
}

// ---------------------------------------------------------------------------
// On a goro runtime.

/// Cancelling the root of a 1,000-deep chain wakes a goroutine parked on
/// the leaf's done channel in a `select!`.
#[test]
fn propagation_through_a_thousand_deep_chain() {
    goro::run(async {
        let (root, cancel) = context::with_cancel(&context::background());
        let mut cancels = Vec::new();
        let mut leaf = root.clone();
        for i in 0..1000 {
            let (c, f) = if i % 2 == 0 {
                context::with_cancel(&leaf)
            } else {
                context::with_timeout(&other(&leaf), VERY_LONG)
            };
            cancels.push(f);
            leaf = c;
        }
        let woke = make::<Option<Error>>(1);
        let (w, l) = (woke.clone(), leaf.clone());
        goro::go!(async move {
            goro::select! {
                _ = l.done() => w.send(l.err()).await,
            }
        });
        cancel();
        assert_eq!(woke.recv().await, Some(Some(Error::Canceled)));
        assert_eq!(leaf.err(), Some(Error::Canceled));
    });
}

/// 10,000 goroutines each parked on its own child of one root (and 10,000
/// more on the root itself) are all woken by one cancel.
#[test]
fn propagation_to_a_ten_thousand_wide_fan_out() {
    const N: usize = 10_000;
    goro::run(async {
        let (root, cancel) = context::with_cancel(&context::background());
        let report = make::<Error>(2 * N);
        let mut cancels = Vec::with_capacity(N);
        for _ in 0..N {
            let (child, f) = context::with_cancel(&root);
            cancels.push(f);
            for ctx in [child, root.clone()] {
                let r = report.clone();
                goro::go!(async move {
                    ctx.done().recv().await;
                    r.send(ctx.err().unwrap()).await;
                });
            }
        }
        cancel();
        for _ in 0..2 * N {
            assert_eq!(report.recv().await, Some(Error::Canceled));
        }
    });
}

/// A deadline fires no earlier than the deadline and within the timer
/// resolution (1 ms). One sample can be late by the scheduling delay of a
/// loaded machine, so the best of five must be within 1 ms + 4 ms of
/// slack; every sample must be on time or late, never early.
#[test]
fn deadline_fires_within_timer_resolution() {
    goro::run(async {
        for ms in [5u64, 20] {
            let d = Duration::from_millis(ms);
            let mut best = Duration::MAX;
            for _ in 0..5 {
                let start = Instant::now();
                let (ctx, _cancel) = context::with_timeout(&context::background(), d);
                goro::select! {
                    _ = ctx.done() => {}
                    _ = goro::time::after(GUARD) => panic!("deadline did not fire"),
                }
                let took = start.elapsed();
                assert!(took >= d, "fired early: {took:?} < {d:?}");
                assert_eq!(ctx.err(), Some(Error::DeadlineExceeded));
                best = best.min(took - d);
            }
            assert!(
                best < Duration::from_millis(5),
                "best of 5 late by {best:?} for {d:?}"
            );
        }
    });
}

#[test]
fn after_func_runs_as_a_goroutine() {
    goro::run(async {
        let (ctx, cancel) = context::with_cancel(&context::background());
        let id = make::<Option<goro::GoroutineId>>(1);
        let tx = id.clone();
        let _stop = context::after_func(&ctx, move || tx.try_send(goro::current_id()).unwrap());
        cancel();
        let got = id.recv().await.unwrap();
        assert!(got.is_some() && got != goro::current_id(), "{got:?}");
    });
}

/// Cancel safety: a `done()` receive dropped while parked (the losing case
/// of a select) loses nothing: the other waiters and a later receive still
/// see the close.
#[test]
fn a_dropped_done_wait_loses_nothing() {
    goro::run(async {
        let (ctx, cancel) = context::with_cancel(&context::background());
        let other = make::<()>(1);
        other.try_send(()).unwrap();
        // The done case loses to a ready channel: its registration is dropped.
        goro::select! {
            _ = ctx.done() => panic!("not cancelled yet"),
            _ = other.recv() => {}
        }
        let parked = ctx.done();
        let woke = make::<()>(1);
        let w = woke.clone();
        let c2 = ctx.clone();
        goro::go!(async move {
            c2.done().recv().await;
            w.send(()).await;
        });
        {
            // A receive polled once (registered) and then dropped.
            let mut f = std::pin::pin!(parked.recv());
            assert!(futures::poll!(f.as_mut()).is_pending());
        }
        cancel();
        assert_eq!(woke.recv().await, Some(()));
        assert_eq!(ctx.done().recv().await, None);
    });
}

// ---------------------------------------------------------------------------
// Under tokio and on plain threads.

#[test]
fn under_tokio() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (root, cancel) = context::with_cancel(&context::background());
        let mut tasks = Vec::new();
        for _ in 0..100 {
            let (child, k) = context::with_timeout(&root, VERY_LONG);
            tasks.push(tokio::spawn(async move {
                let _k = k;
                let done = child.done();
                tokio::select! {
                    _ = done.recv() => child.err(),
                    _ = tokio::time::sleep(GUARD) => None,
                }
            }));
        }
        cancel();
        for t in tasks {
            assert_eq!(t.await.unwrap(), Some(Error::Canceled));
        }
        // A deadline fires under tokio too (the fallback timer).
        let start = Instant::now();
        let (ctx, _k) = context::with_timeout(&context::background(), Duration::from_millis(10));
        ctx.done().recv().await;
        assert!(start.elapsed() >= Duration::from_millis(10));
        assert_eq!(ctx.err(), Some(Error::DeadlineExceeded));
        // after_func off a goro runtime runs on its own thread.
        let (ctx, cancel) = context::with_cancel(&context::background());
        let ran = make::<()>(1);
        let r = ran.clone();
        let _s = context::after_func(&ctx, move || r.try_send(()).unwrap());
        cancel();
        assert_eq!(ran.recv().await, Some(()));
    });
}

#[test]
fn on_plain_threads() {
    let (root, cancel) = context::with_cancel(&context::background());
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let (c, k) = context::with_cancel(&root);
            std::thread::spawn(move || {
                let _k = k;
                assert_eq!(c.done().recv_blocking(), None);
                c.err()
            })
        })
        .collect();
    cancel();
    for t in threads {
        assert_eq!(t.join().unwrap(), Some(Error::Canceled));
    }
    let (ctx, _k) = context::with_timeout(&context::background(), Duration::from_millis(5));
    assert_eq!(ctx.done().recv_blocking(), None);
    assert_eq!(ctx.err(), Some(Error::DeadlineExceeded));
}
