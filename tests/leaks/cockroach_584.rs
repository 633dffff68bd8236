//! cockroach#584 (GoKer cockroach_584): gossip's `bootstrap` loop breaks
//! out when the gossip is closed without unlocking its mutex; `manage`,
//! called next by the same goroutine, blocks on that mutex forever. Fix:
//! unlock before breaking out.
//!
//! Go origin: src/runtime/testdata/testgoroutineleakprofile/goker/cockroach584.go
//! (timmyyuan/gobench goker/blocking/cockroach/584). No race needed: the
//! gossip starts closed. The missing `Unlock` is a forgotten guard.
//! <https://github.com/cockroachdb/cockroach/pull/584>

use std::sync::Arc;

use goro::sync::Mutex;

use super::{check, forever_reasons, leaks_of};

struct Gossip {
    /// `mu`, guarding `closed`.
    closed: Mutex<bool>,
    fixed: bool,
}

impl Gossip {
    async fn bootstrap(&self) {
        loop {
            let closed = self.closed.lock().await;
            if *closed {
                if !self.fixed {
                    std::mem::forget(closed); // Missing g.mu.Unlock
                }
                break;
            }
        }
    }

    async fn manage(&self) {
        loop {
            let closed = self.closed.lock().await;
            if *closed {
                if !self.fixed {
                    std::mem::forget(closed); // Missing g.mu.Unlock
                }
                break;
            }
        }
    }
}

async fn kernel(fixed: bool) {
    let g = Arc::new(Gossip {
        closed: Mutex::new(true),
        fixed,
    });
    goro::go!(async move {
        // G1
        g.bootstrap().await;
        g.manage().await;
    });
}

#[test]
fn buggy_leaks_manage() {
    let leaks = check(kernel(false));
    // Not proved while main runs (a gap): see the module doc of main.rs.
    leaks.assert_forever_while_running(&[]);
    let leaked = leaks.at_end;
    assert_eq!(forever_reasons(&leaked), ["sync.Mutex.Lock"]);
}

#[test]
fn fixed_unlocks_before_breaking() {
    assert!(leaks_of(kernel(true)).is_empty());
}
