//! goro-hook: the one seam between goro's primitives (channels, `sync`,
//! timers) and the executor that runs them.
//!
//! A primitive that is about to return `Poll::Pending` calls [`note_park`]
//! to say *why* the current goroutine parks, *where* (the user's call site),
//! and *on what*; an operation that may complete without waiting first asks
//! [`poll_budget`]; `select!` draws its case order from [`rand_below`]. The
//! goro runtime records the park in its goroutine registry, so the dump, the
//! deadlock detector and the leak checker can report it. Being woken needs
//! no call: the runtime notes "running" when it polls the goroutine again.
//!
//! The executor side is one type, [`PollScope`]: the runtime creates one on
//! its stack per goroutine poll and polls inside [`PollScope::enter`]. Every
//! hook is a thread-local load and a few `Cell` accesses; with no scope
//! entered (under tokio, any other executor, or on plain threads) every hook
//! is a cheap no-op or a plain default, so the primitives work unchanged
//! there.
//!
//! This crate depends on `std` only and keeps a small API, as `log` and
//! `futures-core` do, so that one version serves a whole build: two copies
//! of it would send park notes nowhere.
//!
//! ```
//! use std::task::Waker;
//! use goro_hook::{note_park, PollScope, WaitReason};
//!
//! // A primitive, about to return `Pending`:
//! #[track_caller]
//! fn park_on_sleep() {
//!     note_park(WaitReason::Sleep, std::panic::Location::caller(), None);
//! }
//!
//! // The executor, polling goroutine 7:
//! let scope = PollScope::new(7, Waker::noop());
//! scope.enter(park_on_sleep);
//! assert_eq!(scope.park().unwrap().reason.to_string(), "sleep");
//! ```
//!
//! Go: the `waitReason` argument of `runtime.gopark`, `getg()`, and the
//! scheduler's preemption of a goroutine that runs too long.

/// Whether handle-ownership tracking is compiled in: `true` unless goro is
/// built with `RUSTFLAGS="--cfg goro_no_tracking"`.
///
/// The tracking is what proves a goroutine parked forever on a channel
/// *while the program runs* (every live handle of the channel lies inside
/// the goroutines parked on it) and what names the other end in a report
/// ("the last other handle was dropped by goroutine 7"). Its cost: per
/// channel operation or handle clone on a goroutine, one thread-local
/// `Cell` store; per handle drop, a thread-local lookup and two relaxed
/// stores; per channel made, a record from a thread-local cache, and per
/// channel freed, one `SeqCst` fence. Compiled out, none of that is paid
/// and those proofs are gone; everything else stays: the goroutine
/// registry and `dump()`, the global deadlock check, leak checks at test
/// end (the closed-world rule), and "forever" for a goroutine parked on a
/// sync primitive inside its own future.
///
/// ```
/// if goro_hook::HANDLE_TRACKING {
///     // `leak::find_stuck()` may prove channel waits while the program runs.
/// }
/// ```
pub const HANDLE_TRACKING: bool = !cfg!(goro_no_tracking);

mod loom;
mod object;
mod outside;
mod reason;
mod record;
mod rng;
mod scope;
mod timer;
mod watch;

pub use object::{ObjectDetail, WaitObject};
pub use outside::{
    enter_runtime_thread, note_outside_thread, note_primitive_use, outside_threads_awake,
    OutsideThread, RuntimeThreadGuard,
};
pub use reason::WaitReason;
pub use record::{inspect, Inspection, RecordKey, RecordSlot};
pub use scope::{
    current_goroutine, note_chan_park, note_chan_use, note_handle_use, note_park, note_select_park,
    poll_budget, poll_budget_noting_use, rand_below, HandleNote, ParkNote, PollScope, SelectNote,
    SELECT_NOTE_CASES,
};
pub use timer::{
    enter_timer_driver, spawn_at, spawn_detached, BoxFuture, TimerAction, TimerDriver,
    TimerDriverGuard, TimerEntry,
};
pub use watch::{clone_waker, own_clones, WakerWatch, Watched};
