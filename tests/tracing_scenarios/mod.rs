//! `tracing` spans and events recorded by tg4p, in the same trace as
//! `#[tg4p::trace]`, decoded by the oracle: every scenario, whichever way in. Each
//! test binary that includes this module installs its subscriber as the global
//! default (tokio's workers use it) in `crate::install()`, with tracing-log's
//! bridge for `log` records: `tracing_layer.rs` (registry + `TracingLayer`) and
//! `tracing_own_subscriber.rs` (`TracingSubscriber`). Tests run one at a time
//! (one session per process at a time).

use std::sync::{Mutex, MutexGuard, Once};
use std::time::Duration;
use tg4p_oracle::{Arg, DecodedTrace, EventKind, Slice, Track, TrackKind};
use tracing::Instrument;

pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        crate::install();
        tracing_log::LogTracer::init().unwrap();
    });
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

/// Runs `f` on a thread named `thread` inside a session, and decodes the trace.
pub fn record(name: &str, thread: &str, f: impl FnOnce() + Send) -> DecodedTrace {
    let path = std::env::temp_dir().join(format!(
        "tg4p-tracing-{}-{name}.pftrace",
        std::process::id()
    ));
    let session = tg4p::open(&path).unwrap();
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .name(thread.into())
            .spawn_scoped(s, f)
            .unwrap()
            .join()
            .unwrap()
    });
    let report = session.finish().unwrap();
    assert_eq!(report.events_dropped, 0);
    let trace = tg4p_oracle::decode_file(&path).unwrap();
    std::fs::remove_file(&path).ok();
    trace.assert_valid();
    trace
}

/// The thread track of the thread named `name`.
pub fn thread_track<'a>(trace: &'a DecodedTrace, name: &str) -> &'a Track {
    let found: Vec<&Track> = trace
        .track_by_name(name)
        .into_iter()
        .filter(|t| matches!(t.kind, TrackKind::Thread { .. }))
        .collect();
    assert_eq!(found.len(), 1, "thread tracks named {name}");
    found[0]
}

/// (name, depth) of the slices on `track`, in begin order.
pub fn tree(trace: &DecodedTrace, track: &Track) -> Vec<(String, u32)> {
    let mut slices = trace.slices_on(track.uuid);
    slices.sort_by_key(|s| (s.begin_ts, s.depth));
    slices
        .iter()
        .map(|s| (s.name.clone().unwrap_or_default(), s.depth))
        .collect()
}

/// The name of the slice that event `i` begins or ends, or of the instant it is.
fn slice_or_instant_name(trace: &DecodedTrace, i: usize) -> String {
    trace
        .slices()
        .iter()
        .find(|s| s.begin_event == i || s.end_event == Some(i))
        .and_then(|s| s.name.clone())
        .or_else(|| trace.events[i].name.clone())
        .unwrap_or_default()
}

pub fn owned(v: &[(&str, u32)]) -> Vec<(String, u32)> {
    v.iter().map(|(n, d)| (n.to_string(), *d)).collect()
}

#[tg4p::trace]
fn traced_leaf() {}

#[tg4p::trace]
fn traced_outer() {
    let span = tracing::info_span!("middle");
    span.in_scope(|| {
        traced_leaf();
        tracing::info!("inside middle");
    });
}

#[tracing::instrument]
fn instrumented(n: u64) {
    traced_leaf();
}

#[test]
fn sync_spans_nest_on_the_thread_track_with_trace_slices() {
    let _g = serial();
    let trace = record("sync", "sync-worker", || {
        let outer = tracing::info_span!("outer");
        let _e = outer.enter();
        traced_outer();
        instrumented(7);
    });
    let track = thread_track(&trace, "sync-worker");
    assert_eq!(
        tree(&trace, track),
        owned(&[
            ("outer", 0),
            ("traced_outer", 1),
            ("middle", 2),
            ("traced_leaf", 3),
            ("instrumented", 1),
            ("traced_leaf", 2),
        ])
    );
    // The event is an instant inside `middle`, on the same track.
    let middle = &trace.slices_named("middle")[0];
    let instants: Vec<_> = trace
        .events_on(track.uuid)
        .filter(|e| e.kind == EventKind::Instant)
        .collect();
    assert_eq!(instants.len(), 1);
    let at = instants[0].ts;
    assert!(middle.begin_ts <= at && at <= middle.end_ts.unwrap());
    // A span's target and level are its categories (trace_processor's
    // `slice.category` joins them with `,`); the target is the module path by
    // default. #[trace] slices have none.
    assert_eq!(
        middle.categories.join(","),
        format!("{},INFO", module_path!())
    );
    assert!(trace.slices_named("traced_leaf")[0].categories.is_empty());
    // Spans were recorded at their source.
    let src = middle.source.as_ref().expect("source location");
    assert!(src.file.ends_with("tracing_scenarios/mod.rs"), "{src:?}");
    assert!(src.line > 0);
}

#[test]
fn a_span_never_entered_records_nothing() {
    let _g = serial();
    let trace = record("never", "never-worker", || {
        let never = tracing::info_span!("never_entered");
        drop(never);
        tracing::info_span!("entered").in_scope(|| {});
    });
    assert!(trace.slices_named("never_entered").is_empty());
    assert_eq!(trace.slices_named("entered").len(), 1);
}

#[test]
fn spans_in_reused_registry_slots_make_separate_slices() {
    let _g = serial();
    // The registry reuses a closed span's slot (and its extensions, where the
    // layer keeps its state) for the next span; its ids differ by a generation.
    let trace = record("reuse", "reuse-worker", || {
        for i in 0..50u64 {
            let span = if i % 2 == 0 {
                tracing::info_span!("even", i)
            } else {
                tracing::info_span!("odd", i)
            };
            span.in_scope(|| {});
        }
    });
    let track = thread_track(&trace, "reuse-worker");
    let slices = trace.slices_on(track.uuid);
    assert_eq!(slices.len(), 50);
    assert!(slices.iter().all(|s| s.depth == 0 && s.end_ts.is_some()));
    assert_eq!(trace.slices_named("even").len(), 25);
    assert_eq!(trace.slices_named("odd").len(), 25);
}

/// The pool tracks named `name` (children of the process track) and their slices.
fn pool_slices<'a>(trace: &'a DecodedTrace, name: &str) -> Vec<&'a Slice> {
    let process = trace
        .process_track(std::process::id() as i32)
        .expect("process track");
    // A pool's first track is the process's child, named after the span; its lanes
    // (`NAME #2`, ...) are that track's children, as lanes of every track are.
    let lane_prefix = format!("{name} #");
    let mut out = Vec::new();
    for t in trace.tracks.values() {
        let Some(track_name) = t.display_name() else {
            continue;
        };
        let first = track_name == name;
        if matches!(t.kind, TrackKind::Plain) && (first || track_name.starts_with(&lane_prefix)) {
            let pool = if first {
                t
            } else {
                &trace.tracks[&t.parent.expect("a lane has a parent")]
            };
            assert_eq!(
                pool.display_name(),
                Some(name),
                "lanes are their pool's children"
            );
            assert_eq!(
                pool.parent,
                Some(process.uuid),
                "pool tracks are the process's"
            );
            let slices = trace.slices_on(t.uuid);
            for w in slices.windows(2) {
                assert!(
                    w[0].end_ts.unwrap() < w[1].begin_ts,
                    "no overlap on a pool track"
                );
            }
            out.extend(slices);
        }
    }
    out
}

#[test]
fn a_span_entered_twice_and_closed_on_another_thread_is_one_pool_slice() {
    let _g = serial();
    let trace = record("moved", "moved-a", || {
        let span = tracing::info_span!("moved");
        span.in_scope(traced_leaf);
        span.in_scope(traced_leaf);
        std::thread::Builder::new()
            .name("moved-b".into())
            .spawn(move || {
                span.in_scope(traced_leaf);
                // Closed here, on the other thread.
                drop(span);
            })
            .unwrap()
            .join()
            .unwrap();
    });
    let whole = pool_slices(&trace, "moved");
    assert_eq!(whole.len(), 1, "one slice for the span's life");
    let whole = whole[0];
    let a = thread_track(&trace, "moved-a");
    let b = thread_track(&trace, "moved-b");
    assert_eq!(
        tree(&trace, a),
        owned(&[
            ("moved", 0),
            ("traced_leaf", 1),
            ("moved", 0),
            ("traced_leaf", 1)
        ])
    );
    assert_eq!(tree(&trace, b), owned(&[("moved", 0), ("traced_leaf", 1)]));
    // The pool slice runs from the first enter to the close.
    let enters: Vec<&Slice> = trace
        .slices_named("moved")
        .into_iter()
        .filter(|s| s.track != whole.track)
        .collect();
    let first = enters.iter().map(|s| s.begin_ts).min().unwrap();
    let last = enters.iter().map(|s| s.end_ts.unwrap()).max().unwrap();
    assert!(whole.begin_ts <= first, "{} > {first}", whole.begin_ts);
    assert!(whole.end_ts.unwrap() >= last);
}

#[test]
fn a_clone_held_elsewhere_closes_late() {
    let _g = serial();
    let trace = record("late", "late-worker", || {
        let span = tracing::info_span!("late_close");
        let clone = span.clone();
        span.in_scope(|| {});
        drop(span);
        span_work();
        clone.in_scope(|| {});
        std::thread::sleep(Duration::from_millis(2));
        drop(clone); // the close
    });
    let whole = pool_slices(&trace, "late_close");
    assert_eq!(whole.len(), 1);
    let work = &trace.slices_named("span_work")[0];
    assert!(whole[0].begin_ts < work.begin_ts);
    let enters = trace.slices_named("late_close");
    let last_exit = enters
        .iter()
        .filter(|s| s.track != whole[0].track)
        .map(|s| s.end_ts.unwrap())
        .max()
        .unwrap();
    assert!(
        whole[0].end_ts.unwrap() >= last_exit + 1_000_000,
        "ends at the close, not at the last exit"
    );
}

#[tg4p::trace]
fn span_work() {}

#[tracing::instrument]
async fn fetch(id: u64) -> u64 {
    tokio::time::sleep(Duration::from_millis(2)).await;
    tracing::debug!(id, "fetched");
    id * 2
}

#[test]
fn instrumented_futures_on_tokio_are_one_pool_slice_each() {
    let _g = serial();
    let trace = record("tokio", "tokio-main", || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_time()
            .thread_name("tokio-w")
            .build()
            .unwrap();
        rt.block_on(async {
            let tasks: Vec<_> = (0..4).map(|i| tokio::spawn(fetch(i))).collect();
            for t in tasks {
                t.await.unwrap();
            }
            async { tokio::task::yield_now().await }
                .instrument(tracing::info_span!("yielding"))
                .await;
        });
    });
    let whole = pool_slices(&trace, "fetch");
    assert_eq!(whole.len(), 4, "one slice per future");
    for s in &whole {
        assert!(s.end_ts.is_some());
    }
    // Polls are slices on the worker threads' tracks, each inside its pool slice.
    let polls: Vec<&Slice> = trace
        .slices_named("fetch")
        .into_iter()
        .filter(|s| !whole.iter().any(|w| w.track == s.track))
        .collect();
    assert!(
        polls.len() >= 8,
        "at least two polls per future: {}",
        polls.len()
    );
    assert_eq!(pool_slices(&trace, "yielding").len(), 1);
    // Every `fetched` event is an instant inside a poll of `fetch`.
    assert_eq!(trace.events_named("fetched").count(), 4);
    for e in trace.events_named("fetched") {
        assert!(
            polls
                .iter()
                .any(|p| p.track == e.track && p.begin_ts <= e.ts && e.ts <= p.end_ts.unwrap()),
            "{e:?}"
        );
    }
}

#[test]
fn spans_created_before_the_session_are_not_recorded() {
    let _g = serial();
    let before = tracing::info_span!("before_session");
    let trace = record("before", "before-worker", move || {
        before.in_scope(|| {});
        tracing::info_span!("after_open").in_scope(|| {});
    });
    assert!(trace.slices_named("before_session").is_empty());
    assert_eq!(trace.slices_named("after_open").len(), 1);
}

#[test]
fn fields_are_typed_args_and_later_values_end_the_slice() {
    let _g = serial();
    let trace = record("typed", "typed-worker", || {
        let span = tracing::info_span!(
            target: "typed_target",
            "typed",
            i = -3i64,
            u = 7u64,
            f = 2.5f64,
            b = true,
            s = "text",
            d = ?vec![1, 2],
            shown = %"displayed",
            late = tracing::field::Empty,
        );
        span.in_scope(|| {
            span.record("late", 42u64);
        });
        tracing::warn!(target: "event_target", count = 5u64, ok = false, "hello {}", "world");
    });
    let slices = trace.slices_named("typed");
    assert_eq!(slices.len(), 1);
    let s = slices[0];
    assert_eq!(s.categories.join(","), "typed_target,INFO");
    let expect = [
        ("i", Arg::Int(-3)),
        ("u", Arg::Uint(7)),
        ("f", Arg::Double(2.5)),
        ("b", Arg::Bool(true)),
        ("s", Arg::Str("text".into())),
        ("d", Arg::Str("[1, 2]".into())),
        ("shown", Arg::Str("displayed".into())),
        ("late", Arg::Uint(42)),
    ];
    for (name, value) in &expect {
        assert_eq!(s.arg(name), Some(value), "arg {name} of {:?}", s.args);
    }
    assert_eq!(s.args.len(), expect.len(), "{:?}", s.args);
    // `late` was recorded after the begin: it is on the end event.
    let end = &trace.events[s.end_event.unwrap()];
    assert_eq!(end.arg("late"), Some(&Arg::Uint(42)));

    let events: Vec<_> = trace.events_named("hello world").collect();
    assert_eq!(events.len(), 1, "an event is named by its message");
    let e = events[0];
    assert_eq!(e.kind, EventKind::Instant);
    assert_eq!(e.categories.join(","), "event_target,WARN");
    assert_eq!(e.arg("count"), Some(&Arg::Uint(5)));
    assert_eq!(e.arg("ok"), Some(&Arg::Bool(false)));
    assert_eq!(
        e.arg("level"),
        None,
        "the level is the category's, not an arg"
    );
}

#[test]
fn follows_from_is_a_flow_between_the_slices() {
    let _g = serial();
    let trace = record("follows", "follows-worker", || {
        // The cause is open when the effect follows from it: the arrow leaves its end.
        let cause = tracing::info_span!("cause");
        let effect = tracing::info_span!("effect");
        cause.in_scope(|| effect.follows_from(&cause));
        effect.in_scope(|| {});
        // The cause ran already: the arrow leaves an instant named after it.
        let done = tracing::info_span!("done_cause");
        done.in_scope(|| {});
        let later = tracing::info_span!("later_effect");
        later.follows_from(&done);
        later.in_scope(|| {});
    });
    let flows = trace.flows();
    assert_eq!(flows.len(), 2, "{flows:?}");
    let name = |i: usize| slice_or_instant_name(&trace, i);
    let pairs: Vec<(String, String)> = flows
        .iter()
        .map(|f| (name(f.from_event), name(f.to_event)))
        .collect();
    assert!(
        pairs.contains(&("cause".into(), "effect".into())),
        "{pairs:?}"
    );
    assert!(
        pairs.contains(&("done_cause".into(), "later_effect".into())),
        "{pairs:?}"
    );
    assert!(trace.dangling_flows().is_empty());
}

#[test]
fn log_records_are_instants_through_tracing_log() {
    let _g = serial();
    let trace = record("log", "log-worker", || {
        tracing::info_span!("around_log").in_scope(|| {
            log::info!(target: "legacy", "from log {}", 1);
        });
    });
    let events: Vec<_> = trace.events_named("from log 1").collect();
    assert_eq!(events.len(), 1);
    let e = events[0];
    assert_eq!(e.kind, EventKind::Instant);
    // Dotted field names nest (trace_processor's key: `debug.log.target`).
    assert_eq!(
        e.arg("log").and_then(|log| log.get("target")),
        Some(&Arg::Str("legacy".into()))
    );
    let around = &trace.slices_named("around_log")[0];
    assert_eq!(e.track, around.track);
    assert!(around.begin_ts <= e.ts && e.ts <= around.end_ts.unwrap());
}

/// Spans (with a field) and events from 2 threads.
fn busy(n: u64) {
    for i in 0..n {
        tracing::info_span!("busy", i).in_scope(|| tracing::info!(i, "tick"));
    }
}

#[test]
fn block_keeps_every_event() {
    let _g = serial();
    let path =
        std::env::temp_dir().join(format!("tg4p-tracing-{}-block.pftrace", std::process::id()));
    let session = tg4p::Session::builder()
        .path(&path)
        .memory_limit(2 * 64 * 1024) // two buffers
        .overflow(tg4p::Overflow::Block)
        .start()
        .unwrap();
    const N: u64 = 20_000;
    std::thread::scope(|s| {
        s.spawn(|| busy(N));
        s.spawn(|| busy(N));
    });
    let report = session.finish().unwrap();
    assert_eq!(report.events_dropped, 0);
    assert_eq!(
        report.events_written,
        2 * N * 3,
        "begin, instant, end per span"
    );
    let trace = tg4p_oracle::decode_file(&path).unwrap();
    std::fs::remove_file(&path).ok();
    trace.assert_valid();
    assert_eq!(trace.slices_named("busy").len() as u64, 2 * N);
    assert_eq!(trace.events_named("tick").count() as u64, 2 * N);
}

#[test]
fn drop_counts_and_marks_what_it_loses() {
    let _g = serial();
    let path =
        std::env::temp_dir().join(format!("tg4p-tracing-{}-drop.pftrace", std::process::id()));
    let session = tg4p::Session::builder()
        .path(&path)
        .memory_limit(2 * 64 * 1024)
        .overflow(tg4p::Overflow::Drop)
        .start()
        .unwrap();
    const N: u64 = 50_000;
    std::thread::scope(|s| {
        s.spawn(|| busy(N));
        s.spawn(|| busy(N));
    });
    let report = session.finish().unwrap();
    assert_eq!(
        report.events_written + report.events_dropped,
        2 * N * 3,
        "{report:?}"
    );
    let trace = tg4p_oracle::decode_file(&path).unwrap();
    std::fs::remove_file(&path).ok();
    trace.assert_valid();
    // Every event written, plus the instants that mark where events were lost.
    let markers = trace.events_named(tg4p::LOSS_MARKER).count() as u64;
    assert_eq!(trace.events.len() as u64 - markers, report.events_written);
    if report.events_dropped > 0 {
        assert!(trace.dropped_markers > 0, "loss is marked in the trace");
    }
}

/// The slices named `name` that are not on the thread track of `thread`: a span's
/// pool slices (its whole life), wherever they went.
fn off_thread<'a>(trace: &'a DecodedTrace, name: &str, thread: &Track) -> Vec<&'a Slice> {
    trace
        .slices_named(name)
        .into_iter()
        .filter(|s| s.track != thread.uuid)
        .collect()
}

/// No two slices on one track overlap unless one holds the other.
fn assert_nested_on_each_track(trace: &DecodedTrace) {
    for t in trace.tracks.values() {
        let mut slices = trace.slices_on(t.uuid);
        slices.sort_by_key(|s| (s.begin_ts, s.depth));
        let mut open: Vec<u64> = Vec::new(); // ends of enclosing slices
        for s in slices {
            let end = s.end_ts.expect("every slice ends");
            while open.last().is_some_and(|&e| e <= s.begin_ts) {
                open.pop();
            }
            if let Some(&outer) = open.last() {
                assert!(end <= outer, "{s:?} overlaps its enclosing slice");
            }
            open.push(end);
        }
    }
}

#[test]
fn a_pool_slice_nests_under_its_parent_spans_pool_slice() {
    let _g = serial();
    let trace = record("nested-pools", "nested-pools-worker", || {
        let parent = tracing::info_span!("parent_pool");
        parent.in_scope(|| {}); // entered twice: a pool slice
        parent.in_scope(|| {
            let a = tracing::info_span!("child_a");
            let b = tracing::info_span!("child_b");
            // Both entered twice while the other is alive: two pool slices at once.
            a.in_scope(traced_leaf);
            b.in_scope(traced_leaf);
            a.in_scope(traced_leaf);
            b.in_scope(traced_leaf);
            drop(a);
            drop(b);
            let c = tracing::info_span!("child_c");
            c.in_scope(|| {});
            c.in_scope(|| {});
        });
        drop(parent);
        // A span with no parent keeps its own pool.
        let root = tracing::info_span!(parent: None, "root_pool");
        root.in_scope(|| {});
        root.in_scope(|| {});
    });
    assert_nested_on_each_track(&trace);
    let thread = thread_track(&trace, "nested-pools-worker");
    let parent = off_thread(&trace, "parent_pool", thread);
    assert_eq!(parent.len(), 1, "one slice for the parent's life");
    let parent = parent[0];
    let parent_track = &trace.tracks[&parent.track];
    let mut lanes = Vec::new();
    for name in ["child_a", "child_b", "child_c"] {
        let child = off_thread(&trace, name, thread);
        assert_eq!(child.len(), 1, "{name}: one slice for its life");
        let child = child[0];
        // On a child track of the parent's track: shown under the parent.
        let track = &trace.tracks[&child.track];
        assert_ne!(child.track, parent.track, "{name}");
        assert_eq!(track.parent, Some(parent_track.uuid), "{name}: {track:?}");
        assert!(
            parent.begin_ts <= child.begin_ts && child.end_ts <= parent.end_ts,
            "{name} within its parent's slice"
        );
        lanes.push(child.track);
    }
    // a and b were alive at once: two lanes; c came after them and reuses one.
    assert_ne!(lanes[0], lanes[1]);
    assert!(lanes[2] == lanes[0] || lanes[2] == lanes[1], "{lanes:?}");
    // The parentless span's pool track is the process's child, as before.
    assert_eq!(pool_slices(&trace, "root_pool").len(), 1);
}

#[tracing::instrument]
async fn child_request(i: u64) -> u64 {
    tokio::task::yield_now().await;
    i
}

#[tracing::instrument]
async fn handler() -> u64 {
    tokio::task::yield_now().await;
    let (a, b) = tokio::join!(child_request(1), child_request(2));
    a + b
}

#[test]
fn instrumented_children_of_an_instrumented_future_nest_under_it() {
    let _g = serial();
    let trace = record("nested-futures", "nested-futures-main", || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("nested-w")
            .build()
            .unwrap();
        let sum = rt.block_on(async { tokio::spawn(handler()).await.unwrap() });
        assert_eq!(sum, 3);
    });
    assert_nested_on_each_track(&trace);
    // The handler's pool slice is on a track of its pool; each child's (polled
    // twice, concurrently with its sibling) on a child track of that track.
    let handler = pool_slices(&trace, "handler");
    let handler: Vec<_> = handler
        .into_iter()
        .filter(|s| s.name.as_deref() == Some("handler"))
        .collect();
    assert_eq!(handler.len(), 1);
    let handler = handler[0];
    let children: Vec<&Slice> = trace
        .slices_named("child_request")
        .into_iter()
        .filter(|s| {
            trace.tracks[&s.track].parent == Some(handler.track)
                && !matches!(trace.tracks[&s.track].kind, TrackKind::Thread { .. })
        })
        .collect();
    assert_eq!(children.len(), 2, "both children under the handler");
    assert_ne!(
        children[0].track, children[1].track,
        "concurrent: two lanes"
    );
    for c in &children {
        assert!(handler.begin_ts <= c.begin_ts && c.end_ts <= handler.end_ts);
    }
}

#[test]
fn more_spans_open_at_once_than_fast_places_are_each_recorded_as_their_own() {
    // 70 000 spans open at once: past the layer's table of registry ids (64 Ki
    // entries: some spill into the registry's extensions) and past the
    // subscriber's flat slots; each keeps its own field and its own slice.
    const N: u64 = 70_000;
    let _g = serial();
    let trace = record("many-open", "many-open-worker", || {
        let spans: Vec<tracing::Span> = (0..N).map(|i| tracing::info_span!("many", i)).collect();
        for span in spans.iter().rev() {
            span.in_scope(|| {});
        }
        // One of them entered again: its own pool slice, no other's.
        spans[12_345].in_scope(|| {});
        drop(spans);
        // Slots and ids freed: reused by the next spans, which record as new.
        tracing::info_span!("after_many").in_scope(|| {});
    });
    let thread = thread_track(&trace, "many-open-worker");
    let on_thread: Vec<&Slice> = trace
        .slices_named("many")
        .into_iter()
        .filter(|s| s.track == thread.uuid)
        .collect();
    assert_eq!(on_thread.len(), N as usize + 1);
    let mut seen = vec![0u32; N as usize];
    for s in &on_thread {
        assert_eq!(s.depth, 0);
        match s.arg("i") {
            Some(Arg::Uint(i)) => seen[*i as usize] += 1,
            // The second enter's slice has no args (they are on the pool slice).
            None => {}
            other => panic!("arg i: {other:?}"),
        }
    }
    assert!(seen.iter().all(|n| *n == 1), "each span's own field, once");
    let pool = pool_slices(&trace, "many");
    assert_eq!(
        pool.len(),
        1,
        "only the span entered twice has a pool slice"
    );
    assert_eq!(pool[0].arg("i"), Some(&Arg::Uint(12_345)));
    assert_eq!(tree(&trace, thread).last(), Some(&("after_many".into(), 0)));
}

#[test]
fn an_explicit_parent_on_another_thread_holds_its_childs_pool_slice() {
    let _g = serial();
    let trace = record("explicit-parent", "explicit-parent-main", || {
        let parent = tracing::info_span!("explicit_parent");
        parent.in_scope(|| {});
        parent.in_scope(|| {}); // entered twice: a pool slice
        std::thread::scope(|s| {
            std::thread::Builder::new()
                .name("explicit-parent-other".into())
                .spawn_scoped(s, || {
                    // Not inside the parent here: the parent is given.
                    let child = tracing::info_span!(parent: &parent, "explicit_child");
                    child.in_scope(|| {});
                    child.in_scope(|| {});
                })
                .unwrap()
                .join()
                .unwrap()
        });
    });
    assert_nested_on_each_track(&trace);
    let main = thread_track(&trace, "explicit-parent-main");
    let parent = off_thread(&trace, "explicit_parent", main);
    assert_eq!(parent.len(), 1, "one pool slice for the parent");
    let other = thread_track(&trace, "explicit-parent-other");
    let child = off_thread(&trace, "explicit_child", other);
    assert_eq!(child.len(), 1, "one pool slice for the child");
    let child_track = &trace.tracks[&child[0].track];
    assert_eq!(
        child_track.parent,
        Some(parent[0].track),
        "under its parent's pool slice: {child_track:?}"
    );
    assert!(parent[0].begin_ts <= child[0].begin_ts && child[0].end_ts <= parent[0].end_ts);
}
