//! Drives `examples/http_server.rs` with a real HTTP client (hyper's, on a
//! goro socket) over loopback: routes, the fan-out under a timeout, JSON in
//! and out, graceful shutdown.

#[path = "../../examples/http_server.rs"]
#[allow(dead_code)]
mod example;

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode};

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

type Client = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

async fn call(
    client: &mut Client,
    addr: SocketAddr,
    method: Method,
    path: &str,
    body: &str,
) -> (StatusCode, String) {
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header(hyper::header::HOST, addr.to_string())
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body.to_owned())))
        .unwrap();
    // Keep-alive: the connection takes the next request once the previous
    // response is done.
    within("ready", client.ready()).await.unwrap();
    let resp = within(path, client.send_request(req)).await.unwrap();
    let status = resp.status();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

#[goro::test(workers = 2)]
async fn the_example_service_answers_and_shuts_down() {
    let listener = goro::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (ctx, cancel) = goro::context::with_cancel(&goro::context::background());
    let served = goro::go!(async move { example::serve(&ctx, listener).await });

    let stream = goro::net::TcpStream::connect(addr).await.unwrap();
    let (mut client, conn) = hyper::client::conn::http1::handshake(stream).await.unwrap();
    let client_conn = goro::go!(conn);

    assert_eq!(
        call(&mut client, addr, Method::GET, "/healthz", "").await,
        (StatusCode::OK, "ok".to_owned())
    );

    let t0 = std::time::Instant::now();
    let (status, body) = call(&mut client, addr, Method::GET, "/search?q=goro", "").await;
    assert_eq!(status, StatusCode::OK);
    // The slow backend was cut off by the timeout; the fast ones answered.
    assert!(t0.elapsed() >= example::SEARCH_TIMEOUT);
    assert!(body.starts_with(r#"{"query":"goro","hits":["#), "{body}");
    assert!(
        body.contains(r#"{"backend":"web","result":"web result for \"goro\""}"#),
        "{body}"
    );
    assert!(body.contains(r#""backend":"images""#), "{body}");
    assert!(body.ends_with(r#""timed_out":["video"]}"#), "{body}");

    assert_eq!(
        call(&mut client, addr, Method::POST, "/echo", r#"{"text":"hi"}"#).await,
        (StatusCode::OK, r#"{"text":"HI"}"#.to_owned())
    );
    assert_eq!(
        call(&mut client, addr, Method::GET, "/nope", "").await.0,
        StatusCode::NOT_FOUND
    );

    // Shutdown: the idle client connection is closed and serve returns.
    cancel();
    within("serve to return", served).await.unwrap().unwrap();
    // The server closed the idle client connection: the client's
    // connection task ends.
    within("client connection closed", client_conn)
        .await
        .unwrap()
        .unwrap();
    drop(client);
}
