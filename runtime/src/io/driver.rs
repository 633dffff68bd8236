//! The driver: the IO reactor and the timer wheel behind one `park`.
//!
//! Go: the `netpoll(delay)` call in `findrunnable` (`runtime/proc.go`), where
//! the last idle P blocks in the netpoller until the next timer, and
//! `netpollBreak` to interrupt it.
//!
//! # Design
//!
//! [`Driver::park`] fires due timers, then blocks in `mio::Poll` for at most
//! `min(timeout, next timer deadline)`, then wakes the tasks whose IO became
//! ready and fires the timers that came due. [`Driver::unpark`] interrupts it
//! (a `mio::Waker`; a wake with nobody parked makes the next park return at
//! once, so it is never lost). Arming a timer earlier than the parked
//! thread's wake-up unparks it. There is no timer thread and no reactor
//! thread on a runtime: the scheduler's last idle worker parks here (through
//! `scheduler::park::Driver`), and busy workers poll it without blocking on
//! their maintenance tick, which fires due timers.
//!
//! Off a goro runtime (a future polled by tokio or `block_on`), [`Handle::current`]
//! falls back to one process-wide driver driven by a background thread named
//! `goro-netpoll`, started on first use, so sockets work anywhere. (Timers
//! reach the runtime's wheel through goro-hook's timer seam,
//! `crate::timer_seam`; off a runtime they use goro-hook's fallback timer
//! thread, so the wheel of this fallback stays empty.)
//!
//! [`Handle::has_pending`] tells the deadlock detector that a goroutine may
//! still be woken from outside: a timer is armed or a task waits for IO
//! (`Shared::has_pending_activity` adds the blocking pool's jobs).
//!
//! # Invariants
//!
//! - At most one thread is in `park` at a time; a concurrent `park` returns
//!   `false` at once without touching the timers' parked state.
//! - Wakers and timer actions run with no driver lock held.
//!
//! # Locking
//!
//! Reactor `poll` (try-locked) < timer wheel < reactor slab. See
//! [`super::reactor`] and [`crate::time`].

use std::cell::RefCell;
use std::io;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::time::timers::{ActionPanic, Timers};

use super::reactor::Reactor;

/// The reactor plus the timers. Owned by a runtime; shut down on drop.
pub(crate) struct Driver {
    handle: Handle,
    /// The same timers as goro-hook's timer driver, installed with the
    /// handle on the runtime's threads (`enter_thread`). Set once.
    hook_timers: Option<Arc<dyn goro_hook::TimerDriver>>,
}

/// A cheap, cloneable reference to a [`Driver`], held by timers and sockets.
#[derive(Clone)]
pub(crate) struct Handle {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) timers: Timers,
    pub(crate) reactor: Reactor,
}

impl Driver {
    /// A new driver.
    pub(crate) fn new() -> io::Result<Self> {
        Ok(Driver {
            handle: Handle {
                inner: Arc::new(Inner {
                    timers: Timers::new(|payload| action_panicked(payload, None)),
                    reactor: Reactor::new()?,
                }),
            },
            hook_timers: None,
        })
    }

    /// Installs `timers` (this driver's timers as goro-hook sees them) on
    /// the threads this driver is entered on.
    pub(crate) fn with_hook_timers(mut self, timers: Arc<dyn goro_hook::TimerDriver>) -> Self {
        self.hook_timers = Some(timers);
        self
    }

    /// The handle timers and sockets keep.
    pub(crate) fn handle(&self) -> &Handle {
        &self.handle
    }

    /// See [`Handle::park`].
    pub(crate) fn park(&self, timeout: Option<Duration>) -> bool {
        self.handle.park(timeout)
    }

    /// See [`Handle::unpark`].
    pub(crate) fn unpark(&self) {
        self.handle.unpark()
    }

    /// See [`Handle::has_pending`].
    pub(crate) fn has_pending(&self) -> bool {
        self.handle.has_pending()
    }
}

/// The scheduler's hook: its last idle worker parks here.
impl crate::scheduler::park::Driver for Driver {
    fn park(&self, timeout: Option<Duration>) {
        // The scheduler's driver slot admits one thread at a time, so this
        // never finds the reactor busy.
        Driver::park(self, timeout);
    }

    fn unpark(&self) {
        Driver::unpark(self)
    }

    fn needs_poll(&self) -> bool {
        let inner = &*self.handle.inner;
        // A goroutine waits for IO, or a timer is (maybe) due: otherwise a
        // non-blocking poll could only dispatch events nobody waits for
        // (they stay queued in epoll for the next poll).
        inner.reactor.waiting() > 0 || inner.timers.maybe_due()
    }

    fn has_pending(&self) -> bool {
        Driver::has_pending(self)
    }

    fn enter_thread(&self) -> Option<Box<dyn std::any::Any>> {
        let io = self.handle.enter();
        let timers = self.hook_timers.clone().map(goro_hook::enter_timer_driver);
        Some(Box::new((io, timers)))
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // Sockets still held by tasks see an error instead of hanging.
        self.handle.inner.reactor.shutdown();
        // Timers still held (a fire-and-forget timer keeps itself and its
        // entry's handle to this driver alive) fire nothing any more.
        self.handle.close_timers();
    }
}

impl Handle {
    pub(crate) fn inner(&self) -> &Inner {
        &self.inner
    }

    /// Blocks the calling thread until IO is ready, a timer fires, `timeout`
    /// passes, or [`unpark`](Self::unpark) is called; runs what became ready.
    ///
    /// `timeout` `None` blocks until one of the others; `Some(ZERO)` only
    /// polls. Returns `false` without blocking if another thread is parked
    /// here (the caller must wait some other way).
    pub(crate) fn park(&self, timeout: Option<Duration>) -> bool {
        let inner = &*self.inner;
        // Due timers first: if any fired, there is work; just poll.
        let fired = inner.timers.process();
        let timeout = if fired > 0 {
            Some(Duration::ZERO)
        } else {
            timeout
        };
        let turned = inner
            .reactor
            .turn(|| inner.timers.parking(timeout), || inner.timers.unparked());
        if turned.is_none() {
            return false;
        }
        inner.timers.process();
        true
    }

    /// Interrupts a thread blocked in [`park`](Self::park), or makes the next
    /// `park` return at once.
    pub(crate) fn unpark(&self) {
        self.inner.reactor.wake();
    }

    /// Whether a timer or IO may still wake a goroutine: a timer is armed
    /// or a task waits for IO readiness. (Blocking jobs are counted by the
    /// blocking pool; `Shared::has_pending_activity` combines both.)
    pub(crate) fn has_pending(&self) -> bool {
        self.inner.timers.armed_count() > 0 || self.inner.reactor.waiting() > 0
    }

    /// The runtime is gone for good: drops every pending timer action (see
    /// `Timers::close`), breaking the cycles they form with this driver.
    pub(crate) fn close_timers(&self) {
        self.inner.timers.close();
    }

    /// A weak reference to the driver, to check that it is freed.
    #[cfg(all(test, not(goro_loom)))]
    pub(crate) fn downgrade(&self) -> std::sync::Weak<Inner> {
        Arc::downgrade(&self.inner)
    }

    /// Unparks the parked thread if arming reported it is needed.
    pub(crate) fn after_arm(&self, unpark: bool) {
        if unpark {
            self.unpark();
        }
    }

    /// The driver entered on this thread (the thread is a worker or a
    /// blocking-pool thread of a goro runtime, which enters its driver
    /// through `park::Driver::enter_thread`, or a test entered one with
    /// [`enter`](Self::enter)), else the process-wide fallback.
    pub(crate) fn current() -> Handle {
        if let Some(h) = CURRENT.try_with(|c| c.borrow().clone()).ok().flatten() {
            return h;
        }
        fallback().clone()
    }

    /// Makes this the current driver of the calling thread until the guard
    /// is dropped.
    pub(crate) fn enter(&self) -> EnterGuard {
        let prev = CURRENT.with(|c| c.borrow_mut().replace(self.clone()));
        EnterGuard { prev }
    }
}

thread_local! {
    /// The driver entered on this thread.
    static CURRENT: RefCell<Option<Handle>> = const { RefCell::new(None) };
}

/// Restores the previous current driver on drop.
pub(crate) struct EnterGuard {
    prev: Option<Handle>,
}

impl Drop for EnterGuard {
    fn drop(&mut self) {
        let prev = self.prev.take();
        // The thread-local may already be gone during thread teardown.
        let _ = CURRENT.try_with(|c| *c.borrow_mut() = prev);
    }
}

/// A timer action panicked on this thread. On a worker of a goro runtime
/// (the only threads that process a runtime's timers) the panic follows its
/// `PanicPolicy`: under `Abort` the runtime stops and `block_on` returns
/// `RuntimeError::TimerPanic`; under `Ignore` it is dropped. Elsewhere it
/// is dropped. Either way the panic hook has already printed it.
pub(crate) fn action_panicked(
    payload: ActionPanic,
    created_at: Option<&'static std::panic::Location<'static>>,
) {
    if let Some(shared) = crate::context::current_runtime() {
        shared.timer_panicked(created_at, &payload);
    }
    // Dropping a payload can itself panic (a payload with a panicking
    // destructor); do not let that unwind either.
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(payload)));
}

/// The process-wide driver for code running off a goro runtime, driven by
/// the `goro-netpoll` thread.
fn fallback() -> &'static Handle {
    static FALLBACK: OnceLock<Handle> = OnceLock::new();
    FALLBACK.get_or_init(|| {
        let driver = Driver::new().expect("goro: cannot create the IO reactor");
        let handle = driver.handle.clone();
        std::thread::Builder::new()
            .name("goro-netpoll".into())
            .spawn(move || loop {
                driver.park(None);
            })
            .expect("goro: cannot start the netpoll thread");
        handle
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::wheel::Action;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::time::Instant;

    /// Drives a driver by hand from the test thread: a timer wakes `park`.
    #[test]
    fn park_returns_when_timer_fires() {
        let driver = Driver::new().unwrap();
        let h = driver.handle().clone();
        let fired = Arc::new(AtomicBool::new(false));
        let f = fired.clone();
        let key = h.inner().timers.alloc(Action::Call(Arc::new(move || {
            f.store(true, Ordering::SeqCst)
        })));
        let start = Instant::now();
        let armed = h.inner().timers.arm(key, start + Duration::from_millis(20));
        assert!(!armed.was_armed);
        assert!(driver.has_pending());
        while !fired.load(Ordering::SeqCst) {
            assert!(driver.park(None));
        }
        assert!(start.elapsed() >= Duration::from_millis(20));
        assert!(!driver.has_pending());
        h.inner().timers.free(key);
    }

    /// `unpark` before `park` is not lost; `park` with a timeout returns.
    #[test]
    fn unpark_is_sticky_and_timeout_returns() {
        let driver = Driver::new().unwrap();
        driver.unpark();
        assert!(driver.park(None));
        let start = Instant::now();
        assert!(driver.park(Some(Duration::from_millis(5))));
        assert!(start.elapsed() >= Duration::from_millis(5));
    }

    /// A timer armed by another thread while the driver is parked with no
    /// timeout wakes it (the armer sees `parked_until` and unparks).
    #[test]
    fn arming_earlier_timer_unparks() {
        let driver = Driver::new().unwrap();
        let h = driver.handle().clone();
        let fired = Arc::new(AtomicBool::new(false));
        let f = fired.clone();
        let t = std::thread::spawn(move || {
            let key = h.inner().timers.alloc(Action::Call(Arc::new(move || {
                f.store(true, Ordering::SeqCst)
            })));
            let armed = h
                .inner()
                .timers
                .arm(key, Instant::now() + Duration::from_millis(1));
            h.after_arm(armed.unpark);
            key
        });
        while !fired.load(Ordering::SeqCst) {
            assert!(driver.park(None));
        }
        let key = t.join().unwrap();
        driver.handle().inner().timers.free(key);
    }

    /// Stress, no lost wakeups: another thread arms timers with short
    /// deadlines while this thread drives the driver with `park(None)`
    /// (blocking with no timeout of its own). Every timer must fire; a lost
    /// unpark would hang the loop (bounded by the test's deadline check).
    #[test]
    fn stress_timers_armed_while_parked() {
        let driver = Driver::new().unwrap();
        let h = driver.handle().clone();
        let n = 2_000;
        let count = Arc::new(AtomicUsize::new(0));
        let c = count.clone();
        let armer = std::thread::spawn(move || {
            let mut keys = Vec::new();
            let mut rng = fastrand::Rng::with_seed(7);
            for _ in 0..n {
                let c = c.clone();
                let key = h.inner().timers.alloc(Action::Call(Arc::new(move || {
                    c.fetch_add(1, Ordering::SeqCst);
                })));
                let d = Duration::from_micros(rng.u64(0..2_000));
                let armed = h.inner().timers.arm(key, Instant::now() + d);
                h.after_arm(armed.unpark);
                keys.push(key);
                if rng.u32(0..8) == 0 {
                    std::thread::yield_now();
                }
            }
            keys
        });
        let start = Instant::now();
        while count.load(Ordering::SeqCst) < n {
            assert!(driver.park(None));
            assert!(start.elapsed() < Duration::from_secs(30), "lost wakeup");
        }
        for key in armer.join().unwrap() {
            driver.handle().inner().timers.free(key);
        }
        assert!(!driver.has_pending());
    }

    /// IO readiness wakes a task waiting on a socket registered with a
    /// driver entered on this thread; the waiter counts as pending until woken.
    #[test]
    fn io_readiness_wakes_waiter_while_parked() {
        use std::io::Write;
        use std::task::{Context, Poll, Wake, Waker};

        struct Flag(std::sync::atomic::AtomicBool);
        impl Wake for Flag {
            fn wake(self: Arc<Self>) {
                self.0.store(true, Ordering::SeqCst);
            }
        }

        let driver = Driver::new().unwrap();
        let _enter = driver.handle().enter();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        server.set_nonblocking(true).unwrap();
        let src =
            crate::io::registration::IoSource::new(mio::net::TcpStream::from_std(server)).unwrap();
        let flag = Arc::new(Flag(AtomicBool::new(false)));
        let waker = Waker::from(flag.clone());
        let mut cx = Context::from_waker(&waker);
        let at = std::panic::Location::caller();
        let mut buf = [0u8; 8];
        let read = |cx: &mut Context<'_>, buf: &mut [u8]| {
            src.poll_io(
                cx,
                super::super::scheduled_io::Direction::Read,
                at,
                |mut s| std::io::Read::read(&mut s, buf),
            )
        };
        // Drain the initial (writable) readiness; nothing to read yet.
        assert!(read(&mut cx, &mut buf).is_pending());
        assert!(
            driver.has_pending(),
            "a task waiting on IO is pending activity"
        );
        let writer = std::thread::spawn(move || client.write_all(b"ready").unwrap());
        let start = Instant::now();
        while !flag.0.load(Ordering::SeqCst) {
            assert!(driver.park(None));
            assert!(start.elapsed() < Duration::from_secs(30), "lost IO wakeup");
        }
        writer.join().unwrap();
        assert!(!driver.has_pending());
        match read(&mut cx, &mut buf) {
            Poll::Ready(Ok(n)) => assert_eq!(&buf[..n], b"ready"),
            other => panic!("{other:?}"),
        }
    }

    /// The runtime reports timers, IO waiters and blocking jobs as pending
    /// activity (what the deadlock detector must respect), and nothing once
    /// they are gone.
    #[test]
    fn runtime_pending_activity() {
        let rt = crate::runtime::Runtime::builder()
            .workers(1)
            .build()
            .unwrap();
        let shared = rt.handle().shared.clone();
        let s = shared.clone();
        rt.block_on(async move {
            assert!(!s.has_pending_activity());
            // A sleeping goroutine: an armed timer.
            let sleeper = crate::spawn(goro_time::sleep(Duration::from_millis(30)));
            crate::yield_now().await;
            assert!(s.has_pending_activity(), "armed timer not pending");
            sleeper.await.unwrap();
            assert!(!s.has_pending_activity());
            // A goroutine waiting in accept: an IO waiter.
            let l = crate::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = l.local_addr().unwrap();
            let acceptor = crate::spawn(async move { l.accept().await.map(|_| ()) });
            crate::yield_now().await;
            assert!(s.has_pending_activity(), "IO waiter not pending");
            let _c = crate::net::TcpStream::connect(addr).await.unwrap();
            acceptor.await.unwrap().unwrap();
            assert!(!s.has_pending_activity());
            // A blocking job.
            let (tx, rx) = std::sync::mpsc::channel::<()>();
            let job = crate::spawn_blocking(move || rx.recv().ok());
            assert!(s.has_pending_activity(), "blocking job not pending");
            tx.send(()).unwrap();
            job.await.unwrap();
        })
        .unwrap();
    }
}
