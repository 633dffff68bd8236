async fn f(a: goro::chan::Chan<i32>, b: goro::chan::Chan<i32>) {
    let _ = goro::select! {
        v = a => v,
        b.send(1) => "sent",
    };
}

fn main() {}
