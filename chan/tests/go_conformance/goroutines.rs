//! Port of <https://github.com/golang/go/blob/master/test/chan/goroutines.go>:
//! "Torture test for goroutines. Make a lot of goroutines, threaded together,
//! and tear them down cleanly."

use futures::executor::LocalPool;
use futures::task::LocalSpawnExt;
use goro_chan::{make, Chan};

async fn f(left: Chan<i32>, right: Chan<i32>) {
    let v = right.recv().await.unwrap();
    left.send(v).await;
}

#[test]
fn goroutines() {
    let n = 10_000;
    let mut pool = LocalPool::new();
    let sp = pool.spawner();
    let leftmost = make::<i32>(0);
    let mut right = leftmost.clone();
    let mut left = leftmost.clone();
    for _ in 0..n {
        right = make(0);
        sp.spawn_local(f(left, right.clone())).unwrap();
        left = right.clone();
    }
    sp.spawn_local(async move { right.send(1).await }).unwrap();
    assert_eq!(
        pool.run_until(async move { leftmost.recv().await }),
        Some(1)
    );
}

/// The same chain with goroutines on a multi-threaded tokio runtime.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn goroutines_tokio() {
    let n = 2_000;
    let leftmost = make::<i32>(0);
    let mut right = leftmost.clone();
    let mut left = leftmost.clone();
    for _ in 0..n {
        right = make(0);
        tokio::spawn(f(left, right.clone()));
        left = right.clone();
    }
    tokio::spawn(async move { right.send(1).await });
    assert_eq!(leftmost.recv().await, Some(1));
}
