//! `goro::sync::errgroup`: Go's x/sync behaviour, on a goro runtime, under
//! tokio and on plain threads.
//!
//! Ports of x/sync's tests are marked with their origin,
//! <https://github.com/golang/sync/blob/master/errgroup/errgroup_test.go>.

use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};
use std::sync::Arc;

use goro::chan::make;
use goro::context::{self, Error};
use goro::runtime::{PanicPolicy, Runtime, RuntimeError};
use goro::sync::errgroup::{Group, Member};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct E(u32);

fn assert_send_sync<T: Send + Sync + Clone>() {}

#[test]
fn group_is_send_sync_clone() {
    assert_send_sync::<Group<E>>();
    assert_send_sync::<Group<std::io::Error>>();
}

/// x/sync: TestZeroGroup. Only the first error counts (`errOnce`); here
/// `wait` hands it to the first waiter, so a later `wait` that has seen it
/// returns `Ok` where Go's returns the same error again.
#[test]
fn zero_group() {
    let (err1, err2) = (E(1), E(2));
    let cases: [&[Option<E>]; 5] = [
        &[],
        &[None],
        &[Some(err1)],
        &[Some(err1), None],
        &[Some(err1), None, Some(err2)],
    ];
    goro::run(async move {
        for errs in cases {
            let g = Group::<E>::new();
            let mut first: Option<E> = None;
            let mut reported = false;
            for &err in errs {
                g.go(async move { err.map_or(Ok(()), Err) }).await;
                if first.is_none() {
                    first = err;
                }
                let got = g.wait().await.err();
                if reported {
                    assert_eq!(got, None, "after the first error was reported");
                } else {
                    assert_eq!(got, first, "errs {errs:?}");
                    reported = got.is_some();
                }
            }
        }
    });
}

/// x/sync: TestWithContext: the context is done after `wait`, and the first
/// error is returned.
#[test]
fn with_context() {
    let err1 = E(1);
    let cases: [(&[Option<E>], Option<E>); 4] = [
        (&[], None),
        (&[None], None),
        (&[Some(err1)], Some(err1)),
        (&[Some(err1), None], Some(err1)),
    ];
    goro::run(async move {
        for (errs, want) in cases {
            let (g, ctx) = Group::<E>::with_context(&context::background());
            for &err in errs {
                g.go(async move { err.map_or(Ok(()), Err) }).await;
            }
            assert_eq!(g.wait().await.err(), want, "errs {errs:?}");
            assert!(ctx.err().is_some(), "ctx.done() not closed after wait");
        }
    });
}

/// x/sync: TestTryGo.
#[test]
fn try_go() {
    goro::run(async {
        let g = Group::<E>::new();
        let n = 42;
        g.set_limit(42);
        let ch = make::<()>(0);
        let f = |ch: goro::chan::Chan<()>| async move {
            ch.send(()).await;
            Ok(())
        };
        for i in 0..n {
            assert!(
                g.try_go(f(ch.clone())),
                "TryGo should succeed but got fail at {i}-th call."
            );
        }
        assert!(
            !g.try_go(f(ch.clone())),
            "TryGo is expected to fail but succeeded."
        );
        let c = ch.clone();
        goro::go!(async move {
            for _ in 0..n {
                c.recv().await;
            }
        });
        g.wait().await.unwrap();
        assert!(
            g.try_go(f(ch.clone())),
            "TryGo should succeed after all goroutines."
        );
        let c = ch.clone();
        goro::go!(async move { c.recv().await });
        g.wait().await.unwrap();

        // Switch limit.
        g.set_limit(1);
        assert!(
            g.try_go(f(ch.clone())),
            "TryGo should succeed after the limit changed."
        );
        assert!(
            !g.try_go(f(ch.clone())),
            "TryGo is expected to fail but succeeded."
        );
        let c = ch.clone();
        goro::go!(async move { c.recv().await });
        g.wait().await.unwrap();

        // Block all calls.
        g.set_limit(0);
        for _ in 0..1 << 10 {
            assert!(
                !g.try_go(f(ch.clone())),
                "TryGo should fail but got succeeded."
            );
        }
        g.wait().await.unwrap();
    });
}

/// x/sync: TestGoLimit (a `yield_now` instead of Go's 1µs sleep gives the
/// others a chance to run).
#[test]
fn go_limit() {
    const LIMIT: i32 = 10;
    let run = |workers: usize| {
        Runtime::builder()
            .workers(workers)
            .build()
            .unwrap()
            .block_on(async {
                let g = Group::<String>::new();
                g.set_limit(LIMIT as isize);
                let active = Arc::new(AtomicI32::new(0));
                for _ in 0..=1 << 10 {
                    let active = active.clone();
                    g.go(async move {
                        let n = active.fetch_add(1, Ordering::SeqCst) + 1;
                        if n > LIMIT {
                            return Err(format!("saw {n} active goroutines; want ≤ {LIMIT}"));
                        }
                        goro::yield_now().await;
                        active.fetch_sub(1, Ordering::SeqCst);
                        Ok(())
                    })
                    .await;
                }
                g.wait().await
            })
            .unwrap()
    };
    run(1).unwrap();
    run(2).unwrap();
}

/// `set_limit` while members are active panics with x/sync's `SetLimit` text.
#[test]
fn set_limit_while_active_panics() {
    goro::run(async {
        let g = Group::<E>::new();
        g.set_limit(2);
        let gate = make::<()>(0);
        let r = gate.clone();
        g.go(async move {
            r.recv().await;
            Ok(())
        })
        .await;
        let g2 = g.clone();
        let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || g2.set_limit(3)))
            .unwrap_err();
        assert_eq!(
            err.downcast_ref::<String>().map(String::as_str),
            Some("errgroup: modify limit while 1 goroutines in the group are still active")
        );
        gate.close();
        g.wait().await.unwrap();
    });
}

/// The first error cancels the group's context: every sibling parked on
/// it wakes with `Canceled`, and `wait` returns that first error.
#[test]
fn first_error_cancels_siblings() {
    goro::run(async {
        let (g, ctx) = Group::<E>::with_context(&context::background());
        let saw_cancel = Arc::new(AtomicUsize::new(0));
        for _ in 0..100 {
            let (ctx, saw) = (ctx.clone(), saw_cancel.clone());
            g.go(async move {
                ctx.done().recv().await;
                if ctx.err() == Some(Error::Canceled) {
                    saw.fetch_add(1, Ordering::SeqCst);
                }
                Ok(())
            })
            .await;
        }
        g.go(async { Err(E(7)) }).await;
        // A later error does not replace the first.
        let c = ctx.clone();
        g.go(async move {
            c.done().recv().await;
            Err(E(8))
        })
        .await;
        assert_eq!(g.wait().await, Err(E(7)));
        assert_eq!(saw_cancel.load(Ordering::SeqCst), 100);
    });
}

/// A panicking member under the default policy stops the runtime, as an
/// unrecovered panic in a Go goroutine does (x/sync's current behaviour).
#[test]
fn panicking_member_stops_the_runtime() {
    let rt = Runtime::builder().build().unwrap();
    let err = rt
        .block_on(async {
            let g = Group::<E>::new();
            g.go(async { panic!("member boom") }).await;
            let _ = g.wait().await;
            std::future::pending::<()>().await
        })
        .unwrap_err();
    match err {
        RuntimeError::GoroutinePanic { message, .. } => assert_eq!(message, "member boom"),
        other => panic!("unexpected {other}"),
    }
}

/// Where a panic does not stop the program, it is not swallowed: the
/// group's context is cancelled and `wait` panics with its message after
/// the other members end.
#[test]
fn panicking_member_is_reported_by_wait() {
    let rt = Runtime::builder()
        .on_goroutine_panic(PanicPolicy::Ignore)
        .build()
        .unwrap();
    rt.block_on(async {
        let (g, ctx) = Group::<E>::with_context(&context::background());
        let c = ctx.clone();
        g.go(async move {
            c.done().recv().await;
            Ok(())
        })
        .await;
        g.go(async { panic!("member boom") }).await;
        let waiter = goro::spawn(async move { g.wait().await });
        let err = waiter.await.unwrap_err();
        assert!(err.is_panic());
        let payload = err.into_panic();
        assert_eq!(
            payload.downcast_ref::<String>().map(String::as_str),
            Some("member boom")
        );
        assert_eq!(context::cause(&ctx).unwrap().to_string(), "member boom");
    })
    .unwrap();
}

/// Cancel safety: a `go` dropped while parked at the limit starts nothing
/// and takes no slot; a dropped `wait` loses nothing.
#[test]
fn dropped_waits_lose_nothing() {
    goro::run(async {
        let g = Group::<E>::new();
        g.set_limit(1);
        let gate = make::<()>(0);
        let r = gate.clone();
        g.go(async move {
            r.recv().await;
            Ok(())
        })
        .await;
        let started = Arc::new(AtomicUsize::new(0));
        {
            let s = started.clone();
            let mut parked = std::pin::pin!(g.go(async move {
                s.fetch_add(1, Ordering::SeqCst);
                Ok(())
            }));
            assert!(futures::poll!(parked.as_mut()).is_pending());
            let mut w = std::pin::pin!(g.wait());
            assert!(futures::poll!(w.as_mut()).is_pending());
        }
        gate.close();
        g.wait().await.unwrap();
        assert_eq!(started.load(Ordering::SeqCst), 0);
        // The slot is free: one more fits, and runs.
        let s = started.clone();
        assert!(g.try_go(async move {
            s.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }));
        g.wait().await.unwrap();
        assert_eq!(started.load(Ordering::SeqCst), 1);
    });
}

fn tokio_spawn(m: Member) {
    drop(tokio::spawn(m));
}

#[test]
fn under_tokio() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (g, ctx) = Group::<E>::with_context(&context::background());
        g.set_limit(4);
        let sum = Arc::new(AtomicUsize::new(0));
        for i in 0..16 {
            let sum = sum.clone();
            let member = async move {
                sum.fetch_add(i, Ordering::SeqCst);
                Ok(())
            };
            g.go_with(member, tokio_spawn).await;
        }
        let c = ctx.clone();
        let sibling = async move {
            c.done().recv().await;
            Err(E(2))
        };
        g.go_with(sibling, tokio_spawn).await;
        g.go_with(async { Err(E(1)) }, tokio_spawn).await;
        assert_eq!(g.wait().await, Err(E(1)));
        assert_eq!(sum.load(Ordering::SeqCst), (0..16).sum());
    });
}

#[test]
fn on_plain_threads() {
    let g = Group::<E>::new();
    let gate = make::<()>(0);
    let r = gate.clone();
    let thread_spawn = |m: Member| drop(std::thread::spawn(move || futures::executor::block_on(m)));
    futures::executor::block_on(g.go_with(
        async move {
            r.recv().await;
            Err(E(3))
        },
        thread_spawn,
    ));
    let t = {
        let g = g.clone();
        std::thread::spawn(move || futures::executor::block_on(g.wait()))
    };
    gate.close();
    assert_eq!(t.join().unwrap(), Err(E(3)));
}
