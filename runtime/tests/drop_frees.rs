//! Dropping a runtime (or returning from main) frees every goroutine,
//! including parked ones that are only reachable through a waker cycle.
//! Checked with a counting global allocator: its own test binary.

use std::future::{pending, Future};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use goro_runtime::runtime::Runtime;

#[path = "support/counting_alloc.rs"]
mod counting_alloc;

use counting_alloc::LIVE;

static DROPS: AtomicUsize = AtomicUsize::new(0);

struct Counted;
impl Drop for Counted {
    fn drop(&mut self) {
        DROPS.fetch_add(1, Ordering::Relaxed);
    }
}

/// A future that stores its own waker in state it shares with itself: the
/// goroutine's allocation is reachable only from itself (the situation of a
/// goroutine parked on a channel only it holds).
struct SelfCycle {
    slot: Arc<Mutex<Option<Waker>>>,
    _c: Counted,
}

impl Future for SelfCycle {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        *self.slot.lock().unwrap() = Some(cx.waker().clone());
        Poll::Pending
    }
}

fn workload(rt: &Runtime, n: usize) {
    rt.block_on(async move {
        let mut held = Vec::new();
        for i in 0..n {
            let c = Counted;
            match i % 3 {
                0 => {
                    drop(goro_runtime::spawn(SelfCycle {
                        slot: Arc::new(Mutex::new(None)),
                        _c: c,
                    }));
                }
                1 => {
                    drop(goro_runtime::spawn(async move {
                        let _c = c;
                        pending::<()>().await
                    }));
                }
                _ => held.push(goro_runtime::spawn(async move {
                    let _c = c;
                    goro_runtime::yield_now().await;
                    pending::<()>().await
                })),
            }
        }
        for _ in 0..10 {
            goro_runtime::yield_now().await;
        }
        // Main returns: every other goroutine is dropped.
        drop(held);
    })
    .unwrap();
}

#[test]
fn stopping_frees_parked_goroutines() {
    // Warm up: thread-locals, lazily allocated std state.
    {
        let rt = Runtime::builder().workers(2).build().unwrap();
        workload(&rt, 30);
    }
    let before = LIVE.load(Ordering::SeqCst);
    let pooled0 = goro_runtime::__private::join_slot_pool_bytes();
    DROPS.store(0, Ordering::SeqCst);
    {
        let rt = Runtime::builder().workers(2).build().unwrap();
        workload(&rt, 30000);
        assert_eq!(
            DROPS.load(Ordering::SeqCst),
            30000,
            "every goroutine dropped when main returned"
        );
        // Reuse, then drop the runtime while goroutines spawned from outside
        // are parked.
        workload(&rt, 300);
        let _detached = rt.handle().spawn(SelfCycle {
            slot: Arc::new(Mutex::new(None)),
            _c: Counted,
        });
    }
    assert_eq!(DROPS.load(Ordering::SeqCst), 30301);
    // A dropped runtime's short-lived helper threads (the deadlock check's
    // 30 ms confirmation thread holds the runtime's recheck waker) let go of
    // their references a little after `drop`: wait for that, bounded.
    // The join slots' pool keeps its blocks (24 bytes per slot alive at
    // once, here up to 30300: bounded, and no goroutine left behind).
    let pooled = goro_runtime::__private::join_slot_pool_bytes() - pooled0;
    assert!(pooled <= 2 << 20, "join slot pool grew by {pooled} bytes");
    let before = before + pooled as isize;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let mut after = LIVE.load(Ordering::SeqCst);
    while after - before >= 64 * 1024 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(5));
        after = LIVE.load(Ordering::SeqCst);
    }
    // crossbeam-deque frees retired queue buffers and per-thread epoch
    // records lazily (epoch GC), so a few KiB may still be pending; a leaked
    // goroutine would cost its whole task cell (hundreds of bytes) times
    // 30300, far above this bound (and the residue does not grow with the
    // number of goroutines).
    assert!(
        after - before < 64 * 1024,
        "bytes leaked: {}",
        after - before
    );
}
