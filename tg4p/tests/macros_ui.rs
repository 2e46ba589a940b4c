//! Compile-time behaviour of `#[trace]` / `#[trace_args]`: the forms they accept
//! (`tests/ui/pass` at the workspace root), and the spanned errors of their misuses
//! (`tests/ui/fail`, with committed `.stderr` snapshots; regenerate with
//! `TRYBUILD=overwrite cargo test -p tg4p --test macros_ui` and review the diff).
//!
//! The runner lives in the facade crate rather than the root package because
//! trybuild builds every case against all the dev-dependencies of the crate it runs
//! in: here that is only tg4p itself, instead of the root's oracle, tokio and
//! criterion (ten minutes more on a cold two-core build).

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("../tests/ui/pass/*.rs");
    t.compile_fail("../tests/ui/fail/*.rs");
}
