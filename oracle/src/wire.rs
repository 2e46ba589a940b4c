//! Wire-level checks of a packet against Perfetto's proto schema.
//!
//! rust-protobuf is more lenient than protozero (trace_processor's decoder):
//! it accepts packed encoding of any repeated scalar, merges repeated singular
//! messages, and silently keeps unknown fields. Walking the raw bytes with the
//! generated descriptors catches the encoder mistakes that would make
//! trace_processor read something else than intended.

use std::collections::HashMap;

use perfetto_protos::trace_packet::TracePacket;
use protobuf::MessageFull;
use protobuf::descriptor::field_descriptor_proto::Type;
use protobuf::reflect::{FieldDescriptor, MessageDescriptor, RuntimeFieldType, RuntimeType};

use crate::rules::Rule;

/// Protobuf wire types.
const VARINT: u8 = 0;
const FIXED64: u8 = 1;
const LEN: u8 = 2;
const FIXED32: u8 = 5;

/// Deeper nesting than this is not checked (real traces are shallow; this
/// only bounds recursion on hostile input).
const MAX_DEPTH: usize = 64;

/// What the checker needs to know about one field, derived once from the
/// descriptor (reflection lookups are too slow for millions of packets).
struct FieldInfo {
    wire_type: u8,
    repeated: bool,
    /// Index of the containing oneof, if any.
    oneof: Option<usize>,
    /// Sub-message schema for message fields.
    message: Option<MessageDescriptor>,
}

/// Per-message field table, indexed by field number.
struct MessageInfo {
    name: String,
    fields: HashMap<u32, FieldInfo>,
}

/// Schema cache, shared by all packets checked by one model.
#[derive(Default)]
pub(crate) struct WireChecker {
    messages: HashMap<String, MessageInfo>,
}

fn expected_wire_type(t: Type) -> u8 {
    match t {
        Type::TYPE_DOUBLE | Type::TYPE_FIXED64 | Type::TYPE_SFIXED64 => FIXED64,
        Type::TYPE_FLOAT | Type::TYPE_FIXED32 | Type::TYPE_SFIXED32 => FIXED32,
        Type::TYPE_STRING | Type::TYPE_BYTES | Type::TYPE_MESSAGE => LEN,
        Type::TYPE_GROUP => 3,
        _ => VARINT,
    }
}

fn field_info(fd: &FieldDescriptor) -> FieldInfo {
    let message = match fd.runtime_field_type() {
        RuntimeFieldType::Singular(RuntimeType::Message(m))
        | RuntimeFieldType::Repeated(RuntimeType::Message(m)) => Some(m),
        _ => None,
    };
    FieldInfo {
        wire_type: expected_wire_type(fd.proto().type_()),
        repeated: fd.is_repeated_or_map(),
        oneof: fd.proto().oneof_index.map(|i| i as usize),
        message,
    }
}

/// Minimal cursor over protobuf bytes.
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn varint(&mut self) -> Option<u64> {
        let mut value = 0u64;
        for i in 0..10 {
            let b = *self.bytes.get(self.pos)?;
            self.pos += 1;
            value |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Some(value);
            }
        }
        None
    }

    fn take(&mut self, n: u64) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(usize::try_from(n).ok()?)?;
        let bytes: &'a [u8] = self.bytes;
        let s = bytes.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }
}

impl WireChecker {
    /// Checks one serialized `TracePacket`; reports each problem to `report`.
    pub fn check_packet(&mut self, bytes: &[u8], report: &mut dyn FnMut(Rule, String)) {
        self.check_message(bytes, &TracePacket::descriptor(), 0, report);
    }

    fn info(&mut self, md: &MessageDescriptor) -> &MessageInfo {
        self.messages
            .entry(md.full_name().to_string())
            .or_insert_with(|| MessageInfo {
                name: md.full_name().to_string(),
                fields: md
                    .fields()
                    .map(|fd| (fd.number() as u32, field_info(&fd)))
                    .collect(),
            })
    }

    fn check_message(
        &mut self,
        bytes: &[u8],
        md: &MessageDescriptor,
        depth: usize,
        report: &mut dyn FnMut(Rule, String),
    ) {
        if depth > MAX_DEPTH {
            return;
        }
        let mut cur = Cursor { bytes, pos: 0 };
        // Singular fields and oneofs seen so far in this message instance.
        let mut seen_fields: Vec<u32> = Vec::new();
        let mut seen_oneofs: Vec<(usize, u32)> = Vec::new();
        let mut nested: Vec<(&[u8], MessageDescriptor)> = Vec::new();
        let info = self.info(md);
        let msg_name = info.name.as_str();
        while cur.pos < bytes.len() {
            let Some(tag) = cur.varint() else { return };
            let number = (tag >> 3) as u32;
            let wire_type = (tag & 7) as u8;
            let payload = match wire_type {
                VARINT => cur.varint().map(|_| &[][..]),
                FIXED64 => cur.take(8),
                LEN => cur.varint().and_then(|n| cur.take(n)),
                FIXED32 => cur.take(4),
                _ => None, // groups: never used by Perfetto; rust-protobuf already parsed it
            };
            let Some(payload) = payload else { return };
            let Some(field) = info.fields.get(&number) else {
                report(
                    Rule::UnknownField,
                    format!("unknown field {number} (wire type {wire_type}) in {msg_name}"),
                );
                continue;
            };
            if wire_type != field.wire_type {
                if wire_type == LEN && field.repeated {
                    report(
                        Rule::PackedRepeated,
                        format!(
                            "field {number} of {msg_name} is packed; Perfetto declares it unpacked"
                        ),
                    );
                } else {
                    report(
                        Rule::WireType,
                        format!(
                            "field {number} of {msg_name} has wire type {wire_type}, expected {}",
                            field.wire_type
                        ),
                    );
                }
                continue;
            }
            if !field.repeated {
                if seen_fields.contains(&number) {
                    report(
                        Rule::DuplicateField,
                        format!("singular field {number} of {msg_name} appears more than once"),
                    );
                } else {
                    seen_fields.push(number);
                }
            }
            if let Some(oneof) = field.oneof {
                match seen_oneofs.iter().find(|(o, _)| *o == oneof) {
                    Some((_, other)) if *other != number => report(
                        Rule::DuplicateField,
                        format!(
                            "fields {other} and {number} of {msg_name} belong to the same oneof"
                        ),
                    ),
                    Some(_) => {}
                    None => seen_oneofs.push((oneof, number)),
                }
            }
            if let Some(sub) = &field.message {
                nested.push((payload, sub.clone()));
            }
        }
        for (payload, sub) in nested {
            self.check_message(payload, &sub, depth + 1, report);
        }
    }
}
