//! The table: medians, spreads, ratios and CPU time, stamped with the machine
//! and versions; and its place in BENCHMARKS.md (between markers).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::runner::{is_rust_peer, Cell, Options, RunResults};
use crate::systems::{GO, GORO, GORO_CHAN_ON_TOKIO, NOTES};
use crate::workloads::{Sample, Workload};

/// Start marker of the generated section in BENCHMARKS.md.
pub const BEGIN: &str =
    "<!-- BEGIN goro-bench-compare results (generated; edits here are overwritten) -->";
/// End marker of the generated section.
pub const END: &str = "<!-- END goro-bench-compare results -->";

/// Median, minimum and maximum of a non-empty list.
pub fn stats(mut v: Vec<f64>) -> Option<(f64, f64, f64)> {
    v.retain(|x| x.is_finite());
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    let median = if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    };
    Some((median, v[0], v[v.len() - 1]))
}

fn num(v: f64) -> String {
    let a = v.abs();
    if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// Summary of one cell, when it has at least one passing run and no failure.
struct Summary {
    median: f64,
    min: f64,
    max: f64,
    cpu: f64,
    /// CPU for the details table's "CPU per op" column.
    cpu_per_op: f64,
    util: f64,
    rss_mib: f64,
}

fn summarize(w: &Workload, c: &Cell) -> Option<Summary> {
    let (median, min, max) = stats(c.samples.iter().filter_map(|s| w.primary(s)).collect())?;
    let cpu = stats(c.samples.iter().map(|s| w.cpu(s)).collect())?.0;
    let cpu_per_op = stats(c.samples.iter().map(|s| w.cpu_per_op(s)).collect())?.0;
    let util = stats(c.samples.iter().map(|s| s.cpu_util).collect())?.0;
    let rss_mib = stats(
        c.samples
            .iter()
            .map(|s| s.rss_kib as f64 / 1024.0)
            .collect(),
    )?
    .0;
    Some(Summary {
        median,
        min,
        max,
        cpu,
        cpu_per_op,
        util,
        rss_mib,
    })
}

/// Renders the generated section (without markers).
pub fn render(r: &RunResults, opts: &Options, command: &str) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "### Run: `{command}`\n");
    for line in stamp(r, opts) {
        let _ = writeln!(o, "- {line}");
    }
    o.push('\n');

    // Summary: goro against Go and the best Rust peer.
    o.push_str(
        "| workload | unit | goro target | goro (wall / CPU) | Go (wall / CPU) | best Rust peer (wall / CPU) | goro/Go | goro/best Rust | goro-chan on tokio (wall / CPU) |\n",
    );
    o.push_str("|---|---|---|---|---|---|---|---|---|\n");
    let mut failures = Vec::new();
    for w in &opts.workloads {
        let cell = |s: &'static str| -> Option<&Cell> { r.cells.get(&(w.name, s)) };
        let show = |s: &'static str| -> (String, Option<(f64, f64)>) {
            match cell(s) {
                None => ("—".into(), None),
                Some(c) if c.not_available.is_some() => ("not available".into(), None),
                Some(c) if !c.failures.is_empty() => (
                    format!(
                        "**FAIL** ({}/{} runs)",
                        c.failures.len(),
                        c.failures.len() + c.samples.len()
                    ),
                    None,
                ),
                Some(c) => match summarize(w, c) {
                    Some(sm) => (
                        format!("{} / {}", num(sm.median), num(sm.cpu)),
                        Some((sm.median, sm.cpu)),
                    ),
                    None => ("no data".into(), None),
                },
            }
        };
        let (goro_s, goro_v) = show(GORO);
        let (goro_chan_s, _) = show(GORO_CHAN_ON_TOKIO);
        let (go_s, go_v) = show(GO);
        let best = opts
            .systems
            .iter()
            .filter(|s| is_rust_peer(s))
            .filter_map(|&s| {
                let c = cell(s)?;
                if c.not_available.is_some() || !c.failures.is_empty() {
                    return None;
                }
                summarize(w, c).map(|sm| (s, sm))
            })
            .min_by(|a, b| a.1.median.total_cmp(&b.1.median));
        let (best_s, best_v) = match &best {
            Some((s, sm)) => (
                format!("{s}: {} / {}", num(sm.median), num(sm.cpu)),
                Some((sm.median, sm.cpu)),
            ),
            None => ("—".into(), None),
        };
        // Wall ratio, then the CPU-time ratio (robust when the machine is
        // shared; for parked_goroutine the CPU is the spawn-and-park cost).
        let ratio = |a: Option<(f64, f64)>, b: Option<(f64, f64)>| match (a, b) {
            (Some(a), Some(b)) if b.0 > 0.0 && b.1 > 0.0 => {
                format!("{:.2} (CPU {:.2})", a.0 / b.0, a.1 / b.1)
            }
            _ => "—".into(),
        };
        let target = match (w.target, w.target_rss_mib) {
            (Some(t), Some(m)) => format!("<= {} and <= {} MiB", num(t), num(m)),
            (Some(t), None) => format!("<= {}", num(t)),
            _ => "—".into(),
        };
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            w.name,
            w.unit(),
            target,
            goro_s,
            go_s,
            best_s,
            ratio(goro_v, go_v),
            ratio(goro_v, best_v),
            goro_chan_s
        );
    }
    o.push_str(
        "\nwall / CPU: median wall time and median process CPU time (user + sys, all threads) \
         of the measured section, in the unit shown (for parked_goroutine the CPU figure is \
         ns per spawned-and-parked task; for timers_100k_sleep the whole batch, and the details \
         table shows CPU ns per timer). Ratios: goro's median over the other's, wall time \
         first, then CPU time in parentheses; below 1 means goro is faster (or smaller).\n\n",
    );

    // Details: every system.
    o.push_str("<details open><summary>Every system (median, min–max over the runs)</summary>\n\n");
    o.push_str("| workload | system | median | min–max | CPU per op | CPU util | peak RSS MiB | runs ok |\n");
    o.push_str("|---|---|---|---|---|---|---|---|\n");
    for w in &opts.workloads {
        for &s in &opts.systems {
            let Some(c) = r.cells.get(&(w.name, s)) else {
                continue;
            };
            let runs = c.samples.len() + c.failures.len();
            if let Some(why) = &c.not_available {
                let _ = writeln!(o, "| {} | {s} | not available: {why} | | | | | |", w.name);
                continue;
            }
            for f in &c.failures {
                failures.push(format!("{} / {s}: {f}", w.name));
            }
            let flag = if c.failures.is_empty() {
                ""
            } else {
                " **FAIL**"
            };
            match summarize(w, c) {
                Some(sm) => {
                    let cpu_unit = w
                        .cpu_per_op_unit()
                        .map(|u| format!(" {u}"))
                        .unwrap_or_default();
                    let _ = writeln!(
                        o,
                        "| {} | {s} | {} {} | {}–{} | {}{cpu_unit} | {:.2} | {:.1} | {}/{runs}{flag} |",
                        w.name,
                        num(sm.median),
                        w.unit(),
                        num(sm.min),
                        num(sm.max),
                        num(sm.cpu_per_op),
                        sm.util,
                        sm.rss_mib,
                        c.samples.len()
                    );
                }
                None => {
                    let _ = writeln!(
                        o,
                        "| {} | {s} | no passing run | | | | | 0/{runs}{flag} |",
                        w.name
                    );
                }
            }
        }
    }
    o.push_str("\n</details>\n\n");
    http_table(&mut o, r, opts);
    if !failures.is_empty() {
        o.push_str("**Failed runs** (a wrong answer, a crash or a timeout; excluded from the medians):\n\n");
        for f in &failures {
            let _ = writeln!(o, "- {f}");
        }
        o.push('\n');
    }
    o.push_str("How each system maps the Go programs:\n\n");
    for (s, note) in NOTES {
        if opts.systems.contains(s) {
            let _ = writeln!(o, "- `{s}`: {note}");
        }
    }
    o
}

/// The HTTP workload's own view: throughput, latency percentiles and the
/// server's CPU per request, medians over the passing runs.
fn http_table(o: &mut String, r: &RunResults, opts: &Options) {
    for w in &opts.workloads {
        let rows: Vec<(&str, &Cell)> = opts
            .systems
            .iter()
            .filter_map(|&s| Some((s, r.cells.get(&(w.name, s))?)))
            .filter(|(_, c)| c.samples.iter().any(|x| x.latency_ns.is_some()))
            .collect();
        if rows.is_empty() {
            continue;
        }
        let _ = writeln!(
            o,
            "`{}`, medians over the passing runs:\n\n| system | requests/s | p50 latency µs | p99 latency µs | server CPU µs/request |",
            w.name
        );
        o.push_str("|---|---|---|---|---|\n");
        for (s, c) in rows {
            let med = |f: &dyn Fn(&Sample) -> Option<f64>| {
                stats(c.samples.iter().filter_map(f).collect()).map_or(f64::NAN, |m| m.0)
            };
            let _ = writeln!(
                o,
                "| {s} | {:.0} | {:.0} | {:.0} | {:.1} |",
                med(&|x| (x.ns_per_op > 0.0).then(|| 1e9 / x.ns_per_op)),
                med(&|x| x.latency_ns.map(|l| l.0 / 1e3)),
                med(&|x| x.latency_ns.map(|l| l.1 / 1e3)),
                med(&|x| Some(x.cpu_ns_per_op / 1e3)),
            );
        }
        o.push('\n');
    }
}

/// Machine, versions, date and conditions of the run.
fn stamp(r: &RunResults, opts: &Options) -> Vec<String> {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, m)| m.trim().to_owned())
        .unwrap_or_else(|| "unknown".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        })
        .map_or("unknown".into(), |kib| {
            format!("{:.0} GiB", kib / 1024.0 / 1024.0)
        });
    let rustc = command_line("rustc", &["-V"]);
    let go = match &r.go_version {
        Ok(v) => v.clone(),
        Err(e) => format!("not available ({e})"),
    };
    let crates = crate_versions(&workspace_root().join("Cargo.lock"));
    let commit = command_line(
        "git",
        &[
            "-C",
            &workspace_root().to_string_lossy(),
            "describe",
            "--always",
            "--dirty",
        ],
    );
    vec![
        format!("date: {}", command_line("date", &["-u", "+%Y-%m-%d %H:%M UTC"])),
        format!("machine: {cores} cores, {model}, {mem}"),
        format!(
            "workers: {} (GOMAXPROCS = goro workers = tokio worker_threads; rows named `..._w1`/`..._w2` always run with 1/2); {} run(s) per system, {} sizes, systems interleaved",
            opts.workers,
            opts.reps,
            if opts.quick { "quick" } else { "full" }
        ),
        format!(
            "load average (1/5/15 min) at start: {}, at end: {}; run took {:.0} s",
            r.loadavg.0,
            r.loadavg.1,
            r.elapsed.as_secs_f64()
        ),
        format!("goro: {commit}; {rustc}; {go}"),
        format!("crates: {crates}"),
    ]
}

fn command_line(cmd: &str, args: &[&str]) -> String {
    Command::new(cmd)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|| format!("{cmd} unknown"))
}

/// The workspace root (two levels above this package).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
}

/// Versions of the peer crates, from Cargo.lock.
fn crate_versions(lock: &Path) -> String {
    let text = std::fs::read_to_string(lock).unwrap_or_default();
    let wanted = [
        "tokio",
        "flume",
        "kanal",
        "async-channel",
        "crossbeam-channel",
        "futures",
    ];
    let mut found = Vec::new();
    let mut name = None;
    for line in text.lines() {
        if let Some(n) = line.strip_prefix("name = ") {
            name = Some(n.trim_matches('"').to_owned());
        } else if let Some(v) = line.strip_prefix("version = ") {
            if let Some(n) = name.take() {
                if wanted.contains(&n.as_str()) {
                    found.push(format!("{n} {}", v.trim_matches('"')));
                }
            }
        }
    }
    if found.is_empty() {
        "unknown (no Cargo.lock)".into()
    } else {
        found.join(", ")
    }
}

/// Puts `section` between the markers of BENCHMARKS.md, keeping the rest of the
/// file; creates the file (with the commands) when it does not exist.
pub fn write_benchmarks_md(section: &str) -> std::io::Result<PathBuf> {
    let path = workspace_root().join("BENCHMARKS.md");
    let old = std::fs::read_to_string(&path).unwrap_or_else(|_| default_file());
    let block = format!("{BEGIN}\n{section}\n{END}");
    let new = match (old.find(BEGIN), old.find(END)) {
        (Some(b), Some(e)) if b < e => format!("{}{block}{}", &old[..b], &old[e + END.len()..]),
        _ => format!("{}\n\n{block}\n", old.trim_end()),
    };
    std::fs::write(&path, new)?;
    Ok(path)
}

fn default_file() -> String {
    "# goro benchmarks\n\n\
     Side-by-side: goro against Go and the Rust peers, same workloads, equal worker counts.\n\n\
     ```\n\
     cargo run --release -p goro-bench-compare -- all            # full run, writes the table below\n\
     cargo run --release -p goro-bench-compare -- all --quick    # smoke check (< 2 min), prints only\n\
     cargo run --release -p goro-bench-compare -- all --workload skynet,prime_sieve --system goro,go\n\
     ```\n"
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_spread() {
        assert_eq!(stats(vec![3.0, 1.0, 2.0]), Some((2.0, 1.0, 3.0)));
        assert_eq!(stats(vec![4.0, 1.0, 2.0, 3.0]), Some((2.5, 1.0, 4.0)));
        assert_eq!(stats(vec![]), None);
    }
}
