//! The lanes of a custom track as threads share them without a lock: one
//! [`LaneSlot`] per lane, holding who holds it (or who last freed it), when its
//! last slice ended, and how deep its holder's slices nest on it.
//!
//! # Protocol
//! A lane's `state` word is `key << 1 | held`: while held, `key` is its holder
//! (a thread's key, or [`POOL`] for futures and pool spans, whose own bookkeeping
//! is under the track's mutex); while free, the key of the thread that freed it
//! (0: never used).
//! - **Take**: a compare-and-swap of a free state (`closer << 1`) to
//!   `holder << 1 | 1`, Acquire: it reads from the Release store that freed the
//!   lane, so the freer's `last_end` (stored before it) is the one read after it.
//! - **Free**: store `last_end`, then the state without its `held` bit, Release.
//! - While held by a thread, only that thread touches `depth` (Relaxed): the next
//!   holder's take happens after the free that followed the last change.
//!
//! A thread keeps the lane it freed last on each track ("sticky"): taking it
//! again is one uncontended compare-and-swap on a cache line no other thread
//! writes, and no gap is needed (its end is on the same sequence as the new
//! begin). Another thread may take a free lane only once it has been free for
//! [`LANE_REUSE_GAP`] ticks, so that an end and the next begin on one track never
//! share a timestamp across sequences. Compiled against loom's atomics under
//! `--cfg tg4p_loom` (see `loom_tests.rs`).

use super::shim::{AtomicU64, Ordering};

/// Ticks a lane must have been free before another thread's slice may start on it,
/// so that an end and the next begin never share a timestamp (their order would
/// then be up to the trace processor). About 3 us with the TSC, 10 us otherwise.
pub(crate) const LANE_REUSE_GAP: u64 = 10_000;

/// The key that holds a lane for futures and pool spans.
pub(crate) const POOL: u64 = 1 << 62;

/// The `held` bit of a lane's state.
const HELD: u64 = 1;

/// The state of a lane held by `key`.
#[inline(always)]
pub(crate) const fn held_by(key: u64) -> u64 {
    key << 1 | HELD
}

/// One lane's shared state, on a cache line of its own (two, against the
/// adjacent-line prefetcher): threads on different lanes never share one.
#[repr(align(128))]
#[derive(Debug)]
pub(crate) struct LaneSlot {
    /// `key << 1 | held`: see the module docs.
    state: AtomicU64,
    /// Slices its holding thread has open on it.
    depth: AtomicU64,
    /// Tick of the last slice end on it.
    last_end: AtomicU64,
    /// Set before the lane is published (the track's lane count, Release), read after.
    uuid: AtomicU64,
    /// The lane it extends plus one (0: none, the track itself) in the low 32 bits,
    /// and bit 32 if it holds a future's concurrent children. Published as `uuid`.
    place: AtomicU64,
}

/// A free lane as [`LaneSlot::free`] saw it: what a take compares against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Free {
    state: u64,
    /// The key of the thread that freed it (0: never used).
    pub(crate) closer: u64,
    /// When its last slice ended (0: never used).
    pub(crate) last_end: u64,
}

impl Free {
    /// A lane freed by `closer` at `last_end` (one whose state says nothing of
    /// it: a lane of futures' children, whose bookkeeping is under a mutex).
    pub(crate) fn closed(closer: u64, last_end: u64) -> Free {
        Free {
            state: 0,
            closer,
            last_end,
        }
    }

    /// Whether thread `me` may begin a slice on it at tick `now` with no wait:
    /// it freed it itself (its end is on `me`'s sequence, before the begin), or the
    /// lane has been free for longer than [`LANE_REUSE_GAP`].
    #[inline]
    pub(crate) fn ready_for(&self, me: u64, now: u64) -> bool {
        self.closer == me || now.saturating_sub(self.last_end) > LANE_REUSE_GAP
    }
}

impl LaneSlot {
    /// A lane not published yet.
    pub(crate) fn new() -> LaneSlot {
        LaneSlot {
            state: AtomicU64::new(0),
            depth: AtomicU64::new(0),
            last_end: AtomicU64::new(0),
            uuid: AtomicU64::new(0),
            place: AtomicU64::new(0),
        }
    }

    /// Sets up a lane before it is published: its uuid, the lane it extends,
    /// whether it holds children, and its first state (`held_by(..)` when its
    /// creator takes it at once).
    pub(crate) fn init(&self, uuid: u64, parent: Option<u32>, children: bool, state: u64) {
        self.uuid.store(uuid, Ordering::Relaxed);
        let parent = parent.map_or(0, |p| u64::from(p) + 1);
        self.place
            .store(parent | (children as u64) << 32, Ordering::Relaxed);
        self.depth.store(state & HELD, Ordering::Relaxed);
        self.state.store(state, Ordering::Relaxed);
    }

    pub(crate) fn uuid(&self) -> u64 {
        self.uuid.load(Ordering::Relaxed)
    }

    /// The lane it extends (`None`: the track itself).
    pub(crate) fn parent(&self) -> Option<u32> {
        let p = self.place.load(Ordering::Relaxed) as u32;
        p.checked_sub(1)
    }

    /// Whether it holds the concurrent children of futures on its parent lane.
    pub(crate) fn children(&self) -> bool {
        self.place.load(Ordering::Relaxed) >> 32 != 0
    }

    /// Whether thread `me` holds it. (Only `me` sets or clears that state, so a
    /// Relaxed load sees `me`'s own last change.)
    #[inline(always)]
    pub(crate) fn held_by(&self, me: u64) -> bool {
        self.state.load(Ordering::Relaxed) == held_by(me)
    }

    /// Its state if free, else `None`.
    #[inline]
    pub(crate) fn free(&self) -> Option<Free> {
        // Acquire: reads from the free's Release store, so `last_end` is its.
        let state = self.state.load(Ordering::Acquire);
        (state & HELD == 0).then(|| Free {
            state,
            closer: state >> 1,
            last_end: self.last_end.load(Ordering::Relaxed),
        })
    }

    /// Takes the lane for `holder` if it is still as `seen` left it, with one
    /// slice open on it. Returns the lane as it was freed, read after the take
    /// (the one to wait out: `seen` may be older if the lane was taken and freed
    /// again by the same thread in between).
    #[inline]
    pub(crate) fn take(&self, seen: Free, holder: u64) -> Option<Free> {
        self.state
            .compare_exchange(
                seen.state,
                held_by(holder),
                Ordering::Acquire,
                Ordering::Relaxed,
            )
            .ok()?;
        self.depth.store(1, Ordering::Relaxed);
        Some(Free {
            last_end: self.last_end.load(Ordering::Relaxed),
            ..seen
        })
    }

    /// Takes the lane back for thread `me` if `me` freed it and nobody took it
    /// since (the sticky fast path: no gap needed), with one slice open on it.
    #[inline(always)]
    pub(crate) fn retake(&self, me: u64) -> bool {
        let taken = self
            .state
            .compare_exchange(me << 1, held_by(me), Ordering::Acquire, Ordering::Relaxed)
            .is_ok();
        if taken {
            self.depth.store(1, Ordering::Relaxed);
        }
        taken
    }

    /// One more slice of its holding thread open on it.
    #[inline(always)]
    pub(crate) fn nest(&self) {
        let d = self.depth.load(Ordering::Relaxed);
        self.depth.store(d + 1, Ordering::Relaxed);
    }

    /// Closes one slice of its holding thread, ended at `tick`; frees the lane if
    /// it was the last (its key stays in the state, as the closer's).
    #[inline(always)]
    pub(crate) fn close_one(&self, tick: u64) {
        let d = self.depth.load(Ordering::Relaxed).saturating_sub(1);
        self.depth.store(d, Ordering::Relaxed);
        if d == 0 {
            let held = self.state.load(Ordering::Relaxed);
            self.last_end.store(tick, Ordering::Relaxed);
            // Release: whoever takes it next sees `last_end` and `depth`.
            self.state.store(held & !HELD, Ordering::Release);
        }
    }

    /// Frees a lane held by [`POOL`], its last slice ended at `tick` by thread
    /// `closer`.
    pub(crate) fn free_pool(&self, tick: u64, closer: u64) {
        self.last_end.store(tick, Ordering::Relaxed);
        self.state.store(closer << 1, Ordering::Release);
    }

    /// Records that a slice on it (held by [`POOL`]) ended at `tick`, the lane
    /// staying held.
    pub(crate) fn ended_at(&self, tick: u64) {
        self.last_end.store(tick, Ordering::Relaxed);
    }

    /// Tick of its last slice end: for a lane held by [`POOL`] (read under the
    /// track's mutex, which orders it), or as a hint.
    pub(crate) fn last_end(&self) -> u64 {
        self.last_end.load(Ordering::Relaxed)
    }
}
