//! Hand-built traces for testing the oracle, made only with Perfetto's
//! generated structs (never with tg4p code).
#![allow(dead_code, unused_imports)]

use perfetto_protos::clock_snapshot::ClockSnapshot;
use perfetto_protos::clock_snapshot::clock_snapshot::Clock;
use perfetto_protos::counter_descriptor::CounterDescriptor;
use perfetto_protos::debug_annotation::DebugAnnotation;
use perfetto_protos::debug_annotation::debug_annotation::{Name_field as ArgName, Value};
use perfetto_protos::interned_data::InternedData;
use perfetto_protos::process_descriptor::ProcessDescriptor;
use perfetto_protos::thread_descriptor::ThreadDescriptor;
use perfetto_protos::trace::Trace;
use perfetto_protos::trace_packet::TracePacket;
use perfetto_protos::trace_packet_defaults::TracePacketDefaults;
use perfetto_protos::track_descriptor::TrackDescriptor;
use perfetto_protos::track_event::track_event::Type;
use perfetto_protos::track_event::{EventName, TrackEvent, TrackEventDefaults};
use protobuf::{Message, MessageField};

pub use perfetto_protos::track_event::track_event::Type as EvType;

pub const CLEARED: u32 = 1;
pub const NEEDS: u32 = 2;

/// Serializes packets as a `Trace`.
pub fn trace(packets: &[TracePacket]) -> Vec<u8> {
    let mut t = Trace::new();
    t.packet = packets.to_vec();
    t.write_to_bytes().unwrap()
}

/// Frames raw packet bytes as `Trace.packet` by hand.
pub fn frame(bytes: &[u8]) -> Vec<u8> {
    let mut out = vec![0x0a];
    let mut n = bytes.len() as u64;
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(b);
            break;
        }
        out.push(b | 0x80);
    }
    out.extend_from_slice(bytes);
    out
}

/// An empty packet on `seq` with `flags`.
pub fn on_seq(seq: u32, flags: u32) -> TracePacket {
    let mut p = TracePacket::new();
    p.set_trusted_packet_sequence_id(seq);
    if flags != 0 {
        p.set_sequence_flags(flags);
    }
    p
}

/// The first packet of a sequence: clears incremental state.
pub fn clear(seq: u32) -> TracePacket {
    on_seq(seq, CLEARED)
}

/// Clears the sequence and sets its default track.
pub fn clear_with_default_track(seq: u32, track: u64) -> TracePacket {
    let mut p = clear(seq);
    let mut d = TracePacketDefaults::new();
    let mut ted = TrackEventDefaults::new();
    ted.track_uuid = Some(track);
    d.track_event_defaults = MessageField::some(ted);
    p.trace_packet_defaults = MessageField::some(d);
    p
}

fn descriptor_packet(td: TrackDescriptor) -> TracePacket {
    let mut p = on_seq(1000, 0);
    p.set_track_descriptor(td);
    p
}

pub fn process_track(uuid: u64, pid: i32, name: &str) -> TracePacket {
    let mut td = TrackDescriptor::new();
    td.uuid = Some(uuid);
    let mut pd = ProcessDescriptor::new();
    pd.pid = Some(pid);
    pd.process_name = Some(name.into());
    td.process = MessageField::some(pd);
    descriptor_packet(td)
}

pub fn thread_track(uuid: u64, parent: u64, pid: i32, tid: i32, name: &str) -> TracePacket {
    let mut td = TrackDescriptor::new();
    td.uuid = Some(uuid);
    td.parent_uuid = Some(parent);
    let mut th = ThreadDescriptor::new();
    th.pid = Some(pid);
    th.tid = Some(tid);
    th.thread_name = Some(name.into());
    td.thread = MessageField::some(th);
    descriptor_packet(td)
}

pub fn counter_track(uuid: u64, parent: u64, name: &str) -> TracePacket {
    let mut td = TrackDescriptor::new();
    td.uuid = Some(uuid);
    td.parent_uuid = Some(parent);
    td.set_name(name.into());
    td.counter = MessageField::some(CounterDescriptor::new());
    descriptor_packet(td)
}

pub fn plain_track(uuid: u64, parent: Option<u64>, name: &str) -> TracePacket {
    let mut td = TrackDescriptor::new();
    td.uuid = Some(uuid);
    td.parent_uuid = parent;
    td.set_name(name.into());
    descriptor_packet(td)
}

/// A TrackEvent packet on `seq` (flags NEEDS) at BOOTTIME `ts`.
pub fn event(seq: u32, ts: u64, track: Option<u64>, ty: Type, name: Option<&str>) -> TracePacket {
    let mut te = TrackEvent::new();
    te.set_type(ty);
    te.track_uuid = track;
    if let Some(n) = name {
        te.set_name(n.into());
    }
    let mut p = on_seq(seq, NEEDS);
    p.timestamp = Some(ts);
    p.set_track_event(te);
    p
}

pub fn begin(seq: u32, ts: u64, track: u64, name: &str) -> TracePacket {
    event(seq, ts, Some(track), Type::TYPE_SLICE_BEGIN, Some(name))
}

pub fn end(seq: u32, ts: u64, track: u64) -> TracePacket {
    event(seq, ts, Some(track), Type::TYPE_SLICE_END, None)
}

pub fn instant(seq: u32, ts: u64, track: u64, name: &str) -> TracePacket {
    event(seq, ts, Some(track), Type::TYPE_INSTANT, Some(name))
}

pub fn counter_int(seq: u32, ts: u64, track: u64, v: i64) -> TracePacket {
    let mut p = event(seq, ts, Some(track), Type::TYPE_COUNTER, None);
    p.mut_track_event().set_counter_value(v);
    p
}

pub fn counter_double(seq: u32, ts: u64, track: u64, v: f64) -> TracePacket {
    let mut p = event(seq, ts, Some(track), Type::TYPE_COUNTER, None);
    p.mut_track_event().set_double_counter_value(v);
    p
}

/// Interned data with the given event names.
pub fn names(entries: &[(u64, &str)]) -> InternedData {
    let mut d = InternedData::new();
    for &(iid, name) in entries {
        let mut e = EventName::new();
        e.iid = Some(iid);
        e.name = Some(name.into());
        d.event_names.push(e);
    }
    d
}

/// A clock for a snapshot.
pub fn clock(id: u32, ts: u64) -> Clock {
    let mut c = Clock::new();
    c.clock_id = Some(id);
    c.timestamp = Some(ts);
    c
}

/// An incremental clock with a unit.
pub fn incremental_clock(id: u32, ts: u64, unit_ns: u64) -> Clock {
    let mut c = clock(id, ts);
    c.is_incremental = Some(true);
    c.unit_multiplier_ns = Some(unit_ns);
    c
}

/// A ClockSnapshot packet on `seq`.
pub fn snapshot(seq: u32, clocks: Vec<Clock>) -> TracePacket {
    let mut cs = ClockSnapshot::new();
    cs.clocks = clocks;
    let mut p = on_seq(seq, 0);
    p.set_clock_snapshot(cs);
    p
}

/// A named debug annotation.
pub fn ann(name: &str, value: Value) -> DebugAnnotation {
    let mut a = DebugAnnotation::new();
    a.name_field = Some(ArgName::Name(name.into()));
    a.value = Some(value);
    a
}

/// A standard preamble: process 10 (pid 100), thread 11 (tid 101) on it,
/// and sequence 1 cleared with default track 11.
pub fn preamble() -> Vec<TracePacket> {
    vec![
        process_track(10, 100, "proc"),
        thread_track(11, 10, 100, 101, "main"),
        clear_with_default_track(1, 11),
    ]
}
