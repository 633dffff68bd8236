//! grpc-go#795 (GoKer grpc_795): `GracefulStop` called a second time finds
//! the server already draining and locks the server mutex again instead of
//! unlocking it: the test goroutine deadlocks on itself. Fixed form (the natural fix):
//! unlock before returning.
//!
//! Go origin: src/runtime/testdata/testgoroutineleakprofile/goker/grpc795.go
//! (timmyyuan/gobench goker/blocking/grpc/795). No race needed for the
//! self-deadlock; the test waits (channel `served`) for `Serve`, which only
//! locks and unlocks, to finish first, so `Serve` never leaks alongside.
//! <https://github.com/grpc/grpc-go/pull/795>

use std::sync::Arc;

use goro::chan::make;
use goro::sync::Mutex;

use super::{check, forever_reasons, leaks_of};

struct Server {
    /// `mu`, guarding `drain`.
    drain: Mutex<bool>,
}

impl Server {
    async fn graceful_stop(&self, fixed: bool) {
        let mut drain = self.drain.lock().await;
        if *drain {
            if !fixed {
                let _again = self.drain.lock().await;
            }
            return;
        }
        *drain = true;
    }

    async fn serve(&self) {
        let _g = self.drain.lock().await;
    }
}

async fn test_server_graceful_stop_idempotent(fixed: bool) {
    // startServer
    let srv = Arc::new(Server {
        drain: Mutex::new(false),
    });
    let served = make::<()>(0);
    let (s, done) = (srv.clone(), served.clone());
    goro::go!(async move {
        s.serve().await;
        done.close();
    });
    served.recv().await;
    for _ in 0..3 {
        srv.graceful_stop(fixed).await;
    }
}

#[test]
fn buggy_leaks_the_test_locking_twice() {
    let leaks = check(test_server_graceful_stop_idempotent(false));
    // Not proved while main runs (a gap): see the module doc of main.rs.
    leaks.assert_forever_while_running(&[]);
    let leaked = leaks.at_end;
    assert_eq!(forever_reasons(&leaked), ["sync.Mutex.Lock"]);
}

#[test]
fn fixed_unlocks_when_already_draining() {
    assert!(leaks_of(test_server_graceful_stop_idempotent(true)).is_empty());
}
