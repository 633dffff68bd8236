//! Port of `test/chan/select7.go`: select when discarding a value. Three
//! receivers (plain receive, one-case select, two-case select with a channel
//! that is never ready) against three senders (plain send, one-case select,
//! two-case select), all nine pairings, on unbuffered channels.
//!
//! Ported: the whole program; `runtime.Gosched()` is `yield_now()`.

use goro::chan::{make, Chan};

use crate::common::{go, run, yield_now};

#[derive(Clone, Copy, Debug)]
enum Recv {
    Plain,
    Select1,
    Select2,
}

async fn recv(kind: Recv, c: Chan<i32>) {
    match kind {
        Recv::Plain => {
            c.recv().await;
        }
        Recv::Select1 => goro::select! {
            _ = c => {}
        },
        Recv::Select2 => {
            let c2 = make::<i32>(0);
            goro::select! {
                _ = c => {}
                _ = c2 => {}
            }
        }
    }
}

async fn send1(kind: Recv) {
    let c = make::<i32>(0);
    let r = go(recv(kind, c.clone()));
    yield_now().await;
    c.send(1).await;
    r.await;
}

async fn send2(kind: Recv) {
    let c = make::<i32>(0);
    let r = go(recv(kind, c.clone()));
    yield_now().await;
    goro::select! {
        c.send(1) => {}
    }
    r.await;
}

async fn send3(kind: Recv) {
    let c = make::<i32>(0);
    let r = go(recv(kind, c.clone()));
    yield_now().await;
    let c2 = make::<i32>(0);
    goro::select! {
        c.send(1) => {}
        c2.send(1) => {}
    }
    r.await;
}

#[test]
fn select7() {
    run(async {
        for kind in [Recv::Plain, Recv::Select1, Recv::Select2] {
            send1(kind).await;
            send2(kind).await;
            send3(kind).await;
        }
    });
}
