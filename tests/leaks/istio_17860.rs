//! istio#17860 (GoKer istio_17860): the pilot agent's `Run` loop returns
//! as soon as no epoch is active. When it handles the exit status of epoch
//! 1 before the second `Restart` registered epoch 2, it returns, and epoch
//! 2's `runWait` blocks forever sending its status on the unbuffered
//! `statusCh`. Fixed form: `runWait` gives up its send once the agent's
//! context is done.
//!
//! Go origin: src/runtime/testdata/testgoroutineleakprofile/goker/istio17860.go
//! (timmyyuan/gobench goker/blocking/istio/17860). Forced interleaving: the
//! original needs `Run` to win the agent's mutex against the second
//! `Restart`, which waits (under the mutex) for the proxy with a 30 ns
//! ticker and a 100 ns timer; here the second `Restart` starts once `Run`
//! handled the first status (channel `handled`), and the test cancels the
//! context once the second `Restart` returned (channel `restarted`) rather
//! than after a 200 ns sleep.
//! <https://github.com/istio/istio/pull/17860>

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use goro::chan::{make, Chan};
use goro::context::{self, Context};
use goro::sync::Mutex;
use goro::time::{Ticker, Timer};

use super::{check, forever_reasons, leaks_of};

#[derive(Default)]
struct Epochs {
    current_epoch: u32,
    active_epochs: HashSet<u32>,
}

struct Agent {
    /// `proxy.IsLive`: never live in this test.
    live: fn() -> bool,
    mu: Mutex<Epochs>,
    status_ch: Chan<u32>,
    ctx: Context,
    handled: Chan<()>,
    fixed: bool,
}

impl Agent {
    async fn run(&self) {
        let done = self.ctx.done();
        let mut told = false;
        loop {
            goro::select! {
                status = self.status_ch.recv() => {
                    let active = {
                        let mut e = self.mu.lock().await;
                        e.active_epochs.remove(&status.unwrap());
                        e.active_epochs.len()
                    };
                    if !told {
                        told = true;
                        self.handled.close();
                    }
                    if active == 0 {
                        return;
                    }
                }
                _ = done.recv() => return,
            }
        }
    }

    async fn restart(self: &Arc<Self>) {
        let mut e = self.mu.lock().await;
        self.wait_until_live(&e).await;
        e.current_epoch += 1;
        let epoch = e.current_epoch;
        e.active_epochs.insert(epoch);
        let a = self.clone();
        goro::go!(async move { a.run_wait(epoch).await });
    }

    async fn run_wait(&self, epoch: u32) {
        if self.fixed {
            let done = self.ctx.done();
            goro::select! {
                _ = self.status_ch.send(epoch) => {}
                _ = done.recv() => {}
            }
        } else {
            self.status_ch.send(epoch).await;
        }
    }

    async fn wait_until_live(&self, e: &Epochs) {
        if e.active_epochs.is_empty() {
            return;
        }
        let interval = Ticker::new(Duration::from_nanos(30));
        let timer = Timer::new(Duration::from_nanos(100));
        if !(self.live)() {
            loop {
                goro::select! {
                    _ = timer.c().recv() => break,
                    _ = interval.c().recv() => {
                        if (self.live)() {
                            break;
                        }
                    }
                }
            }
        }
        interval.stop();
        timer.stop();
    }
}

async fn kernel(fixed: bool) {
    let (ctx, cancel) = context::with_cancel(&context::background());
    let a = Arc::new(Agent {
        live: || false,
        mu: Mutex::new(Epochs::default()),
        status_ch: make(0),
        ctx,
        handled: make(0),
        fixed,
    });
    let r = a.clone();
    goro::go!(async move { r.run().await });
    a.restart().await;
    let restarted = make::<()>(0);
    let (a2, done) = (a.clone(), restarted.clone());
    goro::go!(async move {
        a2.handled.recv().await;
        a2.restart().await;
        done.close();
    });
    restarted.recv().await;
    cancel();
}

#[test]
fn buggy_leaks_the_second_status_sender() {
    let leaks = check(kernel(false));
    // Not proved while main runs (a gap): see the module doc of main.rs.
    leaks.assert_forever_while_running(&[]);
    let leaked = leaks.at_end;
    assert_eq!(forever_reasons(&leaked), ["chan send"]);
}

#[test]
fn fixed_sender_gives_up_on_cancel() {
    assert!(leaks_of(kernel(true)).is_empty());
}
