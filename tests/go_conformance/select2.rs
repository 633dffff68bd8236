//! Port of `test/chan/select2.go`: selects must not consume undue memory.
//!
//! Go runs 100,000 two-case selects (a sender on one channel, a dummy channel
//! that is never ready), then another 100,000, and fails if the live heap
//! grew by more than 110,000 bytes (1.1 bytes per select) in the second run.
//!
//! Ported: the same shape, checked more strictly: the bytes *allocated* on
//! the selecting thread during the second run (not just the growth of the
//! live heap, which Rust cannot observe without a garbage collector) must stay
//! within Go's budget of 1.1 bytes per select. Both flavours are checked: the
//! async `select!` (driven by `futures::executor::block_on` on the test thread)
//! and `select_blocking!`. The sender is a plain thread. Changed: 20,000
//! selects per run instead of 100,000, with the budget scaled to match, to
//! bound the time in a debug build on a loaded CI machine.
//!
//! The counting allocator below is this test binary's global allocator; it
//! counts per thread, so other tests running in parallel do not disturb it.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::thread;

use goro::chan::{make, Chan};

const SELECTS: usize = 20_000;
/// Go's budget: 1.1e5 bytes per 100,000 selects.
const BUDGET_BYTES: usize = SELECTS * 11 / 10;

struct CountingAlloc;

thread_local! {
    static ALLOCATED: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: forwards every call to `System` unchanged; the counter is a
// thread-local `Cell` with a const initialiser, so counting never allocates.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATED.try_with(|n| n.set(n.get() + layout.size()));
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller upholds `GlobalAlloc::dealloc`'s contract.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATED.try_with(|n| n.set(n.get() + new_size));
        // SAFETY: the caller upholds `GlobalAlloc::realloc`'s contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

fn allocated_here() -> usize {
    ALLOCATED.with(Cell::get)
}

fn sender(c: Chan<i32>, n: usize) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        for _ in 0..n {
            c.send_blocking(1);
        }
    })
}

fn receiver_async(c: &Chan<i32>, dummy: &Chan<i32>, n: usize) {
    futures::executor::block_on(async {
        for _ in 0..n {
            goro::select! {
                _ = c => {}
                _ = dummy => panic!("dummy"),
            }
        }
    });
}

fn receiver_blocking(c: &Chan<i32>, dummy: &Chan<i32>, n: usize) {
    for _ in 0..n {
        goro::select_blocking! {
            _ = c => {}
            _ = dummy => panic!("dummy"),
        }
    }
}

/// Runs the warm-up and the measured pass; returns the bytes allocated on
/// this thread during the measured pass.
fn measure(receiver: fn(&Chan<i32>, &Chan<i32>, usize)) -> usize {
    let c = make::<i32>(0);
    let dummy = make::<i32>(0);
    // Warm up.
    let s = sender(c.clone(), SELECTS);
    receiver(&c, &dummy, SELECTS);
    s.join().unwrap();
    // The second time should not allocate by much.
    let s = sender(c.clone(), SELECTS);
    let before = allocated_here();
    receiver(&c, &dummy, SELECTS);
    let used = allocated_here() - before;
    s.join().unwrap();
    used
}

#[test]
fn select2_async() {
    let used = measure(receiver_async);
    assert!(
        used <= BUDGET_BYTES,
        "too much memory for {SELECTS} selects: {used} bytes"
    );
}

#[test]
fn select2_blocking() {
    let used = measure(receiver_blocking);
    assert!(
        used <= BUDGET_BYTES,
        "too much memory for {SELECTS} select_blocking!s: {used} bytes"
    );
}
