//! cockroach#10214 (GoKer cockroach_10214): a lock-order inversion between
//! the store's `coalescedMu` (A) and a replica's `raftMu` (B).
//! `sendQueuedHeartbeats` holds A and reports each replica unreachable,
//! which takes B; the replica's `tick` holds B (and the replica's `mu`)
//! and coalesces a heartbeat, which takes A. Both goroutines block. Fix
//! (as cockroach's): `sendQueuedHeartbeats` releases `coalescedMu` before
//! it takes any `raftMu`.
//!
//! Go origin: src/runtime/testdata/testgoroutineleakprofile/goker/cockroach10214.go
//! (timmyyuan/gobench goker/blocking/cockroach/10214). Forced interleaving:
//! the original needs both first locks taken before either second one
//! (`runtime.Gosched` between them); here each goroutine, once it holds its
//! first lock, signals (`a_locked`, `b_locked`) and waits for the other's
//! signal.
//! <https://github.com/cockroachdb/cockroach/pull/10214>

use std::sync::Arc;

use goro::chan::{make, Chan};
use goro::sync::Mutex;

use super::{check, forever_reasons, leaks_of};

struct Replica {
    raft_mu: Mutex<()>,
    mu: Mutex<()>,
}

struct Store {
    /// `coalescedMu`, guarding `heartbeatResponses`.
    coalesced_mu: Mutex<Vec<u32>>,
    replicas: Vec<Arc<Replica>>,
    a_locked: Chan<()>,
    b_locked: Chan<()>,
    fixed: bool,
}

impl Store {
    async fn send_queued_heartbeats(&self) {
        let responses = self.coalesced_mu.lock().await; // LockA acquire
        self.a_locked.close();
        self.b_locked.recv().await;
        if self.fixed {
            let n = responses.len();
            drop(responses); // LockA release
            for _ in 0..n {
                self.send_queued_heartbeats_to_node().await;
            }
        } else {
            for _ in 0..responses.len() {
                self.send_queued_heartbeats_to_node().await; // LockB
            }
            drop(responses); // LockA release
        }
    }

    async fn send_queued_heartbeats_to_node(&self) {
        for r in &self.replicas {
            // reportUnreachable
            let _b = r.raft_mu.lock().await; // LockB acquire
            goro::yield_now().await;
        }
    }

    async fn tick(&self, r: &Replica) {
        let _b = r.raft_mu.lock().await; // LockB acquire
        self.b_locked.close();
        self.a_locked.recv().await;
        // tickRaftMuLocked -> maybeQuiesceLocked -> maybeCoalesceHeartbeat
        let _m = r.mu.lock().await;
        for _ in 0..2 {
            let _a = self.coalesced_mu.lock().await; // LockA acquire
        }
    }
}

async fn kernel(fixed: bool) {
    let rp1 = Arc::new(Replica {
        raft_mu: Mutex::new(()),
        mu: Mutex::new(()),
    });
    let rp2 = Arc::new(Replica {
        raft_mu: Mutex::new(()),
        mu: Mutex::new(()),
    });
    let store = Arc::new(Store {
        coalesced_mu: Mutex::new(vec![1, 2]),
        replicas: vec![rp1.clone(), rp2],
        a_locked: make(0),
        b_locked: make(0),
        fixed,
    });
    let s = store.clone();
    goro::go!(async move { s.send_queued_heartbeats().await });
    goro::go!(async move { store.tick(&rp1).await });
}

#[test]
fn buggy_leaks_both_lockers() {
    let leaks = check(kernel(false));
    // Not proved while main runs (a gap): see the module doc of main.rs.
    leaks.assert_forever_while_running(&[]);
    let leaked = leaks.at_end;
    assert_eq!(
        forever_reasons(&leaked),
        ["sync.Mutex.Lock", "sync.Mutex.Lock"]
    );
}

#[test]
fn fixed_releases_coalesced_mu_first() {
    assert!(leaks_of(kernel(true)).is_empty());
}
