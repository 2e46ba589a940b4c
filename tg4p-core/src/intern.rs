//! Interning tables: strings (and source locations) replaced by small ids that are
//! defined once per sequence in `InternedData`.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};

/// FxHash (rustc's hasher): a multiply-rotate hash, several times faster than SipHash
/// on the short keys we intern. Keys are event and argument names chosen by the
/// program, not by an attacker, so HashDoS resistance is not needed here.
#[derive(Default, Clone, Copy)]
pub struct FxHasher {
    hash: u64,
}

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, mut bytes: &[u8]) {
        while bytes.len() >= 8 {
            self.add(u64::from_le_bytes(bytes[..8].try_into().unwrap()));
            bytes = &bytes[8..];
        }
        if bytes.len() >= 4 {
            self.add(u32::from_le_bytes(bytes[..4].try_into().unwrap()) as u64);
            bytes = &bytes[4..];
        }
        for &b in bytes {
            self.add(b as u64);
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(i as u64);
    }

    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.add(i as u64);
    }

    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.hash
    }
}

/// A `HashMap` using [`FxHasher`].
pub type FxHashMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// One interning table of one sequence: hands out iids 1, 2, 3, ... in order of first use.
#[derive(Debug)]
pub struct InternTable<K> {
    ids: FxHashMap<K, u64>,
}

impl<K> Default for InternTable<K> {
    fn default() -> Self {
        InternTable {
            ids: FxHashMap::default(),
        }
    }
}

impl<K: Hash + Eq> InternTable<K> {
    /// The iid of `key`, and whether it is new (and so must be emitted in the
    /// packet's `InternedData` before, or with, its first use).
    #[inline]
    pub fn intern<Q>(&mut self, key: &Q) -> (u64, bool)
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        if let Some(&iid) = self.ids.get(key) {
            return (iid, false);
        }
        let iid = self.ids.len() as u64 + 1;
        self.ids.insert(key.to_owned(), iid);
        (iid, true)
    }

    /// The iid of `key` if it is already interned (no insertion).
    #[inline]
    pub fn get<Q>(&self, key: &Q) -> Option<u64>
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.ids.get(key).copied()
    }

    /// Forgets every entry (for a sequence whose incremental state is cleared).
    pub fn clear(&mut self) {
        self.ids.clear();
    }

    /// How many entries the table holds.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// True when the table holds nothing.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iids_start_at_one_and_repeat_for_known_keys() {
        let mut t = InternTable::<String>::default();
        assert_eq!(t.intern("a"), (1, true));
        assert_eq!(t.intern("b"), (2, true));
        assert_eq!(t.intern("a"), (1, false));
        assert_eq!((t.get("a"), t.get("c")), (Some(1), None));
        t.clear();
        assert_eq!(t.intern("b"), (1, true));
    }
}
