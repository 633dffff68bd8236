//! kubernetes#5316, `finishRequest`: the caller times out and returns; the
//! goroutine running the request is left sending its result on an
//! unbuffered channel nobody will read. Fix: buffered channels.
//! <https://github.com/kubernetes/kubernetes/pull/5316>

use std::time::Duration;

use goro::chan::{make, Chan};

use super::{forever_reasons, leaks_of};

/// `fn_` is held back by `gate` until the caller has timed out (the buggy
/// interleaving, forced).
async fn finish_request(cap: usize, timeout: Duration, gate: Chan<()>) {
    let ch = make::<bool>(cap);
    let err_ch = make::<String>(cap);
    let (c, e) = (ch.clone(), err_ch.clone());
    let g = gate.clone();
    goro::go!(async move {
        // fn(): the slow request.
        g.recv().await;
        let failed = false;
        if failed {
            e.send("error".into()).await;
        } else {
            c.send(true).await;
        }
    });
    goro::select! {
        _ = ch.recv() => {}
        _ = err_ch.recv() => {}
        _ = goro::time::after(timeout) => {}
    }
    // The caller has given up: now let the request finish.
    gate.close();
}

#[test]
fn buggy_leaks_the_request_goroutine() {
    let leaked = leaks_of(finish_request(0, Duration::from_micros(1), make(0)));
    assert_eq!(forever_reasons(&leaked), ["chan send"]);
}

#[test]
fn fixed_with_buffered_channels() {
    assert!(leaks_of(finish_request(1, Duration::from_micros(1), make(0))).is_empty());
}
