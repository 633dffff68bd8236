//! Object records: what an executor may read about a channel while the
//! program runs, safely, from any thread (how many handles it has, who
//! dropped the last one), for the proof of "parked forever".
//!
//! Go: nothing; Go's leak profile asks the garbage collector whether a
//! channel is still reachable. goro cannot trace memory, so a channel keeps
//! a small record the executor may read instead.
//!
//! # Design
//!
//! A record lives in a slab that is never freed: a [`RecordSlot`] (held
//! inside the object) takes one on creation and gives it back when the
//! object is dropped, bumping the record's generation. A [`RecordKey`]
//! (record + generation, `Copy`, `'static`) names the object for as long as
//! it lives; once the object is gone the key no longer matches and every
//! question about it answers "unknown". So a key may be stored anywhere
//! (a goroutine's park record) and read at any time without touching
//! freed memory.
//!
//! The slab is indexed: record `i` lives in bucket `log2(i)`, which holds
//! the `2^b` records `2^b .. 2^(b+1)` (allocated zeroed, on first use, and
//! never freed; index 0 is never used). So a key packs into one word,
//! `index << 32 | generation` ([`RecordKey::to_bits`]), which a goroutine's
//! registry record stores. Generations are 32 bits: a key could name a
//! later object only if its record were reused 2^32 times while the key was
//! kept.
//!
//! The record's object (the channel's shared state) is read through the
//! record only inside an [`Inspection`]: dropping a slot first bumps the
//! generation, then waits while an inspection is running; an inspection
//! registers itself, then checks the generation. Both sides separate their
//! store from their load with a `SeqCst` fence (a Dekker pair), so either
//! the inspection sees the new generation and leaves the object alone, or
//! the drop sees the inspection and waits for it to end before the object's
//! memory is freed. Inspections are rare and short (a leak check, a
//! watchdog tick); a drop pays one fence.
//!
//! Cost on the channel's paths: none per operation (the key is two words
//! the channel already has); a handle drop stores the dropping goroutine's
//! id and spawn site (two relaxed stores); making a channel takes a record
//! from a thread-local cache, dropping it gives it back.
//!
//! # Compiled out
//!
//! Built with `--cfg goro_no_tracking` ([`HANDLE_TRACKING`](crate::HANDLE_TRACKING)
//! is then `false`), a [`RecordSlot`] is empty: making and dropping an
//! object takes no record and pays no fence, a handle drop stores nothing,
//! and every key names one shared record that is never bound, so every
//! [`Inspection`] question answers "unknown". The slab, the cache and the
//! gate below are then unused (hence the `dead_code` allowance).

#![cfg_attr(goro_no_tracking, allow(dead_code, unused_imports))]

use std::cell::RefCell;
use std::panic::Location;
use std::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};

/// One object's record (see the module docs). Lives in the slab forever.
/// All-zero bytes are a valid, unused record (the slab's buckets are
/// allocated zeroed).
#[derive(Debug)]
pub(crate) struct ObjectRecord {
    /// Bumped when the object is dropped; a key is valid while it matches.
    gen: AtomicU32,
    /// Its index in the slab; set once, before the record is first handed
    /// out (Relaxed: the record then reaches other threads through `FREE`'s
    /// lock or the object that holds it).
    index: AtomicU32,
    /// The object (type-erased), read by `handles` inside an inspection.
    obj: AtomicPtr<()>,
    /// `unsafe fn(*const ()) -> usize` counting the object's live handles,
    /// as a `usize` (0: not bound).
    handles: AtomicUsize,
    /// The goroutine that dropped a handle last (0: none yet; `u64::MAX`: a
    /// thread outside every goroutine).
    dropped_by: AtomicU64,
    /// Its spawn site (null: unknown).
    dropped_site: AtomicPtr<Location<'static>>,
}

/// The slab's buckets (see the module docs): bucket `b` holds records
/// `2^b .. 2^(b+1)`; set when its first record is needed, never freed.
static BUCKETS: [OnceLock<&'static [ObjectRecord]>; 32] = [const { OnceLock::new() }; 32];
/// The next slab index never handed out (index 0 is never used).
static NEXT_INDEX: AtomicU64 = AtomicU64::new(1);

/// The bucket of slab index `i` (not 0) and the record's place in it.
fn locate(i: u32) -> (usize, usize) {
    let b = 31 - i.leading_zeros();
    (b as usize, (i - (1 << b)) as usize)
}

/// Record `i` of the slab, if its bucket exists (it may be a record never
/// handed out: a zeroed one, which no live key matches).
fn record_at(i: u32) -> Option<&'static ObjectRecord> {
    if i == 0 {
        return None;
    }
    let (b, off) = locate(i);
    BUCKETS[b].get().map(|bucket| &bucket[off])
}

/// Bucket `b`: `2^b` zeroed records, leaked (the slab is never freed).
fn new_bucket(b: usize) -> &'static [ObjectRecord] {
    let n = 1usize << b;
    let layout =
        std::alloc::Layout::array::<ObjectRecord>(n).expect("object record bucket too large");
    // SAFETY: the layout is not zero-sized (a record is not).
    let base = unsafe { std::alloc::alloc_zeroed(layout) }.cast::<ObjectRecord>();
    if base.is_null() {
        std::alloc::handle_alloc_error(layout);
    }
    // SAFETY: `base` is a fresh allocation of `n` records, never freed;
    // all-zero bytes are a valid record (atomics, null pointers), so all
    // `n` are initialised. Zeroed memory the program never touches costs
    // no resident memory.
    unsafe { std::slice::from_raw_parts(base, n) }
}

/// A record never used before, from the slab.
fn fresh() -> &'static ObjectRecord {
    let i = NEXT_INDEX.fetch_add(1, Ordering::Relaxed);
    let i = u32::try_from(i).expect("more than 2^32 object records");
    let (b, off) = locate(i);
    let r = &BUCKETS[b].get_or_init(|| new_bucket(b))[off];
    r.index.store(i, Ordering::Relaxed);
    r
}

/// The gate of the module docs, written once and instantiated over std's
/// atomics (`std_gate`) and, for the model, loom's (`loom_tests`).
macro_rules! gate {
    ($a:ident, $yield_now:path) => {
        /// An object is being freed: its record's generation becomes
        /// `next`, then wait for the running inspections to end.
        pub(crate) fn close(gen: &$a::AtomicU32, next: u32, inspecting: &$a::AtomicUsize) {
            gen.store(next, $a::Ordering::Relaxed);
            // Dekker with `open`: either the inspection sees `next`, or this
            // sees the inspection.
            $a::fence($a::Ordering::SeqCst);
            while inspecting.load($a::Ordering::Relaxed) != 0 {
                $yield_now();
            }
            // Acquire: pairs with `end`'s Release; the inspection's reads
            // happen before the object is freed.
            $a::fence($a::Ordering::Acquire);
        }

        /// An inspection starts.
        pub(crate) fn open(inspecting: &$a::AtomicUsize) {
            inspecting.fetch_add(1, $a::Ordering::SeqCst);
            $a::fence($a::Ordering::SeqCst);
        }

        /// Inside an inspection: whether the object of generation `expect`
        /// is still alive (and stays so until `end`).
        pub(crate) fn alive(gen: &$a::AtomicU32, expect: u32) -> bool {
            gen.load($a::Ordering::Relaxed) == expect
        }

        /// An inspection ends.
        pub(crate) fn end(inspecting: &$a::AtomicUsize) {
            inspecting.fetch_sub(1, $a::Ordering::Release);
        }
    };
}

mod std_gate {
    use std::sync::atomic as a;
    gate!(a, std::thread::yield_now);
}

/// Records given back, shared by all threads (a thread keeps up to
/// `LOCAL_MAX` of its own).
static FREE: Mutex<Vec<&'static ObjectRecord>> = Mutex::new(Vec::new());
const LOCAL_MAX: usize = 64;
/// Inspections running now.
static INSPECTING: AtomicUsize = AtomicUsize::new(0);

/// A thread's own records; handed to `FREE` when the thread exits (else a
/// thread that made channels would take its cached records with it, lost
/// for good: the slab never frees them).
struct LocalCache(Vec<&'static ObjectRecord>);

impl Drop for LocalCache {
    fn drop(&mut self) {
        if !self.0.is_empty() {
            FREE.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .append(&mut self.0);
        }
    }
}

thread_local! {
    static LOCAL: RefCell<LocalCache> = const { RefCell::new(LocalCache(Vec::new())) };
}

fn take() -> &'static ObjectRecord {
    let local = LOCAL
        .try_with(|l| l.try_borrow_mut().ok().and_then(|mut l| l.0.pop()))
        .ok()
        .flatten();
    if let Some(r) = local {
        return r;
    }
    let mut free = FREE.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(r) = free.pop() {
        // Refill half a local cache at once, so a thread that makes many
        // channels takes the global lock rarely.
        let n = free.len().min(LOCAL_MAX / 2);
        let start = free.len() - n;
        let batch: Vec<_> = free.drain(start..).collect();
        drop(free);
        let _ = LOCAL.try_with(|l| {
            if let Ok(mut l) = l.try_borrow_mut() {
                l.0.extend(batch.iter().copied());
            } else {
                FREE.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .extend(batch.iter().copied());
            }
        });
        return r;
    }
    drop(free);
    fresh()
}

fn give_back(r: &'static ObjectRecord) {
    let kept = LOCAL
        .try_with(|l| match l.try_borrow_mut() {
            Ok(mut l) if l.0.len() < LOCAL_MAX => {
                l.0.push(r);
                true
            }
            _ => false,
        })
        .unwrap_or(false);
    if !kept {
        FREE.lock().unwrap_or_else(PoisonError::into_inner).push(r);
    }
}

/// The record an object holds for as long as it lives (see the module
/// docs); gives the record back when dropped.
///
/// ```
/// let slot = goro_hook::RecordSlot::new();
/// let key = slot.key();
/// let inspection = goro_hook::inspect();
/// assert_eq!(inspection.handles(key), None); // not bound to an object
/// drop(inspection);
/// drop(slot);
/// assert_eq!(goro_hook::inspect().last_drop(key), None); // gone
/// ```
#[derive(Debug)]
pub struct RecordSlot {
    #[cfg(not(goro_no_tracking))]
    rec: &'static ObjectRecord,
    #[cfg(not(goro_no_tracking))]
    gen: u32,
    /// Built with `--cfg goro_no_tracking`: no record (see
    /// [`HANDLE_TRACKING`](crate::HANDLE_TRACKING)).
    #[cfg(goro_no_tracking)]
    _untracked: (),
}

/// The record every key names when tracking is compiled out: never bound,
/// never dropped from, so every question about it answers "unknown". Its
/// index is 0, so its key's `to_bits` is 0 (which `from_bits` rejects); no
/// such key is stored in that build (no handle note names it).
#[cfg(goro_no_tracking)]
static UNTRACKED: ObjectRecord = ObjectRecord {
    gen: AtomicU32::new(0),
    index: AtomicU32::new(0),
    obj: AtomicPtr::new(std::ptr::null_mut()),
    handles: AtomicUsize::new(0),
    dropped_by: AtomicU64::new(0),
    dropped_site: AtomicPtr::new(std::ptr::null_mut()),
};

impl Default for RecordSlot {
    fn default() -> Self {
        RecordSlot::new()
    }
}

impl RecordSlot {
    /// A fresh record, not bound to an object yet.
    #[cfg(goro_no_tracking)]
    #[inline]
    pub fn new() -> Self {
        RecordSlot { _untracked: () }
    }

    /// A fresh record, not bound to an object yet.
    #[cfg(not(goro_no_tracking))]
    pub fn new() -> Self {
        let rec = take();
        let gen = rec.gen.load(Ordering::Relaxed);
        rec.dropped_by.store(0, Ordering::Relaxed);
        rec.dropped_site
            .store(std::ptr::null_mut(), Ordering::Relaxed);
        rec.obj.store(std::ptr::null_mut(), Ordering::Relaxed);
        rec.handles.store(0, Ordering::Relaxed);
        RecordSlot { rec, gen }
    }

    /// Binds the record to its object: `handles(obj)` counts the object's
    /// live handles.
    ///
    /// # Safety
    ///
    /// `handles(obj)` must be safe to call from any thread for as long as
    /// this slot is alive (the slot lives inside the object, so `obj` is
    /// alive then), and return a count that never misses a live handle.
    #[cfg_attr(goro_no_tracking, allow(unused_variables))]
    pub unsafe fn bind(&self, obj: *const (), handles: unsafe fn(*const ()) -> usize) {
        #[cfg(not(goro_no_tracking))]
        self.bind_tracked(obj, handles);
    }

    #[cfg(not(goro_no_tracking))]
    fn bind_tracked(&self, obj: *const (), handles: unsafe fn(*const ()) -> usize) {
        self.rec.obj.store(obj.cast_mut(), Ordering::Relaxed);
        self.rec.handles.store(handles as usize, Ordering::Release);
    }

    /// This object's key.
    #[inline]
    pub fn key(&self) -> RecordKey {
        #[cfg(not(goro_no_tracking))]
        return RecordKey {
            rec: self.rec,
            gen: self.gen,
        };
        #[cfg(goro_no_tracking)]
        return RecordKey {
            rec: &UNTRACKED,
            gen: 0,
        };
    }

    /// Notes that the handle at address `handle` is being dropped by the
    /// current goroutine (or by a thread outside every goroutine): two
    /// relaxed stores. A use of that handle noted in the current poll is
    /// forgotten (it no longer says where a handle lies).
    #[inline]
    #[cfg_attr(goro_no_tracking, allow(unused_variables))]
    pub fn note_drop(&self, handle: usize) {
        #[cfg(not(goro_no_tracking))]
        self.note_drop_tracked(handle);
    }

    #[cfg(not(goro_no_tracking))]
    #[inline]
    fn note_drop_tracked(&self, handle: usize) {
        let (id, site) = crate::scope::dropping_handle(handle);
        let site = site.map_or(std::ptr::null_mut(), |s| std::ptr::from_ref(s).cast_mut());
        // Relaxed: diagnostic only; read inside an inspection.
        self.rec
            .dropped_by
            .store(id.unwrap_or(u64::MAX), Ordering::Relaxed);
        self.rec.dropped_site.store(site, Ordering::Relaxed);
    }
}

#[cfg(not(goro_no_tracking))]
impl Drop for RecordSlot {
    fn drop(&mut self) {
        // First the generation (so a new inspection leaves the object
        // alone), then wait for the inspections already running.
        std_gate::close(&self.rec.gen, self.gen.wrapping_add(1), &INSPECTING);
        give_back(self.rec);
    }
}

/// Names an object for as long as it lives (see the module docs): `Copy`
/// and `'static`, safe to keep after the object is gone.
#[derive(Clone, Copy, Debug)]
pub struct RecordKey {
    rec: &'static ObjectRecord,
    gen: u32,
}

impl PartialEq for RecordKey {
    fn eq(&self, other: &Self) -> bool {
        self.to_parts() == other.to_parts()
    }
}

impl Eq for RecordKey {}

impl std::hash::Hash for RecordKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.to_parts().hash(state);
    }
}

impl RecordKey {
    /// The record's address and the generation, to store in atomics.
    pub fn to_parts(self) -> (usize, u64) {
        (std::ptr::from_ref(self.rec) as usize, u64::from(self.gen))
    }

    /// The key in one word (never 0): the record's slab index and the
    /// generation (see the module docs).
    ///
    /// ```
    /// let slot = goro_hook::RecordSlot::new();
    /// let bits = slot.key().to_bits();
    /// assert_ne!(bits, 0);
    /// assert_eq!(goro_hook::RecordKey::from_bits(bits), Some(slot.key()));
    /// ```
    #[inline]
    pub fn to_bits(self) -> u64 {
        // Relaxed: see `ObjectRecord::index`.
        u64::from(self.rec.index.load(Ordering::Relaxed)) << 32 | u64::from(self.gen)
    }

    /// Rebuilds a key from [`to_bits`](Self::to_bits); `None` if `bits`
    /// names no record (0, or an index the slab never reached). Any word is
    /// safe to pass: at worst it names a record of no live object.
    pub fn from_bits(bits: u64) -> Option<Self> {
        let rec = record_at((bits >> 32) as u32)?;
        Some(RecordKey {
            rec,
            gen: bits as u32,
        })
    }
}

/// An inspection of object records (see the module docs): while it lives,
/// objects whose key still matches are not freed. Keep it short.
///
/// ```
/// let inspection = goro_hook::inspect();
/// drop(inspection);
/// ```
#[derive(Debug)]
#[must_use]
pub struct Inspection(());

/// Starts an [`Inspection`].
pub fn inspect() -> Inspection {
    std_gate::open(&INSPECTING);
    Inspection(())
}

impl Inspection {
    /// The object's live handles now, if it is still alive and counts them.
    pub fn handles(&self, key: RecordKey) -> Option<usize> {
        if !std_gate::alive(&key.rec.gen, key.gen) {
            return None;
        }
        // Acquire: pairs with `bind`'s Release store.
        let f = key.rec.handles.load(Ordering::Acquire);
        let obj = key.rec.obj.load(Ordering::Relaxed);
        if f == 0 || obj.is_null() {
            return None;
        }
        // SAFETY: `f` was stored by `bind` from an
        // `unsafe fn(*const ()) -> usize`; the generation matched after
        // this inspection registered, so the object is alive until the
        // inspection ends (module docs), and `bind`'s contract makes the
        // call safe then.
        let f: unsafe fn(*const ()) -> usize = unsafe { std::mem::transmute(f) };
        // SAFETY: see above.
        Some(unsafe { f(obj) })
    }

    /// Who dropped a handle of the object last, if it is alive and some
    /// handle was dropped: the goroutine's id (`None`: a thread outside
    /// every goroutine) and its spawn site.
    pub fn last_drop(
        &self,
        key: RecordKey,
    ) -> Option<(Option<u64>, Option<&'static Location<'static>>)> {
        if key.rec.gen.load(Ordering::Relaxed) != key.gen {
            return None;
        }
        let id = key.rec.dropped_by.load(Ordering::Relaxed);
        let site = key.rec.dropped_site.load(Ordering::Relaxed);
        // SAFETY: null or a `&'static Location` stored by `note_drop`.
        let site = unsafe { site.as_ref() };
        if key.rec.gen.load(Ordering::Relaxed) != key.gen {
            return None;
        }
        match id {
            0 => None,
            u64::MAX => Some((None, site)),
            id => Some((Some(id), site)),
        }
    }
}

impl Drop for Inspection {
    fn drop(&mut self) {
        std_gate::end(&INSPECTING);
    }
}

#[cfg(all(test, not(goro_no_tracking)))]
mod tests {
    use super::*;

    unsafe fn three(_: *const ()) -> usize {
        3
    }

    #[test]
    fn a_key_answers_only_while_its_object_lives() {
        let slot = RecordSlot::new();
        // SAFETY: `three` ignores its argument.
        unsafe { slot.bind(std::ptr::null::<u8>().wrapping_add(8).cast(), three) };
        let key = slot.key();
        assert_eq!(inspect().handles(key), Some(3));
        slot.note_drop(0);
        assert_eq!(inspect().last_drop(key), Some((None, None)));
        drop(slot);
        assert_eq!(inspect().handles(key), None);
        // The record is reused with a new generation: the old key stays dead.
        let again = RecordSlot::new();
        assert_eq!(inspect().handles(key), None);
        assert_eq!(inspect().last_drop(again.key()), None);
    }

    /// A key survives packing into one word, across many buckets; a word
    /// that names no record gives no key; a packed key of a dropped object
    /// stays dead.
    #[test]
    fn keys_pack_into_one_word() {
        assert_eq!(RecordKey::from_bits(0), None);
        assert_eq!(RecordKey::from_bits(u64::from(u32::MAX) << 32), None);
        let slots: Vec<RecordSlot> = (0..300).map(|_| RecordSlot::new()).collect();
        let mut seen = std::collections::HashSet::new();
        for s in &slots {
            let bits = s.key().to_bits();
            assert!(seen.insert(bits >> 32), "two live records share an index");
            assert_eq!(RecordKey::from_bits(bits), Some(s.key()));
            assert_eq!(
                RecordKey::from_bits(bits).unwrap().to_parts(),
                s.key().to_parts()
            );
        }
        let slot = RecordSlot::new();
        // SAFETY: `three` ignores its argument.
        unsafe { slot.bind(std::ptr::null::<u8>().wrapping_add(8).cast(), three) };
        let bits = slot.key().to_bits();
        assert_eq!(
            inspect().handles(RecordKey::from_bits(bits).unwrap()),
            Some(3)
        );
        drop(slot);
        assert_eq!(inspect().handles(RecordKey::from_bits(bits).unwrap()), None);
    }

    #[test]
    fn many_threads_make_and_drop() {
        let ts: Vec<_> = (0..4)
            .map(|_| {
                std::thread::spawn(|| {
                    let mut keep = Vec::new();
                    for i in 0..2000 {
                        keep.push(RecordSlot::new());
                        if i % 3 == 0 {
                            keep.clear();
                        }
                        let _i = inspect();
                    }
                })
            })
            .collect();
        for t in ts {
            t.join().unwrap();
        }
    }
}

#[cfg(all(test, goro_loom))]
mod loom_tests {
    //! Model of the gate: an inspection never reads an object after its
    //! drop went past the gate (dropping the `SeqCst` fence of `close` or
    //! `open` makes it fail). Run:
    //! `RUSTFLAGS="--cfg goro_loom" cargo test -p goro-hook --release --lib record`

    mod loom_gate {
        use loom::sync::atomic as a;
        gate!(a, loom::thread::yield_now);
    }

    use loom::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
    use loom::sync::Arc;

    #[test]
    fn record_gate_never_reads_a_freed_object() {
        loom::model(|| {
            let gen = Arc::new(AtomicU32::new(0));
            let inspecting = Arc::new(AtomicUsize::new(0));
            let freed = Arc::new(AtomicBool::new(false));
            let dropper = {
                let (gen, inspecting, freed) = (gen.clone(), inspecting.clone(), freed.clone());
                loom::thread::spawn(move || {
                    loom_gate::close(&gen, 1, &inspecting);
                    freed.store(true, Ordering::Relaxed);
                })
            };
            loom_gate::open(&inspecting);
            if loom_gate::alive(&gen, 0) {
                assert!(!freed.load(Ordering::Relaxed), "read after free");
            }
            loom_gate::end(&inspecting);
            dropper.join().unwrap();
        });
    }
}
