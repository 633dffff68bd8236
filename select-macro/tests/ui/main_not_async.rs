#[goro_macros::main]
fn main() {}
