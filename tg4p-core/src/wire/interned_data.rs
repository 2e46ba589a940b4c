//! `InternedData` (protos/perfetto/trace/interned_data/interned_data.proto) and the
//! interned entry types it carries.

use super::field::*;
use quick_protobuf::{MessageWrite, Result, Writer, WriterBackend};

/// An `EventName`, `EventCategory` or `DebugAnnotationName`: all three are
/// `{ uint64 iid = 1; string name = 2; }`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InternedString<'a> {
    /// Non-zero, unique within its table on its sequence.
    pub iid: u64,
    pub name: &'a str,
}

impl MessageWrite for InternedString<'_> {
    fn get_size(&self) -> usize {
        varint_field_size(1, self.iid) + str_field_size(2, self.name)
    }

    fn write_message<W: WriterBackend>(&self, w: &mut Writer<W>) -> Result<()> {
        write_varint_field(w, 1, self.iid)?;
        write_str_field(w, 2, self.name)
    }
}

/// `SourceLocation` (protos/perfetto/trace/track_event/source_location.proto).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SourceLocation<'a> {
    pub iid: u64,
    pub file_name: &'a str,
    pub function_name: &'a str,
    pub line_number: u32,
}

impl MessageWrite for SourceLocation<'_> {
    fn get_size(&self) -> usize {
        varint_field_size(1, self.iid)
            + str_field_size(2, self.file_name)
            + str_field_size(3, self.function_name)
            + varint_field_size(4, self.line_number as u64)
    }

    fn write_message<W: WriterBackend>(&self, w: &mut Writer<W>) -> Result<()> {
        write_varint_field(w, 1, self.iid)?;
        write_str_field(w, 2, self.file_name)?;
        write_str_field(w, 3, self.function_name)?;
        write_varint_field(w, 4, self.line_number as u64)
    }
}

/// `InternedData`: new entries of the sequence's interning tables. Entries must be
/// written before (in file order) the first packet that refers to their iid.
#[derive(Clone, Copy, Debug, Default)]
pub struct InternedData<'a> {
    /// Field 1, `EventCategory`.
    pub event_categories: &'a [InternedString<'a>],
    /// Field 2, `EventName`.
    pub event_names: &'a [InternedString<'a>],
    /// Field 3, `DebugAnnotationName`.
    pub debug_annotation_names: &'a [InternedString<'a>],
    /// Field 4, `SourceLocation`.
    pub source_locations: &'a [SourceLocation<'a>],
}

impl InternedData<'_> {
    /// True when there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.event_categories.is_empty()
            && self.event_names.is_empty()
            && self.debug_annotation_names.is_empty()
            && self.source_locations.is_empty()
    }
}

fn entries_size<M: MessageWrite>(number: u32, entries: &[M]) -> usize {
    entries.iter().map(|e| message_field_size(number, e)).sum()
}

fn write_entries<W: WriterBackend, M: MessageWrite>(
    w: &mut Writer<W>,
    number: u32,
    entries: &[M],
) -> Result<()> {
    entries
        .iter()
        .try_for_each(|e| write_message_field(w, number, e))
}

impl MessageWrite for InternedData<'_> {
    fn get_size(&self) -> usize {
        entries_size(1, self.event_categories)
            + entries_size(2, self.event_names)
            + entries_size(3, self.debug_annotation_names)
            + entries_size(4, self.source_locations)
    }

    fn write_message<W: WriterBackend>(&self, w: &mut Writer<W>) -> Result<()> {
        write_entries(w, 1, self.event_categories)?;
        write_entries(w, 2, self.event_names)?;
        write_entries(w, 3, self.debug_annotation_names)?;
        write_entries(w, 4, self.source_locations)
    }
}
