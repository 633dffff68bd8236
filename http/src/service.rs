//! The per-request wrapper around the user's tower `Service`: Go's
//! `serverHandler.ServeHTTP` plus the `recover` in `conn.serve`.
//!
//! For each request it
//! - gives the request its context (an extension; see [`crate::context`]),
//!   cancelled when the response is finished or abandoned: hyper drops the
//!   handler's future or the response body when the client goes away
//!   (connection closed, HTTP/2 stream reset), which cancels it, as Go's
//!   `r.Context()` is cancelled;
//! - catches a panic in the handler (or in its response body), logs it as
//!   Go does ("http: panic serving ADDR: MSG") and turns it into an error,
//!   so hyper closes that connection (HTTP/1) or resets that stream
//!   (HTTP/2), and every other connection goes on;
//! - keeps the connection's timeout clocks (`conn::ConnState`).

use std::error::Error as StdError;
use std::future::Future;
use std::net::SocketAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;

use crate::conn::ConnState;
use crate::context::RequestScope;

/// The error type of the wrapped service and body.
pub(crate) type BoxError = Box<dyn StdError + Send + Sync>;

/// Where a server's panics and errors are written. Go: `Server.ErrorLog`.
pub(crate) type ErrorLog = Arc<dyn Fn(&str) + Send + Sync>;

/// The panic message, as Go prints a panic value.
pub(crate) fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "(non-string panic value)".to_owned()
    }
}

/// A handler panicked: the error hyper sees.
#[derive(Debug)]
struct HandlerPanic;

impl std::fmt::Display for HandlerPanic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("http: handler panicked")
    }
}

impl StdError for HandlerPanic {}

/// One connection's view of the user's service.
pub(crate) struct ConnService<S> {
    pub(crate) inner: S,
    pub(crate) conn: Arc<ConnState>,
    pub(crate) peer: SocketAddr,
    pub(crate) log: ErrorLog,
    pub(crate) scope: crate::context::ServerScope,
}

/// Ends the request in the connection's bookkeeping and cancels its
/// context, when the response is finished or abandoned.
struct RequestGuard {
    conn: Arc<ConnState>,
    _scope: RequestScope,
}

impl Drop for RequestGuard {
    fn drop(&mut self) {
        self.conn.request_finished();
    }
}

/// The services [`serve`](crate::serve) accepts: any cloneable tower
/// `Service` of hyper requests whose future and response body can move
/// between goroutines (an axum `Router`, a `tower::ServiceBuilder` stack, a
/// hand-written service). Implemented for every such type; not to be
/// implemented by hand.
///
/// ```
/// fn accepts(_: impl goro_http::HttpService) {}
/// accepts(axum::Router::new());
/// ```
pub trait HttpService:
    tower_service::Service<
        Request<Incoming>,
        Response = Response<Self::ResBody>,
        Error: Into<BoxError>,
        Future: Send + 'static,
    > + Clone
    + Send
    + 'static
{
    /// The response body type.
    type ResBody: Body<Data: Send, Error: Into<BoxError>> + Send + 'static;
}

impl<S, B> HttpService for S
where
    S: tower_service::Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    type ResBody = B;
}

impl<S: HttpService> hyper::service::Service<Request<Incoming>> for ConnService<S> {
    type Response = Response<ResponseBody<S::ResBody>>;
    type Error = BoxError;
    type Future = HandlerFuture<S>;

    fn call(&self, mut req: Request<Incoming>) -> Self::Future {
        self.conn.request_started();
        let scope = self.scope.request(&mut req);
        let guard = RequestGuard {
            conn: self.conn.clone(),
            _scope: scope,
        };
        HandlerFuture {
            stage: Stage::Ready {
                svc: self.inner.clone(),
                req: Some(req),
            },
            guard: Some(guard),
            peer: self.peer,
            log: self.log.clone(),
        }
    }
}

pin_project_lite::pin_project! {
    /// One request's handling: the user's service made ready and called
    /// (`poll_ready`, then `call`), then its future, every step under the
    /// panic catch. Named, not boxed: hyper keeps it in the connection's
    /// in-flight slot, so a request costs no allocation of its own here.
    pub(crate) struct HandlerFuture<S: HttpService> {
        #[pin]
        stage: Stage<S>,
        guard: Option<RequestGuard>,
        peer: SocketAddr,
        log: ErrorLog,
    }
}

pin_project_lite::pin_project! {
    #[project = StageProj]
    enum Stage<S: HttpService> {
        /// Waiting for the service to be ready; `req` is taken by `call`.
        Ready { svc: S, req: Option<Request<Incoming>> },
        /// The service's future for this request.
        Calling { #[pin] fut: S::Future },
        /// Finished: never polled again (after a panic the stage is left as
        /// it was; hyper drops the future after the error).
        Done,
    }
}

impl<S: HttpService> Future for HandlerFuture<S> {
    type Output = Result<Response<ResponseBody<S::ResBody>>, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let polled = catch_unwind(AssertUnwindSafe(|| loop {
            match this.stage.as_mut().project() {
                StageProj::Ready { svc, req } => {
                    match svc.poll_ready(cx) {
                        Poll::Pending => return Poll::Pending,
                        Poll::Ready(Err(e)) => return Poll::Ready(Err(e.into())),
                        Poll::Ready(Ok(())) => {}
                    }
                    let req = req.take().expect("a ready stage holds its request");
                    let fut = svc.call(req);
                    this.stage.set(Stage::Calling { fut });
                }
                StageProj::Calling { fut } => {
                    let Poll::Ready(r) = fut.poll(cx) else {
                        return Poll::Pending;
                    };
                    // The service's future is dropped here, under the catch.
                    this.stage.set(Stage::Done);
                    return Poll::Ready(r.map_err(Into::into));
                }
                StageProj::Done => panic!("goro-http: request future polled after it finished"),
            }
        }));
        match polled {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(r)) => Poll::Ready(r.map(|resp| {
                resp.map(|body| ResponseBody {
                    inner: body,
                    guard: this.guard.take(),
                    peer: *this.peer,
                    log: this.log.clone(),
                })
            })),
            Err(p) => {
                (this.log)(&format!(
                    "http: panic serving {}: {}",
                    this.peer,
                    panic_message(&*p)
                ));
                Poll::Ready(Err(HandlerPanic.into()))
            }
        }
    }
}

pin_project_lite::pin_project! {
    /// The user's response body, with the request's guard (the request
    /// ends when the body does) and the panic catch.
    pub(crate) struct ResponseBody<B> {
        #[pin]
        inner: B,
        guard: Option<RequestGuard>,
        peer: SocketAddr,
        log: ErrorLog,
    }
}

impl<B> Body for ResponseBody<B>
where
    B: Body,
    B::Error: Into<BoxError>,
{
    type Data = B::Data;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, BoxError>>> {
        let this = self.project();
        let inner = this.inner;
        match catch_unwind(AssertUnwindSafe(|| inner.poll_frame(cx))) {
            Ok(Poll::Ready(None)) => {
                // The response is complete: end the request now, not when
                // hyper gets round to dropping the body.
                this.guard.take();
                Poll::Ready(None)
            }
            Ok(Poll::Ready(Some(r))) => Poll::Ready(Some(r.map_err(Into::into))),
            Ok(Poll::Pending) => Poll::Pending,
            Err(p) => {
                (this.log)(&format!(
                    "http: panic serving {}: {}",
                    this.peer,
                    panic_message(&*p)
                ));
                this.guard.take();
                Poll::Ready(Some(Err(HandlerPanic.into())))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
