//! cockroach#16167 (GoKer cockroach_16167): a recursive read lock. The SQL
//! executor's `execParsed` (G1) read-locks `systemConfigMu` (through the
//! cond's `RLocker`) and, deeper down, `getDatabaseCache` read-locks it
//! again; `updateSystemConfig` (G2) asks for the write lock in between, so
//! the second read lock queues behind the pending writer, which waits for
//! the first: both block. Fixed form: the nested call runs under the
//! caller's read lock instead of taking it again.
//!
//! Go origin: src/runtime/testdata/testgoroutineleakprofile/goker/cockroach16167.go
//! (timmyyuan/gobench goker/blocking/cockroach/16167). Forced interleaving:
//! G2 asks for the write lock once G1 holds its first read lock (channel
//! `read_locked`); G1 takes the second once a writer is pending
//! (`try_read` fails; a yield loop, no sleep). The `sync.Cond` only served
//! as the read locker and is left out.
//! <https://github.com/cockroachdb/cockroach/pull/16167>

use std::sync::Arc;

use goro::chan::{make, Chan};
use goro::sync::RwMutex;

use super::{check, forever_reasons, leaks_of};

struct Executor {
    system_config_mu: RwMutex<()>, // L1
    read_locked: Chan<()>,
    fixed: bool,
}

impl Executor {
    /// `Start`.
    async fn update_system_config(&self) {
        self.read_locked.recv().await;
        let _w = self.system_config_mu.write().await;
        goro::yield_now().await;
    }

    async fn exec_parsed(&self) {
        let _r = self.system_config_mu.read().await; // systemConfigCond.L.Lock()
        self.read_locked.close();
        while let Some(r) = self.system_config_mu.try_read() {
            drop(r);
            goro::yield_now().await;
        }
        // runTxnAttempt -> execStmtsInCurrentTxn -> execStmtInOpenTxn ->
        // PreparedStatements.New -> Prepare -> resetForBatch
        self.get_database_cache().await;
    }

    async fn get_database_cache(&self) {
        if !self.fixed {
            let _r = self.system_config_mu.read().await;
        }
    }
}

async fn kernel(fixed: bool) {
    // G1
    let e = Arc::new(Executor {
        system_config_mu: RwMutex::new(()),
        read_locked: make(0),
        fixed,
    });
    let e2 = e.clone();
    goro::go!(async move { e2.update_system_config().await }); // G2
    e.exec_parsed().await;
}

#[test]
fn buggy_leaks_reader_and_writer() {
    let leaks = check(kernel(false));
    // Not proved while main runs (a gap): see the module doc of main.rs.
    leaks.assert_forever_while_running(&[]);
    let leaked = leaks.at_end;
    assert_eq!(
        forever_reasons(&leaked),
        ["sync.RWMutex.Lock", "sync.RWMutex.RLock"]
    );
}

#[test]
fn fixed_does_not_read_lock_twice() {
    assert!(leaks_of(kernel(true)).is_empty());
}
