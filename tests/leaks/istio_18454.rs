//! istio#18454 (GoKer istio_18454): the strategy's event loop, handed a
//! reset after its timer already fired and was received, stops the timer
//! (false: already fired) and then waits on the timer channel for a value
//! that never comes; the processor then blocks forever sending the next
//! reset into the full reset channel. Fix: drain the timer channel only
//! if a value is there (`select` with `default`), as the real fix does.
//! The forced interleaving: the processor's first change waits until the
//! event loop has received the timer's value. The state lock is held only
//! around field accesses and never across a wait; a std mutex stands in.
//! <https://github.com/istio/istio/pull/18454>

use std::sync::{Arc, Mutex};
use std::time::Duration;

use goro::chan::{make, Chan};
use goro::time::Timer;

use super::{check, forever_reasons, leaks_of};

struct Strategy {
    timer: Mutex<Option<Arc<Timer>>>,
    reset_chan: Chan<()>,
    fired: Chan<()>,
    /// The strategy worker's context: closed by `close` (Go: `ctx.Done()`).
    done: Chan<()>,
    fixed: bool,
}

impl Strategy {
    async fn on_change(self: &Arc<Self>) {
        let running = self.timer.lock().unwrap().is_some();
        if running {
            self.reset_chan.send(()).await;
            return;
        }
        self.start_timer();
    }

    fn start_timer(self: &Arc<Self>) {
        let timer = Arc::new(Timer::new(Duration::from_nanos(1)));
        *self.timer.lock().unwrap() = Some(timer.clone());
        let s = self.clone();
        goro::go!(async move {
            // eventLoop
            let mut told = false;
            loop {
                goro::select! {
                    _ = timer.c().recv() => {
                        if !told {
                            told = true;
                            s.fired.close();
                        }
                    }
                    _ = s.reset_chan.recv() => {
                        if !timer.stop() {
                            if s.fixed {
                                let _ = timer.c().try_recv();
                            } else {
                                timer.c().recv().await;
                            }
                        }
                        timer.reset(Duration::from_nanos(1));
                    }
                    _ = s.done.recv() => {
                        timer.stop();
                        return;
                    }
                }
            }
        });
    }
}

async fn processor(fixed: bool) {
    let s = Arc::new(Strategy {
        timer: Mutex::new(None),
        reset_chan: make(1),
        fired: make(0),
        done: make(0),
        fixed,
    });
    // First event: starts the timer; wait until its value was received.
    s.on_change().await;
    s.fired.recv().await;
    // Later events: each is a reset.
    for _ in 0..3 {
        s.on_change().await;
    }
    // Processor stopped: close the strategy (its worker's context).
    s.done.close();
}

#[test]
fn buggy_leaks_event_loop_and_processor() {
    let leaks = check(processor(false));
    // Not proved while main runs (a gap): see the module doc of main.rs.
    leaks.assert_forever_while_running(&[]);
    let leaked = leaks.at_end;
    assert_eq!(forever_reasons(&leaked), ["chan receive", "chan send"]);
}

#[test]
fn fixed_event_loop_drains_only_a_ready_value() {
    assert!(leaks_of(processor(true)).is_empty());
}
