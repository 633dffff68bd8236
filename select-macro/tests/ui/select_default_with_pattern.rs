async fn f() {
    goro_macros::select! {
        v = default => { let _ = v; }
    }
}

fn main() {}
