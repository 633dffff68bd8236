//! `Sender<T>`: the send-only view of a channel (Go: `chan<- T`).

use std::panic::Location;

use crate::chan::Chan;
use crate::error::TrySendError;
use crate::send::Send;

/// A send-only channel handle (Go: `chan<- T`), from [`Chan::sender`].
/// Clone + Send + Sync; equality is channel identity.
///
/// ```
/// let ch = goro_chan::make::<i32>(1);
/// let tx: goro_chan::Sender<i32> = ch.sender();
/// tx.send_blocking(1);
/// assert_eq!(ch.recv_blocking(), Some(1));
/// ```
pub struct Sender<T> {
    chan: Chan<T>,
}

impl<T> Sender<T> {
    pub(crate) fn from_chan(chan: Chan<T>) -> Self {
        Sender { chan }
    }

    /// The nil send-only channel.
    ///
    /// ```
    /// assert!(goro_chan::Sender::<i32>::nil().try_send(1).is_err());
    /// ```
    pub fn nil() -> Self {
        Sender { chan: Chan::nil() }
    }

    /// See [`Chan::send`].
    ///
    /// ```
    /// let ch = goro_chan::make::<i32>(1);
    /// futures::executor::block_on(ch.sender().send(2));
    /// assert_eq!(ch.try_recv(), Ok(2));
    /// ```
    #[track_caller]
    pub fn send(&self, v: T) -> Send<'_, T> {
        Send::new(&self.chan, v, Location::caller())
    }

    /// See [`Chan::try_send`].
    ///
    /// ```
    /// let ch = goro_chan::make::<i32>(0);
    /// assert!(ch.sender().try_send(2).unwrap_err().is_full());
    /// ```
    pub fn try_send(&self, v: T) -> Result<(), TrySendError<T>> {
        self.chan.try_send(v)
    }

    /// See [`Chan::send_blocking`].
    ///
    /// ```
    /// let ch = goro_chan::make::<i32>(1);
    /// ch.sender().send_blocking(2);
    /// assert_eq!(ch.len(), 1);
    /// ```
    #[track_caller]
    pub fn send_blocking(&self, v: T) {
        crate::blocking::block_on(self.send(v))
    }

    /// See [`Chan::close`].
    ///
    /// ```
    /// let ch = goro_chan::make::<i32>(1);
    /// ch.sender().close();
    /// assert_eq!(ch.recv_blocking(), None);
    /// ```
    #[track_caller]
    pub fn close(&self) {
        self.chan.close()
    }

    /// See [`Chan::len`].
    ///
    /// ```
    /// assert_eq!(goro_chan::make::<i32>(1).sender().len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.chan.len()
    }

    /// See [`Chan::is_empty`].
    ///
    /// ```
    /// assert!(goro_chan::make::<i32>(1).sender().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.chan.is_empty()
    }

    /// See [`Chan::cap`].
    ///
    /// ```
    /// assert_eq!(goro_chan::make::<i32>(1).sender().cap(), 1);
    /// ```
    pub fn cap(&self) -> usize {
        self.chan.cap()
    }
}

impl<T> From<Chan<T>> for Sender<T> {
    fn from(chan: Chan<T>) -> Self {
        Sender { chan }
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        Sender {
            chan: self.chan.clone(),
        }
    }
}

crate::chan::view_identity_traits!(Sender);
