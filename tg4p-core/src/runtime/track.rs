//! Custom tracks: named rows of the trace that any thread can record on.

use super::category::Gate;
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
/// overlapping slices on one track. Traced futures put on it (`#[trace(track =
/// X)]`) take lanes the same way, and the lanes their concurrent children need are
/// child tracks of the lane they extend, named the same way: one rule for every
/// track that needs more room, pools of `async fn`s included.
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
    /// A pool of tracks for futures (see [`Track::pool`]).
    pool: bool,
    /// The category of the events on it that have none of their own (`""`: none).
    pub(crate) category: &'static str,
    gate: Gate,
}

/// One track of the trace: the track itself (lane 0) or one of its lanes.
#[derive(Debug)]
struct Lane {
    uuid: u64,
    /// The lane this one extends, its parent in the trace (`None` for lane 0):
    /// lane 0 for the lanes of threads' spans and of tasks, the lane of the
    /// future whose concurrent children it holds otherwise.
    parent: Option<u32>,
    /// `thread_key` of the thread whose spans are open on it, 0 if none.
    owner: u64,
    /// Slices open on it (a thread's spans, or the slices in `open`).
    depth: u32,
    /// Tick of the last slice end on it.
    last_end: u64,
    /// `thread_key` of the thread that last closed a slice on it.
    last_closer: u64,
    /// Tokens of the future slices open on it, innermost last.
    open: Vec<u64>,
    /// Holds the concurrent children of the futures on its parent lane (and only
    /// those): not a lane for threads' spans or tasks, so that a pool's tasks
    /// use no more tracks than ran at once.
    children: bool,
}

impl Lane {
    /// A lane with nothing open on it, never used.
    fn free(uuid: u64, parent: Option<u32>, children: bool) -> Lane {
        Lane {
            uuid,
            parent,
            owner: 0,
            depth: 0,
            last_end: 0,
            last_closer: 0,
            open: Vec::new(),
            children,
        }
    }

    /// Free, and the track itself or a lane for threads' spans and tasks.
    fn is_free_top(&self) -> bool {
        self.depth == 0 && !self.children
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
            category: "",
            gate: Gate::new(),
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

    /// A pool of tracks named `name` for the tasks of a traced `async fn` (what
    /// `#[trace]` declares for it): one per task running at once, reused once free.
    /// As for any track, the first is the track itself (a child of the process
    /// track) and the others are its lanes. Unlike a custom track, a future of a
    /// pool that another traced future awaits nests in that future instead.
    #[doc(hidden)]
    pub const fn pool(name: &'static str) -> Track {
        Track {
            name,
            id: AtomicU32::new(0),
            uuid: AtomicU64::new(0),
            lanes: Mutex::new(Vec::new()),
            pool: true,
            category: "",
            gate: Gate::new(),
        }
    }

    /// The same track, the events on it in category `category` (unless they name
    /// one of their own): recorded as their Perfetto category, and only while the
    /// session's category pattern enables it (see
    /// [`SessionBuilder::categories`](super::SessionBuilder::categories)).
    ///
    /// ```
    /// use tg4p_core::runtime::{Session, Track};
    /// static QUERIES: Track = Track::new("queries").category("db");
    /// let session = Session::builder().writer(std::io::sink()).categories("-db").start()?;
    /// let _off = QUERIES.span("SELECT"); // "db" is left out: not recorded
    /// # drop(_off);
    /// assert_eq!(session.finish()?.events_written, 0);
    /// # Ok::<(), tg4p_core::runtime::SessionError>(())
    /// ```
    pub const fn category(self, category: &'static str) -> Track {
        let mut track = self;
        track.category = category;
        track
    }

    /// Whether the open session records the events on this track that have no
    /// category of their own.
    #[inline]
    pub(crate) fn category_on(&'static self) -> bool {
        self.category.is_empty() || self.gate.open(self.category)
    }

    /// Whether this is a pool of task tracks (see [`Track::pool`]).
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
        let mut lanes = self.lock();
        let now = ticks();
        let pick = lanes
            .iter()
            .position(|l| l.owner == me && l.depth > 0)
            .or_else(|| {
                lanes.iter().position(|l| {
                    l.is_free_top()
                        && (l.last_closer == me || now.saturating_sub(l.last_end) > LANE_REUSE_GAP)
                })
            });
        let i = pick.unwrap_or_else(|| push_lane(&mut lanes, 0, false));
        let lane = &mut lanes[i];
        lane.owner = me;
        lane.depth += 1;
        (i as u32, now)
    }

    /// The lanes, lane 0 (the track itself) created on first use.
    fn lock(&self) -> super::shim::MutexGuard<'_, Vec<Lane>> {
        let mut lanes = super::shim::lock(&self.lanes);
        if lanes.is_empty() {
            lanes.push(Lane::free(self.uuid(), None, false));
        }
        lanes
    }

    /// Opens the slice `token` of a task (a future no traced future polls) on a
    /// lane with no slice open, else on a new lane, and reads its tick.
    ///
    /// A free lane last closed by this thread is taken first: its end is on this
    /// thread's sequence, before the new begin, so no gap is needed. Else the lane
    /// free the longest; if it was freed less than [`LANE_REUSE_GAP`] ago (by
    /// another thread: its end is on another sequence, and only the timestamps
    /// order the two), this waits out the rest of the gap (at most about 3 us,
    /// outside the lock, with the lane already taken) rather than growing the pool:
    /// the number of lanes stays the peak number of open slices.
    pub(crate) fn open_task(&self, token: u64) -> (u32, u64) {
        let me = thread_key();
        let mut lanes = self.lock();
        let free = pick_free(&lanes, me, |l| l.is_free_top());
        let i = free.unwrap_or_else(|| push_lane(&mut lanes, 0, false));
        open_on(lanes, i, token, me)
    }

    /// Opens the slice `token` of a child of the future whose innermost slice
    /// is `above`, on lane `lane`: on that lane if `above` is its innermost slice
    /// (nested one level deeper), else on a free lane beneath it (a new one if
    /// none is free), and reads its tick. Hand-overs between threads wait out the
    /// gap as in [`open_task`](Track::open_task).
    pub(crate) fn open_child(&self, lane: u32, above: u64, token: u64) -> (u32, u64) {
        let me = thread_key();
        let mut lanes = self.lock();
        let on_top = lanes
            .get(lane as usize)
            .is_some_and(|l| l.open.last() == Some(&above));
        let i = if on_top {
            lane as usize
        } else {
            let free = pick_free(&lanes, me, |l| {
                l.depth == 0 && l.children && l.parent == Some(lane)
            });
            free.unwrap_or_else(|| push_lane(&mut lanes, lane, true))
        };
        open_on(lanes, i, token, me)
    }

    /// Closes the future slice `token` on `lane` and reads its tick; also returns
    /// how many slices open above it are closed with it (children that outlived
    /// it: their ends must come first). `None` if it was closed that way already.
    pub(crate) fn close_slice(&self, lane: u32, token: u64) -> Option<(u64, u32)> {
        let mut lanes = super::shim::lock(&self.lanes);
        let l = lanes.get_mut(lane as usize)?;
        let at = l.open.iter().rposition(|&t| t == token)?;
        let above = (l.open.len() - at - 1) as u32;
        l.open.truncate(at);
        l.depth = l.open.len() as u32;
        let now = ticks();
        l.last_end = now;
        l.last_closer = thread_key();
        Some((now, above))
    }

    /// Opens a slice that no thread owns and that began at tick `since`, in the
    /// past (a `tracing` span's, from its first enter): on a free lane whose last
    /// slice ended before `since` (by [`LANE_REUSE_GAP`] if another thread ended it:
    /// only the timestamps order the two), else on a new lane.
    pub(crate) fn open_lane_since(&self, since: u64) -> u32 {
        let me = thread_key();
        let mut lanes = self.lock();
        let free = lanes.iter().position(|l| {
            l.is_free_top()
                && (l.last_end == 0
                    || (l.last_closer == me && l.last_end < since)
                    || l.last_end.saturating_add(LANE_REUSE_GAP) < since)
        });
        let i = free.unwrap_or_else(|| push_lane(&mut lanes, 0, false));
        // Owner 0 with depth 1: no thread's `open_lane` nests on it, no task takes it.
        let lane = &mut lanes[i];
        lane.owner = 0;
        lane.depth = 1;
        i as u32
    }

    /// Opens a slice that no thread owns and that began at tick `since` (as
    /// [`open_lane_since`](Track::open_lane_since)) on a lane beneath lane
    /// `parent`, a child track of it: a free one whose last slice ended before
    /// `since`, else a new one. What a `tracing` span's slice takes when its parent
    /// span's slice is open on lane `parent` of this track.
    pub(crate) fn open_child_since(&self, parent: u32, since: u64) -> u32 {
        let me = thread_key();
        let mut lanes = self.lock();
        let free = lanes.iter().position(|l| {
            l.depth == 0
                && l.children
                && l.parent == Some(parent)
                && (l.last_end == 0
                    || (l.last_closer == me && l.last_end < since)
                    || l.last_end.saturating_add(LANE_REUSE_GAP) < since)
        });
        let i = free.unwrap_or_else(|| push_lane(&mut lanes, parent, true));
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

    /// Name of lane `lane` as written in its descriptor: the track's name for
    /// the track itself, `"NAME #k"` (k = lane + 1) for its lanes, so that no two
    /// siblings share a name (the UI would merge them into one row).
    pub(crate) fn lane_name(&self, lane: u32) -> String {
        if lane == 0 {
            return self.name.to_owned();
        }
        format!("{} #{}", self.name, lane + 1)
    }

    /// The lane that lane `lane` extends: its parent track (`None`: the track
    /// itself, a child of the process).
    pub(crate) fn lane_parent(&self, lane: u32) -> Option<u32> {
        let lanes = super::shim::lock(&self.lanes);
        lanes.get(lane as usize).and_then(|l| l.parent)
    }
}

/// A new lane extending lane `parent` (for its futures' `children`, or for
/// threads' spans and tasks); returns its index.
fn push_lane(lanes: &mut Vec<Lane>, parent: u32, children: bool) -> usize {
    lanes.push(Lane::free(
        crate::ids::next_track_uuid(),
        Some(parent),
        children,
    ));
    lanes.len() - 1
}

/// The free lane (as `is_free` says) that thread `me` closed last, else the one
/// free the longest.
fn pick_free(lanes: &[Lane], me: u64, is_free: impl Fn(&Lane) -> bool) -> Option<usize> {
    lanes
        .iter()
        .position(|l| is_free(l) && l.last_closer == me)
        .or_else(|| {
            lanes
                .iter()
                .enumerate()
                .filter(|(_, l)| is_free(l))
                .min_by_key(|(_, l)| l.last_end)
                .map(|(i, _)| i)
        })
}

/// Opens future slice `token` on lane `i` (owned by no thread, so that no
/// thread's spans nest on it), releases the lock, and reads the begin's tick: at
/// least [`LANE_REUSE_GAP`] after the lane's last end if another thread wrote it.
fn open_on(
    mut lanes: super::shim::MutexGuard<'_, Vec<Lane>>,
    i: usize,
    token: u64,
    me: u64,
) -> (u32, u64) {
    let lane = &mut lanes[i];
    lane.owner = 0;
    lane.open.push(token);
    lane.depth = lane.open.len() as u32;
    let last_end = if lane.last_closer == me {
        0
    } else {
        lane.last_end
    };
    drop(lanes);
    let mut now = ticks();
    while now.saturating_sub(last_end) <= LANE_REUSE_GAP {
        std::hint::spin_loop();
        now = ticks();
    }
    (i as u32, now)
}
