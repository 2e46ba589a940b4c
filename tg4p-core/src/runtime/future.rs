//! Slices of futures: one per traced future, from its first poll to its completion
//! or drop, on a track of its own.
//!
//! A future that suspends cannot nest on its polling thread's track: other work runs
//! on that thread while it waits, and it may resume (and end) on another thread. So
//! `#[trace]` on an `async fn` declares a pool of tracks for the function
//! ([`Track::pool`]) and puts each running future's slice on a free track of it
//! ([`Track::open_free_lane`]): the pool grows to the peak number of futures of the
//! function running at once, not with the number of calls.
//!
//! The guard, [`FutureSpan`], is the first local of the future's body, so the
//! slice begins when the body starts (the first poll) and ends when its locals drop
//! (completion, or the future being dropped). No wrapper future, no pin projection.
//!
//! Begin and end are written on the sequences of the threads that run them; the
//! writer converts both ticks on the session's one calibration, and the end names
//! the track explicitly, so an end on another sequence closes the right slice.
//!
//! Overflow: the begin reserves no room for the end (the end may be written by
//! another thread), so under the `Drop` policy a future's end can be dropped when
//! memory runs out; the slice then shows as "did not end", and the drop is counted.

use super::args;
use super::handoff::generation;
use super::local::with_local;
use super::record::{Args, Details, Event, LaneRef};
use super::registry::Callsite;
use super::track::Track;
use super::values::{ArgRef, with_typed};
use std::fmt::Debug;

/// Guard of a future's slice on a track of `track`'s pool (see the module docs).
/// `Send` and `Sync`, so the futures holding it stay `Send`.
#[must_use = "the slice ends when this guard is dropped"]
#[derive(Debug)]
pub struct FutureSpan {
    /// Session generation the slice was begun in, 0 if none.
    generation: u64,
    track: &'static Track,
    lane: u32,
}

impl FutureSpan {
    /// Starts a slice of `callsite` on a free track of `track`'s pool.
    #[inline(always)]
    pub fn begin(callsite: &'static Callsite, track: &'static Track) -> FutureSpan {
        let generation = generation();
        if generation == 0 {
            return FutureSpan::off(track);
        }
        begin_on(generation, callsite, track, Args::None)
    }

    /// As [`begin`](FutureSpan::begin), with typed `values` as args.
    #[inline]
    pub fn begin_values<const N: usize>(
        callsite: &'static Callsite,
        track: &'static Track,
        values: &[ArgRef<'_>; N],
    ) -> FutureSpan {
        let generation = generation();
        if generation == 0 {
            return FutureSpan::off(track);
        }
        with_typed(callsite.arg_names, values, |typed| {
            begin_on(generation, callsite, track, Args::Typed(typed))
        })
    }

    /// Ends the slice with `value` (typed) as the end event's `return` arg: the
    /// output of a future traced with `ret`, when it completes.
    #[doc(hidden)]
    pub fn end_value(mut self, value: ArgRef<'_>) {
        let generation = std::mem::take(&mut self.generation);
        if generation == 0 {
            return;
        }
        if super::handoff::generation() != generation {
            end(generation, self.track, self.lane, Args::None);
        } else {
            with_typed(&["return"], &[value], |typed| {
                end(generation, self.track, self.lane, Args::Typed(typed))
            });
        }
    }

    /// As [`begin`](FutureSpan::begin), with the `Debug` text of `values` as args.
    #[inline]
    pub fn begin_args(
        callsite: &'static Callsite,
        track: &'static Track,
        values: &[&dyn Debug],
    ) -> FutureSpan {
        let generation = generation();
        if generation == 0 {
            return FutureSpan::off(track);
        }
        args::with_formatted(values, |text| {
            begin_on(generation, callsite, track, Args::Text(text))
        })
    }

    const fn off(track: &'static Track) -> FutureSpan {
        FutureSpan {
            generation: 0,
            track,
            lane: 0,
        }
    }
}

#[inline(never)]
fn begin_on(
    generation: u64,
    callsite: &'static Callsite,
    track: &'static Track,
    args: Args<'_>,
) -> FutureSpan {
    let id = track.id();
    // The lane is known once the room is made: its size is the same.
    let mut begin = Event::begin(callsite.id()).on(LaneRef { track: id, lane: 0 });
    begin.args = args;
    let lane = with_local(generation, |l| {
        let room = l.room(&begin, 0)?;
        let (lane, tick) = track.open_free_lane();
        room.write(&begin.on(LaneRef { track: id, lane }).at(tick));
        Some(lane)
    });
    match lane {
        Some(Some(lane)) => FutureSpan {
            generation,
            track,
            lane,
        },
        _ => FutureSpan::off(track),
    }
}

impl FutureSpan {
    /// Starts a slice of `callsite` on a track of `track`'s pool that is free since
    /// tick `since` (from [`now`](super::span::now), read earlier: the slice begins
    /// then), with `details` (a run-time name, typed args, flows). What a
    /// `tracing` span entered a second time records, from its first enter.
    pub fn begin_since(
        callsite: &'static Callsite,
        track: &'static Track,
        since: u64,
        details: &Details<'_>,
    ) -> FutureSpan {
        let generation = super::handoff::generation();
        if generation == 0 {
            return FutureSpan::off(track);
        }
        let id = track.id();
        let begin = Event::begin(callsite.id())
            .with(details)
            .on(LaneRef { track: id, lane: 0 });
        let lane = with_local(generation, |l| {
            let room = l.room(&begin, 0)?;
            let lane = track.open_lane_since(since);
            room.write(&begin.on(LaneRef { track: id, lane }).at(since));
            Some(lane)
        });
        match lane {
            Some(Some(lane)) => FutureSpan {
                generation,
                track,
                lane,
            },
            _ => FutureSpan::off(track),
        }
    }

    /// Ends the slice with `details`' typed args and flows (its name is the
    /// begin's), on any thread.
    pub fn end_details(mut self, details: &Details<'_>) {
        let generation = std::mem::take(&mut self.generation);
        if generation == 0 {
            return;
        }
        let tick = self.track.close_lane(self.lane);
        if super::handoff::generation() != generation {
            return;
        }
        let lane = LaneRef {
            track: self.track.id(),
            lane: self.lane,
        };
        let end = Event::end()
            .with(&Details {
                name: None,
                ..*details
            })
            .on(lane)
            .at(tick);
        with_local(generation, |l| l.write_unreserved_end(&end));
    }

    /// Ends the slice with `value` (its bounded `Debug` text) as the end event's
    /// `return` arg: the output of a future traced with `ret`, when it completes.
    #[doc(hidden)]
    pub fn end_returning(mut self, value: &dyn Debug) {
        let generation = std::mem::take(&mut self.generation);
        if generation == 0 {
            return;
        }
        if super::handoff::generation() != generation {
            end(generation, self.track, self.lane, Args::None);
        } else {
            args::with_formatted(&[value], |text| {
                end(generation, self.track, self.lane, Args::Text(text))
            });
        }
    }
}

impl Drop for FutureSpan {
    #[inline]
    fn drop(&mut self) {
        if self.generation != 0 {
            end(self.generation, self.track, self.lane, Args::None);
        }
    }
}

#[inline(never)]
fn end(generation: u64, track: &'static Track, lane: u32, ret: Args<'_>) {
    // The lane is released even if the session ended, so the pool stays usable.
    let tick = track.close_lane(lane);
    if super::handoff::generation() != generation {
        return;
    }
    let lane = LaneRef {
        track: track.id(),
        lane,
    };
    // No room reserved (see the module docs): the end makes room for itself, with
    // its `return` arg if it has one.
    let mut end = Event::end().on(lane).at(tick);
    end.args = ret;
    with_local(generation, |l| l.write_unreserved_end(&end));
}
