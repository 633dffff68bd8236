//! Errors of the non-blocking operations `try_send` and `try_recv`.
//!
//! Go: the `default` branch of a one-case `select` (`selectnbsend`,
//! `selectnbrecv`).

use std::error::Error;
use std::fmt;

/// Why [`try_send`](crate::Chan::try_send) did not send; the value comes back.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum TrySendError<T> {
    /// No receiver is waiting and the buffer is full (always, on a nil channel).
    Full(T),
    /// The channel is closed (Go would panic; `try_send` never does).
    Closed(T),
}

impl<T> TrySendError<T> {
    /// The value that was not sent.
    ///
    /// ```
    /// let ch = goro_chan::make::<i32>(0);
    /// assert_eq!(ch.try_send(7).unwrap_err().into_inner(), 7);
    /// ```
    pub fn into_inner(self) -> T {
        match self {
            TrySendError::Full(v) | TrySendError::Closed(v) => v,
        }
    }

    /// True for [`TrySendError::Full`].
    ///
    /// ```
    /// let ch = goro_chan::make::<i32>(0);
    /// assert!(ch.try_send(1).unwrap_err().is_full());
    /// ```
    pub fn is_full(&self) -> bool {
        matches!(self, TrySendError::Full(_))
    }

    /// True for [`TrySendError::Closed`].
    ///
    /// ```
    /// let ch = goro_chan::make::<i32>(1);
    /// ch.close();
    /// assert!(ch.try_send(1).unwrap_err().is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        matches!(self, TrySendError::Closed(_))
    }
}

impl<T> fmt::Debug for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(_) => f.write_str("Full(..)"),
            TrySendError::Closed(_) => f.write_str("Closed(..)"),
        }
    }
}

impl<T> fmt::Display for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(_) => f.write_str("sending on a full channel"),
            TrySendError::Closed(_) => f.write_str("send on closed channel"),
        }
    }
}

impl<T> Error for TrySendError<T> {}

/// Why [`try_recv`](crate::Chan::try_recv) did not receive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TryRecvError {
    /// Nothing to receive now (always, on a nil channel).
    Empty,
    /// The channel is closed and drained (Go's `v, ok := <-ch` with `ok == false`).
    Closed,
}

impl fmt::Display for TryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryRecvError::Empty => f.write_str("receiving on an empty channel"),
            TryRecvError::Closed => f.write_str("receiving on a closed channel"),
        }
    }
}

impl Error for TryRecvError {}
