//! tokio-util's `CancellationToken`: the tokio peer of `goro::context`
//! (context, issue 10).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::measure::{Measurement, Stopwatch};

/// `n` tasks each wait on their own child token of one root token; the
/// section is from cancelling the root until the last one has woken (Go's
/// `ctxCancelFanout`).
pub async fn cancel_fanout(n: u64) -> Measurement {
    let root = CancellationToken::new();
    let (ready_left, woke_left) = (Arc::new(AtomicU64::new(n)), Arc::new(AtomicU64::new(n)));
    let canceled = Arc::new(AtomicU64::new(0));
    let (all_ready, all_woke) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
    for _ in 0..n {
        let child = root.child_token();
        let (ready_left, woke_left, canceled) =
            (ready_left.clone(), woke_left.clone(), canceled.clone());
        let (all_ready, all_woke) = (all_ready.clone(), all_woke.clone());
        drop(tokio::spawn(async move {
            let done = child.cancelled();
            tokio::pin!(done);
            // Register before reporting ready, as goro's and Go's waiters
            // have their done channel in hand.
            let _ = futures::poll!(done.as_mut());
            if ready_left.fetch_sub(1, Ordering::AcqRel) == 1 {
                all_ready.notify_one();
            }
            done.await;
            if child.is_cancelled() {
                canceled.fetch_add(1, Ordering::Relaxed);
            }
            if woke_left.fetch_sub(1, Ordering::AcqRel) == 1 {
                all_woke.notify_one();
            }
        }));
    }
    all_ready.notified().await;
    let sw = Stopwatch::start();
    root.cancel();
    all_woke.notified().await;
    let m = sw.stop(n);
    let c = canceled.load(Ordering::Relaxed);
    m.expect(c == n, || format!("canceled={c}"))
}
