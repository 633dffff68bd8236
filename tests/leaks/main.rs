//! Real-world goroutine leaks (blocking bugs), each in its buggy form (the
//! leak must be reported at the end, every leaked goroutine `forever`) and
//! its fixed form (no report).
//!
//! Sources: Tu et al., "Understanding Real-World Concurrency Bugs in Go"
//! (ASPLOS 2019), and the GoBench GoKer blocking kernels
//! (github.com/timmyyuan/gobench, goker/blocking), as adapted by Go in
//! src/runtime/testdata/testgoroutineleakprofile/goker. The buggy
//! interleaving is forced with channels, never with sleeps: where the
//! original relies on a timer losing a race, the other side is held back by
//! a channel until the timer has won.

use std::future::Future;
use std::time::Duration;

use goro::leak::{self, GoroutineInfo, Options};

mod cockroach_10214;
mod cockroach_10790;
mod cockroach_1462;
mod cockroach_16167;
mod cockroach_35073;
mod cockroach_584;
mod cockroach_7504;
mod cockroach_9935;
mod etcd_10492;
mod etcd_5509;
mod etcd_7492;
mod etcd_7902;
mod first_replica;
mod grpc_1275;
mod grpc_1424;
mod grpc_3017;
mod grpc_795;
mod istio_17860;
mod istio_18454;
mod kubernetes_13135;
mod kubernetes_5316;
mod kubernetes_58107;
mod kubernetes_6632;
mod moby_17176;
mod moby_21233;
mod moby_25384;
mod moby_27782;
mod moby_28462;
mod moby_29733;
mod must_not_report;
mod paper_figure7;
mod serving_2137;

/// Runs `kernel` as a goroutine of a fresh runtime; returns the goroutines
/// left once it settled (printing their report).
pub fn leaks_of<F>(kernel: F) -> Vec<GoroutineInfo>
where
    F: Future<Output = ()> + Send + 'static,
{
    goro::run(async move {
        goro::go!(kernel);
        let opts = Options::new()
            .caller_done()
            .grace(Duration::from_millis(300));
        match leak::verify_none_async(opts).await {
            Ok(()) => Vec::new(),
            Err(report) => {
                eprintln!("{report}");
                report.goroutines().to_vec()
            }
        }
    })
}

/// The leaked goroutines' wait reasons, sorted; asserts every one is
/// provably parked forever.
pub fn forever_reasons(leaked: &[GoroutineInfo]) -> Vec<String> {
    for g in leaked {
        assert!(g.forever, "goroutine {} not proved stuck: {g:?}", g.id);
    }
    let mut r: Vec<String> = leaked.iter().map(|g| g.wait_reason.clone()).collect();
    r.sort();
    r
}
