//! `errgroup::Group::go` and `try_go` (x/sync's `g.Go(f)`, `g.TryGo(f)`):
//! starting a member needs the runtime's spawn, which `goro-sync` does not
//! depend on, so they live here as an extension trait over the group's
//! `go_with`/`try_go_with` (as `WaitGroupExt` does for `WaitGroup::go`).

use std::future::Future;

use goro_sync::errgroup::Group;

/// Go's `g.Go(f)` and `g.TryGo(f)` for [`Group`]: each member runs as a new
/// goroutine of the current goro runtime (they must be called on one, as
/// [`goro::spawn`](crate::spawn)). Under another executor use
/// [`Group::go_with`] with its spawn.
///
/// ```
/// use goro::sync::errgroup::{Group, GroupExt};
/// goro::run(async {
///     let (g, ctx) = Group::<String>::with_context(&goro::context::background());
///     for i in 0..10 {
///         let ctx = ctx.clone();
///         g.go(async move {
///             if i == 3 {
///                 return Err(format!("task {i} failed"));
///             }
///             ctx.done().recv().await; // the others wait for the first error
///             Ok(())
///         })
///         .await;
///     }
///     assert_eq!(g.wait().await, Err("task 3 failed".to_string()));
/// });
/// ```
pub trait GroupExt<E> {
    /// Starts `fut` in a new goroutine as a member of the group, first
    /// parking while the group is at its limit; see [`Group::go_with`].
    ///
    /// See the [trait-level example](GroupExt).
    fn go<F>(&self, fut: F) -> impl Future<Output = ()> + Send + '_
    where
        F: Future<Output = Result<(), E>> + Send + 'static;

    /// Starts `fut` in a new goroutine if the group is below its limit and
    /// returns true; else returns false; see [`Group::try_go_with`].
    ///
    /// ```
    /// use goro::sync::errgroup::{Group, GroupExt};
    /// goro::run(async {
    ///     let g = Group::<()>::new();
    ///     g.set_limit(0);
    ///     assert!(!g.try_go(async { Ok(()) }));
    /// });
    /// ```
    fn try_go<F>(&self, fut: F) -> bool
    where
        F: Future<Output = Result<(), E>> + Send + 'static;
}

impl<E: Send + 'static> GroupExt<E> for Group<E> {
    fn go<F>(&self, fut: F) -> impl Future<Output = ()> + Send + '_
    where
        F: Future<Output = Result<(), E>> + Send + 'static,
    {
        self.go_with(fut, |m| drop(crate::spawn(m)))
    }

    fn try_go<F>(&self, fut: F) -> bool
    where
        F: Future<Output = Result<(), E>> + Send + 'static,
    {
        self.try_go_with(fut, |m| drop(crate::spawn(m)))
    }
}
