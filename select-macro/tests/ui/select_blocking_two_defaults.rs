fn f() {
    goro_macros::select_blocking! {
        default => {}
        default => {}
    }
}

fn main() {}
