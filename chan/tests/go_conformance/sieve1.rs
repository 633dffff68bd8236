//! Port of <https://github.com/golang/go/blob/master/test/chan/sieve1.go>:
//! "Generate primes up to 100 using channels, checking the results. This
//! sieve consists of a linear chain of divisibility filters, equivalent to
//! trial-dividing each n by all primes p <= n."

use futures::executor::LocalPool;
use futures::task::{LocalSpawn, LocalSpawnExt};
use goro_chan::{make, Receiver, Sender};

/// Send the sequence 2, 3, 4, ... to channel `ch`.
async fn generate(ch: Sender<i32>) {
    let mut i = 2;
    loop {
        ch.send(i).await;
        i += 1;
    }
}

/// Copy the values from `input` to `out`, removing those divisible by `prime`.
async fn filter(input: Receiver<i32>, out: Sender<i32>, prime: i32) {
    while let Some(i) = input.recv().await {
        if i % prime != 0 {
            out.send(i).await;
        }
    }
}

/// The prime sieve: daisy-chain filter goroutines together.
async fn sieve(primes: Sender<i32>, sp: impl LocalSpawn) {
    let mut ch = make::<i32>(0);
    sp.spawn_local(generate(ch.sender())).unwrap();
    loop {
        let prime = ch.recv().await.unwrap();
        primes.send(prime).await;
        let ch1 = make::<i32>(0);
        sp.spawn_local(filter(ch.receiver(), ch1.sender(), prime))
            .unwrap();
        ch = ch1;
    }
}

#[test]
fn sieve1() {
    let mut pool = LocalPool::new();
    let sp = pool.spawner();
    let primes = make::<i32>(0);
    sp.spawn_local(sieve(primes.sender(), sp.clone())).unwrap();
    let a = [
        2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89,
        97,
    ];
    pool.run_until(async move {
        for want in a {
            assert_eq!(primes.recv().await, Some(want));
        }
    });
    // Like Go's main returning, dropping the pool drops the blocked goroutines.
}
