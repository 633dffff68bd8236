//! `after_func`: run a function in its own goroutine once a context is done
//! (Go 1.21: `context.AfterFunc`).
//!
//! # Design
//!
//! An after-func is a child in its context's cancellation tree, like a
//! cancellable context: the cancel walk fires it. Firing and `stop` race for
//! the function, which is taken exactly once: whoever takes it decides
//! (fire: the function runs; stop: it never will, and `stop` returns true).
//! A stopped after-func removes itself from the tree, so registering and
//! stopping many leaves nothing behind.

use std::fmt;
use std::ops::Deref;
use std::sync::{Arc, Mutex, PoisonError};

use super::seam;
use super::tree::{attach, detach, Child};
use super::Context;

type Func = Box<dyn FnOnce() + Send>;

/// One registered after-func.
pub(crate) struct AfterFunc {
    /// The context it waits for.
    ctx: Context,
    /// The function until it is fired or stopped; then `None`. Its slot in
    /// the nearest cancellable ancestor's child set while registered.
    state: Mutex<(Option<Func>, Option<usize>)>,
}

impl AfterFunc {
    /// The context is done: start the function in its own goroutine (if
    /// `stop` did not take it first).
    pub(super) fn fire(&self) {
        let f = {
            let mut st = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            st.1 = None;
            st.0.take()
        };
        if let Some(f) = f {
            seam::go(f);
        }
    }

    pub(super) fn set_slot(&self, slot: usize) {
        self.state.lock().unwrap_or_else(PoisonError::into_inner).1 = Some(slot);
    }

    /// Go's `stop()`: true iff this call kept the function from running.
    fn stop(self: &Arc<Self>) -> bool {
        let (f, slot) = {
            let mut st = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            (st.0.take(), st.1.take())
        };
        if let Some(slot) = slot {
            detach(&self.ctx, slot, &Child::Func(self.clone()));
        }
        f.is_some()
    }
}

/// Arranges to call `f` in its own goroutine after `ctx` is done (cancelled
/// or past its deadline); if `ctx` is already done, `f` starts at once.
/// Returns a [`StopFunc`]: `stop()` unregisters `f`, and returns true iff
/// that kept `f` from being started (false: `f` has started, or was already
/// stopped). Go: `context.AfterFunc`.
///
/// `f` runs as a new goroutine of the goro runtime the context is cancelled
/// on (a timer fires on the runtime that armed it), or on a new thread when
/// the cancelling thread is not on a goro runtime. If `ctx` can never be done
/// (`background`, `without_cancel`), `f` never runs.
///
/// ```
/// use goro_sync::context;
/// let (ctx, cancel) = context::with_cancel(&context::background());
/// let ran = goro_chan::make::<()>(1);
/// let tx = ran.clone();
/// let stop = context::after_func(&ctx, move || tx.try_send(()).unwrap());
/// cancel();
/// assert_eq!(ran.recv_blocking(), Some(()));
/// assert!(!stop()); // f already started
/// ```
pub fn after_func(ctx: &Context, f: impl FnOnce() + Send + 'static) -> StopFunc {
    let a = Arc::new(AfterFunc {
        ctx: ctx.clone(),
        state: Mutex::new((Some(Box::new(f)), None)),
    });
    attach(ctx, Child::Func(a.clone()));
    StopFunc {
        f: Box::new(move || a.stop()),
    }
}

/// The `stop` function of an [`after_func`]: call it like Go's,
/// `stop() -> bool`. Dropping it does not stop anything.
///
/// ```
/// use goro_sync::context;
/// let (ctx, _cancel) = context::with_cancel(&context::background());
/// let stop = context::after_func(&ctx, || unreachable!());
/// assert!(stop());  // kept f from running
/// assert!(!stop()); // already stopped
/// ```
pub struct StopFunc {
    f: Box<dyn Fn() -> bool + Send + Sync>,
}

impl Deref for StopFunc {
    type Target = dyn Fn() -> bool + Send + Sync;

    fn deref(&self) -> &Self::Target {
        &*self.f
    }
}

impl fmt::Debug for StopFunc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StopFunc").finish_non_exhaustive()
    }
}
