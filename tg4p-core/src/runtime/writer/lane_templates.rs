//! The writer's fast path for slices on custom tracks: begins with no args,
//! flows or run-time name (`TRACK.span("x")`, `span!(TRACK, "x")`,
//! `#[trace(track = TRACK)]`) and plain ends, on any lane.
//!
//! Such a packet differs from the sequence's earlier ones for the same callsite
//! and lane only in its timestamp: the track event's category, type, name,
//! `track_uuid` and source location are those the general path wrote for the
//! first one. So each sequence keeps, once the general path has written one
//! (and described the lane), a [`LaneTemplate`] per (callsite, lane) for begins
//! and per lane for ends; [`append_run`] turns a run of such records into
//! packets: a timestamp delta and a copy of the template each. The bytes are the
//! general encoder's, field for field (a test below pins them).

use super::super::clock::Segment;
use super::super::record::{LANE_BEGIN, LANE_END};
use super::super::shim::{AtomicU64, Ordering};
use super::templates::{Bytes, track_event_fields, write_timed_packet_uninit};
use crate::wire::EventType;
use crate::wire::tags::{
    EVENT_CATEGORY_IID, EVENT_NAME_IID, EVENT_SOURCE_LOCATION_IID, EVENT_TRACK_UUID, EVENT_TYPE,
};
use crate::wire::varint;

/// Bytes copied per template: the longest (a begin with a 5-byte sequence id, a
/// 10-byte category iid, 5-byte callsite iids and a 10-byte uuid) takes 47.
const TEMPLATE_BYTES: usize = 48;
/// Room for one packet: its tag and one-byte length, the timestamp's tag and
/// varint, and a whole template copy.
const PACKET_ROOM: usize = 3 + varint::MAX_LEN + TEMPLATE_BYTES;
/// Packets written per output reservation (as the thread-track templates do).
const BATCH: usize = 32;

/// The `TracePacket` fields of a slice begin or end on a lane after its
/// timestamp: `trusted_packet_sequence_id`, the `TrackEvent` and `sequence_flags`.
#[derive(Clone, Copy, Debug)]
pub(super) struct LaneTemplate {
    bytes: [u8; TEMPLATE_BYTES],
    len: u8,
}

impl LaneTemplate {
    /// A slice begin of the callsite interned as `iid` (name and source
    /// location), in the category interned as `category` (if any), on the lane
    /// `uuid`, on `sequence`.
    pub(super) fn begin(sequence: u32, iid: u64, category: Option<u64>, uuid: u64) -> LaneTemplate {
        let mut event = Bytes::<TEMPLATE_BYTES>::default();
        if let Some(c) = category {
            event.push(&[EVENT_CATEGORY_IID]);
            event.varint(c);
        }
        event.push(&[EVENT_TYPE, EventType::SliceBegin as u8]);
        event.push(&[EVENT_NAME_IID]);
        event.varint(iid);
        event.push(&[EVENT_TRACK_UUID]);
        event.varint(uuid);
        event.push(&EVENT_SOURCE_LOCATION_IID);
        event.varint(iid);
        LaneTemplate::packet(sequence, &event)
    }

    /// A slice end on the lane `uuid`, on `sequence`.
    pub(super) fn end(sequence: u32, uuid: u64) -> LaneTemplate {
        let mut event = Bytes::<TEMPLATE_BYTES>::default();
        event.push(&[EVENT_TYPE, EventType::SliceEnd as u8]);
        event.push(&[EVENT_TRACK_UUID]);
        event.varint(uuid);
        LaneTemplate::packet(sequence, &event)
    }

    fn packet(sequence: u32, event: &Bytes<TEMPLATE_BYTES>) -> LaneTemplate {
        let (t, _) = track_event_fields(sequence, event);
        LaneTemplate {
            bytes: t.bytes,
            len: t.len,
        }
    }
}

/// A sequence's lane templates.
#[derive(Default)]
pub(super) struct LaneTemplates {
    /// `begins[callsite]`: by lane (`track << 32 | lane`, as records hold it).
    begins: Vec<Vec<(u64, LaneTemplate)>>,
    /// `ends[track][lane]` (track ids and lanes are small indices).
    ends: Vec<Vec<Option<LaneTemplate>>>,
}

impl LaneTemplates {
    /// Keeps the template of begins of `callsite` on `lane`.
    pub(super) fn add_begin(&mut self, callsite: u32, lane: u64, template: LaneTemplate) {
        let id = callsite as usize;
        if self.begins.len() <= id {
            self.begins.resize_with(id + 1, Vec::new);
        }
        if !self.begins[id].iter().any(|(l, _)| *l == lane) {
            self.begins[id].push((lane, template));
        }
    }

    /// Keeps the template of ends on `lane`.
    pub(super) fn add_end(&mut self, lane: u64, template: LaneTemplate) {
        let (track, lane) = ((lane >> 32) as usize, lane as u32 as usize);
        if self.ends.len() <= track {
            self.ends.resize_with(track + 1, Vec::new);
        }
        let on = &mut self.ends[track];
        if on.len() <= lane {
            on.resize(lane + 1, None);
        }
        on[lane].get_or_insert(template);
    }

    #[inline]
    fn end(&self, lane: u64) -> Option<&LaneTemplate> {
        let on = self.ends.get((lane >> 32) as usize)?;
        on.get(lane as u32 as usize)?.as_ref()
    }

    #[inline]
    fn begin(&self, callsite: u64, lane: u64) -> Option<&LaneTemplate> {
        let on = self.begins.get(usize::try_from(callsite).ok()?)?;
        on.iter().find(|(l, _)| *l == lane).map(|(_, t)| t)
    }

    pub(super) fn clear(&mut self) {
        self.begins.clear();
        self.ends.clear();
    }
}

/// What [`append_run`] did.
pub(super) struct Run {
    /// Words of the records turned into packets.
    pub words: usize,
    /// Packets appended.
    pub packets: u64,
}

/// Appends packets for the records at the start of `records` as long as they
/// are plain lane begins and ends that `templates` knows, with ticks inside
/// `segment` and not before the sequence's last timestamp `last_ns` (which the
/// packets' deltas advance); stops at the first other record (or one cut short):
/// the general path writes it.
///
/// As the thread-track loop (`templates::append_slices`): it writes into `out`'s
/// spare capacity without zero-filling it first, and a loop's begins, which
/// mostly repeat one callsite on one lane, take no template look-up.
pub(super) fn append_run(
    out: &mut Vec<u8>,
    records: &[AtomicU64],
    templates: &LaneTemplates,
    segment: Segment,
    last_ns: &mut u64,
) -> Run {
    // Relaxed loads: the caller read these words below the chunk's published
    // count, loaded with Acquire (see `buffer`).
    let load = |w: &AtomicU64| w.load(Ordering::Relaxed);
    let mut packets = 0u64;
    let mut last = *last_ns;
    let mut rest = records;
    // The last begin's (callsite, lane) and template.
    let mut begin: Option<((u64, u64), &LaneTemplate)> = None;
    loop {
        out.reserve(BATCH * PACKET_ROOM);
        let base = out.len();
        let spare = out.spare_capacity_mut();
        let mut pos = 0;
        let stop = loop {
            let Some(room) = spare
                .get_mut(pos..)
                .and_then(|r| r.first_chunk_mut::<PACKET_ROOM>())
            else {
                break false;
            };
            let (template, tick, tail) = match rest {
                [head, tick, id, lane, tail @ ..] if load(head) == LANE_BEGIN => {
                    let key = (load(id), load(lane));
                    let template = match begin {
                        Some((k, t)) if k == key => t,
                        _ => match templates.begin(key.0, key.1) {
                            Some(t) => {
                                begin = Some((key, t));
                                t
                            }
                            None => break true,
                        },
                    };
                    (template, tick, tail)
                }
                [head, tick, lane, tail @ ..] if load(head) == LANE_END => {
                    match templates.end(load(lane)) {
                        Some(t) => (t, tick, tail),
                        None => break true,
                    }
                }
                _ => break true,
            };
            // A tick before the last one (a slice begun in the past) is written by
            // the general path, in absolute time.
            let Some(ns) = segment.ns_of(load(tick)).filter(|&ns| ns >= last) else {
                break true;
            };
            pos += write_timed_packet_uninit(room, ns - last, &template.bytes, template.len);
            last = ns;
            packets += 1;
            rest = tail;
        };
        // SAFETY: the packets written follow each other from `base`, and
        // `write_timed_packet_uninit` initialised every byte of each (the first
        // `len` bytes of its room, `len` the length it returned): `out`'s first
        // `base + pos` bytes are initialised, and `pos` is within the spare
        // capacity (each room was a chunk of it).
        unsafe { out.set_len(base + pos) };
        if stop {
            break;
        }
    }
    *last_ns = last;
    Run {
        words: records.len() - rest.len(),
        packets,
    }
}

#[cfg(all(test, not(tg4p_loom)))]
mod tests {
    use super::super::super::buffer::Chunk;
    use super::super::super::record::{Event, LaneRef};
    use super::super::templates::encoded;
    use super::*;
    use crate::wire::{EventName, TrackEvent};

    /// The general encoder's packet of a slice begin (callsite `iid`) or end
    /// (`None`) on the lane `uuid`.
    fn general(sequence: u32, delta: u64, begin: Option<(u64, Option<u64>)>, uuid: u64) -> Vec<u8> {
        let category: Vec<u64> = begin.and_then(|(_, c)| c).into_iter().collect();
        let event: TrackEvent<'_> = TrackEvent {
            kind: Some(if begin.is_some() {
                EventType::SliceBegin
            } else {
                EventType::SliceEnd
            }),
            name: begin.map(|(iid, _)| EventName::Iid(iid)),
            source_location_iid: begin.map(|(iid, _)| iid),
            track_uuid: Some(uuid),
            category_iids: &category,
            ..Default::default()
        };
        encoded(sequence, delta, event)
    }

    /// The records a recording thread writes (`record::Event::put`).
    fn records(events: &[(Event<'_>, u64)]) -> Chunk {
        let chunk = Chunk::new();
        let mut pos = 0;
        for (e, tick) in events {
            pos = e.at(*tick).put(&chunk, pos, 0);
        }
        chunk.publish(pos);
        chunk
    }

    /// [`append_run`] over all the records of `chunk`, at identity ticks.
    fn run_all(t: &LaneTemplates, chunk: &Chunk, out: &mut Vec<u8>, last: &mut u64) -> Run {
        let (_, end) = chunk.unread();
        append_run(out, chunk.words(0, end), t, Segment::identity(), last)
    }

    #[test]
    fn lane_begins_and_ends_encode_what_the_general_encoder_does() {
        for sequence in [1, 300_000, u32::MAX] {
            for (iid, category) in [
                (1, None),
                (u64::from(u32::MAX), Some(u64::MAX)),
                (200, Some(3)),
            ] {
                for uuid in [1, u64::MAX, 0x1234_5678_9abc] {
                    let lane = LaneRef { track: 7, lane: 3 };
                    let word = 7 << 32 | 3;
                    let mut t = LaneTemplates::default();
                    t.add_begin(9, word, LaneTemplate::begin(sequence, iid, category, uuid));
                    t.add_end(word, LaneTemplate::end(sequence, uuid));
                    let chunk = records(&[
                        (Event::begin(9).on(lane), 100),
                        (Event::end().on(lane), 100 + (1 << 40)),
                    ]);
                    let (mut out, mut last) = (Vec::new(), 40);
                    let run = run_all(&t, &chunk, &mut out, &mut last);
                    let end = chunk.unread().1;
                    assert_eq!((run.words, run.packets, last), (end, 2, 100 + (1 << 40)));
                    let mut expected = general(sequence, 60, Some((iid, category)), uuid);
                    expected.extend(general(sequence, 1 << 40, None, uuid));
                    assert_eq!(
                        out, expected,
                        "seq {sequence}, iid {iid}, {category:?}, uuid {uuid}"
                    );
                }
            }
        }
    }

    #[test]
    fn long_runs_over_lanes_and_callsites_encode_what_the_general_encoder_does() {
        // Two lanes, two callsites, deltas on both sides of a one-byte varint,
        // more packets than one reservation of room holds.
        let lanes = [LaneRef { track: 7, lane: 0 }, LaneRef { track: 7, lane: 5 }];
        let uuids = [11, 0x1234_5678_9abc];
        let mut t = LaneTemplates::default();
        for (k, l) in lanes.iter().enumerate() {
            let word = u64::from(l.track) << 32 | u64::from(l.lane);
            for callsite in [3u32, 9] {
                let template = LaneTemplate::begin(1, u64::from(callsite) + 1, None, uuids[k]);
                t.add_begin(callsite, word, template);
            }
            t.add_end(word, LaneTemplate::end(1, uuids[k]));
        }
        let (mut events, mut expected) = (Vec::new(), Vec::new());
        let (mut tick, mut prev) = (100u64, 50u64);
        for n in 0..100u64 {
            let k = (n / 3 % 2) as usize;
            let callsite = if n % 5 == 0 { 9 } else { 3 };
            tick += n % 200;
            events.push((Event::begin(callsite).on(lanes[k]), tick));
            let iid = u64::from(callsite) + 1;
            expected.extend(general(1, tick - prev, Some((iid, None)), uuids[k]));
            prev = tick;
            tick += 1 + n * 7 % 300;
            events.push((Event::end().on(lanes[k]), tick));
            expected.extend(general(1, tick - prev, None, uuids[k]));
            prev = tick;
        }
        let chunk = records(&events);
        let (mut out, mut last) = (vec![0xAB], 50);
        let run = run_all(&t, &chunk, &mut out, &mut last);
        assert_eq!(
            (run.words, run.packets, last),
            (chunk.unread().1, 200, tick)
        );
        assert_eq!(out[0], 0xAB);
        assert_eq!(out[1..], expected[..]);
    }

    #[test]
    fn compact_lane_records_are_the_events_they_stand_for() {
        use super::super::super::record::{put_lane_begin, put_lane_end};
        let lane = LaneRef {
            track: 0xdead,
            lane: 0xbeef,
        };
        let (compact, general) = (Chunk::new(), Chunk::new());
        let at = put_lane_begin(&compact, 0, 77, lane, 1234);
        let end = put_lane_end(&compact, at, lane, 5678);
        let g = Event::begin(77).on(lane).put(&general, 0, 1234);
        assert_eq!(g, at);
        assert_eq!(Event::end().on(lane).put(&general, g, 5678), end);
        for i in 0..end {
            assert_eq!(compact.word(i), general.word(i), "word {i}");
        }
        assert_eq!((compact.word(0), compact.word(at)), (LANE_BEGIN, LANE_END));
    }

    #[test]
    fn a_run_stops_at_what_it_does_not_know() {
        let lane = LaneRef { track: 2, lane: 1 };
        let other = LaneRef { track: 2, lane: 2 };
        let word = 2 << 32 | 1;
        let mut t = LaneTemplates::default();
        t.add_begin(4, word, LaneTemplate::begin(1, 1, None, 99));
        t.add_end(word, LaneTemplate::end(1, 99));
        let run = |events: &[(Event<'_>, u64)], last: u64| {
            let (mut out, mut last) = (Vec::new(), last);
            let r = run_all(&t, &records(events), &mut out, &mut last);
            (r.words, r.packets)
        };
        let begin = Event::begin(4).on(lane);
        let end = Event::end().on(lane);
        // Known begin and end, then: another callsite, another lane, a thread-track
        // end, a begin with flows, a begin in the past.
        assert_eq!(
            run(&[(begin, 5), (end, 6), (Event::begin(5).on(lane), 7)], 0),
            (7, 2)
        );
        assert_eq!(run(&[(end, 6), (Event::begin(4).on(other), 7)], 0), (3, 1));
        assert_eq!(run(&[(end, 6), (Event::end().on(other), 7)], 0), (3, 1));
        assert_eq!(run(&[(end, 6), (Event::end(), 7)], 0), (3, 1));
        assert_eq!(run(&[(end, 6), (begin.flows(&[1], &[]), 7)], 0), (3, 1));
        assert_eq!(run(&[(end, 6), (begin, 5)], 0), (3, 1));
        assert_eq!(run(&[(begin, 5)], 6), (0, 0));
        // A record cut short.
        let chunk = records(&[(begin, 5)]);
        let mut out = Vec::new();
        let r = append_run(&mut out, chunk.words(0, 3), &t, Segment::identity(), &mut 0);
        assert_eq!((r.words, r.packets, out.len()), (0, 0, 0));
    }
}
