//! Load test for `examples/echo_server.rs`: 1,000 concurrent loopback
//! connections, every byte checked, then a graceful shutdown.

#[path = "../examples/echo_server.rs"]
mod echo_server;

use std::time::{Duration, Instant};

use futures::{AsyncReadExt, AsyncWriteExt};
use goro::net::{TcpListener, TcpStream};

const CONNECTIONS: usize = 1_000;
const CHUNKS: usize = 8;
const CHUNK: usize = 2048;

/// The bytes connection `c` sends: distinct per connection and position.
fn payload(c: usize) -> Vec<u8> {
    let mut rng = fastrand::Rng::with_seed(c as u64);
    (0..CHUNKS * CHUNK).map(|_| rng.u8(..)).collect()
}

#[test]
fn thousand_concurrent_connections_every_byte_echoed() {
    let start = Instant::now();
    let rt = goro::Runtime::builder().build().unwrap();
    let stats = rt
        .block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let quit = goro::chan::make::<()>(0);
            let server = goro::spawn(echo_server::serve(listener, quit.receiver()));
            // All connections are opened first and held open together, then
            // each goroutine sends its payload in chunks and checks the echo.
            let connected = goro::chan::make::<()>(0);
            let ready = goro::chan::make::<()>(0);
            let clients: Vec<_> = (0..CONNECTIONS)
                .map(|c| {
                    let (connected, ready) = (connected.sender(), ready.receiver());
                    goro::spawn(async move {
                        let mut conn = TcpStream::connect(addr).await.unwrap();
                        // Report, then wait until every client is connected.
                        connected.send(()).await;
                        assert_eq!(ready.recv().await, None);
                        let data = payload(c);
                        let mut back = vec![0u8; CHUNK];
                        for chunk in data.chunks(CHUNK) {
                            conn.write_all(chunk).await.unwrap();
                            conn.read_exact(&mut back).await.unwrap();
                            assert!(back == chunk, "connection {c}: echoed bytes differ");
                        }
                        conn.close().await.unwrap();
                        // The server closes its side after our EOF.
                        let mut rest = Vec::new();
                        conn.read_to_end(&mut rest).await.unwrap();
                        assert!(rest.is_empty());
                        data.len()
                    })
                })
                .collect();
            for _ in 0..CONNECTIONS {
                connected.recv().await.unwrap();
            }
            // All 1,000 connections are open at once; release the clients.
            ready.close();
            let mut sent = 0;
            for h in clients {
                sent += h.await.unwrap();
            }
            quit.close();
            let stats = server.await.unwrap().unwrap();
            assert_eq!(stats.bytes as usize, sent);
            stats
        })
        .unwrap();
    assert_eq!(stats.connections as usize, CONNECTIONS);
    assert_eq!(stats.bytes as usize, CONNECTIONS * CHUNKS * CHUNK);
    assert!(
        start.elapsed() < Duration::from_secs(120),
        "load test too slow: {:?}",
        start.elapsed()
    );
}
