//! The deadlock check's latency, alone in its test binary: outside threads
//! of other tests (which may wake anybody while awake) would delay it.

use std::time::{Duration, Instant};

use goro::chan::make;
use goro::runtime::{Runtime, RuntimeError};

#[test]
fn detected_quickly() {
    // Many rounds: each deadlock must be found within 100 ms of arising.
    let rt = Runtime::builder().workers(2).build().unwrap();
    for _ in 0..20 {
        let start = Instant::now();
        let err = rt
            .block_on(async {
                let ch = make::<()>(0);
                let c = ch.clone();
                goro::go!(async move { c.send(()).await });
                goro::go!(async move { ch.send(()).await });
                goro::select! {}
            })
            .unwrap_err();
        let took = start.elapsed();
        assert!(matches!(err, RuntimeError::Deadlock { .. }), "{err}");
        assert!(took < Duration::from_millis(100), "took {took:?}");
    }
}
