//! Async programs as users write them, on tokio's multi-thread runtime: a request
//! handler that awaits traced children in sequence and with `join!`, spawns a
//! traced task, awaits a traced async block and holds an `async_span!` across an
//! `.await`. The oracle must show every child nested in its parent's slice (on the
//! parent's track, or on a lane beneath it), the spawn flow from the handler to the
//! task, and as many tracks as futures ran at once, not as many as ran.
//!
//! Every traced function records its output (`ret`), and every output names its
//! future: an end event closing the wrong slice on a track would put a `return`
//! on a slice it does not belong to, so the checks below catch overlap too.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;
use tg4p::Traced;
use tg4p_oracle::{Arg, DecodedTrace, Slice};

fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_time()
        .build()
        .unwrap()
}

fn record(name: &str, f: impl FnOnce()) -> DecodedTrace {
    let path = std::env::temp_dir().join(format!(
        "tg4p-nesting-{}-{name}.pftrace",
        std::process::id()
    ));
    let session = tg4p::open(&path).unwrap();
    f();
    let report = session.finish().unwrap();
    assert_eq!(report.events_dropped, 0);
    let trace = tg4p_oracle::decode_file(&path).unwrap();
    std::fs::remove_file(&path).ok();
    trace.assert_valid();
    trace
}

/// Yields to the runtime `n` times: the future is polled `n + 1` times.
async fn yields(n: usize) {
    for _ in 0..n {
        tokio::task::yield_now().await;
    }
}

#[tg4p::trace_args(ret)]
async fn lookup(key: u32) -> String {
    yields(1).await;
    format!("lookup {key}")
}

#[tg4p::trace_args(ret)]
async fn fetch(part: u32) -> String {
    // Both halves of the `join!` are pending at once: they overlap.
    yields(3).await;
    format!("fetch {part}")
}

#[tg4p::trace_args(ret)]
async fn audit(request: u32) -> String {
    tokio::time::sleep(Duration::from_micros(200)).await;
    format!("audit {request}")
}

#[tg4p::trace_args(ret)]
async fn handle(request: u32) -> String {
    let a = lookup(request).await;
    let b = lookup(request + 1).await;
    let (c, d) = tokio::join!(fetch(1), fetch(2));
    let task = tokio::spawn(audit(request));
    let e = async {
        yields(1).await;
        "block".to_string()
    }
    .traced("block")
    .ret()
    .await;
    let phase = tg4p::async_span!("phase", request = request);
    yields(2).await;
    drop(phase);
    let f = task.await.unwrap();
    format!("{a}|{b}|{c}|{d}|{e}|{f}")
}

/// The slice of `trace` whose `return` is `value`.
fn returning<'a>(trace: &'a DecodedTrace, name: &str, value: &str) -> Vec<&'a Slice> {
    trace
        .slices_named(name)
        .into_iter()
        .filter(|s| s.arg("return") == Some(&Arg::Str(value.into())))
        .collect()
}

fn contains(outer: &Slice, inner: &Slice) -> bool {
    outer.begin_ts <= inner.begin_ts && inner.end_ts.unwrap() <= outer.end_ts.unwrap()
}

/// Where `child` is relative to `parent`: on its track one level deeper, or at
/// the top of a lane (a child track) of the parent's track.
fn placed_under(trace: &DecodedTrace, parent: &Slice, child: &Slice) -> &'static str {
    assert!(
        contains(parent, child),
        "{:?} within {:?}",
        (child.name.as_deref(), child.begin_ts, child.end_ts),
        (parent.name.as_deref(), parent.begin_ts, parent.end_ts)
    );
    if child.track == parent.track {
        assert_eq!(child.depth, parent.depth + 1, "nested one level deeper");
        "nested"
    } else {
        assert_eq!(
            trace.tracks[&child.track].parent,
            Some(parent.track),
            "a lane is a child of its parent's track"
        );
        assert_eq!(child.depth, 0, "at the top of its lane");
        "lane"
    }
}

/// The arrows between the slices `a` and `b` (in either direction: the oracle
/// orders events by time, trace_processor orders the slices by their begins).
fn flows_between(trace: &DecodedTrace, a: &Slice, b: &Slice) -> usize {
    let events = |s: &Slice| [Some(s.begin_event), s.end_event];
    trace
        .flows()
        .iter()
        .filter(|f| {
            let ends = [Some(f.from_event), Some(f.to_event)];
            ends.iter().any(|e| events(a).contains(e)) && ends.iter().any(|e| events(b).contains(e))
        })
        .count()
}

/// Names of the tracks that are not thread or process tracks, with their counts.
fn plain_tracks(trace: &DecodedTrace) -> BTreeMap<String, usize> {
    let mut names = BTreeMap::new();
    for t in trace.tracks.values() {
        if matches!(t.kind, tg4p_oracle::TrackKind::Plain) {
            let name = t.name.clone().unwrap_or_default();
            let base = name.split(" #").next().unwrap_or_default().to_string();
            *names.entry(base).or_insert(0) += 1;
        }
    }
    names
}

#[test]
fn a_request_handler_nests_its_children_and_links_its_task() {
    let _s = serial();
    let out = std::sync::Mutex::new(String::new());
    let trace = record("handler", || {
        let r = runtime().block_on(async { tokio::spawn(handle(7)).await.unwrap() });
        *out.lock().unwrap() = r;
    });
    let out = out.into_inner().unwrap();
    assert_eq!(
        out, "lookup 7|lookup 8|fetch 1|fetch 2|block|audit 7",
        "the program's own result"
    );
    let handler = &trace.slices_named("handle")[0];
    assert_eq!(handler.arg("request"), Some(&Arg::Uint(7)));
    assert_eq!(handler.arg("return"), Some(&Arg::Str(out.clone())));
    assert_eq!(handler.depth, 0, "a task: top level on its track");
    // A task track of the pool: the pool's first track (a child of the process),
    // or one of its lanes (a child of the first), whichever was free.
    let process = trace.process_track(std::process::id() as i32).unwrap();
    let task_track = &trace.tracks[&handler.track];
    let first = match task_track.parent {
        Some(p) if p == process.uuid => task_track,
        Some(p) => &trace.tracks[&p],
        None => panic!("a task track has a parent"),
    };
    assert_eq!(first.name.as_deref(), Some("handle"));
    assert_eq!(first.parent, Some(process.uuid));

    // Awaited one after the other: both nested on the handler's own track.
    for key in [7, 8] {
        let l = returning(&trace, "lookup", &format!("lookup {key}"));
        assert_eq!(l.len(), 1, "lookup {key}");
        assert_eq!(placed_under(&trace, handler, l[0]), "nested");
    }
    // `join!`: the first nests, the second overlaps it and takes a lane.
    let f1 = returning(&trace, "fetch", "fetch 1")[0];
    let f2 = returning(&trace, "fetch", "fetch 2")[0];
    let mut places = [
        placed_under(&trace, handler, f1),
        placed_under(&trace, handler, f2),
    ];
    places.sort_unstable();
    assert_eq!(places, ["lane", "nested"]);
    assert!(
        f1.begin_ts < f2.end_ts.unwrap() && f2.begin_ts < f1.end_ts.unwrap(),
        "the halves of the join ran at once"
    );
    // The traced async block and the scope held across an `.await`.
    let block = returning(&trace, "block", "\"block\"");
    assert_eq!(block.len(), 1);
    assert_eq!(placed_under(&trace, handler, block[0]), "nested");
    let phase = &trace.slices_named("phase")[0];
    assert_eq!(phase.arg("request"), Some(&Arg::Uint(7)));
    assert_eq!(placed_under(&trace, handler, phase), "nested");
    assert!(phase.duration().unwrap() > 0);

    // The spawned task: its own pool track, a flow from the handler.
    let audit = returning(&trace, "audit", "audit 7");
    assert_eq!(audit.len(), 1);
    let audit = audit[0];
    assert_eq!(audit.depth, 0);
    assert!(
        trace.tracks[&audit.track]
            .name
            .as_deref()
            .is_some_and(|n| n.starts_with("audit")),
        "a track of the audit pool"
    );
    assert_eq!(flows_between(&trace, handler, audit), 1, "the spawn flow");
    assert!(
        handler.begin_ts < audit.begin_ts,
        "trace_processor draws it from the handler"
    );
    // No other flow: awaited children are not "spawned".
    assert_eq!(trace.flows().len(), 1, "{:?}", trace.flows());
    assert!(
        trace.dangling_flows().is_empty(),
        "{:?}",
        trace.dangling_flows()
    );
    // Every slice ended, and the tracks holding them are few: one per task, one
    // lane for the `join!`.
    let all = trace.slices();
    assert!(all.iter().all(|s| s.end_ts.is_some()));
    let used: BTreeSet<u64> = all.iter().map(|s| s.track).collect();
    assert_eq!(used.len(), 3, "the handler's, its lane, the audit's");
    assert!(used.contains(&handler.track) && used.contains(&audit.track));
    assert!(
        trace.merged_siblings().is_empty(),
        "{:?}",
        trace.merged_siblings()
    );
}

#[test]
fn ten_thousand_requests_sixty_four_at_a_time_reuse_their_tracks() {
    let _s = serial();
    const REQUESTS: u32 = 10_000;
    const AT_ONCE: u32 = 64;
    let trace = record("load", || {
        runtime().block_on(async {
            for round in 0..REQUESTS.div_ceil(AT_ONCE) {
                let first = round * AT_ONCE;
                let tasks: Vec<_> = (first..(first + AT_ONCE).min(REQUESTS))
                    .map(|r| tokio::spawn(handle(r)))
                    .collect();
                for t in tasks {
                    t.await.unwrap();
                }
            }
        });
    });
    let handlers = trace.slices_named("handle");
    assert_eq!(handlers.len(), REQUESTS as usize);
    // The tracks holding handlers (task tracks), and every track of the pool.
    let task_tracks: BTreeSet<u64> = handlers.iter().map(|s| s.track).collect();
    assert!(
        task_tracks.len() <= AT_ONCE as usize,
        "{} task tracks for {AT_ONCE} requests at once",
        task_tracks.len()
    );
    let tracks = plain_tracks(&trace);
    assert!(
        tracks["handle"] <= 2 * AT_ONCE as usize,
        "tasks and one lane each at most: {tracks:?}"
    );
    assert!(tracks["audit"] <= AT_ONCE as usize, "{tracks:?}");
    assert_eq!(
        tracks.keys().collect::<Vec<_>>(),
        ["audit", "handle"],
        "every child nests in its request's tracks"
    );
    // Every request: its children inside it, its task linked to it.
    let by_return = |name: &str| -> BTreeMap<String, &Slice> {
        trace
            .slices_named(name)
            .into_iter()
            .map(|s| match s.arg("return") {
                Some(Arg::Str(v)) => (v.clone(), s),
                other => panic!("{name}: return {other:?}"),
            })
            .collect()
    };
    let audits = by_return("audit");
    assert_eq!(audits.len(), REQUESTS as usize);
    let flows = trace.flows();
    assert_eq!(flows.len(), REQUESTS as usize, "one spawn flow per request");
    let all = trace.slices();
    let slice_of_event: BTreeMap<usize, &Slice> = all
        .iter()
        .flat_map(|s| [(s.begin_event, s), (s.end_event.unwrap(), s)])
        .collect();
    // Each flow's two slices, by their begin events.
    let pairs: BTreeSet<(usize, usize)> = flows
        .iter()
        .map(|f| {
            let (a, b) = (
                slice_of_event[&f.from_event].begin_event,
                slice_of_event[&f.to_event].begin_event,
            );
            (a.min(b), a.max(b))
        })
        .collect();
    let mut linked = 0;
    for h in &handlers {
        let request = match h.arg("request") {
            Some(Arg::Uint(v)) => v.to_string(),
            other => panic!("request {other:?}"),
        };
        let audit = audits[&format!("audit {request}")];
        let (a, b) = (h.begin_event, audit.begin_event);
        linked += pairs.contains(&(a.min(b), a.max(b))) as usize;
    }
    assert_eq!(
        linked, REQUESTS as usize,
        "each flow joins a request to its audit"
    );
    // Handlers by track, in begin order: a child's request is the last one that
    // began before it on its track (or on the track its lane extends).
    let mut by_track: BTreeMap<u64, Vec<&Slice>> = BTreeMap::new();
    for h in &handlers {
        by_track.entry(h.track).or_default().push(h);
    }
    for list in by_track.values_mut() {
        list.sort_by_key(|h| h.begin_ts);
    }
    for name in ["lookup", "fetch", "block", "phase"] {
        for s in trace.slices_named(name) {
            let around = |track: Option<u64>| {
                let list = by_track.get(&track?)?;
                let i = list.partition_point(|h| h.begin_ts <= s.begin_ts);
                let h = list.get(i.checked_sub(1)?)?;
                contains(h, s).then_some(*h)
            };
            let parent = around(Some(s.track))
                .or_else(|| around(trace.tracks[&s.track].parent))
                .unwrap_or_else(|| panic!("{name} at {} in no request", s.begin_ts));
            placed_under(&trace, parent, s);
        }
    }
}

/// Creates a traced task inside a traced sync function (as a request dispatcher
/// on a plain thread does) and hands it to the runtime.
#[tg4p::trace]
fn dispatch(rt: &tokio::runtime::Handle, request: u32) -> tokio::task::JoinHandle<String> {
    rt.spawn(audit(request))
}

#[test]
fn a_task_created_in_a_sync_slice_links_back_to_it() {
    let _s = serial();
    let rt = runtime();
    let trace = record("sync-origin", || {
        let task = dispatch(rt.handle(), 41);
        let scoped = {
            let _batch = tg4p::span!("batch");
            rt.spawn(audit(42))
        };
        let outside = rt.spawn(audit(43));
        rt.block_on(async {
            task.await.unwrap();
            scoped.await.unwrap();
            outside.await.unwrap();
        });
    });
    // `spawn` instants: (event index, event).
    let spawns: Vec<(usize, &tg4p_oracle::Event)> = trace
        .events
        .iter()
        .enumerate()
        .filter(|(_, e)| {
            e.kind == tg4p_oracle::EventKind::Instant && e.name.as_deref() == Some("spawn")
        })
        .collect();
    assert_eq!(spawns.len(), 2, "one per task created in a slice");
    let arrows = trace.flows();
    for (creator, request) in [("dispatch", 41), ("batch", 42)] {
        let creator = &trace.slices_named(creator)[0];
        let task = returning(&trace, "audit", &format!("audit {request}"))[0];
        // The flow leaves a `spawn` instant inside the creating slice, on the
        // thread's track, and ends at the task's slice.
        let inside: Vec<_> = spawns
            .iter()
            .filter(|(_, e)| {
                e.track == creator.track
                    && creator.begin_ts <= e.ts
                    && e.ts <= creator.end_ts.unwrap()
            })
            .collect();
        assert_eq!(inside.len(), 1, "one spawn instant in {:?}", creator.name);
        let (spawn, event) = inside[0];
        assert_eq!(event.arg("task"), Some(&Arg::Str("audit".into())));
        let linked = arrows
            .iter()
            .filter(|f| {
                let ends = [f.from_event, f.to_event];
                ends.contains(spawn) && ends.contains(&task.begin_event)
            })
            .count();
        assert_eq!(linked, 1, "the spawn flow of request {request}");
        assert_ne!(task.track, creator.track, "the task runs on its own track");
    }
    // Created outside any slice: no instant (counted above), no flow.
    let outside = returning(&trace, "audit", "audit 43")[0];
    let linked = arrows
        .iter()
        .filter(|f| [f.from_event, f.to_event].contains(&outside.begin_event))
        .count();
    assert_eq!(
        linked, 0,
        "a task created outside every slice has no origin"
    );
}
