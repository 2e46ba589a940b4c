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
mod trace_packet;
mod track_descriptor;
mod track_event;

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

/// Field 1 of `Trace` (`repeated TracePacket packet = 1`), length-delimited.
const TRACE_PACKET_TAG: u8 = (1 << 3) | 2;

/// Appends one `Trace.packet` entry (tag, length, packet) to `out`.
///
/// A trace file is nothing but a sequence of these, so files written in pieces, or
/// several files concatenated, are still one valid `Trace`.
pub fn append_packet<M: MessageWrite>(out: &mut Vec<u8>, packet: &M) {
    let size = packet.get_size();
    out.reserve(1 + 10 + size);
    out.push(TRACE_PACKET_TAG);
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
