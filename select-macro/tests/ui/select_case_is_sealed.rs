//! `SelectCase` is sealed (review finding #2): the engine trusts the channel
//! lock `__kind` reports, so a foreign implementation must not compile.
use goro::__private::select::{CaseKind, SelectCase};

struct Evil;

impl SelectCase for Evil {
    fn __kind(&self) -> CaseKind {
        CaseKind::Nil
    }
}

fn main() {}
