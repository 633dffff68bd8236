//! kubernetes#5316 (`finishRequest`), the goroutine leak of the "Understanding
//! Real-World Concurrency Bugs in Go" paper, found by goro while the program
//! keeps running, then fixed.
//!
//! ```text
//! cargo run --example leak_demo
//! ```
//!
//! The caller waits for the request's result or a timeout. When the timeout
//! wins, nobody will ever receive the result: the request goroutine stays
//! blocked on its unbuffered send forever. The fix (the real one) gives both
//! channels a buffer of one, so the late send completes and the goroutine
//! exits.

use std::time::Duration;

use goro::chan::{make, Chan};
use goro::leak::{self, Options};

/// Go:
///
/// ```go
/// func finishRequest(timeout time.Duration, fn resultFunc) (result runtime.Object, err error) {
///     ch := make(chan runtime.Object)
///     errCh := make(chan error)
///     go func() {
///         if result, err := fn(); err != nil { errCh <- err } else { ch <- result }
///     }()
///     select {
///     case result = <-ch: ...
///     case err = <-errCh: ...
///     case <-time.After(timeout): return nil, errors.NewTimeoutError("request did not complete within allowed duration")
///     }
/// }
/// ```
async fn finish_request(buffer: usize, timeout: Duration, slow: Chan<()>) -> Result<u32, String> {
    let ch = make::<u32>(buffer);
    let err_ch = make::<String>(buffer);
    let (c, e, s) = (ch.clone(), err_ch.clone(), slow.clone());
    goro::go!(async move {
        // fn(): a request that takes longer than the caller waits.
        s.recv().await;
        let result: Result<u32, String> = Ok(42);
        match result {
            Ok(v) => c.send(v).await,
            Err(err) => e.send(err).await,
        }
    });
    goro::select! {
        v = ch.recv() => Ok(v.unwrap_or_default()),
        e = err_ch.recv() => Err(e.unwrap_or_default()),
        _ = goro::time::after(timeout) => {
            Err("request did not complete within allowed duration".to_string())
        }
    }
}

/// Runs one request that times out in a handler goroutine (as a server
/// would), lets the request finish late, and asks goro which goroutines are
/// left.
async fn request_then_check(buffer: usize) -> Result<(), leak::LeakReport> {
    let slow = make::<()>(0);
    let before = Options::new().ignore_current();
    let s = slow.clone();
    let handler = goro::go!(async move {
        let r = finish_request(buffer, Duration::from_millis(10), s).await;
        println!("finishRequest: {r:?}");
    });
    handler.await.expect("the handler panicked");
    slow.close(); // the request completes, too late: the handler has returned
    leak::verify_none_async(before.grace(Duration::from_millis(100))).await
}

#[goro::main]
async fn main() {
    println!("== buggy: unbuffered result channels ==");
    match request_then_check(0).await {
        Ok(()) => println!("no goroutine left"),
        Err(report) => {
            println!(
                "goro found {} leaked goroutine(s):\n",
                report.goroutines().len()
            );
            print!("{report}");
        }
    }
    println!("\n== fixed: make(chan T, 1) ==");
    match request_then_check(1).await {
        Ok(()) => println!("no goroutine left"),
        Err(report) => print!("{report}"),
    }
    // The leaked goroutine of the buggy run is still parked; the program
    // ends here, as a Go program would, dropping it.
}
