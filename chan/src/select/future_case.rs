//! Future cases of a `select`: any future, ready when it completes (an
//! extension of Go, where timers and `ctx.Done()` are channels).
//!
//! # Design
//!
//! The future is polled in place inside the case, which the select borrows
//! for its whole life; when the select finishes (or is dropped) an un-chosen
//! future is dropped in place, before the case can be moved again. A future
//! case commits only if it completes while no channel case has won the
//! select's cell (see the engine's re-poll protocol), so exactly one case
//! commits.

use std::fmt;
use std::future::Future;
use std::marker::PhantomPinned;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::case::{sealed, CaseKind, CaseOutput, SelectCase};

enum State<F: Future> {
    Pending(F),
    Ready(F::Output),
    Gone,
}

/// A future case; output `F::Output`.
///
/// ```
/// use goro_chan::select::{select, CaseOutput, SelectCase};
/// let mut c = goro_chan::select::into_case!(async { 40 + 2 });
/// // SAFETY: the future is run to completion here, never leaked.
/// let i = futures::executor::block_on(unsafe { select(&mut [&mut c as &mut dyn SelectCase], false) });
/// assert_eq!((i, c.take_output()), (Some(0), 42));
/// ```
pub struct FutureCase<F: Future> {
    state: State<F>,
    _pin: PhantomPinned,
}

impl<F: Future> FutureCase<F> {
    pub(crate) fn new(f: F) -> Self {
        FutureCase {
            state: State::Pending(f),
            _pin: PhantomPinned,
        }
    }
}

impl<F> sealed::Sealed for FutureCase<F>
where
    F: Future + Send,
    F::Output: Send,
{
}

impl<F> SelectCase for FutureCase<F>
where
    F: Future + Send,
    F::Output: Send,
{
    fn __kind(&self) -> CaseKind {
        CaseKind::Future
    }

    unsafe fn __try_ready(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        // SAFETY: forwarded (the caller's contract is `__poll_future`'s).
        unsafe { self.__poll_future(cx) }
    }

    unsafe fn __poll_future(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let State::Pending(f) = &mut self.state else {
            return match self.state {
                State::Ready(_) => Poll::Ready(()),
                _ => Poll::Pending,
            };
        };
        // SAFETY: by the caller's contract the case is not moved before the
        // future is dropped in place (below, by `__release`, or with the
        // case), so it is never moved after being polled.
        match unsafe { Pin::new_unchecked(f) }.poll(cx) {
            Poll::Ready(out) => {
                self.state = State::Ready(out);
                Poll::Ready(())
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn __release(&mut self) {
        if matches!(self.state, State::Pending(_)) {
            self.state = State::Gone;
        }
    }
}

impl<F: Future> CaseOutput for FutureCase<F> {
    type Output = F::Output;

    fn take_output(&mut self) -> F::Output {
        match std::mem::replace(&mut self.state, State::Gone) {
            State::Ready(out) => out,
            _ => panic!("take_output on a future case that did not complete"),
        }
    }
}

impl<F: Future> fmt::Debug for FutureCase<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self.state {
            State::Pending(_) => "pending",
            State::Ready(_) => "ready",
            State::Gone => "gone",
        };
        f.debug_tuple("FutureCase").field(&s).finish()
    }
}
