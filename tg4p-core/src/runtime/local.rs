//! The recording side of one thread: its [`Local`] state, which writes records
//! into the thread's current chunk and keeps its bookkeeping (the words reserved
//! for the ends of open slices, the nesting depth on the thread's track, drops not
//! yet marked).
//!
//! Callers say what to write ([`Local::write`], [`Local::begin_thread_slice`],
//! ...); how it is laid out is `super::record`'s business, and how chunks reach the
//! writer `super::handoff`'s.
//!
//! Hot path (a `#[trace]` call): one Relaxed load of the gate, a thread-local borrow,
//! a bounds check, two stores and a Release store per event; no lock, allocation or
//! system call. The slow paths (first event of a thread in a session, a full chunk,
//! overflow) are `#[cold]`.
//!
//! # Reservation
//! A slice's begin is written only if there is room for its end too, and that room
//! stays reserved (`reserved`) until the end is written: so an end is never dropped
//! when its begin was kept, and every record fits in `pos + reserved <= CHUNK_WORDS`.

use super::buffer::{CHUNK_WORDS, Chunk};
use super::clock;
use super::handoff::{self, Overflow, Shared, Slot};
use super::record::{
    self, Args, Event, LANE_BEGIN_WORDS, LANE_END_WORDS, LaneRef, THREAD_SLICE_WORDS, Ty,
};
use super::shim::{Arc, Ordering};
use std::cell::{Cell, RefCell};
use std::sync::atomic::Ordering as StdOrdering;

/// How deep slices may nest on a thread's track: trace_processor drops (and counts
/// as errors) slices nested deeper than 512, so deeper ones are dropped and
/// counted here instead, and the trace stays valid.
pub const MAX_THREAD_DEPTH: u32 = crate::wire::MAX_NESTING as u32;

/// A thread's recording state; see the module docs.
pub(crate) struct Local {
    generation: u64,
    shared: Option<Arc<Shared>>,
    slot: Option<Arc<Slot>>,
    chunk: Option<Arc<Chunk>>,
    /// Words written to `chunk`.
    pos: usize,
    /// Words kept free for the ends of open slices (and their flows).
    reserved: usize,
    /// Drops not yet marked in the trace.
    pending_drops: u64,
    /// Slices open on the thread's own track.
    depth: u32,
}

thread_local! {
    static LOCAL: RefCell<Local> = const {
        RefCell::new(Local {
            generation: 0,
            shared: None,
            slot: None,
            chunk: None,
            pos: 0,
            reserved: 0,
            depth: 0,
            pending_drops: 0,
        })
    };
    static THREAD_KEY: Cell<u64> = const { Cell::new(0) };
}

/// A process-unique id of the calling thread (never 0), for lane ownership.
pub(crate) fn thread_key() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    THREAD_KEY
        .try_with(|k| {
            if k.get() == 0 {
                k.set(NEXT.fetch_add(1, StdOrdering::Relaxed));
            }
            k.get()
        })
        .unwrap_or(u64::MAX)
}

/// Runs `f` on the calling thread's state attached to session `generation`.
/// `None` when that is impossible: the session just ended, or the thread's state
/// is torn down (a thread-local destructor running at thread exit) or in use
/// (re-entered); those two are losses, counted for the session's report and
/// `trace_stats`.
#[inline(always)]
pub(crate) fn with_local<R>(generation: u64, f: impl FnOnce(&mut Local) -> R) -> Option<R> {
    let done = LOCAL.try_with(|cell| {
        let Ok(mut local) = cell.try_borrow_mut() else {
            return Err(());
        };
        if local.generation != generation && !local.attach(generation) {
            return Ok(None);
        }
        Ok(Some(f(&mut local)))
    });
    match done {
        Ok(Ok(r)) => r,
        _ => {
            count_unrecorded(generation);
            None
        }
    }
}

/// Counts an event of session `generation` that the calling thread could not
/// record (see [`with_local`]).
#[cold]
#[inline(never)]
fn count_unrecorded(generation: u64) {
    if let Some(shared) = handoff::active(generation) {
        shared.count_unrecorded();
    }
}

/// How many slices the calling thread has open on its track in session
/// `generation`; 0 if it has not joined that session (it is not made to join).
pub(crate) fn thread_depth(generation: u64) -> u32 {
    LOCAL
        .try_with(|cell| {
            let local = cell.try_borrow().ok()?;
            (local.generation == generation).then_some(local.depth)
        })
        .ok()
        .flatten()
        .unwrap_or(0)
}

/// Room made for one event by [`Local::room`]: [`write`](Room::write) it.
pub(crate) struct Room<'l> {
    local: &'l mut Local,
    /// Words to keep reserved for the event's end once it is written.
    reserve: usize,
}

impl Room<'_> {
    /// Writes `event` (the one the room was made for, now with its lane and tick).
    pub(crate) fn write(self, event: &Event<'_>) {
        self.local.put(event);
        self.local.reserved += self.reserve;
    }
}

impl Local {
    /// Begins a slice of `callsite` on the thread's track, reserving room for its
    /// end. False: it was dropped (and counted).
    #[inline(always)]
    pub(crate) fn begin_thread_slice(&mut self, callsite: u32) -> bool {
        self.begin_thread_slice_at(callsite, clock::ticks())
    }

    /// [`begin_thread_slice`](Local::begin_thread_slice) at tick `tick`, read by the
    /// caller (who needs it too: a `tracing` span's first enter, where its pool
    /// slice begins if it is entered again).
    #[inline(always)]
    pub(crate) fn begin_thread_slice_at(&mut self, callsite: u32, tick: u64) -> bool {
        if self.depth >= MAX_THREAD_DEPTH || !self.ensure(THREAD_SLICE_WORDS, THREAD_SLICE_WORDS) {
            self.dropped(2);
            return false;
        }
        let Some(chunk) = &self.chunk else {
            return false;
        };
        self.pos = record::put_thread_begin(chunk, self.pos, callsite, tick);
        chunk.publish(self.pos);
        self.depth += 1;
        self.reserved += THREAD_SLICE_WORDS;
        true
    }

    /// Ends the innermost slice on the thread's track begun by
    /// [`begin_thread_slice`](Local::begin_thread_slice), in the room it reserved.
    #[inline(always)]
    pub(crate) fn end_thread_slice(&mut self) {
        let Some(chunk) = &self.chunk else { return };
        self.pos = record::put_thread_end(chunk, self.pos, clock::ticks());
        chunk.publish(self.pos);
        self.reserved = self.reserved.saturating_sub(THREAD_SLICE_WORDS);
        self.depth = self.depth.saturating_sub(1);
    }

    /// Begins a plain slice of `callsite` on a custom track's lane, reserving room
    /// for its end: once the room is made, `take` takes the lane and reads the
    /// tick. `None`: dropped (and counted), or `take` failed.
    #[inline(always)]
    pub(crate) fn begin_lane_slice<H>(
        &mut self,
        callsite: u32,
        take: impl FnOnce() -> Option<(H, LaneRef, u64)>,
    ) -> Option<H> {
        if !self.ensure(LANE_BEGIN_WORDS, LANE_END_WORDS) {
            self.dropped(2);
            return None;
        }
        let (held, lane, tick) = take()?;
        let chunk = self.chunk.as_ref()?;
        self.pos = record::put_lane_begin(chunk, self.pos, callsite, lane, tick);
        chunk.publish(self.pos);
        self.reserved += LANE_END_WORDS;
        Some(held)
    }

    /// Ends a slice on `lane` at `tick` with nothing but its end, in the room its
    /// begin reserved.
    #[inline(always)]
    pub(crate) fn end_lane_slice(&mut self, lane: LaneRef, tick: u64) {
        let Some(chunk) = &self.chunk else { return };
        self.pos = record::put_lane_end(chunk, self.pos, lane, tick);
        chunk.publish(self.pos);
        self.reserved = self.reserved.saturating_sub(LANE_END_WORDS);
    }

    /// Writes a slice begin (reserving room for its compact end, as
    /// [`begin_thread_slice`](Local::begin_thread_slice) does) or, if `instant`, an
    /// instant of `callsite` on the thread's track with typed `args` named by the
    /// callsite (at most `MAX_ARGS`): `record::put_callsite_typed`'s record.
    /// False: it was dropped (and counted).
    #[inline(always)]
    pub(crate) fn callsite_typed(
        &mut self,
        instant: bool,
        callsite: u32,
        args: &[record::ArgValue<'_>],
    ) -> bool {
        let reserve = if instant { 0 } else { THREAD_SLICE_WORDS };
        let words = record::callsite_typed_words(instant, args);
        if (!instant && self.depth >= MAX_THREAD_DEPTH) || !self.ensure(words, reserve) {
            self.dropped(if instant { 1 } else { 2 });
            return false;
        }
        let Some(chunk) = &self.chunk else {
            return false;
        };
        self.pos =
            record::put_callsite_typed(chunk, self.pos, instant, callsite, clock::ticks(), args);
        chunk.publish(self.pos);
        if !instant {
            self.depth += 1;
            self.reserved += THREAD_SLICE_WORDS;
        }
        true
    }

    /// Makes room for `event` (not an end) plus `reserve` words kept for its end:
    /// `None` if it must be dropped (no memory, or nested too deep), which is counted.
    /// Its lane and tick may still change before it is written: not its size.
    pub(crate) fn room(&mut self, event: &Event<'_>, reserve: usize) -> Option<Room<'_>> {
        debug_assert!(
            event.ty != Ty::End,
            "ends use the room their begin reserved"
        );
        let too_deep = event.on_thread_track() && self.depth >= MAX_THREAD_DEPTH;
        if too_deep || !self.ensure(event.words(), reserve) {
            self.dropped(event.events());
            return None;
        }
        Some(Room {
            local: self,
            reserve,
        })
    }

    /// Writes `event` (not an end) with `reserve` words kept for its end. False: it
    /// was dropped (and counted).
    pub(crate) fn write(&mut self, event: &Event<'_>, reserve: usize) -> bool {
        match self.room(event, reserve) {
            Some(room) => {
                room.write(event);
                true
            }
            None => false,
        }
    }

    /// Writes `end`, the end of a slice whose begin reserved `reserved` words for it
    /// (its flows attached since included). What it carries beyond that (a return
    /// value, typed args, flows given only now) is written if there is room for it
    /// beyond every reservation; else the slice still ends, in the reserved room,
    /// without its args (flagged so that the writer marks and counts them as
    /// dropped) and, if they do not fit either, without its flows.
    pub(crate) fn write_end(&mut self, end: &Event<'_>, reserved: usize) {
        let mut end = *end;
        if matches!(end.args, Args::Text(t) if t.ends.is_empty()) {
            end.args = Args::None;
        }
        if end.words() > reserved && !self.ensure(end.words(), 0) {
            end = end.without_args();
            if end.words() > reserved {
                end = end.bare();
            }
        }
        self.put(&end);
        self.reserved = self.reserved.saturating_sub(reserved);
    }

    /// Writes `end`, the end of a slice whose begin reserved nothing for it (a
    /// future's, which may end on another thread): it makes room like a begin
    /// (without its args, then without its flows, if they do not fit), and is
    /// dropped (and counted) if there is none.
    pub(crate) fn write_unreserved_end(&mut self, end: &Event<'_>) {
        let mut end = *end;
        if matches!(end.args, Args::Text(t) if t.ends.is_empty()) {
            end.args = Args::None;
        }
        for fallback in [Event::without_args, Event::bare] {
            if self.ensure(end.words(), 0) {
                return self.put(&end);
            }
            end = fallback(end);
        }
        if !self.ensure(end.words(), 0) {
            self.dropped(1);
            return;
        }
        self.put(&end);
    }

    /// Reserves `words` more for the end of an open slice (flows added to it).
    pub(crate) fn reserve(&mut self, words: usize) -> bool {
        if !self.ensure(0, words) {
            return false;
        }
        self.reserved += words;
        true
    }

    /// Stores and publishes `event` in room made for it, and keeps the depth.
    fn put(&mut self, event: &Event<'_>) {
        let Some(chunk) = &self.chunk else { return };
        debug_assert!(self.pos + event.words() <= CHUNK_WORDS);
        let tick = event.tick.unwrap_or_else(clock::ticks);
        self.pos = event.put(chunk, self.pos, tick);
        chunk.publish(self.pos);
        if event.on_thread_track() {
            match event.ty {
                Ty::Begin => self.depth += 1,
                Ty::End => self.depth = self.depth.saturating_sub(1),
                _ => {}
            }
        }
    }

    /// Makes room for a record of `words` plus `reserve` more words kept for its end,
    /// switching to a new chunk if needed. False: the record must be dropped.
    #[inline(always)]
    fn ensure(&mut self, words: usize, reserve: usize) -> bool {
        if self.pending_drops == 0
            && self.chunk.is_some()
            && self.pos + words + reserve + self.reserved <= CHUNK_WORDS
        {
            return true;
        }
        self.ensure_slow(words + reserve)
    }

    #[cold]
    fn ensure_slow(&mut self, need: usize) -> bool {
        let marker = (self.pending_drops > 0) as usize;
        if self.chunk.is_none() || self.pos + need + marker + self.reserved > CHUNK_WORDS {
            if need + marker + self.reserved > CHUNK_WORDS {
                return false; // could never fit (nesting too deep for one chunk)
            }
            let Some(shared) = self.shared.clone() else {
                return false;
            };
            if matches!(shared.overflow, Overflow::Block | Overflow::Ring) && self.chunk.is_some() {
                // Hand the full chunk to the writer before waiting for a free one:
                // if every thread kept its full chunk while waiting, nothing would
                // ever be recycled (all buffers held, all producers stalled).
                self.hand_over(None);
            }
            let Some(fresh) = shared.acquire_chunk() else {
                return false;
            };
            self.hand_over(Some(fresh));
        }
        if self.pending_drops > 0 {
            let chunk = self.chunk.as_ref().expect("chunk installed above");
            self.pos = record::put_dropped(chunk, self.pos, self.pending_drops);
            chunk.publish(self.pos);
            self.pending_drops = 0;
        }
        true
    }

    /// Counts `n` dropped events.
    #[cold]
    fn dropped(&mut self, n: u64) {
        self.pending_drops += n;
        if let Some(slot) = &self.slot {
            slot.dropped.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// Sends the current chunk to the writer and installs `fresh`.
    fn hand_over(&mut self, fresh: Option<Arc<Chunk>>) {
        let (Some(slot), Some(shared)) = (&self.slot, &self.shared) else {
            return;
        };
        shared.hand_over(slot, self.chunk.take(), fresh.clone());
        self.chunk = fresh;
        self.pos = 0;
    }

    /// Joins session `generation`: a new slot (sequence, thread track) and a chunk.
    #[cold]
    fn attach(&mut self, generation: u64) -> bool {
        // Leave the previous session: its writer finished (or finishes) with what it
        // could read; nothing of it may reach the new file.
        self.shared = None;
        self.slot = None;
        self.chunk = None;
        self.pos = 0;
        self.reserved = 0;
        self.depth = 0;
        self.pending_drops = 0;
        self.generation = 0;
        let Some(shared) = handoff::active(generation) else {
            return false;
        };
        let (tid, name) = thread_identity();
        let (slot, chunk) = shared.join(tid, name);
        self.chunk = chunk;
        self.slot = Some(slot);
        self.shared = Some(shared);
        self.generation = generation;
        true
    }
}

impl Drop for Local {
    /// Thread exit: hand the current chunk to the writer so nothing is lost.
    fn drop(&mut self) {
        if let (Some(slot), Some(shared)) = (&self.slot, &self.shared) {
            shared.leave(slot, self.chunk.take());
        }
    }
}

thread_local! {
    /// The name [`set_thread_name`] gave the calling thread's track.
    static TRACK_NAME: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Names the calling thread's track `name` (any length, any characters) in the
/// sessions the thread joins from now on, instead of its `std::thread` or OS name.
/// The OS thread name is left alone.
///
/// A thread joins a session at its first event in it, so call this before the
/// thread records (as its first statement, or where a runtime starts its workers):
/// a thread already recording in the open session keeps its track's name until
/// the next session, since Perfetto requires a track's descriptor to stay the same
/// within a trace. Bindings of other languages use it to give their threads their
/// own names (Python's `threading` names, say).
///
/// ```
/// std::thread::spawn(|| {
///     tg4p_core::runtime::set_thread_name("worker 1 (merge sort)");
///     // ... the thread's traced work ...
/// })
/// .join()
/// .unwrap();
/// ```
pub fn set_thread_name(name: impl Into<String>) {
    let name = name.into();
    let _ = TRACK_NAME.try_with(|n| *n.borrow_mut() = Some(name));
}

/// The calling thread's OS id and name: the one [`set_thread_name`] gave, else the
/// `std::thread` name, else the OS name.
fn thread_identity() -> (i32, String) {
    let tid = os_tid();
    let given = TRACK_NAME.try_with(|n| n.borrow().clone()).ok().flatten();
    let name = match (given, std::thread::current().name()) {
        (Some(n), _) => n,
        (None, Some(n)) => n.to_owned(),
        (None, None) => os_thread_name().unwrap_or_else(|| format!("thread {tid}")),
    };
    (tid, name)
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn os_tid() -> i32 {
    // SAFETY: gettid has no preconditions and cannot fail.
    unsafe { libc::gettid() }
}

/// Elsewhere there is no portable OS thread id that fits Perfetto's `int32` tid:
/// each thread gets a distinct stand-in, the process id plus a per-thread count,
/// so that every thread still has a track of its own (named after the thread).
#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn os_tid() -> i32 {
    (std::process::id() as i32).wrapping_add(thread_key() as i32 - 1)
}

#[cfg(unix)]
fn os_thread_name() -> Option<String> {
    let mut buf = [0 as libc::c_char; 64];
    // SAFETY: `buf` is a writable buffer of the length passed; pthread_getname_np
    // writes a NUL-terminated name of at most that length into it.
    let rc = unsafe { libc::pthread_getname_np(libc::pthread_self(), buf.as_mut_ptr(), buf.len()) };
    if rc != 0 {
        return None;
    }
    let bytes: Vec<u8> = buf
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    (!bytes.is_empty()).then(|| String::from_utf8_lossy(&bytes).into_owned())
}

#[cfg(not(unix))]
fn os_thread_name() -> Option<String> {
    None
}
