//! Port of `test/chan/select6.go` (Go issue 2075): a select that loses on a
//! channel with several waiters must leave that channel's waiter queue
//! intact, so later waiters on it are still woken.
//!
//! Ported: the whole program. `c1` gets a plain receiver and a select's
//! receive case; the select wins on `c2`; a second receive on `c1` follows;
//! both of main's sends on `c1` must find their receivers.

use goro::chan::make;

use crate::common::{go, run};

#[test]
fn select6() {
    run(async {
        let c1 = make::<bool>(0);
        let c2 = make::<bool>(0);
        let c3 = make::<bool>(0);
        let first = {
            let c1 = c1.clone();
            go(async move {
                c1.recv().await;
            })
        };
        let second = {
            let (c1, c2, c3) = (c1.clone(), c2.clone(), c3.clone());
            go(async move {
                goro::select! {
                    _ = c1 => panic!("dummy"),
                    _ = c2 => c3.send(true).await,
                }
                c1.recv().await;
            })
        };
        {
            let c2 = c2.clone();
            go(async move { c2.send(true).await });
        }
        c3.recv().await;
        c1.send(true).await;
        c1.send(true).await;
        first.await;
        second.await;
    });
}
