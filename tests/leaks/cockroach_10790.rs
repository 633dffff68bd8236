//! cockroach#10790 (GoKer cockroach_10790): `beginCmds` (G1) waits for its
//! prerequisite commands' channels one by one; when the context is done it
//! starts a goroutine (G3) that drains all of them, from the first, and
//! moves on. A channel it already received from is never sent on again
//! (the sender gave up once the context was done), so G3 blocks on it
//! forever. Fixed form: G3 drains only the channels not yet received from,
//! and `beginCmds` stops at once; and every prerequisite delivers on its
//! channel even after cancellation (the sender's `select` on `ctx.Done()`
//! goes), as a finishing command in cockroach always signals.
//!
//! Go origin: src/runtime/testdata/testgoroutineleakprofile/goker/cockroach10790.go
//! (timmyyuan/gobench goker/blocking/cockroach/10790). Forced interleaving:
//! the cancelling goroutine (G2) waits until G1 received from the first
//! channel (`got_ch1`); G1 and the sender both wait for the cancellation
//! before their second `select`, so neither parks there: whichever comes
//! first takes `ctx.Done()` (in the fixed form the sender just sends).
//! <https://github.com/cockroachdb/cockroach/pull/10790>

use std::sync::Arc;

use goro::chan::{make, Chan};
use goro::context::{self, Context};

use super::{check, forever_reasons, leaks_of};

struct Replica {
    chans: Vec<Chan<bool>>,
    got_ch1: Chan<()>,
    fixed: bool,
}

impl Replica {
    async fn begin_cmds(self: &Arc<Self>, ctx: Context) {
        let ctx_done = ctx.done();
        for (i, ch) in self.chans.iter().enumerate() {
            if i == 1 {
                ctx_done.recv().await;
            }
            goro::select! {
                _ = ch.recv() => {
                    if i == 0 {
                        self.got_ch1.close();
                    }
                }
                _ = ctx_done.recv() => {
                    let r = self.clone();
                    let from = if self.fixed { i } else { 0 };
                    goro::go!(async move {
                        // G3
                        for ch in &r.chans[from..] {
                            ch.recv().await;
                        }
                    });
                    if self.fixed {
                        return;
                    }
                }
            }
        }
    }

    async fn send_chans(&self, ctx: Context) {
        let done = ctx.done();
        for (i, ch) in self.chans.iter().enumerate() {
            if self.fixed {
                ch.send(true).await;
                continue;
            }
            if i == 1 {
                done.recv().await;
            }
            goro::select! {
                _ = ch.send(true) => {}
                _ = done.recv() => return,
            }
        }
    }
}

async fn kernel(fixed: bool) {
    let r = Arc::new(Replica {
        chans: vec![make(0), make(0)],
        got_ch1: make(0),
        fixed,
    });
    let (ctx, cancel) = context::with_cancel(&context::background());
    let (r1, c1) = (r.clone(), ctx.clone());
    goro::go!(async move { r1.send_chans(c1).await }); // helper
    let r2 = r.clone();
    goro::go!(async move { r2.begin_cmds(ctx).await }); // G1
    goro::go!(async move {
        // G2
        r.got_ch1.recv().await;
        cancel();
    });
}

#[test]
fn buggy_leaks_the_drainer() {
    let leaks = check(kernel(false));
    // Not proved while main runs (a gap): see the module doc of main.rs.
    leaks.assert_forever_while_running(&[]);
    let leaked = leaks.at_end;
    assert_eq!(forever_reasons(&leaked), ["chan receive"]);
}

#[test]
fn fixed_drains_only_what_is_left() {
    assert!(leaks_of(kernel(true)).is_empty());
}
