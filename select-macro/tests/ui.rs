//! Compile-error tests: each `tests/ui/*.rs` must fail to compile with exactly
//! the diagnostics in the `.stderr` beside it. Regenerate the expectations with
//! `TRYBUILD=overwrite cargo test -p goro-macros --test ui` and read them.
//!
//! These cases are rejected by the macros themselves, before any code that
//! names the select engine or the runtime is generated.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
