//! hyper's runtime traits on goro: [`Executor`] starts goroutines, [`Timer`]
//! hands out goro's [`Sleep`](goro_time::Sleep).
//!
//! The IO traits (`hyper::rt::Read`/`Write`) are implemented by
//! `goro_runtime::net::TcpStream` itself (feature `hyper` of goro-runtime),
//! and `hyper::rt::Sleep` by `goro_time::Sleep` itself (feature `hyper` of
//! goro-time, the crate that owns it): no wrapper types.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

/// hyper's executor: each future it is given becomes a goroutine (hyper
/// spawns one per HTTP/2 stream and per client connection task).
///
/// Must be used from a goroutine (or a blocking job) of a goro runtime.
///
/// ```
/// use hyper::rt::Executor as _;
/// goro_runtime::run(async {
///     let c = goro_chan::make::<u8>(1);
///     let tx = c.clone();
///     goro_http::Executor.execute(async move { tx.send(1).await });
///     assert_eq!(c.recv().await, Some(1));
/// });
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct Executor;

impl<F> hyper::rt::Executor<F> for Executor
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    #[track_caller]
    fn execute(&self, fut: F) {
        // Detached, as Go's `go` statement.
        drop(goro_runtime::spawn(fut));
    }
}

/// hyper's timer: goro's timer wheel. hyper's header-read timeout and
/// HTTP/2 keep-alive pings need one; without it hyper silently turns them
/// off (or panics when they are configured).
///
/// ```
/// use hyper::rt::Timer as _;
/// goro_runtime::run(async {
///     let t0 = std::time::Instant::now();
///     goro_http::Timer.sleep(std::time::Duration::from_millis(2)).await;
///     assert!(t0.elapsed() >= std::time::Duration::from_millis(2));
/// });
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct Timer;

impl hyper::rt::Timer for Timer {
    #[track_caller]
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(goro_time::sleep(duration))
    }

    #[track_caller]
    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(goro_time::sleep_until(deadline))
    }
}
