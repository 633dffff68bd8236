//! Goroutine panics under both policies.

use std::future::pending;

use goro_runtime::runtime::{PanicPolicy, Runtime, RuntimeError};

#[test]
fn abort_detached_panic_stops_runtime() {
    let rt = Runtime::builder()
        .workers(2)
        .on_goroutine_panic(PanicPolicy::Abort)
        .build()
        .unwrap();
    let err = rt
        .block_on(async {
            drop(goro_runtime::spawn(async { panic!("boom") }));
            pending::<()>().await
        })
        .unwrap_err();
    match err {
        RuntimeError::GoroutinePanic {
            id,
            message,
            spawned_at,
        } => {
            assert_eq!(id.as_u64(), 2);
            assert_eq!(message, "boom");
            assert!(spawned_at.file().ends_with("panics.rs"));
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn abort_is_the_default_and_applies_to_held_handles_too() {
    // Go: any unrecovered panic ends the program.
    let rt = Runtime::builder().workers(1).build().unwrap();
    let err = rt
        .block_on(async {
            let h = goro_runtime::spawn(async { panic!("held {}", 7) });
            let _ = h.await;
            pending::<()>().await
        })
        .unwrap_err();
    assert!(matches!(err, RuntimeError::GoroutinePanic { ref message, .. } if message == "held 7"));
    let text = err.to_string();
    assert!(
        text.starts_with("panic: held 7\n\ngoroutine 2 [running]:\ncreated at "),
        "{text}"
    );
}

#[test]
fn ignore_delivers_join_error() {
    let rt = Runtime::builder()
        .workers(2)
        .on_goroutine_panic(PanicPolicy::Ignore)
        .build()
        .unwrap();
    rt.block_on(async {
        // A detached panic is ignored; the runtime keeps going.
        drop(goro_runtime::spawn(async { panic!("ignored") }));
        let h = goro_runtime::spawn(async { panic!("to the handle") });
        let id = h.id();
        let err = h.await.unwrap_err();
        assert!(err.is_panic());
        assert!(!err.is_cancelled());
        assert_eq!(err.id(), id);
        assert_eq!(
            err.to_string(),
            format!("goroutine {id} panicked: to the handle")
        );
        let payload = err.into_panic();
        assert_eq!(*payload.downcast::<&str>().unwrap(), "to the handle");
        assert_eq!(goro_runtime::spawn(async { 5 }).await.unwrap(), 5);
    })
    .unwrap();
}

#[test]
fn main_panic_is_a_runtime_error() {
    for policy in [PanicPolicy::Abort, PanicPolicy::Ignore] {
        let rt = Runtime::builder()
            .on_goroutine_panic(policy)
            .build()
            .unwrap();
        let err = rt.block_on(async { panic!("main") }).unwrap_err();
        assert!(
            matches!(err, RuntimeError::GoroutinePanic { id, ref message, .. } if id.as_u64() == 1 && message == "main")
        );
    }
}

#[test]
fn blocking_job_panic_goes_to_handle_under_ignore() {
    let rt = Runtime::builder()
        .on_goroutine_panic(PanicPolicy::Ignore)
        .build()
        .unwrap();
    rt.block_on(async {
        let err = goro_runtime::spawn_blocking(|| panic!("blocking"))
            .await
            .unwrap_err();
        assert!(err.is_panic());
    })
    .unwrap();
}

#[test]
#[should_panic(expected = "panic: from run")]
fn run_panics_with_the_error_display() {
    goro_runtime::run(async {
        drop(goro_runtime::spawn(async { panic!("from run") }));
        pending::<()>().await
    });
}

#[test]
#[should_panic(expected = "panic: from test_entry")]
fn test_entry_panics_with_the_error_display() {
    goro_runtime::test_entry(async {
        drop(goro_runtime::spawn(async { panic!("from test_entry") }));
        pending::<()>().await
    });
}

#[test]
fn handle_of_goroutine_dropped_at_stop_reports_cancelled() {
    let rt = Runtime::builder().workers(1).build().unwrap();
    let h = rt
        .block_on(async {
            let h = goro_runtime::spawn(pending::<()>());
            Some(h)
        })
        .unwrap();
    // The runtime stopped when main returned: the goroutine was dropped.
    let err = futures::executor::block_on(h.unwrap()).unwrap_err();
    assert!(err.is_cancelled());
    assert!(!err.is_panic());
}
