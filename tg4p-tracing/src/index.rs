//! The layer's map from the registry's span ids to our slot keys, so that a
//! callback finds a span's state without looking the span up in the registry
//! (a look-up there takes and releases a reference to the registry's slot, and
//! its extensions are a type map behind a lock, with a box per value).
//!
//! One map per layer: ids are unique within one registry only (two registries
//! on one thread number their spans alike), and a layer sits on one registry.
//!
//! A table of `SIZE` entries, each an id and a key in atomics. An id lives within
//! `WINDOW` entries from the place its hash gives: a look-up reads at most that
//! many (two cache lines), comparing ids, with no lock and no read-modify-write;
//! an insert claims a free entry with one compare-and-swap. A span whose window
//! is full (tens of thousands of spans recorded and open at once) is kept in the
//! registry's extensions instead (see the layer): slower, never lost.
//!
//! An entry is free while its key is 0 (our keys never are). It is claimed by
//! setting its key, then its id; emptied by setting its id to [`GONE`], then its
//! key to 0. A look-up reads the id, the key, and the id again, so that it never
//! pairs an id with the key of the entry's next span. Registry ids are unique
//! among open spans, and reused only after the close that removes them here.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

const BITS: u32 = 16;
const SIZE: usize = 1 << BITS;
const WINDOW: usize = 8;
/// The id of an entry emptied (an id no span has: see [`insert`]).
const GONE: u64 = u64::MAX;

#[derive(Default)]
struct Entry {
    id: AtomicU64,
    key: AtomicU64,
}

/// A layer's map (its table made at its first insert: 1 MiB).
pub(crate) struct Index {
    table: OnceLock<Box<[Entry]>>,
}

impl Index {
    pub(crate) const fn new() -> Index {
        Index {
            table: OnceLock::new(),
        }
    }

    /// Maps `id` to `key` (not 0): `false` if its window is full (or `id` is
    /// [`GONE`]), and nothing is kept.
    pub(crate) fn insert(&self, id: u64, key: u64) -> bool {
        debug_assert_ne!(key, 0);
        if id == GONE {
            return false;
        }
        let table = self
            .table
            .get_or_init(|| (0..SIZE).map(|_| Entry::default()).collect());
        for e in window(table, id) {
            if e.key.load(Ordering::Relaxed) == 0
                && e.key
                    .compare_exchange(0, key, Ordering::AcqRel, Ordering::Relaxed)
                    .is_ok()
            {
                e.id.store(id, Ordering::Release);
                return true;
            }
        }
        false
    }

    /// The key `id` maps to.
    #[inline]
    pub(crate) fn get(&self, id: u64) -> Option<u64> {
        let table = self.table.get()?;
        window(table, id).find_map(|e| read(e, id))
    }

    /// Removes `id` (its span closed): the key it mapped to.
    #[inline]
    pub(crate) fn remove(&self, id: u64) -> Option<u64> {
        let table = self.table.get()?;
        window(table, id).find_map(|e| {
            let key = read(e, id)?;
            e.id.store(GONE, Ordering::Release);
            e.key.store(0, Ordering::Release);
            Some(key)
        })
    }
}

/// Where `id`'s window starts: Fibonacci hashing (one multiply) of the id's low
/// 48 bits, which spreads ids that differ there over the whole table, and keeps
/// ids that differ only above in one place. The registry's ids keep a dense
/// per-thread index in their low bits, the thread's number above it, and a
/// generation (bumped at each reuse of the index) at the top: so a span created
/// in a loop, in the registry's slot of the previous one, finds the same entry,
/// in cache. (Any other layout of ids works too: ids that differ only in their
/// top 16 bits share a window, and past `WINDOW` of them open at once, spill.)
#[inline]
fn home(id: u64) -> usize {
    let low = id & ((1 << 48) - 1);
    (low.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - BITS)) as usize
}

#[inline]
fn window(table: &[Entry], id: u64) -> impl Iterator<Item = &Entry> {
    let at = home(id);
    (0..WINDOW).map(move |i| &table[(at + i) & (SIZE - 1)])
}

#[inline]
fn read(e: &Entry, id: u64) -> Option<u64> {
    if e.id.load(Ordering::Acquire) != id {
        return None;
    }
    let key = e.key.load(Ordering::Acquire);
    (key != 0 && e.id.load(Ordering::Acquire) == id).then_some(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_map_to_keys_until_removed_and_full_windows_refuse() {
        // Ids with the same home (differing only in their top 16 bits): the
        // window holds WINDOW of them.
        let base = 12345u64;
        let same: Vec<u64> = (1..=WINDOW as u64 + 1).map(|i| base + (i << 48)).collect();
        assert!(same.iter().all(|id| home(*id) == home(base)));
        let index = Index::new();
        let (insert, get, remove) = (
            |id, key| index.insert(id, key),
            |id| index.get(id),
            |id| index.remove(id),
        );
        assert_eq!(get(base), None, "no table yet");
        for (n, id) in same.iter().enumerate().take(WINDOW) {
            assert!(insert(*id, 100 + n as u64));
        }
        assert!(!insert(same[WINDOW], 999), "a full window refuses");
        assert_eq!(get(same[WINDOW]), None);
        for (n, id) in same.iter().enumerate().take(WINDOW) {
            assert_eq!(get(*id), Some(100 + n as u64));
        }
        assert_eq!(remove(same[3]), Some(103));
        assert_eq!(get(same[3]), None);
        assert_eq!(remove(same[3]), None);
        // The freed entry takes the next id of that window.
        assert!(insert(same[WINDOW], 999));
        assert_eq!(get(same[WINDOW]), Some(999));
        for id in same.iter().take(WINDOW).chain([&same[WINDOW]]) {
            remove(*id);
        }
        assert!(!insert(GONE, 1));
    }
}
