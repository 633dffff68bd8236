//! Ports from Go's `src/sync/once_test.go` and `oncefunc_test.go`.
//!
//! Ported: `TestOnce`, `TestOncePanic`, `TestOnceValue` (value and single
//! call), `TestOnceValuePanic` (every call panics with the same message).
//! Not ported: the allocation counts of `oncefunc_test.go` (Go's closures),
//! `TestOnceXGC` (garbage collection of the function).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use goro::chan::make;
use goro::sync::{Once, OnceValue};

use crate::common::{go, panic_message, run};

/// Go: `TestOnce`.
#[test]
fn test_once() {
    run(async {
        let o = Arc::new(AtomicUsize::new(0));
        let once = Arc::new(Once::new());
        let c = make::<bool>(0);
        const N: usize = 10;
        for _ in 0..N {
            let (o, once, c) = (o.clone(), once.clone(), c.clone());
            go(async move {
                once.call_once(|| {
                    o.fetch_add(1, Ordering::SeqCst);
                })
                .await;
                let v = o.load(Ordering::SeqCst);
                assert_eq!(v, 1, "once failed inside run: {v} is not 1");
                c.send(true).await;
            });
        }
        for _ in 0..N {
            c.recv().await;
        }
        assert_eq!(o.load(Ordering::SeqCst), 1, "once failed outside run");
    });
}

/// Go: `TestOncePanic`: a panicking f counts as done.
#[test]
fn test_once_panic() {
    let once = Once::new();
    let msg = panic_message(|| once.call_once_blocking(|| panic!("failed")));
    assert_eq!(msg.as_deref(), Some("failed"), "Once.Do did not panic");
    once.call_once_blocking(|| panic!("Once.Do called twice"));
}

/// Go: `TestOnceValue`.
#[test]
fn test_once_value() {
    run(async {
        let calls = Arc::new(AtomicUsize::new(0));
        let f = Arc::new(OnceValue::new());
        let c = make::<usize>(0);
        for _ in 0..10 {
            let (calls, f, c) = (calls.clone(), f.clone(), c.clone());
            go(async move {
                let v = *f
                    .get_or_init(|| async {
                        goro::yield_now().await;
                        calls.fetch_add(1, Ordering::SeqCst) + 1
                    })
                    .await;
                c.send(v).await;
            });
        }
        for _ in 0..10 {
            assert_eq!(c.recv().await, Some(1));
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1, "want calls==1");
    });
}

/// Go: `TestOnceValuePanic`: every call panics with the init's panic.
#[test]
fn test_once_value_panic() {
    let calls = AtomicUsize::new(0);
    let f: OnceValue<i32> = OnceValue::new();
    let call = || {
        goro::chan::__block_on(f.get_or_init(|| async {
            calls.fetch_add(1, Ordering::SeqCst);
            panic!("x")
        }));
    };
    assert_eq!(panic_message(call).as_deref(), Some("x"));
    assert_eq!(
        panic_message(call).as_deref(),
        Some("x"),
        "the second call panics too"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1, "the init ran once");
}

/// A panicking async init is reported to the goroutines already waiting.
#[test]
fn once_value_panic_reaches_waiters() {
    use futures::FutureExt;
    use std::panic::AssertUnwindSafe;

    fn message(p: Box<dyn std::any::Any + Send>) -> Option<String> {
        p.downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
    }
    run(async {
        let f: Arc<OnceValue<i32>> = Arc::new(OnceValue::new());
        let gate = make::<()>(0);
        let started = make::<()>(0);
        let runner = {
            let (f, gate, started) = (f.clone(), gate.clone(), started.clone());
            go(async move {
                AssertUnwindSafe(f.get_or_init(|| async move {
                    started.send(()).await;
                    gate.recv().await;
                    panic!("init failed")
                }))
                .catch_unwind()
                .await
                .copied()
                .map_err(message)
            })
        };
        started.recv().await; // the runner is inside its init now
        let waiter = {
            let f = f.clone();
            go(async move {
                AssertUnwindSafe(f.get_or_init(|| async { 0 }))
                    .catch_unwind()
                    .await
                    .copied()
                    .map_err(message)
            })
        };
        // Whether the waiter parks before the panic or arrives after it, it
        // must panic with the init's message.
        gate.close();
        assert_eq!(runner.await, Err(Some("init failed".to_string())));
        assert_eq!(waiter.await, Err(Some("init failed".to_string())));
    });
}
