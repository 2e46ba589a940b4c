//! `TraceStats` (protos/perfetto/common/trace_stats.proto), written as the last
//! packet of a live trace (`TracePacket.trace_stats`, field 35), as Perfetto's
//! tracing service writes it at the end of its traces.
//!
//! trace_processor imports it into its `stats` table
//! (`ProtoTraceReader::ParseTraceStats`): of the fields written here,
//! `BufferStats.trace_writer_packet_loss` becomes `traced_buf_trace_writer_packet_loss`
//! (index: the buffer's position), a *data loss* stat, which the Perfetto UI shows
//! as its data-loss warning. For every sequence named in a `WriterStats`, the
//! packets of that sequence marked `previous_packet_dropped` (its first packet
//! excepted) are summed into `traced_buf_sequence_packet_loss`, another data-loss
//! stat: the number of separate losses, where the first counts the events lost.

use super::field::*;
use quick_protobuf::{MessageWrite, Result, Writer, WriterBackend};

/// What a trace lost, as its closing `TraceStats` packet says it.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct TraceStats<'a> {
    /// Events lost (`BufferStats.trace_writer_packet_loss` of the one buffer).
    pub(crate) packet_loss: u64,
    /// The trace's sequences (one `WriterStats` each, all in buffer 0).
    pub(crate) sequences: &'a [u32],
}

/// `TraceStats.BufferStats` (field 1) of the one buffer, with field 19
/// (`trace_writer_packet_loss`) only.
struct BufferStats(u64);

impl MessageWrite for BufferStats {
    fn get_size(&self) -> usize {
        varint_field_size(19, self.0)
    }

    fn write_message<W: WriterBackend>(&self, w: &mut Writer<W>) -> Result<()> {
        write_varint_field(w, 19, self.0)
    }
}

/// `TraceStats.WriterStats` (field 18): a sequence (field 1) in buffer 0 (field 4).
struct WriterStats(u32);

impl MessageWrite for WriterStats {
    fn get_size(&self) -> usize {
        varint_field_size(1, u64::from(self.0)) + varint_field_size(4, 0)
    }

    fn write_message<W: WriterBackend>(&self, w: &mut Writer<W>) -> Result<()> {
        write_varint_field(w, 1, u64::from(self.0))?;
        write_varint_field(w, 4, 0)
    }
}

impl MessageWrite for TraceStats<'_> {
    fn get_size(&self) -> usize {
        message_field_size(1, &BufferStats(self.packet_loss))
            + self
                .sequences
                .iter()
                .map(|&s| message_field_size(18, &WriterStats(s)))
                .sum::<usize>()
    }

    fn write_message<W: WriterBackend>(&self, w: &mut Writer<W>) -> Result<()> {
        write_message_field(w, 1, &BufferStats(self.packet_loss))?;
        for &s in self.sequences {
            write_message_field(w, 18, &WriterStats(s))?;
        }
        Ok(())
    }
}

/// A `TracePacket` holding only `trace_stats` (field 35).
struct StatsPacket<'a>(TraceStats<'a>);

impl MessageWrite for StatsPacket<'_> {
    fn get_size(&self) -> usize {
        message_field_size(35, &self.0)
    }

    fn write_message<W: WriterBackend>(&self, w: &mut Writer<W>) -> Result<()> {
        write_message_field(w, 35, &self.0)
    }
}

impl TraceStats<'_> {
    /// Appends the packet to `out`.
    pub(crate) fn append(&self, out: &mut Vec<u8>) {
        super::append_packet(out, &StatsPacket(*self));
    }
}
