//! goro-macros: `select!`, `select_blocking!`, `#[goro::main]`, `#[goro::test]`.
