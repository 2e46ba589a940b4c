//! The hot packet: a `TracePacket` holding one `TrackEvent` that relies entirely on
//! its sequence's incremental state (default track, incremental clock, interned
//! name), encoded with direct byte pushes.
//!
//! It writes exactly the bytes [`super::append_packet`] writes for the equivalent
//! [`TracePacket`](super::TracePacket) (tests compare both), but without
//! quick-protobuf's byte-at-a-time writer and repeated size passes: the generator
//! writes tens of millions of these per second.

use super::trace_packet::SEQ_NEEDS_INCREMENTAL_STATE;
use super::track_event::{CounterValue, EventType};

/// A track event on a sequence that provides its track and clock: the packet has
/// `timestamp`, `trusted_packet_sequence_id`, `sequence_flags =
/// SEQ_NEEDS_INCREMENTAL_STATE` and a `TrackEvent` with type, optional `name_iid`
/// and optional counter value. No interned data: its names must be known already.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SequenceEvent {
    /// `TracePacket.timestamp` (field 8): a delta on an incremental clock.
    pub timestamp: u64,
    /// `TracePacket.trusted_packet_sequence_id` (field 10).
    pub sequence_id: u32,
    /// `TrackEvent.type` (field 9).
    pub kind: EventType,
    /// `TrackEvent.name_iid` (field 10).
    pub name_iid: Option<u64>,
    /// `TrackEvent.counter_value` (field 30) / `double_counter_value` (field 44).
    pub counter_value: Option<CounterValue>,
    /// `TrackEvent.source_location_iid` (field 34).
    pub source_location_iid: Option<u64>,
}

/// Longest packet: tag + length (2) + timestamp (11) + sequence id (6) + track event
/// header (2) + type (2) + name iid (11) + counter value (12) + source location iid
/// (12) + flags (2).
const MAX_LEN: usize = 60;

#[inline(always)]
fn varint_len(v: u64) -> usize {
    // 1 byte per started group of 7 bits; 0 takes one byte.
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

#[inline(always)]
fn put_varint(buf: &mut [u8; MAX_LEN], at: &mut usize, mut v: u64) {
    while v >= 0x80 {
        buf[*at] = (v as u8) | 0x80;
        *at += 1;
        v >>= 7;
    }
    buf[*at] = v as u8;
    *at += 1;
}

/// Appends `event` as one `Trace.packet` entry.
#[inline]
pub fn append_sequence_event(out: &mut Vec<u8>, event: &SequenceEvent) {
    let track_event_len = 2
        + event.name_iid.map_or(0, |iid| 1 + varint_len(iid))
        + match event.counter_value {
            None => 0,
            Some(CounterValue::Int(v)) => 2 + varint_len(v as u64),
            Some(CounterValue::Double(_)) => 10,
        }
        + event
            .source_location_iid
            .map_or(0, |iid| 2 + varint_len(iid));
    // Bytes are stored straight into the output (room made with one fixed-size copy,
    // the excess cut off at the end): building the packet in a local array and
    // copying it would read back freshly stored bytes, which stalls the CPU.
    let start = out.len();
    out.extend_from_slice(&[0; MAX_LEN]);
    let buf: &mut [u8; MAX_LEN] = (&mut out[start..]).try_into().expect("MAX_LEN bytes");
    let mut at = 2; // the Trace.packet tag and one-byte length go first, once known
    buf[at] = 8 << 3; // timestamp, varint
    at += 1;
    put_varint(buf, &mut at, event.timestamp);
    buf[at] = 10 << 3; // trusted_packet_sequence_id, varint
    at += 1;
    put_varint(buf, &mut at, event.sequence_id as u64);
    buf[at] = (11 << 3) | 2; // track_event, length-delimited
    buf[at + 1] = track_event_len as u8; // at most 37: one byte
    buf[at + 2] = 9 << 3; // type, varint
    buf[at + 3] = event.kind as u8;
    at += 4;
    if let Some(iid) = event.name_iid {
        buf[at] = 10 << 3; // name_iid, varint
        at += 1;
        put_varint(buf, &mut at, iid);
    }
    match event.counter_value {
        None => {}
        Some(CounterValue::Int(v)) => {
            buf[at] = 0xF0; // (30 << 3) | varint, as a two-byte tag
            buf[at + 1] = 0x01;
            at += 2;
            put_varint(buf, &mut at, v as u64);
        }
        Some(CounterValue::Double(v)) => {
            buf[at] = 0xE1; // (44 << 3) | fixed64, as a two-byte tag
            buf[at + 1] = 0x02;
            buf[at + 2..at + 10].copy_from_slice(&v.to_bits().to_le_bytes());
            at += 10;
        }
    }
    if let Some(iid) = event.source_location_iid {
        buf[at] = 0x90; // (34 << 3) | varint, as a two-byte tag
        buf[at + 1] = 0x02;
        at += 2;
        put_varint(buf, &mut at, iid);
    }
    buf[at] = 13 << 3; // sequence_flags, varint
    buf[at + 1] = SEQ_NEEDS_INCREMENTAL_STATE as u8;
    at += 2;
    // The payload is at most 58 bytes, so its length is one varint byte.
    buf[0] = (1 << 3) | 2;
    buf[1] = (at - 2) as u8;
    out.truncate(start + at);
}
