//! goro-http: hyper and tower on goro, and Go's `net/http` server.
//!
//! - [`serve`] and [`Server`]: Go's `http.Serve` and `http.Server`. One
//!   goroutine per connection, HTTP/1.1 and HTTP/2 (hyper-util's auto
//!   builder), any tower `Service` (an axum `Router`, a `tower::ServiceBuilder`
//!   stack), a panicking handler logged and survived, Go's read-header,
//!   idle and write timeouts on by default, graceful shutdown.
//! - [`Executor`] and [`Timer`]: hyper's runtime traits on goro, for hyper's
//!   clients and lower-level servers. goro's `net::TcpStream` implements
//!   hyper's `rt::Read`/`rt::Write` itself, and goro's `time::Sleep`
//!   implements `rt::Sleep` itself (the `hyper` features of goro-runtime
//!   and goro-time).
//!
//! Reached as `goro::http` with the facade's feature `http`.
//!
//! ```no_run
//! use axum::{routing::get, Router};
//!
//! goro_runtime::run(async {
//!     let app = Router::new().route("/", get(|| async { "hello from a goroutine" }));
//!     let listener = goro_runtime::net::TcpListener::bind("127.0.0.1:8080").await?;
//!     goro_http::serve(listener, app).await
//! })
//! .unwrap();
//! ```
//!
//! Go: package `net/http` (the server half).

mod conn;
mod context;
mod rt;
mod server;
mod service;

pub use rt::{Executor, Timer};
pub use server::{serve, Server};
pub use service::HttpService;
