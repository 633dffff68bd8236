//! Ports of Go's own channel tests, one module per Go file, each naming its
//! origin.
//!
//! Goroutines are played by OS threads, by tasks of `futures`' single-threaded
//! `LocalPool` (for thousands of goroutines), or by tokio tasks; Go's
//! `time.Sleep` used to "let the other goroutine block" is replaced by polling
//! a future by hand (deterministic, no sleeping). Selects are built with the
//! select engine directly (`goro_chan::select`), since the `select!` macro
//! lives in another crate.
//!
//! Ported:
//! - `test/chan/fifo.go`: [`fifo`]
//! - `test/chan/goroutines.go`: [`goroutines`]
//! - `test/chan/nonblock.go`: [`nonblock`] (the non-blocking ops are
//!   `try_send`/`try_recv`, Go's one-case select with default)
//! - `test/chan/sieve1.go`: [`sieve1`]
//! - `test/chan/zerosize.go`: [`zerosize`]
//! - `src/runtime/chan_test.go`: [`chan_test`]: its channel tests `TestChan`,
//!   `TestNonblockRecvRace`, `TestMultiConsumer` (its select tests are ported
//!   once, with the `select!` macro, in the workspace's
//!   `tests/go_conformance/chan_test.rs`).
//!
//! Not ported:
//! - `test/chan/powser1.go`, `powser2.go` (power series; long programs that
//!   exercise nothing beyond what `sieve1` and `TestMultiConsumer` cover),
//! - `test/chan/select*.go`, `doubleselect.go`, `sendstmt.go` and the select
//!   tests of `chan_test.go`: they need the `select!` macro's syntax and are
//!   ported in the workspace's `tests/go_conformance/`,
//! - `TestShrinkStackDuringBlockedSend` (Go stack shrinking; no analogue),
//!   the `chan_test.go` benchmarks (see `chan/benches`), and the tests about
//!   the Go scheduler or GC.
//!
//! Iteration counts are Go's `testing.Short()` values where Go has them, so
//! the suite stays quick on a loaded 2-core machine.

mod chan_test;
mod fifo;
mod goroutines;
mod nonblock;
mod sieve1;
mod util;
mod zerosize;
