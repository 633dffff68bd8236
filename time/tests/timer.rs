//! Go 1.23 timer and ticker semantics, driven off a goro runtime
//! (`futures::executor`), so the process-wide fallback driver fires them.
//!
//! Ported in spirit from Go's `time/sleep_test.go` and `time/tick_test.go`
//! (https://go.dev/src/time/sleep_test.go, https://go.dev/src/time/tick_test.go).

use std::time::{Duration, Instant};

use futures::executor::block_on;
use goro_chan::TryRecvError;
use goro_time::{after, sleep, tick, Ticker, Timer};

const MS: Duration = Duration::from_millis(1);

/// Waits (bounded) until `rx` holds a buffered value, without receiving it:
/// a timer that is due may fire late on a loaded machine, so a fixed sleep
/// would race with it.
fn wait_until_buffered<T>(rx: &goro_chan::Receiver<T>) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while rx.is_empty() {
        assert!(Instant::now() < deadline, "timer never fired");
        block_on(sleep(MS));
    }
}

#[test]
fn timer_fires_once_not_early() {
    let start = Instant::now();
    let t = Timer::new(5 * MS);
    let at = block_on(t.c().recv()).unwrap();
    assert!(at >= start + 5 * MS);
    assert!(start.elapsed() >= 5 * MS);
    assert!(!t.stop());
    assert_eq!(t.c().try_recv(), Err(TryRecvError::Empty));
}

/// Go 1.23: a fired but unreceived value is discarded by Stop, which then
/// reports true ("the program has not received from t.C").
#[test]
fn stop_discards_unreceived_value() {
    let t = Timer::new(MS);
    wait_until_buffered(t.c());
    assert_eq!(t.c().len(), 1);
    assert!(t.stop());
    assert_eq!(t.c().try_recv(), Err(TryRecvError::Empty));
    assert!(!t.stop());
}

/// Go 1.23: Reset discards a stale value; only the new arming's value arrives.
#[test]
fn reset_discards_stale_value() {
    let t = Timer::new(MS);
    wait_until_buffered(t.c());
    let before_reset = Instant::now();
    assert!(t.reset(10 * MS));
    assert_eq!(t.c().try_recv(), Err(TryRecvError::Empty));
    let at = block_on(t.c().recv()).unwrap();
    assert!(at >= before_reset + 10 * MS, "stale value received");
}

/// Stop racing with the firing, many times: whatever stop returns, once it
/// returned nothing is ever received (checked after the deadline passed).
#[test]
fn stop_vs_fire_race_no_stale_value() {
    let mut stopped_true = 0;
    let rounds = 200;
    let timers: Vec<Timer> = (0..rounds)
        .map(|i| {
            let t = Timer::new(Duration::from_micros(i as u64 * 37 % 2000));
            // Spin a little so some stops land before, some during, some
            // after the firing.
            let spin = Instant::now() + Duration::from_micros(i as u64 * 53 % 2500);
            while Instant::now() < spin {
                std::hint::spin_loop();
            }
            if t.stop() {
                stopped_true += 1;
            }
            assert_eq!(t.c().try_recv(), Err(TryRecvError::Empty));
            t
        })
        .collect();
    // Every deadline is long past: a late (stale) send would be visible now.
    block_on(sleep(20 * MS));
    for t in &timers {
        assert_eq!(
            t.c().try_recv(),
            Err(TryRecvError::Empty),
            "stale value after stop"
        );
    }
    assert!(stopped_true > 0);
}

/// Reset racing with the firing: after reset returns only the new arming's
/// value is received, exactly once.
#[test]
fn reset_vs_fire_race_exactly_one_new_value() {
    for i in 0..100u64 {
        let t = Timer::new(Duration::from_micros(i * 41 % 1500));
        let spin = Instant::now() + Duration::from_micros(i * 29 % 1500);
        while Instant::now() < spin {
            std::hint::spin_loop();
        }
        let reset_at = Instant::now();
        t.reset(2 * MS);
        let at = block_on(t.c().recv()).unwrap();
        assert!(
            at >= reset_at + 2 * MS,
            "stale value after reset (round {i})"
        );
        block_on(sleep(3 * MS));
        assert_eq!(
            t.c().try_recv(),
            Err(TryRecvError::Empty),
            "duplicate value"
        );
    }
}

/// A receiver slower than the period misses ticks: one tick is buffered,
/// the rest are dropped.
#[test]
fn ticker_drops_ticks_for_slow_receiver() {
    let t = Ticker::new(MS);
    wait_until_buffered(t.c());
    // Many more periods pass with nobody receiving (the sleep is the thing
    // under test here): still only one tick is buffered.
    block_on(sleep(30 * MS));
    assert_eq!(t.c().len(), 1);
    t.c().try_recv().unwrap();
    assert_eq!(t.c().try_recv(), Err(TryRecvError::Empty));
    // Ticking continues.
    block_on(t.c().recv()).unwrap();
    t.stop();
    assert_eq!(t.c().try_recv(), Err(TryRecvError::Empty));
}

#[test]
fn ticker_ticks_at_period() {
    let start = Instant::now();
    let t = Ticker::new(2 * MS);
    for i in 1..=5u32 {
        let at = block_on(t.c().recv()).unwrap();
        assert!(at >= start + 2 * MS * i, "tick {i} early");
    }
    t.reset(MS);
    block_on(t.c().recv()).unwrap();
    t.stop();
}

#[test]
fn ticker_zero_panics_with_go_message() {
    let err = std::panic::catch_unwind(|| Ticker::new(Duration::ZERO)).unwrap_err();
    assert_eq!(
        err.downcast_ref::<&str>().copied(),
        Some("non-positive interval for NewTicker")
    );
    let t = Ticker::new(Duration::from_secs(1));
    let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| t.reset(Duration::ZERO)))
        .unwrap_err();
    assert_eq!(
        err.downcast_ref::<&str>().copied(),
        Some("non-positive interval for Ticker.Reset")
    );
}

#[test]
fn after_and_tick() {
    let start = Instant::now();
    // The timer behind `after` stays alive although no handle is kept.
    let at = block_on(after(3 * MS).recv()).unwrap();
    assert!(at >= start + 3 * MS);
    let c = tick(MS);
    block_on(c.recv()).unwrap();
    block_on(c.recv()).unwrap();
    assert_eq!(tick(Duration::ZERO), goro_chan::Receiver::nil());
}
