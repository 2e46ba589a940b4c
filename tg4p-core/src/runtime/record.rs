//! The record protocol between the recording threads and the writer: every kind of
//! record, its encoding (recording side) and its decoding (writer side), here and
//! nowhere else.
//!
//! A record is one header word and its payload, stored in a [`Chunk`]. The header's
//! low 8 bits are its kind; the rest is kind-specific. Ids are those of
//! `super::registry`.
//! - `BEGIN`: `callsite_id << 8 | BEGIN`, tick. A slice on the thread's track:
//!   [`put_thread_begin`].
//! - `END`: `END`, tick. Ends the thread track's innermost slice: [`put_thread_end`].
//! - `EVENT`: everything else, an [`Event`] (see [`EventHeader`] for its layout).
//! - `DROPPED`: `count << 8 | DROPPED`. `count` events of this thread were dropped
//!   (overflow policy `Drop`) since its previous record: [`put_dropped`].
//! - `ARGS`: a slice begin or an instant on the thread's track with at most
//!   [`ARGS_RECORD_MAX`] typed args named by its callsite (see [`ArgsHead`] for the
//!   header), tick, then each arg's value: one word, or a string's length word and
//!   bytes. What `span!`, `instant!` and `#[trace_args]` write for scalars and short
//!   strings: [`put_callsite_typed`]; the writer's general path reads it as the
//!   `EVENT` it stands for ([`expand_args_record`]).
//!
//! The writer reads a record's head with [`Head::of`], an event with
//! [`DecodedEvent::decode`]. Its fast path (`writer/templates.rs`) recognises the
//! commonest event headers by value: [`PLAIN_BEGIN`], [`PLAIN_INSTANT`],
//! [`TYPED_BEGIN`], [`TYPED_INSTANT`], [`PLAIN_END`], [`INT_SAMPLE`], [`FLOAT_SAMPLE`].
//!
//! A new kind of event (a typed value, a category, ...) is a field or a [`Ty`]
//! here, with its handling in the writer.

use super::args::ArgText;
use super::buffer::Chunk;

// The kinds of record, in a header's low 8 bits. (Crate-visible for the writer's
// tests, which build records by hand.)
pub(crate) const BEGIN: u64 = 1;
pub(crate) const END: u64 = 2;
const EVENT: u64 = 3;
pub(crate) const DROPPED: u64 = 4;
const ARGS: u64 = 5;

/// Most args an `ARGS` record holds: their tags fill its header.
pub(crate) const ARGS_RECORD_MAX: usize = 5;

/// Words of a thread-track `BEGIN` or `END` record.
pub(crate) const THREAD_SLICE_WORDS: usize = 2;

/// What an [`Event`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ty {
    Begin = 0,
    End = 1,
    Instant = 2,
    Counter = 3,
}

/// A counter sample's value.
#[derive(Clone, Copy, Debug, PartialEq)]
#[doc(hidden)]
pub enum Sample {
    /// An integer sample.
    Int(i64),
    /// A float sample.
    Float(f64),
}

impl Sample {
    /// The sample as a record word, and whether it is a float.
    fn word(self) -> (u64, bool) {
        match self {
            Sample::Int(v) => (v as u64, false),
            Sample::Float(v) => (v.to_bits(), true),
        }
    }
}

/// The value of a typed arg: kept as its Perfetto type (`int_value`, `uint_value`,
/// `double_value`, `bool_value`, `string_value`), not as `Debug` text.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ArgValue<'a> {
    /// `int_value`.
    Int(i64),
    /// `uint_value`.
    Uint(u64),
    /// `double_value`.
    Double(f64),
    /// `bool_value`.
    Bool(bool),
    /// `string_value` (bounded by the caller).
    Str(&'a str),
    /// A nested dict or array: its bytes as `values::encode_tree` writes them
    /// (bounded by the caller), stored as a string's.
    Tree(&'a [u8]),
}

/// A typed arg: a name (any string: the writer interns it once per sequence) and
/// its value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TypedArg<'a> {
    /// The arg's name.
    pub name: &'a str,
    /// Its value.
    pub value: ArgValue<'a>,
}

impl ArgValue<'_> {
    /// The value's type tag in a record, and its word (unused for strings).
    fn tag_and_word(self) -> (u64, u64) {
        match self {
            ArgValue::Int(v) => (0, v as u64),
            ArgValue::Uint(v) => (1, v),
            ArgValue::Double(v) => (2, v.to_bits()),
            ArgValue::Bool(v) => (3, v as u64),
            ArgValue::Str(_) => (4, 0),
            ArgValue::Tree(_) => (5, 0),
        }
    }
}

/// Words of typed arg `a` in a record: a head word (`name_len << 8 | tag`), the
/// name's bytes, then the value's word, or a string's length word and bytes.
fn typed_arg_words(a: &TypedArg<'_>) -> usize {
    1 + a.name.len().div_ceil(8)
        + match a.value {
            ArgValue::Str(s) => string_words(s.len()),
            ArgValue::Tree(b) => string_words(b.len()),
            _ => 1,
        }
}

/// What an event may carry beyond its callsite (its name, source location and
/// category): a name given at run time, typed args, and flows (raw [`FlowId`]s)
/// leaving it and ending at it.
///
/// [`FlowId`]: crate::FlowId
#[derive(Clone, Copy, Debug, Default)]
pub struct Details<'a> {
    /// The event's name instead of its callsite's (begins and instants).
    pub name: Option<&'a str>,
    /// Typed args (at most 255 are kept).
    pub args: &'a [TypedArg<'a>],
    /// Flows leaving the event ([`FlowId::raw`](crate::FlowId::raw) ids).
    pub outgoing: &'a [u64],
    /// Flows ending at the event.
    pub incoming: &'a [u64],
}

impl<'a> Details<'a> {
    /// Typed `args`, named after the callsite, without flows.
    pub const fn args(args: &'a [TypedArg<'a>]) -> Details<'a> {
        Details {
            name: None,
            args,
            outgoing: &[],
            incoming: &[],
        }
    }

    /// The same, named `name` (`None`: after the callsite).
    pub const fn named(self, name: Option<&'a str>) -> Details<'a> {
        Details { name, ..self }
    }

    /// The same, with flows leaving it and ending at it.
    pub const fn flows(self, outgoing: &'a [u64], incoming: &'a [u64]) -> Details<'a> {
        Details {
            outgoing,
            incoming,
            ..self
        }
    }
}

/// A lane of a custom track, as records name it: the track's registry id and the
/// lane's index (0 is the track itself).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct LaneRef {
    pub(crate) track: u32,
    pub(crate) lane: u32,
}

/// The string args an event carries.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Args<'a> {
    None,
    /// `Debug` texts of values (a begin's or instant's args, an end's return value).
    Text(&'a ArgText),
    /// A slice end whose return value did not fit in memory: the writer records a
    /// marker arg, with no words of its own.
    ValueDropped,
    /// Typed values with their names.
    Typed(&'a [TypedArg<'a>]),
}

/// An `EVENT` record as the recording side describes it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Event<'a> {
    pub(crate) ty: Ty,
    /// Callsite id (begins, instants) or counter id (samples); unused by ends.
    id: u32,
    sample: Sample,
    /// The custom track's lane it is on; `None`: the thread's track (or, for a
    /// sample, its counter's track).
    pub(crate) lane: Option<LaneRef>,
    /// Its tick, when already read (under a lane's lock); else read when written.
    pub(crate) tick: Option<u64>,
    outgoing: &'a [u64],
    incoming: &'a [u64],
    pub(crate) args: Args<'a>,
    /// A name given at run time (a begin's or instant's), instead of its callsite's.
    name: Option<&'a str>,
}

impl<'a> Event<'a> {
    const fn new(ty: Ty, id: u32) -> Event<'a> {
        Event {
            ty,
            id,
            sample: Sample::Int(0),
            lane: None,
            tick: None,
            outgoing: &[],
            incoming: &[],
            args: Args::None,
            name: None,
        }
    }

    /// A slice begin of callsite `callsite`.
    pub(crate) const fn begin(callsite: u32) -> Event<'a> {
        Event::new(Ty::Begin, callsite)
    }

    /// A slice end.
    pub(crate) const fn end() -> Event<'a> {
        Event::new(Ty::End, 0)
    }

    /// An instant of callsite `callsite`.
    pub(crate) const fn instant(callsite: u32) -> Event<'a> {
        Event::new(Ty::Instant, callsite)
    }

    /// A sample of counter `counter`.
    pub(crate) const fn sample(counter: u32, sample: Sample) -> Event<'a> {
        Event {
            sample,
            ..Event::new(Ty::Counter, counter)
        }
    }

    /// On lane `lane` of a custom track.
    pub(crate) fn on(self, lane: LaneRef) -> Event<'a> {
        Event {
            lane: Some(lane),
            ..self
        }
    }

    /// At `tick`, read under the lane's lock.
    pub(crate) fn at(self, tick: u64) -> Event<'a> {
        Event {
            tick: Some(tick),
            ..self
        }
    }

    /// With flows leaving it (`outgoing`) and ending at it (`incoming`), each at
    /// most `u16::MAX` long.
    pub(crate) fn flows(self, outgoing: &'a [u64], incoming: &'a [u64]) -> Event<'a> {
        Event {
            outgoing: &outgoing[..outgoing.len().min(u16::MAX as usize)],
            incoming: &incoming[..incoming.len().min(u16::MAX as usize)],
            ..self
        }
    }

    /// With the texts of `args` (none if `None`).
    pub(crate) fn args(self, args: Option<&'a ArgText>) -> Event<'a> {
        Event {
            args: args.map_or(Args::None, Args::Text),
            ..self
        }
    }

    /// With typed `args` (none if empty).
    pub(crate) fn typed(self, args: &'a [TypedArg<'a>]) -> Event<'a> {
        Event {
            args: if args.is_empty() {
                Args::None
            } else {
                Args::Typed(&args[..args.len().min(u8::MAX as usize)])
            },
            ..self
        }
    }

    /// Named `name` (a begin's or instant's), instead of after its callsite.
    pub(crate) fn named(self, name: Option<&'a str>) -> Event<'a> {
        Event { name, ..self }
    }

    /// With what `details` carries.
    pub(crate) fn with(self, details: &Details<'a>) -> Event<'a> {
        self.named(details.name)
            .typed(details.args)
            .flows(details.outgoing, details.incoming)
    }

    /// The same event without its args (marked as dropped if it had any): what an
    /// end keeps when memory runs out.
    pub(crate) fn without_args(self) -> Event<'a> {
        let args = match self.args {
            Args::None => Args::None,
            _ => Args::ValueDropped,
        };
        Event { args, ..self }
    }

    /// The same event without its flows either.
    pub(crate) fn bare(self) -> Event<'a> {
        Event {
            outgoing: &[],
            incoming: &[],
            ..self.without_args()
        }
    }

    /// Whether it goes on the thread's own track (and so nests there).
    pub(crate) fn on_thread_track(&self) -> bool {
        self.lane.is_none() && self.ty != Ty::Counter
    }

    /// The events it stands for when dropped: a begin drops its whole slice.
    pub(crate) fn events(&self) -> u64 {
        if self.ty == Ty::Begin { 2 } else { 1 }
    }

    fn header(&self) -> EventHeader {
        EventHeader {
            ty: self.ty,
            has_track: self.lane.is_some(),
            float: self.sample.word().1,
            value_dropped: matches!(self.args, Args::ValueDropped),
            typed: matches!(self.args, Args::Typed(_)),
            named: self.name.is_some(),
            callsite_names: false,
            args: match self.args {
                Args::Text(t) => t.ends.len() as u8,
                Args::Typed(a) => a.len() as u8,
                _ => 0,
            },
            outgoing: self.outgoing.len() as u16,
            incoming: self.incoming.len() as u16,
        }
    }

    /// Words of the record.
    pub(crate) fn words(&self) -> usize {
        let args = match self.args {
            Args::Text(t) => t.values().map(|v| string_words(v.len())).sum(),
            Args::Typed(a) => a.iter().map(typed_arg_words).sum(),
            _ => 0,
        };
        let name = self.name.map_or(0, |n| string_words(n.len()));
        self.header().fixed_words() + name + args
    }

    /// Stores the record at word `pos` of `chunk` (not published), at `tick`
    /// unless it has its own; returns the index after it.
    pub(crate) fn put(&self, chunk: &Chunk, mut pos: usize, tick: u64) -> usize {
        let mut put = |w: u64| {
            chunk.put(pos, w);
            pos += 1;
        };
        put(self.header().encode());
        put(self.tick.unwrap_or(tick));
        if self.ty != Ty::End {
            put(u64::from(self.id));
        }
        if let Some(l) = self.lane {
            put(u64::from(l.track) << 32 | u64::from(l.lane));
        }
        if self.ty == Ty::Counter {
            put(self.sample.word().0);
        }
        self.outgoing
            .iter()
            .chain(self.incoming)
            .for_each(|&f| put(f));
        if let Some(name) = self.name {
            pos = put_str(chunk, pos, name.as_bytes());
        }
        match self.args {
            Args::Text(text) => {
                for v in text.values() {
                    pos = put_str(chunk, pos, v.as_bytes());
                }
            }
            Args::Typed(args) => {
                for a in args {
                    let (tag, word) = a.value.tag_and_word();
                    chunk.put(pos, (a.name.len() as u64) << 8 | tag);
                    pos = put_bytes(chunk, pos + 1, a.name.as_bytes());
                    match a.value {
                        ArgValue::Str(v) => pos = put_str(chunk, pos, v.as_bytes()),
                        ArgValue::Tree(v) => pos = put_str(chunk, pos, v),
                        _ => {
                            chunk.put(pos, word);
                            pos += 1;
                        }
                    }
                }
            }
            Args::None | Args::ValueDropped => {}
        }
        pos
    }
}

/// Stores a slice begin of `callsite` on the thread's track at word `pos` (not
/// published); returns the index after it.
#[inline(always)]
pub(crate) fn put_thread_begin(chunk: &Chunk, pos: usize, callsite: u32, tick: u64) -> usize {
    chunk.put(pos, u64::from(callsite) << 8 | BEGIN);
    chunk.put(pos + 1, tick);
    pos + THREAD_SLICE_WORDS
}

/// Stores the end of the thread track's innermost slice at word `pos` (not
/// published); returns the index after it.
#[inline(always)]
pub(crate) fn put_thread_end(chunk: &Chunk, pos: usize, tick: u64) -> usize {
    chunk.put(pos, END);
    chunk.put(pos + 1, tick);
    pos + THREAD_SLICE_WORDS
}

/// Words of a plain slice begin, and of a plain slice end, on a custom track's
/// lane ([`LANE_BEGIN`], [`LANE_END`]).
pub(crate) const LANE_BEGIN_WORDS: usize = 4;
pub(crate) const LANE_END_WORDS: usize = 3;

/// Stores a plain slice begin of `callsite` on `lane` at word `pos` (not
/// published), as [`Event::put`] stores `Event::begin(callsite).on(lane)`;
/// returns the index after it.
#[inline(always)]
pub(crate) fn put_lane_begin(
    chunk: &Chunk,
    pos: usize,
    callsite: u32,
    lane: LaneRef,
    tick: u64,
) -> usize {
    chunk.put(pos, LANE_BEGIN);
    chunk.put(pos + 1, tick);
    chunk.put(pos + 2, u64::from(callsite));
    chunk.put(pos + 3, u64::from(lane.track) << 32 | u64::from(lane.lane));
    pos + LANE_BEGIN_WORDS
}

/// Stores a plain slice end on `lane` at word `pos` (not published), as
/// `Event::end().on(lane)`; returns the index after it.
#[inline(always)]
pub(crate) fn put_lane_end(chunk: &Chunk, pos: usize, lane: LaneRef, tick: u64) -> usize {
    chunk.put(pos, LANE_END);
    chunk.put(pos + 1, tick);
    chunk.put(pos + 2, u64::from(lane.track) << 32 | u64::from(lane.lane));
    pos + LANE_END_WORDS
}

/// Words of the `ARGS` record at word `i` of `chunk`, if it ends by `end`.
pub(crate) fn args_record_len(chunk: &Chunk, i: usize, end: usize) -> Option<usize> {
    let h = ArgsHead::of(chunk.word(i));
    let mut at = i + 2;
    for k in 0..h.count {
        at += match h.tag(k) {
            0..=3 => 1,
            4 | 5 if at < end => string_words(chunk.word(at) as usize),
            _ => return None,
        };
    }
    (at <= end).then_some(at - i)
}

/// Appends to `out` the `EVENT` record (with [`EventHeader::callsite_names`]) that
/// the whole `ARGS` record `words` stands for: what the writer's general path reads.
pub(crate) fn expand_args_record(words: &[u64], out: &mut Vec<u64>) {
    let Some((&head, rest)) = words.split_first() else {
        return;
    };
    let h = ArgsHead::of(head);
    let event = if h.instant {
        CALLSITE_TYPED_INSTANT
    } else {
        CALLSITE_TYPED_BEGIN
    };
    let Some((&tick, mut values)) = rest.split_first() else {
        return;
    };
    out.extend([event | (h.count as u64) << 16, tick, u64::from(h.callsite)]);
    for k in 0..h.count {
        let tag = h.tag(k);
        let n = match (tag, values.first()) {
            (4 | 5, Some(&len)) => string_words(len as usize),
            _ => 1,
        };
        let (value, after) = values.split_at(n.min(values.len()));
        out.push(tag);
        out.extend_from_slice(value);
        values = after;
    }
}

/// Words of the record [`put_callsite_typed`] writes for `args` (an instant's if
/// `instant`).
#[inline(always)]
pub(crate) fn callsite_typed_words(instant: bool, args: &[ArgValue<'_>]) -> usize {
    if args.len() <= ARGS_RECORD_MAX && !(instant && args.is_empty()) {
        return 2 + args
            .iter()
            .map(|a| match a {
                ArgValue::Str(s) => string_words(s.len()),
                ArgValue::Tree(b) => string_words(b.len()),
                _ => 1,
            })
            .sum::<usize>();
    }
    3 + args
        .iter()
        .map(|a| match a {
            ArgValue::Str(s) => 1 + string_words(s.len()),
            ArgValue::Tree(b) => 1 + string_words(b.len()),
            _ => 2,
        })
        .sum::<usize>()
}

/// Stores a slice begin (or, if `instant`, an instant) of `callsite` on the
/// thread's track at `tick`, with typed `args` (at most [`MAX_ARGS`]) named by the
/// callsite, at word `pos` (not published); returns the index after it. An `ARGS`
/// record for at most [`ARGS_RECORD_MAX`] args, else an `EVENT` record with
/// [`EventHeader::callsite_names`] (each arg its head word, the tag, and its
/// value): either way the record holds no names at all.
///
/// [`MAX_ARGS`]: super::args::MAX_ARGS
#[inline(always)]
pub(crate) fn put_callsite_typed(
    chunk: &Chunk,
    mut pos: usize,
    instant: bool,
    callsite: u32,
    tick: u64,
    args: &[ArgValue<'_>],
) -> usize {
    debug_assert!(args.len() <= super::args::MAX_ARGS);
    if args.len() <= ARGS_RECORD_MAX && !(instant && args.is_empty()) {
        let tags = args
            .iter()
            .enumerate()
            .fold(0, |t, (k, a)| t | a.tag_and_word().0 << (12 + 4 * k));
        let head = u64::from(callsite) << 32
            | tags
            | (args.len() as u64) << 9
            | (instant as u64) << 8
            | ARGS;
        chunk.put(pos, head);
        chunk.put(pos + 1, tick);
        pos += 2;
        for a in args {
            pos = match a {
                ArgValue::Str(v) => put_str(chunk, pos, v.as_bytes()),
                ArgValue::Tree(v) => put_str(chunk, pos, v),
                _ => {
                    chunk.put(pos, a.tag_and_word().1);
                    pos + 1
                }
            };
        }
        return pos;
    }
    let head = match (instant, args.is_empty()) {
        // No args: the plain instant the writer copies from its template.
        (true, true) => PLAIN_INSTANT,
        (true, false) => CALLSITE_TYPED_INSTANT | (args.len() as u64) << 16,
        (false, _) => CALLSITE_TYPED_BEGIN | (args.len() as u64) << 16,
    };
    chunk.put(pos, head);
    chunk.put(pos + 1, tick);
    chunk.put(pos + 2, u64::from(callsite));
    pos += 3;
    for a in args {
        let (tag, word) = a.tag_and_word();
        chunk.put(pos, tag);
        pos = match a {
            ArgValue::Str(v) => put_str(chunk, pos + 1, v.as_bytes()),
            ArgValue::Tree(v) => put_str(chunk, pos + 1, v),
            _ => {
                chunk.put(pos + 1, word);
                pos + 2
            }
        };
    }
    pos
}

/// Stores the marker of `count` dropped events at word `pos` (not published);
/// returns the index after it.
pub(crate) fn put_dropped(chunk: &Chunk, pos: usize, count: u64) -> usize {
    chunk.put(pos, count << 8 | DROPPED);
    pos + 1
}

/// Stores `bytes` as a string arg (a byte length word, then the bytes packed
/// little-endian into words) at word `i`; returns the next index.
fn put_str(chunk: &Chunk, i: usize, bytes: &[u8]) -> usize {
    chunk.put(i, bytes.len() as u64);
    put_bytes(chunk, i + 1, bytes)
}

/// Stores `bytes` packed little-endian into words from word `i`; returns the next index.
fn put_bytes(chunk: &Chunk, mut i: usize, bytes: &[u8]) -> usize {
    for piece in bytes.chunks(8) {
        let mut w = [0u8; 8];
        w[..piece.len()].copy_from_slice(piece);
        chunk.put(i, u64::from_le_bytes(w));
        i += 1;
    }
    i
}

/// Words taken by a string of `len` bytes stored as an arg (length word + bytes).
pub(crate) const fn string_words(len: usize) -> usize {
    1 + len.div_ceil(8)
}

/// The header word of an `EVENT` record, and the layout that follows it:
/// tick; `id` (callsite, or counter for counter samples; absent for ends);
/// `track_id << 32 | lane` if `has_track`; the value if a counter sample (i64, or f64
/// bits if `float`); `outgoing` flow ids; `incoming` flow ids; then `args` values,
/// each a byte length word followed by the UTF-8 bytes packed little-endian into words.
/// `value_dropped` marks a slice end whose return value did not fit in memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct EventHeader {
    pub(crate) ty: Ty,
    pub(crate) has_track: bool,
    pub(crate) float: bool,
    pub(crate) value_dropped: bool,
    /// The args are typed ([`TypedArg`]s), not texts.
    pub(crate) typed: bool,
    /// A run-time name (a string) follows the flows.
    pub(crate) named: bool,
    /// The typed args are named by the callsite's arg names, by position
    /// (`"arg"` past their end): each arg's head word has a name length of 0 and
    /// no name words follow it. What [`put_callsite_typed`] writes.
    pub(crate) callsite_names: bool,
    pub(crate) args: u8,
    pub(crate) outgoing: u16,
    pub(crate) incoming: u16,
}

impl EventHeader {
    const fn encode(self) -> u64 {
        EVENT
            | (self.ty as u64) << 8
            | (self.has_track as u64) << 10
            | (self.float as u64) << 11
            | (self.value_dropped as u64) << 12
            | (self.typed as u64) << 13
            | (self.named as u64) << 14
            | (self.callsite_names as u64) << 15
            | (self.args as u64) << 16
            | (self.outgoing as u64) << 24
            | (self.incoming as u64) << 40
    }

    pub(crate) fn decode(word: u64) -> EventHeader {
        EventHeader {
            ty: match (word >> 8) & 3 {
                0 => Ty::Begin,
                1 => Ty::End,
                2 => Ty::Instant,
                _ => Ty::Counter,
            },
            has_track: (word >> 10) & 1 != 0,
            float: (word >> 11) & 1 != 0,
            args: (word >> 16) as u8,
            outgoing: (word >> 24) as u16,
            incoming: (word >> 40) as u16,
            value_dropped: (word >> 12) & 1 != 0,
            typed: (word >> 13) & 1 != 0,
            named: (word >> 14) & 1 != 0,
            callsite_names: (word >> 15) & 1 != 0,
        }
    }

    /// Words of the record without its args.
    fn fixed_words(self) -> usize {
        2 + (self.ty != Ty::End) as usize
            + self.has_track as usize
            + (self.ty == Ty::Counter) as usize
            + self.outgoing as usize
            + self.incoming as usize
    }
}

/// A header with no track, flows, args or flags: the base of the plain ones below.
const PLAIN: EventHeader = EventHeader {
    ty: Ty::Begin,
    has_track: false,
    float: false,
    value_dropped: false,
    typed: false,
    named: false,
    callsite_names: false,
    args: 0,
    outgoing: 0,
    incoming: 0,
};

/// The header of an instant on the thread's own track with no flows and no args:
/// the common `tg4p::instant!("NAME")`.
pub(crate) const PLAIN_INSTANT: u64 = EventHeader {
    ty: Ty::Instant,
    ..PLAIN
}
.encode();
/// The header of a slice begin on the thread's own track with no flows, and with
/// `args` (in [`ARGS_FIELD`]) string args, as `#[trace_args]` writes it.
pub(crate) const PLAIN_BEGIN: u64 = PLAIN.encode();
/// The header of a slice begin on the thread's own track with no flows and no
/// run-time name, with `args` (in [`ARGS_FIELD`]) typed args: `span!("NAME", k = v)`.
pub(crate) const TYPED_BEGIN: u64 = EventHeader {
    typed: true,
    ..PLAIN
}
.encode();
/// As [`TYPED_BEGIN`], an instant: `instant!("NAME", k = v)`.
pub(crate) const TYPED_INSTANT: u64 = EventHeader {
    ty: Ty::Instant,
    typed: true,
    ..PLAIN
}
.encode();
/// As [`TYPED_BEGIN`], its args named by the callsite (no name words): what
/// `span!("NAME", k = v)` and `#[trace_args]` write when every value is a scalar or
/// a short string ([`put_callsite_typed`]).
pub(crate) const CALLSITE_TYPED_BEGIN: u64 = EventHeader {
    typed: true,
    callsite_names: true,
    ..PLAIN
}
.encode();
/// As [`CALLSITE_TYPED_BEGIN`], an instant: `instant!("NAME", k = v)`.
pub(crate) const CALLSITE_TYPED_INSTANT: u64 = EventHeader {
    ty: Ty::Instant,
    typed: true,
    callsite_names: true,
    ..PLAIN
}
.encode();
/// The header of a slice end on the thread's own track with no args or flows, as
/// `span!` with args writes it.
pub(crate) const PLAIN_END: u64 = EventHeader {
    ty: Ty::End,
    ..PLAIN
}
.encode();
/// The headers of a slice begin and of a slice end on a lane of a custom track
/// (its track and lane follow), with no args, flows or run-time name:
/// `span!(TRACK, "NAME")`.
pub(crate) const LANE_BEGIN: u64 = EventHeader {
    has_track: true,
    ..PLAIN
}
.encode();
pub(crate) const LANE_END: u64 = EventHeader {
    ty: Ty::End,
    has_track: true,
    ..PLAIN
}
.encode();
/// The bits of a header word that hold its `args` count.
pub(crate) const ARGS_FIELD: u64 = 0xFF << 16;
/// The headers of counter samples with an integer, and with a float value.
pub(crate) const INT_SAMPLE: u64 = EventHeader {
    ty: Ty::Counter,
    ..PLAIN
}
.encode();
pub(crate) const FLOAT_SAMPLE: u64 = EventHeader {
    ty: Ty::Counter,
    float: true,
    ..PLAIN
}
.encode();

/// What a record's first word says it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Head {
    /// A slice begin of `callsite` on the thread's track; its tick follows.
    ThreadBegin { callsite: u32 },
    /// The end of the thread track's innermost slice; its tick follows.
    ThreadEnd,
    /// An `EVENT` record: [`DecodedEvent::decode`] reads it.
    Event,
    /// `count` events dropped since the previous record.
    Dropped { count: u64 },
    /// An `ARGS` record: a begin or instant with callsite-named typed args.
    Args(ArgsHead),
    /// Not a record boundary.
    Invalid,
}

/// The header word of an `ARGS` record: `callsite << 32 | tags << 12 | count << 9 |
/// instant << 8 | ARGS`, where the tags are 4 bits per arg (arg `k`'s at bit
/// `12 + 4k`: [`ArgValue`]'s tags, 0 to 5) and `count` is at most
/// [`ARGS_RECORD_MAX`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ArgsHead {
    pub(crate) callsite: u32,
    /// An instant (else a slice begin).
    pub(crate) instant: bool,
    pub(crate) count: usize,
    tags: u32,
}

impl ArgsHead {
    #[inline(always)]
    fn of(word: u64) -> ArgsHead {
        ArgsHead {
            callsite: (word >> 32) as u32,
            instant: (word >> 8) & 1 != 0,
            count: ((word >> 9) & 7) as usize,
            tags: (word >> 12) as u32 & 0xf_ffff,
        }
    }

    /// The tag of arg `k`.
    #[inline(always)]
    pub(crate) fn tag(&self, k: usize) -> u64 {
        u64::from(self.tags >> (4 * k) & 0xf)
    }
}

impl Head {
    /// The kind of the record whose first word is `word`.
    #[inline(always)]
    pub(crate) fn of(word: u64) -> Head {
        match word & 0xff {
            BEGIN => Head::ThreadBegin {
                callsite: (word >> 8) as u32,
            },
            END => Head::ThreadEnd,
            EVENT => Head::Event,
            DROPPED => Head::Dropped { count: word >> 8 },
            ARGS => Head::Args(ArgsHead::of(word)),
            _ => Head::Invalid,
        }
    }
}

/// Words of the `EVENT` record at word `i` of `chunk`, if it ends by `end`.
pub(crate) fn event_len(chunk: &Chunk, i: usize, end: usize) -> Option<usize> {
    let h = EventHeader::decode(chunk.word(i));
    let word = |j: usize| (j < end).then(|| chunk.word(j));
    let at = tail_end(h, i + h.fixed_words(), word)?;
    (at <= end).then_some(at - i)
}

/// The index after an event's run-time name and args, which start at word `at`;
/// `word(j)` reads word `j` (`None` past the published end).
fn tail_end(h: EventHeader, mut at: usize, word: impl Fn(usize) -> Option<u64>) -> Option<usize> {
    if h.named {
        at += string_words(word(at)? as usize);
    }
    for _ in 0..h.args {
        let head = word(at)?;
        at += if h.typed {
            let name_words = 1 + ((head >> 8) as usize).div_ceil(8);
            match head & 0xff {
                4 | 5 => name_words + string_words(word(at + name_words)? as usize),
                _ => name_words + 1,
            }
        } else {
            string_words(head as usize)
        };
    }
    Some(at)
}

/// An `EVENT` record as the writer reads it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct DecodedEvent<'w> {
    pub(crate) header: EventHeader,
    pub(crate) tick: u64,
    /// Callsite id (begins, instants) or counter id (samples); 0 for ends.
    pub(crate) id: u32,
    pub(crate) lane: Option<LaneRef>,
    /// The value of a sample.
    pub(crate) sample: Option<Sample>,
    pub(crate) outgoing: &'w [u64],
    pub(crate) incoming: &'w [u64],
    /// The run-time name: its byte length and the words holding its bytes.
    pub(crate) name: Option<(usize, &'w [u64])>,
    /// The words of the args.
    args: &'w [u64],
}

/// A typed arg as the writer reads it: strings as (byte length, words of bytes).
#[derive(Clone, Copy, Debug)]
pub(crate) struct DecodedArg<'w> {
    pub(crate) name: (usize, &'w [u64]),
    pub(crate) value: DecodedValue<'w>,
}

/// The value of a [`DecodedArg`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum DecodedValue<'w> {
    Int(i64),
    Uint(u64),
    Double(f64),
    Bool(bool),
    Str(usize, &'w [u64]),
    /// A nested value's bytes (`values::decode_tree` reads them).
    Tree(usize, &'w [u64]),
}

/// The bytes of a string stored as (byte length, words), appended to `out`.
pub(crate) fn string_bytes(len: usize, words: &[u64], out: &mut Vec<u8>) {
    let start = out.len();
    out.extend(words.iter().flat_map(|w| w.to_le_bytes()));
    out.truncate(start + len);
}

impl<'w> DecodedEvent<'w> {
    /// Reads the `EVENT` record at the start of `words`: the event and the words
    /// it takes, or `None` if it is cut short.
    pub(crate) fn decode(words: &'w [u64]) -> Option<(DecodedEvent<'w>, usize)> {
        let h = EventHeader::decode(*words.first()?);
        if h.fixed_words() > words.len() {
            return None;
        }
        let tick = words[1];
        let mut at = 2;
        let mut next = || {
            at += 1;
            words[at - 1]
        };
        let id = if h.ty != Ty::End { next() as u32 } else { 0 };
        let lane = h.has_track.then(|| {
            let w = next();
            LaneRef {
                track: (w >> 32) as u32,
                lane: w as u32,
            }
        });
        let sample = (h.ty == Ty::Counter).then(|| {
            let w = next();
            if h.float {
                Sample::Float(f64::from_bits(w))
            } else {
                Sample::Int(w as i64)
            }
        });
        let outgoing = &words[at..at + h.outgoing as usize];
        at += h.outgoing as usize;
        let incoming = &words[at..at + h.incoming as usize];
        at += h.incoming as usize;
        let name_start = at;
        let end = tail_end(h, at, |j| words.get(j).copied())?;
        let name = if h.named {
            let len = *words.get(at)? as usize;
            at += string_words(len);
            Some((len, words.get(name_start + 1..at)?))
        } else {
            None
        };
        let args = words.get(at..end)?;
        let event = DecodedEvent {
            header: h,
            tick,
            id,
            lane,
            sample,
            outgoing,
            incoming,
            name,
            args,
        };
        Some((event, end))
    }

    /// The typed args (of an event whose header says `typed`).
    pub(crate) fn typed_args(&self) -> impl Iterator<Item = DecodedArg<'w>> {
        let mut rest = self.args;
        let n = if self.header.typed {
            self.header.args
        } else {
            0
        };
        (0..n).map_while(move |_| {
            let (&head, tail) = rest.split_first()?;
            let name_len = (head >> 8) as usize;
            let (name, tail) = tail.split_at_checked(name_len.div_ceil(8))?;
            let (value, after) = match head & 0xff {
                tag @ (4 | 5) => {
                    let (&len, tail) = tail.split_first()?;
                    let (bytes, after) = tail.split_at_checked((len as usize).div_ceil(8))?;
                    let v = if tag == 4 {
                        DecodedValue::Str(len as usize, bytes)
                    } else {
                        DecodedValue::Tree(len as usize, bytes)
                    };
                    (v, after)
                }
                tag => {
                    let (&w, after) = tail.split_first()?;
                    let v = match tag {
                        0 => DecodedValue::Int(w as i64),
                        1 => DecodedValue::Uint(w),
                        2 => DecodedValue::Double(f64::from_bits(w)),
                        _ => DecodedValue::Bool(w != 0),
                    };
                    (v, after)
                }
            };
            rest = after;
            Some(DecodedArg {
                name: (name_len, name),
                value,
            })
        })
    }

    /// The text args' values: each its byte length and the words holding its bytes.
    pub(crate) fn args(&self) -> impl Iterator<Item = (usize, &'w [u64])> {
        let mut rest = self.args;
        let n = if self.header.typed {
            0
        } else {
            self.header.args
        };
        (0..n).map_while(move |_| {
            let (&len, tail) = rest.split_first()?;
            let n = (len as usize).div_ceil(8);
            let (bytes, after) = tail.split_at_checked(n)?;
            rest = after;
            Some((len as usize, bytes))
        })
    }
}

#[cfg(all(test, not(tg4p_loom)))]
mod tests {
    use super::*;

    #[test]
    fn event_header_round_trips() {
        let h = EventHeader {
            ty: Ty::Counter,
            has_track: true,
            float: true,
            args: 200,
            outgoing: 65535,
            incoming: 3,
            value_dropped: false,
            typed: true,
            named: true,
            callsite_names: true,
        };
        assert_eq!(EventHeader::decode(h.encode()), h);
        assert_eq!(Head::of(h.encode()), Head::Event);
        let named = EventHeader {
            typed: false,
            named: true,
            callsite_names: false,
            ..h
        };
        assert_eq!(EventHeader::decode(named.encode()), named);
        for value_dropped in [false, true] {
            let end = EventHeader {
                ty: Ty::End,
                value_dropped,
                args: 0,
                ..h
            };
            assert_eq!(EventHeader::decode(end.encode()), end);
        }
    }

    #[test]
    fn events_decode_as_they_were_encoded() {
        let mut text = ArgText::default();
        text.format(&[&"hello, world", &42]);
        let (out, inc) = ([7, 8], [9]);
        let lane = LaneRef { track: 3, lane: 2 };
        let cases = [
            Event::begin(5).args(Some(&text)),
            Event::instant(6).on(lane).at(77).flows(&out, &inc),
            Event::sample(4, Sample::Float(-2.5)),
            Event::sample(4, Sample::Int(-1)).flows(&out, &[]),
            Event::end().on(lane).flows(&[], &inc),
            Event {
                args: Args::ValueDropped,
                ..Event::end()
            },
        ];
        for event in cases {
            let chunk = Chunk::new();
            let end = event.put(&chunk, 0, 1234);
            assert_eq!(end, event.words());
            chunk.publish(end);
            assert_eq!(event_len(&chunk, 0, end), Some(end));
            let words: Vec<u64> = (0..end).map(|i| chunk.word(i)).collect();
            let (d, len) = DecodedEvent::decode(&words).expect("whole record");
            assert_eq!(len, end);
            assert_eq!(d.header, event.header());
            assert_eq!(d.tick, event.tick.unwrap_or(1234));
            assert_eq!(d.lane, event.lane);
            assert_eq!((d.outgoing, d.incoming), (event.outgoing, event.incoming));
            if event.ty != Ty::End {
                assert_eq!(d.id, event.id);
            }
            if event.ty == Ty::Counter {
                assert_eq!(d.sample, Some(event.sample));
            }
            let texts: Vec<Vec<u8>> = d
                .args()
                .map(|(len, w)| {
                    let mut b: Vec<u8> = w.iter().flat_map(|w| w.to_le_bytes()).collect();
                    b.truncate(len);
                    b
                })
                .collect();
            let expected: Vec<Vec<u8>> = match event.args {
                Args::Text(t) => t.values().map(|v| v.as_bytes().to_vec()).collect(),
                _ => Vec::new(),
            };
            assert_eq!(texts, expected);
            for cut in 0..end {
                assert!(
                    DecodedEvent::decode(&words[..cut]).is_none(),
                    "cut at {cut}"
                );
                assert_eq!(event_len(&chunk, 0, cut), None, "cut at {cut}");
            }
        }
    }

    #[test]
    fn named_events_with_typed_args_decode_as_encoded() {
        let typed = [
            TypedArg {
                name: "i",
                value: ArgValue::Int(-3),
            },
            TypedArg {
                name: "a longer arg name",
                value: ArgValue::Uint(u64::MAX),
            },
            TypedArg {
                name: "f",
                value: ArgValue::Double(2.5),
            },
            TypedArg {
                name: "",
                value: ArgValue::Bool(true),
            },
            TypedArg {
                name: "s",
                value: ArgValue::Str("a string of some length"),
            },
            TypedArg {
                name: "t",
                value: ArgValue::Tree(&[5, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9]),
            },
        ];
        let (out, inc) = ([7, 8], [9]);
        let lane = LaneRef { track: 3, lane: 2 };
        let cases = [
            Event::instant(6)
                .named(Some("a run-time name"))
                .typed(&typed),
            Event::begin(5)
                .on(lane)
                .at(3)
                .typed(&typed[1..2])
                .flows(&out, &inc),
            Event::end().typed(&typed).flows(&out, &[]),
            Event::begin(4).named(Some("")),
        ];
        for event in cases {
            let chunk = Chunk::new();
            let end = event.put(&chunk, 0, 1234);
            assert_eq!(end, event.words());
            chunk.publish(end);
            assert_eq!(event_len(&chunk, 0, end), Some(end));
            let words: Vec<u64> = (0..end).map(|i| chunk.word(i)).collect();
            let (d, len) = DecodedEvent::decode(&words).expect("whole record");
            assert_eq!(len, end);
            assert_eq!(d.header, event.header());
            assert_eq!((d.outgoing, d.incoming), (event.outgoing, event.incoming));
            let text = |(len, w): (usize, &[u64])| {
                let mut b = Vec::new();
                string_bytes(len, w, &mut b);
                String::from_utf8(b).unwrap()
            };
            assert_eq!(d.name.map(text).as_deref(), event.name);
            let args: Vec<(String, DecodedValue<'_>)> =
                d.typed_args().map(|a| (text(a.name), a.value)).collect();
            let Args::Typed(expected) = event.args else {
                assert!(args.is_empty());
                continue;
            };
            assert_eq!(args.len(), expected.len());
            for ((name, value), want) in args.iter().zip(expected) {
                assert_eq!(name, want.name);
                match (value, want.value) {
                    (DecodedValue::Str(len, w), ArgValue::Str(s)) => {
                        assert_eq!(text((*len, w)), s)
                    }
                    (DecodedValue::Tree(len, w), ArgValue::Tree(t)) => {
                        let mut b = Vec::new();
                        string_bytes(*len, w, &mut b);
                        assert_eq!(b, t);
                    }
                    (DecodedValue::Int(a), ArgValue::Int(b)) => assert_eq!(*a, b),
                    (DecodedValue::Uint(a), ArgValue::Uint(b)) => assert_eq!(*a, b),
                    (DecodedValue::Double(a), ArgValue::Double(b)) => assert_eq!(*a, b),
                    (DecodedValue::Bool(a), ArgValue::Bool(b)) => assert_eq!(*a, b),
                    (got, want) => panic!("{got:?} for {want:?}"),
                }
            }
            for cut in 0..end {
                assert!(
                    DecodedEvent::decode(&words[..cut]).is_none(),
                    "cut at {cut}"
                );
                assert_eq!(event_len(&chunk, 0, cut), None, "cut at {cut}");
            }
        }
    }

    #[test]
    fn args_records_read_as_the_events_they_stand_for() {
        let long = "ü".repeat(40);
        let cases: [&[ArgValue<'_>]; 4] = [
            &[ArgValue::Int(-7)],
            &[],
            &[
                ArgValue::Uint(u64::MAX),
                ArgValue::Str(&long),
                ArgValue::Double(0.25),
                ArgValue::Bool(true),
                ArgValue::Str(""),
            ],
            &[ArgValue::Tree(&[3, 1]), ArgValue::Int(2)],
        ];
        for args in cases {
            for instant in [false, true] {
                if instant && args.is_empty() {
                    continue; // a plain instant: an `EVENT` record
                }
                let chunk = Chunk::new();
                let end = put_callsite_typed(&chunk, 0, instant, 9, 1234, args);
                assert_eq!(end, callsite_typed_words(instant, args));
                let Head::Args(h) = Head::of(chunk.word(0)) else {
                    panic!("not an ARGS record: {args:?}");
                };
                assert_eq!((h.callsite, h.instant, h.count), (9, instant, args.len()));
                assert_eq!(args_record_len(&chunk, 0, end), Some(end));
                for cut in 2..end {
                    assert_eq!(args_record_len(&chunk, 0, cut), None, "cut at {cut}");
                }
                let words: Vec<u64> = (0..end).map(|i| chunk.word(i)).collect();
                let mut event = Vec::new();
                expand_args_record(&words, &mut event);
                let (d, len) = DecodedEvent::decode(&event).expect("whole record");
                assert_eq!(len, event.len());
                assert!(d.header.typed && d.header.callsite_names);
                let ty = if instant { Ty::Instant } else { Ty::Begin };
                assert_eq!((d.header.ty, d.tick, d.id), (ty, 1234, 9));
                let got: Vec<DecodedValue<'_>> = d.typed_args().map(|a| a.value).collect();
                assert_eq!(got.len(), args.len());
                for (g, want) in got.iter().zip(args) {
                    let bytes = |len: usize, w: &[u64]| {
                        let mut b = Vec::new();
                        string_bytes(len, w, &mut b);
                        b
                    };
                    match (*g, *want) {
                        (DecodedValue::Int(a), ArgValue::Int(b)) => assert_eq!(a, b),
                        (DecodedValue::Uint(a), ArgValue::Uint(b)) => assert_eq!(a, b),
                        (DecodedValue::Double(a), ArgValue::Double(b)) => assert_eq!(a, b),
                        (DecodedValue::Bool(a), ArgValue::Bool(b)) => assert_eq!(a, b),
                        (DecodedValue::Str(n, w), ArgValue::Str(b)) => {
                            assert_eq!(bytes(n, w), b.as_bytes())
                        }
                        (DecodedValue::Tree(n, w), ArgValue::Tree(b)) => assert_eq!(bytes(n, w), b),
                        (g, w) => panic!("{g:?} for {w:?}"),
                    }
                }
            }
        }
    }

    #[test]
    fn plain_headers_are_the_events_they_name() {
        let chunk = Chunk::new();
        Event::instant(1).put(&chunk, 0, 0);
        assert_eq!(chunk.word(0), PLAIN_INSTANT);
        Event::begin(1).put(&chunk, 0, 0);
        assert_eq!(chunk.word(0), PLAIN_BEGIN);
        Event::sample(1, Sample::Int(3)).put(&chunk, 0, 0);
        assert_eq!(chunk.word(0), INT_SAMPLE);
        Event::sample(1, Sample::Float(3.0)).put(&chunk, 0, 0);
        assert_eq!(chunk.word(0), FLOAT_SAMPLE);
        let end = put_thread_begin(&chunk, 0, 9, 5);
        assert_eq!(Head::of(chunk.word(0)), Head::ThreadBegin { callsite: 9 });
        put_thread_end(&chunk, end, 6);
        assert_eq!(Head::of(chunk.word(end)), Head::ThreadEnd);
        put_dropped(&chunk, 0, 12);
        assert_eq!(Head::of(chunk.word(0)), Head::Dropped { count: 12 });
    }
}
