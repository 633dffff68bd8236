//! [`RuntimeError`]: why `block_on` could not return the main goroutine's
//! result, with Go's texts.
//!
//! A leaf module: it imports only the goroutine id type from the registry.

use std::fmt;
use std::panic::Location;

use crate::registry::GoroutineId;

/// Why `block_on` could not return the main goroutine's result.
///
/// ```
/// use goro_runtime::runtime::RuntimeError;
/// let rt = goro_runtime::runtime::Runtime::builder().build().unwrap();
/// let err = rt.block_on(async { panic!("oops") }).unwrap_err();
/// assert!(err.to_string().starts_with("panic: oops\n\ngoroutine 1 [running]:"));
/// assert!(matches!(err, RuntimeError::GoroutinePanic { .. }));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuntimeError {
    /// No goroutine can ever run again. Display: Go's fatal error text, then
    /// the dump. See the crate docs ("Deadlocks") for exactly when it is
    /// reported; `Builder::detect_deadlocks(false)` turns the check off.
    ///
    /// ```
    /// use std::task::{Context, Poll};
    /// use goro_hook::{note_park, WaitReason};
    /// use goro_runtime::runtime::{Runtime, RuntimeError};
    ///
    /// /// A receive nobody will ever complete (what a channel would note).
    /// struct Stuck;
    /// impl std::future::Future for Stuck {
    ///     type Output = ();
    ///     fn poll(self: std::pin::Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
    ///         note_park(WaitReason::ChanReceive, std::panic::Location::caller(), None);
    ///         Poll::Pending
    ///     }
    /// }
    ///
    /// let rt = Runtime::builder().build().unwrap();
    /// let err = rt.block_on(async { goro_runtime::spawn(Stuck).await.ok() }).unwrap_err();
    /// let text = err.to_string();
    /// assert!(text.starts_with("fatal error: all goroutines are asleep - deadlock!\n\ngoroutine 1 [join wait]:"));
    /// assert!(text.contains("goroutine 2 [chan receive]:"));
    /// ```
    Deadlock {
        /// The goroutine dump at the moment of detection.
        dump: String,
    },
    /// A goroutine panicked (the main goroutine always; others under
    /// [`PanicPolicy::Abort`](crate::runtime::PanicPolicy::Abort)).
    GoroutinePanic {
        /// The goroutine that panicked.
        id: GoroutineId,
        /// The panic message.
        message: String,
        /// Where it was spawned (for the main goroutine: where the runtime
        /// was entered).
        spawned_at: &'static Location<'static>,
    },
    /// A timer callback (a `goro_time::Alarm`'s function, run by
    /// the runtime when the alarm fires) panicked under
    /// [`PanicPolicy::Abort`](crate::runtime::PanicPolicy::Abort). Go: a panic in a runtime timer function is
    /// fatal.
    ///
    /// ```
    /// use goro_runtime::runtime::{Runtime, RuntimeError};
    /// let rt = Runtime::builder().build().unwrap();
    /// let err = rt.block_on(async {
    ///     let a = goro_time::Alarm::new(|| panic!("tick"));
    ///     a.reset(std::time::Duration::from_millis(1));
    ///     std::future::pending::<()>().await
    /// }).unwrap_err();
    /// assert!(matches!(err, RuntimeError::TimerPanic { ref message, .. } if message == "tick"));
    /// ```
    TimerPanic {
        /// The panic message.
        message: String,
        /// Where the alarm was created (`None` for a panicking waker).
        created_at: Option<&'static Location<'static>>,
    },
}

impl fmt::Display for RuntimeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RuntimeError::Deadlock { dump } => {
                write!(
                    f,
                    "fatal error: all goroutines are asleep - deadlock!\n\n{dump}"
                )
            }
            RuntimeError::GoroutinePanic {
                id,
                message,
                spawned_at,
            } => write!(
                f,
                "panic: {message}\n\ngoroutine {id} [running]:\ncreated at {}:{}:{}",
                spawned_at.file(),
                spawned_at.line(),
                spawned_at.column()
            ),
            RuntimeError::TimerPanic {
                message,
                created_at,
            } => {
                write!(f, "panic: {message}\n\n[timer callback]")?;
                if let Some(at) = created_at {
                    write!(
                        f,
                        "\nalarm created at {}:{}:{}",
                        at.file(),
                        at.line(),
                        at.column()
                    )?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for RuntimeError {}
