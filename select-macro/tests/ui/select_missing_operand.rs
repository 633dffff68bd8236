async fn f() {
    goro_macros::select! {
        v = => {}
    }
}

fn main() {}
