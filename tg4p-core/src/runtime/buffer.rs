//! The per-thread buffer: a chunk of fixed-size 64-bit words that one recording
//! thread fills and the writer thread reads, even while it is still being filled.
//!
//! # Protocol
//! - A chunk has one producer at a time (the thread that owns it) and one consumer
//!   (the writer). The producer stores each word of a record with `Relaxed`, then
//!   publishes the record with a `Release` store of the new word count in
//!   `published`. The consumer loads `published` with `Acquire` and reads only words
//!   below it, so it sees whole records, never torn ones, and never reads a word the
//!   producer is still writing. On x86 every one of these is a plain `mov`.
//! - The consumer keeps its own read position in `consumed` (only the writer touches
//!   it), so it can read a live chunk in several passes (the periodic drain) and
//!   finish it when the producer hands it over (full, or at thread exit).
//! - A chunk is reset and reused only after its producer has handed it over and the
//!   consumer has read all of it ([`Chunk::reset`]).
//!
//! # Records
//! What the words mean is `super::record`'s business: this module only moves them.

use super::shim::{AtomicU64, AtomicUsize, Ordering};

/// Words per chunk.
pub(crate) const CHUNK_WORDS: usize = 8 * 1024;
/// Bytes per chunk: the unit of the session's memory limit.
pub const CHUNK_BYTES: usize = CHUNK_WORDS * 8;

/// One buffer of records; see the module docs.
#[derive(Debug)]
pub(crate) struct Chunk {
    words: Box<[AtomicU64]>,
    published: AtomicUsize,
    consumed: AtomicUsize,
}

impl Chunk {
    pub(crate) fn new() -> Chunk {
        Chunk {
            words: (0..CHUNK_WORDS).map(|_| AtomicU64::new(0)).collect(),
            published: AtomicUsize::new(0),
            consumed: AtomicUsize::new(0),
        }
    }

    /// Producer: stores word `i` of a record not yet published.
    #[inline(always)]
    pub(crate) fn put(&self, i: usize, word: u64) {
        self.words[i].store(word, Ordering::Relaxed);
    }

    /// Producer: makes every word below `end` visible to the consumer.
    #[inline(always)]
    pub(crate) fn publish(&self, end: usize) {
        // Release: the Relaxed stores of the record happen-before any Acquire load
        // of `published` that reads `end`.
        self.published.store(end, Ordering::Release);
    }

    /// Consumer: the words published but not yet read, as `start..end`.
    pub(crate) fn unread(&self) -> (usize, usize) {
        // Acquire: pairs with `publish`, so the words below `end` are complete.
        let end = self.published.load(Ordering::Acquire);
        // Relaxed: only the consumer reads and writes `consumed`.
        (self.consumed.load(Ordering::Relaxed), end)
    }

    /// Consumer: word `i`, below an `end` returned by [`unread`](Chunk::unread).
    #[inline(always)]
    pub(crate) fn word(&self, i: usize) -> u64 {
        self.words[i].load(Ordering::Relaxed)
    }

    /// Consumer: words `start..end`, below an `end` returned by
    /// [`unread`](Chunk::unread), to be loaded with `Relaxed` like [`word`](Chunk::word).
    #[inline]
    pub(crate) fn words(&self, start: usize, end: usize) -> &[AtomicU64] {
        &self.words[start..end]
    }

    /// Consumer: everything below `end` has been read.
    pub(crate) fn mark_read(&self, end: usize) {
        self.consumed.store(end, Ordering::Relaxed);
    }

    /// Consumer: appends the words published since the last call to `out` (what
    /// the writer does in place with `unread`, `word` and `mark_read`).
    #[cfg(any(test, tg4p_loom))]
    pub(crate) fn read_new(&self, out: &mut Vec<u64>) {
        let (start, end) = self.unread();
        out.extend((start..end).map(|i| self.word(i)));
        self.mark_read(end);
    }

    /// Consumer: empties a chunk that its producer has handed over and that has
    /// been read to the end, for reuse by any producer. The pool's channel, through
    /// which the next producer receives it, orders these stores before its writes.
    pub(crate) fn reset(&self) {
        self.published.store(0, Ordering::Relaxed);
        self.consumed.store(0, Ordering::Relaxed);
    }
}

#[cfg(all(test, not(tg4p_loom)))]
mod tests {
    use super::*;

    #[test]
    fn consumer_reads_published_words_in_passes() {
        let c = Chunk::new();
        let mut out = Vec::new();
        c.put(0, 7);
        c.read_new(&mut out);
        assert!(out.is_empty(), "unpublished words are invisible");
        c.publish(1);
        c.put(1, 8);
        c.put(2, 9);
        c.publish(3);
        c.read_new(&mut out);
        assert_eq!(out, [7, 8, 9]);
        c.read_new(&mut out);
        assert_eq!(out.len(), 3, "nothing read twice");
        c.reset();
        c.read_new(&mut out);
        assert_eq!(out.len(), 3);
    }
}
