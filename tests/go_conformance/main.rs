//! Go's own select tests, ported one module per Go file.
//!
//! Sources: `test/chan/*.go` and `src/runtime/chan_test.go` of the Go
//! repository (<https://github.com/golang/go>), BSD-licensed. Each module
//! names its origin and lists what is ported, what is not, and why. Where Go
//! sleeps or spins to let other goroutines reach a state, the port either
//! checks that state deterministically (polling a future once) or keeps Go's
//! bounded retry loop with `yield_now` instead of a sleep.
//!
//! Not ported as modules: `select5.go` is a generator that writes and runs
//! Go programs (its cases are covered by `select3` and `tests/select_semantics.rs`);
//! the channel-only `test/chan` files (fifo, goroutines, nonblock, sieve1,
//! zerosize) and the select-free tests of `runtime/chan_test.go` are ported
//! once, in goro-chan's own suite, `chan/tests/go_conformance/`, where they
//! also run under tokio and on plain threads (`nonblock.go`'s non-blocking
//! operations are `try_send`/`try_recv` there); `perm.go` is a compile-error test (Rust's
//! `Sender`/`Receiver` types enforce it) and `powser*.go` are not ported yet.

#[path = "../common/mod.rs"]
mod common;

mod chan_test;
mod doubleselect;
mod select;
mod select2;
mod select3;
mod select4;
mod select6;
mod select7;
mod select8;
mod sendstmt;
