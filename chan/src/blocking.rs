//! Running a channel future to completion on a plain thread by parking it.
//!
//! Go: a goroutine blocked in `gopark`; here the OS thread is the goroutine.
//!
//! # Design
//!
//! Each thread has one cached waker (allocated on its first blocking call)
//! that unparks it, so blocking calls allocate nothing in steady state. A
//! `notified` flag makes wake-before-park safe. Nested blocking calls on one
//! thread (a blocking call inside a future polled by another) re-arm the
//! flag on exit so the outer call re-polls.
//!
//! # Memory ordering
//!
//! `wake` stores `notified` with Release; the parking thread swaps it with
//! Acquire, so it sees everything the waker published before waking.

use std::future::Future;
#[cfg(not(goro_loom))]
use std::pin::pin;
#[cfg(not(goro_loom))]
use std::task::{Context, Poll};

#[cfg(not(goro_loom))]
mod imp {
    use std::cell::Cell;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::task::{Wake, Waker};
    use std::thread::{self, Thread};

    use goro_hook as hook;

    /// Unparks one thread.
    pub(super) struct ThreadNotify {
        thread: Thread,
        notified: AtomicBool,
        /// The thread as an outside participant of the deadlock check
        /// (`None` on a runtime thread): then its wake-up flag lives there,
        /// together with "parked in a goro operation".
        outside: Option<hook::OutsideThread>,
    }

    impl Wake for ThreadNotify {
        fn wake(self: Arc<Self>) {
            self.wake_by_ref();
        }
        fn wake_by_ref(self: &Arc<Self>) {
            match &self.outside {
                // Awake from now on, before the thread even runs.
                Some(o) => o.wake(),
                // Release: pairs with the Acquire swap in `park`.
                None => self.notified.store(true, Ordering::Release),
            }
            self.thread.unpark();
        }
    }

    pub(super) struct Local {
        pub(super) notify: Arc<ThreadNotify>,
        pub(super) waker: Waker,
        pub(super) depth: Cell<usize>,
    }

    thread_local! {
        pub(super) static LOCAL: Local = {
            let notify = Arc::new(ThreadNotify {
                thread: thread::current(),
                notified: AtomicBool::new(false),
                outside: hook::note_outside_thread(),
            });
            Local { waker: Waker::from(notify.clone()), notify, depth: Cell::new(0) }
        };
    }

    impl Local {
        pub(super) fn park(&self) {
            if let Some(o) = &self.notify.outside {
                // Blocked in a goro operation until woken (see
                // `hook::OutsideThread`).
                while o.prepare_park() {
                    thread::park();
                }
                return;
            }
            // Acquire: pairs with the Release store in `wake_by_ref`.
            while !self.notify.notified.swap(false, Ordering::Acquire) {
                thread::park();
            }
        }
        pub(super) fn rearm(&self) {
            match &self.notify.outside {
                Some(o) => o.wake(),
                // Relaxed: only this thread reads it next, in `park`.
                None => self.notify.notified.store(true, Ordering::Relaxed),
            }
        }
    }
}

/// Polls `fut` to completion, parking the current thread while it is pending.
#[cfg(not(goro_loom))]
pub fn block_on<F: Future>(fut: F) -> F::Output {
    let mut fut = pin!(fut);
    imp::LOCAL.with(|local| {
        local.depth.set(local.depth.get() + 1);
        struct Exit<'a>(&'a imp::Local);
        impl Drop for Exit<'_> {
            fn drop(&mut self) {
                let d = self.0.depth.get() - 1;
                self.0.depth.set(d);
                if d > 0 {
                    self.0.rearm();
                }
            }
        }
        let _exit = Exit(local);
        let mut cx = Context::from_waker(&local.waker);
        loop {
            if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
                return v;
            }
            local.park();
        }
    })
}

/// Polls `fut` to completion under loom's scheduler.
#[cfg(goro_loom)]
pub fn block_on<F: Future>(fut: F) -> F::Output {
    loom::future::block_on(fut)
}
