//! Field tags as bytes, for the hand-written encoders (the generator's
//! `sequence_event` and the live writer's templates): each named after its message
//! and field, with the field number and wire type it stands for. Tags of fields
//! numbered 16 and up take two bytes.

use super::field::{FIXED64, LEN, VARINT, tag};

/// A one-byte tag (fields 1 to 15).
const fn tag1(number: u32, wire_type: u32) -> u8 {
    assert!(number < 16);
    tag(number, wire_type) as u8
}

/// A two-byte tag (fields 16 to 2047): the tag's varint.
const fn tag2(number: u32, wire_type: u32) -> [u8; 2] {
    assert!(number >= 16 && number < 2048);
    let t = tag(number, wire_type);
    [(t as u8 & 0x7F) | 0x80, (t >> 7) as u8]
}

/// `Trace.packet` (1, length-delimited).
pub(crate) const TRACE_PACKET: u8 = tag1(1, LEN);

/// `TracePacket.timestamp` (8, varint).
pub(crate) const PACKET_TIMESTAMP: u8 = tag1(8, VARINT);
/// `TracePacket.trusted_packet_sequence_id` (10, varint).
pub(crate) const PACKET_SEQUENCE_ID: u8 = tag1(10, VARINT);
/// `TracePacket.track_event` (11, length-delimited).
pub(crate) const PACKET_TRACK_EVENT: u8 = tag1(11, LEN);
/// `TracePacket.sequence_flags` (13, varint).
pub(crate) const PACKET_SEQUENCE_FLAGS: u8 = tag1(13, VARINT);

/// `TrackEvent.debug_annotations` (4, length-delimited).
pub(crate) const EVENT_DEBUG_ANNOTATION: u8 = tag1(4, LEN);
/// `TrackEvent.category_iids` (3, repeated, not packed).
pub(crate) const EVENT_CATEGORY_IID: u8 = tag1(3, VARINT);
/// `TrackEvent.type` (9, varint).
pub(crate) const EVENT_TYPE: u8 = tag1(9, VARINT);
/// `TrackEvent.name_iid` (10, varint).
pub(crate) const EVENT_NAME_IID: u8 = tag1(10, VARINT);
/// `TrackEvent.track_uuid` (11, varint).
pub(crate) const EVENT_TRACK_UUID: u8 = tag1(11, VARINT);
/// `TrackEvent.counter_value` (30, varint).
pub(crate) const EVENT_COUNTER_VALUE: [u8; 2] = tag2(30, VARINT);
/// `TrackEvent.source_location_iid` (34, varint).
pub(crate) const EVENT_SOURCE_LOCATION_IID: [u8; 2] = tag2(34, VARINT);
/// `TrackEvent.double_counter_value` (44, fixed64).
pub(crate) const EVENT_DOUBLE_COUNTER_VALUE: [u8; 2] = tag2(44, FIXED64);

/// `DebugAnnotation.name_iid` (1, varint).
pub(crate) const ANNOTATION_NAME_IID: u8 = tag1(1, VARINT);
/// `DebugAnnotation.bool_value` (2, varint).
pub(crate) const ANNOTATION_BOOL_VALUE: u8 = tag1(2, VARINT);
/// `DebugAnnotation.uint_value` (3, varint).
pub(crate) const ANNOTATION_UINT_VALUE: u8 = tag1(3, VARINT);
/// `DebugAnnotation.int_value` (4, varint).
pub(crate) const ANNOTATION_INT_VALUE: u8 = tag1(4, VARINT);
/// `DebugAnnotation.double_value` (5, fixed64).
pub(crate) const ANNOTATION_DOUBLE_VALUE: u8 = tag1(5, FIXED64);
/// `DebugAnnotation.string_value` (6, length-delimited).
pub(crate) const ANNOTATION_STRING_VALUE: u8 = tag1(6, LEN);

#[cfg(all(test, not(tg4p_loom)))]
mod tests {
    use super::*;

    #[test]
    fn two_byte_tags_are_the_tags_varints() {
        assert_eq!(EVENT_COUNTER_VALUE, [0xF0, 0x01]);
        assert_eq!(EVENT_SOURCE_LOCATION_IID, [0x90, 0x02]);
        assert_eq!(EVENT_DOUBLE_COUNTER_VALUE, [0xE1, 0x02]);
        assert_eq!(TRACE_PACKET, 0x0A);
    }
}
