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
    #[allow(dead_code, reason = "the pair of `len`, for the tests")]
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

/// An [`InternTable`] of strings with a small cache in front for lookups.
///
/// Programs mostly pass the same few `&str`s again and again (literals, or names
/// kept in a table), so the cache picks its set (two slots) from the string's
/// address and length, a multiply and a shift instead of hashing the bytes and
/// probing the map. A slot holds the contents of its string (up to 16 bytes: all of
/// them, packed into two words; longer: the first and last 8, the rest compared with
/// the table's copy), so a hit is always confirmed by the bytes: an address reused
/// for other contents is just a miss.
#[derive(Debug)]
pub struct StrInternTable {
    table: InternTable<String>,
    /// Each iid's string, at index iid - 1, to confirm hits on strings above 16 bytes.
    by_iid: Vec<Box<str>>,
    /// Two ways per set (the latest cached first), the set chosen by
    /// [`StrInternTable::set`]. Four sets per entry, rounded up to a power of two, at
    /// most [`MAX_SETS`] (few strings then share a set): 256 bytes per name, 4 KiB at
    /// most, nothing for a table that stays empty (a generator's counter tracks).
    sets: Box<[[Slot; 2]]>,
    /// `sets.len() - 1` (0 when empty): masks a set index out of a [`hash`].
    mask: usize,
}

/// A cached string: [`tag`], iid and [`words`].
#[derive(Clone, Copy, Debug)]
struct Slot {
    tag: u64,
    iid: u32,
    words: (u64, u64),
}

impl Slot {
    /// No string: a tag and words that the empty string does not have.
    const EMPTY: Slot = Slot {
        tag: 0,
        iid: 0,
        words: (u64::MAX, u64::MAX),
    };
}

/// A slot's tag for a string of `len` bytes: the length itself when the slot's words
/// hold the whole string, so that a hit is `tag == len` and equal words. Longer
/// strings get the top bit too: no length equals their tag, and their hits are
/// confirmed out of line ([`StrInternTable::cached_long`]).
#[inline(always)]
fn tag(len: usize) -> u64 {
    if len <= WHOLE {
        len as u64
    } else {
        LONG | len as u64
    }
}

/// Marks the tag of a string longer than [`WHOLE`] (lengths never reach it).
const LONG: u64 = 1 << 63;

/// The most sets a cache grows to (128 slots).
const MAX_SETS: usize = 64;

/// Strings up to this long are held whole in their slot's two words.
const WHOLE: usize = 16;

/// What picks `key`'s cache set (its top bits): its address and length, not its
/// contents.
#[inline(always)]
fn hash(key: &str) -> u64 {
    (key.as_ptr().addr() as u64 ^ ((key.len() as u64) << 40)).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// Two words of `s` that, with its length, determine `s` when it is at most
/// [`WHOLE`] bytes long: from 8 bytes up, two possibly overlapping words (the first
/// and the last 8 bytes); below, the bytes packed into the first word. Longer
/// strings get their first and last 8 bytes. No call to `memcmp`, no loop.
#[inline(always)]
fn words(s: &[u8]) -> (u64, u64) {
    let n = s.len();
    if n >= 8 {
        let word = |at: usize| u64::from_le_bytes(s[at..at + 8].try_into().unwrap());
        (word(0), word(n - 8))
    } else if n >= 4 {
        let word = |at: usize| u32::from_le_bytes(s[at..at + 4].try_into().unwrap()) as u64;
        (word(0) | (word(n - 4) << 32), 0)
    } else if n > 0 {
        // Positions 0, n / 2 and n - 1 cover every byte of 1 to 3.
        let packed = s[0] as u64 | ((s[n / 2] as u64) << 8) | ((s[n - 1] as u64) << 16);
        (packed, 0)
    } else {
        (0, 0)
    }
}

impl Default for StrInternTable {
    fn default() -> Self {
        StrInternTable {
            table: InternTable::default(),
            by_iid: Vec::new(),
            sets: Box::new([]),
            mask: 0,
        }
    }
}

impl StrInternTable {
    /// The iid of `key`, and whether it is new (see [`InternTable::intern`]).
    #[inline]
    pub fn intern(&mut self, key: &str) -> (u64, bool) {
        if let Some(iid) = self.get(key) {
            return (iid, false);
        }
        let (iid, new) = self.table.intern(key);
        debug_assert!(new);
        self.by_iid.push(key.into());
        self.grow();
        self.remember(key, iid);
        (iid, new)
    }

    /// The iid of `key` if it is already interned (no insertion).
    #[inline]
    pub fn get(&mut self, key: &str) -> Option<u64> {
        match self.cached(key) {
            Some(iid) => Some(iid),
            None => self.get_slow(key),
        }
    }

    /// The iid of `key` if the cache holds it: no map lookup, nothing changed. `None`
    /// says nothing about the table (see [`StrInternTable::get`]).
    #[inline(always)]
    pub fn cached(&self, key: &str) -> Option<u64> {
        let n = key.len();
        let words = words(key.as_bytes());
        for slot in self.sets.get(self.set(key))? {
            if slot.tag == n as u64 && slot.words == words {
                return Some(slot.iid as u64);
            }
        }
        if n > WHOLE {
            return self.cached_long(key);
        }
        None
    }

    /// [`StrInternTable::cached`] for a string longer than [`WHOLE`] bytes: equal
    /// words, then the rest of the bytes against the table's copy.
    #[inline(never)]
    fn cached_long(&self, key: &str) -> Option<u64> {
        let words = words(key.as_bytes());
        let slot = self.sets.get(self.set(key))?.iter().find(|slot| {
            slot.tag == tag(key.len())
                && slot.words == words
                && self
                    .by_iid
                    .get((slot.iid as usize).wrapping_sub(1))
                    .is_some_and(|name| **name == *key)
        })?;
        Some(slot.iid as u64)
    }

    /// [`StrInternTable::get`] on a cache miss: the map, then caching its answer.
    #[inline(never)]
    fn get_slow(&mut self, key: &str) -> Option<u64> {
        let iid = self.table.get(key)?;
        self.remember(key, iid);
        Some(iid)
    }

    /// The cache set of `key`: the top bits of its [`hash`].
    #[inline(always)]
    fn set(&self, key: &str) -> usize {
        (hash(key) >> (64 - MAX_SETS.trailing_zeros())) as usize & self.mask
    }

    /// Grows the cache for the table's entries (see `sets`), empty: entries come
    /// back from the map on their next lookup.
    fn grow(&mut self) {
        let sets = (4 * self.table.len().min(MAX_SETS))
            .next_power_of_two()
            .min(MAX_SETS);
        if self.sets.len() < sets {
            self.sets = vec![[Slot::EMPTY; 2]; sets].into_boxed_slice();
            self.mask = sets - 1;
        }
    }

    fn remember(&mut self, key: &str, iid: u64) {
        // Iids beyond u32 (four billion names) are simply not cached.
        if let Ok(iid) = u32::try_from(iid) {
            let set = self.set(key);
            let ways = &mut self.sets[set];
            *ways = [
                Slot {
                    tag: tag(key.len()),
                    iid,
                    words: words(key.as_bytes()),
                },
                ways[0],
            ];
        }
    }

    /// Forgets every entry (for a sequence whose incremental state is cleared).
    #[allow(dead_code, reason = "for the tests, as `len` and `is_empty`")]
    pub fn clear(&mut self) {
        self.table.clear();
        self.by_iid.clear();
        self.sets.fill([Slot::EMPTY; 2]);
    }

    /// How many entries the table holds.
    #[allow(dead_code, reason = "for the tests")]
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// True when the table holds nothing.
    #[allow(dead_code, reason = "for the tests")]
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
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

    #[test]
    fn str_table_matches_by_contents_not_address() {
        let mut t = StrInternTable::default();
        let a = String::from("alpha_name_1");
        assert_eq!(t.intern(&a), (1, true));
        assert_eq!(t.intern("beta"), (2, true));
        assert_eq!(t.get(&a), Some(1));
        // The same contents at another address.
        assert_eq!(t.get(&String::from("alpha_name_1")), Some(1));
        assert_eq!(t.intern("alpha_name_1"), (1, false));
        // Other contents at the same address and length: a miss, not iid 1.
        let mut b = a;
        b.replace_range(0..1, "A");
        assert_eq!(t.get(&b), None);
        assert_eq!(t.intern(&b), (3, true));
        assert_eq!(t.get(&b), Some(3));
        b.replace_range(0..1, "a");
        assert_eq!(t.get(&b), Some(1));
        // Every length class of the comparison.
        for len in 0..40 {
            let s: String = "abcdefghijklmnopqrstuvwxyz0123456789ABCD"[..len].into();
            let (iid, _) = t.intern(&s);
            assert_eq!(t.get(&s), Some(iid));
            let mut other = s.clone().into_bytes();
            if let Some(last) = other.last_mut() {
                *last = b'#';
                let other = String::from_utf8(other).unwrap();
                assert_ne!(t.intern(&other).0, iid);
            }
        }
        t.clear();
        assert!(t.is_empty());
        assert_eq!(t.get("beta"), None);
        assert_eq!(t.intern("beta"), (1, true));
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn str_table_cache_never_returns_a_stale_iid() {
        let mut t = StrInternTable::default();
        // The empty string against empty slots (length 0, iid 0).
        assert_eq!(t.cached(""), None);
        assert_eq!(t.get(""), None);
        assert_eq!(t.intern(""), (1, true));
        assert_eq!(t.cached(""), Some(1));
        // One buffer rewritten in place, for every length class: each contents gets
        // its own iid, and the cache (keyed by address and length) answers for the
        // current contents only.
        for len in [1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 24, 40, 100] {
            let mut buf = vec![b'x'; len];
            let mut seen = Vec::new();
            // Change the first, middle and last byte in turn (a middle byte is outside
            // the two words kept for strings longer than 16 bytes), then back.
            for (round, at) in [0, len / 2, len - 1, 0, len / 2, len - 1]
                .into_iter()
                .enumerate()
            {
                buf[at] = if round < 3 { b'0' + round as u8 } else { b'x' };
                let key = std::str::from_utf8(&buf).unwrap();
                let (iid, new) = t.intern(key);
                assert_eq!(t.cached(key), Some(iid));
                assert_eq!(t.get(key), Some(iid));
                match seen.iter().find(|(s, _)| s == key) {
                    Some(&(_, earlier)) => assert_eq!((iid, new), (earlier, false), "{key}"),
                    None => {
                        assert!(new, "{key}");
                        seen.push((key.to_owned(), iid));
                    }
                }
            }
        }
        // Two long strings of one length, same first and last 8 bytes, in one set.
        let a = format!("{}{}{}", "head____", "A".repeat(9), "____tail");
        let b = format!("{}{}{}", "head____", "B".repeat(9), "____tail");
        let (ia, _) = t.intern(&a);
        let (ib, _) = t.intern(&b);
        assert_ne!(ia, ib);
        for _ in 0..3 {
            assert_eq!(t.get(&a), Some(ia));
            assert_eq!(t.get(&b), Some(ib));
        }
    }

    #[test]
    fn str_table_cache_grows_with_its_entries() {
        let mut t = StrInternTable::default();
        assert_eq!(t.sets.len(), 0);
        assert_eq!(t.get("x"), None);
        let names: Vec<String> = (0..100).map(|i| format!("name {i}")).collect();
        for (i, name) in names.iter().enumerate() {
            assert_eq!(t.intern(name), (i as u64 + 1, true));
            let sets = (4 * (i + 1)).next_power_of_two().min(MAX_SETS);
            assert_eq!((t.sets.len(), t.mask), (sets, sets - 1));
            // Every name so far is still found, from the cache or the map.
            for (j, earlier) in names[..=i].iter().enumerate() {
                assert_eq!(t.get(earlier), Some(j as u64 + 1));
            }
        }
        // Once looked up again, the latest names are cached.
        assert_eq!(t.cached(&names[99]), Some(100));
    }
}
