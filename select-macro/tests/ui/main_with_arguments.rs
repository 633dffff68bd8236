#[goro_macros::main]
async fn main(workers: usize) {
    let _ = workers;
}
