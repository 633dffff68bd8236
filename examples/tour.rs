//! A tour of goro for Go programmers: the Go idioms, side by side.
//!
//! ```text
//! cargo run --example tour
//! ```

use std::time::Duration;

use goro::chan::{self, Chan, TryRecvError, TrySendError};

/// Go: a producer that closes its channel when done.
///
/// ```go
/// func gen(n int) <-chan int { c := make(chan int); go func() { for i := range n { c <- i }; close(c) }(); return c }
/// ```
fn gen(n: u32) -> chan::Receiver<u32> {
    let c = chan::make::<u32>(0);
    let tx = c.clone();
    goro::go!(async move {
        for i in 0..n {
            tx.send(i).await;
        }
        tx.close();
    });
    c.receiver()
}

/// Go: `func square(in <-chan int) <-chan int` (a pipeline stage).
fn square(input: chan::Receiver<u32>) -> chan::Receiver<u32> {
    let out = chan::make::<u32>(0);
    let tx = out.clone();
    goro::go!(async move {
        while let Some(v) = input.recv().await {
            tx.send(v * v).await;
        }
        tx.close();
    });
    out.receiver()
}

#[goro::main]
async fn main() {
    // 1. Goroutines and JoinHandles: `go f()`, plus a typed result when you want one.
    let h = goro::go!(async { 6 * 7 });
    println!("1. a goroutine returned {}", h.await.unwrap());

    // 2. A pipeline over unbuffered channels; `for v := range c` is `while let Some(v)`.
    let mut squares = Vec::new();
    let out = square(gen(5));
    while let Some(v) = out.recv().await {
        squares.push(v);
    }
    println!("2. pipeline: {squares:?}");

    // 3. Buffered channels: FIFO, len and cap; closed channels drain, then give None.
    let c = chan::make::<&str>(3);
    c.send("a").await;
    c.send("b").await;
    println!("3. buffered: len {} cap {}", c.len(), c.cap());
    c.close();
    println!(
        "   after close: {:?} {:?} {:?}",
        c.recv().await,
        c.recv().await,
        c.recv().await
    );

    // 4. select with default: a non-blocking receive.
    let idle = chan::make::<i32>(1);
    goro::select! {
        v = idle.recv() => println!("4. got {v:?}"),
        default => println!("4. nothing ready: default taken"),
    }
    assert_eq!(idle.try_recv(), Err(TryRecvError::Empty));

    // 5. select with a timeout.
    let slow = chan::make::<i32>(0);
    goro::select! {
        v = slow.recv() => println!("5. got {v:?}"),
        _ = goro::time::after(Duration::from_millis(20)) => println!("5. timed out after 20ms"),
    }

    // 6. The nil-channel idiom: merge two channels until both are closed.
    let (mut a, mut b) = (gen(3), gen(2));
    let mut merged = Vec::new();
    while a != chan::Receiver::nil() || b != chan::Receiver::nil() {
        goro::select! {
            v = a.recv() => match v { Some(v) => merged.push(v), None => a = chan::Receiver::nil() },
            v = b.recv() => match v { Some(v) => merged.push(v), None => b = chan::Receiver::nil() },
        }
    }
    merged.sort();
    println!("6. merged: {merged:?}");

    // 7. A value handed to a channel is delivered or given back: try_send on a
    //    closed channel returns it (send().await would panic with Go's text,
    //    "send on closed channel", and stop the program as in Go).
    let closed: Chan<String> = chan::make(1);
    closed.close();
    match closed.try_send("hello".to_string()) {
        Err(TrySendError::Closed(v)) => println!("7. closed channel gave back {v:?}"),
        other => unreachable!("{other:?}"),
    }

    // 8. The goroutine dump, as Go prints on SIGQUIT.
    let blocked = chan::make::<i32>(0);
    let b2 = blocked.clone();
    goro::go!(async move { b2.recv().await });
    goro::yield_now().await;
    println!(
        "8. goroutines: {}\n{}",
        goro::runtime::num_goroutine(),
        goro::runtime::dump()
    );
    blocked.send(1).await;
}
