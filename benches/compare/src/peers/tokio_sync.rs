//! tokio's sync primitives for the sync workloads: `tokio::sync::Mutex`,
//! `tokio::sync::RwLock`, and a `JoinSet` for the fan-in (tokio has no
//! WaitGroup).

use std::sync::Arc;

use tokio::sync::{Mutex, RwLock};
use tokio::task::JoinSet;

use crate::measure::{Measurement, Stopwatch};

pub async fn mutex_uncontended(n: u64) -> Measurement {
    let m = Mutex::new(0u64);
    let sw = Stopwatch::start();
    for _ in 0..n {
        *m.lock().await += 1;
    }
    let r = sw.stop(n);
    let v = *m.lock().await;
    r.expect(v == n, || format!("count={v}"))
}

pub async fn mutex_contended(n: u64, tasks: u64) -> Measurement {
    let m = Arc::new(Mutex::new(0u64));
    let per = n / tasks;
    let mut set = JoinSet::new();
    let sw = Stopwatch::start();
    for _ in 0..tasks {
        let m = m.clone();
        set.spawn(async move {
            for _ in 0..per {
                *m.lock().await += 1;
            }
        });
    }
    while let Some(r) = set.join_next().await {
        r.expect("task panicked");
    }
    let r = sw.stop(per * tasks);
    let v = *m.lock().await;
    r.expect(v == per * tasks, || format!("count={v}"))
}

pub async fn waitgroup_fanin(n: u64, batch: u64) -> Measurement {
    let sw = Stopwatch::start();
    let mut done = 0;
    while done < n {
        let k = batch.min(n - done);
        let mut set = JoinSet::new();
        for _ in 0..k {
            set.spawn(async {});
        }
        while let Some(r) = set.join_next().await {
            r.expect("task panicked");
        }
        done += k;
    }
    sw.stop(n).expect(true, String::new)
}

pub async fn rwmutex_read_mostly(n: u64, tasks: u64) -> Measurement {
    let m = Arc::new(RwLock::new(0u64));
    let per = n / tasks;
    let mut set = JoinSet::new();
    let sw = Stopwatch::start();
    for _ in 0..tasks {
        let m = m.clone();
        set.spawn(async move {
            let mut seen = 0;
            for i in 0..per {
                if i % 10 == 0 {
                    *m.write().await += 1;
                } else {
                    seen += *m.read().await;
                }
            }
            std::hint::black_box(seen);
        });
    }
    while let Some(r) = set.join_next().await {
        r.expect("task panicked");
    }
    let r = sw.stop(per * tasks);
    let writes = per.div_ceil(10) * tasks;
    let v = *m.read().await;
    r.expect(v == writes, || format!("writes={v}"))
}
