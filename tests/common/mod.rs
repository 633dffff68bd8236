//! Shared helpers for the select integration tests: where goroutines run.
//!
//! `run` runs a future as the main goroutine of a fresh goro runtime with two
//! workers, `go` spawns a goroutine and returns a handle whose `.await` gives
//! its output (re-raising its panic), `yield_now` is Go's `runtime.Gosched`.
//! `within` runs a test body on a helper thread with a deadline, so a hang
//! fails the test instead of the suite; `until_parked` waits for goroutines
//! to reach a wait state.

#![allow(dead_code)]

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// Runs `fut` to completion as the main goroutine of a fresh runtime.
pub fn run<F>(fut: F) -> F::Output
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    run_seeded(None, fut)
}

/// [`run`] with the runtime's random generator (select's case order) seeded.
pub fn run_seeded<F>(seed: Option<u64>, fut: F) -> F::Output
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let mut builder = goro::Runtime::builder().workers(2);
    if let Some(seed) = seed {
        builder = builder.rng_seed(seed);
    }
    let rt = builder.build().expect("build the test runtime");
    match rt.block_on(fut) {
        Ok(v) => v,
        Err(e) => panic!("{e}"),
    }
}

/// A spawned goroutine; awaiting it gives its output or resumes its panic.
pub struct Handle<T>(goro::JoinHandle<T>);

/// Spawns `fut` as a goroutine on the current runtime.
#[track_caller]
pub fn go<F>(fut: F) -> Handle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    Handle(goro::spawn(fut))
}

impl<T> Future for Handle<T> {
    type Output = T;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        match Pin::new(&mut self.0).poll(cx) {
            Poll::Ready(Ok(v)) => Poll::Ready(v),
            Poll::Ready(Err(e)) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Poll::Ready(Err(e)) => panic!("goroutine did not finish: {e}"),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// Go's `runtime.Gosched`: lets the other goroutines run.
pub async fn yield_now() {
    goro::yield_now().await
}

/// Polls `fut` exactly once with a waker that does nothing, off any runtime.
/// `Ready` means the operation did not block.
pub fn poll_once<F: Future>(fut: F) -> Poll<F::Output> {
    let mut fut = std::pin::pin!(fut);
    fut.as_mut()
        .poll(&mut Context::from_waker(std::task::Waker::noop()))
}

/// Runs `f` and returns the message of its panic, if it panicked.
pub fn panic_message(f: impl FnOnce()) -> Option<String> {
    let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).err()?;
    Some(
        err.downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| err.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "<non-string panic>".to_string()),
    )
}

/// Runs `f` on a helper thread; fails the test if it does not finish in
/// `limit`.
pub fn within<T: Send + 'static>(
    limit: Duration,
    what: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(limit) {
        Ok(v) => v,
        Err(_) => panic!("{what}: did not finish within {limit:?} (hang)"),
    }
}

/// Waits (yielding) until `n` goroutines other than main are parked with
/// wait reason `reason`.
pub async fn until_parked(n: usize, reason: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let parked = goro::runtime::snapshot()
            .iter()
            .filter(|g| g.id.as_u64() != 1 && g.wait_reason() == reason)
            .count();
        if parked >= n {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "goroutines never parked in {reason}"
        );
        goro::yield_now().await;
    }
}
