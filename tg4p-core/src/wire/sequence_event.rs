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

/// Writes `v` as a varint at `p` and returns the position after it: at most 10 bytes.
/// The one- and two-byte cases (small ids, deltas below 16 µs) take no loop.
///
/// # Safety
/// `p` must be valid for writing 10 bytes.
#[inline(always)]
unsafe fn put_varint(p: *mut u8, v: u64) -> *mut u8 {
    // SAFETY (all writes): at most 10 bytes from `p`, as the caller guarantees.
    unsafe {
        if v < 0x80 {
            p.write(v as u8);
            return p.add(1);
        }
        if v < 0x4000 {
            p.write(v as u8 | 0x80);
            p.add(1).write((v >> 7) as u8);
            return p.add(2);
        }
        put_varint_long(p, v)
    }
}

/// [`put_varint`] for values of 3 bytes and more.
///
/// # Safety
/// As for [`put_varint`].
#[inline(never)]
unsafe fn put_varint_long(mut p: *mut u8, mut v: u64) -> *mut u8 {
    // SAFETY: a u64 takes at most 10 varint bytes, which the caller guarantees.
    unsafe {
        while v >= 0x80 {
            p.write(v as u8 | 0x80);
            p = p.add(1);
            v >>= 7;
        }
        p.write(v as u8);
        p.add(1)
    }
}

/// Appends `event` as one `Trace.packet` entry.
#[inline]
pub fn append_sequence_event(out: &mut Vec<u8>, event: &SequenceEvent) {
    append_sequence_event_inline(out, event)
}

/// [`append_sequence_event`], always inlined: for a caller whose fields are mostly
/// constants (no counter value, say), so that their branches fold away.
#[inline(always)]
pub(crate) fn append_sequence_event_inline(out: &mut Vec<u8>, event: &SequenceEvent) {
    out.reserve(MAX_LEN);
    let start = out.len();
    // SAFETY: `reserve` made room for MAX_LEN bytes after `start`, and the packet takes
    // at most MAX_LEN bytes (field by field, see MAX_LEN): every write below stays in
    // that spare capacity, each varint taking at most 10 bytes (a u32 at most 5).
    // Bytes are written through one raw pointer, with no bounds checks and no
    // zero-filling first; `set_len` then covers exactly the bytes written, all of
    // them initialized (`out` holds `u8`, so nothing needs dropping). It pays: with
    // the same unrolled varints, the safe form (zero-fill MAX_LEN bytes, checked
    // indexing, truncate) costs ~46 more instructions per event (callgrind, 4 tracks
    // and 16 names: ~243 against ~198 for the whole loop) and was slower in 10 of 12
    // paired wall-clock runs (best 18.4 against 14.3 ns/event).
    unsafe {
        let base = out.as_mut_ptr().add(start);
        // The Trace.packet tag and one-byte length go first, once known.
        let mut p = base.add(2);
        p.write(8 << 3); // timestamp, varint
        p = put_varint(p.add(1), event.timestamp);
        p.write(10 << 3); // trusted_packet_sequence_id, varint
        p = put_varint(p.add(1), event.sequence_id as u64);
        p.write((11 << 3) | 2); // track_event, length-delimited
        let track_event_len = p.add(1); // written once known
        let track_event = p.add(2);
        track_event.write(9 << 3); // type, varint
        track_event.add(1).write(event.kind as u8);
        p = track_event.add(2);
        if let Some(iid) = event.name_iid {
            p.write(10 << 3); // name_iid, varint
            p = put_varint(p.add(1), iid);
        }
        match event.counter_value {
            None => {}
            Some(CounterValue::Int(v)) => {
                p.write(0xF0); // (30 << 3) | varint, as a two-byte tag
                p.add(1).write(0x01);
                p = put_varint(p.add(2), v as u64);
            }
            Some(CounterValue::Double(v)) => {
                p.write(0xE1); // (44 << 3) | fixed64, as a two-byte tag
                p.add(1).write(0x02);
                p.add(2)
                    .cast::<[u8; 8]>()
                    .write_unaligned(v.to_bits().to_le_bytes());
                p = p.add(10);
            }
        }
        if let Some(iid) = event.source_location_iid {
            p.write(0x90); // (34 << 3) | varint, as a two-byte tag
            p.add(1).write(0x02);
            p = put_varint(p.add(2), iid);
        }
        // The track event takes at most 37 bytes: one length byte.
        track_event_len.write(p.offset_from(track_event) as u8);
        p.write(13 << 3); // sequence_flags, varint
        p.add(1).write(SEQ_NEEDS_INCREMENTAL_STATE as u8);
        p = p.add(2);
        // The payload is at most 58 bytes, so its length is one varint byte.
        let len = p.offset_from(base) as usize;
        base.write((1 << 3) | 2);
        base.add(1).write((len - 2) as u8);
        out.set_len(start + len);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_after_existing_bytes_without_touching_them() {
        let event = SequenceEvent {
            timestamp: 1_000,
            sequence_id: 2,
            kind: EventType::Instant,
            name_iid: Some(5),
            counter_value: None,
            source_location_iid: None,
        };
        let mut alone = Vec::new();
        append_sequence_event(&mut alone, &event);
        // Into spare capacity that holds stale bytes, and at a length that needs growth.
        for prefix in [1, 7, MAX_LEN, 1000] {
            let mut out = vec![0xAB; prefix + 200];
            out.truncate(prefix);
            for _ in 0..3 {
                append_sequence_event(&mut out, &event);
            }
            assert!(out[..prefix].iter().all(|&b| b == 0xAB));
            assert_eq!(out.len(), prefix + 3 * alone.len());
            for packet in out[prefix..].chunks(alone.len()) {
                assert_eq!(packet, alone);
            }
        }
        let mut tight = Vec::with_capacity(alone.len());
        append_sequence_event(&mut tight, &event);
        assert_eq!(tight, alone);
    }
}
