//! The custom_packets example (the seed's example.py) checked event by event on the
//! trace it writes, decoded by the independent oracle.

mod common;
#[path = "../examples/custom_packets.rs"]
mod example;

use std::collections::BTreeMap;
use tg4p_oracle::{Arg, CounterValue, DecodedTrace, EventKind, TrackKind};

/// A readable path for every track: parents' names joined with "/", anonymous tracks
/// numbered among their siblings in declaration order ("#1", "#2").
fn track_paths(trace: &DecodedTrace) -> BTreeMap<u64, String> {
    let mut tracks: Vec<_> = trace.tracks.values().collect();
    tracks.sort_by_key(|t| t.packet_index);
    let mut paths = BTreeMap::new();
    let mut anonymous: BTreeMap<Option<u64>, usize> = BTreeMap::new();
    for t in tracks {
        let own = match t.display_name() {
            Some(name) => name.to_string(),
            None => {
                let n = anonymous.entry(t.parent).or_default();
                *n += 1;
                format!("#{n}")
            }
        };
        let path = match t.parent {
            Some(p) => format!("{}/{own}", paths[&p]),
            None => own,
        };
        paths.insert(t.uuid, path);
    }
    paths
}

/// (track path, ts, kind, name, args, flows)
type ExpectedEvent = (
    &'static str,
    u64,
    EventKind,
    Option<&'static str>,
    Vec<(&'static str, Arg)>,
    Vec<u64>,
);

fn s(v: &str) -> Arg {
    Arg::Str(v.into())
}

fn dict(entries: &[(&str, Arg)]) -> Arg {
    Arg::Dict(
        entries
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
    )
}

#[test]
fn example_trace_has_exactly_the_seed_events() {
    let trace = common::generate("custom_packets.pftrace", |tgen| {
        example::write_example(tgen).unwrap()
    });
    let paths = track_paths(&trace);

    // The track tree.
    let mut tree: Vec<(&str, &TrackKind)> = trace
        .tracks
        .values()
        .map(|t| (paths[&t.uuid].as_str(), &t.kind))
        .collect();
    tree.sort_by_key(|(p, _)| *p);
    let names: Vec<_> = tree.iter().map(|(p, _)| *p).collect();
    assert_eq!(
        names,
        [
            "aaa",
            "aaa/bbb",
            "aaa/ddd",
            "aaa/example_track",
            "abc.2",
            "abc.2/XX",
            "abc.2/XX/#1",
            "abc.2/XX/#2",
            "bbb",
            "vvv",
            "vvv/bbb2",
            "vvv/ddd2",
            "vvv/ddd3",
        ]
    );
    let mut pids = Vec::new();
    for (path, kind) in &tree {
        match (*path, kind) {
            ("aaa" | "vvv" | "abc.2", TrackKind::Process { pid, name }) => {
                assert_eq!(name.as_deref(), Some(*path));
                pids.push(*pid);
            }
            ("bbb" | "aaa/bbb" | "vvv/bbb2", TrackKind::Counter) => {}
            (_, TrackKind::Plain)
                if !matches!(
                    *path,
                    "aaa" | "vvv" | "abc.2" | "bbb" | "aaa/bbb" | "vvv/bbb2"
                ) => {}
            _ => panic!("{path}: unexpected kind {kind:?}"),
        }
    }
    pids.sort();
    pids.dedup();
    assert_eq!(pids.len(), 3, "each group its own pid");
    assert!(
        pids.iter()
            .all(|&p| p > 0 && p != std::process::id() as i32)
    );

    // Every event, in the order the example writes them.
    use EventKind::*;
    let int = |v| Counter(CounterValue::Int(v));
    let aaa_bbb_ddd = vec![("aaa", s("bbb")), ("ccc", s("ddd"))];
    let none = Vec::<(&str, Arg)>::new();
    #[rustfmt::skip]
    let expected: Vec<ExpectedEvent> = vec![
        ("aaa/example_track", 100, SliceBegin, Some("SOME_TRACK"), none.clone(), vec![]),
        ("aaa/example_track", 250, SliceEnd, None, none.clone(), vec![4]),
        ("bbb", 0, int(3), None, none.clone(), vec![]),
        ("bbb", 200, int(5), None, none.clone(), vec![]),
        ("bbb", 400, int(7), None, none.clone(), vec![]),
        ("bbb", 700, int(2), None, none.clone(), vec![]),
        ("aaa/bbb", 0, int(2), None, none.clone(), vec![]),
        ("aaa/bbb", 200, int(4), None, none.clone(), vec![]),
        ("aaa/bbb", 400, int(5), None, none.clone(), vec![]),
        ("aaa/bbb", 700, int(1), None, none.clone(), vec![]),
        ("aaa/ddd", 100, SliceBegin, Some("WXX"), none.clone(), vec![]),
        ("aaa/ddd", 300, SliceEnd, None, none.clone(), vec![3]),
        ("vvv/bbb2", 0, int(2), None, none.clone(), vec![]),
        ("vvv/bbb2", 300, int(400), None, none.clone(), vec![]),
        ("vvv/bbb2", 400, int(500), None, none.clone(), vec![]),
        ("vvv/bbb2", 700, int(1000), None, none.clone(), vec![]),
        ("vvv/ddd3", 200, Instant, Some("WXYZ"), none.clone(), vec![]),
        ("vvv/ddd2", 222, SliceBegin, Some("XXX"), none.clone(), vec![]),
        ("vvv/ddd3", 300, SliceBegin, Some("WXX3"), aaa_bbb_ddd.clone(), vec![]),
        ("vvv/ddd3", 300, Instant, Some("ABCDE"), vec![("aaa", s("bbb")), ("ccc", s("xxx"))], vec![]),
        ("vvv/ddd2", 333, SliceEnd, None, none.clone(), vec![]),
        ("vvv/ddd3", 400, SliceBegin, Some("WXX4"), aaa_bbb_ddd.clone(), vec![3, 4]),
        ("vvv/ddd3", 400, Instant, Some("ABCDE"), none.clone(), vec![]),
        ("vvv/ddd3", 600, Instant, Some("ADE"), vec![
            ("aaa", s("abc")),
            ("ccc", s("xxx")),
            ("eee", dict(&[("aaa", s("abc")), ("ccc", s("ddd"))])),
        ], vec![]),
        ("vvv/ddd3", 670, SliceEnd, None, none.clone(), vec![2]),
        ("vvv/ddd3", 700, Instant, Some("ADE2"), vec![
            ("aaa", s("abc")),
            ("ccc", Arg::Array(vec![
                Arg::Int(1), Arg::Int(2), Arg::Int(3), Arg::Int(4), s("a"), s("b"),
                dict(&[("abcdef", s("fdsa")), ("ggg", Arg::Bool(true))]),
            ])),
            ("eee", dict(&[
                ("aaa", s("abc")),
                ("ccc", Arg::Bool(true)),
                ("eee", dict(&[("fff", s("ggg")), ("hhh", Arg::Int(0x1234567))])),
            ])),
            ("jjj", s("kkk")),
        ], vec![2]),
        ("vvv/ddd3", 900, SliceEnd, None, none.clone(), vec![1]),
        ("vvv/ddd2", 900, SliceBegin, Some("WXX2"), aaa_bbb_ddd.clone(), vec![1]),
        ("vvv/ddd2", 1000, SliceEnd, None, none.clone(), vec![]),
        ("abc.2/XX/#1", 100, SliceBegin, Some("X"), none.clone(), vec![]),
        ("abc.2/XX/#2", 300, SliceBegin, Some("Y"), none.clone(), vec![]),
        ("abc.2/XX/#1", 500, SliceEnd, None, none.clone(), vec![]),
        ("abc.2/XX/#2", 600, SliceEnd, None, none.clone(), vec![]),
    ];
    assert_eq!(trace.events.len(), expected.len());
    for (i, (event, (path, ts, kind, name, args, flows))) in
        trace.events.iter().zip(expected).enumerate()
    {
        let args: Vec<(String, Arg)> = args.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        assert_eq!(
            (
                paths[&event.track].as_str(),
                event.ts,
                event.kind,
                event.name.as_deref(),
                &event.args,
                &event.flows
            ),
            (path, ts, kind, name, &args, &flows),
            "event {i}"
        );
        assert!(event.terminating_flows.is_empty() && event.categories.is_empty());
    }

    // The arrows: 4 and 3 from the ends of SOME_TRACK and WXX into WXX4, 2 from the
    // end of WXX4 into ADE2, 1 from the end of WXX3 into WXX2.
    let label = |i: usize| {
        let e = &trace.events[i];
        format!("{} {} {:?}", paths[&e.track], e.ts, e.kind)
    };
    let mut arrows: Vec<_> = trace
        .flows()
        .iter()
        .map(|a| (a.id, label(a.from_event), label(a.to_event)))
        .collect();
    arrows.sort();
    assert_eq!(
        arrows,
        [
            (
                1,
                "vvv/ddd3 900 SliceEnd".into(),
                "vvv/ddd2 900 SliceBegin".into()
            ),
            (
                2,
                "vvv/ddd3 670 SliceEnd".into(),
                "vvv/ddd3 700 Instant".into()
            ),
            (
                3,
                "aaa/ddd 300 SliceEnd".into(),
                "vvv/ddd3 400 SliceBegin".into()
            ),
            (
                4,
                "aaa/example_track 250 SliceEnd".into(),
                "vvv/ddd3 400 SliceBegin".into()
            ),
        ]
    );

    // And the slices they form, per track.
    let mut slices: Vec<_> = trace
        .slices()
        .iter()
        .map(|s| {
            (
                paths[&s.track].clone(),
                s.name.clone().unwrap(),
                s.begin_ts,
                s.end_ts.unwrap(),
                s.depth,
            )
        })
        .collect();
    slices.sort();
    let expected_slices: Vec<(String, String, u64, u64, u32)> = [
        ("aaa/ddd", "WXX", 100, 300, 0),
        ("aaa/example_track", "SOME_TRACK", 100, 250, 0),
        ("abc.2/XX/#1", "X", 100, 500, 0),
        ("abc.2/XX/#2", "Y", 300, 600, 0),
        ("vvv/ddd2", "WXX2", 900, 1000, 0),
        ("vvv/ddd2", "XXX", 222, 333, 0),
        ("vvv/ddd3", "WXX3", 300, 900, 0),
        ("vvv/ddd3", "WXX4", 400, 670, 1),
    ]
    .iter()
    .map(|(p, n, b, e, d)| (p.to_string(), n.to_string(), *b, *e, *d))
    .collect();
    assert_eq!(slices, expected_slices);
}
