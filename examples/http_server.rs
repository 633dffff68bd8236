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
//!
//! func search(w http.ResponseWriter, r *http.Request) {
//!     ctx, cancel := context.WithTimeout(r.Context(), 300*time.Millisecond)
//!     defer cancel()
//!     // go backend(ctx, ...) for each backend; select on results and ctx.Done()
//! }
//! ```
//!
//! Run it with `cargo run --example http_server --features http,tokio-compat
//! [ADDR]` (default `127.0.0.1:8080`), then
//! `curl '127.0.0.1:8080/search?q=goro'`; end it with Ctrl-C: it stops
//! accepting, finishes the requests in flight, and exits.
//! `http/tests/example_http_server.rs` drives [`serve`] with a real client.

use std::io;
use std::time::Duration;

use axum::extract::Query;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use goro::context::{self, Context};
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

/// A simulated backend (Go: a goroutine calling a remote service): answers
/// after `latency`, or gives up when `ctx` is done.
async fn backend(ctx: &Context, name: &'static str, latency: Duration, query: &str) -> Option<Hit> {
    goro::select! {
        _ = goro::time::sleep(latency) => Some(Hit {
            backend: name.to_owned(),
            result: format!("{name} result for {query:?}"),
        }),
        _ = ctx.done() => None,
    }
}

/// The backends and their latencies; `video` is too slow for the timeout.
const BACKENDS: [(&str, Duration); 3] = [
    ("web", Duration::from_millis(5)),
    ("images", Duration::from_millis(15)),
    ("video", Duration::from_secs(5)),
];

/// GET /search?q=...: fans out to every backend in its own goroutine under
/// the request's context with a timeout, and replies with what arrived in
/// time (Go's "Google search 2.1" from the concurrency talks, with
/// `context.WithTimeout(r.Context(), ...)`). When the client goes away, the
/// request's context is cancelled, and so are the backends.
async fn search(
    Extension(ctx): Extension<Context>,
    Query(SearchQuery { q }): Query<SearchQuery>,
) -> Json<SearchReply> {
    let (ctx, _cancel) = context::with_timeout(&ctx, SEARCH_TIMEOUT);
    let results = goro::chan::make::<Hit>(BACKENDS.len());
    for (name, latency) in BACKENDS {
        let (ctx, results, q) = (ctx.clone(), results.clone(), q.clone());
        goro::go!(async move {
            if let Some(hit) = backend(&ctx, name, latency, &q).await {
                results.send(hit).await; // buffered: never blocks
            }
        });
    }
    let mut hits = Vec::new();
    while hits.len() < BACKENDS.len() {
        goro::select! {
            hit = results.recv() => hits.push(hit.expect("results is never closed")),
            _ = ctx.done() => break,
        }
    }
    // `_cancel` drops here: backends still running stop (Go: `defer cancel()`).
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

/// Serves [`app`] on `listener` until `ctx` is cancelled, then finishes
/// the requests in flight and returns.
pub async fn serve(ctx: &Context, listener: goro::net::TcpListener) -> io::Result<()> {
    goro::http::Server::new()
        .serve_with_context(ctx, listener, app())
        .await
}

#[goro::main(workers = 2)]
async fn main() -> io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8080".to_owned());
    let listener = goro::net::TcpListener::bind(&addr).await?;
    println!("listening on http://{}", listener.local_addr()?);
    let (ctx, cancel) = context::with_cancel(&context::background());
    goro::go!(async move {
        // tokio's signal handling, inside a goroutine (the bridge).
        let _ = tokio::signal::ctrl_c().await;
        println!("shutting down: finishing the requests in flight");
        cancel();
    });
    serve(&ctx, listener).await?;
    println!("bye");
    Ok(())
}
