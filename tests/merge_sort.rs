//! The merge_sort example's trace, decoded with the independent oracle, holds
//! exactly what issue 3 specifies.

#[path = "../examples/merge_sort.rs"]
#[allow(dead_code)]
mod example;

use tg4p_oracle::{Arg, EventKind, TrackKind};

#[test]
fn merge_sort_trace_has_the_exact_figures() {
    let path = std::env::temp_dir().join(format!("tg4p-merge-sort-{}.pftrace", std::process::id()));
    let report = example::run(&path).expect("example runs");
    assert_eq!(report.events_dropped, 0);
    let trace = tg4p_oracle::decode_file(&path).expect("decodes");
    trace.assert_valid();
    assert_eq!(report.events_written as usize, trace.events.len());

    // Tracks: one process, 7 named threads under it, one TOP_TRACK.
    let pid = std::process::id() as i32;
    let process = trace.process_track(pid).expect("process track");
    let threads: Vec<_> = trace
        .tracks
        .values()
        .filter(|t| matches!(t.kind, TrackKind::Thread { .. }))
        .collect();
    assert_eq!(threads.len(), 7);
    for t in &threads {
        let TrackKind::Thread { pid: p, tid, name } = &t.kind else {
            unreachable!()
        };
        assert_eq!(*p, pid);
        assert!(*tid > 0);
        assert!(
            name.as_deref().is_some_and(|n| !n.is_empty()),
            "thread {tid} unnamed"
        );
        assert_eq!(t.parent, Some(process.uuid));
    }
    let worker_names = threads
        .iter()
        .filter(|t| {
            t.display_name()
                .is_some_and(|n| n.starts_with("sort-worker-"))
        })
        .count();
    assert_eq!(worker_names, 6);
    let top = trace.track_by_name("TOP_TRACK");
    assert_eq!(top.len(), 1);
    let top = top[0].uuid;
    assert!(
        trace.children(top).is_empty(),
        "no lanes needed: no overlap across threads"
    );

    let slices = trace.slices();
    let thread_uuids: Vec<u64> = threads.iter().map(|t| t.uuid).collect();
    let named = |n: &'static str| slices.iter().filter(move |s| s.name.as_deref() == Some(n));
    assert_eq!(named("merge_sort").count(), 63);
    assert!(named("merge_sort").all(|s| thread_uuids.contains(&s.track)));
    assert_eq!(named("merge").count(), 31);
    for m in named("merge") {
        let names: Vec<&str> = m.args.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["x", "a", "b"]);
        for (_, v) in &m.args {
            let Arg::Str(text) = v else {
                panic!("arg {v:?} is not a string")
            };
            assert!(text.starts_with('['));
            assert!(
                text.len() <= tg4p::ARG_VALUE_LIMIT + 64,
                "bounded: {}",
                text.len()
            );
        }
        let src = m.source.as_ref().expect("merge has a source location");
        assert!(src.file.ends_with("merge_sort.rs"));
        assert!(src.function.ends_with("::merge"), "{}", src.function);
        assert!(src.line > 0);
    }
    // Every slice has its source location; `#[trace]` ones know their function.
    assert!(slices.iter().all(|s| s.source.is_some()));
    assert!(named("merge_sort").all(|s| {
        s.source
            .as_ref()
            .unwrap()
            .function
            .ends_with("::merge_sort")
    }));
    // Slices nest: every merge is inside a merge_sort on its track.
    assert!(named("merge").all(|m| m.depth >= 1));

    let instants = |n: &'static str| {
        trace
            .events
            .iter()
            .filter(move |e| e.kind == EventKind::Instant && e.name.as_deref() == Some(n))
    };
    assert_eq!(instants("INVOKE_THREAD").count(), 6);
    assert_eq!(instants("START_THREAD").count(), 12);
    assert_eq!(
        instants("START_THREAD").filter(|e| e.track == top).count(),
        6
    );
    assert_eq!(instants("CHECKING").count(), 1);
    let checking = instants("CHECKING").next().unwrap();
    assert!(matches!(checking.arg("final_result"), Some(Arg::Str(s)) if s.contains("truncated")));

    let samples: Vec<_> = trace
        .events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Counter(_)))
        .collect();
    assert_eq!(samples.len(), 12);
    let counter_tracks = trace.track_by_name("num_active_threads");
    assert_eq!(counter_tracks.len(), 1);
    assert!(counter_tracks[0].is_counter());
    assert!(samples.iter().all(|e| e.track == counter_tracks[0].uuid));

    let flows = trace.flows();
    assert_eq!(flows.len(), 13);
    assert!(trace.dangling_flows().is_empty());
    for f in &flows {
        let (from, to) = (&trace.events[f.from_event], &trace.events[f.to_event]);
        match from.name.as_deref() {
            Some("INVOKE_THREAD") => assert_eq!(to.name.as_deref(), Some("START_THREAD")),
            _ => {
                // SORT -> VALIDATE, written with the slices' ends.
                assert_eq!(from.kind, EventKind::SliceEnd);
                assert_eq!(to.kind, EventKind::SliceEnd);
                assert_eq!(from.track, top);
                assert_eq!(to.track, top);
            }
        }
    }
    let sort = named("SORT").next().expect("SORT");
    let validate = named("VALIDATE").next().expect("VALIDATE");
    assert_eq!(sort.track, top);
    assert!(sort.end_ts.unwrap() <= validate.begin_ts);
    let v = named("validate").next().expect("validate");
    assert_eq!(
        (v.track, v.depth),
        (top, 1),
        "validate nests in VALIDATE on TOP_TRACK"
    );
    std::fs::remove_file(&path).ok();
}
