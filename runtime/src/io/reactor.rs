//! The IO reactor: one `mio::Poll`, the table of registrations, and a
//! `mio::Waker` to interrupt a blocked poll.
//!
//! Go: `runtime/netpoll.go` with `netpoll_epoll.go` (`netpollinit`,
//! `netpollopen`, `netpoll(delay)`, `netpollBreak`).
//!
//! # Design
//!
//! A registration is a [`ScheduledIo`] in a slab; its mio token packs the
//! slab index (low 24 bits) and a generation (the rest), so an event that
//! arrives for a registration freed in the meantime is recognised and
//! dropped. The token `usize::MAX` is the waker's.
//!
//! Only one thread polls at a time (`poll` is a mutex taken with `try_lock`);
//! registration, deregistration and waking go through the cloned
//! `mio::Registry` and never wait for the poller.
//!
//! # Invariants
//!
//! - A slab entry is `Some` exactly while its source is registered with mio.
//! - Waiting registrations (`waiting`) counts filled waker slots.
//!
//! # Locking
//!
//! `poll` (held while blocked in the OS) and then `slab` (never held across
//! a syscall or a wake). Wakers collected under `slab` are woken after it is
//! released.

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Waker;
use std::time::Duration;

use mio::{Events, Interest, Poll, Registry, Token};

use super::scheduled_io::{self, ScheduledIo};

/// Token reserved for the waker.
const WAKE_TOKEN: Token = Token(usize::MAX);
/// Bits of the token holding the slab index.
const INDEX_BITS: u32 = 24;
const INDEX_MASK: usize = (1 << INDEX_BITS) - 1;
/// Events fetched per poll.
const EVENTS_CAPACITY: usize = 1024;

/// The mio side of the driver.
pub(crate) struct Reactor {
    /// The poller and its event buffer; held by the one polling thread.
    poll: Mutex<(Poll, Events, Vec<Waker>)>,
    /// Registers sources without waiting for the poller.
    registry: Registry,
    /// Interrupts a blocked poll.
    waker: mio::Waker,
    /// Registrations. Protected by itself; see module docs.
    slab: Mutex<Slab>,
    /// Number of filled waker slots (goroutines waiting on IO).
    waiting: AtomicUsize,
}

#[derive(Default)]
struct Slab {
    entries: Vec<SlabEntry>,
    free: Vec<usize>,
    live: usize,
}

#[derive(Default)]
struct SlabEntry {
    generation: usize,
    io: Option<Arc<ScheduledIo>>,
}

impl Reactor {
    /// A new reactor.
    pub(crate) fn new() -> io::Result<Self> {
        let poll = Poll::new()?;
        let registry = poll.registry().try_clone()?;
        let waker = mio::Waker::new(&registry, WAKE_TOKEN)?;
        Ok(Reactor {
            poll: Mutex::new((poll, Events::with_capacity(EVENTS_CAPACITY), Vec::new())),
            registry,
            waker,
            slab: Mutex::new(Slab::default()),
            waiting: AtomicUsize::new(0),
        })
    }

    fn slab(&self) -> MutexGuard<'_, Slab> {
        self.slab.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers `source` for `interest`. Returns its state and its token.
    pub(crate) fn register(
        &self,
        source: &mut impl mio::event::Source,
        interest: Interest,
    ) -> io::Result<(Arc<ScheduledIo>, Token)> {
        let io = Arc::new(ScheduledIo::default());
        let token = {
            let mut slab = self.slab();
            let index = match slab.free.pop() {
                Some(i) => i,
                None => {
                    let i = slab.entries.len();
                    if i >= INDEX_MASK {
                        return Err(io::Error::other("too many IO registrations"));
                    }
                    slab.entries.push(SlabEntry::default());
                    i
                }
            };
            let e = &mut slab.entries[index];
            e.io = Some(io.clone());
            slab.live += 1;
            let generation = slab.entries[index].generation;
            Token((generation << INDEX_BITS) | index)
        };
        if let Err(e) = self.registry.register(source, token, interest) {
            self.release(token);
            return Err(e);
        }
        Ok((io, token))
    }

    /// Deregisters `source` and frees its token.
    pub(crate) fn deregister(&self, source: &mut impl mio::event::Source, token: Token) {
        // Deregistration fails only if the source was never registered or is
        // already closed; either way the token is freed below.
        let _ = self.registry.deregister(source);
        self.release(token);
    }

    fn release(&self, token: Token) {
        let io = {
            let mut slab = self.slab();
            let index = token.0 & INDEX_MASK;
            let Some(e) = slab.entries.get_mut(index) else {
                return;
            };
            if e.generation != token.0 >> INDEX_BITS || e.io.is_none() {
                return;
            }
            // Generations wrap within the token's upper bits; never produce
            // the waker's all-ones token.
            e.generation = (e.generation + 1) & (usize::MAX >> (INDEX_BITS + 1));
            let io = e.io.take();
            slab.free.push(index);
            slab.live -= 1;
            io
        };
        if let Some(io) = io {
            let n = io.clear_wakers();
            self.waiting.fetch_sub(n, Ordering::Relaxed);
        }
    }

    /// Counts a newly filled waker slot.
    pub(crate) fn add_waiting(&self) {
        self.waiting.fetch_add(1, Ordering::Relaxed);
    }

    /// Number of waker slots filled (goroutines waiting on IO).
    pub(crate) fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }

    /// Interrupts a blocked (or the next) [`turn`](Self::turn).
    pub(crate) fn wake(&self) {
        // Fails only if the eventfd/pipe is broken; then nothing can wake the
        // poller and the error would be reported by the next poll anyway.
        let _ = self.waker.wake();
    }

    /// Polls the OS and wakes the tasks whose IO is ready. Returns `None`
    /// (doing nothing) if another thread is polling.
    ///
    /// Once this thread owns the poller, `before` gives the timeout (the
    /// timers record that a thread is parked) and `after` runs when the OS
    /// call returns, before any waker.
    pub(crate) fn turn(
        &self,
        before: impl FnOnce() -> Option<Duration>,
        after: impl FnOnce(),
    ) -> Option<()> {
        let mut guard = self.poll.try_lock().ok()?;
        let (poll, events, wake) = &mut *guard;
        let timeout = before();
        let res = poll.poll(events, timeout);
        after();
        match res {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => panic!("goro: IO reactor poll failed: {e}"),
        }
        {
            let slab = self.slab();
            for ev in events.iter() {
                if ev.token() == WAKE_TOKEN {
                    // Only interrupts the poll; nothing to dispatch.
                    continue;
                }
                let index = ev.token().0 & INDEX_MASK;
                let Some(io) = slab
                    .entries
                    .get(index)
                    .filter(|e| e.generation == ev.token().0 >> INDEX_BITS)
                    .and_then(|e| e.io.as_ref())
                else {
                    continue;
                };
                let mut ready = 0;
                if ev.is_readable() {
                    ready |= scheduled_io::READABLE;
                }
                if ev.is_writable() {
                    ready |= scheduled_io::WRITABLE;
                }
                if ev.is_read_closed() {
                    ready |= scheduled_io::READ_CLOSED;
                }
                if ev.is_write_closed() {
                    ready |= scheduled_io::WRITE_CLOSED;
                }
                if ev.is_error() {
                    ready |= scheduled_io::ERROR;
                }
                let n = io.set_readiness(ready, wake);
                self.waiting.fetch_sub(n, Ordering::Relaxed);
            }
        }
        // Wake after releasing `slab` and `poll` (the buffer is borrowed out
        // and put back to keep its capacity).
        let mut wake = std::mem::take(wake);
        drop(guard);
        for waker in wake.drain(..) {
            waker.wake();
        }
        if let Ok(mut guard) = self.poll.try_lock() {
            guard.2 = wake;
        }
        Some(())
    }

    /// Marks every registration shut down and wakes all waiters.
    pub(crate) fn shutdown(&self) {
        let mut wake = Vec::new();
        {
            let slab = self.slab();
            for e in &slab.entries {
                if let Some(io) = &e.io {
                    let n = io.set_readiness(scheduled_io::SHUTDOWN, &mut wake);
                    self.waiting.fetch_sub(n, Ordering::Relaxed);
                }
            }
        }
        wake.into_iter().for_each(Waker::wake);
    }
}
