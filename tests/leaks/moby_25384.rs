//! moby#25384: `WaitGroup.Wait` inside the loop that starts the goroutines
//! it waits for: after the first plugin is initialised the counter is still
//! `len(plugins) - 1`, and the loop never starts the others. Fix: wait
//! after the loop.
//! <https://github.com/moby/moby/pull/25384>

use std::sync::Arc;

use goro::sync::WaitGroup;

use super::{check, forever_reasons, leaks_of};

async fn init_plugins(plugins: usize, fixed: bool) {
    let group = Arc::new(WaitGroup::new());
    group.add(plugins as isize);
    for _ in 0..plugins {
        let g = group.clone();
        goro::go!(async move {
            // initialise the plugin
            g.done();
        });
        if !fixed {
            group.wait().await;
        }
    }
    if fixed {
        group.wait().await;
    }
}

#[test]
fn buggy_waits_inside_the_loop() {
    let leaks = check(init_plugins(3, false));
    // Not proved while main runs (a gap): see the module doc of main.rs.
    leaks.assert_forever_while_running(&[]);
    let leaked = leaks.at_end;
    assert_eq!(forever_reasons(&leaked), ["sync.WaitGroup.Wait"]);
}

#[test]
fn fixed_waits_after_the_loop() {
    assert!(leaks_of(init_plugins(3, true)).is_empty());
}
