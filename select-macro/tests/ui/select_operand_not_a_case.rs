async fn f() {
    let n = 5u32;
    goro::select! {
        v = n => drop(v),
    }
}

fn main() {}
