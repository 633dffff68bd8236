//! Goroutine ids, num_goroutine, the registry snapshot and the dump format.

use std::future::{pending, Future};
use std::panic::Location;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use goro_hook::{note_park, ObjectDetail, WaitObject, WaitReason};
use goro_runtime::runtime::{self, GoroutineState, Runtime};

/// Parks forever after noting a `chan send` park, like a send on an
/// unbuffered channel nobody receives from.
struct FakeSend {
    at: &'static Location<'static>,
    made_at: &'static Location<'static>,
    detail: ObjectDetail,
    parked: Arc<AtomicBool>,
}

impl Future for FakeSend {
    type Output = ();
    fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
        note_park(
            WaitReason::ChanSend,
            self.at,
            Some(WaitObject {
                id: 0x1000,
                made_at: Some(self.made_at),
                detail: self.detail,
            }),
        );
        self.parked.store(true, Ordering::Release);
        Poll::Pending
    }
}

async fn until(flag: &AtomicBool) {
    while !flag.load(Ordering::Acquire) {
        goro_runtime::yield_now().await;
    }
}

#[test]
fn ids_count_up_from_main() {
    goro_runtime::run(async {
        assert_eq!(goro_runtime::current_id().unwrap().as_u64(), 1);
        let a = goro_runtime::spawn(async { goro_runtime::current_id().unwrap() });
        let b = goro_runtime::spawn(async {});
        assert_eq!(a.id().as_u64(), 2);
        assert_eq!(b.id().as_u64(), 3);
        assert!(a.id() < b.id());
        assert_eq!(a.await.unwrap().as_u64(), 2);
        assert_eq!(format!("{:?}", b.id()), "GoroutineId(3)");
    });
    assert_eq!(goro_runtime::current_id(), None);
}

#[test]
fn num_goroutine_counts_live_goroutines() {
    assert_eq!(runtime::num_goroutine(), 0);
    goro_runtime::run(async {
        assert_eq!(runtime::num_goroutine(), 1);
        let hs: Vec<_> = (0..10)
            .map(|_| goro_runtime::spawn(pending::<()>()))
            .collect();
        assert_eq!(runtime::num_goroutine(), 11);
        let done = goro_runtime::spawn(async {});
        done.await.unwrap();
        assert_eq!(runtime::num_goroutine(), 11);
        drop(hs);
    });
}

#[test]
fn dump_matches_go_format() {
    let made_at = Location::caller();
    let rt = Runtime::builder().workers(2).build().unwrap();
    rt.block_on(async move {
        let parked = Arc::new(AtomicBool::new(false));
        let at = Location::caller();
        let spawn_line = line!() + 1;
        let h = goro_runtime::spawn(FakeSend {
            at,
            made_at,
            detail: ObjectDetail::Chan { cap: 0, len: 0 },
            parked: parked.clone(),
        });
        until(&parked).await;
        // The goroutine is recorded as waiting once its poll has returned;
        // wait for that without sleeping.
        let snap = loop {
            let s = runtime::snapshot();
            if matches!(s[1].state, GoroutineState::Waiting { .. }) {
                break s;
            }
            goro_runtime::yield_now().await;
        };
        assert_eq!(snap.len(), 2);
        assert_eq!(snap[0].state, GoroutineState::Running);
        assert_eq!(snap[1].id, h.id());
        assert_eq!(snap[1].created_by.unwrap().as_u64(), 1);
        assert_eq!(snap[1].wait_reason(), "chan send");

        let dump = runtime::dump();
        let file = file!();
        let expected_main = "goroutine 1 [running]:\ncreated at ".to_string();
        assert!(dump.starts_with(&expected_main), "{dump}");
        let expected = format!(
            "goroutine 2 [chan send]:\n    parked at {file}:{}:{} on chan (unbuffered, len 0) made at {file}:{}:{}\ncreated by goroutine 1 at {file}:{spawn_line}:17\n",
            at.line(),
            at.column(),
            made_at.line(),
            made_at.column(),
        );
        assert!(dump.ends_with(&expected), "dump:\n{dump}\nexpected suffix:\n{expected}");
        assert_eq!(dump.matches("\n\n").count(), 1, "blocks separated by one blank line");
    })
    .unwrap();
}

/// A channel seen closed when the goroutine parked says so in the dump.
#[test]
fn dump_says_a_channel_is_closed() {
    let made_at = Location::caller();
    goro_runtime::run(async move {
        let parked = Arc::new(AtomicBool::new(false));
        let at = Location::caller();
        let _h = goro_runtime::spawn(FakeSend {
            at,
            made_at,
            detail: ObjectDetail::ClosedChan { cap: 4, len: 2 },
            parked: parked.clone(),
        });
        until(&parked).await;
        let line = format!(
            "    parked at {}:{}:{} on chan (cap 4, len 2, closed) made at {}:{}:{}\n",
            at.file(),
            at.line(),
            at.column(),
            made_at.file(),
            made_at.line(),
            made_at.column(),
        );
        // Recorded once the poll returned: wait for that without sleeping.
        for _ in 0..100_000 {
            if runtime::dump().contains(&line) {
                return;
            }
            goro_runtime::yield_now().await;
        }
        panic!("no line {line:?} in\n{}", runtime::dump());
    });
}

#[test]
fn unannotated_futures_show_as_future_wait() {
    goro_runtime::run(async {
        let parked = Arc::new(AtomicBool::new(false));
        let p = parked.clone();
        let _h = goro_runtime::spawn(async move {
            p.store(true, Ordering::Release);
            pending::<()>().await
        });
        until(&parked).await;
        loop {
            let s = runtime::snapshot();
            if let GoroutineState::Waiting { reason, at, on, .. } = s[1].state {
                assert_eq!(reason, WaitReason::FutureWait);
                assert_eq!(at, None);
                assert_eq!(on, None);
                break;
            }
            goro_runtime::yield_now().await;
        }
        assert!(runtime::dump().contains("goroutine 2 [future wait]:\ncreated by goroutine 1 at "));
    });
}

#[test]
fn spawned_from_outside_has_no_parent() {
    let rt = Runtime::builder().workers(1).build().unwrap();
    let h = rt.handle().spawn(async { runtime::dump() });
    let dump = rt.block_on(h).unwrap().unwrap();
    assert!(
        dump.contains("goroutine 2 [running]:\ncreated at "),
        "{dump}"
    );
}

#[test]
fn dump_is_empty_off_runtime() {
    assert_eq!(runtime::dump(), "");
    assert!(runtime::snapshot().is_empty());
}
