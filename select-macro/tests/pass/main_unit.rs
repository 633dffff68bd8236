//! `#[goro::main]` on a plain `async fn main()`, with `select!` and a
//! goroutine: the body runs as the main goroutine.

#[goro::main]
async fn main() {
    assert!(goro::current_id().is_some(), "main runs as a goroutine");
    let (a, b) = (goro::chan::make::<&str>(0), goro::chan::make::<&str>(0));
    {
        let b = b.clone();
        let _ = goro::spawn(async move { b.send("from b").await });
    }
    let got = goro::select! {
        v = a => v,
        v = b => v,
    };
    assert_eq!(got, Some("from b"));
}
