//! Port of `test/chan/select3.go`: which selects (and plain operations) block,
//! which never block, and which panic, for nil, closed, ready and non-ready
//! channels, `default`, and the empty select.
//!
//! Ported: every check of the file. Go's `testBlock` runs the operation in a
//! goroutine and decides "it blocked" when it has not finished after a 0.1 s
//! sleep; here the operation's future is polled exactly once off any runtime
//! (no budget, no scheduler), which decides the same question
//! deterministically: `Pending` means it blocks, `Ready` means it did not.
//! Dropping the pending future afterwards also checks that an abandoned select
//! unregisters cleanly. `testPanic` becomes `catch_unwind`, and the panic
//! message is checked against Go's text.

use goro::chan::{make, Chan};

use crate::common::{panic_message, poll_once};

const ASYNC: usize = 1; // buffered ("asynchronous") channels

fn unreachable() -> ! {
    panic!("control flow shouldn't reach here")
}

fn nilch() -> Chan<i32> {
    Chan::nil()
}

fn closedch() -> Chan<i32> {
    let c = make::<i32>(0);
    c.close();
    c
}

#[test]
fn nil_channel_operations_block() {
    let nilch = nilch();
    assert!(poll_once(nilch.send(7)).is_pending());
    assert!(poll_once(nilch.recv()).is_pending());
}

#[test]
fn nil_channel_in_select_is_never_selected() {
    let nilch = nilch();
    let done = poll_once(async {
        goro::select! {
            nilch.send(7) => unreachable(),
            default => {}
        }
    });
    assert!(done.is_ready());
    let done = poll_once(async {
        goro::select! {
            _ = nilch => unreachable(),
            default => {}
        }
    });
    assert!(done.is_ready());
}

#[test]
fn send_with_free_buffer_space_never_blocks() {
    let ch = make::<i32>(ASYNC);
    assert!(poll_once(ch.send(7)).is_ready());
}

#[test]
fn receive_from_closed_channel_never_blocks() {
    let closedch = closedch();
    for _ in 0..10 {
        assert_eq!(
            poll_once(closedch.recv()),
            std::task::Poll::Ready(None),
            "expected None from closed channel"
        );
    }
}

#[test]
fn send_to_closed_channel_panics() {
    let closedch = closedch();
    let msg = panic_message(|| {
        let _ = poll_once(closedch.send(7));
    });
    assert_eq!(msg.as_deref(), Some("send on closed channel"));
}

#[test]
fn receive_from_non_ready_channel_blocks() {
    let ch = make::<i32>(0);
    assert!(poll_once(ch.recv()).is_pending());
}

#[test]
fn empty_select_blocks() {
    let blocked = poll_once(async {
        goro::select! {}
    });
    assert!(blocked.is_pending());
}

#[test]
fn select_with_only_nil_channels_blocks() {
    let nilch = nilch();
    assert!(poll_once(async {
        goro::select! {
            _ = nilch => unreachable(),
        }
    })
    .is_pending());
    assert!(poll_once(async {
        goro::select! {
            nilch.send(7) => unreachable(),
        }
    })
    .is_pending());
    assert!(poll_once(async {
        goro::select! {
            _ = nilch => unreachable(),
            nilch.send(7) => unreachable(),
        }
    })
    .is_pending());
}

#[test]
fn select_with_non_ready_channel_blocks() {
    let ch = make::<i32>(0);
    assert!(poll_once(async {
        goro::select! {
            _ = ch => unreachable(),
        }
    })
    .is_pending());
}

#[test]
fn select_with_default_never_blocks() {
    let nilch = nilch();
    assert!(poll_once(async {
        goro::select! {
            default => {}
        }
    })
    .is_ready());
    assert!(poll_once(async {
        goro::select! {
            _ = nilch => unreachable(),
            default => {}
        }
    })
    .is_ready());
    assert!(poll_once(async {
        goro::select! {
            nilch.send(7) => unreachable(),
            default => {}
        }
    })
    .is_ready());
}

#[test]
fn select_with_ready_channel_never_blocks() {
    let ch = make::<i32>(ASYNC);
    assert!(poll_once(async {
        goro::select! {
            ch.send(7) => {}
            default => unreachable(),
        }
    })
    .is_ready());
    let ch = make::<i32>(ASYNC);
    ch.try_send(7).unwrap();
    assert!(poll_once(async {
        goro::select! {
            _ = ch => {}
            default => unreachable(),
        }
    })
    .is_ready());
}

#[test]
fn select_on_closed_channel_behaves_like_the_operation() {
    let closedch = closedch();
    assert!(poll_once(async {
        goro::select! {
            _ = closedch => {}
        }
    })
    .is_ready());
    // Go's `case x := (<-closedch)` and `case x, ok := (<-closedch)`.
    assert_eq!(
        poll_once(async {
            goro::select! {
                x = closedch.recv() => x,
            }
        }),
        std::task::Poll::Ready(None)
    );
    let msg = panic_message(|| {
        let _ = poll_once(async {
            goro::select! {
                closedch.send(7) => {}
            }
        });
    });
    assert_eq!(msg.as_deref(), Some("send on closed channel"));
}

#[test]
fn select_does_not_get_confused_if_it_sees_itself() {
    let c = make::<i32>(0);
    assert!(poll_once(async {
        goro::select! {
            c.send(1) => {}
            _ = c => {}
        }
    })
    .is_pending());
}
