//! `ClockSnapshot` (protos/perfetto/trace/clock_snapshot.proto).

use super::field::*;
use quick_protobuf::{MessageWrite, Result, Writer, WriterBackend};

/// Perfetto's builtin clock ids (protos/perfetto/common/builtin_clock.proto).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
#[allow(
    dead_code,
    reason = "Perfetto's list, of which tg4p writes BOOTTIME only"
)]
pub enum BuiltinClock {
    Realtime = 1,
    Monotonic = 3,
    MonotonicRaw = 5,
    /// The trace's default clock domain.
    Boottime = 6,
}

/// `ClockSnapshot.Clock`: one clock's reading at the moment of the snapshot.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Clock {
    /// Field 1. Builtin ids are below 64; 64..=127 are scoped to the packet's sequence.
    pub clock_id: u32,
    /// Field 2, in the clock's own units.
    pub timestamp: u64,
    /// Field 3: packets on this clock carry deltas from the previous packet.
    pub is_incremental: bool,
    /// Field 4: nanoseconds per unit (1 when absent).
    pub unit_multiplier_ns: Option<u64>,
}

impl MessageWrite for Clock {
    fn get_size(&self) -> usize {
        varint_field_size(1, self.clock_id as u64)
            + varint_field_size(2, self.timestamp)
            + if self.is_incremental { 2 } else { 0 }
            + self
                .unit_multiplier_ns
                .map_or(0, |m| varint_field_size(4, m))
    }

    fn write_message<W: WriterBackend>(&self, w: &mut Writer<W>) -> Result<()> {
        write_varint_field(w, 1, self.clock_id as u64)?;
        write_varint_field(w, 2, self.timestamp)?;
        if self.is_incremental {
            write_varint_field(w, 3, 1)?;
        }
        if let Some(m) = self.unit_multiplier_ns {
            write_varint_field(w, 4, m)?;
        }
        Ok(())
    }
}

/// `ClockSnapshot`: readings of several clocks taken at the same instant, which
/// lets trace_processor convert timestamps between them.
#[derive(Clone, Copy, Debug, Default)]
pub struct ClockSnapshot<'a> {
    /// Field 1.
    pub clocks: &'a [Clock],
    /// Field 2 (`BuiltinClock`); BOOTTIME when absent.
    pub primary_trace_clock: Option<BuiltinClock>,
}

impl MessageWrite for ClockSnapshot<'_> {
    fn get_size(&self) -> usize {
        self.clocks
            .iter()
            .map(|c| message_field_size(1, c))
            .sum::<usize>()
            + self
                .primary_trace_clock
                .map_or(0, |c| varint_field_size(2, c as u64))
    }

    fn write_message<W: WriterBackend>(&self, w: &mut Writer<W>) -> Result<()> {
        for clock in self.clocks {
            write_message_field(w, 1, clock)?;
        }
        if let Some(c) = self.primary_trace_clock {
            write_varint_field(w, 2, c as u64)?;
        }
        Ok(())
    }
}
