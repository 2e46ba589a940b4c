//! The decoded form of TrackEvents: what tests assert on.

/// What a TrackEvent does.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum EventKind {
    /// `TYPE_SLICE_BEGIN`: opens a slice on its track.
    SliceBegin,
    /// `TYPE_SLICE_END`: closes the most recent open slice on its track.
    SliceEnd,
    /// `TYPE_INSTANT`: a zero-duration slice.
    Instant,
    /// `TYPE_COUNTER`: a counter sample.
    Counter(CounterValue),
}

/// The value of a counter sample, as written (no incremental or unit conversion).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CounterValue {
    /// `counter_value`.
    Int(i64),
    /// `double_counter_value`.
    Double(f64),
}

impl CounterValue {
    /// The value as a float, the way trace_processor stores it.
    pub fn as_f64(&self) -> f64 {
        match *self {
            CounterValue::Int(v) => v as f64,
            CounterValue::Double(v) => v,
        }
    }
}

/// A source location, interned (`source_location_iid`) or inline.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct SourceLocation {
    /// `file_name` (empty if absent).
    pub file: String,
    /// `function_name` (empty if absent).
    pub function: String,
    /// `line_number` (0 if absent).
    pub line: u32,
}

/// A debug annotation value. Names are kept as written (trace_processor
/// would additionally replace `.`, `[` and `]` with `_` in its args table).
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    /// `bool_value`.
    Bool(bool),
    /// `int_value`.
    Int(i64),
    /// `uint_value`.
    Uint(u64),
    /// `double_value`.
    Double(f64),
    /// `string_value` or interned `string_value_iid`.
    Str(String),
    /// `dict_entries`, in order.
    Dict(Vec<(String, Arg)>),
    /// `array_values`, in order.
    Array(Vec<Arg>),
    /// Anything else (pointer, legacy JSON, proto or nested value, or no
    /// value at all), described in words.
    Other(String),
}

impl Arg {
    /// Looks up a key of a [`Arg::Dict`].
    pub fn get(&self, key: &str) -> Option<&Arg> {
        match self {
            Arg::Dict(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }
}

/// One TrackEvent as trace_processor would import it.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Index (0-based, file order) of the packet that carried it.
    pub packet_index: usize,
    /// `trusted_packet_sequence_id` of that packet.
    pub sequence: u32,
    /// Timestamp resolved to BOOTTIME nanoseconds.
    pub ts: u64,
    /// Track uuid, after applying the sequence's default track (0 if none).
    pub track: u64,
    /// Type (and counter value).
    pub kind: EventKind,
    /// Name, interned or inline.
    pub name: Option<String>,
    /// Categories: interned ones first, then inline ones (trace_processor's order).
    pub categories: Vec<String>,
    /// Top-level debug annotations, in order.
    pub args: Vec<(String, Arg)>,
    /// `flow_ids`.
    pub flows: Vec<u64>,
    /// `terminating_flow_ids`.
    pub terminating_flows: Vec<u64>,
    /// Source location.
    pub source: Option<SourceLocation>,
}

impl Event {
    /// Looks up a top-level debug annotation by name.
    pub fn arg(&self, name: &str) -> Option<&Arg> {
        self.args.iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }

    /// Whether this event opens, closes or is a slice (not a counter sample).
    pub fn is_slice_event(&self) -> bool {
        !matches!(self.kind, EventKind::Counter(_))
    }
}
