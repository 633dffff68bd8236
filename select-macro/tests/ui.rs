//! Compile tests through the facade (`goro` is a dev-dependency).
//!
//! Each `tests/ui/*.rs` must fail to compile with exactly the diagnostics in
//! the `.stderr` beside it: malformed input rejected by the macros themselves,
//! and operands rejected by the engine's trait bounds. Regenerate the
//! expectations with `TRYBUILD=overwrite cargo test -p goro-macros --test ui`
//! and read them. Each `tests/pass/*.rs` must compile and run successfully.

#[test]
// The expected diagnostics are the stable compiler's; the sanitizer stage of
// `.ci/run` builds with nightly (whose spans differ) and nothing here runs
// sanitized code worth checking.
#[cfg_attr(goro_asan, ignore = "diagnostics are pinned to the stable compiler")]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
    t.pass("tests/pass/*.rs");
}
