//! Panics outside a goroutine's poll follow the runtime's `PanicPolicy`
//! instead of unwinding through the scheduler or aborting the process: a
//! goroutine future's panicking destructor, a panicking `Alarm` callback.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use goro::runtime::{PanicPolicy, RuntimeError};

mod common;

use common::{until_parked, within};

struct Bomb(Arc<AtomicUsize>);
impl Drop for Bomb {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
        panic!("boom in drop");
    }
}

/// Completes at once; its destructor panics.
struct ReadyThenBoom(#[allow(dead_code)] Bomb);
impl std::future::Future for ReadyThenBoom {
    type Output = u32;
    fn poll(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<u32> {
        std::task::Poll::Ready(1)
    }
}

/// A goroutine future whose destructor panics follows PanicPolicy
/// instead of aborting the process: after completing, and when cancelled
/// (dropped unfinished when the runtime stops).
#[test]
fn panicking_goroutine_destructor_follows_panic_policy() {
    let drops = Arc::new(AtomicUsize::new(0));
    let d = drops.clone();
    let (ignore, abort, cancelled) =
        within(Duration::from_secs(20), "destructor panic", move || {
            // Ignore: the JoinHandle sees a panic, the runtime keeps running.
            let rt = goro::Runtime::builder()
                .on_goroutine_panic(PanicPolicy::Ignore)
                .build()
                .unwrap();
            let d2 = d.clone();
            let ignore = rt.block_on(async move {
                let r = goro::spawn(ReadyThenBoom(Bomb(d2))).await;
                (
                    r.as_ref().map_err(|e| e.is_panic()).err(),
                    goro::spawn(async { 5 }).await.unwrap(),
                )
            });
            // Abort (default): the runtime stops with the panic.
            let rt = goro::Runtime::builder().build().unwrap();
            let d3 = d.clone();
            let abort = rt.block_on(async move {
                goro::go!(ReadyThenBoom(Bomb(d3))); // detached
                std::future::pending::<()>().await
            });
            // Cancelled: a goroutine parked forever holding a Bomb is dropped
            // when main returns.
            let rt = goro::Runtime::builder()
                .on_goroutine_panic(PanicPolicy::Ignore)
                .build()
                .unwrap();
            let d4 = d.clone();
            let cancelled = rt.block_on(async move {
                let bomb = Bomb(d4);
                let _g = goro::spawn(async move {
                    let _bomb = bomb;
                    std::future::pending::<()>().await
                });
                until_parked(1, "future wait").await;
                3
            });
            (ignore, abort, cancelled)
        });
    assert_eq!(ignore, Ok((Some(true), 5)));
    assert!(
        matches!(abort, Err(RuntimeError::GoroutinePanic { ref message, .. }) if message == "boom in drop"),
        "{abort:?}"
    );
    assert_eq!(cancelled, Ok(3));
    assert_eq!(drops.load(Ordering::SeqCst), 3);
}

/// A panicking Alarm callback does not unwind through the scheduler.
/// Under Abort, `block_on` returns `RuntimeError::TimerPanic`; the runtime
/// stays usable (no stale main record, core 0 back, driver slot free).
#[test]
fn panicking_alarm_callback_follows_panic_policy() {
    let (first, left, second) = within(Duration::from_secs(20), "alarm panic (Abort)", || {
        let rt = goro::Runtime::builder().workers(1).build().unwrap();
        let first = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            rt.block_on(async {
                let a = goro::time::Alarm::new(|| panic!("alarm callback panicked"));
                a.reset(Duration::from_millis(10));
                // The panic stops the runtime before this sleep ends.
                goro::time::sleep(Duration::from_secs(30)).await;
                drop(a);
            })
        }));
        let left = rt.handle().num_goroutine();
        let second = rt.block_on(async { 2 });
        (first, left, second)
    });
    let first = first.expect("the alarm's panic unwound out of block_on");
    assert!(
        matches!(first, Err(RuntimeError::TimerPanic { ref message, created_at: Some(at) })
            if message == "alarm callback panicked" && at.file().ends_with("panic_policy.rs")),
        "{first:?}"
    );
    assert!(first
        .unwrap_err()
        .to_string()
        .starts_with("panic: alarm callback panicked\n"));
    assert_eq!(left, 0);
    assert_eq!(second, Ok(2));

    // Ignore: the panic is dropped, the alarm (and the runtime) keep working.
    let fired = within(Duration::from_secs(20), "alarm panic (Ignore)", || {
        let rt = goro::Runtime::builder()
            .workers(2)
            .on_goroutine_panic(PanicPolicy::Ignore)
            .build()
            .unwrap();
        rt.block_on(async {
            let n = Arc::new(AtomicUsize::new(0));
            let n2 = n.clone();
            let a = goro::time::Alarm::new(move || {
                if n2.fetch_add(1, Ordering::SeqCst) == 0 {
                    panic!("first firing panics");
                }
            });
            a.reset(Duration::from_millis(5));
            while n.load(Ordering::SeqCst) < 1 {
                goro::time::sleep(Duration::from_millis(5)).await;
            }
            a.reset(Duration::from_millis(5));
            while n.load(Ordering::SeqCst) < 2 {
                goro::time::sleep(Duration::from_millis(5)).await;
            }
            n.load(Ordering::SeqCst)
        })
    });
    assert_eq!(fired, Ok(2));
}
