//! A direct encoder for the live recorder's most frequent packets: slice begins and
//! ends on a sequence's default track.
//!
//! The writer thread must keep up with a thread calling a traced function in a loop,
//! which leaves it a few tens of nanoseconds per event; building a [`TracePacket`]
//! and sizing its nested messages twice costs more than that. The bytes are exactly
//! those [`append_packet`](super::append_packet) writes for the equivalent
//! [`TracePacket`] (the tests compare them), so the format is still defined by the
//! message structs.

use quick_protobuf::sizeofs::sizeof_varint;

/// Bytes of the longest packet written here (all varints at their longest).
const MAX_LEN: usize = 48;

#[inline(always)]
fn put_varint(buf: &mut [u8], at: &mut usize, mut v: u64) {
    while v >= 0x80 {
        buf[*at] = (v as u8) | 0x80;
        v >>= 7;
        *at += 1;
    }
    buf[*at] = v as u8;
    *at += 1;
}

/// Appends the packet `{ timestamp: delta, trusted_packet_sequence_id: sequence,
/// track_event: { type, name_iid: iid, source_location_iid: iid },
/// sequence_flags: SEQ_NEEDS_INCREMENTAL_STATE }`: a `SLICE_BEGIN` when `begin_iid`
/// is `Some(iid)` (name and source location interned under the same iid), else a
/// `SLICE_END` (type only).
#[inline]
pub fn append_default_track_slice(
    out: &mut Vec<u8>,
    delta: u64,
    sequence: u32,
    begin_iid: Option<u64>,
) {
    let event_len = match begin_iid {
        None => 2,
        Some(iid) => 2 + 2 * (1 + sizeof_varint(iid)) + 1,
    };
    let body_len =
        1 + sizeof_varint(delta) + 1 + sizeof_varint(sequence as u64) + 2 + event_len + 2;
    // Written in place in the output (a byte-wise stack buffer copied out with
    // vector loads stalls on store forwarding); cut to length at the end.
    let start = out.len();
    out.resize(start + MAX_LEN, 0);
    let buf = &mut out[start..];
    let mut at = 0;
    buf[at] = (1 << 3) | 2; // Trace.packet
    at += 1;
    put_varint(buf, &mut at, body_len as u64);
    buf[at] = 8 << 3; // timestamp
    at += 1;
    put_varint(buf, &mut at, delta);
    buf[at] = 10 << 3; // trusted_packet_sequence_id
    at += 1;
    put_varint(buf, &mut at, sequence as u64);
    buf[at] = (11 << 3) | 2; // track_event
    buf[at + 1] = event_len as u8;
    buf[at + 2] = 9 << 3; // type
    at += 3;
    match begin_iid {
        None => {
            buf[at] = 2; // TYPE_SLICE_END
            at += 1;
        }
        Some(iid) => {
            buf[at] = 1; // TYPE_SLICE_BEGIN
            buf[at + 1] = 10 << 3; // name_iid
            at += 2;
            put_varint(buf, &mut at, iid);
            buf[at] = 0x90; // source_location_iid: field 34, a two-byte tag
            buf[at + 1] = 0x02;
            at += 2;
            put_varint(buf, &mut at, iid);
        }
    }
    buf[at] = 13 << 3; // sequence_flags
    buf[at + 1] = super::SEQ_NEEDS_INCREMENTAL_STATE as u8;
    at += 2;
    out.truncate(start + at);
}

#[cfg(test)]
mod tests {
    use super::super::*;

    #[test]
    fn same_bytes_as_the_message_structs() {
        for delta in [0, 1, 127, 128, 16_383, 1 << 40, u64::MAX] {
            for sequence in [1, 127, 128, u32::MAX] {
                for iid in [None, Some(1), Some(127), Some(128), Some(u64::MAX >> 1)] {
                    let mut fast = Vec::new();
                    append_default_track_slice(&mut fast, delta, sequence, iid);
                    let event: TrackEvent<'_> = TrackEvent {
                        kind: Some(if iid.is_some() {
                            EventType::SliceBegin
                        } else {
                            EventType::SliceEnd
                        }),
                        name: iid.map(EventName::Iid),
                        source_location_iid: iid,
                        ..Default::default()
                    };
                    let packet = TracePacket {
                        timestamp: Some(delta),
                        trusted_packet_sequence_id: Some(sequence),
                        sequence_flags: SEQ_NEEDS_INCREMENTAL_STATE,
                        data: Some(PacketData::TrackEvent(event)),
                        ..Default::default()
                    };
                    let mut slow = Vec::new();
                    append_packet(&mut slow, &packet);
                    assert_eq!(fast, slow, "delta {delta} sequence {sequence} iid {iid:?}");
                }
            }
        }
    }
}
