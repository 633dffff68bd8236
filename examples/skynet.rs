//! Skynet: the goroutine-creation benchmark, ported from Go.
//!
//! Creates a tree of goroutines, 10 children per node, 1,000,000 leaves; each leaf
//! sends its number up an unbuffered channel, each node sums its children's
//! numbers. The sum of 0..999,999 is 499999500000.
//!
//! Go original: <https://github.com/atemerev/skynet> (go/skynet.go).
//!
//! ```text
//! cargo run --release --example skynet            # GOMAXPROCS workers (env), else all cores
//! GOMAXPROCS=2 cargo run --release --example skynet
//! ```

use std::future::Future;
use std::time::Instant;

use goro::chan::{self, Chan};

const LEAVES: u64 = 1_000_000;
const DIV: u64 = 10;

/// Go: `func skynet(c chan int, num, size, div int)`.
///
/// The explicit `+ Send` in the signature lets the function spawn itself.
fn skynet(c: Chan<u64>, num: u64, size: u64, div: u64) -> impl Future<Output = ()> + Send {
    async move {
        if size == 1 {
            c.send(num).await;
            return;
        }
        let rc = chan::make::<u64>(0);
        for i in 0..div {
            let sub = num + i * (size / div);
            goro::go!(skynet(rc.clone(), sub, size / div, div));
        }
        let mut sum = 0;
        for _ in 0..div {
            sum += rc.recv().await.expect("skynet: channel closed early");
        }
        c.send(sum).await;
    }
}

#[goro::main]
async fn main() {
    let start = Instant::now();
    let c = chan::make::<u64>(0);
    goro::go!(skynet(c.clone(), 0, LEAVES, DIV));
    let sum = c.recv().await.expect("skynet: channel closed early");
    let took = start.elapsed();
    println!("Result: {sum} in {} ms.", took.as_millis());
    assert_eq!(
        sum,
        LEAVES * (LEAVES - 1) / 2,
        "skynet computed a wrong sum"
    );
}
