//! [`WaitObject`]: what a parked goroutine waits on.

use std::fmt;
use std::panic::Location;

/// What a parked goroutine waits on, as seen at the moment it parked.
///
/// A plain `Copy` snapshot so that parking never allocates. `id` identifies the
/// object (the address of its shared state) so that analyses can group the
/// goroutines parked on the same channel or lock.
///
/// ```
/// use goro_hook::{ObjectDetail, WaitObject};
/// let on = WaitObject { id: 0x1000, made_at: None, detail: ObjectDetail::Chan { cap: 0, len: 0 } };
/// assert_eq!(on.to_string(), "chan (unbuffered, len 0)");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WaitObject {
    /// Identity of the object: the address of its shared state, stable while
    /// any handle to it exists.
    pub id: usize,
    /// Where the object was created (`make::<T>(..)`, `Mutex::new`, ...).
    pub made_at: Option<&'static Location<'static>>,
    /// Kind-specific detail.
    pub detail: ObjectDetail,
}

/// Kind-specific part of a [`WaitObject`].
///
/// ```
/// use goro_hook::{ObjectDetail, WaitObject};
/// let on = WaitObject { id: 1, made_at: None, detail: ObjectDetail::Other("sync.Mutex") };
/// assert_eq!(on.to_string(), "sync.Mutex");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ObjectDetail {
    /// A channel with its capacity and its length when the goroutine parked.
    Chan {
        /// Buffer capacity (0: unbuffered).
        cap: usize,
        /// Buffered values when the goroutine parked.
        len: usize,
    },
    /// Any other object, named by its Go type (`sync.Mutex`, ...).
    Other(&'static str),
    /// A channel that was already closed when the goroutine parked (as
    /// [`Chan`](Self::Chan) otherwise). Rare: an operation on a closed
    /// channel does not wait, so this is seen only when the channel was
    /// closed between the moment the goroutine queued itself and the moment
    /// it noted its park; the close then also wakes it.
    ///
    /// The flag is read at park time only, and that is enough: a close
    /// after the park wakes every goroutine queued on the channel (as Go's
    /// `closechan`), so it stops being parked there; a parked goroutine's
    /// [`Chan`](Self::Chan) snapshot is stale only for the instant between
    /// the close and its wake-up.
    ///
    /// ```
    /// use goro_hook::{ObjectDetail, WaitObject};
    /// let on = WaitObject { id: 1, made_at: None, detail: ObjectDetail::ClosedChan { cap: 4, len: 2 } };
    /// assert_eq!(on.to_string(), "chan (cap 4, len 2, closed)");
    /// ```
    ClosedChan {
        /// Buffer capacity (0: unbuffered).
        cap: usize,
        /// Buffered values when the goroutine parked.
        len: usize,
    },
}

impl ObjectDetail {
    /// The detail of a channel with capacity `cap` holding `len` values,
    /// closed or not: [`Chan`](Self::Chan) or [`ClosedChan`](Self::ClosedChan).
    ///
    /// ```
    /// use goro_hook::ObjectDetail;
    /// assert_eq!(ObjectDetail::chan(0, 0, false), ObjectDetail::Chan { cap: 0, len: 0 });
    /// assert_eq!(ObjectDetail::chan(1, 0, true), ObjectDetail::ClosedChan { cap: 1, len: 0 });
    /// ```
    pub const fn chan(cap: usize, len: usize, closed: bool) -> Self {
        if closed {
            ObjectDetail::ClosedChan { cap, len }
        } else {
            ObjectDetail::Chan { cap, len }
        }
    }
}

impl fmt::Display for WaitObject {
    /// `chan (unbuffered, len 0) made at src/search.rs:35:13`;
    /// `chan (cap 4, len 2, closed)` for a closed channel.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (cap, len, closed) = match self.detail {
            ObjectDetail::Chan { cap, len } => (cap, len, ""),
            ObjectDetail::ClosedChan { cap, len } => (cap, len, ", closed"),
            ObjectDetail::Other(name) => {
                f.write_str(name)?;
                return self.fmt_made_at(f);
            }
        };
        if cap == 0 {
            write!(f, "chan (unbuffered, len {len}{closed})")?;
        } else {
            write!(f, "chan (cap {cap}, len {len}{closed})")?;
        }
        self.fmt_made_at(f)
    }
}

impl WaitObject {
    fn fmt_made_at(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(at) = self.made_at {
            write!(f, " made at {}:{}:{}", at.file(), at.line(), at.column())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{ObjectDetail, WaitObject};

    #[test]
    fn closed_channels_say_so() {
        let at = std::panic::Location::caller();
        let on = |detail| {
            WaitObject {
                id: 1,
                made_at: Some(at),
                detail,
            }
            .to_string()
        };
        let made = format!(" made at {}:{}:{}", at.file(), at.line(), at.column());
        assert_eq!(
            on(ObjectDetail::chan(0, 0, true)),
            format!("chan (unbuffered, len 0, closed){made}")
        );
        assert_eq!(
            on(ObjectDetail::chan(4, 2, true)),
            format!("chan (cap 4, len 2, closed){made}")
        );
        assert_eq!(
            on(ObjectDetail::chan(4, 2, false)),
            format!("chan (cap 4, len 2){made}")
        );
        assert_eq!(
            on(ObjectDetail::Other("sync.Mutex")),
            format!("sync.Mutex{made}")
        );
    }
}
