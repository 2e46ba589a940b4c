//! Size arithmetic and small writers shared by the message structs.

use quick_protobuf::sizeofs::sizeof_varint;
use quick_protobuf::{MessageWrite, Result, Writer, WriterBackend};

pub(crate) const VARINT: u32 = 0;
pub(crate) const FIXED64: u32 = 1;
pub(crate) const LEN: u32 = 2;

/// The tag of field `number` with wire type `wire_type`.
pub(crate) const fn tag(number: u32, wire_type: u32) -> u32 {
    (number << 3) | wire_type
}

/// Bytes taken by the tag of field `number`.
pub(crate) const fn tag_size(number: u32) -> usize {
    // Field numbers below 16 fit a one-byte tag, below 2048 a two-byte one; we use
    // none above that.
    if number < 16 { 1 } else { 2 }
}

/// Bytes taken by a varint field.
pub(crate) fn varint_field_size(number: u32, value: u64) -> usize {
    tag_size(number) + sizeof_varint(value)
}

/// Bytes taken by a length-delimited field whose payload is `len` bytes.
pub(crate) fn len_field_size(number: u32, len: usize) -> usize {
    tag_size(number) + sizeof_varint(len as u64) + len
}

/// Bytes taken by a fixed64 field.
pub(crate) const fn fixed64_field_size(number: u32) -> usize {
    tag_size(number) + 8
}

pub(crate) fn write_varint_field<W: WriterBackend>(
    w: &mut Writer<W>,
    number: u32,
    value: u64,
) -> Result<()> {
    w.write_tag(tag(number, VARINT))?;
    w.write_varint(value)
}

pub(crate) fn write_str_field<W: WriterBackend>(
    w: &mut Writer<W>,
    number: u32,
    value: &str,
) -> Result<()> {
    w.write_tag(tag(number, LEN))?;
    w.write_string(value)
}

pub(crate) fn write_message_field<W: WriterBackend, M: MessageWrite>(
    w: &mut Writer<W>,
    number: u32,
    message: &M,
) -> Result<()> {
    w.write_tag(tag(number, LEN))?;
    w.write_message(message)
}

pub(crate) fn write_fixed64_field<W: WriterBackend>(
    w: &mut Writer<W>,
    number: u32,
    value: u64,
) -> Result<()> {
    w.write_tag(tag(number, FIXED64))?;
    w.write_fixed64(value)
}

pub(crate) fn message_field_size<M: MessageWrite>(number: u32, message: &M) -> usize {
    len_field_size(number, message.get_size())
}

pub(crate) fn str_field_size(number: u32, value: &str) -> usize {
    len_field_size(number, value.len())
}
