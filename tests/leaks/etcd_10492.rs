//! etcd#10492 (GoKer etcd_10492): the lessor's `Renew` holds its lock while
//! it calls the checkpointer, and the checkpointer (`Checkpoint`) takes the
//! same lock: the goroutine deadlocks on itself. Fixed form (ours): `Renew`
//! releases the lock before calling the checkpointer.
//!
//! Go origin: src/runtime/testdata/testgoroutineleakprofile/goker/etcd10492.go
//! (timmyyuan/gobench goker/blocking/etcd/10492). No race needed. The
//! checkpointer callback is a flag here (set by `SetCheckpointer`), calling
//! `Checkpoint`.
//! <https://github.com/etcd-io/etcd/pull/10492>

use goro::sync::RwMutex;

use super::{check, forever_reasons, leaks_of};

struct Lessor {
    /// `mu`, guarding `cp` (whether the checkpointer is set).
    mu: RwMutex<bool>,
}

impl Lessor {
    async fn checkpoint(&self) {
        let _g = self.mu.write().await; // Lock acquired twice here
    }

    async fn set_checkpointer(&self) {
        *self.mu.write().await = true;
    }

    async fn renew(&self, fixed: bool) {
        let cp = self.mu.write().await;
        let has_cp = *cp;
        if fixed {
            drop(cp);
            if has_cp {
                self.checkpoint().await;
            }
        } else {
            if has_cp {
                self.checkpoint().await;
            }
            drop(cp);
        }
    }
}

async fn kernel(fixed: bool) {
    // G1
    let le = Lessor {
        mu: RwMutex::new(false),
    };
    le.set_checkpointer().await;
    drop(le.mu.write().await);
    le.renew(fixed).await;
}

#[test]
fn buggy_leaks_the_renewer() {
    let leaks = check(kernel(false));
    leaks.assert_forever_while_running(&["sync.RWMutex.Lock"]);
    let leaked = leaks.at_end;
    assert_eq!(forever_reasons(&leaked), ["sync.RWMutex.Lock"]);
}

#[test]
fn fixed_renew_unlocks_before_checkpointing() {
    assert!(leaks_of(kernel(true)).is_empty());
}
