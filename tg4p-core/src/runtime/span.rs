//! The guards users hold while a slice is open: [`FnSpan`] (what `#[trace]`
//! writes on the thread's track) and [`Span`] (on a custom [`Track`] or the
//! thread's track, with flows and args), and [`InstantBuilder`]. What they write
//! is described by `super::record` and written by `super::local`.

use super::args::{self, ArgText};

/// The name of the typed arg a slice's end records for `ret`.
const RETURN_ARG: &str = "return";
use super::handoff::generation;
use super::local::with_local;
use super::record::{Args, Details, Event, LaneRef, THREAD_SLICE_WORDS};
use super::registry::Callsite;
use super::track::{HeldLane, Track};
use super::values::{ArgRef, direct_all, with_typed};
use crate::FlowId;
use std::cell::RefCell;
use std::fmt::Debug;
use std::marker::PhantomData;
use std::panic::Location;

/// Guard of a slice on the calling thread's track, as `#[trace]` records it; the
/// slice ends when the guard drops (also during unwinding). Only generated code
/// makes one.
#[doc(hidden)]
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

    /// A guard that records nothing: what `#[trace(category = ..)]` gives while
    /// its category is not recorded.
    #[inline(always)]
    pub const fn off() -> FnSpan {
        FnSpan::OFF
    }

    pub(super) fn kept(kept: Option<bool>, generation: u64) -> FnSpan {
        FnSpan {
            generation: if kept == Some(true) { generation } else { 0 },
            _not_send: PhantomData,
        }
    }
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
    let id = callsite.id();
    let kept = with_local(generation, |l| l.begin_thread_slice(id));
    FnSpan::kept(kept, generation)
}

/// Starts a slice of `callsite` on the calling thread's track with its arguments
/// (the `Debug` text of each, bounded by [`ARG_VALUE_LIMIT`](super::ARG_VALUE_LIMIT)).
#[inline]
pub fn enter_args(callsite: &'static Callsite, values: &[&dyn Debug]) -> FnSpan {
    let generation = generation();
    if generation == 0 {
        return FnSpan::OFF;
    }
    let kept = args::with_formatted(values, |text| {
        let begin = Event::begin(callsite.id()).args(Some(text));
        with_local(generation, |l| l.write(&begin, THREAD_SLICE_WORDS))
    });
    FnSpan::kept(kept, generation)
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
        if generation == 0 || super::handoff::generation() != generation {
            return;
        }
        args::with_formatted(&[value], |text| {
            let end = Event::end().args(Some(text));
            with_local(generation, |l| l.write_end(&end, THREAD_SLICE_WORDS))
        });
    }
}

/// Starts a slice of `callsite` on the calling thread's track with typed `values`
/// as its args (named after the callsite's arg names).
#[inline]
pub fn enter_values<const N: usize>(
    callsite: &'static Callsite,
    values: &[ArgRef<'_>; N],
) -> FnSpan {
    let generation = generation();
    if generation == 0 {
        return FnSpan::OFF;
    }
    if let Some(args) = direct_all(values) {
        // Scalars and short strings: the compact record, named by the callsite.
        let kept = with_local(generation, |l| {
            l.callsite_typed(false, callsite.id(), &args)
        });
        return FnSpan::kept(kept, generation);
    }
    let kept = with_typed(callsite.arg_names, values, |typed| {
        let begin = Event::begin(callsite.id()).typed(typed);
        with_local(generation, |l| l.write(&begin, THREAD_SLICE_WORDS))
    });
    FnSpan::kept(kept, generation)
}

impl FnSpan {
    /// Ends the slice with `value` (typed) as the end event's `return` arg: what
    /// `#[trace(ret)]` calls when the function returns. A guard dropped instead
    /// (unwinding) ends the slice without it.
    #[doc(hidden)]
    pub fn end_value(mut self, value: ArgRef<'_>) {
        let generation = std::mem::take(&mut self.generation);
        if generation == 0 || super::handoff::generation() != generation {
            return;
        }
        with_typed(&[RETURN_ARG], &[value], |typed| {
            let end = Event::end().typed(typed);
            with_local(generation, |l| l.write_end(&end, THREAD_SLICE_WORDS))
        });
    }
}

impl FnSpan {
    /// Starts a slice of `callsite` on the calling thread's track with `details`
    /// (a run-time name, typed args, flows).
    pub fn begin_details(callsite: &'static Callsite, details: &Details<'_>) -> FnSpan {
        let generation = generation();
        if generation == 0 {
            return FnSpan::OFF;
        }
        let begin = Event::begin(callsite.id()).with(details);
        let kept = with_local(generation, |l| l.write(&begin, THREAD_SLICE_WORDS));
        FnSpan::kept(kept, generation)
    }

    /// Ends the slice with `details`' typed args and flows (its name is the
    /// begin's): written if there is room, else the slice ends without them and
    /// their loss is marked and counted (see `Report::values_dropped`).
    pub fn end_details(mut self, details: &Details<'_>) {
        let generation = std::mem::take(&mut self.generation);
        if generation == 0 || super::handoff::generation() != generation {
            return;
        }
        let end = Event::end().with(&details.named(None));
        with_local(generation, |l| l.write_end(&end, THREAD_SLICE_WORDS));
    }
}

/// The clock's tick now: what [`PoolSpan::begin_since`](super::pool_span::PoolSpan::begin_since) takes.
#[inline]
pub fn now() -> u64 {
    super::clock::ticks()
}

/// Records an instant of `callsite` on `track` (or the calling thread's track) with
/// `details` (a run-time name, typed args, flows).
pub fn instant_details(
    callsite: &'static Callsite,
    track: Option<&'static Track>,
    details: &Details<'_>,
) {
    let generation = generation();
    if generation == 0 || !track_category_on(callsite, track) {
        return;
    }
    let mut event = Event::instant(callsite.id()).with(details);
    if let Some(t) = track {
        // Described by the writer, which needs its uuid drawn.
        let _ = t.uuid();
        event = event.on(LaneRef {
            track: t.id(),
            lane: 0,
        });
    }
    with_local(generation, |l| l.write(&event, 0));
}

/// Whether an event of `callsite` on `track` (or the thread's track) is recorded
/// as far as the track's category goes: an event with no category of its own is
/// in its track's. (A callsite's own category is checked where the macro expands:
/// generated code loads its gate before calling in.)
#[inline]
pub(crate) fn track_category_on(callsite: &Callsite, track: Option<&'static Track>) -> bool {
    match track {
        Some(t) if callsite.category.is_empty() => t.category_on(),
        _ => true,
    }
}

#[inline(never)]
fn exit(generation: u64) {
    if super::handoff::generation() != generation {
        return; // the session ended: its file is closed to this thread
    }
    // Room was reserved when the slice began.
    with_local(generation, |l| l.end_thread_slice());
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
///
/// ```
/// use tg4p_core::runtime::{Session, Track};
/// static TOP: Track = Track::new("TOP_TRACK");
/// let session = Session::builder().writer(std::io::sink()).start()?;
/// let sort = TOP.span("SORT");
/// let to_validate = sort.outgoing(1); // an arrow from SORT ...
/// drop(sort);
/// let _validate = TOP.span("VALIDATE").incoming(&to_validate); // ... to VALIDATE
/// # drop(_validate);
/// session.finish()?;
/// # Ok::<(), tg4p_core::runtime::SessionError>(())
/// ```
#[must_use = "the slice ends when this guard is dropped"]
#[derive(Debug)]
pub struct Span {
    generation: u64,
    /// Begun as `#[trace]` begins a slice (a compact record the writer's templates
    /// handle): on the thread's track, no args, no run-time name.
    thread_slice: bool,
    /// The lane its slice holds on a custom track.
    track: Option<HeldLane>,
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
            thread_slice: false,
            track: None,
            flows: RefCell::new(SpanFlows {
                outgoing: Vec::new(),
                incoming: Vec::new(),
            }),
            _not_send: PhantomData,
        }
    }

    /// Starts a slice of `callsite` on `track` or the thread's track, with the
    /// `Debug` text of `values` as its args.
    fn begin(
        callsite: &'static Callsite,
        track: Option<&'static Track>,
        values: &[&dyn Debug],
    ) -> Span {
        let mut span = Span::off();
        let generation = generation();
        if generation == 0 || !track_category_on(callsite, track) {
            return span;
        }
        if values.is_empty() {
            match track {
                Some(t) => span.open_plain(generation, callsite, t),
                None => span.open(generation, track, Event::begin(callsite.id())),
            }
        } else {
            args::with_formatted(values, |text| {
                span.open(
                    generation,
                    track,
                    Event::begin(callsite.id()).args(Some(text)),
                )
            });
        }
        span
    }

    /// Starts a slice of `callsite` on `track` or the thread's track, named `name`
    /// if given (instead of after the callsite), with typed `values` as its args.
    fn begin_values<const N: usize>(
        callsite: &'static Callsite,
        track: Option<&'static Track>,
        name: Option<&str>,
        values: &[ArgRef<'_>; N],
    ) -> Span {
        let mut span = Span::off();
        let generation = generation();
        if generation == 0 || !track_category_on(callsite, track) {
            return span;
        }
        if N == 0 && track.is_none() && name.is_none() {
            // The common `span!("name")`: the record `#[trace]` writes.
            let id = callsite.id();
            if with_local(generation, |l| l.begin_thread_slice(id)) == Some(true) {
                span.generation = generation;
                span.thread_slice = true;
            }
            return span;
        }
        if N == 0
            && name.is_none()
            && let Some(t) = track
        {
            // The common `span!(TRACK, "name")`: a compact record, no lock.
            span.open_plain(generation, callsite, t);
            return span;
        }
        if track.is_none()
            && name.is_none()
            && let Some(args) = direct_all(values)
        {
            // Scalars and short strings: the compact record, named by the
            // callsite, ended as `#[trace]` ends its slices.
            let id = callsite.id();
            if with_local(generation, |l| l.callsite_typed(false, id, &args)) == Some(true) {
                span.generation = generation;
                span.thread_slice = true;
            }
            return span;
        }
        with_typed(callsite.arg_names, values, |typed| {
            let begin = Event::begin(callsite.id()).named(name).typed(typed);
            span.open(generation, track, begin)
        });
        span
    }

    /// Begins a slice of `callsite` on custom track `t` with nothing but its name,
    /// if there is room for it and its end.
    #[inline]
    fn open_plain(&mut self, generation: u64, callsite: &'static Callsite, t: &'static Track) {
        let id = callsite.id();
        let held = with_local(generation, |l| {
            l.begin_lane_slice(id, || {
                let (held, tick) = t.open_for_thread()?;
                let lane = held.lane();
                Some((held, lane, tick))
            })
        });
        if let Some(Some(held)) = held {
            self.generation = generation;
            self.track = Some(held);
        }
    }

    /// Writes `begin` (of a slice on `track` or the thread's track) if there is
    /// room for it and its end.
    fn open(&mut self, generation: u64, track: Option<&'static Track>, begin: Event<'_>) {
        let mut begin = begin;
        let mut end = Event::end();
        if let Some(t) = track {
            // The lane is known once the room is made: its size is the same.
            let lane = LaneRef {
                track: t.id(),
                lane: 0,
            };
            (begin, end) = (begin.on(lane), end.on(lane));
        }
        let kept = with_local(generation, |l| {
            let room = l.room(&begin, end.words())?;
            let held = match track {
                Some(t) => {
                    let (held, tick) = t.open_for_thread()?;
                    begin = begin.on(held.lane()).at(tick);
                    Some(held)
                }
                None => None,
            };
            room.write(&begin);
            Some(held)
        });
        if let Some(Some(held)) = kept {
            self.generation = generation;
            self.track = held;
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
        if self.generation == 0 || ids.is_empty() || generation() != self.generation {
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

    /// Ends the slice with `value` (its bounded `Debug` text) as the end event's
    /// `return` arg: what `#[trace(ret, track = ..)]` calls when the function returns.
    #[doc(hidden)]
    pub fn end_returning(mut self, value: &dyn Debug) {
        if self.generation == 0 || generation() != self.generation {
            return; // the drop releases the lane
        }
        args::with_formatted(&[value], |text| self.close(Args::Text(text)));
        self.generation = 0;
    }

    /// Ends the slice with `value` (typed) as the end event's `return` arg: what
    /// `#[trace(ret, track = ..)]` calls when the function returns.
    #[doc(hidden)]
    pub fn end_value(mut self, value: ArgRef<'_>) {
        if self.generation == 0 || generation() != self.generation {
            return; // the drop releases the lane
        }
        with_typed(&[RETURN_ARG], &[value], |typed| {
            self.close(Args::Typed(typed))
        });
        self.generation = 0;
    }

    fn close(&mut self, ret: Args<'_>) {
        if self.generation == 0 {
            return;
        }
        // The lane is released even if the session ended, so the track stays usable.
        // It is closed now: a later drop must not close it again.
        let closed = self.track.take().map(|held| (held.lane(), held.close()));
        if generation() != self.generation {
            return;
        }
        let flows = self.flows.get_mut();
        if self.thread_slice {
            if flows.outgoing.is_empty() && flows.incoming.is_empty() && matches!(ret, Args::None) {
                with_local(self.generation, |l| l.end_thread_slice());
                return;
            }
            // The begin reserved a compact end; the flows were reserved as attached.
            let mut end = Event::end().flows(&flows.outgoing, &flows.incoming);
            let reserved = end.words() - Event::end().words() + THREAD_SLICE_WORDS;
            end.args = ret;
            with_local(self.generation, |l| l.write_end(&end, reserved));
            return;
        }
        if let Some((lane, tick)) = closed
            && flows.outgoing.is_empty()
            && flows.incoming.is_empty()
            && matches!(ret, Args::None)
        {
            // The begin reserved this compact end.
            with_local(self.generation, |l| l.end_lane_slice(lane, tick));
            return;
        }
        let mut end = Event::end().flows(&flows.outgoing, &flows.incoming);
        if let Some((lane, tick)) = closed {
            end = end.on(lane).at(tick);
        }
        // The begin reserved the end's words without flows, and the flows were
        // reserved as they were attached.
        let reserved = end.words();
        end.args = ret;
        with_local(self.generation, |l| l.write_end(&end, reserved));
    }
}

impl Drop for Span {
    fn drop(&mut self) {
        self.close(Args::None);
    }
}

impl Track {
    /// Starts a slice named `name` on this track, ended when the returned guard drops.
    ///
    /// ```
    /// static TOP: tg4p_core::runtime::Track = tg4p_core::runtime::Track::new("TOP_TRACK");
    /// let _sort = TOP.span("SORT"); // records only while a session is open
    /// ```
    #[track_caller]
    pub fn span(&'static self, name: &'static str) -> Span {
        Span::begin(
            Callsite::for_location(name, Location::caller()),
            Some(self),
            &[],
        )
    }

    /// An instant event named `name` on this track, recorded when the builder drops
    /// (or by [`InstantBuilder::outgoing`]).
    ///
    /// ```
    /// static TOP: tg4p_core::runtime::Track = tg4p_core::runtime::Track::new("TOP_TRACK");
    /// TOP.instant("READY");
    /// let to_worker = TOP.instant("SEND").outgoing(1);
    /// TOP.instant("RECEIVED").incoming(&to_worker);
    /// ```
    #[track_caller]
    pub fn instant(&'static self, name: &'static str) -> InstantBuilder {
        InstantBuilder::new(Callsite::for_location(name, Location::caller()), Some(self))
    }
}

/// Starts a slice named `name` on the calling thread's track (for names known
/// only at run time; `span!` takes literals).
#[track_caller]
pub fn span_named(name: &'static str) -> Span {
    Span::begin(Callsite::for_location(name, Location::caller()), None, &[])
}

/// Starts a slice of `callsite` on `track`, or on the calling thread's track, with
/// the `Debug` text of `values` as its arguments.
#[inline]
pub fn enter_span(
    callsite: &'static Callsite,
    track: Option<&'static Track>,
    values: &[&dyn Debug],
) -> Span {
    Span::begin(callsite, track, values)
}

/// Starts a slice of `callsite` on `track`, or on the calling thread's track, with
/// `details`' name (if any) and typed args; flows go through the guard's
/// [`outgoing`](Span::outgoing) and [`incoming`](Span::incoming). For callers
/// whose args are known only at run time (bindings of other languages).
pub fn span_details(
    callsite: &'static Callsite,
    track: Option<&'static Track>,
    details: &Details<'_>,
) -> Span {
    let mut span = Span::off();
    let generation = generation();
    if generation == 0 {
        return span;
    }
    let begin = Event::begin(callsite.id())
        .named(details.name)
        .typed(details.args);
    span.open(generation, track, begin);
    span
}

/// Starts a slice of `callsite` on `track`, or on the calling thread's track,
/// named `name` if given (a name known at run time, instead of the callsite's), with
/// typed `values` as its arguments: what `span!` calls.
#[inline]
pub fn span_values<const N: usize>(
    callsite: &'static Callsite,
    track: Option<&'static Track>,
    name: Option<&str>,
    values: &[ArgRef<'_>; N],
) -> Span {
    Span::begin_values(callsite, track, name, values)
}

/// Records an instant of `callsite` on `track` (or the calling thread's track),
/// named `name` if given, with typed `values` and the flows `outgoing` (leaving it)
/// and `incoming` (ending at it): what `instant!` calls.
pub fn instant_values<const N: usize>(
    callsite: &'static Callsite,
    track: Option<&'static Track>,
    name: Option<&str>,
    values: &[ArgRef<'_>; N],
    outgoing: &[FlowId],
    incoming: &[FlowId],
) {
    let generation = generation();
    if generation == 0 {
        return;
    }
    if track.is_none()
        && name.is_none()
        && outgoing.is_empty()
        && incoming.is_empty()
        && let Some(args) = direct_all(values)
    {
        // The common form (scalars and short strings on the thread's track): the
        // compact record, named by the callsite.
        with_local(generation, |l| l.callsite_typed(true, callsite.id(), &args));
        return;
    }
    let raw = |ids: &[FlowId]| -> Vec<u64> {
        ids.iter()
            .take(u16::MAX as usize)
            .map(|f| f.raw())
            .collect()
    };
    let (out, inc) = (raw(outgoing), raw(incoming));
    with_typed(callsite.arg_names, values, |typed| {
        let details = Details::args(typed).named(name).flows(&out, &inc);
        instant_details(callsite, track, &details);
    });
}

/// `N` new flow ids (for `instant!(.., outgoing = N)` with a literal `N`).
#[inline]
pub fn flow_ids<const N: usize>() -> [FlowId; N] {
    std::array::from_fn(|_| FlowId::new())
}

/// `n` new flow ids (for `instant!(.., outgoing = n)` with `n` known at run time).
pub fn flow_id_vec(n: usize) -> Vec<FlowId> {
    (0..n).map(|_| FlowId::new()).collect()
}

/// The name a `span!` or `instant!` given a run-time name records.
#[inline(always)]
pub fn runtime_name<T: AsRef<str> + ?Sized>(name: &T) -> &str {
    name.as_ref()
}

/// Records an instant of `callsite` with arguments and flows; returns `N` new flow
/// ids that leave it.
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
    let instant = Instant {
        callsite,
        track,
        outgoing: &out,
        incoming: &inc,
    };
    instant.record(generation, values);
    ids
}

/// An instant about to be recorded.
struct Instant<'a> {
    callsite: &'static Callsite,
    track: Option<&'static Track>,
    outgoing: &'a [u64],
    incoming: &'a [u64],
}

impl Instant<'_> {
    fn record(&self, generation: u64, values: &[&dyn Debug]) {
        if !track_category_on(self.callsite, self.track) {
            return;
        }
        let write = |text: Option<&ArgText>| {
            let mut event = Event::instant(self.callsite.id())
                .flows(self.outgoing, self.incoming)
                .args(text);
            if let Some(t) = self.track {
                // Described by the writer, which needs its uuid drawn.
                let _ = t.uuid();
                event = event.on(LaneRef {
                    track: t.id(),
                    lane: 0,
                });
            }
            with_local(generation, |l| l.write(&event, 0));
        };
        if values.is_empty() {
            write(None);
        } else {
            args::with_formatted(values, |text| write(Some(text)));
        }
    }
}

/// An instant being built by [`Track::instant`]; recorded when it drops, or by
/// [`outgoing`](InstantBuilder::outgoing). Dropping it at once is its normal use.
///
/// ```
/// static TOP: tg4p_core::runtime::Track = tg4p_core::runtime::Track::new("TOP_TRACK");
/// let session = tg4p_core::runtime::Session::builder()
///     .writer(std::io::sink())
///     .start()?;
/// let flows = TOP.instant("INVOKE").outgoing(2); // recorded here, with 2 flows
/// TOP.instant("START").incoming(&flows[..1]); // recorded as the builder drops
/// TOP.instant("START").incoming(&flows[1..]);
/// session.finish()?;
/// # Ok::<(), tg4p_core::runtime::SessionError>(())
/// ```
#[derive(Debug)]
pub struct InstantBuilder {
    callsite: &'static Callsite,
    track: Option<&'static Track>,
    incoming: Vec<u64>,
    done: bool,
}

impl InstantBuilder {
    fn new(callsite: &'static Callsite, track: Option<&'static Track>) -> Self {
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
            let instant = Instant {
                callsite: self.callsite,
                track: self.track,
                outgoing,
                incoming: &self.incoming,
            };
            instant.record(generation, &[]);
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

/// An instant named `name` on the calling thread's track (for names known only
/// at run time; `instant!` takes literals), recorded when the builder drops.
#[track_caller]
pub fn instant_named(name: &'static str) -> InstantBuilder {
    InstantBuilder::new(Callsite::for_location(name, Location::caller()), None)
}
