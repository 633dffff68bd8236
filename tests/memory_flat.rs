//! Memory stays flat under churn: goroutines spawned and joined in waves,
//! and channels made, used and dropped in waves, return the resident set
//! size (RSS, from `/proc/self/statm`) to within a few MB (or 5%) of where
//! it was after one warm-up wave. A leak of one small allocation per
//! goroutine or channel would show as tens of MB.
//!
//! Sizes: CI runs 500,000 goroutines and 1,000,000 channels;
//! `GORO_CHURN=full` runs 10,000,000 goroutines (use `--release`);
//! `GORO_CHURN_TRACE=1` prints the RSS after every goroutine wave.

#![cfg(target_os = "linux")]

use std::sync::Mutex;
use std::time::Instant;

use goro::chan;

/// One test at a time: RSS is per process.
static SERIAL: Mutex<()> = Mutex::new(());

#[cfg(target_env = "gnu")]
extern "C" {
    /// glibc: releases free memory at the top of the heap and free whole
    /// pages inside it to the system.
    fn malloc_trim(pad: usize) -> i32;
}

/// Resident set size in bytes: the second field of `/proc/self/statm`, in
/// pages (4 KiB on the x86_64 and aarch64 Linux machines this runs on).
///
/// glibc's malloc keeps freed memory for reuse (so RSS stays at its high
/// water mark even when nothing leaks); it is asked to give back what is
/// free first, so RSS measures what is still allocated (plus fragmentation).
fn rss() -> usize {
    // SAFETY: `malloc_trim` only releases free memory; any thread may call
    // it at any time.
    #[cfg(target_env = "gnu")]
    unsafe {
        malloc_trim(0);
    }
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm");
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|f| f.parse().ok())
        .expect("statm's resident field");
    pages * 4096
}

fn full() -> bool {
    std::env::var("GORO_CHURN").as_deref() == Ok("full")
}

/// Fails if `after` is more than max(4 MiB, 5%) above `before`.
fn assert_flat(what: &str, before: usize, after: usize) {
    let allowed = (4 << 20).max(before / 20);
    let mib = |b: usize| b as f64 / (1 << 20) as f64;
    println!(
        "{what}: RSS {:.1} MiB after warm-up, {:.1} MiB at the end (allowed +{:.1} MiB)",
        mib(before),
        mib(after),
        mib(allowed)
    );
    assert!(
        after <= before + allowed,
        "{what}: RSS grew from {:.1} MiB to {:.1} MiB",
        mib(before),
        mib(after)
    );
}

/// Spawns `n` goroutines and joins them all.
async fn goroutine_wave(n: usize) {
    let handles: Vec<_> = (0..n)
        .map(|i| {
            goro::go!(async move {
                goro::yield_now().await;
                i
            })
        })
        .collect();
    let mut sum = 0;
    for h in handles {
        sum += h.await.unwrap();
    }
    assert_eq!(sum, n * (n - 1) / 2);
}

#[test]
// AddressSanitizer keeps freed memory in quarantine: RSS is not the program's.
#[cfg_attr(
    goro_asan,
    ignore = "RSS under AddressSanitizer includes its quarantine"
)]
fn goroutine_churn_returns_rss() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (total, wave) = if full() {
        (10_000_000, 100_000)
    } else {
        (500_000, 50_000)
    };
    let start = Instant::now();
    let rt = goro::Runtime::builder().workers(2).build().unwrap();
    rt.block_on(async move {
        // Warm-up: worker threads, allocator arenas, the registry's tables.
        goroutine_wave(wave).await;
        goroutine_wave(wave).await;
        let before = rss();
        for w in 0..total / wave {
            goroutine_wave(wave).await;
            if std::env::var("GORO_CHURN_TRACE").is_ok() {
                println!("wave {w}: RSS {} KiB", rss() / 1024);
            }
        }
        assert_eq!(goro::runtime::num_goroutine(), 1);
        assert_flat(
            &format!("{total} goroutines in waves of {wave}"),
            before,
            rss(),
        );
    })
    .unwrap();
    println!("goroutine churn: {:.1?}", start.elapsed());
}

/// Makes `n` channels of mixed capacities, puts values in some and parks
/// a receive or a send on others (a goroutine that is then released), and
/// drops them all.
async fn channel_wave(n: usize, seed: u64) {
    let mut rng = fastrand::Rng::with_seed(seed);
    let chans: Vec<chan::Chan<Box<u64>>> = (0..n).map(|_| chan::make(rng.usize(0..4))).collect();
    for (i, ch) in chans.iter().enumerate() {
        while ch.len() < ch.cap() && rng.bool() {
            ch.try_send(Box::new(i as u64)).unwrap();
        }
    }
    // A few channels get a parked receiver, released by a value.
    let parked: Vec<_> = chans
        .iter()
        .step_by(97)
        .filter(|ch| ch.is_empty())
        .map(|ch| {
            let ch = ch.clone();
            goro::go!(async move { ch.recv().await.map(|b| *b) })
        })
        .collect();
    for (h, ch) in parked
        .into_iter()
        .zip(chans.iter().step_by(97).filter(|ch| ch.is_empty()))
    {
        ch.send(Box::new(7)).await;
        assert_eq!(h.await.unwrap(), Some(7));
    }
    drop(chans);
}

#[test]
#[cfg_attr(
    goro_asan,
    ignore = "RSS under AddressSanitizer includes its quarantine"
)]
fn channel_churn_returns_rss() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (total, wave) = (1_000_000, 50_000);
    let start = Instant::now();
    let rt = goro::Runtime::builder().workers(2).build().unwrap();
    rt.block_on(async move {
        channel_wave(wave, 0).await;
        channel_wave(wave, 1).await;
        let before = rss();
        for w in 0..total / wave {
            channel_wave(wave, 2 + w as u64).await;
        }
        assert_flat(
            &format!("{total} channels in waves of {wave}"),
            before,
            rss(),
        );
    })
    .unwrap();
    println!("channel churn: {:.1?}", start.elapsed());
}
