//! One test per rule: each breaks exactly that rule and checks it is reported.

mod common;

use common::*;
use perfetto_protos::builtin_clock::BuiltinClock;
use perfetto_protos::debug_annotation::DebugAnnotation;
use perfetto_protos::debug_annotation::debug_annotation::{Name_field as ArgName, Value};
use perfetto_protos::trace_packet::TracePacket;
use perfetto_protos::track_descriptor::TrackDescriptor;
use protobuf::{EnumOrUnknown, MessageField};
use tg4p_oracle::*;

/// Decodes `packets` after the standard preamble.
fn decode(packets: Vec<TracePacket>) -> DecodedTrace {
    let mut all = preamble();
    all.extend(packets);
    decode_bytes(&trace(&all)).unwrap()
}

/// Asserts that `rule` and only `rule` is violated (`count` times).
#[track_caller]
fn assert_only(t: &DecodedTrace, rule: Rule, count: usize) {
    let rules: Vec<Rule> = t.violations.iter().map(|v| v.rule).collect();
    assert_eq!(rules, vec![rule; count], "violations: {:#?}", t.violations);
    assert_eq!(t.violation_totals.get(&rule), Some(&count));
    assert!(t.has_violation(rule));
}

#[test]
fn good_preamble_is_valid() {
    let t = decode(vec![begin(1, 10, 11, "a"), end(1, 20, 11)]);
    t.assert_valid();
    assert!(Rule::ALL.iter().all(|&r| !t.has_violation(r)));
}

#[test]
#[should_panic(expected = "DidNotEnd")]
fn assert_valid_panics_with_the_violations() {
    decode(vec![begin(1, 10, 11, "a")]).assert_valid();
}

#[test]
fn corrupt_packet() {
    let mut bytes = trace(&preamble());
    bytes.extend(frame(&[0x40])); // field 8 without value
    let t = decode_bytes(&bytes).unwrap();
    assert_only(&t, Rule::CorruptPacket, 1);
    assert_eq!(t.violations[0].packet_index, 3);
}

#[test]
fn truncated() {
    let bytes = trace(&preamble());
    let t = decode_bytes(&bytes[..bytes.len() - 1]).unwrap();
    assert_only(&t, Rule::Truncated, 1);
    assert_eq!(t.packets, 2);
}

#[test]
fn top_level_field() {
    let mut bytes = trace(&preamble());
    bytes.extend([0x12, 0x01, 0x00]); // field 2, length-delimited
    let t = decode_bytes(&bytes).unwrap();
    assert_only(&t, Rule::TopLevelField, 1);
}

#[test]
fn unknown_field() {
    let mut e = begin(1, 10, 11, "a");
    e.mut_track_event()
        .special_fields
        .mut_unknown_fields()
        .add_varint(99, 1);
    let t = decode(vec![e, end(1, 20, 11)]);
    assert_only(&t, Rule::UnknownField, 1);
    assert!(t.violations[0].detail.contains("TrackEvent"));
}

#[test]
fn unknown_field_is_seen_through_push_too() {
    let mut e = begin(1, 10, 11, "a");
    e.special_fields.mut_unknown_fields().add_varint(3000, 1);
    let mut model = Model::new(ModelOptions::default());
    for p in preamble() {
        model.push(&p);
    }
    model.push(&e);
    model.push(&end(1, 20, 11));
    assert_only(&model.finish(), Rule::UnknownField, 1);
}

#[test]
fn wire_type() {
    // flow_ids (47) is fixed64; a varint there is read differently.
    let mut e = begin(1, 10, 11, "a");
    e.mut_track_event()
        .special_fields
        .mut_unknown_fields()
        .add_varint(47, 5);
    let t = decode(vec![e, end(1, 20, 11)]);
    assert_only(&t, Rule::WireType, 1);
}

#[test]
fn packed_repeated() {
    // flow_ids written packed: rust-protobuf accepts it, protozero does not.
    let mut e = begin(1, 10, 11, "a");
    e.mut_track_event()
        .special_fields
        .mut_unknown_fields()
        .add_length_delimited(47, 7u64.to_le_bytes().to_vec());
    let t = decode(vec![e, end(1, 20, 11)]);
    assert_only(&t, Rule::PackedRepeated, 1);
}

#[test]
fn duplicate_field() {
    // A second timestamp, and both members of the name oneof.
    let mut define = on_seq(1, NEEDS);
    define.interned_data = MessageField::some(names(&[(1, "a")]));
    let mut e = begin(1, 10, 11, "a");
    e.special_fields.mut_unknown_fields().add_varint(8, 10);
    e.mut_track_event()
        .special_fields
        .mut_unknown_fields()
        .add_varint(10, 1);
    let t = decode(vec![define, e, end(1, 20, 11)]);
    assert_only(&t, Rule::DuplicateField, 2);
}

#[test]
fn missing_sequence_id() {
    let mut e = begin(1, 10, 11, "a");
    e.optional_trusted_packet_sequence_id = None;
    e.sequence_flags = None;
    let t = decode(vec![e]);
    assert_only(&t, Rule::MissingSequenceId, 1);
    assert!(t.events.is_empty());
}

#[test]
fn invalid_incremental_state() {
    // Sequence 7 is never cleared: its NEEDS packets and interned data are skipped.
    let mut interned = on_seq(7, NEEDS);
    interned.interned_data = MessageField::some(names(&[(1, "x")]));
    let t = decode(vec![interned, begin(7, 10, 11, "a")]);
    // The first packet: its interned data is ignored, and the packet skipped.
    assert_only(&t, Rule::InvalidIncrementalState, 3);
    assert!(t.events.is_empty());

    // Packet loss invalidates the state until the next clear.
    let mut lost = on_seq(1, 0);
    lost.set_previous_packet_dropped(true);
    let t = decode(vec![
        lost,
        begin(1, 10, 11, "a"),
        clear(1),
        instant(1, 20, 11, "b"),
    ]);
    assert_only(&t, Rule::InvalidIncrementalState, 1);
    assert_eq!(t.events.len(), 1);
    assert_eq!(t.dropped_markers, 1);
}

#[test]
fn missing_needs_incremental_state() {
    let mut define = on_seq(1, 0);
    define.interned_data = MessageField::some(names(&[(1, "x")]));
    let mut use_it = instant(1, 10, 11, "ignored");
    use_it.mut_track_event().set_name_iid(1);
    use_it.sequence_flags = None;
    let t = decode(vec![define, use_it]);
    assert_only(&t, Rule::MissingNeedsIncrementalState, 2);
    assert_eq!(t.events[0].name.as_deref(), Some("x"));
}

#[test]
fn missing_needs_incremental_state_for_incremental_clock() {
    let mut e = instant(1, 5, 11, "a");
    e.set_timestamp_clock_id(64);
    e.sequence_flags = None;
    let t = decode(vec![
        snapshot(1, vec![clock(6, 100), incremental_clock(64, 0, 1)]),
        e,
    ]);
    assert_only(&t, Rule::MissingNeedsIncrementalState, 1);
    assert_eq!(t.events[0].ts, 105);
}

#[test]
fn invalid_iid() {
    let mut define = on_seq(1, NEEDS);
    define.interned_data = MessageField::some(names(&[(0, "zero")]));
    let mut use_zero = instant(1, 10, 11, "ignored");
    use_zero.mut_track_event().set_name_iid(0);
    let t = decode(vec![define, use_zero]);
    assert_only(&t, Rule::InvalidIid, 2);
}

#[test]
fn unknown_iid() {
    let mut define = on_seq(1, NEEDS);
    define.interned_data = MessageField::some(names(&[(1, "x")]));
    let mut undefined = instant(1, 10, 11, "ignored");
    undefined.mut_track_event().set_name_iid(2);
    // Clearing forgets iid 1.
    let mut after_clear = instant(1, 20, 11, "ignored");
    after_clear.mut_track_event().set_name_iid(1);
    let mut cleared = clear_with_default_track(1, 11);
    cleared.set_sequence_flags(CLEARED);
    let t = decode(vec![define, undefined, cleared, after_clear]);
    assert_only(&t, Rule::UnknownIid, 2);
    assert_eq!(t.events[0].name, None);
}

#[test]
fn interned_redefined() {
    let mut a = on_seq(1, NEEDS);
    a.interned_data = MessageField::some(names(&[(1, "x")]));
    let mut same = on_seq(1, NEEDS);
    same.interned_data = MessageField::some(names(&[(1, "x")]));
    let mut different = on_seq(1, NEEDS);
    different.interned_data = MessageField::some(names(&[(1, "y")]));
    let t = decode(vec![a, same, different]);
    assert_only(&t, Rule::InternedRedefined, 1);
}

#[test]
fn invalid_clock_snapshot() {
    let mut primary = snapshot(1, vec![clock(6, 100), clock(3, 50)]);
    primary.mut_clock_snapshot().primary_trace_clock =
        Some(EnumOrUnknown::new(BuiltinClock::BUILTIN_CLOCK_MONOTONIC));
    let t = decode(vec![
        // A global clock cannot be incremental.
        snapshot(1, vec![clock(6, 100), incremental_clock(3, 50, 1)]),
        // Clock 64 changes unit between snapshots.
        snapshot(1, vec![clock(6, 100), incremental_clock(64, 0, 1)]),
        snapshot(1, vec![clock(6, 200), incremental_clock(64, 0, 1000)]),
        // BOOTTIME goes back.
        snapshot(1, vec![clock(6, 50), incremental_clock(64, 0, 1)]),
        // A clock twice.
        snapshot(1, vec![clock(6, 300), clock(6, 300)]),
        // Another primary trace clock.
        primary,
        // A sequence-scoped clock without sequence.
        {
            let mut p = snapshot(1, vec![clock(6, 100), clock(64, 1)]);
            p.optional_trusted_packet_sequence_id = None;
            p
        },
    ]);
    assert_only(&t, Rule::InvalidClockSnapshot, 6);
}

#[test]
fn unresolvable_timestamp() {
    let mut mono = instant(1, 10, 11, "a");
    mono.set_timestamp_clock_id(3);
    let mut seq_clock = instant(1, 10, 11, "b");
    seq_clock.set_timestamp_clock_id(70);
    // Clock 5 is known but not related to BOOTTIME.
    let mut raw = instant(1, 10, 11, "c");
    raw.set_timestamp_clock_id(5);
    let t = decode(vec![
        mono,
        seq_clock,
        snapshot(1, vec![clock(5, 1), clock(4, 1)]),
        raw,
    ]);
    assert_only(&t, Rule::UnresolvableTimestamp, 3);
    assert!(t.events.is_empty());
}

#[test]
fn snapshot_must_come_first() {
    // trace_processor would defer; the oracle requires the snapshot first.
    let mut mono = instant(1, 10, 11, "a");
    mono.set_timestamp_clock_id(3);
    let t = decode(vec![mono, snapshot(1, vec![clock(6, 100), clock(3, 0)])]);
    assert_only(&t, Rule::UnresolvableTimestamp, 1);
}

#[test]
fn negative_timestamp() {
    let mut mono = instant(1, 500, 11, "a");
    mono.set_timestamp_clock_id(3);
    let huge = instant(1, u64::MAX, 11, "b");
    let t = decode(vec![
        snapshot(1, vec![clock(6, 100), clock(3, 1000)]),
        mono,
        huge,
    ]);
    assert_only(&t, Rule::NegativeTimestamp, 2);
}

#[test]
fn missing_timestamp() {
    let mut e = instant(1, 0, 11, "a");
    e.timestamp = None;
    let t = decode(vec![e]);
    assert_only(&t, Rule::MissingTimestamp, 1);
}

#[test]
fn invalid_track_uuid() {
    let zero = plain_track(0, None, "zero");
    let mut none = plain_track(1, None, "none");
    none.mut_track_descriptor().uuid = None;
    let t = decode(vec![zero, none]);
    assert_only(&t, Rule::InvalidTrackUuid, 2);
}

#[test]
fn conflicting_descriptor() {
    let t = decode(vec![
        plain_track(30, Some(10), "a"),
        plain_track(30, Some(10), "a"), // identical: fine
        plain_track(30, Some(10), "b"),
    ]);
    assert_only(&t, Rule::ConflictingDescriptor, 1);
    assert_eq!(t.tracks[&30].name.as_deref(), Some("a"));
}

#[test]
fn missing_parent() {
    let t = decode(vec![plain_track(30, Some(999), "orphan")]);
    assert_only(&t, Rule::MissingParent, 1);
}

#[test]
fn parent_loop() {
    let t = decode(vec![
        plain_track(30, Some(31), "a"),
        plain_track(31, Some(30), "b"),
        plain_track(32, Some(32), "self"),
    ]);
    assert_only(&t, Rule::ParentLoop, 3);
}

#[test]
fn process_without_pid() {
    let mut p = process_track(30, 1, "p");
    p.mut_track_descriptor().process.as_mut().unwrap().pid = None;
    let t = decode(vec![p]);
    assert_only(&t, Rule::ProcessWithoutPid, 1);
    assert!(!t.tracks.contains_key(&30));
}

#[test]
fn thread_without_pid_tid() {
    let mut no_tid = thread_track(30, 10, 100, 5, "t");
    no_tid.mut_track_descriptor().thread.as_mut().unwrap().tid = None;
    let mut no_pid = thread_track(31, 10, 100, 6, "t");
    no_pid.mut_track_descriptor().thread.as_mut().unwrap().pid = None;
    let t = decode(vec![no_tid, no_pid]);
    assert_only(&t, Rule::ThreadWithoutPidTid, 2);
}

#[test]
fn unknown_track() {
    let t = decode(vec![begin(1, 10, 77, "a"), end(1, 20, 77)]);
    assert_only(&t, Rule::UnknownTrack, 1);
    assert!(t.violations[0].detail.contains("2 events"));
}

#[test]
fn no_track() {
    let t = decode(vec![
        clear(1),
        event(1, 10, None, EvType::TYPE_INSTANT, Some("a")),
    ]);
    assert_only(&t, Rule::NoTrack, 1);
    assert_eq!(t.events[0].track, 0);
}

#[test]
fn missing_event_type() {
    let mut e = instant(1, 10, 11, "a");
    e.mut_track_event().type_ = None;
    let t = decode(vec![e]);
    assert_only(&t, Rule::MissingEventType, 1);
}

#[test]
fn counter_without_value() {
    let mut c = counter_int(1, 10, 12, 0);
    c.mut_track_event().counter_value_field = None;
    let t = decode(vec![
        counter_track(12, 10, "c"),
        c,
        counter_int(1, 20, 12, 0),
    ]);
    assert_only(&t, Rule::CounterWithoutValue, 1);
    assert_eq!(t.counts.track(12).counters, 1);
}

#[test]
fn counter_before_descriptor() {
    let t = decode(vec![
        counter_int(1, 10, 12, 1),
        counter_track(12, 10, "c"),
        counter_int(1, 20, 12, 2),
        counter_double(1, 30, 11, 2.0), // a thread track is not a counter track
    ]);
    assert_only(&t, Rule::CounterBeforeDescriptor, 2);
    assert_eq!(t.counts.track(12).counters, 1);
}

#[test]
fn event_on_counter_track() {
    let t = decode(vec![
        counter_track(12, 10, "c"),
        begin(1, 10, 12, "a"),
        end(1, 20, 12),
    ]);
    assert_only(&t, Rule::EventOnCounterTrack, 1);
}

#[test]
fn annotation_without_name() {
    let mut e = instant(1, 10, 11, "a");
    let mut unnamed = DebugAnnotation::new();
    unnamed.value = Some(Value::IntValue(1));
    let mut dict = DebugAnnotation::new();
    dict.name_field = Some(ArgName::Name("d".into()));
    dict.dict_entries.push(unnamed.clone());
    dict.dict_entries.push(ann("ok", Value::IntValue(2)));
    e.mut_track_event().debug_annotations = vec![unnamed, dict];
    let t = decode(vec![e]);
    assert_only(&t, Rule::AnnotationWithoutName, 2);
    assert_eq!(
        t.events[0].args,
        vec![("d".into(), Arg::Dict(vec![("ok".into(), Arg::Int(2))]))]
    );
}

#[test]
fn unsupported_field() {
    let mut legacy_ts = instant(1, 10, 11, "a");
    legacy_ts.mut_track_event().set_timestamp_absolute_us(5);
    let mut old_flows = instant(1, 20, 11, "b");
    old_flows.mut_track_event().flow_ids_old = vec![1];
    let t = decode(vec![legacy_ts, old_flows]);
    assert_only(&t, Rule::UnsupportedField, 2);
}

#[test]
fn unbalanced_end() {
    let t = decode(vec![begin(1, 10, 11, "a"), end(1, 20, 11), end(1, 30, 11)]);
    assert_only(&t, Rule::UnbalancedEnd, 1);
    assert_eq!(t.counts.track(11).unmatched_ends, 1);
}

#[test]
fn did_not_end() {
    let t = decode(vec![
        begin(1, 10, 11, "a"),
        begin(1, 20, 11, "b"),
        end(1, 30, 11),
    ]);
    assert_only(&t, Rule::DidNotEnd, 1);
    assert_eq!(t.slices_named("a")[0].end_ts, None);
    assert_eq!(t.slices_named("b")[0].end_ts, Some(30));
    assert_eq!(t.counts.track(11).open_at_end, 1);
}

#[test]
fn end_mismatch() {
    let mut wrong_name = end(1, 30, 11);
    wrong_name.mut_track_event().set_name("a".into());
    let mut right_name = end(1, 40, 11);
    right_name.mut_track_event().set_name("a".into());
    let t = decode(vec![
        begin(1, 10, 11, "a"),
        begin(1, 20, 11, "b"),
        wrong_name,
        right_name,
    ]);
    assert_only(&t, Rule::EndMismatch, 1);
}

#[test]
fn max_depth() {
    let mut packets: Vec<TracePacket> = (0..513).map(|i| begin(1, i, 11, "deep")).collect();
    packets.extend((0..513).map(|i| end(1, 1000 + i, 11)));
    let t = decode(packets);
    // The 513th begin is dropped, so one end finds nothing to close.
    let rules: Vec<Rule> = t.violations.iter().map(|v| v.rule).collect();
    assert_eq!(rules, vec![Rule::MaxDepth, Rule::UnbalancedEnd]);
    assert_eq!(t.counts.track(11).max_depth, 512);
}

#[test]
fn violations_are_capped_per_rule() {
    let packets: Vec<TracePacket> = (0..1500).map(|i| end(1, i, 11)).collect();
    let t = decode(packets);
    assert_eq!(t.violations.len(), 1000);
    assert_eq!(t.violation_totals[&Rule::UnbalancedEnd], 1500);
    let err = std::panic::catch_unwind(|| t.assert_valid()).unwrap_err();
    let msg = err.downcast_ref::<String>().unwrap();
    assert!(msg.contains("500 more UnbalancedEnd"));
}

#[test]
fn counting_mode_reports_the_same_slice_rules() {
    let mut all = preamble();
    all.extend([
        begin(1, 10, 11, "a"),
        end(1, 20, 11),
        end(1, 30, 11),
        begin(1, 40, 11, "b"),
    ]);
    let t = decode_reader(&trace(&all)[..], ModelOptions { keep_events: false }).unwrap();
    let rules: Vec<Rule> = t.violations.iter().map(|v| v.rule).collect();
    assert_eq!(rules, vec![Rule::UnbalancedEnd, Rule::DidNotEnd]);
}

#[test]
fn descriptor_equality_includes_all_fields() {
    let mut a = TrackDescriptor::new();
    a.uuid = Some(40);
    a.set_name("x".into());
    let mut b = a.clone();
    b.disallow_merging_with_system_tracks = Some(true);
    let pa = {
        let mut p = on_seq(1000, 0);
        p.set_track_descriptor(a);
        p
    };
    let pb = {
        let mut p = on_seq(1000, 0);
        p.set_track_descriptor(b);
        p
    };
    let t = decode(vec![pa, pb]);
    assert_only(&t, Rule::ConflictingDescriptor, 1);
}
