//! The systems under comparison: which workloads each one implements, and the
//! in-process entry point of the Rust ones (the runner starts one process per
//! measurement).

use crate::measure::Measurement;
use crate::peers::async_chan::{
    self as ac, AsyncChan, AsyncChannel, Flume, Kanal, Mpmc, TokioMpsc,
};
use crate::peers::{
    crossbeam_threads as cb, tokio_ctx, tokio_http, tokio_io, tokio_sync, tokio_tasks,
};

/// The Go program's system name.
pub const GO: &str = "go";
/// goro's system name.
pub const GORO: &str = "goro";
/// goro's channels on tokio's scheduler.
pub const GORO_CHAN_ON_TOKIO: &str = "goro-chan-on-tokio";

/// All systems, in report order.
pub const SYSTEMS: &[&str] = &[
    GORO,
    GO,
    GORO_CHAN_ON_TOKIO,
    "tokio",
    "tokio-mpsc",
    "tokio-spawn",
    "tokio-joinset",
    "tokio-oneshot",
    "tokio-sync",
    "flume",
    "kanal",
    "async-channel",
    "crossbeam-threads",
    // context (issue 10).
    "tokio-cancel-token",
];

/// One-line notes on how a system maps Go's constructs, for the report.
pub const NOTES: &[(&str, &str)] = &[
    (
        "goro",
        "goro::go!, goro::chan::make, goro::select!; JoinHandles for spawn+join; \
         goro::time::sleep for timers_100k_sleep; goro::net::{TcpListener, TcpStream} \
         (nodelay, a goroutine per connection) for tcp_echo_rtt; goro::http::serve \
         (hyper-util's auto builder, a goroutine per connection, goro's default timeouts) for http_hello \
         and http_hello_raw",
    ),
    (
        "go",
        "the same programs in Go (go/main.go), GOMAXPROCS = workers; time.Sleep + \
         sync.WaitGroup for timers_100k_sleep; net.Listen/net.Dial (TCP_NODELAY is Go's \
         default) for tcp_echo_rtt; net/http with ReadHeaderTimeout 10 s, IdleTimeout 120 s, \
         WriteTimeout 60 s (goro's defaults) for http_hello; every http_hello server is loaded by \
         this program's Go HTTP client in its own process (http_hello_raw: by its raw-TCP client)",
    ),
    (
        "goro-chan-on-tokio",
        "goro's channels (goro-chan) on a tokio runtime, tokio::select!: goro's channel cost without goro's scheduler",
    ),
    (
        "tokio-mpsc",
        "tokio::sync::mpsc (capacity 0 -> 1: tokio has no rendezvous channel), tokio::select!",
    ),
    (
        "tokio",
        "tokio's timers and sockets: tokio::time::sleep in tokio::spawn'ed tasks joined by \
         JoinHandle (timers_100k_sleep); tokio::net with nodelay, a task per connection \
         (tcp_echo_rtt); hyper-util's auto builder on tokio, a task per connection, tokio's \
         timer so hyper's header-read timeout is on (http_hello, http_hello_raw)",
    ),
    ("tokio-spawn", "tokio::spawn + JoinHandle (skynet returns sums through JoinHandles)"),
    ("tokio-joinset", "tokio::task::JoinSet"),
    ("tokio-oneshot", "each parked task awaits its own tokio::sync::oneshot"),
    (
        "tokio-sync",
        "tokio::sync::Mutex and RwLock (fair FIFO semaphores) in tokio::spawn'ed tasks; \
         waitgroup_fanin joins each round's tasks with a JoinSet (tokio has no WaitGroup)",
    ),
    (
        "flume",
        "flume::bounded, async API (capacity 0 is a rendezvous), tokio::select!; not run on \
         parked_goroutine: releasing 100k parked receivers took 70 s here (quadratic), 1M cannot finish",
    ),
    (
        "kanal",
        "kanal::bounded_async; its capacity 0 (used for Go's unbuffered channels) is not \
         Go-faithful, so those rows are not like-for-like; \
         not run on select4_ready: there it loses values (its receive futures are not \
         cancel-safe in tokio::select!) and hangs",
    ),
    (
        "async-channel",
        "async_channel::bounded (capacity 0 -> 1), tokio::select!",
    ),
    (
        "crossbeam-threads",
        "crossbeam-channel on one OS thread per task (not bound by the worker count), crossbeam select!",
    ),
    // context (issue 10).
    (
        "tokio-cancel-token",
        "tokio_util::sync::CancellationToken: child_token() per waiter, cancelled().await \
         (goro: context::with_cancel + done(); Go: context.WithCancel + <-Done())",
    ),
];

/// Whether `system` has a program for `workload` at all.
pub fn fits(system: &str, workload: &str) -> bool {
    let workload = crate::workloads::program_of(workload);
    if let Some(fits) = go_shaped_fits(system, workload) {
        return fits;
    }
    let chan_common = matches!(
        workload,
        "pingpong_unbuffered"
            | "spsc_cap1"
            | "spsc_cap1024"
            | "skynet"
            | "prime_sieve"
            | "select4_ready"
            | "select4_idle"
    );
    let mpmc = matches!(workload, "mpmc_cap1" | "mpmc_cap1024" | "parked_goroutine");
    match system {
        GORO | GO => true,
        "tokio" => {
            matches!(workload, "timers_100k_sleep" | "tcp_echo_rtt")
                || crate::http_load::is_http(workload)
        }
        "tokio-mpsc" => chan_common,
        "tokio-spawn" => matches!(workload, "spawn_join" | "skynet"),
        "tokio-joinset" => workload == "spawn_join",
        "tokio-oneshot" => workload == "parked_goroutine",
        "tokio-sync" => is_sync_workload(workload),
        // flume releases many parked async receivers in quadratic time (here:
        // 70 s for 100k after the channel closes), so 1M cannot finish.
        "flume" => chan_common || (mpmc && workload != "parked_goroutine"),
        "async-channel" | GORO_CHAN_ON_TOKIO => chan_common || mpmc,
        // kanal in tokio::select! with several ready channels loses values
        // (receive futures dropped by select! after a value was handed to
        // them): select4_ready hangs waiting for them. Not run.
        "kanal" => (chan_common || mpmc) && workload != "select4_ready",
        "crossbeam-threads" => matches!(
            workload,
            "pingpong_unbuffered"
                | "spsc_cap1"
                | "spsc_cap1024"
                | "mpmc_cap1"
                | "mpmc_cap1024"
                | "select4_ready"
                | "select4_idle"
        ),
        // context (issue 10).
        "tokio-cancel-token" => workload == "ctx_cancel_fanout",
        _ => false,
    }
}

/// Which systems run the Go-shaped workloads (`None`: not one of them).
fn go_shaped_fits(system: &str, program: &str) -> Option<bool> {
    let chan = matches!(program, "pingpong_go" | "spsc_go" | "select4_go");
    let mpmc = program == "mpmc_go";
    if !(chan || mpmc || program == "spawn_wg") {
        return None;
    }
    Some(match system {
        GORO | GO => true,
        "tokio-mpsc" => chan,
        "flume" | "async-channel" | GORO_CHAN_ON_TOKIO => chan || mpmc,
        "kanal" => (chan || mpmc) && program != "select4_go",
        "tokio-spawn" => program == "spawn_wg",
        _ => false,
    })
}

/// The workloads of Go's `sync` primitives.
fn is_sync_workload(workload: &str) -> bool {
    matches!(
        workload,
        "mutex_uncontended" | "mutex_contended" | "waitgroup_fanin" | "rwmutex_read_mostly"
    )
}

/// Why this build cannot run `system` on `workload`, when it fits but cannot.
pub fn unavailable(system: &str, workload: &str) -> Option<&'static str> {
    if crate::http_load::is_http(workload) && !crate::http_load::available() {
        return Some("needs the Go load generator (run through `all`, which builds it)");
    }
    if system == GORO_CHAN_ON_TOKIO && !cfg!(feature = "goro-chan") {
        return Some("goro-chan not in this build (feature `goro-chan`)");
    }
    if system != GORO {
        return None;
    }
    if !cfg!(feature = "goro") {
        return Some("goro runtime/channels not in this build (feature `goro`)");
    }
    if (workload.starts_with("select4") || workload == "tcp_echo_rtt")
        && !cfg!(feature = "goro-select")
    {
        return Some("goro select! not in this build (feature `goro-select`)");
    }
    None
}

/// Runs a Rust system's warm-up and measured run in this process.
pub fn run_rust(
    system: &str,
    workload: &str,
    n: u64,
    warmup: u64,
    workers: usize,
) -> Result<Measurement, String> {
    if !fits(system, workload) || system == GO {
        return Err(format!("{system} has no Rust program for {workload}"));
    }
    let workload = crate::workloads::program_of(workload);
    if let Some(why) = unavailable(system, workload) {
        return Err(why.to_owned());
    }
    if system == GORO {
        return run_goro(workload, n, warmup, workers);
    }
    if system == "crossbeam-threads" {
        let f = |n| run_crossbeam(workload, n);
        return with_warmup(warmup, f, n);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))?;
    let (system, workload) = (system.to_owned(), workload.to_owned());
    rt.block_on(async move {
        // The measured code runs in a task on a worker, as Go's main goroutine
        // runs on a P, not on the thread that called block_on.
        tokio::spawn(async move {
            if warmup > 0 {
                let w = run_tokio(&system, &workload, warmup).await?;
                if !w.ok {
                    return Ok(w.warmup_failed());
                }
            }
            run_tokio(&system, &workload, n).await
        })
        .await
        .map_err(|e| format!("task failed: {e}"))?
    })
}

fn with_warmup(
    warmup: u64,
    f: impl Fn(u64) -> Result<Measurement, String>,
    n: u64,
) -> Result<Measurement, String> {
    if warmup > 0 {
        let w = f(warmup)?;
        if !w.ok {
            return Ok(w.warmup_failed());
        }
    }
    f(n)
}

#[cfg(feature = "goro")]
fn run_goro(workload: &str, n: u64, warmup: u64, workers: usize) -> Result<Measurement, String> {
    crate::goro_impl::run(workload, n, warmup, workers)
        .ok_or_else(|| format!("goro has no program for {workload}"))
}

#[cfg(not(feature = "goro"))]
fn run_goro(_: &str, _: u64, _: u64, _: usize) -> Result<Measurement, String> {
    Err("goro runtime/channels not in this build (feature `goro`)".into())
}

fn run_crossbeam(workload: &str, n: u64) -> Result<Measurement, String> {
    Ok(match workload {
        "pingpong_unbuffered" => cb::pingpong(n),
        "spsc_cap1" => cb::spsc(n, 1),
        "spsc_cap1024" => cb::spsc(n, 1024),
        "mpmc_cap1" => cb::mpmc(n, 1, 4, 4),
        "mpmc_cap1024" => cb::mpmc(n, 1024, 4, 4),
        "select4_ready" => cb::select4_ready(n),
        "select4_idle" => cb::select4_idle(n),
        other => return Err(format!("crossbeam-threads has no program for {other}")),
    })
}

async fn run_tokio(system: &str, workload: &str, n: u64) -> Result<Measurement, String> {
    let m = match system {
        "tokio-mpsc" => chan_common::<TokioMpsc>(workload, n).await,
        "flume" => chan_mpmc::<Flume>(workload, n).await,
        "kanal" => chan_mpmc::<Kanal>(workload, n).await,
        "async-channel" => chan_mpmc::<AsyncChannel>(workload, n).await,
        #[cfg(feature = "goro-chan")]
        GORO_CHAN_ON_TOKIO => chan_mpmc::<ac::GoroChanOnTokio>(workload, n).await,
        "tokio-spawn" => match workload {
            "spawn_wg" => Some(tokio_tasks::spawn_wg(n).await),
            "spawn_join" => Some(tokio_tasks::spawn_join(n).await),
            "skynet" => Some(tokio_tasks::skynet(n).await),
            _ => None,
        },
        "tokio" => match workload {
            "timers_100k_sleep" => Some(tokio_io::timers_sleep(n).await),
            "tcp_echo_rtt" => Some(tokio_io::tcp_echo_rtt(n).await),
            w if crate::http_load::is_http(w) => Some(tokio_http::http_hello(workload, n).await),
            _ => None,
        },
        "tokio-joinset" if workload == "spawn_join" => Some(tokio_tasks::spawn_join_set(n).await),
        "tokio-oneshot" if workload == "parked_goroutine" => {
            Some(tokio_tasks::parked_oneshot(n).await)
        }
        "tokio-sync" => match workload {
            "mutex_uncontended" => Some(tokio_sync::mutex_uncontended(n).await),
            "mutex_contended" => Some(tokio_sync::mutex_contended(n, 8).await),
            "waitgroup_fanin" => Some(tokio_sync::waitgroup_fanin(n, 10_000).await),
            "rwmutex_read_mostly" => Some(tokio_sync::rwmutex_read_mostly(n, 8).await),
            _ => None,
        },
        // context (issue 10).
        "tokio-cancel-token" if workload == "ctx_cancel_fanout" => {
            Some(tokio_ctx::cancel_fanout(n).await)
        }
        _ => None,
    };
    m.ok_or_else(|| format!("{system} has no program for {workload}"))
}

async fn chan_common<C: AsyncChan>(workload: &str, n: u64) -> Option<Measurement> {
    Some(match workload {
        "pingpong_unbuffered" => ac::pingpong::<C>(n).await,
        "spsc_cap1" => ac::spsc::<C>(n, 1).await,
        "spsc_cap1024" => ac::spsc::<C>(n, 1024).await,
        "skynet" => ac::skynet::<C>(n).await,
        "prime_sieve" => ac::sieve::<C>(n).await,
        "select4_ready" => ac::select4_ready::<C>(n).await,
        "select4_idle" => ac::select4_idle::<C>(n).await,
        "pingpong_go" => ac::pingpong_go::<C>(n).await,
        "spsc_go" => ac::spsc_go::<C>(n).await,
        "select4_go" => ac::select4_go::<C>(n).await,
        _ => return None,
    })
}

async fn chan_mpmc<C: Mpmc>(workload: &str, n: u64) -> Option<Measurement> {
    Some(match workload {
        "mpmc_cap1" => ac::mpmc::<C>(n, 1, 4, 4).await,
        "mpmc_cap1024" | "mpmc_go" => ac::mpmc::<C>(n, 1024, 4, 4).await,
        "parked_goroutine" => ac::parked::<C>(n).await,
        _ => return chan_common::<C>(workload, n).await,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workloads::WORKLOADS;

    /// Every program the runner may start exists and passes its check at a
    /// tiny size.
    #[test]
    fn every_fitting_rust_program_runs_and_checks() {
        for w in WORKLOADS {
            let n = match w.name {
                "skynet" => 100,
                "timers_100k_sleep" => 1000,
                "prime_sieve" => 20,
                _ => 200,
            };
            // The sieve leaves its chain of tasks blocked forever, as Go's
            // program does (`mem::forget` of the last receiver): a leak on
            // purpose, which LeakSanitizer would report (`.ci/run`).
            if cfg!(goro_asan) && w.name == "prime_sieve" {
                continue;
            }
            for &s in SYSTEMS {
                if s == GO || !fits(s, w.name) || unavailable(s, w.name).is_some() {
                    continue;
                }
                let m = run_rust(s, w.name, n, w.warmup_n(n), 2)
                    .unwrap_or_else(|e| panic!("{s} {}: {e}", w.name));
                assert!(m.ok, "{s} {}: check failed: {}", w.name, m.detail);
            }
        }
    }
}
