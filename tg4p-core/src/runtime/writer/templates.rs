//! The writer's fast path: slice begins and ends, plain instants (no args, no flows)
//! on a thread's own track, and counter samples: the bulk of most traces.
//!
//! Such a packet differs from the sequence's earlier ones of its kind only in its
//! timestamp (and a counter's value): its track and clock are the sequence's
//! defaults (or the counter's track), its flags are always the same, and a begin's
//! or instant's name and source location share its callsite's iid. So each
//! sequence keeps these packets pre-encoded ([`Templates`]): one [`Template`] for
//! ends, two per interned callsite (begin and instant), and a [`CounterTemplate`]
//! per counter it samples. A packet is then its timestamp delta followed by a copy
//! of a template (with the value in place, for a counter). [`append_run`] turns a
//! run of such records into packets with the clock segment and the sequence's last
//! timestamp held in locals: a few dozen instructions per record, so the writer
//! stays well ahead of a thread recording in a tight loop. Its runs of slice
//! begins and ends (the bulk of `#[trace]` traces) take a tighter loop still,
//! [`append_slices`].

use super::super::args::MAX_ARGS;
use super::super::clock::Segment;
use super::super::record::{self, EventHeader, Head, Ty};
use super::super::shim::{AtomicU64, Ordering};
use crate::wire::tags::{
    ANNOTATION_BOOL_VALUE, ANNOTATION_DOUBLE_VALUE, ANNOTATION_INT_VALUE, ANNOTATION_NAME_IID,
    ANNOTATION_STRING_VALUE, ANNOTATION_UINT_VALUE, EVENT_CATEGORY_IID, EVENT_COUNTER_VALUE,
    EVENT_DEBUG_ANNOTATION, EVENT_DOUBLE_COUNTER_VALUE, EVENT_NAME_IID, EVENT_SOURCE_LOCATION_IID,
    EVENT_TRACK_UUID, EVENT_TYPE, PACKET_SEQUENCE_FLAGS, PACKET_SEQUENCE_ID, PACKET_TIMESTAMP,
    PACKET_TRACK_EVENT, TRACE_PACKET,
};
use crate::wire::varint::{self, len as sizeof_varint};
use crate::wire::{EventType, SEQ_NEEDS_INCREMENTAL_STATE};
use std::mem::MaybeUninit;
use std::ops::Range;

/// `TracePacket.sequence_flags = SEQ_NEEDS_INCREMENTAL_STATE`, every packet's last field.
const FLAGS: [u8; 2] = [PACKET_SEQUENCE_FLAGS, SEQ_NEEDS_INCREMENTAL_STATE as u8];

/// Bytes copied per template: the longest one (a begin with a 5-byte sequence id
/// and two 10-byte iids) takes 35.
const TEMPLATE_BYTES: usize = 40;
/// Category iids at or above this are left out of templates (they would not fit in
/// [`TEMPLATE_BYTES`]: a category iid takes at most 2 bytes below it).
pub(super) const MAX_TEMPLATE_CATEGORY: u64 = 1 << 14;
/// Room one packet takes in the output while it is written: `Trace.packet` tag and
/// length, the timestamp's tag and varint, and a whole template copy.
const PACKET_ROOM: usize = 3 + 10 + TEMPLATE_BYTES;
/// Packets written per output reservation. Each reservation zero-fills its room:
/// 32 packets keep that under the size where `memset` switches to `rep stosb`.
const BATCH: usize = 32;

/// The `TracePacket` fields of a thread-track slice packet after its timestamp:
/// `trusted_packet_sequence_id`, the `TrackEvent` (type, and for a begin `name_iid`
/// and `source_location_iid`) and `sequence_flags`.
#[derive(Clone, Copy, Debug)]
pub(super) struct Template {
    bytes: [u8; TEMPLATE_BYTES],
    len: u8,
    /// Where the track event's length byte is: the bytes before it are the
    /// sequence id and the `track_event` tag, the event's fields follow it.
    event_at: u8,
}

impl Template {
    /// The template of a slice end, on sequence `sequence`.
    pub(super) fn end(sequence: u32) -> Template {
        Template::new(sequence, EventType::SliceEnd, None)
    }

    /// The template of an event of `kind` with no name (`None`: a slice end) or
    /// whose name and source location are interned as `iid`, on sequence `sequence`.
    fn new(sequence: u32, kind: EventType, iid: Option<u64>) -> Template {
        Template::in_category(sequence, kind, iid, None)
    }

    /// As [`new`](Template::new), in the category interned as `category` (an iid
    /// below [`MAX_TEMPLATE_CATEGORY`], so that the template stays within its bytes).
    fn in_category(
        sequence: u32,
        kind: EventType,
        iid: Option<u64>,
        category: Option<u64>,
    ) -> Template {
        let mut event = Bytes::<TEMPLATE_BYTES>::default();
        event.push(&[EVENT_TYPE, kind as u8]);
        if let Some(iid) = iid {
            event.push(&[EVENT_NAME_IID]);
            event.varint(iid);
            event.push(&EVENT_SOURCE_LOCATION_IID);
            event.varint(iid);
        }
        if let Some(category) = category.filter(|&c| c < MAX_TEMPLATE_CATEGORY) {
            event.push(&[EVENT_CATEGORY_IID]);
            event.varint(category);
        }
        let (t, event_at) = track_event_fields(sequence, &event);
        Template {
            bytes: t.bytes,
            len: t.len,
            event_at,
        }
    }

    /// The sequence id's field and the `track_event` tag.
    fn head(&self) -> &[u8] {
        &self.bytes[..self.event_at as usize]
    }

    /// The first [`HEAD_BLOCK`] bytes: the [`head`](Template::head) and what
    /// follows it, for a fixed-size copy.
    #[inline(always)]
    fn head_block(&self) -> Option<&[u8; HEAD_BLOCK]> {
        self.bytes.first_chunk()
    }

    /// [`TAIL_BLOCK`] bytes from the track event's own fields on: those fields
    /// and the sequence flags (`tail_len` bytes), and what follows them, for a
    /// fixed-size copy.
    #[inline(always)]
    fn tail_block(&self) -> Option<(&[u8; TAIL_BLOCK], usize)> {
        let at = self.event_at as usize + 1;
        let block = self.bytes.get(at..)?.first_chunk()?;
        Some((block, self.len as usize - at))
    }

    /// The track event's own fields (type, name and location iids).
    fn event_fields(&self) -> &[u8] {
        let at = self.event_at as usize;
        &self.bytes[at + 1..at + 1 + self.bytes[at] as usize]
    }
}

/// Bytes of a template's head copied at once: its head (sequence id field and
/// `track_event` tag) takes at most 7.
const HEAD_BLOCK: usize = 8;
/// Bytes of a template's tail copied at once: its event fields and flags (at most
/// 28: a template's bytes past a head of at most 7 and the event's length byte).
const TAIL_BLOCK: usize = 32;

/// A small byte builder for templates (not on the hot path).
pub(super) struct Bytes<const N: usize> {
    pub(super) bytes: [u8; N],
    pub(super) len: u8,
}

impl<const N: usize> Default for Bytes<N> {
    fn default() -> Bytes<N> {
        Bytes {
            bytes: [0; N],
            len: 0,
        }
    }
}

impl<const N: usize> Bytes<N> {
    pub(super) fn push(&mut self, bytes: &[u8]) {
        let at = self.len as usize;
        self.bytes[at..at + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len() as u8;
    }

    pub(super) fn varint(&mut self, v: u64) {
        let mut buf = [0; varint::MAX_LEN];
        let n = varint::put(&mut buf, v);
        self.push(&buf[..n]);
    }
}

/// The `TracePacket` fields after the timestamp of a packet holding the track
/// event `event` (its fields) on `sequence`: the sequence id, the `track_event`
/// field and the sequence flags; and where the event's length byte is.
pub(super) fn track_event_fields<const N: usize>(
    sequence: u32,
    event: &Bytes<N>,
) -> (Bytes<N>, u8) {
    let mut t = Bytes::default();
    t.push(&[PACKET_SEQUENCE_ID]);
    t.varint(u64::from(sequence));
    t.push(&[PACKET_TRACK_EVENT]);
    let event_at = t.len;
    t.push(&[event.len]);
    t.push(&event.bytes[..event.len as usize]);
    t.push(&FLAGS);
    (t, event_at)
}

/// Writes the packet of `template` at timestamp `delta` into `room`; returns its
/// length in bytes. (With `room` a fixed-size array, the indexing below compiles to
/// at most one bounds check, on the template's offset.)
#[inline(always)]
fn write_packet(room: &mut [u8; PACKET_ROOM], delta: u64, template: &Template) -> usize {
    write_timed_packet(room, delta, &template.bytes, template.len)
}

/// Writes a packet at timestamp `delta` whose other fields are the first `len` of
/// `fields` (copied whole: a fixed-size copy) into `room`; returns its length in
/// bytes. The packet must stay under 128 bytes (a one-byte length): `N` + 11 does.
#[inline(always)]
pub(super) fn write_timed_packet<const R: usize, const N: usize>(
    room: &mut [u8; R],
    delta: u64,
    fields: &[u8; N],
    len: u8,
) -> usize {
    room[0] = TRACE_PACKET;
    room[2] = PACKET_TIMESTAMP;
    let n = varint::put(&mut room[3..], delta);
    room[3 + n..3 + n + N].copy_from_slice(fields);
    let len = 1 + n + len as usize;
    room[1] = len as u8;
    2 + len
}

/// Writes the packet of `template` at timestamp `delta` into `room`, which may
/// hold uninitialised bytes; returns its length `len`, having written (initialised)
/// all of `room[..len]`. As [`write_packet`], with the delta's varint encoded
/// without branches below 2^14 ns (all but the rarest deltas between slices).
#[inline(always)]
fn write_packet_uninit(
    room: &mut [MaybeUninit<u8>; PACKET_ROOM],
    delta: u64,
    template: &Template,
) -> usize {
    write_timed_packet_uninit(room, delta, &template.bytes, template.len)
}

/// Writes a packet at timestamp `delta` whose other fields are the first `len`
/// of `fields` (copied whole: a fixed-size copy) into `room`, which may hold
/// uninitialised bytes; returns its length, having initialised all of
/// `room[..length]`. `room` holds a packet's tag and length, the timestamp's tag
/// and longest varint, and `fields`; the packet stays under 128 bytes (a one-byte
/// length): `N` + 11 does.
#[inline(always)]
pub(super) fn write_timed_packet_uninit<const R: usize, const N: usize>(
    room: &mut [MaybeUninit<u8>; R],
    delta: u64,
    fields: &[u8; N],
    len: u8,
) -> usize {
    const { assert!(R >= 3 + varint::MAX_LEN + N && N + 11 < 128) };
    room[0].write(TRACE_PACKET);
    room[2].write(PACKET_TIMESTAMP);
    let n = if delta < 1 << 14 {
        // One byte below 128, else two (the first with its bit 7 set, which
        // `delta` has there); the second is written either way: a one-byte
        // varint's template copy overwrites it.
        let more = u8::from(delta >= 0x80);
        room[3].write(delta as u8 | more << 7);
        room[4].write((delta >> 7) as u8);
        1 + usize::from(more)
    } else {
        let mut buf = [0; varint::MAX_LEN];
        let n = varint::put(&mut buf, delta);
        room[3..3 + varint::MAX_LEN].copy_from_slice(as_uninit(&buf));
        n
    };
    room[3 + n..3 + n + N].copy_from_slice(as_uninit(fields));
    let len = 1 + n + len as usize;
    room[1].write(len as u8);
    2 + len
}

/// `bytes`, seen as bytes that might have been uninitialised, to copy them into
/// uninitialised room.
#[inline(always)]
fn as_uninit<const N: usize>(bytes: &[u8; N]) -> &[MaybeUninit<u8>; N] {
    // SAFETY: `MaybeUninit<u8>` has the layout of `u8`, and every `u8` is a valid
    // `MaybeUninit<u8>`; the shared borrow cannot write (uninitialised) bytes back.
    unsafe { &*(bytes as *const [u8; N]).cast::<[MaybeUninit<u8>; N]>() }
}

/// Packets [`append_slices`] makes room for at a time.
const SLICE_BATCH: usize = 64;

/// Appends the packets of the thread-track slice begins and ends at the start of
/// `records` (`BEGIN` records of interned callsites, `END` and `PLAIN_END`
/// records) to `out`, timestamps as deltas from `*last` (left at the last one
/// written). Stops at any other record, one cut short, or a tick outside
/// `segment`. Returns the words read and the packets written.
///
/// This is the writer's hottest loop: it keeps only what these records need in
/// registers, and writes into `out`'s spare capacity without zero-filling it first.
#[inline(never)]
fn append_slices(
    out: &mut Vec<u8>,
    records: &[AtomicU64],
    templates: &Templates,
    segment: Segment,
    last: &mut u64,
) -> (usize, u64) {
    let mut prev = *last;
    // The records not read yet: every record read here takes two words (head,
    // tick).
    let mut rest = records;
    // The last begin's head word and template: a loop's begins mostly repeat one
    // callsite, which then takes no lookup.
    let mut begin: (u64, &Template) = (record::END, &templates.end);
    let end = &templates.end;
    loop {
        out.reserve(SLICE_BATCH * PACKET_ROOM);
        let base = out.len();
        let spare = out.spare_capacity_mut();
        let mut pos = 0;
        let done = loop {
            // Relaxed loads: see `append_run`.
            // A begin of the last begin's callsite and the end right after it (a
            // call that made no other record: most of a `#[trace]` trace) take
            // one step, with no dispatch on the end's kind.
            if let Some(([h0, t0, h1, t1], tail)) = rest.split_first_chunk::<4>() {
                let h1 = h1.load(Ordering::Relaxed);
                if h0.load(Ordering::Relaxed) == begin.0
                    && (h1 == record::END || h1 == record::PLAIN_END)
                    && let (Some(n0), Some(n1)) = (
                        segment.ns_of(t0.load(Ordering::Relaxed)),
                        segment.ns_of(t1.load(Ordering::Relaxed)),
                    )
                    && let Some(rooms) = spare
                        .get_mut(pos..)
                        .and_then(|r| r.first_chunk_mut::<{ 2 * PACKET_ROOM }>())
                {
                    // As in `append_run`: timestamps never go back.
                    let n0 = n0.max(prev);
                    let n1 = n1.max(n0);
                    let Some(first) = rooms.first_chunk_mut::<PACKET_ROOM>() else {
                        break false; // not reached: `rooms` holds two rooms
                    };
                    let len = write_packet_uninit(first, n0 - prev, begin.1);
                    // The end's room starts where the begin's packet ends, at
                    // most one room in.
                    let Some(second) = rooms
                        .get_mut(len..)
                        .and_then(|r| r.first_chunk_mut::<PACKET_ROOM>())
                    else {
                        // Not reached (a packet fits its room); if it were, the
                        // begin stands and the end is read again.
                        pos += len;
                        prev = n0;
                        rest = &rest[2..];
                        continue;
                    };
                    pos += len + write_packet_uninit(second, n1 - n0, end);
                    prev = n1;
                    rest = tail;
                    continue;
                }
            }
            let Some(room) = spare
                .get_mut(pos..)
                .and_then(|r| r.first_chunk_mut::<PACKET_ROOM>())
            else {
                break false;
            };
            let Some(([head, tick], tail)) = rest.split_first_chunk::<2>() else {
                break true;
            };
            let head = head.load(Ordering::Relaxed);
            let template = match head & 0xff {
                record::BEGIN if head == begin.0 => begin.1,
                record::BEGIN => match templates.callsites.begin((head >> 8) as u32) {
                    Some(t) => {
                        begin = (head, t);
                        t
                    }
                    None => break true,
                },
                record::END => end,
                _ if head == record::PLAIN_END => end,
                _ => break true,
            };
            let Some(ns) = segment.ns_of(tick.load(Ordering::Relaxed)) else {
                break true;
            };
            // As in `append_run`: timestamps never go back.
            let ns = ns.max(prev);
            pos += write_packet_uninit(room, ns - prev, template);
            prev = ns;
            rest = tail;
        };
        // SAFETY: the packets written follow each other from `base` (a pair's
        // end packet from where its begin packet ends), and
        // `write_packet_uninit` initialised every byte of each (the first `len`
        // bytes of its room, `len` the length it returned): `out`'s first
        // `base + pos` bytes are initialised, and `pos` is within the spare
        // capacity (each room was a chunk of it).
        unsafe { out.set_len(base + pos) };
        if done {
            *last = prev;
            let words = records.len() - rest.len();
            // One packet per record of 2 words.
            return (words, words as u64 / 2);
        }
    }
}

/// Appends the packet of `template` at timestamp `delta` to `out`.
pub(super) fn append_packet(out: &mut Vec<u8>, delta: u64, template: &Template) {
    let mut room = [0; PACKET_ROOM];
    let len = write_packet(&mut room, delta, template);
    out.extend_from_slice(&room[..len]);
}

/// A sequence's interned callsites, by callsite id: ids are small and dense
/// (registry indices), so a slot per id beats a hash lookup on every slice begin,
/// the writer's most frequent record.
#[derive(Default)]
pub(super) struct Callsites {
    /// `iids[id]`: the iid of callsite `id`, 0 while it is not interned.
    iids: Vec<u32>,
    /// `templates[iid - 1]`: the begin and instant templates of the callsite
    /// interned as `iid`.
    templates: Vec<CallsiteTemplates>,
}

struct CallsiteTemplates {
    begin: Template,
    instant: Template,
    /// The iids of the callsite's argument names on this sequence, by position,
    /// once the general path has interned them.
    arg_iids: Vec<u64>,
    /// The names of its typed args (`span!`, `instant!`) by position, as their
    /// records hold them, with their iids, once the general path has interned them.
    typed: Vec<TypedName>,
}

/// A typed arg's name as its record holds it (the head word without the value's
/// tag, then the name's words), and the iid it is interned as on the sequence.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct TypedName {
    /// `name_len << 8`.
    head: u64,
    words: Box<[u64]>,
    iid: u64,
}

impl TypedName {
    /// The name of `len` bytes stored in `words`, interned as `iid`.
    pub(super) fn new(len: usize, words: &[u64], iid: u64) -> TypedName {
        TypedName {
            head: (len as u64) << 8,
            words: words.into(),
            iid,
        }
    }
}

impl Callsites {
    /// The iid of callsite `id`, if interned.
    #[inline]
    pub(super) fn get(&self, id: u32) -> Option<u64> {
        let iid = *self.iids.get(id as usize)?;
        (iid != 0).then_some(u64::from(iid))
    }

    #[inline(always)]
    fn templates(&self, id: u32) -> Option<&CallsiteTemplates> {
        let iid = *self.iids.get(id as usize)?;
        self.templates.get((iid as usize).wrapping_sub(1))
    }

    /// The slice begin template of callsite `id`, if interned.
    #[inline(always)]
    pub(super) fn begin(&self, id: u32) -> Option<&Template> {
        self.templates(id).map(|t| &t.begin)
    }

    /// The instant template of callsite `id`, if interned.
    #[inline(always)]
    pub(super) fn instant(&self, id: u32) -> Option<&Template> {
        self.templates(id).map(|t| &t.instant)
    }

    /// Keeps the iids of callsite `id`'s first `iids.len()` argument names, as
    /// the general path interned them for an event of the callsite.
    pub(super) fn set_arg_iids(&mut self, id: u32, iids: impl ExactSizeIterator<Item = u64>) {
        let Some(&iid) = self.iids.get(id as usize) else {
            return;
        };
        if let Some(t) = self.templates.get_mut((iid as usize).wrapping_sub(1))
            && iids.len() > t.arg_iids.len()
        {
            t.arg_iids.clear();
            t.arg_iids.extend(iids);
        }
    }

    /// Keeps the names (and iids) of callsite `id`'s first `names.len()` typed args,
    /// as the general path interned them for a typed event of the callsite.
    pub(super) fn set_typed_names(&mut self, id: u32, names: Vec<TypedName>) {
        let Some(&iid) = self.iids.get(id as usize) else {
            return;
        };
        if let Some(t) = self.templates.get_mut((iid as usize).wrapping_sub(1))
            && names.len() > t.typed.len()
        {
            t.typed = names;
        }
    }

    /// The iid of callsite `id` on `sequence`, and whether it is new there.
    #[cfg(test)]
    pub(super) fn intern(&mut self, id: u32, sequence: u32) -> (u64, bool) {
        self.intern_in_category(id, sequence, None)
    }

    /// As [`intern`](Callsites::intern), its events in the category interned
    /// as `category` (if below [`MAX_TEMPLATE_CATEGORY`]; the caller writes no
    /// category otherwise).
    pub(super) fn intern_in_category(
        &mut self,
        id: u32,
        sequence: u32,
        category: Option<u64>,
    ) -> (u64, bool) {
        if let Some(iid) = self.get(id) {
            return (iid, false);
        }
        let id = id as usize;
        if self.iids.len() <= id {
            self.iids.resize(id + 1, 0);
        }
        let iid = self.templates.len() as u64 + 1;
        self.templates.push(CallsiteTemplates {
            begin: Template::in_category(sequence, EventType::SliceBegin, Some(iid), category),
            instant: Template::in_category(sequence, EventType::Instant, Some(iid), category),
            arg_iids: Vec::new(),
            typed: Vec::new(),
        });
        // At most one iid per callsite id, and ids are u32.
        self.iids[id] = iid as u32;
        (iid, true)
    }

    pub(super) fn clear(&mut self) {
        self.iids.clear();
        self.templates.clear();
    }
}

/// The `TracePacket` fields of a counter sample on a counter's track, but for the
/// value: `trusted_packet_sequence_id` and the `track_event` tag (`head`), then
/// inside the track event its type and `track_uuid` (`body`).
#[derive(Clone, Copy, Debug)]
pub(super) struct CounterTemplate {
    head: [u8; 8],
    head_len: u8,
    body: [u8; 16],
    body_len: u8,
}

impl CounterTemplate {
    /// The template of samples on the counter track `track_uuid`, on `sequence`.
    pub(super) fn new(sequence: u32, track_uuid: u64) -> CounterTemplate {
        let mut head = Bytes::<8>::default();
        head.push(&[PACKET_SEQUENCE_ID]);
        head.varint(u64::from(sequence));
        head.push(&[PACKET_TRACK_EVENT]);
        let mut body = Bytes::<16>::default();
        body.push(&[EVENT_TYPE, EventType::Counter as u8]);
        body.push(&[EVENT_TRACK_UUID]);
        body.varint(track_uuid);
        CounterTemplate {
            head: head.bytes,
            head_len: head.len,
            body: body.bytes,
            body_len: body.len,
        }
    }
}

/// Writes the counter sample packet of `template` at timestamp `delta` with `value`
/// (an i64, or f64 bits if `float`) into `room`; returns its length in bytes.
#[inline(always)]
fn write_counter(
    room: &mut [u8; PACKET_ROOM],
    delta: u64,
    template: &CounterTemplate,
    value: u64,
    float: bool,
) -> usize {
    room[0] = TRACE_PACKET;
    room[2] = PACKET_TIMESTAMP;
    let mut p = 3 + varint::put(&mut room[3..], delta);
    // At most 13 + 7 + 1 + 13 + 12 + 2 = 48 bytes in all, with the 8- and 16-byte
    // copies ending by byte 37: inside PACKET_ROOM.
    room[p..p + 8].copy_from_slice(&template.head);
    p += template.head_len as usize;
    let event_len_at = p;
    p += 1;
    room[p..p + 16].copy_from_slice(&template.body);
    p += template.body_len as usize;
    if float {
        room[p..p + 2].copy_from_slice(&EVENT_DOUBLE_COUNTER_VALUE);
        room[p + 2..p + 10].copy_from_slice(&value.to_le_bytes());
        p += 10;
    } else {
        room[p..p + 2].copy_from_slice(&EVENT_COUNTER_VALUE);
        p += 2;
        p += varint::put(&mut room[p..], value);
    }
    room[event_len_at] = (p - event_len_at - 1) as u8;
    room[p..p + 2].copy_from_slice(&FLAGS);
    p += 2;
    room[1] = (p - 2) as u8;
    p
}

/// Opens the packet of `template` at timestamp `delta` whose event carries
/// `annotations` bytes of debug annotations before the template's own fields
/// (which, with the sequence flags, close it); returns where the packet starts,
/// to take it back if an arg turns out unreadable.
fn open_args_packet(
    out: &mut Vec<u8>,
    delta: u64,
    template: &Template,
    annotations: usize,
) -> usize {
    let head = template.head();
    let event_len = annotations + template.event_fields().len();
    let packet_len =
        1 + sizeof_varint(delta) + head.len() + sizeof_varint(event_len as u64) + event_len + 2;
    let start = out.len();
    out.reserve(1 + sizeof_varint(packet_len as u64) + packet_len);
    out.push(TRACE_PACKET);
    varint::push(out, packet_len as u64);
    out.push(PACKET_TIMESTAMP);
    varint::push(out, delta);
    out.extend_from_slice(head);
    varint::push(out, event_len as u64);
    start
}

/// Appends the `n` bytes of a string arg packed into `words`; false if they are
/// not UTF-8 (the caller takes the packet back).
fn push_text(out: &mut Vec<u8>, words: &[AtomicU64], n: usize) -> bool {
    let text = out.len();
    for w in words {
        out.extend_from_slice(&w.load(Ordering::Relaxed).to_le_bytes());
    }
    out.truncate(text + n);
    std::str::from_utf8(&out[text..]).is_ok()
}

/// Appends the packet of a thread-track slice begin or instant (`template`) with
/// `count` string args, whose names are interned as `arg_iids`, at timestamp
/// `delta`. `args` starts with the record's first arg (a byte length word, then
/// the bytes packed into words). Returns the words the args took, or `None`
/// (nothing appended) if they are cut short or not UTF-8: the general path then
/// writes the event.
fn append_args_event(
    out: &mut Vec<u8>,
    delta: u64,
    template: &Template,
    arg_iids: &[u64],
    args: &[AtomicU64],
    count: usize,
) -> Option<usize> {
    let word = |i: usize| args.get(i).map(|w| w.load(Ordering::Relaxed));
    // `DebugAnnotation { name_iid (1), string_value (6) }` of arg `k`, `n` bytes.
    let annotation_len =
        |k: usize, n: usize| 1 + sizeof_varint(arg_iids[k]) + 1 + sizeof_varint(n as u64) + n;
    let mut lengths = [0; MAX_ARGS];
    let (mut at, mut annotations) = (0, 0);
    for (k, length) in lengths.iter_mut().enumerate().take(count) {
        let n = word(at)? as usize;
        at += 1 + n.div_ceil(8);
        if at > args.len() {
            return None;
        }
        *length = n;
        let a = annotation_len(k, n);
        annotations += 1 + sizeof_varint(a as u64) + a;
    }
    let start = open_args_packet(out, delta, template, annotations);
    let mut at = 0;
    for (k, &n) in lengths.iter().enumerate().take(count) {
        out.push(EVENT_DEBUG_ANNOTATION);
        varint::push(out, annotation_len(k, n) as u64);
        out.push(ANNOTATION_NAME_IID);
        varint::push(out, arg_iids[k]);
        out.push(ANNOTATION_STRING_VALUE);
        varint::push(out, n as u64);
        if !push_text(out, &args[at + 1..at + 1 + n.div_ceil(8)], n) {
            out.truncate(start);
            return None;
        }
        at += 1 + n.div_ceil(8);
    }
    out.extend_from_slice(template.event_fields());
    out.extend_from_slice(&FLAGS);
    Some(at)
}

/// Appends the packet of a thread-track slice begin or instant (`template`) with
/// `count` typed args at timestamp `delta`, if their names are `names` (by
/// position) and their values scalars or strings. `args` starts with the record's
/// first arg (see `record::typed_arg_words`). Returns the words the args took, or
/// `None` (nothing appended) if a name differs, a value is nested, the args are
/// cut short or a string is not UTF-8: the general path then writes the event.
fn append_typed_event(
    out: &mut Vec<u8>,
    delta: u64,
    template: &Template,
    names: &[TypedName],
    args: &[AtomicU64],
    count: usize,
) -> Option<usize> {
    let word = |i: usize| args.get(i).map(|w| w.load(Ordering::Relaxed));
    /// One arg's value: its tag, its word (a string's byte length), where its
    /// bytes start (strings), and its `DebugAnnotation`'s length.
    #[derive(Clone, Copy, Default)]
    struct Arg {
        tag: u8,
        word: u64,
        at: usize,
        len: usize,
    }
    let mut parsed = [Arg::default(); MAX_ARGS];
    let (mut at, mut annotations) = (0, 0);
    for (k, arg) in parsed.iter_mut().enumerate().take(count) {
        let name = names.get(k)?;
        let head = word(at)?;
        if head & !0xff != name.head {
            return None;
        }
        for (j, &w) in name.words.iter().enumerate() {
            if word(at + 1 + j)? != w {
                return None;
            }
        }
        at += 1 + name.words.len();
        let tag = (head & 0xff) as u8;
        let w = word(at)?;
        let value_len = match tag {
            0 => 1 + sizeof_varint(w),
            1 => 1 + sizeof_varint(w),
            2 => 9,
            3 => 2,
            4 => {
                let n = w as usize;
                if at + 1 + n.div_ceil(8) > args.len() {
                    return None;
                }
                1 + sizeof_varint(n as u64) + n
            }
            _ => return None,
        };
        let len = 1 + sizeof_varint(name.iid) + value_len;
        *arg = Arg {
            tag,
            word: w,
            at: at + 1,
            len,
        };
        at += if tag == 4 {
            1 + (w as usize).div_ceil(8)
        } else {
            1
        };
        annotations += 1 + sizeof_varint(len as u64) + len;
    }
    let start = open_args_packet(out, delta, template, annotations);
    for (arg, name) in parsed.iter().zip(names).take(count) {
        out.push(EVENT_DEBUG_ANNOTATION);
        varint::push(out, arg.len as u64);
        out.push(ANNOTATION_NAME_IID);
        varint::push(out, name.iid);
        match arg.tag {
            0 => {
                out.push(ANNOTATION_INT_VALUE);
                varint::push(out, arg.word);
            }
            1 => {
                out.push(ANNOTATION_UINT_VALUE);
                varint::push(out, arg.word);
            }
            2 => {
                out.push(ANNOTATION_DOUBLE_VALUE);
                out.extend_from_slice(&arg.word.to_le_bytes());
            }
            3 => out.extend_from_slice(&[ANNOTATION_BOOL_VALUE, (arg.word != 0) as u8]),
            _ => {
                let n = arg.word as usize;
                out.push(ANNOTATION_STRING_VALUE);
                varint::push(out, n as u64);
                if !push_text(out, &args[arg.at..arg.at + n.div_ceil(8)], n) {
                    out.truncate(start);
                    return None;
                }
            }
        }
    }
    out.extend_from_slice(template.event_fields());
    out.extend_from_slice(&FLAGS);
    Some(at)
}

/// The args of a callsite-named typed event (`record::put_callsite_typed`),
/// measured by [`measure_callsite_args`]: the words they take in the record and
/// the bytes of their debug annotations in the packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Measured {
    words: usize,
    annotations: usize,
}

/// The callsite-named typed args of one event, as the writer reads them: their
/// names' iids (by position, as many as the event has args), the record's words
/// from its first arg on, and where their tags are.
#[derive(Clone, Copy)]
struct CallsiteArgs<'a> {
    iids: &'a [u64],
    words: &'a [AtomicU64],
    /// `None`: each arg's tag is its head word (an `EVENT` record with
    /// `callsite_names`); else in the `ARGS` record's header.
    header: Option<record::ArgsHead>,
}

/// One callsite-named typed arg in a record.
struct CallsiteArg {
    tag: u64,
    /// Its value's word (a string's byte length).
    word: u64,
    /// The words of a string's bytes.
    text: Range<usize>,
    /// The index after it.
    next: usize,
}

impl CallsiteArgs<'_> {
    /// Arg `k`, which starts at word `at`; `None` if it is cut short, named (a
    /// head word with a name length) or nested.
    #[inline(always)]
    fn arg(&self, k: usize, at: usize) -> Option<CallsiteArg> {
        let word = |i: usize| self.words.get(i).map(|w| w.load(Ordering::Relaxed));
        let (tag, value_at) = match self.header {
            None => (word(at)?, at + 1),
            Some(h) => (h.tag(k), at),
        };
        let w = word(value_at)?;
        let next = value_at
            + match tag {
                4 => 1 + (w as usize).div_ceil(8),
                0..=3 => 1,
                _ => return None,
            };
        (next <= self.words.len()).then_some(CallsiteArg {
            tag,
            word: w,
            text: value_at + 1..next,
            next,
        })
    }
}

/// Bytes of the value fields of a callsite-named typed arg (`tag`, `word`).
#[inline(always)]
fn callsite_value_len(tag: u64, word: u64) -> usize {
    match tag {
        0 | 1 => 1 + sizeof_varint(word),
        2 => 9,
        3 => 2,
        _ => 1 + sizeof_varint(word) + word as usize,
    }
}

/// Measures `args`; `None` if one is cut short, named or nested: the general
/// path then writes the event.
#[inline(always)]
fn measure_callsite_args(args: CallsiteArgs<'_>) -> Option<Measured> {
    let (mut at, mut annotations) = (0, 0);
    for (k, &iid) in args.iids.iter().enumerate() {
        let a = args.arg(k, at)?;
        let len = 1 + sizeof_varint(iid) + callsite_value_len(a.tag, a.word);
        annotations += 1 + sizeof_varint(len as u64) + len;
        at = a.next;
    }
    Some(Measured {
        words: at,
        annotations,
    })
}

/// Bytes of the packet of a thread-track begin or instant (`template`) at
/// timestamp `delta` with `annotations` bytes of debug annotations.
#[inline(always)]
fn args_packet_size(delta: u64, template: &Template, annotations: usize) -> usize {
    let event_len = annotations + template.event_fields().len();
    let packet_len = 1
        + sizeof_varint(delta)
        + template.head().len()
        + sizeof_varint(event_len as u64)
        + event_len
        + FLAGS.len();
    1 + sizeof_varint(packet_len as u64) + packet_len
}

/// A byte cursor over room known to be large enough (each write is still
/// bounds-checked).
struct Cursor<'a> {
    buf: &'a mut [u8],
    at: usize,
}

impl Cursor<'_> {
    #[inline(always)]
    fn byte(&mut self, b: u8) {
        self.buf[self.at] = b;
        self.at += 1;
    }
    #[inline(always)]
    fn bytes(&mut self, b: &[u8]) {
        self.buf[self.at..self.at + b.len()].copy_from_slice(b);
        self.at += b.len();
    }
    #[inline(always)]
    fn varint(&mut self, v: u64) {
        self.at += varint::put(&mut self.buf[self.at..], v);
    }
    /// The value field of a scalar annotation: `tag` 0 int, 1 uint, 2 double,
    /// 3 bool (the record's arg tags), `w` its word.
    #[inline(always)]
    fn scalar(&mut self, tag: u64, w: u64) {
        match tag {
            0 => {
                self.byte(ANNOTATION_INT_VALUE);
                self.varint(w);
            }
            1 => {
                self.byte(ANNOTATION_UINT_VALUE);
                self.varint(w);
            }
            2 => {
                self.byte(ANNOTATION_DOUBLE_VALUE);
                self.bytes(&w.to_le_bytes());
            }
            _ => self.bytes(&[ANNOTATION_BOOL_VALUE, (w != 0) as u8]),
        }
    }
    /// Copies all of `block` (a fixed-size copy, no call) and keeps its first
    /// `used` bytes: what follows is overwritten or left out.
    #[inline(always)]
    fn block<const N: usize>(&mut self, block: &[u8; N], used: usize) {
        self.buf[self.at..self.at + N].copy_from_slice(block);
        self.at += used;
    }
}

/// Writes the packet of a thread-track begin or instant (`template`) at timestamp
/// `delta` with the `count` callsite-named typed args at the start of `args`
/// (measured as `measured`, named by `iids`) into `room`, which holds at least
/// [`args_packet_size`] bytes; returns its length, or `None` if a string is not
/// UTF-8 (the general path then writes the event).
fn write_callsite_event(
    room: &mut [u8],
    delta: u64,
    template: &Template,
    args: CallsiteArgs<'_>,
    measured: Measured,
) -> Option<usize> {
    let fields = template.event_fields();
    let event_len = measured.annotations + fields.len();
    let packet_len = 1
        + sizeof_varint(delta)
        + template.head().len()
        + sizeof_varint(event_len as u64)
        + event_len
        + FLAGS.len();
    let mut c = Cursor { buf: room, at: 0 };
    c.byte(TRACE_PACKET);
    c.varint(packet_len as u64);
    c.byte(PACKET_TIMESTAMP);
    c.varint(delta);
    c.bytes(template.head());
    c.varint(event_len as u64);
    let mut at = 0;
    for (k, &iid) in args.iids.iter().enumerate() {
        let a = args.arg(k, at)?;
        let w = a.word;
        c.byte(EVENT_DEBUG_ANNOTATION);
        c.varint((1 + sizeof_varint(iid) + callsite_value_len(a.tag, w)) as u64);
        c.byte(ANNOTATION_NAME_IID);
        c.varint(iid);
        match a.tag {
            0..=3 => c.scalar(a.tag, w),
            _ => {
                let n = w as usize;
                c.byte(ANNOTATION_STRING_VALUE);
                c.varint(n as u64);
                let text = c.at;
                let mut left = n;
                for word in &args.words[a.text] {
                    let bytes = word.load(Ordering::Relaxed).to_le_bytes();
                    let take = left.min(8);
                    c.bytes(&bytes[..take]);
                    left -= take;
                }
                std::str::from_utf8(&c.buf[text..c.at]).ok()?;
            }
        }
        at = a.next;
    }
    c.bytes(fields);
    c.bytes(&FLAGS);
    debug_assert_eq!(
        c.at,
        args_packet_size(delta, template, measured.annotations)
    );
    Some(c.at)
}

/// Where [`write_callsite_packet`] first encodes the annotations in its room:
/// past the longest packet head before them (the packet's tag and a 3-byte length,
/// the timestamp field, a template's head of at most 7 bytes, a 3-byte event
/// length: a room below 2 MiB).
const ANNOTATIONS_AT: usize = 26;
/// Most bytes of one scalar annotation: its tag and one-byte length, the name's
/// iid field and the value field (each at most a tag and a 10-byte varint).
const SCALAR_ANNOTATION: usize = 24;

/// What [`write_callsite_packet`] did.
enum Written {
    /// The packet is written: its bytes, and the words its args took.
    Packet { bytes: usize, words: usize },
    /// A string arg does not fit in the room given: write it elsewhere.
    NoRoom,
    /// The args are cut short, named, nested or not UTF-8: the general path's.
    General,
}

/// Writes the packet of a thread-track begin or instant (`template`) at timestamp
/// `delta` with the callsite-named typed args at the start of `args`, named by
/// `iids` (as many as it has), into `room`, in one pass: the annotations are
/// encoded at [`ANNOTATIONS_AT`] as they are read, then moved up behind the
/// packet's head once their length is known.
#[inline(always)]
fn write_callsite_packet(
    room: &mut [u8],
    delta: u64,
    template: &Template,
    args: CallsiteArgs<'_>,
) -> Written {
    // Room for the scalars' annotations and for the template's fields: strings
    // are checked as they come.
    let limit = room.len().saturating_sub(TEMPLATE_BYTES);
    if ANNOTATIONS_AT + args.iids.len() * SCALAR_ANNOTATION > limit {
        return Written::NoRoom;
    }
    let mut c = Cursor {
        buf: room,
        at: ANNOTATIONS_AT,
    };
    let mut at = 0;
    for (k, &iid) in args.iids.iter().enumerate() {
        let Some(a) = args.arg(k, at) else {
            return Written::General;
        };
        let w = a.word;
        c.byte(EVENT_DEBUG_ANNOTATION);
        let len_at = c.at;
        c.at += 1;
        c.byte(ANNOTATION_NAME_IID);
        c.varint(iid);
        match a.tag {
            0..=3 => c.scalar(a.tag, w),
            _ => {
                let n = w as usize;
                // This string (tag, length, bytes, and a 2-byte annotation length)
                // and the scalar annotations after it.
                let need = c.at + 13 + n + (args.iids.len() - k - 1) * SCALAR_ANNOTATION;
                if n > 0x3f00 || need > limit {
                    return Written::NoRoom;
                }
                c.byte(ANNOTATION_STRING_VALUE);
                c.varint(n as u64);
                let text = c.at;
                let mut left = n;
                for word in &args.words[a.text] {
                    let take = left.min(8);
                    c.bytes(&word.load(Ordering::Relaxed).to_le_bytes()[..take]);
                    left -= take;
                }
                if std::str::from_utf8(&c.buf[text..c.at]).is_err() {
                    return Written::General;
                }
            }
        }
        let len = c.at - len_at - 1;
        if len >= 0x80 {
            // A long string's annotation: its length takes two bytes.
            c.buf.copy_within(len_at + 1..c.at, len_at + 2);
            c.at += 1;
        }
        varint::put(&mut c.buf[len_at..], len as u64);
        at = a.next;
    }
    let annotations = c.at - ANNOTATIONS_AT;
    let fields = template.event_fields();
    let event_len = annotations + fields.len();
    let packet_len = 1
        + sizeof_varint(delta)
        + template.head().len()
        + sizeof_varint(event_len as u64)
        + event_len
        + FLAGS.len();
    c.at = 0;
    c.byte(TRACE_PACKET);
    c.varint(packet_len as u64);
    c.byte(PACKET_TIMESTAMP);
    c.varint(delta);
    match template.head_block() {
        // At most 15 + 8 bytes: before the annotations.
        Some(head) => c.block(head, template.head().len()),
        None => c.bytes(template.head()),
    }
    c.varint(event_len as u64);
    debug_assert!(c.at <= ANNOTATIONS_AT);
    // Annotations this short (one or two scalars) move as a fixed-size block
    // (inlined, no call), past their end: what lies beyond is overwritten by the
    // fields below or left out of the packet.
    const SHORT: usize = 64;
    if annotations <= SHORT && ANNOTATIONS_AT + SHORT <= c.buf.len() {
        c.buf
            .copy_within(ANNOTATIONS_AT..ANNOTATIONS_AT + SHORT, c.at);
    } else {
        c.buf
            .copy_within(ANNOTATIONS_AT..ANNOTATIONS_AT + annotations, c.at);
    }
    c.at += annotations;
    match template.tail_block() {
        // Inside the room: [`TEMPLATE_BYTES`] were kept past the annotations.
        Some((tail, used)) => c.block(tail, used),
        None => {
            c.bytes(fields);
            c.bytes(&FLAGS);
        }
    }
    Written::Packet {
        bytes: c.at,
        words: at,
    }
}

/// A sequence's pre-encoded packets (see the module docs).
pub(super) struct Templates {
    /// Slice begins and instants, by callsite.
    pub callsites: Callsites,
    /// Slice ends.
    pub end: Template,
    /// `counters[id]`: samples of counter `id`, once the general path has written
    /// the counter's first sample on this sequence (and described its track).
    counters: Vec<Option<CounterTemplate>>,
}

impl Templates {
    pub(super) fn new(sequence: u32) -> Templates {
        Templates {
            callsites: Callsites::default(),
            end: Template::end(sequence),
            counters: Vec::new(),
        }
    }

    /// The template of counter `id`'s samples, if its track is known.
    #[inline(always)]
    fn counter(&self, id: u32) -> Option<&CounterTemplate> {
        self.counters.get(id as usize)?.as_ref()
    }

    /// Keeps the template of counter `id` (on the track `track_uuid`) on `sequence`.
    pub(super) fn add_counter(&mut self, id: u32, sequence: u32, track_uuid: u64) {
        let id = id as usize;
        if self.counters.len() <= id {
            self.counters.resize(id + 1, None);
        }
        if self.counters[id].is_none() {
            self.counters[id] = Some(CounterTemplate::new(sequence, track_uuid));
        }
    }
}

/// What [`append_run`] did.
pub(super) struct Run {
    /// Words of the records turned into packets.
    pub words: usize,
    /// Packets appended.
    pub packets: u64,
}

/// Appends packets for the records at the start of `records` as long as they are
/// thread-track begins or instants (with string args or none, no flows) of
/// callsites interned in `templates`, ends, or samples of counters it knows, with
/// ticks inside `segment`; stops at the first other record (or a record cut short
/// by the end of `records`). `last_ns` is the sequence's last timestamp, which the
/// packets' deltas advance (never backwards).
/// The names of an args event's args: text args' iids, or typed args' names.
#[derive(Clone, Copy)]
enum ArgNames<'a> {
    Text(&'a [u64]),
    Typed(&'a [TypedName]),
    /// Callsite-named typed args.
    Callsite(CallsiteArgs<'a>),
}

/// Whether the record with head word `head` is one [`append_slices`] writes: a
/// thread-track slice begin or end.
#[inline(always)]
fn is_slice_record(head: u64) -> bool {
    matches!(Head::of(head), Head::ThreadBegin { .. } | Head::ThreadEnd)
        || head == record::PLAIN_END
}

pub(super) fn append_run(
    out: &mut Vec<u8>,
    records: &[AtomicU64],
    templates: &Templates,
    segment: Segment,
    last_ns: &mut u64,
) -> Run {
    /// What a record becomes.
    enum Packet<'a> {
        Copy(&'a Template),
        Counter(&'a CounterTemplate, u64, bool),
        /// A begin or instant with `count` args: written outside the batch, as
        /// its size has no small bound.
        Args(&'a Template, ArgNames<'a>, usize),
        /// A begin or instant with callsite-named typed args: written in the
        /// batch if it fits there.
        Callsite(&'a Template, CallsiteArgs<'a>),
    }
    // Relaxed loads: the caller read these words below the chunk's published
    // count, loaded with Acquire (see `buffer`).
    let word = |i: usize| records.get(i).map(|w| w.load(Ordering::Relaxed));
    let mut i = 0;
    let mut packets: u64 = 0;
    let mut last = *last_ns;
    loop {
        // The slice begins and ends first, on their own fast path; the batch
        // below writes the other records until the next begin or end.
        let (words, written) = append_slices(
            out,
            records.get(i..).unwrap_or_default(),
            templates,
            segment,
            &mut last,
        );
        i += words;
        packets += written;
        let base = out.len();
        out.resize(base + BATCH * PACKET_ROOM, 0);
        let batch = &mut out[base..];
        let mut pos = 0;
        let mut written: usize = 0;
        // Why the batch ended: full (None), at an args event (with its delta and
        // timestamp), or at a record this path does not write.
        let stop = loop {
            if written == BATCH {
                break None;
            }
            let (Some(head), Some(tick)) = (word(i), word(i + 1)) else {
                break Some(None);
            };
            let (packet, words) = match Head::of(head) {
                // A run of slice begins and ends (this one and the next): back to
                // `append_slices`. A lone one among other records (a `span!` with
                // args is an args begin and a plain end) is written here, so that
                // the batch goes on (each batch costs its zero-filled room).
                Head::ThreadBegin { .. } | Head::ThreadEnd
                    if written > 0 && word(i + 2).is_some_and(is_slice_record) =>
                {
                    break None;
                }
                Head::Event
                    if head == record::PLAIN_END
                        && written > 0
                        && word(i + 2).is_some_and(is_slice_record) =>
                {
                    break None;
                }
                Head::ThreadBegin { callsite } => match templates.callsites.begin(callsite) {
                    Some(t) => (Packet::Copy(t), 2),
                    None => break Some(None),
                },
                Head::ThreadEnd => (Packet::Copy(&templates.end), 2),
                Head::Event if head == record::PLAIN_END => (Packet::Copy(&templates.end), 2),
                Head::Event
                    if head & !record::ARGS_FIELD == record::CALLSITE_TYPED_BEGIN
                        || head & !record::ARGS_FIELD == record::CALLSITE_TYPED_INSTANT =>
                {
                    let count = ((head & record::ARGS_FIELD) >> 16) as usize;
                    let Some(c) =
                        word(i + 2).and_then(|id| templates.callsites.templates(id as u32))
                    else {
                        break Some(None);
                    };
                    let Some(iids) = c.arg_iids.get(..count) else {
                        break Some(None);
                    };
                    let t = if head & !record::ARGS_FIELD == record::CALLSITE_TYPED_BEGIN {
                        &c.begin
                    } else {
                        &c.instant
                    };
                    let args = CallsiteArgs {
                        iids,
                        words: records.get(i + 3..).unwrap_or_default(),
                        header: None,
                    };
                    // Its words past these 3: known once its args are read.
                    (Packet::Callsite(t, args), 3)
                }
                Head::Args(h) => {
                    let Some(c) = templates.callsites.templates(h.callsite) else {
                        break Some(None);
                    };
                    let Some(iids) = c.arg_iids.get(..h.count) else {
                        break Some(None);
                    };
                    let t = if h.instant { &c.instant } else { &c.begin };
                    let args = CallsiteArgs {
                        iids,
                        words: records.get(i + 2..).unwrap_or_default(),
                        header: Some(h),
                    };
                    // Its words past these 2: known once its args are read.
                    (Packet::Callsite(t, args), 2)
                }
                Head::Event
                    if head & !record::ARGS_FIELD == record::TYPED_BEGIN
                        || head & !record::ARGS_FIELD == record::TYPED_INSTANT =>
                {
                    let h = EventHeader::decode(head);
                    let Some(c) =
                        word(i + 2).and_then(|id| templates.callsites.templates(id as u32))
                    else {
                        break Some(None);
                    };
                    if h.args as usize > c.typed.len() {
                        break Some(None);
                    }
                    let t = match h.ty {
                        Ty::Begin => &c.begin,
                        _ => &c.instant,
                    };
                    (
                        Packet::Args(t, ArgNames::Typed(&c.typed), h.args as usize),
                        3,
                    )
                }
                Head::Event if head == record::PLAIN_INSTANT => {
                    match word(i + 2).and_then(|id| templates.callsites.instant(id as u32)) {
                        Some(t) => (Packet::Copy(t), 3),
                        None => break Some(None),
                    }
                }
                Head::Event if head == record::INT_SAMPLE || head == record::FLOAT_SAMPLE => {
                    let (Some(id), Some(value)) = (word(i + 2), word(i + 3)) else {
                        break Some(None);
                    };
                    match templates.counter(id as u32) {
                        Some(t) => (Packet::Counter(t, value, head == record::FLOAT_SAMPLE), 4),
                        None => break Some(None),
                    }
                }
                Head::Event
                    if head & !record::ARGS_FIELD == record::PLAIN_BEGIN
                        || head & !record::ARGS_FIELD == record::PLAIN_INSTANT =>
                {
                    let count = EventHeader::decode(head).args as usize;
                    let Some(c) =
                        word(i + 2).and_then(|id| templates.callsites.templates(id as u32))
                    else {
                        break Some(None);
                    };
                    if count > MAX_ARGS || count > c.arg_iids.len() {
                        break Some(None);
                    }
                    let t = match EventHeader::decode(head).ty {
                        Ty::Begin => &c.begin,
                        _ => &c.instant,
                    };
                    (Packet::Args(t, ArgNames::Text(&c.arg_iids), count), 3)
                }
                _ => break Some(None),
            };
            let Some(ns) = segment.ns_of(tick) else {
                break Some(None);
            };
            // Per-sequence timestamps never go back (deltas are unsigned); a tick
            // converted with a refined calibration may land a few ns early.
            let ns = ns.max(last);
            let delta = ns - last;
            let rest = &mut batch[pos..];
            let mut words = words;
            pos += match packet {
                Packet::Callsite(t, args) => {
                    match write_callsite_packet(rest, delta, t, args) {
                        Written::Packet { bytes, words: w } => {
                            words += w;
                            bytes
                        }
                        // Another batch has more room.
                        Written::NoRoom if pos > 0 => break None,
                        Written::NoRoom => {
                            let count = args.iids.len();
                            let names = ArgNames::Callsite(args);
                            break Some(Some((t, names, count, delta, ns)));
                        }
                        Written::General => break Some(None),
                    }
                }
                Packet::Args(t, iids, count) => break Some(Some((t, iids, count, delta, ns))),
                _ if rest.len() < PACKET_ROOM => break None, // the batch is full
                Packet::Copy(t) => {
                    let Some(room) = rest.first_chunk_mut::<PACKET_ROOM>() else {
                        break None;
                    };
                    write_packet(room, delta, t)
                }
                Packet::Counter(t, value, float) => {
                    let Some(room) = rest.first_chunk_mut::<PACKET_ROOM>() else {
                        break None;
                    };
                    write_counter(room, delta, t, value, float)
                }
            };
            last = ns;
            written += 1;
            i += words;
        };
        out.truncate(base + pos);
        packets += written as u64;
        match stop {
            None => {}
            Some(Some((template, iids, count, delta, ns))) => {
                // The record's words after its header, tick and callsite id (the
                // first two for an `ARGS` record), then its args' words.
                let args = &records[(i + 3).min(records.len())..];
                let appended = match iids {
                    ArgNames::Text(iids) => {
                        append_args_event(out, delta, template, iids, args, count)
                            .map(|words| 3 + words)
                    }
                    ArgNames::Typed(names) => {
                        append_typed_event(out, delta, template, names, args, count)
                            .map(|words| 3 + words)
                    }
                    ArgNames::Callsite(args) => {
                        let head = if args.header.is_some() { 2 } else { 3 };
                        let Some(measured) = measure_callsite_args(args) else {
                            *last_ns = last;
                            return Run { words: i, packets };
                        };
                        let start = out.len();
                        out.resize(
                            start + args_packet_size(delta, template, measured.annotations),
                            0,
                        );
                        let room = &mut out[start..];
                        match write_callsite_event(room, delta, template, args, measured) {
                            Some(_) => Some(head + measured.words),
                            None => {
                                out.truncate(start);
                                None
                            }
                        }
                    }
                };
                let Some(words) = appended else {
                    *last_ns = last;
                    return Run { words: i, packets };
                };
                last = ns;
                packets += 1;
                i += words;
            }
            Some(None) => {
                *last_ns = last;
                return Run { words: i, packets };
            }
        }
    }
}

/// The general encoder's bytes of a packet on `sequence` at timestamp `delta`
/// holding `event`, with the flags every packet has: what tests compare the
/// templates' packets with.
#[cfg(all(test, not(tg4p_loom)))]
pub(super) fn encoded<'a, A>(
    sequence: u32,
    delta: u64,
    event: crate::wire::TrackEvent<'a, A>,
) -> Vec<u8>
where
    crate::wire::TracePacket<'a, A>: quick_protobuf::MessageWrite + Default,
{
    let packet = crate::wire::TracePacket {
        timestamp: Some(delta),
        trusted_packet_sequence_id: Some(sequence),
        sequence_flags: SEQ_NEEDS_INCREMENTAL_STATE,
        data: Some(crate::wire::PacketData::TrackEvent(event)),
        ..Default::default()
    };
    let mut out = Vec::new();
    crate::wire::append_packet(&mut out, &packet);
    out
}

#[cfg(all(test, not(tg4p_loom)))]
mod tests {
    use super::*;
    use crate::wire::{
        AnnotationName, AnnotationValue, CounterValue, DebugAnnotation, EventName, TrackEvent,
    };

    /// The packet the general encoder writes for the same event.
    fn general(
        sequence: u32,
        delta: u64,
        kind: EventType,
        iid: Option<u64>,
        counter: Option<(u64, CounterValue)>,
    ) -> Vec<u8> {
        let event: TrackEvent<'_> = TrackEvent {
            kind: Some(kind),
            name: iid.map(EventName::Iid),
            source_location_iid: iid,
            track_uuid: counter.map(|c| c.0),
            counter_value: counter.map(|c| c.1),
            ..Default::default()
        };
        encoded(sequence, delta, event)
    }

    fn begin(sequence: u32, delta: u64, iid: u64) -> Vec<u8> {
        general(sequence, delta, EventType::SliceBegin, Some(iid), None)
    }

    fn end(sequence: u32, delta: u64) -> Vec<u8> {
        general(sequence, delta, EventType::SliceEnd, None, None)
    }

    fn instant(sequence: u32, delta: u64, iid: u64) -> Vec<u8> {
        general(sequence, delta, EventType::Instant, Some(iid), None)
    }

    fn sample(sequence: u32, delta: u64, uuid: u64, value: CounterValue) -> Vec<u8> {
        general(
            sequence,
            delta,
            EventType::Counter,
            None,
            Some((uuid, value)),
        )
    }

    const SEQUENCES: [u32; 5] = [1, 127, 128, 300_000, u32::MAX];
    const DELTAS: [u64; 8] = [0, 1, 127, 128, 16_383, 16_384, 1 << 40, u64::MAX];

    #[test]
    fn templates_encode_what_the_general_encoder_does() {
        let iids = [1, 127, 128, 1 << 40, u64::MAX];
        let kinds = [EventType::SliceBegin, EventType::Instant];
        let cases = iids
            .iter()
            .flat_map(|&iid| kinds.map(|kind| (kind, Some(iid))))
            .chain([(EventType::SliceEnd, None)]);
        for (kind, iid) in cases {
            for sequence in SEQUENCES {
                for delta in DELTAS {
                    let mut out = vec![0xAB; 3];
                    append_packet(&mut out, delta, &Template::new(sequence, kind, iid));
                    assert_eq!(&out[..3], &[0xAB; 3]);
                    assert_eq!(
                        out[3..],
                        general(sequence, delta, kind, iid, None),
                        "{kind:?} on sequence {sequence}, iid {iid:?}, delta {delta}"
                    );
                }
            }
        }
    }

    #[test]
    fn counter_templates_encode_what_the_general_encoder_does() {
        let values = [
            CounterValue::Int(0),
            CounterValue::Int(127),
            CounterValue::Int(128),
            CounterValue::Int(-1),
            CounterValue::Int(i64::MIN),
            CounterValue::Int(i64::MAX),
            CounterValue::Double(0.0),
            CounterValue::Double(-2.5),
            CounterValue::Double(f64::NAN),
        ];
        for uuid in [1, 127, 128, 0x5544_4576_5822_3904, u64::MAX] {
            for sequence in SEQUENCES {
                let template = CounterTemplate::new(sequence, uuid);
                for delta in DELTAS {
                    for value in values {
                        let (bits, float) = match value {
                            CounterValue::Int(v) => (v as u64, false),
                            CounterValue::Double(v) => (v.to_bits(), true),
                        };
                        let mut room = [0; PACKET_ROOM];
                        let len = write_counter(&mut room, delta, &template, bits, float);
                        assert_eq!(
                            room[..len],
                            sample(sequence, delta, uuid, value),
                            "{value:?} on {uuid} on sequence {sequence}, delta {delta}"
                        );
                    }
                }
            }
        }
    }

    fn words(w: &[u64]) -> Vec<AtomicU64> {
        w.iter().map(|&w| AtomicU64::new(w)).collect()
    }

    /// [`append_run`] over `recs` into an empty output, from last timestamp `last`:
    /// what it did, the bytes, and the last timestamp after it.
    fn run_of(
        templates: &Templates,
        recs: &[u64],
        segment: Segment,
        mut last: u64,
    ) -> (Run, Vec<u8>, u64) {
        let mut out = Vec::new();
        let run = append_run(&mut out, &words(recs), templates, segment, &mut last);
        (run, out, last)
    }

    /// The words a recorder writes for string args (as `Chunk::put_str` does).
    fn arg_words(texts: &[&[u8]]) -> Vec<u64> {
        let mut w = Vec::new();
        for t in texts {
            w.push(t.len() as u64);
            for piece in t.chunks(8) {
                let mut b = [0u8; 8];
                b[..piece.len()].copy_from_slice(piece);
                w.push(u64::from_le_bytes(b));
            }
        }
        w
    }

    /// The general encoder's packet of a begin or instant with string args.
    fn with_args(
        sequence: u32,
        delta: u64,
        kind: EventType,
        iid: u64,
        args: &[(u64, &str)],
    ) -> Vec<u8> {
        let annotations: Vec<DebugAnnotation<'_>> = args
            .iter()
            .map(|&(name, text)| DebugAnnotation {
                name: AnnotationName::Iid(name),
                value: AnnotationValue::Str(text),
            })
            .collect();
        let event = TrackEvent {
            debug_annotations: &annotations[..],
            kind: Some(kind),
            name: Some(EventName::Iid(iid)),
            source_location_iid: Some(iid),
            track_uuid: None,
            counter_value: None,
            flow_ids: &[],
            terminating_flow_ids: &[],
            category_iids: &[],
        };
        encoded(sequence, delta, event)
    }

    #[test]
    fn args_events_encode_what_the_general_encoder_does() {
        let long = "é".repeat(700); // 1400 bytes: two-byte lengths all the way up
        let texts: [&str; 6] = [
            "",
            "7",
            "exactly8",
            "a \"quoted\" ünïcode value",
            &long,
            "x",
        ];
        for kind in [EventType::SliceBegin, EventType::Instant] {
            for sequence in [1, 300_000] {
                for iid in [1, 200] {
                    let template = Template::new(sequence, kind, Some(iid));
                    for count in 0..=texts.len() {
                        let arg_iids: Vec<u64> = (0..count as u64).map(|k| 1 + k * 100).collect();
                        let bytes: Vec<&[u8]> =
                            texts[..count].iter().map(|t| t.as_bytes()).collect();
                        let recs = words(&arg_words(&bytes));
                        for delta in [3, 16_384, u64::MAX] {
                            let mut out = vec![0xAB];
                            let used = append_args_event(
                                &mut out, delta, &template, &arg_iids, &recs, count,
                            );
                            assert_eq!(used, Some(recs.len()));
                            let args: Vec<(u64, &str)> = arg_iids
                                .iter()
                                .copied()
                                .zip(texts[..count].iter().copied())
                                .collect();
                            assert_eq!(out[0], 0xAB);
                            assert_eq!(
                                out[1..],
                                with_args(sequence, delta, kind, iid, &args),
                                "{kind:?}, {count} args, delta {delta}"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn args_that_are_cut_short_or_not_utf8_are_left_to_the_general_path() {
        let template = Template::new(1, EventType::SliceBegin, Some(1));
        let full = arg_words(&[b"hello world", b"second"]);
        for cut in 0..full.len() {
            let mut out = vec![0xAB];
            let r = append_args_event(&mut out, 1, &template, &[1, 2], &words(&full[..cut]), 2);
            assert_eq!((r, out.len()), (None, 1), "cut at {cut}");
        }
        let bad = arg_words(&[b"ok", b"\xff\xfe not UTF-8"]);
        let mut out = vec![0xAB];
        let r = append_args_event(&mut out, 1, &template, &[1, 2], &words(&bad), 2);
        assert_eq!((r, out.len()), (None, 1));
    }

    /// The general encoder's packet of a begin or instant with typed args.
    fn with_typed(
        sequence: u32,
        delta: u64,
        kind: EventType,
        iid: u64,
        args: &[(u64, AnnotationValue<'_>)],
    ) -> Vec<u8> {
        let annotations: Vec<DebugAnnotation<'_>> = args
            .iter()
            .map(|&(name, value)| DebugAnnotation {
                name: AnnotationName::Iid(name),
                value,
            })
            .collect();
        let event = TrackEvent {
            debug_annotations: &annotations[..],
            kind: Some(kind),
            name: Some(EventName::Iid(iid)),
            source_location_iid: Some(iid),
            ..Default::default()
        };
        encoded(sequence, delta, event)
    }

    /// The words a recorder writes for typed args (as `record::Event::put` does).
    fn typed_words(args: &[(&str, record::ArgValue<'_>)]) -> Vec<u64> {
        use super::super::super::buffer::Chunk;
        let typed: Vec<record::TypedArg<'_>> = args
            .iter()
            .map(|&(name, value)| record::TypedArg { name, value })
            .collect();
        let event = record::Event::instant(1).typed(&typed);
        let chunk = Chunk::new();
        let end = event.put(&chunk, 0, 0);
        // The args follow the header, tick and callsite id.
        (3..end).map(|i| chunk.word(i)).collect()
    }

    #[test]
    fn typed_args_events_encode_what_the_general_encoder_does() {
        use record::ArgValue as V;
        let long = "é".repeat(700);
        let args: [(&str, V<'_>, AnnotationValue<'_>); 9] = [
            ("n", V::Int(-1), AnnotationValue::Int(-1)),
            ("zero", V::Int(0), AnnotationValue::Int(0)),
            ("u", V::Uint(u64::MAX), AnnotationValue::Uint(u64::MAX)),
            (
                "a longer arg name",
                V::Uint(300),
                AnnotationValue::Uint(300),
            ),
            ("d", V::Double(-2.5), AnnotationValue::Double(-2.5)),
            ("t", V::Bool(true), AnnotationValue::Bool(true)),
            ("f", V::Bool(false), AnnotationValue::Bool(false)),
            ("s", V::Str("ünïcode"), AnnotationValue::Str("ünïcode")),
            ("long", V::Str(&long), AnnotationValue::Str(&long)),
        ];
        for kind in [EventType::SliceBegin, EventType::Instant] {
            for sequence in [1, 300_000] {
                let template = Template::new(sequence, kind, Some(3));
                for count in 0..=args.len() {
                    let names: Vec<TypedName> = args[..count]
                        .iter()
                        .enumerate()
                        .map(|(k, (name, _, _))| {
                            let w = typed_words(&[(name, V::Bool(false))]);
                            TypedName::new(name.len(), &w[1..w.len() - 1], 1 + k as u64 * 90)
                        })
                        .collect();
                    let rec: Vec<(&str, V<'_>)> =
                        args[..count].iter().map(|&(n, v, _)| (n, v)).collect();
                    let recs = words(&typed_words(&rec));
                    for delta in [3, u64::MAX] {
                        let mut out = vec![0xAB];
                        let used =
                            append_typed_event(&mut out, delta, &template, &names, &recs, count);
                        assert_eq!(used, Some(recs.len()));
                        let expected: Vec<(u64, AnnotationValue<'_>)> = names
                            .iter()
                            .zip(&args)
                            .map(|(n, &(_, _, v))| (n.iid, v))
                            .collect();
                        assert_eq!(
                            out[1..],
                            with_typed(sequence, delta, kind, 3, &expected),
                            "{kind:?}, {count} args"
                        );
                    }
                }
                // Another name, a nested value, a cut: the general path's.
                let names = [TypedName::new(1, &[u64::from(b'n')], 5)];
                for (rec, count) in [
                    (typed_words(&[("m", V::Int(1))]), 1),
                    (typed_words(&[("n", V::Tree(&[3, 1]))]), 1),
                    (typed_words(&[("n", V::Int(1))])[..2].to_vec(), 1),
                    (typed_words(&[("n", V::Int(1))]), 2),
                ] {
                    let mut out = vec![0xAB];
                    let r = append_typed_event(&mut out, 1, &template, &names, &words(&rec), count);
                    assert_eq!((r, out.len()), (None, 1));
                }
            }
        }
    }

    /// The words of a callsite-typed record (`record::put_callsite_typed`).
    fn callsite_words(
        instant: bool,
        id: u32,
        tick: u64,
        args: &[record::ArgValue<'_>],
    ) -> Vec<u64> {
        use super::super::super::buffer::Chunk;
        let chunk = Chunk::new();
        let end = record::put_callsite_typed(&chunk, 0, instant, id, tick, args);
        (0..end).map(|i| chunk.word(i)).collect()
    }

    #[test]
    fn callsite_typed_events_encode_what_the_general_encoder_does() {
        use record::ArgValue as V;
        let mut templates = Templates::new(300_000);
        templates.callsites.intern(3, 300_000);
        // Iids of one and of two bytes.
        let iids = [7, 200, 9, 1, 2, 3, 4];
        templates.callsites.set_arg_iids(3, iids.into_iter());
        let long: Vec<String> = (0..40).map(|k| "é".repeat(k * 25)).collect();
        let mut recs = Vec::new();
        let mut expected = Vec::new();
        let mut prev = 0;
        for k in 0..120u64 {
            let text = &long[k as usize % long.len()];
            let tick = 1000 + 7 * k * k;
            let (values, annotations): (Vec<V<'_>>, Vec<AnnotationValue<'_>>) = match k % 4 {
                0 => (
                    vec![V::Int(-(k as i64))],
                    vec![AnnotationValue::Int(-(k as i64))],
                ),
                1 => (
                    vec![
                        V::Uint(k << 40),
                        V::Double(k as f64 / 3.0),
                        V::Bool(k % 8 == 1),
                    ],
                    vec![
                        AnnotationValue::Uint(k << 40),
                        AnnotationValue::Double(k as f64 / 3.0),
                        AnnotationValue::Bool(k % 8 == 1),
                    ],
                ),
                // Strings up to 1950 bytes: some fill a batch, some go outside it.
                2 => (
                    vec![V::Str(text), V::Int(k as i64)],
                    vec![AnnotationValue::Str(text), AnnotationValue::Int(k as i64)],
                ),
                // More args than an `ARGS` record holds: an `EVENT` record.
                3 if k % 8 == 3 => (
                    vec![
                        V::Bool(false),
                        V::Str(text),
                        V::Uint(1),
                        V::Int(-2),
                        V::Double(0.5),
                        V::Uint(k),
                        V::Str("x"),
                    ],
                    vec![
                        AnnotationValue::Bool(false),
                        AnnotationValue::Str(text),
                        AnnotationValue::Uint(1),
                        AnnotationValue::Int(-2),
                        AnnotationValue::Double(0.5),
                        AnnotationValue::Uint(k),
                        AnnotationValue::Str("x"),
                    ],
                ),
                _ => (vec![], vec![]),
            };
            let instant = k % 2 == 0;
            recs.extend(callsite_words(instant, 3, tick, &values));
            let kind = if instant {
                EventType::Instant
            } else {
                EventType::SliceBegin
            };
            let named: Vec<(u64, AnnotationValue<'_>)> =
                iids.into_iter().zip(annotations).collect();
            expected.extend(with_typed(300_000, tick - prev, kind, 1, &named));
            prev = tick;
        }
        let (run, out, last) = run_of(&templates, &recs, Segment::identity(), 0);
        assert_eq!((run.words, run.packets), (recs.len(), 120));
        assert_eq!(last, prev);
        assert_eq!(out, expected);
        // A name in a record, a nested value, a tag that is none, more args than
        // names known, a cut record, text that is not UTF-8, in either form: left
        // to the general path.
        let mut named = callsite_words(true, 3, 5, &[V::Int(1); 6]);
        named[3] |= 1 << 8;
        let mut no_tag = callsite_words(true, 3, 5, &[V::Int(1)]);
        no_tag[0] |= 7 << 12;
        let bad = callsite_words(true, 3, 5, &[V::Str("ab")]);
        let mut not_utf8 = bad.clone();
        not_utf8[3] = 0xfffe;
        let long = callsite_words(false, 3, 5, &[V::Str("ab"); 6]);
        let mut long_not_utf8 = long.clone();
        long_not_utf8[5] = 0xfffe;
        for rec in [
            named,
            no_tag,
            callsite_words(true, 3, 5, &[V::Tree(&[3, 1])]),
            callsite_words(true, 3, 5, &[V::Tree(&[3, 1]); 6]),
            callsite_words(true, 3, 5, &[V::Int(1); 8]),
            bad[..bad.len() - 1].to_vec(),
            long[..long.len() - 1].to_vec(),
            not_utf8,
            long_not_utf8,
        ] {
            let (run, out, _) = run_of(&templates, &rec, Segment::identity(), 0);
            assert_eq!((run.words, run.packets, out.len()), (0, 0, 0), "{rec:?}");
        }
    }

    #[test]
    fn a_run_writes_args_events_between_the_others() {
        let mut templates = Templates::new(4);
        templates.callsites.intern(3, 4);
        templates.callsites.set_arg_iids(3, [7, 8].into_iter());
        let mut recs = Vec::new();
        for k in 0..50u64 {
            // A begin with two args, an instant with one, the end.
            recs.extend([record::PLAIN_BEGIN | 2 << 16, 100 + 10 * k, 3]);
            recs.extend(arg_words(&[format!("{k}").as_bytes(), b"two"]));
            recs.extend([record::PLAIN_INSTANT | 1 << 16, 101 + 10 * k, 3]);
            recs.extend(arg_words(&[b"one"]));
            recs.extend([record::END, 102 + 10 * k]);
        }
        // Three args, more than the iids known: left to the general path.
        let stop_at = recs.len();
        recs.extend([record::PLAIN_BEGIN | 3 << 16, 1000, 3]);
        recs.extend(arg_words(&[b"a", b"b", b"c"]));
        let (run, out, _) = run_of(&templates, &recs, Segment::identity(), 0);
        assert_eq!((run.words, run.packets), (stop_at, 150));
        let mut expected = Vec::new();
        let mut prev = 0;
        for k in 0..50u64 {
            let n = format!("{k}");
            let begin = EventType::SliceBegin;
            expected.extend(with_args(
                4,
                100 + 10 * k - prev,
                begin,
                1,
                &[(7, &n), (8, "two")],
            ));
            expected.extend(with_args(4, 1, EventType::Instant, 1, &[(7, "one")]));
            expected.extend(end(4, 1));
            prev = 102 + 10 * k;
        }
        assert_eq!(out, expected);
    }

    #[test]
    fn a_run_writes_every_kind_and_stops_where_it_cannot_go_on() {
        let mut templates = Templates::new(9);
        assert_eq!(templates.callsites.intern(5, 9), (1, true));
        assert_eq!(templates.callsites.intern(5, 9), (1, false));
        assert_eq!(templates.callsites.intern(2, 9), (2, true));
        templates.add_counter(7, 9, 1234);
        // 200 slices, each with an instant and two samples inside (more than one
        // batch), then a begin of a callsite not interned.
        let mut recs = Vec::new();
        for k in 0..200u64 {
            recs.extend([5 << 8 | record::BEGIN, 1000 + 10 * k]);
            recs.extend([record::PLAIN_INSTANT, 1002 + 10 * k, 2]);
            recs.extend([record::INT_SAMPLE, 1003 + 10 * k, 7, k]);
            recs.extend([record::FLOAT_SAMPLE, 1003 + 10 * k, 7, (k as f64).to_bits()]);
            recs.extend([record::END, 1005 + 10 * k]);
        }
        recs.extend([6 << 8 | record::BEGIN, 5000]);
        let (run, out, last) = run_of(&templates, &recs, Segment::identity(), 990);
        assert_eq!((run.words, run.packets), (3000, 1000));
        assert_eq!(last, 2995);
        let mut expected = Vec::new();
        let mut prev = 990;
        for k in 0..200u64 {
            expected.extend(begin(9, 1000 + 10 * k - prev, 1));
            expected.extend(instant(9, 2, 2));
            expected.extend(sample(9, 1, 1234, CounterValue::Int(k as i64)));
            expected.extend(sample(9, 0, 1234, CounterValue::Double(k as f64)));
            expected.extend(end(9, 2));
            prev = 1005 + 10 * k;
        }
        assert_eq!(out, expected);
    }

    #[test]
    fn a_run_stops_at_other_records_cut_records_and_ticks_outside_the_segment() {
        let mut templates = Templates::new(1);
        templates.callsites.intern(0, 1);
        templates.add_counter(4, 1, 99);
        let run = |recs: &[u64], segment: Segment| {
            let (r, out, _) = run_of(&templates, recs, segment, 0);
            (r.words, r.packets, !out.is_empty())
        };
        let id = Segment::identity();
        // Other EVENT records (an instant with an arg, on a track, of a callsite
        // not interned, a sample of a counter not known), a DROPPED record,
        // records without all their words.
        let with_arg = record::PLAIN_INSTANT | 1 << 16;
        let on_track = record::PLAIN_INSTANT | 1 << 10;
        assert_eq!(run(&[record::END, 7, with_arg, 8, 0], id), (2, 1, true));
        assert_eq!(run(&[record::END, 7, on_track, 8, 0], id), (2, 1, true));
        assert_eq!(run(&[record::PLAIN_INSTANT, 7, 3], id), (0, 0, false));
        assert_eq!(run(&[record::PLAIN_INSTANT, 7, 0], id), (3, 1, true));
        assert_eq!(run(&[record::INT_SAMPLE, 7, 4, 1], id), (4, 1, true));
        assert_eq!(run(&[record::INT_SAMPLE, 7, 5, 1], id), (0, 0, false));
        assert_eq!(run(&[record::FLOAT_SAMPLE, 7, 4], id), (0, 0, false));
        assert_eq!(run(&[record::DROPPED | 1 << 8], id), (0, 0, false));
        assert_eq!(run(&[record::END, 7, record::BEGIN], id), (2, 1, true));
        assert_eq!(
            run(&[record::END, 7, record::PLAIN_INSTANT, 8], id),
            (2, 1, true)
        );
        // A tick before the segment, and one after it.
        let later = Segment::new(100, 0, 1 << 32, 1000);
        assert_eq!(
            run(&[record::END, 150, record::END, 99], later),
            (2, 1, true)
        );
        assert_eq!(run(&[record::END, 1100], later), (0, 0, false));
        // A pair (begin or end, then end) whose second tick is outside the
        // segment: the first record only.
        assert_eq!(
            run(&[record::END, 150, record::END, 1100], later),
            (2, 1, true)
        );
        assert_eq!(
            run(
                &[
                    record::BEGIN,
                    150,
                    record::END,
                    160,
                    record::BEGIN,
                    170,
                    record::END,
                    1100
                ],
                later
            ),
            (6, 3, true)
        );
    }

    #[test]
    fn long_runs_of_slices_encode_what_the_general_encoder_does() {
        // Sequence ids of one and of three bytes; callsites with iids of one and
        // of two bytes (the 200th callsite interned).
        for sequence in [3, 70_000] {
            let mut templates = Templates::new(sequence);
            for id in 0..200 {
                templates.callsites.intern(id, sequence);
            }
            // Deltas at every varint length's edges, the common small ones most
            // often; ticks scaled by a slope of 3/2 from 500 ns on.
            let edges = [0, 1, 127, 128, 16_383, 16_384, 1 << 21, 1 << 35, 1 << 56];
            let segment = Segment::new(10, 500, 3 << 31, u64::MAX / 4);
            let mut recs = Vec::new();
            let mut expected = Vec::new();
            let (mut tick, mut prev) = (10, 400);
            // More records than one reservation of room holds, several times.
            for k in 0..1000u64 {
                tick += if k % 7 == 0 {
                    edges[(k / 7) as usize % edges.len()] * 2 / 3
                } else {
                    k % 90
                };
                let ns = 500 + tick.saturating_sub(10) * 3 / 2;
                // The first record's tick (at 500 ns) goes back from 400: kept
                // at the last timestamp as a delta of 0.
                let ns = ns.max(prev);
                match k % 4 {
                    0 | 2 => {
                        let id: u32 = [0, 199][(k % 8 == 2) as usize];
                        recs.extend([u64::from(id) << 8 | record::BEGIN, tick]);
                        expected.extend(begin(sequence, ns - prev, u64::from(id) + 1));
                    }
                    1 => {
                        recs.extend([record::END, tick]);
                        expected.extend(end(sequence, ns - prev));
                    }
                    _ => {
                        recs.extend([record::PLAIN_END, tick]);
                        expected.extend(end(sequence, ns - prev));
                    }
                }
                prev = ns;
            }
            // A begin of a callsite not interned ends the run.
            recs.extend([200 << 8 | record::BEGIN, tick + 1]);
            let mut out = vec![0xAB];
            let mut last = 400;
            let run = append_run(&mut out, &words(&recs), &templates, segment, &mut last);
            assert_eq!((run.words, run.packets, last), (2000, 1000, prev));
            assert_eq!(out[0], 0xAB);
            assert_eq!(out[1..], expected[..], "sequence {sequence}");
            // A run cut short, at its last tick: the slices before it only.
            let mut out = Vec::new();
            let mut last = 400;
            let cut = &words(&recs[..1999]);
            let run = append_run(&mut out, cut, &templates, segment, &mut last);
            assert_eq!((run.words, run.packets), (1998, 999));
            assert_eq!(out, expected[..out.len()]);
        }
    }

    #[test]
    fn timestamps_never_go_back_within_a_run() {
        let templates = Templates::new(1);
        let recs = [record::END, 50, record::END, 40, record::END, 60];
        let (_, out, last) = run_of(&templates, &recs, Segment::identity(), 45);
        assert_eq!(last, 60);
        let mut expected = end(1, 5);
        expected.extend(end(1, 0));
        expected.extend(end(1, 10));
        assert_eq!(out, expected);
    }
}
