//! Go's `sync` tests (and x/sync's semaphore tests), ported one module per Go
//! file, running on a goro runtime with two workers.
//!
//! Sources: `src/sync/{mutex,waitgroup,rwmutex,cond,once,oncefunc}_test.go`
//! of the Go repository (<https://github.com/golang/go>) and
//! `semaphore/semaphore_test.go` of <https://go.googlesource.com/sync>,
//! BSD-licensed. Each module names what is ported and what is not. Go's
//! `-short` iteration counts are used. Where Go sleeps inside a lock holder
//! (`TestMutexFairness`), the sleep is the workload under test and is kept
//! (as `goro::time::sleep`); no test sleeps to synchronise.

#[path = "../common/mod.rs"]
mod common;

mod cond_test;
mod mutex_test;
mod once_test;
mod rwmutex_test;
mod semaphore_test;
mod waitgroup_test;
