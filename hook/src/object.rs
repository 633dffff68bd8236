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
}

impl fmt::Display for WaitObject {
    /// `chan (unbuffered, len 0) made at src/search.rs:35:13`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.detail {
            ObjectDetail::Chan { cap: 0, len } => write!(f, "chan (unbuffered, len {len})")?,
            ObjectDetail::Chan { cap, len } => write!(f, "chan (cap {cap}, len {len})")?,
            ObjectDetail::Other(name) => f.write_str(name)?,
        }
        if let Some(at) = self.made_at {
            write!(f, " made at {}:{}:{}", at.file(), at.line(), at.column())?;
        }
        Ok(())
    }
}
