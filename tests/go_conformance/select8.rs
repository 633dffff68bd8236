//! Port of `test/chan/select8.go`: `break` inside select cases (gccgo once
//! mishandled it), for one-, two- and three-case selects.
//!
//! Ported: Go's `break` leaves the select statement; a Rust `break` inside a
//! body leaves the enclosing loop or labeled block, so each select sits in a
//! labeled block and the bodies `break` out of it, with the unreachable panic
//! after the `break` as in Go.

use goro::chan::make;

use crate::common::{go, run};

#[test]
#[allow(unreachable_code)]
fn select8() {
    run(async {
        let ch = make::<i32>(0);
        {
            let ch = ch.clone();
            // Sends forever; dropped when the test's runtime shuts down.
            go(async move {
                loop {
                    ch.send(5).await;
                }
            });
        }

        'one: {
            goro::select! {
                _ = ch => {
                    break 'one;
                    panic!("unreachable");
                }
            }
        }

        'only_default: {
            goro::select! {
                default => {
                    break 'only_default;
                    panic!("unreachable");
                }
            }
        }

        'two: {
            goro::select! {
                _ = ch => {
                    break 'two;
                    panic!("unreachable");
                }
                default => {
                    break 'two;
                    panic!("unreachable");
                }
            }
        }

        'three: {
            goro::select! {
                _ = ch => {
                    break 'three;
                    panic!("unreachable");
                }
                ch.send(10) => panic!("unreachable"),
                default => {
                    break 'three;
                    panic!("unreachable");
                }
            }
        }
    });
}
