//! Several goroutines accepting on one listener (Go: several goroutines
//! calling `l.Accept()`): every acceptor is woken for its connection.

use std::sync::Arc;
use std::time::Duration;

mod common;

use common::{until_parked, within};

/// Two goroutines accepting on one shared listener (Go: several
/// goroutines calling `l.Accept()`) both get a connection.
#[test]
fn two_acceptors_on_one_listener_both_get_a_connection() {
    let got = within(Duration::from_secs(10), "two acceptors", || {
        let rt = goro::Runtime::builder().workers(2).build().unwrap();
        rt.block_on(async {
            let l = Arc::new(goro::net::TcpListener::bind("127.0.0.1:0").await.unwrap());
            let addr = l.local_addr().unwrap();
            let (l1, l2) = (l.clone(), l.clone());
            let a1 = goro::spawn(async move { l1.accept().await.map(|_| ()) });
            let a2 = goro::spawn(async move { l2.accept().await.map(|_| ()) });
            until_parked(2, "IO wait").await;
            let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
            let c = std::thread::spawn(move || {
                let s1 = std::net::TcpStream::connect(addr).unwrap();
                let s2 = std::net::TcpStream::connect(addr).unwrap();
                // Keep both connections open until the acceptors are done.
                let _ = done_rx.recv_timeout(Duration::from_secs(10));
                drop((s1, s2));
            });
            let r = (a1.await.unwrap().is_ok(), a2.await.unwrap().is_ok());
            drop(done_tx);
            c.join().unwrap();
            r
        })
    });
    assert!(
        matches!(got, Ok((true, true))),
        "an acceptor was never woken: {got:?}"
    );
}
