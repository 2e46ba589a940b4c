//! The rules a trace must follow to import cleanly into trace_processor
//! (see `/work/shared/PERFETTO.md`), and the record of their violations.

use std::collections::BTreeMap;
use std::fmt;

/// One rule of a well-formed trace. Each variant names what trace_processor
/// would count as an import error or silently drop (the matching `stats`
/// entry is given where there is one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Rule {
    // ---- framing and wire format ----
    /// A complete packet is not valid protobuf (`tp-corrupt`).
    CorruptPacket,
    /// The file ends inside a packet; that packet is lost.
    Truncated,
    /// A top-level field other than `Trace.packet` (trace_processor skips it).
    TopLevelField,
    /// A field number the proto does not define (likely a wrong field number
    /// in the encoder).
    UnknownField,
    /// A known field written with the wrong wire type.
    WireType,
    /// A repeated scalar written packed: Perfetto's protos declare none of them
    /// packed, and protozero then reads garbage.
    PackedRepeated,
    /// A singular field (or a second member of a oneof) written twice in one
    /// message: protozero keeps only the last one.
    DuplicateField,

    // ---- sequences and interning ----
    /// A packet that needs a sequence lacks `trusted_packet_sequence_id`
    /// (`track_event_missing_sequence_id`, `interned_data_missing_sequence_id`, ...).
    MissingSequenceId,
    /// Incremental state was not valid (never cleared, or lost): a
    /// `SEQ_NEEDS_INCREMENTAL_STATE` packet or its interned data is skipped
    /// (`packet_skipped_seq_needs_incremental_state_invalid`,
    /// `interned_data_skipped_incremental_state_invalid`).
    InvalidIncrementalState,
    /// A packet defines or uses interned data or an incremental clock without
    /// `SEQ_NEEDS_INCREMENTAL_STATE` (or `SEQ_INCREMENTAL_STATE_CLEARED`).
    MissingNeedsIncrementalState,
    /// An interned entry without iid or with iid 0, or a reference to iid 0.
    InvalidIid,
    /// An iid referenced before it was defined on its sequence (since the last
    /// clear) (`interned_data_tokenizer_errors`).
    UnknownIid,
    /// An iid redefined with a different value in the same incremental-state
    /// generation (forbidden by InternedData).
    InternedRedefined,

    // ---- clocks and timestamps ----
    /// A ClockSnapshot trace_processor rejects (incremental global clock,
    /// changed unit, duplicate clock, BOOTTIME going back, non-ns BOOTTIME,
    /// primary clock other than BOOTTIME, ...).
    InvalidClockSnapshot,
    /// A timestamp whose clock cannot be related to BOOTTIME (`clock_sync_failure*`).
    UnresolvableTimestamp,
    /// A timestamp that resolves to a negative BOOTTIME value (dropped).
    NegativeTimestamp,
    /// A TrackEvent packet without timestamp (`track_event_missing_timestamp`).
    MissingTimestamp,

    // ---- tracks ----
    /// A TrackDescriptor without uuid or with uuid 0.
    InvalidTrackUuid,
    /// A re-emitted TrackDescriptor differs from the first one
    /// (`track_descriptor_conflicting_reservation`).
    ConflictingDescriptor,
    /// A `parent_uuid` that no descriptor in the file describes.
    MissingParent,
    /// Track parents form a cycle (`track_event_track_hierarchy_loop`).
    ParentLoop,
    /// A process track without `process.pid` (`track_descriptor_process_missing_pid`).
    ProcessWithoutPid,
    /// A thread track without `thread.pid` or `thread.tid`
    /// (`track_descriptor_thread_missing_pid_tid`).
    ThreadWithoutPidTid,
    /// Events on a track uuid that no descriptor in the file describes.
    UnknownTrack,
    /// An event with neither `track_uuid` nor a default track: it lands on the
    /// implicit global track (uuid 0), which tg4p never uses.
    NoTrack,

    // ---- events ----
    /// A TrackEvent without (known) type ("TrackEvent without type or phase").
    MissingEventType,
    /// A TYPE_COUNTER event without value (`track_event_counter_missing_value`).
    CounterWithoutValue,
    /// A counter sample whose track was not described as a counter track
    /// earlier in the file (`track_event_counter_invalid_track_uuid`).
    CounterBeforeDescriptor,
    /// A slice or instant event on a counter track.
    EventOnCounterTrack,
    /// A debug annotation or dict entry without name ("Debug annotation without name").
    AnnotationWithoutName,
    /// A field the oracle does not model (legacy timestamps, legacy_event,
    /// extra counters, non-fixed64 flow ids, ...): tg4p must not emit it.
    UnsupportedField,

    // ---- slices ----
    /// A SLICE_END with no open slice on its track.
    UnbalancedEnd,
    /// A slice still open at the end of the trace ("did not end").
    DidNotEnd,
    /// A SLICE_END whose name or category differs from the slice it closes:
    /// trace_processor would then search deeper in the stack.
    EndMismatch,
    /// Slices nested deeper than trace_processor's limit of 512 (`slice_max_depth_exceeded`).
    MaxDepth,
}

impl Rule {
    /// Every rule, in declaration order.
    pub const ALL: [Rule; 35] = [
        Rule::CorruptPacket,
        Rule::Truncated,
        Rule::TopLevelField,
        Rule::UnknownField,
        Rule::WireType,
        Rule::PackedRepeated,
        Rule::DuplicateField,
        Rule::MissingSequenceId,
        Rule::InvalidIncrementalState,
        Rule::MissingNeedsIncrementalState,
        Rule::InvalidIid,
        Rule::UnknownIid,
        Rule::InternedRedefined,
        Rule::InvalidClockSnapshot,
        Rule::UnresolvableTimestamp,
        Rule::NegativeTimestamp,
        Rule::MissingTimestamp,
        Rule::InvalidTrackUuid,
        Rule::ConflictingDescriptor,
        Rule::MissingParent,
        Rule::ParentLoop,
        Rule::ProcessWithoutPid,
        Rule::ThreadWithoutPidTid,
        Rule::UnknownTrack,
        Rule::NoTrack,
        Rule::MissingEventType,
        Rule::CounterWithoutValue,
        Rule::CounterBeforeDescriptor,
        Rule::EventOnCounterTrack,
        Rule::AnnotationWithoutName,
        Rule::UnsupportedField,
        Rule::UnbalancedEnd,
        Rule::DidNotEnd,
        Rule::EndMismatch,
        Rule::MaxDepth,
    ];
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// One broken rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Which rule.
    pub rule: Rule,
    /// Index (0-based, file order) of the packet at fault; for problems found
    /// at the end (e.g. a missing parent) the packet that introduced it.
    pub packet_index: usize,
    /// Human-readable specifics.
    pub detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "[{}] packet #{}: {}",
            self.rule, self.packet_index, self.detail
        )
    }
}

/// How many violations of one rule are kept in full; the rest are only counted
/// (keeps memory flat when a huge trace is broken everywhere).
pub(crate) const KEEP_PER_RULE: usize = 1000;

/// Collects violations, keeping at most [`KEEP_PER_RULE`] of each rule.
#[derive(Debug, Default)]
pub(crate) struct Violations {
    pub list: Vec<Violation>,
    pub totals: BTreeMap<Rule, usize>,
}

impl Violations {
    pub fn add(&mut self, rule: Rule, packet_index: usize, detail: impl Into<String>) {
        let n = self.totals.entry(rule).or_insert(0);
        *n += 1;
        if *n <= KEEP_PER_RULE {
            self.list.push(Violation {
                rule,
                packet_index,
                detail: detail.into(),
            });
        }
    }
}
