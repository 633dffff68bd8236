//! Go: `golang.org/x/sync/errgroup`: run a group of goroutines, wait for
//! them all, and get the first error; with a context, the first error
//! cancels the others' context.
//!
//! # Design
//!
//! As x/sync's: a count of running members (Go uses a `WaitGroup`), the
//! first error (Go's `errOnce`), and the limit as a buffered channel of
//! tokens: [`Group::go_with`] sends a token before starting a member (so it
//! parks while the group is at its limit) and the member takes one back
//! when it ends. `wait` parks on an *idle* channel that the last member to
//! end closes. Every wait is a goro channel operation, so each is
//! cancel-safe: a `go` dropped while parked took no token and started
//! nothing; a `wait` dropped loses nothing.
//!
//! [`Group::go`] and [`Group::try_go`] start members as goroutines through
//! `goro-hook`'s spawn seam (this crate does not depend on the runtime); off
//! a goro runtime each member gets a thread. [`Group::go_with`] and
//! [`Group::try_go_with`] take the spawn function instead: under tokio, pass
//! `|m| drop(tokio::spawn(m))`.
//!
//! # Panics
//!
//! x/sync briefly made `Wait` re-panic with a member's panic (golang/go
//! #53757) and reverted it (June 2025) because that delays a crash
//! arbitrarily; its current behaviour is Go's default: the panic crashes
//! the program at once. goro keeps both halves: a panicking member's
//! goroutine panics as any goroutine does (under the default
//! `PanicPolicy::Abort` the runtime stops at once and `block_on` reports
//! it), and, so that nothing hangs or is swallowed where the panic does not
//! stop the program (`PanicPolicy::Ignore`, other executors, threads), the
//! group records it, cancels its context as an error would, and
//! [`wait`](Group::wait) panics with the same message once every member has
//! ended. A panic is reported ahead of any error.
//!
//! # Locking
//!
//! `state` guards the count, the first error, the panic message and the
//! channels; no user code and no await happens under it.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use goro_chan::Chan;

use crate::catch_unwind::{message, CatchUnwind};
use crate::context::{self, CancelCauseFunc, Context};

/// A member of a group as handed to the spawn function of
/// [`Group::go_with`]: run it to completion on any executor.
///
/// ```
/// let m: goro_sync::errgroup::Member = Box::pin(async {});
/// futures::executor::block_on(m);
/// ```
pub type Member = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// A group of goroutines working on subtasks of one task (Go:
/// `errgroup.Group`). `Clone` shares the group.
///
/// [`go`](Group::go) starts members as goroutines (see its example); with
/// [`go_with`](Group::go_with) any executor's spawn will do:
///
/// ```
/// use goro_sync::errgroup::{Group, Member};
/// let spawn = |m: Member| drop(std::thread::spawn(move || futures::executor::block_on(m)));
/// futures::executor::block_on(async {
///     let g = Group::<String>::new();
///     for i in 0..3 {
///         g.go_with(async move { if i == 1 { Err(format!("task {i} failed")) } else { Ok(()) } }, spawn)
///             .await;
///     }
///     assert_eq!(g.wait().await, Err("task 1 failed".to_string()));
/// });
/// ```
pub struct Group<E> {
    inner: Arc<Inner<E>>,
}

struct Inner<E> {
    /// Cancels the context of `with_context` (set once).
    cancel: Option<CancelCauseFunc>,
    state: Mutex<State<E>>,
}

struct State<E> {
    /// Members started and not yet ended.
    active: usize,
    /// Closed when `active` drops to zero; made by the first waiter.
    idle: Option<Chan<()>>,
    /// The first error, until a `wait` takes it.
    err: Option<E>,
    /// Whether an error was ever recorded (only the first counts).
    failed: bool,
    /// The first panic's message.
    panic: Option<String>,
    /// The limit's tokens; `None`: no limit.
    sem: Option<Chan<()>>,
}

impl<E> Clone for Group<E> {
    fn clone(&self) -> Self {
        Group {
            inner: self.inner.clone(),
        }
    }
}

impl<E: Send + 'static> Default for Group<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E> fmt::Debug for Group<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.inner.lock();
        f.debug_struct("Group")
            .field("active", &st.active)
            .field("failed", &st.failed)
            .field("limit", &st.sem.as_ref().map(Chan::cap))
            .finish_non_exhaustive()
    }
}

impl<E> Inner<E> {
    fn lock(&self) -> MutexGuard<'_, State<E>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<E: Send + 'static> Group<E> {
    fn with_cancel(cancel: Option<CancelCauseFunc>) -> Self {
        Group {
            inner: Arc::new(Inner {
                cancel,
                state: Mutex::new(State {
                    active: 0,
                    idle: None,
                    err: None,
                    failed: false,
                    panic: None,
                    sem: None,
                }),
            }),
        }
    }

    /// An empty group with no limit and no context (Go's zero `Group`).
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// let g = goro_sync::errgroup::Group::<std::io::Error>::new();
    /// assert!(g.wait().await.is_ok());
    /// # });
    /// ```
    pub fn new() -> Self {
        Self::with_cancel(None)
    }

    /// A group and a context derived from `ctx` that is cancelled the
    /// first time a member returns an error or panics, or when
    /// [`wait`](Group::wait) returns (or the group is dropped), whichever
    /// comes first (Go: `errgroup.WithContext`). Its
    /// [`cause`](context::cause) is [`context::Error::Canceled`] after an
    /// error (Go's is the error itself; `E` need not be an error type here)
    /// and the panic's message after a panic.
    ///
    /// ```
    /// use goro_sync::{context, errgroup::{Group, Member}};
    /// let spawn = |m: Member| drop(std::thread::spawn(move || futures::executor::block_on(m)));
    /// futures::executor::block_on(async {
    ///     let (g, ctx) = Group::<&str>::with_context(&context::background());
    ///     let c = ctx.clone();
    ///     // This member waits for a sibling's error to cancel the context.
    ///     g.go_with(async move { c.done().recv().await; Ok(()) }, spawn).await;
    ///     g.go_with(async { Err("boom") }, spawn).await;
    ///     assert_eq!(g.wait().await, Err("boom"));
    ///     assert!(ctx.err().is_some());
    /// });
    /// ```
    #[track_caller]
    pub fn with_context(ctx: &Context) -> (Self, Context) {
        let (ctx, cancel) = context::with_cancel_cause(ctx);
        (Self::with_cancel(Some(cancel)), ctx)
    }

    /// Starts `fut` as a member of the group, handing it to `spawn` to run
    /// concurrently (a new goroutine, task or thread), after first parking
    /// while the group is at its limit (Go: `g.Go(f)`). The first member to
    /// return an error sets the group's error and cancels its context.
    /// Cancel-safe: dropped while parked, it started nothing.
    ///
    /// [`go`](Group::go) is this with goro's spawn; under tokio, pass
    /// `|m| drop(tokio::spawn(m))` to run members as tokio tasks.
    ///
    /// ```
    /// use goro_sync::errgroup::{Group, Member};
    /// // Any executor's spawn will do; here each member gets a thread.
    /// let spawn = |m: Member| drop(std::thread::spawn(move || futures::executor::block_on(m)));
    /// futures::executor::block_on(async {
    ///     let g = Group::<String>::new();
    ///     g.set_limit(1);
    ///     for i in 0..3 {
    ///         // parks while the previous member runs
    ///         g.go_with(async move { if i == 1 { Err(format!("task {i} failed")) } else { Ok(()) } }, spawn)
    ///             .await;
    ///     }
    ///     assert_eq!(g.wait().await, Err("task 1 failed".to_string()));
    /// });
    /// ```
    pub fn go_with<'a, F, S>(&'a self, fut: F, spawn: S) -> impl Future<Output = ()> + Send + 'a
    where
        F: Future<Output = Result<(), E>> + Send + 'static,
        S: FnOnce(Member) + Send + 'a,
    {
        let sem = self.inner.lock().sem.clone();
        async move {
            if let Some(sem) = &sem {
                sem.send(()).await;
            }
            spawn(self.member(fut, sem));
        }
    }

    /// Starts `fut` as [`go_with`](Group::go_with) does if the group is
    /// below its limit, and returns true; returns false (dropping `fut`) if
    /// it is at its limit (Go: `g.TryGo(f)`).
    ///
    /// ```
    /// use goro_sync::errgroup::{Group, Member};
    /// let spawn = |m: Member| drop(std::thread::spawn(move || futures::executor::block_on(m)));
    /// let g = Group::<()>::new();
    /// g.set_limit(1);
    /// let gate = goro_chan::make::<()>(0);
    /// let r = gate.clone();
    /// assert!(g.try_go_with(async move { r.recv().await; Ok(()) }, spawn));
    /// assert!(!g.try_go_with(async { Ok(()) }, spawn));
    /// gate.close();
    /// assert!(futures::executor::block_on(g.wait()).is_ok());
    /// ```
    pub fn try_go_with<F, S>(&self, fut: F, spawn: S) -> bool
    where
        F: Future<Output = Result<(), E>> + Send + 'static,
        S: FnOnce(Member),
    {
        let sem = self.inner.lock().sem.clone();
        if let Some(s) = &sem {
            if s.try_send(()).is_err() {
                return false;
            }
        }
        spawn(self.member(fut, sem));
        true
    }

    /// Starts `fut` as a member in a new goroutine, after first parking
    /// while the group is at its limit (Go: `g.Go(f)`): [`go_with`](Group::go_with)
    /// with goro's spawn, recording this call as the goroutine's spawn site.
    /// Off a goro runtime each member runs on a thread of its own.
    ///
    /// ```
    /// use goro_sync::errgroup::Group;
    /// // Off a goro runtime each member gets a thread; inside `goro::run`
    /// // the same code starts goroutines.
    /// futures::executor::block_on(async {
    ///     let g = Group::<String>::new();
    ///     for i in 0..3 {
    ///         g.go(async move { if i == 1 { Err(format!("task {i} failed")) } else { Ok(()) } })
    ///             .await;
    ///     }
    ///     assert_eq!(g.wait().await, Err("task 1 failed".to_string()));
    /// });
    /// ```
    #[track_caller]
    pub fn go<F>(&self, fut: F) -> impl Future<Output = ()> + Send + '_
    where
        F: Future<Output = Result<(), E>> + Send + 'static,
    {
        let at = std::panic::Location::caller();
        self.go_with(fut, move |m| goro_hook::spawn_at(m, at))
    }

    /// Starts `fut` as [`go`](Group::go) does if the group is below its
    /// limit, and returns true; returns false (dropping `fut`) if it is at
    /// its limit (Go: `g.TryGo(f)`).
    ///
    /// ```
    /// use goro_sync::errgroup::Group;
    /// futures::executor::block_on(async {
    ///     let g = Group::<()>::new();
    ///     g.set_limit(1);
    ///     let gate = goro_chan::make::<()>(0);
    ///     let r = gate.clone();
    ///     assert!(g.try_go(async move { r.recv().await; Ok(()) }));
    ///     assert!(!g.try_go(async { Ok(()) }));
    ///     gate.close();
    ///     assert!(g.wait().await.is_ok());
    /// });
    /// ```
    #[track_caller]
    pub fn try_go<F>(&self, fut: F) -> bool
    where
        F: Future<Output = Result<(), E>> + Send + 'static,
    {
        let at = std::panic::Location::caller();
        self.try_go_with(fut, move |m| goro_hook::spawn_at(m, at))
    }

    /// Counts a member in and wraps `fut` as its body: record its error or
    /// panic, and end the membership however it ends.
    fn member<F>(&self, fut: F, sem: Option<Chan<()>>) -> Member
    where
        F: Future<Output = Result<(), E>> + Send + 'static,
    {
        self.inner.lock().active += 1;
        let member = Membership {
            inner: self.inner.clone(),
            sem,
        };
        Box::pin(async move {
            // Ends the membership however the future ends (returns,
            // panics, or is dropped with its executor).
            let member = member;
            match CatchUnwind(fut).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => member.inner.fail(e),
                Err(payload) => {
                    member.inner.panicked(message(&payload));
                    drop(member);
                    std::panic::resume_unwind(payload);
                }
            }
        })
    }

    /// Limits the group to `n` members running at once; a negative `n`
    /// removes the limit (Go: `g.SetLimit(n)`).
    ///
    /// # Panics
    ///
    /// If members are running: "errgroup: modify limit while N goroutines
    /// in the group are still active" (Go's text).
    ///
    /// ```
    /// let g = goro_sync::errgroup::Group::<()>::new();
    /// g.set_limit(2);
    /// g.set_limit(-1);
    /// ```
    pub fn set_limit(&self, n: isize) {
        let mut st = self.inner.lock();
        if let Some(sem) = &st.sem {
            let held = sem.len();
            if held != 0 {
                drop(st);
                panic!(
                    "errgroup: modify limit while {held} goroutines in the group are still active"
                );
            }
        }
        st.sem = usize::try_from(n).ok().map(goro_chan::make);
    }

    /// Waits until every member has ended, then returns the first error
    /// (Go: `g.Wait()`); cancels the group's context. The error is handed
    /// to the first `wait` that returns; later ones return `Ok(())`.
    /// Cancel-safe.
    ///
    /// # Panics
    ///
    /// If a member panicked, with that panic's message (see the module
    /// docs).
    ///
    /// ```
    /// use goro_sync::errgroup::{Group, Member};
    /// let g = Group::<u32>::new();
    /// assert!(g.try_go_with(async { Err(7) }, |m: Member| drop(std::thread::spawn(move || futures::executor::block_on(m)))));
    /// assert_eq!(futures::executor::block_on(g.wait()), Err(7));
    /// ```
    pub async fn wait(&self) -> Result<(), E> {
        loop {
            let idle = {
                let mut st = self.inner.lock();
                if st.active == 0 {
                    break;
                }
                st.idle.get_or_insert_with(|| goro_chan::make(0)).receiver()
            };
            idle.recv().await;
        }
        if let Some(cancel) = &self.inner.cancel {
            cancel();
        }
        let mut st = self.inner.lock();
        if let Some(msg) = st.panic.clone() {
            drop(st);
            std::panic::panic_any(msg);
        }
        st.err.take().map_or(Ok(()), Err)
    }
}

impl<E> Inner<E> {
    /// Records `e` if it is the group's first error, and cancels.
    fn fail(&self, e: E) {
        let mut st = self.lock();
        if st.failed {
            return;
        }
        st.failed = true;
        st.err = Some(e);
        drop(st);
        if let Some(cancel) = &self.cancel {
            cancel();
        }
    }

    /// Records a member's panic (the first one's message), and cancels.
    fn panicked(&self, msg: String) {
        self.lock().panic.get_or_insert_with(|| msg.clone());
        if let Some(cancel) = &self.cancel {
            cancel.cancel_with(msg);
        }
    }
}

/// One running member; dropping it ends the membership.
struct Membership<E> {
    inner: Arc<Inner<E>>,
    /// The limit's channel this member holds a token of.
    sem: Option<Chan<()>>,
}

impl<E> Drop for Membership<E> {
    fn drop(&mut self) {
        if let Some(sem) = &self.sem {
            let _ = sem.try_recv();
        }
        let idle = {
            let mut st = self.inner.lock();
            st.active -= 1;
            if st.active == 0 {
                st.idle.take()
            } else {
                None
            }
        };
        if let Some(idle) = idle {
            idle.close();
        }
    }
}
