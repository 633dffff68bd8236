//! kubernetes#6632 (GoKer kubernetes_6632): a lock-and-channel bug in
//! spdystream's idle-aware framer. `WriteFrame` (G2) holds the write lock
//! while it sends on the unbuffered reset channel; `monitor` (G1), told the
//! connection closed, needs that lock to close the reset channel. Nobody
//! receives the reset, so G2 blocks holding the lock and G1 blocks on the
//! lock. Fix (as kubernetes'): before taking the lock, `monitor` starts a
//! goroutine draining the reset channel, so the blocked writer proceeds.
//!
//! Go origin: src/runtime/testdata/testgoroutineleakprofile/goker/kubernetes6632.go
//! (timmyyuan/gobench goker/blocking/kubernetes/6632). Forced interleaving:
//! the original needs G2 to take the lock before G1 does; here G1 waits
//! (channel `locked`) until G2 holds it.
//! <https://github.com/kubernetes/kubernetes/pull/6632>

use std::sync::Arc;

use goro::chan::{make, Chan};
use goro::sync::Mutex;

use super::{check, forever_reasons, leaks_of};

struct IdleAwareFramer {
    reset_chan: Chan<bool>,
    /// `writeLock`; `true` once `resetChan` was set to nil.
    write_lock: Mutex<bool>,
    close_chan: Chan<bool>,
}

impl IdleAwareFramer {
    async fn monitor(&self, locked: Chan<()>, fixed: bool) {
        let reset_chan = self.reset_chan.clone();
        locked.recv().await;
        // Go: `for { select { case <-i.conn.closeChan: ...; break Loop } }`
        self.close_chan.recv().await;
        if fixed {
            let drain = reset_chan.clone();
            goro::go!(async move { while drain.recv().await.is_some() {} });
        }
        let mut nil = self.write_lock.lock().await;
        reset_chan.close();
        *nil = true;
    }

    async fn write_frame(&self, locked: Chan<()>) {
        let nil = self.write_lock.lock().await;
        locked.close();
        if *nil {
            return;
        }
        self.reset_chan.send(true).await;
    }
}

async fn kernel(fixed: bool) {
    let i = Arc::new(IdleAwareFramer {
        reset_chan: make(0),
        write_lock: Mutex::new(false),
        close_chan: make(0),
    });
    let locked = make::<()>(0);
    let h = i.clone();
    goro::go!(async move { h.close_chan.send(true).await }); // helper
    let (g1, l1) = (i.clone(), locked.clone());
    goro::go!(async move { g1.monitor(l1, fixed).await });
    goro::go!(async move { i.write_frame(locked).await });
}

#[test]
fn buggy_leaks_monitor_and_writer() {
    let leaks = check(kernel(false));
    // Not proved while main runs (a gap): see the module doc of main.rs.
    leaks.assert_forever_while_running(&[]);
    let leaked = leaks.at_end;
    assert_eq!(forever_reasons(&leaked), ["chan send", "sync.Mutex.Lock"]);
}

#[test]
fn fixed_monitor_drains_the_reset_channel() {
    assert!(leaks_of(kernel(true)).is_empty());
}
