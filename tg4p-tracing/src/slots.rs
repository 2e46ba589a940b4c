//! Where spans are kept, by [`TracingSubscriber`](crate::TracingSubscriber) (its span
//! ids are our keys) and by [`TracingLayer`](crate::TracingLayer) (it finds the key
//! of a registry id in `index.rs`): slots in segments that are never freed, ids
//! that carry the slot's index and generation, and per-thread lists of free slots.
//!
//! A key is `generation << 32 | (index + 1)`: never 0, and a stale key (a span
//! closed, its slot reused) finds a different generation and is ignored, as is a
//! key made up by hand.
//!
//! What the common path needs (a span created, entered once, exited and closed)
//! is in atomics of the slot, read and written with plain loads and stores: the
//! generation and handle count, the site, the parent, the flags; the one
//! read-modify-write is the count of enters (two threads may enter one span at
//! once, and exactly one of them is its first enter). The rest of the span's state
//! (field values, values recorded later, flows, the pool slice) is behind the
//! slot's lock ([`SpanState`]), taken only by a span that has any of them. A slot
//! is found through `OnceLock`ed segments, with no `unsafe`; the one `unsafe`
//! block reads the site pointer a slot keeps (see `SlotRef::site`).

use crate::sites::Site;
use crate::state::SpanState;
use std::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};

/// The first slots, in one flat `static` (found without following a pointer).
const FLAT: usize = 1024;
/// Segment `k` holds `FIRST << k` slots past the flat ones: 24 segments hold
/// about 2^32 of them.
const FIRST: usize = 256;
const SEGMENTS: usize = 24;
/// A thread keeps at most this many free slots; beyond, half go to the shared list.
const LOCAL_FREE: usize = 512;

/// [`Slot::flags`]: the locked state holds the span's field values (given at
/// creation, or recorded before its first enter).
pub(crate) const FIELDS: u32 = 1;
/// The locked state holds values or flows waiting for a slice end: exits and the
/// close take the lock.
pub(crate) const PENDING: u32 = 2;
/// The locked state holds a pool slice: the close takes the lock.
pub(crate) const POOL: u32 = 4;

/// One span's slot, on cache lines of its own (two: the adjacent-line prefetcher
/// pairs them), so that threads working on neighbouring slots do not share a line.
#[repr(align(128))]
pub(crate) struct Slot {
    /// `generation << 32 | handles`. The generation is bumped when the span closes:
    /// keys of earlier spans in this slot no longer match.
    head: AtomicU64,
    /// The span's site if it is recorded (created while a session was open), else
    /// null. Only ever null or a `&'static Site` (sites are never freed): one
    /// load from the slot to the site, where an index would take two.
    site: AtomicPtr<Site>,
    /// [`FIELDS`], [`PENDING`], [`POOL`]; changed under the lock but for [`insert`].
    flags: AtomicU32,
    /// How many times the span was entered.
    enters: AtomicU64,
    /// The key of the span's parent, 0 if none.
    parent: AtomicU64,
    /// The tick of the first enter: where a pool slice begins (0: not yet known).
    first_enter: AtomicU64,
    /// The rest of the state, for spans with fields, values, flows or a pool slice.
    locked: Mutex<Locked>,
}

/// The locked part of a slot: the state of the span of `generation`. A state left
/// by an earlier span of the slot is reset when the lock is next taken.
pub(crate) struct Locked {
    generation: u32,
    pub(crate) state: SpanState,
}

impl Slot {
    const fn new() -> Slot {
        Slot {
            head: AtomicU64::new(0),
            site: AtomicPtr::new(std::ptr::null_mut()),
            flags: AtomicU32::new(0),
            enters: AtomicU64::new(0),
            parent: AtomicU64::new(0),
            first_enter: AtomicU64::new(0),
            locked: Mutex::new(Locked {
                generation: 0,
                state: SpanState::new(),
            }),
        }
    }
}

static FLAT_SLOTS: [Slot; FLAT] = [const { Slot::new() }; FLAT];
static SEGMENT: [OnceLock<Box<[Slot]>>; SEGMENTS] = [const { OnceLock::new() }; SEGMENTS];
/// Slots never used yet start here.
static NEXT: AtomicU32 = AtomicU32::new(0);
/// Free slots of threads that exited or had too many.
static SHARED_FREE: Mutex<Vec<u32>> = Mutex::new(Vec::new());

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while a slot was locked leaves a state that is still consistent
    // enough to record from (at worst a slice without its end).
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The segment and offset of slot `index` (past the flat ones).
#[inline]
fn place(index: u32) -> (usize, usize) {
    let i = index as usize - FLAT + FIRST;
    let k = (usize::BITS - 1 - i.leading_zeros()) as usize - FIRST.trailing_zeros() as usize;
    (k, i - (FIRST << k))
}

#[inline]
fn slot(index: u32) -> Option<&'static Slot> {
    if let Some(slot) = FLAT_SLOTS.get(index as usize) {
        return Some(slot);
    }
    let (k, offset) = place(index);
    SEGMENT.get(k)?.get()?.get(offset)
}

#[cold]
fn slot_made(index: u32) -> Option<&'static Slot> {
    if let Some(slot) = FLAT_SLOTS.get(index as usize) {
        return Some(slot);
    }
    let (k, offset) = place(index);
    let segment = SEGMENT
        .get(k)?
        .get_or_init(|| (0..FIRST << k).map(|_| Slot::new()).collect());
    segment.get(offset)
}

/// A thread's free slots; given to [`SHARED_FREE`] when the thread exits.
pub(crate) struct LocalFree(Vec<u32>);

impl LocalFree {
    pub(crate) const fn new() -> LocalFree {
        LocalFree(Vec::new())
    }
}

impl Drop for LocalFree {
    fn drop(&mut self) {
        lock(&SHARED_FREE).append(&mut self.0);
    }
}

impl LocalFree {
    /// One of the thread's free slots (for [`insert`]).
    #[inline]
    pub(crate) fn take(&mut self) -> Option<u32> {
        self.0.pop()
    }
}

#[cold]
fn take_shared() -> Option<u32> {
    let mut shared = lock(&SHARED_FREE);
    let index = shared.pop()?;
    // Take a batch, so the shared lock is taken once per batch, not per span.
    let batch = shared.len().min(64);
    let at = shared.len() - batch;
    let moved: Vec<u32> = shared.drain(at..).collect();
    drop(shared);
    crate::state::with_thread(|t| t.free.0.extend(moved));
    Some(index)
}

#[inline]
fn give_free(index: u32) {
    let kept = crate::state::with_thread(|t| {
        t.free.0.push(index);
        if t.free.0.len() > LOCAL_FREE {
            give_half(&mut t.free.0);
        }
    });
    if kept.is_none() {
        lock(&SHARED_FREE).push(index);
    }
}

#[cold]
fn give_half(free: &mut Vec<u32>) {
    let half = free.len() / 2;
    let moved: Vec<u32> = free.drain(half..).collect();
    lock(&SHARED_FREE).extend(moved);
}

/// What a new span is recorded with: its site, its parent's key (0: none), and
/// whether it has field values (`fill` writes them into its locked state).
pub(crate) struct Recorded<F: FnOnce(&mut SpanState)> {
    pub(crate) site: &'static Site,
    pub(crate) parent: u64,
    pub(crate) fields: Option<F>,
}

/// A new span's key, its slot holding one handle and, if `recorded` is given,
/// what it is recorded with. `None` only when 2^32 spans are open at once.
/// `free`: one of the thread's free slots ([`LocalFree::take`]), if it has any;
/// else the slot is one of the shared list, or a new one.
#[inline]
pub(crate) fn insert<F: FnOnce(&mut SpanState)>(
    free: Option<u32>,
    recorded: Option<Recorded<F>>,
) -> Option<u64> {
    let (index, slot) = match free.or_else(take_shared).and_then(|i| Some((i, slot(i)?))) {
        Some(found) => found,
        None => new_slot()?,
    };
    // The slot is free: no other thread writes it (a stale key finds no handle,
    // or a different generation, and leaves it alone).
    let generation = (slot.head.load(Ordering::Relaxed) >> 32) as u32;
    match recorded {
        Some(r) => {
            slot.site
                .store(std::ptr::from_ref(r.site).cast_mut(), Ordering::Relaxed);
            slot.parent.store(r.parent, Ordering::Relaxed);
            slot.enters.store(0, Ordering::Relaxed);
            slot.first_enter.store(0, Ordering::Relaxed);
            let mut flags = 0;
            if let Some(fill) = r.fields {
                fill(&mut locked(slot, generation).state);
                flags = FIELDS;
            }
            slot.flags.store(flags, Ordering::Relaxed);
        }
        None => slot.site.store(std::ptr::null_mut(), Ordering::Relaxed),
    }
    // Release: whoever finds the key live sees the stores above.
    slot.head
        .store(((generation as u64) << 32) | 1, Ordering::Release);
    Some(((generation as u64) << 32) | (index as u64 + 1))
}

#[cold]
fn new_slot() -> Option<(u32, &'static Slot)> {
    let index = NEXT.fetch_add(1, Ordering::Relaxed);
    if index == u32::MAX {
        NEXT.store(u32::MAX, Ordering::Relaxed);
        return None;
    }
    Some((index, slot_made(index)?))
}

/// The locked state of `slot` for the span of `generation` (reset if it was an
/// earlier span's).
fn locked(slot: &'static Slot, generation: u32) -> MutexGuard<'static, Locked> {
    of_generation(lock(&slot.locked), generation)
}

/// `l`, the locked state of a slot, made the state of its span of `generation`
/// (reset if it was an earlier span's).
fn of_generation(
    mut l: MutexGuard<'static, Locked>,
    generation: u32,
) -> MutexGuard<'static, Locked> {
    if l.generation != generation {
        l.generation = generation;
        l.state.reset();
    }
    l
}

/// A live span's slot, found by [`get`].
#[derive(Clone, Copy)]
pub(crate) struct SlotRef {
    slot: &'static Slot,
    key: u64,
}

/// The slot of span `key`, if the span is still open.
#[inline]
pub(crate) fn get(key: u64) -> Option<SlotRef> {
    let index = (key as u32).checked_sub(1)?;
    let slot = slot(index)?;
    let head = slot.head.load(Ordering::Acquire);
    (head >> 32 == key >> 32 && head as u32 > 0).then_some(SlotRef { slot, key })
}

impl SlotRef {
    /// The span's key.
    pub(crate) fn key(&self) -> u64 {
        self.key
    }

    /// The span's site, if it is recorded.
    #[inline]
    pub(crate) fn site(&self) -> Option<&'static Site> {
        let site = self.slot.site.load(Ordering::Relaxed);
        // SAFETY: `site` is null or was made from a `&'static Site` (in `insert`,
        // the only store of a non-null pointer); sites are leaked, never freed or
        // mutated through a pointer, so it is valid and shared for the program's
        // life. It pays: one dependent load fewer on every enter than an index
        // into the table of sites (bench `tracing_layer`).
        unsafe { site.as_ref() }
    }

    #[inline]
    pub(crate) fn flags(&self) -> u32 {
        self.slot.flags.load(Ordering::Acquire)
    }

    /// Sets `flags` (under the span's lock).
    pub(crate) fn set_flags(&self, flags: u32) {
        self.slot.flags.fetch_or(flags, Ordering::Release);
    }

    /// Clears `flags` (under the span's lock).
    pub(crate) fn clear_flags(&self, flags: u32) {
        self.slot.flags.fetch_and(!flags, Ordering::Release);
    }

    /// Counts an enter: how many there were before it.
    #[inline]
    pub(crate) fn count_enter(&self) -> u64 {
        self.slot.enters.fetch_add(1, Ordering::Relaxed)
    }

    /// How many times the span was entered.
    pub(crate) fn enters(&self) -> u64 {
        self.slot.enters.load(Ordering::Relaxed)
    }

    /// Sets the tick of the first enter.
    #[inline]
    pub(crate) fn set_first_enter(&self, tick: u64) {
        self.slot.first_enter.store(tick, Ordering::Release);
    }

    /// The tick of the first enter, 0 if not known (yet).
    pub(crate) fn first_enter(&self) -> u64 {
        self.slot.first_enter.load(Ordering::Acquire)
    }

    /// The key of the span's parent, 0 if none.
    pub(crate) fn parent(&self) -> u64 {
        self.slot.parent.load(Ordering::Relaxed)
    }

    /// The span's locked state; `None` if the span has closed meanwhile (its slot
    /// may hold another span by now, whose state this key must not touch).
    /// Checked under the lock: a span closes its state under it, and a span
    /// taking the slot next resets the state under it before using it.
    pub(crate) fn lock(&self) -> Option<MutexGuard<'static, Locked>> {
        let l = lock(&self.slot.locked);
        let head = self.slot.head.load(Ordering::Acquire);
        if head >> 32 != self.key >> 32 || head as u32 == 0 {
            return None;
        }
        Some(of_generation(l, (self.key >> 32) as u32))
    }
}

/// One more handle to span `key`.
pub(crate) fn clone(key: u64) {
    let Some(r) = get(key) else { return };
    let head = &r.slot.head;
    let mut now = head.load(Ordering::Relaxed);
    while now >> 32 == key >> 32 && now as u32 > 0 && now as u32 != u32::MAX {
        match head.compare_exchange_weak(now, now + 1, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return,
            Err(seen) => now = seen,
        }
    }
}

/// One handle fewer to span `key`: if it was the last, the span closes (its
/// state is closed: a pool slice ends) and its slot is freed: `true`. `false`
/// while the span lives on (or for an unknown key).
#[inline]
pub(crate) fn release(key: u64) -> bool {
    let Some(r) = get(key) else {
        return false;
    };
    let head = &r.slot.head;
    let mut now = head.load(Ordering::Acquire);
    loop {
        if now >> 32 != key >> 32 || now as u32 == 0 {
            return false;
        }
        if now as u32 == 1 {
            // The last handle, being dropped: no other handle exists to clone or
            // close it meanwhile, so a plain store will do.
            break;
        }
        match head.compare_exchange_weak(now, now - 1, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => return false,
            Err(seen) => now = seen,
        }
    }
    if r.flags() & (PENDING | POOL) != 0 {
        // Still open (this is its last handle): the state is this span's.
        locked(r.slot, (key >> 32) as u32).state.close(&r);
    }
    let generation = ((key >> 32) as u32).wrapping_add(1);
    // Release: the next span of this slot sees this one's state closed.
    head.store((generation as u64) << 32, Ordering::Release);
    give_free((key as u32) - 1);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    type NoFields = fn(&mut SpanState);

    #[test]
    fn places_tile_the_segments() {
        let flat = FLAT as u32;
        assert_eq!(place(flat), (0, 0));
        assert_eq!(place(flat + 255), (0, 255));
        assert_eq!(place(flat + 256), (1, 0));
        assert_eq!(place(flat + 767), (1, 511));
        assert_eq!(place(flat + 768), (2, 0));
        let (k, off) = place(u32::MAX - FIRST as u32);
        assert!(k < SEGMENTS && off < FIRST << k);
    }

    #[test]
    fn a_key_whose_span_closed_leaves_the_slots_next_span_alone() {
        use crate::fields::FieldValue;
        let key = insert::<NoFields>(None, None).unwrap();
        // Found while the span was open (as `follows_from` or `record` on another
        // thread may), used after it closed and its slot went to a new span.
        let stale = get(key).unwrap();
        assert!(release(key));
        let free = crate::state::with_thread(|t| t.free.take()).flatten();
        let again = insert::<NoFields>(free, None).unwrap();
        assert_eq!(again as u32, key as u32, "the same slot, a new generation");
        let fresh = get(again).unwrap();
        let value = ("n", FieldValue::I64(7));
        fresh.lock().unwrap().state.fields.items.push(value);
        assert!(stale.lock().is_none(), "a closed span's key takes no lock");
        let fields = &fresh.lock().unwrap().state.fields.items;
        assert!(matches!(fields[..], [("n", FieldValue::I64(7))]), "kept");
        assert!(release(again));
    }

    #[test]
    fn stale_and_made_up_keys_are_ignored() {
        let key = insert::<NoFields>(None, None).unwrap();
        assert!(get(key).is_some());
        clone(key);
        assert!(!release(key)); // one handle left
        assert!(release(key));
        assert!(get(key).is_none(), "closed: a stale key");
        assert!(!release(key));
        assert!(get(0).is_none());
        assert!(get(u64::MAX).is_none());
        // The slot is reused under a new generation.
        let again = insert::<NoFields>(None, None).unwrap();
        assert_ne!(again, key);
        assert!(get(key).is_none());
        assert!(release(again));
    }
}
