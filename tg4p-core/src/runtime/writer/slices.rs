//! The writer's fast path: slice begins and ends, and plain instants (no args, no
//! flows), on a thread's own track: the bulk of most traces.
//!
//! Such a packet differs from the sequence's earlier ones only in its timestamp: its
//! track and clock are the sequence's defaults, its flags are always the same, and a
//! begin's or instant's name and source location share its callsite's iid. So each
//! sequence keeps these packets pre-encoded as [`Template`]s (one for ends, two per
//! interned callsite: begin and instant), and a packet is its timestamp delta
//! followed by a copy of a template.
//! [`append_run`] turns a run of such records into packets with the clock segment
//! and the sequence's last timestamp held in locals: a few dozen instructions per
//! record, so the writer stays well ahead of a thread recording in a tight loop.

use super::super::buffer;
use super::super::clock::Segment;
use super::super::shim::{AtomicU64, Ordering};
use crate::wire::{EventType, SEQ_NEEDS_INCREMENTAL_STATE};

/// Bytes copied per template: the longest one (a begin with a 5-byte sequence id
/// and two 10-byte iids) takes 35.
const TEMPLATE_BYTES: usize = 40;
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
}

impl Template {
    /// The template of a slice end, on sequence `sequence`.
    pub(super) fn end(sequence: u32) -> Template {
        Template::new(sequence, EventType::SliceEnd, None)
    }

    /// The template of an event of `kind` with no name (`None`: a slice end) or
    /// whose name and source location are interned as `iid`, on sequence `sequence`.
    fn new(sequence: u32, kind: EventType, iid: Option<u64>) -> Template {
        let mut event = Bytes::default();
        event.push(&[9 << 3, kind as u8]); // TrackEvent.type
        if let Some(iid) = iid {
            event.push(&[10 << 3]); // TrackEvent.name_iid
            event.varint(iid);
            event.push(&[0x90, 0x02]); // TrackEvent.source_location_iid (field 34)
            event.varint(iid);
        }
        let mut t = Bytes::default();
        t.push(&[10 << 3]); // TracePacket.trusted_packet_sequence_id
        t.varint(u64::from(sequence));
        t.push(&[(11 << 3) | 2, event.len]); // TracePacket.track_event
        t.push(&event.bytes[..event.len as usize]);
        t.push(&[13 << 3, SEQ_NEEDS_INCREMENTAL_STATE as u8]); // sequence_flags
        Template {
            bytes: t.bytes,
            len: t.len,
        }
    }
}

/// A small byte builder for templates (not on the hot path).
struct Bytes {
    bytes: [u8; TEMPLATE_BYTES],
    len: u8,
}

impl Default for Bytes {
    fn default() -> Bytes {
        Bytes {
            bytes: [0; TEMPLATE_BYTES],
            len: 0,
        }
    }
}

impl Bytes {
    fn push(&mut self, bytes: &[u8]) {
        let at = self.len as usize;
        self.bytes[at..at + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len() as u8;
    }

    fn varint(&mut self, v: u64) {
        let mut buf = [0; 10];
        let n = put_varint(&mut buf, v);
        self.push(&buf[..n]);
    }
}

/// Writes `v` as a varint at the start of `out` (at least 10 bytes long); returns
/// its length (at most 10). The one- and two-byte cases (small ids, deltas below
/// 16 µs) take no loop.
#[inline(always)]
fn put_varint(out: &mut [u8], mut v: u64) -> usize {
    if v < 0x80 {
        out[0] = v as u8;
        return 1;
    }
    if v < 0x4000 {
        out[0] = v as u8 | 0x80;
        out[1] = (v >> 7) as u8;
        return 2;
    }
    let mut n = 0;
    while v >= 0x80 {
        out[n] = v as u8 | 0x80;
        v >>= 7;
        n += 1;
    }
    out[n] = v as u8;
    n + 1
}

/// Writes the packet of `template` at timestamp `delta` into `room`; returns its
/// length in bytes. (With `room` a fixed-size array, the indexing below compiles to
/// at most one bounds check, on the template's offset.)
#[inline(always)]
fn write_packet(room: &mut [u8; PACKET_ROOM], delta: u64, template: &Template) -> usize {
    room[0] = (1 << 3) | 2; // Trace.packet
    room[2] = 8 << 3; // TracePacket.timestamp
    let n = put_varint(&mut room[3..], delta);
    room[3 + n..3 + n + TEMPLATE_BYTES].copy_from_slice(&template.bytes);
    // At most 1 + 10 + 35 bytes: a one-byte length.
    let len = 1 + n + template.len as usize;
    room[1] = len as u8;
    2 + len
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

    /// The iid of callsite `id` on `sequence`, and whether it is new there.
    pub(super) fn intern(&mut self, id: u32, sequence: u32) -> (u64, bool) {
        if let Some(iid) = self.get(id) {
            return (iid, false);
        }
        let id = id as usize;
        if self.iids.len() <= id {
            self.iids.resize(id + 1, 0);
        }
        let iid = self.templates.len() as u64 + 1;
        self.templates.push(CallsiteTemplates {
            begin: Template::new(sequence, EventType::SliceBegin, Some(iid)),
            instant: Template::new(sequence, EventType::Instant, Some(iid)),
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

/// What [`append_run`] did.
pub(super) struct Run {
    /// Words of the records turned into packets.
    pub words: usize,
    /// Packets appended.
    pub packets: u64,
}

/// Appends packets for the records at the start of `records` as long as they are
/// thread-track begins or plain instants of callsites interned in `callsites`, or
/// ends, with ticks inside `segment`; stops at the first other record (or a record
/// cut short by the end of `records`). `last_ns` is the sequence's last timestamp,
/// which the packets' deltas advance (never backwards).
pub(super) fn append_run(
    out: &mut Vec<u8>,
    records: &[AtomicU64],
    callsites: &Callsites,
    end: &Template,
    segment: Segment,
    last_ns: &mut u64,
) -> Run {
    let mut i = 0;
    let mut packets: u64 = 0;
    let mut last = *last_ns;
    loop {
        let base = out.len();
        out.resize(base + BATCH * PACKET_ROOM, 0);
        let room = &mut out[base..];
        let mut pos = 0;
        let mut written: usize = 0;
        let stopped = loop {
            if written == BATCH {
                break false;
            }
            let (Some(head), Some(tick)) = (records.get(i), records.get(i + 1)) else {
                break true;
            };
            // Relaxed: the caller read these words below the chunk's published
            // count, loaded with Acquire (see `buffer`).
            let head = head.load(Ordering::Relaxed);
            let (template, words) = match head & 0xff {
                buffer::BEGIN => match callsites.begin((head >> 8) as u32) {
                    Some(t) => (t, 2),
                    None => break true,
                },
                buffer::END => (end, 2),
                buffer::EVENT if head == buffer::PLAIN_INSTANT => {
                    let id = records.get(i + 2).map(|w| w.load(Ordering::Relaxed) as u32);
                    match id.and_then(|id| callsites.instant(id)) {
                        Some(t) => (t, 3),
                        None => break true,
                    }
                }
                _ => break true,
            };
            let Some(ns) = segment.ns_of(tick.load(Ordering::Relaxed)) else {
                break true;
            };
            // Per-sequence timestamps never go back (deltas are unsigned); a tick
            // converted with a refined calibration may land a few ns early.
            let ns = ns.max(last);
            let delta = ns - last;
            let Some(packet) = room[pos..].first_chunk_mut::<PACKET_ROOM>() else {
                break true; // not reached: the batch reserved room for BATCH packets
            };
            pos += write_packet(packet, delta, template);
            last = ns;
            written += 1;
            i += words;
        };
        out.truncate(base + pos);
        packets += written as u64;
        if stopped {
            *last_ns = last;
            return Run { words: i, packets };
        }
    }
}

#[cfg(all(test, not(tg4p_loom)))]
mod tests {
    use super::*;
    use crate::wire::{self, EventName, PacketData, TracePacket, TrackEvent};

    /// The packet the general encoder writes for the same event.
    fn general(sequence: u32, delta: u64, kind: EventType, iid: Option<u64>) -> Vec<u8> {
        let event: TrackEvent<'_> = TrackEvent {
            kind: Some(kind),
            name: iid.map(EventName::Iid),
            source_location_iid: iid,
            ..Default::default()
        };
        let packet = TracePacket {
            timestamp: Some(delta),
            trusted_packet_sequence_id: Some(sequence),
            sequence_flags: SEQ_NEEDS_INCREMENTAL_STATE,
            data: Some(PacketData::TrackEvent(event)),
            ..Default::default()
        };
        let mut out = Vec::new();
        wire::append_packet(&mut out, &packet);
        out
    }

    fn begin(sequence: u32, delta: u64, iid: u64) -> Vec<u8> {
        general(sequence, delta, EventType::SliceBegin, Some(iid))
    }

    fn end(sequence: u32, delta: u64) -> Vec<u8> {
        general(sequence, delta, EventType::SliceEnd, None)
    }

    fn instant(sequence: u32, delta: u64, iid: u64) -> Vec<u8> {
        general(sequence, delta, EventType::Instant, Some(iid))
    }

    #[test]
    fn templates_encode_what_the_general_encoder_does() {
        let iids = [1, 127, 128, 1 << 40, u64::MAX];
        let kinds = [EventType::SliceBegin, EventType::Instant];
        let cases = iids
            .iter()
            .flat_map(|&iid| kinds.map(|kind| (kind, Some(iid))))
            .chain([(EventType::SliceEnd, None)]);
        for (kind, iid) in cases {
            for sequence in [1, 127, 128, 300_000, u32::MAX] {
                for delta in [0, 1, 127, 128, 16_383, 16_384, 1 << 40, u64::MAX] {
                    let mut out = vec![0xAB; 3];
                    append_packet(&mut out, delta, &Template::new(sequence, kind, iid));
                    assert_eq!(&out[..3], &[0xAB; 3]);
                    assert_eq!(
                        out[3..],
                        general(sequence, delta, kind, iid),
                        "{kind:?} on sequence {sequence}, iid {iid:?}, delta {delta}"
                    );
                }
            }
        }
    }

    fn words(w: &[u64]) -> Vec<AtomicU64> {
        w.iter().map(|&w| AtomicU64::new(w)).collect()
    }

    #[test]
    fn a_run_writes_begins_ends_and_instants_and_stops_where_it_cannot_go_on() {
        let mut callsites = Callsites::default();
        assert_eq!(callsites.intern(5, 9), (1, true));
        assert_eq!(callsites.intern(5, 9), (1, false));
        assert_eq!(callsites.intern(2, 9), (2, true));
        let end_template = Template::end(9);
        // 200 slices, each with an instant inside (more than one batch), then a
        // begin of a callsite not interned.
        let mut recs = Vec::new();
        for k in 0..200u64 {
            recs.extend([5 << 8 | buffer::BEGIN, 1000 + 10 * k]);
            recs.extend([buffer::PLAIN_INSTANT, 1002 + 10 * k, 2]);
            recs.extend([buffer::END, 1005 + 10 * k]);
        }
        recs.extend([6 << 8 | buffer::BEGIN, 5000]);
        let mut out = Vec::new();
        let mut last = 990;
        let run = append_run(
            &mut out,
            &words(&recs),
            &callsites,
            &end_template,
            Segment::identity(),
            &mut last,
        );
        assert_eq!((run.words, run.packets), (1400, 600));
        assert_eq!(last, 2995);
        let mut expected = Vec::new();
        let mut prev = 990;
        for k in 0..200u64 {
            expected.extend(begin(9, 1000 + 10 * k - prev, 1));
            expected.extend(instant(9, 2, 2));
            expected.extend(end(9, 3));
            prev = 1005 + 10 * k;
        }
        assert_eq!(out, expected);
    }

    #[test]
    fn a_run_stops_at_other_records_cut_records_and_ticks_outside_the_segment() {
        let mut callsites = Callsites::default();
        callsites.intern(0, 1);
        let end_template = Template::end(1);
        let run = |recs: &[u64], segment: Segment| {
            let mut out = Vec::new();
            let mut last = 0;
            let r = append_run(
                &mut out,
                &words(recs),
                &callsites,
                &end_template,
                segment,
                &mut last,
            );
            (r.words, r.packets, !out.is_empty())
        };
        let id = Segment::identity();
        // Other EVENT records (an instant with an arg, on a track, of a callsite
        // not interned), a DROPPED record, records without all their words.
        let with_arg = buffer::PLAIN_INSTANT | 1 << 16;
        let on_track = buffer::PLAIN_INSTANT | 1 << 10;
        assert_eq!(run(&[buffer::END, 7, with_arg, 8, 0], id), (2, 1, true));
        assert_eq!(run(&[buffer::END, 7, on_track, 8, 0], id), (2, 1, true));
        assert_eq!(run(&[buffer::PLAIN_INSTANT, 7, 3], id), (0, 0, false));
        assert_eq!(run(&[buffer::PLAIN_INSTANT, 7, 0], id), (3, 1, true));
        assert_eq!(run(&[buffer::DROPPED | 1 << 8], id), (0, 0, false));
        assert_eq!(run(&[buffer::END, 7, buffer::BEGIN], id), (2, 1, true));
        assert_eq!(
            run(&[buffer::END, 7, buffer::PLAIN_INSTANT, 8], id),
            (2, 1, true)
        );
        // A tick before the segment, and one after it.
        let later = Segment::for_test(100, 0, 1 << 32, 1000);
        assert_eq!(
            run(&[buffer::END, 150, buffer::END, 99], later),
            (2, 1, true)
        );
        assert_eq!(run(&[buffer::END, 1100], later), (0, 0, false));
    }

    #[test]
    fn timestamps_never_go_back_within_a_run() {
        let callsites = Callsites::default();
        let end_template = Template::end(1);
        let recs = words(&[buffer::END, 50, buffer::END, 40, buffer::END, 60]);
        let mut out = Vec::new();
        let mut last = 45;
        append_run(
            &mut out,
            &recs,
            &callsites,
            &end_template,
            Segment::identity(),
            &mut last,
        );
        let mut expected = end(1, 5);
        expected.extend(end(1, 0));
        expected.extend(end(1, 10));
        assert_eq!(out, expected);
    }
}
