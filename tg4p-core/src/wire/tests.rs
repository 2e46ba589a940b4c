//! Every message is encoded here and decoded with the `perfetto_protos` crate
//! (generated from Perfetto's own `.proto` files), so field numbers and wire types
//! are checked against Perfetto, not against this module. Unknown fields would mean
//! a wrong field number, so each test also asserts there are none.

use super::*;
use crate::annotation::Value;
use perfetto_protos::debug_annotation::DebugAnnotation as PbAnnotation;
use perfetto_protos::trace::Trace as PbTrace;
use perfetto_protos::track_event::track_event::Type as PbType;
use protobuf::Message;

fn decode<A: AnnotationList>(
    packet: &TracePacket<'_, A>,
) -> perfetto_protos::trace_packet::TracePacket {
    let mut out = Vec::new();
    append_packet(&mut out, packet);
    // get_size must agree with what is written, or the length prefix lies.
    let expected = 1 + quick_protobuf::sizeofs::sizeof_len(packet.get_size());
    assert_eq!(
        out.len(),
        expected,
        "get_size disagrees with the bytes written"
    );
    let mut trace = PbTrace::parse_from_bytes(&out).expect("decodes as a Trace");
    assert_eq!(trace.packet.len(), 1);
    let pkt = trace.packet.remove(0);
    assert!(
        pkt.special_fields.unknown_fields().iter().next().is_none(),
        "unknown fields in TracePacket"
    );
    pkt
}

#[test]
fn packet_header_fields() {
    let pkt = decode(&TracePacket::<NoAnnotations> {
        timestamp: Some(1_000_000_000_123),
        timestamp_clock_id: Some(64),
        trusted_packet_sequence_id: Some(0xFFFF_FFFF),
        sequence_flags: SEQ_INCREMENTAL_STATE_CLEARED | SEQ_NEEDS_INCREMENTAL_STATE,
        previous_packet_dropped: true,
        trace_packet_defaults: Some(TracePacketDefaults {
            timestamp_clock_id: Some(65),
            track_uuid: Some(u64::MAX),
        }),
        ..Default::default()
    });
    assert_eq!(pkt.timestamp(), 1_000_000_000_123);
    assert_eq!(pkt.timestamp_clock_id(), 64);
    assert_eq!(pkt.trusted_packet_sequence_id(), 0xFFFF_FFFF);
    assert_eq!(pkt.sequence_flags(), 3);
    assert!(pkt.previous_packet_dropped());
    let defaults = pkt.trace_packet_defaults.as_ref().unwrap();
    assert_eq!(defaults.timestamp_clock_id(), 65);
    assert_eq!(defaults.track_event_defaults.track_uuid(), u64::MAX);
    assert!(
        defaults
            .special_fields
            .unknown_fields()
            .iter()
            .next()
            .is_none()
    );
}

#[test]
fn clock_snapshot() {
    let clocks = [
        Clock {
            clock_id: BuiltinClock::Boottime as u32,
            timestamp: 5_000,
            ..Default::default()
        },
        Clock {
            clock_id: 64,
            timestamp: 77,
            is_incremental: true,
            unit_multiplier_ns: Some(3),
        },
    ];
    let pkt = decode(&TracePacket::<NoAnnotations> {
        trusted_packet_sequence_id: Some(1),
        data: Some(PacketData::ClockSnapshot(ClockSnapshot {
            clocks: &clocks,
            primary_trace_clock: Some(BuiltinClock::Boottime),
        })),
        ..Default::default()
    });
    let snap = pkt.clock_snapshot();
    assert_eq!(snap.clocks.len(), 2);
    assert_eq!(snap.clocks[0].clock_id(), 6);
    assert_eq!(snap.clocks[0].timestamp(), 5_000);
    assert!(!snap.clocks[0].is_incremental());
    assert_eq!(snap.clocks[1].clock_id(), 64);
    assert_eq!(snap.clocks[1].timestamp(), 77);
    assert!(snap.clocks[1].is_incremental());
    assert_eq!(snap.clocks[1].unit_multiplier_ns(), 3);
    assert_eq!(snap.primary_trace_clock() as i32, 6);
}

#[test]
fn track_descriptors() {
    let pkt = decode(&TracePacket::<NoAnnotations> {
        data: Some(PacketData::TrackDescriptor(TrackDescriptor {
            uuid: 0xDEAD_BEEF_0000_0001,
            parent_uuid: Some(42),
            name: Some("track ü"),
            thread: Some(ThreadDescriptor {
                pid: 7,
                tid: -3,
                thread_name: Some("worker"),
            }),
            sibling_order_rank: Some(-2),
            ..Default::default()
        })),
        ..Default::default()
    });
    let d = pkt.track_descriptor();
    assert_eq!(d.uuid(), 0xDEAD_BEEF_0000_0001);
    assert_eq!(d.parent_uuid(), 42);
    assert_eq!(d.name(), "track ü");
    assert_eq!(d.thread.pid(), 7);
    assert_eq!(d.thread.tid(), -3);
    assert_eq!(d.thread.thread_name(), "worker");
    assert_eq!(d.sibling_order_rank(), -2);
    assert!(d.process.is_none() && d.counter.is_none());
    assert!(d.special_fields.unknown_fields().iter().next().is_none());

    let pkt = decode(&TracePacket::<NoAnnotations> {
        data: Some(PacketData::TrackDescriptor(TrackDescriptor {
            uuid: 1,
            process: Some(ProcessDescriptor {
                pid: 1234,
                process_name: Some("proc"),
            }),
            ..Default::default()
        })),
        ..Default::default()
    });
    let d = pkt.track_descriptor();
    assert_eq!(d.process.pid(), 1234);
    assert_eq!(d.process.process_name(), "proc");
    assert!(!d.has_parent_uuid());

    let pkt = decode(&TracePacket::<NoAnnotations> {
        data: Some(PacketData::TrackDescriptor(TrackDescriptor {
            uuid: 2,
            counter: Some(CounterDescriptor::default()),
            ..Default::default()
        })),
        ..Default::default()
    });
    assert!(
        pkt.track_descriptor().counter.is_some(),
        "an empty counter descriptor must still be present"
    );
}

#[test]
fn track_event_fields() {
    let cats = [1, 300];
    let flows = [u64::MAX, 5];
    let terminating = [9];
    let pkt = decode(&TracePacket::<NoAnnotations> {
        data: Some(PacketData::TrackEvent(TrackEvent {
            category_iids: &cats,
            kind: Some(EventType::SliceBegin),
            name: Some(EventName::Iid(77)),
            track_uuid: Some(123_456_789_012),
            source_location_iid: Some(4),
            flow_ids: &flows,
            terminating_flow_ids: &terminating,
            ..Default::default()
        })),
        ..Default::default()
    });
    let e = pkt.track_event();
    assert_eq!(e.category_iids, cats);
    assert_eq!(e.type_(), PbType::TYPE_SLICE_BEGIN);
    assert_eq!(e.name_iid(), 77);
    assert_eq!(e.track_uuid(), 123_456_789_012);
    assert_eq!(e.source_location_iid(), 4);
    assert_eq!(e.flow_ids, flows);
    assert_eq!(e.terminating_flow_ids, terminating);
    assert!(e.special_fields.unknown_fields().iter().next().is_none());

    for (kind, pb) in [
        (EventType::SliceEnd, PbType::TYPE_SLICE_END),
        (EventType::Instant, PbType::TYPE_INSTANT),
    ] {
        let pkt = decode(&TracePacket::<NoAnnotations> {
            data: Some(PacketData::TrackEvent(TrackEvent {
                kind: Some(kind),
                name: Some(EventName::Str("inline name")),
                ..Default::default()
            })),
            ..Default::default()
        });
        assert_eq!(pkt.track_event().type_(), pb);
        assert_eq!(pkt.track_event().name(), "inline name");
    }
}

#[test]
fn counter_values_keep_their_type() {
    for value in [
        CounterValue::Int(0),
        CounterValue::Int(-5),
        CounterValue::Int(i64::MAX),
    ] {
        let pkt = decode(&TracePacket::<NoAnnotations> {
            data: Some(PacketData::TrackEvent(TrackEvent {
                kind: Some(EventType::Counter),
                counter_value: Some(value),
                ..Default::default()
            })),
            ..Default::default()
        });
        let CounterValue::Int(v) = value else {
            unreachable!()
        };
        assert!(
            pkt.track_event().has_counter_value(),
            "a zero counter must still be written"
        );
        assert_eq!(pkt.track_event().counter_value(), v);
    }
    let pkt = decode(&TracePacket::<NoAnnotations> {
        data: Some(PacketData::TrackEvent(TrackEvent {
            kind: Some(EventType::Counter),
            counter_value: Some(CounterValue::Double(2.5)),
            ..Default::default()
        })),
        ..Default::default()
    });
    assert_eq!(pkt.track_event().double_counter_value(), 2.5);
    assert!(!pkt.track_event().has_counter_value());
}

#[test]
fn interned_data() {
    let names = [
        InternedString { iid: 1, name: "a" },
        InternedString {
            iid: 2, name: "bé"
        },
    ];
    let cats = [InternedString {
        iid: 1,
        name: "cat",
    }];
    let args = [InternedString {
        iid: 3,
        name: "arg",
    }];
    let locs = [SourceLocation {
        iid: 9,
        file_name: "f.rs",
        function_name: "m::f",
        line_number: 12,
    }];
    let pkt = decode(&TracePacket::<NoAnnotations> {
        interned_data: Some(InternedData {
            event_categories: &cats,
            event_names: &names,
            debug_annotation_names: &args,
            source_locations: &locs,
        }),
        ..Default::default()
    });
    let i = pkt.interned_data.as_ref().unwrap();
    assert_eq!(i.event_names.len(), 2);
    assert_eq!((i.event_names[1].iid(), i.event_names[1].name()), (2, "bé"));
    assert_eq!(
        (i.event_categories[0].iid(), i.event_categories[0].name()),
        (1, "cat")
    );
    assert_eq!(
        (
            i.debug_annotation_names[0].iid(),
            i.debug_annotation_names[0].name()
        ),
        (3, "arg")
    );
    let l = &i.source_locations[0];
    assert_eq!(
        (l.iid(), l.file_name(), l.function_name(), l.line_number()),
        (9, "f.rs", "m::f", 12)
    );
    assert!(i.special_fields.unknown_fields().iter().next().is_none());
}

fn assert_tree(decoded: &PbAnnotation, expected: &Value) {
    assert!(
        decoded
            .special_fields
            .unknown_fields()
            .iter()
            .next()
            .is_none()
    );
    match expected {
        Value::Bool(b) => assert_eq!(decoded.bool_value(), *b),
        Value::Int(i) => assert_eq!(decoded.int_value(), *i),
        Value::Uint(u) => assert_eq!(decoded.uint_value(), *u),
        Value::Double(d) => assert_eq!(decoded.double_value().to_bits(), d.to_bits()),
        Value::Str(s) => assert_eq!(decoded.string_value(), s),
        Value::Dict(e) if e.is_empty() => assert_eq!(decoded.string_value(), "{}"),
        Value::Array(e) if e.is_empty() => assert_eq!(decoded.string_value(), "[]"),
        Value::Dict(entries) => {
            assert_eq!(decoded.dict_entries.len(), entries.len());
            for (d, (name, v)) in decoded.dict_entries.iter().zip(entries) {
                assert_eq!(d.name(), name);
                assert_tree(d, v);
            }
        }
        Value::Array(items) => {
            assert_eq!(decoded.array_values.len(), items.len());
            for (d, v) in decoded.array_values.iter().zip(items) {
                assert_tree(d, v);
            }
        }
    }
}

#[test]
fn debug_annotations_scalars_and_trees() {
    let tree = Value::Dict(vec![
        ("s".into(), Value::Str("x".into())),
        (
            "arr".into(),
            Value::Array(vec![
                Value::Int(-1),
                Value::Uint(u64::MAX),
                Value::Double(f64::NAN),
                Value::Array(vec![Value::Bool(true), Value::Array(vec![])]),
                Value::Dict(vec![]),
            ]),
        ),
    ]);
    let anns = [
        DebugAnnotation {
            name: AnnotationName::Iid(1),
            value: AnnotationValue::Bool(false),
        },
        DebugAnnotation {
            name: AnnotationName::Str("i"),
            value: AnnotationValue::Int(i64::MIN),
        },
        DebugAnnotation {
            name: AnnotationName::Iid(2),
            value: AnnotationValue::Uint(7),
        },
        DebugAnnotation {
            name: AnnotationName::Iid(3),
            value: AnnotationValue::Double(-0.5),
        },
        DebugAnnotation {
            name: AnnotationName::Iid(4),
            value: AnnotationValue::Str("str"),
        },
        DebugAnnotation {
            name: AnnotationName::Str("tree"),
            value: AnnotationValue::Tree(&tree),
        },
    ];
    let pkt = decode(&TracePacket {
        data: Some(PacketData::TrackEvent(TrackEvent {
            kind: Some(EventType::Instant),
            debug_annotations: &anns[..],
            ..Default::default()
        })),
        ..Default::default()
    });
    let got = &pkt.track_event().debug_annotations;
    assert_eq!(got.len(), 6);
    assert_eq!(got[0].name_iid(), 1);
    assert!(got[0].has_bool_value() && !got[0].bool_value());
    assert_eq!((got[1].name(), got[1].int_value()), ("i", i64::MIN));
    assert_eq!(got[2].uint_value(), 7);
    assert_eq!(got[3].double_value(), -0.5);
    assert_eq!(got[4].string_value(), "str");
    assert_eq!(got[5].name(), "tree");
    assert_tree(&got[5], &tree);
}

#[test]
fn sequence_event_fast_path_matches_the_general_encoder() {
    let values = [
        0u64,
        1,
        127,
        128,
        16_383,
        16_384,
        u32::MAX as u64,
        i64::MAX as u64,
        u64::MAX,
    ];
    let kinds = [
        EventType::SliceBegin,
        EventType::SliceEnd,
        EventType::Instant,
        EventType::Counter,
    ];
    let counters = [
        None,
        Some(CounterValue::Int(0)),
        Some(CounterValue::Int(-1)),
        Some(CounterValue::Int(i64::MAX)),
        Some(CounterValue::Double(f64::NAN)),
        Some(CounterValue::Double(-2.5)),
    ];
    for &timestamp in &values {
        for seq in [1u32, 127, 128, u32::MAX] {
            for kind in kinds {
                for name_iid in [None, Some(1), Some(300), Some(u64::MAX)] {
                    for (counter_value, source_location_iid) in counters
                        .into_iter()
                        .flat_map(|c| [(c, None), (c, Some(1)), (c, Some(u64::MAX))])
                    {
                        let fast = SequenceEvent {
                            timestamp,
                            sequence_id: seq,
                            kind,
                            name_iid,
                            counter_value,
                            source_location_iid,
                        };
                        let mut got = Vec::new();
                        append_sequence_event(&mut got, &fast);
                        let mut want = Vec::new();
                        append_packet(
                            &mut want,
                            &TracePacket::<NoAnnotations> {
                                timestamp: Some(timestamp),
                                trusted_packet_sequence_id: Some(seq),
                                sequence_flags: SEQ_NEEDS_INCREMENTAL_STATE,
                                data: Some(PacketData::TrackEvent(TrackEvent {
                                    kind: Some(kind),
                                    name: name_iid.map(EventName::Iid),
                                    counter_value,
                                    source_location_iid,
                                    ..Default::default()
                                })),
                                ..Default::default()
                            },
                        );
                        assert_eq!(got, want, "{fast:?}");
                    }
                }
            }
        }
    }
    // And once through Perfetto's own decoder.
    let mut bytes = Vec::new();
    append_sequence_event(
        &mut bytes,
        &SequenceEvent {
            timestamp: 1_000,
            sequence_id: 3,
            kind: EventType::Counter,
            name_iid: Some(2),
            counter_value: Some(CounterValue::Double(0.5)),
            source_location_iid: Some(7),
        },
    );
    let trace = PbTrace::parse_from_bytes(&bytes).unwrap();
    let pkt = &trace.packet[0];
    assert_eq!(pkt.timestamp(), 1_000);
    assert_eq!(pkt.trusted_packet_sequence_id(), 3);
    assert_eq!(pkt.sequence_flags(), SEQ_NEEDS_INCREMENTAL_STATE);
    assert_eq!(pkt.track_event().type_(), PbType::TYPE_COUNTER);
    assert_eq!(pkt.track_event().name_iid(), 2);
    assert_eq!(pkt.track_event().double_counter_value(), 0.5);
    assert_eq!(pkt.track_event().source_location_iid(), 7);
    assert!(pkt.special_fields.unknown_fields().iter().next().is_none());
    assert!(
        pkt.track_event()
            .special_fields
            .unknown_fields()
            .iter()
            .next()
            .is_none()
    );
}
