//! `Chan<T>`: the bidirectional channel handle, and `make`.
//!
//! Go: `chan T` and `make(chan T, cap)`.
//!
//! # Design
//!
//! A handle is an `Arc` of the shared [`Hchan`], or nothing for the nil
//! channel. Dropping handles never closes a channel (Go has no such notion):
//! when the last handle goes, buffered values are dropped with the state.

use std::fmt;
use std::panic::Location;

use goro_hook as hook;

use crate::blocking::block_on;
use crate::error::{TryRecvError, TrySendError};
use crate::hchan::Hchan;
use crate::loom::Arc;
use crate::recv::Recv;
use crate::send::Send;
use crate::{Receiver, Sender};

/// A channel handle (Go: `chan T`). Cloning gives another handle to the same
/// channel; equality is identity (all nil channels are equal).
///
/// ```
/// let ch = goro_chan::make::<&str>(1);
/// let ch2 = ch.clone();
/// ch.try_send("hi").unwrap();
/// assert_eq!(ch2.try_recv(), Ok("hi"));
/// assert_eq!(ch, ch2);
/// ```
pub struct Chan<T> {
    /// None: the nil channel.
    pub(crate) inner: Option<Arc<Hchan<T>>>,
}

/// Makes a channel with buffer capacity `cap` (0: unbuffered, a rendezvous).
/// Records the call site for goroutine dumps (Go: `make(chan T, cap)`).
///
/// ```
/// let ch = goro_chan::make::<i32>(2);
/// assert_eq!((ch.len(), ch.cap()), (0, 2));
/// ```
#[track_caller]
pub fn make<T>(cap: usize) -> Chan<T> {
    let h = Arc::new(Hchan::new(cap, Location::caller()));
    // SAFETY: `count_handles::<T>` reads the count of the `Arc` whose data
    // pointer it is given: `h`'s, alive as long as the record slot inside it.
    unsafe {
        h.record
            .bind(Arc::as_ptr(&h).cast::<()>(), count_handles::<T>)
    };
    Chan { inner: Some(h) }
}

/// The live handles of the channel whose `Arc` data pointer is `p` (the
/// `Arc`'s strong count: every handle and every owned select case).
///
/// # Safety
///
/// `p` is `Arc::as_ptr` of a live `Arc<Hchan<T>>` allocation (its count may
/// be zero, while the channel is being dropped).
#[cfg(not(goro_loom))]
unsafe fn count_handles<T>(p: *const ()) -> usize {
    // SAFETY: by the contract, `p` came from `Arc::as_ptr` and the
    // allocation is alive; `ManuallyDrop` leaves the count untouched.
    let arc = std::mem::ManuallyDrop::new(unsafe { Arc::from_raw(p.cast::<Hchan<T>>()) });
    Arc::strong_count(&arc)
}

/// Under loom: unknown (never lets a proof through).
#[cfg(goro_loom)]
unsafe fn count_handles<T>(_: *const ()) -> usize {
    usize::MAX
}

impl<T> Chan<T> {
    /// The nil channel: sends and receives block forever, `try_send` gives
    /// `Full`, `try_recv` gives `Empty`, `close` panics.
    ///
    /// ```
    /// let nil = goro_chan::Chan::<i32>::nil();
    /// assert!(nil.try_send(1).unwrap_err().is_full());
    /// assert_eq!(nil, goro_chan::Chan::nil());
    /// ```
    pub fn nil() -> Self {
        Chan { inner: None }
    }

    /// True for the nil channel.
    ///
    /// ```
    /// assert!(goro_chan::Chan::<()>::nil().is_nil());
    /// ```
    pub fn is_nil(&self) -> bool {
        self.inner.is_none()
    }

    /// The shared state. Every operation on a handle goes through here, so
    /// this is where the use is noted (`hook::note_primitive_use`: on a
    /// goroutine one thread-local load; off a goroutine the thread becomes a
    /// possible waker for the deadlock check). Which handle a goroutine
    /// parks through is noted only when it parks (`op::Site`), so a ready
    /// operation stores nothing for the "parked forever" proof.
    #[inline]
    pub(crate) fn hchan(&self) -> Option<&Hchan<T>> {
        hook::note_primitive_use();
        self.inner.as_deref()
    }

    /// Sends `v` (Go: `ch <- v`): completes once a receiver took it (unbuffered)
    /// or it was buffered. Panics "send on closed channel". Blocks forever on
    /// a nil channel. Cancel-safe: if the future is dropped before a receiver
    /// took the value, nothing was sent.
    ///
    /// ```
    /// let ch = goro_chan::make::<i32>(0);
    /// let rx = ch.clone();
    /// let t = std::thread::spawn(move || rx.recv_blocking());
    /// futures::executor::block_on(ch.send(3));
    /// assert_eq!(t.join().unwrap(), Some(3));
    /// ```
    #[track_caller]
    pub fn send(&self, v: T) -> Send<'_, T> {
        Send::new(self, v, Location::caller())
    }

    /// Receives (Go: `v, ok := <-ch`): `Some(v)`, or `None` once the channel is
    /// closed and its buffer drained. Blocks forever on a nil channel.
    /// Cancel-safe: a dropped `Recv` never loses a value; one handed to it at
    /// the very moment it was dropped goes to the next waiting receiver or back
    /// to the front of the buffer. Exception: if by then the channel was
    /// closed and some receive already reported it drained (`None`), the
    /// value is dropped with the `Recv` (the send completed before close, as
    /// in Go: a channel reported closed and drained never yields a value again).
    ///
    /// ```
    /// let ch = goro_chan::make::<i32>(1);
    /// ch.try_send(1).unwrap();
    /// ch.close();
    /// futures::executor::block_on(async {
    ///     assert_eq!(ch.recv().await, Some(1));
    ///     assert_eq!(ch.recv().await, None);
    /// });
    /// ```
    #[track_caller]
    pub fn recv(&self) -> Recv<'_, T> {
        Recv::new(self, Location::caller())
    }

    /// Sends without blocking (Go: `select { case ch <- v: default: }`).
    /// Never panics: a closed channel gives `Closed(v)`, a nil one `Full(v)`.
    /// Like Go, a send that certainly cannot proceed fails without taking
    /// the channel lock.
    ///
    /// ```
    /// use goro_chan::TrySendError;
    /// let ch = goro_chan::make::<i32>(1);
    /// assert_eq!(ch.try_send(1), Ok(()));
    /// assert_eq!(ch.try_send(2), Err(TrySendError::Full(2)));
    /// ```
    pub fn try_send(&self, v: T) -> Result<(), TrySendError<T>> {
        match self.hchan() {
            Some(h) => h.try_send(v),
            None => Err(TrySendError::Full(v)),
        }
    }

    /// Receives without blocking (Go: `select { case v, ok := <-ch: default: }`).
    /// Like Go, a receive on an open, empty channel fails without taking the
    /// channel lock (a closed one takes it, to record that a receive saw it
    /// closed and drained: see [`Chan::recv`] on cancellation).
    ///
    /// ```
    /// use goro_chan::TryRecvError;
    /// let ch = goro_chan::make::<i32>(1);
    /// assert_eq!(ch.try_recv(), Err(TryRecvError::Empty));
    /// ch.close();
    /// assert_eq!(ch.try_recv(), Err(TryRecvError::Closed));
    /// ```
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        match self.hchan() {
            Some(h) => h.try_recv(),
            None => Err(TryRecvError::Empty),
        }
    }

    /// [`send`](Chan::send) from a plain thread: parks the thread until done.
    ///
    /// ```
    /// let ch = goro_chan::make::<i32>(1);
    /// ch.send_blocking(4);
    /// assert_eq!(ch.recv_blocking(), Some(4));
    /// ```
    #[track_caller]
    pub fn send_blocking(&self, v: T) {
        block_on(self.send(v))
    }

    /// [`recv`](Chan::recv) from a plain thread: parks the thread until done.
    ///
    /// ```
    /// let ch = goro_chan::make::<i32>(0);
    /// ch.close();
    /// assert_eq!(ch.recv_blocking(), None);
    /// ```
    #[track_caller]
    pub fn recv_blocking(&self) -> Option<T> {
        block_on(self.recv())
    }

    /// Closes the channel (Go: `close(ch)`): blocked receivers get the rest of
    /// the buffer then `None`; blocked senders panic "send on closed channel".
    /// Panics "close of closed channel" or "close of nil channel".
    ///
    /// ```
    /// let ch = goro_chan::make::<i32>(0);
    /// ch.close();
    /// let again = std::panic::catch_unwind(|| ch.close()).unwrap_err();
    /// assert_eq!(again.downcast_ref::<&str>(), Some(&"close of closed channel"));
    /// ```
    #[track_caller]
    pub fn close(&self) {
        match self.hchan() {
            Some(h) => h.close(),
            None => panic!("close of nil channel"),
        }
    }

    /// Buffered values now (Go: `len(ch)`); still counts them after close.
    ///
    /// ```
    /// let ch = goro_chan::make::<i32>(3);
    /// ch.try_send(1).unwrap();
    /// ch.close();
    /// assert_eq!(ch.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.hchan().map_or(0, Hchan::len)
    }

    /// True when nothing is buffered.
    ///
    /// ```
    /// assert!(goro_chan::make::<i32>(1).is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Buffer capacity (Go: `cap(ch)`); 0 for unbuffered and nil channels.
    ///
    /// ```
    /// assert_eq!(goro_chan::make::<i32>(8).cap(), 8);
    /// ```
    pub fn cap(&self) -> usize {
        self.hchan().map_or(0, Hchan::cap)
    }

    /// A send-only view (Go: `chan<- T`).
    ///
    /// ```
    /// let ch = goro_chan::make::<i32>(1);
    /// ch.sender().try_send(1).unwrap();
    /// assert_eq!(ch.try_recv(), Ok(1));
    /// ```
    pub fn sender(&self) -> Sender<T> {
        Sender::from_chan(self.clone())
    }

    /// A receive-only view (Go: `<-chan T`).
    ///
    /// ```
    /// let ch = goro_chan::make::<i32>(1);
    /// ch.try_send(1).unwrap();
    /// assert_eq!(ch.receiver().try_recv(), Ok(1));
    /// ```
    #[track_caller]
    pub fn receiver(&self) -> Receiver<T> {
        Receiver::from_chan(self.clone(), Location::caller())
    }

    pub(crate) fn ptr(&self) -> usize {
        self.hchan().map_or(0, Hchan::id)
    }
}

impl<T> Clone for Chan<T> {
    fn clone(&self) -> Self {
        let inner = self.inner.clone();
        if inner.is_some() {
            // A use of this handle (off a goroutine: the thread becomes a
            // possible waker).
            hook::note_primitive_use();
        }
        Chan { inner }
    }
}

impl<T> Drop for Chan<T> {
    /// Notes who dropped the handle (two relaxed stores into the channel's
    /// record), so a report can name the last holder of the other end.
    #[inline]
    fn drop(&mut self) {
        if let Some(h) = &self.inner {
            h.record.note_drop(std::ptr::from_ref(self) as usize);
        }
    }
}

impl<T> Chan<T> {
    /// The shared state, taken out of the handle (which then drops as a
    /// nil handle); for an owned select case, which holds it instead.
    pub(crate) fn into_inner(mut self) -> Option<Arc<Hchan<T>>> {
        self.inner.take()
    }
}

impl<T> Default for Chan<T> {
    /// The nil channel, as Go's zero value.
    fn default() -> Self {
        Chan::nil()
    }
}

impl<T> PartialEq for Chan<T> {
    fn eq(&self, other: &Self) -> bool {
        self.ptr() == other.ptr()
    }
}

impl<T> Eq for Chan<T> {}

impl<T> std::hash::Hash for Chan<T> {
    /// By identity, like Go's channel map keys.
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.ptr().hash(state);
    }
}

impl<T> fmt::Debug for Chan<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.hchan() {
            None => f.write_str("Chan(nil)"),
            Some(h) => f
                .debug_struct("Chan")
                .field("cap", &h.cap())
                .field("len", &h.len())
                .field("closed", &h.is_closed())
                .finish(),
        }
    }
}

/// Implements the identity traits of a one-direction view (`Sender`,
/// `Receiver`) through its `chan` field: `Default` (the nil channel),
/// equality and hashing by channel identity, and `Debug`.
macro_rules! view_identity_traits {
    ($view:ident) => {
        impl<T> Default for $view<T> {
            /// The nil channel.
            fn default() -> Self {
                $view::nil()
            }
        }

        impl<T> PartialEq for $view<T> {
            fn eq(&self, other: &Self) -> bool {
                self.chan == other.chan
            }
        }

        impl<T> Eq for $view<T> {}

        impl<T> std::hash::Hash for $view<T> {
            /// By channel identity.
            fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
                self.chan.hash(state);
            }
        }

        impl<T> std::fmt::Debug for $view<T> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_tuple(stringify!($view)).field(&self.chan).finish()
            }
        }
    };
}
pub(crate) use view_identity_traits;
