//! The hot packet: a `TracePacket` holding one `TrackEvent` that relies entirely on
//! its sequence's incremental state (default track, incremental clock, interned
//! name), encoded with direct byte pushes.
//!
//! It writes exactly the bytes [`super::append_packet`] writes for the equivalent
//! [`TracePacket`](super::TracePacket) (tests compare both), but without
//! quick-protobuf's byte-at-a-time writer and repeated size passes: the generator
//! writes tens of millions of these per second.
//!
//! [`append_small_event`] writes the same bytes for the generator's common case (no
//! counter value, a short delta, a small name iid) in three word stores, the
//! sequence id's bytes computed once per sequence ([`SequenceIdBytes`]).

use super::tags::{
    EVENT_COUNTER_VALUE, EVENT_DOUBLE_COUNTER_VALUE, EVENT_NAME_IID, EVENT_SOURCE_LOCATION_IID,
    EVENT_TYPE, PACKET_SEQUENCE_FLAGS, PACKET_SEQUENCE_ID, PACKET_TIMESTAMP, PACKET_TRACK_EVENT,
    TRACE_PACKET,
};
use super::trace_packet::SEQ_NEEDS_INCREMENTAL_STATE;
use super::track_event::{CounterValue, EventType};
use super::varint;

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
        // The end of the room, against which debug builds check every varint.
        let end = base.add(MAX_LEN).cast_const();
        let put_varint = |p: *mut u8, v: u64| varint::put_unchecked(p, end, v);
        // The Trace.packet tag and one-byte length go first, once known.
        let mut p = base.add(2);
        p.write(PACKET_TIMESTAMP);
        p = put_varint(p.add(1), event.timestamp);
        p.write(PACKET_SEQUENCE_ID);
        p = put_varint(p.add(1), event.sequence_id as u64);
        p.write(PACKET_TRACK_EVENT);
        let track_event_len = p.add(1); // written once known
        let track_event = p.add(2);
        track_event.write(EVENT_TYPE);
        track_event.add(1).write(event.kind as u8);
        p = track_event.add(2);
        if let Some(iid) = event.name_iid {
            p.write(EVENT_NAME_IID);
            p = put_varint(p.add(1), iid);
        }
        match event.counter_value {
            None => {}
            Some(CounterValue::Int(v)) => {
                p.cast::<[u8; 2]>().write_unaligned(EVENT_COUNTER_VALUE);
                p = put_varint(p.add(2), v as u64);
            }
            Some(CounterValue::Double(v)) => {
                p.cast::<[u8; 2]>()
                    .write_unaligned(EVENT_DOUBLE_COUNTER_VALUE);
                p.add(2)
                    .cast::<[u8; 8]>()
                    .write_unaligned(v.to_bits().to_le_bytes());
                p = p.add(10);
            }
        }
        if let Some(iid) = event.source_location_iid {
            p.cast::<[u8; 2]>()
                .write_unaligned(EVENT_SOURCE_LOCATION_IID);
            p = put_varint(p.add(2), iid);
        }
        // The track event takes at most 37 bytes: one length byte.
        track_event_len.write(p.offset_from(track_event) as u8);
        p.write(PACKET_SEQUENCE_FLAGS);
        p.add(1).write(SEQ_NEEDS_INCREMENTAL_STATE as u8);
        p = p.add(2);
        debug_assert!(p.cast_const() <= end, "packet past its reserved room");
        // The payload is at most 58 bytes, so its length is one varint byte.
        let len = p.offset_from(base) as usize;
        base.write(TRACE_PACKET);
        base.add(1).write((len - 2) as u8);
        out.set_len(start + len);
    }
}

/// `[tag 10, varint(sequence id), tag 11]`: a packet's `trusted_packet_sequence_id`
/// followed by the tag of its `track_event`, 3 to 7 bytes in the low end of one
/// little-endian word. Computed once per sequence for [`append_small_event`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SequenceIdBytes {
    word: u64,
    /// 3 to 7: [`write_words`] relies on it.
    len: usize,
}

impl SequenceIdBytes {
    pub(crate) fn new(sequence_id: u32) -> SequenceIdBytes {
        let mut bytes = [0; 8];
        bytes[0] = PACKET_SEQUENCE_ID;
        // A u32 takes at most 5 varint bytes: bytes 1 to 5.
        let len = 1 + varint::put(&mut bytes[1..6], u64::from(sequence_id));
        bytes[len] = PACKET_TRACK_EVENT;
        SequenceIdBytes {
            word: u64::from_le_bytes(bytes),
            len: len + 1,
        }
    }

    /// The sequence id back from its bytes (for the rare packets
    /// [`append_small_event`] leaves to [`append_sequence_event`]).
    fn id(&self) -> u32 {
        let bytes = self.word.to_le_bytes();
        let mut id = 0u64;
        for (i, b) in bytes[1..self.len - 1].iter().enumerate() {
            id |= ((b & 0x7F) as u64) << (7 * i);
        }
        id as u32
    }
}

/// How far past the end of the buffer [`append_small_event`] may write: three
/// words, the last starting at most 15 bytes in (see [`write_words`]).
const SMALL_SPAN: usize = 24;

const TYPE_TAG: u64 = EVENT_TYPE as u64;
const NAME_IID_TAG: u64 = EVENT_NAME_IID as u64;
/// `sequence_flags = SEQ_NEEDS_INCREMENTAL_STATE`, tag and value.
const FLAGS: u64 = PACKET_SEQUENCE_FLAGS as u64 | ((SEQ_NEEDS_INCREMENTAL_STATE as u64) << 8);

/// The track event (its length, type and name iid) and the sequence flags as the
/// low bytes of one word, and how many bytes, when the name iid (if any) takes one
/// varint byte: what [`append_small_event`] writes inline.
#[inline(always)]
fn short_tail(kind: EventType, name_iid: Option<u64>) -> Option<(u64, usize)> {
    let ty = kind as u64;
    match name_iid {
        None => Some((2 | (TYPE_TAG << 8) | (ty << 16) | (FLAGS << 24), 5)),
        Some(iid) if iid < 1 << 7 => Some((
            4 | (TYPE_TAG << 8) | (ty << 16) | (NAME_IID_TAG << 24) | (iid << 32) | (FLAGS << 40),
            7,
        )),
        Some(_) => None,
    }
}

/// Appends the same packet as [`append_sequence_event`] for an event without counter
/// value and source location, on the sequence whose id `sequence` holds, with three
/// word stores (see [`write_words`]). Inline for timestamp deltas below 2^14 ns
/// (16 µs) and name iids below 128 (one varint byte or two, no loop); other values
/// take [`append_other_event`].
#[inline(always)]
pub(crate) fn append_small_event(
    out: &mut Vec<u8>,
    delta: u64,
    sequence: &SequenceIdBytes,
    kind: EventType,
    name_iid: Option<u64>,
) {
    let Some((tail, tail_len)) = short_tail(kind, name_iid) else {
        return append_other_event(out, delta, sequence, kind, name_iid);
    };
    if delta >= 1 << 14 {
        return append_other_event(out, delta, sequence, kind, name_iid);
    }
    // One varint byte or two, without a branch: `high` is 0 for one.
    let high = delta >> 7;
    let two = (high != 0) as u64;
    let delta_word = (delta & 0x7F) | (two << 7) | (high << 8);
    // SAFETY: a delta of 1 or 2 bytes, a tail of 5 or 7.
    unsafe { write_words(out, delta_word, 1 + two as usize, sequence, tail, tail_len) }
}

/// [`append_small_event`] for larger deltas or name iids: still words for deltas below
/// 2^35 ns (34 s) and name iids below 2^14, else [`append_sequence_event`].
#[inline(never)]
fn append_other_event(
    out: &mut Vec<u8>,
    delta: u64,
    sequence: &SequenceIdBytes,
    kind: EventType,
    name_iid: Option<u64>,
) {
    let ty = kind as u64;
    let (tail, tail_len) = match (short_tail(kind, name_iid), name_iid) {
        (Some(short), _) => short,
        (None, Some(iid)) if iid < 1 << 14 => (
            5 | (TYPE_TAG << 8)
                | (ty << 16)
                | (NAME_IID_TAG << 24)
                | (((iid & 0x7F) | 0x80) << 32)
                | ((iid >> 7) << 40)
                | (FLAGS << 48),
            8,
        ),
        (None, _) => (0, 0),
    };
    if tail_len == 0 || delta >= 1 << 35 {
        return append_any_event(out, delta, sequence, kind, name_iid);
    }
    // The varint's 7-bit groups spread one to a byte, its length, and the
    // continuation bit of every byte but the last: no loop.
    let groups = (delta & 0x7F)
        | ((delta << 1) & 0x7F00)
        | ((delta << 2) & 0x7F_0000)
        | ((delta << 3) & 0x7F00_0000)
        | ((delta << 4) & 0x7F_0000_0000);
    let len = 1
        + (delta >= 1 << 7) as usize
        + (delta >= 1 << 14) as usize
        + (delta >= 1 << 21) as usize
        + (delta >= 1 << 28) as usize;
    let continuation = 0x80_8080_8080 & ((1u64 << (8 * (len - 1))) - 1);
    // SAFETY: deltas below 2^35 take at most 5 varint bytes; the tail is 5, 7 or 8.
    unsafe { write_words(out, groups | continuation, len, sequence, tail, tail_len) }
}

/// [`append_other_event`] beyond its ranges: [`append_sequence_event`].
#[cold]
#[inline(never)]
fn append_any_event(
    out: &mut Vec<u8>,
    delta: u64,
    sequence: &SequenceIdBytes,
    kind: EventType,
    name_iid: Option<u64>,
) {
    let event = SequenceEvent {
        timestamp: delta,
        sequence_id: sequence.id(),
        kind,
        name_iid,
        counter_value: None,
        source_location_iid: None,
    };
    append_sequence_event(out, &event);
}

/// Appends a packet from three little-endian words: `[packet tag, length, timestamp
/// tag, delta]` (the delta's varint in `delta_word`, `delta_len` bytes), then
/// `sequence` (the sequence id and the track event tag), then `tail` (the track event
/// and the flags, `tail_len` bytes). Each store overwrites the unused high bytes of the
/// one before.
///
/// # Safety
/// `delta_len` must be at most 5 and `tail_len` at most 8 (`sequence.len` is at most
/// 7 by construction).
#[inline(always)]
unsafe fn write_words(
    out: &mut Vec<u8>,
    delta_word: u64,
    delta_len: usize,
    sequence: &SequenceIdBytes,
    tail: u64,
    tail_len: usize,
) {
    debug_assert!(delta_len <= 5 && delta_word >> (8 * delta_len) == 0 && tail_len <= 8);
    let len = 3 + delta_len + sequence.len + tail_len;
    let head = TRACE_PACKET as u64
        | (((len - 2) as u64) << 8)
        | ((PACKET_TIMESTAMP as u64) << 16)
        | (delta_word << 24);
    out.reserve(SMALL_SPAN);
    // SAFETY: `reserve` made room for SMALL_SPAN bytes after `start`. The three
    // unaligned word stores cover bytes [0, 8), [3 + delta_len, 11 + delta_len) and
    // [3 + delta_len + sequence.len, 11 + delta_len + sequence.len) from `start`: with
    // delta_len <= 5 (the caller's promise) and sequence.len <= 7 (a u32 varint
    // and two tags), all below 23 <= SMALL_SPAN. Each starts
    // where the previous one's meaningful bytes end, so together they initialize
    // every byte of [0, len) (tail_len <= 8), which is what `set_len` then covers
    // (`out` holds `u8`: nothing to drop). The safe form, a local array copied with a
    // variable-length `extend_from_slice`, costs a `memcpy` call per event.
    unsafe {
        let start = out.len();
        let base = out.as_mut_ptr().add(start);
        base.cast::<u64>().write_unaligned(head.to_le());
        let p = base.add(3 + delta_len);
        p.cast::<u64>().write_unaligned(sequence.word.to_le());
        p.add(sequence.len)
            .cast::<u64>()
            .write_unaligned(tail.to_le());
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

    #[test]
    fn small_events_match_the_general_encoder() {
        let deltas = [
            0u64,
            1,
            127,
            128,
            4_000,
            16_383,
            16_384,
            (1 << 21) - 1,
            1 << 21,
            (1 << 28) - 1,
            1 << 28,
            (1 << 35) - 1,
            1 << 35,
            i64::MAX as u64,
            u64::MAX,
        ];
        let ids = [
            1u32,
            2,
            127,
            128,
            16_383,
            16_384,
            1 << 21,
            1 << 28,
            u32::MAX,
        ];
        let iids = [
            None,
            Some(0),
            Some(1),
            Some(127),
            Some(128),
            Some(16_383),
            Some(16_384),
            Some(u32::MAX as u64),
            Some(u64::MAX),
        ];
        let kinds = [
            EventType::SliceBegin,
            EventType::SliceEnd,
            EventType::Instant,
            EventType::Counter,
        ];
        let mut got = vec![0xCD; 3];
        let mut want = vec![0xCD; 3];
        for delta in deltas {
            for id in ids {
                let sequence = SequenceIdBytes::new(id);
                assert_eq!(sequence.id(), id);
                for kind in kinds {
                    for name_iid in iids {
                        append_small_event(&mut got, delta, &sequence, kind, name_iid);
                        let event = SequenceEvent {
                            timestamp: delta,
                            sequence_id: id,
                            kind,
                            name_iid,
                            counter_value: None,
                            source_location_iid: None,
                        };
                        append_sequence_event(&mut want, &event);
                        assert_eq!(got, want, "{event:?}");
                    }
                }
            }
        }
        // Into stale spare capacity, and at a length that needs growth.
        let mut alone = Vec::new();
        let sequence = SequenceIdBytes::new(3);
        append_small_event(&mut alone, 4_000, &sequence, EventType::Instant, Some(5));
        for prefix in [0, 1, 7, SMALL_SPAN, 1000] {
            let mut out = vec![0xAB; prefix + 100];
            out.truncate(prefix);
            for _ in 0..10 {
                append_small_event(&mut out, 4_000, &sequence, EventType::Instant, Some(5));
            }
            assert!(out[..prefix].iter().all(|&b| b == 0xAB));
            assert_eq!(out.len(), prefix + 10 * alone.len());
            for packet in out[prefix..].chunks(alone.len()) {
                assert_eq!(packet, alone);
            }
        }
    }
}
