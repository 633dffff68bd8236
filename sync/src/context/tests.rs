//! Unit tests that look inside the cancellation tree: a cancelled child
//! leaves its parent's child set, so the set (and memory) stays flat.
//! Go: `TestParentFinishesChild`, `TestChildFinishesFirst` (context_test.go),
//! which inspect `parent.children` the same way.

use std::time::{Duration, Instant};

use super::*;

fn node(ctx: &Context) -> &Arc<CancelCtx> {
    match &ctx.repr {
        Repr::Cancel(c) => c,
        _ => panic!("not a cancellable context"),
    }
}

/// Resident set size in pages (Linux), if available.
fn rss_pages() -> Option<usize> {
    let s = std::fs::read_to_string("/proc/self/statm").ok()?;
    s.split_whitespace().nth(1)?.parse().ok()
}

#[test]
// AddressSanitizer keeps freed memory in quarantine: RSS is not the program's.
#[cfg_attr(
    goro_asan,
    ignore = "RSS under AddressSanitizer includes its quarantine"
)]
fn million_short_lived_children_leave_the_parent_flat() {
    let (parent, _cancel) = with_cancel(&background());
    let p = node(&parent).clone();
    let start = Instant::now();
    // Warm up the allocator, then measure.
    for _ in 0..10_000 {
        let (c, cancel) = with_cancel(&parent);
        cancel();
        drop(c);
    }
    let rss_before = rss_pages();
    for i in 0..1_000_000u32 {
        // Mix the kinds that register as children: cancel, deadline, after_func.
        match i % 4 {
            0 | 1 => {
                let (c, cancel) = with_cancel(&parent);
                let (_grandchild, _cancel2) = with_cancel(&c);
                cancel();
            }
            2 => {
                let (_c, cancel) = with_timeout(&parent, Duration::from_secs(3600));
                drop(cancel);
            }
            _ => {
                let stop = after_func(&parent, || unreachable!("parent is never cancelled"));
                assert!(stop());
            }
        }
        assert_eq!(p.child_count().0, 0);
    }
    let rss_after = rss_pages();
    // The set never held more than two at once (the cancel child and its
    // grandchild live under different parents: one slot here).
    assert_eq!(p.child_count(), (0, 1));
    if let (Some(b), Some(a)) = (rss_before, rss_after) {
        // 1M children of ~200 bytes each would be ~200 MB if any were kept;
        // allow 16 MB of allocator noise (4 KiB pages).
        let grown_kib = a.saturating_sub(b) * 4;
        assert!(
            grown_kib < 16 * 1024,
            "RSS grew by {grown_kib} KiB over 1M children"
        );
    }
    assert!(
        start.elapsed() < Duration::from_secs(120),
        "took {:?}",
        start.elapsed()
    );
}

#[test]
fn live_children_bound_the_set() {
    let (parent, _cancel) = with_cancel(&background());
    let p = node(&parent).clone();
    let mut live = std::collections::VecDeque::new();
    for _ in 0..100_000 {
        live.push_back(with_cancel(&parent));
        if live.len() > 100 {
            let (_c, cancel) = live.pop_front().unwrap();
            cancel();
        }
    }
    assert_eq!(p.child_count().0, 100);
    assert!(p.child_count().1 <= 101, "slots: {}", p.child_count().1);
}

/// Go: TestParentFinishesChild.
#[test]
fn parent_finishes_child() {
    let (parent, cancel) = with_cancel(&background());
    let value = with_value(&parent, Tag, ());
    let (child1, _c1) = with_cancel(&value);
    let (child2, _c2) = with_cancel(&parent);
    let (child3, _c3) = with_timeout(&parent, Duration::from_secs(24 * 3600));
    let (grandchild, _g) = with_cancel(&child3);
    assert_eq!(node(&parent).child_count().0, 3);
    assert_eq!(node(&child3).child_count().0, 1);
    cancel();
    for c in [&parent, &child1, &child2, &child3, &grandchild] {
        assert_eq!(c.err(), Some(Error::Canceled));
        assert_eq!(c.done().try_recv(), Err(goro_chan::TryRecvError::Closed));
    }
    assert_eq!(node(&parent).child_count().0, 0);
    assert_eq!(node(&child3).child_count().0, 0);
    // A child of a done parent is done at once and never registered.
    let (late, _l) = with_cancel(&parent);
    assert_eq!(late.err(), Some(Error::Canceled));
    assert_eq!(node(&parent).child_count().0, 0);
}

struct Tag;
impl Key for Tag {
    type Value = ();
}

/// Go: TestChildFinishesFirst.
#[test]
fn child_finishes_first() {
    let (parent, cancel_parent) = with_cancel(&background());
    let (child, cancel_child) = with_cancel(&parent);
    assert_eq!(node(&parent).child_count().0, 1);
    cancel_child();
    assert_eq!(node(&parent).child_count().0, 0);
    assert_eq!(child.err(), Some(Error::Canceled));
    assert_eq!(parent.err(), None);
    cancel_parent();
    assert_eq!(parent.err(), Some(Error::Canceled));
}

#[test]
fn deadline_child_detaches_when_it_fires() {
    let (parent, _cancel) = with_cancel(&background());
    let (child, _c) = with_timeout(&parent, Duration::from_millis(1));
    assert_eq!(child.done().recv_blocking(), None);
    assert_eq!(child.err(), Some(Error::DeadlineExceeded));
    // As in Go, the timer's cancel closes the done channel first and then
    // leaves the parent's set (on the timer thread): wait (bounded) for it.
    let start = Instant::now();
    while node(&parent).child_count().0 != 0 {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the fired child never left its parent"
        );
        std::thread::yield_now();
    }
}

#[test]
fn a_ten_thousand_deep_chain_cancels_without_recursion() {
    let (root, cancel) = with_cancel(&background());
    let mut cancels = Vec::new();
    let mut leaf = root.clone();
    for _ in 0..10_000 {
        let (c, f) = with_cancel(&leaf);
        cancels.push(f);
        leaf = c;
    }
    cancel();
    assert_eq!(leaf.err(), Some(Error::Canceled));
    // Dropping the chain (outer first) must not overflow the stack either.
    drop(cancels);
}

/// Races children being created, cancelled and stopped on several threads
/// against the parent being cancelled: every child ends up cancelled, no
/// after_func is lost (each either runs or was stopped), and the parent's
/// set is empty. Bounded: 200 rounds.
#[test]
fn concurrent_attach_detach_and_cancel() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    for _ in 0..200 {
        let (parent, cancel_parent) = with_cancel(&background());
        let ran = Arc::new(AtomicUsize::new(0));
        let stopped = Arc::new(AtomicUsize::new(0));
        let barrier = Arc::new(std::sync::Barrier::new(4));
        let workers: Vec<_> = (0..3)
            .map(|t| {
                let (parent, ran, stopped, barrier) = (
                    parent.clone(),
                    ran.clone(),
                    stopped.clone(),
                    barrier.clone(),
                );
                std::thread::spawn(move || {
                    barrier.wait();
                    let mut kept = Vec::new();
                    for i in 0..50 {
                        let (c, cancel) = with_cancel(&parent);
                        let r = ran.clone();
                        let stop = after_func(&c, move || {
                            r.fetch_add(1, Ordering::SeqCst);
                        });
                        if (i + t) % 3 == 0 {
                            cancel();
                        } else if (i + t) % 3 == 1 && stop() {
                            stopped.fetch_add(1, Ordering::SeqCst);
                        }
                        kept.push((c, cancel));
                    }
                    kept
                })
            })
            .collect();
        barrier.wait();
        cancel_parent();
        let kept: Vec<_> = workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect();
        for (c, _) in &kept {
            assert!(c.err().is_some(), "a child outlived its parent's cancel");
        }
        assert_eq!(node(&parent).child_count().0, 0);
        // Every after_func either ran (on its own thread) or was stopped.
        let start = Instant::now();
        while ran.load(Ordering::SeqCst) + stopped.load(Ordering::SeqCst) != 150 {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "an after_func was lost"
            );
            std::thread::yield_now();
        }
    }
}
