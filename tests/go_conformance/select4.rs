//! Port of `test/chan/select4.go`: the assignment target of a receive case
//! (`case *f() = <-c1:`) is evaluated only when that case is chosen.
//!
//! Ported: in Rust a case binds a pattern rather than assigning to an
//! arbitrary place, so Go's `*f() = <-c1` becomes a body that assigns through
//! `f()`; the check is the same: `f` must not be called when the other case
//! (`x.a = <-c`) is chosen, and `x.a` receives 42.

use std::cell::Cell;

use goro::chan::make;

#[test]
fn select4() {
    futures::executor::block_on(async {
        struct X {
            a: i32,
        }
        let mut x = X { a: 0 };
        let called = Cell::new(false);
        let sink = Cell::new(0);
        let f = || {
            called.set(true);
            &sink
        };
        let c = make::<i32>(1);
        let c1 = make::<i32>(0);
        c.send(42).await;
        goro::select! {
            v = c1 => f().set(v.unwrap()),
            v = c => x.a = v.unwrap(),
        }
        assert!(!called.get(), "BUG: called f");
        assert_eq!(x.a, 42, "BUG: {}", x.a);
    });
}
