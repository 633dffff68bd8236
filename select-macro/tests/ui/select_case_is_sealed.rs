//! `SelectCase` is sealed (review finding #2): the engine trusts the channel
//! lock `__kind` reports, so a foreign implementation must not compile.
use std::task::{Context, Waker};

use goro::__private::select::{CaseKind, SelCell, SelectCase};

struct Evil;

impl SelectCase for Evil {
    fn __kind(&self) -> CaseKind {
        CaseKind::Nil
    }
    fn __would_block(&self) -> bool {
        true
    }
    unsafe fn __try_locked(&mut self) -> Option<Option<Waker>> {
        None
    }
    unsafe fn __enqueue_locked(&mut self, _: *const SelCell, _: usize) {}
    unsafe fn __still_queued_locked(&mut self) -> bool {
        false
    }
    fn __unregister(&mut self) {}
    unsafe fn __poll_future(&mut self, _: &mut Context<'_>) -> bool {
        false
    }
    fn __finish(&mut self) -> bool {
        false
    }
    fn __cancel_won(&mut self) {}
    fn __release(&mut self) {}
    fn __after_unlock(&self) {}
}

fn main() {}
