//! Go: `golang.org/x/sync/singleflight`: suppress duplicate calls. While a
//! call for a key is in flight, other callers with that key wait for it and
//! share its result.
//!
//! # Design
//!
//! As x/sync's: a map from key to the call in flight, under one lock. The
//! first caller (the *leader*) inserts a call and runs its own future in
//! its own task, as Go runs `fn` in the caller's goroutine; later callers
//! (*waiters*) count themselves in and park on the call's done channel. The
//! leader stores the result, removes the key (unless `forget` already did),
//! and closes the channel.
//!
//! Cancel safety, which Go does not need: a waiter dropped while parked
//! changes nothing; a leader dropped before its future finished *abandons*
//! the call: it removes the key and wakes the waiters, and each retries
//! with its own future (one becomes the new leader), so no waiter hangs on
//! a call nobody runs.
//!
//! A panicking call is reported to every caller: the leader's task panics
//! with the original payload, and every waiter panics with its message (Go:
//! the waiters of `Do` panic with the `panicError`).
//!
//! # Locking
//!
//! `calls` guards the map and every call's waiter count; the result is set
//! before the done channel is closed and read after it is, so it needs no
//! lock. No user code and no await happens under `calls`.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};

use goro_chan::Chan;

use crate::catch_unwind::{message, CatchUnwind};

/// Deduplicates concurrent calls by key (Go: `singleflight.Group`).
///
/// ```
/// use goro_sync::singleflight::Group;
/// # futures::executor::block_on(async {
/// let g = Group::<&str, u32>::new();
/// let (v, shared) = g.do_call("answer", async { 42 }).await;
/// assert_eq!((v, shared), (42, false));
/// # });
/// ```
pub struct Group<K, V> {
    calls: Mutex<HashMap<K, Arc<Call<V>>>>,
}

/// One call in flight.
struct Call<V> {
    /// Closed when the call ends.
    done: Chan<()>,
    /// Set once, before `done` is closed.
    outcome: OnceLock<Outcome<V>>,
    /// Waiters counted in (protected by the group's `calls` lock).
    dups: std::sync::atomic::AtomicUsize,
}

enum Outcome<V> {
    Value(V),
    Panicked(String),
    /// The leader was dropped before its future finished.
    Abandoned,
}

impl<K, V> Default for Group<K, V> {
    fn default() -> Self {
        Group {
            calls: Mutex::new(HashMap::new()),
        }
    }
}

impl<K, V> fmt::Debug for Group<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Group")
            .field("in_flight", &self.lock().len())
            .finish()
    }
}

impl<K, V> Group<K, V> {
    /// An empty group.
    ///
    /// ```
    /// let g = goro_sync::singleflight::Group::<String, Vec<u8>>::new();
    /// # drop(g);
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<K, Arc<Call<V>>>> {
        self.calls.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<K: Hash + Eq + Clone, V: Clone> Group<K, V> {
    /// Runs `fut` for `key` unless a call for `key` is in flight, in which
    /// case waits for that call and returns its result; `shared` tells
    /// whether the value was given to more than one caller (Go:
    /// `g.Do(key, fn)`, with the error folded into `V`).
    ///
    /// # Panics
    ///
    /// If the call panics: the caller that ran it with the original panic,
    /// every caller that waited for it with the same message.
    ///
    /// ```
    /// use goro_sync::singleflight::Group;
    /// let g = Group::<u32, String>::new();
    /// let gate = goro_chan::make::<()>(0);
    /// let (a, b, ()) = futures::executor::block_on(async {
    ///     futures::join!(
    ///         g.do_call(1, async { gate.recv().await; "once".to_string() }),
    ///         g.do_call(1, async { "never runs: joins the call in flight".to_string() }),
    ///         async { gate.close() },
    ///     )
    /// });
    /// assert_eq!(a, ("once".to_string(), true));
    /// assert_eq!(b, ("once".to_string(), true));
    /// ```
    pub async fn do_call<F>(&self, key: K, fut: F) -> (V, bool)
    where
        F: Future<Output = V>,
    {
        let mut fut = Some(fut);
        loop {
            let (call, leader) = {
                let mut calls = self.lock();
                match calls.get(&key) {
                    Some(c) => {
                        c.dups.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        (c.clone(), false)
                    }
                    None => {
                        let c = Arc::new(Call {
                            done: goro_chan::make(0),
                            outcome: OnceLock::new(),
                            dups: Default::default(),
                        });
                        calls.insert(key.clone(), c.clone());
                        (c, true)
                    }
                }
            };
            if !leader {
                call.done.recv().await;
                match call.outcome.get() {
                    Some(Outcome::Value(v)) => return (v.clone(), true),
                    Some(Outcome::Panicked(msg)) => std::panic::panic_any(msg.clone()),
                    // The leader was dropped: try again, perhaps as leader.
                    Some(Outcome::Abandoned) | None => continue,
                }
            }
            let Some(fut) = fut.take() else {
                unreachable!("a caller leads at most once")
            };
            let mut end = Leader {
                group: self,
                key: &key,
                call: &call,
                ended: false,
            };
            let result = CatchUnwind(fut).await;
            return match result {
                Ok(v) => {
                    let shared = end.end(|| Outcome::Value(v.clone()));
                    (v, shared)
                }
                Err(payload) => {
                    let msg = message(&payload);
                    end.end(|| Outcome::Panicked(msg));
                    std::panic::resume_unwind(payload)
                }
            };
        }
    }

    /// Forgets `key`: a later `do_call` for it runs its own future instead
    /// of waiting for the call in flight, which still completes for its own
    /// waiters (Go: `g.Forget(key)`).
    ///
    /// ```
    /// let g = goro_sync::singleflight::Group::<u8, u8>::new();
    /// g.forget(&1); // no call in flight: nothing to do
    /// ```
    pub fn forget(&self, key: &K) {
        self.lock().remove(key);
    }
}

/// The leader's duty: end the call however the leader's future ends.
struct Leader<'a, K: Hash + Eq, V> {
    group: &'a Group<K, V>,
    key: &'a K,
    call: &'a Arc<Call<V>>,
    ended: bool,
}

impl<K: Hash + Eq, V> Leader<'_, K, V> {
    /// Removes the key (if still ours), stores the outcome (made only if
    /// someone waits for it) and wakes the waiters. Returns whether anyone
    /// waited (Go's `shared`).
    fn end(&mut self, outcome: impl FnOnce() -> Outcome<V>) -> bool {
        self.ended = true;
        let dups = {
            let mut calls = self.group.lock();
            if calls
                .get(self.key)
                .is_some_and(|c| Arc::ptr_eq(c, self.call))
            {
                calls.remove(self.key);
            }
            // Under the lock: no waiter can count itself in after this.
            self.call.dups.load(std::sync::atomic::Ordering::Relaxed)
        };
        if dups > 0 {
            let _ = self.call.outcome.set(outcome());
        }
        self.call.done.close();
        dups > 0
    }
}

impl<K: Hash + Eq, V> Drop for Leader<'_, K, V> {
    fn drop(&mut self) {
        if !self.ended {
            self.end(|| Outcome::Abandoned);
        }
    }
}
