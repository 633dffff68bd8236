//! grpc-go#1424 (GoKer grpc_1424): `DialContext`'s goroutine waits on
//! `doneChan`, which `lbWatcher` never closes when the balancer's address
//! channel is closed. Fix: the watcher closes `doneChan` when it returns.
//! (The kernel's `addrConn` mutex guards an empty list here and never
//! blocks, so it is left out.)
//! <https://github.com/grpc/grpc-go/pull/1424>

use goro::chan::{make, Chan};

use super::{check, forever_reasons, leaks_of};

struct ClientConn {
    addr_ch: Chan<bool>,
}

impl ClientConn {
    async fn lb_watcher(&self, done_chan: Chan<bool>, fixed: bool) {
        while let Some(_addr) = self.addr_ch.recv().await {
            // tear down the (empty) list of connections
        }
        if fixed {
            done_chan.close();
        }
    }
}

async fn dial_context(fixed: bool) {
    let cc = std::sync::Arc::new(ClientConn { addr_ch: make(0) });
    let wait_c = make::<()>(1);
    let (cc2, w) = (cc.clone(), wait_c.clone());
    goro::go!(async move {
        let done_chan = make::<bool>(0);
        let (cc3, d) = (cc2.clone(), done_chan.clone());
        goro::go!(async move { cc3.lb_watcher(d, fixed).await });
        done_chan.recv().await;
        w.close();
    });
    // close addrCh
    cc.addr_ch.close();
}

#[test]
fn buggy_leaks_the_dialer() {
    let leaks = check(dial_context(false));
    leaks.assert_forever_while_running(&["chan receive"]);
    let leaked = leaks.at_end;
    assert_eq!(forever_reasons(&leaked), ["chan receive"]);
}

#[test]
fn fixed_watcher_closes_done() {
    assert!(leaks_of(dial_context(true)).is_empty());
}
