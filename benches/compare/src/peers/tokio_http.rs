//! tokio+hyper's side of `http_hello`: hyper-util's auto builder (HTTP/1.1 +
//! HTTP/2) on tokio's sockets, a task per connection, tokio's timer so
//! hyper's header-read timeout is on (as goro's and Go's timeouts are).

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;

use crate::http_load::{self, Hello};
use crate::measure::Measurement;

/// Serves hello world while the Go load generator of `workload` sends `n`
/// requests.
pub async fn http_hello(workload: &str, n: u64) -> Measurement {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("local_addr");
    let server = tokio::spawn(async move {
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder.http1().timer(TokioTimer::new());
        builder.http2().timer(TokioTimer::new());
        let builder = std::sync::Arc::new(builder);
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let builder = builder.clone();
            tokio::spawn(async move {
                let _ = builder
                    .serve_connection_with_upgrades(TokioIo::new(stream), Hello)
                    .await;
            });
        }
    });
    let workload = workload.to_owned();
    let m = tokio::task::spawn_blocking(move || http_load::measure(&workload, addr, n))
        .await
        .expect("load generator thread");
    server.abort();
    m
}
