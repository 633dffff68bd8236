//! tokio-based code inside goroutines with the bridge on (feature
//! `tokio-compat`): `tokio::time`, `tokio::net`, `tokio::spawn`, and
//! `axum::serve` (which calls `tokio::spawn`), without a wrapper.

use std::time::Duration;

use goro::runtime::Runtime;

/// Fails the test if `fut` takes longer than 10 s (a guard, not a sync).
// `select!` reads a bare path as a channel operand, so the future is wrapped.
#[allow(clippy::redundant_async_block)]
async fn within<T: Send>(what: &str, fut: impl std::future::Future<Output = T> + Send) -> T {
    // A Timer, stopped when dropped: the guard's timer ends with the call
    // (an `after` would stay armed, counting as pending activity, until it
    // fired or the runtime was dropped).
    let guard = goro::time::Timer::new(Duration::from_secs(10));
    goro::select! {
        v = async move { fut.await } => v,
        _ = guard.c() => panic!("timed out: {what}"),
    }
}

#[goro::test(workers = 2)]
async fn tokio_sleep_in_a_goroutine() {
    let t0 = std::time::Instant::now();
    let h = goro::go!(async move {
        tokio::time::sleep(Duration::from_millis(5)).await;
        t0.elapsed()
    });
    assert!(within("sleep", h).await.unwrap() >= Duration::from_millis(5));
}

#[goro::test(workers = 2)]
async fn tokio_spawn_in_a_goroutine() {
    let h = goro::go!(async {
        let tokio_task = tokio::spawn(async { 6 * 7 });
        tokio_task.await.unwrap()
    });
    assert_eq!(within("tokio task", h).await.unwrap(), 42);
}

#[goro::test(workers = 2)]
async fn tokio_sockets_talk_to_goro_sockets() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // A goro server goroutine...
    let listener = goro::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    goro::go!(async move {
        let (s, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 4];
        let mut n = 0;
        while n < 4 {
            n += s.read(&mut buf[n..]).await.unwrap();
        }
        s.write_all(&buf).await.unwrap();
    });
    // ...and a tokio client in another goroutine.
    let client = goro::go!(async move {
        let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
        c.write_all(b"ping").await.unwrap();
        let mut buf = [0u8; 4];
        c.read_exact(&mut buf).await.unwrap();
        buf
    });
    assert_eq!(&within("echo", client).await.unwrap(), b"ping");
}

#[test]
fn blocking_jobs_see_tokio_too() {
    goro::run(async {
        let h = goro::spawn_blocking(|| tokio::runtime::Handle::try_current().is_ok());
        assert!(within("blocking job", h).await.unwrap());
    });
}

#[test]
fn a_borrowed_tokio_runtime() {
    let tokio_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let rt = Runtime::builder()
        .workers(2)
        .tokio(tokio_rt.handle().clone())
        .build()
        .unwrap();
    let id = tokio_rt.handle().id();
    let same = rt
        .block_on(async move {
            let h = goro::go!(async move { tokio::runtime::Handle::current().id() });
            within("handle", h).await.unwrap()
        })
        .unwrap();
    assert_eq!(same, id);
}

/// axum's own server (tokio's listener, `tokio::spawn` per connection) runs
/// inside a goroutine; a goro hyper client talks to it; then axum's graceful
/// shutdown, driven by a goro channel, ends the goroutine.
#[goro::test(workers = 2)]
async fn axum_serve_inside_a_goroutine() {
    use http_body_util::{BodyExt, Empty};
    let app = axum::Router::new().route("/", axum::routing::get(|| async { "from axum::serve" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = goro::chan::make::<()>(0);
    let stopped = stop.clone();
    let served = goro::go!(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                stopped.recv().await;
            })
            .await
    });
    let stream = goro::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(stream).await.unwrap();
    let client_conn = goro::go!(conn);
    within("ready", sender.ready()).await.unwrap();
    let req = hyper::Request::get("/")
        .header(hyper::header::HOST, addr.to_string())
        .body(Empty::<bytes::Bytes>::new())
        .unwrap();
    let resp = within("axum response", sender.send_request(req))
        .await
        .unwrap();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&body[..], b"from axum::serve");
    // Close the client connection, then shut axum down.
    drop(sender);
    within("client connection", client_conn)
        .await
        .unwrap()
        .unwrap();
    stop.close();
    within("axum::serve to return", served)
        .await
        .unwrap()
        .unwrap();
}
