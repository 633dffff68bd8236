//! kubernetes#5316, `finishRequest`: the caller times out and returns; the
//! goroutine running the request is left sending its result on an
//! unbuffered channel nobody will read. Fix: buffered channels.
//! <https://github.com/kubernetes/kubernetes/pull/5316>

use std::time::Duration;

use goro::chan::{make, Chan};

use super::{check, forever_reasons, leaks_of};

/// `fn_` is held back by `gate` until the caller has timed out and
/// returned (the buggy interleaving, forced).
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
}

/// The caller of `finishRequest`; the slow request finishes after it
/// returned.
async fn handler(cap: usize) {
    let gate = make::<()>(0);
    finish_request(cap, Duration::from_micros(1), gate.clone()).await;
    gate.close();
}

#[test]
fn buggy_leaks_the_request_goroutine() {
    let leaks = check(handler(0));
    leaks.assert_forever_while_running(&["chan send"]);
    let leaked = leaks.at_end;
    assert_eq!(forever_reasons(&leaked), ["chan send"]);
}

#[test]
#[cfg_attr(
    goro_no_tracking,
    ignore = "needs handle tracking (goro_hook::HANDLE_TRACKING)"
)]
fn buggy_found_stuck_while_the_program_runs() {
    goro::run(async {
        let done = make::<()>(0);
        let d = done.clone();
        goro::go!(async move {
            handler(0).await;
            d.close();
        });
        done.recv().await;
        // The request goroutine parks on its send soon after: wait for it
        // (bounded), main still running.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let stuck = loop {
            let s = goro::leak::find_stuck();
            if !s.is_empty() || std::time::Instant::now() > deadline {
                break s;
            }
            goro::yield_now().await;
        };
        assert_eq!(stuck.len(), 1, "{stuck:?}");
        assert_eq!(stuck[0].wait_reason, "chan send");
        assert!(stuck[0].forever);
    });
}

#[test]
fn fixed_with_buffered_channels() {
    assert!(leaks_of(handler(1)).is_empty());
}
