//! Custom tracks: named rows of the trace that any thread can record on.

use super::clock::ticks;
use super::local::thread_key;
use super::registry;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// Ticks a lane must have been free before another thread's slice may start on it,
/// so that an end and the next begin never share a timestamp (their order would
/// then be up to the trace processor). About 3 us with the TSC, 10 us otherwise.
const LANE_REUSE_GAP: u64 = 10_000;

/// A named track of the process, shared by all threads: declare it as a `static`.
///
/// Spans on it nest as usual within one thread. When spans from different threads
/// overlap, the later one goes on a *lane*: a child track of this one (named
/// `"NAME #2"`, `"NAME #3"`, ...), reused once free, so the trace never holds
/// overlapping slices on one track.
///
/// Slices go on it with [`Track::span`] (or `span!(TRACK, ..)`,
/// `#[trace(track = TRACK)]`), instants with [`Track::instant`].
///
/// ```
/// static TOP: tg4p_core::runtime::Track = tg4p_core::runtime::Track::new("TOP_TRACK");
/// let session = tg4p_core::runtime::Session::builder()
///     .writer(std::io::sink())
///     .start()?;
/// {
///     let _sort = TOP.span("SORT"); // records only while a session is open
///     TOP.instant("SORTING");
/// }
/// session.finish()?;
/// # Ok::<(), tg4p_core::runtime::SessionError>(())
/// ```
#[derive(Debug)]
pub struct Track {
    name: &'static str,
    id: AtomicU32,
    uuid: AtomicU64,
    lanes: Mutex<Vec<Lane>>,
    /// A pool of tracks for futures (see [`Track::pool`]): every lane is a child of
    /// the process track with the track's own name.
    pool: bool,
}

#[derive(Debug)]
struct Lane {
    uuid: u64,
    /// `thread_key` of the thread whose slices are open on it, 0 if free.
    owner: u64,
    depth: u32,
    last_end: u64,
    /// `thread_key` of the thread that last closed a slice on it.
    last_closer: u64,
}

impl Lane {
    /// A lane with nothing open on it, never used.
    fn free(uuid: u64) -> Lane {
        Lane {
            uuid,
            owner: 0,
            depth: 0,
            last_end: 0,
            last_closer: 0,
        }
    }
}

impl Track {
    /// A track named `name`; its uuid is drawn when first used.
    ///
    /// ```
    /// static DISK: tg4p_core::runtime::Track = tg4p_core::runtime::Track::new("disk");
    /// assert_eq!(DISK.name(), "disk");
    /// ```
    pub const fn new(name: &'static str) -> Track {
        Track {
            name,
            id: AtomicU32::new(0),
            uuid: AtomicU64::new(0),
            lanes: Mutex::new(Vec::new()),
            pool: false,
        }
    }

    /// The process-wide track named `name`, a name known at run time: one per
    /// distinct name (made on first use and kept for the program's life, so use it
    /// for a bounded set of names).
    ///
    /// ```
    /// use tg4p_core::runtime::Track;
    /// let shard = 3;
    /// let track: &'static Track = Track::named(format!("shard {shard}"));
    /// let _span = track.span("compact");
    /// assert!(std::ptr::eq(track, Track::named("shard 3")));
    /// ```
    pub fn named(name: impl Into<std::borrow::Cow<'static, str>>) -> &'static Track {
        use std::borrow::Cow;
        use std::collections::HashMap;
        static BY_NAME: Mutex<Option<HashMap<Cow<'static, str>, &'static Track>>> =
            Mutex::new(None);
        let name = name.into();
        let mut map = super::shim::lock(&BY_NAME);
        let map = map.get_or_insert_with(HashMap::new);
        if let Some(t) = map.get(&name) {
            return t;
        }
        let name: &'static str = match name {
            Cow::Borrowed(s) => s,
            Cow::Owned(s) => Box::leak(s.into_boxed_str()),
        };
        let track: &'static Track = Box::leak(Box::new(Track::new(name)));
        map.insert(Cow::Borrowed(name), track);
        track
    }

    /// A pool of tracks named `name`, one per concurrently running future of a
    /// traced `async fn` (what `#[trace]` declares for it): each is a child of the
    /// process track named `name` (the UI shows them as one group), reused once free.
    #[doc(hidden)]
    pub const fn pool(name: &'static str) -> Track {
        Track {
            name,
            id: AtomicU32::new(0),
            uuid: AtomicU64::new(0),
            lanes: Mutex::new(Vec::new()),
            pool: true,
        }
    }

    /// Whether the lanes are a pool of sibling tracks (see [`Track::pool`]).
    pub(crate) fn is_pool(&self) -> bool {
        self.pool
    }

    /// The track's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    #[inline]
    pub(crate) fn id(&'static self) -> u32 {
        match self.id.load(Ordering::Acquire) {
            0 => registry::register(&self.id, self),
            id => id,
        }
    }

    /// The uuid of the track itself (lane 0).
    pub(crate) fn uuid(&self) -> u64 {
        let u = self.uuid.load(Ordering::Relaxed);
        if u != 0 {
            return u;
        }
        let fresh = crate::ids::next_track_uuid();
        match self
            .uuid
            .compare_exchange(0, fresh, Ordering::Relaxed, Ordering::Relaxed)
        {
            Ok(_) => fresh,
            Err(existing) => existing,
        }
    }

    /// The uuid of lane `lane` (0 is the track itself).
    pub(crate) fn lane_uuid(&self, lane: u32) -> Option<u64> {
        if lane == 0 {
            return Some(self.uuid());
        }
        let lanes = super::shim::lock(&self.lanes);
        lanes.get(lane as usize).map(|l| l.uuid)
    }

    /// Opens a slice for thread `me` and reads its tick: on the lane `me` already
    /// has slices open on, else on the first free lane that `me` closed last (its
    /// end is on this thread's sequence, before the new begin: no gap is needed)
    /// or that has been free for long enough, else a new lane. The tick is read
    /// under the lock so that lane hand-overs are ordered.
    pub(crate) fn open_lane(&self, me: u64) -> (u32, u64) {
        let mut lanes = super::shim::lock(&self.lanes);
        if lanes.is_empty() {
            lanes.push(Lane::free(self.uuid()));
        }
        let now = ticks();
        let pick = lanes
            .iter()
            .position(|l| l.owner == me && l.depth > 0)
            .or_else(|| {
                lanes.iter().position(|l| {
                    l.depth == 0
                        && (l.last_closer == me || now.saturating_sub(l.last_end) > LANE_REUSE_GAP)
                })
            });
        let i = match pick {
            Some(i) => i,
            None => {
                lanes.push(Lane::free(crate::ids::next_track_uuid()));
                lanes.len() - 1
            }
        };
        let lane = &mut lanes[i];
        lane.owner = me;
        lane.depth += 1;
        (i as u32, now)
    }

    /// Opens a slice that no thread owns (a future's, which may end on another
    /// thread) on a lane with no slice open, else on a new lane, and reads its tick.
    /// A free lane last closed by this thread is taken first: its end is on this
    /// thread's sequence, before the new begin, so no gap is needed. Else the lane
    /// free the longest; if it was freed less than [`LANE_REUSE_GAP`] ago (by
    /// another thread: its end is on another sequence, and only the timestamps
    /// order the two), this waits out the rest of the gap (at most about 3 us,
    /// outside the lock, with the lane already taken) rather than growing the pool:
    /// the number of lanes stays the peak number of open slices.
    pub(crate) fn open_free_lane(&self) -> (u32, u64) {
        let me = thread_key();
        let (i, last_end) = {
            let mut lanes = super::shim::lock(&self.lanes);
            if lanes.is_empty() {
                lanes.push(Lane::free(self.uuid()));
            }
            let free = lanes
                .iter()
                .position(|l| l.depth == 0 && l.last_closer == me)
                .or_else(|| {
                    lanes
                        .iter()
                        .enumerate()
                        .filter(|(_, l)| l.depth == 0)
                        .min_by_key(|(_, l)| l.last_end)
                        .map(|(i, _)| i)
                });
            let i = free.unwrap_or_else(|| {
                lanes.push(Lane::free(crate::ids::next_track_uuid()));
                lanes.len() - 1
            });
            // Owner 0 with depth 1: no thread's `open_lane` nests on it.
            let lane = &mut lanes[i];
            lane.owner = 0;
            lane.depth = 1;
            let last_end = if lane.last_closer == me {
                0
            } else {
                lane.last_end
            };
            (i, last_end)
        };
        let mut now = ticks();
        while now.saturating_sub(last_end) <= LANE_REUSE_GAP {
            std::hint::spin_loop();
            now = ticks();
        }
        (i as u32, now)
    }

    /// Opens a slice that no thread owns and that began at tick `since`, in the
    /// past (a `tracing` span's, from its first enter): on a free lane whose last
    /// slice ended before `since` (by [`LANE_REUSE_GAP`] if another thread ended it:
    /// only the timestamps order the two), else on a new lane.
    pub(crate) fn open_lane_since(&self, since: u64) -> u32 {
        let me = thread_key();
        let mut lanes = super::shim::lock(&self.lanes);
        if lanes.is_empty() {
            lanes.push(Lane::free(self.uuid()));
        }
        let free = lanes.iter().position(|l| {
            l.depth == 0
                && (l.last_end == 0
                    || (l.last_closer == me && l.last_end < since)
                    || l.last_end.saturating_add(LANE_REUSE_GAP) < since)
        });
        let i = free.unwrap_or_else(|| {
            lanes.push(Lane::free(crate::ids::next_track_uuid()));
            lanes.len() - 1
        });
        // Owner 0 with depth 1: no thread's `open_lane` nests on it.
        let lane = &mut lanes[i];
        lane.owner = 0;
        lane.depth = 1;
        i as u32
    }

    /// Closes the innermost slice on `lane` and reads its tick.
    pub(crate) fn close_lane(&self, lane: u32) -> u64 {
        let mut lanes = super::shim::lock(&self.lanes);
        let now = ticks();
        if let Some(l) = lanes.get_mut(lane as usize) {
            l.depth = l.depth.saturating_sub(1);
            if l.depth == 0 {
                l.owner = 0;
                l.last_end = now;
                l.last_closer = thread_key();
            }
        }
        now
    }

    /// Name of lane `lane` as written in its descriptor.
    pub(crate) fn lane_name(&self, lane: u32) -> String {
        if self.pool {
            return self.name.to_owned();
        }
        format!("{} #{}", self.name, lane + 1)
    }
}
