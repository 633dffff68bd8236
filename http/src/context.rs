//! The request's context (Go: `Request.Context()`).
//!
//! Interim: `goro::context` is not in the workspace yet, so a request has
//! no context value; the scope below only marks where it is created (per
//! request) and cancelled (dropped with the request's guard).

use http::Request;

/// The server's side: makes each request's context.
#[derive(Clone, Debug, Default)]
pub(crate) struct ServerScope;

/// Held until the request's response is finished or abandoned.
#[derive(Debug)]
pub(crate) struct RequestScope;

impl ServerScope {
    /// The context of a new request, put into its extensions.
    pub(crate) fn request<B>(&self, _req: &mut Request<B>) -> RequestScope {
        RequestScope
    }
}
