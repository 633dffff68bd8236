//! Port of `test/chan/select.go`: send cases on buffered channels, a case
//! disabled by setting its channel to nil inside its own body, `default`
//! breaking the loop, and the send values of *every* case (nil channels
//! included) evaluated on each entry.
//!
//! Ported: the whole program. The select runs on the test thread through
//! `futures::executor::block_on`: every case is ready or `default` is taken,
//! so nothing ever waits.

use std::cell::Cell;

use goro::chan::{make, Chan};

#[derive(Default)]
struct State {
    counter: Cell<u32>,
    shift: Cell<u32>,
}

impl State {
    fn get_value(&self) -> u32 {
        self.counter.set(self.counter.get() + 1);
        1 << self.shift.get()
    }
}

async fn send(mut a: Chan<u32>, mut b: Chan<u32>, st: &State) -> u32 {
    let mut i = 0;
    loop {
        goro::select! {
            a.send(st.get_value()) => {
                i += 1;
                a = Chan::nil();
            }
            b.send(st.get_value()) => {
                i += 1;
                b = Chan::nil();
            }
            default => break,
        }
        st.shift.set(st.shift.get() + 1);
    }
    i
}

#[test]
fn select() {
    futures::executor::block_on(async {
        let st = State::default();
        let a = make::<u32>(1);
        let b = make::<u32>(1);
        let v = send(a.clone(), b.clone(), &st).await;
        assert_eq!(v, 2, "Send returned {v} != 2");
        let (av, bv) = (a.recv().await.unwrap(), b.recv().await.unwrap());
        assert_eq!(av | bv, 3, "bad values {av} {bv}");
        let v = send(a.clone(), Chan::nil(), &st).await;
        assert_eq!(v, 1, "Send returned {v} != 1");
        assert_eq!(
            st.counter.get(),
            10,
            "counter is {} != 10",
            st.counter.get()
        );
    });
}
