//! Catching a panic out of a future, so a group can report it to its other
//! callers (errgroup, singleflight) instead of losing it.

use std::any::Any;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll};

/// A panic payload.
pub(crate) type Payload = Box<dyn Any + Send>;

/// Polls the inner future under `catch_unwind`: `Err(payload)` if a poll
/// panicked. The future is not polled again after that (it is dropped with
/// the wrapper).
pub(crate) struct CatchUnwind<F>(pub(crate) F);

impl<F: Future> Future for CatchUnwind<F> {
    type Output = Result<F::Output, Payload>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: structural pinning of the only field; it is never moved
        // out of the pinned wrapper.
        let fut = unsafe { self.map_unchecked_mut(|s| &mut s.0) };
        // AssertUnwindSafe: after a panic the future is never polled again,
        // so no broken invariant of it can be observed.
        match catch_unwind(AssertUnwindSafe(|| fut.poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
            Err(payload) => Poll::Ready(Err(payload)),
        }
    }
}

/// The text of a panic payload (a `&str` or `String` message, as `panic!`
/// makes), for reporting it to other callers.
pub(crate) fn message(payload: &Payload) -> String {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "Box<dyn Any>".to_string()
    }
}
