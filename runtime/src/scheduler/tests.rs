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
            match timeout {
                None => st = self.cvar.wait(st).unwrap(),
                Some(t) => {
                    let (g, r) = self.cvar.wait_timeout(st, t).unwrap();
                    st = g;
                    if r.timed_out() {
                        return;
                    }
                }
            }
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

/// A driver whose first `park` panics (stand-in for anything unwinding out
/// of the driver: a panicking waker or timer action), then behaves.
struct PanicOnceDriver {
    inner: StdArc<FakeDriver>,
    panics_left: AtomicUsize,
    /// Panic on the `block_on` thread (else on a worker thread).
    on_block_on_thread: bool,
}

impl Driver for PanicOnceDriver {
    fn park(&self, timeout: Option<Duration>) {
        let on_worker = std::thread::current()
            .name()
            .is_some_and(|n| n.starts_with("goro-worker"));
        if on_worker != self.on_block_on_thread
            && self
                .panics_left
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok()
        {
            panic!("driver panicked");
        }
        self.inner.park(timeout)
    }

    fn unpark(&self) {
        self.inner.unpark()
    }
}

/// A panic unwinding out of the driver (on the `block_on` thread or on a
/// worker thread) leaves the runtime usable: the driver slot is not left
/// busy, core 0 is given back, the main goroutine's stack record is
/// unregistered, and the next `block_on` runs (and parks in the driver).
#[test]
fn unwinding_out_of_the_driver_leaves_the_runtime_usable() {
    // workers(1): the block_on thread is the only one parking in the
    // driver; workers(2): worker 1 is.
    for (workers, on_block_on_thread) in [(1, true), (2, false)] {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let fake = StdArc::new(FakeDriver::default());
            let driver = StdArc::new(PanicOnceDriver {
                inner: fake.clone(),
                panics_left: AtomicUsize::new(1),
                on_block_on_thread,
            });
            let rt = Runtime::builder()
                .workers(workers)
                .driver(driver.clone())
                .build()
                .unwrap();
            let timer = |d: &StdArc<FakeDriver>| FakeTimer {
                driver: d.clone(),
                armed: false,
            };
            if !on_block_on_thread {
                // The idle worker threads park in the driver on their own:
                // wait for the first one's panic.
                let deadline = std::time::Instant::now() + Duration::from_secs(10);
                while driver.panics_left.load(Ordering::SeqCst) > 0
                    && std::time::Instant::now() < deadline
                {
                    std::thread::yield_now();
                }
            }
            // Parks until the driver fires the fake timer (with workers(1),
            // the first park, here, panics).
            let first = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                rt.block_on(timer(&fake))
            }));
            let first_unwound = first.is_err();
            let left = rt.handle().num_goroutine();
            let second = rt.block_on(async {
                timer(&fake).await;
                7
            });
            let _ = tx.send((
                first_unwound,
                left,
                second,
                driver.panics_left.load(Ordering::SeqCst),
            ));
        });
        let (first_unwound, left, second, panics_left) = rx
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("workers({workers}): runtime hung after a driver panic"));
        assert_eq!(
            panics_left, 0,
            "workers({workers}): the driver never panicked"
        );
        assert_eq!(
            first_unwound, on_block_on_thread,
            "workers({workers}): the panic unwinds out of block_on iff it happened there"
        );
        assert_eq!(left, 0, "workers({workers}): main's record left registered");
        assert_eq!(second, Ok(7), "workers({workers})");
    }
}

/// Finished goroutines do not keep their runtime alive: a finished
/// goroutine's task waits in the registry for a sweep, and its schedule
/// function holds the runtime, so the registry must be swept when the
/// runtime stops (detached goroutines and joined ones, on every worker,
/// with nothing spawned after them). The runtime's driver is freed with it.
#[test]
fn finished_goroutines_do_not_keep_the_runtime_alive() {
    let fake = StdArc::new(FakeDriver::default());
    let rt = Runtime::builder()
        .workers(2)
        .driver(fake.clone())
        .build()
        .unwrap();
    let done = StdArc::new(AtomicUsize::new(0));
    let d = done.clone();
    let left = rt.block_on(async move {
        let mut joined = Vec::new();
        for i in 0..1000 {
            let d = d.clone();
            let h = crate::spawn(async move {
                d.fetch_add(1, Ordering::SeqCst);
            });
            if i % 2 == 0 {
                joined.push(h);
            }
        }
        for h in joined {
            h.await.unwrap();
        }
        while d.load(Ordering::SeqCst) < 1000 {
            crate::yield_now().await;
        }
        // Finished goroutines are gone at once, swept or not.
        crate::runtime::num_goroutine()
    });
    assert_eq!(left, Ok(1));
    assert_eq!(done.load(Ordering::SeqCst), 1000);
    drop(rt);
    assert_eq!(
        StdArc::strong_count(&fake),
        1,
        "the runtime (which holds its driver) outlived its drop"
    );
}

/// Runs `f` on a helper thread and waits for it at most 30 s (a failure
/// guard: a parker that never returns fails the test instead of hanging).
fn within_30s(f: impl FnOnce() + Send + 'static) {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        f();
        let _ = tx.send(());
    });
    rx.recv_timeout(Duration::from_secs(30))
        .expect("park_timeout did not return");
}

#[test]
fn park_timeout_returns_without_unpark() {
    for driver in [
        None,
        Some(StdArc::new(FakeDriver::default()) as StdArc<dyn Driver>),
    ] {
        within_30s(move || {
            let p = super::park::Parker::new(StdArc::new(super::park::DriverSlot::new(driver)));
            p.park_timeout(Duration::from_millis(1));
            // And again: the first return left the parker empty, not
            // parked or notified.
            p.park_timeout(Duration::from_millis(1));
        });
    }
}

#[test]
fn park_timeout_consumes_an_earlier_unpark_once() {
    within_30s(|| {
        let p = super::park::Parker::new(StdArc::new(super::park::DriverSlot::new(None)));
        p.unpark();
        // Returns at once (well before the 30 s guard): the notification
        // was left for it.
        let t = std::time::Instant::now();
        p.park_timeout(Duration::from_secs(20));
        assert!(t.elapsed() < Duration::from_secs(20));
        // The notification is gone: this one times out.
        let t = std::time::Instant::now();
        p.park_timeout(Duration::from_millis(5));
        assert!(t.elapsed() >= Duration::from_millis(5));
    });
}

/// `stop` cancels the parked goroutines by waking them, but a wake finds a
/// goroutine that a worker has just taken from a queue (scheduled, not yet
/// running) already scheduled and does nothing. If that worker's thread
/// is held there longer than `stop` waits (the OS descheduled it), `stop`
/// retakes its core and leaves it behind; that thread, once the poll that
/// follows is over, must cancel the goroutine, or it stays registered for
/// good (a leak seen in `tests/scheduler_liveness.rs` under
/// AddressSanitizer). The seam holds the worker in exactly that window
/// until `stop` has returned.
#[test]
fn a_goroutine_taken_to_run_when_stop_cancels_is_dropped_by_its_poll() {
    use std::sync::mpsc;
    const BOUND: Duration = Duration::from_secs(30);
    struct Dropped(mpsc::Sender<()>);
    impl Drop for Dropped {
        fn drop(&mut self) {
            let _ = self.0.send(());
        }
    }
    let rt = Runtime::builder().workers(2).build().unwrap();
    let (in_window_tx, in_window_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    super::worker::seam::arm(&rt.handle().shared, move || {
        in_window_tx.send(()).unwrap();
        release_rx
            .recv_timeout(BOUND)
            .expect("the test releases the worker");
    });
    let (dropped_tx, dropped_rx) = mpsc::channel();
    let h = rt.handle().clone();
    rt.block_on(async move {
        // Spawned from outside the runtime: it goes to the injector, and a
        // worker thread takes it (this thread is busy in main's poll).
        let d = Dropped(dropped_tx);
        std::thread::spawn(move || {
            drop(h.spawn(async move {
                let _d = d;
                std::future::pending::<()>().await
            }))
        })
        .join()
        .unwrap();
        in_window_rx
            .recv_timeout(BOUND)
            .expect("a worker takes the goroutine");
    })
    .unwrap();
    // `stop` has run; the goroutine is still the left-behind thread's.
    assert_eq!(rt.handle().num_goroutine(), 1);
    assert!(dropped_rx.try_recv().is_err());
    release_tx.send(()).unwrap();
    dropped_rx
        .recv_timeout(BOUND)
        .expect("the goroutine's poll after stop cancels it");
}
