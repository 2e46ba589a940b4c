//! Custom tracks shared by many threads at once (issue 15, "custom tracks without
//! a lock"): every span is balanced, nests within its own thread, and never
//! overlaps a slice of another thread on the same track or lane; lanes are named
//! `NAME`, `NAME #2`, ... and reused; futures and threads agree on which lanes
//! are taken. Each trace is decoded by the independent oracle.

use std::collections::BTreeMap;
use std::sync::{Arc, Barrier, Mutex, MutexGuard};
use std::time::Duration;
use tg4p::Track;
use tg4p_oracle::{Arg, DecodedTrace, Slice};

fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

fn temp(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("tg4p-tracks-{}-{name}.pftrace", std::process::id()))
}

/// Runs `f` in a session and returns the decoded, valid trace.
fn record(name: &str, f: impl FnOnce()) -> DecodedTrace {
    let path = temp(name);
    let session = tg4p::Session::builder()
        .path(&path)
        .overflow(tg4p::Overflow::Block)
        .start()
        .unwrap();
    f();
    let report = session.finish().unwrap();
    assert_eq!(report.events_dropped, 0);
    let trace = tg4p_oracle::decode_file(&path).expect("trace decodes");
    std::fs::remove_file(&path).ok();
    trace.assert_valid();
    trace
}

/// The track named `name` and its lanes, as `(lane name, uuid)` in name order;
/// checks that the lanes are children of the track named `NAME #2`, `NAME #3`, ...
/// with no gap.
fn lanes_of(trace: &DecodedTrace, name: &str) -> Vec<(String, u64)> {
    let tracks = trace.track_by_name(name);
    assert_eq!(tracks.len(), 1, "one track named {name}");
    let track = tracks[0].uuid;
    let mut lanes: Vec<(String, u64)> = trace
        .children(track)
        .iter()
        .map(|t| (t.name.clone().unwrap_or_default(), t.uuid))
        .collect();
    lanes.sort_by_key(|(n, _)| {
        n.rsplit_once(" #")
            .and_then(|(_, k)| k.parse::<u32>().ok())
            .unwrap_or(0)
    });
    for (k, (lane, uuid)) in lanes.iter().enumerate() {
        assert_eq!(lane, &format!("{name} #{}", k + 2));
        assert!(
            trace.children(*uuid).is_empty(),
            "threads' lanes have no lanes"
        );
    }
    lanes.insert(0, (name.to_owned(), track));
    lanes
}

fn int(s: &Slice, key: &str) -> i64 {
    match s.arg(key) {
        Some(Arg::Int(v)) => *v,
        Some(Arg::Uint(v)) => *v as i64,
        other => panic!("{key} of {s:?}: {other:?}"),
    }
}

/// On each of `tracks`, the top-level slices one after the other: each ends
/// before the next begins, strictly so unless `same_thread` says both are one
/// thread's (the trace processor orders equal timestamps only within a sequence).
fn assert_no_overlap(
    trace: &DecodedTrace,
    tracks: &[(String, u64)],
    same_thread: impl Fn(&Slice, &Slice) -> bool,
) {
    for (name, uuid) in tracks {
        let mut top: Vec<&Slice> = trace
            .slices_on(*uuid)
            .into_iter()
            .filter(|s| s.depth == 0)
            .collect();
        top.sort_by_key(|s| s.begin_ts);
        for pair in top.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            let end = a.end_ts.expect("every slice ends");
            let ok = end < b.begin_ts || (end == b.begin_ts && same_thread(a, b));
            assert!(ok, "on {name}: {a:?} overlaps {b:?}");
        }
    }
}

static MANY: Track = Track::new("MANY");

/// `threads` threads, started together, each record `rounds` outer spans (with
/// typed args naming the thread and round) on `MANY`, each holding one plain
/// inner span (`Track::span`) and one `span!` on the thread's own track.
fn many_threads(threads: usize, rounds: i64) -> DecodedTrace {
    record(&format!("many-{threads}"), || {
        let start = Arc::new(Barrier::new(threads));
        let handles: Vec<_> = (0..threads as i64)
            .map(|t| {
                let start = start.clone();
                std::thread::spawn(move || {
                    start.wait();
                    for k in 0..rounds {
                        let _outer = tg4p::span!(MANY, "outer", t = t, k = k);
                        let _inner = MANY.span("inner");
                        let _own = tg4p::span!("own");
                        if k % 64 == 0 {
                            std::thread::yield_now();
                        }
                    }
                })
            })
            .collect();
        handles.into_iter().for_each(|h| h.join().unwrap());
    })
}

fn check_many(trace: &DecodedTrace, threads: usize, rounds: i64) {
    let lanes = lanes_of(trace, "MANY");
    assert!(
        lanes.len() <= threads,
        "{} lanes for {threads} threads",
        lanes.len()
    );
    let on_many: Vec<&Slice> = lanes
        .iter()
        .flat_map(|(_, uuid)| trace.slices_on(*uuid))
        .collect();
    let outers: Vec<&&Slice> = on_many
        .iter()
        .filter(|s| s.name.as_deref() == Some("outer"))
        .collect();
    let inners: Vec<&&Slice> = on_many
        .iter()
        .filter(|s| s.name.as_deref() == Some("inner"))
        .collect();
    let total = threads * rounds as usize;
    assert_eq!((outers.len(), inners.len()), (total, total));
    assert_eq!(on_many.len(), 2 * total, "nothing else on MANY");
    // Every (thread, round) once, at the top of its lane; every inner span one
    // level below an outer one of its own thread (the one it began in).
    let mut seen = BTreeMap::new();
    for o in &outers {
        assert_eq!(o.depth, 0, "{o:?}");
        assert!(seen.insert((int(o, "t"), int(o, "k")), *o).is_none());
    }
    assert_eq!(seen.len(), total);
    let by_track: BTreeMap<u64, Vec<&Slice>> = outers.iter().fold(BTreeMap::new(), |mut m, o| {
        m.entry(o.track).or_insert_with(Vec::new).push(**o);
        m
    });
    for i in &inners {
        assert_eq!(i.depth, 1, "{i:?}");
        let end = i.end_ts.unwrap();
        let parent = by_track[&i.track]
            .iter()
            .find(|o| o.begin_ts <= i.begin_ts && end <= o.end_ts.unwrap())
            .unwrap_or_else(|| panic!("{i:?} is inside no outer span on its lane"));
        assert!(parent.end_ts.unwrap() >= end);
    }
    assert_no_overlap(trace, &lanes, |a, b| int(a, "t") == int(b, "t"));
    // The spans on the threads' own tracks are all there too.
    assert_eq!(trace.slices_named("own").len(), total);
}

#[test]
fn custom_track_spans_from_two_threads_stay_balanced_in_lanes_and_never_overlap() {
    let _s = serial();
    let trace = many_threads(2, 5_000);
    check_many(&trace, 2, 5_000);
}

#[test]
fn custom_track_spans_from_eight_threads_stay_balanced_in_lanes_and_never_overlap() {
    let _s = serial();
    let trace = many_threads(8, 2_000);
    check_many(&trace, 8, 2_000);
}

static BURSTS: Track = Track::new("BURSTS");

/// Runs `n` threads that each hold a span on `BURSTS` until all have begun one.
fn burst(n: usize, label: &'static str) {
    let all_in = Arc::new(Barrier::new(n));
    let handles: Vec<_> = (0..n)
        .map(|_| {
            let all_in = all_in.clone();
            std::thread::spawn(move || {
                let _s = BURSTS.span(label);
                all_in.wait();
            })
        })
        .collect();
    handles.into_iter().for_each(|h| h.join().unwrap());
}

#[test]
fn lanes_are_reused_by_later_bursts_and_emptied_when_concurrency_drops() {
    let _s = serial();
    let trace = record("bursts", || {
        burst(4, "first");
        std::thread::sleep(Duration::from_millis(5));
        burst(4, "second");
        std::thread::sleep(Duration::from_millis(5));
        // One thread alone, once the others' lanes have been free a while: back
        // on the track itself.
        let _alone = BURSTS.span("alone");
    });
    let lanes = lanes_of(&trace, "BURSTS");
    assert_eq!(
        lanes.len(),
        4,
        "four at once, four lanes, reused: {lanes:?}"
    );
    for label in ["first", "second"] {
        let tracks: std::collections::BTreeSet<u64> =
            trace.slices_named(label).iter().map(|s| s.track).collect();
        assert_eq!(tracks.len(), 4, "{label}: one lane per thread");
    }
    assert_eq!(trace.slices_named("alone")[0].track, lanes[0].1);
    assert_no_overlap(&trace, &lanes, |_, _| false);
}

static MIXED: Track = Track::new("MIXED");

#[tg4p::trace(track = MIXED)]
async fn on_mixed(n: u64) {
    for _ in 0..n {
        tokio::task::yield_now().await;
    }
}

#[test]
fn futures_and_threads_share_a_track_without_overlap() {
    let _s = serial();
    const THREADS: usize = 3;
    const TASKS: u64 = 200;
    let trace = record("mixed", || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap();
        let threads: Vec<_> = (0..THREADS as i64)
            .map(|t| {
                std::thread::spawn(move || {
                    for k in 0..2_000 {
                        let _s = tg4p::span!(MIXED, "thread", t = t, k = k);
                        let _inner = MIXED.span("thread inner");
                    }
                })
            })
            .collect();
        rt.block_on(async {
            let tasks: Vec<_> = (0..TASKS).map(|k| tokio::spawn(on_mixed(k % 4))).collect();
            for t in tasks {
                t.await.unwrap();
            }
        });
        threads.into_iter().for_each(|h| h.join().unwrap());
    });
    let lanes = lanes_of(&trace, "MIXED");
    let uuids: std::collections::BTreeSet<u64> = lanes.iter().map(|l| l.1).collect();
    let named = |n: &str| trace.slices_named(n);
    assert_eq!(named("on_mixed").len(), TASKS as usize);
    assert_eq!(named("thread").len(), THREADS * 2_000);
    assert_eq!(named("thread inner").len(), THREADS * 2_000);
    for s in named("on_mixed").iter().chain(&named("thread")) {
        assert!(uuids.contains(&s.track), "{s:?} on MIXED or its lanes");
        assert_eq!(s.depth, 0, "{s:?}: at the top of its lane");
    }
    for s in named("thread inner") {
        assert_eq!(s.depth, 1, "{s:?}: inside its thread's span");
    }
    // A task and a thread's span never share a lane at once; two threads'
    // spans only back to back.
    let thread_of = |s: &Slice| (s.name.as_deref() == Some("thread")).then(|| int(s, "t"));
    assert_no_overlap(&trace, &lanes, |a, b| {
        thread_of(a).is_some() && thread_of(a) == thread_of(b)
    });
}
