fn main() {
    let ch = goro::chan::make::<i32>(1);
    let _ = goro::select! {
        v = ch => v,
        default => None,
    };
}
