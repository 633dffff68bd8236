//! A small Go-style JSON service on `goro::http`: an axum router served by
//! `goro::http::Server` (one goroutine per connection), a handler that fans
//! out to goroutines under a timeout and takes what came back in time, and
//! graceful shutdown on Ctrl-C (tokio's signal handling, usable in a
//! goroutine thanks to the `tokio-compat` bridge).
//!
//! The Go program it mirrors:
//!
//! ```go
//! mux := http.NewServeMux()
//! mux.HandleFunc("GET /healthz", ...)
//! mux.HandleFunc("GET /search", search)   // fans out: go backend(ctx, ...)
//! srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
//! go func() { <-sigint; srv.Shutdown(context.Background()) }()
//! srv.ListenAndServe()
//! ```
//!
//! Run it with `cargo run --example http_server --features http,tokio-compat
//! [ADDR]` (default `127.0.0.1:8080`), then
//! `curl '127.0.0.1:8080/search?q=goro'`; end it with Ctrl-C: it stops
//! accepting, finishes the requests in flight, and exits.
//! `http/tests/example_http_server.rs` drives [`serve`] with a real client.

use std::future::Future;
use std::io;
use std::time::Duration;

use axum::extract::Query;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

/// How long `/search` waits for its backends.
pub const SEARCH_TIMEOUT: Duration = Duration::from_millis(300);

/// One backend's answer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Hit {
    /// Which backend answered.
    pub backend: String,
    /// Its result.
    pub result: String,
}

/// `/search`'s reply: the hits that came back in time, and who did not.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct SearchReply {
    /// The query.
    pub query: String,
    /// Answers received before the timeout, in arrival order.
    pub hits: Vec<Hit>,
    /// Backends that had not answered when the timeout ran out (sorted).
    pub timed_out: Vec<String>,
}

/// `/search`'s query string.
#[derive(Debug, Deserialize)]
pub struct SearchQuery {
    q: String,
}

/// A simulated backend: answers after `latency` (Go: a goroutine calling a
/// remote service), or gives up when `cancel` is closed.
async fn backend(name: &'static str, latency: Duration, query: String) -> Hit {
    goro::time::sleep(latency).await;
    Hit {
        backend: name.to_owned(),
        result: format!("{name} result for {query:?}"),
    }
}

/// The backends and their latencies; `video` is too slow for the timeout.
const BACKENDS: [(&str, Duration); 3] = [
    ("web", Duration::from_millis(5)),
    ("images", Duration::from_millis(15)),
    ("video", Duration::from_secs(5)),
];

/// GET /search?q=...: fans out to every backend in its own goroutine and
/// replies with what arrived within [`SEARCH_TIMEOUT`] (Go's "Google
/// search 2.1" from the concurrency talks).
async fn search(Query(SearchQuery { q }): Query<SearchQuery>) -> Json<SearchReply> {
    let results = goro::chan::make::<Hit>(BACKENDS.len());
    // The backends stop when the handler is done with them.
    let done = goro::chan::make::<()>(0);
    for (name, latency) in BACKENDS {
        let (results, done, q) = (results.clone(), done.clone(), q.clone());
        goro::go!(async move {
            goro::select! {
                hit = backend(name, latency, q) => results.send(hit).await,
                _ = done.recv() => {}
            }
        });
    }
    let timeout = goro::time::after(SEARCH_TIMEOUT);
    let mut hits = Vec::new();
    while hits.len() < BACKENDS.len() {
        goro::select! {
            hit = results.recv() => hits.push(hit.expect("results is never closed")),
            _ = &timeout => break,
        }
    }
    done.close();
    let mut timed_out: Vec<String> = BACKENDS
        .iter()
        .map(|(name, _)| name.to_string())
        .filter(|name| !hits.iter().any(|h| &h.backend == name))
        .collect();
    timed_out.sort();
    Json(SearchReply {
        query: q,
        hits,
        timed_out,
    })
}

/// A JSON request body for POST /echo.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Message {
    /// Any text.
    pub text: String,
}

/// The service's routes.
pub fn app() -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/search", get(search))
        .route(
            "/echo",
            post(|Json(m): Json<Message>| async move {
                Json(Message {
                    text: m.text.to_uppercase(),
                })
            }),
        )
}

/// Serves [`app`] on `listener` until `shutdown` completes, then finishes
/// the requests in flight and returns.
pub async fn serve(
    listener: goro::net::TcpListener,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    goro::http::Server::new()
        .serve_with_shutdown(listener, app(), shutdown)
        .await
}

#[goro::main(workers = 2)]
async fn main() -> io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8080".to_owned());
    let listener = goro::net::TcpListener::bind(&addr).await?;
    println!("listening on http://{}", listener.local_addr()?);
    serve(listener, async {
        // tokio's signal handling, inside a goroutine (the bridge).
        let _ = tokio::signal::ctrl_c().await;
        println!("shutting down: finishing the requests in flight");
    })
    .await?;
    println!("bye");
    Ok(())
}
