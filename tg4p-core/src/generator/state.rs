//! The state behind a generator and its handles: the output buffer, every track
//! with its sequence, and the encoding of packets.
//!
//! # Encoding
//! Each track that carries events gets its own packet sequence (its own
//! `trusted_packet_sequence_id`), started by one packet that
//! - clears the sequence's incremental state (`SEQ_INCREMENTAL_STATE_CLEARED`),
//! - sets `TracePacketDefaults` { clock `SEQUENCE_CLOCK`, the track's uuid },
//! - carries a `ClockSnapshot` relating that clock (incremental, 1 ns units) to
//!   BOOTTIME: both read 0 at the snapshot.
//!
//! trace_processor handles these three in that order within one packet (defaults
//! are parsed before the snapshot, see `ProtoTraceReader::ParsePacket`), so one
//! packet suffices. Events then carry only a timestamp delta from the previous
//! event of the track, the sequence id, `SEQ_NEEDS_INCREMENTAL_STATE`, their type
//! and an interned name id: 13 to 15 bytes for a slice event.
//!
//! Sequence ids count from 1 per generator, so that the first 127 tracks spend one
//! byte on them (a random 32-bit id costs five, which would put slice events above
//! 15 bytes). Reusing an id in a concatenated trace is harmless: trace_processor
//! tokenizes files in order, and every sequence starts afresh with a cleared state
//! and an identical snapshot.

use super::args::{ArgList, checked_entries};
use super::error::GeneratorError;
use super::track::Extras;
use crate::ids::next_track_uuid;
use crate::intern::{InternTable, StrInternTable};
use crate::wire::{
    AnnotationList, CounterDescriptor, CounterValue, EventName, EventType, InternedData,
    InternedString, NoAnnotations, PacketData, ProcessDescriptor, SEQ_NEEDS_INCREMENTAL_STATE,
    SequenceEvent, SequenceIdBytes, SequenceStart, TracePacket, TrackDescriptor, TrackEvent,
    append_packet, append_sequence_event, append_sequence_event_inline, append_small_event,
};
use std::io::{self, Write};

/// Buffered bytes are handed to the writer once they reach this size.
pub(crate) const CHUNK: usize = 256 * 1024;

/// trace_processor drops slices nested deeper than this (`SliceTracker::kMaxDepth`).
pub(crate) const MAX_OPEN_SLICES: u64 = crate::wire::MAX_NESTING as u64;

/// Timestamps above this are refused (trace_processor reads them as negative).
const MAX_TIMESTAMP: u64 = i64::MAX as u64;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Status {
    Open,
    Finished,
    /// A write failed; nothing more is written.
    Failed,
}

/// What a new track is, for its descriptor.
#[derive(Clone, Copy, Debug)]
pub(crate) enum TrackKind<'a> {
    /// A group: a process track with a synthetic pid.
    Process { pid: i32, name: &'a str },
    /// A slice track, possibly unnamed.
    Plain { name: Option<&'a str> },
    /// A counter track.
    Counter { name: &'a str },
}

/// An event's name: its text, or the iid it is already interned under on the
/// event's track (from [`Inner::name_iid`]).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Name<'a> {
    Text(&'a str),
    Iid(u64),
}

/// One track and its packet sequence.
struct TrackState {
    uuid: u64,
    /// The track's `trusted_packet_sequence_id`, 0 until its first event.
    seq: u32,
    /// `seq` as the fast path encodes it.
    seq_bytes: SequenceIdBytes,
    /// Timestamp of the latest event, ns; the next delta is taken from it.
    last_ts: u64,
    /// The least timestamp [`Inner::try_fast`] takes: `last_ts` while the track's
    /// sequence is started and the generator open, else `u64::MAX` (above every
    /// accepted timestamp), so that one comparison covers all three.
    fast_min_ts: u64,
    open_slices: u64,
    names: StrInternTable,
    arg_names: InternTable<String>,
}

/// Where full buffers go.
pub(crate) enum Out {
    /// Copied into a writer.
    Write(Box<dyn Write>),
    /// Handed over whole, an empty buffer taken back (see
    /// [`TraceGenerator::with_chunks`](super::TraceGenerator::with_chunks)).
    Chunks(Box<dyn FnMut(Vec<u8>) -> io::Result<Vec<u8>>>),
}

/// A new buffer's capacity: a chunk and room to finish the packet that fills it.
const BUFFER: usize = CHUNK + CHUNK / 4;

/// Everything a generator and its handles share.
pub(crate) struct Inner {
    out: Out,
    /// Encoded packets not yet handed to `out`.
    buf: Vec<u8>,
    status: Status,
    /// A write error met where it could not be returned (creating a track); the next
    /// fallible call returns it.
    pending_io: Option<io::Error>,
    tracks: Vec<TrackState>,
    next_seq: u32,
    next_pid: i32,
    // Scratch buffers reused by every event, so encoding allocates nothing.
    flows: Vec<u64>,
    terminating_flows: Vec<u64>,
    arg_iids: Vec<u64>,
}

impl Inner {
    pub(crate) fn new(out: Out) -> Inner {
        // Synthetic pids: above Linux's pid_max (2^22) so they never name a real
        // process, and from a random start so groups of generators whose traces are
        // concatenated do not merge.
        let next_pid = (1 << 22) + (crate::ids::random_u64() % (1 << 29)) as i32;
        Inner {
            out,
            buf: Vec::with_capacity(BUFFER),
            status: Status::Open,
            pending_io: None,
            tracks: Vec::new(),
            next_seq: 1,
            next_pid,
            flows: Vec::new(),
            terminating_flows: Vec::new(),
            arg_iids: Vec::new(),
        }
    }

    /// A new distinct, non-zero synthetic pid.
    pub(crate) fn next_pid(&mut self) -> i32 {
        let pid = self.next_pid;
        // Wraps back into the synthetic range after 2^30 groups.
        self.next_pid = if pid == i32::MAX { 1 << 22 } else { pid + 1 };
        pid
    }

    /// Declares a track (its descriptor is written now, before any of its events) and
    /// returns its index and uuid. After `finish` nothing is written; the handle's
    /// calls will return [`GeneratorError::Finished`].
    pub(crate) fn add_track(&mut self, parent: Option<u64>, kind: TrackKind<'_>) -> (usize, u64) {
        let uuid = next_track_uuid();
        self.tracks.push(TrackState {
            uuid,
            seq: 0,
            // Replaced when the sequence starts; unused before.
            seq_bytes: SequenceIdBytes::new(0),
            last_ts: 0,
            fast_min_ts: u64::MAX,
            open_slices: 0,
            names: StrInternTable::default(),
            arg_names: InternTable::default(),
        });
        if self.status == Status::Open {
            let mut descriptor = TrackDescriptor {
                uuid,
                parent_uuid: parent,
                ..Default::default()
            };
            match kind {
                TrackKind::Process { pid, name } => {
                    descriptor.process = Some(ProcessDescriptor {
                        pid,
                        process_name: Some(name),
                    });
                }
                TrackKind::Plain { name } => descriptor.name = name,
                TrackKind::Counter { name } => {
                    descriptor.name = Some(name);
                    descriptor.counter = Some(CounterDescriptor::default());
                }
            }
            append_packet(
                &mut self.buf,
                &TracePacket::<NoAnnotations> {
                    data: Some(PacketData::TrackDescriptor(descriptor)),
                    ..Default::default()
                },
            );
            if self.buf.len() >= CHUNK
                && let Err(GeneratorError::Io(e)) = self.write_out()
            {
                self.pending_io = Some(e);
            }
        }
        (self.tracks.len() - 1, uuid)
    }

    /// A `SLICE_BEGIN` named `name`.
    #[inline]
    pub(crate) fn begin(
        &mut self,
        track: usize,
        ts: u64,
        name: Name<'_>,
        extras: Option<&Extras<'_>>,
    ) -> Result<(), GeneratorError> {
        if extras.is_none() && self.try_fast(track, ts, EventType::SliceBegin, Some(name), None) {
            return self.after_event();
        }
        self.begin_general(track, ts, name, extras)
    }

    /// [`Inner::begin`] for the calls [`Inner::try_fast`] declines: every check in
    /// order, then the general encoder.
    #[inline(never)]
    fn begin_general(
        &mut self,
        track: usize,
        ts: u64,
        name: Name<'_>,
        extras: Option<&Extras<'_>>,
    ) -> Result<(), GeneratorError> {
        self.check(track, ts)?;
        if self.tracks[track].open_slices >= MAX_OPEN_SLICES {
            return Err(GeneratorError::TooManyOpenSlices {
                max: MAX_OPEN_SLICES,
            });
        }
        self.write_event(track, ts, EventType::SliceBegin, Some(name), None, extras)?;
        self.tracks[track].open_slices += 1;
        self.after_event()
    }

    /// A `SLICE_END` for the track's innermost open slice.
    #[inline]
    pub(crate) fn end(
        &mut self,
        track: usize,
        ts: u64,
        extras: Option<&Extras<'_>>,
    ) -> Result<(), GeneratorError> {
        if extras.is_none() && self.try_fast(track, ts, EventType::SliceEnd, None, None) {
            return self.after_event();
        }
        self.end_general(track, ts, extras)
    }

    /// [`Inner::end`] for the calls [`Inner::try_fast`] declines: every check in
    /// order, then the general encoder.
    #[inline(never)]
    fn end_general(
        &mut self,
        track: usize,
        ts: u64,
        extras: Option<&Extras<'_>>,
    ) -> Result<(), GeneratorError> {
        self.check(track, ts)?;
        if self.tracks[track].open_slices == 0 {
            return Err(GeneratorError::NoOpenSlice);
        }
        self.write_event(track, ts, EventType::SliceEnd, None, None, extras)?;
        self.tracks[track].open_slices -= 1;
        self.after_event()
    }

    /// An `INSTANT` named `name`.
    #[inline]
    pub(crate) fn instant(
        &mut self,
        track: usize,
        ts: u64,
        name: Name<'_>,
        extras: Option<&Extras<'_>>,
    ) -> Result<(), GeneratorError> {
        if extras.is_none() && self.try_fast(track, ts, EventType::Instant, Some(name), None) {
            return self.after_event();
        }
        self.instant_general(track, ts, name, extras)
    }

    /// [`Inner::instant`] for the calls [`Inner::try_fast`] declines: every check in
    /// order, then the general encoder.
    #[inline(never)]
    fn instant_general(
        &mut self,
        track: usize,
        ts: u64,
        name: Name<'_>,
        extras: Option<&Extras<'_>>,
    ) -> Result<(), GeneratorError> {
        self.check(track, ts)?;
        self.write_event(track, ts, EventType::Instant, Some(name), None, extras)?;
        self.after_event()
    }

    /// A `COUNTER` sample.
    #[inline]
    pub(crate) fn count(
        &mut self,
        track: usize,
        ts: u64,
        value: CounterValue,
    ) -> Result<(), GeneratorError> {
        if self.try_fast(track, ts, EventType::Counter, None, Some(value)) {
            return self.after_event();
        }
        self.count_general(track, ts, value)
    }

    /// [`Inner::count`] for the calls [`Inner::try_fast`] declines: every check in
    /// order, then the general encoder.
    #[inline(never)]
    fn count_general(
        &mut self,
        track: usize,
        ts: u64,
        value: CounterValue,
    ) -> Result<(), GeneratorError> {
        self.check(track, ts)?;
        self.write_event(track, ts, EventType::Counter, None, Some(value), None)?;
        self.after_event()
    }

    /// The common case of an event without extras, in one pass: when every check
    /// passes at once, the track's sequence is started and its name (if any) already
    /// interned, writes the event and returns true. Otherwise writes nothing and
    /// returns false: the general path then makes each check in order (reporting the
    /// right error), starts the sequence or interns the name. (A name missing from the
    /// cache is still looked up in the table here: a program cycling through more
    /// names than the cache holds would otherwise take the general path every time.)
    #[inline(always)]
    fn try_fast(
        &mut self,
        track: usize,
        ts: u64,
        kind: EventType,
        name: Option<Name<'_>>,
        counter_value: Option<CounterValue>,
    ) -> bool {
        let Some(state) = self.tracks.get_mut(track) else {
            return false;
        };
        if ts > MAX_TIMESTAMP
            || ts < state.fast_min_ts
            || match kind {
                EventType::SliceBegin => state.open_slices >= MAX_OPEN_SLICES,
                EventType::SliceEnd => state.open_slices == 0,
                _ => false,
            }
        {
            return false;
        }
        let name_iid = match name {
            None => None,
            Some(Name::Iid(iid)) => Some(iid),
            Some(Name::Text(name)) => match state.names.get(name) {
                Some(iid) => Some(iid),
                None => return false,
            },
        };
        let delta = ts - state.fast_min_ts;
        match counter_value {
            None => append_small_event(&mut self.buf, delta, &state.seq_bytes, kind, name_iid),
            Some(_) => append_sequence_event_inline(
                &mut self.buf,
                &SequenceEvent {
                    timestamp: delta,
                    sequence_id: state.seq,
                    kind,
                    name_iid,
                    counter_value,
                    source_location_iid: None,
                },
            ),
        }
        state.last_ts = ts;
        state.fast_min_ts = ts;
        match kind {
            EventType::SliceBegin => state.open_slices += 1,
            EventType::SliceEnd => state.open_slices -= 1,
            _ => {}
        }
        true
    }

    /// The iid `name` is interned under on `track`, if an event of the track
    /// already wrote it (its definition is then in the track's sequence).
    #[inline]
    pub(crate) fn name_iid(&mut self, track: usize, name: &str) -> Option<u64> {
        self.tracks.get_mut(track)?.names.get(name)
    }

    /// Hands the buffer to the writer and flushes it.
    pub(crate) fn flush(&mut self) -> Result<(), GeneratorError> {
        self.check_status()?;
        self.write_out()?;
        match &mut self.out {
            Out::Write(out) => out.flush().map_err(|e| self.fail(e)),
            Out::Chunks(_) => Ok(()),
        }
    }

    /// Flushes and stops writing for good. Open slices stay open (the UI shows them
    /// as "did not end").
    pub(crate) fn finish(&mut self) -> Result<(), GeneratorError> {
        let flushed = self.flush();
        if self.status == Status::Open {
            self.stop(Status::Finished);
        }
        flushed
    }

    /// Whether `finish` has already happened (or the generator failed).
    pub(crate) fn is_open(&self) -> bool {
        self.status == Status::Open
    }

    #[inline]
    fn check_status(&mut self) -> Result<(), GeneratorError> {
        if self.status == Status::Open {
            Ok(())
        } else {
            Err(self.status_error())
        }
    }

    #[cold]
    fn status_error(&mut self) -> GeneratorError {
        match self.status {
            Status::Finished => GeneratorError::Finished,
            _ => self
                .pending_io
                .take()
                .map_or(GeneratorError::Stopped, GeneratorError::Io),
        }
    }

    /// The checks every event passes before anything is written.
    #[inline]
    fn check(&mut self, track: usize, ts: u64) -> Result<(), GeneratorError> {
        self.check_status()?;
        if ts > MAX_TIMESTAMP {
            return Err(GeneratorError::TimestampTooLarge { timestamp: ts });
        }
        let previous = self.tracks[track].last_ts;
        if ts < previous {
            return Err(GeneratorError::TimestampDecreased {
                previous,
                timestamp: ts,
            });
        }
        Ok(())
    }

    #[inline(always)]
    fn after_event(&mut self) -> Result<(), GeneratorError> {
        if self.buf.len() >= CHUNK {
            self.write_out()
        } else {
            Ok(())
        }
    }

    /// Ends writing for good, with the fast path closed on every track.
    #[cold]
    fn stop(&mut self, status: Status) {
        self.status = status;
        for state in &mut self.tracks {
            state.fast_min_ts = u64::MAX;
        }
    }

    #[cold]
    #[inline(never)]
    fn write_out(&mut self) -> Result<(), GeneratorError> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let written = match &mut self.out {
            Out::Write(out) => {
                let written = out.write_all(&self.buf);
                self.buf.clear();
                written
            }
            Out::Chunks(send) => {
                let full = std::mem::take(&mut self.buf);
                let (written, mut next) = match send(full) {
                    Ok(next) => (Ok(()), next),
                    Err(e) => (Err(e), Vec::new()),
                };
                next.clear();
                next.reserve(BUFFER);
                self.buf = next;
                written
            }
        };
        written.map_err(|e| self.fail(e))
    }

    fn fail(&mut self, e: io::Error) -> GeneratorError {
        self.stop(Status::Failed);
        GeneratorError::Io(e)
    }

    /// Encodes one event of `track` (already checked by [`Inner::check`]): the first
    /// event of a track, new names, arguments, flows. Fails only on bad arguments,
    /// before writing anything.
    fn write_event(
        &mut self,
        track: usize,
        ts: u64,
        kind: EventType,
        name: Option<Name<'_>>,
        counter_value: Option<CounterValue>,
        extras: Option<&Extras<'_>>,
    ) -> Result<(), GeneratorError> {
        // Validate the arguments before touching any state.
        let entries = match extras {
            Some(x) => checked_entries(x.args)?,
            None => &[],
        };
        let Inner {
            buf,
            tracks,
            next_seq,
            flows,
            terminating_flows,
            arg_iids,
            ..
        } = self;
        let state = &mut tracks[track];
        if state.seq == 0 {
            start_sequence(buf, state, next_seq);
        }
        let delta = ts - state.last_ts;
        state.last_ts = ts;
        state.fast_min_ts = ts;

        let mut new_name = None;
        let name_iid = name.map(|name| match name {
            Name::Iid(iid) => iid,
            Name::Text(name) => {
                let (iid, new) = state.names.intern(name);
                if new {
                    new_name = Some(InternedString { iid, name });
                }
                iid
            }
        });
        if extras.is_none() && new_name.is_none() {
            // Only the sequence had to be started.
            append_sequence_event(
                buf,
                &SequenceEvent {
                    timestamp: delta,
                    sequence_id: state.seq,
                    kind,
                    name_iid,
                    counter_value,
                    source_location_iid: None,
                },
            );
            return Ok(());
        }
        let new_names = new_name.as_slice();
        let event = TrackEvent::<NoAnnotations> {
            kind: Some(kind),
            name: name_iid.map(EventName::Iid),
            counter_value,
            ..Default::default()
        };
        let Some(extras) = extras else {
            let interned = InternedData {
                event_names: new_names,
                ..Default::default()
            };
            append_event(buf, state.seq, delta, event, interned);
            return Ok(());
        };

        flows.clear();
        flows.extend(extras.flows.iter().map(|f| f.raw()));
        terminating_flows.clear();
        terminating_flows.extend(extras.terminating_flows.iter().map(|f| f.raw()));
        arg_iids.clear();
        // Allocates only when names are new, as interning them already does.
        let mut new_arg_names = Vec::new();
        for (arg_name, _) in entries {
            let (iid, new) = state.arg_names.intern(arg_name.as_str());
            if new {
                new_arg_names.push(InternedString {
                    iid,
                    name: arg_name,
                });
            }
            arg_iids.push(iid);
        }
        let event = TrackEvent {
            debug_annotations: ArgList {
                iids: arg_iids,
                entries,
            },
            flow_ids: flows,
            terminating_flow_ids: terminating_flows,
            category_iids: &[],
            kind: event.kind,
            name: event.name,
            track_uuid: None,
            counter_value: event.counter_value,
            source_location_iid: None,
        };
        let interned = InternedData {
            event_names: new_names,
            debug_annotation_names: &new_arg_names,
            ..Default::default()
        };
        append_event(buf, state.seq, delta, event, interned);
        Ok(())
    }
}

/// Writes the packet that starts `state`'s sequence (see the module docs).
#[cold]
fn start_sequence(buf: &mut Vec<u8>, state: &mut TrackState, next_seq: &mut u32) {
    state.seq = *next_seq;
    state.seq_bytes = SequenceIdBytes::new(state.seq);
    // Never 0; wrapping would take 2^32 tracks, far beyond memory.
    *next_seq = next_seq.wrapping_add(1).max(1);
    let start = SequenceStart {
        sequence: state.seq,
        track_uuid: state.uuid,
        boottime_ns: 0,
        previous_packet_dropped: false,
    };
    start.append(buf);
    // The snapshot reads 0 on both clocks and `last_ts` starts at 0, so the first
    // delta is the absolute time.
}

#[inline]
fn append_event<A: AnnotationList>(
    buf: &mut Vec<u8>,
    seq: u32,
    delta: u64,
    event: TrackEvent<'_, A>,
    interned: InternedData<'_>,
) {
    append_packet(
        buf,
        &TracePacket {
            timestamp: Some(delta),
            timestamp_clock_id: None,
            trusted_packet_sequence_id: Some(seq),
            sequence_flags: SEQ_NEEDS_INCREMENTAL_STATE,
            interned_data: (!interned.is_empty()).then_some(interned),
            trace_packet_defaults: None,
            previous_packet_dropped: false,
            data: Some(PacketData::TrackEvent(event)),
        },
    );
}
