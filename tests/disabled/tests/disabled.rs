//! With `enable` off, traced code compiles, runs, and records nothing.

use std::sync::atomic::Ordering;
use std::sync::{Mutex, MutexGuard};
use tg4p_disabled_check::*;

/// One session per process at a time: tests of this file take turns.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

#[test]
fn traced_code_runs_and_records_nothing() {
    let _s = serial();
    let path = std::env::temp_dir().join(format!("tg4p-disabled-{}.pftrace", std::process::id()));
    let session = tg4p::open(&path).expect("the session API is still there");
    traced_empty();
    assert_eq!(add(1, 2, "abc"), 6);
    recorded_only(&mut [0; 2], &[1], "label");
    assert_eq!(on_top(), vec![0, 1, 2]);
    let mut m = Machine::default();
    assert_eq!(m.step(2), 2);
    assert_eq!(block_on(m.run(3)), 5);
    assert_eq!(block_on(m.boxed()), 2);
    assert_eq!(block_on(later(1)), 2);
    assert_eq!(macros(), 1);
    assert_eq!(
        EVALUATED.load(Ordering::SeqCst),
        0,
        "compiled-out macros never evaluate their arguments"
    );
    let report = session.finish().unwrap();
    assert_eq!(
        report.events_written, 0,
        "nothing instrumented was recorded"
    );
    std::fs::remove_file(&path).ok();
}

#[test]
fn the_explicit_api_still_records() {
    let _s = serial();
    let path = std::env::temp_dir().join(format!(
        "tg4p-disabled-explicit-{}.pftrace",
        std::process::id()
    ));
    let session = tg4p::open(&path).unwrap();
    drop(TOP.span("explicit"));
    let report = session.finish().unwrap();
    assert_eq!(report.events_written, 2, "one begin and one end");
    std::fs::remove_file(&path).ok();
}

#[test]
fn the_attribute_leaves_the_function_as_written() {
    // Same item, same address-taking and fn-pointer type as an untraced fn.
    let traced: fn() = traced_empty;
    let plain: fn() = plain_empty;
    traced();
    plain();
}
