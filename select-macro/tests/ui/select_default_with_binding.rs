async fn f() {
    goro_macros::select! {
        default(v) => { let _ = v; }
    }
}

fn main() {}
