//! cockroach#1462 (GoKer cockroach_1462): the local transport's worker
//! (G2) loops sending events on an unbuffered channel, checking the
//! stopper only between sends; the event processor (G3) returns when the
//! stopper stops. A send started just before the stop is never received:
//! G2 blocks on it forever, and `Stopper.Stop` (G1) waits on its
//! WaitGroup for G2 forever. Fixed form (ours): the worker's send also
//! gives up when the stopper stops (`select` with `ShouldStop()`).
//!
//! Go origin: src/runtime/testdata/testgoroutineleakprofile/goker/cockroach1462.go
//! (timmyyuan/gobench goker/blocking/cockroach/1462). Forced interleaving:
//! G1 calls `Stop` once G2 is past its first stop check (channel
//! `g2_in_default`), and G2 sends once G3 returned (channel
//! `processor_gone`). The stopper's `drain` Cond is kept; no task runs, so
//! `Quiesce` never waits on it.
//! <https://github.com/cockroachdb/cockroach/pull/1462>

use std::sync::Arc;

use goro::chan::{make, Chan};
use goro::sync::{Cond, Mutex, WaitGroup};

use super::{check, forever_reasons, leaks_of};

struct Tasks {
    draining: bool,
    num_tasks: u32,
}

struct Stopper {
    stopper: Chan<()>,
    stopped: Chan<()>,
    stop: WaitGroup,
    mu: Mutex<Tasks>,
    drain: Cond,
}

impl Stopper {
    fn new() -> Arc<Self> {
        Arc::new(Stopper {
            stopper: make(0),
            stopped: make(0),
            stop: WaitGroup::new(),
            mu: Mutex::new(Tasks {
                draining: false,
                num_tasks: 0,
            }),
            drain: Cond::new(),
        })
    }

    fn run_worker<F>(self: &Arc<Self>, f: F)
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        self.stop.add(1);
        let s = self.clone();
        goro::go!(async move {
            // G2, G3
            f.await;
            s.stop.done(); // SetStopped
        });
    }

    async fn quiesce(&self) {
        let mut t = self.mu.lock().await;
        goro::yield_now().await;
        t.draining = true;
        while t.num_tasks > 0 {
            t = self.drain.wait(t).await;
        }
    }

    async fn stop(&self) {
        self.quiesce().await;
        self.stopper.close();
        self.stop.wait().await;
        let _g = self.mu.lock().await;
        goro::yield_now().await;
        self.stopped.close();
    }
}

async fn kernel(fixed: bool) {
    // G1
    let stopper = Stopper::new();
    let events = make::<i32>(0);
    let (g2_in_default, processor_gone) = (make::<()>(0), make::<()>(0));
    // NewLocalInterceptableTransport: start
    let (s, ev, in_default, gone) = (
        stopper.clone(),
        events.clone(),
        g2_in_default.clone(),
        processor_gone.clone(),
    );
    stopper.run_worker(async move {
        let mut first = true;
        loop {
            goro::select! {
                _ = s.stopper.recv() => return,
                default => {
                    if first {
                        first = false;
                        in_default.close();
                    }
                    gone.recv().await;
                    if fixed {
                        goro::select! {
                            _ = ev.send(0) => {}
                            _ = s.stopper.recv() => return,
                        }
                    } else {
                        ev.send(0).await;
                    }
                }
            }
        }
    });
    let (s, gone) = (stopper.clone(), processor_gone.clone());
    stopper.run_worker(async move {
        // processEventsUntil
        loop {
            goro::select! {
                ev = events.recv() => {
                    goro::yield_now().await;
                    if ev.is_none() {
                        break;
                    }
                }
                _ = s.stopper.recv() => break,
            }
        }
        gone.close();
    });
    g2_in_default.recv().await;
    stopper.stop().await;
}

#[test]
fn buggy_leaks_sender_and_stopper() {
    let leaks = check(kernel(false));
    leaks.assert_forever_while_running(&["chan send"]);
    let leaked = leaks.at_end;
    assert_eq!(
        forever_reasons(&leaked),
        ["chan send", "sync.WaitGroup.Wait"]
    );
}

#[test]
fn fixed_send_gives_up_on_stop() {
    assert!(leaks_of(kernel(true)).is_empty());
}
