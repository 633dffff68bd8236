//! Scheduler tests that need crate internals: a stand-in driver.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use super::park::Driver;
use crate::loom::StdArc;
use crate::runtime::Runtime;

/// A driver whose "timers" are wakers that fire the next time a worker
/// parks in it (or polls it), like expired timers.
#[derive(Default)]
struct FakeDriver {
    state: Mutex<(Vec<Waker>, bool)>,
    cvar: Condvar,
    parks: AtomicUsize,
}

impl Driver for FakeDriver {
    fn park(&self, timeout: Option<Duration>) {
        self.parks.fetch_add(1, Ordering::Relaxed);
        let mut st = self.state.lock().unwrap();
        loop {
            if !st.0.is_empty() {
                let due = std::mem::take(&mut st.0);
                drop(st);
                // Fired on the parking worker's thread, as the real driver
                // does.
                for w in due {
                    w.wake();
                }
                return;
            }
            if std::mem::take(&mut st.1) || timeout == Some(Duration::ZERO) {
                return;
            }
            st = self.cvar.wait(st).unwrap();
        }
    }

    fn unpark(&self) {
        self.state.lock().unwrap().1 = true;
        self.cvar.notify_one();
    }
}

/// Completes once the driver fired it.
struct FakeTimer {
    driver: StdArc<FakeDriver>,
    armed: bool,
}

impl Future for FakeTimer {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.armed {
            return Poll::Ready(());
        }
        self.armed = true;
        self.driver.state.lock().unwrap().0.push(cx.waker().clone());
        // A timer registered while every worker may be parked: interrupt the
        // driver so it sees the new deadline (what the real wheel does).
        self.driver.unpark();
        Poll::Pending
    }
}

#[test]
fn idle_workers_park_in_the_driver_and_its_wakeups_run() {
    for workers in [1, 2] {
        let driver = StdArc::new(FakeDriver::default());
        let rt = Runtime::builder()
            .workers(workers)
            .driver(driver.clone())
            .build()
            .unwrap();
        let d = driver.clone();
        let n = rt
            .block_on(async move {
                let hs: Vec<_> = (0..200)
                    .map(|i| {
                        let d = d.clone();
                        crate::spawn(async move {
                            FakeTimer {
                                driver: d,
                                armed: false,
                            }
                            .await;
                            i
                        })
                    })
                    .collect();
                let mut s = 0;
                for h in hs {
                    s += h.await.unwrap();
                }
                s
            })
            .unwrap();
        assert_eq!(n, 199 * 100);
        assert!(driver.parks.load(Ordering::Relaxed) > 0);
    }
}
