//! The background writer: turns the threads' records into packets and writes the file.
//!
//! One sequence per recording thread: its first packet clears the sequence's
//! incremental state, sets the defaults (timestamps on the sequence-scoped
//! incremental clock 64, events on the thread's track) and relates clock 64 to
//! BOOTTIME with a `ClockSnapshot`; every event then carries only the nanoseconds
//! since the previous one, and interned ids for its name and source location
//! (defined in the packet that first uses them). Slice begins and ends and plain
//! instants on thread tracks, and counter samples, most of any trace, are copied
//! from per-sequence templates ([`templates`]).
//!
//! The writer reads full chunks as they arrive, and every `drain_interval` also
//! the live chunk of every thread; after each such drain it writes what it has, so
//! a crash loses at most one interval.

mod lane_templates;
mod ring;
mod templates;
mod trace_file;

pub(crate) use trace_file::TraceFile;

use super::args::MAX_ARGS;
use super::buffer::{self, Chunk};
use super::clock::{self, Calibration};
use super::counter::Counter;
use super::handoff::{Msg, Shared, Slot, WriterEnd};
use super::record::{self, DecodedEvent, DecodedValue, Head, Sample, Ty};
use super::registry::{Callsite, RegistryView};
use super::shim::channel::RecvTimeoutError;
use super::shim::{Arc, Ordering, lock};
use super::track::Track;
use super::values;
use crate::annotation::{MAX_DEPTH, Value};
use crate::intern::{FxHashMap, InternTable};
use crate::wire::{
    self, AnnotationList, AnnotationName, AnnotationValue, BuiltinClock, CounterDescriptor,
    CounterValue, DebugAnnotation, EventName, EventType, InternedData, InternedString, PacketData,
    ProcessDescriptor, SEQ_NEEDS_INCREMENTAL_STATE, SequenceStart, SourceLocation,
    ThreadDescriptor, TracePacket, TraceStats, TrackDescriptor, TrackEvent,
};
use lane_templates::{LaneTemplate, LaneTemplates};
use quick_protobuf::sizeofs::sizeof_len;
use quick_protobuf::{MessageWrite, Writer as PbWriter, WriterBackend};
use std::collections::HashSet;
use std::io::Write;
use std::ops::Range;
use std::time::{Duration, Instant};
use templates::{Templates, TypedName};

/// Output is written to the file when it reaches this size (and at every drain).
const WRITE_AT: usize = 1 << 20;

/// Per-sequence (per-thread) state.
struct Sequence {
    slot: Arc<Slot>,
    started: bool,
    last_ns: u64,
    /// Callsite id -> iid of both its event name and its source location, and
    /// the sequence's pre-encoded packets.
    templates: Templates,
    /// Pre-encoded plain slice begins and ends on custom tracks' lanes.
    lanes: LaneTemplates,
    arg_names: InternTable<&'static str>,
    /// The categories of the callsites interned on the sequence.
    categories: InternTable<&'static str>,
    /// Names given at run time: of events, and of typed args, each table with
    /// iids from [`RUNTIME_IIDS`] up.
    runtime_names: InternTable<String>,
    runtime_arg_names: InternTable<String>,
    dropped_pending: bool,
    /// Drops the thread has announced with DROPPED records so far.
    marked_drops: u64,
    /// Events lost just before the sequence's next start, marked on the thread's
    /// track by [`Output::loss_marker`] when it restarts.
    loss_to_mark: u64,
}

/// What the general path found out about an event's callsite or counter that the
/// sequence's fast path can use: see [`Sequence::learn`].
enum Learned {
    Nothing,
    /// Callsite `callsite`'s events with as many args as the event had (whose name
    /// iids are in `Writer::arg_items`) can be written from its templates.
    ArgNames {
        callsite: u32,
    },
    /// Callsite `callsite`'s typed events with these arg names (or a prefix of
    /// them) can be written from its templates.
    TypedNames {
        callsite: u32,
        names: Vec<TypedName>,
    },
    /// Counter `counter`'s track is `uuid` (described already).
    CounterTrack {
        counter: u32,
        uuid: u64,
    },
    /// Plain begins of `callsite` on `lane` (`track << 32 | lane`), and plain
    /// ends there, are `begin` and `end`.
    Lane {
        callsite: Option<u32>,
        lane: u64,
        template: LaneTemplate,
    },
}

impl Sequence {
    /// The one place that decides what the sequence's templates know beyond its
    /// interned callsites: what the general path `learned` writing an event, with
    /// the event's args as `arg_items`.
    fn learn(&mut self, learned: Learned, arg_items: &[(u64, ArgVal)]) {
        match learned {
            Learned::Nothing => {}
            Learned::ArgNames { callsite } => {
                let iids = arg_items.iter().map(|&(iid, _)| iid);
                self.templates.callsites.set_arg_iids(callsite, iids);
            }
            Learned::TypedNames { callsite, names } => {
                self.templates.callsites.set_typed_names(callsite, names);
            }
            Learned::CounterTrack { counter, uuid } => {
                self.templates
                    .add_counter(counter, self.slot.sequence, uuid);
            }
            Learned::Lane {
                callsite: Some(callsite),
                lane,
                template,
            } => self.lanes.add_begin(callsite, lane, template),
            Learned::Lane {
                callsite: None,
                lane,
                template,
            } => self.lanes.add_end(lane, template),
        }
    }

    /// Forgets the incremental state after a loss of `count` events: trace_processor
    /// invalidates it at a loss marker, so the sequence starts afresh (the marker
    /// goes on the packet that clears the state again).
    fn restart_after_loss(&mut self, count: u64) {
        self.dropped_pending = true;
        self.marked_drops += count;
        self.loss_to_mark += count;
        self.started = false;
        self.templates.callsites.clear();
        self.lanes.clear();
        self.arg_names.clear();
        self.categories.clear();
        self.runtime_names.clear();
        self.runtime_arg_names.clear();
    }

    fn new(slot: Arc<Slot>) -> Sequence {
        Sequence {
            templates: Templates::new(slot.sequence),
            lanes: LaneTemplates::default(),
            slot,
            started: false,
            last_ns: 0,
            arg_names: InternTable::default(),
            categories: InternTable::default(),
            runtime_names: InternTable::default(),
            runtime_arg_names: InternTable::default(),
            dropped_pending: false,
            marked_drops: 0,
            loss_to_mark: 0,
        }
    }
}

/// The iid of argument name `name` on `seq`, queued in `interned` when new.
fn intern_arg_name(seq: &mut Sequence, interned: &mut NewInterned, name: &'static str) -> u64 {
    let (iid, new) = seq.arg_names.intern(&name);
    if new {
        interned.arg_names.push(InternedString { iid, name });
    }
    iid
}

/// Interned ids of names given at run time start here: above every callsite's iid
/// (a `u32`), in the tables they share with callsites' names.
const RUNTIME_IIDS: u64 = 1 << 32;

/// The iid of run-time name `name` in `table`, queued in `new` when new.
fn intern_runtime(
    table: &mut InternTable<String>,
    new: &mut Vec<(u64, String)>,
    name: &str,
) -> u64 {
    let (i, is_new) = table.intern(name);
    let iid = RUNTIME_IIDS + i;
    if is_new {
        new.push((iid, name.to_owned()));
    }
    iid
}

/// New interned entries of the packet being built.
#[derive(Default)]
struct NewInterned {
    names: Vec<InternedString<'static>>,
    locations: Vec<SourceLocation<'static>>,
    arg_names: Vec<InternedString<'static>>,
    categories: Vec<InternedString<'static>>,
    runtime_names: Vec<(u64, String)>,
    runtime_arg_names: Vec<(u64, String)>,
}

impl NewInterned {
    fn clear(&mut self) {
        self.names.clear();
        self.locations.clear();
        self.arg_names.clear();
        self.categories.clear();
        self.runtime_names.clear();
        self.runtime_arg_names.clear();
    }

    /// Runs `f` on the packet's `InternedData` (`None` if there is nothing new).
    fn with_data<R>(&self, f: impl FnOnce(Option<InternedData<'_>>) -> R) -> R {
        fn with_runtime<'a>(
            fixed: &[InternedString<'static>],
            runtime: &'a [(u64, String)],
        ) -> Vec<InternedString<'a>> {
            let mut all: Vec<InternedString<'a>> = fixed.to_vec();
            all.extend(
                runtime
                    .iter()
                    .map(|(iid, name)| InternedString { iid: *iid, name }),
            );
            all
        }
        let (names, arg_names);
        let (names, arg_names): (&[InternedString<'_>], &[InternedString<'_>]) =
            if self.runtime_names.is_empty() && self.runtime_arg_names.is_empty() {
                (&self.names, &self.arg_names)
            } else {
                names = with_runtime(&self.names, &self.runtime_names);
                arg_names = with_runtime(&self.arg_names, &self.runtime_arg_names);
                (&names, &arg_names)
            };
        let d = InternedData {
            event_categories: &self.categories,
            event_names: names,
            debug_annotation_names: arg_names,
            source_locations: &self.locations,
        };
        f((!d.is_empty()).then_some(d))
    }
}

/// The name of the arg a slice's end records: the function's return value.
const RETURN_ARG: &str = "return";
/// A nested value whose record bytes do not decode (a bug, never expected).
const UNREADABLE_VALUE: &str = "<not recorded: unreadable nested value>";
/// The `return` arg of a slice whose return value did not fit in memory.
pub(crate) const DROPPED_VALUE: &str = "<not recorded: memory limit reached>";

/// The name of the instant that marks, on a thread's track, where events of that
/// thread were lost under [`Overflow::Drop`](super::Overflow::Drop): where recording
/// resumed after the loss, or after the thread's last event if it never resumed.
/// Its `count` arg says how many events were lost there. The trace's closing
/// `trace_stats` packet adds them up for trace_processor's `stats` table
/// (`traced_buf_trace_writer_packet_loss`, a data-loss stat), equal to
/// [`Report::events_dropped`](super::Report::events_dropped).
///
/// ```
/// assert_eq!(tg4p_core::runtime::LOSS_MARKER, "tg4p: events dropped");
/// ```
pub const LOSS_MARKER: &str = "tg4p: events dropped";
/// The arg of [`LOSS_MARKER`] that holds the number of events lost.
pub(crate) const LOSS_COUNT_ARG: &str = "count";

/// The value of a recorded arg: a text (its byte range in `RecordedArgs::text`)
/// or a typed scalar.
#[derive(Clone, Debug)]
enum ArgVal {
    Text(Range<usize>),
    Int(i64),
    Uint(u64),
    Double(f64),
    Bool(bool),
    /// The args with dotted names under one first part (`http.method`,
    /// `http.status`): a dict of their other parts.
    Tree(Value),
}

/// Adds `leaf` to dict `tree` at dotted `path` (`a.b`: entry `b` of entry `a`),
/// creating the dicts on the way; parts past the depth limit stay in one name.
fn insert_dotted(tree: &mut Value, path: &str, leaf: Value, depth: usize) {
    let Value::Dict(entries) = tree else {
        return;
    };
    match path.split_once('.') {
        Some((key, rest)) if !key.is_empty() && !rest.is_empty() && depth + 2 < MAX_DEPTH => {
            let at = match entries
                .iter()
                .position(|(k, v)| k == key && matches!(v, Value::Dict(_)))
            {
                Some(at) => at,
                None => {
                    entries.push((key.to_owned(), Value::Dict(Vec::new())));
                    entries.len() - 1
                }
            };
            insert_dotted(&mut entries[at].1, rest, leaf, depth + 1);
        }
        _ => entries.push((path.to_owned(), leaf)),
    }
}

/// The recorded args of one event, written as debug annotations without building
/// a list: (name iid, value).
struct RecordedArgs<'a> {
    items: &'a [(u64, ArgVal)],
    text: &'a str,
}

impl RecordedArgs<'_> {
    fn annotations(&self) -> impl Iterator<Item = DebugAnnotation<'_>> {
        self.items.iter().map(|(iid, v)| DebugAnnotation {
            name: AnnotationName::Iid(*iid),
            value: match v {
                ArgVal::Text(r) => AnnotationValue::Str(&self.text[r.clone()]),
                ArgVal::Int(v) => AnnotationValue::Int(*v),
                ArgVal::Uint(v) => AnnotationValue::Uint(*v),
                ArgVal::Double(v) => AnnotationValue::Double(*v),
                ArgVal::Bool(v) => AnnotationValue::Bool(*v),
                ArgVal::Tree(t) => AnnotationValue::Tree(t),
            },
        })
    }
}

impl AnnotationList for RecordedArgs<'_> {
    fn annotations_size(&self) -> usize {
        // Field 4 has a one-byte tag.
        self.annotations()
            .map(|a| 1 + sizeof_len(a.get_size()))
            .sum()
    }

    fn write_annotations<W: WriterBackend>(
        &self,
        w: &mut PbWriter<W>,
    ) -> quick_protobuf::Result<()> {
        for a in self.annotations() {
            w.write_tag(4 << 3 | 2)?;
            w.write_message(&a)?;
        }
        Ok(())
    }
}

/// Everything the packets of one event are built from, apart from the sequence.
struct Output {
    out: Vec<u8>,
    calibration: Calibration,
    pid: i32,
    process_uuid: u64,
    events: u64,
}

impl Output {
    /// Appends an event packet of `seq` at `tick`.
    fn event<A: AnnotationList>(
        &mut self,
        seq: &mut Sequence,
        tick: u64,
        event: TrackEvent<'_, A>,
        interned: Option<InternedData<'_>>,
    ) {
        // A tick before the sequence's last one (a slice that began in the past:
        // `FutureSpan::begin_since`) cannot be a delta: it is written in absolute
        // BOOTTIME ns, and the sequence's clock stays where it was.
        let ns = self.calibration.ns_of(tick);
        let (timestamp, clock) = if seq.started && ns < seq.last_ns {
            (ns, Some(BuiltinClock::Boottime as u32))
        } else {
            (self.delta(seq, tick), None)
        };
        let packet = TracePacket {
            timestamp: Some(timestamp),
            trusted_packet_sequence_id: Some(seq.slot.sequence),
            sequence_flags: SEQ_NEEDS_INCREMENTAL_STATE,
            interned_data: interned,
            previous_packet_dropped: false,
            data: Some(PacketData::TrackEvent(event)),
            timestamp_clock_id: clock,
            trace_packet_defaults: None,
        };
        wire::append_packet(&mut self.out, &packet);
        self.events += 1;
    }

    /// The timestamp of the next packet of `seq` (a delta on the sequence's
    /// incremental clock), starting the sequence first if needed.
    #[inline]
    fn delta(&mut self, seq: &mut Sequence, tick: u64) -> u64 {
        // Per-sequence timestamps never go back (deltas are unsigned); a tick
        // converted with a refined calibration may land a few ns early.
        let ns = self.calibration.ns_of(tick).max(seq.last_ns);
        if !seq.started {
            self.start_sequence(seq, ns);
        }
        let delta = ns - seq.last_ns;
        seq.last_ns = ns;
        delta
    }

    /// Appends a slice begin of callsite `begin` (already interned) or an end
    /// (`None`) on the thread's track; [`templates::append_run`] writes most of them.
    fn thread_slice(&mut self, seq: &mut Sequence, tick: u64, begin: Option<u32>) {
        let delta = self.delta(seq, tick);
        let template = match begin {
            Some(id) => match seq.templates.callsites.begin(id) {
                Some(t) => t,
                None => return, // not interned: the caller's bug, nothing to write
            },
            None => &seq.templates.end,
        };
        templates::append_packet(&mut self.out, delta, template);
        self.events += 1;
    }

    fn start_sequence(&mut self, seq: &mut Sequence, ns: u64) {
        let slot = &seq.slot;
        self.descriptor(TrackDescriptor {
            uuid: slot.track_uuid,
            parent_uuid: Some(self.process_uuid),
            thread: Some(ThreadDescriptor {
                pid: self.pid,
                tid: slot.tid,
                thread_name: Some(&slot.name),
            }),
            ..Default::default()
        });
        let start = SequenceStart {
            sequence: slot.sequence,
            track_uuid: slot.track_uuid,
            boottime_ns: ns,
            previous_packet_dropped: std::mem::take(&mut seq.dropped_pending),
        };
        start.append(&mut self.out);
        seq.started = true;
        seq.last_ns = ns;
        let lost = std::mem::take(&mut seq.loss_to_mark);
        if lost > 0 {
            self.loss_marker(seq, lost);
        }
    }

    /// Appends the instant that marks the loss of `count` events on the thread's
    /// track of started sequence `seq`, at its latest timestamp: where recording
    /// resumed after the loss, or the last event before a loss at its end. Its name
    /// and arg name are inline (not interned), so it stands on its own.
    fn loss_marker(&mut self, seq: &Sequence, count: u64) {
        let args = [DebugAnnotation {
            name: AnnotationName::Str(LOSS_COUNT_ARG),
            value: AnnotationValue::Uint(count),
        }];
        let packet = TracePacket {
            timestamp: Some(0),
            trusted_packet_sequence_id: Some(seq.slot.sequence),
            sequence_flags: SEQ_NEEDS_INCREMENTAL_STATE,
            data: Some(PacketData::TrackEvent(TrackEvent {
                debug_annotations: &args[..],
                kind: Some(EventType::Instant),
                name: Some(EventName::Str(LOSS_MARKER)),
                ..Default::default()
            })),
            ..Default::default()
        };
        wire::append_packet(&mut self.out, &packet);
    }

    fn descriptor(&mut self, d: TrackDescriptor<'_>) {
        let packet: TracePacket<'_> = TracePacket {
            data: Some(PacketData::TrackDescriptor(d)),
            ..Default::default()
        };
        wire::append_packet(&mut self.out, &packet);
    }
}

/// Tracks other than thread tracks, described once per session when first used.
#[derive(Default)]
struct Tracks {
    described: HashSet<u64>,
    lanes: FxHashMap<(u32, u32), u64>,
    counters_by_id: FxHashMap<u32, u64>,
    counters_by_name: FxHashMap<&'static str, u64>,
}

/// What the writer wrote, for the session's report.
pub(crate) struct Written {
    pub(crate) events: u64,
    pub(crate) events_dropped: u64,
    /// Ring mode: events left out of the window.
    pub(crate) events_overwritten: u64,
    pub(crate) values_dropped: u64,
    pub(crate) bytes: u64,
    pub(crate) threads: u64,
    /// Buffers allocated so far.
    pub(crate) buffers: usize,
}

pub(crate) struct Writer {
    shared: Arc<Shared>,
    from_threads: WriterEnd,
    /// The trace file, or the writer given to `SessionBuilder::writer`.
    file: Box<dyn Write + Send>,
    drain_interval: Duration,
    output: Output,
    bytes_written: u64,
    error: Option<std::io::Error>,
    registry: RegistryView,
    sequences: FxHashMap<u32, Sequence>,
    tracks: Tracks,
    words: Vec<u64>,
    /// The `EVENT` record an `ARGS` record in `words` stands for.
    event_words: Vec<u64>,
    interned: NewInterned,
    arg_items: Vec<(u64, ArgVal)>,
    arg_text: String,
    arg_bytes: Vec<u8>,
    dropped_by_exited: u64,
    /// Every sequence written, for the closing `TraceStats`.
    sequence_ids: Vec<u32>,
    /// Return values not recorded for lack of memory (marked with `DROPPED_VALUE`).
    values_dropped: u64,
    threads: u64,
    finish_requested: bool,
    /// Ring mode's held chunks (see [`ring`]); `None` in the other modes.
    ring: Option<ring::Ring>,
}

impl Writer {
    pub(crate) fn new(
        shared: Arc<Shared>,
        from_threads: WriterEnd,
        file: Box<dyn Write + Send>,
        drain_interval: Duration,
    ) -> Writer {
        let process_uuid = shared.process_uuid;
        let ring = (shared.overflow == super::Overflow::Ring)
            .then(|| ring::Ring::new(shared.max_chunks()));
        Writer {
            shared,
            from_threads,
            file,
            drain_interval,
            output: Output {
                out: Vec::with_capacity(WRITE_AT + (256 << 10)),
                calibration: Calibration::started(),
                pid: std::process::id() as i32,
                process_uuid,
                events: 0,
            },
            bytes_written: 0,
            error: None,
            registry: RegistryView::default(),
            sequences: FxHashMap::default(),
            tracks: Tracks::default(),
            words: Vec::with_capacity(buffer::CHUNK_WORDS),
            event_words: Vec::new(),
            interned: NewInterned::default(),
            arg_items: Vec::new(),
            arg_text: String::new(),
            arg_bytes: Vec::new(),
            dropped_by_exited: 0,
            sequence_ids: Vec::new(),
            values_dropped: 0,
            threads: 0,
            finish_requested: false,
            ring,
        }
    }

    /// The trace's first packets: the process and the wall clock.
    fn header(&mut self) {
        let name = process_name();
        let process = ProcessDescriptor {
            pid: self.output.pid,
            process_name: Some(&name),
        };
        let uuid = self.output.process_uuid;
        self.output.descriptor(TrackDescriptor {
            uuid,
            process: Some(process),
            ..Default::default()
        });
        if let Some((boottime_ns, realtime_ns)) = clock::wall_clock_pair() {
            wire::append_wall_clock_snapshot(&mut self.output.out, boottime_ns, realtime_ns);
        }
    }

    pub(crate) fn run(mut self) -> std::io::Result<Written> {
        // Here rather than in `Session::start`: the caller does not wait for it.
        self.output.calibration.settle();
        if self.ring.is_some() {
            return self.run_ring();
        }
        self.header();
        self.write_out();
        let mut next_drain = Instant::now() + self.drain_interval;
        while !self.finish_requested {
            let wait = next_drain.saturating_duration_since(Instant::now());
            match self.from_threads.rx.recv_timeout(wait) {
                Ok(msg) => self.on_message(msg),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            if Instant::now() >= next_drain {
                self.drain_all();
                self.write_out();
                next_drain = Instant::now() + self.drain_interval;
            }
        }
        self.drain_all();
        for slot in self.shared.slots() {
            self.mark_unannounced_drops(&slot);
        }
        let dropped: u64 = self
            .shared
            .slots()
            .iter()
            .map(|s| s.dropped.load(Ordering::Relaxed))
            .sum::<u64>()
            + self.dropped_by_exited
            + self.shared.unrecorded();
        TraceStats {
            packet_loss: dropped,
            sequences: &self.sequence_ids,
        }
        .append(&mut self.output.out);
        self.write_out();
        if let Err(source) = self.file.flush() {
            self.error.get_or_insert(source);
        }
        if let Some(source) = self.error.take() {
            return Err(source);
        }
        Ok(Written {
            events: self.output.events,
            events_dropped: dropped,
            events_overwritten: 0,
            values_dropped: self.values_dropped,
            bytes: self.bytes_written,
            threads: self.threads,
            buffers: self.shared.allocated(),
        })
    }

    /// Ring mode's loop: keep chunks until the end, then write the window.
    fn run_ring(mut self) -> std::io::Result<Written> {
        while !self.finish_requested {
            match self
                .from_threads
                .rx
                .recv_timeout(Duration::from_millis(100))
            {
                Ok(msg) => self.on_message(msg),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            // Calibrate as the run goes, for the ticks of a long window.
            self.output.calibration.refresh();
        }
        for msg in self.ring_deferred() {
            self.on_message(msg);
        }
        let file = std::mem::replace(&mut self.file, Box::new(std::io::sink()));
        self.ring_snapshot(file)
    }

    fn on_message(&mut self, msg: Msg) {
        match msg {
            Msg::Finish => self.finish_requested = true,
            Msg::Snapshot { file, reply } => {
                let result = self.ring_snapshot(file);
                let _ = reply.send(result);
                for msg in self.ring_deferred() {
                    self.on_message(msg);
                }
            }
            Msg::Chunk { slot, chunk, last } if self.ring.is_some() => {
                self.ring_receive(&slot, chunk, last);
            }
            Msg::Chunk { slot, chunk, last } => {
                if let Some(chunk) = chunk {
                    self.read(&slot, &chunk);
                    chunk.reset();
                    // Every chunk fits: the pool's capacity is the chunk limit.
                    let _ = self.from_threads.free.try_send(chunk);
                }
                if last {
                    self.mark_unannounced_drops(&slot);
                    self.shared.remove_slot(&slot);
                    self.dropped_by_exited += slot.dropped.load(Ordering::Relaxed);
                    self.sequences.remove(&slot.sequence);
                }
            }
        }
    }

    /// Marks the loss of events the thread counted but could not announce with a
    /// DROPPED record of its own (no room was left before it exited, or before the
    /// session ended), and the loss announced last if nothing followed it: a
    /// [`LOSS_MARKER`] instant on the thread's track after its last event, then a
    /// packet of its sequence carrying only `previous_packet_dropped`, so that no
    /// loss goes unmarked in the trace.
    fn mark_unannounced_drops(&mut self, slot: &Arc<Slot>) {
        // The count is raised before the DROPPED record that announces it is
        // published, so it is never below what the records announced.
        let dropped = slot.dropped.load(Ordering::Relaxed);
        let mut seq = match self.sequences.remove(&slot.sequence) {
            Some(s) => s,
            None if dropped == 0 => return,
            None => self.new_sequence(slot),
        };
        let unannounced = dropped.saturating_sub(seq.marked_drops);
        if unannounced == 0 && seq.loss_to_mark == 0 {
            self.sequences.insert(slot.sequence, seq);
            return;
        }
        seq.marked_drops = dropped;
        if seq.started {
            self.output.loss_marker(&seq, unannounced);
        } else {
            // Restart the sequence at its last timestamp (or now, if it wrote
            // nothing yet) to mark the loss: the start marks what was pending.
            seq.loss_to_mark += unannounced;
            let ns = if seq.last_ns == 0 {
                self.output.calibration.ns_of(super::clock::ticks())
            } else {
                seq.last_ns
            };
            self.output.start_sequence(&mut seq, ns);
        }
        if unannounced > 0 {
            let marker = TracePacket::<wire::NoAnnotations> {
                trusted_packet_sequence_id: Some(slot.sequence),
                previous_packet_dropped: true,
                ..Default::default()
            };
            wire::append_packet(&mut self.output.out, &marker);
            // trace_processor invalidates the sequence's state at the marker.
            seq.restart_after_loss(0);
            seq.dropped_pending = false;
        }
        self.sequences.insert(slot.sequence, seq);
    }

    /// The state of a sequence met for the first time.
    fn new_sequence(&mut self, slot: &Arc<Slot>) -> Sequence {
        self.threads += 1;
        self.sequence_ids.push(slot.sequence);
        Sequence::new(slot.clone())
    }

    /// Reads what every live thread has published. Under each thread's slot lock,
    /// the channel is emptied first: the thread sends its chunks under that lock,
    /// so every earlier chunk of the thread is then read before its current one.
    fn drain_all(&mut self) {
        for slot in self.shared.slots() {
            let state = lock(&slot.state);
            while let Ok(msg) = self.from_threads.rx.try_recv() {
                self.on_message(msg);
            }
            if let Some(chunk) = &state.current {
                self.read(&slot, chunk);
            }
        }
        while let Ok(msg) = self.from_threads.rx.try_recv() {
            self.on_message(msg);
        }
    }

    fn write_out(&mut self) {
        if self.output.out.is_empty() {
            return;
        }
        if self.error.is_none() {
            match self.file.write_all(&self.output.out) {
                Ok(()) => self.bytes_written += self.output.out.len() as u64,
                Err(e) => self.error = Some(e),
            }
        }
        self.output.out.clear();
    }

    /// Turns the newly published records of `chunk` into packets.
    fn read(&mut self, slot: &Arc<Slot>, chunk: &Chunk) {
        let (start, end) = chunk.unread();
        if start == end {
            return;
        }
        self.output.calibration.refresh();
        let mut seq = match self.sequences.remove(&slot.sequence) {
            Some(s) => s,
            None => self.new_sequence(slot),
        };
        self.records(&mut seq, chunk, start, end);
        chunk.mark_read(end);
        self.sequences.insert(slot.sequence, seq);
        // Hand the output over as it fills, also while a backlog of chunks is
        // drained at once (at finish, or after a stall): the buffer then stays
        // at its first capacity instead of growing through fresh pages.
        if self.output.out.len() >= WRITE_AT {
            self.write_out();
        }
    }

    /// Turns the records in words `start..end` of `chunk` into packets. The common
    /// thread-track begins and ends are read in place; other records are copied out
    /// whole first.
    fn records(&mut self, seq: &mut Sequence, chunk: &Chunk, start: usize, end: usize) {
        let mut i = start;
        while i < end {
            if seq.started {
                let run = templates::append_run(
                    &mut self.output.out,
                    chunk.words(i, end),
                    &seq.templates,
                    self.output.calibration.segment(),
                    &mut seq.last_ns,
                );
                self.output.events += run.packets;
                i += run.words;
                if i >= end {
                    break;
                }
                let run = lane_templates::append_run(
                    &mut self.output.out,
                    chunk.words(i, end),
                    &seq.lanes,
                    self.output.calibration.segment(),
                    &mut seq.last_ns,
                );
                self.output.events += run.packets;
                i += run.words;
                if run.words > 0 {
                    continue;
                }
            }
            // The record the run stopped at: anything but a slice on the thread's
            // track, a begin not interned yet, a tick in another clock segment, or
            // the sequence's first record.
            let next = match Head::of(chunk.word(i)) {
                Head::ThreadBegin { callsite } if i + 1 < end => {
                    self.begin(seq, callsite, chunk.word(i + 1));
                    i + record::THREAD_SLICE_WORDS
                }
                Head::ThreadEnd if i + 1 < end => {
                    self.output.thread_slice(seq, chunk.word(i + 1), None);
                    i + record::THREAD_SLICE_WORDS
                }
                Head::ThreadBegin { .. } | Head::ThreadEnd => break, // its tick is not published yet
                Head::Dropped { count } => {
                    seq.restart_after_loss(count);
                    i + 1
                }
                head @ (Head::Event | Head::Args(_)) => {
                    let len = match head {
                        Head::Event => record::event_len(chunk, i, end),
                        _ => record::args_record_len(chunk, i, end),
                    };
                    let Some(len) = len else {
                        break;
                    };
                    let mut words = std::mem::take(&mut self.words);
                    words.clear();
                    words.extend((i..i + len).map(|j| chunk.word(j)));
                    if let Head::Args(_) = head {
                        // Read as the `EVENT` record it stands for.
                        let mut event = std::mem::take(&mut self.event_words);
                        event.clear();
                        record::expand_args_record(&words, &mut event);
                        self.event_words = std::mem::replace(&mut words, event);
                    }
                    let learned =
                        DecodedEvent::decode(&words).and_then(|(event, _)| self.event(seq, &event));
                    self.words = words;
                    let Some(learned) = learned else {
                        break;
                    };
                    seq.learn(learned, &self.arg_items);
                    i + len
                }
                // Not a record boundary: a bug. Skip the rest rather than guess.
                Head::Invalid => break,
            };
            i = next;
        }
    }

    /// The callsite of `id` and its iid on `seq`, adding new interned entries.
    fn callsite(&mut self, seq: &mut Sequence, id: u32) -> Option<(u64, &'static Callsite)> {
        let cs = self.registry.get::<Callsite>(id)?;
        let category = self.category(seq, cs);
        let (iid, new) =
            seq.templates
                .callsites
                .intern_in_category(id, seq.slot.sequence, category);
        if new {
            self.interned
                .names
                .push(InternedString { iid, name: cs.name });
            self.interned.locations.push(SourceLocation {
                iid,
                file_name: cs.file,
                function_name: cs.function.get(),
                line_number: cs.line,
            });
        }
        Some((iid, cs))
    }

    /// The iid of `cs`'s category on `seq` (`None`: it has none), queued in
    /// `self.interned` when new.
    fn category(&mut self, seq: &mut Sequence, cs: &'static Callsite) -> Option<u64> {
        self.category_named(seq, cs.category)
    }

    /// The iid of category `category` on `seq` (`None` for `""`), queued in
    /// `self.interned` when new.
    fn category_named(&mut self, seq: &mut Sequence, category: &'static str) -> Option<u64> {
        if category.is_empty() {
            return None;
        }
        let (iid, new) = seq.categories.intern(&category);
        if new {
            self.interned.categories.push(InternedString {
                iid,
                name: category,
            });
        }
        Some(iid)
    }

    fn begin(&mut self, seq: &mut Sequence, callsite: u32, tick: u64) {
        if seq.templates.callsites.get(callsite).is_some() {
            return self.output.thread_slice(seq, tick, Some(callsite));
        }
        self.interned.clear();
        let Some((iid, cs)) = self.callsite(seq, callsite) else {
            return;
        };
        let category = self.category(seq, cs);
        let event: TrackEvent<'_> = TrackEvent {
            kind: Some(EventType::SliceBegin),
            name: Some(EventName::Iid(iid)),
            source_location_iid: Some(iid),
            category_iids: category.as_slice(),
            ..Default::default()
        };
        let interned = std::mem::take(&mut self.interned);
        interned.with_data(|d| self.output.event(seq, tick, event, d));
        self.interned = interned;
    }

    /// Writes the packet of `e`, and says what the sequence may learn from it;
    /// `None` if it names a track or counter the registry does not know (a bug: the
    /// caller stops reading the chunk).
    fn event(&mut self, seq: &mut Sequence, e: &DecodedEvent<'_>) -> Option<Learned> {
        let h = e.header;
        self.arg_text.clear();
        self.arg_items.clear();
        self.interned.clear();
        // Text args: decode the texts (their names are the callsite's, below).
        let mut values = Vec::new();
        for (len, words) in e.args().take(MAX_ARGS) {
            values.push(self.push_text(len, words));
        }
        if h.value_dropped && h.ty == Ty::End {
            let start = self.arg_text.len();
            self.arg_text.push_str(DROPPED_VALUE);
            values.push(start..self.arg_text.len());
            self.values_dropped += 1;
        }
        // Typed args: each with its own name, interned as a run-time name, or
        // (`callsite_names`) named by the callsite, interned as its arg names are;
        // dotted names (`http.method`) nest, as dicts under their first part.
        let callsite_names = match h.callsite_names {
            true => Some(
                self.registry
                    .get::<Callsite>(e.id)
                    .map_or(&[][..], |cs| cs.arg_names),
            ),
            false => None,
        };
        for (k, arg) in e.typed_args().take(MAX_ARGS).enumerate() {
            let static_name = callsite_names.map(|n| n.get(k).copied().unwrap_or("arg"));
            let name = match static_name {
                Some(n) => {
                    let start = self.arg_text.len();
                    self.arg_text.push_str(n);
                    start..self.arg_text.len()
                }
                None => self.push_text(arg.name.0, arg.name.1),
            };
            let value = match arg.value {
                DecodedValue::Int(v) => ArgVal::Int(v),
                DecodedValue::Uint(v) => ArgVal::Uint(v),
                DecodedValue::Double(v) => ArgVal::Double(v),
                DecodedValue::Bool(v) => ArgVal::Bool(v),
                DecodedValue::Str(len, words) => ArgVal::Text(self.push_text(len, words)),
                DecodedValue::Tree(len, words) => {
                    self.arg_bytes.clear();
                    record::string_bytes(len, words, &mut self.arg_bytes);
                    match values::decode_tree(&self.arg_bytes) {
                        Some(tree) => ArgVal::Tree(tree),
                        // Never from our own records; a marker rather than nothing.
                        None => {
                            let start = self.arg_text.len();
                            self.arg_text.push_str(UNREADABLE_VALUE);
                            ArgVal::Text(start..self.arg_text.len())
                        }
                    }
                }
            };
            let dotted = self.arg_text[name.clone()]
                .split_once('.')
                .filter(|(top, rest)| !top.is_empty() && !rest.is_empty())
                .map(|(top, rest)| (top.to_owned(), rest.to_owned()));
            let Some((top, rest)) = dotted else {
                let iid = match static_name {
                    Some(n) => intern_arg_name(seq, &mut self.interned, n),
                    None => intern_runtime(
                        &mut seq.runtime_arg_names,
                        &mut self.interned.runtime_arg_names,
                        &self.arg_text[name],
                    ),
                };
                self.arg_items.push((iid, value));
                continue;
            };
            let leaf = match value {
                ArgVal::Text(r) => Value::Str(self.arg_text[r].to_owned()),
                ArgVal::Int(v) => Value::Int(v),
                ArgVal::Uint(v) => Value::Uint(v),
                ArgVal::Double(v) => Value::Double(v),
                ArgVal::Bool(v) => Value::Bool(v),
                ArgVal::Tree(t) => t,
            };
            let iid = match static_name {
                Some(n) => intern_arg_name(seq, &mut self.interned, &n[..top.len()]),
                None => intern_runtime(
                    &mut seq.runtime_arg_names,
                    &mut self.interned.runtime_arg_names,
                    &top,
                ),
            };
            let tree = self.arg_items.iter_mut().find_map(|(i, v)| match v {
                ArgVal::Tree(t) if *i == iid => Some(t),
                _ => None,
            });
            match tree {
                Some(tree) => insert_dotted(tree, &rest, leaf, 1),
                None => {
                    let mut tree = Value::Dict(Vec::new());
                    insert_dotted(&mut tree, &rest, leaf, 1);
                    self.arg_items.push((iid, ArgVal::Tree(tree)));
                }
            }
        }
        // A slice on a lane with nothing but its name (and category): the
        // sequence's lane templates write the next ones.
        let plain = h.args == 0
            && !h.named
            && !h.value_dropped
            && h.outgoing == 0
            && h.incoming == 0
            && !h.float;
        let mut track_uuid = match e.lane {
            Some(l) => Some(self.track_uuid(l.track, l.lane)?),
            None => None,
        };
        let mut name = None;
        let mut location = None;
        let mut category = None;
        let mut learned = Learned::Nothing;
        match h.ty {
            Ty::Begin | Ty::Instant => {
                let Some((iid, cs)) = self.callsite(seq, e.id) else {
                    return Some(Learned::Nothing); // unknown callsite: skip the event
                };
                category = self.category(seq, cs);
                // An event with no category of its own is in its track's.
                if category.is_none()
                    && let Some(l) = e.lane
                    && let Some(track) = self.registry.get::<Track>(l.track)
                {
                    category = self.category_named(seq, track.category);
                }
                name = Some(EventName::Iid(iid));
                location = Some(iid);
                if let Some((len, words)) = e.name {
                    let range = self.push_text(len, words);
                    let iid = intern_runtime(
                        &mut seq.runtime_names,
                        &mut self.interned.runtime_names,
                        &self.arg_text[range],
                    );
                    name = Some(EventName::Iid(iid));
                }
                for (k, range) in values.into_iter().enumerate() {
                    let arg_name = cs.arg_names.get(k).copied().unwrap_or("arg");
                    let aiid = intern_arg_name(seq, &mut self.interned, arg_name);
                    self.arg_items.push((aiid, ArgVal::Text(range)));
                }
                // Text args, and typed args on the thread's track without flows,
                // dotted names or nested values, are written from the callsite's
                // templates.
                let thread_track_only =
                    !h.named && !h.has_track && h.outgoing == 0 && h.incoming == 0;
                let flat = self.arg_items.len() == h.args as usize
                    && !self
                        .arg_items
                        .iter()
                        .any(|(_, v)| matches!(v, ArgVal::Tree(_)));
                if let (Some(l), Some(uuid), Ty::Begin) = (e.lane, track_uuid, h.ty)
                    && plain
                {
                    learned = Learned::Lane {
                        callsite: Some(e.id),
                        lane: u64::from(l.track) << 32 | u64::from(l.lane),
                        template: LaneTemplate::begin(seq.slot.sequence, iid, category, uuid),
                    };
                } else if !h.typed && !h.named {
                    learned = Learned::ArgNames { callsite: e.id };
                } else if h.typed && h.callsite_names && thread_track_only && flat {
                    // Named by position, as text args are: the same iids.
                    learned = Learned::ArgNames { callsite: e.id };
                } else if h.typed && thread_track_only && flat {
                    let names = e
                        .typed_args()
                        .zip(&self.arg_items)
                        .map(|(a, &(iid, _))| TypedName::new(a.name.0, a.name.1, iid))
                        .collect();
                    learned = Learned::TypedNames {
                        callsite: e.id,
                        names,
                    };
                }
            }
            Ty::End => {
                if let (Some(l), Some(uuid)) = (e.lane, track_uuid)
                    && plain
                {
                    learned = Learned::Lane {
                        callsite: None,
                        lane: u64::from(l.track) << 32 | u64::from(l.lane),
                        template: LaneTemplate::end(seq.slot.sequence, uuid),
                    };
                }
                // A slice's end carries the function's return value (`ret`) or
                // typed args; trace_processor merges them into the slice's args.
                for range in values {
                    let aiid = intern_arg_name(seq, &mut self.interned, RETURN_ARG);
                    self.arg_items.push((aiid, ArgVal::Text(range)));
                }
            }
            Ty::Counter => {
                let uuid = self.counter_uuid(e.id)?;
                if let Some(counter) = self.registry.get::<Counter>(e.id) {
                    category = self.category_named(seq, counter.category);
                }
                learned = Learned::CounterTrack {
                    counter: e.id,
                    uuid,
                };
                track_uuid = Some(uuid);
            }
        }
        let kind = match h.ty {
            Ty::Begin => EventType::SliceBegin,
            Ty::End => EventType::SliceEnd,
            Ty::Instant => EventType::Instant,
            Ty::Counter => EventType::Counter,
        };
        let counter_value = e.sample.map(|s| match s {
            Sample::Int(v) => CounterValue::Int(v),
            Sample::Float(v) => CounterValue::Double(v),
        });
        let items = std::mem::take(&mut self.arg_items);
        let text = std::mem::take(&mut self.arg_text);
        let interned = std::mem::take(&mut self.interned);
        let event = TrackEvent {
            debug_annotations: RecordedArgs {
                items: &items,
                text: &text,
            },
            kind: Some(kind),
            name,
            track_uuid,
            counter_value,
            source_location_iid: location,
            flow_ids: e.outgoing,
            terminating_flow_ids: e.incoming,
            category_iids: category.as_slice(),
        };
        interned.with_data(|d| self.output.event(seq, e.tick, event, d));
        self.arg_items = items;
        self.arg_text = text;
        self.interned = interned;
        Some(learned)
    }

    /// Appends the string stored as (`len`, `words`) to `self.arg_text` (invalid
    /// UTF-8 replaced); returns its range there.
    fn push_text(&mut self, len: usize, words: &[u64]) -> Range<usize> {
        self.arg_bytes.clear();
        record::string_bytes(len, words, &mut self.arg_bytes);
        let start = self.arg_text.len();
        self.arg_text
            .push_str(&String::from_utf8_lossy(&self.arg_bytes));
        start..self.arg_text.len()
    }

    /// The uuid of lane `lane` of track `id`, describing the track (and lane) first.
    fn track_uuid(&mut self, id: u32, lane: u32) -> Option<u64> {
        if let Some(&uuid) = self.tracks.lanes.get(&(id, lane)) {
            return Some(uuid);
        }
        let track = self.registry.get::<Track>(id)?;
        // Its parent, described first: the lane it extends, or the process for
        // the track itself (see `Track` for the one rule of lanes).
        let parent = match track.lane_parent(lane) {
            Some(p) if p != lane => self.track_uuid(id, p)?,
            _ => self.output.process_uuid,
        };
        let uuid = track.lane_uuid(lane)?;
        if self.tracks.described.insert(uuid) {
            let name = track.lane_name(lane);
            self.output.descriptor(TrackDescriptor {
                uuid,
                parent_uuid: Some(parent),
                name: Some(&name),
                ..Default::default()
            });
        }
        self.tracks.lanes.insert((id, lane), uuid);
        Some(uuid)
    }

    /// The uuid of the counter track of counter `id` (one per name), described first.
    fn counter_uuid(&mut self, id: u32) -> Option<u64> {
        if let Some(&uuid) = self.tracks.counters_by_id.get(&id) {
            return Some(uuid);
        }
        let counter = self.registry.get::<Counter>(id)?;
        let uuid = match self.tracks.counters_by_name.get(counter.name()) {
            Some(&u) => u,
            None => {
                let u = crate::ids::next_track_uuid();
                self.output.descriptor(TrackDescriptor {
                    uuid: u,
                    parent_uuid: Some(self.output.process_uuid),
                    name: Some(counter.name()),
                    counter: Some(CounterDescriptor::default()),
                    ..Default::default()
                });
                self.tracks.counters_by_name.insert(counter.name(), u);
                u
            }
        };
        self.tracks.counters_by_id.insert(id, uuid);
        Some(uuid)
    }
}

/// The executable's name, else the OS's name of the process.
fn process_name() -> String {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .or_else(|| {
            std::fs::read_to_string("/proc/self/comm")
                .ok()
                .map(|s| s.trim().to_owned())
        })
        .unwrap_or_else(|| "process".into())
}
