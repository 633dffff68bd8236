//! Port of `test/chan/sendstmt.go`: parsing cases of send statements.
//!
//! Ported: `chanchan` (a send case on a channel that is itself received from
//! a channel of channels, Go's `case <-cc <- 2:`) and `sendprec` (the sent
//! value is a whole expression, `c <- false || true`). Changed: Go evaluates
//! `<-cc` as part of entering the select; here the received channel is bound
//! first, because a case operand that borrows a temporary (`cc.recv().await
//! .unwrap().send(2)`) would not outlive the statement that creates it. The
//! order of evaluation is the same.

use goro::chan::{make, Chan};

#[test]
fn chanchan() {
    futures::executor::block_on(async {
        let cc = make::<Chan<i32>>(1);
        let c = make::<i32>(1);
        cc.send(c.clone()).await;
        let received = cc.recv().await.unwrap();
        goro::select! {
            received.send(2) => {}
            default => panic!("nonblock"),
        }
        assert_eq!(c.recv().await, Some(2), "bad receive");
    });
}

#[test]
#[allow(clippy::nonminimal_bool, clippy::overly_complex_bool_expr)]
fn sendprec() {
    futures::executor::block_on(async {
        let c = make::<bool>(1);
        goro::select! {
            c.send(false || true) => {}
        }
        assert_eq!(c.recv().await, Some(true), "sent false");
    });
}
