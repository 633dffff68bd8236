//! Go: package `context`: cancellation, deadlines and request-scoped values
//! carried across goroutines.
//!
//! ```
//! use std::time::Duration;
//! use goro_sync::context;
//!
//! let (ctx, cancel) = context::with_timeout(&context::background(), Duration::from_secs(5));
//! let worker = ctx.clone();
//! let t = std::thread::spawn(move || {
//!     worker.done().recv_blocking(); // returns once the context is done
//!     worker.err()
//! });
//! cancel();
//! assert_eq!(t.join().unwrap(), Some(context::Error::Canceled));
//! ```
//!
//! # Design
//!
//! A [`Context`] is a cheap handle (an `Arc`, or nothing for the roots) to
//! one of: a root (`background`, `todo`), a cancellable context (`tree`:
//! Go's `cancelCtx`/`timerCtx`), a value (`with_value`: Go's `valueCtx`), or
//! a `without_cancel` wrapper. Contexts form a tree through their parents;
//! the cancellable ones also keep their live cancellable descendants (and
//! `after_func`s) as children, so cancelling one reaches every descendant
//! without a goroutine per context. A cancelled context leaves its parent's
//! child set, so a long-lived parent does not grow. The module docs of
//! `tree.rs` give the invariants, locking and memory ordering.
//!
//! `done()` is a real goro channel (made on first use, closed on cancel),
//! so it works in `select!`, as a `Stream`, under any executor and, with
//! `recv_blocking`, on plain threads. A deadline arms one timer: the goro
//! runtime's timer wheel when created on a goro runtime, the process-wide
//! timer thread elsewhere.
//!
//! Differences from Go, by design: contexts are not a trait (every context is
//! one of the kinds above, so no goroutine is ever needed to propagate);
//! value keys are types ([`Key`]); a [`CancelFunc`] also cancels when
//! dropped, so Go's "lost cancel" leak (the `lostcancel` vet check) cannot
//! happen.

mod after_func;
mod error;
pub(crate) mod seam;
#[cfg(test)]
mod tests;
mod tree;
mod value;

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;
use std::time::{Duration, Instant};

use goro_chan::Receiver;

pub use after_func::{after_func, StopFunc};
pub use error::{Cause, Error};
pub use value::{with_value, Key};

use tree::{CancelCtx, Origin};
use value::ValueCtx;

/// Carries a deadline, a cancellation signal and values across API
/// boundaries and goroutines (Go: `context.Context`). Clone + Send + Sync;
/// cloning is cheap.
///
/// ```
/// use goro_sync::context;
/// let ctx = context::background();
/// assert!(ctx.err().is_none() && ctx.deadline().is_none());
/// assert_eq!(format!("{ctx:?}"), "context.Background");
/// ```
#[derive(Clone)]
pub struct Context {
    repr: Repr,
}

// A panic cannot leave a context inconsistent: no user code runs under its
// locks, and every state change is made whole under them.
impl std::panic::UnwindSafe for Context {}
impl std::panic::RefUnwindSafe for Context {}

#[derive(Clone)]
enum Repr {
    Background,
    Todo,
    Cancel(Arc<CancelCtx>),
    Value(Arc<ValueCtx<dyn std::any::Any + Send + Sync>>),
    WithoutCancel(Arc<Context>),
}

/// The root context: never cancelled, no deadline, no values (Go:
/// `context.Background`). Its `done()` is a nil channel.
///
/// ```
/// let ctx = goro_sync::context::background();
/// assert!(ctx.done().try_recv().is_err());
/// ```
pub fn background() -> Context {
    Context {
        repr: Repr::Background,
    }
}

/// A root context for code that does not yet know which context to use (Go:
/// `context.TODO`); behaves as [`background`].
///
/// ```
/// assert_eq!(format!("{:?}", goro_sync::context::todo()), "context.TODO");
/// ```
pub fn todo() -> Context {
    Context { repr: Repr::Todo }
}

impl Context {
    /// The nearest cancellable context at or above this one, if anything
    /// can cancel it (value contexts are looked through; `without_cancel`
    /// and the roots end the search).
    fn canceler(&self) -> Option<&Arc<CancelCtx>> {
        let mut cur = self;
        loop {
            match &cur.repr {
                Repr::Cancel(c) => return Some(c),
                Repr::Value(v) => cur = &v.parent,
                Repr::Background | Repr::Todo | Repr::WithoutCancel(_) => return None,
            }
        }
    }

    /// A channel that is closed when this context is done (cancelled, or
    /// its deadline passed): receive from it, alone or in a `select!` (Go:
    /// `ctx.Done()`). A context that can never be done returns the nil
    /// channel, which never becomes ready.
    ///
    /// ```
    /// use goro_sync::context;
    /// let (ctx, cancel) = context::with_cancel(&context::background());
    /// let done = ctx.done();
    /// assert!(done.try_recv().is_err()); // not yet
    /// cancel();
    /// assert_eq!(done.recv_blocking(), None); // closed
    /// ```
    #[track_caller]
    pub fn done(&self) -> Receiver<()> {
        match self.canceler() {
            Some(c) => c.done(),
            None => Receiver::nil(),
        }
    }

    /// Why this context is done, or `None` while it is not (Go:
    /// `ctx.Err()`). Once `Some`, it stays the same.
    ///
    /// ```
    /// use goro_sync::context::{self, Error};
    /// let (ctx, cancel) = context::with_cancel(&context::background());
    /// assert_eq!(ctx.err(), None);
    /// cancel();
    /// assert_eq!(ctx.err(), Some(Error::Canceled));
    /// ```
    pub fn err(&self) -> Option<Error> {
        self.canceler().and_then(|c| c.err())
    }

    /// When this context will be cancelled by a deadline, if it has one
    /// (its own or an ancestor's, whichever is earlier; Go:
    /// `ctx.Deadline()`).
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use goro_sync::context;
    /// let d = Instant::now() + Duration::from_secs(60);
    /// let (ctx, _cancel) = context::with_deadline(&context::background(), d);
    /// assert_eq!(ctx.deadline(), Some(d));
    /// ```
    pub fn deadline(&self) -> Option<Instant> {
        self.canceler().and_then(|c| c.deadline)
    }

    /// The value stored under key type `K` by the nearest
    /// [`with_value`] at or above this context (Go: `ctx.Value(key)`).
    ///
    /// ```
    /// use goro_sync::context::{self, Key};
    /// struct RequestId;
    /// impl Key for RequestId { type Value = u64; }
    /// let ctx = context::with_value(&context::background(), RequestId, 7);
    /// let (child, _cancel) = context::with_cancel(&ctx);
    /// assert_eq!(child.value::<RequestId>(), Some(&7));
    /// ```
    pub fn value<K: Key>(&self) -> Option<&K::Value> {
        let key = std::any::TypeId::of::<K>();
        let mut cur = self;
        loop {
            match &cur.repr {
                Repr::Value(v) if v.key == key => return v.value.downcast_ref(),
                Repr::Value(v) => cur = &v.parent,
                Repr::Cancel(c) => cur = &c.parent,
                Repr::WithoutCancel(p) => cur = p,
                Repr::Background | Repr::Todo => return None,
            }
        }
    }
}

impl Drop for Context {
    /// Drops a chain of ancestors that only this handle keeps alive one by
    /// one instead of recursively, so a chain of any depth cannot overflow
    /// the stack.
    fn drop(&mut self) {
        let mut cur = std::mem::replace(&mut self.repr, Repr::Background);
        loop {
            let parent = match &mut cur {
                Repr::Cancel(a) => {
                    Arc::get_mut(a).map(|n| std::mem::replace(&mut n.parent, background()))
                }
                Repr::Value(a) => {
                    Arc::get_mut(a).map(|n| std::mem::replace(&mut n.parent, background()))
                }
                Repr::WithoutCancel(a) => {
                    Arc::get_mut(a).map(|p| std::mem::replace(p, background()))
                }
                Repr::Background | Repr::Todo => None,
            };
            // `cur`'s node now has a root for a parent: dropping it is shallow.
            drop(cur);
            match parent {
                Some(mut p) => cur = std::mem::replace(&mut p.repr, Repr::Background),
                None => return,
            }
        }
    }
}

impl fmt::Debug for Context {
    /// Go's `String()` form: `context.Background.WithCancel`, ….
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Background => f.write_str("context.Background"),
            Repr::Todo => f.write_str("context.TODO"),
            Repr::Cancel(c) => match c.origin {
                Origin::Cancel => write!(f, "{:?}.WithCancel", c.parent),
                Origin::Deadline(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    write!(f, "{:?}.WithDeadline({d:?} [{left:?}])", c.parent)
                }
            },
            Repr::Value(v) => write!(
                f,
                "{:?}.WithValue({}, {})",
                v.parent, v.key_name, v.value_name
            ),
            Repr::WithoutCancel(p) => write!(f, "{p:?}.WithoutCancel"),
        }
    }
}

/// Cancels its context: call it like Go's `cancel()` (it derefs to
/// `dyn Fn()`). Calling it again does nothing. Dropping it also cancels, so
/// a context can never be left registered with its parent by a forgotten
/// cancel (Go's `lostcancel` vet check, made impossible).
///
/// ```
/// use goro_sync::context;
/// let (ctx, cancel) = context::with_cancel(&context::background());
/// drop(cancel);
/// assert!(ctx.err().is_some());
/// ```
#[must_use = "dropping a CancelFunc cancels its context at once"]
pub struct CancelFunc {
    f: Box<dyn Fn() + Send + Sync>,
}

impl Deref for CancelFunc {
    type Target = dyn Fn() + Send + Sync;

    fn deref(&self) -> &Self::Target {
        &*self.f
    }
}

impl Drop for CancelFunc {
    fn drop(&mut self) {
        (self.f)();
    }
}

impl fmt::Debug for CancelFunc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelFunc").finish_non_exhaustive()
    }
}

/// Cancels its context with a cause (Go: `CancelCauseFunc`):
/// [`cancel_with(err)`](Self::cancel_with) sets the cause that [`cause`]
/// reports; calling it plainly, `cancel()`, is Go's `cancel(nil)` (the cause
/// is [`Error::Canceled`]). Only the first cancellation counts. Dropping it
/// cancels too, as [`CancelFunc`] does.
///
/// ```
/// use goro_sync::context;
/// let (ctx, cancel) = context::with_cancel_cause(&context::background());
/// cancel.cancel_with("backend gone");
/// assert_eq!(ctx.err(), Some(context::Error::Canceled));
/// assert_eq!(context::cause(&ctx).unwrap().to_string(), "backend gone");
/// ```
#[must_use = "dropping a CancelCauseFunc cancels its context at once"]
pub struct CancelCauseFunc {
    ctx: Arc<CancelCtx>,
    /// The plain cancel (`cancel()`); it also cancels on drop.
    cancel: CancelFunc,
}

impl CancelCauseFunc {
    /// Cancels the context with `err` as its cause (Go: `cancel(err)`).
    ///
    /// ```
    /// use goro_sync::context;
    /// let (ctx, cancel) = context::with_cancel_cause(&context::background());
    /// cancel.cancel_with(std::io::Error::other("disk full"));
    /// assert_eq!(context::cause(&ctx).unwrap().to_string(), "disk full");
    /// ```
    pub fn cancel_with(&self, err: impl Into<Box<dyn std::error::Error + Send + Sync>>) {
        self.ctx
            .cancel(Error::Canceled, Some(Arc::from(err.into())));
    }

    /// Cancels the context with a shared cause (`None`: Go's `cancel(nil)`).
    ///
    /// ```
    /// use goro_sync::context;
    /// let (ctx, cancel) = context::with_cancel_cause(&context::background());
    /// cancel.cancel_with_cause(None);
    /// assert_eq!(context::cause(&ctx).unwrap().to_string(), "context canceled");
    /// ```
    pub fn cancel_with_cause(&self, cause: Option<Cause>) {
        self.ctx.cancel(Error::Canceled, cause);
    }
}

impl Deref for CancelCauseFunc {
    type Target = dyn Fn() + Send + Sync;

    fn deref(&self) -> &Self::Target {
        &*self.cancel
    }
}

impl fmt::Debug for CancelCauseFunc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelCauseFunc").finish_non_exhaustive()
    }
}

fn cancel_fn(c: &Arc<CancelCtx>) -> Box<dyn Fn() + Send + Sync> {
    let c = c.clone();
    Box::new(move || c.cancel(Error::Canceled, None))
}

fn context_of(c: Arc<CancelCtx>) -> Context {
    Context {
        repr: Repr::Cancel(c),
    }
}

/// A child of `parent` that is done when `cancel()` is called (or dropped)
/// or when `parent` is done, whichever comes first (Go:
/// `context.WithCancel`).
///
/// ```
/// use goro_sync::context;
/// let (parent, cancel_parent) = context::with_cancel(&context::background());
/// let (child, _cancel_child) = context::with_cancel(&parent);
/// cancel_parent();
/// assert_eq!(child.err(), Some(context::Error::Canceled));
/// ```
#[track_caller]
pub fn with_cancel(parent: &Context) -> (Context, CancelFunc) {
    let c = CancelCtx::new(parent, parent.deadline(), Origin::Cancel);
    let cancel = CancelFunc { f: cancel_fn(&c) };
    (context_of(c), cancel)
}

/// As [`with_cancel`], but the cancel function can record a cause, which
/// [`cause`] reports (Go: `context.WithCancelCause`).
///
/// ```
/// use goro_sync::context;
/// let (ctx, cancel) = context::with_cancel_cause(&context::background());
/// cancel.cancel_with("shutting down");
/// assert_eq!(context::cause(&ctx).unwrap().to_string(), "shutting down");
/// ```
#[track_caller]
pub fn with_cancel_cause(parent: &Context) -> (Context, CancelCauseFunc) {
    let c = CancelCtx::new(parent, parent.deadline(), Origin::Cancel);
    let cancel = CancelCauseFunc {
        cancel: CancelFunc { f: cancel_fn(&c) },
        ctx: c.clone(),
    };
    (context_of(c), cancel)
}

/// A child of `parent` that is also done, with
/// [`Error::DeadlineExceeded`], at `deadline` (Go: `context.WithDeadline`).
/// If `parent`'s deadline is already earlier, this is [`with_cancel`]; a
/// deadline already past cancels at once.
///
/// ```
/// use std::time::{Duration, Instant};
/// use goro_sync::context;
/// let (ctx, _cancel) = context::with_deadline(&context::background(), Instant::now());
/// assert_eq!(ctx.err(), Some(context::Error::DeadlineExceeded));
/// ```
#[track_caller]
pub fn with_deadline(parent: &Context, deadline: Instant) -> (Context, CancelFunc) {
    let c = deadline_ctx(parent, deadline, None);
    let cancel = CancelFunc { f: cancel_fn(&c) };
    (context_of(c), cancel)
}

/// As [`with_deadline`], with the cause to record when the deadline passes
/// (Go: `context.WithDeadlineCause`).
///
/// ```
/// use std::{sync::Arc, time::Instant};
/// use goro_sync::context;
/// let cause: context::Cause = Arc::new(std::io::Error::other("too slow"));
/// let (ctx, _cancel) = context::with_deadline_cause(&context::background(), Instant::now(), cause);
/// assert_eq!(context::cause(&ctx).unwrap().to_string(), "too slow");
/// ```
#[track_caller]
pub fn with_deadline_cause(
    parent: &Context,
    deadline: Instant,
    cause: Cause,
) -> (Context, CancelFunc) {
    let c = deadline_ctx(parent, deadline, Some(cause));
    let cancel = CancelFunc { f: cancel_fn(&c) };
    (context_of(c), cancel)
}

#[track_caller]
fn deadline_ctx(parent: &Context, deadline: Instant, cause: Option<Cause>) -> Arc<CancelCtx> {
    if let Some(d) = parent.deadline() {
        if d <= deadline {
            // The parent's deadline is already sooner (Go's shortcut).
            return CancelCtx::new(parent, Some(d), Origin::Cancel);
        }
    }
    let c = CancelCtx::new(parent, Some(deadline), Origin::Deadline(deadline));
    if Instant::now() >= deadline {
        c.cancel(Error::DeadlineExceeded, cause);
    } else {
        c.arm(deadline, cause);
    }
    c
}

/// [`with_deadline`] at now + `timeout` (Go: `context.WithTimeout`). A
/// timeout too large to represent means no deadline.
///
/// ```
/// use std::time::Duration;
/// use goro_sync::context;
/// let (ctx, _cancel) = context::with_timeout(&context::background(), Duration::from_millis(1));
/// ctx.done().recv_blocking();
/// assert_eq!(ctx.err(), Some(context::Error::DeadlineExceeded));
/// ```
#[track_caller]
pub fn with_timeout(parent: &Context, timeout: Duration) -> (Context, CancelFunc) {
    match Instant::now().checked_add(timeout) {
        Some(d) => with_deadline(parent, d),
        None => with_cancel(parent),
    }
}

/// [`with_deadline_cause`] at now + `timeout` (Go:
/// `context.WithTimeoutCause`).
///
/// ```
/// use std::{sync::Arc, time::Duration};
/// use goro_sync::context;
/// let cause: context::Cause = Arc::new(std::io::Error::other("slow backend"));
/// let (ctx, _cancel) = context::with_timeout_cause(&context::background(), Duration::ZERO, cause);
/// assert_eq!(context::cause(&ctx).unwrap().to_string(), "slow backend");
/// ```
#[track_caller]
pub fn with_timeout_cause(
    parent: &Context,
    timeout: Duration,
    cause: Cause,
) -> (Context, CancelFunc) {
    match Instant::now().checked_add(timeout) {
        Some(d) => with_deadline_cause(parent, d, cause),
        None => with_cancel(parent),
    }
}

/// A context that keeps `parent`'s values but is never done and has no
/// deadline, even when `parent` is (Go: `context.WithoutCancel`).
///
/// ```
/// use goro_sync::context;
/// let (parent, cancel) = context::with_cancel(&context::background());
/// let detached = context::without_cancel(&parent);
/// cancel();
/// assert!(detached.err().is_none());
/// ```
pub fn without_cancel(parent: &Context) -> Context {
    Context {
        repr: Repr::WithoutCancel(Arc::new(parent.clone())),
    }
}

/// Why `ctx` is done (Go: `context.Cause`): the cause given to the
/// [`CancelCauseFunc`] (or deadline) that cancelled it or an ancestor, or
/// its [`Error`] when none was given; `None` while not done.
///
/// ```
/// use goro_sync::context;
/// let (ctx, cancel) = context::with_cancel(&context::background());
/// assert!(context::cause(&ctx).is_none());
/// cancel();
/// assert_eq!(context::cause(&ctx).unwrap().to_string(), "context canceled");
/// ```
pub fn cause(ctx: &Context) -> Option<Cause> {
    ctx.canceler().and_then(|c| c.cause())
}
