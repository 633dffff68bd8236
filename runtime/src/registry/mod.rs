//! The goroutine table: ids, spawn sites, parents, and what each goroutine is
//! doing; the goroutine dump.
//!
//! Go: `allgs` and the traceback headers printed by `runtime.Stack(buf, true)`
//! (`goroutine 18 [chan send, 2 minutes]:`).
//!
//! # Design
//!
//! Every goroutine's [`GoroutineRecord`] lives inside its task allocation
//! (the task header's metadata), so registering costs no allocation of its
//! own. The registry holds a pointer to each live record, in shards; a
//! thread inserts into its own home shard (assigned round-robin per thread),
//! so workers spawning concurrently do not share a lock or a cache line, and
//! counts are kept per shard (no global counter bouncing between cores). A
//! record removes itself (in the goroutine future's destructor) before its
//! allocation can be freed.
//!
//! The wait state is written by the goroutine itself, on the worker that
//! polls it: `note_park` only fills a thread-local cell (no lock, no
//! allocation); when the poll returns `Pending` it is stored into the record's
//! `wait` cell, a seqlock over atomics that the goroutine writes without any
//! lock or read-modify-write and dumps read consistently.
//!
//! # Invariants
//!
//! - A record pointer in a shard points to a live record: the record is
//!   removed (under the shard lock) before it is dropped.
//! - `wait` is meaningful only while `state == WAITING`.
//!
//! # Locking
//!
//! Shard locks only (a record's wait cell takes no lock). They are below the
//! scheduler's idle lock in the crate's rank list and never held while
//! waking a task.

mod dump;
mod wait_cell;

use std::fmt;
use std::num::NonZeroU64;
use std::panic::Location;
use std::ptr::NonNull;
use std::task::Waker;
use std::time::Instant;

use crossbeam_utils::CachePadded;

use crate::loom::{lock, AtomicU64, AtomicU8, AtomicUsize, Mutex, Ordering};
use goro_hook::{RecordKey, WaitObject, WaitReason};

pub use dump::{format_dump, GoroutineSnapshot, GoroutineState};

/// A goroutine's number: 1 for the main goroutine, then increasing in spawn
/// order, per runtime (Go's `goid`).
///
/// ```
/// let id = goro_runtime::run(async { goro_runtime::current_id().unwrap() });
/// assert_eq!(id.as_u64(), 1);
/// assert_eq!(id.to_string(), "1");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GoroutineId(NonZeroU64);

impl GoroutineId {
    /// The main goroutine's id.
    pub(crate) const MAIN: GoroutineId = GoroutineId(NonZeroU64::MIN);

    pub(crate) fn new(n: u64) -> GoroutineId {
        GoroutineId(NonZeroU64::new(n).expect("goroutine ids start at 1"))
    }

    /// The number, as Go prints it.
    pub fn as_u64(self) -> u64 {
        self.0.get()
    }
}

impl fmt::Debug for GoroutineId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GoroutineId({})", self.0)
    }
}

impl fmt::Display for GoroutineId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// A source location displayed as `file:line:column`.
pub(crate) struct Site(pub(crate) &'static Location<'static>);

impl fmt::Display for Site {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.0.file(), self.0.line(), self.0.column())
    }
}

const RUNNABLE: u8 = 0;
const RUNNING: u8 = 1;
const WAITING: u8 = 2;

/// Details of a goroutine's current park, as stored in `GoroutineRecord::wait`.
#[derive(Clone, Copy)]
pub(crate) struct WaitRecord {
    pub(crate) reason: WaitReason,
    pub(crate) at: Option<&'static Location<'static>>,
    pub(crate) on: Option<WaitObject>,
    pub(crate) since: Instant,
    /// Proved parked forever when it parked (`task::wait_record`: a sync
    /// primitive inside its own future).
    pub(crate) forever: bool,
    /// Parked on a channel operation through a handle inside its own
    /// future: that channel's record (`task::wait_record`).
    pub(crate) private: Option<RecordKey>,
}

/// One goroutine's entry. Go: the diagnostic fields of `g` (`goid`,
/// `gopc`, `parentGoid`, `waitreason`, `waitsince`).
pub(crate) struct GoroutineRecord {
    /// Set once.
    pub(crate) id: GoroutineId,
    /// Set once: the goroutine that spawned this one.
    pub(crate) parent: Option<GoroutineId>,
    /// Set once: the `spawn`/`go!` call site.
    pub(crate) spawned_at: &'static Location<'static>,
    /// `RUNNABLE`/`RUNNING`/`WAITING`; written by the scheduler and the
    /// goroutine's own poll, read by dumps.
    state: AtomicU8,
    /// The last park; written only by the goroutine's own poll, without a
    /// lock (see `wait_cell`).
    wait: wait_cell::WaitCell,
    /// State of this goroutine's random generator (`goro_hook::rand_below`); only
    /// touched by the thread polling the goroutine.
    rng: AtomicU64,
    /// Where the record is registered: `index << SHARD_BITS | shard`; set
    /// once on insertion.
    slot: AtomicUsize,
}

impl GoroutineRecord {
    pub(crate) fn new(
        id: GoroutineId,
        parent: Option<GoroutineId>,
        spawned_at: &'static Location<'static>,
        rng_seed: u64,
    ) -> Self {
        GoroutineRecord {
            id,
            parent,
            spawned_at,
            state: AtomicU8::new(RUNNABLE),
            wait: wait_cell::WaitCell::new(),
            // Mix the id in so that every goroutine has its own sequence,
            // reproducible for a given runtime seed.
            rng: AtomicU64::new(rng_seed ^ id.as_u64().wrapping_mul(0x9E37_79B9_7F4A_7C15)),
            slot: AtomicUsize::new(usize::MAX),
        }
    }

    /// The goroutine was scheduled (woken).
    #[inline]
    pub(crate) fn set_runnable(&self) {
        tracing::trace!(target: "goro::wake", id = self.id.as_u64(), "wake");
        // Relaxed: diagnostic only, read by dumps.
        self.state.store(RUNNABLE, Ordering::Relaxed);
    }

    /// A worker started polling the goroutine.
    #[inline]
    pub(crate) fn set_running(&self) {
        // Relaxed: diagnostic only.
        self.state.store(RUNNING, Ordering::Relaxed);
    }

    /// The goroutine's poll returned `Pending`.
    pub(crate) fn set_waiting(&self, w: WaitRecord) {
        self.wait.write(&w);
        // Release pairs with the Acquire load in `snapshot`: a dump that sees
        // WAITING sees this park's details (or a later one's).
        self.state.store(WAITING, Ordering::Release);
    }

    /// The state of this goroutine's generator, for its next poll scope.
    #[inline]
    pub(crate) fn rng_state(&self) -> u64 {
        // Relaxed: only the polling thread uses the generator, and moving the
        // goroutine to another worker goes through the run queues, which
        // order everything before the next poll.
        self.rng.load(Ordering::Relaxed)
    }

    /// Keeps the generator state a poll scope ended with.
    #[inline]
    pub(crate) fn set_rng_state(&self, state: u64) {
        // Relaxed: as in `rng_state`.
        self.rng.store(state, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> GoroutineSnapshot {
        // Acquire pairs with the Release store in `set_waiting`.
        let mut park = None;
        let state = match self.state.load(Ordering::Acquire) {
            RUNNING => GoroutineState::Running,
            WAITING => match self.wait.read() {
                Some((w, seq)) => {
                    park = Some(ParkProof {
                        private: w.private,
                        seq,
                    });
                    GoroutineState::Waiting {
                        reason: w.reason,
                        at: w.at,
                        on: w.on,
                        since: w.since,
                        forever: w.forever,
                    }
                }
                None => GoroutineState::Runnable,
            },
            _ => GoroutineState::Runnable,
        };
        GoroutineSnapshot {
            id: self.id,
            created_by: self.parent,
            created_at: self.spawned_at,
            state,
            park,
        }
    }
}

/// What a snapshot of a parked goroutine keeps for the stuck analysis
/// (`scheduler::stuck`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ParkProof {
    /// `WaitRecord::private`.
    pub(crate) private: Option<RecordKey>,
    /// Which park this is (the wait cell's sequence number): a goroutine
    /// seen twice with the same one was not polled in between.
    pub(crate) seq: u32,
}

/// A registered goroutine.
struct Entry {
    record: NonNull<GoroutineRecord>,
    /// A waker for the goroutine's task, used to cancel it when the runtime
    /// stops (`None` for the main goroutine, which is not a task).
    waker: Option<Waker>,
}

#[derive(Default)]
struct Shard {
    slots: Vec<Option<Entry>>,
    free: Vec<usize>,
    /// Registered records in this shard.
    live: usize,
}

// SAFETY: `Entry::record` points to a `GoroutineRecord`, which is `Sync`
// (atomics and a mutex); the registry only reads it through `&`, and the
// record is alive while the entry exists (module invariant).
unsafe impl Send for Shard {}

const SHARD_BITS: u32 = 4;
const SHARDS: usize = 1 << SHARD_BITS;

/// Round-robin source of home shards.
static NEXT_HOME: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

thread_local! {
    /// This thread's home shard (assigned on first use).
    static HOME: std::cell::Cell<usize> = const { std::cell::Cell::new(usize::MAX) };
}

fn home_shard() -> usize {
    HOME.with(|h| {
        let mut v = h.get();
        if v == usize::MAX {
            v = NEXT_HOME.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % SHARDS;
            h.set(v);
        }
        v
    })
}

/// All live goroutines of one runtime. Go: `allgs`.
pub(crate) struct Registry {
    shards: Box<[CachePadded<Mutex<Shard>>]>,
    /// Next id to hand out (main is 1).
    next_id: AtomicU64,
}

impl Registry {
    pub(crate) fn new() -> Self {
        Registry {
            shards: (0..SHARDS)
                .map(|_| CachePadded::new(Mutex::new(Shard::default())))
                .collect(),
            next_id: AtomicU64::new(2),
        }
    }

    /// A fresh goroutine id (ids are never reused, like Go's).
    pub(crate) fn next_id(&self) -> GoroutineId {
        // Relaxed: uniqueness only needs the RMW's atomicity.
        GoroutineId::new(self.next_id.fetch_add(1, Ordering::Relaxed))
    }

    /// Registers `record`.
    ///
    /// # Safety
    ///
    /// `record` must stay alive and at the same address until
    /// [`Registry::remove`] is called for it, and `remove` must be called
    /// before it is dropped.
    pub(crate) unsafe fn insert(&self, record: &GoroutineRecord, waker: Option<Waker>) {
        let entry = Entry {
            record: NonNull::from(record),
            waker,
        };
        let home = home_shard();
        let mut shard = lock(&self.shards[home]);
        shard.live += 1;
        let i = match shard.free.pop() {
            Some(i) => {
                shard.slots[i] = Some(entry);
                i
            }
            None => {
                shard.slots.push(Some(entry));
                shard.slots.len() - 1
            }
        };
        // Relaxed: read back only by `remove`, which runs after this on the
        // same goroutine (ordered by the task's run/schedule handoffs).
        record.slot.store(i << SHARD_BITS | home, Ordering::Relaxed);
        drop(shard);
    }

    /// Unregisters `record`; returns its waker so the caller drops it outside
    /// the shard lock.
    pub(crate) fn remove(&self, record: &GoroutineRecord) -> Option<Waker> {
        // Relaxed: see `insert`.
        let at = record.slot.load(Ordering::Relaxed);
        if at == usize::MAX {
            return None;
        }
        let (home, i) = (at & (SHARDS - 1), at >> SHARD_BITS);
        let mut shard = lock(&self.shards[home]);
        let entry = shard.slots[i].take();
        debug_assert!(entry.is_some(), "goroutine record removed twice");
        shard.free.push(i);
        shard.live -= 1;
        drop(shard);
        entry.and_then(|e| e.waker)
    }

    /// Number of live goroutines (main included). Go: `runtime.NumGoroutine`.
    pub(crate) fn len(&self) -> usize {
        self.shards.iter().map(|s| lock(s).live).sum()
    }

    /// A snapshot of every live goroutine, sorted by id.
    pub(crate) fn snapshot(&self) -> Vec<GoroutineSnapshot> {
        let mut out = Vec::with_capacity(self.len());
        for shard in self.shards.iter() {
            let shard = lock(shard);
            for e in shard.slots.iter().flatten() {
                // SAFETY: a record in a shard is alive while its entry exists
                // (module invariant), and we hold the shard lock, so `remove`
                // (which precedes the record's drop) cannot run concurrently.
                out.push(unsafe { e.record.as_ref() }.snapshot());
            }
        }
        out.sort_by_key(|g| g.id);
        out
    }

    /// Wakers of every registered task (to cancel them on stop).
    pub(crate) fn wakers(&self) -> Vec<Waker> {
        let mut out = Vec::new();
        for shard in self.shards.iter() {
            let shard = lock(shard);
            out.extend(shard.slots.iter().flatten().filter_map(|e| e.waker.clone()));
        }
        out
    }
}
