//! tokio's timers and sockets: `tokio::time::sleep`, `tokio::net`.

use std::time::Instant;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};

use crate::measure::{check_timers, fill_msg, Measurement, Stopwatch, MSG, SLEEP};

/// `n` tasks each sleep 1 ms at once; wall time from the first spawn until the
/// last one is joined.
pub async fn timers_sleep(n: u64) -> Measurement {
    let sw = Stopwatch::start();
    let mut handles = Vec::with_capacity(n as usize);
    for _ in 0..n {
        handles.push(tokio::spawn(async {
            let t0 = Instant::now();
            tokio::time::sleep(SLEEP).await;
            t0.elapsed()
        }));
    }
    let mut slept = Vec::with_capacity(n as usize);
    for h in handles {
        slept.push(h.await.expect("task panicked"));
    }
    let m = sw.stop(n);
    check_timers(m, n, &slept)
}

/// Echoes everything read on `conn` until EOF; returns the bytes echoed.
async fn echo(mut conn: TcpStream) -> u64 {
    conn.set_nodelay(true).expect("set_nodelay");
    let mut buf = vec![0u8; 4096];
    let mut total = 0;
    loop {
        let k = conn.read(&mut buf).await.expect("server read");
        if k == 0 {
            return total;
        }
        conn.write_all(&buf[..k]).await.expect("server write");
        total += k as u64;
    }
}

/// A loopback echo server (a task per connection); one client connection does
/// `n` sequential round trips of 64 bytes.
pub async fn tcp_echo_rtt(n: u64) -> Measurement {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local_addr");
    let (quit_tx, mut quit_rx) = oneshot::channel::<()>();
    let (done_tx, mut done_rx) = mpsc::channel::<u64>(16);
    let server = tokio::spawn(async move {
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    let (conn, _peer) = accepted.expect("accept");
                    let done = done_tx.clone();
                    tokio::spawn(async move {
                        let _ = done.send(echo(conn).await).await;
                    });
                }
                _ = &mut quit_rx => break,
            }
        }
    });

    let mut conn = TcpStream::connect(addr).await.expect("connect");
    conn.set_nodelay(true).expect("set_nodelay");
    let (mut msg, mut reply) = ([0u8; MSG], [0u8; MSG]);
    let mut bad = 0u64;
    let sw = Stopwatch::start();
    for i in 0..n {
        fill_msg(&mut msg, i);
        conn.write_all(&msg).await.expect("client write");
        conn.read_exact(&mut reply).await.expect("client read");
        bad += u64::from(reply != msg);
    }
    let m = sw.stop(n);
    conn.shutdown().await.expect("shutdown");
    let echoed = done_rx.recv().await.unwrap_or(0);
    let _ = quit_tx.send(());
    server.await.expect("server task panicked");
    m.expect(bad == 0 && echoed == n * MSG as u64, || {
        format!("bad_replies={bad},echoed={echoed}")
    })
}
