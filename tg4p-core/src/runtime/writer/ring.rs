//! Ring mode ([`Overflow::Ring`](crate::runtime::Overflow::Ring)): the flight recorder.
//!
//! The writer keeps the threads' full chunks of records, in the order it receives
//! them, instead of turning them into packets; when it holds more than the memory
//! limit allows (keeping one spare buffer per recording thread, and one more, so
//! threads rarely wait), it evicts the oldest chunk: it counts the chunk's events
//! per sequence as overwritten, notes the newest tick it held, and returns the
//! chunk to the pool. Memory is thus the limit, whatever the run's length; the
//! recording threads' path is the same as in the other modes.
//!
//! A snapshot (and the end of the session) writes the records held then, the
//! threads' live chunks included, as a trace of its own:
//! - **The window.** Its start is the tick after the newest evicted record of any
//!   thread; records before it are left out too, so the trace holds *every* event
//!   from the window's start on, on every thread, and none before.
//! - **Sequences restart.** Each thread's sequence starts afresh: incremental
//!   state cleared, its clock re-anchored with a `ClockSnapshot`, interned names
//!   and tracks described again in the window.
//! - **Slices cut by the window.** An end whose begin fell before the window is
//!   dropped (trace_processor would count it as an end without a begin); a slice
//!   still open when the snapshot is taken is closed at the snapshot's time, so the
//!   trace is balanced. (Synthesizing begins at the window's start would need each
//!   open slice's name and args from evicted records, which are gone.)
//! - **Loss.** Events before the window (and the dropped ends) count as lost:
//!   each thread's sequence starts with `previous_packet_dropped` and a
//!   [`LOSS_MARKER`](super::LOSS_MARKER) instant saying how many of its events the
//!   window left out, and the closing `trace_stats` adds them to the events
//!   dropped, as for any loss.

use super::{Writer, Written};
use crate::intern::FxHashMap;
use crate::runtime::buffer::Chunk;
use crate::runtime::handoff::Slot;
use crate::runtime::record::{self, EventHeader, Head, Ty};
use crate::runtime::shim::{Arc, Ordering, lock};
use crate::wire::{EventType, TraceStats, TrackEvent};
use std::collections::VecDeque;
use std::io::Write;

/// A chunk the ring holds: its thread, and the words it had published.
struct Held {
    slot: Arc<Slot>,
    chunk: Arc<Chunk>,
    end: usize,
}

/// What eviction took from one sequence.
#[derive(Clone, Copy, Default)]
struct Evicted {
    /// Events (begins, ends, instants, samples) overwritten.
    events: u64,
    /// Events dropped (DROPPED records) before the evicted records' end.
    drops: u64,
    /// The newest tick of its evicted records.
    last_tick: Option<u64>,
}

/// The ring of held chunks.
pub(super) struct Ring {
    max_chunks: usize,
    held: VecDeque<Held>,
    evicted: FxHashMap<u32, Evicted>,
    /// Every thread seen, for its drop count and sequence.
    slots: FxHashMap<u32, Arc<Slot>>,
    /// The records of one chunk, filtered, as the writer's reader reads them.
    scratch: Chunk,
    /// Snapshots asked for while one was being written.
    deferred: Vec<super::Msg>,
}

/// Which track a slice record nests on.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Key {
    /// The thread's own track.
    Thread(u32),
    /// Lane `lane` of custom track `track`.
    Lane(u32, u32),
}

/// One record, as the ring needs to know it.
#[derive(Clone, Copy, Debug)]
enum Rec {
    /// A slice begin (`true`) or end on `key`.
    Slice { tick: u64, key: Key, begin: bool },
    /// An instant or counter sample.
    Other { tick: u64 },
    /// `count` events dropped.
    Dropped { count: u64 },
}

/// The records of `chunk` below `end`, with their start and length in words.
/// Stops at anything it cannot read (never happens with whole published records).
fn walk(chunk: &Chunk, sequence: u32, end: usize) -> impl Iterator<Item = (usize, usize, Rec)> {
    let mut i = 0;
    std::iter::from_fn(move || {
        if i >= end {
            return None;
        }
        let at = i;
        let (len, rec) = match Head::of(chunk.word(i)) {
            Head::ThreadBegin { .. } | Head::ThreadEnd if i + 1 < end => (
                record::THREAD_SLICE_WORDS,
                Rec::Slice {
                    tick: chunk.word(i + 1),
                    key: Key::Thread(sequence),
                    begin: matches!(Head::of(chunk.word(i)), Head::ThreadBegin { .. }),
                },
            ),
            Head::Dropped { count } => (1, Rec::Dropped { count }),
            Head::Args(h) => {
                let len = record::args_record_len(chunk, i, end)?;
                let tick = chunk.word(i + 1);
                let rec = if h.instant {
                    Rec::Other { tick }
                } else {
                    Rec::Slice {
                        tick,
                        key: Key::Thread(sequence),
                        begin: true,
                    }
                };
                (len, rec)
            }
            Head::Event => {
                let len = record::event_len(chunk, i, end)?;
                let h = EventHeader::decode(chunk.word(i));
                let tick = chunk.word(i + 1);
                let rec = match h.ty {
                    Ty::Begin | Ty::End => {
                        let key = if h.has_track {
                            let w = chunk.word(i + 2 + (h.ty != Ty::End) as usize);
                            Key::Lane((w >> 32) as u32, w as u32)
                        } else {
                            Key::Thread(sequence)
                        };
                        Rec::Slice {
                            tick,
                            key,
                            begin: h.ty == Ty::Begin,
                        }
                    }
                    Ty::Instant | Ty::Counter => Rec::Other { tick },
                };
                (len, rec)
            }
            _ => return None,
        };
        i += len;
        Some((at, len, rec))
    })
}

/// What a snapshot found out about one sequence before writing it.
#[derive(Default)]
struct Plan {
    /// Events left out: overwritten, before the window, or ends cut from their begin.
    lost: u64,
    /// Dropped events announced before the window.
    drops_before: u64,
    /// Whether a record of the sequence is in the window yet.
    in_window: bool,
    /// Open slices on the thread's track.
    depth: u64,
}

/// What a snapshot keeps of each record: the same decision in the planning pass
/// and in the writing pass.
struct Filter {
    window_start: u64,
    plans: FxHashMap<u32, Plan>,
    /// Lane ends whose begin is not in the window: (held index, word).
    cut_lane_ends: std::collections::HashSet<(usize, usize)>,
}

impl Filter {
    /// Whether record `rec` of `sequence` (at word `at` of part `part`) is kept,
    /// counting what is left out.
    fn keep(&mut self, sequence: u32, part: usize, at: usize, rec: Rec) -> bool {
        let plan = self.plans.entry(sequence).or_default();
        match rec {
            Rec::Dropped { count } => {
                if !plan.in_window {
                    plan.drops_before += count;
                }
                plan.in_window
            }
            Rec::Other { tick } | Rec::Slice { tick, .. } if tick < self.window_start => {
                plan.lost += 1;
                false
            }
            Rec::Other { .. } => {
                plan.in_window = true;
                true
            }
            Rec::Slice { key, begin, .. } => {
                plan.in_window = true;
                match key {
                    Key::Thread(_) if begin => plan.depth += 1,
                    Key::Thread(_) if plan.depth == 0 => {
                        plan.lost += 1;
                        return false;
                    }
                    Key::Thread(_) => plan.depth -= 1,
                    Key::Lane(..) => {
                        if self.cut_lane_ends.contains(&(part, at)) {
                            plan.lost += 1;
                            return false;
                        }
                    }
                }
                true
            }
        }
    }
}

impl Ring {
    pub(super) fn new(max_chunks: usize) -> Ring {
        Ring {
            max_chunks,
            held: VecDeque::new(),
            evicted: FxHashMap::default(),
            slots: FxHashMap::default(),
            scratch: Chunk::new(),
            deferred: Vec::new(),
        }
    }

    /// Keeps the full chunk `chunk` of `slot`.
    pub(super) fn push(&mut self, slot: &Arc<Slot>, chunk: Arc<Chunk>) {
        self.slots
            .entry(slot.sequence)
            .or_insert_with(|| slot.clone());
        let end = chunk.unread().1;
        self.held.push_back(Held {
            slot: slot.clone(),
            chunk,
            end,
        });
    }

    /// Evicts the oldest chunks until, with one buffer per live thread in use and
    /// as many spare, plus one, the pool stays within its limit; each evicted chunk
    /// goes back to the pool through `free`.
    pub(super) fn evict(&mut self, live_threads: usize, mut free: impl FnMut(Arc<Chunk>)) {
        let keep = self.max_chunks.saturating_sub(2 * live_threads + 1);
        while self.held.len() > keep {
            let Some(h) = self.held.pop_front() else {
                break;
            };
            let e = self.evicted.entry(h.slot.sequence).or_default();
            for (_, _, rec) in walk(&h.chunk, h.slot.sequence, h.end) {
                match rec {
                    Rec::Dropped { count } => e.drops += count,
                    Rec::Slice { tick, .. } | Rec::Other { tick } => {
                        e.events += 1;
                        e.last_tick = Some(e.last_tick.map_or(tick, |t: u64| t.max(tick)));
                    }
                }
            }
            h.chunk.reset();
            free(h.chunk);
        }
    }
}

impl Writer {
    /// Ring mode: keeps `chunk` of `slot` (if any) and evicts what no longer fits.
    pub(super) fn ring_receive(&mut self, slot: &Arc<Slot>, chunk: Option<Arc<Chunk>>, last: bool) {
        let Some(ring) = self.ring.as_mut() else {
            return;
        };
        if let Some(chunk) = chunk {
            ring.push(slot, chunk);
        }
        if last {
            ring.slots
                .entry(slot.sequence)
                .or_insert_with(|| slot.clone());
            self.shared.remove_slot(slot);
        }
        let live = self.shared.slots().len();
        let free = &self.from_threads.free;
        ring.evict(live, |c| {
            // Every chunk fits: the pool's capacity is the chunk limit.
            let _ = free.try_send(c);
        });
    }

    /// Writes the window the ring holds now (threads' live chunks included) to
    /// `file` as a trace of its own, and says what it wrote. The ring is kept, and
    /// nothing is evicted while this runs.
    pub(super) fn ring_snapshot(
        &mut self,
        file: Box<dyn Write + Send>,
    ) -> std::io::Result<Written> {
        let Some(mut ring) = self.ring.take() else {
            return Err(std::io::Error::other("not a ring session"));
        };
        let result = self.write_window(&mut ring, file);
        let live = self.shared.slots().len();
        let free = &self.from_threads.free;
        ring.evict(live, |c| {
            let _ = free.try_send(c);
        });
        self.ring = Some(ring);
        result
    }

    fn write_window(
        &mut self,
        ring: &mut Ring,
        file: Box<dyn Write + Send>,
    ) -> std::io::Result<Written> {
        // Full chunks in the channel first, then each thread's live chunk under its
        // lock (as `drain_all`): every thread's records in order.
        let mut live = Vec::new();
        for slot in self.shared.slots() {
            ring.slots
                .entry(slot.sequence)
                .or_insert_with(|| slot.clone());
            let state = lock(&slot.state);
            while let Ok(msg) = self.from_threads.rx.try_recv() {
                self.ring_message(ring, msg);
            }
            if let Some(chunk) = &state.current {
                live.push((slot.clone(), chunk.clone(), chunk.unread().1));
            }
        }
        while let Ok(msg) = self.from_threads.rx.try_recv() {
            self.ring_message(ring, msg);
        }
        let end_tick = crate::runtime::clock::ticks();
        let mut parts: Vec<(Arc<Slot>, Arc<Chunk>, usize)> = ring
            .held
            .iter()
            .map(|h| (h.slot.clone(), h.chunk.clone(), h.end))
            .collect();
        // A live chunk handed over since it was seen is held already.
        live.retain(|(_, c, _)| !parts.iter().any(|(_, p, _)| Arc::ptr_eq(p, c)));
        parts.extend(live);

        let window_start = ring
            .evicted
            .values()
            .filter_map(|e| e.last_tick)
            .max()
            .map_or(0, |t| t + 1);
        let mut filter = Filter {
            window_start,
            plans: FxHashMap::default(),
            cut_lane_ends: Default::default(),
        };
        // Lane slices may begin on one thread and end on another: their ends are
        // matched in tick order across threads.
        let mut lane_slices = Vec::new();
        for (part, (slot, chunk, end)) in parts.iter().enumerate() {
            for (at, _, rec) in walk(chunk, slot.sequence, *end) {
                if let Rec::Slice {
                    tick,
                    key: Key::Lane(t, l),
                    begin,
                } = rec
                    && tick >= window_start
                {
                    lane_slices.push((tick, part, at, (t, l), begin, slot.sequence));
                }
            }
        }
        lane_slices.sort_by_key(|&(tick, part, at, ..)| (tick, part, at));
        let mut lane_open: FxHashMap<(u32, u32), Vec<u32>> = FxHashMap::default();
        for &(_, part, at, key, begin, sequence) in &lane_slices {
            let open = lane_open.entry(key).or_default();
            if begin {
                open.push(sequence);
            } else if open.pop().is_none() {
                filter.cut_lane_ends.insert((part, at));
            }
        }
        drop(lane_slices);
        // Planning pass: what each sequence loses, before anything is written.
        for (part, (slot, chunk, end)) in parts.iter().enumerate() {
            for (at, _, rec) in walk(chunk, slot.sequence, *end) {
                filter.keep(slot.sequence, part, at, rec);
            }
        }
        let plans = std::mem::take(&mut filter.plans);

        // A trace of its own: fresh sequences, tracks and counts.
        let saved_file = std::mem::replace(&mut self.file, file);
        let saved_bytes = std::mem::take(&mut self.bytes_written);
        let saved_error = self.error.take();
        self.sequences.clear();
        self.tracks = Default::default();
        self.sequence_ids.clear();
        self.output.events = 0;
        self.values_dropped = 0;
        self.threads = 0;
        self.output.out.clear();
        self.output.calibration.refresh();
        self.header();

        let mut slots: Vec<Arc<Slot>> = ring.slots.values().cloned().collect();
        slots.sort_by_key(|s| s.sequence);
        let mut overwritten = 0;
        for slot in &slots {
            let e = ring
                .evicted
                .get(&slot.sequence)
                .copied()
                .unwrap_or_default();
            let plan = plans.get(&slot.sequence);
            let lost = e.events + plan.map_or(0, |p| p.lost);
            let drops_before = e.drops + plan.map_or(0, |p| p.drops_before);
            overwritten += lost;
            let in_window = plan.is_some_and(|p| p.in_window);
            if !in_window && lost + drops_before == 0 {
                continue;
            }
            let mut seq = self.new_sequence(slot);
            seq.marked_drops = drops_before;
            seq.loss_to_mark = lost + drops_before;
            seq.dropped_pending = seq.loss_to_mark > 0;
            if !in_window {
                // Nothing of the thread in the window: mark its loss at the start.
                let ns = self.output.calibration.ns_of(window_start.max(1) - 1);
                self.output.start_sequence(&mut seq, ns);
            }
            self.sequences.insert(slot.sequence, seq);
        }

        let scratch = &ring.scratch;
        for (part, (slot, chunk, end)) in parts.iter().enumerate() {
            let mut n = 0;
            for (at, len, rec) in walk(chunk, slot.sequence, *end) {
                if filter.keep(slot.sequence, part, at, rec) {
                    for j in at..at + len {
                        scratch.put(n, chunk.word(j));
                        n += 1;
                    }
                }
            }
            scratch.reset();
            scratch.publish(n);
            self.read(slot, scratch);
        }
        scratch.reset();

        // Close what is still open, at the snapshot's time.
        for slot in &slots {
            let open = filter.plans.get(&slot.sequence).map_or(0, |p| p.depth);
            if open == 0 {
                continue;
            }
            let Some(mut seq) = self.sequences.remove(&slot.sequence) else {
                continue;
            };
            for _ in 0..open {
                self.output.thread_slice(&mut seq, end_tick, None);
            }
            self.sequences.insert(slot.sequence, seq);
        }
        for ((track, lane), open) in lane_open {
            for sequence in open.into_iter().rev() {
                let (Some(uuid), Some(mut seq)) = (
                    self.track_uuid(track, lane),
                    self.sequences.remove(&sequence),
                ) else {
                    continue;
                };
                let event: TrackEvent<'_> = TrackEvent {
                    kind: Some(EventType::SliceEnd),
                    track_uuid: Some(uuid),
                    ..Default::default()
                };
                self.output.event(&mut seq, end_tick, event, None);
                self.sequences.insert(sequence, seq);
            }
        }
        for slot in &slots {
            self.mark_unannounced_drops(slot);
        }
        let dropped: u64 = slots
            .iter()
            .map(|s| s.dropped.load(Ordering::Relaxed))
            .sum::<u64>()
            + self.shared.unrecorded();
        TraceStats {
            packet_loss: dropped + overwritten,
            sequences: &self.sequence_ids,
        }
        .append(&mut self.output.out);
        self.write_out();
        if let Err(source) = self.file.flush() {
            self.error.get_or_insert(source);
        }
        let written = Written {
            events: self.output.events,
            events_dropped: dropped,
            events_overwritten: overwritten,
            values_dropped: self.values_dropped,
            bytes: self.bytes_written,
            threads: self.threads,
            buffers: self.shared.allocated(),
        };
        let error = std::mem::replace(&mut self.error, saved_error);
        self.bytes_written = saved_bytes;
        // The snapshot's file is closed here.
        drop(std::mem::replace(&mut self.file, saved_file));
        match error {
            Some(e) => Err(e),
            None => Ok(written),
        }
    }

    /// A message met while a snapshot gathers the threads' chunks.
    fn ring_message(&mut self, ring: &mut Ring, msg: super::Msg) {
        match msg {
            super::Msg::Chunk { slot, chunk, last } => {
                if let Some(chunk) = chunk {
                    ring.push(&slot, chunk);
                }
                if last {
                    ring.slots
                        .entry(slot.sequence)
                        .or_insert_with(|| slot.clone());
                    self.shared.remove_slot(&slot);
                }
            }
            super::Msg::Finish => self.finish_requested = true,
            snapshot @ super::Msg::Snapshot { .. } => ring.deferred.push(snapshot),
        }
    }

    /// Snapshots asked for while one was being written.
    pub(super) fn ring_deferred(&mut self) -> Vec<super::Msg> {
        self.ring
            .as_mut()
            .map(|r| std::mem::take(&mut r.deferred))
            .unwrap_or_default()
    }
}
