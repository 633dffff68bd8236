#[goro_macros::test]
async fn t<T>() {}

fn main() {}
