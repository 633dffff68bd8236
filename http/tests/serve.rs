//! `goro::http::serve` driven by real clients over loopback: hyper's HTTP/1.1
//! and HTTP/2 clients (on goro's sockets) and raw sockets.
//!
//! No test sleeps to synchronise: handlers and clients hand off through
//! channels, and every wait is bounded by `within` (a failure guard).

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::routing::get;
use axum::{Extension, Router};
use bytes::Bytes;
use goro::chan::{self, Chan};
use goro::context::{self, Context};
use goro::http::Server;
use goro::net::{TcpListener, TcpStream};
use http_body_util::{BodyExt, Empty};
use hyper::{Request, StatusCode, Version};

/// Fails the test if `fut` takes longer than 10 s (a guard, not a sync).
// `select!` reads a bare path as a channel operand, so the future is wrapped.
#[allow(clippy::redundant_async_block)]
async fn within<T: Send>(what: &str, fut: impl Future<Output = T> + Send) -> T {
    // A Timer, stopped when dropped: the guard's timer ends with the call
    // (an `after` would stay armed, counting as pending activity, until it
    // fired or the runtime was dropped).
    let guard = goro::time::Timer::new(Duration::from_secs(10));
    goro::select! {
        v = async move { fut.await } => v,
        _ = guard.c() => panic!("timed out: {what}"),
    }
}

/// A running server: its address, the cancel of the context it serves
/// under, its serve goroutine.
struct Running {
    addr: SocketAddr,
    cancel: context::CancelFunc,
    served: goro::JoinHandle<io::Result<()>>,
}

impl Running {
    /// Shuts the server down and waits for `serve` to return.
    async fn shutdown(self) {
        (self.cancel)();
        within("serve to return", self.served)
            .await
            .unwrap()
            .unwrap();
    }
}

/// A context value: which tenant the server serves (requests see it).
struct Tenant;

impl context::Key for Tenant {
    type Value = &'static str;
}

/// Serves `app` under a context that `Running::cancel` cancels (graceful
/// shutdown, Go's `Server.Shutdown`) and that carries a `Tenant`.
async fn start(server: Server, app: Router) -> Running {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (ctx, cancel) = context::with_cancel(&context::background());
    let ctx = context::with_value(&ctx, Tenant, "acme");
    let served = goro::go!(async move { server.serve_with_context(&ctx, listener, app).await });
    Running {
        addr,
        cancel,
        served,
    }
}

fn hello_app() -> Router {
    Router::new()
        .route("/hello", get(|| async { "hello" }))
        .route(
            "/panic",
            get(|| async {
                panic!("boom");
                #[allow(unreachable_code)]
                ""
            }),
        )
}

/// `GET path` on a hyper client connection (HTTP/1.1 or HTTP/2), once the
/// connection is ready for it; bounded by `within`.
macro_rules! get {
    ($client:expr, $addr:expr, $path:expr) => {{
        within("ready", $client.ready()).await.unwrap();
        within($path, $client.send_request(get_req($addr, $path))).await
    }};
}

/// An HTTP/1.1 client connection from hyper on a goro socket.
async fn h1_client(addr: SocketAddr) -> hyper::client::conn::http1::SendRequest<Empty<Bytes>> {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (sender, conn) = hyper::client::conn::http1::handshake(stream).await.unwrap();
    goro::go!(async move {
        let _ = conn.await;
    });
    sender
}

/// An HTTP/2 client connection (prior knowledge) from hyper on a goro
/// socket, with goro's executor and timer.
async fn h2_client(addr: SocketAddr) -> hyper::client::conn::http2::SendRequest<Empty<Bytes>> {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (sender, conn) = hyper::client::conn::http2::Builder::new(goro::http::Executor)
        .timer(goro::http::Timer)
        .handshake(stream)
        .await
        .unwrap();
    goro::go!(async move {
        let _ = conn.await;
    });
    sender
}

fn get_req(addr: SocketAddr, path: &str) -> Request<Empty<Bytes>> {
    Request::get(format!("http://{addr}{path}"))
        .header(hyper::header::HOST, addr.to_string())
        .body(Empty::new())
        .unwrap()
}

async fn body_text(resp: hyper::Response<hyper::body::Incoming>) -> String {
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// Reads from a raw socket until EOF (or `limit` bytes).
async fn read_to_end(s: &TcpStream) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        let n = s.read(&mut buf).await?;
        if n == 0 {
            return Ok(out);
        }
        out.extend_from_slice(&buf[..n]);
    }
}

/// Reads one HTTP/1.1 response with a `content-length` body.
async fn read_response(s: &TcpStream) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        let text = String::from_utf8_lossy(&got).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            let len = text[..end]
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse::<usize>().unwrap())
                })
                .expect("content-length");
            if got.len() >= end + 4 + len {
                return text[..end + 4 + len].to_owned();
            }
        }
        let n = s.read(&mut buf).await.unwrap();
        assert!(n > 0, "connection closed mid-response: {text:?}");
        got.extend_from_slice(&buf[..n]);
    }
}

#[goro::test(workers = 2)]
async fn http1_keep_alive_with_hyper_client() {
    let srv = start(Server::new(), hello_app()).await;
    let mut client = h1_client(srv.addr).await;
    // Three requests on one connection: keep-alive.
    for _ in 0..3 {
        // `get!` waits for `ready()`: a keep-alive client connection takes
        // the next request once the previous response is done.
        let resp = get!(client, srv.addr, "/hello").unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(resp.version(), Version::HTTP_11);
        assert_eq!(body_text(resp).await, "hello");
    }
    let resp = get!(client, srv.addr, "/missing").unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    drop(client);
    srv.shutdown().await;
}

#[goro::test(workers = 2)]
async fn http1_keep_alive_on_a_raw_socket() {
    let srv = start(Server::new(), hello_app()).await;
    let s = TcpStream::connect(srv.addr).await.unwrap();
    for _ in 0..2 {
        s.write_all(b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let resp = within("raw response", read_response(&s)).await;
        assert!(resp.starts_with("HTTP/1.1 200 OK\r\n"), "{resp}");
        assert!(resp.ends_with("\r\n\r\nhello"), "{resp}");
    }
    // `Connection: close` ends the connection after the response.
    s.write_all(b"GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let rest = within("close", read_to_end(&s)).await.unwrap();
    assert!(String::from_utf8_lossy(&rest).ends_with("hello"));
    srv.shutdown().await;
}

#[goro::test(workers = 2)]
async fn http2_prior_knowledge() {
    let srv = start(Server::new(), hello_app()).await;
    let mut sender = h2_client(srv.addr).await;
    // Several concurrent streams on the one connection.
    within("ready", sender.ready()).await.unwrap();
    let mut pending = Vec::new();
    for _ in 0..4 {
        pending.push(sender.send_request(get_req(srv.addr, "/hello")));
    }
    for p in pending {
        let resp = within("h2 response", p).await.unwrap();
        assert_eq!(resp.version(), Version::HTTP_2);
        assert_eq!(body_text(resp).await, "hello");
    }
    drop(sender);
    srv.shutdown().await;
}

#[goro::test(workers = 2)]
async fn a_panicking_handler_is_logged_and_the_server_keeps_serving() {
    let logged = Arc::new(Mutex::new(Vec::<String>::new()));
    let log = logged.clone();
    let server = Server::new().error_log(move |line| log.lock().unwrap().push(line.to_owned()));
    // The default panic policy (Abort) is in force: a goroutine panic that
    // escaped would stop this test's runtime.
    let srv = start(server, hello_app()).await;
    let mut client = h1_client(srv.addr).await;
    let err = get!(client, srv.addr, "/panic").unwrap_err();
    // Go closes the connection without a response.
    assert!(err.is_incomplete_message() || err.is_canceled(), "{err}");
    {
        let lines = logged.lock().unwrap();
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(
            lines[0].starts_with("http: panic serving 127.0.0.1:"),
            "{lines:?}"
        );
        assert!(lines[0].ends_with(": boom"), "{lines:?}");
    }
    // A new connection is served.
    let mut client = h1_client(srv.addr).await;
    let resp = get!(client, srv.addr, "/hello").unwrap();
    assert_eq!(body_text(resp).await, "hello");
    drop(client);
    srv.shutdown().await;
}

#[goro::test(workers = 2)]
async fn a_client_that_sends_half_a_header_is_cut_off() {
    let server = Server::new().read_header_timeout(Duration::from_millis(100));
    let srv = start(server, hello_app()).await;
    // First request on the connection: the clock runs from accept.
    let s = TcpStream::connect(srv.addr).await.unwrap();
    s.write_all(b"GET /hello HTTP/1.1\r\nHo").await.unwrap();
    let got = within("cut off", read_to_end(&s)).await;
    assert!(got.is_ok_and(|b| b.is_empty()));
    // A later request on a keep-alive connection: from its first byte.
    let s = TcpStream::connect(srv.addr).await.unwrap();
    s.write_all(b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    assert!(read_response(&s).await.ends_with("hello"));
    s.write_all(b"GET /hello HTTP/1.1\r\nHo").await.unwrap();
    let got = within("cut off on keep-alive", read_to_end(&s)).await;
    assert!(got.is_ok_and(|b| b.is_empty()));
    srv.shutdown().await;
}

#[goro::test(workers = 2)]
async fn an_idle_keep_alive_connection_is_closed() {
    let server = Server::new()
        .read_header_timeout(Duration::from_secs(30))
        .idle_timeout(Duration::from_millis(100));
    let srv = start(server, hello_app()).await;
    let s = TcpStream::connect(srv.addr).await.unwrap();
    s.write_all(b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    assert!(read_response(&s).await.ends_with("hello"));
    let got = within("idle close", read_to_end(&s)).await;
    assert!(got.is_ok_and(|b| b.is_empty()));
    srv.shutdown().await;
}

#[goro::test(workers = 2)]
async fn graceful_shutdown_finishes_the_in_flight_request() {
    let entered = chan::make::<()>(0);
    let release = chan::make::<()>(0);
    let (e, r) = (entered.clone(), release.clone());
    let app = Router::new().route(
        "/slow",
        get(move |Extension(ctx): Extension<Context>| {
            let (e, r) = (e.clone(), r.clone());
            async move {
                e.send(()).await;
                r.recv().await;
                // Shutdown does not cancel the request's context; the
                // server context's values reach it.
                format!("done {:?} {:?}", ctx.err(), ctx.value::<Tenant>())
            }
        }),
    );
    let srv = start(Server::new(), app).await;
    let addr = srv.addr;
    let mut client = h1_client(addr).await;
    // An idle keep-alive connection, which shutdown closes at once. It
    // serves one request first: a connection still in the listener's
    // backlog when shutdown closes the listener is reset by the kernel,
    // not closed by the server (the test read a reset now and then).
    let idle = TcpStream::connect(addr).await.unwrap();
    idle.write_all(b"GET /none HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let resp = within("idle's response", read_response(&idle)).await;
    assert!(resp.starts_with("HTTP/1.1 404"), "{resp}");
    let req = goro::go!(async move {
        client.ready().await?;
        let resp = client.send_request(get_req(addr, "/slow")).await?;
        Ok::<_, hyper::Error>((resp.status(), body_text(resp).await))
    });
    within("handler entered", entered.recv()).await;
    (srv.cancel)();
    // The idle connection is closed, the in-flight request is not cut.
    assert!(within("idle closed", read_to_end(&idle))
        .await
        .is_ok_and(|b| b.is_empty()));
    // The listener is closed: new connections are refused.
    let refused = within("connect", TcpStream::connect(addr)).await;
    assert_eq!(
        refused.unwrap_err().kind(),
        io::ErrorKind::ConnectionRefused
    );
    release.send(()).await;
    let (status, body) = within("in-flight response", req).await.unwrap().unwrap();
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::OK, r#"done None Some("acme")"#)
    );
    within("serve returns", srv.served).await.unwrap().unwrap();
}

/// Go's `r.Context()`: when the client goes away mid-request, the
/// request's context is cancelled (a goroutine the handler started sees it)
/// and the handler's future is dropped.
#[goro::test(workers = 2)]
async fn a_client_going_away_cancels_the_request_context() {
    let entered = chan::make::<()>(0);
    let cancelled = chan::make::<()>(0);
    let seen = chan::make::<Option<context::Error>>(1);
    let (e, c, w) = (entered.clone(), cancelled.clone(), seen.clone());
    let app = Router::new().route(
        "/wait",
        get(move |Extension(ctx): Extension<Context>| {
            let (e, c, w) = (e.clone(), c.clone(), w.clone());
            async move {
                let _guard = CloseOnDrop(c);
                // A goroutine working for the request, as a Go handler's
                // `go work(r.Context())`.
                goro::go!(async move {
                    ctx.done().recv().await;
                    w.send(ctx.err()).await;
                });
                e.send(()).await;
                std::future::pending::<()>().await;
                ""
            }
        }),
    );
    let srv = start(Server::new(), app).await;
    let s = TcpStream::connect(srv.addr).await.unwrap();
    s.write_all(b"GET /wait HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    within("handler entered", entered.recv()).await;
    drop(s);
    assert_eq!(within("handler dropped", cancelled.recv()).await, None);
    assert_eq!(
        within("context cancelled", seen.recv()).await,
        Some(Some(context::Error::Canceled))
    );
    srv.shutdown().await;
}

/// Closes its channel when dropped: tells the test that the server let go
/// of a handler's future or a response body.
struct CloseOnDrop(Chan<()>);

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        self.0.close();
    }
}

/// Go's `WriteTimeout`: a response still being written when it runs out
/// (here: an endless body to a client that never reads) fails, and the
/// server lets go of the connection and the body.
#[goro::test(workers = 2)]
async fn a_response_past_the_write_timeout_is_cut_off() {
    use futures::StreamExt;
    let dropped = chan::make::<()>(0);
    let d = dropped.clone();
    let app = Router::new().route(
        "/endless",
        get(move || {
            let guard = CloseOnDrop(d.clone());
            async move {
                let chunks = futures::stream::repeat_with(|| {
                    Ok::<_, io::Error>(Bytes::from(vec![b'x'; 64 * 1024]))
                })
                .map(move |c| {
                    let _ = &guard;
                    c
                });
                axum::body::Body::from_stream(chunks)
            }
        }),
    );
    let server = Server::new().write_timeout(Duration::from_millis(100));
    let srv = start(server, app).await;
    let s = TcpStream::connect(srv.addr).await.unwrap();
    s.write_all(b"GET /endless HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    // Never read: the server's writes block, then time out.
    assert_eq!(within("body dropped", dropped.recv()).await, None);
    drop(s);
    srv.shutdown().await;
}

#[goro::test(workers = 2)]
async fn a_panicking_handler_resets_only_its_http2_stream() {
    let server = Server::new().error_log(|_| {});
    let srv = start(server, hello_app()).await;
    let mut sender = h2_client(srv.addr).await;
    let err = get!(sender, srv.addr, "/panic").unwrap_err();
    assert!(!err.is_incomplete_message(), "{err}");
    // The connection itself goes on.
    let resp = get!(sender, srv.addr, "/hello").unwrap();
    assert_eq!(body_text(resp).await, "hello");
    drop(sender);
    srv.shutdown().await;
}
