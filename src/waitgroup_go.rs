//! `WaitGroup::go` (Go 1.25's `wg.Go(f)`): spawning needs the runtime, which
//! `goro-sync` does not depend on, so it lives here as an extension trait.

use std::future::Future;

use goro_sync::WaitGroup;

/// Go's `wg.Go(f)` for [`WaitGroup`]: `add(1)`, then spawn a goroutine that
/// runs the future and calls `done` when it finishes (also if it panics or is
/// dropped, as Go's `defer wg.Done()`). Never blocks.
///
/// ```
/// use goro::sync::{WaitGroup, WaitGroupExt};
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::sync::Arc;
///
/// goro::run(async {
///     let wg = WaitGroup::new();
///     let n = Arc::new(AtomicUsize::new(0));
///     for _ in 0..10 {
///         let n = n.clone();
///         wg.go(async move { n.fetch_add(1, Ordering::Relaxed); });
///     }
///     wg.wait().await;
///     assert_eq!(n.load(Ordering::Relaxed), 10);
/// });
/// ```
pub trait WaitGroupExt {
    /// Adds one to the counter and runs `fut` in a new goroutine that calls
    /// `done` when it ends. Must be called on a goro runtime (as `goro::spawn`).
    #[track_caller]
    fn go<F>(&self, fut: F)
    where
        F: Future<Output = ()> + Send + 'static;
}

impl WaitGroupExt for WaitGroup {
    #[track_caller]
    fn go<F>(&self, fut: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        /// Go's `defer wg.Done()`.
        struct Done(WaitGroup);
        impl Drop for Done {
            fn drop(&mut self) {
                self.0.done();
            }
        }
        self.add(1);
        let done = Done(self.clone());
        drop(crate::spawn(async move {
            let _done = done;
            fut.await;
        }));
    }
}
