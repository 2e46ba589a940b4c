//! `tg4p::set_thread_name`: a thread's track takes the name it was given (any
//! length), over its `std::thread` name, in the sessions it joins afterwards.

use std::sync::Mutex;
use tg4p_oracle::{DecodedTrace, TrackKind};

static SERIAL: Mutex<()> = Mutex::new(());

fn record(name: &str, f: impl FnOnce()) -> DecodedTrace {
    let path = std::env::temp_dir().join(format!(
        "tg4p-thread-names-{}-{name}.pftrace",
        std::process::id()
    ));
    let session = tg4p::open(&path).unwrap();
    f();
    session.finish().unwrap();
    let trace = tg4p_oracle::decode_file(&path).unwrap();
    std::fs::remove_file(&path).ok();
    trace.assert_valid();
    trace
}

/// The thread track names of `trace` whose threads recorded a slice named `slice`.
fn track_of(trace: &DecodedTrace, slice: &str) -> Option<String> {
    let s = trace.slices_named(slice).into_iter().next()?;
    match &trace.tracks[&s.track].kind {
        TrackKind::Thread { name, .. } => name.clone(),
        _ => None,
    }
}

#[test]
fn a_given_name_of_any_length_names_the_track() {
    let _s = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let long = "Thread-7 (merge_sort_wrapper) — a name past Linux's 15 bytes";
    let trace = record("long", || {
        std::thread::Builder::new()
            .name("rust-name".into())
            .spawn(move || {
                tg4p::set_thread_name(long);
                let _s = tg4p::span!("named work");
            })
            .unwrap()
            .join()
            .unwrap();
        std::thread::Builder::new()
            .name("rust-name".into())
            .spawn(|| {
                let _s = tg4p::span!("plain work");
            })
            .unwrap()
            .join()
            .unwrap();
    });
    assert_eq!(track_of(&trace, "named work").as_deref(), Some(long));
    assert_eq!(track_of(&trace, "plain work").as_deref(), Some("rust-name"));
}

#[test]
fn a_thread_already_recording_keeps_its_name_until_the_next_session() {
    let _s = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let (to_worker, work) = std::sync::mpsc::channel::<&'static str>();
    let (to_test, done) = std::sync::mpsc::channel::<()>();
    let worker = std::thread::Builder::new()
        .name("before".into())
        .spawn(move || {
            for slice in work {
                if slice == "rename" {
                    tg4p::set_thread_name("after");
                } else {
                    let _s = tg4p::span!({ slice });
                }
                to_test.send(()).unwrap();
            }
        })
        .unwrap();
    let run = |slice| {
        to_worker.send(slice).unwrap();
        done.recv().unwrap();
    };
    let first = record("first", || {
        run("one");
        run("rename");
        run("two");
    });
    // One descriptor per track and trace: the name it joined with.
    assert_eq!(track_of(&first, "one").as_deref(), Some("before"));
    assert_eq!(track_of(&first, "two").as_deref(), Some("before"));
    let second = record("second", || run("three"));
    assert_eq!(track_of(&second, "three").as_deref(), Some("after"));
    drop(to_worker);
    worker.join().unwrap();
}
