//! Shutdown under load: the main goroutine returns (and then the runtime is
//! dropped) while thousands of goroutines are parked on channels and in
//! `select!`, running (always runnable), sleeping on timers, and while jobs
//! run on the blocking pool. `block_on` returns within a bounded time, every
//! goroutine's state is dropped, and once the blocking jobs (which shutdown
//! does not wait for: a blocking call cannot be interrupted) end, every byte
//! is freed. Checked with a counting global allocator: its own test binary.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use goro::chan;
use goro::runtime::Runtime;

#[path = "../runtime/tests/support/counting_alloc.rs"]
mod counting_alloc;

use counting_alloc::LIVE;

static MADE: AtomicUsize = AtomicUsize::new(0);
static DROPS: AtomicUsize = AtomicUsize::new(0);

/// Owned by each goroutine and job; counts its drop.
struct Counted(#[allow(dead_code)] Box<[u8; 64]>);

impl Counted {
    fn new() -> Self {
        MADE.fetch_add(1, Ordering::Relaxed);
        Counted(Box::new([0; 64]))
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        DROPS.fetch_add(1, Ordering::Relaxed);
    }
}

/// Goroutines of each kind.
const EACH: usize = 2_000;
/// Blocking jobs.
const JOBS: usize = 16;
/// Failing guard for `block_on` to return after main does.
const STOP_LIMIT: Duration = Duration::from_secs(10);

/// Goroutines about to park (counted in the poll that parks them).
static PARKING: AtomicUsize = AtomicUsize::new(0);

/// Starts the load, waits (bounded) until it is in place, and returns: the
/// runtime stops with everything still parked, running, sleeping or
/// blocked. Returns the instant main returned.
fn load(rt: &Runtime, each: usize, jobs: usize, release_jobs: mpsc::Receiver<()>) -> Instant {
    let release_jobs = Arc::new(std::sync::Mutex::new(release_jobs));
    PARKING.store(0, Ordering::SeqCst);
    rt.block_on(async move {
        // Held by main only, so nobody ever sends, receives or closes.
        let never = chan::make::<Counted>(0);
        let buffered_full = chan::make::<Counted>(1);
        buffered_full.try_send(Counted::new()).unwrap();
        for i in 0..each {
            // Parked: on receive, on send to a full channel, in select.
            let (a, b) = (never.clone(), buffered_full.clone());
            let c = Counted::new();
            drop(goro::go!(async move {
                let c = c;
                PARKING.fetch_add(1, Ordering::SeqCst);
                match i % 3 {
                    0 => drop(a.recv().await),
                    1 => b.send(c).await,
                    _ => goro::select! {
                        v = a.recv() => drop(v),
                        b.send(c) => {},
                    },
                }
            }));
            // Running: always runnable.
            let c = Counted::new();
            drop(goro::go!(async move {
                let _c = c;
                loop {
                    goro::yield_now().await;
                }
            }));
            // Sleeping on a timer.
            let c = Counted::new();
            drop(goro::go!(async move {
                let _c = c;
                PARKING.fetch_add(1, Ordering::SeqCst);
                goro::time::sleep(Duration::from_secs(3600)).await;
            }));
        }
        // Each job reports here once it runs.
        let started = chan::make::<()>(jobs);
        for _ in 0..jobs {
            let (release, started) = (release_jobs.clone(), started.sender());
            let c = Counted::new();
            drop(goro::spawn_blocking(move || {
                let _c = c;
                started.send_blocking(());
                // Blocks until the test releases it, after the runtime is gone.
                let _ = release.lock().unwrap().recv();
            }));
        }
        for _ in 0..jobs {
            started.recv().await.unwrap();
        }
        // Wait (bounded) until the parking goroutines have parked or are
        // parking (the count is taken in the poll that parks).
        let deadline = Instant::now() + Duration::from_secs(60);
        while PARKING.load(Ordering::SeqCst) < 2 * each {
            assert!(
                Instant::now() < deadline,
                "only {} goroutines parked",
                PARKING.load(Ordering::SeqCst)
            );
            goro::yield_now().await;
        }
        assert_eq!(goro::runtime::num_goroutine(), 1 + 3 * each);
        drop((never, buffered_full));
        Instant::now()
    })
    .expect("main returns normally")
}

#[test]
fn stopping_under_load_frees_everything() {
    // Warm up: thread-locals, lazily allocated std state, the pool's threads.
    {
        let rt = Runtime::builder().workers(2).build().unwrap();
        let (release, rx) = mpsc::channel();
        load(&rt, 30, 2, rx);
        drop(rt);
        drop(release);
        // Its blocking jobs end now, on their own threads: wait (bounded).
        let deadline = Instant::now() + Duration::from_secs(30);
        while DROPS.load(Ordering::SeqCst) < MADE.load(Ordering::SeqCst) {
            assert!(Instant::now() < deadline, "warm-up jobs not dropped");
            std::thread::yield_now();
        }
    }
    let before = LIVE.load(Ordering::SeqCst);
    let pooled0 = goro::__private::join_slot_pool_bytes();
    let (made0, drops0) = (MADE.load(Ordering::SeqCst), DROPS.load(Ordering::SeqCst));
    let (release, rx) = mpsc::channel::<()>();
    let rt = Runtime::builder().workers(2).build().unwrap();
    let main_returned = load(&rt, EACH, JOBS, rx);
    let stopped = main_returned.elapsed();
    assert!(
        stopped < STOP_LIMIT,
        "block_on took {stopped:?} to return after main"
    );
    let made = MADE.load(Ordering::SeqCst) - made0;
    let dropped = DROPS.load(Ordering::SeqCst) - drops0;
    // Every goroutine's state is gone; only the blocking jobs, still
    // running (shutdown does not wait for them), hold theirs.
    assert_eq!(made, 3 * EACH + 1 + JOBS);
    assert_eq!(dropped, made - JOBS, "goroutine state left after block_on");
    let t = Instant::now();
    drop(rt);
    assert!(
        t.elapsed() < STOP_LIMIT,
        "dropping the runtime took {:?}",
        t.elapsed()
    );
    // Release the jobs: they end and are freed with their pool threads'
    // state. Wait (bounded) for their drops.
    drop(release);
    let deadline = Instant::now() + Duration::from_secs(30);
    while DROPS.load(Ordering::SeqCst) - drops0 < made {
        assert!(Instant::now() < deadline, "blocking jobs not dropped");
        std::thread::yield_now();
    }
    // The pool threads exit after their job (the pool is shut down); their
    // last frees race with this check, so wait (bounded) for the count.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        // The join slots' pool keeps its blocks (24 bytes per slot alive
        // at once: bounded, and not a goroutine left behind).
        let pooled = goro::__private::join_slot_pool_bytes() - pooled0;
        assert!(pooled <= 1 << 20, "join slot pool grew by {pooled} bytes");
        let leaked = LIVE.load(Ordering::SeqCst) - before - pooled as isize;
        // crossbeam-deque frees retired buffers and epoch records lazily (see
        // runtime/tests/drop_frees.rs): a few KiB may still be pending. A
        // goroutine or timer left behind would cost hundreds of bytes each,
        // times 6,000.
        if leaked < 64 * 1024 {
            println!(
                "block_on returned {stopped:?} after main; {made} values dropped; \
                 {leaked} bytes still allocated"
            );
            break;
        }
        assert!(Instant::now() < deadline, "bytes leaked: {leaked}");
        std::thread::yield_now();
    }
}
