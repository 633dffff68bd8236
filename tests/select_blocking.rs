//! `goro::select_blocking!` on plain threads.
//!
//! Go: a select statement in a goroutine that is an OS thread.

use std::thread;

use goro::chan::{make, Chan};

#[test]
fn receives_from_whichever_thread_sends() {
    let a = make::<u32>(0);
    let b = make::<u32>(0);
    let senders: Vec<_> = [(a.clone(), 1), (b.clone(), 2)]
        .into_iter()
        .map(|(c, v)| thread::spawn(move || c.send_blocking(v)))
        .collect();
    let mut got = Vec::new();
    for _ in 0..2 {
        got.push(goro::select_blocking! {
            v = a => v.unwrap(),
            v = b => v.unwrap(),
        });
    }
    got.sort_unstable();
    assert_eq!(got, [1, 2]);
    for s in senders {
        s.join().unwrap();
    }
}

#[test]
fn send_case_reaches_a_receiving_thread() {
    let a = make::<u32>(0);
    let receiver = {
        let a = a.clone();
        thread::spawn(move || a.recv_blocking())
    };
    let idle = make::<u32>(0);
    goro::select_blocking! {
        a.send(9) => {}
        _ = idle => unreachable!(),
    }
    assert_eq!(receiver.join().unwrap(), Some(9));
}

#[test]
fn default_and_nil_channels() {
    let nil = Chan::<u32>::nil();
    let idle = make::<u32>(0);
    let got = goro::select_blocking! {
        v = nil => v,
        v = idle => v,
        nil.send(1) => None,
        default => Some(0),
    };
    assert_eq!(got, Some(0));
}

#[test]
fn ping_pong_between_threads() {
    const ROUNDS: u32 = 2_000;
    let ping = make::<u32>(0);
    let pong = make::<u32>(0);
    let quit = make::<()>(0);
    let other = {
        let (ping, pong, quit) = (ping.clone(), pong.clone(), quit.clone());
        thread::spawn(move || loop {
            let v = goro::select_blocking! {
                v = ping => v.unwrap(),
                _ = quit => return,
            };
            pong.send_blocking(v + 1);
        })
    };
    let mut v = 0;
    for _ in 0..ROUNDS {
        goro::select_blocking! {
            ping.send(v) => {}
        }
        v = pong.recv_blocking().unwrap();
    }
    quit.close();
    other.join().unwrap();
    assert_eq!(v, ROUNDS);
}
