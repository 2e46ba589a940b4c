//! Event arguments: validation and the `debug_annotations` writer.

use super::error::GeneratorError;
use crate::annotation::{MAX_DEPTH, Value};
use crate::wire::{AnnotationList, AnnotationName, AnnotationValue, DebugAnnotation};
use quick_protobuf::sizeofs::sizeof_len;
use quick_protobuf::{MessageWrite, Result, Writer, WriterBackend};

/// The top-level entries of `args`, once checked: a dict, no value deeper than
/// [`MAX_DEPTH`].
pub(crate) fn checked_entries(
    args: Option<&Value>,
) -> std::result::Result<&[(String, Value)], GeneratorError> {
    let entries = match args {
        None => return Ok(&[]),
        Some(Value::Dict(entries)) => entries,
        Some(_) => return Err(GeneratorError::ArgsNotDict),
    };
    for (_, value) in entries {
        if !fits(value, MAX_DEPTH) {
            // Error path only: measure the real depth (iteratively) for the message.
            return Err(GeneratorError::TooDeep {
                depth: value.depth(),
                max: MAX_DEPTH,
            });
        }
    }
    Ok(entries)
}

/// Whether `value` is at most `budget` levels deep. Recurses, but never more than
/// `budget` frames, and allocates nothing (unlike [`Value::depth`]).
fn fits(value: &Value, budget: usize) -> bool {
    if budget == 0 {
        return false;
    }
    match value {
        Value::Dict(entries) => entries.iter().all(|(_, v)| fits(v, budget - 1)),
        Value::Array(items) => items.iter().all(|v| fits(v, budget - 1)),
        _ => true,
    }
}

/// An event's `debug_annotations`: checked top-level entries with their interned
/// name ids (same order, same length), written without building a list.
#[derive(Clone, Copy)]
pub(crate) struct ArgList<'a> {
    pub(crate) iids: &'a [u64],
    pub(crate) entries: &'a [(String, Value)],
}

impl<'a> ArgList<'a> {
    fn annotations(&self) -> impl Iterator<Item = DebugAnnotation<'a>> + 'a {
        self.iids
            .iter()
            .zip(self.entries)
            .map(|(&iid, (_, value))| DebugAnnotation {
                name: AnnotationName::Iid(iid),
                value: AnnotationValue::Tree(value),
            })
    }
}

/// `TrackEvent.debug_annotations` is field 4, length-delimited.
const DEBUG_ANNOTATIONS_TAG: u32 = (4 << 3) | 2;

impl AnnotationList for ArgList<'_> {
    fn annotations_size(&self) -> usize {
        self.annotations()
            .map(|a| 1 + sizeof_len(a.get_size()))
            .sum()
    }

    fn write_annotations<W: WriterBackend>(&self, w: &mut Writer<W>) -> Result<()> {
        self.annotations()
            .try_for_each(|a| w.write_with_tag(DEBUG_ANNOTATIONS_TAG, |w| w.write_message(&a)))
    }
}
