//! The hand-off between the recording threads and the writer of the open session:
//! the process-wide gate and its generation, the state they share ([`Shared`]:
//! the writer's channel, the pool of chunks, the thread [`Slot`]s), and the
//! [`Overflow`] policy that decides what a thread does when the pool is empty.
//!
//! Protocol (model-checked over the same locking discipline in `loom_tests.rs`):
//! a thread replaces its current chunk, and sends the previous one to the writer,
//! under its slot's lock ([`Shared::hand_over`]); the writer empties its channel
//! and then reads the thread's current chunk under that lock, so it meets every
//! chunk of a thread in order. A chunk read to the end is reset and returned to the
//! pool, from which a thread takes it again ([`Shared::acquire_chunk`]).

use super::buffer::Chunk;
use super::shim::channel::{self, Receiver, RecvTimeoutError, Sender};
use super::shim::{Arc, AtomicU64, AtomicUsize, Mutex, Ordering, lock};
use std::sync::MutexGuard;
use std::sync::atomic::{AtomicU64 as StdAtomicU64, Ordering as StdOrdering};
use std::time::Duration;

/// The generation of the open session, 0 when none is open. Instrumented code
/// loads it (Relaxed) and branches: that is the whole cost of tracing when off.
static GATE: StdAtomicU64 = StdAtomicU64::new(0);
static NEXT_GENERATION: StdAtomicU64 = StdAtomicU64::new(1);
/// The open session's shared state (the gate only says which generation it is).
static ACTIVE: std::sync::Mutex<Option<Arc<Shared>>> = std::sync::Mutex::new(None);

/// Whether a session is recording.
///
/// ```
/// assert!(!tg4p_core::runtime::enabled());
/// let session = tg4p_core::runtime::Session::builder()
///     .writer(std::io::sink())
///     .start()?;
/// assert!(tg4p_core::runtime::enabled());
/// session.finish()?;
/// assert!(!tg4p_core::runtime::enabled());
/// # Ok::<(), tg4p_core::runtime::SessionError>(())
/// ```
#[inline(always)]
pub fn enabled() -> bool {
    generation() != 0
}

/// The open session's generation, 0 if none: the gate.
#[inline(always)]
pub(crate) fn generation() -> u64 {
    GATE.load(StdOrdering::Relaxed)
}

/// What recording threads do when every buffer allowed by the memory limit is full.
///
/// ```
/// use tg4p_core::runtime::{Overflow, Session};
/// let session = Session::builder()
///     .writer(std::io::sink())
///     .overflow(Overflow::Block) // lose nothing; a thread may wait for the writer
///     .start()?;
/// assert_eq!(session.finish()?.events_dropped, 0);
/// # Ok::<(), tg4p_core::runtime::SessionError>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Overflow {
    /// Drop new events and count them (the default). A slice's end is never dropped
    /// when its begin was kept: room for it is reserved when the slice begins. Loss is
    /// reported by `Session::finish` and marked in the trace with
    /// `previous_packet_dropped` on the thread's sequence.
    #[default]
    Drop,
    /// Wait until the writer frees a buffer. Nothing is lost, but a recording thread
    /// can stall while the writer catches up. (Nesting deeper than one buffer can
    /// hold, about 4000 levels, is still dropped.)
    Block,
    /// A flight recorder: keep only the newest events, within the memory limit,
    /// and write them at [`Session::finish`](super::Session::finish) or on demand
    /// ([`Session::snapshot`](super::Session::snapshot)). Set it with
    /// [`SessionBuilder::ring`](super::SessionBuilder::ring), which also sets the
    /// ring's size; see there.
    Ring,
}

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

/// A message to the writer.
pub(crate) enum Msg {
    /// A chunk handed over by its thread (full, or the thread is exiting: `last`).
    Chunk {
        slot: Arc<Slot>,
        chunk: Option<Arc<Chunk>>,
        last: bool,
    },
    /// Drain everything, write, and stop.
    Finish,
    /// Ring mode: write the window held now to `file` and reply with what was
    /// written (the ring is kept).
    Snapshot {
        file: Box<dyn std::io::Write + Send>,
        reply: std::sync::mpsc::Sender<std::io::Result<super::writer::Written>>,
    },
}

/// State shared by the recording threads and the writer of one session.
pub(crate) struct Shared {
    pub(crate) generation: u64,
    pub(crate) overflow: Overflow,
    to_writer: Sender<Msg>,
    free: Receiver<Arc<Chunk>>,
    allocated: AtomicUsize,
    max_chunks: usize,
    /// Live thread slots: touched when a thread registers or exits, and by the writer.
    slots: Mutex<Vec<Arc<Slot>>>,
    next_sequence: AtomicUsize,
    pub(crate) process_uuid: u64,
    /// Events not recorded because the calling thread's state was gone (a
    /// thread-local destructor recording at thread exit) or in use (re-entered):
    /// counted as dropped, and in the trace's `trace_stats`.
    unrecorded: AtomicU64,
}

/// The writer's end of the hand-off: chunks and messages in, free chunks out.
pub(crate) struct WriterEnd {
    pub(crate) rx: Receiver<Msg>,
    /// Where read chunks go back to the pool (its capacity is the chunk limit).
    pub(crate) free: Sender<Arc<Chunk>>,
}

impl Shared {
    /// The state of session `generation` with at most `max_chunks` chunks, and the
    /// writer's end of its hand-off.
    pub(crate) fn new(
        generation: u64,
        overflow: Overflow,
        max_chunks: usize,
    ) -> (Arc<Shared>, WriterEnd) {
        let (to_writer, rx) = channel::unbounded();
        let (free_tx, free) = channel::bounded(max_chunks);
        let shared = Arc::new(Shared {
            generation,
            overflow,
            to_writer,
            free,
            allocated: AtomicUsize::new(0),
            max_chunks,
            slots: Mutex::new(Vec::new()),
            next_sequence: AtomicUsize::new(1),
            process_uuid: crate::ids::next_track_uuid(),
            unrecorded: AtomicU64::new(0),
        });
        (shared, WriterEnd { rx, free: free_tx })
    }

    /// Counts an event that could not be recorded (see `unrecorded`).
    pub(crate) fn count_unrecorded(&self) {
        // Relaxed: a count read once, by the writer after the gate has closed.
        self.unrecorded.fetch_add(1, Ordering::Relaxed);
    }

    /// Events counted by [`count_unrecorded`](Shared::count_unrecorded) so far.
    pub(crate) fn unrecorded(&self) -> u64 {
        self.unrecorded.load(Ordering::Relaxed)
    }

    /// Chunks allocated so far.
    pub(crate) fn allocated(&self) -> usize {
        self.allocated.load(Ordering::Relaxed)
    }

    /// A free chunk: recycled, newly allocated within the limit, or (policy `Block`)
    /// waited for. `None` when the policy is `Drop` and the limit is reached, or the
    /// session is over.
    pub(crate) fn acquire_chunk(&self) -> Option<Arc<Chunk>> {
        if let Ok(c) = self.free.try_recv() {
            return Some(c);
        }
        // Relaxed: a counter whose only job is the limit; the Arc hand-off orders
        // the chunk's contents.
        if self.allocated.fetch_add(1, Ordering::Relaxed) < self.max_chunks {
            return Some(Arc::new(Chunk::new()));
        }
        self.allocated.fetch_sub(1, Ordering::Relaxed);
        match self.overflow {
            Overflow::Drop => None,
            // A ring's writer frees its oldest buffer as soon as it receives a full
            // one, so threads wait only while it writes a snapshot.
            Overflow::Block | Overflow::Ring => loop {
                match self.free.recv_timeout(Duration::from_millis(10)) {
                    Ok(c) => return Some(c),
                    Err(RecvTimeoutError::Timeout) => {
                        if generation() != self.generation {
                            return None;
                        }
                    }
                    Err(RecvTimeoutError::Disconnected) => return None,
                }
            },
        }
    }

    /// A new recording thread `tid` named `name`: its slot (sequence, track) and a
    /// first chunk if one is free.
    pub(crate) fn join(&self, tid: i32, name: String) -> (Arc<Slot>, Option<Arc<Chunk>>) {
        let sequence = self.next_sequence.fetch_add(1, Ordering::Relaxed) as u32;
        let slot = Arc::new(Slot {
            sequence,
            tid,
            name,
            track_uuid: crate::ids::next_track_uuid(),
            state: Mutex::new(SlotState::default()),
            dropped: AtomicU64::new(0),
        });
        lock(&self.slots).push(slot.clone());
        let chunk = self.acquire_chunk();
        lock(&slot.state).current = chunk.clone();
        (slot, chunk)
    }

    /// Sends `slot`'s chunk `old` (if any) to the writer and makes `fresh` its
    /// current chunk.
    pub(crate) fn hand_over(
        &self,
        slot: &Arc<Slot>,
        old: Option<Arc<Chunk>>,
        fresh: Option<Arc<Chunk>>,
    ) {
        self.send_under_lock(slot, old, fresh, false);
    }

    /// The thread of `slot` exits: its chunk `old` goes to the writer, marked last.
    pub(crate) fn leave(&self, slot: &Arc<Slot>, old: Option<Arc<Chunk>>) {
        self.send_under_lock(slot, old, None, true);
    }

    fn send_under_lock(
        &self,
        slot: &Arc<Slot>,
        old: Option<Arc<Chunk>>,
        fresh: Option<Arc<Chunk>>,
        last: bool,
    ) {
        let mut state = lock(&slot.state);
        if old.is_some() || last {
            // An unbounded channel: never blocks. If the writer is gone, the chunk
            // is simply freed.
            let _ = self.to_writer.send(Msg::Chunk {
                slot: slot.clone(),
                chunk: old,
                last,
            });
        }
        state.current = fresh;
    }

    /// Asks the writer to drain everything and stop.
    pub(crate) fn finish(&self) {
        let _ = self.to_writer.send(Msg::Finish);
    }

    /// A way to send the writer messages that keeps nothing else of the session
    /// alive (its buffers are freed when it ends).
    pub(crate) fn writer_sender(&self) -> Sender<Msg> {
        self.to_writer.clone()
    }

    /// The most chunks the session may allocate.
    pub(crate) fn max_chunks(&self) -> usize {
        self.max_chunks
    }

    /// The live slots.
    pub(crate) fn slots(&self) -> Vec<Arc<Slot>> {
        lock(&self.slots).clone()
    }

    /// Forgets `slot`, whose thread exited.
    pub(crate) fn remove_slot(&self, slot: &Arc<Slot>) {
        lock(&self.slots).retain(|s| !Arc::ptr_eq(s, slot));
    }
}

/// The shared state of session `generation` if it is still the open one.
pub(crate) fn active(generation: u64) -> Option<Arc<Shared>> {
    let a = ACTIVE.lock().unwrap_or_else(|p| p.into_inner());
    a.as_ref().filter(|s| s.generation == generation).cloned()
}

/// The right to open the process's one session, held while it starts.
pub(crate) struct Opening(MutexGuard<'static, Option<Arc<Shared>>>);

impl Opening {
    /// The right to open a session, unless one is open.
    pub(crate) fn take() -> Option<Opening> {
        let active = ACTIVE.lock().unwrap_or_else(|p| p.into_inner());
        active.is_none().then_some(Opening(active))
    }

    /// A generation for the session being opened.
    pub(crate) fn next_generation(&self) -> u64 {
        NEXT_GENERATION.fetch_add(1, StdOrdering::Relaxed)
    }

    /// Makes `shared` the open session and opens the gate.
    pub(crate) fn open(mut self, shared: Arc<Shared>) {
        let generation = shared.generation;
        *self.0 = Some(shared);
        // Release: a thread that sees the new generation and then locks ACTIVE finds
        // this session (the lock orders it anyway; Release documents the pairing).
        GATE.store(generation, StdOrdering::Release);
    }
}

/// Closes the gate of session `generation` and forgets it, if it is the open one.
pub(crate) fn close(generation: u64) {
    let _ = GATE.compare_exchange(generation, 0, StdOrdering::SeqCst, StdOrdering::SeqCst);
    let mut active = ACTIVE.lock().unwrap_or_else(|p| p.into_inner());
    if active.as_ref().is_some_and(|s| s.generation == generation) {
        *active = None;
    }
}
