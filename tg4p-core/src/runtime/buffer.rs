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
//! A record is one header word and its payload. The header's low 8 bits are its
//! kind; the rest is kind-specific. Ids are those of `super::registry`.
//! - [`BEGIN`]: `callsite_id << 8 | BEGIN`, tick. A slice on the thread's track.
//! - [`END`]: `END`, tick. Ends the thread track's innermost slice.
//! - [`EVENT`]: everything else, see [`EventHeader`].
//! - [`DROPPED`]: `count << 8 | DROPPED`. `count` events of this thread were dropped
//!   (overflow policy `Drop`) since its previous record.

use super::shim::{AtomicU64, AtomicUsize, Ordering};

/// Words per chunk.
pub(crate) const CHUNK_WORDS: usize = 8 * 1024;
/// Bytes per chunk: the unit of the session's memory limit.
pub const CHUNK_BYTES: usize = CHUNK_WORDS * 8;

pub(crate) const BEGIN: u64 = 1;
pub(crate) const END: u64 = 2;
pub(crate) const EVENT: u64 = 3;
pub(crate) const DROPPED: u64 = 4;

/// Event types of an [`EVENT`] record.
pub(crate) const TYPE_BEGIN: u64 = 0;
pub(crate) const TYPE_END: u64 = 1;
pub(crate) const TYPE_INSTANT: u64 = 2;
pub(crate) const TYPE_COUNTER: u64 = 3;

/// The header word of an [`EVENT`] record, and the layout that follows it:
/// tick; `id` (callsite, or counter for counter samples; absent for ends);
/// `track_id << 32 | lane` if `has_track`; the value if a counter sample (i64, or f64
/// bits if `float`); `outgoing` flow ids; `incoming` flow ids; then `args` values,
/// each a byte length word followed by the UTF-8 bytes packed little-endian into words.
/// `value_dropped` marks a slice end whose return value (`ret`) did not fit in
/// memory: the writer records it as a marker arg, with no words of its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct EventHeader {
    pub ty: u64,
    pub has_track: bool,
    pub float: bool,
    pub value_dropped: bool,
    pub args: u8,
    pub outgoing: u16,
    pub incoming: u16,
}

impl EventHeader {
    pub(crate) const fn encode(self) -> u64 {
        EVENT
            | self.ty << 8
            | (self.has_track as u64) << 10
            | (self.float as u64) << 11
            | (self.value_dropped as u64) << 12
            | (self.args as u64) << 16
            | (self.outgoing as u64) << 24
            | (self.incoming as u64) << 40
    }

    pub(crate) fn decode(word: u64) -> EventHeader {
        EventHeader {
            ty: (word >> 8) & 3,
            has_track: (word >> 10) & 1 != 0,
            float: (word >> 11) & 1 != 0,
            args: (word >> 16) as u8,
            outgoing: (word >> 24) as u16,
            incoming: (word >> 40) as u16,
            value_dropped: (word >> 12) & 1 != 0,
        }
    }

    /// Words of the record without its args.
    pub(crate) fn fixed_words(self) -> usize {
        2 + (self.ty != TYPE_END) as usize
            + self.has_track as usize
            + (self.ty == TYPE_COUNTER) as usize
            + self.outgoing as usize
            + self.incoming as usize
    }
}

/// A header with no track, flows, args or flags: the base of the plain ones below,
/// which the writer copies from templates.
const PLAIN: EventHeader = EventHeader {
    ty: TYPE_BEGIN,
    has_track: false,
    float: false,
    value_dropped: false,
    args: 0,
    outgoing: 0,
    incoming: 0,
};

/// An instant on the thread's own track with no flows and no args: the common
/// `tg4p::instant!("NAME")`.
pub(crate) const PLAIN_INSTANT: u64 = EventHeader {
    ty: TYPE_INSTANT,
    ..PLAIN
}
.encode();
/// A slice begin on the thread's own track with no flows, and with `args` (in
/// [`ARGS_FIELD`]) string args, as `#[trace_args]` writes it.
pub(crate) const PLAIN_BEGIN: u64 = PLAIN.encode();
/// The bits of a header word that hold its `args` count.
pub(crate) const ARGS_FIELD: u64 = 0xFF << 16;
/// Counter samples with an integer, and with a float value.
pub(crate) const INT_SAMPLE: u64 = EventHeader {
    ty: TYPE_COUNTER,
    ..PLAIN
}
.encode();
pub(crate) const FLOAT_SAMPLE: u64 = EventHeader {
    ty: TYPE_COUNTER,
    float: true,
    ..PLAIN
}
.encode();

/// Words taken by a string of `len` bytes stored as an arg (length word + bytes).
pub(crate) const fn string_words(len: usize) -> usize {
    1 + len.div_ceil(8)
}

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

    /// Producer: stores `bytes` as a string arg at word `i`; returns the next index.
    pub(crate) fn put_str(&self, mut i: usize, bytes: &[u8]) -> usize {
        self.put(i, bytes.len() as u64);
        i += 1;
        for piece in bytes.chunks(8) {
            let mut w = [0u8; 8];
            w[..piece.len()].copy_from_slice(piece);
            self.put(i, u64::from_le_bytes(w));
            i += 1;
        }
        i
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
    fn event_header_round_trips() {
        let h = EventHeader {
            ty: TYPE_COUNTER,
            has_track: true,
            float: true,
            args: 200,
            outgoing: 65535,
            incoming: 3,
            value_dropped: false,
        };
        assert_eq!(EventHeader::decode(h.encode()), h);
        assert_eq!(h.encode() & 0xff, EVENT);
        for value_dropped in [false, true] {
            let end = EventHeader {
                ty: TYPE_END,
                value_dropped,
                args: 0,
                ..h
            };
            assert_eq!(EventHeader::decode(end.encode()), end);
        }
    }

    #[test]
    fn consumer_reads_published_words_in_passes() {
        let c = Chunk::new();
        let mut out = Vec::new();
        c.put(0, 7);
        c.read_new(&mut out);
        assert!(out.is_empty(), "unpublished words are invisible");
        c.publish(1);
        let end = c.put_str(1, b"hello, world");
        c.publish(end);
        c.read_new(&mut out);
        assert_eq!(out.len(), 1 + string_words(12));
        c.read_new(&mut out);
        assert_eq!(out.len(), 1 + string_words(12), "nothing read twice");
        c.reset();
        c.read_new(&mut out);
        assert_eq!(out.len(), 1 + string_words(12));
    }
}
