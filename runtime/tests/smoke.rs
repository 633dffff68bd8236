//! Smoke test: spawn and join on 1, 2 and 4 workers.

use goro_runtime::runtime::Runtime;
#[test]
fn smoke() {
    for w in [1, 2, 4] {
        let rt = Runtime::builder().workers(w).build().unwrap();
        let v = rt
            .block_on(async {
                let hs: Vec<_> = (0..1000u64)
                    .map(|i| goro_runtime::spawn(async move { i }))
                    .collect();
                let mut s = 0;
                for h in hs {
                    s += h.await.unwrap();
                }
                s
            })
            .unwrap();
        assert_eq!(v, 999 * 1000 / 2);
    }
}
