async fn f() {
    goro_macros::select! {
        default {}
    }
}

fn main() {}
