//! Tu et al., ASPLOS 2019, Figure 7: a channel and a mutex used together in
//! the wrong order. Goroutine 1 sends on a channel while holding the lock;
//! goroutine 2 takes the lock before it receives. Each waits for the other.
//! Fix: goroutine 1 releases the lock before sending.

use std::sync::Arc;

use goro::chan::{make, Chan};
use goro::sync::Mutex;

use super::{check, forever_reasons, leaks_of};

async fn lock_order(fixed: bool) {
    let m = Arc::new(Mutex::new(0u32));
    let ch: Chan<u32> = make(0);
    let g1_locked = make::<()>(0);
    let (m1, ch1, locked) = (m.clone(), ch.clone(), g1_locked.clone());
    // Goroutine 1.
    goro::go!(async move {
        let mut guard = m1.lock().await;
        *guard += 1;
        let request = *guard;
        locked.close();
        if fixed {
            drop(guard);
            ch1.send(request).await;
        } else {
            ch1.send(request).await;
            drop(guard);
        }
    });
    // Goroutine 2, started once goroutine 1 holds the lock (forced).
    let m2 = m.clone();
    goro::go!(async move {
        g1_locked.recv().await;
        let guard = m2.lock().await;
        drop(guard);
        ch.recv().await;
    });
}

#[test]
fn buggy_send_under_the_lock() {
    let leaks = check(lock_order(false));
    // Not proved while main runs (a gap): see the module doc of main.rs.
    leaks.assert_forever_while_running(&[]);
    let leaked = leaks.at_end;
    assert_eq!(forever_reasons(&leaked), ["chan send", "sync.Mutex.Lock"]);
}

#[test]
fn fixed_unlock_before_send() {
    assert!(leaks_of(lock_order(true)).is_empty());
}
