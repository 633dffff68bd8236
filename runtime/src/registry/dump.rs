//! Goroutine snapshots and the dump text.
//!
//! Go: `goroutineheader` in `runtime/traceback.go`.

use std::fmt;
use std::panic::Location;
use std::time::Instant;

use super::GoroutineId;
use goro_hook::{WaitObject, WaitReason};

/// What a goroutine was doing when a snapshot was taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum GoroutineState {
    /// Ready to run, waiting for a worker. Go: `_Grunnable`.
    Runnable,
    /// Being polled right now. Go: `_Grunning`.
    Running,
    /// Parked. Go: `_Gwaiting`.
    Waiting {
        /// Why, in Go's words.
        reason: WaitReason,
        /// The parking operation's call site, when the primitive reported it.
        at: Option<&'static Location<'static>>,
        /// What it waits on, when the primitive reported it.
        on: Option<WaitObject>,
        /// When it parked. Taken from the worker's coarse clock, refreshed
        /// every 61 scheduler ticks and after every idle park, so it may be
        /// slightly earlier than the true instant.
        since: Instant,
        /// Proved parked forever when it parked: it waits on a sync
        /// primitive that lies inside its own future, which nobody else can
        /// reach (see `leak::find_stuck`, which proves more, later).
        forever: bool,
    },
}

/// One goroutine, as seen by [`snapshot`](crate::runtime::snapshot).
///
/// `Display` prints the goroutine's block of the dump (see
/// [`dump`](crate::runtime::dump)).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct GoroutineSnapshot {
    /// Its id.
    pub id: GoroutineId,
    /// The goroutine that spawned it (`None` for main and for goroutines
    /// spawned from outside the runtime).
    pub created_by: Option<GoroutineId>,
    /// Where it was spawned (for main: where the runtime was entered).
    pub created_at: &'static Location<'static>,
    /// What it was doing.
    pub state: GoroutineState,
    /// For the stuck analysis, when parked.
    pub(crate) park: Option<super::ParkProof>,
}

impl GoroutineSnapshot {
    /// The wait-reason text Go prints in the header (`chan send`, `running`).
    pub fn wait_reason(&self) -> &'static str {
        match self.state {
            GoroutineState::Runnable => "runnable",
            GoroutineState::Running => "running",
            GoroutineState::Waiting { reason, .. } => reason.as_str(),
        }
    }
}

fn loc(l: &Location<'_>) -> String {
    format!("{}:{}:{}", l.file(), l.line(), l.column())
}

impl fmt::Display for GoroutineSnapshot {
    /// ```text
    /// goroutine 18 [chan send, 2 minutes]:
    ///     parked at src/search.rs:41:17 on chan (unbuffered, len 0) made at src/search.rs:35:13
    /// created by goroutine 1 at src/search.rs:39:9
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "goroutine {} [{}", self.id, self.wait_reason())?;
        if let GoroutineState::Waiting { since, .. } = self.state {
            // Go prints the wait in whole minutes, and only from one minute.
            let minutes = since.elapsed().as_secs() / 60;
            if minutes >= 1 {
                write!(f, ", {minutes} minutes")?;
            }
        }
        writeln!(f, "]:")?;
        if let GoroutineState::Waiting { at, on, .. } = self.state {
            match (at, on) {
                (Some(at), Some(on)) => writeln!(f, "    parked at {} on {on}", loc(at))?,
                (Some(at), None) => writeln!(f, "    parked at {}", loc(at))?,
                (None, Some(on)) => writeln!(f, "    parked on {on}")?,
                (None, None) => {}
            }
        }
        match self.created_by {
            Some(p) => write!(f, "created by goroutine {p} at {}", loc(self.created_at)),
            None => write!(f, "created at {}", loc(self.created_at)),
        }
    }
}

/// Formats goroutines as Go's `runtime.Stack(buf, true)` headers: one block
/// per goroutine, blocks separated by a blank line, ending in a newline.
///
/// ```
/// let text = goro_runtime::run(async {
///     goro_runtime::runtime::format_dump(&goro_runtime::runtime::snapshot())
/// });
/// assert!(text.starts_with("goroutine 1 [running]:\n"));
/// ```
pub fn format_dump(goroutines: &[GoroutineSnapshot]) -> String {
    let mut out = String::new();
    for (i, g) in goroutines.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&g.to_string());
        out.push('\n');
    }
    out
}

#[cfg(all(test, not(goro_loom)))]
mod tests {
    use std::time::Duration;

    use super::*;
    use goro_hook::ObjectDetail;

    fn waiting(minutes_ago: u64) -> GoroutineSnapshot {
        let since = Instant::now()
            .checked_sub(Duration::from_secs(minutes_ago * 60 + 5))
            .unwrap_or_else(Instant::now);
        GoroutineSnapshot {
            id: GoroutineId::new(18),
            created_by: Some(GoroutineId::MAIN),
            created_at: Location::caller(),
            state: GoroutineState::Waiting {
                reason: WaitReason::ChanReceive,
                at: Some(Location::caller()),
                on: Some(WaitObject {
                    id: 1,
                    made_at: None,
                    detail: ObjectDetail::Chan { cap: 4, len: 2 },
                }),
                since,
                forever: false,
            },
            park: None,
        }
    }

    #[test]
    fn duration_in_whole_minutes_from_one_minute() {
        let g = waiting(0);
        assert!(g.to_string().starts_with("goroutine 18 [chan receive]:\n"));
        let g = waiting(2);
        if g.to_string().contains("minutes") {
            assert!(g
                .to_string()
                .starts_with("goroutine 18 [chan receive, 2 minutes]:\n"));
        }
    }

    #[test]
    fn block_layout() {
        let g = waiting(0);
        let at = Location::caller();
        let text = g.to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[1].starts_with("    parked at "));
        assert!(lines[1].ends_with(" on chan (cap 4, len 2)"));
        assert!(lines[2].starts_with("created by goroutine 1 at "));
        assert!(lines[2].contains(at.file()));
        let mut g = g;
        g.created_by = None;
        g.state = GoroutineState::Runnable;
        assert_eq!(
            g.to_string(),
            format!(
                "goroutine 18 [runnable]:\ncreated at {}:{}:{}",
                g.created_at.file(),
                g.created_at.line(),
                g.created_at.column()
            )
        );
        assert_eq!(format_dump(&[g.clone(), g]).matches("\n\n").count(), 1);
    }
}
