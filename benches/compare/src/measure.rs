//! Measuring one section: wall time, process CPU time, RSS; the RESULT line.
//!
//! CPU time is `getrusage(RUSAGE_SELF)` user + system, so it counts every thread
//! of the process (all workers, spinning included). Peak RSS is `ru_maxrss` of
//! the whole process; the current RSS is `VmRSS` from `/proc/self/status`. The Go
//! program (`go/main.go`) measures the same way and prints the same line.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

/// User + system CPU time of the whole process so far.
pub fn cpu_time() -> Duration {
    let ru = rusage();
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// Peak resident set size of the process, KiB (`ru_maxrss`).
pub fn peak_rss_kib() -> u64 {
    rusage().ru_maxrss as u64
}

fn rusage() -> libc::rusage {
    let mut ru = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: `ru` points to writable memory of the right size and type;
    // getrusage only writes to it.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, ru.as_mut_ptr()) };
    assert_eq!(rc, 0, "getrusage failed");
    // SAFETY: getrusage returned 0, so it filled the struct (and it was zeroed).
    unsafe { ru.assume_init() }
}

/// Current resident set size, KiB (`VmRSS` in `/proc/self/status`).
pub fn current_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmRSS in /proc/self/status")
}

/// Started at the beginning of a measured section.
pub struct Stopwatch {
    wall: Instant,
    cpu: Duration,
}

impl Stopwatch {
    /// Starts measuring now.
    pub fn start() -> Self {
        Stopwatch {
            cpu: cpu_time(),
            wall: Instant::now(),
        }
    }

    /// Ends the section; `ops` is what the per-op figures divide by.
    pub fn stop(self, ops: u64) -> Measurement {
        let wall = self.wall.elapsed();
        let cpu = cpu_time().saturating_sub(self.cpu);
        Measurement {
            ops,
            wall,
            cpu,
            bytes_per_task: None,
            latency: None,
            ok: true,
            detail: String::new(),
        }
    }
}

/// What one measured section produced.
#[derive(Debug)]
pub struct Measurement {
    /// Operations the section performed (1 for whole-program workloads).
    pub ops: u64,
    /// Wall time of the section.
    pub wall: Duration,
    /// Process CPU time (user + system, all threads) during the section.
    pub cpu: Duration,
    /// Memory per task, for the parked-goroutine workload.
    pub bytes_per_task: Option<f64>,
    /// Request latency (p50, p99), for the HTTP workload.
    pub latency: Option<(Duration, Duration)>,
    /// The correctness check passed.
    pub ok: bool,
    /// Why the check failed (no spaces), empty when it passed.
    pub detail: String,
}

impl Measurement {
    /// Records the correctness check: a fast wrong answer must not win.
    pub fn expect(mut self, ok: bool, detail: impl FnOnce() -> String) -> Self {
        if !ok {
            self.ok = false;
            self.detail = detail().replace(' ', "_");
        }
        self
    }

    /// Marks a failed warm-up run (its check failed before the measured run).
    pub fn warmup_failed(mut self) -> Self {
        self.detail = format!("warmup:{}", self.detail);
        self
    }

    /// The machine-readable line the runner parses.
    pub fn result_line(&self, workload: &str, system: &str) -> String {
        let wall_ns = self.wall.as_nanos() as f64;
        let cpu_ns = self.cpu.as_nanos() as f64;
        let ops = self.ops.max(1) as f64;
        let mut line = format!(
            "RESULT workload={workload} system={system} ops={} wall_ns={} ns_per_op={:.1} \
             cpu_ns_per_op={:.1} cpu_util={:.2} rss_kib={}",
            self.ops,
            self.wall.as_nanos(),
            wall_ns / ops,
            cpu_ns / ops,
            cpu_ns / wall_ns.max(1.0),
            peak_rss_kib()
        );
        if let Some(b) = self.bytes_per_task {
            let _ = write!(line, " bytes_per_task={b:.0}");
        }
        if let Some((p50, p99)) = self.latency {
            let _ = write!(line, " p50_ns={} p99_ns={}", p50.as_nanos(), p99.as_nanos());
        }
        line.push_str(if self.ok { " check=ok" } else { " check=FAIL" });
        if !self.detail.is_empty() {
            let _ = write!(line, " detail={}", self.detail);
        }
        line
    }
}

/// 0 + 1 + ... + (n - 1): the checksum of most workloads.
pub fn triangle(n: u64) -> u64 {
    n * n.saturating_sub(1) / 2
}

/// The `n`th prime (1-based), by trial division: the sieve's expected answer,
/// computed independently of the channel pipeline.
pub fn nth_prime(n: u64) -> u64 {
    let mut count = 0;
    let mut c = 1u64;
    while count < n {
        c += 1;
        if (2..).take_while(|d| d * d <= c).all(|d| c % d != 0) {
            count += 1;
        }
    }
    c
}

/// How long each task of `timers_100k_sleep` sleeps.
pub const SLEEP: Duration = Duration::from_millis(1);

/// Size of one `tcp_echo_rtt` message.
pub const MSG: usize = 64;

/// The `i`th message of `tcp_echo_rtt`: every byte depends on `i` and its
/// position, so a misplaced, stale or lost byte fails the check.
pub fn fill_msg(msg: &mut [u8; MSG], i: u64) {
    for (j, b) in msg.iter_mut().enumerate() {
        *b = ((i >> (8 * (j % 8))) as u8) ^ (j as u8).wrapping_mul(37);
    }
}

/// The check of `timers_100k_sleep`: every task finished, none woke early.
/// `slept` holds each task's sleep measured from its own start.
pub fn check_timers(m: Measurement, n: u64, slept: &[Duration]) -> Measurement {
    let early = slept.iter().filter(|d| **d < SLEEP).count();
    let min = slept.iter().min().copied().unwrap_or_default();
    let max = slept.iter().max().copied().unwrap_or_default();
    m.expect(slept.len() as u64 == n && early == 0, || {
        format!(
            "finished={},early={early},min_us={},max_us={}",
            slept.len(),
            min.as_micros(),
            max.as_micros()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums() {
        assert_eq!(nth_prime(1), 2);
        assert_eq!(nth_prime(5000), 48611);
        assert_eq!(triangle(1_000_000), 499_999_500_000);
    }

    #[test]
    fn timers_check_catches_early_and_missing_wakeups() {
        let ok = [SLEEP, SLEEP + Duration::from_micros(80)];
        assert!(check_timers(Stopwatch::start().stop(2), 2, &ok).ok);
        let early = [SLEEP, SLEEP - Duration::from_micros(1)];
        let m = check_timers(Stopwatch::start().stop(2), 2, &early);
        assert!(!m.ok && m.detail.contains("early=1"), "{}", m.detail);
        assert!(!check_timers(Stopwatch::start().stop(3), 3, &ok).ok);
    }

    #[test]
    fn echo_messages_differ() {
        let (mut a, mut b) = ([0u8; MSG], [0u8; MSG]);
        fill_msg(&mut a, 1);
        fill_msg(&mut b, 256);
        assert_ne!(a, b);
        fill_msg(&mut b, 1);
        assert_eq!(a, b);
    }

    #[test]
    fn result_line_format() {
        let m = Stopwatch::start()
            .stop(10)
            .expect(false, || "sum=1 want=2".into());
        let line = m.result_line("spsc_cap1", "flume");
        assert!(line.starts_with("RESULT workload=spsc_cap1 system=flume ops=10 "));
        assert!(line.ends_with(" check=FAIL detail=sum=1_want=2"));
    }
}
