//! The workloads: names, sizes, units and goro's targets.
//!
//! Every system (Go, goro, each Rust peer) implements a workload with the same
//! shape and size; the runner passes the sizes on the command line so they are
//! defined only here.

/// What the table shows for a workload (lower is better for all of them).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Metric {
    /// Wall ns per operation; the string names the operation.
    NsPerOp(&'static str),
    /// Wall time of the whole run, shown in ms.
    TotalMs,
    /// Wall time of one batch of `ops` concurrent operations (the string names
    /// one of them), shown in ms; the details table shows CPU ns per operation.
    BatchMs(&'static str),
    /// Bytes of RSS per parked task.
    BytesPerTask,
}

/// One workload.
#[derive(Debug)]
pub struct Workload {
    /// Name on the command line and in RESULT lines.
    pub name: &'static str,
    /// Measured size for a full run.
    pub full_n: u64,
    /// Measured size for `--quick`.
    pub quick_n: u64,
    /// Primary metric.
    pub metric: Metric,
    /// goro's target for the primary metric, if it has one.
    pub target: Option<f64>,
    /// goro's peak-RSS target in MiB, if it has one.
    pub target_rss_mib: Option<f64>,
    /// One line for the report.
    pub what: &'static str,
}

impl Workload {
    /// Measured size.
    pub fn n(&self, quick: bool) -> u64 {
        if quick {
            self.quick_n
        } else {
            self.full_n
        }
    }

    /// Warm-up size: a smaller run of the same workload in the same process.
    /// The parked-goroutine workload warms up with very few tasks, because
    /// memory freed by a large warm-up would be reused and hide part of the cost.
    pub fn warmup_n(&self, n: u64) -> u64 {
        match self.name {
            "parked_goroutine" => 1000.min(n),
            "skynet" => (n / 100).max(10),
            _ => (n / 10).max(1),
        }
    }

    /// Refuses a size the workload cannot run: skynet's tree divides by 10
    /// at every level, so a leaf count that is not a power of 10 would
    /// reach size 0 and spawn without end.
    pub fn check_n(&self, n: u64) -> Result<(), String> {
        if self.name == "skynet" && !is_power_of_ten(n) {
            return Err(format!(
                "skynet needs a leaf count that is a power of 10 (10, 100, ..., 1000000), got {n}"
            ));
        }
        Ok(())
    }

    /// The worker count this workload always runs with, whatever `--workers`
    /// says: the Go-shaped channel rows come in pairs, `NAME_w1` and
    /// `NAME_w2` (1 and 2 workers), so one run shows both.
    pub fn fixed_workers(&self) -> Option<usize> {
        go_shaped::fixed_workers(self.name)
    }

    /// The primary metric of one RESULT sample.
    pub fn primary(&self, s: &Sample) -> Option<f64> {
        match self.metric {
            Metric::NsPerOp(_) => Some(s.ns_per_op),
            Metric::TotalMs | Metric::BatchMs(_) => Some(s.ns_per_op * s.ops as f64 / 1e6),
            Metric::BytesPerTask => s.bytes_per_task,
        }
    }

    /// The CPU figure of a sample in the primary metric's unit (ms for
    /// whole-program workloads, ns per op otherwise).
    pub fn cpu(&self, s: &Sample) -> f64 {
        match self.metric {
            Metric::TotalMs | Metric::BatchMs(_) => s.cpu_ns_per_op * s.ops as f64 / 1e6,
            _ => s.cpu_ns_per_op,
        }
    }

    /// The CPU figure of a sample for the details table's "CPU per op" column:
    /// as [`cpu`](Self::cpu), except that a batch shows CPU ns per operation.
    pub fn cpu_per_op(&self, s: &Sample) -> f64 {
        match self.metric {
            Metric::BatchMs(_) => s.cpu_ns_per_op,
            _ => self.cpu(s),
        }
    }

    /// Unit of [`cpu_per_op`](Self::cpu_per_op), when it differs from [`unit`](Self::unit).
    pub fn cpu_per_op_unit(&self) -> Option<String> {
        match self.metric {
            Metric::BatchMs(op) => Some(format!("ns/{op}")),
            _ => None,
        }
    }

    /// Unit of the primary metric, for the table.
    pub fn unit(&self) -> String {
        match self.metric {
            Metric::NsPerOp(op) => format!("ns/{op}"),
            Metric::TotalMs => "ms".into(),
            Metric::BatchMs(op) => format!("ms/batch of {}k {op}s", self.full_n / 1000),
            Metric::BytesPerTask => "bytes/task".into(),
        }
    }
}

/// One parsed RESULT line.
#[derive(Clone, Debug, Default)]
pub struct Sample {
    /// `ops=`
    pub ops: u64,
    /// `ns_per_op=` (wall)
    pub ns_per_op: f64,
    /// `cpu_ns_per_op=`
    pub cpu_ns_per_op: f64,
    /// `cpu_util=`: CPU time / wall time.
    pub cpu_util: f64,
    /// `rss_kib=`: peak RSS of the process.
    pub rss_kib: u64,
    /// `bytes_per_task=`
    pub bytes_per_task: Option<f64>,
    /// `p50_ns=` and `p99_ns=`: request latency (HTTP workload).
    pub latency_ns: Option<(f64, f64)>,
}

/// All workloads, in report order.
pub const WORKLOADS: &[Workload] = &[
    Workload {
        name: "pingpong_unbuffered",
        full_n: 1_000_000,
        quick_n: 100_000,
        metric: Metric::NsPerOp("round trip"),
        target: Some(100.0),
        target_rss_mib: None,
        what: "two tasks bounce a value over two unbuffered channels",
    },
    Workload {
        name: "spsc_cap1",
        full_n: 1_000_000,
        quick_n: 100_000,
        metric: Metric::NsPerOp("msg"),
        target: None,
        target_rss_mib: None,
        what: "one producer, one consumer, channel capacity 1",
    },
    Workload {
        name: "spsc_cap1024",
        full_n: 4_000_000,
        quick_n: 400_000,
        metric: Metric::NsPerOp("msg"),
        target: Some(25.0),
        target_rss_mib: None,
        what: "one producer, one consumer, channel capacity 1024",
    },
    Workload {
        name: "mpmc_cap1",
        full_n: 1_000_000,
        quick_n: 100_000,
        metric: Metric::NsPerOp("msg"),
        target: None,
        target_rss_mib: None,
        what: "4 producers, 4 consumers, one channel of capacity 1",
    },
    Workload {
        name: "mpmc_cap1024",
        full_n: 4_000_000,
        quick_n: 400_000,
        metric: Metric::NsPerOp("msg"),
        target: Some(17.0),
        target_rss_mib: None,
        what: "4 producers, 4 consumers, one channel of capacity 1024",
    },
    Workload {
        name: "spawn_join",
        full_n: 1_000_000,
        quick_n: 100_000,
        metric: Metric::NsPerOp("task"),
        target: Some(200.0),
        target_rss_mib: Some(50.0),
        what: "spawn 1M tasks that return their index, then join them all (peak RSS)",
    },
    Workload {
        name: "skynet",
        full_n: 1_000_000,
        quick_n: 1_000_000,
        metric: Metric::TotalMs,
        target: Some(500.0),
        target_rss_mib: None,
        what: "1M leaf tasks, 10 children per node, sums sent up over channels",
    },
    Workload {
        name: "parked_goroutine",
        full_n: 1_000_000,
        quick_n: 100_000,
        metric: Metric::BytesPerTask,
        target: Some(256.0),
        target_rss_mib: None,
        what: "1M tasks blocked on a receive: (RSS parked - RSS before) / 1M",
    },
    Workload {
        name: "prime_sieve",
        full_n: 5_000,
        quick_n: 1_000,
        metric: Metric::TotalMs,
        target: Some(600.0),
        target_rss_mib: None,
        what: "daisy-chained filter tasks over unbuffered channels, first 5000 primes",
    },
    Workload {
        name: "select4_ready",
        full_n: 2_000_000,
        quick_n: 200_000,
        metric: Metric::NsPerOp("select"),
        target: Some(60.0),
        target_rss_mib: None,
        what: "select over 4 receives (cap 1024), 4 producers keep them mostly ready",
    },
    Workload {
        name: "select4_idle",
        full_n: 200_000,
        quick_n: 20_000,
        metric: Metric::NsPerOp("select"),
        target: None,
        target_rss_mib: None,
        what: "select over 4 mostly idle receives (cap 1024): one value at a time, acked",
    },
    Workload {
        name: "timers_100k_sleep",
        full_n: 100_000,
        quick_n: 100_000,
        metric: Metric::BatchMs("timer"),
        target: None,
        target_rss_mib: None,
        what: "100k tasks each sleep 1 ms at once: first spawn to last join; none may wake early",
    },
    Workload {
        name: "tcp_echo_rtt",
        full_n: 100_000,
        quick_n: 5_000,
        metric: Metric::NsPerOp("round trip"),
        target: None,
        target_rss_mib: None,
        what: "loopback TCP: one connection, 64-byte write then 64-byte read back, sequential",
    },
    // --- sync primitives (Go's sync.Mutex / RWMutex / WaitGroup) ---
    Workload {
        name: "mutex_uncontended",
        full_n: 10_000_000,
        quick_n: 1_000_000,
        metric: Metric::NsPerOp("lock+unlock"),
        target: None,
        target_rss_mib: None,
        what: "one task locks and unlocks a mutex, incrementing the counter it guards",
    },
    Workload {
        name: "mutex_contended",
        full_n: 2_000_000,
        quick_n: 200_000,
        metric: Metric::NsPerOp("lock+unlock"),
        target: None,
        target_rss_mib: None,
        what: "8 tasks share one mutex (n/8 lock+increment+unlock each)",
    },
    Workload {
        name: "waitgroup_fanin",
        full_n: 1_000_000,
        quick_n: 100_000,
        metric: Metric::NsPerOp("task"),
        target: None,
        target_rss_mib: None,
        what: "rounds of 10,000 spawned tasks that each call done; the main task waits each round",
    },
    Workload {
        name: "rwmutex_read_mostly",
        full_n: 2_000_000,
        quick_n: 200_000,
        metric: Metric::NsPerOp("lock+unlock"),
        target: None,
        target_rss_mib: None,
        what: "8 tasks share one RWMutex: 9 read locks to 1 write lock",
    },
    // context (issue 10).
    Workload {
        name: "ctx_cancel_fanout",
        full_n: 10_000,
        quick_n: 10_000,
        metric: Metric::BatchMs("waiter"),
        target: None,
        target_rss_mib: None,
        what:
            "10k tasks each wait on their own child of one context: cancel the root, until all woke",
    },
    Workload {
        name: "http_hello",
        full_n: 400_000,
        quick_n: 5_000,
        metric: Metric::NsPerOp("request"),
        target: None,
        target_rss_mib: None,
        what: "hello-world HTTP/1.1 server under Go's HTTP client (another process, 32 keep-alive \
               connections, at most 20 s): wall ns per request = 1/throughput, server CPU per request",
    },
    Workload {
        name: "http_hello_raw",
        full_n: 400_000,
        quick_n: 5_000,
        metric: Metric::NsPerOp("request"),
        target: None,
        target_rss_mib: None,
        what: "http_hello under a minimal raw-TCP client (the Go program's -raw: a write, a read and \
               a scan of the headers per request) instead of net/http's, so that the client, which \
               shares the 2 cores, weighs less than the server in the throughput",
    },
    // Go-shaped variants (issue 15): every producer and consumer is a
    // goroutine; main only starts them and waits. The channel rows come at 1
    // and 2 workers.
    go_shaped::PINGPONG_W1,
    go_shaped::PINGPONG_W2,
    go_shaped::SPSC_W1,
    go_shaped::SPSC_W2,
    go_shaped::MPMC_W1,
    go_shaped::MPMC_W2,
    go_shaped::SELECT4,
    go_shaped::SPAWN_WG,
];

/// The Go-shaped workloads (kept apart so other rows merge cleanly).
mod go_shaped {
    use super::{Metric, Workload};

    /// The worker count a `NAME_wN` row is pinned to.
    pub(super) fn fixed_workers(name: &str) -> Option<usize> {
        let (_, n) = name.rsplit_once("_w")?;
        n.parse().ok()
    }

    /// `NAME_wN` -> `NAME`.
    pub(super) fn program(name: &str) -> &str {
        match name.rsplit_once("_w") {
            Some((base, n)) if n.parse::<usize>().is_ok() => base,
            _ => name,
        }
    }

    const PINGPONG: Workload = Workload {
        name: "pingpong_go",
        full_n: 1_000_000,
        quick_n: 100_000,
        metric: Metric::NsPerOp("round trip"),
        target: None,
        target_rss_mib: None,
        what: "Go-shaped ping-pong: two goroutines bounce a value over two unbuffered \
               channels; main waits for the sum",
    };
    pub(super) const PINGPONG_W1: Workload = Workload {
        name: "pingpong_go_w1",
        ..PINGPONG
    };
    pub(super) const PINGPONG_W2: Workload = Workload {
        name: "pingpong_go_w2",
        ..PINGPONG
    };
    const SPSC: Workload = Workload {
        name: "spsc_go",
        full_n: 4_000_000,
        quick_n: 400_000,
        metric: Metric::NsPerOp("msg"),
        target: None,
        target_rss_mib: None,
        what: "Go-shaped SPSC, capacity 1024: producer and consumer goroutines; main waits \
               for the consumer's sum",
    };
    pub(super) const SPSC_W1: Workload = Workload {
        name: "spsc_go_w1",
        ..SPSC
    };
    pub(super) const SPSC_W2: Workload = Workload {
        name: "spsc_go_w2",
        ..SPSC
    };
    const MPMC: Workload = Workload {
        name: "mpmc_go",
        full_n: 4_000_000,
        quick_n: 400_000,
        metric: Metric::NsPerOp("msg"),
        target: None,
        target_rss_mib: None,
        what: "mpmc_cap1024 (4 producer and 4 consumer goroutines; main joins them) at a \
               fixed worker count",
    };
    pub(super) const MPMC_W1: Workload = Workload {
        name: "mpmc_go_w1",
        ..MPMC
    };
    pub(super) const MPMC_W2: Workload = Workload {
        name: "mpmc_go_w2",
        ..MPMC
    };
    pub(super) const SELECT4: Workload = Workload {
        name: "select4_go",
        full_n: 2_000_000,
        quick_n: 200_000,
        metric: Metric::NsPerOp("select"),
        target: None,
        target_rss_mib: None,
        what: "Go-shaped select4_ready: the selecting loop is a goroutine; main waits for \
               its sum",
    };
    pub(super) const SPAWN_WG: Workload = Workload {
        name: "spawn_wg",
        full_n: 1_000_000,
        quick_n: 100_000,
        metric: Metric::NsPerOp("task"),
        target: None,
        target_rss_mib: None,
        what: "spawn 1M goroutines that each add their index to a shared sum and mark \
               themselves done (WaitGroup-style); main waits for the last (peak RSS)",
    };
}

/// The program a system runs for the workload `name`: `name` without a
/// `_w1`/`_w2` worker suffix (see [`Workload::fixed_workers`]).
pub fn program_of(name: &str) -> &str {
    go_shaped::program(name)
}

/// Looks a workload up by name.
pub fn find(name: &str) -> Option<&'static Workload> {
    WORKLOADS.iter().find(|w| w.name == name)
}

/// 10, 100, 1000, ...
fn is_power_of_ten(mut n: u64) -> bool {
    if n < 10 {
        return false;
    }
    while n % 10 == 0 {
        n /= 10;
    }
    n == 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skynet_sizes_are_powers_of_ten() {
        let w = find("skynet").unwrap();
        for n in [10, 100, 1_000_000] {
            assert!(w.check_n(n).is_ok(), "{n}");
        }
        for n in [0, 1, 2, 20, 200_000, 999_999] {
            assert!(w.check_n(n).is_err(), "{n}");
        }
        // Other workloads take any size.
        assert!(find("spawn_wg").unwrap().check_n(123).is_ok());
    }
}
