//! Where [`TracingSubscriber`](crate::TracingSubscriber) keeps its spans: slots in
//! segments that are never freed, each slot behind its own (uncontended) lock, ids
//! that carry the slot's index and generation, and per-thread lists of free slots.
//!
//! A span id is `generation << 32 | (index + 1)`: never 0, and a stale id (a span
//! closed, its slot reused) finds a different generation and is ignored, as is an
//! id made up by hand. No `unsafe`: a slot is found through `OnceLock`ed
//! segments, and locked with `std::sync::Mutex` (a spin lock of our own, tried,
//! measured no faster in the `tracing_layer` bench).

use crate::state::SpanState;
use std::cell::RefCell;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};
use tracing::span::Attributes;

/// Segment `k` holds `FIRST << k` slots: 24 segments hold about 2^32 of them.
const FIRST: usize = 256;
const SEGMENTS: usize = 24;
/// A thread keeps at most this many free slots; beyond, half go to the shared list.
const LOCAL_FREE: usize = 512;

/// One span's slot, on cache lines of its own (two: the adjacent-line prefetcher
/// pairs them), so that threads working on neighbouring slots do not share a line.
#[derive(Default)]
#[repr(align(128))]
pub(crate) struct Slot {
    inner: SlotLock,
}

/// A slot's lock, held by a span's own operations for a few instructions each.
#[derive(Default)]
struct SlotLock {
    m: Mutex<SlotInner>,
}

/// The held lock of a slot.
pub(crate) type SlotGuard = MutexGuard<'static, SlotInner>;

impl SlotLock {
    #[inline]
    fn lock(&'static self) -> SlotGuard {
        lock(&self.m)
    }
}

#[derive(Default)]
pub(crate) struct SlotInner {
    /// Bumped when the span closes: ids of earlier spans in this slot no longer match.
    generation: u32,
    /// Handles to the span (`clone_span` adds one, `try_close` takes one).
    refs: u32,
    /// Whether `state` is the span's: it was created while a session was open.
    recording: bool,
    /// The recorder's state: the span's if `recording`, else what is left of an
    /// earlier span's, kept to be reset in place (no move of the state, no
    /// allocation for its fields).
    state: Option<SpanState>,
}

impl SlotInner {
    /// The span's recorder state, if it has one.
    #[inline]
    pub(crate) fn state(&mut self) -> Option<&mut SpanState> {
        self.state.as_mut().filter(|_| self.recording)
    }
}

static SEGMENT: [OnceLock<Box<[Slot]>>; SEGMENTS] = [const { OnceLock::new() }; SEGMENTS];
/// Slots never used yet start here.
static NEXT: AtomicU32 = AtomicU32::new(0);
/// Free slots of threads that exited or had too many.
static SHARED_FREE: Mutex<Vec<u32>> = Mutex::new(Vec::new());

/// A thread's free slots; given to [`SHARED_FREE`] when the thread exits.
struct LocalFree(Vec<u32>);

impl Drop for LocalFree {
    fn drop(&mut self) {
        lock(&SHARED_FREE).append(&mut self.0);
    }
}

thread_local! {
    static FREE: RefCell<LocalFree> = const { RefCell::new(LocalFree(Vec::new())) };
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while a slot was locked leaves a state that is still consistent
    // enough to record from (at worst a slice without its end).
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The segment and offset of slot `index`.
#[inline]
fn place(index: u32) -> (usize, usize) {
    let i = index as usize + FIRST;
    let k = (usize::BITS - 1 - i.leading_zeros()) as usize - FIRST.trailing_zeros() as usize;
    (k, i - (FIRST << k))
}

#[inline]
fn slot(index: u32) -> Option<&'static Slot> {
    let (k, offset) = place(index);
    SEGMENT.get(k)?.get()?.get(offset)
}

#[cold]
fn slot_made(index: u32) -> Option<&'static Slot> {
    let (k, offset) = place(index);
    let segment = SEGMENT
        .get(k)?
        .get_or_init(|| (0..FIRST << k).map(|_| Slot::default()).collect());
    segment.get(offset)
}

/// A free slot's index: the thread's own, else one from the shared list, else a new one.
#[inline]
fn take_free() -> Option<u32> {
    let local = FREE
        .try_with(|f| f.try_borrow_mut().ok()?.0.pop())
        .ok()
        .flatten();
    local.or_else(take_shared)
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
    let _ = FREE.try_with(|f| {
        if let Ok(mut f) = f.try_borrow_mut() {
            f.0.extend(moved);
        }
    });
    Some(index)
}

fn give_free(index: u32) {
    let kept = FREE
        .try_with(|f| {
            let mut f = f.try_borrow_mut().ok()?;
            f.0.push(index);
            if f.0.len() > LOCAL_FREE {
                let half = f.0.len() / 2;
                let moved: Vec<u32> = f.0.drain(half..).collect();
                lock(&SHARED_FREE).extend(moved);
            }
            Some(())
        })
        .ok()
        .flatten();
    if kept.is_none() {
        lock(&SHARED_FREE).push(index);
    }
}

/// A new span's id, its slot holding one handle and, if `recorded` is given (the
/// span's attributes and parent), its recorder state. `None` only when 2^32 spans
/// are open at once.
#[inline]
pub(crate) fn insert(recorded: Option<(&Attributes<'_>, Option<u64>)>) -> Option<u64> {
    let (index, slot) = match take_free().and_then(|i| Some((i, slot(i)?))) {
        Some(found) => found,
        None => {
            let index = NEXT.fetch_add(1, Ordering::Relaxed);
            if index == u32::MAX {
                NEXT.store(u32::MAX, Ordering::Relaxed);
                return None;
            }
            (index, slot_made(index)?)
        }
    };
    let mut inner = slot.inner.lock();
    inner.refs = 1;
    inner.recording = false;
    if let Some((attrs, parent)) = recorded {
        match &mut inner.state {
            Some(state) => state.reset(attrs, parent),
            none => *none = Some(SpanState::new(attrs, parent)),
        }
        inner.recording = true;
    }
    Some(((inner.generation as u64) << 32) | (index as u64 + 1))
}

/// The slot of span `id`, locked, if the span is still open.
#[inline]
pub(crate) fn get(id: u64) -> Option<SlotGuard> {
    let index = (id as u32).checked_sub(1)?;
    let inner = slot(index)?.inner.lock();
    (inner.generation == (id >> 32) as u32 && inner.refs > 0).then_some(inner)
}

/// One more handle to span `id`.
pub(crate) fn clone(id: u64) {
    if let Some(mut inner) = get(id) {
        inner.refs = inner.refs.saturating_add(1);
    }
}

/// One handle fewer to span `id`: if it was the last, the span closes (its state
/// is closed: a pool slice ends) and its slot is freed: `true`. `false` while the
/// span lives on (or for an unknown id).
#[inline]
pub(crate) fn release(id: u64) -> bool {
    let Some(mut inner) = get(id) else {
        return false;
    };
    inner.refs -= 1;
    if inner.refs > 0 {
        return false;
    }
    inner.generation = inner.generation.wrapping_add(1);
    if let Some(state) = inner.state() {
        state.close_in_place();
    }
    inner.recording = false;
    drop(inner);
    give_free((id as u32) - 1);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_tile_the_segments() {
        assert_eq!(place(0), (0, 0));
        assert_eq!(place(255), (0, 255));
        assert_eq!(place(256), (1, 0));
        assert_eq!(place(767), (1, 511));
        assert_eq!(place(768), (2, 0));
        let (k, off) = place(u32::MAX - FIRST as u32);
        assert!(k < SEGMENTS && off < FIRST << k);
    }

    #[test]
    fn stale_and_made_up_ids_are_ignored() {
        let id = insert(None).unwrap();
        assert!(get(id).is_some());
        clone(id);
        assert!(!release(id)); // one handle left
        assert!(release(id));
        assert!(get(id).is_none(), "closed: a stale id");
        assert!(!release(id));
        assert!(get(0).is_none());
        assert!(get(u64::MAX).is_none());
        // The slot is reused under a new generation.
        let again = insert(None).unwrap();
        assert_ne!(again, id);
        assert!(get(id).is_none());
        assert!(release(again));
    }
}
