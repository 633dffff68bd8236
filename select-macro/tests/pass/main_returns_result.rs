//! `#[goro::main]` keeps the return type, so `?` works in the body.

#[derive(Debug)]
struct Closed;

#[goro::main]
async fn main() -> Result<(), Closed> {
    let ch = goro::chan::make::<u32>(0);
    let worker = {
        let ch = ch.clone();
        goro::spawn(async move {
            for i in 0..3 {
                ch.send(i).await;
            }
            ch.close();
        })
    };
    let mut sum = 0;
    loop {
        let v = goro::select! {
            v = ch => v,
        };
        match v.ok_or(Closed) {
            Ok(v) => sum += v,
            Err(_) => break,
        }
    }
    worker.await.map_err(|_| Closed)?;
    assert_eq!(sum, 3);
    Ok(())
}
