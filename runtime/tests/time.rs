//! Timers driven off a goro runtime (`futures::executor`): goro-hook's
//! fallback timer thread fires them.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::executor::block_on;
use futures::future::join_all;
use goro_time::{sleep, Alarm};

/// Sleeps never finish early, and timers fire in deadline order.
///
/// The order is observed where the timer thread fires (alarm callbacks, in
/// firing order), not where an executor happens to poll: sleeps whose
/// deadlines fall into one turn of a loaded timer thread are woken together,
/// and `join_all` then polls them in its own order.
#[test]
fn sleeps_finish_in_order() {
    let start = Instant::now();
    let futs = (0..50u64).rev().map(|i| async move {
        let d = Duration::from_millis(2 * i);
        sleep(d).await;
        assert!(start.elapsed() >= d, "sleep {i} woke early");
    });
    block_on(join_all(futs));

    let (tx, rx) = std::sync::mpsc::channel();
    let base = Instant::now() + Duration::from_millis(5);
    let alarms: Vec<Alarm> = (0..50u64)
        .rev()
        .map(|i| {
            let tx = tx.clone();
            let alarm = Alarm::new(move || {
                let _ = tx.send(i);
            });
            alarm.reset_at(base + Duration::from_millis(2 * i));
            alarm
        })
        .collect();
    let order: Vec<u64> = (0..50)
        .map(|_| {
            rx.recv_timeout(Duration::from_secs(10))
                .expect("alarm fired")
        })
        .collect();
    drop(alarms);
    assert_eq!(order, (0..50).collect::<Vec<_>>());
}

/// 100,000 sleeps pending at once all complete, none early.
#[test]
fn hundred_thousand_sleeps() {
    let start = Instant::now();
    let done = Arc::new(AtomicUsize::new(0));
    let futs = (0..100_000u64).map(|i| {
        let done = done.clone();
        async move {
            let d = Duration::from_millis(1 + i % 20);
            sleep(d).await;
            assert!(start.elapsed() >= d);
            done.fetch_add(1, Ordering::Relaxed);
        }
    });
    block_on(join_all(futs));
    assert_eq!(done.load(Ordering::Relaxed), 100_000);
    assert!(start.elapsed() < Duration::from_secs(20));
}

/// An alarm fires once per arming; reset re-arms; stop prevents firing.
#[test]
fn alarm_fires_and_rearms() {
    let (tx, rx) = std::sync::mpsc::channel();
    let alarm = Alarm::new(move || {
        let _ = tx.send(Instant::now());
    });
    let t0 = Instant::now();
    assert!(!alarm.reset(Duration::from_millis(3)));
    let fired = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(fired >= t0 + Duration::from_millis(3));
    // Fired: stop reports false, reset reports false.
    assert!(!alarm.stop());
    assert!(!alarm.reset(Duration::from_millis(1)));
    rx.recv_timeout(Duration::from_secs(10)).unwrap();
    // Armed far away: stop reports true and nothing fires; a later short
    // arming fires exactly once.
    assert!(!alarm.reset(Duration::from_secs(3600)));
    assert!(alarm.stop());
    assert!(!alarm.reset(Duration::from_millis(1)));
    rx.recv_timeout(Duration::from_secs(10)).unwrap();
    drop(alarm);
    assert!(rx.recv_timeout(Duration::from_millis(20)).is_err());
}
