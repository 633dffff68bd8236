//! `#[goro::test]` with `select!` inside: each test runs as the main
//! goroutine of a fresh goro runtime.
//!
//! Go: a `testing` test function whose body uses `select`.

use goro::chan::{make, Chan};

#[goro::test]
async fn select_in_a_goro_test() {
    assert!(goro::current_id().is_some(), "the body runs as a goroutine");
    let (a, b) = (make::<u32>(0), make::<u32>(0));
    let sender = {
        let a = a.clone();
        goro::spawn(async move { a.send(1).await })
    };
    let got = goro::select! {
        v = a => v,
        v = b => v,
    };
    assert_eq!(got, Some(1));
    sender.await.unwrap();
}

#[derive(Debug)]
struct Closed;

#[goro::test]
async fn a_goro_test_may_return_a_result() -> Result<(), Closed> {
    let ch: Chan<u32> = make(1);
    ch.close();
    let v = goro::select! {
        v = ch => v,
    };
    assert_eq!(v.ok_or(Closed).err().map(|_| ()), Some(()));
    Ok(())
}

#[goro::test]
#[should_panic(expected = "send on closed channel")]
async fn a_goro_test_keeps_should_panic() {
    let ch: Chan<u32> = make(0);
    ch.close();
    goro::select! {
        ch.send(1) => {}
    }
}
