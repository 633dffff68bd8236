#[goro_macros::test]
#[test]
async fn t() {}

fn main() {}
