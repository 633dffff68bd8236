//! `context::Error`: why a context is done (Go: `context.Canceled`,
//! `context.DeadlineExceeded`), and [`Cause`], the error a cancellation
//! carries (Go: `context.Cause`).

use std::fmt;
use std::sync::Arc;

/// Why a context is done, as [`Context::err`](super::Context::err) reports
/// it: Go's two sentinel errors, with Go's texts.
///
/// ```
/// use goro_sync::context::Error;
/// assert_eq!(Error::Canceled.to_string(), "context canceled");
/// assert_eq!(Error::DeadlineExceeded.to_string(), "context deadline exceeded");
/// assert!(Error::DeadlineExceeded.is_timeout());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Error {
    /// The context was cancelled (Go: `context.Canceled`).
    Canceled,
    /// The context's deadline passed (Go: `context.DeadlineExceeded`).
    DeadlineExceeded,
}

impl Error {
    /// True for [`Error::DeadlineExceeded`] (Go's `Timeout() bool` on it).
    ///
    /// ```
    /// assert!(!goro_sync::context::Error::Canceled.is_timeout());
    /// ```
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::DeadlineExceeded)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Error::Canceled => "context canceled",
            Error::DeadlineExceeded => "context deadline exceeded",
        })
    }
}

impl std::error::Error for Error {}

/// The error a cancellation carries: what [`cause`](super::cause) returns.
/// When a context is cancelled without a cause, its cause is its
/// [`Error`] (Go: `Cause(ctx) == ctx.Err()`).
///
/// ```
/// use std::sync::Arc;
/// let c: goro_sync::context::Cause = Arc::new(goro_sync::context::Error::Canceled);
/// assert_eq!(c.to_string(), "context canceled");
/// ```
pub type Cause = Arc<dyn std::error::Error + Send + Sync>;
