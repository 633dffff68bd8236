#[goro_macros::main(threads = 4)]
async fn main() {}
