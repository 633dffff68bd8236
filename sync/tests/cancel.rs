//! Cancel safety of every waiting operation: each future is dropped at each
//! point where it can be pending (queued; woken or handed something but not
//! yet polled again), and the test checks that nothing was lost: the lock,
//! the permit or the signal reaches the next waiter, or the primitive is back
//! in its idle state.
//!
//! Futures are polled by hand with flag wakers, so every interleaving here is
//! deterministic (no threads, no sleeps), except the starvation case, which
//! must let 1 ms pass while a waiter waits (that wait is the behaviour under
//! test).

use std::future::Future;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use goro_sync::{Cond, Mutex, OnceValue, RwMutex, WaitGroup};

/// A waker that records that it was woken.
#[derive(Default)]
struct Flag(AtomicBool);

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
}

struct Probe {
    flag: Arc<Flag>,
    waker: Waker,
}

impl Probe {
    fn new() -> Self {
        let flag = Arc::new(Flag::default());
        Probe {
            waker: Waker::from(flag.clone()),
            flag,
        }
    }
    /// Whether it was woken since the last call.
    fn woken(&self) -> bool {
        self.flag.0.swap(false, Ordering::SeqCst)
    }
    fn poll<F: Future>(&self, f: Pin<&mut F>) -> Poll<F::Output> {
        f.poll(&mut Context::from_waker(&self.waker))
    }
}

#[test]
fn mutex_dropped_while_queued_leaves_no_trace() {
    let m = Mutex::new(0);
    let g = m.try_lock().unwrap();
    let (pa, pb) = (Probe::new(), Probe::new());
    let mut a = Box::pin(m.lock());
    let mut b = pin!(m.lock());
    assert!(pa.poll(a.as_mut()).is_pending());
    assert!(pb.poll(b.as_mut()).is_pending());
    drop(a);
    drop(g);
    assert!(pb.woken(), "the remaining waiter is woken");
    let gb = pb.poll(b.as_mut());
    assert!(gb.is_ready());
    drop(gb);
    assert!(m.try_lock().is_some());
}

#[test]
fn mutex_woken_waiter_dropped_passes_the_wakeup_on() {
    let m = Mutex::new(0);
    let g = m.try_lock().unwrap();
    let (pa, pb) = (Probe::new(), Probe::new());
    let mut a = Box::pin(m.lock());
    let mut b = pin!(m.lock());
    assert!(pa.poll(a.as_mut()).is_pending());
    assert!(pb.poll(b.as_mut()).is_pending());
    drop(g); // normal mode: wakes `a` to compete
    assert!(pa.woken());
    assert!(!pb.woken(), "only one waiter is woken at a time");
    drop(a); // never retries: the wake-up must go to `b`
    assert!(pb.woken(), "the dropped waiter's wake-up was passed on");
    match pb.poll(b.as_mut()) {
        Poll::Ready(mut g) => *g += 1,
        Poll::Pending => panic!("b should get the free lock"),
    }
    assert_eq!(*m.try_lock().unwrap(), 1);
}

/// Starvation mode, deterministically: `a` waits over 1 ms, is woken, loses
/// to a barging `try_lock`, and so switches the mutex to starvation mode.
#[test]
fn mutex_starvation_handoff_and_cancelled_handoff() {
    let m = Mutex::new(Vec::new());
    let mut holder = m.try_lock().unwrap();
    let (pa, pb) = (Probe::new(), Probe::new());
    let mut a = Box::pin(m.lock());
    assert!(pa.poll(a.as_mut()).is_pending());
    // The behaviour under test: `a` waits longer than the 1 ms threshold.
    std::thread::sleep(Duration::from_millis(2));
    holder.push("holder");
    drop(holder); // wakes `a`
    assert!(pa.woken());
    // A goroutine that arrives now barges in (normal mode)...
    let mut barger = m.try_lock().expect("normal mode lets a newcomer barge");
    barger.push("barger");
    // ...so `a` loses, and having waited > 1 ms it turns on starvation mode.
    assert!(pa.poll(a.as_mut()).is_pending());
    let mut b = pin!(m.lock());
    assert!(pb.poll(b.as_mut()).is_pending());
    drop(barger); // starvation mode: hands the lock to `a` directly
    assert!(pa.woken());
    assert!(
        m.try_lock().is_none(),
        "a newcomer cannot take a handed-off lock"
    );
    // Cancelled with the lock in hand: the lock must go on to `b`.
    drop(a);
    assert!(pb.woken(), "the handed lock was passed on");
    let Poll::Ready(mut gb) = pb.poll(b.as_mut()) else {
        panic!("b was handed the lock")
    };
    gb.push("b");
    drop(gb);
    assert_eq!(*m.try_lock().unwrap(), ["holder", "barger", "b"]);
}

#[test]
fn mutex_starved_waiter_gets_the_lock_before_a_newcomer() {
    let m = Mutex::new(Vec::<&str>::new());
    let holder = m.try_lock().unwrap();
    let pa = Probe::new();
    let mut a = pin!(m.lock());
    assert!(pa.poll(a.as_mut()).is_pending());
    // The behaviour under test: `a` waits longer than 1 ms.
    std::thread::sleep(Duration::from_millis(2));
    drop(holder);
    let barger = m.try_lock().unwrap();
    assert!(pa.poll(a.as_mut()).is_pending()); // loses once: starvation mode
    let pn = Probe::new();
    let mut newcomer = pin!(m.lock());
    assert!(
        pn.poll(newcomer.as_mut()).is_pending(),
        "a newcomer queues in starvation mode"
    );
    drop(barger);
    let Poll::Ready(mut ga) = pa.poll(a.as_mut()) else {
        panic!("the starved waiter gets the lock first")
    };
    ga.push("a");
    drop(ga);
    let Poll::Ready(mut gn) = pn.poll(newcomer.as_mut()) else {
        panic!("then the newcomer")
    };
    gn.push("newcomer");
    drop(gn);
    assert_eq!(*m.try_lock().unwrap(), ["a", "newcomer"]);
}

#[test]
fn rwmutex_cancel_paths() {
    let m = RwMutex::new(0);
    // A queued reader dropped.
    let w = m.try_write().unwrap();
    let pr = Probe::new();
    let mut r = Box::pin(m.read());
    assert!(pr.poll(r.as_mut()).is_pending());
    drop(r);
    drop(w);
    assert!(m.try_write().is_some());

    // A reader handed the lock, dropped before it returned: released.
    let w = m.try_write().unwrap();
    let mut r = Box::pin(m.read());
    assert!(pr.poll(r.as_mut()).is_pending());
    drop(w);
    assert!(pr.woken());
    drop(r);
    assert!(m.try_write().is_some(), "the handed read lock was released");

    // A queued writer dropped: the readers it held back are admitted.
    let held = m.try_read().unwrap();
    let (pw, pr2) = (Probe::new(), Probe::new());
    let mut wf = Box::pin(m.write());
    assert!(pw.poll(wf.as_mut()).is_pending());
    assert!(
        m.try_read().is_none(),
        "a waiting writer blocks new readers"
    );
    let mut r2 = pin!(m.read());
    assert!(pr2.poll(r2.as_mut()).is_pending());
    drop(wf);
    assert!(pr2.woken());
    assert!(pr2.poll(r2.as_mut()).is_ready());
    drop(held);

    // A writer handed the lock, dropped: the next writer gets it.
    let held = m.try_read().unwrap();
    let mut w1 = Box::pin(m.write());
    let mut w2 = pin!(m.write());
    let pw2 = Probe::new();
    assert!(pw.poll(w1.as_mut()).is_pending());
    assert!(pw2.poll(w2.as_mut()).is_pending());
    drop(held);
    assert!(pw.woken());
    drop(w1);
    assert!(pw2.woken());
    assert!(pw2.poll(w2.as_mut()).is_ready());
}

#[test]
fn waitgroup_wait_dropped_then_group_reused() {
    let wg = WaitGroup::new();
    wg.add(1);
    let (pa, pb) = (Probe::new(), Probe::new());
    let mut a = Box::pin(wg.wait());
    let mut b = pin!(wg.wait());
    assert!(pa.poll(a.as_mut()).is_pending());
    assert!(pb.poll(b.as_mut()).is_pending());
    drop(a);
    wg.done();
    assert!(pb.woken());
    assert!(pb.poll(b.as_mut()).is_ready());
    // Woken-then-dropped needs no passing on; the group is reusable.
    wg.add(2);
    let mut c = Box::pin(wg.wait());
    assert!(pa.poll(c.as_mut()).is_pending());
    wg.done();
    wg.done();
    assert!(pa.woken());
    drop(c);
    wg.add(1);
    let mut d = pin!(wg.wait());
    assert!(pa.poll(d.as_mut()).is_pending());
    wg.done();
    assert!(pa.poll(d.as_mut()).is_ready());
}

#[test]
fn once_value_runner_dropped_lets_a_waiter_run_its_init() {
    let cell = OnceValue::new();
    let (pa, pb) = (Probe::new(), Probe::new());
    let gate = goro_chan::make::<()>(0);
    let mut a = Box::pin(cell.get_or_init(|| async {
        gate.recv().await;
        "a"
    }));
    let mut b = pin!(cell.get_or_init(|| async { "b" }));
    assert!(
        pa.poll(a.as_mut()).is_pending(),
        "a runs its init and waits on the gate"
    );
    assert!(pb.poll(b.as_mut()).is_pending(), "b waits for a");
    drop(a); // the runner is cancelled mid-init
    assert!(pb.woken());
    assert_eq!(pb.poll(b.as_mut()), Poll::Ready(&"b"));
    assert_eq!(cell.get(), Some(&"b"));
}

#[test]
fn cond_signalled_waiter_dropped_passes_the_signal_on() {
    let m = Mutex::new(());
    let c = Cond::new();
    let (pa, pb) = (Probe::new(), Probe::new());
    let mut a = Box::pin(c.wait(m.try_lock().unwrap()));
    assert!(pa.poll(a.as_mut()).is_pending());
    let mut b = pin!(c.wait(m.try_lock().unwrap()));
    assert!(pb.poll(b.as_mut()).is_pending());
    c.signal();
    assert!(
        pa.woken() && !pb.woken(),
        "signal wakes the longest waiter only"
    );
    drop(a);
    assert!(pb.woken(), "the signal went on to b");
    assert!(pb.poll(b.as_mut()).is_ready());
}

#[test]
fn cond_dropped_while_relocking_releases_nothing_it_does_not_hold() {
    let m = Mutex::new(1);
    let c = Cond::new();
    let pa = Probe::new();
    let mut a = Box::pin(c.wait(m.try_lock().unwrap()));
    assert!(pa.poll(a.as_mut()).is_pending());
    let held = m.try_lock().unwrap();
    c.broadcast();
    assert!(
        pa.poll(a.as_mut()).is_pending(),
        "woken, now waiting for the mutex"
    );
    drop(a);
    drop(held);
    assert_eq!(*m.try_lock().unwrap(), 1);
}

#[test]
#[should_panic(expected = "sync: Cond.Wait with a guard of another Mutex")]
fn cond_with_two_mutexes_panics() {
    let (m1, m2) = (Mutex::new(()), Mutex::new(()));
    let c = Cond::new();
    let p = Probe::new();
    let mut a = Box::pin(c.wait(m1.try_lock().unwrap()));
    assert!(p.poll(a.as_mut()).is_pending());
    let _b = c.wait(m2.try_lock().unwrap());
}
