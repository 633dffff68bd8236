//! The `Recv` future: `ch.recv().await`.
//!
//! Go: `chanrecv` (`v, ok := <-ch`).

use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::task::{Context, Poll};

use goro_hook::WaitReason;

use crate::chan::Chan;
use crate::hchan::Dir;
use crate::op::{nil_park, LazyOp, Outcome, Site};

/// Future of [`Chan::recv`](crate::Chan::recv): `Some(v)` for a value, `None`
/// once the channel is closed and drained.
///
/// On a nil channel it never completes. Cancel-safe: dropping it never loses a
/// value (see [`Chan::recv`](crate::Chan::recv)).
///
/// ```
/// let ch = goro_chan::make::<u8>(1);
/// ch.try_send(5).unwrap();
/// assert_eq!(futures::executor::block_on(ch.recv()), Some(5));
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct Recv<'a, T> {
    /// The handle received through (`inner` None: the nil channel). Its
    /// address is noted when the receive parks (`op::Site`).
    pub(crate) handle: &'a Chan<T>,
    /// The user's call site.
    pub(crate) at: &'static Location<'static>,
    /// `Init(None)` until the first poll finds it must wait (`src/op.rs`).
    pub(crate) op: LazyOp<T>,
}

impl<'a, T> Recv<'a, T> {
    #[inline]
    /// A receive through `handle` (whose use is noted here: off a
    /// goroutine the thread becomes a possible waker).
    pub(crate) fn new(handle: &'a Chan<T>, at: &'static Location<'static>) -> Self {
        handle.hchan();
        Recv {
            handle,
            at,
            op: LazyOp::Init(None),
        }
    }

    /// Splits an unpolled future into its channel (for `select`).
    #[inline]
    pub(crate) fn into_parts(self) -> (&'a Chan<T>, &'static Location<'static>) {
        assert!(
            !self.op.is_waiting(),
            "a polled `Recv` cannot become a select case"
        );
        (self.handle, self.at)
    }
}

impl<T> Future for Recv<'_, T> {
    type Output = Option<T>;

    // Always inlined, with the ring's fast path in it (`LazyOp::poll_op`):
    // a buffered operation that need not wait makes no call.
    #[inline(always)]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        // SAFETY: `op` is structurally pinned; the other fields are not moved.
        let this = unsafe { self.get_unchecked_mut() };
        match this.handle.inner.as_deref() {
            None => nil_park(WaitReason::ChanReceiveNilChan, this.at),
            // SAFETY: `op` is structurally pinned (never moved out of a pinned `Recv`).
            Some(chan) => match unsafe { Pin::new_unchecked(&mut this.op) }.poll_op(
                chan,
                cx,
                Dir::Recv,
                Site {
                    at: this.at,
                    handle: std::ptr::from_ref(this.handle) as usize,
                },
            ) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(Outcome::Received(v)) => Poll::Ready(Some(v)),
                Poll::Ready(Outcome::Closed) => Poll::Ready(None),
                Poll::Ready(Outcome::Sent) => unreachable!("a receive sent"),
            },
        }
    }
}

impl<T> Drop for Recv<'_, T> {
    fn drop(&mut self) {
        if let Some(chan) = self.handle.inner.as_deref() {
            // SAFETY: `drop` runs on the pinned location (or an unpinned,
            // hence never-queued, future); `op` is structurally pinned.
            unsafe { Pin::new_unchecked(&mut self.op) }.cancel(chan, Dir::Recv);
        }
    }
}

impl<T> fmt::Debug for Recv<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Recv")
            .field("nil", &self.handle.is_nil())
            .field("waiting", &self.op.is_waiting())
            .finish()
    }
}
