//! `First()` from "Go Concurrency Patterns" (Pike, 2012): query every
//! replica, return the first answer. With an unbuffered channel the slower
//! replicas block forever on their send. Fix: a buffer for every replica.
//! <https://go.dev/talks/2012/concurrency.slide#48>

use goro::chan::make;

use super::{check, forever_reasons, leaks_of};

async fn first(cap: usize, replicas: usize) {
    let c = make::<usize>(cap);
    // The first replica answers at once; the others wait until the caller
    // has its answer (forced: they are "slower").
    let slower = make::<()>(0);
    for r in 0..replicas {
        let (c, slower) = (c.clone(), slower.clone());
        goro::go!(async move {
            if r > 0 {
                slower.recv().await;
            }
            c.send(r).await;
        });
    }
    assert_eq!(c.recv().await, Some(0));
    slower.close();
}

#[test]
fn buggy_leaks_the_slower_replicas() {
    let leaks = check(first(0, 3));
    leaks.assert_forever_while_running(&["chan send", "chan send"]);
    let leaked = leaks.at_end;
    assert_eq!(forever_reasons(&leaked), ["chan send", "chan send"]);
}

#[test]
fn fixed_with_a_buffer_per_replica() {
    assert!(leaks_of(first(3, 3)).is_empty());
}
