//! The blocking pool grows with concurrent jobs and shrinks when idle.

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use goro_runtime::runtime::Runtime;

#[test]
fn grows_on_demand_and_shrinks_when_idle() {
    let rt = Runtime::builder()
        .workers(1)
        .thread_keep_alive(Duration::from_millis(20))
        .build()
        .unwrap();
    let handle = rt.handle().clone();
    rt.block_on(async move {
        const JOBS: usize = 6;
        // Every job waits for all the others: they can only finish if the
        // pool runs all of them at once.
        let barrier = Arc::new(Barrier::new(JOBS));
        let hs: Vec<_> = (0..JOBS)
            .map(|i| {
                let b = barrier.clone();
                goro_runtime::spawn_blocking(move || {
                    b.wait();
                    i
                })
            })
            .collect();
        let mut sum = 0;
        for h in hs {
            sum += h.await.unwrap();
        }
        assert_eq!(sum, (0..JOBS).sum::<usize>());
        assert!(handle.blocking_threads() >= JOBS);
        // Idle threads exit after the keep-alive. This waits on the pool's
        // own timeout, bounded by a generous deadline.
        let deadline = Instant::now() + Duration::from_secs(20);
        while handle.blocking_threads() > 0 {
            assert!(Instant::now() < deadline, "blocking threads did not exit");
            std::thread::park_timeout(Duration::from_millis(5));
        }
        // And it grows again.
        assert_eq!(goro_runtime::spawn_blocking(|| 3).await.unwrap(), 3);
    })
    .unwrap();
}
