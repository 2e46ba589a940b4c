//! The data-loss rows trace_processor adds to its `stats` table from a trace's
//! `TracePacket.trace_stats` and its loss markers, following
//! `ProtoTraceReader::ParseTraceStats` (google/perfetto,
//! `src/trace_processor/importers/proto/proto_trace_reader.cc`, and the
//! severities in `src/trace_processor/storage/stats.h`).

use std::collections::{BTreeMap, HashMap};

use perfetto_protos::trace_stats::TraceStats;

/// Data-loss stats as trace_processor imports them (each indexed by buffer).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LossStats {
    /// `TraceStats` packets seen.
    pub trace_stats_packets: usize,
    /// `traced_buf_trace_writer_packet_loss` (data loss): each buffer's
    /// `BufferStats.trace_writer_packet_loss`, by the buffer's position.
    pub trace_writer_packet_loss: BTreeMap<usize, u64>,
    /// `traced_buf_sequence_packet_loss` (data loss): for every sequence a
    /// `WriterStats` names, its packets with `previous_packet_dropped` (the
    /// sequence's first packet excepted), summed per `WriterStats.buffer`.
    pub sequence_packet_loss: BTreeMap<usize, u64>,
}

impl LossStats {
    /// The sum of every data-loss stat: what trace_processor's
    /// `select sum(value) from stats where severity = 'data_loss'` reads from
    /// these rows.
    pub fn data_loss(&self) -> u64 {
        self.trace_writer_packet_loss
            .values()
            .chain(self.sequence_packet_loss.values())
            .sum()
    }
}

/// Collects [`LossStats`] packet by packet.
#[derive(Debug, Default)]
pub(crate) struct LossTracker {
    /// Per sequence: loss markers on packets after its first.
    dropped: HashMap<u32, u64>,
    stats: LossStats,
}

impl LossTracker {
    /// Every packet, before its payload: `seq` its sequence id (if any),
    /// `dropped` its `previous_packet_dropped`.
    pub(crate) fn on_packet(&mut self, seq: Option<u32>, dropped: bool) {
        let Some(seq) = seq else { return };
        match self.dropped.get_mut(&seq) {
            Some(n) => *n += dropped as u64,
            // The sequence's first packet: trace_processor does not count it.
            None => {
                self.dropped.insert(seq, 0);
            }
        }
    }

    /// A `trace_stats` payload. Stats are set, not added: the last packet wins.
    pub(crate) fn on_trace_stats(&mut self, ts: &TraceStats) {
        self.stats.trace_stats_packets += 1;
        for (i, b) in ts.buffer_stats.iter().enumerate() {
            self.stats
                .trace_writer_packet_loss
                .insert(i, b.trace_writer_packet_loss.unwrap_or(0));
        }
        let mut per_buffer: BTreeMap<usize, u64> = BTreeMap::new();
        for w in &ts.writer_stats {
            let seq = w.sequence_id.unwrap_or(0) as u32;
            if let Some(&n) = self.dropped.get(&seq) {
                *per_buffer
                    .entry(w.buffer.unwrap_or(0) as usize)
                    .or_default() += n;
            }
        }
        self.stats.sequence_packet_loss.extend(per_buffer);
    }

    pub(crate) fn finish(self) -> LossStats {
        self.stats
    }
}
