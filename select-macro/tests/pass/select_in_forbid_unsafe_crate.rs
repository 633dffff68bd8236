//! The `unsafe` block `select!` generates around the engine call does not
//! trip `unsafe_code` in a crate that forbids it (the lint is not reported
//! for code from an external macro).
#![forbid(unsafe_code)]

#[goro::main]
async fn main() {
    let a = goro::chan::make::<i32>(1);
    let b = goro::chan::make::<i32>(0);
    a.send(7).await;
    let got = goro::select! {
        v = a => v,
        v = b.recv() => v,
        _ = std::future::pending::<()>() => None,
    };
    assert_eq!(got, Some(7));
}
