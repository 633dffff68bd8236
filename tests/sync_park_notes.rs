//! Goroutines parked in the sync primitives show Go's wait reasons (and the
//! object they wait on) in the goroutine dump, which the deadlock detector
//! and the leak checker read too, with the user's line where each object was
//! made.

use std::sync::Arc;

use goro::sync::{Cond, Mutex, Once, RwMutex, WaitGroup};

/// Yields until the dump shows a goroutine parked with `reason` on an object
/// whose description contains `on` (bounded: fails after many rounds).
async fn await_parked(reason: &str, on: &str) -> String {
    let header = format!("[{reason}");
    for _ in 0..100_000 {
        let dump = goro::runtime::dump();
        if dump.lines().any(|l| l.contains(&header))
            && dump
                .lines()
                .any(|l| l.contains("parked at") && l.contains(on))
        {
            return dump;
        }
        goro::yield_now().await;
    }
    panic!(
        "no goroutine parked on {reason}:\n{}",
        goro::runtime::dump()
    );
}

/// The object part of a dump line for a `kind` made on line `line` of this
/// file: the constructors are `#[track_caller]`, so the site is the test's
/// own call, not a line inside goro-sync.
fn made_here(kind: &str, line: u32) -> String {
    format!("on {kind} made at {}:{line}:", file!())
}

fn rt() -> goro::Runtime {
    goro::Runtime::builder().workers(2).build().unwrap()
}

#[test]
fn mutex_and_rwmutex_waits_are_named() {
    rt().block_on(async {
        let (m, made) = (Arc::new(Mutex::new(())), line!());
        let g = m.lock().await;
        let m2 = m.clone();
        let h = goro::spawn(async move { drop(m2.lock().await) });
        await_parked("sync.Mutex.Lock", &made_here("sync.Mutex", made)).await;
        drop(g);
        h.await.unwrap();

        let (rw, made) = (Arc::new(RwMutex::new(())), line!());
        let w = rw.write().await;
        let (r1, r2) = (rw.clone(), rw.clone());
        let hr = goro::spawn(async move { drop(r1.read().await) });
        await_parked("sync.RWMutex.RLock", &made_here("sync.RWMutex", made)).await;
        let hw = goro::spawn(async move { drop(r2.write().await) });
        await_parked("sync.RWMutex.Lock", &made_here("sync.RWMutex", made)).await;
        drop(w);
        hr.await.unwrap();
        hw.await.unwrap();
    })
    .unwrap();
}

#[test]
fn waitgroup_cond_once_waits_are_named() {
    rt().block_on(async {
        let (wg, made) = (WaitGroup::new(), line!());
        wg.add(1);
        let w = wg.clone();
        let h = goro::spawn(async move { w.wait().await });
        await_parked("sync.WaitGroup.Wait", &made_here("sync.WaitGroup", made)).await;
        wg.done();
        h.await.unwrap();

        let (mc, made) = (Arc::new((Mutex::new(false), Cond::new())), line!());
        let m2 = mc.clone();
        let h = goro::spawn(async move {
            let mut g = m2.0.lock().await;
            while !*g {
                g = m2.1.wait(g).await;
            }
        });
        await_parked("sync.Cond.Wait", &made_here("sync.Cond", made)).await;
        *mc.0.lock().await = true;
        mc.1.signal();
        h.await.unwrap();

        let (once, made) = (Arc::new(Once::new()), line!());
        let (started, gate) = (goro::chan::make::<()>(0), goro::chan::make::<()>(0));
        let (o1, o2, s1, g1) = (once.clone(), once.clone(), started.clone(), gate.clone());
        // The first caller runs f on a plain thread, where f blocks until
        // the gate opens, so a second caller (a goroutine) parks in Do.
        let h1 = std::thread::spawn(move || {
            o1.call_once_blocking(|| {
                s1.send_blocking(());
                g1.recv_blocking();
            })
        });
        started.recv().await; // f is running now
        let h2 = goro::spawn(async move { o2.call_once(|| panic!("f ran twice")).await });
        await_parked("sync.Once.Do", &made_here("sync.Once", made)).await;
        gate.send(()).await;
        h2.await.unwrap();
        h1.join().unwrap();
    })
    .unwrap();
}
