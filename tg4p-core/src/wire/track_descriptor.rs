//! `TrackDescriptor` and its process, thread and counter parts
//! (protos/perfetto/trace/track_event/{track,process,thread,counter}_descriptor.proto).

use super::field::*;
use quick_protobuf::{MessageWrite, Result, Writer, WriterBackend};

/// `ProcessDescriptor`: makes a track the track of process `pid`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProcessDescriptor<'a> {
    /// Field 1.
    pub pid: i32,
    /// Field 6.
    pub process_name: Option<&'a str>,
}

impl MessageWrite for ProcessDescriptor<'_> {
    fn get_size(&self) -> usize {
        varint_field_size(1, self.pid as i64 as u64)
            + self.process_name.map_or(0, |n| str_field_size(6, n))
    }

    fn write_message<W: WriterBackend>(&self, w: &mut Writer<W>) -> Result<()> {
        // int32 is encoded as a sign-extended 64-bit varint.
        write_varint_field(w, 1, self.pid as i64 as u64)?;
        if let Some(name) = self.process_name {
            write_str_field(w, 6, name)?;
        }
        Ok(())
    }
}

/// `ThreadDescriptor`: makes a track the track of thread `tid` in process `pid`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ThreadDescriptor<'a> {
    /// Field 1.
    pub pid: i32,
    /// Field 2.
    pub tid: i32,
    /// Field 5.
    pub thread_name: Option<&'a str>,
}

impl MessageWrite for ThreadDescriptor<'_> {
    fn get_size(&self) -> usize {
        varint_field_size(1, self.pid as i64 as u64)
            + varint_field_size(2, self.tid as i64 as u64)
            + self.thread_name.map_or(0, |n| str_field_size(5, n))
    }

    fn write_message<W: WriterBackend>(&self, w: &mut Writer<W>) -> Result<()> {
        write_varint_field(w, 1, self.pid as i64 as u64)?;
        write_varint_field(w, 2, self.tid as i64 as u64)?;
        if let Some(name) = self.thread_name {
            write_str_field(w, 5, name)?;
        }
        Ok(())
    }
}

/// `CounterDescriptor`: its presence (even empty) makes a track a counter track.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CounterDescriptor<'a> {
    /// Field 6, free-form unit shown next to values.
    pub unit_name: Option<&'a str>,
}

impl MessageWrite for CounterDescriptor<'_> {
    fn get_size(&self) -> usize {
        self.unit_name.map_or(0, |n| str_field_size(6, n))
    }

    fn write_message<W: WriterBackend>(&self, w: &mut Writer<W>) -> Result<()> {
        if let Some(name) = self.unit_name {
            write_str_field(w, 6, name)?;
        }
        Ok(())
    }
}

/// `TrackDescriptor`: declares a track, its place in the track tree and its kind.
///
/// `uuid` must be unique in the whole trace and never 0; re-emitting a descriptor
/// must repeat it identically.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TrackDescriptor<'a> {
    /// Field 1.
    pub uuid: u64,
    /// Field 5.
    pub parent_uuid: Option<u64>,
    /// Field 2.
    pub name: Option<&'a str>,
    /// Field 3.
    pub process: Option<ProcessDescriptor<'a>>,
    /// Field 4.
    pub thread: Option<ThreadDescriptor<'a>>,
    /// Field 8.
    pub counter: Option<CounterDescriptor<'a>>,
    /// Field 12: position among siblings when the parent orders explicitly.
    pub sibling_order_rank: Option<i32>,
}

impl MessageWrite for TrackDescriptor<'_> {
    fn get_size(&self) -> usize {
        varint_field_size(1, self.uuid)
            + self.name.map_or(0, |n| str_field_size(2, n))
            + self
                .process
                .as_ref()
                .map_or(0, |p| message_field_size(3, p))
            + self.thread.as_ref().map_or(0, |t| message_field_size(4, t))
            + self.parent_uuid.map_or(0, |p| varint_field_size(5, p))
            + self
                .counter
                .as_ref()
                .map_or(0, |c| message_field_size(8, c))
            + self
                .sibling_order_rank
                .map_or(0, |r| varint_field_size(12, r as i64 as u64))
    }

    fn write_message<W: WriterBackend>(&self, w: &mut Writer<W>) -> Result<()> {
        write_varint_field(w, 1, self.uuid)?;
        if let Some(name) = self.name {
            write_str_field(w, 2, name)?;
        }
        if let Some(process) = &self.process {
            write_message_field(w, 3, process)?;
        }
        if let Some(thread) = &self.thread {
            write_message_field(w, 4, thread)?;
        }
        if let Some(parent) = self.parent_uuid {
            write_varint_field(w, 5, parent)?;
        }
        if let Some(counter) = &self.counter {
            write_message_field(w, 8, counter)?;
        }
        if let Some(rank) = self.sibling_order_rank {
            write_varint_field(w, 12, rank as i64 as u64)?;
        }
        Ok(())
    }
}
