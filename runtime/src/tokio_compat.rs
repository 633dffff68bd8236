//! The tokio bridge: tokio-based libraries inside goroutines.
//!
//! With the `tokio-compat` feature, every thread that runs goroutines or
//! blocking jobs of a goro runtime (its workers, the thread inside
//! `block_on`, the `spawn_blocking` pool) has a tokio runtime's context
//! entered for as long as it serves the goro runtime. So `tokio::spawn`,
//! `tokio::time::sleep`, `tokio::net::TcpStream` and the libraries built on
//! them (database and RPC clients, `axum::serve`) work inside goroutines with
//! no wrapper. Without the feature this module is an empty shell: the guard
//! is zero-sized and entering does nothing.
//!
//! Which tokio runtime: the one given to `Builder::tokio`,
//! else one runtime per process, started on first use on its own thread
//! (`goro-tokio`, a current-thread runtime with its IO and time drivers).
//!
//! # Cost
//!
//! tokio's reactor is a second reactor beside goro's: a tokio socket or
//! timer is driven by the tokio runtime's thread, and its readiness reaches
//! the goroutine as a waker call from that thread (a cross-thread wake
//! through goro's injector), which costs a few microseconds more than goro's
//! own sockets and timers. `tokio::spawn` runs the task on the tokio
//! runtime's threads, not as a goroutine (it is not in goro's dump and does
//! not count for `num_goroutine`). The background runtime costs one thread
//! and one epoll instance per process. goro's own `net` and `time` do not go
//! through tokio at all, with or without the feature.
//!
//! Go: nothing to compare; Go has one runtime.
//!
//! A leaf module: it imports nothing from the rest of the crate.

use std::marker::PhantomData;

/// The tokio runtime a goro runtime's threads enter (set once at build).
#[derive(Clone, Debug, Default)]
pub(crate) struct TokioContext {
    /// The tokio runtime's handle: given to the builder, or (after
    /// `resolve`) the process-wide background runtime's.
    #[cfg(feature = "tokio-compat")]
    handle: Option<tokio::runtime::Handle>,
}

/// Keeps the tokio context entered on this thread until dropped.
pub(crate) struct EnterGuard<'a> {
    #[cfg(feature = "tokio-compat")]
    _tokio: Option<tokio::runtime::EnterGuard<'a>>,
    _not_send: PhantomData<(&'a (), *const ())>,
}

impl TokioContext {
    /// Enters the tokio context on this thread (a no-op without the
    /// feature or without a runtime).
    pub(crate) fn enter(&self) -> EnterGuard<'_> {
        EnterGuard {
            #[cfg(feature = "tokio-compat")]
            _tokio: self.handle.as_ref().map(|h| h.enter()),
            _not_send: PhantomData,
        }
    }

    /// The builder's choice: enter `handle`'s runtime.
    #[cfg(feature = "tokio-compat")]
    pub(crate) fn borrowed(handle: tokio::runtime::Handle) -> TokioContext {
        TokioContext {
            handle: Some(handle),
        }
    }

    /// At build: the builder's handle, else the background runtime's.
    pub(crate) fn resolve(self) -> std::io::Result<TokioContext> {
        #[cfg(feature = "tokio-compat")]
        if self.handle.is_none() {
            return Ok(TokioContext {
                handle: Some(background()?),
            });
        }
        Ok(self)
    }

    /// Whether a tokio runtime will be entered.
    pub(crate) fn is_set(&self) -> bool {
        #[cfg(feature = "tokio-compat")]
        return self.handle.is_some();
        #[cfg(not(feature = "tokio-compat"))]
        false
    }
}

/// The process-wide tokio runtime, started on its own thread on first use.
#[cfg(feature = "tokio-compat")]
fn background() -> std::io::Result<tokio::runtime::Handle> {
    use std::sync::Mutex;
    static BACKGROUND: Mutex<Option<tokio::runtime::Handle>> = Mutex::new(None);
    let mut slot = BACKGROUND.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(h) = &*slot {
        return Ok(h.clone());
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .thread_name("goro-tokio")
        .build()?;
    let handle = rt.handle().clone();
    std::thread::Builder::new()
        .name("goro-tokio".into())
        // The runtime's thread drives its reactor, timers and tasks for the
        // rest of the process.
        .spawn(move || rt.block_on(std::future::pending::<()>()))?;
    *slot = Some(handle.clone());
    Ok(handle)
}
