//! A goroutine parked in `select!` shows in the goroutine dump with Go's wait
//! reason and the line of the `select!` in the user's code.
//!
//! Go: the `[select]` and `[select (no cases)]` traceback headers.

mod common;

use goro::chan::make;

use common::{go, run, yield_now};

/// Yields until the dump shows `needle` (bounded), then returns the dump.
async fn dump_once_it_shows(needle: &str) -> String {
    for _ in 0..100_000 {
        let dump = goro::runtime::dump();
        if dump.contains(needle) {
            return dump;
        }
        yield_now().await;
    }
    panic!(
        "the dump never showed {needle:?}:\n{}",
        goro::runtime::dump()
    );
}

#[test]
fn a_parked_select_is_in_the_dump_at_its_call_site() {
    run(async {
        let (a, b) = (make::<i32>(0), make::<i32>(0));
        let line = line!() + 4;
        let parked = {
            let (a, b) = (a.clone(), b.clone());
            go(async move {
                goro::select! {
                    v = a => v,
                    v = b => v,
                }
            })
        };
        let dump = dump_once_it_shows("[select").await;
        let site = format!("tests/select_dump.rs:{line}:");
        assert!(
            dump.lines()
                .any(|l| l.contains("parked at") && l.contains(&site)),
            "no goroutine parked at {site}:\n{dump}"
        );
        b.send(5).await;
        assert_eq!(parked.await, Some(5));
    });
}

#[test]
fn an_empty_select_is_in_the_dump() {
    run(async {
        let line = line!() + 2;
        go(async {
            goro::select! {}
        });
        let dump = dump_once_it_shows("[select (no cases)").await;
        let site = format!("tests/select_dump.rs:{line}:");
        assert!(
            dump.contains(&site),
            "no goroutine parked at {site}:\n{dump}"
        );
    });
}
