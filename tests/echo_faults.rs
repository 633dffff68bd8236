//! The echo server (`examples/echo_server.rs`) under faulty clients: 1,000
//! loopback connections, where a tenth of the clients reset the connection
//! mid-stream, a tenth write and never read (the server's writes to them
//! block, and must block only their own goroutines), and a tenth send
//! garbage and leave abruptly. Every other connection gets every byte back,
//! while the non-readers are still stuck; then everything shuts down.

#[path = "../examples/echo_server.rs"]
mod echo_server;

use std::time::{Duration, Instant};

use futures::{AsyncReadExt, AsyncWriteExt};
use goro::chan;
use goro::net::{TcpListener, TcpStream};
use goro::runtime::GoroutineState;
use std::net::Shutdown;

const CONNECTIONS: usize = 1_000;
const CHUNKS: usize = 8;
const CHUNK: usize = 2048;
/// A non-reader writes this, again and again, until released.
static FLOOD_BYTES: [u8; 64 * 1024] = [0x5a; 64 * 1024];
/// Failing guard for the whole test.
const LIMIT: Duration = Duration::from_secs(120);

#[derive(Debug, Clone, Copy, PartialEq)]
enum Client {
    /// Sends, reads a little, then closes with unread data: the kernel
    /// answers with a reset (RST), mid-stream for the server.
    Resets,
    /// Writes and never reads.
    NeverReads,
    /// Random bytes in random pieces, then leaves without reading.
    Garbage,
    /// Sends its payload and checks every byte of the echo.
    Normal,
}

fn kind(c: usize) -> Client {
    match c % 10 {
        0 => Client::Resets,
        1 => Client::NeverReads,
        2 => Client::Garbage,
        _ => Client::Normal,
    }
}

/// The bytes connection `c` sends: distinct per connection and position.
fn payload(c: usize, len: usize) -> Vec<u8> {
    let mut rng = fastrand::Rng::with_seed(c as u64);
    (0..len).map(|_| rng.u8(..)).collect()
}

/// The line of `examples/echo_server.rs` where the server writes the echo.
fn server_write_line() -> u32 {
    let src = include_str!("../examples/echo_server.rs");
    let i = src
        .lines()
        .position(|l| l.contains("conn.write_all(&buf[..n]).await?"))
        .expect("the echo server's write call");
    i as u32 + 1
}

/// How many server goroutines are parked in the echo write right now.
fn server_writes_parked() -> usize {
    let line = server_write_line();
    goro::runtime::snapshot()
        .iter()
        .filter(|g| match g.state {
            GoroutineState::Waiting { at: Some(at), .. } => {
                at.file().ends_with("echo_server.rs") && at.line() == line
            }
            _ => false,
        })
        .count()
}

/// Waits (bounded, by yielding) until `n` server writes are parked.
async fn until_server_writes_parked(n: usize) {
    let deadline = Instant::now() + LIMIT / 2;
    while server_writes_parked() < n {
        assert!(
            Instant::now() < deadline,
            "only {} of {n} server writes parked\n{}",
            server_writes_parked(),
            goro::runtime::dump()
        );
        goro::yield_now().await;
    }
}

/// Runs client `c`; a normal client returns the number of bytes echoed.
async fn client(
    c: usize,
    conn: TcpStream,
    normal_done: chan::Receiver<()>,
) -> std::io::Result<usize> {
    let mut conn = conn;
    let mut echoed = 0;
    match kind(c) {
        Client::Normal => {
            let data = payload(c, CHUNKS * CHUNK);
            let mut back = vec![0u8; CHUNK];
            for chunk in data.chunks(CHUNK) {
                conn.write_all(chunk).await?;
                conn.read_exact(&mut back).await?;
                assert!(back == chunk, "connection {c}: echoed bytes differ");
            }
            conn.close().await?;
            let mut rest = Vec::new();
            conn.read_to_end(&mut rest).await?;
            assert!(rest.is_empty(), "connection {c}: extra bytes");
            echoed = data.len();
        }
        Client::Resets => {
            conn.write_all(&payload(c, 64 * 1024)).await?;
            let mut one = [0u8; 1];
            let n = conn.read(&mut one).await?;
            assert_eq!(n, 1);
            // Dropped with (or soon receiving) unread echo: a reset.
        }
        Client::NeverReads => {
            // Writes until released. Once the socket buffers are full the
            // server's write back to us blocks, it stops reading, and our
            // write blocks too.
            loop {
                goro::select! {
                    r = conn.write_all(&FLOOD_BYTES) => r?,
                    _ = normal_done.recv() => break,
                }
            }
            // Dropped with the echo unread: the server's blocked write fails.
        }
        Client::Garbage => {
            let mut rng = fastrand::Rng::with_seed(c as u64 ^ 0x9e37_79b9);
            for _ in 0..rng.usize(0..8) {
                let piece: Vec<u8> = (0..rng.usize(1..4096)).map(|_| rng.u8(..)).collect();
                conn.write_all(&piece).await?;
            }
            if rng.bool() {
                conn.shutdown(Shutdown::Write)?;
            }
        }
    }
    Ok(echoed)
}

#[test]
fn faulty_clients_affect_only_their_own_connections() {
    let start = Instant::now();
    let rt = goro::Runtime::builder().build().unwrap();
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let quit = chan::make::<()>(0);
        let server = goro::spawn(echo_server::serve(listener, quit.receiver()));
        // Closed when every normal client is done: releases the non-readers.
        let normal_done = chan::make::<()>(0);
        let connected = chan::make::<()>(0);
        // Two starting signals: the non-readers go first.
        let (flood, ready) = (chan::make::<()>(0), chan::make::<()>(0));
        let clients: Vec<_> = (0..CONNECTIONS)
            .map(|c| {
                let connected = connected.sender();
                let go = if kind(c) == Client::NeverReads {
                    &flood
                } else {
                    &ready
                }
                .receiver();
                let normal_done = normal_done.receiver();
                goro::spawn(async move {
                    let conn = TcpStream::connect(addr).await.unwrap();
                    connected.send(()).await;
                    assert_eq!(go.recv().await, None);
                    client(c, conn, normal_done).await
                })
            })
            .collect();
        for _ in 0..CONNECTIONS {
            connected.recv().await.unwrap();
        }
        // All 1,000 connections are open at once. The non-readers flood
        // until the server's write to each of them is blocked.
        let never_read = (0..CONNECTIONS)
            .filter(|&c| kind(c) == Client::NeverReads)
            .count();
        flood.close();
        until_server_writes_parked(never_read).await;
        let stuck_at = start.elapsed();
        // Now the other clients, normal and faulty, while those are stuck.
        ready.close();
        // A `Timer` (freed when dropped), not `time::after`: an `after` timer
        // still pending when the runtime is dropped is leaked with the
        // runtime's IO driver (a reference cycle), which CI's sanitizer
        // stage would report.
        let limit = goro::time::Timer::new(LIMIT.saturating_sub(start.elapsed()));
        let deadline = limit.c();
        let mut echoed = 0;
        let mut others = Vec::new();
        for (c, mut h) in clients.into_iter().enumerate() {
            if kind(c) != Client::Normal {
                others.push((c, h));
                continue;
            }
            goro::select! {
                r = &mut h => {
                    echoed += r.unwrap().unwrap_or_else(|e| panic!("normal client {c}: {e}"));
                }
                _ = deadline => panic!("normal client {c} not done within {LIMIT:?}"),
            }
        }
        // Every normal connection was served while the server's writes to
        // the non-readers stayed blocked.
        until_server_writes_parked(never_read).await;
        normal_done.close();
        for (c, mut h) in others {
            goro::select! {
                r = &mut h => {
                    // A reset or garbage client may see its own connection
                    // reset: that is the fault it injected. A non-reader
                    // only stopped writing.
                    if let (Client::NeverReads, Err(e)) = (kind(c), r.unwrap()) {
                        panic!("non-reader {c}: {e}");
                    }
                }
                _ = deadline => panic!("client {c} not done within {LIMIT:?}"),
            }
        }
        quit.close();
        let mut server = server;
        let stats = goro::select! {
            s = &mut server => s.unwrap().unwrap(),
            _ = deadline => panic!("server not stopped within {LIMIT:?}"),
        };
        let normal = (0..CONNECTIONS)
            .filter(|&c| kind(c) == Client::Normal)
            .count();
        assert_eq!(echoed, normal * CHUNKS * CHUNK);
        assert_eq!(stats.connections as usize, CONNECTIONS);
        assert!(stats.bytes as usize >= echoed);
        println!(
            "server writes to {never_read} non-readers blocked after {stuck_at:.1?}; meanwhile \
             {normal} normal connections echoed {echoed} bytes; server: {stats:?}; {:.1?}",
            start.elapsed()
        );
    })
    .unwrap();
    assert!(start.elapsed() < LIMIT, "too slow: {:?}", start.elapsed());
}
