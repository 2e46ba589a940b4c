//! The recording side: one [`Local`] per thread writing records into its current
//! chunk, and the [`Slot`] through which the writer finds that chunk.
//!
//! Hot path (a `#[trace]` call): one Relaxed load of the gate, a thread-local borrow,
//! a bounds check, two stores and a Release store per event; no lock, allocation or
//! system call. The slow paths (first event of a thread in a session, a full chunk,
//! overflow) are `#[cold]`.

use super::buffer::{self, CHUNK_WORDS, Chunk};
use super::clock;
use super::session::{self, GATE, Msg, Overflow, Shared};
use super::shim::{Arc, AtomicU64, Mutex, Ordering, lock};
use std::cell::{Cell, RefCell};
use std::sync::atomic::Ordering as StdOrdering;

/// A recording thread as the writer sees it: its identity, its sequence and
/// track, and its current chunk (which the writer drains while the thread lives).
#[derive(Debug)]
pub(crate) struct Slot {
    /// `trusted_packet_sequence_id` of the thread's packets.
    pub(crate) sequence: u32,
    pub(crate) tid: i32,
    pub(crate) name: String,
    pub(crate) track_uuid: u64,
    pub(crate) state: Mutex<SlotState>,
    /// Events dropped by this thread (Relaxed: read by the writer at the end).
    pub(crate) dropped: AtomicU64,
}

#[derive(Debug, Default)]
pub(crate) struct SlotState {
    /// The chunk the thread is filling. Replaced, under this lock, only together
    /// with sending the previous one to the writer, so a writer holding the lock
    /// has every earlier chunk of the thread in its channel.
    pub(crate) current: Option<Arc<Chunk>>,
}

/// A thread's recording state.
pub(crate) struct Local {
    generation: u64,
    shared: Option<Arc<Shared>>,
    slot: Option<Arc<Slot>>,
    pub(crate) chunk: Option<Arc<Chunk>>,
    /// Words written to `chunk`.
    pub(crate) pos: usize,
    /// Words kept free for the ends of open slices (and their flows).
    pub(crate) reserved: usize,
    /// Drops not yet marked in the trace.
    pending_drops: u64,
    /// Slices open on the thread's own track.
    pub(crate) depth: u32,
}

/// How deep slices may nest on a thread's track: trace_processor drops (and counts
/// as errors) slices nested deeper than 512, so deeper ones are dropped and
/// counted here instead, and the trace stays valid.
pub const MAX_THREAD_DEPTH: u32 = 512;

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
/// `None` when that is impossible (thread-local storage torn down, re-entered from
/// a `Debug` impl, or the session just ended).
#[inline(always)]
pub(crate) fn with_local<R>(generation: u64, f: impl FnOnce(&mut Local) -> R) -> Option<R> {
    LOCAL
        .try_with(|cell| {
            let mut local = cell.try_borrow_mut().ok()?;
            if local.generation != generation && !local.attach(generation) {
                return None;
            }
            Some(f(&mut local))
        })
        .ok()
        .flatten()
}

/// The open session's generation, 0 if none: the gate.
#[inline(always)]
pub(crate) fn generation() -> u64 {
    GATE.load(StdOrdering::Relaxed)
}

impl Local {
    /// Makes room for a record of `words` plus `reserve` more words kept for its end,
    /// switching to a new chunk if needed. False: the record must be dropped.
    #[inline(always)]
    pub(crate) fn ensure(&mut self, words: usize, reserve: usize) -> bool {
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
            if shared.overflow == Overflow::Block && self.chunk.is_some() {
                // Hand the full chunk to the writer before waiting for a free one:
                // if every thread kept its full chunk while waiting, nothing would
                // ever be recycled (all buffers held, all producers stalled).
                self.hand_over(None, false);
            }
            let Some(fresh) = shared.acquire_chunk() else {
                return false;
            };
            self.hand_over(Some(fresh), false);
        }
        if self.pending_drops > 0 {
            let chunk = self.chunk.as_ref().expect("chunk installed above");
            chunk.put(self.pos, self.pending_drops << 8 | buffer::DROPPED);
            self.pos += 1;
            chunk.publish(self.pos);
            self.pending_drops = 0;
        }
        true
    }

    /// Counts `n` dropped events.
    #[cold]
    pub(crate) fn dropped(&mut self, n: u64) {
        self.pending_drops += n;
        if let Some(slot) = &self.slot {
            slot.dropped.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// Reserves `words` more for the end of an open slice (flows added to it).
    pub(crate) fn reserve(&mut self, words: usize) -> bool {
        if !self.ensure(0, words) {
            return false;
        }
        self.reserved += words;
        true
    }

    /// Sends the current chunk to the writer and installs `fresh`.
    fn hand_over(&mut self, fresh: Option<Arc<Chunk>>, last: bool) {
        let (Some(slot), Some(shared)) = (&self.slot, &self.shared) else {
            return;
        };
        let mut state = lock(&slot.state);
        let old = self.chunk.take();
        if old.is_some() || last {
            // An unbounded channel: never blocks. If the writer is gone, the chunk
            // is simply freed.
            let _ = shared.to_writer.send(Msg::Chunk {
                slot: slot.clone(),
                chunk: old,
                last,
            });
        }
        state.current = fresh.clone();
        drop(state);
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
        let Some(shared) = session::active(generation) else {
            return false;
        };
        let sequence = shared.next_sequence.fetch_add(1, Ordering::Relaxed) as u32;
        let (tid, name) = thread_identity();
        let slot = Arc::new(Slot {
            sequence,
            tid,
            name,
            track_uuid: crate::ids::next_track_uuid(),
            state: Mutex::new(SlotState::default()),
            dropped: AtomicU64::new(0),
        });
        lock(&shared.slots).push(slot.clone());
        let chunk = shared.acquire_chunk();
        lock(&slot.state).current = chunk.clone();
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
        if self.slot.is_some() {
            self.hand_over(None, true);
        }
    }
}

/// The calling thread's OS id and name (the `std::thread` name, else the OS name).
fn thread_identity() -> (i32, String) {
    let tid = os_tid();
    let name = match std::thread::current().name() {
        Some(n) => n.to_owned(),
        None => os_thread_name().unwrap_or_else(|| format!("thread {tid}")),
    };
    (tid, name)
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn os_tid() -> i32 {
    // SAFETY: gettid has no preconditions and cannot fail.
    unsafe { libc::gettid() }
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn os_tid() -> i32 {
    std::process::id() as i32
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

/// Reads the tick for a record (kept here so every record reads it the same way).
#[inline(always)]
pub(crate) fn tick() -> u64 {
    clock::ticks()
}
