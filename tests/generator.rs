//! TraceGenerator end to end: every trace is decoded by the independent oracle
//! (Perfetto's protos) and checked against trace_processor's rules
//! (`assert_valid`: interned ids defined before use, no unknown fields, balanced
//! slices, counter descriptors first, ...), then asserted on.

mod common;

use common::*;
use tg4p::generator::{Extras, GeneratorError, TraceGenerator};
use tg4p::{FlowId, Value, args};
use tg4p_oracle::{Arg, CounterValue, EventKind, TrackKind};

#[test]
fn track_tree_and_names() {
    let mut uuids = Vec::new();
    let trace = generate("tree.pftrace", |tgen| {
        let a = tgen.create_group_with_track("alpha", "alpha main");
        let b = tgen.create_group("beta");
        let nested = b.create_group("nested");
        let (t1, t2) = (
            nested.create_anonymous_track(),
            nested.create_anonymous_track(),
        );
        let inner = nested.create_group("inner");
        let named = a.create_track("alpha child");
        let counter = a.create_counter_track("alpha counter");
        let global = tgen.create_track("global");
        let global_counter = tgen.create_counter_track("global counter");
        uuids = vec![
            a.uuid(),
            a.track().uuid(),
            b.uuid(),
            b.track().uuid(),
            nested.uuid(),
            t1.uuid(),
            t2.uuid(),
            inner.uuid(),
            named.uuid(),
            counter.uuid(),
            global.uuid(),
            global_counter.uuid(),
        ];
        assert_ne!(a.pid(), b.pid());
        assert_eq!(nested.pid(), b.pid());
        // Events on each kind of track so that sequences start everywhere.
        a.instant(1, "on alpha main").unwrap();
        b.instant(1, "on beta itself").unwrap();
        nested.instant(1, "on nested").unwrap();
        t1.instant(1, "t1").unwrap();
        t2.instant(1, "t2").unwrap();
    });
    let [
        alpha,
        alpha_main,
        beta,
        beta_events,
        nested,
        t1,
        t2,
        inner,
        named,
        counter,
        global,
        global_counter,
    ] = uuids[..]
    else {
        unreachable!()
    };
    assert_eq!(trace.tracks.len(), 11);
    assert!(uuids.iter().all(|&u| u != 0));

    let a = &trace.tracks[&alpha];
    let b = &trace.tracks[&beta];
    let (TrackKind::Process { pid: pa, name: na }, TrackKind::Process { pid: pb, name: nb }) =
        (&a.kind, &b.kind)
    else {
        panic!("groups must be process tracks: {a:?} {b:?}");
    };
    assert_eq!(
        (na.as_deref(), nb.as_deref()),
        (Some("alpha"), Some("beta"))
    );
    assert!(*pa > 0 && *pb > 0 && pa != pb && *pa != std::process::id() as i32);
    assert_eq!((a.parent, b.parent), (None, None));

    let child = |uuid: u64, parent: u64, name: Option<&str>, kind: TrackKind| {
        let t = &trace.tracks[&uuid];
        assert_eq!(
            (t.parent, t.name.as_deref(), &t.kind),
            (Some(parent), name, &kind),
            "{t:?}"
        );
    };
    child(alpha_main, alpha, Some("alpha main"), TrackKind::Plain);
    child(named, alpha, Some("alpha child"), TrackKind::Plain);
    child(counter, alpha, Some("alpha counter"), TrackKind::Counter);
    child(nested, beta, Some("nested"), TrackKind::Plain);
    child(t1, nested, None, TrackKind::Plain);
    child(t2, nested, None, TrackKind::Plain);
    child(inner, nested, Some("inner"), TrackKind::Plain);
    assert_eq!(
        beta_events, beta,
        "a group without track name carries its events itself"
    );
    let g = &trace.tracks[&global];
    assert_eq!(
        (g.parent, g.name.as_deref(), &g.kind),
        (None, Some("global"), &TrackKind::Plain)
    );
    let gc = &trace.tracks[&global_counter];
    assert_eq!(
        (gc.parent, gc.name.as_deref(), &gc.kind),
        (None, Some("global counter"), &TrackKind::Counter)
    );

    let on = |name: &str| trace.events_named(name).next().unwrap().track;
    assert_eq!(on("on alpha main"), alpha_main);
    assert_eq!(on("on beta itself"), beta);
    assert_eq!(on("on nested"), nested);
    assert_eq!((on("t1"), on("t2")), (t1, t2));
}

#[test]
fn slices_nest_and_balance_per_track() {
    let mut ids = (0, 0);
    let trace = generate("slices.pftrace", |tgen| {
        let g = tgen.create_group("g");
        let (a, b) = (g.create_track("a"), g.create_track("b"));
        ids = (a.uuid(), b.uuid());
        // Interleaved across tracks, out of order across tracks.
        a.open(1_000, "outer").unwrap();
        b.open(50, "b1").unwrap();
        a.open(1_100, "inner").unwrap();
        a.instant(1_150, "mark").unwrap();
        b.close(60).unwrap();
        a.close(1_200).unwrap();
        a.close(1_300).unwrap();
        b.open(60, "b2").unwrap(); // equal timestamps are fine
        b.close(60).unwrap();
    });
    let a = trace.slices_on(ids.0);
    let got: Vec<_> = a
        .iter()
        .map(|s| (s.name.as_deref().unwrap(), s.begin_ts, s.end_ts, s.depth))
        .collect();
    assert_eq!(
        got,
        [
            ("outer", 1_000, Some(1_300), 0),
            ("inner", 1_100, Some(1_200), 1)
        ]
    );
    let b = trace.slices_on(ids.1);
    let got: Vec<_> = b
        .iter()
        .map(|s| (s.name.as_deref().unwrap(), s.begin_ts, s.end_ts))
        .collect();
    assert_eq!(got, [("b1", 50, Some(60)), ("b2", 60, Some(60))]);
    let mark = &trace.events[event_index(&trace, "mark", 1_150)];
    assert_eq!((mark.kind, mark.track), (EventKind::Instant, ids.0));
}

#[test]
fn counters_keep_ints_and_floats_apart() {
    let mut uuid = 0;
    let trace = generate("counters.pftrace", |tgen| {
        let c = tgen.create_counter_track("c");
        uuid = c.uuid();
        c.count(0, 0).unwrap();
        c.count(1, -5i64).unwrap();
        c.count(2, i64::MAX).unwrap();
        c.count(3, u32::MAX).unwrap();
        c.count(4, 2.5).unwrap();
        c.count(5, 0.0f32).unwrap();
        c.count(6, f64::NAN).unwrap();
        c.count(7, f64::NEG_INFINITY).unwrap();
        c.count(7, 1e300).unwrap();
    });
    let got: Vec<_> = trace.events_on(uuid).map(|e| (e.ts, e.kind)).collect();
    use CounterValue::*;
    let expected = [
        (0, Int(0)),
        (1, Int(-5)),
        (2, Int(i64::MAX)),
        (3, Int(u32::MAX as i64)),
        (4, Double(2.5)),
        (5, Double(0.0)),
        (6, Double(f64::NAN)),
        (7, Double(f64::NEG_INFINITY)),
        (7, Double(1e300)),
    ];
    assert_eq!(got.len(), expected.len());
    for ((ts, kind), (ets, evalue)) in got.into_iter().zip(expected) {
        let EventKind::Counter(value) = kind else {
            panic!("not a counter: {kind:?}")
        };
        assert_eq!(ts, ets);
        match (value, evalue) {
            (Int(a), Int(b)) => assert_eq!(a, b),
            (Double(a), Double(b)) => assert_eq!(a.to_bits(), b.to_bits()),
            _ => panic!("at {ts}: wrote {evalue:?}, decoded {value:?}"),
        }
    }
}

#[test]
fn flows_connect_the_intended_events() {
    let mut tracks = (0, 0);
    let (f, g, raw) = (FlowId::new(), FlowId::new(), FlowId::from(77));
    let trace = generate("flows.pftrace", |tgen| {
        assert_ne!(tgen.new_flow(), tgen.new_flow());
        let (a, b) = (tgen.create_track("a"), tgen.create_track("b"));
        tracks = (a.uuid(), b.uuid());
        a.open_with(10, "send", &[f]).unwrap();
        a.close_with(20, &[g]).unwrap(); // g leaves from the end of "send"
        b.instant_with(30, "relay", &[f]).unwrap(); // f continues
        b.open_with(40, "recv", Extras::new().terminating_flows(&[f, g]))
            .unwrap();
        b.close(50).unwrap();
        a.instant_with(60, "raw out", Extras::new().flows(&[raw]))
            .unwrap();
        b.instant_with(70, "raw in", Extras::new().terminating_flows(&[raw]))
            .unwrap();
    });
    let send = event_index(&trace, "send", 10);
    let send_end = event_where(&trace, tracks.0, 20, |e| e.kind == EventKind::SliceEnd);
    let relay = event_index(&trace, "relay", 30);
    let recv = event_index(&trace, "recv", 40);
    let (raw_out, raw_in) = (
        event_index(&trace, "raw out", 60),
        event_index(&trace, "raw in", 70),
    );
    assert_eq!(trace.events[recv].terminating_flows, [f.raw(), g.raw()]);
    let mut arrows: Vec<_> = trace
        .flows()
        .iter()
        .map(|a| (a.id, a.from_event, a.to_event))
        .collect();
    arrows.sort();
    let mut expected = vec![
        (f.raw(), send, relay),
        (f.raw(), relay, recv),
        (g.raw(), send_end, recv),
        (77, raw_out, raw_in),
    ];
    expected.sort();
    assert_eq!(arrows, expected);
    assert!(
        trace.dangling_flows().is_empty(),
        "{:?}",
        trace.dangling_flows()
    );
}

#[test]
fn annotations_round_trip_nested() {
    let values = [
        args!({"s": "text", "b": false, "i": -42, "u": u64::MAX, "d": 0.25}),
        args!({"nested": {"a": [1, [2, [3, {"deep": true}]]], "e": {}, "ea": []}}),
        args!({"mixed": [1, "a", 2.5, true, {"k": [[], {}]}], "dup": 1, "dup": 2}),
        args!({"weird names": 1, "a.b[c]": 2, "": "empty name", "nul\0name": "nul\0value"}),
        args!({"nan": f64::NAN, "inf": f64::INFINITY, "min": i64::MIN}),
    ];
    let mut uuid = 0;
    let trace = generate("annotations.pftrace", |tgen| {
        let t = tgen.create_track("t");
        uuid = t.uuid();
        for (i, v) in values.iter().enumerate() {
            let ts = 100 * i as u64;
            t.open_with(ts, "open", v).unwrap();
            t.instant_with(ts + 1, "instant", v).unwrap();
            t.close_with(ts + 2, v).unwrap();
        }
    });
    let events: Vec<_> = trace.events_on(uuid).collect();
    assert_eq!(events.len(), 3 * values.len());
    for (event, value) in events.iter().zip(values.iter().flat_map(|v| [v, v, v])) {
        let expected = expected_args(value);
        assert_eq!(event.args.len(), expected.len(), "{event:?}");
        for ((k1, v1), (k2, v2)) in event.args.iter().zip(&expected) {
            assert_eq!(k1, k2);
            assert!(same_arg(v1, v2), "{k1}: decoded {v1:?}, wrote {v2:?}");
        }
    }
}

#[test]
fn the_seed_readme_value_has_integer_first() {
    let v = args!({"ccc": [1, 2, 3, 4, "a", "b", {"abcdef": "fdsa", "ggg": true}]});
    let trace = generate("readme_value.pftrace", |tgen| {
        tgen.create_track("t").instant_with(1, "x", &v).unwrap();
    });
    let ccc = trace.events[0].arg("ccc").unwrap();
    let Arg::Array(items) = ccc else {
        panic!("{ccc:?}")
    };
    assert_eq!(items[0], Arg::Int(1));
    assert_eq!(items[6].get("ggg"), Some(&Arg::Bool(true)));
}

#[test]
fn names_are_interned_once_per_track() {
    // Many events reusing a few names: the trace stays small, and every event decodes
    // with its name (the oracle checks each iid is defined before use).
    let path = temp_path("interning.pftrace");
    let tgen = TraceGenerator::create(&path).unwrap();
    let (a, b) = (tgen.create_track("a"), tgen.create_track("b"));
    for i in 0..10_000u64 {
        let name = ["alpha_name", "beta_name", "gamma_name"][i as usize % 3];
        a.instant(i, name).unwrap();
        b.instant_with(i, name, &args!({"argument_name": i}))
            .unwrap();
    }
    tgen.finish().unwrap();
    let bytes = std::fs::metadata(&path).unwrap().len();
    let trace = tg4p_oracle::decode_file(&path).unwrap();
    trace.assert_valid();
    assert_eq!(trace.events.len(), 20_000);
    for (i, pair) in trace.events.chunks(2).enumerate() {
        let name = ["alpha_name", "beta_name", "gamma_name"][i % 3];
        assert!(pair.iter().all(|e| e.name.as_deref() == Some(name)));
        assert_eq!(pair[1].arg("argument_name"), Some(&Arg::Uint(i as u64)));
    }
    // Without interning each event would carry its ~10-byte name (and the argument
    // events their 13-byte argument name): 14 and 23 bytes per event with it.
    assert!(bytes < 10_000 * (14 + 23) + 1_000, "{bytes} bytes");
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn events_named_by_name_id() {
    // `NameId`s name events as their text does, on their own track only; refused
    // calls (another track's id, a decreasing timestamp) write nothing.
    let mut refusals = Vec::new();
    let trace = generate("name_id.pftrace", |tgen| {
        let (a, b) = (tgen.create_track("a"), tgen.create_track("b"));
        assert_eq!(a.name_id("x"), None);
        a.instant(10, "x").unwrap();
        a.open(11, "y").unwrap();
        let (x, y) = (a.name_id("x").unwrap(), a.name_id("y").unwrap());
        assert_ne!(x, y);
        assert_eq!(b.name_id("x"), None);
        a.open_id(12, y).unwrap();
        a.instant_id(13, x).unwrap();
        refusals.push(b.open_id(14, x).unwrap_err());
        refusals.push(b.instant_id(14, y).unwrap_err());
        refusals.push(a.open_id(9, x).unwrap_err());
        a.close(15).unwrap();
        a.close(16).unwrap();
        // An id made before many other names keeps naming its event.
        for i in 0..100 {
            b.instant(20 + i, &format!("name {i}")).unwrap();
        }
        let first = b.name_id("name 0").unwrap();
        b.instant_id(200, first).unwrap();
        a.open_id(300, x).unwrap();
        a.close(301).unwrap();
    });
    assert!(
        matches!(
            refusals[..],
            [
                GeneratorError::ForeignName,
                GeneratorError::ForeignName,
                GeneratorError::TimestampDecreased {
                    previous: 13,
                    timestamp: 9
                }
            ]
        ),
        "{refusals:?}"
    );
    let a: Vec<_> = trace
        .events
        .iter()
        .filter(|e| e.ts < 20 || e.ts >= 300)
        .map(|e| (e.ts, e.kind, e.name.clone()))
        .collect();
    let named = |ts, kind, name: &str| (ts, kind, Some(name.to_string()));
    assert_eq!(
        a,
        [
            named(10, EventKind::Instant, "x"),
            named(11, EventKind::SliceBegin, "y"),
            named(12, EventKind::SliceBegin, "y"),
            named(13, EventKind::Instant, "x"),
            (15, EventKind::SliceEnd, None),
            (16, EventKind::SliceEnd, None),
            named(300, EventKind::SliceBegin, "x"),
            (301, EventKind::SliceEnd, None),
        ]
    );
    let last_b = trace.events.iter().find(|e| e.ts == 200).unwrap();
    assert_eq!(last_b.name.as_deref(), Some("name 0"));
    assert_eq!(last_b.kind, EventKind::Instant);
}

#[test]
fn chunks_are_handed_over_whole() {
    // `with_chunks`: every byte arrives in order, in chunks of about 256 KiB, the
    // buffers given back are filled again, and a failing hand-over stops the
    // generator like a failed write.
    use std::cell::RefCell;
    use std::rc::Rc;
    let chunks = Rc::new(RefCell::new(Vec::<Vec<u8>>::new()));
    let given_back = Rc::new(RefCell::new(Vec::new()));
    let tgen = TraceGenerator::with_chunks({
        let (chunks, given_back) = (chunks.clone(), given_back.clone());
        move |chunk: Vec<u8>| {
            let spare = Vec::with_capacity(1 << 20);
            given_back.borrow_mut().push(spare.as_ptr() as usize);
            chunks.borrow_mut().push(chunk);
            Ok(spare)
        }
    });
    let track = tgen.create_track("t");
    let n = 100_000u64;
    for i in 0..n {
        track.open(2 * i, "work").unwrap();
        track.close(2 * i + 1).unwrap();
    }
    tgen.finish().unwrap();
    let chunks = chunks.take();
    assert!(chunks.len() > 2, "{} chunks", chunks.len());
    for chunk in &chunks[..chunks.len() - 1] {
        assert!(
            (256 << 10..320 << 10).contains(&chunk.len()),
            "{}",
            chunk.len()
        );
    }
    // Each chunk after the first is a buffer handed back before.
    let given_back = given_back.take();
    for (chunk, spare) in chunks[1..].iter().zip(&given_back) {
        assert_eq!(chunk.as_ptr() as usize, *spare);
    }
    let trace = tg4p_oracle::decode_bytes(&chunks.concat()).unwrap();
    trace.assert_valid();
    assert_eq!(trace.events.len(), 2 * n as usize);
    let last = trace.events.last().unwrap();
    assert_eq!((last.ts, last.kind), (2 * n - 1, EventKind::SliceEnd));

    let failing = TraceGenerator::with_chunks(|_| Err(std::io::Error::other("disk full")));
    let track = failing.create_track("t");
    track.instant(1, "x").unwrap();
    assert!(matches!(failing.flush(), Err(GeneratorError::Io(_))));
    assert!(matches!(
        track.instant(2, "y"),
        Err(GeneratorError::Stopped)
    ));
}

#[test]
fn names_rewritten_in_place_and_every_varint_length() {
    // Event names are looked up in a cache keyed by the name's address and length:
    // a buffer rewritten in place must still get the name it now holds. Along the
    // way: timestamp deltas, sequence ids (130 tracks) and name iids (up to 20_000 on
    // one track) of each varint length the event encoder treats apart.
    let deltas = [
        0u64,
        1,
        127,
        128,
        16_383,
        16_384,
        1 << 21,
        (1 << 35) - 1,
        1 << 35,
        1 << 40,
    ];
    let mut buffers: Vec<Vec<u8>> = [1, 3, 6, 12, 16, 17, 45]
        .into_iter()
        .map(|len| vec![b'a'; len])
        .collect();
    let mut want = Vec::new();
    let trace = generate("rewritten_names.pftrace", |tgen| {
        let tracks: Vec<_> = (0..130)
            .map(|i| tgen.create_track(&format!("t{i}")))
            .collect();
        for (i, t) in tracks.iter().enumerate() {
            let mut ts = 0;
            for (j, &delta) in deltas.iter().enumerate() {
                ts += delta;
                let buf = &mut buffers[(i + j) % 7];
                let at = (i * 7 + j) % buf.len();
                buf[at] = b'a' + ((i + j) % 26) as u8;
                let name = std::str::from_utf8(buf).unwrap();
                if j % 2 == 0 {
                    t.open(ts, name).unwrap();
                    want.push((t.uuid(), ts, EventKind::SliceBegin, Some(name.to_owned())));
                } else {
                    t.instant(ts, name).unwrap();
                    want.push((t.uuid(), ts, EventKind::Instant, Some(name.to_owned())));
                    t.close(ts).unwrap();
                    want.push((t.uuid(), ts, EventKind::SliceEnd, None));
                }
            }
        }
        let t = &tracks[0];
        let mut name = String::new();
        for k in 0..20_000u64 {
            name.clear();
            name.push_str(&format!("n{k}"));
            let ts = (1 << 41) + k * 1_000;
            t.instant(ts, &name).unwrap();
            want.push((t.uuid(), ts, EventKind::Instant, Some(name.clone())));
        }
    });
    let got: Vec<_> = trace
        .events
        .iter()
        .map(|e| (e.track, e.ts, e.kind, e.name.clone()))
        .collect();
    assert_eq!(got.len(), want.len());
    for (got, want) in got.iter().zip(&want) {
        assert_eq!(got, want);
    }
}

#[test]
fn output_is_buffered_until_flush() {
    let buf = SharedBuf::default();
    let tgen = TraceGenerator::new(buf.clone());
    let t = tgen.create_track("t");
    t.instant(1, "x").unwrap();
    assert!(
        buf.bytes().is_empty(),
        "small traces stay in the generator's buffer"
    );
    tgen.flush().unwrap();
    let flushed = buf.bytes();
    tg4p_oracle::decode_bytes(&flushed).unwrap().assert_valid();
    t.instant(2, "y").unwrap();
    drop(tgen); // finishes, best effort
    let all = buf.bytes();
    assert!(all.len() > flushed.len() && all.starts_with(&flushed));
    let trace = tg4p_oracle::decode_bytes(&all).unwrap();
    trace.assert_valid();
    assert_eq!(trace.events.len(), 2);
    assert!(matches!(t.instant(3, "z"), Err(GeneratorError::Finished)));
}

#[test]
fn concatenated_traces_stay_apart() {
    // Two generators' files concatenated: uuids, pids and flow ids do not collide,
    // and sequence ids reused across the files are harmless.
    let flow = FlowId::new();
    let one = SharedBuf::default();
    let two = SharedBuf::default();
    for (buf, name) in [(&one, "first"), (&two, "second")] {
        let tgen = TraceGenerator::new(buf.clone());
        let g = tgen.create_group(name);
        g.open(10, name).unwrap();
        g.close_with(20, &[flow]).unwrap();
        tgen.create_track(name)
            .instant_with(30, "arrive", Extras::new().terminating_flows(&[flow]))
            .unwrap();
        tgen.finish().unwrap();
    }
    let mut both = one.bytes();
    both.extend(two.bytes());
    let trace = tg4p_oracle::decode_bytes(&both).unwrap();
    trace.assert_valid();
    assert_eq!(trace.tracks.len(), 4);
    assert_eq!(trace.slices().len(), 2);
    let pids: std::collections::BTreeSet<_> = trace
        .tracks
        .values()
        .filter_map(|t| match t.kind {
            TrackKind::Process { pid, .. } => Some(pid),
            _ => None,
        })
        .collect();
    assert_eq!(pids.len(), 2);
    assert_eq!(trace.flows().len(), 2);
}

// --- Errors: typed, and nothing wrong written -------------------------------------

/// Runs `bad` between two good events on one track and checks that the trace holds
/// exactly the good ones.
fn refused(
    name: &str,
    bad: impl FnOnce(&TraceGenerator, &tg4p::generator::SliceTrack) -> GeneratorError,
) -> GeneratorError {
    let mut error = None;
    let trace = generate(name, |tgen| {
        let t = tgen.create_track("t");
        t.open(100, "before").unwrap();
        error = Some(bad(tgen, &t));
        t.close(200).unwrap();
        t.instant(200, "after").unwrap();
    });
    let got: Vec<_> = trace
        .events
        .iter()
        .map(|e| (e.ts, e.kind, e.name.clone()))
        .collect();
    assert_eq!(
        got,
        [
            (100, EventKind::SliceBegin, Some("before".into())),
            (200, EventKind::SliceEnd, None),
            (200, EventKind::Instant, Some("after".into())),
        ]
    );
    error.unwrap()
}

#[test]
fn decreasing_timestamp_is_refused() {
    let e = refused("decreasing.pftrace", |_, t| t.instant(99, "x").unwrap_err());
    assert!(
        matches!(
            e,
            GeneratorError::TimestampDecreased {
                previous: 100,
                timestamp: 99
            }
        ),
        "{e}"
    );
}

#[test]
fn timestamp_above_i64_max_is_refused() {
    for ts in [i64::MAX as u64 + 1, u64::MAX] {
        let e = refused("too_large.pftrace", |_, t| t.open(ts, "x").unwrap_err());
        assert!(
            matches!(e, GeneratorError::TimestampTooLarge { timestamp } if timestamp == ts),
            "{e}"
        );
    }
    // i64::MAX itself is fine.
    let trace = generate("i64_max.pftrace", |tgen| {
        let t = tgen.create_track("t");
        t.instant(0, "zero").unwrap();
        t.instant(i64::MAX as u64, "max").unwrap();
    });
    let ts: Vec<_> = trace.events.iter().map(|e| e.ts).collect();
    assert_eq!(ts, [0, i64::MAX as u64]);
}

#[test]
fn close_without_open_slice_is_refused() {
    let trace = generate("no_open.pftrace", |tgen| {
        let t = tgen.create_track("t");
        assert!(matches!(t.close(5), Err(GeneratorError::NoOpenSlice)));
        t.open(10, "a").unwrap();
        t.close(20).unwrap();
        assert!(matches!(
            t.close_with(30, &[FlowId::from(1)]),
            Err(GeneratorError::NoOpenSlice)
        ));
        // The refused closes did not move the track's clock.
        t.instant(20, "still at 20").unwrap();
    });
    assert_eq!(trace.events.len(), 3);
}

#[test]
fn args_must_be_a_dict_of_limited_depth() {
    let e = refused("not_dict.pftrace", |_, t| {
        t.instant_with(150, "x", &args!([1, 2])).unwrap_err()
    });
    assert!(matches!(e, GeneratorError::ArgsNotDict), "{e}");

    let mut deep = Value::Int(0);
    for _ in 1..tg4p::MAX_DEPTH {
        deep = Value::Array(vec![deep]);
    }
    // Exactly MAX_DEPTH levels is accepted, one more is not.
    let ok = Value::Dict(vec![("v".into(), deep.clone())]);
    let trace = generate("max_depth.pftrace", |tgen| {
        tgen.create_track("t").instant_with(1, "x", &ok).unwrap()
    });
    assert!(same_arg(
        trace.events[0].arg("v").unwrap(),
        &expected_arg(&deep)
    ));
    let too_deep = Value::Dict(vec![("v".into(), Value::Array(vec![deep]))]);
    let e = refused("too_deep.pftrace", |_, t| {
        t.open_with(150, "x", &too_deep).unwrap_err()
    });
    assert!(
        matches!(e, GeneratorError::TooDeep { depth: 65, max: 64 }),
        "{e}"
    );
}

#[test]
fn very_deep_values_are_refused_without_stack_overflow() {
    // A small stack: any recursion over 10000 levels (check, encode or drop) overflows.
    std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(|| {
            let mut v = Value::Str("bottom".into());
            for i in 0..10_000 {
                v = if i % 2 == 0 {
                    Value::Array(vec![v])
                } else {
                    Value::Dict(vec![("k".into(), v)])
                };
            }
            let args = Value::Dict(vec![("deep".into(), v)]);
            let tgen = TraceGenerator::new(std::io::sink());
            let t = tgen.create_track("t");
            let e = t.instant_with(1, "x", &args).unwrap_err();
            assert!(
                matches!(
                    e,
                    GeneratorError::TooDeep {
                        depth: 10_001,
                        max: 64
                    }
                ),
                "{e}"
            );
            drop(args);
        })
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn too_many_open_slices_are_refused() {
    let trace = generate("open_limit.pftrace", |tgen| {
        let t = tgen.create_track("t");
        for i in 0..512 {
            t.open(i, "level").unwrap();
        }
        assert!(matches!(
            t.open(600, "one too many"),
            Err(GeneratorError::TooManyOpenSlices { max: 512 })
        ));
        for i in 0..512 {
            t.close(1_000 + i).unwrap();
        }
    });
    assert_eq!(trace.slices().len(), 512);
}

#[test]
fn writing_after_finish_or_drop_is_refused() {
    let buf = SharedBuf::default();
    let tgen = TraceGenerator::new(buf.clone());
    let g = tgen.create_group_with_track("g", "t");
    let c = tgen.create_counter_track("c");
    g.open(1, "open at finish").unwrap();
    tgen.finish().unwrap();
    let finished = buf.bytes();
    assert!(matches!(
        g.open(2, "open at finish"),
        Err(GeneratorError::Finished)
    ));
    assert!(matches!(g.close(2), Err(GeneratorError::Finished)));
    assert!(matches!(c.count(2, 1), Err(GeneratorError::Finished)));
    // Handles made from a finished generator's groups write nothing either.
    let late = g.create_track("late");
    assert!(matches!(
        late.instant(3, "x"),
        Err(GeneratorError::Finished)
    ));
    assert_eq!(buf.bytes(), finished, "nothing written after finish");
    let trace = tg4p_oracle::decode_bytes(&finished).unwrap();
    // The slice open at finish is reported as "did not end", nothing else.
    trace.assert_valid_except(&[tg4p_oracle::Rule::DidNotEnd]);
    assert_eq!(trace.slices()[0].end_ts, None);
}

#[test]
fn unwritable_path_is_an_io_error() {
    let e = TraceGenerator::create(temp_path("missing-dir/trace.pftrace")).unwrap_err();
    assert!(matches!(e, GeneratorError::Io(_)), "{e}");
    assert!(std::error::Error::source(&e).is_some());
}

/// A writer that accepts `room` bytes, then fails.
struct FailingWriter {
    written: SharedBuf,
    room: usize,
}

impl std::io::Write for FailingWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.room == 0 {
            return Err(std::io::Error::other("disk full"));
        }
        let n = buf.len().min(self.room);
        self.room -= n;
        self.written.write(&buf[..n])
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn io_error_stops_the_generator() {
    let written = SharedBuf::default();
    let tgen = TraceGenerator::new(FailingWriter {
        written: written.clone(),
        room: 100_000,
    });
    let t = tgen.create_track("t");
    let mut result = Ok(());
    let mut ts = 0;
    // Big events fill the 256 KiB buffer quickly; the first hand-off fails part-way.
    let big = "x".repeat(1000);
    while result.is_ok() {
        ts += 1;
        result = t.instant_with(ts, "e", &args!({"big": (big.as_str())}));
    }
    let e = result.unwrap_err();
    assert!(
        matches!(&e, GeneratorError::Io(io) if io.to_string() == "disk full"),
        "{e}"
    );
    assert!(matches!(
        t.instant(ts + 1, "after"),
        Err(GeneratorError::Stopped)
    ));
    // Also with a name the track already knows (the generator's fast path).
    for _ in 0..2 {
        assert!(matches!(
            t.instant(ts + 1, "e"),
            Err(GeneratorError::Stopped)
        ));
    }
    assert!(matches!(tgen.flush(), Err(GeneratorError::Stopped)));
    assert!(matches!(tgen.finish(), Err(GeneratorError::Stopped)));
    // What reached the writer is a valid trace cut inside its last packet.
    let trace = tg4p_oracle::decode_bytes(&written.bytes()).unwrap();
    trace.assert_valid_except(&[tg4p_oracle::Rule::Truncated]);
    assert!(trace.events.len() > 50);
}

#[test]
fn io_error_while_creating_tracks_is_reported_by_the_next_call() {
    let tgen = TraceGenerator::new(FailingWriter {
        written: SharedBuf::default(),
        room: 0,
    });
    let long = "n".repeat(300 * 1024);
    let t = tgen.create_track(&long); // its descriptor overflows the buffer: write fails
    assert!(matches!(t.instant(1, "x"), Err(GeneratorError::Io(_))));
    assert!(matches!(t.instant(2, "x"), Err(GeneratorError::Stopped)));
}

// --- Bad input (issue 5): a valid trace or a typed error, never a panic ----------

#[test]
fn odd_strings_are_written_as_given() {
    let huge = "h".repeat(10 << 20);
    let planes: String = (0..=0x10)
        .flat_map(|plane| {
            [0x0041u32, 0xFFFD, 0x1F600, 0x10FFFD].map(|c| (plane << 16) | (c & 0xFFFF))
        })
        .filter_map(char::from_u32)
        .collect();
    let names = ["", "\0", "a\0b", huge.as_str(), planes.as_str(), "名前 🚀"];
    let trace = generate("odd_strings.pftrace", |tgen| {
        for (i, name) in names.iter().enumerate() {
            let g = tgen.create_group_with_track(name, name);
            let t = g.create_track(name);
            let c = g.create_counter_track(name);
            t.open_with(
                i as u64,
                name,
                &args!({(*name): (*name), "list": [(*name)]}),
            )
            .unwrap();
            t.close(i as u64 + 1).unwrap();
            g.instant(0, name).unwrap();
            c.count(0, 1).unwrap();
        }
    });
    for name in names {
        let slices = trace.slices_named(name);
        assert_eq!(slices.len(), 1, "{:?}", &name[..name.len().min(20)]);
        let expected = [
            (name.to_string(), Arg::Str(name.into())),
            ("list".into(), Arg::Array(vec![Arg::Str(name.into())])),
        ];
        assert_eq!(slices[0].args, expected);
        assert!(
            trace
                .events_named(name)
                .any(|e| e.kind == EventKind::Instant)
        );
    }
    assert_eq!(
        trace
            .tracks
            .values()
            .filter(|t| t.name.as_deref() == Some(huge.as_str()))
            .count(),
        3
    );
}

#[test]
fn million_element_array() {
    let big = Value::array(0..1_000_000i64);
    let trace = generate("million.pftrace", |tgen| {
        tgen.create_track("t")
            .instant_with(5, "big", &Value::Dict(vec![("a".into(), big.clone())]))
            .unwrap();
    });
    let Some(Arg::Array(items)) = trace.events[0].arg("a") else {
        panic!()
    };
    assert_eq!(items.len(), 1_000_000);
    assert!(
        items
            .iter()
            .enumerate()
            .all(|(i, v)| *v == Arg::Int(i as i64))
    );
}

#[test]
fn reused_raw_flow_ids_still_make_a_valid_trace() {
    let id = FlowId::from_raw(5);
    let trace = generate("reused_flows.pftrace", |tgen| {
        let t = tgen.create_track("t");
        for ts in 0..10 {
            t.instant_with(ts, "hop", &[id]).unwrap();
        }
        t.instant_with(10, "end", Extras::new().terminating_flows(&[id]))
            .unwrap();
        t.instant_with(11, "again", &[id, id]).unwrap();
    });
    // The caller's responsibility: every event naming the id joins one chain (what the
    // repeated id in "again" draws is up to trace_processor; the trace stays valid).
    let hops: Vec<usize> = (0..10).map(|ts| event_index(&trace, "hop", ts)).collect();
    let end = event_index(&trace, "end", 10);
    let arrows: Vec<_> = trace
        .flows()
        .iter()
        .map(|a| (a.id, a.from_event, a.to_event))
        .collect();
    for (i, &from) in hops.iter().enumerate() {
        let to = hops.get(i + 1).copied().unwrap_or(end);
        assert!(arrows.contains(&(5, from, to)), "{arrows:?}");
    }
    assert_eq!(trace.events.len(), 12);
}
