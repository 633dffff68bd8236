//! The runtime: building it, entering it, its errors and diagnostics.
//!
//! Go: the `runtime` package's public face (`GOMAXPROCS`, `NumGoroutine`,
//! `Stack(buf, true)`) and what happens at program exit.

use std::fmt;
use std::future::Future;
use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe, Location};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use crate::config::{default_workers, Config};
use crate::context;
use crate::loom::{lock, Ordering, StdArc};
use crate::registry::{GoroutineId, GoroutineRecord};
use crate::scheduler::park::Driver;
use crate::scheduler::{self, worker, Shared};
use crate::task::{self, panic_message, JoinHandle};

pub use crate::config::PanicPolicy;
pub use crate::error::RuntimeError;
pub use crate::registry::{format_dump, GoroutineSnapshot, GoroutineState};

/// Configures and builds a [`Runtime`].
///
/// ```
/// use goro_runtime::runtime::{PanicPolicy, Runtime};
/// let rt = Runtime::builder()
///     .workers(2)
///     .on_goroutine_panic(PanicPolicy::Ignore)
///     .rng_seed(7)
///     .detect_deadlocks(true)
///     .build()
///     .unwrap();
/// assert_eq!(rt.block_on(async { 1 + 1 }).unwrap(), 2);
/// ```
#[derive(Clone)]
#[must_use]
pub struct Builder {
    workers: Option<usize>,
    panic_policy: PanicPolicy,
    rng_seed: Option<u64>,
    detect_deadlocks: bool,
    watchdog: Option<Duration>,
    keep_alive: Duration,
    /// The timer/IO driver idle workers park in (see `scheduler::park`).
    driver: Option<StdArc<dyn Driver>>,
    /// The tokio runtime the threads enter (`tokio-compat`; see
    /// `crate::tokio_compat`).
    pub(crate) tokio: crate::tokio_compat::TokioContext,
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("workers", &self.workers)
            .field("panic_policy", &self.panic_policy)
            .field("rng_seed", &self.rng_seed)
            .field("detect_deadlocks", &self.detect_deadlocks)
            .field("watchdog", &self.watchdog)
            .field("thread_keep_alive", &self.keep_alive)
            .field("driver", &self.driver.is_some())
            .field("tokio", &self.tokio.is_set())
            .finish()
    }
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            workers: None,
            panic_policy: PanicPolicy::Abort,
            rng_seed: None,
            detect_deadlocks: true,
            watchdog: None,
            keep_alive: Duration::from_secs(10),
            driver: None,
            tokio: Default::default(),
        }
    }
}

impl Builder {
    /// A builder with the defaults.
    pub fn new() -> Self {
        Builder::default()
    }

    /// Number of worker cores: how many goroutines run in parallel (Go's
    /// `GOMAXPROCS`). Default: the `GOMAXPROCS` environment variable, else
    /// `std::thread::available_parallelism()`. Values below 1 mean 1.
    pub fn workers(mut self, n: usize) -> Self {
        self.workers = Some(n.max(1));
        self
    }

    /// What an uncaught goroutine panic does (default [`PanicPolicy::Abort`]).
    pub fn on_goroutine_panic(mut self, policy: PanicPolicy) -> Self {
        self.panic_policy = policy;
        self
    }

    /// Seeds the random choices made for goroutines (`select!`'s case
    /// order). With a seed, each goroutine's sequence depends only on the seed
    /// and its id, so runs are reproducible.
    pub fn rng_seed(mut self, seed: u64) -> Self {
        self.rng_seed = Some(seed);
        self
    }

    /// Goroutines and blocking jobs of this runtime run inside `handle`'s
    /// tokio context (feature `tokio-compat`), so `tokio::spawn`,
    /// `tokio::time` and `tokio::net` work in them. Without this call the
    /// runtime uses a tokio runtime of its own, started once per process on
    /// its own thread. See the crate docs for the cost.
    ///
    /// ```
    /// let tokio_rt = tokio::runtime::Runtime::new().unwrap();
    /// let rt = goro_runtime::runtime::Runtime::builder()
    ///     .tokio(tokio_rt.handle().clone())
    ///     .build()
    ///     .unwrap();
    /// let v = rt.block_on(async {
    ///     tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    ///     tokio::spawn(async { 7 }).await.unwrap()
    /// });
    /// assert_eq!(v.unwrap(), 7);
    /// ```
    #[cfg(feature = "tokio-compat")]
    pub fn tokio(mut self, handle: tokio::runtime::Handle) -> Self {
        self.tokio = crate::tokio_compat::TokioContext::borrowed(handle);
        self
    }

    /// Turns the global deadlock check on or off (default on): when on and
    /// no goroutine can ever run again, `block_on` returns
    /// [`RuntimeError::Deadlock`]; when off, a deadlocked `block_on` blocks
    /// forever (for programs woken by means goro cannot see).
    pub fn detect_deadlocks(mut self, on: bool) -> Self {
        self.detect_deadlocks = on;
        self
    }

    /// Starts a watchdog thread that looks for goroutines provably parked
    /// forever (`leak::find_stuck`'s analysis) every `every` and logs each
    /// newly found one once through `tracing` at warn level (target
    /// `goro::watchdog`), with its dump block. Off by default.
    ///
    /// ```
    /// let rt = goro_runtime::runtime::Runtime::builder()
    ///     .watchdog(std::time::Duration::from_secs(1))
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(rt.block_on(async { 7 }).unwrap(), 7);
    /// ```
    pub fn watchdog(mut self, every: Duration) -> Self {
        self.watchdog = Some(every);
        self
    }

    /// How long an idle `spawn_blocking` thread waits for a new job before
    /// exiting (default 10 s).
    pub fn thread_keep_alive(mut self, d: Duration) -> Self {
        self.keep_alive = d;
        self
    }

    /// Replaces the driver (timer wheel + IO reactor) that the last idle
    /// worker blocks in; by default `build` creates `io::driver::Driver`.
    /// For scheduler tests with a stand-in driver.
    #[cfg(all(test, not(goro_loom)))]
    pub(crate) fn driver(mut self, driver: StdArc<dyn Driver>) -> Self {
        self.driver = Some(driver);
        self
    }

    /// Builds the runtime and starts its worker threads.
    pub fn build(self) -> io::Result<Runtime> {
        let workers = self.workers.unwrap_or_else(default_workers);
        // The timer wheel and IO reactor, which the last idle worker blocks
        // in (unless a test installed its own driver; then timers and
        // sockets created on the runtime use the fallbacks: goro-hook's
        // timer thread, the netpoll thread).
        let mut io_handle = None;
        let driver = match self.driver {
            Some(d) => d,
            None => {
                let io = crate::io::driver::Driver::new()?;
                io_handle = Some(io.handle().clone());
                let timers = crate::timer_seam::RuntimeTimers(io.handle().clone());
                let io = io.with_hook_timers(StdArc::new(timers));
                let d: StdArc<dyn Driver> = StdArc::new(io);
                d
            }
        };
        let cfg = Config {
            workers,
            panic_policy: self.panic_policy,
            rng_seed: self.rng_seed.unwrap_or_else(|| fastrand::u64(..)),
            keep_alive: self.keep_alive,
            detect_deadlocks: self.detect_deadlocks,
            watchdog: self.watchdog,
            tokio: self.tokio.resolve()?,
        };
        let shared = Shared::new(cfg, Some(driver));
        shared.start()?;
        Ok(Runtime {
            handle: Handle {
                shared,
                counted: false,
            },
            io: io_handle,
        })
    }
}

/// A goro runtime: worker threads, run queues, the goroutine registry and
/// the blocking pool.
///
/// Several runtimes may exist and run at once; goroutine ids, dumps and
/// counts are per runtime. Dropping the runtime stops it: worker threads are
/// joined and every remaining goroutine is dropped.
///
/// ```
/// let rt = goro_runtime::runtime::Runtime::builder().workers(2).build().unwrap();
/// let v = rt.block_on(async {
///     let h = goro_runtime::spawn(async { 20 });
///     h.await.unwrap() + 1
/// });
/// assert_eq!(v.unwrap(), 21);
/// ```
pub struct Runtime {
    handle: Handle,
    /// The driver `build` made (timers, IO), closed on drop.
    io: Option<crate::io::driver::Handle>,
}

impl Runtime {
    /// A [`Builder`].
    pub fn builder() -> Builder {
        Builder::new()
    }

    /// A handle to spawn goroutines from outside the runtime.
    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// Runs `fut` as the main goroutine (id 1) on this thread, which borrows
    /// worker core 0 for the duration (so `workers(1)` uses no other thread
    /// while inside `block_on`). Like Go's `main.main`, when it returns the
    /// runtime stops: every other goroutine is dropped (destructors run),
    /// worker threads are joined, and the result is returned. A later
    /// `block_on` starts the runtime again.
    ///
    /// Returns [`RuntimeError::GoroutinePanic`] if the main goroutine panics,
    /// or another one does under [`PanicPolicy::Abort`].
    ///
    /// Concurrent `block_on` calls on one runtime take turns.
    ///
    /// Stopping joins the worker threads, except one stuck in a goroutine
    /// that blocks its thread (a blocking call outside `spawn_blocking`):
    /// after a millisecond its core is taken back and the thread is left to
    /// finish that call on its own (the goroutine is dropped when it
    /// returns). Jobs still running on the blocking pool are not waited for.
    ///
    /// A goroutine that blocks its thread loses its worker core to another
    /// thread (see the crate's scheduler docs), so the others keep running.
    /// The main goroutine, though, is polled only by this thread: while
    /// another goroutine blocks *this* thread, main waits for that call.
    ///
    /// # Panics
    ///
    /// When called from inside a goroutine (it would block a worker), or if
    /// restarting the worker threads fails.
    ///
    /// ```
    /// let rt = goro_runtime::runtime::Runtime::builder().build().unwrap();
    /// assert_eq!(rt.block_on(async { goro_runtime::current_id().unwrap().as_u64() }).unwrap(), 1);
    /// ```
    #[track_caller]
    pub fn block_on<F: Future>(&self, fut: F) -> Result<F::Output, RuntimeError> {
        let at = Location::caller();
        assert!(
            context::with_worker(|w| w.is_none()),
            "goro: Runtime::block_on called from inside a goroutine; it would block a worker thread"
        );
        let shared = &self.handle.shared;
        assert!(
            !context::current_runtime().is_some_and(|rt| StdArc::ptr_eq(&rt, shared)),
            "goro: Runtime::block_on called from a blocking job of the same runtime"
        );
        let _turn = lock(&shared.block_on_turn);
        // This thread runs the main goroutine now, not outside code.
        let _outside = goro_hook::enter_runtime_thread();
        shared
            .start()
            .expect("goro: could not restart the runtime's worker threads");
        if shared.aborted() {
            // A goroutine spawned through a handle panicked while nobody was
            // in block_on.
            let err = shared.take_abort();
            shared.stop();
            if let Some(err) = err {
                return Err(err);
            }
        }
        let core = shared
            .acquire_core(0, true)
            .expect("core 0 is always handed to block_on");
        // The main goroutine's record lives in its waker's `Arc`, so that its
        // waker watch outlives every clone of the waker.
        let main = Arc::new(MainWaker {
            shared: shared.clone(),
            record: GoroutineRecord::new(GoroutineId::MAIN, None, at, shared.rng_seed),
        });
        let record = &main.record;
        // SAFETY: `main` (and the record in it) lives on this frame until
        // after the matching `remove` in `MainExit::drop`, which runs on
        // every way out of this function, unwinding included (`exit` is
        // declared after `main`, so it is dropped first).
        unsafe { shared.registry.insert(record, None) };
        // Release pairs with the deadlock check's Acquire load.
        shared.main_active.store(true, Ordering::Release);
        let exit = MainExit { shared, record };
        let own_waker = Waker::from(main.clone());
        let mut fut = Box::pin(fut);
        let mut output = None;
        let mut panicked = None;
        let main_done = std::cell::Cell::new(false);
        shared.wake_main();
        {
            let mut poll_main = || -> bool {
                // Running before the watch's poll start (`WakerWatch::watched`
                // clears its "woken" flag): a checker that reads the cleared
                // flag sees the goroutine no longer parked where it was.
                record.set_running();
                // SAFETY: the watch lies in the `Arc` every clone of
                // `own_waker` keeps alive; clones of an `Arc` waker keep its
                // data and vtable.
                let waker = unsafe { record.watch.watched(&own_waker) };
                let mut cx = Context::from_waker(&waker);
                let future = (
                    std::ptr::from_ref::<F>(&fut) as usize,
                    std::mem::size_of::<F>(),
                );
                let host = StdArc::as_ptr(shared).cast::<()>() as usize;
                let polled = task::poll_scoped(
                    record,
                    &waker,
                    host,
                    future,
                    || catch_unwind(AssertUnwindSafe(|| fut.as_mut().poll(&mut cx))),
                    |polled| {
                        matches!(polled, Ok(Poll::Pending))
                            .then(|| task::Host::park_time(&**shared))
                    },
                    |_| {},
                );
                match polled {
                    Ok(Poll::Pending) => false,
                    Ok(Poll::Ready(v)) => {
                        output = Some(v);
                        main_done.set(true);
                        true
                    }
                    Err(p) => {
                        panicked = Some(panic_message(&p));
                        main_done.set(true);
                        true
                    }
                }
            };
            // tokio's context on this thread while it runs goroutines.
            let _tokio = shared.tokio.enter();
            let mut core = Some(core);
            loop {
                let c = match core.take() {
                    Some(c) => c,
                    None => shared
                        .acquire_core(0, true)
                        .expect("core 0 is always handed to block_on"),
                };
                match worker::run(shared, 0, c, Some(&mut poll_main)) {
                    Some(c) => {
                        shared.release_core(0, c, true);
                        break;
                    }
                    // The monitor took core 0 while this thread was stuck
                    // in a poll (of main or of another goroutine): take it
                    // back, unless main is done.
                    None if main_done.get() || shared.aborted() => break,
                    None => {}
                }
            }
        }
        drop(fut);
        drop(exit);
        shared.stop();
        let abort = shared.take_abort();
        match (output, panicked) {
            (Some(v), _) => Ok(v),
            (None, Some(message)) => Err(RuntimeError::GoroutinePanic {
                id: GoroutineId::MAIN,
                message,
                spawned_at: at,
            }),
            (None, None) => Err(abort.expect("run loop left without a result or an abort")),
        }
    }
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runtime")
            .field("handle", &self.handle)
            .finish()
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.handle.shared.stop();
        // The runtime can never run again: drop the pending timers' actions
        // (an `after`, `tick` or `after_func` still armed keeps itself, and
        // through its timer entry this driver, alive until it fires).
        if let Some(io) = &self.io {
            io.close_timers();
        }
    }
}

/// Unregisters the main goroutine's stack-allocated record when `block_on`
/// returns or unwinds (a record left registered would dangle: `dump` and
/// `snapshot` read it). When unwinding, also stops the runtime, as the
/// main goroutine's end does. (Core 0 is given back by the run loop itself,
/// see `worker::run`.)
struct MainExit<'a> {
    shared: &'a StdArc<Shared>,
    record: &'a GoroutineRecord,
}

impl Drop for MainExit<'_> {
    fn drop(&mut self) {
        self.shared.main_active.store(false, Ordering::Release);
        drop(self.shared.registry.remove(self.record));
        if std::thread::panicking() {
            self.shared.stop();
        }
    }
}

/// The main goroutine's waker: flags it and wakes core 0.
struct MainWaker {
    shared: StdArc<Shared>,
    /// The main goroutine's record.
    record: GoroutineRecord,
}

impl Wake for MainWaker {
    fn wake(self: Arc<Self>) {
        self.shared.wake_main();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.shared.wake_main();
    }
}

/// A handle to a runtime: spawns goroutines on it from any thread.
///
/// ```
/// let rt = goro_runtime::runtime::Runtime::builder().build().unwrap();
/// let h = rt.handle().spawn(async { 5 });
/// assert_eq!(rt.block_on(h).unwrap().unwrap(), 5);
/// ```
///
/// Every `Handle` except the `Runtime`'s own (`Runtime::handle`) counts as
/// a possible spawner for the deadlock check: while one is alive, a
/// deadlock is not reported (its holder could still spawn a goroutine that
/// ends it).
pub struct Handle {
    pub(crate) shared: StdArc<Shared>,
    /// Counted in `Shared::outside_handles`.
    counted: bool,
}

impl Handle {
    fn counted(shared: StdArc<Shared>) -> Handle {
        // SeqCst: read by the deadlock check.
        shared.outside_handles.fetch_add(1, Ordering::SeqCst);
        Handle {
            shared,
            counted: true,
        }
    }
}

impl Clone for Handle {
    fn clone(&self) -> Self {
        Handle::counted(self.shared.clone())
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        if self.counted && self.shared.outside_handles.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.shared.poke_deadlock_check();
        }
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle")
            .field("workers", &self.shared.num_workers())
            .finish()
    }
}

impl Handle {
    /// Spawns a goroutine on this runtime. If the runtime is stopped the
    /// goroutine is dropped at once and its handle reports cancellation.
    #[track_caller]
    pub fn spawn<F>(&self, fut: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let at = Location::caller();
        let parent = context::with_worker(|w| match w {
            Some(w) if StdArc::ptr_eq(&w.shared, &self.shared) => context::current_goroutine(),
            _ => None,
        });
        scheduler::spawn(&self.shared, fut, at, parent)
    }

    /// Runs `f` on this runtime's blocking pool.
    #[track_caller]
    pub fn spawn_blocking<F, R>(&self, f: F) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        scheduler::spawn_blocking(
            &self.shared,
            f,
            Location::caller(),
            context::current_goroutine(),
        )
    }

    /// The handle of the runtime this thread is running (a goroutine or a
    /// blocking job), if any.
    ///
    /// ```
    /// assert!(goro_runtime::runtime::Handle::try_current().is_none());
    /// goro_runtime::run(async { assert!(goro_runtime::runtime::Handle::try_current().is_some()) });
    /// ```
    pub fn try_current() -> Option<Handle> {
        context::current_runtime().map(Handle::counted)
    }

    /// Live goroutines of this runtime, main included.
    pub fn num_goroutine(&self) -> usize {
        self.shared.registry.len()
    }

    /// The dump of this runtime's goroutines (see [`dump`]).
    pub fn dump(&self) -> String {
        format_dump(&self.snapshot())
    }

    /// Every live goroutine of this runtime, sorted by id.
    pub fn snapshot(&self) -> Vec<GoroutineSnapshot> {
        self.shared.registry.snapshot()
    }

    /// Number of worker cores (GOMAXPROCS).
    pub fn workers(&self) -> usize {
        self.shared.num_workers()
    }

    /// Threads currently in the blocking pool.
    pub fn blocking_threads(&self) -> usize {
        self.shared.blocking.threads()
    }
}

/// Number of live goroutines of the current runtime, main included; 0 when
/// not called from a goroutine or blocking job. Go: `runtime.NumGoroutine`.
///
/// ```
/// goro_runtime::run(async {
///     assert_eq!(goro_runtime::runtime::num_goroutine(), 1);
/// });
/// ```
pub fn num_goroutine() -> usize {
    Handle::try_current().map_or(0, |h| h.num_goroutine())
}

/// Every goroutine of the current runtime, in Go's traceback-header format
/// (empty when not called from a goroutine or blocking job):
///
/// ```text
/// goroutine 18 [chan send, 2 minutes]:
///     parked at src/search.rs:41:17 on chan (unbuffered, len 0) made at src/search.rs:35:13
/// created by goroutine 1 at src/search.rs:39:9
/// ```
///
/// Blocks are separated by a blank line; the wait duration appears from one
/// minute on, in whole minutes, as in Go. Go: `runtime.Stack(buf, true)`.
///
/// ```
/// goro_runtime::run(async {
///     assert!(goro_runtime::runtime::dump().starts_with("goroutine 1 [running]:\n"));
/// });
/// ```
pub fn dump() -> String {
    Handle::try_current().map_or_else(String::new, |h| h.dump())
}

/// Every live goroutine of the current runtime (empty off a runtime), for
/// the leak and deadlock analyses.
///
/// ```
/// goro_runtime::run(async {
///     let gs = goro_runtime::runtime::snapshot();
///     assert_eq!(gs[0].id.as_u64(), 1);
/// });
/// ```
pub fn snapshot() -> Vec<GoroutineSnapshot> {
    Handle::try_current().map_or_else(Vec::new, |h| h.snapshot())
}
