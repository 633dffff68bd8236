//! `JoinHandle` and `JoinError`.
//!
//! Go has no join handle (a goroutine's result travels over a channel); this
//! is the Rust-side handle that `go!`/`spawn` return.

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::slot::{self, Reader};
use super::Panic;
use crate::registry::GoroutineId;

/// An owned permission to await a goroutine's result.
///
/// Awaiting it gives `Ok(output)`, or a [`JoinError`] if the goroutine
/// panicked or was dropped because its runtime stopped. Dropping the handle
/// *detaches* the goroutine: it keeps running.
///
/// ```
/// goro_runtime::run(async {
///     let h = goro_runtime::spawn(async { 6 * 7 });
///     assert_eq!(h.await.unwrap(), 42);
/// });
/// ```
pub struct JoinHandle<T> {
    /// The goroutine's join slot; `None` once joined. Dropping it detaches
    /// the goroutine (its result, when it comes, is dropped).
    task: Option<Reader<T>>,
    id: GoroutineId,
}

impl<T> JoinHandle<T> {
    pub(crate) fn new(task: Reader<T>, id: GoroutineId) -> Self {
        JoinHandle {
            task: Some(task),
            id,
        }
    }

    /// The goroutine's id.
    ///
    /// ```
    /// goro_runtime::run(async {
    ///     let h = goro_runtime::spawn(async { goro_runtime::current_id() });
    ///     let id = h.id();
    ///     assert_eq!(h.await.unwrap(), Some(id));
    /// });
    /// ```
    pub fn id(&self) -> GoroutineId {
        self.id
    }

    /// Whether the goroutine has finished (returned, panicked or been
    /// dropped).
    ///
    /// ```
    /// goro_runtime::run(async {
    ///     let h = goro_runtime::spawn(async {});
    ///     while !h.is_finished() {
    ///         goro_runtime::yield_now().await;
    ///     }
    /// });
    /// ```
    pub fn is_finished(&self) -> bool {
        self.task.as_ref().is_none_or(Reader::is_finished)
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let id = self.id;
        let task = self
            .task
            .take()
            .expect("JoinHandle polled after completion");
        // The awaited task keeps a clone of the waker: goro's own.
        let out = match goro_hook::own_clones(|| task.poll_take(cx)) {
            Err(task) => {
                // The runtime the task runs on (its slot keeps it): a
                // goroutine awaiting a task of its own runtime parks in
                // `join wait`, which the deadlock detector understands; any
                // other await of a handle is a foreign future to it.
                let rt = task.runtime();
                self.task = Some(task);
                if rt != 0 && slot::runtime_tag(super::current_host()) == rt {
                    goro_hook::note_park(
                        goro_hook::WaitReason::JoinWait,
                        std::panic::Location::caller(),
                        None,
                    );
                }
                return Poll::Pending;
            }
            Ok(Some(Ok(v))) => Ok(v),
            Ok(Some(Err(p))) => Err(JoinError::panic(id, p)),
            Ok(None) => Err(JoinError::cancelled(id)),
        };
        Poll::Ready(out)
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle").field("id", &self.id).finish()
    }
}

/// Why a goroutine produced no result.
///
/// ```
/// use goro_runtime::runtime::{PanicPolicy, Runtime};
/// let rt = Runtime::builder().on_goroutine_panic(PanicPolicy::Ignore).build().unwrap();
/// rt.block_on(async {
///     let h = goro_runtime::spawn(async { panic!("boom") });
///     let err = h.await.unwrap_err();
///     assert!(err.is_panic());
///     assert_eq!(err.to_string(), format!("goroutine {} panicked: boom", err.id()));
/// }).unwrap();
/// ```
pub struct JoinError {
    id: GoroutineId,
    repr: Repr,
}

enum Repr {
    /// The payload and its text, taken when the error was made.
    Panic(PanicBox, String),
    Cancelled,
}

/// A panic payload that is only reachable by value or `&mut`.
struct PanicBox(Panic);

// SAFETY: the payload is only accessed by value (`into_panic`), never
// through `&self` (its text is copied out when the error is made), so sharing `&PanicBox` between
// threads gives no access to the non-`Sync` payload.
unsafe impl Sync for PanicBox {}

impl JoinError {
    pub(crate) fn panic(id: GoroutineId, p: Panic) -> Self {
        let message = super::panic_message(&p);
        JoinError {
            id,
            repr: Repr::Panic(PanicBox(p), message),
        }
    }

    pub(crate) fn cancelled(id: GoroutineId) -> Self {
        JoinError {
            id,
            repr: Repr::Cancelled,
        }
    }

    /// The goroutine panicked.
    pub fn is_panic(&self) -> bool {
        matches!(self.repr, Repr::Panic(..))
    }

    /// The goroutine was dropped before finishing (its runtime stopped).
    pub fn is_cancelled(&self) -> bool {
        matches!(self.repr, Repr::Cancelled)
    }

    /// The goroutine's id.
    pub fn id(&self) -> GoroutineId {
        self.id
    }

    /// The panic payload.
    ///
    /// # Panics
    ///
    /// If the goroutine did not panic (see [`JoinError::is_panic`]).
    pub fn into_panic(self) -> Box<dyn Any + Send + 'static> {
        self.try_into_panic()
            .expect("JoinError::into_panic on a goroutine that did not panic")
    }

    /// The panic payload, or the error back if the goroutine did not panic.
    pub fn try_into_panic(self) -> Result<Box<dyn Any + Send + 'static>, JoinError> {
        match self.repr {
            Repr::Panic(p, _) => Ok(p.0),
            Repr::Cancelled => Err(self),
        }
    }
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Panic(_, msg) => write!(f, "goroutine {} panicked: {msg}", self.id),
            Repr::Cancelled => write!(f, "goroutine {} was cancelled", self.id),
        }
    }
}

impl fmt::Debug for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Panic(_, msg) => f
                .debug_struct("JoinError::Panic")
                .field("id", &self.id)
                .field("message", msg)
                .finish(),
            Repr::Cancelled => f
                .debug_struct("JoinError::Cancelled")
                .field("id", &self.id)
                .finish(),
        }
    }
}

impl std::error::Error for JoinError {}

#[cfg(all(test, not(goro_loom)))]
mod tests {
    /// A held handle is two words (its join slot, which also names the
    /// task's runtime, and the id): a million of them held to be joined
    /// later are 16 MB.
    #[test]
    fn a_join_handle_is_two_words() {
        assert_eq!(std::mem::size_of::<super::JoinHandle<u64>>(), 16);
        assert_eq!(std::mem::size_of::<super::JoinHandle<String>>(), 16);
    }
}
