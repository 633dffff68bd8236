//! `goro::time` channels as `select!` cases: Go's timeout idiom.

use std::time::{Duration, Instant};

#[test]
fn select_with_after_times_out() {
    goro::run(async {
        let never = goro::chan::make::<u32>(0);
        let start = Instant::now();
        let r = goro::select! {
            v = never.recv() => v,
            _ = goro::time::after(Duration::from_millis(5)) => None,
        };
        assert_eq!(r, None);
        assert!(start.elapsed() >= Duration::from_millis(5));
    });
}

#[test]
fn select_on_timer_and_ticker_channels() {
    goro::run(async {
        let timer = goro::time::Timer::new(Duration::from_millis(20));
        let ticker = goro::time::Ticker::new(Duration::from_millis(1));
        let mut ticks = 0;
        loop {
            goro::select! {
                _ = ticker.c() => ticks += 1,
                _ = timer.c() => break,
            }
        }
        ticker.stop();
        assert!(ticks >= 1, "ticker never won");
        // Go 1.23: after Stop, nothing stale is received.
        assert!(ticker.c().try_recv().is_err());
    });
}
