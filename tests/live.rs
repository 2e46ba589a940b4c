//! Behavioural tests of live tracing: open a session, run instrumented code on
//! several threads, finish, decode with the independent oracle.

use std::sync::{Mutex, MutexGuard, mpsc};
use std::time::Duration;
use tg4p::Track;
use tg4p::{Overflow, Session, SessionError};
use tg4p_oracle::{Arg, CounterValue, DecodedTrace, EventKind, TrackKind};

/// One session per process at a time: tests of this file take turns.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

fn temp(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("tg4p-live-{}-{name}.pftrace", std::process::id()))
}

fn decode(path: &std::path::Path) -> DecodedTrace {
    tg4p_oracle::decode_file(path).expect("trace decodes")
}

/// Events of the program in `trace`: all but the writer's loss markers.
fn user_events(trace: &DecodedTrace) -> u64 {
    let markers = trace.events_named(tg4p::LOSS_MARKER).count();
    (trace.events.len() - markers) as u64
}

#[tg4p::trace]
fn leaf() {}

#[tg4p::trace]
fn outer(n: u32) {
    for _ in 0..n {
        leaf();
    }
}

#[tg4p::trace_args(name = "with args")]
fn with_args(id: u32, label: &str, big: &[u8]) -> usize {
    id as usize + label.len() + big.len()
}

#[test]
fn threads_tracks_nesting_args_and_source_locations() {
    let _s = serial();
    let path = temp("threads");
    let session = tg4p::open(&path).unwrap();
    let handles: Vec<_> = (0..3)
        .map(|i| {
            std::thread::Builder::new()
                .name(format!("worker-{i}"))
                .spawn(move || {
                    outer(5);
                    with_args(i, "hello", &[7u8; 5000]);
                })
                .unwrap()
        })
        .collect();
    handles.into_iter().for_each(|h| h.join().unwrap());
    let report = session.finish().unwrap();
    let trace = decode(&path);
    trace.assert_valid();
    assert_eq!(report.events_written as usize, trace.events.len());
    assert_eq!(report.events_dropped, 0);
    for i in 0..3 {
        let name = format!("worker-{i}");
        let t = trace.track_by_name(&name);
        assert_eq!(t.len(), 1, "{name}");
        let TrackKind::Thread { pid, tid, .. } = t[0].kind else {
            panic!("not a thread track")
        };
        assert_eq!(pid, std::process::id() as i32);
        assert_ne!(tid, pid, "a worker's tid is its own");
        let slices = trace.slices_on(t[0].uuid);
        assert_eq!(
            slices
                .iter()
                .filter(|s| s.name.as_deref() == Some("leaf"))
                .count(),
            5
        );
        assert!(
            slices
                .iter()
                .filter(|s| s.name.as_deref() == Some("leaf"))
                .all(|s| s.depth == 1)
        );
        let w = slices
            .iter()
            .find(|s| s.name.as_deref() == Some("with args"))
            .unwrap();
        // Typed: an integer and a string (no quotes); a slice as its Debug text.
        assert_eq!(w.arg("id"), Some(&Arg::Uint(i as u64)));
        assert_eq!(w.arg("label"), Some(&Arg::Str("hello".into())));
        let Some(Arg::Str(big)) = w.arg("big") else {
            panic!("big arg")
        };
        assert!(
            big.ends_with("…[truncated, 15000 bytes]"),
            "{}",
            &big[big.len() - 40..]
        );
        let src = w.source.as_ref().unwrap();
        assert!(
            src.function.ends_with("live::with_args"),
            "{}",
            src.function
        );
        assert!(src.file.ends_with("live.rs"));
    }
    std::fs::remove_file(&path).ok();
}

static SHARED: Track = Track::new("SHARED");

#[test]
fn overlapping_spans_on_a_track_go_to_lanes() {
    let _s = serial();
    let path = temp("lanes");
    let session = tg4p::open(&path).unwrap();
    let (tx, rx) = mpsc::channel();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let t = std::thread::spawn(move || {
        let _a = SHARED.span("A");
        tx.send(()).unwrap();
        go_rx.recv().unwrap();
    });
    rx.recv().unwrap();
    {
        let _b = SHARED.span("B"); // overlaps A: goes on a lane
        let _nested = tg4p::span!(SHARED, "B.inner"); // same thread: nests in B
    }
    go_tx.send(()).unwrap();
    t.join().unwrap();
    std::thread::sleep(Duration::from_millis(5));
    {
        let _c = SHARED.span("C"); // nothing open: back on the track itself
    }
    session.finish().unwrap();
    let trace = decode(&path);
    trace.assert_valid();
    let shared = trace.track_by_name("SHARED");
    assert_eq!(shared.len(), 1);
    let lanes = trace.children(shared[0].uuid);
    assert_eq!(lanes.len(), 1);
    let slices = trace.slices();
    let find = |n: &str| {
        slices
            .iter()
            .find(|s| s.name.as_deref() == Some(n))
            .unwrap()
    };
    assert_eq!(find("A").track, shared[0].uuid);
    assert_eq!(find("B").track, lanes[0].uuid);
    assert_eq!(
        (find("B.inner").track, find("B.inner").depth),
        (lanes[0].uuid, 1)
    );
    assert_eq!(find("C").track, shared[0].uuid);
    std::fs::remove_file(&path).ok();
}

static LOOPED: Track = Track::new("LOOPED");

#[test]
fn back_to_back_spans_of_one_thread_stay_on_the_track() {
    let _s = serial();
    let path = temp("looped");
    let session = tg4p::open(&path).unwrap();
    // Spans far less than the lane reuse gap apart: the thread's own end orders
    // itself before its next begin, so no lane is needed.
    for _ in 0..10_000 {
        let _s = LOOPED.span("tight");
    }
    // A lane freed by its own thread is taken again at once too.
    let (tx, rx) = mpsc::channel();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let t = std::thread::spawn(move || {
        let _outer = LOOPED.span("held");
        tx.send(()).unwrap();
        go_rx.recv().unwrap();
    });
    rx.recv().unwrap();
    for _ in 0..10_000 {
        let _s = LOOPED.span("beside"); // the track is held: on one lane
    }
    go_tx.send(()).unwrap();
    t.join().unwrap();
    session.finish().unwrap();
    let trace = decode(&path);
    trace.assert_valid();
    let looped = trace.track_by_name("LOOPED");
    assert_eq!(looped.len(), 1);
    let lanes = trace.children(looped[0].uuid);
    assert_eq!(lanes.len(), 1, "{lanes:?}");
    let on = |track: u64, name: &str| {
        trace
            .slices()
            .iter()
            .filter(|s| s.track == track && s.name.as_deref() == Some(name))
            .count()
    };
    assert_eq!(on(looped[0].uuid, "tight"), 10_000);
    assert_eq!(on(looped[0].uuid, "held"), 1);
    assert_eq!(on(lanes[0].uuid, "beside"), 10_000);
    std::fs::remove_file(&path).ok();
}

static HITS: tg4p::Counter = tg4p::Counter::new("hits");

#[test]
fn counters_int_float_by_static_and_by_name() {
    let _s = serial();
    let path = temp("counters");
    let session = tg4p::open(&path).unwrap();
    tg4p::count!(HITS = 0);
    tg4p::count!(HITS += 5);
    tg4p::count!(HITS -= 2);
    tg4p::count!("hits" = 10); // same name: same track
    tg4p::count!("load" = 0.5);
    tg4p::count!("load" += 0.25);
    session.finish().unwrap();
    let trace = decode(&path);
    trace.assert_valid();
    let hits = trace.track_by_name("hits");
    assert_eq!(hits.len(), 1);
    let values: Vec<CounterValue> = trace
        .events_on(hits[0].uuid)
        .map(|e| match e.kind {
            EventKind::Counter(v) => v,
            k => panic!("{k:?}"),
        })
        .collect();
    assert_eq!(
        values,
        [
            CounterValue::Int(0),
            CounterValue::Int(5),
            CounterValue::Int(3),
            CounterValue::Int(10)
        ]
    );
    let load = trace.track_by_name("load");
    let values: Vec<_> = trace.events_on(load[0].uuid).map(|e| e.kind).collect();
    assert_eq!(
        values,
        [
            EventKind::Counter(CounterValue::Double(0.5)),
            EventKind::Counter(CounterValue::Double(0.75))
        ]
    );
    std::fs::remove_file(&path).ok();
}

#[test]
fn blocked_thread_and_exited_thread_lose_nothing() {
    let _s = serial();
    let path = temp("blocked");
    // A long drain interval: only finish (and the exit hand-over) can save these.
    let session = Session::builder().path(&path).start().unwrap();
    let (ready_tx, ready_rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("blocked-forever".into())
        .spawn(move || {
            for i in 0..1000u32 {
                tg4p::count!("blocked" = i);
            }
            ready_tx.send(()).unwrap();
            loop {
                std::thread::park(); // never unparked
            }
        })
        .unwrap();
    ready_rx.recv().unwrap();
    std::thread::Builder::new()
        .name("exited".into())
        .spawn(|| {
            for _ in 0..500 {
                leaf();
            }
        })
        .unwrap()
        .join()
        .unwrap();
    let report = session.finish().unwrap();
    let trace = decode(&path);
    trace.assert_valid();
    let blocked = trace.track_by_name("blocked");
    assert_eq!(trace.events_on(blocked[0].uuid).count(), 1000);
    let exited = trace.track_by_name("exited");
    assert_eq!(trace.slices_on(exited[0].uuid).len(), 500);
    assert_eq!(report.events_written, 2000);
    std::fs::remove_file(&path).ok();
}

#[test]
fn overload_in_drop_mode_counts_every_event() {
    let _s = serial();
    let path = temp("overload");
    let session = Session::builder()
        .path(&path)
        .memory_limit(2 * tg4p::CHUNK_BYTES)
        .overflow(Overflow::Drop)
        .start()
        .unwrap();
    const CALLS: u64 = 100_000;
    let threads: Vec<_> = (0..2)
        .map(|_| std::thread::spawn(|| (0..CALLS / 10).for_each(|_| outer(9))))
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
    let report = session.finish().unwrap();
    let recorded = 2 * CALLS * 2; // 2 threads, CALLS slices each, 2 events per slice
    assert_eq!(
        report.events_written + report.events_dropped,
        recorded,
        "{report:?}"
    );
    let trace = decode(&path);
    trace.assert_valid(); // every written slice is balanced
    assert_eq!(user_events(&trace), report.events_written);
    if report.events_dropped > 0 {
        assert!(trace.dropped_markers > 0, "loss is marked in the trace");
    }
    std::fs::remove_file(&path).ok();
}

#[test]
fn panics_close_slices_and_sessions_restart_cleanly() {
    let _s = serial();
    #[tg4p::trace]
    fn boom() {
        panic!("boom");
    }
    let first = temp("first");
    let second = temp("second");
    let session = tg4p::open(&first).unwrap();
    assert!(matches!(
        tg4p::open(&second),
        Err(SessionError::AlreadyOpen)
    ));
    assert!(std::panic::catch_unwind(boom).is_err());
    // A span still open when the session ends is not continued in the next file.
    let straddling = tg4p::span!("straddling");
    session.finish().unwrap();
    let session = tg4p::open(&second).unwrap();
    drop(straddling);
    leaf();
    session.finish().unwrap();
    let a = decode(&first);
    a.assert_valid_except(&[tg4p_oracle::Rule::DidNotEnd]);
    let boom = a
        .slices()
        .into_iter()
        .find(|s| s.name.as_deref() == Some("boom"))
        .unwrap();
    assert!(
        boom.end_ts.is_some(),
        "the guard ended the slice while unwinding"
    );
    let b = decode(&second);
    b.assert_valid();
    let names: Vec<_> = b.slices().into_iter().filter_map(|s| s.name).collect();
    assert_eq!(names, ["leaf"]);
    let missing = std::env::temp_dir().join("no-such-dir-tg4p/x.pftrace");
    assert!(matches!(
        tg4p::open(&missing),
        Err(SessionError::Create { .. })
    ));
    std::fs::remove_file(&first).ok();
    std::fs::remove_file(&second).ok();
}

/// A writer that holds every write until released, then keeps the bytes.
struct HeldWriter {
    release: mpsc::Receiver<()>,
    released: bool,
    out: std::sync::Arc<Mutex<Vec<u8>>>,
}

/// A `Drop` session of two buffers whose writer is held until `release` is sent:
/// no buffer comes back meanwhile. Returns the session, `release`, and the bytes
/// the writer will have written.
fn held_session() -> (Session, mpsc::Sender<()>, std::sync::Arc<Mutex<Vec<u8>>>) {
    let (release, held) = mpsc::channel();
    let bytes = std::sync::Arc::new(Mutex::new(Vec::new()));
    let session = Session::builder()
        .writer(HeldWriter {
            release: held,
            released: false,
            out: bytes.clone(),
        })
        .memory_limit(2 * tg4p::CHUNK_BYTES)
        .overflow(Overflow::Drop)
        .start()
        .unwrap();
    (session, release, bytes)
}

impl std::io::Write for HeldWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if !self.released {
            let _ = self.release.recv();
            self.released = true;
        }
        self.out.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A return value of about 1 KiB: room for its begin is no room for its value.
#[tg4p::trace(ret)]
fn big_result(n: u32) -> String {
    format!("{n}:{}", "r".repeat(1000))
}

#[test]
fn return_values_that_do_not_fit_are_marked_and_counted() {
    let _s = serial();
    // The writer is held, so no buffer comes back: once both buffers are full, a
    // begin that still fits (its end's room is reserved) may leave no room for
    // the end's value. The slice must still end, with the loss visible.
    let (session, release, bytes) = held_session();
    const CALLS: u32 = 400; // each call takes ~130 words: 3 buffers' worth
    let joined = std::thread::spawn(|| {
        for n in 0..CALLS {
            assert_eq!(big_result(n).len(), 1001 + n.to_string().len());
        }
    })
    .join();
    release.send(()).unwrap(); // before any panic, or finishing would wait forever
    joined.unwrap();
    let report = session.finish().unwrap();
    let trace = tg4p_oracle::decode_bytes(&bytes.lock().unwrap()).unwrap();
    trace.assert_valid();
    let slices = trace.slices_named("big_result");
    assert!(report.values_dropped > 0, "{report:?}");
    assert!(report.events_dropped > 0, "{report:?}");
    assert_eq!(
        report.events_written + report.events_dropped,
        2 * CALLS as u64,
        "{report:?}"
    );
    let marker = Arg::Str("<not recorded: memory limit reached>".into());
    let marked = slices
        .iter()
        .filter(|s| s.arg("return") == Some(&marker))
        .count();
    assert_eq!(marked as u64, report.values_dropped);
    for s in slices.iter().filter(|s| s.arg("return") != Some(&marker)) {
        let Some(Arg::Str(v)) = s.arg("return") else {
            panic!("every other slice has its value: {s:?}");
        };
        assert!(v.ends_with(&"r".repeat(1000)), "{v}");
    }
}

#[test]
fn drops_a_thread_could_not_announce_are_still_marked() {
    let _s = serial();
    // The writer is held, so no buffer comes back: the thread fills both buffers the
    // limit allows, then drops, and exits before it has room to record that it did.
    let (session, release, bytes) = held_session();
    let calls = (2 * tg4p::CHUNK_BYTES / 32) as u64 * 2;
    std::thread::spawn(move || (0..calls).for_each(|_| leaf()))
        .join()
        .unwrap();
    release.send(()).unwrap();
    let report = session.finish().unwrap();
    assert!(report.events_dropped > 0, "{report:?}");
    assert_eq!(report.events_written + report.events_dropped, 2 * calls);
    let trace = tg4p_oracle::decode_bytes(&bytes.lock().unwrap()).unwrap();
    trace.assert_valid();
    assert_eq!(user_events(&trace), report.events_written);
    assert!(trace.dropped_markers > 0, "the loss is marked in the trace");
}
