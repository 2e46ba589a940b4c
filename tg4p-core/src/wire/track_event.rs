//! `TrackEvent` (protos/perfetto/trace/track_event/track_event.proto).

use super::debug_annotation::{AnnotationList, NoAnnotations};
use super::field::*;
use quick_protobuf::{MessageWrite, Result, Writer, WriterBackend};

/// `TrackEvent.Type` (field 9).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum EventType {
    SliceBegin = 1,
    SliceEnd = 2,
    Instant = 3,
    Counter = 4,
}

/// The event's name: interned (`name_iid`, field 10) or inline (`name`, field 23).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventName<'a> {
    Iid(u64),
    #[allow(
        dead_code,
        reason = "modelled for completeness; tg4p interns every name"
    )]
    Str(&'a str),
}

/// A counter sample: `counter_value` (field 30) or `double_counter_value` (field 44).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum CounterValue {
    /// An integer sample (`counter_value`).
    Int(i64),
    /// A float sample (`double_counter_value`).
    Double(f64),
}

/// `TrackEvent`: a slice begin or end, an instant, or a counter sample.
///
/// `A` carries the debug annotations; see [`AnnotationList`].
#[derive(Clone, Copy, Debug, Default)]
pub struct TrackEvent<'a, A = NoAnnotations> {
    /// Field 3 (`EventCategory` iids).
    pub category_iids: &'a [u64],
    /// Field 4.
    pub debug_annotations: A,
    /// Field 9.
    pub kind: Option<EventType>,
    /// Fields 10 / 23.
    pub name: Option<EventName<'a>>,
    /// Field 11; the sequence's default track when absent.
    pub track_uuid: Option<u64>,
    /// Fields 30 / 44. Required on `Counter` events, even when 0.
    pub counter_value: Option<CounterValue>,
    /// Field 34 (`SourceLocation` iid).
    pub source_location_iid: Option<u64>,
    /// Field 47, fixed64: flows this event starts or continues.
    pub flow_ids: &'a [u64],
    /// Field 48, fixed64: flows this event ends.
    pub terminating_flow_ids: &'a [u64],
}

impl<A: AnnotationList> MessageWrite for TrackEvent<'_, A> {
    fn get_size(&self) -> usize {
        self.category_iids
            .iter()
            .map(|&iid| varint_field_size(3, iid))
            .sum::<usize>()
            + self.debug_annotations.annotations_size()
            + self.kind.map_or(0, |_| 2)
            + match self.name {
                None => 0,
                Some(EventName::Iid(iid)) => varint_field_size(10, iid),
                Some(EventName::Str(s)) => str_field_size(23, s),
            }
            + self.track_uuid.map_or(0, |u| varint_field_size(11, u))
            + match self.counter_value {
                None => 0,
                Some(CounterValue::Int(v)) => varint_field_size(30, v as u64),
                Some(CounterValue::Double(_)) => fixed64_field_size(44),
            }
            + self
                .source_location_iid
                .map_or(0, |iid| varint_field_size(34, iid))
            + self.flow_ids.len() * fixed64_field_size(47)
            + self.terminating_flow_ids.len() * fixed64_field_size(48)
    }

    fn write_message<W: WriterBackend>(&self, w: &mut Writer<W>) -> Result<()> {
        for &iid in self.category_iids {
            write_varint_field(w, 3, iid)?;
        }
        self.debug_annotations.write_annotations(w)?;
        if let Some(kind) = self.kind {
            write_varint_field(w, 9, kind as u64)?;
        }
        match self.name {
            None => {}
            Some(EventName::Iid(iid)) => write_varint_field(w, 10, iid)?,
            Some(EventName::Str(s)) => write_str_field(w, 23, s)?,
        }
        if let Some(uuid) = self.track_uuid {
            write_varint_field(w, 11, uuid)?;
        }
        match self.counter_value {
            None => {}
            Some(CounterValue::Int(v)) => write_varint_field(w, 30, v as u64)?,
            Some(CounterValue::Double(v)) => write_fixed64_field(w, 44, v.to_bits())?,
        }
        if let Some(iid) = self.source_location_iid {
            write_varint_field(w, 34, iid)?;
        }
        for &id in self.flow_ids {
            write_fixed64_field(w, 47, id)?;
        }
        for &id in self.terminating_flow_ids {
            write_fixed64_field(w, 48, id)?;
        }
        Ok(())
    }
}
