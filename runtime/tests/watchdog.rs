//! `Builder::watchdog`: goroutines proved parked forever while the program
//! runs are logged once, at warn level, through `tracing`.

// The goroutine is proved stuck by its channel's handle record, which a
// `--cfg goro_no_tracking` build does not keep.
#![cfg(not(goro_no_tracking))]

use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use goro_hook::{note_chan_use, note_park, ObjectDetail, RecordSlot, WaitObject, WaitReason};
use goro_runtime::runtime::Runtime;

/// A send parked through the only handle of its channel, held inside the
/// goroutine's own future (what a goro channel notes in that case: its
/// record counts one handle).
struct LoneSend {
    handle: u64,
    record: RecordSlot,
}

/// The channel's handle count: one.
unsafe fn one(_: *const ()) -> usize {
    1
}

impl Future for LoneSend {
    type Output = ();
    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        let handle = std::ptr::from_ref(&self.handle) as usize;
        // SAFETY: `one` reads nothing.
        unsafe {
            self.record
                .bind(std::ptr::from_ref(&self.handle).cast(), one)
        };
        let id = 0x5eed_0000;
        note_chan_use(handle, id, self.record.key());
        let on = WaitObject {
            id,
            made_at: Some(Location::caller()),
            detail: ObjectDetail::Chan { cap: 0, len: 0 },
        };
        note_park(WaitReason::ChanSend, Location::caller(), Some(on));
        Poll::Pending
    }
}

/// Collects the messages of warn events with target `goro::watchdog`.
struct Warnings(Arc<Mutex<Vec<String>>>);

struct Message<'a>(&'a mut String);

impl tracing::field::Visit for Message<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            *self.0 = format!("{value:?}");
        }
    }
}

impl tracing::Subscriber for Warnings {
    fn enabled(&self, m: &tracing::Metadata<'_>) -> bool {
        m.target() == "goro::watchdog"
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, e: &tracing::Event<'_>) {
        if *e.metadata().level() == tracing::Level::WARN {
            let mut m = String::new();
            e.record(&mut Message(&mut m));
            self.0.lock().unwrap().push(m);
        }
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

#[test]
fn watchdog_warns_once_about_a_goroutine_parked_forever() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    tracing::subscriber::set_global_default(Warnings(seen.clone())).unwrap();
    let rt = Runtime::builder()
        .workers(2)
        .watchdog(Duration::from_millis(5))
        .build()
        .unwrap();
    rt.block_on(async move {
        let h = goro_runtime::spawn(LoneSend {
            handle: 0,
            record: RecordSlot::new(),
        });
        // Main keeps running (polling) while the watchdog looks.
        let deadline = Instant::now() + Duration::from_secs(10);
        while seen.lock().unwrap().is_empty() {
            assert!(Instant::now() < deadline, "no warning");
            goro_runtime::yield_now().await;
        }
        // A few more rounds: still one warning for that goroutine.
        let again = Instant::now() + Duration::from_millis(30);
        while Instant::now() < again {
            goro_runtime::yield_now().await;
        }
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 1, "{seen:?}");
        assert!(
            seen[0].contains(&format!("goroutine {} [chan send]:", h.id())),
            "{}",
            seen[0]
        );
        assert_eq!(goro_runtime::leak::find_stuck().len(), 1);
    })
    .unwrap();
}
