//! The cancellation tree: a cancellable context's state, its set of children,
//! and the cancel walk (Go: `cancelCtx`, `propagateCancel`, `removeChild`).
//!
//! # Design
//!
//! Every cancellable context ([`with_cancel`](super::with_cancel) and the
//! deadline forms) is a [`CancelCtx`]. Creating one registers it in the
//! children of its nearest cancellable ancestor (value contexts are looked
//! through; `without_cancel` and `background` end the search: nothing can
//! cancel the child). Cancelling one marks it, closes its done channel,
//! disarms its timer, takes its whole child set and removes it from its
//! parent's set; the taken children are then cancelled with the same error
//! and cause, iteratively (a worklist, so a chain of any depth cannot
//! overflow the stack).
//!
//! The child set is a slab with a free list: a child remembers its slot, so
//! removal is O(1) and a parent whose short-lived children come and go
//! keeps a set as large as its most children alive at once, never larger
//! (Go's map behaves the same; a million children cancelled one after
//! another leave the set empty and its capacity at one).
//!
//! # Invariants
//!
//! - `state` goes from `ACTIVE` to `CANCELED` or `DEADLINE` once, under
//!   `inner`, after `cause` is set and before `done` (if made) is closed;
//!   so a receiver woken by the close sees the error, and an `err()` that
//!   sees it done (it waits for `inner` then) sees the cause and a closed
//!   done channel.
//! - A cancelled context has no children, no timer and no slot: it adds
//!   no child after it is done (a new child of a done parent is cancelled
//!   at once instead).
//! - A child is in its parent's set iff its `slot` is `Some`.
//!
//! # Locking
//!
//! `inner` guards `done`, `cause`, `children`, `slot` and `timer`. Two are
//! held at once only when registering a new child: parent, then child. The
//! cancel walk holds one at a time. Closing the done channel under `inner`
//! takes that channel's lock (rank: context < channel); no user code runs
//! under `inner`.
//!
//! # Memory ordering
//!
//! `state` is stored with Release under `inner` after the cause is stored
//! and before the done channel is closed; `err()` loads it with Acquire
//! (pairs with that store), so a reader that sees "done" also sees the
//! cause. A receiver woken by the close is ordered after the store by the
//! channel's lock.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError, Weak};
use std::time::Instant;

use goro_chan::{Chan, Receiver};

use super::after_func::AfterFunc;
use super::seam::{self, DeadlineTimer};
use super::{Cause, Context, Error};

const ACTIVE: u8 = 0;
const CANCELED: u8 = 1;
const DEADLINE: u8 = 2;

/// What made a cancellable context, for its `Debug` form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Origin {
    /// `with_cancel` / `with_cancel_cause`.
    Cancel,
    /// `with_deadline` / `with_timeout`, with its own deadline.
    Deadline(Instant),
}

/// A cancellable context (Go: `cancelCtx`, and `timerCtx` when it has its
/// own deadline).
pub(crate) struct CancelCtx {
    /// The context this one derives from (values and `Debug` go through it).
    pub(super) parent: Context,
    /// The effective deadline: its own or an earlier inherited one. Set once.
    pub(super) deadline: Option<Instant>,
    pub(super) origin: Origin,
    /// `ACTIVE`, `CANCELED` or `DEADLINE`; written under `inner`.
    state: AtomicU8,
    inner: Mutex<Inner>,
}

struct Inner {
    /// The done channel, made on the first `done()` (Go makes it lazily too).
    done: Option<Chan<()>>,
    /// The cause given when cancelled, if any; `None` after a cancel without
    /// one, whose cause is the error itself (made when asked for, in
    /// [`CancelCtx::cause`], so that a cancel allocates nothing for it: an
    /// HTTP request's context is cancelled once per request).
    cause: Option<Cause>,
    children: Children,
    /// Our slot in the nearest cancellable ancestor's `children`.
    slot: Option<usize>,
    /// The deadline's timer while armed.
    timer: Option<DeadlineTimer>,
}

/// An entry of a child set: a cancellable context or an `after_func`.
#[derive(Clone)]
pub(super) enum Child {
    Ctx(Arc<CancelCtx>),
    Func(Arc<AfterFunc>),
}

impl Child {
    fn is(&self, other: &Child) -> bool {
        match (self, other) {
            (Child::Ctx(a), Child::Ctx(b)) => Arc::ptr_eq(a, b),
            (Child::Func(a), Child::Func(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

enum Slot {
    Used(Child),
    /// Free; the index of the next free slot (`usize::MAX`: none).
    Free(usize),
}

/// A slab of children with a free list: O(1) insert and remove, and its
/// size is the most children alive at once.
pub(super) struct Children {
    slots: Vec<Slot>,
    free: usize,
    len: usize,
}

impl Children {
    const fn new() -> Self {
        Children {
            slots: Vec::new(),
            free: usize::MAX,
            len: 0,
        }
    }

    fn insert(&mut self, child: Child) -> usize {
        self.len += 1;
        if self.free != usize::MAX {
            let i = self.free;
            match std::mem::replace(&mut self.slots[i], Slot::Used(child)) {
                Slot::Free(next) => self.free = next,
                Slot::Used(_) => unreachable!("free list points at a used slot"),
            }
            i
        } else {
            self.slots.push(Slot::Used(child));
            self.slots.len() - 1
        }
    }

    /// Removes `child` from slot `i` if it is still there.
    fn remove(&mut self, i: usize, child: &Child) {
        if let Some(slot @ Slot::Used(_)) = self.slots.get_mut(i) {
            if matches!(slot, Slot::Used(c) if c.is(child)) {
                *slot = Slot::Free(self.free);
                self.free = i;
                self.len -= 1;
            }
        }
    }

    fn drain(self) -> impl Iterator<Item = Child> {
        self.slots.into_iter().filter_map(|s| match s {
            Slot::Used(c) => Some(c),
            Slot::Free(_) => None,
        })
    }
}

/// A channel that is already closed: the done channel of a context that was
/// cancelled before anyone asked for it (Go: `closedchan`).
fn closed_chan() -> &'static Chan<()> {
    static CLOSED: OnceLock<Chan<()>> = OnceLock::new();
    CLOSED.get_or_init(|| {
        let c = goro_chan::make(0);
        c.close();
        c
    })
}

impl CancelCtx {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A new cancellable child of `parent`, registered with its nearest
    /// cancellable ancestor (or cancelled at once if that one is done).
    pub(super) fn new(parent: &Context, deadline: Option<Instant>, origin: Origin) -> Arc<Self> {
        let c = Arc::new(CancelCtx {
            parent: parent.clone(),
            deadline,
            origin,
            state: AtomicU8::new(ACTIVE),
            inner: Mutex::new(Inner {
                done: None,
                cause: None,
                children: Children::new(),
                slot: None,
                timer: None,
            }),
        });
        attach(parent, Child::Ctx(c.clone()));
        c
    }

    /// Go's `Err()`.
    pub(super) fn err(&self) -> Option<Error> {
        let err = error_of(self.state.load(Ordering::Acquire))?;
        // The canceller may still hold `inner` between storing the state
        // and closing the done channel: wait for it, so that `err()` being
        // `Some` implies `done()` is closed (as Go's `Err` takes the lock).
        drop(self.lock());
        Some(err)
    }

    /// Go's `Done()`: made on first use; already closed if cancelled.
    #[track_caller]
    pub(super) fn done(&self) -> Receiver<()> {
        let mut inner = self.lock();
        if let Some(c) = &inner.done {
            return c.receiver();
        }
        if self.state.load(Ordering::Relaxed) != ACTIVE {
            // Relaxed: `inner` orders it (written under it).
            return closed_chan().receiver();
        }
        let c = goro_chan::make(0);
        let rx = c.receiver();
        inner.done = Some(c);
        rx
    }

    /// Go's `Cause`: the cause given when cancelled, else the error; `None`
    /// while active.
    pub(super) fn cause(&self) -> Option<Cause> {
        let inner = self.lock();
        if let Some(c) = &inner.cause {
            return Some(c.clone());
        }
        // Relaxed: `inner` orders it (written under it).
        let err = error_of(self.state.load(Ordering::Relaxed))?;
        Some(Arc::new(err))
    }

    /// Arms the deadline timer (unless already cancelled).
    #[track_caller]
    pub(super) fn arm(self: &Arc<Self>, deadline: Instant, cause: Option<Cause>) {
        let weak: Weak<CancelCtx> = Arc::downgrade(self);
        let mut inner = self.lock();
        if self.state.load(Ordering::Relaxed) != ACTIVE {
            return;
        }
        inner.timer = Some(seam::arm_deadline(deadline, move || {
            if let Some(c) = weak.upgrade() {
                c.cancel(Error::DeadlineExceeded, cause.clone());
            }
        }));
    }

    /// Cancels this context and every descendant, and removes it from its
    /// parent's child set (Go: `cancel(true, err, cause)`). The cause
    /// defaults to `err` (see [`CancelCtx::cause`]). A no-op when already
    /// done.
    pub(super) fn cancel(self: &Arc<Self>, err: Error, cause: Option<Cause>) {
        let Some((children, slot)) = self.mark(err, &cause) else {
            return;
        };
        if let Some(slot) = slot {
            detach(&self.parent, slot, &Child::Ctx(self.clone()));
        }
        cancel_all(children, err, &cause);
    }

    /// Marks this context done; returns its children (to cancel next) and
    /// its slot in the parent, or `None` if it was done already.
    fn mark(&self, err: Error, cause: &Option<Cause>) -> Option<(Children, Option<usize>)> {
        let timer;
        let taken;
        {
            let mut inner = self.lock();
            if self.state.load(Ordering::Relaxed) != ACTIVE {
                return None;
            }
            inner.cause.clone_from(cause);
            let code = match err {
                Error::Canceled => CANCELED,
                Error::DeadlineExceeded => DEADLINE,
            };
            // Before the close: a receiver woken by it must see the error.
            // Release: pairs with the Acquire load in `err()`.
            self.state.store(code, Ordering::Release);
            if let Some(c) = &inner.done {
                c.close();
            }
            timer = inner.timer.take();
            taken = (
                std::mem::replace(&mut inner.children, Children::new()),
                inner.slot.take(),
            );
        }
        // Disarm outside the lock (takes the timer driver's lock).
        drop(timer);
        Some(taken)
    }

    /// The number of children registered (for tests of the detach rule).
    #[cfg(test)]
    pub(super) fn child_count(&self) -> (usize, usize) {
        let inner = self.lock();
        (inner.children.len, inner.children.slots.len())
    }
}

/// The error of a context in `state` (`None` while active).
fn error_of(state: u8) -> Option<Error> {
    match state {
        ACTIVE => None,
        CANCELED => Some(Error::Canceled),
        _ => Some(Error::DeadlineExceeded),
    }
}

/// Cancels `children` and all their descendants with `err` and `cause`
/// (`None`: the error is the cause).
fn cancel_all(children: Children, err: Error, cause: &Option<Cause>) {
    let mut work: Vec<Child> = children.drain().collect();
    while let Some(child) = work.pop() {
        match child {
            Child::Ctx(c) => {
                if let Some((grandchildren, _slot)) = c.mark(err, cause) {
                    work.extend(grandchildren.drain());
                }
            }
            Child::Func(f) => f.fire(),
        }
    }
}

/// Registers `child` with the nearest cancellable ancestor of `parent`
/// (Go: `propagateCancel`). If that ancestor is already done, the child is
/// cancelled at once with its error and cause; if there is none (a
/// `background` or `without_cancel` root), nothing can cancel the child.
pub(super) fn attach(parent: &Context, child: Child) {
    let Some(p) = parent.canceler() else {
        return;
    };
    let mut inner = p.lock();
    if p.state.load(Ordering::Relaxed) != ACTIVE {
        let cause = inner.cause.clone();
        drop(inner);
        let err = p.err().unwrap_or(Error::Canceled);
        match child {
            Child::Ctx(c) => c.cancel(err, cause),
            Child::Func(f) => f.fire(),
        }
        return;
    }
    let slot = inner.children.insert(child.clone());
    // Lock order: parent, then child (the only place two are held).
    match &child {
        Child::Ctx(c) => c.lock().slot = Some(slot),
        Child::Func(f) => f.set_slot(slot),
    }
}

/// Removes `child` from slot `slot` of `parent`'s nearest cancellable
/// ancestor (Go: `removeChild`).
pub(super) fn detach(parent: &Context, slot: usize, child: &Child) {
    if let Some(p) = parent.canceler() {
        p.lock().children.remove(slot, child);
    }
}
