//! goro-macros: `select!`, `select_blocking!`, `#[goro::main]`, `#[goro::test]`.
//!
//! Use these through the facade crate (`goro::select!`, `#[goro::main]`, ...):
//! the generated code names `::goro::__private`, where the facade re-exports
//! the select engine of `goro-chan` and the entry points of `goro-runtime`.
//! This crate knows nothing about channels or the scheduler; the code it
//! generates follows `docs/design/select-expansion.md` (the differences are
//! listed in the `select::expand` module).
//!
//! Go: the `select` statement, `func main`, and `testing` test functions.

mod entry;
mod select;

use proc_macro::TokenStream;

/// Waits on several channel operations or futures at once and runs the body of
/// the one that completes: Go's `select` statement.
///
/// ```
/// use goro::chan::{make, Chan};
///
/// # futures::executor::block_on(async {
/// let ch = make::<i32>(1);        // a receive case, by method call
/// let rx = make::<i32>(1);        // a receive case on a bare channel
/// let ch2 = make::<&str>(1);      // a send case
/// ch.send(1).await;
///
/// let got = goro::select! {
///     v = ch.recv() => v,                       // v: Option<i32>
///     v = rx => v,                              // Go's `case v, ok := <-rx`
///     ch2.send("hi") => Some(-1),               // runs once "hi" was delivered
///     (a, b) = async { (2, 3) } => Some(a + b), // any future
/// };
/// // `ch` and the send were ready at once, the future too: one of them ran.
/// assert!(matches!(got, Some(1) | Some(-1) | Some(5)));
///
/// // `default` runs when nothing else is ready right now.
/// let idle = make::<i32>(0);
/// let got = goro::select! {
///     v = idle => v,
///     default => None,
/// };
/// assert_eq!(got, None);
/// # });
/// ```
///
/// `select!` is an expression containing an `.await`, so it can only be used
/// inside `async` code (use [`select_blocking!`] on plain threads).
///
/// # Cases
///
/// - `pat = operand => body` runs `body` with the case's output bound to
///   `pat`, which may be any irrefutable pattern (`v`, `_`, `(a, b)`, ...),
///   optionally with a type as in `let` (`v: Option<u8> = rx => ..`).
///   `operand => body` ignores the output (typical for a send).
/// - A **receive** case is `ch.recv()` or a bare `Chan`/`Receiver` (or a
///   reference to one); its output is `Option<T>`, `None` meaning closed and
///   drained (Go's `v, ok := <-ch` with `ok == false`).
/// - A **send** case is `ch.send(v)`; its output is `()`. A send case that is
///   not chosen sends nothing (`v` is dropped); a send on a closed channel
///   counts as ready and panics with `send on closed channel` if chosen, as in
///   Go.
/// - Any other **future** is ready when it completes; its output is the
///   future's output.
/// - `default => body` (at most one, anywhere in the list) runs when no other
///   case is ready at the moment of choice. A `select!` with only `default`
///   just runs it.
/// - `select! {}` never completes (Go's `select {}`); its type is any type.
///
/// Commas between cases are optional after a block body (or an `if`, `match`,
/// `loop`, `while`, `for`, `unsafe` block); a body that is any other expression
/// must be followed by a comma unless it is the last case.
///
/// # Operands
///
/// Operands and the values of send cases are evaluated once, in source order,
/// when the `select!` starts. An operand that is a plain path, field or index
/// (`rx`, `self.rx`, `st.chans.0`, `chans[i]`) is taken **by reference**, so a channel
/// kept in a variable is not moved and can be selected on in a loop. Any other
/// expression (`ch.recv()`, a call, `&mut fut`, `(fut)`, a block) is taken
/// **by value**. So a future held in a variable is written `&mut fut` (to
/// resume it later; it must be `Unpin`, e.g. pinned with `std::pin::pin!`) or
/// `(fut)` (to move it into the select). An operand may not borrow a
/// temporary created inside it (`make_chan().recv()`): bind the channel first.
///
/// # Semantics
///
/// Among the cases ready at the moment of choice one is chosen uniformly at
/// random (reproducible with the runtime's `rng_seed`); exactly one case
/// commits. A case on a nil channel is never ready. Every case operation is
/// finished and unregistered, and every case dropped, before the chosen body
/// runs, so a body may reassign what the operands borrowed (Go's `ch = nil`
/// idiom), and may `break`, `continue`, `return`, use `?` and `.await`. All
/// bodies have one type, the type of the `select!`.
///
/// ```
/// use goro::chan::{make, Chan};
///
/// // Go's merge loop: read both channels until both are closed, disabling
/// // each one by setting it to nil when it closes.
/// async fn merge(mut a: Chan<i32>, mut b: Chan<i32>, out: Chan<i32>) -> Result<(), String> {
///     while a != Chan::nil() || b != Chan::nil() {
///         goro::select! {
///             v = a => match v {
///                 Some(v) if v < 0 => return Err(format!("negative: {v}")),
///                 Some(v) => out.send(v).await,
///                 None => a = Chan::nil(),
///             },
///             v = b => match v {
///                 Some(v) => out.send(v).await,
///                 None => b = Chan::nil(),
///             },
///         }
///     }
///     Ok(())
/// }
///
/// # futures::executor::block_on(async {
/// let (a, b, out) = (make(2), make(2), make(4));
/// a.send(1).await;
/// b.send(2).await;
/// a.close();
/// b.close();
/// merge(a, b, out.clone()).await.unwrap();
/// assert_eq!(out.len(), 2);
/// # });
/// ```
///
/// # Errors
///
/// Malformed cases (a missing `=>`, two `default`s, a `default` with a
/// pattern, a non-block body without its comma) are compile errors pointing at
/// the offending tokens; an operand that is neither a channel operation nor a
/// future is a compile error naming the operand.
#[proc_macro]
pub fn select(input: TokenStream) -> TokenStream {
    select::select(input.into(), select::Flavor::Async).into()
}

/// [`select!`] for plain threads: blocks the current OS thread until a case is
/// ready.
///
/// Same syntax and semantics as [`select!`], but only channel cases
/// (receives, bare channels and sends) and `default` are allowed: a future
/// case is a compile error. `select_blocking! {}` blocks the thread forever
/// (its type is `!`). Do not use it inside a goroutine: it blocks the worker
/// thread, not just the goroutine.
///
/// ```
/// use goro::chan::make;
///
/// let (a, b) = (make::<u32>(0), make::<u32>(0));
/// let sender = {
///     let b = b.clone();
///     std::thread::spawn(move || b.send_blocking(7))
/// };
/// let got = goro::select_blocking! {
///     v = a => v,
///     v = b => v,
/// };
/// assert_eq!(got, Some(7));
/// sender.join().unwrap();
///
/// let got = goro::select_blocking! {
///     a.send(1) => "sent",
///     default => "nobody is receiving",
/// };
/// assert_eq!(got, "nobody is receiving");
/// ```
#[proc_macro]
pub fn select_blocking(input: TokenStream) -> TokenStream {
    select::select(input.into(), select::Flavor::Blocking).into()
}

/// Runs `async fn main` as the main goroutine of a new goro runtime.
///
/// ```
/// #[goro::main]
/// async fn main() {
///     let ch = goro::chan::make::<u32>(0);
///     let worker = {
///         let ch = ch.clone();
///         goro::spawn(async move { ch.send(42).await })
///     };
///     assert_eq!(ch.recv().await, Some(42));
///     worker.await.unwrap();
/// }
/// ```
///
/// expands to `fn main() { ::goro::__private::main_entry(async move { .. }) }`.
/// The return type is kept, so `-> Result<(), E>` and `?` work. As in Go,
/// when `main` returns the program ends and the other goroutines are dropped.
/// On an unrecovered goroutine panic (or a global deadlock, `fatal error: all
/// goroutines are asleep - deadlock!`, where the runtime detects it) the error
/// is printed and the process exits with status 2.
///
/// The function must be an `async fn` without arguments or generics;
/// anything else is a compile error. The attribute's arguments are the
/// runtime builder's knobs (`workers`, `rng_seed`, `on_goroutine_panic`,
/// `detect_deadlocks`, `thread_keep_alive`), e.g. `#[goro::main(workers = 4)]`
/// (Go: `GOMAXPROCS=4`).
#[proc_macro_attribute]
pub fn main(args: TokenStream, item: TokenStream) -> TokenStream {
    entry::entry(entry::Entry::Main, args.into(), item.into()).into()
}

/// Marks an `async fn` as a test run on a fresh goro runtime.
///
/// ```
/// #[goro::test]
/// async fn ping_pong() {
///     let ch = goro::chan::make::<u32>(1);
///     ch.send(1).await;
///     assert_eq!(ch.recv().await, Some(1));
/// }
/// # fn main() {}
/// ```
///
/// expands to `#[test] fn ping_pong() { ::goro::__private::test_entry(async move { .. }) }`.
/// The test fails when the body or a goroutine panics (and, as the runtime
/// gains them, on a global deadlock and on goroutines leaked at the end; see
/// `goro::leak`). Other attributes (`#[should_panic]`, `#[ignore]`) and a
/// `Result` return type are kept. Do not add `#[test]` yourself. Arguments
/// are the runtime builder's knobs, as for [`macro@main`]:
///
/// ```
/// #[goro::test(workers = 2)]
/// async fn on_two_workers() {
///     assert_eq!(goro::runtime::Handle::try_current().unwrap().workers(), 2);
/// }
/// # fn main() {}
/// ```
#[proc_macro_attribute]
pub fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    entry::entry(entry::Entry::Test, args.into(), item.into()).into()
}
