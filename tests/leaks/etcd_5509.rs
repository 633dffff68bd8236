//! etcd#5509 (GoKer etcd_5509): the remote client's `acquire` returns
//! `ErrConnClosed` without releasing the client's read lock once the
//! client is closed; `Close`, which releases and retakes the write lock
//! after cancelling, then blocks forever on `Lock`, and never waits for the
//! getter. Fixed form: `RUnlock` before returning.
//!
//! Go origin: src/runtime/testdata/testgoroutineleakprofile/goker/etcd5509.go
//! (timmyyuan/gobench goker/blocking/etcd/5509). Forced interleaving: the
//! original needs the getter's `RLock` to fall between `Close`'s `Unlock`
//! and `Lock`; here `Close` waits there (channel `saw_closed`) until the
//! getter saw the client closed. The getter's polling loop yields each
//! round (Go's is preemptible).
//! <https://github.com/etcd-io/etcd/pull/5509>

use std::sync::Arc;

use goro::chan::{make, Chan};
use goro::context::{self, CancelFunc};
use goro::sync::{Mutex, RwMutex};

use super::{check, forever_reasons, leaks_of};

#[derive(Debug, PartialEq)]
struct ErrConnClosed;

struct Client {
    /// `mu`, guarding `cancel`.
    mu: RwMutex<Option<CancelFunc>>,
    saw_closed: Chan<()>,
}

impl Client {
    async fn close(&self) {
        let mut cancel = self.mu.write().await;
        let Some(c) = cancel.take() else {
            return;
        };
        c();
        drop(cancel); // c.mu.Unlock()
        self.saw_closed.recv().await;
        let _again = self.mu.write().await; // c.mu.Lock(), unlocked by the defer
    }
}

struct RemoteClient {
    client: Arc<Client>,
    mu: Mutex<()>,
    fixed: bool,
}

impl RemoteClient {
    async fn acquire(&self) -> Result<(), ErrConnClosed> {
        loop {
            let g = self.client.mu.read().await;
            let closed = g.is_none();
            drop(self.mu.lock().await);
            if closed {
                self.client.saw_closed.close();
                if !self.fixed {
                    std::mem::forget(g); // Missing RUnlock before return
                }
                return Err(ErrConnClosed);
            }
            drop(g);
            goro::yield_now().await;
        }
    }
}

async fn kernel(fixed: bool) {
    let (_ctx, cancel) = context::with_cancel(&context::todo());
    let cli = Arc::new(Client {
        mu: RwMutex::new(Some(cancel)),
        saw_closed: make(0),
    });
    let kv = RemoteClient {
        client: cli.clone(),
        mu: Mutex::new(()),
        fixed,
    };
    let donec = make::<()>(0);
    let d = donec.clone();
    goro::go!(async move {
        // kv.Get -> Do -> do -> getRemote -> acquire
        let err = kv.acquire().await;
        assert_eq!(err, Err(ErrConnClosed), "Expect ErrConnClosed");
        d.close();
    });
    goro::yield_now().await;
    cli.close().await;
    donec.recv().await;
}

#[test]
fn buggy_leaks_the_closer() {
    let leaks = check(kernel(false));
    // Not proved while main runs (a gap): see the module doc of main.rs.
    leaks.assert_forever_while_running(&[]);
    let leaked = leaks.at_end;
    assert_eq!(forever_reasons(&leaked), ["sync.RWMutex.Lock"]);
}

#[test]
fn fixed_acquire_unlocks_before_returning() {
    assert!(leaks_of(kernel(true)).is_empty());
}
