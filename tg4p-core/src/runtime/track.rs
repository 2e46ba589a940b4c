//! Custom tracks: named rows of the trace that any thread can record on.

use super::category::Gate;
use super::clock::ticks;
use super::lanes::{self, Free, LANE_REUSE_GAP, LaneSlot, POOL};
use super::local::thread_key;
use super::record::LaneRef;
use super::registry;
use std::cell::RefCell;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

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
    /// Its lanes (lane 0 is the track itself), in segments made as needed.
    segments: OnceLock<Box<Segment>>,
    /// Lanes published: their slots are set up.
    len: AtomicU32,
    /// What futures and pool spans keep of each lane; locked to add a lane too.
    book: Mutex<Vec<Book>>,
    /// A pool of tracks for futures (see [`Track::pool`]).
    pool: bool,
    /// The category of the events on it that have none of their own (`""`: none).
    pub(crate) category: &'static str,
    gate: Gate,
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
            segments: OnceLock::new(),
            len: AtomicU32::new(0),
            book: Mutex::new(Vec::new()),
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
            segments: OnceLock::new(),
            len: AtomicU32::new(0),
            book: Mutex::new(Vec::new()),
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
        self.slot(lane).map(LaneSlot::uuid)
    }

    /// Lane `lane`'s slot, if the lane exists.
    fn slot(&self, lane: u32) -> Option<&LaneSlot> {
        if lane >= self.len.load(Ordering::Acquire) {
            return None;
        }
        let mut segment = self.segments.get()?;
        for _ in 0..lane as usize / SEGMENT_LANES {
            segment = segment.next.get()?;
        }
        Some(&segment.slots[lane as usize % SEGMENT_LANES])
    }

    /// The lanes published so far, with their indices.
    fn slots(&self) -> impl Iterator<Item = (u32, &LaneSlot)> {
        // Acquire: every slot below the count is set up (see `push_lane`).
        let n = self.len.load(Ordering::Acquire);
        let mut segment = self.segments.get();
        (0..n).map_while(move |i| {
            if i > 0 && (i as usize).is_multiple_of(SEGMENT_LANES) {
                segment = segment?.next.get();
            }
            Some((i, &segment?.slots[i as usize % SEGMENT_LANES]))
        })
    }

    /// The bookkeeping of futures and pool spans, lane 0 (the track itself)
    /// created on first use. Taken also to add a lane.
    fn book(&self) -> super::shim::MutexGuard<'_, Vec<Book>> {
        let mut book = super::shim::lock(&self.book);
        if book.is_empty() {
            self.push_lane(&mut book, None, false, 0);
        }
        book
    }

    /// Adds a lane extending lane `parent` (`None`: the track itself, lane 0),
    /// holding the concurrent children of futures on it if `children`, in state
    /// `state` (held by its creator, or free); returns its index. Under the book's
    /// lock, so lanes are added one at a time, in order.
    fn push_lane(
        &self,
        book: &mut Vec<Book>,
        parent: Option<u32>,
        children: bool,
        state: u64,
    ) -> u32 {
        let i = book.len();
        let mut segment = self.segments.get_or_init(|| Box::new(Segment::new()));
        for _ in 0..i / SEGMENT_LANES {
            segment = segment.next.get_or_init(|| Box::new(Segment::new()));
        }
        let uuid = if i == 0 {
            self.uuid()
        } else {
            crate::ids::next_track_uuid()
        };
        let parent = if i == 0 { None } else { parent.or(Some(0)) };
        segment.slots[i % SEGMENT_LANES].init(uuid, parent, children, state);
        book.push(Book::default());
        // Release: the slot is set up before anyone counts it (`slots`, `slot`).
        self.len.store(i as u32 + 1, Ordering::Release);
        i as u32
    }

    /// Opens a slice of the calling thread on this track and reads its tick: on
    /// the lane the thread has slices open on, else on the lane it freed last if it
    /// did so lately (it stays on "its" lane while it keeps recording), else on
    /// the first free lane that it freed last or that has been free for long
    /// enough, else on a new lane. `None` if the thread's state is gone (it is
    /// exiting). No lock: see `super::lanes`.
    #[inline]
    pub(crate) fn open_for_thread(&'static self) -> Option<(HeldLane, u64)> {
        HELD.try_with(|held| {
            let mut held = held.try_borrow_mut().ok()?;
            let me = held.key();
            let track = self.id();
            let addr = self as *const Track as usize;
            if let Some(e) = held.entries.iter().find(|e| e.track == addr)
                && let Some(slot) = e.slot
            {
                let lane = HeldLane {
                    slot,
                    at: LaneRef {
                        track,
                        lane: e.lane,
                    },
                };
                if slot.held_by(me) {
                    slot.nest();
                    return Some((lane, ticks()));
                }
                // The lane it freed last, if lately (its last end is a hint: only
                // a lane `me` freed is taken back).
                let now = ticks();
                if now.saturating_sub(slot.last_end()) < STICKY_TICKS && slot.retake(me) {
                    return Some((lane, now));
                }
            }
            let (lane, tick) = self.take_for_thread(me, track);
            held.remember(addr, lane.slot, lane.at.lane);
            Some((lane, tick))
        })
        .ok()
        .flatten()
    }

    /// The slow path of [`open_for_thread`](Track::open_for_thread): a scan of
    /// the lanes.
    #[cold]
    fn take_for_thread(&'static self, me: u64, track: u32) -> (HeldLane, u64) {
        if self.len.load(Ordering::Acquire) == 0 {
            drop(self.book()); // lane 0
        }
        let held = |lane: u32, slot: &'static LaneSlot| HeldLane {
            slot,
            at: LaneRef { track, lane },
        };
        // A lane it holds already (the thread's entry for the track was evicted).
        if let Some((i, slot)) = self.slots().find(|(_, s)| s.held_by(me)) {
            slot.nest();
            return (held(i, slot), ticks());
        }
        let now = ticks();
        for (i, slot) in self.slots() {
            let Some(free) = slot.free().filter(|f| f.ready_for(me, now)) else {
                continue;
            };
            if let Some(taken) = slot.take(free, me) {
                // As freed, read after the take: if it was freed again since it was
                // seen (by another thread), wait out the gap.
                return (held(i, slot), begin_after(taken, me));
            }
        }
        let mut book = self.book();
        let i = self.push_lane(&mut book, Some(0), false, lanes::held_by(me));
        drop(book);
        let slot = self.slot(i).expect("lane just published");
        (held(i, slot), ticks())
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
        let mut book = self.book();
        let (i, taken) = loop {
            let mut best: Option<(u32, &LaneSlot, Free)> = None;
            for (i, slot) in self.slots() {
                let Some(free) = slot.free() else { continue };
                if free.closer == me {
                    best = Some((i, slot, free));
                    break;
                }
                if best.is_none_or(|(.., b)| free.last_end < b.last_end) {
                    best = Some((i, slot, free));
                }
            }
            match best {
                // Lost to a thread that took it meanwhile: look again.
                Some((i, slot, free)) => match slot.take(free, POOL) {
                    Some(taken) => break (i, Some(taken)),
                    None => continue,
                },
                None => {
                    break (
                        self.push_lane(&mut book, Some(0), false, lanes::held_by(POOL)),
                        None,
                    );
                }
            }
        };
        let b = &mut book[i as usize];
        b.open.push(token);
        b.depth = b.open.len() as u32;
        drop(book);
        let tick = match taken {
            Some(taken) => begin_after(taken, me),
            None => ticks(),
        };
        (i, tick)
    }

    /// Opens the slice `token` of a child of the future whose innermost slice
    /// is `above`, on lane `lane`: on that lane if `above` is its innermost slice
    /// (nested one level deeper), else on a free lane beneath it (a new one if
    /// none is free), and reads its tick. Hand-overs between threads wait out the
    /// gap as in [`open_task`](Track::open_task).
    pub(crate) fn open_child(&self, lane: u32, above: u64, token: u64) -> (u32, u64) {
        let me = thread_key();
        let mut book = self.book();
        let on_top = book
            .get(lane as usize)
            .is_some_and(|b| b.open.last() == Some(&above));
        let i = if on_top {
            Some(lane)
        } else {
            self.free_child(&book, lane, me, |_, _| true)
        };
        let i =
            i.unwrap_or_else(|| self.push_lane(&mut book, Some(lane), true, lanes::held_by(POOL)));
        let b = &mut book[i as usize];
        b.open.push(token);
        b.depth = b.open.len() as u32;
        let last = Free::closed(b.last_closer, self.slot(i).map_or(0, LaneSlot::last_end));
        drop(book);
        (i, begin_after(last, me))
    }

    /// The free children lane beneath lane `parent` that thread `me` closed last,
    /// else the one free the longest, among those `ok` accepts (given its last
    /// closer and last end).
    fn free_child(
        &self,
        book: &[Book],
        parent: u32,
        me: u64,
        ok: impl Fn(u64, u64) -> bool,
    ) -> Option<u32> {
        let mut best: Option<(u32, u64)> = None;
        for (i, slot) in self.slots() {
            let b = &book[i as usize];
            if b.depth != 0 || !slot.children() || slot.parent() != Some(parent) {
                continue;
            }
            let last_end = slot.last_end();
            if !ok(b.last_closer, last_end) {
                continue;
            }
            if b.last_closer == me {
                return Some(i);
            }
            if best.is_none_or(|(_, e)| last_end < e) {
                best = Some((i, last_end));
            }
        }
        best.map(|(i, _)| i)
    }

    /// Closes the future slice `token` on `lane` and reads its tick; also returns
    /// how many slices open above it are closed with it (children that outlived
    /// it: their ends must come first). `None` if it was closed that way already.
    pub(crate) fn close_slice(&self, lane: u32, token: u64) -> Option<(u64, u32)> {
        let mut book = super::shim::lock(&self.book);
        let b = book.get_mut(lane as usize)?;
        let at = b.open.iter().rposition(|&t| t == token)?;
        let above = (b.open.len() - at - 1) as u32;
        b.open.truncate(at);
        b.depth = b.open.len() as u32;
        let now = ticks();
        self.pool_ended(b, lane, now);
        Some((now, above))
    }

    /// Notes that a slice of futures or pool spans on `lane` ended at `now` (by
    /// the calling thread), freeing the lane if it was its last.
    fn pool_ended(&self, b: &mut Book, lane: u32, now: u64) {
        let me = thread_key();
        b.last_closer = me;
        let Some(slot) = self.slot(lane) else { return };
        if b.depth == 0 && !slot.children() {
            slot.free_pool(now, me);
        } else {
            slot.ended_at(now);
        }
    }

    /// Opens a slice that no thread owns and that began at tick `since`, in the
    /// past (a `tracing` span's, from its first enter): on a free lane whose last
    /// slice ended before `since` (by [`LANE_REUSE_GAP`] if another thread ended it:
    /// only the timestamps order the two), else on a new lane.
    pub(crate) fn open_lane_since(&self, since: u64) -> u32 {
        let me = thread_key();
        let mut book = self.book();
        let before = |f: &Free| {
            f.last_end == 0
                || (f.closer == me && f.last_end < since)
                || f.last_end.saturating_add(LANE_REUSE_GAP) < since
        };
        let i = 'pick: loop {
            let seen = self
                .slots()
                .find_map(|(i, s)| s.free().filter(&before).map(|f| (i, s, f)));
            let Some((i, slot, free)) = seen else {
                break 'pick self.push_lane(&mut book, Some(0), false, lanes::held_by(POOL));
            };
            let Some(taken) = slot.take(free, POOL) else {
                continue; // a thread took it meanwhile
            };
            if before(&taken) {
                break 'pick i;
            }
            // Freed again since it was seen, too late for `since`: give it back as it was.
            slot.free_pool(taken.last_end, taken.closer);
        };
        book[i as usize].depth = 1;
        i
    }

    /// Opens a slice that no thread owns and that began at tick `since` (as
    /// [`open_lane_since`](Track::open_lane_since)) on a lane beneath lane
    /// `parent`, a child track of it: a free one whose last slice ended before
    /// `since`, else a new one. What a `tracing` span's slice takes when its parent
    /// span's slice is open on lane `parent` of this track.
    pub(crate) fn open_child_since(&self, parent: u32, since: u64) -> u32 {
        let me = thread_key();
        let mut book = self.book();
        let free = self.free_child(&book, parent, me, |closer, last_end| {
            last_end == 0
                || (closer == me && last_end < since)
                || last_end.saturating_add(LANE_REUSE_GAP) < since
        });
        let i = free
            .unwrap_or_else(|| self.push_lane(&mut book, Some(parent), true, lanes::held_by(POOL)));
        book[i as usize].depth = 1;
        i
    }

    /// Closes the slice of a pool span on `lane` and reads its tick.
    pub(crate) fn close_lane(&self, lane: u32) -> u64 {
        let mut book = super::shim::lock(&self.book);
        let now = ticks();
        if let Some(b) = book.get_mut(lane as usize) {
            b.depth = b.depth.saturating_sub(1);
            self.pool_ended(b, lane, now);
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
        self.slot(lane).and_then(LaneSlot::parent)
    }
}

/// Lanes per segment of a track's lanes (a track allocates its first segment when
/// first used, then one more each time its lanes outgrow them).
const SEGMENT_LANES: usize = 8;

/// A track's lanes `8k..8k + 8`, and the segment after them.
#[derive(Debug)]
struct Segment {
    slots: [LaneSlot; SEGMENT_LANES],
    next: OnceLock<Box<Segment>>,
}

impl Segment {
    fn new() -> Segment {
        Segment {
            slots: std::array::from_fn(|_| LaneSlot::new()),
            next: OnceLock::new(),
        }
    }
}

/// What futures and pool spans keep of a lane, under the track's mutex.
#[derive(Debug, Default)]
struct Book {
    /// Their slices open on it (the tokens in `open`, or one pool span's).
    depth: u32,
    /// Tokens of the future slices open on it, innermost last.
    open: Vec<u64>,
    /// Key of the thread that last closed one of their slices on it.
    last_closer: u64,
}

/// How long (in ticks) a thread keeps the lane it freed last on a track as its
/// own: within it, its next slice there goes back on that lane at the cost of
/// one compare-and-swap; after it, the thread looks for the first free lane
/// again (so lanes empty out once concurrency drops). About 0.3 ms with the TSC.
const STICKY_TICKS: u64 = 100 * LANE_REUSE_GAP;

/// The lane a thread's slice on a custom track holds: closed by the thread that
/// opened it (a [`Span`](super::Span) is not `Send`).
#[derive(Debug)]
pub(crate) struct HeldLane {
    slot: &'static LaneSlot,
    /// The track's id and the lane's index (0: the track itself).
    at: LaneRef,
}

impl HeldLane {
    /// The lane, as records name it.
    pub(crate) fn lane(&self) -> LaneRef {
        self.at
    }

    /// Closes the slice, reads its tick, and frees the lane if it was the
    /// thread's last slice on it.
    #[inline]
    pub(crate) fn close(self) -> u64 {
        let now = ticks();
        self.slot.close_one(now);
        now
    }
}

/// The tick a slice begins at on a lane just taken, freed as `taken` says: now,
/// after waiting out the rest of [`LANE_REUSE_GAP`] if another thread freed it
/// (at most about 3 us).
fn begin_after(taken: Free, me: u64) -> u64 {
    let mut now = ticks();
    if taken.closer == me {
        return now;
    }
    while now.saturating_sub(taken.last_end) <= LANE_REUSE_GAP {
        std::hint::spin_loop();
        now = ticks();
    }
    now
}

/// Entries of a thread's cache of the lanes it holds or freed last.
const HELD_ENTRIES: usize = 8;

/// The lane a thread took last on a track (`track`: its address; 0: none).
#[derive(Clone, Copy)]
struct Entry {
    track: usize,
    slot: Option<&'static LaneSlot>,
    lane: u32,
}

/// A thread's key and its cache of lanes, by track: a hint (the lane's state
/// says who holds it); a track missing from it costs a scan of its lanes.
struct Held {
    key: u64,
    entries: [Entry; HELD_ENTRIES],
    /// The entry replaced next when the track has none.
    next: usize,
}

impl Held {
    #[inline(always)]
    fn key(&mut self) -> u64 {
        if self.key == 0 {
            self.key = thread_key();
        }
        self.key
    }

    /// Notes that the thread took lane `lane` (`slot`) of the track at `track`.
    fn remember(&mut self, track: usize, slot: &'static LaneSlot, lane: u32) {
        let at = match self.entries.iter().position(|e| e.track == track) {
            Some(at) => at,
            None => {
                let at = self.next;
                self.next = (at + 1) % HELD_ENTRIES;
                at
            }
        };
        self.entries[at] = Entry {
            track,
            slot: Some(slot),
            lane,
        };
    }
}

thread_local! {
    static HELD: RefCell<Held> = const {
        RefCell::new(Held {
            key: 0,
            entries: [Entry { track: 0, slot: None, lane: 0 }; HELD_ENTRIES],
            next: 0,
        })
    };
}
