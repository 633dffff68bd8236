//! Zero heap allocations per send/recv/select in steady state, buffered and
//! unbuffered, blocking included: checked with a counting global allocator
//! that counts per thread (so concurrent test threads do not interfere).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use goro_chan::make;
use goro_chan::select::{into_case, select, select_blocking, BlockingCase, CaseOutput, SelectCase};

struct Counting;

thread_local! {
    static ALLOCS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: forwards to the system allocator; the counter is a const-initialised
// thread-local without destructor, so touching it never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: forwarded contract.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: forwarded contract.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: forwarded contract.
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations made by this thread while running `f`.
fn allocs_in<R>(f: impl FnOnce() -> R) -> (usize, R) {
    // A thread's first channel use off a runtime registers it, once, as an
    // outside participant of the deadlock check (an allocation, like the
    // waker a thread caches on its first blocking call): not per operation.
    let _ = goro_hook::note_outside_thread();
    let before = ALLOCS.with(Cell::get);
    let r = f();
    (ALLOCS.with(Cell::get) - before, r)
}

fn cx() -> Context<'static> {
    Context::from_waker(Waker::noop())
}

#[test]
fn try_ops_buffered() {
    let ch = make::<u64>(16);
    let (n, ()) = allocs_in(|| {
        for i in 0..10_000 {
            ch.try_send(i).unwrap();
            assert_eq!(ch.try_recv(), Ok(i));
        }
    });
    assert_eq!(n, 0);
}

#[test]
fn parked_futures_unbuffered_and_buffered() {
    for cap in [0, 4] {
        let ch = make::<u64>(cap);
        let (n, ()) = allocs_in(|| {
            for i in 0..2_000 {
                // Receiver parks, sender hands off directly.
                let mut r = pin!(ch.recv());
                assert!(r.as_mut().poll(&mut cx()).is_pending());
                let mut s = pin!(ch.send(i));
                assert!(s.as_mut().poll(&mut cx()).is_ready());
                assert_eq!(r.as_mut().poll(&mut cx()), Poll::Ready(Some(i)));
            }
            if cap == 0 {
                for i in 0..2_000 {
                    // Sender parks, receiver takes from it.
                    let mut s = pin!(ch.send(i));
                    assert!(s.as_mut().poll(&mut cx()).is_pending());
                    assert_eq!(ch.try_recv(), Ok(i));
                    assert!(s.as_mut().poll(&mut cx()).is_ready());
                }
            }
        });
        assert_eq!(n, 0, "cap {cap}");
    }
}

#[test]
fn blocking_ping_pong_threads() {
    const WARM: u64 = 100;
    const N: u64 = 3_000;
    let ping = make::<u64>(0);
    let pong = make::<u64>(0);
    let (p2, q2) = (ping.clone(), pong.clone());
    let t = std::thread::spawn(move || {
        for _ in 0..WARM {
            let v = p2.recv_blocking().unwrap();
            q2.send_blocking(v);
        }
        allocs_in(|| {
            for _ in 0..N {
                let v = p2.recv_blocking().unwrap();
                q2.send_blocking(v);
            }
        })
        .0
    });
    for i in 0..WARM {
        ping.send_blocking(i);
        assert_eq!(pong.recv_blocking(), Some(i));
    }
    let (n, ()) = allocs_in(|| {
        for i in 0..N {
            ping.send_blocking(i);
            assert_eq!(pong.recv_blocking(), Some(i));
        }
    });
    assert_eq!(n, 0, "main thread");
    assert_eq!(t.join().unwrap(), 0, "peer thread");
}

#[test]
fn select_parked_and_ready() {
    let a = make::<u64>(0);
    let b = make::<u64>(1);
    let c = make::<u64>(0);
    // Warm-up: the thread's parking waker is allocated on first use.
    b.send_blocking(0);
    assert_eq!(b.recv_blocking(), Some(0));
    let (n, ()) = allocs_in(|| {
        for i in 0..2_000 {
            // Parked on three cases, woken by a send on one.
            let mut c0 = into_case!(&a);
            let mut c1 = into_case!(c.send(i));
            let mut c2 = into_case!(b.recv());
            {
                let mut cases = [&mut c0 as &mut dyn SelectCase, &mut c1, &mut c2];
                // SAFETY: pinned on the stack, so dropped at the end of its scope, never leaked.
                let mut f = pin!(unsafe { select(&mut cases, false) });
                assert!(f.as_mut().poll(&mut cx()).is_pending());
                a.try_send(i).unwrap();
                assert_eq!(f.as_mut().poll(&mut cx()), Poll::Ready(Some(0)));
            }
            assert_eq!(c0.take_output(), Some(i));
            // Ready at once.
            b.try_send(i).unwrap();
            let mut c0 = into_case!(&a);
            let mut c2 = into_case!(&b);
            let got = select_blocking(&mut [&mut c0 as &mut dyn BlockingCase, &mut c2], false);
            assert_eq!(got, Some(1));
            assert_eq!(c2.take_output(), Some(i));
        }
    });
    assert_eq!(n, 0);
}
