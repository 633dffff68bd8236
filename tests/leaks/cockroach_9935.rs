//! cockroach#9935 (GoKer cockroach_9935): the logger's `outputLogEntry`
//! holds its mutex when `createFile` fails and calls `exit`, which takes
//! the mutex again: the goroutine deadlocks on itself. Fix (as
//! cockroach's): release the mutex before `exit` takes it.
//!
//! Go origin: src/runtime/testdata/testgoroutineleakprofile/goker/cockroach9935.go
//! (timmyyuan/gobench goker/blocking/cockroach/9935). The original's
//! `createFile` fails at random (3 times in 4); here it always fails, so
//! the leak happens on every run.
//! <https://github.com/cockroachdb/cockroach/pull/9935>

use std::sync::Arc;

use goro::sync::Mutex;

use super::{check, forever_reasons, leaks_of};

struct Logging {
    mu: Mutex<()>,
}

impl Logging {
    async fn output_log_entry(&self, fixed: bool) {
        let g = self.mu.lock().await;
        if let Err(err) = self.create_file() {
            if fixed {
                drop(g);
            }
            self.exit(err).await;
            return;
        }
        drop(g);
    }

    fn create_file(&self) -> Result<(), &'static str> {
        Err("")
    }

    async fn exit(&self, _err: &str) {
        let _g = self.mu.lock().await; // Blocked forever
    }
}

async fn kernel(fixed: bool) {
    let l = Arc::new(Logging { mu: Mutex::new(()) });
    goro::go!(async move { l.output_log_entry(fixed).await }); // G1
}

#[test]
fn buggy_leaks_the_logger() {
    let leaks = check(kernel(false));
    // Not proved while main runs (a gap): see the module doc of main.rs.
    leaks.assert_forever_while_running(&[]);
    let leaked = leaks.at_end;
    assert_eq!(forever_reasons(&leaked), ["sync.Mutex.Lock"]);
}

#[test]
fn fixed_unlocks_before_exit() {
    assert!(leaks_of(kernel(true)).is_empty());
}
