fn main() {
    let ch = goro::chan::make::<i32>(1);
    goro::select_blocking! {
        v = ch => drop(v),
        n = async { 1 } => drop(n),
    }
}
