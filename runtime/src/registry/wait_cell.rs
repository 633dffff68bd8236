//! A goroutine's last park, written without locks by the goroutine's own
//! poll and read by dumps: a seqlock over atomic words.
//!
//! Loom model at the bottom of this file:
//! `RUSTFLAGS="--cfg goro_loom" LOOM_MAX_PREEMPTIONS=3 cargo test -p goro-runtime --release --lib wait_cell -- --test-threads=1`
//!
//! Go: `g.waitreason`, `g.waitsince` — plain fields written by the goroutine
//! itself and read racily by tracebacks; here the reader gets a consistent
//! copy instead.
//!
//! # Design
//!
//! One writer at a time: the thread polling the goroutine (polls of one
//! goroutine never overlap and move between threads through the run queues,
//! which order them). The writer makes `seq` odd, stores every field, makes
//! `seq` even again; a reader that sees the same even `seq` before and after
//! reading the fields has a consistent copy, otherwise it retries. Every
//! field is an atomic, so a torn read is detected, never undefined; values
//! that need validation (the `&'static str` of `ObjectDetail::Other`) are
//! only rebuilt from their words after `seq` validated them.
//!
//! # Memory ordering
//!
//! Writer: `seq = odd` (Relaxed), `fence(Release)`, fields (Relaxed),
//! `seq = even` (Release). Reader: `seq` (Acquire, pairs with the writer's
//! final Release store), fields (Relaxed), `fence(Acquire)` (pairs with the
//! writer's Release fence: if any field value read was written after the odd
//! store, the second `seq` load sees at least that odd value), `seq`
//! (Relaxed).

use std::cell::Cell;
use std::panic::Location;
use std::ptr;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::loom::{fence, spin_wait, AtomicPtr, AtomicU32, AtomicU64, AtomicU8, Ordering};
use goro_hook::{ObjectDetail, WaitObject, WaitReason};

use super::{Private, WaitRecord};

const KIND_NONE: u8 = 0;
const KIND_CHAN: u8 = 1;
const KIND_OTHER: u8 = 2;
const KIND_NO_OBJECT: u8 = 3;
const KIND_CLOSED_CHAN: u8 = 4;

type Loc = Location<'static>;

/// The base instant park times are stored relative to.
fn base() -> Instant {
    static BASE: OnceLock<Instant> = OnceLock::new();
    *BASE.get_or_init(Instant::now)
}

thread_local! {
    /// The park time this thread converted last and its nanoseconds since
    /// `base()`: a worker's park times come from its coarse clock, which
    /// repeats for many parks, and the conversion (`duration_since`) was
    /// the largest part of storing a park.
    static LAST_SINCE: Cell<Option<(Instant, u64)>> = const { Cell::new(None) };
}

/// `since` as nanoseconds since `base()` (saturating at 0).
fn since_nanos(since: Instant) -> u64 {
    let convert = |since: Instant| since.saturating_duration_since(base()).as_nanos() as u64;
    LAST_SINCE
        .try_with(|last| match last.get() {
            Some((at, n)) if at == since => n,
            _ => {
                let n = convert(since);
                last.set(Some((since, n)));
                n
            }
        })
        .unwrap_or_else(|_| convert(since))
}

/// See the module docs. 56 bytes: the small fields share the word of `seq`,
/// a channel's capacity and length share one word (each saturated to
/// `u32::MAX`), an `Other` object's name is stored as its pointer here and
/// its length (at most 255 bytes, cut at a character boundary) in `name_len`; the first private-handle key is one word (a select's other
/// keys use the object's words, which a select park does not need).
pub(crate) struct WaitCell {
    seq: AtomicU32,
    reason: AtomicU8,
    /// `KIND_*`: `KIND_NONE` until the first park.
    kind: AtomicU8,
    /// `WaitRecord::forever`.
    forever: AtomicU8,
    /// Other: the name's length.
    name_len: AtomicU8,
    at: AtomicPtr<Loc>,
    /// The object's id; without an object (`KIND_NO_OBJECT`): the second
    /// private key (`WaitRecord::private`, a select's).
    obj_id: AtomicU64,
    /// The object's `made_at` (a pointer); without an object: the third
    /// private key.
    obj_made_at: AtomicU64,
    /// Chan, ClosedChan: `cap << 32 | len`; Other: the name's pointer;
    /// without an object: the fourth private key.
    obj: AtomicU64,
    /// Nanoseconds since `base()`.
    since: AtomicU64,
    /// `WaitRecord::private`: the first key's `to_bits` (0: none).
    private: AtomicU64,
}

#[inline]
fn loc_ptr(l: Option<&'static Loc>) -> *mut Loc {
    l.map_or(ptr::null_mut(), |l| ptr::from_ref(l).cast_mut())
}

/// `l`'s address as a word (0: none).
fn loc_bits(l: Option<&'static Loc>) -> u64 {
    loc_ptr(l) as usize as u64
}

/// A channel's capacity and length in one word (each saturated).
#[inline]
fn pack_chan(cap: usize, len: usize) -> u64 {
    let c = u64::try_from(cap)
        .unwrap_or(u64::MAX)
        .min(u64::from(u32::MAX));
    let l = u64::try_from(len)
        .unwrap_or(u64::MAX)
        .min(u64::from(u32::MAX));
    c << 32 | l
}

fn unpack_chan(w: u64) -> (usize, usize) {
    ((w >> 32) as usize, (w & u64::from(u32::MAX)) as usize)
}

/// `name` cut to at most 255 bytes, at a character boundary.
fn short_name(name: &'static str) -> &'static str {
    let mut end = name.len().min(u8::MAX as usize);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    &name[..end]
}

impl WaitCell {
    pub(crate) fn new() -> Self {
        WaitCell {
            seq: AtomicU32::new(0),
            reason: AtomicU8::new(0),
            kind: AtomicU8::new(KIND_NONE),
            forever: AtomicU8::new(0),
            name_len: AtomicU8::new(0),
            at: AtomicPtr::new(ptr::null_mut()),
            obj_id: AtomicU64::new(0),
            obj_made_at: AtomicU64::new(0),
            obj: AtomicU64::new(0),
            since: AtomicU64::new(0),
            private: AtomicU64::new(0),
        }
    }

    /// Stores `w`. Only the thread polling the goroutine calls this.
    pub(crate) fn write(&self, w: &WaitRecord) {
        let s = self.seq.load(Ordering::Relaxed);
        self.seq.store(s.wrapping_add(1), Ordering::Relaxed);
        // Pairs with the reader's Acquire fence (see module docs).
        fence(Ordering::Release);
        self.reason.store(w.reason.as_u8(), Ordering::Relaxed);
        self.at.store(loc_ptr(w.at), Ordering::Relaxed);
        let keys = w.private.0;
        // Only a park without an object has more than one private key (a
        // select's); an object's words are not free for them.
        debug_assert!(w.on.is_none() || keys[1] == 0);
        let no_object = (KIND_NO_OBJECT, keys[1], keys[2], keys[3], 0);
        let (kind, id, made_at, obj, name_len) = match w.on {
            None => no_object,
            Some(o) => match o.detail {
                ObjectDetail::Chan { cap, len } => (
                    KIND_CHAN,
                    o.id as u64,
                    loc_bits(o.made_at),
                    pack_chan(cap, len),
                    0,
                ),
                ObjectDetail::ClosedChan { cap, len } => (
                    KIND_CLOSED_CHAN,
                    o.id as u64,
                    loc_bits(o.made_at),
                    pack_chan(cap, len),
                    0,
                ),
                ObjectDetail::Other(name) => {
                    let name = short_name(name);
                    (
                        KIND_OTHER,
                        o.id as u64,
                        loc_bits(o.made_at),
                        name.as_ptr() as u64,
                        name.len() as u8,
                    )
                }
                // A kind added to goro-hook after this runtime was written:
                // record the park without its object.
                _ => no_object,
            },
        };
        self.kind.store(kind, Ordering::Relaxed);
        self.obj_id.store(id, Ordering::Relaxed);
        self.obj_made_at.store(made_at, Ordering::Relaxed);
        self.obj.store(obj, Ordering::Relaxed);
        self.name_len.store(name_len, Ordering::Relaxed);
        self.since.store(since_nanos(w.since), Ordering::Relaxed);
        self.forever.store(u8::from(w.forever), Ordering::Relaxed);
        self.private.store(keys[0], Ordering::Relaxed);
        // Release pairs with the reader's first (Acquire) load of `seq`.
        self.seq.store(s.wrapping_add(2), Ordering::Release);
    }

    /// A consistent copy of the last park, if any, with its sequence
    /// number (which changes with every park).
    pub(crate) fn read(&self) -> Option<(WaitRecord, u32)> {
        loop {
            // Acquire pairs with the writer's final Release store.
            let s1 = self.seq.load(Ordering::Acquire);
            if s1 % 2 == 1 {
                spin_wait();
                continue;
            }
            let reason = self.reason.load(Ordering::Relaxed);
            let at = self.at.load(Ordering::Relaxed);
            let kind = self.kind.load(Ordering::Relaxed);
            let id = self.obj_id.load(Ordering::Relaxed);
            let made_at_bits = self.obj_made_at.load(Ordering::Relaxed);
            let obj = self.obj.load(Ordering::Relaxed);
            let name_len = self.name_len.load(Ordering::Relaxed);
            let since = self.since.load(Ordering::Relaxed);
            let forever = self.forever.load(Ordering::Relaxed) != 0;
            let private = self.private.load(Ordering::Relaxed);
            // Pairs with the writer's Release fence (see module docs).
            fence(Ordering::Acquire);
            if self.seq.load(Ordering::Relaxed) != s1 {
                spin_wait();
                continue;
            }
            if kind == KIND_NONE {
                return None;
            }
            // SAFETY: null or a pointer `write` took from a
            // `&'static Location`.
            let at = unsafe { at.as_ref() };
            let made_at = if kind == KIND_NO_OBJECT {
                None
            } else {
                // SAFETY: with an object, `seq` validated that the word is
                // what `write` stored from `loc_bits`: null or the address
                // of a `&'static Location`.
                unsafe { (made_at_bits as usize as *const Loc).as_ref() }
            };
            let detail = match kind {
                KIND_CHAN => {
                    let (cap, len) = unpack_chan(obj);
                    Some(ObjectDetail::Chan { cap, len })
                }
                KIND_CLOSED_CHAN => {
                    let (cap, len) = unpack_chan(obj);
                    Some(ObjectDetail::ClosedChan { cap, len })
                }
                KIND_OTHER => {
                    // SAFETY: `seq` validated that `obj` and `name_len` are
                    // the pointer and length of one `&'static str` (cut at
                    // a character boundary) stored by `write`.
                    let name = unsafe {
                        std::str::from_utf8_unchecked(std::slice::from_raw_parts(
                            obj as usize as *const u8,
                            usize::from(name_len),
                        ))
                    };
                    Some(ObjectDetail::Other(name))
                }
                _ => None,
            };
            let private = if kind == KIND_NO_OBJECT {
                Private([private, id, made_at_bits, obj])
            } else {
                Private([private, 0, 0, 0])
            };
            let id = id as usize;
            return Some((
                WaitRecord {
                    reason: WaitReason::from_u8(reason).unwrap_or(WaitReason::FutureWait),
                    at,
                    on: detail.map(|detail| WaitObject {
                        id,
                        made_at,
                        detail,
                    }),
                    since: base() + Duration::from_nanos(since),
                    forever,
                    private,
                },
                s1,
            ));
        }
    }
}

#[cfg(all(test, not(goro_loom)))]
mod tests {
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;

    use super::*;

    fn record(n: usize) -> WaitRecord {
        let other = n % 2 == 1;
        WaitRecord {
            reason: if other {
                WaitReason::MutexLock
            } else {
                WaitReason::ChanSend
            },
            at: Some(Location::caller()),
            on: Some(WaitObject {
                id: n,
                made_at: if other {
                    None
                } else {
                    Some(Location::caller())
                },
                detail: if other {
                    ObjectDetail::Other("sync.Mutex")
                } else {
                    ObjectDetail::Chan { cap: n, len: n }
                },
            }),
            since: base() + Duration::from_nanos(n as u64),
            forever: false,
            private: Private::NONE,
        }
    }

    fn consistent(w: &WaitRecord) -> bool {
        let o = w.on.unwrap();
        let n = o.id;
        match o.detail {
            ObjectDetail::Chan { cap, len } => {
                w.reason == WaitReason::ChanSend && cap == n && len == n && o.made_at.is_some()
            }
            ObjectDetail::Other(name) => {
                w.reason == WaitReason::MutexLock && name == "sync.Mutex" && o.made_at.is_none()
            }
            _ => false,
        }
    }

    #[test]
    fn empty_until_written() {
        let c = WaitCell::new();
        assert!(c.read().is_none());
        c.write(&record(0));
        assert_eq!(c.read().unwrap().0.on.unwrap().id, 0);
        c.write(&WaitRecord {
            on: None,
            ..record(1)
        });
        assert!(c.read().unwrap().0.on.is_none());
    }

    /// Park times round-trip, repeated or not (the thread's conversion
    /// cache never answers for another instant).
    #[test]
    fn park_times_round_trip() {
        let c = WaitCell::new();
        for n in [5, 5, 7, 5, 7, 7, 1_000_000_007] {
            let w = record(n);
            c.write(&w);
            assert_eq!(c.read().unwrap().0.since, w.since, "park time {n}");
        }
    }

    #[test]
    fn closed_channels_round_trip() {
        let c = WaitCell::new();
        let mut w = record(0);
        let mut on = w.on.unwrap();
        on.detail = ObjectDetail::ClosedChan { cap: 3, len: 1 };
        w.on = Some(on);
        c.write(&w);
        assert_eq!(c.read().unwrap().0.on, Some(on));
    }

    #[test]
    fn compact_fields_round_trip() {
        let c = WaitCell::new();
        let mut w = record(0);
        let mut on = w.on.unwrap();
        on.detail = ObjectDetail::Chan {
            cap: usize::MAX,
            len: 7,
        };
        w.on = Some(on);
        c.write(&w);
        let got = c.read().unwrap().0.on.unwrap().detail;
        assert_eq!(
            got,
            ObjectDetail::Chan {
                cap: u32::MAX as usize,
                len: 7
            }
        );
        // A static, not `Box::leak`: LeakSanitizer (.ci/run) reports a
        // leaked box, not memory a static still reaches.
        static LONG: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| "é".repeat(200));
        let long: &'static str = LONG.as_str();
        on.detail = ObjectDetail::Other(long);
        w.on = Some(on);
        c.write(&w);
        let Some(ObjectDetail::Other(name)) = c.read().unwrap().0.on.map(|o| o.detail) else {
            panic!("not Other")
        };
        assert_eq!(name, &long[..254]);
        // 48 plus the private-handle key (one word: `RecordKey::to_bits`).
        assert_eq!(std::mem::size_of::<WaitCell>(), 56);
    }

    /// A select park (no object) keeps up to four private keys, in the
    /// object's words; a park on an object keeps one, and its object.
    #[test]
    fn private_keys_round_trip() {
        let slots: Vec<goro_hook::RecordSlot> =
            (0..4).map(|_| goro_hook::RecordSlot::new()).collect();
        let c = WaitCell::new();
        let mut w = record(0);
        w.reason = WaitReason::Select;
        w.on = None;
        w.private = Private::of(slots.iter().map(goro_hook::RecordSlot::key));
        c.write(&w);
        let (r, _) = c.read().unwrap();
        assert_eq!(r.private, w.private);
        assert_eq!(r.private.keys().count(), 4);
        assert!(r.on.is_none());
        let mut w = record(2);
        w.private = Private::one(slots[1].key());
        c.write(&w);
        let (r, _) = c.read().unwrap();
        assert_eq!(r.private.keys().collect::<Vec<_>>(), [slots[1].key()]);
        assert_eq!(r.on, w.on);
    }

    /// A reader racing a writer only ever sees whole records (bounded).
    #[test]
    fn reads_are_never_torn() {
        let c = Arc::new(WaitCell::new());
        c.write(&record(0));
        let done = Arc::new(AtomicBool::new(false));
        let reader = {
            let (c, done) = (c.clone(), done.clone());
            std::thread::spawn(move || {
                let mut reads = 0u32;
                while !done.load(Ordering::Relaxed) || reads == 0 {
                    let w = c.read().unwrap().0;
                    assert!(consistent(&w), "torn read");
                    reads += 1;
                }
            })
        };
        for n in 0..200_000 {
            c.write(&record(n));
        }
        done.store(true, Ordering::Relaxed);
        reader.join().unwrap();
    }
}

#[cfg(all(test, goro_loom))]
mod loom_tests {
    //! Model: a dump reading the cell while the goroutine writes two parks
    //! sees nothing torn.
    //!
    //! Run (under 2 s once built; dropping the re-validation of `seq` makes it
    //! fail at 2 preemptions):
    //! `RUSTFLAGS="--cfg goro_loom" LOOM_MAX_PREEMPTIONS=3 cargo test -p goro-runtime --release --lib wait_cell -- --test-threads=1`

    use super::*;
    use crate::loom::{thread, Arc};

    fn record(n: usize) -> WaitRecord {
        WaitRecord {
            reason: WaitReason::ChanSend,
            at: None,
            on: Some(WaitObject {
                id: n,
                made_at: None,
                detail: ObjectDetail::Chan { cap: n, len: n },
            }),
            since: base(),
            forever: false,
            private: Private::NONE,
        }
    }

    #[test]
    fn wait_cell_reads_are_consistent() {
        loom::model(|| {
            let c = Arc::new(WaitCell::new());
            c.write(&record(1));
            let w = {
                let c = c.clone();
                thread::spawn(move || c.write(&record(2)))
            };
            let r = c.read().unwrap().0.on.unwrap();
            let ObjectDetail::Chan { cap, len } = r.detail else {
                panic!("wrong kind")
            };
            assert!(r.id == 1 || r.id == 2);
            assert_eq!((cap, len), (r.id, r.id));
            w.join().unwrap();
        });
    }
}
