//! goro-http: hyper and tower on goro, and Go's `net/http` server.
//!
//! - [`serve`] and [`Server`]: Go's `http.Serve` and `http.Server`. One
//!   goroutine per connection, HTTP/1.1 and HTTP/2 (hyper-util's auto
//!   builder), any tower `Service` (an axum `Router`, a `tower::ServiceBuilder`
//!   stack), a panicking handler logged and survived, Go's read-header,
//!   idle and write timeouts on by default, graceful shutdown driven by a
//!   `goro::context::Context` ([`Server::serve_with_context`]).
//! - [`request_context`]: each request's `Context` (also in its extensions,
//!   for axum's `Extension<Context>`), cancelled when the client goes away
//!   or the response is done, as Go's `r.Context()`.
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

pub use context::request_context;
pub use rt::{Executor, Timer};
pub use server::{serve, Server};
pub use service::HttpService;

#[cfg(test)]
mod auto_traits {
    //! Send/Sync of the public types and futures, checked at compile time.

    use super::*;

    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>(_: &T) {}

    #[test]
    fn public_types_have_the_expected_auto_traits() {
        send_sync::<Server>();
        send_sync::<Executor>();
        send_sync::<Timer>();
    }

    /// `serve`'s future can be a goroutine (`go!` needs `Send`).
    #[allow(dead_code)]
    fn serve_futures_are_send(l: goro_runtime::net::TcpListener, s: Hello) {
        send(&serve(l, s));
    }

    /// A minimal service for the check above.
    #[derive(Clone)]
    struct Hello;

    impl tower_service::Service<http::Request<hyper::body::Incoming>> for Hello {
        type Response = http::Response<String>;
        type Error = std::convert::Infallible;
        type Future = std::future::Ready<Result<Self::Response, Self::Error>>;

        fn poll_ready(
            &mut self,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Result<(), Self::Error>> {
            std::task::Poll::Ready(Ok(()))
        }

        fn call(&mut self, _: http::Request<hyper::body::Incoming>) -> Self::Future {
            std::future::ready(Ok(http::Response::new(String::new())))
        }
    }
}
