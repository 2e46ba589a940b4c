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

use super::args::{self, ArgText};
use super::buffer::{self, EventHeader};
use super::recorder::{self, generation, with_local};
use super::registry::Callsite;
use super::span::write_event_at;
use super::track::Track;
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
        begin_on(generation, callsite, track, None)
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
            begin_on(generation, callsite, track, Some(text))
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
    text: Option<&ArgText>,
) -> FutureSpan {
    let header = EventHeader {
        ty: buffer::TYPE_BEGIN,
        has_track: true,
        float: false,
        args: text.map_or(0, |t| t.ends.len() as u8),
        outgoing: 0,
        incoming: 0,
        value_dropped: false,
    };
    let words = header.fixed_words() + text.map_or(0, |t| t.words());
    let lane = with_local(generation, |l| {
        if !l.ensure(words, 0) {
            l.dropped(2);
            return None;
        }
        let (lane, tick) = track.open_free_lane();
        write_event_at(
            l,
            header,
            callsite.id(),
            Some((track.id(), lane, Some(tick))),
            0,
            &[],
            &[],
            text,
            0,
        );
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
    /// Ends the slice with `value` (its bounded `Debug` text) as the end event's
    /// `return` arg: the output of a future traced with `ret`, when it completes.
    #[doc(hidden)]
    pub fn end_returning(mut self, value: &dyn Debug) {
        let generation = std::mem::take(&mut self.generation);
        if generation == 0 {
            return;
        }
        if recorder::generation() != generation {
            end(generation, self.track, self.lane, None);
        } else {
            args::with_formatted(&[value], |text| {
                end(generation, self.track, self.lane, Some(text))
            });
        }
    }
}

impl Drop for FutureSpan {
    #[inline]
    fn drop(&mut self) {
        if self.generation != 0 {
            end(self.generation, self.track, self.lane, None);
        }
    }
}

#[inline(never)]
fn end(generation: u64, track: &'static Track, lane: u32, ret: Option<&ArgText>) {
    // The lane is released even if the session ended, so the pool stays usable.
    let tick = track.close_lane(lane);
    if recorder::generation() != generation {
        return;
    }
    let header = EventHeader {
        ty: buffer::TYPE_END,
        has_track: true,
        float: false,
        args: 0,
        outgoing: 0,
        incoming: 0,
        value_dropped: false,
    };
    // No room reserved (see above): the end makes room for itself, with its
    // `return` arg if it has one.
    let ret = ret.filter(|t| !t.ends.is_empty());
    let header = EventHeader {
        args: ret.is_some() as u8,
        ..header
    };
    let words = header.fixed_words() + ret.map_or(0, |t| t.words());
    with_local(generation, |l| {
        // This thread holds no reservation for the end (another may have begun
        // the slice): make room like a begin, and account for it as a reserved
        // end, which `write_event_at` then releases.
        if !l.ensure(words, 0) {
            l.dropped(1);
            return;
        }
        l.reserved += words;
        write_event_at(
            l,
            header,
            0,
            Some((track.id(), lane, Some(tick))),
            0,
            &[],
            &[],
            ret,
            0,
        );
    });
}
