//! Hand-written Perfetto protobuf messages, encoded with quick-protobuf.
//!
//! Only the fields tg4p emits are modelled. Field numbers and wire types follow
//! Perfetto's own `.proto` files (`protos/perfetto/trace/`); each struct names the
//! message it encodes. The structs borrow everything they write, so building and
//! encoding a packet allocates nothing beyond the output buffer.
//!
//! Tests never decode these bytes with this module: they use a decoder generated from
//! Perfetto's protos (see the `tg4p-oracle` crate).

mod clock_snapshot;
mod debug_annotation;
mod field;
mod interned_data;
mod sequence_event;
pub(crate) mod tags;
mod trace_packet;
mod track_descriptor;
mod track_event;
pub(crate) mod varint;

pub use clock_snapshot::{BuiltinClock, Clock, ClockSnapshot};
pub use debug_annotation::{
    AnnotationList, AnnotationName, AnnotationValue, DebugAnnotation, NoAnnotations,
};
pub use interned_data::{InternedData, InternedString, SourceLocation};
pub use sequence_event::{SequenceEvent, append_sequence_event};
pub(crate) use sequence_event::{
    SequenceIdBytes, append_sequence_event_inline, append_small_event,
};
pub use trace_packet::{
    PacketData, SEQ_INCREMENTAL_STATE_CLEARED, SEQ_NEEDS_INCREMENTAL_STATE, TracePacket,
    TracePacketDefaults,
};
pub use track_descriptor::{
    CounterDescriptor, ProcessDescriptor, ThreadDescriptor, TrackDescriptor,
};
pub use track_event::{CounterValue, EventName, EventType, TrackEvent};

use quick_protobuf::{MessageWrite, Writer};

/// The sequence-scoped, incremental clock every event timestamp is written in
/// (by the generator and the live writer alike): ids 64 to 127 are a sequence's own.
pub(crate) const SEQUENCE_CLOCK: u32 = 64;

/// The first packet of a sequence, as the generator and the live writer both write
/// it: it clears the sequence's incremental state, sets its defaults (timestamps
/// on [`SEQUENCE_CLOCK`], events on the track `track_uuid`) and relates
/// [`SEQUENCE_CLOCK`] to BOOTTIME with a `ClockSnapshot`: both read `boottime_ns`,
/// so the sequence's first delta counts from there.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SequenceStart {
    pub(crate) sequence: u32,
    pub(crate) track_uuid: u64,
    pub(crate) boottime_ns: u64,
    /// Marks a loss of packets just before (the live writer's drops).
    pub(crate) previous_packet_dropped: bool,
}

impl SequenceStart {
    /// Appends the packet to `out`.
    pub(crate) fn append(&self, out: &mut Vec<u8>) {
        let clocks = [
            Clock {
                clock_id: BuiltinClock::Boottime as u32,
                timestamp: self.boottime_ns,
                ..Default::default()
            },
            Clock {
                clock_id: SEQUENCE_CLOCK,
                timestamp: self.boottime_ns,
                is_incremental: true,
                unit_multiplier_ns: None,
            },
        ];
        let packet = TracePacket::<NoAnnotations> {
            trusted_packet_sequence_id: Some(self.sequence),
            sequence_flags: SEQ_INCREMENTAL_STATE_CLEARED,
            previous_packet_dropped: self.previous_packet_dropped,
            trace_packet_defaults: Some(TracePacketDefaults {
                timestamp_clock_id: Some(SEQUENCE_CLOCK),
                track_uuid: Some(self.track_uuid),
            }),
            data: Some(PacketData::ClockSnapshot(ClockSnapshot {
                clocks: &clocks,
                primary_trace_clock: None,
            })),
            ..Default::default()
        };
        append_packet(out, &packet);
    }
}

/// How deep slices may nest on one track: trace_processor drops (and counts as
/// errors) slices nested deeper (`SliceTracker::kMaxDepth`).
pub(crate) const MAX_NESTING: usize = 512;

/// Appends one `Trace.packet` entry (tag, length, packet) to `out`.
///
/// A trace file is nothing but a sequence of these, so files written in pieces, or
/// several files concatenated, are still one valid `Trace`.
pub fn append_packet<M: MessageWrite>(out: &mut Vec<u8>, packet: &M) {
    let size = packet.get_size();
    out.reserve(1 + 10 + size);
    out.push(tags::TRACE_PACKET);
    let mut writer = Writer::new(out);
    // Writing into a Vec cannot fail: the only errors quick-protobuf reports come
    // from the backend, and `Vec<u8>`'s `io::Write` never fails.
    let written = writer
        .write_varint(size as u64)
        .and_then(|()| packet.write_message(&mut writer));
    debug_assert!(written.is_ok(), "encoding into a Vec failed: {written:?}");
}

#[cfg(all(test, not(tg4p_loom)))]
mod tests;
