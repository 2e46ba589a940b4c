//! `DebugAnnotation` (protos/perfetto/trace/track_event/debug_annotation.proto):
//! the arguments shown in an event's details.

use super::field::*;
use crate::annotation::Value;
use quick_protobuf::{MessageWrite, Result, Writer, WriterBackend};

/// The name of a top-level annotation: interned (`name_iid`, field 1) or inline
/// (`name`, field 10). Nested dict entries always carry their name inline.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum AnnotationName<'a> {
    Iid(u64),
    #[allow(
        dead_code,
        reason = "modelled for completeness; tg4p interns every top-level name"
    )]
    Str(&'a str),
}

/// An annotation's value.
#[allow(
    dead_code,
    reason = "the scalars are written from `Value`s, not through this type"
)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum AnnotationValue<'a> {
    /// Field 2.
    Bool(bool),
    /// Field 4.
    Int(i64),
    /// Field 3.
    Uint(u64),
    /// Field 5.
    Double(f64),
    /// Field 6.
    Str(&'a str),
    /// A value tree: scalars as above, dicts as `dict_entries` (field 11), arrays as
    /// `array_values` (field 12). Its depth must already have been checked against
    /// [`crate::annotation::MAX_DEPTH`]: encoding recurses once per level.
    Tree(&'a Value),
}

/// One annotation: a name and a value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DebugAnnotation<'a> {
    pub name: AnnotationName<'a>,
    pub value: AnnotationValue<'a>,
}

/// Placeholders for empty containers: a `DebugAnnotation` with neither a value nor
/// entries is not a supported annotation type for trace_processor.
pub(crate) const EMPTY_DICT: &str = "{}";
pub(crate) const EMPTY_ARRAY: &str = "[]";

fn tree_value_size(value: &Value) -> usize {
    match value {
        Value::Bool(_) => 2,
        Value::Int(v) => varint_field_size(4, *v as u64),
        Value::Uint(v) => varint_field_size(3, *v),
        Value::Double(_) => fixed64_field_size(5),
        Value::Str(s) => str_field_size(6, s),
        Value::Dict(entries) if entries.is_empty() => str_field_size(6, EMPTY_DICT),
        Value::Array(items) if items.is_empty() => str_field_size(6, EMPTY_ARRAY),
        Value::Dict(entries) => entries
            .iter()
            .map(|(name, v)| len_field_size(11, str_field_size(10, name) + tree_value_size(v)))
            .sum(),
        Value::Array(items) => items
            .iter()
            .map(|v| len_field_size(12, tree_value_size(v)))
            .sum(),
    }
}

fn write_tree_value<W: WriterBackend>(w: &mut Writer<W>, value: &Value) -> Result<()> {
    match value {
        Value::Bool(b) => write_varint_field(w, 2, *b as u64),
        Value::Int(v) => write_varint_field(w, 4, *v as u64),
        Value::Uint(v) => write_varint_field(w, 3, *v),
        Value::Double(v) => write_fixed64_field(w, 5, v.to_bits()),
        Value::Str(s) => write_str_field(w, 6, s),
        Value::Dict(entries) if entries.is_empty() => write_str_field(w, 6, EMPTY_DICT),
        Value::Array(items) if items.is_empty() => write_str_field(w, 6, EMPTY_ARRAY),
        Value::Dict(entries) => entries.iter().try_for_each(|(name, v)| {
            w.write_tag(tag(11, LEN))?;
            w.write_varint((str_field_size(10, name) + tree_value_size(v)) as u64)?;
            write_str_field(w, 10, name)?;
            write_tree_value(w, v)
        }),
        Value::Array(items) => items.iter().try_for_each(|v| {
            w.write_tag(tag(12, LEN))?;
            w.write_varint(tree_value_size(v) as u64)?;
            write_tree_value(w, v)
        }),
    }
}

impl MessageWrite for DebugAnnotation<'_> {
    fn get_size(&self) -> usize {
        let name = match self.name {
            AnnotationName::Iid(iid) => varint_field_size(1, iid),
            AnnotationName::Str(s) => str_field_size(10, s),
        };
        let value = match self.value {
            AnnotationValue::Bool(_) => 2,
            AnnotationValue::Int(v) => varint_field_size(4, v as u64),
            AnnotationValue::Uint(v) => varint_field_size(3, v),
            AnnotationValue::Double(_) => fixed64_field_size(5),
            AnnotationValue::Str(s) => str_field_size(6, s),
            AnnotationValue::Tree(tree) => tree_value_size(tree),
        };
        name + value
    }

    fn write_message<W: WriterBackend>(&self, w: &mut Writer<W>) -> Result<()> {
        match self.name {
            AnnotationName::Iid(iid) => write_varint_field(w, 1, iid)?,
            AnnotationName::Str(s) => write_str_field(w, 10, s)?,
        }
        match self.value {
            AnnotationValue::Bool(b) => write_varint_field(w, 2, b as u64),
            AnnotationValue::Int(v) => write_varint_field(w, 4, v as u64),
            AnnotationValue::Uint(v) => write_varint_field(w, 3, v),
            AnnotationValue::Double(v) => write_fixed64_field(w, 5, v.to_bits()),
            AnnotationValue::Str(s) => write_str_field(w, 6, s),
            AnnotationValue::Tree(tree) => write_tree_value(w, tree),
        }
    }
}

/// The `debug_annotations` (field 4) of a `TrackEvent`.
///
/// Producers keep their arguments in whatever shape suits them (the generator as
/// interned names plus value trees, the recorder as strings in its buffers) and
/// implement this to write them without first building a list.
pub trait AnnotationList {
    /// Total bytes of all field-4 entries, tags and lengths included.
    fn annotations_size(&self) -> usize;
    /// Writes every entry as field 4.
    fn write_annotations<W: WriterBackend>(&self, w: &mut Writer<W>) -> Result<()>;
}

impl AnnotationList for &[DebugAnnotation<'_>] {
    fn annotations_size(&self) -> usize {
        self.iter().map(|a| message_field_size(4, a)).sum()
    }

    fn write_annotations<W: WriterBackend>(&self, w: &mut Writer<W>) -> Result<()> {
        self.iter().try_for_each(|a| write_message_field(w, 4, a))
    }
}

/// An event without annotations.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoAnnotations;

impl AnnotationList for NoAnnotations {
    fn annotations_size(&self) -> usize {
        0
    }

    fn write_annotations<W: WriterBackend>(&self, _: &mut Writer<W>) -> Result<()> {
        Ok(())
    }
}
