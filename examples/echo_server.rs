//! A TCP echo server: one goroutine per connection, graceful shutdown when a
//! signal channel is closed.
//!
//! Go's canonical server shape:
//!
//! ```go
//! ln, _ := net.Listen("tcp", addr)
//! for {
//!     select {
//!     case <-quit: ...
//!     default: conn, _ := ln.Accept(); go handle(conn)
//!     }
//! }
//! ```
//!
//! Run it with `cargo run --release --example echo_server [ADDR]` (default
//! `127.0.0.1:7007`), talk to it with `nc 127.0.0.1 7007`, and end it by
//! closing stdin (Ctrl-D) or typing `quit`: it stops accepting, waits for
//! the open connections to finish, and prints what it served.
//! `tests/echo_load.rs` drives [`serve`] with 1,000 concurrent connections.

use std::io;

use goro::chan::{self, Receiver};
use goro::net::{TcpListener, TcpStream};

/// What a server run handled.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    /// Connections accepted.
    pub connections: u64,
    /// Bytes echoed back, over all connections.
    pub bytes: u64,
}

/// Echoes everything read on `conn` back to it until the peer closes its
/// write half; returns the number of bytes echoed.
pub async fn handle(conn: TcpStream) -> io::Result<u64> {
    conn.set_nodelay(true)?;
    let mut buf = vec![0u8; 16 * 1024];
    let mut total = 0;
    loop {
        let n = conn.read(&mut buf).await?;
        if n == 0 {
            return Ok(total);
        }
        conn.write_all(&buf[..n]).await?;
        total += n as u64;
    }
}

/// Accepts connections on `listener`, each served by its own goroutine,
/// until `shutdown` is closed; then stops accepting and waits for the open
/// connections to end.
pub async fn serve(listener: TcpListener, shutdown: Receiver<()>) -> io::Result<Stats> {
    // Each connection goroutine reports its byte count here when it ends.
    let done = chan::make::<u64>(64);
    let mut stats = Stats::default();
    let mut open = 0u64;
    loop {
        goro::select! {
            accepted = listener.accept() => {
                let (conn, _peer) = accepted?;
                stats.connections += 1;
                open += 1;
                let done = done.sender();
                drop(goro::go!(async move {
                    // A connection that fails (e.g. reset by its peer) is
                    // just closed, as a Go server would log and move on.
                    let n = handle(conn).await.unwrap_or(0);
                    done.send(n).await;
                }));
            }
            n = done.recv() => {
                stats.bytes += n.expect("done is never closed");
                open -= 1;
            }
            _ = shutdown.recv() => break,
        }
    }
    // Graceful: no new connections; the open ones finish on their own.
    drop(listener);
    while open > 0 {
        stats.bytes += done.recv().await.expect("done is never closed");
        open -= 1;
    }
    Ok(stats)
}

#[allow(dead_code)] // not called when this file is included by tests/echo_load.rs
fn main() -> io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:7007".into());
    goro::run(async move {
        let listener = TcpListener::bind(addr.as_str()).await?;
        println!("echo server on {}", listener.local_addr()?);
        // The signal channel: closed when stdin ends or says "quit".
        let quit = chan::make::<()>(0);
        let signal = quit.sender();
        drop(goro::spawn_blocking(move || {
            for line in io::stdin().lines() {
                match line {
                    Ok(l) if l.trim() == "quit" => break,
                    Ok(_) => {}
                    Err(_) => break,
                }
            }
            signal.close();
        }));
        let stats = serve(listener, quit.receiver()).await?;
        println!(
            "served {} connections, echoed {} bytes",
            stats.connections, stats.bytes
        );
        Ok(())
    })
}
