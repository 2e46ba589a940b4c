//! Slices that no thread owns and whose begin lies in the past, on a track of a
//! pool: what a `tracing` span entered more than once (an `.instrument()`ed future,
//! a span held across `.await` or entered on several threads) records, from its
//! first enter to its close.
//!
//! Unlike a traced future's slice ([`super::future`]), nothing polls it: the layer
//! that owns it says when it began (a tick read at the first enter) and when it
//! ends. Its lane is taken with [`Track::open_lane_since`], so it never overlaps
//! the lane's previous slice, and released by [`Track::close_lane`] on any thread.
//! A slice whose parent span has a pool slice goes on a lane beneath the parent's
//! lane instead ([`PoolSpan::begin_under`], [`Track::open_child_since`]): a child
//! track of it, as a traced future's concurrent children are.
//!
//! Overflow: the begin reserves no room for the end (the end may be written by
//! another thread), so under the `Drop` policy the end can be dropped when memory
//! runs out; the slice then shows as "did not end", and the drop is counted.

use super::handoff::generation;
use super::local::with_local;
use super::record::{Details, Event, LaneRef, THREAD_SLICE_WORDS};
use super::registry::Callsite;
use super::span::FnSpan;
use super::track::Track;

/// Starts a slice of `callsite` on the calling thread's track, as `#[trace]`
/// does, and returns the tick it begins at (0 if nothing is recorded): where a
/// [`PoolSpan`] of the same `tracing` span begins ([`PoolSpan::begin_since`]) if
/// the span is entered again. One clock read for both.
#[inline]
pub fn enter_since(callsite: &'static Callsite) -> (FnSpan, u64) {
    let generation = generation();
    if generation == 0 {
        return (FnSpan::kept(None, 0), 0);
    }
    let tick = super::clock::ticks();
    let kept = with_local(generation, |l| l.begin_thread_slice_at(callsite.id(), tick));
    (FnSpan::kept(kept, generation), tick)
}

/// [`enter_since`] with `details` (a run-time name, typed args, flows), as
/// [`FnSpan::begin_details`].
pub fn begin_details_since(callsite: &'static Callsite, details: &Details<'_>) -> (FnSpan, u64) {
    let generation = generation();
    if generation == 0 {
        return (FnSpan::kept(None, 0), 0);
    }
    let tick = super::clock::ticks();
    let begin = Event::begin(callsite.id()).with(details).at(tick);
    let kept = with_local(generation, |l| l.write(&begin, THREAD_SLICE_WORDS));
    (FnSpan::kept(kept, generation), tick)
}

/// Where a [`PoolSpan`]'s slice lies: its session, track and lane.
#[derive(Clone, Copy, Debug)]
pub struct PoolPlace {
    generation: u64,
    track: &'static Track,
    lane: u32,
}

/// Guard of a slice on a track of `track`'s pool that began at a known tick. `Send`
/// and `Sync`; the slice ends when [`end_details`](PoolSpan::end_details) is
/// called or the guard drops, on any thread.
#[must_use = "the slice ends when this guard is dropped"]
#[derive(Debug)]
pub struct PoolSpan {
    /// Session generation the slice was begun in, 0 if none.
    generation: u64,
    track: &'static Track,
    lane: u32,
}

impl PoolSpan {
    /// Starts a slice of `callsite` on a track of `track`'s pool that is free since
    /// tick `since` (from `private::now`, read earlier: the slice begins
    /// then), with `details` (a run-time name, typed args, flows).
    pub fn begin_since(
        callsite: &'static Callsite,
        track: &'static Track,
        since: u64,
        details: &Details<'_>,
    ) -> PoolSpan {
        begin(callsite, track, None, since, details)
    }

    /// Starts a slice of `callsite` at tick `since` nested under the slice at
    /// `parent` ([`place`](PoolSpan::place)): on a lane beneath its lane of its
    /// track (a child track of it), so that it shows under its parent and never
    /// overlaps another slice. On a track of `track`'s pool if `parent` records
    /// nothing.
    pub fn begin_under(
        callsite: &'static Callsite,
        track: &'static Track,
        parent: PoolPlace,
        since: u64,
        details: &Details<'_>,
    ) -> PoolSpan {
        if parent.generation == 0 || parent.generation != generation() {
            return begin(callsite, track, None, since, details);
        }
        begin(callsite, parent.track, Some(parent.lane), since, details)
    }

    /// Where this slice lies, to nest others under it later
    /// ([`begin_under`](PoolSpan::begin_under)) without holding it.
    pub fn place(&self) -> PoolPlace {
        PoolPlace {
            generation: self.generation,
            track: self.track,
            lane: self.lane,
        }
    }

    /// Ends the slice with `details`' typed args and flows (its name is the
    /// begin's), on any thread.
    pub fn end_details(mut self, details: &Details<'_>) {
        let generation = std::mem::take(&mut self.generation);
        end(generation, self.track, self.lane, details);
    }
}

/// Begins a slice on a track of `track`'s pool, or beneath lane `under` of `track`.
fn begin(
    callsite: &'static Callsite,
    track: &'static Track,
    under: Option<u32>,
    since: u64,
    details: &Details<'_>,
) -> PoolSpan {
    let generation = generation();
    let off = PoolSpan {
        generation: 0,
        track,
        lane: 0,
    };
    if generation == 0 {
        return off;
    }
    let id = track.id();
    let begin = Event::begin(callsite.id())
        .with(details)
        .on(LaneRef { track: id, lane: 0 });
    let lane = with_local(generation, |l| {
        let room = l.room(&begin, 0)?;
        let lane = match under {
            Some(parent) => track.open_child_since(parent, since),
            None => track.open_lane_since(since),
        };
        room.write(&begin.on(LaneRef { track: id, lane }).at(since));
        Some(lane)
    });
    match lane {
        Some(Some(lane)) => PoolSpan {
            generation,
            track,
            lane,
        },
        _ => off,
    }
}

impl Drop for PoolSpan {
    fn drop(&mut self) {
        let generation = std::mem::take(&mut self.generation);
        end(generation, self.track, self.lane, &Details::default());
    }
}

#[inline(never)]
fn end(generation: u64, track: &'static Track, lane: u32, details: &Details<'_>) {
    if generation == 0 {
        return;
    }
    // The lane is released even if the session ended, so the pool stays usable.
    let tick = track.close_lane(lane);
    if super::handoff::generation() != generation {
        return;
    }
    let lane = LaneRef {
        track: track.id(),
        lane,
    };
    // No room reserved (see the module docs): the end makes room for itself.
    let end = Event::end().with(&details.named(None)).on(lane).at(tick);
    with_local(generation, |l| l.write_unreserved_end(&end));
}
