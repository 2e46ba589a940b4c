//! The flight recorder (issue 14): a ring-mode session keeps only the newest
//! events and writes them, at `finish()` and on demand, as a trace of its own that
//! loads cleanly (every oracle rule), holds exactly the newest window and marks
//! what it left out. The long run is a child process (this test binary re-run),
//! which also measures its peak memory against the ring's size.

#[path = "reliability_support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use support::{child_command, child_path, child_scenario, peak_rss, serial, temp};
use tg4p::{Overflow, Report, Session, SessionError, SnapshotError, Track};
use tg4p_oracle::{Arg, DecodedTrace, EventKind, TrackKind};

/// A custom track all threads use: its slices go on lanes, matched across threads.
static BATCHES: Track = Track::new("batches");

/// Slices per batch.
const BATCH: u64 = 64;

#[tg4p::trace_args]
fn step(i: u64) {
    inner();
}

#[tg4p::trace]
fn inner() {
    std::hint::black_box(());
}

/// Records until `stop`: batches of `step` calls, each batch a slice on
/// [`BATCHES`]. Returns the events recorded (4 per step, 2 per batch) and steps.
fn record_until(stop: &AtomicBool) -> (u64, u64) {
    let mut i = 0;
    let mut events = 0;
    while !stop.load(Ordering::Relaxed) {
        let _batch = BATCHES.span("batch");
        for _ in 0..BATCH {
            step(i);
            i += 1;
        }
        events += 4 * BATCH + 2;
    }
    (events, i)
}

/// Threads recording until `stop`, named `ring-N`.
fn recorders(n: usize, stop: &Arc<AtomicBool>) -> Vec<std::thread::JoinHandle<(u64, u64)>> {
    (0..n)
        .map(|t| {
            let stop = stop.clone();
            std::thread::Builder::new()
                .name(format!("ring-{t}"))
                .spawn(move || record_until(&stop))
                .unwrap()
        })
        .collect()
}

/// The loss markers of `trace` by sequence, each checked to be an instant on a
/// thread's track with a positive count.
fn markers(trace: &DecodedTrace) -> BTreeMap<u32, u64> {
    let mut by_seq = BTreeMap::new();
    for e in trace.events_named(tg4p::LOSS_MARKER) {
        assert_eq!(e.kind, EventKind::Instant, "{e:?}");
        assert!(
            matches!(trace.tracks[&e.track].kind, TrackKind::Thread { .. }),
            "{e:?}"
        );
        let Some(&Arg::Uint(count)) = e.arg("count") else {
            panic!("a loss marker says how many: {e:?}");
        };
        assert!(count > 0);
        *by_seq.entry(e.sequence).or_default() += count;
    }
    by_seq
}

/// The `i` of each `step` slice begin in `trace`, by sequence, in file order.
fn steps(trace: &DecodedTrace) -> BTreeMap<u32, Vec<u64>> {
    let mut by_seq: BTreeMap<u32, Vec<u64>> = BTreeMap::new();
    for e in trace.events_named("step") {
        if e.kind != EventKind::SliceBegin {
            continue;
        }
        let Some(&Arg::Uint(i)) = e.arg("i") else {
            panic!("step records i as a uint: {e:?}");
        };
        by_seq.entry(e.sequence).or_default().push(i);
    }
    by_seq
}

/// What every ring trace must show: valid by every rule (so balanced: no end
/// without a begin, nothing left open), loss marked where it is counted, and the
/// report's counts are the trace's.
fn assert_ring_trace(trace: &DecodedTrace, report: &Counts) {
    trace.assert_valid();
    let lost: u64 = markers(trace).values().sum();
    assert_eq!(
        lost,
        report.events_overwritten + report.events_dropped,
        "{report:?}"
    );
    assert_eq!(trace.loss.trace_stats_packets, 1);
    assert_eq!(trace.loss.trace_writer_packet_loss.get(&0), Some(&lost));
    let user_events = trace
        .events
        .iter()
        .filter(|e| e.name.as_deref() != Some(tg4p::LOSS_MARKER))
        .count() as u64;
    assert_eq!(user_events, report.events_written, "{report:?}");
}

/// The counts of a [`Report`] the tests check.
#[derive(Debug)]
struct Counts {
    events_written: u64,
    events_overwritten: u64,
    events_dropped: u64,
}

impl From<&Report> for Counts {
    fn from(r: &Report) -> Counts {
        Counts {
            events_written: r.events_written,
            events_overwritten: r.events_overwritten,
            events_dropped: r.events_dropped,
        }
    }
}

const RING: usize = 4 << 20;
const THREADS: usize = 3;
const RUN: Duration = Duration::from_secs(10);

/// Child: a 10-second busy run of three threads into a 4 MiB ring, written at
/// finish. Prints each thread's events and steps, the report, and the growth of
/// peak RSS while the session ran.
fn busy_child() {
    std::thread::spawn(|| ()).join().unwrap();
    let baseline = peak_rss();
    let session = Session::builder()
        .path(child_path())
        .ring(RING)
        .start()
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let threads = recorders(THREADS, &stop);
    // `TG4P_RING_SECS` runs the child longer, by hand, to watch memory stay flat.
    let run = std::env::var("TG4P_RING_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .map_or(RUN, Duration::from_secs);
    std::thread::sleep(run);
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        let (events, steps) = t.join().unwrap();
        println!("thread events={events} steps={steps}");
    }
    let report = session.finish().unwrap();
    println!("written={}", report.events_written);
    println!("overwritten={}", report.events_overwritten);
    println!("dropped={}", report.events_dropped);
    println!("buffers={}", report.buffers_allocated);
    println!("peak_growth={}", peak_rss().saturating_sub(baseline));
}

#[tg4p::trace_args]
fn doomed(i: u64) {
    panic!("doomed at step {i}");
}

const DOOMED_AT: u64 = 100_000;

/// Child: a ring session whose panic hook writes a snapshot to the child path;
/// a thread records steps, then panics inside a traced function.
fn panic_child() {
    let session = Session::builder()
        .writer(std::io::sink())
        .ring(2 * tg4p::MIN_RING_BYTES)
        .start()
        .unwrap();
    let recorder = session.snapshot_handle();
    let crash = child_path();
    std::panic::set_hook(Box::new(move |info| {
        let r = recorder.snapshot(&crash);
        println!("hook: {info}; snapshot ok={}", r.is_ok());
    }));
    let doomed_thread = std::thread::Builder::new()
        .name("doomed".into())
        .spawn(|| {
            (0..DOOMED_AT).for_each(step);
            doomed(DOOMED_AT);
        })
        .unwrap();
    assert!(doomed_thread.join().is_err());
    let _ = std::panic::take_hook();
    session.finish().unwrap();
}

#[test]
fn child() {
    match child_scenario().as_deref() {
        Some("busy") => busy_child(),
        Some("panic") => panic_child(),
        _ => {}
    }
}

/// A panic hook takes a snapshot: the crash trace is valid and ends with what
/// led to the panic (the panicking function's slice, open when the hook ran, ends
/// at the snapshot), after a gap-free run of the steps before it.
#[test]
fn a_panic_hook_writes_what_led_to_the_panic() {
    let _s = serial();
    let path = temp("ring-panic");
    let out = child_command("child", "panic", &path).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "child failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("snapshot ok=true"), "{stdout}");
    let trace = tg4p_oracle::decode_file(&path).unwrap();
    trace.assert_valid();
    let doomed = trace.slices_named("doomed");
    assert_eq!(doomed.len(), 1, "the panicking call is in the trace");
    assert_eq!(
        doomed[0]
            .args
            .iter()
            .find(|(k, _)| k == "i")
            .map(|(_, v)| v),
        Some(&Arg::Uint(DOOMED_AT))
    );
    assert!(doomed[0].end_ts.is_some(), "closed at the snapshot");
    let steps = steps(&trace);
    let is = steps.values().next().expect("steps before the panic");
    assert_eq!(
        *is.last().unwrap(),
        DOOMED_AT - 1,
        "the newest steps are kept"
    );
    assert!(is.windows(2).all(|w| w[1] == w[0] + 1));
    assert!(is[0] > 0, "a 1 MiB ring cannot hold 100,000 steps");
    // Recorded: 4 events per step and the doomed begin; written besides: the
    // doomed end, at the snapshot.
    let kept = trace
        .events
        .iter()
        .filter(|e| e.name.as_deref() != Some(tg4p::LOSS_MARKER))
        .count() as u64;
    let lost: u64 = markers(&trace).values().sum();
    assert_eq!(kept + lost, 4 * DOOMED_AT + 2);
    let _ = std::fs::remove_file(&path);
}

fn value(stdout: &str, key: &str) -> u64 {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("{key} in {stdout}"))
        .trim()
        .parse()
        .unwrap()
}

/// The scenario: after 10 busy seconds the trace holds exactly the newest
/// window on every thread (each thread's steps a gap-free run ending with its last
/// one, nothing older than the window's start, each thread starting there), loads
/// by every rule, marks the loss, and the process's memory stayed within the ring.
#[test]
fn a_ten_second_busy_run_keeps_exactly_the_newest_window() {
    let _s = serial();
    let path = temp("ring-busy");
    let out = child_command("child", "busy", &path).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "child failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let per_thread: Vec<(u64, u64)> = stdout
        .lines()
        .filter_map(|l| l.split_once("thread events=").map(|(_, rest)| rest))
        .map(|l| {
            let (events, steps) = l.split_once(" steps=").unwrap();
            let (events, steps) = (events.parse().unwrap(), steps.trim().parse().unwrap());
            (events, steps)
        })
        .collect();
    assert_eq!(per_thread.len(), THREADS);
    let report = Counts {
        events_written: value(&stdout, "written"),
        events_overwritten: value(&stdout, "overwritten"),
        events_dropped: value(&stdout, "dropped"),
    };
    let recorded: u64 = per_thread.iter().map(|&(e, _)| e).sum();
    assert_eq!(report.events_dropped, 0, "a ring loses nothing: {stdout}");
    assert_eq!(
        report.events_written + report.events_overwritten,
        recorded,
        "every event is written or overwritten: {stdout}"
    );
    assert!(
        report.events_overwritten > report.events_written,
        "10 s overflow 4 MiB many times: {stdout}"
    );

    let trace = tg4p_oracle::decode_file(&path).unwrap();
    assert_ring_trace(&trace, &report);

    // Per thread: the steps kept are a gap-free run ending with its last step, and
    // what the window left out of the thread is exactly what its marker says.
    let steps = steps(&trace);
    let markers = markers(&trace);
    assert_eq!(steps.len(), THREADS, "{:?}", steps.keys());
    let mut last_steps: Vec<u64> = per_thread.iter().map(|&(_, s)| s - 1).collect();
    for (seq, is) in &steps {
        assert!(
            is.windows(2).all(|w| w[1] == w[0] + 1),
            "sequence {seq}: gap-free steps"
        );
        let last = *is.last().unwrap();
        let k = last_steps
            .iter()
            .position(|&l| l == last)
            .unwrap_or_else(|| panic!("sequence {seq} ends with its thread's last step {last}"));
        last_steps.remove(k);
        let (events, _) = per_thread[per_thread.iter().position(|&(_, s)| s - 1 == last).unwrap()];
        let kept = trace
            .events
            .iter()
            .filter(|e| e.sequence == *seq && e.name.as_deref() != Some(tg4p::LOSS_MARKER))
            .count() as u64;
        assert_eq!(
            kept + markers.get(seq).copied().unwrap_or(0),
            events,
            "sequence {seq}: kept + marked = recorded"
        );
        assert!(is[0] > 0, "sequence {seq} lost its oldest steps");
    }

    // The window: every event is at or after its start (the trace's first event),
    // it is far shorter than the run, and each thread starts there, within its own
    // longest pause.
    let window_start = trace.events.iter().map(|e| e.ts).min().unwrap();
    let window_end = trace.events.iter().map(|e| e.ts).max().unwrap();
    assert!(
        window_end - window_start < RUN.as_nanos() as u64 / 2,
        "only the newest events: {} ms",
        (window_end - window_start) / 1_000_000
    );
    for seq in steps.keys() {
        let ts: Vec<u64> = trace
            .events
            .iter()
            .filter(|e| e.sequence == *seq && e.name.as_deref() != Some(tg4p::LOSS_MARKER))
            .map(|e| e.ts)
            .collect();
        let first = *ts.iter().min().unwrap();
        let mut sorted = ts.clone();
        sorted.sort_unstable();
        let longest_pause = sorted.windows(2).map(|w| w[1] - w[0]).max().unwrap_or(0);
        assert!(
            // A loaded 2-core CI machine deschedules a busy thread for tens of
            // ms: a start later than its longest pause by that much is still the
            // window's start (a thread missing its oldest window would be seconds
            // off).
            first - window_start <= (2 * longest_pause).max(100_000_000),
            "sequence {seq} starts with the window: {} ns after it, longest pause {} ns",
            first - window_start,
            longest_pause
        );
        // Its loss marker is at its first event, at the window's start.
        let marker = trace
            .events_named(tg4p::LOSS_MARKER)
            .find(|e| e.sequence == *seq)
            .expect("each thread's loss is marked");
        assert_eq!(marker.ts, first);
    }

    let growth = value(&stdout, "peak_growth");
    println!(
        "ring {} KiB: peak RSS growth {} KiB over {} s, {} events written, {} overwritten",
        RING >> 10,
        growth >> 10,
        RUN.as_secs(),
        report.events_written,
        report.events_overwritten
    );
    // The ring, plus the writer's output buffer (1 MiB) and the threads' stacks.
    assert!(
        growth < (RING + (3 << 20)) as u64,
        "peak RSS grew by {growth} bytes for a {RING}-byte ring"
    );
    let _ = std::fs::remove_file(&path);
}

/// Snapshots from another thread while three threads record: each a valid,
/// balanced trace of the window then, with its loss marked; later ones are of
/// later windows; `finish` after them writes the final window.
#[test]
fn snapshots_while_threads_record_are_valid_and_balanced() {
    let _s = serial();
    let final_path = temp("ring-final");
    let session = Session::builder()
        .path(&final_path)
        .ring(1 << 20)
        .start()
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let threads = recorders(THREADS, &stop);
    let handle = session.snapshot_handle();
    let snapshotter = std::thread::spawn(move || {
        let mut taken = Vec::new();
        for k in 0..4 {
            std::thread::sleep(Duration::from_millis(150));
            let path = temp(&format!("ring-snap-{k}"));
            let t = std::time::Instant::now();
            let report = handle.snapshot(&path).unwrap();
            println!(
                "snapshot {k}: {} events, {} bytes in {:?}",
                report.events_written,
                report.bytes_written,
                t.elapsed()
            );
            taken.push((path, report));
        }
        taken
    });
    let taken = snapshotter.join().unwrap();
    stop.store(true, Ordering::Relaxed);
    let recorded: u64 = threads.into_iter().map(|t| t.join().unwrap().0).sum();
    let report = session.finish().unwrap();

    let mut previous_start = 0;
    for (path, snap) in &taken {
        let trace = tg4p_oracle::decode_file(path).unwrap();
        assert_ring_trace(&trace, &snap.into());
        assert!(snap.events_written > 0, "{snap:?}");
        assert!(snap.events_overwritten > 0, "1 MiB overflowed: {snap:?}");
        // Slices open when it was taken were closed: the batch lanes and the
        // threads' steps are balanced (assert_valid), and the steps are gap-free.
        for (seq, is) in steps(&trace) {
            assert!(is.windows(2).all(|w| w[1] == w[0] + 1), "sequence {seq}");
        }
        let start = trace.events.iter().map(|e| e.ts).min().unwrap();
        assert!(start > previous_start, "a later window");
        previous_start = start;
        let _ = std::fs::remove_file(path);
    }

    let trace = tg4p_oracle::decode_file(&final_path).unwrap();
    assert_ring_trace(&trace, &(&report).into());
    assert_eq!(
        report.events_written + report.events_overwritten,
        recorded,
        "{report:?}"
    );
    let start = trace.events.iter().map(|e| e.ts).min().unwrap();
    assert!(start > previous_start, "finish writes the latest window");
    let _ = std::fs::remove_file(&final_path);
}

/// Before the ring fills, a snapshot holds everything, with no loss; a slice open
/// at the snapshot ends there, and is whole in the final trace.
#[test]
fn an_unfilled_ring_keeps_everything_and_closes_open_slices() {
    let _s = serial();
    let final_path = temp("ring-small");
    let snap_path = temp("ring-small-snap");
    let session = Session::builder()
        .path(&final_path)
        .ring(tg4p::MIN_RING_BYTES)
        .start()
        .unwrap();
    let outer = BATCHES.span("outer");
    (0..100).for_each(step);
    let snap = session.snapshot(&snap_path).unwrap();
    drop(outer);
    let report = session.finish().unwrap();

    let trace = tg4p_oracle::decode_file(&snap_path).unwrap();
    trace.assert_valid();
    assert_eq!(snap.events_overwritten, 0);
    assert!(markers(&trace).is_empty());
    assert_eq!(trace.loss.data_loss(), 0);
    // 100 steps (4 events each), the outer begin, and its end at the snapshot.
    assert_eq!(snap.events_written, 402);
    assert_eq!(
        steps(&trace).values().next().unwrap(),
        &(0..100).collect::<Vec<_>>()
    );
    let outer_slice = &trace.slices_named("outer")[0];
    let last_step_end = trace
        .slices_named("step")
        .iter()
        .filter_map(|s| s.end_ts)
        .max()
        .unwrap();
    assert!(
        outer_slice.end_ts.unwrap() >= last_step_end,
        "ends at the snapshot"
    );

    let trace = tg4p_oracle::decode_file(&final_path).unwrap();
    assert_ring_trace(&trace, &(&report).into());
    assert_eq!(report.events_written, 402);
    assert_eq!(trace.slices_named("outer").len(), 1);
    let _ = std::fs::remove_file(&final_path);
    let _ = std::fs::remove_file(&snap_path);
}

/// Bad sizes and misuse are typed errors, never panics.
#[test]
fn bad_sizes_and_misuse_are_typed_errors() {
    let _s = serial();
    for bytes in [0, 1, tg4p::MIN_RING_BYTES - 1] {
        let r = Session::builder()
            .writer(std::io::sink())
            .ring(bytes)
            .start();
        assert!(
            matches!(r, Err(SessionError::RingTooSmall { bytes: b, minimum }) if b == bytes && minimum == tg4p::MIN_RING_BYTES),
            "{bytes}: {r:?}"
        );
        assert!(!tg4p::enabled());
    }
    let plain = Session::builder()
        .writer(std::io::sink())
        .overflow(Overflow::Drop)
        .start()
        .unwrap();
    let path = temp("ring-refused");
    assert!(matches!(plain.snapshot(&path), Err(SnapshotError::NotRing)));
    plain.finish().unwrap();

    let ring = Session::builder()
        .writer(std::io::sink())
        .ring(tg4p::MIN_RING_BYTES)
        .start()
        .unwrap();
    let bad = ring.snapshot(Path::new("/nonexistent-dir/x.pftrace"));
    assert!(matches!(bad, Err(SnapshotError::Create { .. })), "{bad:?}");
    let handle = ring.snapshot_handle();
    ring.finish().unwrap();
    assert!(matches!(
        handle.snapshot(&path),
        Err(SnapshotError::Finished)
    ));
    let _ = std::fs::remove_file(&path);
}

/// A slice begun on one thread and ended on another (an `async_span!` guard sent
/// across): when the window cut its begin, its end is left out too, matched in
/// time order across the threads; one begun in the window keeps both ends.
#[test]
fn slices_ended_on_another_thread_are_matched_across_threads() {
    let _s = serial();
    let path = temp("ring-across");
    let session = Session::builder()
        .path(&path)
        .ring(tg4p::MIN_RING_BYTES)
        .start()
        .unwrap();
    let (to_ender, guards) = std::sync::mpsc::channel::<tg4p::AsyncSpan>();
    let ender = std::thread::Builder::new()
        .name("ender".into())
        .spawn(move || guards.into_iter().for_each(drop))
        .unwrap();
    let early = tg4p::async_span!("early");
    // Far more than the ring holds: `early`'s begin is overwritten.
    (0..100_000).for_each(step);
    let late = tg4p::async_span!("late");
    step(100_000);
    to_ender.send(early).unwrap();
    to_ender.send(late).unwrap();
    drop(to_ender);
    ender.join().unwrap();
    let report = session.finish().unwrap();

    let trace = tg4p_oracle::decode_file(&path).unwrap();
    assert_ring_trace(&trace, &(&report).into());
    assert!(report.events_overwritten > 0, "{report:?}");
    assert!(
        trace.slices_named("early").is_empty(),
        "its begin was overwritten"
    );
    let late = trace.slices_named("late");
    assert_eq!(late.len(), 1);
    let late_end = late[0].end_ts.expect("ended on the other thread");
    let ender_end = trace
        .events
        .iter()
        .filter(|e| e.kind == EventKind::SliceEnd && e.ts == late_end)
        .map(|e| e.sequence)
        .collect::<Vec<_>>();
    let late_begin_seq = trace
        .events_named("late")
        .find(|e| e.kind == EventKind::SliceBegin)
        .unwrap()
        .sequence;
    assert!(
        ender_end.iter().any(|&s| s != late_begin_seq),
        "the end is the other thread's"
    );
    let _ = std::fs::remove_file(&path);
}
