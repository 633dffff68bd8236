//! The `Send` future: `ch.send(v).await`.
//!
//! Go: `chansend` (`ch <- v`).

use core::marker::Send as SendMarker;
use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::task::{Context, Poll};

use goro_hook::WaitReason;

use crate::chan::Chan;
use crate::hchan::Dir;
use crate::op::{nil_park, LazyOp, Outcome, Site};

/// Future of [`Chan::send`](crate::Chan::send): completes when the value was
/// taken by a receiver or buffered.
///
/// Panics with "send on closed channel" when the channel is (or gets) closed.
/// On a nil channel it never completes. Cancel-safe: dropped before a receiver
/// took the value, it sent nothing (the value is dropped with it).
///
/// ```
/// let ch = goro_chan::make::<u8>(1);
/// futures::executor::block_on(ch.send(1));
/// assert_eq!(ch.try_recv(), Ok(1));
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct Send<'a, T> {
    /// The handle sent through (`inner` None: the nil channel). Its address
    /// is noted when the send parks (`op::Site`).
    pub(crate) handle: &'a Chan<T>,
    /// The user's call site.
    pub(crate) at: &'static Location<'static>,
    /// `Init(Some(v))` until the first poll finds it must wait (`src/op.rs`).
    pub(crate) op: LazyOp<T>,
}

// The future is `Send` when `T: Send` through its fields (`LazyOp` is).
const _: fn() = || {
    fn assert_send<X: SendMarker>() {}
    assert_send::<Send<'static, u32>>();
};

impl<'a, T> Send<'a, T> {
    /// A send of `v` through `handle` (whose use is noted here: off a
    /// goroutine the thread becomes a possible waker).
    #[inline]
    pub(crate) fn new(handle: &'a Chan<T>, v: T, at: &'static Location<'static>) -> Self {
        handle.hchan();
        Send {
            handle,
            at,
            op: LazyOp::Init(Some(v)),
        }
    }

    /// Splits an unpolled future into its channel and value (for `select`).
    #[inline]
    pub(crate) fn into_parts(self) -> (&'a Chan<T>, &'static Location<'static>, T) {
        let this = std::mem::ManuallyDrop::new(self);
        // SAFETY: `this` is never used or dropped again; each field is read once.
        let (chan, at, op) = unsafe {
            (
                this.handle,
                std::ptr::read(&this.at),
                std::ptr::read(&this.op),
            )
        };
        assert!(
            !op.is_waiting(),
            "a polled `Send` cannot become a select case"
        );
        match op.into_value() {
            Some(v) => (chan, at, v),
            None => panic!("a completed `Send` cannot become a select case"),
        }
    }
}

impl<T> Future for Send<'_, T> {
    type Output = ();

    // Always inlined, with the ring's fast path in it (`LazyOp::poll_op`):
    // a buffered operation that need not wait makes no call.
    #[inline(always)]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // SAFETY: `op` is structurally pinned; the other fields are not moved.
        let this = unsafe { self.get_unchecked_mut() };
        match this.handle.inner.as_deref() {
            None => nil_park(WaitReason::ChanSendNilChan, this.at),
            // SAFETY: `op` is structurally pinned (never moved out of a pinned `Send`).
            Some(chan) => match unsafe { Pin::new_unchecked(&mut this.op) }.poll_op(
                chan,
                cx,
                Dir::Send,
                Site {
                    at: this.at,
                    handle: std::ptr::from_ref(this.handle) as usize,
                },
            ) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(Outcome::Sent) => Poll::Ready(()),
                Poll::Ready(Outcome::Closed) => panic!("send on closed channel"),
                Poll::Ready(Outcome::Received(_)) => unreachable!("a send received"),
            },
        }
    }
}

impl<T> Drop for Send<'_, T> {
    fn drop(&mut self) {
        if let Some(chan) = self.handle.inner.as_deref() {
            // SAFETY: `drop` runs on the pinned location (or an unpinned,
            // hence never-queued, future); `op` is structurally pinned.
            unsafe { Pin::new_unchecked(&mut self.op) }.cancel(chan, Dir::Send);
        }
    }
}

impl<T> fmt::Debug for Send<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Send")
            .field("nil", &self.handle.is_nil())
            .field("waiting", &self.op.is_waiting())
            .finish()
    }
}
