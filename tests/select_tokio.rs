//! `goro::select!` on a tokio runtime: goro's channels and select work on any
//! executor, not just goro's.

use goro::chan::{make, Chan};

#[test]
fn select_between_tokio_tasks() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let sum = rt.block_on(async {
        let (a, b) = (make::<u64>(0), make::<u64>(0));
        let quit = make::<()>(0);
        for (c, base) in [(a.clone(), 0u64), (b.clone(), 1_000)] {
            tokio::spawn(async move {
                for i in 0..500 {
                    c.send(base + i).await;
                }
                c.close();
            });
        }
        let consumer = {
            let quit = quit.clone();
            tokio::spawn(async move {
                let (mut a, mut b) = (a, b);
                let mut sum = 0;
                while a != Chan::nil() || b != Chan::nil() {
                    goro::select! {
                        v = a => match v {
                            Some(v) => sum += v,
                            None => a = Chan::nil(),
                        },
                        v = b => match v {
                            Some(v) => sum += v,
                            None => b = Chan::nil(),
                        },
                        _ = quit => unreachable!("quit is never closed before the end"),
                    }
                }
                sum
            })
        };
        let sum = consumer.await.unwrap();
        quit.close();
        sum
    });
    let expected: u64 = (0..500).sum::<u64>() + (1_000..1_500).sum::<u64>();
    assert_eq!(sum, expected);
}

#[test]
fn a_future_case_with_a_tokio_timer() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    rt.block_on(async {
        let idle = make::<i32>(0);
        let got = goro::select! {
            v = idle => v,
            _ = tokio::time::sleep(std::time::Duration::from_millis(1)) => Some(-1),
        };
        assert_eq!(got, Some(-1));
    });
}
