//! The incremental model builder: feed packets in file order, then `finish()`.
//!
//! The order of steps inside [`Model::push`] follows trace_processor's
//! `ProtoTraceReader::ParsePacket`: clear / loss handling, defaults, interned
//! data, clock snapshots, the `SEQ_NEEDS_INCREMENTAL_STATE` skip, timestamp
//! conversion, and only then the descriptor or event itself.

use std::collections::{BTreeMap, HashMap};

use perfetto_protos::clock_snapshot::ClockSnapshot;
use perfetto_protos::debug_annotation::DebugAnnotation;
use perfetto_protos::debug_annotation::debug_annotation::{Name_field as ArgName, Value};
use perfetto_protos::trace_packet::TracePacket;
use perfetto_protos::trace_packet::trace_packet::Data;
use perfetto_protos::track_descriptor::TrackDescriptor;
use perfetto_protos::track_event::TrackEvent;
use perfetto_protos::track_event::track_event::{
    Counter_value_field, Name_field, Source_location_field, Type,
};
use protobuf::Message;

use crate::clocks::{BOOTTIME, ClockKey, Clocks, SnapshotClock, is_sequence_clock};
use crate::error::OracleError;
use crate::events::{Arg, CounterValue, Event, EventKind, SourceLocation};
use crate::rules::{Rule, Violations};
use crate::sequence::{
    Defaults, Interned, SEQ_INCREMENTAL_STATE_CLEARED, SEQ_NEEDS_INCREMENTAL_STATE, Sequence,
    lookup,
};
use crate::slices::{Ended, Open, TrackStack, build_flows, build_slices};
use crate::trace::{Counts, DecodedTrace, TrackCounts};
use crate::tracks::Track;
use crate::wire::WireChecker;

/// How much the model keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelOptions {
    /// Keep every event (needed for `events`, `slices()` and `flows()`).
    /// When false ("counting mode"), only per-track counts and open-slice
    /// stacks are kept, so memory stays flat for traces with millions of
    /// events; slices are then matched in file order per track (exact when
    /// [`TrackCounts::out_of_order`] is 0) and flows are not computed.
    pub keep_events: bool,
}

impl Default for ModelOptions {
    fn default() -> Self {
        ModelOptions { keep_events: true }
    }
}

/// What a streaming consumer sees while a [`Model`] reads a trace (see
/// [`Model::observe`]).
#[derive(Debug, Clone, Copy)]
pub enum Observed<'a> {
    /// An event trace_processor would import, in file order (both modes).
    Event(&'a Event),
    /// Counting mode only: a slice closed by a SLICE_END, matched in file
    /// order on its track (exact when the track's timestamps never go back).
    SliceClosed {
        /// Track uuid.
        track: u64,
        /// Name of the begin event.
        name: Option<&'a str>,
        /// Timestamp of the begin event (BOOTTIME ns).
        begin_ts: u64,
        /// Timestamp of the end event (BOOTTIME ns).
        end_ts: u64,
    },
}

/// A callback that sees every [`Observed`] item.
type Observer = Box<dyn FnMut(Observed<'_>)>;

/// Builds a [`DecodedTrace`] packet by packet.
pub struct Model {
    opts: ModelOptions,
    observer: Option<Observer>,
    packets: usize,
    wire: WireChecker,
    sequences: HashMap<u32, Sequence>,
    /// Clock domains per machine (`TracePacket.machine_id`, 0 for the host):
    /// like trace_processor, each machine has its own REALTIME, MONOTONIC, ...,
    /// and its BOOTTIME is taken as the trace's (zero offset; `tg4p merge`
    /// aligns machines by rewriting their BOOTTIME readings).
    clocks: HashMap<u32, Clocks>,
    tracks: BTreeMap<u64, Track>,
    /// First descriptor of each track, to compare re-emissions against.
    descriptors: HashMap<u64, TrackDescriptor>,
    events: Vec<Event>,
    violations: Violations,
    dropped_markers: usize,
    counts: BTreeMap<u64, TrackCounts>,
    /// Counting mode only: slices matched in file order.
    stacks: HashMap<u64, TrackStack<()>>,
    truncated_at: Option<u64>,
}

/// What an event parse needs to report (keeps borrows of the model disjoint).
struct Ctx<'a> {
    violations: &'a mut Violations,
    packet_index: usize,
    /// Set when the packet references an interned id.
    used_iid: bool,
}

impl Ctx<'_> {
    fn report(&mut self, rule: Rule, detail: String) {
        self.violations.add(rule, self.packet_index, detail);
    }
}

impl Model {
    /// An empty model.
    pub fn new(opts: ModelOptions) -> Self {
        Model {
            opts,
            observer: None,
            packets: 0,
            wire: WireChecker::default(),
            sequences: HashMap::new(),
            clocks: HashMap::new(),
            tracks: BTreeMap::new(),
            descriptors: HashMap::new(),
            events: Vec::new(),
            violations: Violations::default(),
            dropped_markers: 0,
            counts: BTreeMap::new(),
            stacks: HashMap::new(),
            truncated_at: None,
        }
    }

    /// Calls `observer` with every imported event and, in counting mode, every
    /// slice as it closes: statistics over a huge trace without keeping its
    /// events. Replaces an earlier observer.
    ///
    /// ```
    /// use std::{cell::Cell, rc::Rc};
    /// use tg4p_oracle::{Model, ModelOptions, Observed};
    /// let events = Rc::new(Cell::new(0));
    /// let seen = events.clone();
    /// let mut model = Model::new(ModelOptions { keep_events: false });
    /// model.observe(move |o| {
    ///     if let Observed::Event(_) = o {
    ///         seen.set(seen.get() + 1);
    ///     }
    /// });
    /// let trace = model.finish();
    /// assert_eq!((trace.packets, events.get()), (0, 0));
    /// ```
    pub fn observe(&mut self, observer: impl FnMut(Observed<'_>) + 'static) {
        self.observer = Some(Box::new(observer));
    }

    /// Number of packets pushed so far.
    pub fn packets(&self) -> usize {
        self.packets
    }

    /// Adds one parsed packet. Wire-level checks then run on its
    /// re-serialization, which still shows unknown fields and wrong wire
    /// types but no longer packed or duplicated fields: prefer
    /// [`Model::push_raw`] when the bytes are at hand.
    pub fn push(&mut self, pkt: &TracePacket) {
        let bytes = pkt.write_to_bytes().unwrap_or_default();
        self.push_parsed(pkt, &bytes);
    }

    /// Adds one packet from its serialized bytes (with every wire-level
    /// check). A packet that does not parse is a [`Rule::CorruptPacket`].
    pub fn push_raw(&mut self, bytes: &[u8]) {
        match TracePacket::parse_from_bytes(bytes) {
            Ok(pkt) => self.push_parsed(&pkt, bytes),
            Err(e) => {
                let index = self.packets;
                self.packets += 1;
                self.violations.add(
                    Rule::CorruptPacket,
                    index,
                    format!("packet does not parse: {e}"),
                );
            }
        }
    }

    /// Records an error from a [`crate::PacketReader`] as a violation
    /// (truncation, stray top-level field, broken framing). I/O errors are
    /// returned as they are.
    pub fn record_error(&mut self, err: OracleError) -> Result<(), OracleError> {
        let index = self.packets;
        match err {
            OracleError::Io(_) => return Err(err),
            OracleError::Truncated { offset } => {
                self.truncated_at = Some(offset);
                self.violations.add(Rule::Truncated, index, err.to_string());
            }
            OracleError::UnexpectedField { .. } => {
                self.violations
                    .add(Rule::TopLevelField, index, err.to_string())
            }
            OracleError::Decode { .. } => {
                self.violations
                    .add(Rule::CorruptPacket, index, err.to_string())
            }
        }
        Ok(())
    }

    fn push_parsed(&mut self, pkt: &TracePacket, bytes: &[u8]) {
        let index = self.packets;
        self.packets += 1;
        let violations = &mut self.violations;
        self.wire.check_packet(bytes, &mut |rule, detail| {
            violations.add(rule, index, detail)
        });
        let mut ctx = Ctx {
            violations: &mut self.violations,
            packet_index: index,
            used_iid: false,
        };

        // A sequence id of 0 is no sequence id (trace_processor checks `!seq_id`).
        let seq = pkt
            .has_trusted_packet_sequence_id()
            .then(|| pkt.trusted_packet_sequence_id())
            .filter(|&s| s != 0);
        let flags = pkt.sequence_flags();
        let machine = pkt.machine_id();
        let dropped = pkt.previous_packet_dropped();
        if dropped {
            self.dropped_markers += 1;
        }
        let cleared = pkt.incremental_state_cleared() || flags & SEQ_INCREMENTAL_STATE_CLEARED != 0;
        if cleared || dropped {
            match seq {
                None => ctx.report(
                    Rule::MissingSequenceId,
                    "incremental_state_cleared / previous_packet_dropped without \
                     trusted_packet_sequence_id"
                        .into(),
                ),
                Some(s) if cleared => self.sequences.entry(s).or_default().clear(),
                // Packet loss: interned data is kept but no longer trusted.
                Some(s) => self.sequences.entry(s).or_default().valid = false,
            }
        }

        if let Some(d) = pkt.trace_packet_defaults.as_ref() {
            match seq {
                None => ctx.report(
                    Rule::MissingSequenceId,
                    "trace_packet_defaults without trusted_packet_sequence_id".into(),
                ),
                Some(s) => {
                    let ted = d.track_event_defaults.as_ref();
                    if ted.is_some_and(|t| {
                        !t.extra_counter_track_uuids.is_empty()
                            || !t.extra_double_counter_track_uuids.is_empty()
                    }) {
                        ctx.report(
                            Rule::UnsupportedField,
                            "TrackEventDefaults.extra_*counter_track_uuids".into(),
                        );
                    }
                    self.sequences.entry(s).or_default().defaults = Some(Defaults {
                        clock_id: d.timestamp_clock_id,
                        track_uuid: ted.and_then(|t| t.track_uuid),
                    });
                }
            }
        }

        if let Some(data) = pkt.interned_data.as_ref() {
            match seq {
                None => ctx.report(
                    Rule::MissingSequenceId,
                    "interned_data without trusted_packet_sequence_id".into(),
                ),
                Some(s) => {
                    let sequence = self.sequences.entry(s).or_default();
                    if !sequence.valid {
                        ctx.report(
                            Rule::InvalidIncrementalState,
                            format!(
                                "interned data on sequence {s} is ignored: its incremental state \
                                 was never cleared or was lost"
                            ),
                        );
                    } else {
                        if flags & (SEQ_NEEDS_INCREMENTAL_STATE | SEQ_INCREMENTAL_STATE_CLEARED)
                            == 0
                        {
                            ctx.report(
                                Rule::MissingNeedsIncrementalState,
                                "packet defines interned data without SEQ_NEEDS_INCREMENTAL_STATE"
                                    .into(),
                            );
                        }
                        sequence.intern(data, &mut |rule, detail| ctx.report(rule, detail));
                    }
                }
            }
        }

        if let Some(Data::ClockSnapshot(cs)) = &pkt.data {
            add_clock_snapshot(self.clocks.entry(machine).or_default(), cs, seq, &mut ctx);
            return; // trace_processor handles nothing else of such a packet
        }

        if flags & SEQ_NEEDS_INCREMENTAL_STATE != 0 {
            match seq {
                None => {
                    ctx.report(
                        Rule::MissingSequenceId,
                        "SEQ_NEEDS_INCREMENTAL_STATE without trusted_packet_sequence_id".into(),
                    );
                    return;
                }
                Some(s) if !self.sequences.get(&s).is_some_and(|q| q.valid) => {
                    ctx.report(
                        Rule::InvalidIncrementalState,
                        format!(
                            "packet needs incremental state but sequence {s} was never cleared \
                             (or lost packets since): trace_processor skips it"
                        ),
                    );
                    return;
                }
                Some(_) => {}
            }
        }

        let sequence = seq.and_then(|s| self.sequences.get(&s));
        let defaults = sequence.and_then(|q| q.defaults);
        let ts = match pkt.timestamp {
            None => None,
            Some(raw) => {
                let explicit = pkt.timestamp_clock_id();
                let clock = match explicit {
                    0 => defaults.and_then(|d| d.clock_id).filter(|&c| c != 0),
                    c => Some(c),
                }
                .unwrap_or(BOOTTIME);
                let clocks = self.clocks.entry(machine).or_default();
                match resolve_timestamp(clocks, clock, seq, flags, raw, &mut ctx) {
                    Some(ts) => Some(ts),
                    None => return, // trace_processor drops the whole packet
                }
            }
        };

        match &pkt.data {
            Some(Data::TrackDescriptor(td)) => {
                add_descriptor(&mut self.tracks, &mut self.descriptors, td, &mut ctx)
            }
            Some(Data::TrackEvent(te)) => {
                let Some(s) = seq else {
                    ctx.report(
                        Rule::MissingSequenceId,
                        "TrackEvent packet without trusted_packet_sequence_id".into(),
                    );
                    return;
                };
                let empty = Interned::default();
                let interned = sequence.map_or(&empty, |q| &q.interned);
                let Some(event) =
                    parse_event(te, s, ts, defaults, interned, &self.tracks, &mut ctx)
                else {
                    return;
                };
                if ctx.used_iid
                    && flags & (SEQ_NEEDS_INCREMENTAL_STATE | SEQ_INCREMENTAL_STATE_CLEARED) == 0
                {
                    ctx.report(
                        Rule::MissingNeedsIncrementalState,
                        "TrackEvent uses interned ids without SEQ_NEEDS_INCREMENTAL_STATE".into(),
                    );
                }
                self.add_event(event);
            }
            _ => {}
        }
    }

    fn add_event(&mut self, event: Event) {
        let index = event.packet_index;
        if event.track == 0 {
            self.violations.add(
                Rule::NoTrack,
                index,
                format!(
                    "event {:?} has no track_uuid and its sequence no default track",
                    event.name
                ),
            );
        }
        let c = self
            .counts
            .entry(event.track)
            .or_insert_with(|| TrackCounts {
                first_packet: index,
                ..TrackCounts::default()
            });
        match event.kind {
            EventKind::SliceBegin => c.begins += 1,
            EventKind::SliceEnd => c.ends += 1,
            EventKind::Instant => c.instants += 1,
            EventKind::Counter(_) => c.counters += 1,
        }
        if c.last_ts.is_some_and(|last| event.ts < last) {
            c.out_of_order += 1;
        }
        c.first_ts = Some(c.first_ts.map_or(event.ts, |f| f.min(event.ts)));
        c.last_ts = Some(c.last_ts.map_or(event.ts, |l| l.max(event.ts)));
        if let Some(observer) = self.observer.as_mut() {
            observer(Observed::Event(&event));
        }

        if self.opts.keep_events {
            self.events.push(event);
            return;
        }
        // Counting mode: match slices now, in file order.
        let violations = &mut self.violations;
        let mut report = |rule, packet, detail| violations.add(rule, packet, detail);
        let stack = self.stacks.entry(event.track).or_default();
        match event.kind {
            EventKind::SliceBegin => {
                let category = event.categories.join(",");
                let open = Open {
                    ts: event.ts,
                    name: event.name,
                    category,
                    packet_index: index,
                    payload: (),
                };
                stack.begin(open, &mut report);
            }
            EventKind::SliceEnd => {
                let category = event.categories.join(",");
                let ended = stack.end(event.name.as_deref(), &category, index, &mut report);
                if let (Ended::Closed(open), Some(observer)) = (ended, self.observer.as_mut()) {
                    observer(Observed::SliceClosed {
                        track: event.track,
                        name: open.name.as_deref(),
                        begin_ts: open.ts,
                        end_ts: event.ts,
                    });
                }
            }
            _ => {}
        }
    }

    /// Runs the end-of-trace checks and returns the result.
    pub fn finish(mut self) -> DecodedTrace {
        let mut report = |rule, packet, detail: String| self.violations.add(rule, packet, detail);

        for t in self.tracks.values() {
            let Some(parent) = t.parent else { continue };
            if !self.tracks.contains_key(&parent) {
                report(
                    Rule::MissingParent,
                    t.packet_index,
                    format!(
                        "track {} has parent {parent}, which is never described",
                        t.uuid
                    ),
                );
                continue;
            }
            // Walk up; coming back to `t` means a cycle.
            let mut at = parent;
            for _ in 0..self.tracks.len() {
                if at == t.uuid {
                    report(
                        Rule::ParentLoop,
                        t.packet_index,
                        format!("track {} is its own ancestor", t.uuid),
                    );
                    break;
                }
                match self.tracks.get(&at).and_then(|p| p.parent) {
                    Some(p) => at = p,
                    None => break,
                }
            }
        }

        for (&uuid, c) in &self.counts {
            if uuid == 0 {
                continue; // reported per event as NoTrack
            }
            match self.tracks.get(&uuid) {
                None => report(
                    Rule::UnknownTrack,
                    c.first_packet,
                    format!(
                        "{} events on track {uuid}, which no TrackDescriptor describes",
                        c.events()
                    ),
                ),
                Some(t) if t.is_counter() && c.begins + c.ends + c.instants > 0 => report(
                    Rule::EventOnCounterTrack,
                    c.first_packet,
                    format!(
                        "{} slice/instant events on counter track {uuid}",
                        c.begins + c.ends + c.instants
                    ),
                ),
                Some(_) => {}
            }
        }

        let (mut slices, mut flows, mut dangling) = (Vec::new(), Vec::new(), Vec::new());
        if self.opts.keep_events {
            let result = build_slices(&self.events, &mut report);
            for (uuid, (depth, unmatched, open)) in result.stats {
                if let Some(c) = self.counts.get_mut(&uuid) {
                    (c.max_depth, c.unmatched_ends, c.open_at_end) = (depth, unmatched, open);
                }
            }
            (flows, dangling) = build_flows(&self.events, &result.in_slice);
            slices = result.slices;
        } else {
            let mut stacks: Vec<_> = self.stacks.iter().collect();
            stacks.sort_by_key(|(uuid, _)| **uuid);
            for (&uuid, stack) in stacks {
                stack.report_open(uuid, &mut report);
                if let Some(c) = self.counts.get_mut(&uuid) {
                    c.max_depth = stack.max_depth;
                    c.unmatched_ends = stack.unmatched_ends;
                    c.open_at_end = stack.open.len() as u64;
                }
            }
        }

        let mut violations = self.violations.list;
        violations.sort_by_key(|v| v.packet_index);
        DecodedTrace {
            packets: self.packets,
            tracks: self.tracks,
            events: self.events,
            violations,
            violation_totals: self.violations.totals,
            dropped_markers: self.dropped_markers,
            counts: Counts {
                tracks: self.counts,
            },
            truncated_at: self.truncated_at,
            keeps_events: self.opts.keep_events,
            slices,
            flows,
            dangling,
        }
    }
}

/// Registers a ClockSnapshot, or reports why trace_processor rejects it.
fn add_clock_snapshot(clocks: &mut Clocks, cs: &ClockSnapshot, seq: Option<u32>, ctx: &mut Ctx) {
    if let Some(primary) = cs
        .primary_trace_clock
        .filter(|p| p.value() != BOOTTIME as i32)
    {
        ctx.report(
            Rule::InvalidClockSnapshot,
            format!(
                "primary_trace_clock is {}, not BOOTTIME: timestamps would not be BOOTTIME",
                primary.value()
            ),
        );
    }
    let mut list = Vec::with_capacity(cs.clocks.len());
    for c in &cs.clocks {
        let id = c.clock_id();
        if is_sequence_clock(id) && seq.is_none() {
            return ctx.report(
                Rule::InvalidClockSnapshot,
                format!(
                    "sequence-scoped clock {id} in a snapshot without trusted_packet_sequence_id"
                ),
            );
        }
        let unit_ns = match c.unit_multiplier_ns() {
            0 => 1,
            u => match i64::try_from(u) {
                Ok(u) => u,
                Err(_) => {
                    return ctx.report(
                        Rule::InvalidClockSnapshot,
                        format!("clock {id} has an absurd unit_multiplier_ns {u}"),
                    );
                }
            },
        };
        list.push(SnapshotClock {
            key: ClockKey::new(id, seq.unwrap_or(0)),
            timestamp: c.timestamp(),
            unit_ns,
            incremental: c.is_incremental(),
        });
    }
    if let Err(msg) = clocks.add_snapshot(&list) {
        ctx.report(Rule::InvalidClockSnapshot, msg);
    }
}

/// Converts a packet timestamp to BOOTTIME ns; `None` (with a violation) if
/// trace_processor would drop the packet.
fn resolve_timestamp(
    clocks: &mut Clocks,
    clock: u32,
    seq: Option<u32>,
    flags: u32,
    raw: u64,
    ctx: &mut Ctx,
) -> Option<u64> {
    if is_sequence_clock(clock) && seq.is_none() {
        ctx.report(
            Rule::MissingSequenceId,
            format!(
                "timestamp in sequence-scoped clock {clock} without trusted_packet_sequence_id"
            ),
        );
        return None;
    }
    let key = ClockKey::new(clock, seq.unwrap_or(0));
    if clocks.is_incremental(key)
        && flags & (SEQ_NEEDS_INCREMENTAL_STATE | SEQ_INCREMENTAL_STATE_CLEARED) == 0
    {
        ctx.report(
            Rule::MissingNeedsIncrementalState,
            format!("timestamp in incremental {key} without SEQ_NEEDS_INCREMENTAL_STATE"),
        );
    }
    match clocks.convert_to_boottime(key, raw) {
        Err(msg) => {
            ctx.report(Rule::UnresolvableTimestamp, msg);
            None
        }
        Ok(ns) if ns < 0 => {
            ctx.report(
                Rule::NegativeTimestamp,
                format!("timestamp {raw} in {key} resolves to {ns} ns"),
            );
            None
        }
        Ok(ns) => Some(ns as u64),
    }
}

/// Registers a TrackDescriptor.
fn add_descriptor(
    tracks: &mut BTreeMap<u64, Track>,
    descriptors: &mut HashMap<u64, TrackDescriptor>,
    td: &TrackDescriptor,
    ctx: &mut Ctx,
) {
    let track = match Track::from_descriptor(td, ctx.packet_index) {
        Ok(t) => t,
        Err((rule, detail)) => return ctx.report(rule, detail),
    };
    if td
        .counter
        .as_ref()
        .is_some_and(|c| c.is_incremental() || c.unit_multiplier.is_some_and(|m| m != 1))
    {
        ctx.report(
                Rule::UnsupportedField,
                format!(
                    "counter track {}: is_incremental / unit_multiplier (values are modelled as written)",
                    track.uuid
                ),
            );
    }
    if let Some(first) = descriptors.get(&track.uuid) {
        if first != td {
            ctx.report(
                Rule::ConflictingDescriptor,
                format!(
                    "track {} re-described differently (first at packet #{})",
                    track.uuid, tracks[&track.uuid].packet_index
                ),
            );
        }
        return;
    }
    descriptors.insert(track.uuid, td.clone());
    tracks.insert(track.uuid, track);
}

/// Reports TrackEvent fields the oracle does not model.
fn check_unsupported(te: &TrackEvent, ctx: &mut Ctx) {
    let mut bad = Vec::new();
    if te.timestamp.is_some() {
        bad.push("timestamp_delta_us/timestamp_absolute_us");
    }
    if te.thread_time.is_some() {
        bad.push("thread_time_*");
    }
    if te.thread_instruction_count.is_some() {
        bad.push("thread_instruction_count_*");
    }
    if te.legacy_event.is_some() {
        bad.push("legacy_event");
    }
    if !te.extra_counter_values.is_empty()
        || !te.extra_double_counter_values.is_empty()
        || !te.extra_counter_track_uuids.is_empty()
        || !te.extra_double_counter_track_uuids.is_empty()
    {
        bad.push("extra_*counter_*");
    }
    if !te.flow_ids_old.is_empty() || !te.terminating_flow_ids_old.is_empty() {
        bad.push("flow_ids_old/terminating_flow_ids_old (use the fixed64 fields 47/48)");
    }
    for b in bad {
        ctx.report(Rule::UnsupportedField, format!("TrackEvent.{b}"));
    }
}

/// Decodes a TrackEvent; `None` if trace_processor would drop it.
fn parse_event(
    te: &TrackEvent,
    seq: u32,
    ts: Option<u64>,
    defaults: Option<Defaults>,
    interned: &Interned,
    tracks: &BTreeMap<u64, Track>,
    ctx: &mut Ctx,
) -> Option<Event> {
    check_unsupported(te, ctx);
    let Some(ts) = ts else {
        ctx.report(
            Rule::MissingTimestamp,
            "TrackEvent packet without timestamp".into(),
        );
        return None;
    };
    let track = te
        .track_uuid
        .or(defaults.and_then(|d| d.track_uuid))
        .unwrap_or(0);
    let kind = match te.type_.map(|t| t.enum_value()) {
        Some(Ok(Type::TYPE_SLICE_BEGIN)) => EventKind::SliceBegin,
        Some(Ok(Type::TYPE_SLICE_END)) => EventKind::SliceEnd,
        Some(Ok(Type::TYPE_INSTANT)) => EventKind::Instant,
        Some(Ok(Type::TYPE_COUNTER)) => {
            let value = match &te.counter_value_field {
                Some(Counter_value_field::CounterValue(v)) => CounterValue::Int(*v),
                Some(Counter_value_field::DoubleCounterValue(v)) => CounterValue::Double(*v),
                _ => {
                    ctx.report(
                        Rule::CounterWithoutValue,
                        format!("counter event on track {track} without value"),
                    );
                    return None;
                }
            };
            // Checked in file order, like trace_processor's tokenizer.
            if !tracks.get(&track).is_some_and(Track::is_counter) {
                ctx.report(
                    Rule::CounterBeforeDescriptor,
                    format!(
                        "counter sample on track {track}, which is not (yet) described as a \
                         counter track"
                    ),
                );
                return None;
            }
            EventKind::Counter(value)
        }
        other => {
            ctx.report(
                Rule::MissingEventType,
                format!("TrackEvent without known type ({other:?})"),
            );
            return None;
        }
    };

    let name = match &te.name_field {
        Some(Name_field::NameIid(iid)) => {
            ctx.used_iid = true;
            lookup(&interned.event_names, "event_names", *iid, &mut |r, d| {
                ctx.report(r, d)
            })
            .cloned()
        }
        Some(Name_field::Name(n)) => Some(n.clone()),
        _ => None,
    };
    let mut categories = Vec::new();
    for &iid in &te.category_iids {
        ctx.used_iid = true;
        if let Some(c) = lookup(
            &interned.categories,
            "event_categories",
            iid,
            &mut |r, d| ctx.report(r, d),
        ) {
            categories.push(c.clone());
        }
    }
    categories.extend(te.categories.iter().cloned());

    let mut args = Vec::new();
    for da in &te.debug_annotations {
        match arg_name(da, interned, ctx) {
            Some(k) => args.push((k, parse_arg(da, interned, ctx))),
            None => ctx.report(
                Rule::AnnotationWithoutName,
                "debug annotation without name".into(),
            ),
        }
    }

    let source = match &te.source_location_field {
        Some(Source_location_field::SourceLocation(s)) => Some(SourceLocation {
            file: s.file_name().to_string(),
            function: s.function_name().to_string(),
            line: s.line_number(),
        }),
        Some(Source_location_field::SourceLocationIid(iid)) => {
            ctx.used_iid = true;
            lookup(
                &interned.source_locations,
                "source_locations",
                *iid,
                &mut |r, d| ctx.report(r, d),
            )
            .cloned()
        }
        _ => None,
    };

    Some(Event {
        packet_index: ctx.packet_index,
        sequence: seq,
        ts,
        track,
        kind,
        name,
        categories,
        args,
        flows: te.flow_ids.clone(),
        terminating_flows: te.terminating_flow_ids.clone(),
        source,
    })
}

/// Name of a debug annotation or dict entry (`name` or interned `name_iid`).
fn arg_name(da: &DebugAnnotation, interned: &Interned, ctx: &mut Ctx) -> Option<String> {
    match &da.name_field {
        Some(ArgName::Name(n)) => Some(n.clone()),
        Some(ArgName::NameIid(iid)) => {
            ctx.used_iid = true;
            lookup(
                &interned.annotation_names,
                "debug_annotation_names",
                *iid,
                &mut |r, d| ctx.report(r, d),
            )
            .cloned()
        }
        _ => None,
    }
}

/// Value of a debug annotation, with trace_processor's precedence: dict,
/// then array, then scalar.
fn parse_arg(da: &DebugAnnotation, interned: &Interned, ctx: &mut Ctx) -> Arg {
    if !da.dict_entries.is_empty() {
        let mut entries = Vec::with_capacity(da.dict_entries.len());
        for e in &da.dict_entries {
            match arg_name(e, interned, ctx) {
                Some(k) => entries.push((k, parse_arg(e, interned, ctx))),
                None => ctx.report(
                    Rule::AnnotationWithoutName,
                    "debug annotation dict entry without name".into(),
                ),
            }
        }
        return Arg::Dict(entries);
    }
    if !da.array_values.is_empty() {
        return Arg::Array(
            da.array_values
                .iter()
                .map(|v| parse_arg(v, interned, ctx))
                .collect(),
        );
    }
    match &da.value {
        Some(Value::BoolValue(v)) => Arg::Bool(*v),
        Some(Value::UintValue(v)) => Arg::Uint(*v),
        Some(Value::IntValue(v)) => Arg::Int(*v),
        Some(Value::DoubleValue(v)) => Arg::Double(*v),
        Some(Value::StringValue(v)) => Arg::Str(v.clone()),
        Some(Value::StringValueIid(iid)) => {
            ctx.used_iid = true;
            match lookup(
                &interned.string_values,
                "debug_annotation_string_values",
                *iid,
                &mut |r, d| ctx.report(r, d),
            ) {
                Some(s) => Arg::Str(s.clone()),
                None => Arg::Other(format!("unknown string iid {iid}")),
            }
        }
        Some(Value::PointerValue(v)) => Arg::Other(format!("pointer 0x{v:x}")),
        Some(Value::LegacyJsonValue(v)) => Arg::Other(format!("json {v}")),
        Some(Value::NestedValue(_)) => Arg::Other("nested_value".into()),
        Some(_) => Arg::Other("unknown value kind".into()),
        None if da.proto_value.is_some() => Arg::Other("proto_value".into()),
        None => Arg::Other("no value".into()),
    }
}
