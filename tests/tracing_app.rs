//! The tracing_app example's trace, decoded with the oracle: a tokio program
//! instrumented with `tracing` only (and one `#[tg4p::trace]` function), recorded by
//! `tg4p::TracingLayer`.

#[path = "../examples/tracing_app.rs"]
#[allow(dead_code)]
mod example;

use tg4p_oracle::{Arg, EventKind, Slice, TrackKind};

#[test]
fn tracing_app_trace_has_the_expected_tree() {
    let path =
        std::env::temp_dir().join(format!("tg4p-tracing-app-{}.pftrace", std::process::id()));
    example::install().expect("install the layer");
    let report = example::run(&path).expect("the example runs");
    assert_eq!(report.events_dropped, 0);
    let trace = tg4p_oracle::decode_file(&path).expect("decodes");
    std::fs::remove_file(&path).ok();
    trace.assert_valid();
    assert_eq!(report.events_written as usize, trace.events.len());

    let process = trace.process_track(std::process::id() as i32).unwrap();
    let is_thread = |uuid: u64| {
        trace
            .tracks
            .get(&uuid)
            .is_some_and(|t| matches!(t.kind, TrackKind::Thread { .. }))
    };
    // A pool's first track is a child of the process; its lanes (`NAME #2`, ...)
    // are children of that track, as lanes of every track are.
    let on_pool = |s: &&Slice| {
        let mut t = &trace.tracks[&s.track];
        while let Some(parent) = t.parent.filter(|&p| p != process.uuid) {
            t = &trace.tracks[&parent];
        }
        t.parent == Some(process.uuid) && matches!(t.kind, TrackKind::Plain)
    };

    // One pool slice per request, from first poll to end, with its fields.
    let requests: Vec<&Slice> = trace
        .slices_named("handle_request")
        .into_iter()
        .filter(on_pool)
        .collect();
    assert_eq!(requests.len(), 8);
    let mut ids: Vec<u64> = requests
        .iter()
        .map(|s| match s.arg("id") {
            Some(Arg::Uint(id)) => *id,
            other => panic!("id arg: {other:?}"),
        })
        .collect();
    ids.sort();
    assert_eq!(ids, (0..8).collect::<Vec<_>>());
    for s in &requests {
        let Some(Arg::Uint(id)) = s.arg("id") else {
            unreachable!()
        };
        let status = if id % 4 == 3 { "slow" } else { "ok" };
        assert_eq!(s.arg("status"), Some(&Arg::Str(status.into())), "{s:?}");
    }
    assert_eq!(
        trace
            .slices_named("request_task")
            .into_iter()
            .filter(on_pool)
            .count(),
        8
    );

    // `parse` (#[instrument], sync) and `checksum` (#[tg4p::trace]) nest in the
    // polls of `handle_request` on the worker threads' tracks.
    let polls: Vec<&Slice> = trace
        .slices_named("handle_request")
        .into_iter()
        .filter(|s| is_thread(s.track))
        .collect();
    assert!(polls.len() >= 16, "polls: {}", polls.len());
    for name in ["parse", "checksum"] {
        let inner = trace.slices_named(name);
        assert_eq!(inner.len(), 8, "{name}");
        for s in inner {
            assert!(is_thread(s.track) && s.depth >= 1, "{name}: {s:?}");
            assert!(
                polls.iter().any(|p| p.track == s.track
                    && p.begin_ts <= s.begin_ts
                    && s.end_ts <= p.end_ts),
                "{name} inside a poll of handle_request"
            );
        }
    }
    let parse = trace.slices_named("parse")[0];
    assert!(matches!(parse.arg("len"), Some(Arg::Uint(_) | Arg::Int(_))));

    // The batch: one pool slice, its size recorded at the end, a flow from accept.
    let batch: Vec<&Slice> = trace
        .slices_named("batch")
        .into_iter()
        .filter(on_pool)
        .collect();
    assert_eq!(batch.len(), 1);
    assert_eq!(batch[0].arg("size"), Some(&Arg::Int(8)));
    // The name of the slice an event begins or ends, or of the instant it is.
    let name = |i: usize| {
        trace
            .slices()
            .iter()
            .find(|s| s.begin_event == i || s.end_event == Some(i))
            .and_then(|s| s.name.clone())
            .or_else(|| trace.events[i].name.clone())
            .unwrap_or_default()
    };
    assert!(
        trace
            .flows()
            .iter()
            .any(|f| name(f.from_event) == "accept" && name(f.to_event) == "batch"),
        "a flow from accept to batch: {:?}",
        trace.flows()
    );

    // Events at several levels, and the log record, as instants with typed args.
    let listening: Vec<_> = trace.events_named("listening").collect();
    assert_eq!(listening.len(), 1);
    let l = listening[0];
    assert_eq!(l.kind, EventKind::Instant);
    assert_eq!(l.arg("port"), Some(&Arg::Int(8080)));
    assert_eq!(l.arg("ready"), Some(&Arg::Bool(true)));
    assert_eq!(l.arg("load"), Some(&Arg::Double(0.25)));
    // The level is the second category, after the target (`slice.category`
    // reads `TARGET,LEVEL`), for events as for spans.
    let level = |e: &tg4p_oracle::Event| e.categories.last().cloned().unwrap_or_default();
    assert!(level(l).ends_with(",INFO"), "{:?}", l.categories);
    assert_eq!(l.arg("level"), None, "no per-event arg for it");
    let slow: Vec<_> = trace.events_named("slow request").collect();
    assert_eq!(slow.len(), 2);
    assert!(slow.iter().all(|e| level(e).ends_with(",WARN")));
    assert_eq!(trace.events_named("parsed").count(), 8);
    assert!(
        trace
            .events_named("parsed")
            .all(|e| level(e).ends_with(",DEBUG"))
    );
    assert_eq!(
        trace
            .events_named("starting: a log record, through tracing-log")
            .count(),
        1
    );
}
