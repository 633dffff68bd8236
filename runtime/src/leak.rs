//! Goroutine leak checks for tests, and goroutines provably parked forever.
//!
//! Go: `go.uber.org/goleak` (`VerifyNone`, `IgnoreCurrent`,
//! `IgnoreTopFunction`, its retry-with-backoff grace period) and the
//! runtime's goroutine leak profile (goroutines no runnable goroutine can
//! reach).
//!
//! # Design
//!
//! [`verify_none_with`] looks at the current runtime's goroutines (the
//! registry), drops the calling goroutine and the ones [`Options`] ignores,
//! and retries with exponential backoff (1 µs doubling up to 100 ms, as
//! goleak) until none is left or the grace period is over. The leftovers
//! become a [`LeakReport`]: its `Display` is their dump, and each
//! [`GoroutineInfo`] says whether the goroutine is provably parked forever
//! (see [`find_stuck`]).
//!
//! Built with `--cfg goro_no_tracking` (`goro_hook::HANDLE_TRACKING` false),
//! channels keep no handle records: [`find_stuck`] then proves only
//! goroutines parked on a sync primitive inside their own future while the
//! program runs; a check whose caller is done (the end of a
//! `#[goro::test]`) still proves every goroutine left by the closed-world
//! rule, and the deadlock check is unchanged.

use std::fmt;
use std::time::{Duration, Instant};

use goro_hook::{ObjectDetail, WaitReason};

use crate::registry::{format_dump, GoroutineId, GoroutineSnapshot, GoroutineState};
use crate::scheduler::stuck::{Stuck, Why};
use crate::scheduler::Shared;

/// Default grace period of a leak check (goleak's default is also a few
/// hundred milliseconds of retries).
pub const DEFAULT_GRACE: Duration = Duration::from_millis(500);

/// What a leak check ignores and how long it waits.
///
/// ```
/// use std::time::Duration;
/// use goro_runtime::leak::Options;
/// let opts = Options::new().ignore_spawned_at("pool.rs").grace(Duration::from_millis(50));
/// goro_runtime::run(async move {
///     assert!(goro_runtime::leak::verify_none_with(opts).is_ok());
/// });
/// ```
#[derive(Clone, Debug)]
#[must_use]
pub struct Options {
    ignored: Vec<GoroutineId>,
    spawned_at: Vec<String>,
    grace: Duration,
    caller_done: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options::new()
    }
}

impl Options {
    /// No goroutine ignored (but the caller), [`DEFAULT_GRACE`].
    pub fn new() -> Self {
        Options {
            ignored: Vec::new(),
            spawned_at: Vec::new(),
            grace: DEFAULT_GRACE,
            caller_done: false,
        }
    }

    /// Ignores every goroutine alive now (goleak's `IgnoreCurrent`): call it
    /// at the start of a test, check at the end.
    ///
    /// ```
    /// goro_runtime::run(async {
    ///     let _old = goro_runtime::spawn(std::future::pending::<()>());
    ///     let opts = goro_runtime::leak::Options::new().ignore_current();
    ///     assert!(goro_runtime::leak::verify_none_with(opts).is_ok());
    /// });
    /// ```
    pub fn ignore_current(mut self) -> Self {
        self.ignored.extend(
            crate::context::current_runtime()
                .into_iter()
                .flat_map(|s| s.registry.snapshot())
                .map(|g| g.id),
        );
        self
    }

    /// Ignores goroutines whose spawn site's `file:line:column` contains
    /// `pattern` (e.g. a file name), as goleak's `IgnoreTopFunction` does
    /// for a function.
    pub fn ignore_spawned_at(mut self, pattern: &str) -> Self {
        self.spawned_at.push(pattern.to_owned());
        self
    }

    /// How long to wait for goroutines to finish before reporting them
    /// (retrying with exponential backoff meanwhile).
    pub fn grace(mut self, d: Duration) -> Self {
        self.grace = d;
        self
    }

    /// Declares that the calling goroutine will not act any more (it checks
    /// at the very end, its own handles dropped): it then no longer counts
    /// as a goroutine that could wake the others, which lets the check
    /// prove `forever`. `#[goro::test]` checks this way.
    pub fn caller_done(mut self) -> Self {
        self.caller_done = true;
        self
    }

    fn ignores(&self, g: &GoroutineSnapshot, me: Option<GoroutineId>) -> bool {
        if Some(g.id) == me || self.ignored.contains(&g.id) {
            return true;
        }
        let at = format!(
            "{}:{}:{}",
            g.created_at.file(),
            g.created_at.line(),
            g.created_at.column()
        );
        self.spawned_at.iter().any(|p| at.contains(p.as_str()))
    }
}

/// One goroutine of a [`LeakReport`] or of [`find_stuck`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct GoroutineInfo {
    /// Its id.
    pub id: GoroutineId,
    /// Go's words: `chan send`, `select`, `runnable`, ...
    pub wait_reason: String,
    /// How long it has been parked (zero unless parked).
    pub parked_for: Duration,
    /// Call site of the operation it is parked in, `file:line:column`.
    pub parked_at: Option<String>,
    /// Where it was spawned, `file:line:column`.
    pub created_at: String,
    /// The goroutine that spawned it.
    pub created_by: Option<GoroutineId>,
    /// Provably parked forever: nothing that can still run holds a way to
    /// wake it (see [`find_stuck`]). Never a guess: `false` when unsure.
    pub forever: bool,
}

impl GoroutineInfo {
    pub(crate) fn from_snapshot(g: &GoroutineSnapshot, forever: bool) -> Self {
        let (parked_for, parked_at) = match g.state {
            GoroutineState::Waiting { since, at, .. } => (
                since.elapsed(),
                at.map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column())),
            ),
            _ => (Duration::ZERO, None),
        };
        GoroutineInfo {
            id: g.id,
            wait_reason: g.wait_reason().to_owned(),
            parked_for,
            parked_at,
            created_at: format!(
                "{}:{}:{}",
                g.created_at.file(),
                g.created_at.line(),
                g.created_at.column()
            ),
            created_by: g.created_by,
            forever,
        }
    }
}

/// Goroutines a leak check found alive.
///
/// `Display` is their dump (Go's traceback-header format); a goroutine that
/// is provably parked forever has a `    parked forever: ...` line saying
/// why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeakReport {
    goroutines: Vec<GoroutineInfo>,
    dump: String,
}

impl LeakReport {
    /// The leaked goroutines, by id.
    pub fn goroutines(&self) -> &[GoroutineInfo] {
        &self.goroutines
    }
}

impl fmt::Display for LeakReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.dump)
    }
}

impl std::error::Error for LeakReport {}

/// Checks that no goroutine but the caller is alive, waiting up to
/// [`DEFAULT_GRACE`] for them to finish. Go: `goleak.VerifyNone`.
///
/// Called from a goroutine, it blocks its worker thread between retries:
/// with one worker the other goroutines cannot finish meanwhile; prefer
/// [`verify_none_async`] there. Off a runtime it finds nothing.
///
/// ```
/// goro_runtime::run(async {
///     let h = goro_runtime::spawn(async {});
///     h.await.unwrap();
///     goro_runtime::leak::verify_none().unwrap();
/// });
/// ```
pub fn verify_none() -> Result<(), LeakReport> {
    verify_none_with(Options::new())
}

/// [`verify_none`] with [`Options`].
pub fn verify_none_with(opts: Options) -> Result<(), LeakReport> {
    let Some(h) = crate::context::current_runtime() else {
        return Ok(());
    };
    let me = crate::context::current_goroutine();
    let mut retry = Retry::new(opts.grace);
    loop {
        let Err(r) = check(&h, &opts, me, opts.caller_done) else {
            return Ok(());
        };
        match retry.pause() {
            Some(d) => std::thread::sleep(d),
            None => return Err(r),
        }
    }
}

/// [`verify_none_with`] for goroutines: parks (sleeps) between retries
/// instead of blocking the worker, so the goroutines it waits for can
/// finish even on one worker.
///
/// ```
/// goro_runtime::run(async {
///     goro_runtime::spawn(async {
///         for _ in 0..100 {
///             goro_runtime::yield_now().await;
///         }
///     });
///     goro_runtime::leak::verify_none_async(Default::default()).await.unwrap();
/// });
/// ```
pub async fn verify_none_async(opts: Options) -> Result<(), LeakReport> {
    let finished = opts.caller_done;
    let Some(h) = crate::context::current_runtime() else {
        return Ok(());
    };
    let me = crate::context::current_goroutine();
    let mut retry = Retry::new(opts.grace);
    loop {
        let Err(r) = check(&h, &opts, me, finished) else {
            return Ok(());
        };
        match retry.pause() {
            Some(d) if d < Duration::from_micros(50) => yield_once().await,
            Some(d) => nap(d).await,
            None => return settle(&h, &opts, me, r).await,
        }
    }
}

/// goleak's retry schedule: pauses of 1 µs doubling up to 100 ms, until
/// the grace period is over.
struct Retry {
    deadline: Instant,
    backoff: Duration,
}

impl Retry {
    fn new(grace: Duration) -> Self {
        Retry {
            deadline: Instant::now() + grace,
            backoff: Duration::from_micros(1),
        }
    }

    /// The next pause, or `None` once the grace period is over.
    fn pause(&mut self) -> Option<Duration> {
        let left = self.deadline.checked_duration_since(Instant::now())?;
        let d = self.backoff.min(left);
        self.backoff = (self.backoff * 2).min(Duration::from_millis(100));
        Some(d)
    }
}

/// The grace period is over and `report` lists leaked goroutines. Each
/// `forever` result is sound on its own, but the world may just be
/// settling (the timer that woke the caller is still counted as firing):
/// for a short while, look again and keep the first report in which every
/// leaked goroutine is proved stuck.
async fn settle(
    h: &Shared,
    opts: &Options,
    me: Option<GoroutineId>,
    mut report: LeakReport,
) -> Result<(), LeakReport> {
    let until = Instant::now() + Duration::from_millis(20);
    while opts.caller_done && !report.goroutines.iter().all(|g| g.forever) && Instant::now() < until
    {
        yield_once().await;
        if let Err(r) = check(h, opts, me, true) {
            report = r;
        } else {
            return Ok(());
        }
    }
    Err(report)
}

fn check(
    h: &Shared,
    opts: &Options,
    me: Option<GoroutineId>,
    finished: bool,
) -> Result<(), LeakReport> {
    let all = h.registry.snapshot();
    let forever = crate::scheduler::stuck::forever(h, &all, me, finished);
    let left: Vec<GoroutineSnapshot> = all
        .iter()
        .filter(|g| !opts.ignores(g, me))
        .cloned()
        .collect();
    if left.is_empty() {
        return Ok(());
    }
    Err(report(&left, &all, &forever))
}

/// The report on `gs` (the goroutines left), `all` being the whole
/// snapshot they were taken from and `forever` those proved stuck.
pub(crate) fn report(
    gs: &[GoroutineSnapshot],
    all: &[GoroutineSnapshot],
    forever: &[Stuck],
) -> LeakReport {
    let why = |id: GoroutineId| forever.iter().find(|s| s.id == id).map(|s| &s.why);
    let mut dump = String::new();
    for (i, g) in gs.iter().enumerate() {
        if i > 0 {
            dump.push('\n');
        }
        dump.push_str(&format_dump(std::slice::from_ref(g)));
        if let Some(w) = why(g.id) {
            dump.push_str(&forever_line(g, all, w));
        }
    }
    LeakReport {
        goroutines: gs
            .iter()
            .map(|g| GoroutineInfo::from_snapshot(g, why(g.id).is_some()))
            .collect(),
        dump,
    }
}

/// The line ending the block of `g`, proved parked forever (by `why`):
/// why, naming the other end of what it waits on as far as the runtime
/// knows it: the goroutine that dropped the channel's last other handle
/// (and whether it exited), the other goroutines parked on the same object,
/// and whether `g`'s creator has exited.
fn forever_line(g: &GoroutineSnapshot, all: &[GoroutineSnapshot], why: &Why) -> String {
    use std::fmt::Write as _;

    let (reason, on) = match g.state {
        GoroutineState::Waiting { reason, on, .. } => (Some(reason), on),
        _ => (None, None),
    };
    let nobody = match reason {
        Some(WaitReason::ChanSend) => "nobody can ever receive from this channel",
        Some(WaitReason::ChanReceive) => "nobody can ever send on or close this channel",
        _ => "nothing can ever wake it",
    };
    let alive = |id: u64| all.iter().any(|x| x.id.as_u64() == id);
    let mut line = format!("    parked forever: {nobody}: ");
    match why {
        Why::Inline => {
            let what = match on.map(|o| o.detail) {
                Some(ObjectDetail::Other(name)) => name,
                _ => "object",
            };
            let _ = write!(
                line,
                "the {what} lies inside its own future, where no other goroutine can reach it"
            );
        }
        Why::Handles { holders, last_drop } => {
            if holders.len() == 1 {
                line.push_str("it holds the channel's only handle, inside its own future");
            } else {
                let ids: Vec<String> = holders.iter().map(ToString::to_string).collect();
                let _ = write!(
                    line,
                    "every handle of the channel lies inside the futures of the goroutines \
                     parked on it (goroutines {})",
                    ids.join(", ")
                );
            }
            match last_drop {
                Some((Some(id), site)) => {
                    let _ = write!(
                        line,
                        "; the last other handle was dropped by goroutine {id}"
                    );
                    if let Some(site) = site {
                        let _ = write!(line, " (created at {})", crate::registry::Site(site));
                    }
                    line.push_str(if alive(*id) {
                        ", which is still alive"
                    } else {
                        ", which exited"
                    });
                }
                Some((None, _)) => {
                    line.push_str(
                        "; the last other handle was dropped by a thread outside the runtime",
                    );
                }
                None => {}
            }
        }
        Why::Select { holders, channels } => {
            let what = if *channels == 1 {
                "the channel its cases wait on".to_owned()
            } else {
                format!("each of the {channels} channels its cases wait on")
            };
            if holders.len() == 1 {
                let _ = write!(
                    line,
                    "it holds every handle of {what}, inside its own future"
                );
            } else {
                let ids: Vec<String> = holders.iter().map(ToString::to_string).collect();
                let _ = write!(
                    line,
                    "every handle of {what} lies inside the futures of goroutines parked \
                     on them (goroutines {})",
                    ids.join(", ")
                );
            }
        }
        Why::ClosedWorld => line.push_str(
            "every goroutine left is parked for good, and no timer, IO, blocking job \
             or outside thread remains",
        ),
    }
    if let Some(on) = on {
        let listed = |id: GoroutineId| match why {
            Why::Handles { holders, .. } | Why::Select { holders, .. } => holders.contains(&id),
            _ => false,
        };
        let peers: Vec<String> = all
            .iter()
            .filter(|p| p.id != g.id && !listed(p.id))
            .filter(|p| match p.state {
                GoroutineState::Waiting { on: Some(o), .. } => o.id == on.id,
                _ => false,
            })
            .map(|p| format!("{} [{}]", p.id, p.wait_reason()))
            .collect();
        if !peers.is_empty() {
            let what = match on.detail {
                ObjectDetail::Other(name) => name,
                _ => "channel",
            };
            let _ = write!(
                line,
                "; also parked on this {what}: goroutine {}",
                peers.join(", goroutine ")
            );
        }
    }
    if let Some(p) = g.created_by {
        if !all.iter().any(|x| x.id == p) {
            let _ = write!(line, "; goroutine {p}, which created it, has exited");
        }
    }
    line.push('\n');
    line
}

/// Goroutines provably parked forever right now, while the program keeps
/// running (of the current runtime; empty off a runtime).
///
/// A goroutine is reported only when nothing that can still run could wake
/// it: a false "forever" is a bug, a missed one a gap. While the caller
/// runs, that is: a goroutine parked on a channel whose every handle lies
/// inside the futures of the goroutines parked on it, or on a sync
/// primitive inside its own future (`scheduler::stuck` has the rules and
/// their limits). Objects in shared state (an `Arc`, a static) count as
/// reachable by anyone.
///
/// ```
/// goro_runtime::run(async {
///     assert!(goro_runtime::leak::find_stuck().is_empty());
/// });
/// ```
pub fn find_stuck() -> Vec<GoroutineInfo> {
    let Some(h) = crate::context::current_runtime() else {
        return Vec::new();
    };
    let all = h.registry.snapshot();
    let me = crate::context::current_goroutine();
    let forever = crate::scheduler::stuck::forever(&h, &all, me, false);
    all.iter()
        .filter(|g| forever.iter().any(|s| s.id == g.id))
        .map(|g| GoroutineInfo::from_snapshot(g, true))
        .collect()
}

/// Sleeps on the runtime's timers (goro-hook's timer seam).
async fn nap(d: Duration) {
    let entry = goro_hook::TimerEntry::new(goro_hook::TimerAction::Wake(
        std::task::Waker::noop().clone(),
    ));
    entry.arm(Instant::now() + d);
    std::future::poll_fn(|cx| entry.poll_fired(cx)).await
}

/// Lets the other runnable goroutines run once (as `yield_now`).
async fn yield_once() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            return std::task::Poll::Ready(());
        }
        yielded = true;
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    })
    .await
}
