//! Runs the tests of `tests/disabled/` (tg4p with its `enable` feature off) in their
//! own cargo invocation: features unify within a workspace, so that crate has a
//! workspace of its own, and building it here is what puts it in the README's single
//! test command, `cargo test --workspace`. Its target directory is `disabled/` in
//! this build's target directory.

use std::path::{Path, PathBuf};
use std::process::Command;

/// This build's target directory: the test binary is `<target>/<profile>/deps/..`.
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    exe.ancestors()
        .nth(3)
        .expect("<target>/<profile>/deps/<binary>")
        .to_path_buf()
}

#[test]
fn instrumentation_compiled_out_builds_runs_and_records_nothing() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/disabled/Cargo.toml");
    let mut cmd = Command::new(env!("CARGO"));
    cmd.arg("test")
        .arg("--manifest-path")
        .arg(&manifest)
        // Its Cargo.lock is committed: never resolve anew (offline is inherited
        // through CARGO_NET_OFFLINE when the outer build is offline).
        .arg("--locked")
        .env("CARGO_TARGET_DIR", target_dir().join("disabled"))
        // The outer cargo's view of the package under test must not leak in.
        .env_remove("CARGO_MANIFEST_DIR")
        .env_remove("CARGO_PRIMARY_PACKAGE")
        .env_remove("CARGO_CRATE_NAME");
    let out = cmd.output().expect("run cargo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "cargo test --manifest-path {} failed:\n{stdout}\n{stderr}",
        manifest.display()
    );
    assert!(
        stdout.contains("test traced_code_runs_and_records_nothing ... ok"),
        "{stdout}"
    );
    // The README's examples, built as doctests with warnings denied.
    assert!(stdout.contains("ReadmeDoctests"), "{stdout}");
}
