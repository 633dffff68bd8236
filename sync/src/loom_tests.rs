//! Loom models of the waiter queue's hand-off and cancel paths, through the
//! primitives built on it.
//!
//! Run (bounded by a preemption bound of 3):
//!
//! ```text
//! RUSTFLAGS="--cfg goro_loom" cargo test -p goro-sync --release --lib loom
//! ```

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Waker};

use loom::thread;

use crate::{block_on, Cond, Mutex, RwMutex, WaitGroup};

fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    b.preemption_bound = Some(3);
    b.check(f);
}

/// Two lockers and the unlock/wake hand-off between them: no lost wake-up
/// (loom reports a deadlock if one is lost), mutual exclusion.
#[test]
fn loom_mutex_two_lockers() {
    model(|| {
        let m = Arc::new(Mutex::new(0));
        let m2 = m.clone();
        let t = thread::spawn(move || *block_on(m2.lock()) += 1);
        *block_on(m.lock()) += 1;
        t.join().unwrap();
        assert_eq!(*m.try_lock().unwrap(), 2);
    });
}

/// A waiter polled once (so possibly queued) and then dropped, racing with
/// the unlock that may wake it: the wake-up must reach the third locker.
#[test]
fn loom_mutex_cancelled_waiter_passes_on() {
    model(|| {
        let m = Arc::new(Mutex::new(0));
        let g = m.try_lock().unwrap();
        let (m2, m3) = (m.clone(), m.clone());
        let canceller = thread::spawn(move || {
            let mut f = pin!(m2.lock());
            let _ = f.as_mut().poll(&mut Context::from_waker(Waker::noop()));
            // Dropped here, whatever happened to it.
        });
        let locker = thread::spawn(move || *block_on(m3.lock()) += 1);
        drop(g);
        canceller.join().unwrap();
        locker.join().unwrap();
        assert_eq!(*m.try_lock().unwrap(), 1);
    });
}

/// A writer against a reader, each through the queue when they collide.
#[test]
fn loom_rwmutex_reader_writer() {
    model(|| {
        let m = Arc::new(RwMutex::new(0));
        let m2 = m.clone();
        let t = thread::spawn(move || *block_on(m2.write()) += 1);
        let v = *block_on(m.read());
        assert!(v == 0 || v == 1);
        t.join().unwrap();
        assert_eq!(*m.try_read().unwrap(), 1);
    });
}

/// A queued writer cancelled while the reader holding the lock leaves: a
/// later writer still gets in.
#[test]
fn loom_rwmutex_cancelled_writer() {
    model(|| {
        let m = Arc::new(RwMutex::new(0));
        let r = m.try_read().unwrap();
        let m2 = m.clone();
        let t = thread::spawn(move || {
            let mut f = pin!(m2.write());
            let _ = f.as_mut().poll(&mut Context::from_waker(Waker::noop()));
        });
        drop(r);
        t.join().unwrap();
        *block_on(m.write()) += 1;
    });
}

/// `done` racing with `wait` queuing.
#[test]
fn loom_waitgroup_done_vs_wait() {
    model(|| {
        let wg = WaitGroup::new();
        wg.add(1);
        let w = wg.clone();
        let t = thread::spawn(move || w.done());
        block_on(wg.wait());
        t.join().unwrap();
    });
}

/// `signal` racing with a waiter that queues and unlocks.
#[test]
fn loom_cond_signal() {
    model(|| {
        let s = Arc::new((Mutex::new(false), Cond::new()));
        let s2 = s.clone();
        let t = thread::spawn(move || {
            *block_on(s2.0.lock()) = true;
            s2.1.signal();
        });
        block_on(async {
            let mut g = s.0.lock().await;
            while !*g {
                g = s.1.wait(g).await;
            }
        });
        t.join().unwrap();
    });
}

/// A writer's unlock admitting a queued reader while a second writer queues.
#[test]
fn loom_rwmutex_write_unlock_admits_reader() {
    model(|| {
        let m = Arc::new(RwMutex::new(0));
        let w = m.try_write().unwrap();
        let (m2, m3) = (m.clone(), m.clone());
        let reader = thread::spawn(move || *block_on(m2.read()));
        let writer = thread::spawn(move || *block_on(m3.write()) += 10);
        drop(w);
        let seen = reader.join().unwrap();
        writer.join().unwrap();
        assert!(seen == 0 || seen == 10);
        assert_eq!(*m.try_read().unwrap(), 10);
    });
}

/// A size-1 weighted semaphore: a release handing the permit to a queued
/// acquirer, racing with a cancelled acquirer (the pass-on rule).
#[test]
fn loom_weighted_handoff_and_cancel() {
    use crate::context::background;
    use crate::semaphore::Weighted;
    model(|| {
        let sem = Arc::new(Weighted::new(1));
        assert!(sem.try_acquire(1));
        let (s2, s3) = (sem.clone(), sem.clone());
        let canceller = thread::spawn(move || {
            let bg = background();
            let mut f = pin!(s2.acquire(&bg, 1));
            if let std::task::Poll::Ready(r) =
                f.as_mut().poll(&mut Context::from_waker(Waker::noop()))
            {
                // Acquired at once: a successful acquire is released by its caller.
                r.unwrap();
                s2.release(1);
            }
        });
        let acquirer = thread::spawn(move || {
            block_on(s3.acquire(&background(), 1)).unwrap();
            s3.release(1);
        });
        sem.release(1);
        canceller.join().unwrap();
        acquirer.join().unwrap();
        assert!(sem.try_acquire(1), "the permit was lost");
    });
}

/// Two callers of `Once::call_once`: f runs once, and the caller that did
/// not run it returns only after f finished.
#[test]
fn loom_once_two_callers() {
    use crate::Once;
    use loom::sync::atomic::{AtomicUsize, Ordering};
    model(|| {
        let once = Arc::new(Once::new());
        let runs = Arc::new(AtomicUsize::new(0));
        let (o2, r2) = (once.clone(), runs.clone());
        let t = thread::spawn(move || {
            block_on(o2.call_once(|| {
                r2.fetch_add(1, Ordering::SeqCst);
            }));
            assert_eq!(r2.load(Ordering::SeqCst), 1);
        });
        block_on(once.call_once(|| {
            runs.fetch_add(1, Ordering::SeqCst);
        }));
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        t.join().unwrap();
    });
}
