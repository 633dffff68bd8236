//! goro-macros: `select!`, `select_blocking!`, `#[goro::main]`, `#[goro::test]`.
//!
//! Use these through the facade crate (`goro::select!`, `#[goro::main]`, ...):
//! the generated code names `::goro::__private`, where the facade re-exports
//! the select engine of `goro-chan` and the entry points of `goro-runtime`.
//! This crate knows nothing about channels or the scheduler; the exact code it
//! generates is specified in `docs/design/select-expansion.md`.
//!
//! Go: the `select` statement, `func main`, and `testing` test functions.

mod entry;
mod select;

use proc_macro::TokenStream;

/// Waits on several channel operations or futures at once and runs the body of
/// the one that completes: Go's `select` statement.
///
/// ```text
/// goro::select! {
///     v = ch.recv() => { /* v: Option<T>; None when ch is closed and drained */ }
///     v = rx => { /* a bare Chan or Receiver (or a reference to one): Go's `case v, ok := <-rx` */ }
///     ch2.send(x) => { /* x was delivered */ }
///     r = some_future => { /* any other future: ready when it completes */ }
///     default => { /* nothing was ready */ }
/// }
/// ```
///
/// `select!` is an expression that must be `.await`ed implicitly: it can only
/// be used inside `async` code (use [`select_blocking!`] on plain threads).
///
/// # Cases
///
/// - `pat = operand => body` runs `body` with the case's output bound to
///   `pat`, which may be any irrefutable pattern (`v`, `_`, `(a, b)`, ...).
///   `operand => body` ignores the output (typical for a send).
/// - A **receive** case is `ch.recv()` or a bare `Chan`/`Receiver` (or a
///   reference to one); its output is `Option<T>`, `None` meaning closed and
///   drained (Go's `v, ok := <-ch` with `ok == false`).
/// - A **send** case is `ch.send(v)`; its output is `()`. A send case that is
///   not chosen sends nothing; a send on a closed channel counts as ready and
///   panics with `send on closed channel` if chosen, as in Go.
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
/// when the `select!` starts. An operand that is a plain path or field
/// (`rx`, `self.rx`, `st.chans.0`) is taken **by reference**, so a channel
/// kept in a variable is not moved and can be selected on in a loop. Any other
/// expression (`ch.recv()`, a call, `&mut fut`, `(fut)`, a block) is taken
/// **by value**. So a future held in a variable is written `&mut fut` (to
/// resume it later; it must be `Unpin`, e.g. pinned with `std::pin::pin!`) or
/// `(fut)` (to move it into the select).
///
/// # Semantics
///
/// Among the cases ready at the moment of choice one is chosen uniformly at
/// random (reproducible with the runtime's `rng_seed`); exactly one case
/// commits. A case on a nil channel is never ready. Every case operation is
/// finished and unregistered, and every case dropped, before the chosen body
/// runs, so a body may reassign what the operands borrowed (Go's `ch = nil`
/// idiom: `ch = Chan::nil()`), and may `break`, `continue`, `return`, use `?`
/// and `.await`. All bodies have one type, the type of the `select!`.
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
/// (its type is `!`). Do not call it from a goroutine: it blocks the worker
/// thread, not just the goroutine.
///
/// ```text
/// goro::select_blocking! {
///     v = rx => println!("received {v:?}"),
///     tx.send(1) => println!("sent"),
///     default => println!("nothing ready"),
/// }
/// ```
#[proc_macro]
pub fn select_blocking(input: TokenStream) -> TokenStream {
    select::select(input.into(), select::Flavor::Blocking).into()
}

/// Runs `async fn main` as the main goroutine of a new goro runtime.
///
/// ```text
/// #[goro::main]
/// async fn main() {
///     let ch = goro::chan::make::<u32>(0);
///     goro::go!({ let ch = ch.clone(); async move { ch.send(42).await } });
///     println!("{:?}", ch.recv().await);
/// }
/// ```
///
/// expands to `fn main() { ::goro::__private::main_entry(async move { .. }) }`.
/// The return type is kept (so `-> Result<(), E>` and `?` work). As in Go,
/// when `main` returns the program ends and the other goroutines are dropped.
/// On a global deadlock (`fatal error: all goroutines are asleep -
/// deadlock!`) or an unrecovered goroutine panic the error and the goroutine
/// dump are printed and the process exits with status 2.
///
/// The function must be an `async fn` without arguments or generics, and the
/// attribute takes no arguments.
#[proc_macro_attribute]
pub fn main(args: TokenStream, item: TokenStream) -> TokenStream {
    entry::entry(entry::Entry::Main, args.into(), item.into()).into()
}

/// Marks an `async fn` as a test run on a fresh goro runtime.
///
/// ```text
/// #[goro::test]
/// async fn ping_pong() {
///     let ch = goro::chan::make::<u32>(1);
///     ch.send(1).await;
///     assert_eq!(ch.recv().await, Some(1));
/// }
/// ```
///
/// expands to `#[test] fn ping_pong() { ::goro::__private::test_entry(async move { .. }) }`.
/// The test fails on a global deadlock, on a panicking goroutine, and on
/// goroutines still alive when the test body returns (see `goro::leak`).
/// Other attributes (`#[should_panic]`, `#[ignore]`) and a `Result` return
/// type are kept. Do not add `#[test]` yourself.
#[proc_macro_attribute]
pub fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    entry::entry(entry::Entry::Test, args.into(), item.into()).into()
}
