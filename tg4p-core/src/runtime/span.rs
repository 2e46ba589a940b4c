//! Events: slices (scoped by guards), instants and counter samples, with their flows.

use super::args::{self, ArgText};
use super::buffer::{self, EventHeader};
use super::counter::{Counter, Sample};
use super::recorder::{self, Local, MAX_THREAD_DEPTH, generation, tick, with_local};
use super::registry::Callsite;
use super::track::Track;
use crate::FlowId;
use std::cell::RefCell;
use std::fmt::Debug;
use std::marker::PhantomData;
use std::panic::Location;

/// Words of a thread-track `BEGIN` / `END` record.
const FAST_WORDS: usize = 2;

/// Guard of a slice on the calling thread's track, as `#[trace]` records it; the
/// slice ends when the guard drops (also during unwinding).
#[must_use = "the slice ends when this guard is dropped"]
#[derive(Debug)]
pub struct FnSpan {
    generation: u64,
    _not_send: PhantomData<*const ()>,
}

impl FnSpan {
    const OFF: FnSpan = FnSpan {
        generation: 0,
        _not_send: PhantomData,
    };
}

/// Starts a slice of `callsite` on the calling thread's track.
#[inline(always)]
pub fn enter(callsite: &'static Callsite) -> FnSpan {
    let generation = generation();
    if generation == 0 {
        return FnSpan::OFF;
    }
    enter_on(generation, callsite)
}

// Out of line, so that the disabled path inlined into every traced function is
// just the gate's load and branch (and the guard's drop a compare).
#[inline(never)]
fn enter_on(generation: u64, callsite: &'static Callsite) -> FnSpan {
    let id = callsite.id() as u64;
    let kept = with_local(generation, |l| {
        if l.depth >= MAX_THREAD_DEPTH || !l.ensure(FAST_WORDS, FAST_WORDS) {
            l.dropped(2);
            return false;
        }
        l.depth += 1;
        let Some(chunk) = &l.chunk else { return false };
        let pos = l.pos;
        chunk.put(pos, id << 8 | buffer::BEGIN);
        chunk.put(pos + 1, tick());
        chunk.publish(pos + FAST_WORDS);
        l.pos = pos + FAST_WORDS;
        l.reserved += FAST_WORDS;
        true
    });
    FnSpan {
        generation: if kept == Some(true) { generation } else { 0 },
        _not_send: PhantomData,
    }
}

/// Starts a slice of `callsite` on the calling thread's track with its arguments
/// (the `Debug` text of each, bounded by [`args::ARG_VALUE_LIMIT`]).
#[inline]
pub fn enter_args(callsite: &'static Callsite, values: &[&dyn Debug]) -> FnSpan {
    let generation = generation();
    if generation == 0 {
        return FnSpan::OFF;
    }
    let kept = args::with_formatted(values, |text| {
        with_local(generation, |l| {
            let header = EventHeader {
                ty: buffer::TYPE_BEGIN,
                has_track: false,
                float: false,
                args: text.ends.len() as u8,
                outgoing: 0,
                incoming: 0,
                value_dropped: false,
            };
            write_event(
                l,
                header,
                callsite.id(),
                None,
                0,
                &[],
                &[],
                Some(text),
                FAST_WORDS,
            )
        })
    });
    FnSpan {
        generation: if kept == Some(true) { generation } else { 0 },
        _not_send: PhantomData,
    }
}

impl Drop for FnSpan {
    #[inline(always)]
    fn drop(&mut self) {
        if self.generation != 0 {
            exit(self.generation);
        }
    }
}

impl FnSpan {
    /// Ends the slice with `value` (its bounded `Debug` text) as the end event's
    /// `return` arg: what `#[trace(ret)]` calls when the function returns. A guard
    /// dropped instead (unwinding) ends the slice without it.
    #[doc(hidden)]
    pub fn end_returning(mut self, value: &dyn Debug) {
        let generation = std::mem::take(&mut self.generation);
        if generation == 0 || recorder::generation() != generation {
            return;
        }
        let header = EventHeader {
            ty: buffer::TYPE_END,
            has_track: false,
            float: false,
            args: 0,
            outgoing: 0,
            incoming: 0,
            value_dropped: false,
        };
        args::with_formatted(&[value], |text| {
            with_local(generation, |l| {
                write_end(l, header, None, &[], &[], Some(text), FAST_WORDS)
            })
        });
    }
}

#[inline(never)]
fn exit(generation: u64) {
    if recorder::generation() != generation {
        return; // the session ended: its file is closed to this thread
    }
    with_local(generation, |l| {
        // Room was reserved when the slice began.
        let Some(chunk) = &l.chunk else { return };
        let pos = l.pos;
        chunk.put(pos, buffer::END);
        chunk.put(pos + 1, tick());
        chunk.publish(pos + FAST_WORDS);
        l.pos = pos + FAST_WORDS;
        l.reserved = l.reserved.saturating_sub(FAST_WORDS);
        l.depth = l.depth.saturating_sub(1);
    });
}

/// Writes an `EVENT` record (see `buffer::EventHeader`); `reserve` more words are
/// kept for the slice's end. Counts the drop and returns false if there is no room.
#[allow(clippy::too_many_arguments)]
fn write_event(
    l: &mut Local,
    header: EventHeader,
    id: u32,
    track: Option<(u32, u32)>,
    value: u64,
    outgoing: &[u64],
    incoming: &[u64],
    args: Option<&ArgText>,
    reserve: usize,
) -> bool {
    write_event_at(
        l,
        header,
        id,
        track.map(|(t, lane)| (t, lane, None)),
        value,
        outgoing,
        incoming,
        args,
        reserve,
    )
}

/// As [`write_event`]; a track given as `(track, lane, Some(tick))` carries the
/// tick already read under the lane lock.
#[allow(clippy::too_many_arguments)]
pub(super) fn write_event_at(
    l: &mut Local,
    header: EventHeader,
    id: u32,
    track: Option<(u32, u32, Option<u64>)>,
    value: u64,
    outgoing: &[u64],
    incoming: &[u64],
    args: Option<&ArgText>,
    reserve: usize,
) -> bool {
    let words = header.fixed_words() + args.map_or(0, |a| a.words());
    let is_end = header.ty == buffer::TYPE_END;
    let on_thread_track = track.is_none() && header.ty != buffer::TYPE_COUNTER;
    let too_deep = on_thread_track && !is_end && l.depth >= MAX_THREAD_DEPTH;
    // Ends use the room reserved by their begin.
    if too_deep || (!is_end && !l.ensure(words, reserve)) {
        l.dropped(1 + (reserve > 0) as u64);
        return false;
    }
    if on_thread_track && header.ty == buffer::TYPE_BEGIN {
        l.depth += 1;
    } else if on_thread_track && is_end {
        l.depth = l.depth.saturating_sub(1);
    }
    let Some(chunk) = &l.chunk else { return false };
    let mut pos = l.pos;
    let mut put = |w: u64| {
        chunk.put(pos, w);
        pos += 1;
    };
    put(header.encode());
    let t = match track {
        Some((_, _, Some(t))) => t,
        _ => tick(),
    };
    put(t);
    if !is_end {
        put(id as u64);
    }
    if let Some((track, lane, _)) = track {
        put((track as u64) << 32 | lane as u64);
    }
    if header.ty == buffer::TYPE_COUNTER {
        put(value);
    }
    outgoing.iter().chain(incoming).for_each(|&f| put(f));
    if let Some(args) = args {
        for v in args.values() {
            pos = chunk.put_str(pos, v.as_bytes());
        }
    }
    chunk.publish(pos);
    l.pos = pos;
    if is_end {
        l.reserved = l.reserved.saturating_sub(words);
    } else {
        l.reserved += reserve;
    }
    true
}

/// Writes the end of a slice whose begin reserved `reserved` words for it, with
/// `ret` as its `return` arg when there is room for that too (else the slice still
/// ends, in the reserved room, flagged so that the writer marks and counts the
/// value as dropped).
#[allow(clippy::too_many_arguments)]
pub(super) fn write_end(
    l: &mut Local,
    header: EventHeader,
    track: Option<(u32, u32, Option<u64>)>,
    outgoing: &[u64],
    incoming: &[u64],
    ret: Option<&ArgText>,
    reserved: usize,
) -> bool {
    if let Some(text) = ret.filter(|t| !t.ends.is_empty()) {
        let with_value = EventHeader { args: 1, ..header };
        let words = with_value.fixed_words() + text.words();
        // Room beyond every reservation (this one included, conservatively); the
        // end then releases `words` as a reserved end does, and the begin's
        // reservation is given back.
        if l.ensure(words, 0) {
            l.reserved += words;
            let ok = write_event_at(
                l,
                with_value,
                0,
                track,
                0,
                outgoing,
                incoming,
                Some(text),
                0,
            );
            l.reserved = l.reserved.saturating_sub(reserved);
            return ok;
        }
        let header = EventHeader {
            value_dropped: true,
            ..header
        };
        return write_event_at(l, header, 0, track, 0, outgoing, incoming, None, 0);
    }
    write_event_at(l, header, 0, track, 0, outgoing, incoming, None, 0)
}

/// Flows attached to a span, written with its end.
#[derive(Debug, Default)]
struct SpanFlows {
    outgoing: Vec<u64>,
    incoming: Vec<u64>,
}

/// Guard of a slice on a custom [`Track`] or on the thread's track, with flows.
/// The slice ends when the guard drops (also during unwinding).
///
/// Flows given with [`outgoing`](Span::outgoing) and [`incoming`](Span::incoming)
/// are written with the slice's end event; trace_processor attaches them to the
/// slice either way (an arrow leaves from the end of a slice and points at the
/// slice it enters).
#[must_use = "the slice ends when this guard is dropped"]
#[derive(Debug)]
pub struct Span {
    generation: u64,
    track: Option<(&'static Track, u32)>,
    flows: RefCell<SpanFlows>,
    _not_send: PhantomData<*const ()>,
}

impl Span {
    /// A guard that records nothing: what `span!` gives when instrumentation is
    /// compiled out.
    #[doc(hidden)]
    pub const fn off() -> Span {
        Span {
            generation: 0,
            track: None,
            flows: RefCell::new(SpanFlows {
                outgoing: Vec::new(),
                incoming: Vec::new(),
            }),
            _not_send: PhantomData,
        }
    }

    /// Starts a slice of `callsite`, on `track` or the thread's track.
    pub(crate) fn begin(callsite: &'static Callsite, track: Option<&'static Track>) -> Span {
        Span::begin_with(callsite, track, &[])
    }

    fn begin_with(
        callsite: &'static Callsite,
        track: Option<&'static Track>,
        values: &[&dyn Debug],
    ) -> Span {
        let mut span = Span {
            generation: 0,
            track: None,
            flows: RefCell::new(SpanFlows::default()),
            _not_send: PhantomData,
        };
        let generation = generation();
        if generation == 0 {
            return span;
        }
        if values.is_empty() {
            span.open(generation, callsite, track, None);
        } else {
            args::with_formatted(values, |text| {
                span.open(generation, callsite, track, Some(text))
            });
        }
        span
    }

    fn open(
        &mut self,
        generation: u64,
        callsite: &'static Callsite,
        track: Option<&'static Track>,
        text: Option<&ArgText>,
    ) {
        let header = EventHeader {
            ty: buffer::TYPE_BEGIN,
            has_track: track.is_some(),
            float: false,
            args: text.map_or(0, |t| t.ends.len() as u8),
            outgoing: 0,
            incoming: 0,
            value_dropped: false,
        };
        let end_words = EventHeader {
            ty: buffer::TYPE_END,
            args: 0,
            ..header
        }
        .fixed_words();
        let words = header.fixed_words() + text.map_or(0, |t| t.words());
        let me = recorder::thread_key();
        let kept = with_local(generation, |l| {
            if !l.ensure(words, end_words) {
                l.dropped(2);
                return None;
            }
            let t = track.map(|t| {
                let (lane, tick) = t.open_lane(me);
                (t, t.id(), lane, tick)
            });
            write_event_at(
                l,
                header,
                callsite.id(),
                t.map(|(_, id, lane, tick)| (id, lane, Some(tick))),
                0,
                &[],
                &[],
                text,
                end_words,
            );
            Some(t.map(|(t, _, lane, _)| (t, lane)))
        });
        if let Some(Some(lane)) = kept {
            self.generation = generation;
            self.track = lane;
        }
    }

    /// Mints `n` flow ids that leave this slice (the arrows start when it ends).
    pub fn outgoing(&self, n: usize) -> Vec<FlowId> {
        let ids: Vec<FlowId> = (0..n).map(|_| FlowId::new()).collect();
        self.attach(&ids, true);
        ids
    }

    /// Ends the flows `ids` at this slice.
    pub fn incoming(self, ids: &[FlowId]) -> Span {
        self.attach(ids, false);
        self
    }

    fn attach(&self, ids: &[FlowId], outgoing: bool) {
        if self.generation == 0 || ids.is_empty() || recorder::generation() != self.generation {
            return;
        }
        let mut flows = self.flows.borrow_mut();
        let room = u16::MAX as usize - flows.outgoing.len().max(flows.incoming.len());
        let ids = &ids[..ids.len().min(room)];
        if with_local(self.generation, |l| l.reserve(ids.len())) == Some(true) {
            let list = if outgoing {
                &mut flows.outgoing
            } else {
                &mut flows.incoming
            };
            list.extend(ids.iter().map(|f| f.raw()));
        }
    }
}

impl Span {
    /// Ends the slice with `value` (its bounded `Debug` text) as the end event's
    /// `return` arg: what `#[trace(ret, track = ..)]` calls when the function returns.
    #[doc(hidden)]
    pub fn end_returning(mut self, value: &dyn Debug) {
        if self.generation == 0 || recorder::generation() != self.generation {
            return; // the drop releases the lane
        }
        args::with_formatted(&[value], |text| self.close(Some(text)));
        self.generation = 0;
    }

    fn close(&mut self, ret: Option<&ArgText>) {
        if self.generation == 0 {
            return;
        }
        // The lane is released even if the session ended, so the track stays usable.
        let closed = self
            .track
            .map(|(t, lane)| (t.id(), lane, Some(t.close_lane(lane))));
        if recorder::generation() != self.generation {
            return;
        }
        let flows = self.flows.get_mut();
        let header = EventHeader {
            ty: buffer::TYPE_END,
            has_track: closed.is_some(),
            float: false,
            args: 0,
            outgoing: flows.outgoing.len() as u16,
            incoming: flows.incoming.len() as u16,
            value_dropped: false,
        };
        // The begin reserved the end's fixed words (its flows were reserved as
        // they were attached).
        let reserved = header.fixed_words();
        with_local(self.generation, |l| {
            write_end(
                l,
                header,
                closed,
                &flows.outgoing,
                &flows.incoming,
                ret,
                reserved,
            )
        });
        // The lane is closed: a later drop must not close it again.
        self.track = None;
    }
}

impl Drop for Span {
    fn drop(&mut self) {
        self.close(None);
    }
}

/// Starts a slice named `name` on the calling thread's track.
#[track_caller]
pub fn span(name: &'static str) -> Span {
    Span::begin(Callsite::for_location(name, Location::caller()), None)
}

/// Starts a slice of `callsite` on `track`, or on the calling thread's track, with
/// the `Debug` text of `values` as its arguments.
#[doc(hidden)]
#[inline]
pub fn enter_span(
    callsite: &'static Callsite,
    track: Option<&'static Track>,
    values: &[&dyn Debug],
) -> Span {
    Span::begin_with(callsite, track, values)
}

/// Records an instant of `callsite` with arguments and flows; returns `N` new flow
/// ids that leave it.
#[doc(hidden)]
pub fn instant<const N: usize>(
    callsite: &'static Callsite,
    track: Option<&'static Track>,
    values: &[&dyn Debug],
    incoming: &[FlowId],
) -> [FlowId; N] {
    let ids: [FlowId; N] = std::array::from_fn(|_| FlowId::new());
    let generation = generation();
    if generation == 0 {
        return ids;
    }
    let out: [u64; N] = std::array::from_fn(|i| ids[i].raw());
    let inc: Vec<u64> = incoming
        .iter()
        .take(u16::MAX as usize)
        .map(|f| f.raw())
        .collect();
    record_instant(generation, callsite, track, values, &out, &inc);
    ids
}

fn record_instant(
    generation: u64,
    callsite: &'static Callsite,
    track: Option<&'static Track>,
    values: &[&dyn Debug],
    outgoing: &[u64],
    incoming: &[u64],
) {
    let record = |text: Option<&ArgText>| {
        with_local(generation, |l| {
            let header = EventHeader {
                ty: buffer::TYPE_INSTANT,
                has_track: track.is_some(),
                float: false,
                args: text.map_or(0, |t| t.ends.len() as u8),
                outgoing: outgoing.len() as u16,
                incoming: incoming.len() as u16,
                value_dropped: false,
            };
            let t = track.map(|t| {
                let _ = t.uuid();
                (t.id(), 0)
            });
            write_event(l, header, callsite.id(), t, 0, outgoing, incoming, text, 0)
        });
    };
    if values.is_empty() {
        record(None);
    } else {
        args::with_formatted(values, |text| record(Some(text)));
    }
}

/// An instant being built by [`Track::instant`] or [`instant`]; recorded when it
/// drops, or by [`outgoing`](InstantBuilder::outgoing).
#[must_use = "the instant is recorded when this builder is dropped"]
#[derive(Debug)]
pub struct InstantBuilder {
    callsite: &'static Callsite,
    track: Option<&'static Track>,
    incoming: Vec<u64>,
    done: bool,
}

impl InstantBuilder {
    pub(crate) fn new(callsite: &'static Callsite, track: Option<&'static Track>) -> Self {
        InstantBuilder {
            callsite,
            track,
            incoming: Vec::new(),
            done: false,
        }
    }

    /// Ends the flows `ids` at this instant.
    pub fn incoming(mut self, ids: &[FlowId]) -> Self {
        self.incoming.extend(ids.iter().map(|f| f.raw()));
        self
    }

    /// Records the instant with `n` new flows leaving it, and returns their ids.
    pub fn outgoing(mut self, n: usize) -> Vec<FlowId> {
        let ids: Vec<FlowId> = (0..n).map(|_| FlowId::new()).collect();
        let raw: Vec<u64> = ids.iter().map(|f| f.raw()).collect();
        self.record(&raw);
        ids
    }

    fn record(&mut self, outgoing: &[u64]) {
        self.done = true;
        let generation = generation();
        if generation != 0 {
            self.incoming.truncate(u16::MAX as usize);
            record_instant(
                generation,
                self.callsite,
                self.track,
                &[],
                outgoing,
                &self.incoming,
            );
        }
    }
}

impl Drop for InstantBuilder {
    fn drop(&mut self) {
        if !self.done {
            self.record(&[]);
        }
    }
}

/// An instant named `name` on the calling thread's track, recorded when the
/// builder drops.
#[track_caller]
pub fn instant_named(name: &'static str) -> InstantBuilder {
    InstantBuilder::new(Callsite::for_location(name, Location::caller()), None)
}

/// Records a counter sample.
#[inline]
pub(crate) fn record_counter(counter: &'static Counter, sample: Sample) {
    let generation = generation();
    if generation == 0 {
        return;
    }
    let (float, value) = match sample {
        Sample::Int(v) => (false, v as u64),
        Sample::Float(v) => (true, v.to_bits()),
    };
    let header = EventHeader {
        ty: buffer::TYPE_COUNTER,
        has_track: false,
        float,
        args: 0,
        outgoing: 0,
        incoming: 0,
        value_dropped: false,
    };
    let id = counter.id();
    with_local(generation, |l| {
        write_event(l, header, id, None, value, &[], &[], None, 0)
    });
}
