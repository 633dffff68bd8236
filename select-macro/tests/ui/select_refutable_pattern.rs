async fn f(rx: goro::chan::Chan<i32>) {
    goro::select! {
        Some(v) = rx => drop(v),
    }
}

fn main() {}
