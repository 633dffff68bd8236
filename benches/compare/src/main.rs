//! goro-bench-compare: goro against Go and the Rust peers, one command, one table.
//!
//! ```text
//! cargo run --release -p goro-bench-compare -- all [--quick] [--workload a,b] [--system x,y]
//!                                                  [--workers N] [--reps R] [--timeout SECS]
//!                                                  [--write | --no-write]
//! cargo run --release -p goro-bench-compare -- run --system S --workload W --n N
//!                                                  [--warmup M] [--workers N]
//! cargo run --release -p goro-bench-compare -- list
//! ```
//!
//! `all` starts one process per measurement (this binary's `run`, or the Go
//! program built from `go/`), so peak RSS and CPU time belong to one system and
//! one workload; it interleaves the systems, repeats the passes, and prints the
//! table. A full unfiltered run also writes the table into BENCHMARKS.md between
//! its markers; `--quick` or a filter only prints unless `--write` is given.

#[cfg(feature = "goro")]
mod goro_impl;
mod http_load;
mod measure;
mod peers;
mod report;
mod runner;
mod systems;
mod workloads;

use std::process::ExitCode;
use std::time::Duration;

use runner::Options;

const USAGE: &str = "usage:
  goro-bench-compare all [--quick] [--workload a,b] [--system x,y] [--workers N] [--reps R]
                         [--timeout SECS] [--write | --no-write]
  goro-bench-compare run --system S --workload W --n N [--warmup M] [--workers N]
  goro-bench-compare list";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("all") => cmd_all(&args[1..]),
        Some("run") => cmd_run(&args[1..]),
        Some("list") => {
            cmd_list();
            Ok(ExitCode::SUCCESS)
        }
        _ => Err(USAGE.to_owned()),
    };
    result.unwrap_or_else(|e| {
        eprintln!("{e}");
        ExitCode::from(2)
    })
}

/// Pulls the value of `--flag VALUE` / `--flag=VALUE` flags out of `args`.
struct Args<'a> {
    rest: std::slice::Iter<'a, String>,
}

impl<'a> Args<'a> {
    fn next(&mut self) -> Option<(&'a str, Option<&'a str>)> {
        let a = self.rest.next()?;
        Some(match a.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (a.as_str(), None),
        })
    }

    fn value(&mut self, flag: &str, inline: Option<&'a str>) -> Result<&'a str, String> {
        inline
            .or_else(|| self.rest.next().map(String::as_str))
            .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))
    }
}

fn parse_num<T: std::str::FromStr>(flag: &str, v: &str) -> Result<T, String> {
    v.parse().map_err(|_| format!("{flag}: not a number: {v}"))
}

fn cmd_all(args: &[String]) -> Result<ExitCode, String> {
    let mut a = Args { rest: args.iter() };
    let mut quick = false;
    let (mut workloads, mut systems) = (None, None);
    let (mut workers, mut reps, mut timeout, mut write) = (None, None, None, None);
    while let Some((flag, inline)) = a.next() {
        match flag {
            "--quick" => quick = true,
            "--workload" | "-w" => workloads = Some(a.value(flag, inline)?),
            "--system" | "-s" => systems = Some(a.value(flag, inline)?),
            "--workers" => workers = Some(parse_num::<usize>(flag, a.value(flag, inline)?)?),
            "--reps" => reps = Some(parse_num::<usize>(flag, a.value(flag, inline)?)?),
            "--timeout" => timeout = Some(parse_num::<u64>(flag, a.value(flag, inline)?)?),
            "--write" => write = Some(true),
            "--no-write" => write = Some(false),
            other => return Err(format!("unknown flag {other}\n{USAGE}")),
        }
    }
    let mut opts = Options::new(quick);
    let filtered = workloads.is_some() || systems.is_some();
    if let Some(list) = workloads {
        opts.workloads = list
            .split(',')
            .map(|name| {
                workloads::WORKLOADS
                    .iter()
                    .filter(|w| w.name.contains(name.trim()))
                    .collect::<Vec<_>>()
            })
            .map(|found| {
                if found.is_empty() {
                    Err(format!("no workload matches {list}; see `list`"))
                } else {
                    Ok(found)
                }
            })
            .collect::<Result<Vec<_>, _>>()?
            .concat();
        opts.workloads
            .sort_by_key(|w| workloads::WORKLOADS.iter().position(|x| x.name == w.name));
        opts.workloads.dedup_by_key(|w| w.name);
    }
    if let Some(list) = systems {
        let wanted: Vec<&str> = list.split(',').map(str::trim).collect();
        for s in &wanted {
            if !systems::SYSTEMS.contains(s) {
                return Err(format!("unknown system {s}; see `list`"));
            }
        }
        opts.systems.retain(|s| wanted.contains(s));
    }
    if let Some(w) = workers {
        opts.workers = w.max(1);
    }
    if let Some(r) = reps {
        opts.reps = r.max(1);
    }
    if let Some(t) = timeout {
        opts.timeout = Duration::from_secs(t);
    }
    let write = write.unwrap_or(!quick && !filtered);

    let results = runner::run_all(&opts);
    let command = std::iter::once("cargo run --release -p goro-bench-compare --")
        .chain(std::iter::once("all"))
        .chain(args.iter().map(String::as_str))
        .collect::<Vec<_>>()
        .join(" ");
    let section = report::render(&results, &opts, &command);
    println!("{section}");
    if let Ok(exe) = std::env::current_exe() {
        let raw = exe.with_file_name("goro-bench-compare-last-run.txt");
        if std::fs::write(&raw, results.raw.join("\n") + "\n").is_ok() {
            eprintln!("RESULT lines: {}", raw.display());
        }
    }
    if write {
        let path =
            report::write_benchmarks_md(&section).map_err(|e| format!("BENCHMARKS.md: {e}"))?;
        eprintln!("table written to {}", path.display());
    }
    let failed = results.cells.values().any(|c| !c.failures.is_empty());
    Ok(if failed {
        eprintln!("some runs FAILED (see the table)");
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn cmd_run(args: &[String]) -> Result<ExitCode, String> {
    let mut a = Args { rest: args.iter() };
    let (mut system, mut workload, mut n) = (None, None, None);
    let (mut warmup, mut workers) = (0u64, 2usize);
    while let Some((flag, inline)) = a.next() {
        match flag {
            "--system" => system = Some(a.value(flag, inline)?),
            "--workload" => workload = Some(a.value(flag, inline)?),
            "--n" => n = Some(parse_num::<u64>(flag, a.value(flag, inline)?)?),
            "--warmup" => warmup = parse_num(flag, a.value(flag, inline)?)?,
            "--workers" => workers = parse_num(flag, a.value(flag, inline)?)?,
            other => return Err(format!("unknown flag {other}\n{USAGE}")),
        }
    }
    let (Some(system), Some(workload)) = (system, workload) else {
        return Err(USAGE.to_owned());
    };
    let w = workloads::find(workload).ok_or_else(|| format!("unknown workload {workload}"))?;
    let n = n.unwrap_or(w.full_n);
    w.check_n(n)?;
    if warmup > 0 {
        w.check_n(warmup).map_err(|e| format!("--warmup: {e}"))?;
    }
    let workers = w.fixed_workers().unwrap_or(workers);
    let m = systems::run_rust(system, workload, n, warmup, workers.max(1))?;
    println!("{}", m.result_line(workload, system));
    Ok(if m.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn cmd_list() {
    println!("workloads (full size / quick size):");
    for w in workloads::WORKLOADS {
        println!(
            "  {:<20} {:>9} / {:<9} {}",
            w.name, w.full_n, w.quick_n, w.what
        );
    }
    println!("systems:");
    for s in systems::SYSTEMS {
        let fits: Vec<&str> = workloads::WORKLOADS
            .iter()
            .filter(|w| systems::fits(s, w.name))
            .map(|w| w.name)
            .collect();
        println!("  {s:<18} {}", fits.join(" "));
    }
}
