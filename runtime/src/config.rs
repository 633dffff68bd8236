//! The runtime's configuration: what the [`Builder`](crate::runtime::Builder)
//! collects and the scheduler reads, and [`PanicPolicy`].
//!
//! A leaf module: it imports nothing from the rest of the crate but the
//! tokio bridge's handle type (`tokio_compat`, itself a leaf).
//!
//! Go: `GOMAXPROCS` and the fixed "an unrecovered panic ends the program".

use std::time::Duration;

/// What happens when a goroutine panics and the panic is not caught.
///
/// Go: an unrecovered panic in any goroutine ends the program (exit status
/// 2). `Abort` is that: the runtime stops and `block_on` returns
/// [`RuntimeError::GoroutinePanic`](crate::runtime::RuntimeError::GoroutinePanic) — for *every* goroutine panic, whether or
/// not its `JoinHandle` is held (the handle, if awaited in time, also sees
/// the `JoinError`). `Ignore` keeps the runtime running: the panic reaches the
/// goroutine's `JoinHandle` as a [`JoinError`](crate::JoinError) (and is lost
/// if the handle was dropped), which is how to test `JoinError::is_panic`.
///
/// ```
/// use goro_runtime::runtime::{PanicPolicy, Runtime, RuntimeError};
/// let rt = Runtime::builder().on_goroutine_panic(PanicPolicy::Abort).build().unwrap();
/// let err = rt.block_on(async {
///     let _ = goro_runtime::spawn(async { panic!("boom") });
///     std::future::pending::<()>().await
/// }).unwrap_err();
/// assert!(matches!(err, RuntimeError::GoroutinePanic { ref message, .. } if message == "boom"));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum PanicPolicy {
    /// Stop the runtime (Go's behaviour; the default).
    #[default]
    Abort,
    /// Deliver the panic to the goroutine's `JoinHandle` only.
    Ignore,
}

/// The settings a runtime is built with (the [`Builder`](crate::runtime::Builder)'s
/// choices, resolved). Set once, at build time.
#[derive(Clone, Debug)]
pub(crate) struct Config {
    /// Number of worker cores (Go's `GOMAXPROCS`), at least 1.
    pub(crate) workers: usize,
    /// What an uncaught goroutine panic does.
    pub(crate) panic_policy: PanicPolicy,
    /// Seed of every goroutine's generator.
    pub(crate) rng_seed: u64,
    /// How long an idle blocking-pool thread waits for a job.
    pub(crate) keep_alive: Duration,
    /// Whether the global deadlock check runs.
    pub(crate) detect_deadlocks: bool,
    /// Period of the stuck-goroutine watchdog, if any.
    pub(crate) watchdog: Option<Duration>,
    /// The tokio runtime the runtime's threads enter (`tokio-compat`).
    pub(crate) tokio: crate::tokio_compat::TokioContext,
}

/// The default number of workers: the `GOMAXPROCS` environment variable,
/// else the available parallelism, else 1.
pub(crate) fn default_workers() -> usize {
    std::env::var("GOMAXPROCS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&n| n > 0)
        .or_else(|| std::thread::available_parallelism().ok().map(|n| n.get()))
        .unwrap_or(1)
}
