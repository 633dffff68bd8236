//! The `http_hello` workloads' shared parts: the Go load generator (the Go
//! program with `-load ADDR`, Go's standard HTTP client over 32 keep-alive
//! connections, bounded in count and time; with `-raw`, for
//! `http_hello_raw`, the same connections driven by a minimal raw-TCP
//! client instead), run as a child process so the server's CPU time is the
//! server's only, and the hello-world service the Rust servers share.

use std::convert::Infallible;
use std::future::{ready, Ready};
use std::net::SocketAddr;
use std::process::Command;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;

use crate::measure::{Measurement, Stopwatch};

/// The environment variable naming the Go program (set by the runner).
pub const GO_BIN_ENV: &str = "GORO_BENCH_GO_BIN";

/// The response body every server sends.
pub const HELLO: &str = "Hello, World!";

/// What the load generator reports.
#[derive(Debug, Default)]
struct Load {
    ok: u64,
    errors: u64,
    p50: Duration,
    p99: Duration,
}

/// Whether the load generator is available to this process.
pub fn available() -> bool {
    std::env::var_os(GO_BIN_ENV).is_some()
}

/// Whether `workload` is one of the HTTP workloads (served the same way,
/// loaded by the Go program).
pub fn is_http(workload: &str) -> bool {
    matches!(workload, "http_hello" | "http_hello_raw")
}

/// Runs the load generator for `workload` (`http_hello`: Go's HTTP client;
/// `http_hello_raw`: its raw-TCP client) against `addr` (blocking) while
/// measuring this process: requests completed, wall and CPU time, latency
/// percentiles.
pub fn measure(workload: &str, addr: SocketAddr, n: u64) -> Measurement {
    let raw = workload == "http_hello_raw";
    let sw = Stopwatch::start();
    let load = run_load(addr, n, raw);
    match load {
        Ok(load) => {
            let mut m = sw.stop(load.ok);
            m.latency = Some((load.p50, load.p99));
            m.expect(load.errors == 0 && load.ok > 0, || {
                format!("ok={},errors={}", load.ok, load.errors)
            })
        }
        Err(e) => sw.stop(1).expect(false, || format!("load: {e}")),
    }
}

fn run_load(addr: SocketAddr, n: u64, raw: bool) -> Result<Load, String> {
    let bin = std::env::var_os(GO_BIN_ENV).ok_or("GORO_BENCH_GO_BIN not set")?;
    let mut cmd = Command::new(bin);
    cmd.args(["-load", &addr.to_string(), "-n", &n.to_string()]);
    if raw {
        cmd.arg("-raw");
    }
    let out = cmd.output().map_err(|e| format!("spawn: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.starts_with("LOAD "))
        .ok_or_else(|| format!("no LOAD line ({})", out.status))?;
    let mut load = Load::default();
    for kv in line.split_whitespace().skip(1) {
        let Some((k, v)) = kv.split_once('=') else {
            continue;
        };
        let v: u64 = v.parse().map_err(|e| format!("{k}: {e}"))?;
        match k {
            "ok" => load.ok = v,
            "errors" => load.errors = v,
            "p50_ns" => load.p50 = Duration::from_nanos(v),
            "p99_ns" => load.p99 = Duration::from_nanos(v),
            _ => {}
        }
    }
    Ok(load)
}

/// The hello-world handler: a tower `Service` (for goro's `http::serve`) and
/// a hyper `Service` (for tokio+hyper), the same response.
#[derive(Clone, Copy, Debug, Default)]
pub struct Hello;

fn hello() -> http::Response<Full<Bytes>> {
    http::Response::builder()
        .header(http::header::CONTENT_TYPE, "text/plain")
        .body(Full::new(Bytes::from_static(HELLO.as_bytes())))
        .expect("static response")
}

impl<B> tower_service::Service<http::Request<B>> for Hello {
    type Response = http::Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _req: http::Request<B>) -> Self::Future {
        ready(Ok(hello()))
    }
}

impl<B> hyper::service::Service<http::Request<B>> for Hello {
    type Response = http::Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Ready<Result<Self::Response, Infallible>>;

    fn call(&self, _req: http::Request<B>) -> Self::Future {
        ready(Ok(hello()))
    }
}
