//! `select! {}`: blocking forever (Go: `select {}`, wait reason
//! "select (no cases)").

use std::convert::Infallible;
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::task::{Context, Poll};

use goro_hook::{self as hook, WaitReason};

/// Future of [`block_forever`]: never completes.
///
/// ```
/// use std::future::Future;
/// use std::task::{Context, Waker};
/// let mut f = std::pin::pin!(goro_chan::select::block_forever());
/// assert!(f.as_mut().poll(&mut Context::from_waker(Waker::noop())).is_pending());
/// ```
#[derive(Debug)]
#[must_use = "futures do nothing unless polled"]
pub struct BlockForever {
    at: &'static Location<'static>,
}

/// Go's `select {}`: a future that never completes (records the call site as
/// parked in "select (no cases)").
///
/// ```
/// let _never = goro_chan::select::block_forever(); // `.await` would block forever
/// ```
#[track_caller]
pub fn block_forever() -> BlockForever {
    BlockForever {
        at: Location::caller(),
    }
}

impl Future for BlockForever {
    type Output = Infallible;

    fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Infallible> {
        hook::note_park(WaitReason::SelectNoCases, self.at, None);
        Poll::Pending
    }
}

/// Go's `select {}` on a plain thread: parks the thread forever.
///
/// ```no_run
/// std::thread::spawn(|| goro_chan::select::block_forever_blocking());
/// ```
pub fn block_forever_blocking() -> ! {
    // Asleep for good, as far as the deadlock check is concerned.
    let outside = hook::note_outside_thread();
    loop {
        if let Some(o) = &outside {
            o.prepare_park();
        }
        std::thread::park();
    }
}
