//! The environment switch (issue 14): `TG4P_TRACE=path` and one call to
//! `tg4p::init_from_env()` trace a program; unset, nothing is recorded or written;
//! a bad path is an error on stderr and a returned error, never a panic. Each case
//! runs in a child process (this test binary re-run with `TG4P_ENV_CHILD`), whose
//! environment and exit are its own.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const CHILD: &str = "TG4P_ENV_CHILD";
const CALLS: usize = 25;

#[tg4p::trace]
fn work(n: usize) -> usize {
    std::hint::black_box(n)
}

/// Child: `init_from_env()`, traced work, then the end `how` names.
fn child_main(how: &str) {
    let trace = tg4p::init_from_env();
    match &trace {
        Ok(Some(_)) => println!("session=on"),
        Ok(None) => println!("session=off"),
        Err(e) => println!("session=error {e:?}"),
    }
    println!("enabled={}", tg4p::enabled());
    (0..CALLS).for_each(|n| {
        work(n);
    });
    match how {
        // The guard drops at the end of the scope.
        "drop" => drop(trace),
        // The process exits with the guard alive: the exit handler finishes.
        "exit" => {
            std::mem::forget(trace);
            std::process::exit(0)
        }
        other => panic!("unknown ending {other}"),
    }
}

#[test]
fn child() {
    if let Ok(how) = std::env::var(CHILD) {
        child_main(&how);
    }
}

/// A fresh, empty directory for one case.
fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tg4p-env-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Runs the child in `cwd` ending as `how`, with `TG4P_TRACE` set to `trace` (or
/// removed).
fn run(cwd: &Path, how: &str, trace: Option<&Path>) -> Output {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["child", "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, how)
        .current_dir(cwd)
        .stdin(Stdio::null());
    match trace {
        Some(p) => cmd.env(tg4p::TRACE_ENV, p),
        None => cmd.env_remove(tg4p::TRACE_ENV),
    };
    cmd.output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The trace at `path` is valid and holds the child's calls, each a `work` slice
/// on one thread track.
fn assert_traced(path: &Path) {
    let trace = tg4p_oracle::decode_file(path).expect("trace written");
    trace.assert_valid();
    let slices = trace.slices_named("work");
    assert_eq!(slices.len(), CALLS, "every call is in the trace");
    let track = slices[0].track;
    assert!(slices.iter().all(|s| s.track == track));
    assert!(matches!(
        trace.tracks[&track].kind,
        tg4p_oracle::TrackKind::Thread { .. }
    ));
    assert_eq!(trace.loss.data_loss(), 0);
}

#[test]
fn set_it_traces_until_the_guard_drops() {
    let d = dir("on");
    let path = d.join("on.pftrace");
    let out = run(&d, "drop", Some(&path));
    assert!(out.status.success(), "{out:?}");
    assert!(stdout(&out).contains("session=on"), "{out:?}");
    assert!(stdout(&out).contains("enabled=true"), "{out:?}");
    assert_traced(&path);
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn set_it_traces_until_the_process_exits() {
    let d = dir("exit");
    let path = d.join("exit.pftrace");
    let out = run(&d, "exit", Some(&path));
    assert!(out.status.success(), "{out:?}");
    assert!(stdout(&out).contains("session=on"), "{out:?}");
    assert_traced(&path);
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn unset_or_empty_it_records_and_writes_nothing() {
    for (name, value) in [("off", None), ("empty", Some(Path::new("")))] {
        let d = dir(name);
        let out = run(&d, "drop", value);
        assert!(out.status.success(), "{out:?}");
        assert!(stdout(&out).contains("session=off"), "{out:?}");
        assert!(stdout(&out).contains("enabled=false"), "{out:?}");
        assert!(
            !String::from_utf8_lossy(&out.stderr).contains("tg4p:"),
            "{out:?}"
        );
        let files: Vec<_> = std::fs::read_dir(&d).unwrap().collect();
        assert!(files.is_empty(), "nothing written: {files:?}");
        std::fs::remove_dir_all(&d).ok();
    }
}

#[test]
fn a_bad_path_is_a_clear_error_and_no_panic() {
    let d = dir("bad");
    let path = d.join("no-such-dir").join("x.pftrace");
    let out = run(&d, "drop", Some(&path));
    assert!(out.status.success(), "no panic: {out:?}");
    assert!(stdout(&out).contains("session=error Create"), "{out:?}");
    assert!(stdout(&out).contains("enabled=false"), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let said = format!(
        "tg4p: TG4P_TRACE={}: cannot create trace file",
        path.display()
    );
    assert!(stderr.contains(&said), "stderr says why: {stderr}");
    assert!(!path.exists());
    std::fs::remove_dir_all(&d).ok();
}
