//! No heap allocation per operation in steady state, uncontended or
//! contended: waiter nodes live in the futures, wakers are cloned (a
//! reference-count increment for the executors' wakers) and woken in
//! fixed-size batches.
//!
//! A counting global allocator counts allocations made by this thread only
//! while a measurement is on; futures are polled by hand so the contended
//! paths (queue, wake, hand off) run deterministically on this thread.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use goro_sync::{Cond, Mutex, RwMutex, WaitGroup};

struct Counting;

thread_local! {
    static ON: Cell<bool> = const { Cell::new(false) };
    static COUNT: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: delegates to `System`; only bumps a thread-local counter.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        if ON.with(Cell::get) {
            COUNT.with(|c| c.set(c.get() + 1));
        }
        // SAFETY: forwarded with the caller's contract.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: forwarded with the caller's contract.
        unsafe { System.dealloc(p, l) }
    }
}

#[global_allocator]
static A: Counting = Counting;

/// Allocations made by `f` on this thread.
fn allocations(f: impl FnOnce()) -> usize {
    COUNT.with(|c| c.set(0));
    ON.with(|o| o.set(true));
    f();
    ON.with(|o| o.set(false));
    COUNT.with(Cell::get)
}

struct Nop;
impl Wake for Nop {
    fn wake(self: Arc<Self>) {}
}

fn ready<F: Future>(f: std::pin::Pin<&mut F>, w: &Waker) -> F::Output {
    match f.poll(&mut Context::from_waker(w)) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("expected ready"),
    }
}

fn pending<F: Future>(f: std::pin::Pin<&mut F>, w: &Waker) {
    assert!(f.poll(&mut Context::from_waker(w)).is_pending());
}

#[test]
fn steady_state_operations_do_not_allocate() {
    // An Arc waker, as executors use: cloning it does not allocate.
    let w = Waker::from(Arc::new(Nop));
    let m = Mutex::new(0u64);
    let rw = RwMutex::new(0u64);
    let wg = WaitGroup::new();
    let c = Cond::new();
    // This plain thread becomes a participant of the deadlock check on its
    // first use of a primitive (a one-time registration): do it before
    // counting.
    drop(goro_hook::note_outside_thread());
    let n = allocations(|| {
        for _ in 0..1000 {
            // Uncontended.
            *ready(pin!(m.lock()), &w) += 1;
            *ready(pin!(rw.write()), &w) += 1;
            let _ = *ready(pin!(rw.read()), &w);
            // Contended mutex: queue, hand-off by unlock.
            let g = m.try_lock().unwrap();
            let mut l = pin!(m.lock());
            pending(l.as_mut(), &w);
            drop(g);
            *ready(l, &w) += 1;
            // Contended rwmutex: a reader queued behind a writer.
            let g = rw.try_write().unwrap();
            let mut r = pin!(rw.read());
            pending(r.as_mut(), &w);
            drop(g);
            drop(ready(r, &w));
            // WaitGroup: a waiter released by done.
            wg.add(1);
            let mut wt = pin!(wg.wait());
            pending(wt.as_mut(), &w);
            wg.done();
            ready(wt, &w);
            // Cond: wait, signal, relock.
            let g = m.try_lock().unwrap();
            let mut cw = pin!(c.wait(g));
            pending(cw.as_mut(), &w);
            c.signal();
            drop(ready(cw, &w));
        }
    });
    assert_eq!(n, 0, "{n} allocations in 1000 rounds of every operation");
    assert_eq!(*m.try_lock().unwrap(), 2000);
}
