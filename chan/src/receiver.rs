//! `Receiver<T>`: the receive-only view of a channel (Go: `<-chan T`), also a
//! [`Stream`].
//!
//! # Design
//!
//! `Stream::poll_next` needs a waiter that survives between polls, but a
//! `Receiver` is `Unpin`; so each `Receiver` allocates one pinned [`Op`] the
//! first time it is polled as a stream and reuses it for every item after.
//! A clone starts without one.
//!
//! A `Stream` is never told that the `next()` future which polled it was
//! dropped (the losing branch of a `select!`, a timeout), so the stream's
//! waiter is *wake-only* (the channel's `watchq`): counterparts wake it but
//! never hand it a value, and `poll_next` takes values itself, under the
//! lock. As in Go, a value is only taken by an active receive: a dropped
//! `next()` takes nothing, values stay in FIFO order for every receiver, and
//! an unbuffered send does not complete without a receiver taking the value.
//! The price: a parked stream is not a receiver a sender can hand off to, so
//! `try_send` on an unbuffered channel whose only receiver is a parked
//! stream fails (`Full`); a blocking `send` parks, wakes the stream, and
//! completes when the stream's next poll takes the value.

use std::panic::Location;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;
use goro_hook::{self as hook, WaitReason};

use crate::chan::Chan;
use crate::error::TryRecvError;
use crate::op::{Op, Site};
use crate::recv::Recv;

/// A receive-only channel handle (Go: `<-chan T`), from [`Chan::receiver`].
/// Clone + Send + Sync; equality is channel identity. As a [`Stream`] it
/// yields values until the channel is closed and drained.
///
/// The stream takes a value only inside `poll_next`: while it is parked it is
/// woken by senders but never handed a value, so a `next()` that is dropped
/// (the losing branch of a `select!`, a timeout) takes nothing and the values
/// stay in order for every receiver. Hence a parked stream is not a receiver
/// that a `try_send` on an unbuffered channel can complete with (that gives
/// `Full`); a blocking `send` parks and the stream's next poll takes it.
///
/// ```
/// use futures::StreamExt;
/// let ch = goro_chan::make::<i32>(3);
/// for i in 0..3 { ch.try_send(i).unwrap(); }
/// ch.close();
/// let all: Vec<i32> = futures::executor::block_on(ch.receiver().collect());
/// assert_eq!(all, [0, 1, 2]);
/// ```
pub struct Receiver<T> {
    chan: Chan<T>,
    /// Where this view was made: the call site noted when its stream parks.
    at: &'static Location<'static>,
    /// The stream's waiter, allocated on first use.
    op: Option<Pin<Box<Op<T>>>>,
}

impl<T> Receiver<T> {
    pub(crate) fn from_chan(chan: Chan<T>, at: &'static Location<'static>) -> Self {
        Receiver { chan, at, op: None }
    }

    pub(crate) fn chan(&self) -> &Chan<T> {
        &self.chan
    }

    /// The nil receive-only channel (e.g. a context that is never done).
    ///
    /// ```
    /// use goro_chan::TryRecvError;
    /// assert_eq!(goro_chan::Receiver::<i32>::nil().try_recv(), Err(TryRecvError::Empty));
    /// ```
    #[track_caller]
    pub fn nil() -> Self {
        Receiver::from_chan(Chan::nil(), Location::caller())
    }

    /// See [`Chan::recv`].
    ///
    /// ```
    /// let ch = goro_chan::make::<i32>(1);
    /// ch.try_send(9).unwrap();
    /// assert_eq!(futures::executor::block_on(ch.receiver().recv()), Some(9));
    /// ```
    #[track_caller]
    pub fn recv(&self) -> Recv<'_, T> {
        Recv::new(&self.chan, Location::caller())
    }

    /// See [`Chan::try_recv`].
    ///
    /// ```
    /// let ch = goro_chan::make::<i32>(1);
    /// assert!(ch.receiver().try_recv().is_err());
    /// ```
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        self.chan.try_recv()
    }

    /// See [`Chan::recv_blocking`].
    ///
    /// ```
    /// let ch = goro_chan::make::<i32>(1);
    /// ch.try_send(9).unwrap();
    /// assert_eq!(ch.receiver().recv_blocking(), Some(9));
    /// ```
    #[track_caller]
    pub fn recv_blocking(&self) -> Option<T> {
        crate::blocking::block_on(self.recv())
    }

    /// See [`Chan::len`].
    ///
    /// ```
    /// assert_eq!(goro_chan::make::<i32>(1).receiver().len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.chan.len()
    }

    /// See [`Chan::is_empty`].
    ///
    /// ```
    /// assert!(goro_chan::make::<i32>(1).receiver().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.chan.is_empty()
    }

    /// See [`Chan::cap`].
    ///
    /// ```
    /// assert_eq!(goro_chan::make::<i32>(2).receiver().cap(), 2);
    /// ```
    pub fn cap(&self) -> usize {
        self.chan.cap()
    }
}

impl<T> Stream for Receiver<T> {
    type Item = T;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let this = self.get_mut();
        let Some(h) = this.chan.hchan() else {
            hook::note_park(WaitReason::ChanReceiveNilChan, this.at, None);
            return Poll::Pending;
        };
        let op = this.op.get_or_insert_with(|| Box::pin(Op::new(None)));
        let site = Site {
            at: this.at,
            handle: std::ptr::from_ref(&this.chan) as usize,
        };
        op.as_mut().poll_watch(h, cx, site)
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        if let (Some(op), Some(h)) = (self.op.as_mut(), self.chan.hchan()) {
            op.as_mut().cancel_watch(h);
        }
    }
}

impl<T> From<Chan<T>> for Receiver<T> {
    #[track_caller]
    fn from(chan: Chan<T>) -> Self {
        Receiver::from_chan(chan, Location::caller())
    }
}

impl<T> Clone for Receiver<T> {
    fn clone(&self) -> Self {
        Receiver::from_chan(self.chan.clone(), self.at)
    }
}

crate::chan::view_identity_traits!(Receiver);
