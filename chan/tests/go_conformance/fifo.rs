//! Port of <https://github.com/golang/go/blob/master/test/chan/fifo.go>:
//! "Test that unbuffered channels act as pure fifos."

use futures::executor::LocalPool;
use futures::task::LocalSpawnExt;
use goro_chan::{make, Chan, Receiver, Sender};

const N: i32 = 10;

#[test]
fn asynch_fifo() {
    let ch = make::<i32>(N as usize);
    for i in 0..N {
        ch.send_blocking(i);
    }
    for i in 0..N {
        assert_eq!(ch.recv_blocking(), Some(i), "bad receive");
    }
}

async fn chain(ch: Receiver<i32>, val: i32, inp: Receiver<i32>, out: Sender<i32>) {
    inp.recv().await;
    assert_eq!(ch.recv().await, Some(val));
    out.send(1).await;
}

/// Thread together a daisy chain to read the elements in sequence.
#[test]
fn synch_fifo() {
    let mut pool = LocalPool::new();
    let sp = pool.spawner();
    let ch = make::<i32>(0);
    let mut inp: Chan<i32> = make(0);
    let start = inp.clone();
    for i in 0..N {
        let out = make::<i32>(0);
        sp.spawn_local(chain(ch.receiver(), i, inp.receiver(), out.sender()))
            .unwrap();
        inp = out;
    }
    pool.run_until(async move {
        start.send(0).await;
        for i in 0..N {
            ch.send(i).await;
        }
        inp.recv().await;
    });
}
