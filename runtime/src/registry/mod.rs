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
//! counts are kept per shard (no global counter bouncing between cores).
//!
//! A finished goroutine does not take its shard's lock: its future's
//! destructor *retires* the record (marks it `DEAD`, counts it, and pushes it
//! on the shard's dead list, a lock-free stack linked through the records).
//! The registry's reference to the task (one waker reference, kept in the
//! record's waker watch: an entry is one word) keeps the allocation (and
//! the record) alive until a *sweep* unlinks the dead records and drops
//! those references;
//! the thread that inserts into the shard sweeps it on every `SWEEP_EVERY`th
//! insert (it holds the lock then anyway; not on every one, so that a
//! spawning thread does not take the dead list's cache line back from the
//! worker finishing its goroutines on every spawn), a retiring thread sweeps when the dead list has
//! grown to `SWEEP_AT` and the lock is free, and `sweep_all` runs when the
//! runtime stops. So a goroutine's exit costs two atomic operations instead
//! of a lock round trip, and its memory is usually freed by the thread that
//! allocated it, which keeps the allocator's per-thread caches working
//! (glibc's `free` of another thread's chunk takes that arena's lock: with
//! one goroutine spawning and others finishing the goroutines, that lock
//! was the largest cost of a spawn).
//!
//! The wait state is written by the goroutine itself, on the worker that
//! polls it: `note_park` only fills a thread-local cell (no lock, no
//! allocation); when the poll returns `Pending` it is stored into the record's
//! `wait` cell, a seqlock over atomics that the goroutine writes without any
//! lock or read-modify-write and dumps read consistently.
//!
//! # Invariants
//!
//! - A record pointer in a shard points to a live record: the registry's
//!   reference keeps a task's allocation alive until the entry is removed (under the
//!   shard lock, by a sweep); the main goroutine's record is removed before
//!   it is dropped.
//! - A dead list holds only `DEAD` records still registered in its shard;
//!   `dead_count` is at least the length of the list (incremented before
//!   the push, decremented by the sweep that unlinked them).
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
use std::num::{NonZeroU64, NonZeroUsize};
use std::panic::Location;
use std::ptr::NonNull;
use std::task::Waker;
use std::time::Instant;

use crossbeam_utils::CachePadded;

use crate::loom::{
    lock, AtomicPtr, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Mutex, Ordering, StdArc,
};
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
/// Finished; still registered until its shard is swept (see `retire`).
const DEAD: u8 = 3;

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
    /// Parked on channels through handles inside its own future (one
    /// channel operation, or a select whose every channel case is so):
    /// those channels' records (`task::wait_record`).
    pub(crate) private: Private,
}

/// The records of the channels a goroutine waits on through handles inside
/// its own future (`WaitRecord::private`): up to
/// `goro_hook::SELECT_NOTE_CASES` keys as `RecordKey::to_bits` (never 0),
/// the used ones first, then zeros. Empty: the park proves nothing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Private(pub(crate) [u64; goro_hook::SELECT_NOTE_CASES]);

impl Private {
    /// No private wait.
    pub(crate) const NONE: Private = Private([0; goro_hook::SELECT_NOTE_CASES]);

    /// Waits on one channel, whose record is `key`.
    #[inline]
    pub(crate) fn one(key: RecordKey) -> Self {
        let mut p = Private::NONE;
        p.0[0] = key.to_bits();
        p
    }

    /// [`Private::of_bits`] of `keys`.
    #[cfg(all(test, not(goro_loom)))]
    pub(crate) fn of(keys: impl IntoIterator<Item = RecordKey>) -> Self {
        Private::of_bits(&keys.into_iter().map(RecordKey::to_bits).collect::<Vec<_>>())
    }

    /// Waits on the channels whose records are `keys` (as
    /// `RecordKey::to_bits`; a 0 ends the list): at most
    /// `SELECT_NOTE_CASES`; more, or none, proves nothing (`NONE`). Each
    /// channel is kept once: a goroutine whose cases hold two handles of
    /// one channel counts once among its waiters, so that channel's count
    /// (one more handle) proves nothing, as it must not.
    pub(crate) fn of_bits(keys: &[u64]) -> Self {
        let mut p = Private::NONE;
        let mut n = 0;
        for &bits in keys {
            if bits == 0 {
                break;
            }
            if p.0[..n].contains(&bits) {
                continue;
            }
            match p.0.get_mut(n) {
                Some(slot) => *slot = bits,
                None => return Private::NONE,
            }
            n += 1;
        }
        p
    }

    /// True if the park proves nothing.
    pub(crate) fn is_none(&self) -> bool {
        self.0[0] == 0
    }

    /// The channels' records.
    pub(crate) fn keys(&self) -> impl Iterator<Item = RecordKey> + '_ {
        self.0.iter().map_while(|&b| RecordKey::from_bits(b))
    }
}

/// One goroutine's entry. Go: the diagnostic fields of `g` (`goid`,
/// `gopc`, `parentGoid`, `waitreason`, `waitsince`).
///
/// 128 bytes, in the task header (see the `record_size` test): it is most
/// of what a parked goroutine costs beyond its own future.
pub(crate) struct GoroutineRecord {
    /// Set once.
    pub(crate) id: GoroutineId,
    /// Set once: the goroutine that spawned this one.
    pub(crate) parent: Option<GoroutineId>,
    /// Set once: the `spawn`/`go!` call site.
    pub(crate) spawned_at: &'static Location<'static>,
    /// `RUNNABLE`/`RUNNING`/`WAITING`/`DEAD`; written by the scheduler and
    /// the goroutine's own poll, read by dumps.
    state: AtomicU8,
    /// The last park; written only by the goroutine's own poll, without a
    /// lock (see `wait_cell`).
    wait: wait_cell::WaitCell,
    /// State of this goroutine's random generator (`goro_hook::rand_below`); only
    /// touched by the thread polling the goroutine. Once the goroutine has
    /// finished (`DEAD`) it is never polled again, and this word becomes its
    /// link in its shard's dead list (`Registry::retire`): the address of
    /// the next dead record (exposed provenance), 0 at the end.
    rng: AtomicU64,
    /// Where the record is registered: `index << SHARD_BITS | shard`
    /// (`UNREGISTERED`: nowhere); set once on insertion. 32 bits, next to
    /// `state`, keep the record small.
    slot: AtomicU32,
    /// The goroutine's waker as its future sees it: counts the copies held
    /// by anything but goro's primitives (`goro_hook::WakerWatch`), so a
    /// goroutine that a foreign future may wake is never judged by its goro
    /// wait alone. Lives here, in the task header, which outlives every
    /// clone of the task's waker.
    pub(crate) watch: goro_hook::WakerWatch,
    /// The task's reference to its runtime, set once by `task::spawn`
    /// (`None`: the main goroutine, a blocking job): the task's schedule
    /// function finds the runtime here, so it captures nothing (see
    /// `task::spawn`).
    pub(crate) host: Option<HostRef>,
}

/// A goroutine task's reference to its runtime (an `StdArc<H>` of its
/// `task::Host` type, type-erased), kept in its record
/// (`GoroutineRecord::host`), so the task's schedule function captures
/// nothing (see `task::spawn`).
///
/// One word, and not released by a destructor (which would need a function
/// pointer beside it to know `H`: a word in every goroutine): the task
/// cell releases it as it frees the cell, through its body's type, which
/// knows `H` (`cell::Body::destroyed`, see `task::Goroutine`), as a
/// reference held by the schedule function would be. Dropped unreleased,
/// it leaks the reference.
pub(crate) struct HostRef {
    ptr: NonNull<()>,
}

// SAFETY: a `HostRef` is an `StdArc<H>` with `H: Send + Sync`; it is only
// dereferenced as `&H` (`HostRef::get`).
unsafe impl Send for HostRef {}
// SAFETY: as above.
unsafe impl Sync for HostRef {}

impl HostRef {
    pub(crate) fn new<H: Send + Sync + 'static>(host: StdArc<H>) -> Self {
        HostRef {
            ptr: NonNull::new(StdArc::into_raw(host).cast_mut().cast()).expect("an Arc's pointer"),
        }
    }

    /// The runtime's address (its identity, as `JoinHandle` compares it).
    pub(crate) fn addr(&self) -> usize {
        self.ptr.as_ptr() as usize
    }

    /// The runtime.
    ///
    /// # Safety
    ///
    /// `H` is the type this reference was made with.
    #[inline]
    pub(crate) unsafe fn get<H>(&self) -> &H {
        // SAFETY: `ptr` is an `StdArc<H>` (caller) this reference keeps
        // alive while borrowed.
        unsafe { self.ptr.cast::<H>().as_ref() }
    }

    /// Gives the reference back.
    ///
    /// # Safety
    ///
    /// `H` is the type this reference was made with.
    pub(crate) unsafe fn release<H>(self) {
        // SAFETY: `ptr` came from `StdArc::<H>::into_raw` in `new`
        // (caller), and `self` is consumed: released once.
        drop(unsafe { StdArc::from_raw(self.ptr.as_ptr().cast::<H>().cast_const()) });
    }
}

/// `GoroutineRecord::slot` of a record that was never inserted.
const UNREGISTERED: u32 = u32::MAX;

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
            slot: AtomicU32::new(UNREGISTERED),
            watch: goro_hook::WakerWatch::new(),
            host: None,
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
    #[inline]
    pub(crate) fn set_waiting(&self, w: &WaitRecord) {
        self.wait.write(w);
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

    /// Finished, waiting to be swept out of the registry: not a goroutine
    /// any more (dumps and counts skip it).
    fn is_dead(&self) -> bool {
        // Relaxed: the store in `retire` precedes (in happens-before) the
        // completion that anyone relying on the goroutine being gone has
        // observed.
        self.state.load(Ordering::Relaxed) == DEAD
    }

    pub(crate) fn snapshot(&self) -> GoroutineSnapshot {
        // Before the state: a foreign wake seen here as gone (counted out)
        // shows its flag, or the poll that cleared it (`WakerWatch`).
        let clean = self.watch.is_clean();
        // Acquire pairs with the Release store in `set_waiting`.
        let mut park = None;
        let state = match self.state.load(Ordering::Acquire) {
            RUNNING => GoroutineState::Running,
            WAITING => match self.wait.read() {
                Some((w, seq)) => {
                    // Woken since (it is runnable), or a foreign waker may
                    // wake it: its park proves nothing.
                    park = Some(ParkProof {
                        private: if clean { w.private } else { Private::NONE },
                        seq,
                        clean,
                    });
                    GoroutineState::Waiting {
                        reason: w.reason,
                        at: w.at,
                        on: w.on,
                        since: w.since,
                        forever: w.forever && clean,
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
    pub(crate) private: Private,
    /// Which park this is (the wait cell's sequence number): a goroutine
    /// seen twice with the same one was not polled in between.
    pub(crate) seq: u32,
    /// No foreign waker (`goro_hook::WakerWatch`) was alive and no waker
    /// had woken it since its last poll started, when the snapshot was
    /// taken: only goro's primitives can wake it, and none has yet.
    pub(crate) clean: bool,
}

/// A registered goroutine: its record's address, and in the low bit
/// whether the registry holds a reference to its task (`OWNS_TASK`), kept
/// in the record's waker watch (`WakerWatch::adopt_own`): that reference
/// keeps the task's allocation (and the record) alive until the entry is
/// removed, and wakes the task to cancel it when the runtime stops. The
/// main goroutine, which is not a task, has none. One word per goroutine.
struct Entry(NonZeroUsize);

/// `Entry`'s bit: the registry holds a reference to the goroutine's task.
const OWNS_TASK: usize = 1;

impl Entry {
    fn new(record: &GoroutineRecord, owns_task: bool) -> Self {
        let addr = std::ptr::from_ref(record).expose_provenance();
        debug_assert_eq!(addr & OWNS_TASK, 0, "records are word-aligned");
        Entry(NonZeroUsize::new(addr | usize::from(owns_task)).expect("a record's address"))
    }

    fn record(&self) -> NonNull<GoroutineRecord> {
        let p = std::ptr::with_exposed_provenance_mut::<GoroutineRecord>(self.0.get() & !OWNS_TASK);
        NonNull::new(p).expect("a record's address")
    }

    /// The registry's reference to the task, taken back (`None` for the
    /// main goroutine). Dropping it may free the record.
    ///
    /// # Safety
    ///
    /// The entry has just been taken out of its shard (so this runs once)
    /// and its record is alive (module invariants).
    unsafe fn into_waker(self) -> Option<Waker> {
        if self.0.get() & OWNS_TASK == 0 {
            return None;
        }
        // SAFETY: the record is alive (caller); `insert` gave its watch the
        // reference (`adopt_own`), taken back only here, once.
        Some(unsafe { self.record().as_ref().watch.take_own() })
    }

    /// A new reference to the task, if the registry holds one.
    ///
    /// # Safety
    ///
    /// The record is alive.
    unsafe fn waker(&self) -> Option<Waker> {
        if self.0.get() & OWNS_TASK == 0 {
            return None;
        }
        // SAFETY: the record is alive (caller).
        unsafe { self.record().as_ref() }.watch.own_clone()
    }
}

#[derive(Default)]
struct Shard {
    slots: Vec<Option<Entry>>,
    free: Vec<usize>,
    /// Registered records in this shard (retired ones not yet swept
    /// included).
    live: usize,
    /// Inserts so far (wrapping): every `SWEEP_EVERY`th sweeps.
    inserts: usize,
}

/// A shard: its table behind a lock, and the dead list.
///
/// The lock has a cache line of its own: the inserting thread locks it on
/// every spawn, while the threads that finish its goroutines push on the
/// dead list; sharing one line, each spawn's lock and unlock would first
/// take the line back from the worker that retired the last goroutine.
struct ShardCell {
    table: CachePadded<Mutex<Shard>>,
    /// Retired records not yet swept: a stack through `GoroutineRecord::rng`.
    dead: AtomicPtr<GoroutineRecord>,
    /// Records retired and not yet swept (see the module invariants).
    dead_count: AtomicUsize,
}

/// The inserting thread sweeps its shard on every this many inserts.
const SWEEP_EVERY: usize = 16;

/// A retiring thread sweeps its record's shard when this many retired
/// records wait there (and nobody holds the lock): bounds what a shard whose
/// thread stopped spawning keeps allocated.
const SWEEP_AT: usize = 256;

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
    shards: Box<[CachePadded<ShardCell>]>,
    /// Next id to hand out (main is 1). On its own cache line: every spawn
    /// writes it, and the workers read `shards` (beside it otherwise) on
    /// every goroutine exit.
    next_id: CachePadded<AtomicU64>,
}

impl Registry {
    pub(crate) fn new() -> Self {
        Registry {
            shards: (0..SHARDS)
                .map(|_| {
                    CachePadded::new(ShardCell {
                        table: CachePadded::new(Mutex::new(Shard::default())),
                        dead: AtomicPtr::new(std::ptr::null_mut()),
                        dead_count: AtomicUsize::new(0),
                    })
                })
                .collect(),
            next_id: CachePadded::new(AtomicU64::new(2)),
        }
    }

    /// A fresh goroutine id (ids are never reused, like Go's).
    pub(crate) fn next_id(&self) -> GoroutineId {
        // Relaxed: uniqueness only needs the RMW's atomicity.
        GoroutineId::new(self.next_id.fetch_add(1, Ordering::Relaxed))
    }

    /// Registers `record`; `waker`: its task's own waker (a reference the
    /// registry keeps, in the record's waker watch, until the entry goes),
    /// `None` for the main goroutine.
    ///
    /// # Safety
    ///
    /// `record` must stay alive and at the same address until
    /// [`Registry::remove`] is called for it, and `remove` must be called
    /// before it is dropped (or, for a task's record, the registry's
    /// reference keeps it alive until a sweep). `waker` is the waker the
    /// record's goroutine is polled with (`WakerWatch::adopt_own`).
    pub(crate) unsafe fn insert(&self, record: &GoroutineRecord, waker: Option<Waker>) {
        let owns_task = waker.is_some();
        if let Some(w) = waker {
            // SAFETY: `w` is the task's own waker, the one its polls watch
            // (its record lies in the task, which every clone keeps alive).
            unsafe { record.watch.adopt_own(w) };
        }
        let entry = Entry::new(record, owns_task);
        let home = home_shard();
        let cell = &self.shards[home];
        let mut shard = lock(&cell.table);
        // Sweep first: the freed slots and memory are reused right away.
        shard.inserts = shard.inserts.wrapping_add(1);
        if shard.inserts % SWEEP_EVERY == 0 {
            Self::sweep(cell, &mut shard);
        }
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
        // Slot indexes fit in 28 bits: 2^28 records of 96 bytes in one shard
        // would be 23 GiB of records alone.
        let at = u32::try_from(i << SHARD_BITS | home)
            .ok()
            .filter(|&at| at != UNREGISTERED)
            .expect("registry shard full");
        // Relaxed: read back only by `remove`, which runs after this on the
        // same goroutine (ordered by the task's run/schedule handoffs).
        record.slot.store(at, Ordering::Relaxed);
        drop(shard);
    }

    /// Retires the finished goroutine `record` (see the module docs): from
    /// now on it is not counted or shown; a later sweep unregisters it and
    /// drops the registry's waker for its task. `now`: sweep its shard
    /// before returning (the runtime is stopping: nobody may insert again).
    ///
    /// Called from the goroutine future's destructor; the caller's reference
    /// to the task keeps the allocation alive during the call.
    pub(crate) fn retire(&self, record: &GoroutineRecord, now: bool) {
        // Relaxed: see `insert`.
        let at = record.slot.load(Ordering::Relaxed);
        if at == UNREGISTERED {
            return;
        }
        let cell = &self.shards[at as usize & (SHARDS - 1)];
        record.state.store(DEAD, Ordering::Relaxed);
        // Count before pushing, so `dead_count` never falls below the list's
        // length (a sweep subtracts what it unlinked). Relaxed: read under
        // the shard lock, after the sweep's Acquire swap, or racily by
        // `len` (a count of goroutines is a racy figure anyway); the
        // happens-before a joiner relies on comes from the task's state.
        let pending = cell.dead_count.fetch_add(1, Ordering::Relaxed) + 1;
        let me = std::ptr::from_ref(record).cast_mut();
        let mut head = cell.dead.load(Ordering::Relaxed);
        loop {
            // The link: the record is finished, its generator word is free.
            record
                .rng
                .store(head.expose_provenance() as u64, Ordering::Relaxed);
            // Release: a sweep that takes the list (Acquire) sees the links
            // and slots of every record on it (a release sequence through
            // the pushes' read-modify-writes).
            match cell
                .dead
                .compare_exchange_weak(head, me, Ordering::Release, Ordering::Relaxed)
            {
                Ok(_) => break,
                Err(h) => head = h,
            }
        }
        if now {
            Self::sweep(cell, &mut lock(&cell.table));
        } else if pending >= SWEEP_AT {
            #[cfg(not(goro_loom))]
            let table = match cell.table.try_lock() {
                Ok(t) => Some(t),
                Err(std::sync::TryLockError::Poisoned(e)) => Some(e.into_inner()),
                Err(std::sync::TryLockError::WouldBlock) => None,
            };
            #[cfg(goro_loom)]
            let table = cell.table.try_lock().ok();
            // Busy: its holder is inserting (and sweeping) or reading.
            if let Some(mut table) = table {
                Self::sweep(cell, &mut table);
            }
        }
    }

    /// Unregisters every retired record of `cell`, whose table `shard` the
    /// caller has locked, and drops the wakers that kept their tasks alive
    /// (freeing them, unless somebody else still holds one: a `JoinHandle`,
    /// a waker). Dropping a task here runs no code of ours: its future was
    /// dropped when it was retired, and the runtime it references is kept
    /// alive by the caller.
    fn sweep(cell: &ShardCell, shard: &mut Shard) {
        if cell.dead.load(Ordering::Relaxed).is_null() {
            return;
        }
        // Acquire: see the Release push in `retire`.
        let mut p = cell.dead.swap(std::ptr::null_mut(), Ordering::Acquire);
        let mut n = 0;
        while !p.is_null() {
            // SAFETY: a record on the dead list is registered in this shard
            // (module invariant), so its entry's waker keeps it alive until
            // the entry is taken below; the link was written before the
            // push this swap acquired.
            let record = unsafe { &*p };
            p = std::ptr::with_exposed_provenance_mut(record.rng.load(Ordering::Relaxed) as usize);
            let i = record.slot.load(Ordering::Relaxed) as usize >> SHARD_BITS;
            let entry = shard.slots[i].take();
            debug_assert!(entry.is_some(), "goroutine record swept twice");
            shard.free.push(i);
            shard.live -= 1;
            n += 1;
            // SAFETY: just taken out of the shard; the record is alive
            // until this reference goes.
            let task = entry.and_then(|e| unsafe { e.into_waker() });
            // Last: this may free the record.
            drop(task);
        }
        cell.dead_count.fetch_sub(n, Ordering::Relaxed);
    }

    /// Sweeps every shard (the runtime stopped: the dead tasks' wakers would
    /// otherwise keep the runtime alive, through their schedule functions,
    /// until its next spawn).
    pub(crate) fn sweep_all(&self) {
        for cell in self.shards.iter() {
            Self::sweep(cell, &mut lock(&cell.table));
        }
    }

    /// Unregisters `record` at once; returns its waker so the caller drops it
    /// outside the shard lock. For the main goroutine, whose record is not
    /// in a task (goroutines' records are retired instead).
    pub(crate) fn remove(&self, record: &GoroutineRecord) -> Option<Waker> {
        // Relaxed: see `insert`.
        let at = record.slot.load(Ordering::Relaxed);
        if at == UNREGISTERED {
            return None;
        }
        let at = at as usize;
        let (home, i) = (at & (SHARDS - 1), at >> SHARD_BITS);
        let mut shard = lock(&self.shards[home].table);
        let entry = shard.slots[i].take();
        debug_assert!(entry.is_some(), "goroutine record removed twice");
        shard.free.push(i);
        shard.live -= 1;
        drop(shard);
        // SAFETY: just taken out of the shard; the caller's record is alive.
        entry.and_then(|e| unsafe { e.into_waker() })
    }

    /// Number of live goroutines (main included). Go: `runtime.NumGoroutine`.
    pub(crate) fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| {
                // Both under the lock, so no sweep moves them in between:
                // retired, not yet swept records are not goroutines any
                // more, and they are among `live`.
                let table = lock(&s.table);
                table
                    .live
                    .saturating_sub(s.dead_count.load(Ordering::Relaxed))
            })
            .sum()
    }

    /// A snapshot of every live goroutine, sorted by id.
    pub(crate) fn snapshot(&self) -> Vec<GoroutineSnapshot> {
        let mut out = Vec::with_capacity(self.len());
        for shard in self.shards.iter() {
            let shard = lock(&shard.table);
            for e in shard.slots.iter().flatten() {
                // SAFETY: a record in a shard is alive while its entry exists
                // (module invariant), and we hold the shard lock, so no
                // sweep or `remove` can take the entry meanwhile.
                let record = unsafe { e.record().as_ref() };
                if !record.is_dead() {
                    out.push(record.snapshot());
                }
            }
        }
        out.sort_by_key(|g| g.id);
        out
    }

    /// Whether some live goroutine's snapshot satisfies `pred`; stops at the
    /// first that does, without collecting or sorting anything (the
    /// deadlock check's early exit, run each time the last worker parks).
    pub(crate) fn any(&self, mut pred: impl FnMut(&GoroutineSnapshot) -> bool) -> bool {
        self.shards.iter().any(|shard| {
            let shard = lock(&shard.table);
            shard.slots.iter().flatten().any(|e| {
                // SAFETY: as in `snapshot`.
                let record = unsafe { e.record().as_ref() };
                !record.is_dead() && pred(&record.snapshot())
            })
        })
    }

    /// Wakers of every registered task (to cancel them on stop).
    pub(crate) fn wakers(&self) -> Vec<Waker> {
        let mut out = Vec::new();
        for shard in self.shards.iter() {
            let shard = lock(&shard.table);
            out.extend(
                shard
                    .slots
                    .iter()
                    .flatten()
                    // SAFETY: as in `snapshot`.
                    .filter(|e| !unsafe { e.record().as_ref() }.is_dead())
                    // SAFETY: as in `snapshot`.
                    .filter_map(|e| unsafe { e.waker() }),
            );
        }
        out
    }
}

#[cfg(all(test, not(goro_loom)))]
mod tests {
    use std::sync::Arc;
    use std::task::Wake;

    use super::*;

    /// `Private` keeps each channel once, and proves nothing past its
    /// capacity.
    #[test]
    fn private_keys_dedupe_and_overflow() {
        let slots: Vec<goro_hook::RecordSlot> =
            (0..5).map(|_| goro_hook::RecordSlot::new()).collect();
        let key = |i: usize| slots[i].key();
        let p = Private::of([key(0), key(1), key(0)]);
        assert_eq!(p.keys().collect::<Vec<_>>(), [key(0), key(1)]);
        assert!(Private::of((0..5).map(key)).is_none());
        assert!(Private::of(std::iter::empty()).is_none());
        assert_eq!(Private::of((0..4).map(key)).keys().count(), 4);
    }

    /// The registry's table holds one word per goroutine.
    #[test]
    fn entry_size() {
        assert_eq!(std::mem::size_of::<Option<Entry>>(), 8);
    }

    /// The record is part of every goroutine's allocation: keep it small.
    #[test]
    fn record_size() {
        // 88 plus the wait cell's private-handle key (one word,
        // `RecordKey::to_bits`: the stuck analysis' `WaitRecord::private`),
        // plus the waker watch (24 bytes: foreign futures, `WakerWatch`),
        // plus the task's reference to its runtime (`task::HostRef`, one
        // word, which the task's schedule function held before).
        assert_eq!(std::mem::size_of::<GoroutineRecord>(), 128);
    }

    /// Stands for a task: its strong count shows the registry's wakers.
    struct Task;
    impl Wake for Task {
        fn wake(self: Arc<Self>) {}
    }

    // Boxed: each record is registered before it moves into the vector.
    #[allow(clippy::vec_box)]
    fn records(reg: &Registry, n: u64) -> (Vec<Box<GoroutineRecord>>, Arc<Task>) {
        let task = Arc::new(Task);
        let rs: Vec<_> = (0..n)
            .map(|i| {
                let r = Box::new(GoroutineRecord::new(
                    GoroutineId::new(i + 2),
                    None,
                    Location::caller(),
                    1,
                ));
                // SAFETY: the boxes outlive the registry's use of them: the
                // test sweeps (or drops the registry) before dropping them.
                unsafe { reg.insert(&r, Some(Waker::from(task.clone()))) };
                r
            })
            .collect();
        (rs, task)
    }

    /// A retired record stops counting and showing at once; the shard's
    /// next `SWEEP_EVERY`th insert unregisters it and drops the registry's
    /// waker.
    #[test]
    fn retired_records_leave_counts_at_once_and_the_table_at_a_later_insert() {
        let reg = Registry::new();
        let (rs, task) = records(&reg, 3);
        assert_eq!(Arc::strong_count(&task), 4);
        reg.retire(&rs[0], false);
        reg.retire(&rs[2], false);
        assert_eq!(reg.len(), 1);
        let ids: Vec<u64> = reg.snapshot().iter().map(|g| g.id.as_u64()).collect();
        assert_eq!(ids, [3]);
        assert!(!reg.any(|g| g.id.as_u64() != 3));
        assert_eq!(reg.wakers().len(), 1);
        // Not swept yet: the wakers still hold the tasks.
        assert_eq!(Arc::strong_count(&task), 4);
        // Inserts 4 .. SWEEP_EVERY - 1 leave the dead list alone.
        let (more, task2) = records(&reg, (SWEEP_EVERY - 4) as u64);
        assert_eq!(Arc::strong_count(&task), 4);
        // The `SWEEP_EVERY`th sweeps.
        let (last, task3) = records(&reg, 1);
        assert_eq!(Arc::strong_count(&task), 2);
        assert_eq!(reg.len(), 1 + SWEEP_EVERY - 3);
        reg.retire(&rs[1], true);
        for r in more.iter().chain(&last) {
            reg.retire(r, true);
        }
        assert_eq!(reg.len(), 0);
        assert_eq!(Arc::strong_count(&task), 1);
        assert_eq!(Arc::strong_count(&task2), 1);
        assert_eq!(Arc::strong_count(&task3), 1);
        let shard = &reg.shards[home_shard()];
        assert_eq!(lock(&shard.table).live, 0);
        assert_eq!(shard.dead_count.load(Ordering::Relaxed), 0);
    }

    /// Records retired on another thread, with nobody inserting, are swept
    /// once `SWEEP_AT` of them wait; `sweep_all` takes the rest.
    #[test]
    fn retiring_threads_sweep_a_long_dead_list() {
        let reg = Arc::new(Registry::new());
        let n = SWEEP_AT as u64 + 10;
        let (rs, task) = records(&reg, n);
        let rs = Arc::new(rs);
        {
            let (reg, rs) = (reg.clone(), rs.clone());
            std::thread::spawn(move || {
                for r in rs.iter() {
                    reg.retire(r, false);
                }
            })
            .join()
            .unwrap();
        }
        assert_eq!(reg.len(), 0);
        // The sweep at the `SWEEP_AT`th retire freed those; 10 are left.
        assert_eq!(Arc::strong_count(&task), 11);
        reg.sweep_all();
        assert_eq!(Arc::strong_count(&task), 1);
        assert!(reg.snapshot().is_empty());
    }
}

#[cfg(all(test, goro_loom))]
mod loom_tests {
    //! Model: two goroutines finishing on two threads while the spawning
    //! thread inserts (and sweeps): every record is unregistered exactly
    //! once, the counts never show a retired goroutine, nothing is lost.
    //!
    //! `RUSTFLAGS="--cfg goro_loom" LOOM_MAX_PREEMPTIONS=3 cargo test -p goro-runtime --release --lib registry::loom_tests -- --test-threads=1`

    use super::*;
    use crate::loom::{thread, Arc};

    fn record(id: u64) -> GoroutineRecord {
        GoroutineRecord::new(GoroutineId::new(id), None, Location::caller(), 1)
    }

    #[test]
    fn retire_and_sweep() {
        loom::model(|| {
            let reg = Arc::new(Registry::new());
            // Leaked for the model's duration: the registry holds pointers.
            let a: &'static GoroutineRecord = Box::leak(Box::new(record(2)));
            let b: &'static GoroutineRecord = Box::leak(Box::new(record(3)));
            let c: &'static GoroutineRecord = Box::leak(Box::new(record(4)));
            // SAFETY: the records are never freed.
            unsafe {
                reg.insert(a, None);
                reg.insert(b, None);
            }
            let ta = {
                let reg = reg.clone();
                thread::spawn(move || reg.retire(a, false))
            };
            let tb = {
                let reg = reg.clone();
                thread::spawn(move || reg.retire(b, false))
            };
            // SAFETY: as above.
            unsafe { reg.insert(c, None) };
            let n = reg.len();
            assert!((1..=3).contains(&n), "len {n}");
            ta.join().unwrap();
            tb.join().unwrap();
            assert_eq!(reg.len(), 1);
            reg.sweep_all();
            let shard = &reg.shards[home_shard()];
            assert_eq!(lock(&shard.table).live, 1);
            assert_eq!(shard.dead_count.load(Ordering::Relaxed), 0);
            assert!(shard.dead.load(Ordering::Relaxed).is_null());
        });
    }
}
