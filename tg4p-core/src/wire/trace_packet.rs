//! `TracePacket` (protos/perfetto/trace/trace_packet.proto) and
//! `TracePacketDefaults` (protos/perfetto/trace/trace_packet_defaults.proto).

use super::clock_snapshot::ClockSnapshot;
use super::debug_annotation::{AnnotationList, NoAnnotations};
use super::field::*;
use super::interned_data::InternedData;
use super::track_descriptor::TrackDescriptor;
use super::track_event::TrackEvent;
use quick_protobuf::{MessageWrite, Result, Writer, WriterBackend};

/// `sequence_flags`: the sequence's incremental state (interning tables, defaults,
/// incremental clocks) starts afresh with this packet.
pub const SEQ_INCREMENTAL_STATE_CLEARED: u32 = 1;
/// `sequence_flags`: this packet uses the sequence's incremental state.
pub const SEQ_NEEDS_INCREMENTAL_STATE: u32 = 2;

/// `TracePacketDefaults`: values that apply to every later packet of the sequence.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TracePacketDefaults {
    /// Field 58: clock of packets that set no `timestamp_clock_id`.
    pub timestamp_clock_id: Option<u32>,
    /// Field 11 (`TrackEventDefaults`), its field 11: track of events that set no
    /// `track_uuid`.
    pub track_uuid: Option<u64>,
}

impl MessageWrite for TracePacketDefaults {
    fn get_size(&self) -> usize {
        self.track_uuid
            .map_or(0, |u| len_field_size(11, varint_field_size(11, u)))
            + self
                .timestamp_clock_id
                .map_or(0, |c| varint_field_size(58, c as u64))
    }

    fn write_message<W: WriterBackend>(&self, w: &mut Writer<W>) -> Result<()> {
        if let Some(uuid) = self.track_uuid {
            w.write_tag(tag(11, LEN))?;
            w.write_varint(varint_field_size(11, uuid) as u64)?;
            write_varint_field(w, 11, uuid)?;
        }
        if let Some(clock) = self.timestamp_clock_id {
            write_varint_field(w, 58, clock as u64)?;
        }
        Ok(())
    }
}

/// The payload of a packet (a `oneof` in the proto).
#[derive(Clone, Copy, Debug)]
pub enum PacketData<'a, A = NoAnnotations> {
    /// Field 6.
    ClockSnapshot(ClockSnapshot<'a>),
    /// Field 11.
    TrackEvent(TrackEvent<'a, A>),
    /// Field 60.
    TrackDescriptor(TrackDescriptor<'a>),
}

/// `TracePacket`: one entry of a trace.
#[derive(Clone, Copy, Debug, Default)]
pub struct TracePacket<'a, A = NoAnnotations> {
    /// Field 8, in the units of the packet's clock (a delta on incremental clocks).
    pub timestamp: Option<u64>,
    /// Field 58.
    pub timestamp_clock_id: Option<u32>,
    /// Field 10: the writer sequence this packet belongs to.
    pub trusted_packet_sequence_id: Option<u32>,
    /// Field 13: `SEQ_*` bits.
    pub sequence_flags: u32,
    /// Field 12.
    pub interned_data: Option<InternedData<'a>>,
    /// Field 59.
    pub trace_packet_defaults: Option<TracePacketDefaults>,
    /// Field 42: packets of this sequence were lost before this one.
    pub previous_packet_dropped: bool,
    /// Fields 6 / 11 / 60.
    pub data: Option<PacketData<'a, A>>,
}

impl<A: AnnotationList> MessageWrite for TracePacket<'_, A> {
    fn get_size(&self) -> usize {
        let data = match &self.data {
            None => 0,
            Some(PacketData::ClockSnapshot(c)) => message_field_size(6, c),
            Some(PacketData::TrackEvent(e)) => message_field_size(11, e),
            Some(PacketData::TrackDescriptor(d)) => message_field_size(60, d),
        };
        data + self.timestamp.map_or(0, |t| varint_field_size(8, t))
            + self
                .trusted_packet_sequence_id
                .map_or(0, |s| varint_field_size(10, s as u64))
            + self
                .interned_data
                .as_ref()
                .map_or(0, |i| message_field_size(12, i))
            + if self.sequence_flags != 0 {
                varint_field_size(13, self.sequence_flags as u64)
            } else {
                0
            }
            + if self.previous_packet_dropped { 3 } else { 0 }
            + self
                .timestamp_clock_id
                .map_or(0, |c| varint_field_size(58, c as u64))
            + self
                .trace_packet_defaults
                .as_ref()
                .map_or(0, |d| message_field_size(59, d))
    }

    fn write_message<W: WriterBackend>(&self, w: &mut Writer<W>) -> Result<()> {
        // Fields in ascending order, as protobuf encoders conventionally write them.
        if let Some(PacketData::ClockSnapshot(c)) = &self.data {
            write_message_field(w, 6, c)?;
        }
        if let Some(ts) = self.timestamp {
            write_varint_field(w, 8, ts)?;
        }
        if let Some(seq) = self.trusted_packet_sequence_id {
            write_varint_field(w, 10, seq as u64)?;
        }
        if let Some(PacketData::TrackEvent(e)) = &self.data {
            write_message_field(w, 11, e)?;
        }
        if let Some(interned) = &self.interned_data {
            write_message_field(w, 12, interned)?;
        }
        if self.sequence_flags != 0 {
            write_varint_field(w, 13, self.sequence_flags as u64)?;
        }
        if self.previous_packet_dropped {
            write_varint_field(w, 42, 1)?;
        }
        if let Some(clock) = self.timestamp_clock_id {
            write_varint_field(w, 58, clock as u64)?;
        }
        if let Some(defaults) = &self.trace_packet_defaults {
            write_message_field(w, 59, defaults)?;
        }
        if let Some(PacketData::TrackDescriptor(d)) = &self.data {
            write_message_field(w, 60, d)?;
        }
        Ok(())
    }
}
