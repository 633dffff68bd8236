//! Port of `test/chan/nonblock.go`: non-blocking sends and receives (a select
//! with one case and `default`) on unbuffered and buffered channels, for
//! values of several sizes and types (`i32`, `i64`, `bool`, `String`).
//!
//! Ported: the whole program, written once generically instead of four
//! copies. Go's retry loops are kept: try the non-blocking operation, and if
//! `default` was taken, let the partner goroutine run and retry, failing after
//! `MAX_TRIES`. Go's `sleep()` (two ticks of a 10 µs ticker and three
//! `Gosched`s) becomes three `yield_now()`s, and `MAX_TRIES` is raised from
//! 10,000 to 1,000,000 to keep the same time margin without the ticker, on a
//! loaded machine. The loop ends as soon as the partner is ready, so the bound
//! is only reached on a bug.

use std::fmt::Debug;

use goro::chan::make;

use crate::common::{go, run, yield_now};

const MAX_TRIES: u32 = 1_000_000;

async fn sleep() {
    for _ in 0..3 {
        yield_now().await;
    }
}

async fn check<T>(buffer: usize, to_receiver: T, from_sender: T)
where
    T: Clone + PartialEq + Debug + Send + Sync + 'static,
{
    let c = make::<T>(buffer);
    let sync = make::<bool>(0);

    goro::select! {
        _ = c => panic!("blocked sender"),
        default => {}
    }

    let receiver = {
        let (c, sync, want) = (c.clone(), sync.clone(), to_receiver.clone());
        go(async move {
            assert_eq!(c.recv().await, Some(want), "receiver value");
            sync.send(true).await;
        })
    };
    let mut tries = 0;
    loop {
        goro::select! {
            c.send(to_receiver.clone()) => break,
            default => {
                tries += 1;
                assert!(tries <= MAX_TRIES, "receiver buffer={buffer}: fail");
                sleep().await;
            }
        }
    }
    sync.recv().await;
    receiver.await;

    let sender = {
        let (c, sync, v) = (c.clone(), sync.clone(), from_sender.clone());
        go(async move {
            c.send(v).await;
            sync.send(true).await;
        })
    };
    if buffer > 0 {
        sync.recv().await;
    }
    tries = 0;
    let got = loop {
        goro::select! {
            v = c => break v,
            default => {
                tries += 1;
                assert!(tries <= MAX_TRIES, "sender buffer={buffer}: fail");
                sleep().await;
            }
        }
    };
    assert_eq!(got, Some(from_sender), "sender value");
    if buffer == 0 {
        sync.recv().await;
    }
    sender.await;
}

#[test]
fn nonblock() {
    run(async {
        for buffer in 0..2 {
            check::<i32>(buffer, 123, 234).await;
            check::<i64>(buffer, 123456, 234567).await;
            check::<bool>(buffer, true, true).await;
            check::<String>(buffer, "hello".into(), "hello again".into()).await;
        }
    });
}
