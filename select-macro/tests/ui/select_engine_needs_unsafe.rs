//! The engine's `select` is an `unsafe fn` (review finding #1): a polled
//! select future that is leaked would leave waiters queued inside cases the
//! caller may then move. Only `select!` (which never leaks it) is safe.
use goro::__private::select::{into_case, select, SelectCase};

fn main() {
    let ch = goro::chan::make::<u64>(0);
    let mut c0 = into_case!(ch.recv());
    let mut cases = [&mut c0 as &mut dyn SelectCase];
    let fut = select(&mut cases, false);
    std::mem::forget(fut);
}
