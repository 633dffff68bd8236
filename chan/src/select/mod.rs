//! The select engine behind `goro::select!` and `goro::select_blocking!`.
//!
//! Go: `runtime/select.go` (`selectgo`). The macro turns each operand into a
//! case with [`into_case!`], passes them to `select` (an `unsafe fn`: its
//! future must never be leaked; the macro is its safe interface) or
//! [`select_blocking`], and takes the winner's value with
//! [`CaseOutput::take_output`]; see `docs/design/select-expansion.md`.
//!
//! ```
//! use goro_chan::select::{into_case, select, CaseOutput, SelectCase};
//! let (a, b) = (goro_chan::make::<i32>(1), goro_chan::make::<&str>(1));
//! a.try_send(1).unwrap();
//! futures::executor::block_on(async {
//!     let mut c0 = into_case!(a.recv());
//!     let mut c1 = into_case!(b.send("x"));
//!     // SAFETY: the select future is awaited here: completed or dropped, never leaked.
//!     let i = unsafe { select(&mut [&mut c0 as &mut dyn SelectCase, &mut c1 as &mut dyn SelectCase], false) }.await;
//!     match i {
//!         Some(0) => assert_eq!(c0.take_output(), Some(1)),
//!         Some(1) => { c1.take_output(); assert_eq!(b.try_recv(), Ok("x")) }
//!         _ => unreachable!(),
//!     }
//! });
//! ```
//!
//! # Design
//!
//! Passes and the commit protocol: see [`engine`]. Cases: [`RecvCase`],
//! [`SendCase`] (each embeds its waiter node), [`FutureCase`].
//!
//! # Invariants
//!
//! Exactly one case commits; a send case not chosen sends nothing, a receive
//! case not chosen takes nothing; nil-channel cases are never ready; `default`
//! is taken only when no case is ready; a send on a closed channel is ready
//! and panics "send on closed channel" when chosen.

mod blocking;
mod case;
mod chan_case;
pub mod engine;
mod future_case;
mod inline_vec;
mod into_case;
mod order;

pub use crate::__into_case as into_case;
#[doc(hidden)]
pub use crate::cell::SelCell;
pub use blocking::{block_forever, block_forever_blocking, BlockForever};
pub use case::{BlockingCase, CaseOutput, SelectCase};
#[doc(hidden)]
pub use case::{CaseKind, ChanLock, Finished, ParkedVia, StillQueued, TryLocked};
pub use chan_case::{RecvCase, SendCase};
pub use engine::{select, select_blocking, Select};
pub use future_case::FutureCase;
pub use inline_vec::INLINE_CASES;

/// Autoref-specialisation helpers used by [`into_case!`].
#[doc(hidden)]
pub mod __spec {
    pub use super::into_case::{
        ChanKind, ChanTag, FutureKind, FutureOperand, FutureTag, IntoChanCase, Wrap,
    };
}
