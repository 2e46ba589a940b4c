//! Good traces decode to the expected model.

mod common;

use common::*;
use perfetto_protos::debug_annotation::DebugAnnotation;
use perfetto_protos::debug_annotation::DebugAnnotationName;
use perfetto_protos::debug_annotation::debug_annotation::{Name_field as ArgName, Value};
use perfetto_protos::profile_common::InternedString;
use perfetto_protos::source_location::SourceLocation as PbSourceLocation;
use perfetto_protos::trace_packet::TracePacket;
use perfetto_protos::track_event::EventCategory;
use protobuf::MessageField;
use tg4p_oracle::*;

/// A trace exercising interning, args, source locations, nesting, instants,
/// counters, an async track and a flow.
fn rich_trace() -> Vec<TracePacket> {
    let mut first = clear_with_default_track(1, 11);
    first.set_sequence_flags(CLEARED | NEEDS);
    let mut interned = names(&[(1, "outer")]);
    let mut cat = EventCategory::new();
    cat.iid = Some(1);
    cat.name = Some("cat".into());
    interned.event_categories.push(cat);
    let mut an = DebugAnnotationName::new();
    an.iid = Some(1);
    an.name = Some("count".into());
    interned.debug_annotation_names.push(an);
    let mut loc = PbSourceLocation::new();
    loc.iid = Some(1);
    loc.file_name = Some("a.rs".into());
    loc.function_name = Some("f".into());
    loc.line_number = Some(10);
    interned.source_locations.push(loc);
    let mut s = InternedString::new();
    s.iid = Some(1);
    s.str = Some(b"hello".to_vec());
    interned.debug_annotation_string_values.push(s);
    first.interned_data = MessageField::some(interned);

    // outer: interned name, category, annotation name and source location;
    // default track; starts flow 7.
    let mut outer = event(1, 1000, None, EvType::TYPE_SLICE_BEGIN, None);
    {
        let te = outer.mut_track_event();
        te.set_name_iid(1);
        te.category_iids = vec![1];
        let mut a = DebugAnnotation::new();
        a.name_field = Some(ArgName::NameIid(1));
        a.value = Some(Value::IntValue(5));
        te.debug_annotations.push(a);
        te.set_source_location_iid(1);
        te.flow_ids = vec![7];
    }
    // inner: inline name, nested dict with an array.
    let mut inner = event(1, 1100, None, EvType::TYPE_SLICE_BEGIN, Some("inner"));
    {
        let mut dict = DebugAnnotation::new();
        dict.name_field = Some(ArgName::Name("d".into()));
        dict.dict_entries.push(ann("a", Value::UintValue(1)));
        let mut arr = DebugAnnotation::new();
        arr.name_field = Some(ArgName::Name("b".into()));
        let mut t = DebugAnnotation::new();
        t.value = Some(Value::BoolValue(true));
        let mut sv = DebugAnnotation::new();
        sv.value = Some(Value::StringValueIid(1));
        arr.array_values = vec![t, sv];
        dict.dict_entries.push(arr);
        let te = inner.mut_track_event();
        te.debug_annotations.push(dict);
        te.categories = vec!["inline".into()];
        let mut loc = PbSourceLocation::new();
        loc.file_name = Some("b.rs".into());
        loc.function_name = Some("g".into());
        loc.line_number = Some(20);
        te.set_source_location(loc);
    }
    let mut outer_end = event(1, 2000, None, EvType::TYPE_SLICE_END, None);
    outer_end
        .mut_track_event()
        .debug_annotations
        .push(ann("end_arg", Value::StringValue("done".into())));
    let mut async_begin = begin(1, 1500, 13, "async op");
    async_begin.mut_track_event().terminating_flow_ids = vec![7];

    let mut packets = vec![
        first,
        process_track(10, 100, "proc"),
        thread_track(11, 10, 100, 101, "main"),
        counter_track(12, 10, "mem"),
        plain_track(13, Some(10), "async"),
    ];
    packets.extend([
        outer,
        inner,
        event(1, 1200, None, EvType::TYPE_INSTANT, Some("tick")),
        event(1, 1300, None, EvType::TYPE_SLICE_END, None),
        counter_int(1, 1400, 12, 42),
        counter_double(1, 1450, 12, 1.5),
        outer_end,
        async_begin,
        end(1, 1600, 13),
    ]);
    packets
}

#[test]
fn rich_trace_decodes_to_expected_model() {
    let t = decode_bytes(&trace(&rich_trace())).unwrap();
    t.assert_valid();
    assert_eq!(t.packets, 14);
    assert!(t.keeps_events);

    // Tracks.
    assert_eq!(t.tracks.len(), 4);
    assert_eq!(
        t.tracks[&10].kind,
        TrackKind::Process {
            pid: 100,
            name: Some("proc".into())
        }
    );
    assert_eq!(
        t.tracks[&11].kind,
        TrackKind::Thread {
            pid: 100,
            tid: 101,
            name: Some("main".into())
        }
    );
    assert_eq!(t.tracks[&12].kind, TrackKind::Counter);
    assert_eq!(t.tracks[&13].kind, TrackKind::Plain);
    assert_eq!(t.tracks[&11].parent, Some(10));
    assert_eq!(t.children(10).len(), 3);
    assert_eq!(t.track_by_name("main")[0].uuid, 11);
    assert_eq!(t.track_by_name("mem")[0].uuid, 12);
    assert_eq!(t.thread_track(101).unwrap().uuid, 11);
    assert_eq!(t.process_track(100).unwrap().uuid, 10);

    // Events.
    assert_eq!(t.events.len(), 9);
    let outer = &t.events[0];
    assert_eq!(outer.name.as_deref(), Some("outer"));
    assert_eq!(outer.track, 11);
    assert_eq!(outer.sequence, 1);
    assert_eq!(outer.ts, 1000);
    assert_eq!(outer.kind, EventKind::SliceBegin);
    assert_eq!(outer.categories, vec!["cat".to_string()]);
    assert_eq!(outer.arg("count"), Some(&Arg::Int(5)));
    assert_eq!(
        outer.source,
        Some(SourceLocation {
            file: "a.rs".into(),
            function: "f".into(),
            line: 10
        })
    );
    let inner = &t.events[1];
    assert_eq!(inner.categories, vec!["inline".to_string()]);
    assert_eq!(
        inner.arg("d"),
        Some(&Arg::Dict(vec![
            ("a".into(), Arg::Uint(1)),
            (
                "b".into(),
                Arg::Array(vec![Arg::Bool(true), Arg::Str("hello".into())])
            ),
        ]))
    );
    assert_eq!(inner.arg("d").unwrap().get("a"), Some(&Arg::Uint(1)));
    assert_eq!(inner.source.as_ref().unwrap().line, 20);
    assert_eq!(t.events[2].kind, EventKind::Instant);
    let counters: Vec<_> = t.events_on(12).map(|e| e.kind).collect();
    assert_eq!(
        counters,
        vec![
            EventKind::Counter(CounterValue::Int(42)),
            EventKind::Counter(CounterValue::Double(1.5))
        ]
    );

    // Slices.
    let slices = t.slices();
    assert_eq!(slices.len(), 3);
    let outer = &t.slices_named("outer")[0];
    assert_eq!(
        (outer.begin_ts, outer.end_ts, outer.depth),
        (1000, Some(2000), 0)
    );
    assert_eq!(outer.duration(), Some(1000));
    assert_eq!(outer.arg("end_arg"), Some(&Arg::Str("done".into())));
    assert_eq!(outer.args.len(), 2);
    assert_eq!(outer.flows_out, vec![7]);
    assert_eq!((outer.begin_event, outer.end_event), (0, Some(6)));
    let inner = &t.slices_named("inner")[0];
    assert_eq!(
        (inner.begin_ts, inner.end_ts, inner.depth),
        (1100, Some(1300), 1)
    );
    let async_op = t.slices_on(13);
    assert_eq!(async_op.len(), 1);
    assert_eq!(async_op[0].flows_terminating, vec![7]);

    // Flows.
    assert_eq!(
        t.flows(),
        vec![FlowArrow {
            id: 7,
            from_event: 0,
            to_event: 7
        }]
    );
    assert!(t.dangling_flows().is_empty());

    // Counts.
    let c = t.counts.track(11);
    assert_eq!((c.begins, c.ends, c.instants, c.counters), (2, 2, 1, 0));
    assert_eq!(c.max_depth, 2);
    assert_eq!(t.counts.track(12).counters, 2);
    assert_eq!(t.counts.total().events(), 9);
    assert_eq!(t.counts.total().first_ts, Some(1000));
    assert_eq!(t.counts.total().last_ts, Some(2000));
    assert_eq!(t.dropped_markers, 0);
}

#[test]
fn counting_mode_keeps_counts_only() {
    let bytes = trace(&rich_trace());
    let full = decode_bytes(&bytes).unwrap();
    let counting = decode_reader(&bytes[..], ModelOptions { keep_events: false }).unwrap();
    counting.assert_valid();
    assert!(counting.events.is_empty());
    assert!(counting.slices().is_empty());
    assert_eq!(counting.counts, full.counts);
    assert_eq!(counting.tracks, full.tracks);
}

#[test]
fn model_push_and_packet_reader_agree_with_decode() {
    let bytes = trace(&rich_trace());
    let mut model = Model::new(ModelOptions::default());
    for pkt in PacketReader::new(&bytes[..]) {
        model.push(&pkt.unwrap());
    }
    let pushed = model.finish();
    pushed.assert_valid();
    let decoded = decode_bytes(&bytes).unwrap();
    assert_eq!(pushed.events, decoded.events);
    assert_eq!(pushed.slices(), decoded.slices());
}

#[test]
fn decode_file_reads_from_disk() {
    let path = std::env::temp_dir().join(format!("tg4p-oracle-{}.pftrace", std::process::id()));
    std::fs::write(&path, trace(&rich_trace())).unwrap();
    let t = decode_file(&path).unwrap();
    let counting = decode_file_with(&path, ModelOptions { keep_events: false }).unwrap();
    std::fs::remove_file(&path).unwrap();
    t.assert_valid();
    assert_eq!(t.events.len(), 9);
    assert_eq!(counting.counts.total().events(), 9);
    assert!(matches!(
        decode_file("/nonexistent/tg4p.pftrace"),
        Err(OracleError::Io(_))
    ));
}

#[test]
fn incremental_clock_trace() {
    // Clock 64 counts in µs, incrementally; BOOTTIME is 5 ms when it reads 1000 µs.
    let mut first = clear(5);
    let mut defaults = perfetto_protos::trace_packet_defaults::TracePacketDefaults::new();
    defaults.timestamp_clock_id = Some(64);
    let mut ted = perfetto_protos::track_event::TrackEventDefaults::new();
    ted.track_uuid = Some(21);
    defaults.track_event_defaults = MessageField::some(ted);
    first.trace_packet_defaults = MessageField::some(defaults);
    let packets = vec![
        first,
        snapshot(
            5,
            vec![clock(6, 5_000_000), incremental_clock(64, 1000, 1000)],
        ),
        thread_track(21, 20, 200, 201, "worker"),
        process_track(20, 200, "p"),
        event(5, 5, None, EvType::TYPE_SLICE_BEGIN, Some("a")), // +5 µs
        event(5, 10, None, EvType::TYPE_SLICE_BEGIN, Some("b")), // +10 µs
        event(5, 0, None, EvType::TYPE_SLICE_END, None),
        event(5, 3, None, EvType::TYPE_SLICE_END, None),
        // A new snapshot resets the running value.
        snapshot(
            5,
            vec![clock(6, 9_000_000), incremental_clock(64, 2000, 1000)],
        ),
        event(5, 1, None, EvType::TYPE_INSTANT, Some("c")),
    ];
    let t = decode_bytes(&trace(&packets)).unwrap();
    t.assert_valid();
    let ts: Vec<u64> = t.events.iter().map(|e| e.ts).collect();
    assert_eq!(
        ts,
        vec![5_005_000, 5_015_000, 5_015_000, 5_018_000, 9_001_000]
    );
    let a = &t.slices_named("a")[0];
    assert_eq!((a.begin_ts, a.end_ts), (5_005_000, Some(5_018_000)));
    assert!(t.events.iter().all(|e| e.track == 21));
}

#[test]
fn builtin_clocks_convert_through_snapshots() {
    let mut mono = begin(1, 1_060, 11, "mono");
    mono.set_timestamp_clock_id(3);
    let mut real = end(1, 2_000_070, 11);
    real.set_timestamp_clock_id(1);
    let mut packets = preamble();
    packets.extend([
        // MONOTONIC 1000 = BOOTTIME 5000.
        snapshot(2, vec![clock(6, 5_000), clock(3, 1_000)]),
        // REALTIME relates to MONOTONIC only: two hops to BOOTTIME.
        snapshot(2, vec![clock(1, 2_000_000), clock(3, 1_010)]),
        mono,
        real,
    ]);
    let t = decode_bytes(&trace(&packets)).unwrap();
    t.assert_valid();
    // 1060 mono -> 5060 boot; 2_000_070 real -> 1080 mono -> 5080 boot.
    let s = &t.slices_named("mono")[0];
    assert_eq!((s.begin_ts, s.end_ts), (5_060, Some(5_080)));
}

#[test]
fn latest_snapshot_before_the_timestamp_is_used() {
    let mut a = instant(1, 1_500, 11, "a");
    a.set_timestamp_clock_id(3);
    let mut b = instant(1, 2_500, 11, "b");
    b.set_timestamp_clock_id(3);
    let mut packets = preamble();
    packets.extend([
        snapshot(2, vec![clock(6, 10_000), clock(3, 1_000)]),
        snapshot(2, vec![clock(6, 20_000), clock(3, 2_000)]), // MONOTONIC drifted
        a,
        b,
    ]);
    let t = decode_bytes(&trace(&packets)).unwrap();
    t.assert_valid();
    assert_eq!(t.events[0].ts, 10_500);
    assert_eq!(t.events[1].ts, 20_500);
}

/// One process's trace, with its own sequence and uuids.
fn process_trace(pid: i32, seq: u32, base: u64) -> Vec<u8> {
    trace(&[
        process_track(base, pid, "p"),
        thread_track(base + 1, base, pid, pid + 1, "t"),
        clear_with_default_track(seq, base + 1),
        event(seq, 100, None, EvType::TYPE_SLICE_BEGIN, Some("work")),
        event(seq, 200, None, EvType::TYPE_SLICE_END, None),
    ])
}

#[test]
fn concatenated_traces_decode_as_one() {
    let mut bytes = process_trace(100, 1, 1000);
    bytes.extend(process_trace(200, 2, 2000));
    // Even a reused sequence id works when each part clears its state.
    bytes.extend(process_trace(300, 1, 3000));
    let t = decode_bytes(&bytes).unwrap();
    t.assert_valid();
    assert_eq!(t.packets, 15);
    assert_eq!(t.tracks.len(), 6);
    assert_eq!(t.slices_named("work").len(), 3);
    let tracks: Vec<u64> = t.slices().iter().map(|s| s.track).collect();
    assert_eq!(tracks, vec![1001, 2001, 3001]);
}

#[test]
fn truncated_file_keeps_all_complete_packets() {
    let bytes = trace(&rich_trace());
    let cut = &bytes[..bytes.len() - 3];
    let t = decode_bytes(cut).unwrap();
    assert_eq!(t.packets, 13);
    assert!(t.truncated_at.is_some());
    assert_eq!(t.violations_of(Rule::Truncated).len(), 1);
    // The last END is lost, so its slice did not end.
    t.assert_valid_except(&[Rule::Truncated, Rule::DidNotEnd]);
    assert!(t.has_violation(Rule::DidNotEnd));
    assert_eq!(t.slices_on(13)[0].end_ts, None);

    // The reader yields the partial packet as the last item.
    let items: Vec<_> = PacketReader::new(cut).collect();
    assert_eq!(items.len(), 14);
    assert!(items[..13].iter().all(Result::is_ok));
    assert!(matches!(items[13], Err(OracleError::Truncated { .. })));
}

#[test]
fn packet_reader_reports_corrupt_and_foreign_fields_and_goes_on() {
    let good = trace(&[clear(1), clear(2)]);
    let mut bytes = frame(&[0x40]); // field 8 without its varint
    bytes.extend([0x10, 0x01]); // top-level field 2, varint
    bytes.extend(frame(&[])); // empty packet: skipped
    bytes.extend(&good);
    let items: Vec<_> = PacketReader::new(&bytes[..]).collect();
    assert_eq!(items.len(), 4);
    assert!(matches!(
        items[0],
        Err(OracleError::Decode { offset: 0, .. })
    ));
    assert!(matches!(
        items[1],
        Err(OracleError::UnexpectedField {
            offset: 3,
            field: 2,
            wire_type: 0
        })
    ));
    assert!(items[2].is_ok() && items[3].is_ok());
    assert!(format!("{}", items[1].as_ref().unwrap_err()).contains("field 2"));

    let mut reader = PacketReader::new(&good[..]);
    let raw = reader.next_raw().unwrap().unwrap();
    assert_eq!(raw.offset, 0);
    assert_eq!(raw.parse().unwrap().trusted_packet_sequence_id(), 1);
    assert_eq!(reader.offset(), raw.bytes.len() as u64 + 2);
}

#[test]
fn slices_are_matched_in_timestamp_order() {
    // Two sequences write to one async track; file order is not time order.
    let mut packets = preamble();
    packets.extend([
        clear(2),
        plain_track(30, Some(10), "async"),
        end(2, 200, 30), // written before its begin
        begin(1, 100, 30, "op"),
    ]);
    let bytes = trace(&packets);
    let t = decode_bytes(&bytes).unwrap();
    t.assert_valid();
    let s = &t.slices_on(30)[0];
    assert_eq!((s.begin_ts, s.end_ts), (100, Some(200)));
    assert_eq!(t.counts.track(30).out_of_order, 1);

    // Counting mode matches in file order, hence the caveat.
    let c = decode_reader(&bytes[..], ModelOptions { keep_events: false }).unwrap();
    assert_eq!(c.counts.track(30).out_of_order, 1);
    assert!(c.has_violation(Rule::UnbalancedEnd));
}

#[test]
fn flows_chain_in_timestamp_order_until_terminated() {
    let mut a = instant(1, 100, 11, "a");
    a.mut_track_event().flow_ids = vec![1];
    let mut b = instant(1, 200, 11, "b");
    b.mut_track_event().flow_ids = vec![1];
    let mut c = instant(1, 300, 11, "c");
    c.mut_track_event().terminating_flow_ids = vec![1];
    let mut d = instant(1, 400, 11, "d");
    d.mut_track_event().flow_ids = vec![1]; // starts a new chain, never continued
    let mut e = instant(1, 500, 11, "e");
    e.mut_track_event().terminating_flow_ids = vec![2]; // nothing to terminate
    let mut packets = preamble();
    packets.extend([c, a, b, d, e]); // file order differs from time order
    let t = decode_bytes(&trace(&packets)).unwrap();
    t.assert_valid();
    let name = |i: usize| t.events[i].name.clone().unwrap();
    let arrows: Vec<(String, String)> = t
        .flows()
        .iter()
        .map(|f| (name(f.from_event), name(f.to_event)))
        .collect();
    assert_eq!(
        arrows,
        vec![("a".into(), "b".into()), ("b".into(), "c".into())]
    );
    let dangling: Vec<(u64, String)> = t
        .dangling_flows()
        .iter()
        .map(|d| (d.id, name(d.event)))
        .collect();
    assert_eq!(dangling, vec![(1, "d".into()), (2, "e".into())]);
}

#[test]
fn previous_packet_dropped_is_counted() {
    let mut lost = clear(1);
    lost.set_previous_packet_dropped(true);
    let mut packets = preamble();
    packets.push(lost);
    let t = decode_bytes(&trace(&packets)).unwrap();
    t.assert_valid();
    assert_eq!(t.dropped_markers, 1);
}

#[test]
fn merged_siblings_are_listed() {
    let mut packets = preamble();
    packets.extend([
        plain_track(30, Some(10), "io"),
        plain_track(31, Some(10), "io"),
        plain_track(32, Some(10), "net"),
    ]);
    let t = decode_bytes(&trace(&packets)).unwrap();
    assert_eq!(
        t.merged_siblings(),
        vec![(Some(10), "io".to_string(), vec![30, 31])]
    );
}
