async fn f(rx: u8, ry: u8) {
    goro_macros::select! {
        v = rx => drop(v)
        w = ry => drop(w),
    }
}

fn main() {}
