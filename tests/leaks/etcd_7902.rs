//! etcd#7902 (GoKer etcd_7902): the election test's round clients each
//! take a shared mutex around `release`. The leader's `release` closes the
//! round's `nextc`; a follower's `release` waits on it. A follower that
//! takes the mutex first blocks on `nextc` holding it; the leader then
//! blocks on the mutex and never closes `nextc`; the other follower
//! blocks on the mutex too, and `doRounds` (G1) waits on its WaitGroup
//! forever. Fix (as etcd's): no lock around `release` (the leader swaps
//! `nextc` under the lock, but waits without it).
//!
//! Go origin: src/runtime/testdata/testgoroutineleakprofile/goker/etcd7902.go
//! (timmyyuan/gobench goker/blocking/etcd/7902). Forced interleaving: the
//! original's 10 ms sleep between `validate` and `release` usually lets a
//! follower take the mutex first; here nobody releases before both
//! followers validated (WaitGroup `validated`), and the leader only once a
//! follower is inside `release` (channel `follower_releasing`). One round instead of 100, and
//! the sleep is a yield, so the fixed form finishes on every run.
//! <https://github.com/etcd-io/etcd/pull/7902>

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use goro::chan::{make, Chan};
use goro::sync::{Mutex, WaitGroup};

use super::{check, forever_reasons, leaks_of};

struct Election {
    /// `mu`; it also guards `nextc` here (Go's closures share it).
    mu: Mutex<Chan<bool>>,
    validated: WaitGroup,
    follower_releasing: Chan<()>,
    told: AtomicBool,
    fixed: bool,
}

impl Election {
    async fn round_client(&self, i: usize, rounds: u32) {
        let mut progress = 0;
        while progress < rounds {
            // acquire: nothing
            // validate: setRcNextc
            let rc_nextc = self.mu.lock().await.clone();
            if i != 0 {
                self.validated.done();
            }
            goro::yield_now().await; // time.Sleep(10 * time.Millisecond)
            progress += 1;
            self.validated.wait().await;
            if i == 0 {
                self.follower_releasing.recv().await;
            }
            if self.fixed {
                self.release(i, &rc_nextc, None).await;
            } else {
                let g = self.mu.lock().await;
                self.release(i, &rc_nextc, Some(g)).await;
            }
        }
    }

    async fn release(
        &self,
        i: usize,
        rc_nextc: &Chan<bool>,
        locked: Option<goro::sync::MutexGuard<'_, Chan<bool>>>,
    ) {
        if i == 0 {
            // Assume the first roundClient is the leader.
            let mut nextc = match locked {
                Some(g) => g,
                None => self.mu.lock().await,
            };
            nextc.close();
            *nextc = make(0);
            if self.fixed {
                drop(nextc);
            }
            rc_nextc.recv().await;
        } else {
            if !self.told.swap(true, Ordering::SeqCst) {
                self.follower_releasing.close();
            }
            rc_nextc.recv().await; // Follower is blocking here
            drop(locked);
        }
    }
}

async fn run_election_func(fixed: bool) {
    // G1: doRounds(rcs, 1)
    let rcs = 3;
    let e = Arc::new(Election {
        mu: Mutex::new(make(0)),
        validated: WaitGroup::new(),
        follower_releasing: make(0),
        told: AtomicBool::new(false),
        fixed,
    });
    e.validated.add(rcs as isize - 1);
    let wg = Arc::new(WaitGroup::new());
    wg.add(rcs as isize);
    for i in 0..rcs {
        let (e, wg) = (e.clone(), wg.clone());
        goro::go!(async move {
            // G2, G3
            e.round_client(i, 1).await;
            wg.done();
        });
    }
    wg.wait().await;
}

#[test]
fn buggy_leaks_leader_followers_and_test() {
    let leaks = check(run_election_func(false));
    // Not proved while main runs (a gap): see the module doc of main.rs.
    leaks.assert_forever_while_running(&[]);
    let leaked = leaks.at_end;
    assert_eq!(
        forever_reasons(&leaked),
        [
            "chan receive",
            "sync.Mutex.Lock",
            "sync.Mutex.Lock",
            "sync.WaitGroup.Wait"
        ]
    );
}

#[test]
fn fixed_releases_without_the_lock() {
    assert!(leaks_of(run_election_func(true)).is_empty());
}
