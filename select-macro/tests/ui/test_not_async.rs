#[goro_macros::test]
fn t() {}

fn main() {}
