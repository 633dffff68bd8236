//! The request's context (Go: `Request.Context()`).
//!
//! Each request gets a `goro::context::Context`, put into its extensions
//! (axum: `Extension<Context>`; anything else: [`request_context`]). It
//! carries the values of the server's context (the one given to
//! [`Server::serve_with_context`](crate::Server::serve_with_context)) but not
//! its cancellation: shutting the server down lets in-flight requests finish,
//! as Go's `Shutdown` does. It is cancelled when the request is over: its
//! response finished, or abandoned because the client went away (hyper drops
//! the handler's future or the response body when the connection closes or
//! an HTTP/2 stream is reset), as Go cancels `r.Context()`.

use goro_sync::context::{self, CancelFunc, Context};
use http::Request;

/// The server's side: makes each request's context.
#[derive(Clone, Debug)]
pub(crate) struct ServerScope {
    /// The server context's values, without its cancellation.
    base: Context,
}

/// Held until the request's response is finished or abandoned; dropping it
/// cancels the request's context (a `CancelFunc` cancels when dropped).
#[derive(Debug)]
pub(crate) struct RequestScope {
    _cancel: CancelFunc,
}

impl ServerScope {
    /// Requests' contexts derive from `server`'s values.
    pub(crate) fn new(server: &Context) -> ServerScope {
        ServerScope {
            base: context::without_cancel(server),
        }
    }

    /// The context of a new request, put into its extensions.
    pub(crate) fn request<B>(&self, req: &mut Request<B>) -> RequestScope {
        let (ctx, cancel) = context::with_cancel(&self.base);
        req.extensions_mut().insert(ctx);
        RequestScope { _cancel: cancel }
    }
}

/// The request's context (Go: `r.Context()`): cancelled when the client goes
/// away or the response is done. Requests that did not come through
/// [`serve`](crate::serve) get `context::background()`.
///
/// ```
/// let req = http::Request::new(());
/// assert!(goro_http::request_context(&req).err().is_none());
/// ```
pub fn request_context<B>(req: &Request<B>) -> Context {
    req.extensions()
        .get::<Context>()
        .cloned()
        .unwrap_or_else(context::background)
}
