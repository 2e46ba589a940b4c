//! Tracks, from TrackDescriptor packets.

use perfetto_protos::track_descriptor::TrackDescriptor;
use perfetto_protos::track_descriptor::track_descriptor::Static_or_dynamic_name;

use crate::rules::Rule;

/// What a track represents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrackKind {
    /// A process track (`process` field).
    Process {
        /// `process.pid`.
        pid: i32,
        /// `process.process_name`.
        name: Option<String>,
    },
    /// A thread track (`thread` field).
    Thread {
        /// `thread.pid`.
        pid: i32,
        /// `thread.tid`.
        tid: i32,
        /// `thread.thread_name`.
        name: Option<String>,
    },
    /// A counter track (`counter` field present, even empty).
    Counter,
    /// Any other track (e.g. an async track): slices and instants only.
    Plain,
}

/// A described track.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Track {
    /// `uuid` (never 0 here).
    pub uuid: u64,
    /// `parent_uuid`.
    pub parent: Option<u64>,
    /// `name`, `static_name` or `atrace_name`.
    pub name: Option<String>,
    /// Process, thread, counter or plain.
    pub kind: TrackKind,
    /// Index of the packet with the (first) descriptor.
    pub packet_index: usize,
}

impl Track {
    /// The name the UI would show: the track name, else the process or
    /// thread name.
    pub fn display_name(&self) -> Option<&str> {
        self.name.as_deref().or(match &self.kind {
            TrackKind::Process { name, .. } | TrackKind::Thread { name, .. } => name.as_deref(),
            _ => None,
        })
    }

    /// Whether this is a counter track.
    pub fn is_counter(&self) -> bool {
        self.kind == TrackKind::Counter
    }

    /// Builds a track from a descriptor, or says which rule it breaks (then
    /// trace_processor ignores the descriptor).
    pub(crate) fn from_descriptor(
        td: &TrackDescriptor,
        packet_index: usize,
    ) -> Result<Track, (Rule, String)> {
        let uuid = match td.uuid {
            None => {
                return Err((
                    Rule::InvalidTrackUuid,
                    "TrackDescriptor without uuid".into(),
                ));
            }
            Some(0) => {
                return Err((
                    Rule::InvalidTrackUuid,
                    "TrackDescriptor with uuid 0 (the implicit global track)".into(),
                ));
            }
            Some(u) => u,
        };
        let name = td.static_or_dynamic_name.as_ref().map(|n| match n {
            Static_or_dynamic_name::Name(s)
            | Static_or_dynamic_name::StaticName(s)
            | Static_or_dynamic_name::AtraceName(s) => s.clone(),
            #[allow(unreachable_patterns)]
            _ => String::new(),
        });
        // Same precedence as trace_processor: thread, then process, then counter.
        let kind = if let Some(t) = td.thread.as_ref() {
            let (Some(pid), Some(tid)) = (t.pid, t.tid) else {
                return Err((
                    Rule::ThreadWithoutPidTid,
                    format!("thread track {uuid} lacks pid or tid"),
                ));
            };
            TrackKind::Thread {
                pid,
                tid,
                name: t.thread_name.clone(),
            }
        } else if let Some(p) = td.process.as_ref() {
            let Some(pid) = p.pid else {
                return Err((
                    Rule::ProcessWithoutPid,
                    format!("process track {uuid} lacks pid"),
                ));
            };
            TrackKind::Process {
                pid,
                name: p.process_name.clone(),
            }
        } else if td.counter.is_some() {
            TrackKind::Counter
        } else {
            TrackKind::Plain
        };
        Ok(Track {
            uuid,
            parent: td.parent_uuid,
            name,
            kind,
            packet_index,
        })
    }
}
