//! crossbeam-channel on OS threads: one thread per Go goroutine.
//!
//! Not bound by the worker count: every task is its own thread, so on a 2-core
//! machine an 8-thread MPMC run competes for the cores through the kernel. Only
//! the workloads with a handful of tasks fit (no spawn+join of 1M, no skynet, no
//! 1M parked tasks, no 5000-thread sieve).

use crossbeam_channel::{bounded, select, Receiver};

use crate::measure::{triangle, Measurement, Stopwatch};

/// Unbuffered ping-pong (`bounded(0)` is a true rendezvous, like Go's).
pub fn pingpong(n: u64) -> Measurement {
    let (ping_tx, ping_rx) = bounded::<u64>(0);
    let (pong_tx, pong_rx) = bounded::<u64>(0);
    let echo = std::thread::spawn(move || {
        for v in ping_rx {
            if pong_tx.send(v).is_err() {
                break;
            }
        }
    });
    let sw = Stopwatch::start();
    let mut sum = 0;
    for i in 0..n {
        ping_tx.send(i).expect("echo thread gone");
        sum += pong_rx.recv().expect("echo thread gone");
    }
    let m = sw.stop(n);
    drop(ping_tx);
    echo.join().expect("echo thread panicked");
    m.expect(sum == triangle(n), || format!("sum={sum}"))
}

/// One producer thread, one consumer (this thread).
pub fn spsc(n: u64, cap: usize) -> Measurement {
    let (tx, rx) = bounded::<u64>(cap);
    let sw = Stopwatch::start();
    let producer = std::thread::spawn(move || {
        for i in 0..n {
            tx.send(i).expect("consumer gone");
        }
    });
    let (mut sum, mut count) = (0, 0);
    for v in rx {
        sum += v;
        count += 1;
    }
    let m = sw.stop(n);
    producer.join().expect("producer panicked");
    m.expect(sum == triangle(n) && count == n, || {
        format!("sum={sum},count={count}")
    })
}

/// `producers` x `consumers` threads over one channel.
pub fn mpmc(n: u64, cap: usize, producers: u64, consumers: u64) -> Measurement {
    let (tx, rx) = bounded::<u64>(cap);
    let sw = Stopwatch::start();
    let (sum, count) = std::thread::scope(|s| {
        for p in 0..producers {
            let tx = tx.clone();
            s.spawn(move || {
                let mut i = p;
                while i < n {
                    tx.send(i).expect("consumers gone");
                    i += producers;
                }
            });
        }
        drop(tx);
        let results: Vec<_> = (0..consumers)
            .map(|_| {
                let rx = rx.clone();
                s.spawn(move || rx.iter().fold((0, 0), |(s, k), v| (s + v, k + 1)))
            })
            .collect();
        results
            .into_iter()
            .map(|h| h.join().expect("consumer panicked"))
            .fold((0, 0), |(s, k), (s2, k2)| (s + s2, k + k2))
    });
    let m = sw.stop(n);
    m.expect(sum == triangle(n) && count == n, || {
        format!("sum={sum},count={count}")
    })
}

fn select4(rs: &[Receiver<u64>; 4]) -> u64 {
    select! {
        recv(rs[0]) -> v => v.expect("closed"),
        recv(rs[1]) -> v => v.expect("closed"),
        recv(rs[2]) -> v => v.expect("closed"),
        recv(rs[3]) -> v => v.expect("closed"),
    }
}

/// select over 4 receives kept mostly ready by 4 producer threads.
pub fn select4_ready(n: u64) -> Measurement {
    let chans: Vec<_> = (0..4).map(|_| bounded::<u64>(1024)).collect();
    let rs: [Receiver<u64>; 4] = std::array::from_fn(|k| chans[k].1.clone());
    let sw = Stopwatch::start();
    let sum = std::thread::scope(|s| {
        for (k, (tx, _)) in chans.iter().enumerate() {
            s.spawn(move || {
                let mut i = k as u64;
                while i < n {
                    tx.send(i).expect("consumer gone");
                    i += 4;
                }
            });
        }
        (0..n).map(|_| select4(&rs)).sum::<u64>()
    });
    let m = sw.stop(n);
    m.expect(sum == triangle(n), || format!("sum={sum}"))
}

/// select over 4 mostly idle receives: one value at a time, then an ack.
pub fn select4_idle(n: u64) -> Measurement {
    let chans: Vec<_> = (0..4).map(|_| bounded::<u64>(1024)).collect();
    let rs: [Receiver<u64>; 4] = std::array::from_fn(|k| chans[k].1.clone());
    let (ack_tx, ack_rx) = bounded::<u64>(0);
    let sw = Stopwatch::start();
    let sum = std::thread::scope(|s| {
        let chans = &chans;
        s.spawn(move || {
            for i in 0..n {
                chans[(i % 4) as usize].0.send(i).expect("consumer gone");
                ack_rx.recv().expect("consumer gone");
            }
        });
        let mut sum = 0;
        for _ in 0..n {
            sum += select4(&rs);
            ack_tx.send(0).expect("producer gone");
        }
        sum
    });
    let m = sw.stop(n);
    m.expect(sum == triangle(n), || format!("sum={sum}"))
}
