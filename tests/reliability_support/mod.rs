//! Helpers of the reliability suite (`tests/reliability_*.rs`): one session at a
//! time, temp paths, child processes (the test binary re-executed with
//! `TG4P_CHILD=<scenario>`), peak memory, and counting decodes with the oracle.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use tg4p_oracle::{DecodedTrace, ModelOptions};

/// Environment variable that selects a child scenario.
pub const CHILD_ENV: &str = "TG4P_CHILD";
/// Environment variable naming the trace file of a child scenario.
pub const CHILD_PATH_ENV: &str = "TG4P_CHILD_PATH";

/// Three nested traced calls: the unit of work of the load and fault tests.
#[tg4p::trace]
pub fn top() {
    middle();
}

#[tg4p::trace]
pub fn middle() {
    leaf();
}

#[tg4p::trace]
pub fn leaf() {
    std::hint::black_box(());
}

/// One session per process at a time: the tests of one file take turns.
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

/// A fresh path in a per-process temp dir.
pub fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tg4p-reliability-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(format!("{name}.pftrace"))
}

/// Decodes `path` in counting mode: packet by packet, no events kept, so the
/// test's memory stays flat however big the trace is.
pub fn count(path: &Path) -> DecodedTrace {
    tg4p_oracle::decode_file_with(path, ModelOptions { keep_events: false })
        .expect("trace file readable")
}

/// The scenario this process was started to run as a child, if any.
pub fn child_scenario() -> Option<String> {
    std::env::var(CHILD_ENV).ok()
}

/// The trace path handed to a child.
pub fn child_path() -> PathBuf {
    PathBuf::from(std::env::var(CHILD_PATH_ENV).expect("child path"))
}

/// The command that re-runs this test binary's `entry` test as scenario
/// `scenario` writing to `path`.
pub fn child_command(entry: &str, scenario: &str, path: &Path) -> Command {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([entry, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, scenario)
        .env(CHILD_PATH_ENV, path)
        .stdin(Stdio::null());
    cmd
}

/// Peak resident memory of this process (`VmHWM`), in bytes.
pub fn peak_rss() -> u64 {
    proc_status_kib("VmHWM:") * 1024
}

/// Current resident memory of this process (`VmRSS`), in bytes.
pub fn rss() -> u64 {
    proc_status_kib("VmRSS:") * 1024
}

fn proc_status_kib(key: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with(key)).unwrap();
    line[key.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .unwrap()
}

/// The value of `KEY=value` printed by a child at the end of a line (the harness
/// may have printed on that line before).
pub fn reported(stdout: &str, key: &str) -> u64 {
    let prefix = format!("{key}=");
    stdout
        .lines()
        .find_map(|l| l.find(&prefix).map(|at| &l[at + prefix.len()..]))
        .unwrap_or_else(|| panic!("child did not report {key}:\n{stdout}"))
        .trim()
        .parse()
        .unwrap()
}

/// A size from the environment (so a developer can shrink the heaviest tests),
/// else `default`.
pub fn size(var: &str, default: u64) -> u64 {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
