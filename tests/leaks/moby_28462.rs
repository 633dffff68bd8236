//! moby#28462 (GoKer moby_28462, moby#28405): a lock-and-channel bug. The
//! health monitor (G1) loops, taking the container lock for each probe
//! result; `StateChanged` (G2) takes the container lock and then sends on
//! the monitor's unbuffered stop channel. With G1 about to take the lock,
//! G2 blocks on the send holding the lock and G1 blocks on the lock: both
//! leak. Fixed form (ours, not checked against moby's fix):
//! `CloseMonitorChannel` closes the stop channel instead of sending on it,
//! so it never blocks.
//!
//! Go origin: src/runtime/testdata/testgoroutineleakprofile/goker/moby28462.go
//! (timmyyuan/gobench goker/blocking/moby/28462). Forced interleaving: the
//! original needs G1 to pass its `select` (default branch) just before G2
//! locks; here G2 waits (channel `probing`) until G1 is past its `select`,
//! and G1's first probe waits (channel `locked`) until G2 holds the lock.
//! <https://github.com/moby/moby/pull/28462>

use std::sync::Arc;

use goro::chan::{make, Chan};
use goro::sync::Mutex;

use super::{check, forever_reasons, leaks_of};

struct Container {
    lock: Mutex<()>,
    /// `State.Health.stop`.
    stop: Chan<()>,
}

async fn monitor(c: Arc<Container>, probing: Chan<()>, locked: Chan<()>) {
    let mut first = true;
    loop {
        goro::select! {
            _ = c.stop.recv() => return,
            default => {
                if first {
                    first = false;
                    probing.close();
                    locked.recv().await;
                }
                // handleProbeResult
                goro::yield_now().await;
                let _g = c.lock.lock().await;
            }
        }
    }
}

async fn state_changed(c: Arc<Container>, probing: Chan<()>, locked: Chan<()>, fixed: bool) {
    probing.recv().await;
    let _g = c.lock.lock().await;
    locked.close();
    // updateHealthMonitorElseBranch: CloseMonitorChannel
    if fixed {
        c.stop.close();
    } else {
        c.stop.send(()).await;
    }
}

async fn kernel(fixed: bool) {
    let c = Arc::new(Container {
        lock: Mutex::new(()),
        stop: make(0),
    });
    let (probing, locked) = (make::<()>(0), make::<()>(0));
    goro::go!(monitor(c.clone(), probing.clone(), locked.clone())); // G1
    goro::go!(state_changed(c, probing, locked, fixed)); // G2
}

#[test]
fn buggy_leaks_monitor_and_state_changed() {
    let leaks = check(kernel(false));
    // Not proved while main runs (a gap): see the module doc of main.rs.
    leaks.assert_forever_while_running(&[]);
    let leaked = leaks.at_end;
    assert_eq!(forever_reasons(&leaked), ["chan send", "sync.Mutex.Lock"]);
}

#[test]
fn fixed_closes_the_stop_channel() {
    assert!(leaks_of(kernel(true)).is_empty());
}
