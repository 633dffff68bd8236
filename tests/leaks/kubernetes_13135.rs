//! kubernetes#13135 (GoKer kubernetes_13135): a lock-order inversion in
//! the apiserver's cacher. `startCaching` (G2, run in a loop by `Util`)
//! takes the cacher lock, then `Replace` takes the watch cache lock (the
//! cacher lock is released by the `onReplace` callback); `Add` (G3) takes
//! the watch cache lock in `processEvent`, then the cacher lock in the
//! `onEvent` callback. G2 holding the cacher lock and G3 the watch cache
//! lock, both block. Fixed form: the watch cache releases its lock before
//! calling `onEvent`.
//!
//! Go origin: src/runtime/testdata/testgoroutineleakprofile/goker/kubernetes13135.go
//! (timmyyuan/gobench goker/blocking/kubernetes/13135). The callbacks are
//! direct calls here, and the guard of the cacher lock is handed from
//! `startCaching` to `onReplace`, which drops it (Go's `cacher.Unlock()`
//! there). `time.Sleep(0)` is a yield. Forced interleaving: in G2's second
//! round, once it holds the cacher lock it signals `cacher_locked` and
//! waits for `cache_locked`, which G3 signals once it holds the watch cache
//! lock (G3 takes it only after `cacher_locked`); the goroutine closing the stop channel waits for `cacher_locked`
//! too, so G2 has passed its stop check.
//! <https://github.com/kubernetes/kubernetes/pull/13135>

use std::sync::Arc;

use goro::chan::{make, Chan};
use goro::sync::{Mutex, MutexGuard, Once, RwMutex, WaitGroup};

use super::{check, forever_reasons, leaks_of};

struct Cacher {
    lock: Mutex<()>,
    initialized: WaitGroup,
    init_once: Once,
    /// The watch cache's lock.
    watch_cache: RwMutex<()>,
    cacher_locked: Chan<()>,
    cache_locked: Chan<()>,
    fixed: bool,
}

impl Cacher {
    async fn process_event(&self) {
        let _g = self.lock.lock().await;
    }

    async fn start_caching(&self, round: u32) {
        let g = self.lock.lock().await;
        if round == 1 {
            self.cacher_locked.close();
            self.cache_locked.recv().await;
        }
        // reflector.ListAndWatch -> syncWith -> store.Replace
        self.replace(g).await;
    }

    /// `WatchCache.Replace` with its `onReplace` callback.
    async fn replace(&self, cacher: MutexGuard<'_, ()>) {
        let _w = self.watch_cache.write().await;
        self.init_once.call_once(|| self.initialized.done()).await;
        drop(cacher);
    }

    /// `WatchCache.Add`: `processEvent` with its `onEvent` callback.
    async fn add(&self) {
        // Forced interleaving: take the watch cache lock only once G2 holds
        // the cacher lock in its second round.
        self.cacher_locked.recv().await;
        let w = self.watch_cache.write().await;
        self.cache_locked.close();
        if self.fixed {
            drop(w);
            self.process_event().await;
        } else {
            self.process_event().await;
            drop(w);
        }
    }
}

async fn util(c: Arc<Cacher>, stop: Chan<()>) {
    let mut round = 0;
    loop {
        goro::select! {
            _ = stop.recv() => return,
            default => {}
        }
        c.start_caching(round).await;
        round += 1;
        goro::yield_now().await;
    }
}

async fn kernel(fixed: bool) {
    let stop = make::<()>(0);
    // NewCacher: G1
    let c = Arc::new(Cacher {
        lock: Mutex::new(()),
        initialized: WaitGroup::new(),
        init_once: Once::new(),
        watch_cache: RwMutex::new(()),
        cacher_locked: make(0),
        cache_locked: make(0),
        fixed,
    });
    c.initialized.add(1);
    goro::go!(util(c.clone(), stop.clone())); // G2
    c.initialized.wait().await;
    let c3 = c.clone();
    goro::go!(async move { c3.add().await }); // G3
    goro::go!(async move {
        c.cacher_locked.recv().await;
        stop.close();
    });
}

#[test]
fn buggy_leaks_both_lockers() {
    let leaks = check(kernel(false));
    // Not proved while main runs (a gap): see the module doc of main.rs.
    leaks.assert_forever_while_running(&[]);
    let leaked = leaks.at_end;
    assert_eq!(
        forever_reasons(&leaked),
        ["sync.Mutex.Lock", "sync.RWMutex.Lock"]
    );
}

#[test]
fn fixed_calls_on_event_unlocked() {
    assert!(leaks_of(kernel(true)).is_empty());
}
