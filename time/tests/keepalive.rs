//! The keep-alive of fire-and-forget timers (`after`, `tick`, an
//! `after_func` whose handle is dropped): held by the timer driver's entry
//! while the timer is armed, released when it fires or is stopped, so a
//! timer never keeps itself alive. Off a runtime (the fallback timer thread)
//! and on one. The runtime side (a dropped runtime frees its pending
//! timers and its driver) is tested in goro-runtime's `timer_seam`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use goro_time::after_func;

/// Sets its flag when dropped: owned by a timer's function, it tells
/// whether the timer was freed.
struct DropFlag(Arc<AtomicBool>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Bounded wait (a failure guard) for a flag set by another thread.
fn wait_for(flag: &AtomicBool) -> bool {
    let limit = Instant::now() + Duration::from_secs(10);
    while !flag.load(Ordering::SeqCst) {
        if Instant::now() > limit {
            return false;
        }
        std::thread::yield_now();
    }
    true
}

/// `after_func` with a function owning a drop flag; the handle is dropped.
fn flagged_after_func(d: Duration) -> (Arc<AtomicBool>, mpsc::Receiver<()>, goro_time::Timer) {
    let freed = Arc::new(AtomicBool::new(false));
    let flag = DropFlag(freed.clone());
    let (tx, rx) = mpsc::channel();
    let tx = Mutex::new(tx);
    let t = after_func(d, move || {
        let _ = &flag;
        let _ = tx.lock().unwrap().send(());
    });
    (freed, rx, t)
}

#[test]
fn a_fired_after_func_is_freed_off_a_runtime() {
    let (freed, ran, t) = flagged_after_func(Duration::from_millis(1));
    drop(t);
    // Kept alive by the fallback timer thread's entry until it fires...
    assert!(!freed.load(Ordering::SeqCst));
    ran.recv_timeout(Duration::from_secs(10))
        .expect("after_func did not run");
    // ...and freed once it has (and its thread has finished).
    assert!(wait_for(&freed), "a fired after_func timer leaked");
}

/// A stopped `after_func` whose handle is dropped is freed at once, its
/// function never run.
fn stopped_after_func_is_freed_at_once() {
    let (freed, ran, t) = flagged_after_func(Duration::from_secs(3600));
    assert!(t.stop());
    drop(t);
    assert!(freed.load(Ordering::SeqCst), "a stopped after_func leaked");
    assert!(ran.try_recv().is_err());
}

#[test]
fn a_stopped_after_func_is_freed_at_once_off_a_runtime() {
    stopped_after_func_is_freed_at_once();
}

#[test]
fn a_stopped_after_func_is_freed_at_once_on_a_runtime() {
    goro_runtime::run(async { stopped_after_func_is_freed_at_once() });
}

#[test]
fn a_fired_after_func_is_freed_on_a_runtime() {
    goro_runtime::run(async {
        let (freed, ran, t) = flagged_after_func(Duration::from_millis(1));
        drop(t);
        assert!(!freed.load(Ordering::SeqCst));
        // The function runs in a goroutine; wait for it without blocking
        // the worker (bounded: a failure guard).
        let limit = Instant::now() + Duration::from_secs(10);
        while ran.try_recv().is_err() {
            assert!(Instant::now() < limit, "after_func did not run");
            goro_time::sleep(Duration::from_millis(1)).await;
        }
        while !freed.load(Ordering::SeqCst) {
            assert!(Instant::now() < limit, "a fired after_func timer leaked");
            goro_time::sleep(Duration::from_millis(1)).await;
        }
    });
}

#[test]
fn a_reset_after_func_is_kept_alive_again() {
    // Stop releases the keep-alive, reset takes it again: the function
    // runs although the handle is gone.
    let (freed, ran, t) = flagged_after_func(Duration::from_secs(3600));
    assert!(t.stop());
    assert!(!t.reset(Duration::from_millis(1)));
    drop(t);
    ran.recv_timeout(Duration::from_secs(10))
        .expect("a reset after_func did not run");
    assert!(wait_for(&freed));
}
