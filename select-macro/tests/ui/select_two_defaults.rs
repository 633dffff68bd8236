async fn f(rx: u8) {
    goro_macros::select! {
        v = rx => { let _ = v; }
        default => {}
        default => {}
    }
}

fn main() {}
