//! Sockets on the goro runtime: the worker that runs out of goroutines
//! blocks in the reactor, and IO readiness brings it back.

use std::io::ErrorKind;
use std::time::{Duration, Instant};

use goro_runtime::net::{TcpListener, TcpStream, UdpSocket};
use goro_runtime::runtime::Runtime;

/// With a single worker every IO wait parks the only thread in the reactor:
/// 2,000 ping-pong round trips must all complete (a lost IO wakeup would
/// hang; bounded by the time check).
#[test]
fn single_worker_tcp_ping_pong() {
    let rt = Runtime::builder().workers(1).build().unwrap();
    let start = Instant::now();
    rt.block_on(async move {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = goro_runtime::spawn(async move {
            let (s, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 8];
            loop {
                match s.read(&mut buf).await.unwrap() {
                    0 => break,
                    n => s.write_all(&buf[..n]).await.unwrap(),
                }
            }
        });
        let c = TcpStream::connect(addr).await.unwrap();
        c.set_nodelay(true).unwrap();
        let mut buf = [0u8; 8];
        for i in 0..2_000u64 {
            c.write_all(&i.to_le_bytes()).await.unwrap();
            let mut n = 0;
            while n < 8 {
                n += c.read(&mut buf[n..]).await.unwrap();
            }
            assert_eq!(u64::from_le_bytes(buf), i);
            assert!(start.elapsed() < Duration::from_secs(60), "lost IO wakeup");
        }
        c.shutdown(std::net::Shutdown::Write).unwrap();
        server.await.unwrap();
    })
    .unwrap();
}

/// A goroutine blocked in `accept` and one in `recv_from` wake when a peer
/// shows up, while a third goroutine sleeps: IO and timers share the one
/// parked worker.
#[test]
fn io_and_timers_share_the_parked_worker() {
    let rt = Runtime::builder().workers(1).build().unwrap();
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let udp_addr = udp.local_addr().unwrap();
        let acceptor = goro_runtime::spawn(async move { listener.accept().await.map(|_| ()) });
        let receiver = goro_runtime::spawn(async move {
            let mut buf = [0u8; 4];
            udp.recv_from(&mut buf).await.map(|(n, _)| n)
        });
        let sleeper = goro_runtime::spawn(async {
            let t = Instant::now();
            goro_time::sleep(Duration::from_millis(10)).await;
            t.elapsed()
        });
        goro_time::sleep(Duration::from_millis(2)).await;
        let _c = TcpStream::connect(addr).await.unwrap();
        let s = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        s.send_to(b"ping", udp_addr).await.unwrap();
        acceptor.await.unwrap().unwrap();
        assert_eq!(receiver.await.unwrap().unwrap(), 4);
        assert!(sleeper.await.unwrap() >= Duration::from_millis(10));
    })
    .unwrap();
}

#[test]
fn connection_refused_on_runtime() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let err = goro_runtime::run(TcpStream::connect(("127.0.0.1", port))).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
}

/// A goroutine blocked on a socket shows `[IO wait` in the dump, parked at
/// the user's call site.
#[test]
fn dump_shows_io_wait() {
    goro_runtime::run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let h = goro_runtime::spawn(async move {
            let _ = listener.accept().await;
        });
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let dump = goro_runtime::runtime::dump();
            if dump.contains("[IO wait") && dump.contains("runtime_net.rs") {
                break;
            }
            assert!(Instant::now() < deadline, "no IO wait in dump:\n{dump}");
            goro_runtime::yield_now().await;
        }
        drop(h);
    });
}
