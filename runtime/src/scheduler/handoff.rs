//! Taking a core away from a thread stuck in one goroutine poll.
//!
//! Loom model at the bottom of this file:
//! `RUSTFLAGS="--cfg goro_loom" cargo test -p goro-runtime --release --lib handoff -- --test-threads=1`
//!
//! Go: `retake` and `handoffp` in `runtime/proc.go`: sysmon takes the P of an
//! M that has been in a system call for a while and gives it to another M;
//! the M gets a P again (or parks as a spare) when the call returns.
//!
//! # Design
//!
//! A goroutine is an async task, so "in a system call" is "inside one poll":
//! the thread running a core publishes, in the core's [`Lease`], whether it is
//! inside a goroutine poll and which one (a sequence number). While it is,
//! the core (its local queue; its `runnext` slot lives in `Remote`) may be
//! *retaken*: the monitor (or `stop`) claims it and hands it to another
//! thread. The polling thread itself touches its core during a poll only in
//! short *sections* (a wake or spawn pushing to its queues); it leaves the
//! poll state for a section and comes back to it afterwards, and when the
//! poll returns it leaves the poll state for good and checks whether it
//! still holds the core. A thread that lost its core finishes its poll
//! without it (wakes from that poll go to the injector) and then rejoins
//! the runtime as a spare.
//!
//! The claim word holds the lease's *epoch* (bumped each time a thread
//! starts running the core) and a state: `HELD`, `REQUESTED` (a retaker is
//! checking), `TAKEN`. Retaking is
//!
//! 1. read the poll word `v` (in a poll) twice, far enough apart (the
//!    monitor's business);
//! 2. CAS the claim `HELD -> REQUESTED`;
//! 3. a *heavy* barrier;
//! 4. read the poll word again: if it is not `v`, CAS `REQUESTED -> HELD`
//!    (give up); else CAS `REQUESTED -> TAKEN`, and on success the core is
//!    the retaker's.
//!
//! The owner, entering a section or leaving its poll: store the poll word
//! without the in-poll bit; a *light* barrier; read the claim: `HELD` (its
//! epoch): it holds the core; `REQUESTED`: CAS it back to `HELD` (exactly one
//! of this CAS and the retaker's `REQUESTED -> TAKEN` wins); anything else:
//! lost.
//!
//! # Proof sketch
//!
//! Steps 2–4 against the owner's store–barrier–load are Dekker's pattern:
//! in the single order of the two barriers, either the retaker's re-read
//! (4) sees the owner's store (the owner was not in its poll, or left it:
//! the retaker gives up), or the owner's read of the claim sees
//! `REQUESTED` (and the CAS race decides). So the retaker gets the core only
//! while the owner is inside its poll and outside a section, and the owner,
//! from its next section or the end of the poll on, knows it lost the core.
//! A section that began and ended between steps 1 and 4 leaves the poll
//! word at `v` again; that is harmless: the owner is outside the section
//! at the barrier and re-reads the claim at its next one. Each thread has
//! its own poll word (a thread that lost its core may store to its word
//! once more before it notices; that must not hide the next owner's poll),
//! the retaker re-reads the word it saw `v` in, its sequence number grows
//! with every poll, and the CAS in step 2 names the epoch that `v` was
//! seen in: no ABA across polls or owners.
//!
//! # Memory ordering
//!
//! The barriers: on Linux the light one is a compiler fence and the heavy
//! one is `membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED)`, which runs a full
//! fence on every thread of the process that is running (a thread that is
//! not running has one at its context switch): the poll path pays no fence
//! (this is the asymmetric-fence technique of liburcu and folly). Where
//! `membarrier` is not available both are `fence(SeqCst)`. Under loom both
//! are `fence(SeqCst)`, which is what the model checks.
//!
//! The owner's stores of the poll word with the in-poll bit are Release;
//! the retaker's re-read (4) is Acquire and reads that store or a later
//! one, so everything the owner did to the core before entering its poll
//! (or leaving its last section) happens before the retaker uses it. The
//! claim CASes are AcqRel; `begin` publishes the core pointer with a
//! Release store of the new epoch that the retaker's CAS (2) reads.

use std::cell::Cell;
use std::ptr::{self, NonNull};

use crate::loom::{lock, Arc, AtomicPtr, AtomicU32, Mutex, Ordering};

/// Poll word: the owner is inside a goroutine poll (the core may be
/// retaken). The other bits are the poll's sequence number.
const IN_POLL: u32 = 1;

/// Claim states (low two bits of the claim word; the rest is the epoch).
const HELD: u32 = 0;
const REQUESTED: u32 = 1;
const TAKEN: u32 = 2;

/// The lease of one core to the thread running it. Go: `p.status`
/// (`_Prunning` / `_Psyscall`) plus `p.syscalltick`.
pub(crate) struct Lease<T> {
    /// `epoch << 2 | state`.
    claim: AtomicU32,
    /// The core lent to the current epoch's thread (set by `begin`).
    core: AtomicPtr<T>,
    /// The current epoch and its thread's poll word. Written by `begin`,
    /// read by retakers; a leaf lock, never held while polling.
    runner: Mutex<Runner>,
}

struct Runner {
    epoch: u32,
    word: Option<Arc<AtomicU32>>,
    /// The running thread's OS id (Linux; 0 elsewhere), to tell a thread
    /// blocked in the kernel from one that computes.
    tid: i32,
}

/// The thread running a core: its side of the lease.
///
/// The poll word (`seq << 1 | IN_POLL`) is the thread's own, written only by
/// it: a thread that lost its core may store to it once more before it
/// learns of the loss, and that must not disturb the next owner's word.
pub(crate) struct Holder {
    epoch: u32,
    word: Arc<AtomicU32>,
    seq: Cell<u32>,
}

/// A retaker's observation of a core's owner inside a poll.
#[derive(Clone)]
pub(crate) struct Observed {
    epoch: u32,
    word: Arc<AtomicU32>,
    value: u32,
    tid: i32,
}

impl Observed {
    /// Whether the owner thread is blocked in the kernel (sleeping, in a
    /// system call) rather than computing. Linux reads the thread's state
    /// from `/proc`; elsewhere (or if that fails) every stuck thread counts
    /// as blocked, which is Go's rule for a P in a system call.
    pub(crate) fn thread_blocked(&self) -> bool {
        thread_blocked(self.tid)
    }

    /// The owner thread's CPU time so far (Linux), to tell a thread that
    /// computes from one that the OS does not get to run (a loaded
    /// machine): only the first is worth a core of its own.
    pub(crate) fn thread_cpu(&self) -> Option<std::time::Duration> {
        thread_cpu(self.tid)
    }

    /// Whether `self` and `other` saw the same poll of the same owner.
    pub(crate) fn same_poll(&self, other: &Observed) -> bool {
        self.epoch == other.epoch && self.value == other.value
    }
}

impl<T> Lease<T> {
    pub(crate) fn new() -> Self {
        Lease {
            claim: AtomicU32::new(0),
            core: AtomicPtr::new(ptr::null_mut()),
            runner: Mutex::new(Runner {
                epoch: 0,
                word: None,
                tid: 0,
            }),
        }
    }

    /// The calling thread starts running the core `core` (owned by it, by
    /// raw pointer: see `worker::CoreBox`).
    pub(crate) fn begin(&self, core: NonNull<T>) -> Holder {
        let word = Arc::new(AtomicU32::new(0));
        let mut runner = lock(&self.runner);
        let epoch = runner.epoch.wrapping_add(1);
        runner.epoch = epoch;
        runner.word = Some(word.clone());
        runner.tid = current_tid();
        self.core.store(core.as_ptr(), Ordering::Relaxed);
        // Release: publishes `core` to the retaker's CAS (step 2).
        self.claim.store(epoch << 2 | HELD, Ordering::Release);
        drop(runner);
        Holder {
            epoch,
            word,
            seq: Cell::new(0),
        }
    }

    /// The owner in a goroutine poll, if it is in one.
    pub(crate) fn observe(&self) -> Option<Observed> {
        let runner = lock(&self.runner);
        let word = runner.word.clone()?;
        // Relaxed: a hint; `try_retake` re-reads it with Acquire.
        let value = word.load(Ordering::Relaxed);
        (value & IN_POLL != 0).then_some(Observed {
            epoch: runner.epoch,
            word,
            value,
            tid: runner.tid,
        })
    }

    /// Takes the core from its owner if the owner is still inside the poll
    /// it was `seen` in. Monitor and `stop` only.
    pub(crate) fn try_retake(&self, seen: &Observed) -> Option<NonNull<T>> {
        let held = seen.epoch << 2 | HELD;
        // AcqRel: Acquire pairs with `begin`'s Release (the core pointer).
        // Fails if another thread runs the core by now (a new epoch) or
        // another retaker is at it.
        if self
            .claim
            .compare_exchange(held, held | REQUESTED, Ordering::AcqRel, Ordering::Relaxed)
            .is_err()
        {
            return None;
        }
        heavy_barrier();
        // Acquire pairs with the owner's Release stores of its poll word.
        if seen.word.load(Ordering::Acquire) != seen.value {
            // The owner left the poll (or is in a section): give up. The
            // owner may have cancelled the request already.
            let _ = self.claim.compare_exchange(
                held | REQUESTED,
                held,
                Ordering::AcqRel,
                Ordering::Relaxed,
            );
            return None;
        }
        match self.claim.compare_exchange(
            held | REQUESTED,
            held | TAKEN,
            Ordering::AcqRel,
            Ordering::Relaxed,
        ) {
            // Relaxed: `begin`'s store of the pointer happens before its
            // Release store of the claim that our first CAS read.
            Ok(_) => NonNull::new(self.core.load(Ordering::Relaxed)),
            Err(_) => None,
        }
    }

    fn still_held(&self, epoch: u32) -> bool {
        let mine = epoch << 2 | HELD;
        // Acquire pairs with the retaker's AcqRel CASes.
        let mut c = self.claim.load(Ordering::Acquire);
        loop {
            if c == mine {
                return true;
            }
            if c != mine | REQUESTED {
                return false;
            }
            // A retaker is checking: cancel it (or learn that it won).
            match self
                .claim
                .compare_exchange(c, mine, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return true,
                Err(actual) => c = actual,
            }
        }
    }
}

impl Holder {
    /// The owner enters a goroutine poll.
    #[inline]
    pub(crate) fn enter_poll(&self) {
        let seq = self.seq.get().wrapping_add(1);
        self.seq.set(seq);
        // Release: see the module's memory ordering.
        self.word.store(seq << 1 | IN_POLL, Ordering::Release);
    }

    /// The owner leaves its poll, or starts a section inside it. Returns
    /// whether it still holds the core of `lease`.
    #[inline]
    pub(crate) fn leave_poll<T>(&self, lease: &Lease<T>) -> bool {
        self.word.store(self.seq.get() << 1, Ordering::Relaxed);
        light_barrier();
        lease.still_held(self.epoch)
    }

    /// The owner ends a section inside its poll (it held the core).
    #[inline]
    pub(crate) fn resume_poll(&self) {
        // Release: see the module's memory ordering.
        self.word
            .store(self.seq.get() << 1 | IN_POLL, Ordering::Release);
    }
}

#[cfg(all(target_os = "linux", not(goro_loom)))]
fn current_tid() -> i32 {
    // SAFETY: `gettid` takes no arguments and cannot fail.
    unsafe { libc::syscall(libc::SYS_gettid) as i32 }
}

#[cfg(not(all(target_os = "linux", not(goro_loom))))]
fn current_tid() -> i32 {
    0
}

#[cfg(all(target_os = "linux", not(goro_loom)))]
fn thread_blocked(tid: i32) -> bool {
    // `/proc/self/task/TID/stat`: "tid (comm) S ...": the state is the
    // first field after the last ')'. 'R' is running or runnable.
    match std::fs::read(format!("/proc/self/task/{tid}/stat")) {
        Ok(buf) => {
            let after = buf.iter().rposition(|&b| b == b')').map_or(0, |p| p + 1);
            buf[after..].iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'R')
        }
        Err(_) => true,
    }
}

#[cfg(not(all(target_os = "linux", not(goro_loom))))]
fn thread_blocked(_tid: i32) -> bool {
    true
}

#[cfg(all(target_os = "linux", not(goro_loom)))]
fn thread_cpu(tid: i32) -> Option<std::time::Duration> {
    // The kernel's CPU-time clock of thread `tid`: MAKE_THREAD_CPUCLOCK(tid,
    // CPUCLOCK_SCHED) in linux/posix-timers.h. A thread that exited makes
    // `clock_gettime` fail (EINVAL); nothing is dereferenced.
    let clock = ((!tid) << 3) | 6;
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid out-pointer for the call.
    let r = unsafe { libc::clock_gettime(clock as libc::clockid_t, &mut ts) };
    (r == 0).then(|| std::time::Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))
}

#[cfg(not(all(target_os = "linux", not(goro_loom))))]
fn thread_cpu(_tid: i32) -> Option<std::time::Duration> {
    None
}

#[cfg(all(goro_loom, test))]
fn light_barrier() {
    crate::loom::fence(Ordering::SeqCst);
}

#[cfg(all(goro_loom, test))]
fn heavy_barrier() {
    crate::loom::fence(Ordering::SeqCst);
}

#[cfg(not(all(goro_loom, test)))]
pub(crate) use barrier::{heavy_barrier, light_barrier, register_process};

#[cfg(all(goro_loom, test))]
pub(crate) fn register_process() {}

#[cfg(not(all(goro_loom, test)))]
mod barrier {
    //! The asymmetric barrier pair (see the module docs).

    use std::sync::atomic::{compiler_fence, fence, AtomicBool, Ordering};
    use std::sync::Once;

    /// Whether `membarrier` is registered for this process (set once, by
    /// the first runtime start, before any thread uses a lease).
    static EXPEDITED: AtomicBool = AtomicBool::new(false);

    /// Registers the process for expedited `membarrier` (idempotent).
    pub(crate) fn register_process() {
        static ONCE: Once = Once::new();
        ONCE.call_once(|| {
            // Relaxed: `Once` orders this store before every later
            // `call_once` return, and runtime threads are started after it.
            EXPEDITED.store(register(), Ordering::Relaxed);
        });
    }

    #[cfg(target_os = "linux")]
    fn register() -> bool {
        const MEMBARRIER_CMD_QUERY: libc::c_long = 0;
        const MEMBARRIER_CMD_PRIVATE_EXPEDITED: libc::c_long = 1 << 3;
        const MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED: libc::c_long = 1 << 4;
        // SAFETY: `membarrier` takes (cmd, flags, cpu_id) integers and
        // touches no memory of ours.
        let supported = unsafe { libc::syscall(libc::SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0) };
        if supported < 0 || supported & MEMBARRIER_CMD_PRIVATE_EXPEDITED == 0 {
            return false;
        }
        // SAFETY: as above.
        let r = unsafe {
            libc::syscall(
                libc::SYS_membarrier,
                MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED,
                0,
                0,
            )
        };
        r == 0
    }

    #[cfg(not(target_os = "linux"))]
    fn register() -> bool {
        false
    }

    /// The owner's side: free with `membarrier`.
    #[inline]
    pub(crate) fn light_barrier() {
        if EXPEDITED.load(Ordering::Relaxed) {
            compiler_fence(Ordering::SeqCst);
        } else {
            fence(Ordering::SeqCst);
        }
    }

    /// The retaker's side: a full fence on every running thread.
    pub(crate) fn heavy_barrier() {
        #[cfg(target_os = "linux")]
        if EXPEDITED.load(Ordering::Relaxed) {
            const MEMBARRIER_CMD_PRIVATE_EXPEDITED: libc::c_long = 1 << 3;
            // SAFETY: see `register`.
            let r = unsafe {
                libc::syscall(libc::SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0)
            };
            if r == 0 {
                return;
            }
            // Registered, so this cannot fail; if it did, the owners'
            // compiler fences would not be enough: never retake then.
            panic!("goro: membarrier failed after registration");
        }
        fence(Ordering::SeqCst);
    }
}

#[cfg(all(test, goro_loom))]
mod loom_tests {
    //! Model of the core hand-off: the owner runs a poll with one section
    //! (a wake pushing to the core) and then leaves the poll; a retaker
    //! tries to take the core meanwhile. The core must never be used by
    //! both, every push must land exactly once, and the owner must learn
    //! whether it lost the core.
    //!
    //! Run (a few seconds once built):
    //! `RUSTFLAGS="--cfg goro_loom" cargo test -p goro-runtime --release --lib handoff -- --test-threads=1`

    use super::*;
    use crate::loom::{thread, Arc, AtomicUsize};

    struct Core {
        /// Pushes made while holding the core (loom checks the plain
        /// accesses for races through the `UnsafeCell`).
        pushes: loom::cell::UnsafeCell<usize>,
        /// Who holds it: 1 owner, 2 retaker; loom asserts exclusive use.
        users: AtomicUsize,
    }

    impl Core {
        fn use_it(&self, who: usize) {
            assert_eq!(
                self.users.swap(who, Ordering::Relaxed),
                0,
                "core used by two threads"
            );
            // SAFETY: exclusive use, checked above and by loom.
            self.pushes.with_mut(|p| unsafe { *p += 1 });
            self.users.store(0, Ordering::Relaxed);
        }
    }

    /// A core lent to this thread, which is inside a poll, as a retaker
    /// observed it.
    fn owner_in_poll() -> (&'static Core, Arc<Lease<Core>>, Holder, Observed) {
        let core = Box::leak(Box::new(Core {
            pushes: loom::cell::UnsafeCell::new(0),
            users: AtomicUsize::new(0),
        }));
        let lease = Arc::new(Lease::<Core>::new());
        let held = lease.begin(NonNull::from(&*core));
        held.enter_poll();
        let seen = lease.observe().expect("in a poll");
        (core, lease, held, seen)
    }

    #[test]
    fn loom_handoff_retake_during_poll() {
        loom::model(|| {
            let (core, lease, held, seen) = owner_in_poll();
            let retaker = {
                let lease = lease.clone();
                thread::spawn(move || {
                    let got = lease.try_retake(&seen);
                    if let Some(c) = got {
                        // SAFETY: retaken: the core is ours now.
                        unsafe { c.as_ref() }.use_it(2);
                    }
                    got.is_some()
                })
            };
            // A section inside the poll (a wake pushing to the core).
            let mut owner_pushes = 0;
            let mut lost = false;
            if held.leave_poll(&lease) {
                core.use_it(1);
                owner_pushes += 1;
                held.resume_poll();
            } else {
                lost = true;
            }
            // The poll returns.
            if !lost && held.leave_poll(&lease) {
                core.use_it(1);
                owner_pushes += 1;
            } else {
                lost = true;
            }
            let retaken = retaker.join().unwrap();
            assert_eq!(
                lost, retaken,
                "the owner must learn exactly when it lost the core"
            );
            let total = core.pushes.with(|p| unsafe { *p });
            assert_eq!(total, owner_pushes + usize::from(retaken));
            // SAFETY: both threads are done with it (leaked above).
            drop(unsafe { Box::from_raw(std::ptr::from_ref(core).cast_mut()) });
        });
    }

    #[test]
    fn loom_handoff_poll_ends_during_retake() {
        // The poll ends while a retaker that saw it is at work: exactly
        // one of them ends up with the core.
        loom::model(|| {
            let (core, lease, held, seen) = owner_in_poll();
            let retaker = {
                let lease = lease.clone();
                thread::spawn(move || lease.try_retake(&seen).is_some())
            };
            let kept = held.leave_poll(&lease);
            if kept {
                core.use_it(1);
            }
            let retaken = retaker.join().unwrap();
            assert_eq!(kept, !retaken);
            // SAFETY: both threads are done with it (leaked above).
            drop(unsafe { Box::from_raw(std::ptr::from_ref(core).cast_mut()) });
        });
    }
}
