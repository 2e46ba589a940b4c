//! Sessions: opening a trace file, the process-wide gate, finishing with a report.

use super::buffer::{CHUNK_BYTES, Chunk};
use super::recorder::Slot;
use super::shim::channel::{self, Receiver, RecvTimeoutError, Sender};
use super::shim::{Arc, AtomicUsize, Mutex, Ordering, lock};
use super::writer::Writer;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering as StdOrdering};
use std::time::Duration;

/// The generation of the open session, 0 when none is open. Instrumented code
/// loads it (Relaxed) and branches: that is the whole cost of tracing when off.
pub(crate) static GATE: AtomicU64 = AtomicU64::new(0);
static NEXT_GENERATION: AtomicU64 = AtomicU64::new(1);
/// The open session's shared state (the gate only says which generation it is).
static ACTIVE: std::sync::Mutex<Option<Arc<Shared>>> = std::sync::Mutex::new(None);

/// Whether a session is recording.
#[inline(always)]
pub fn enabled() -> bool {
    GATE.load(StdOrdering::Relaxed) != 0
}

/// What producers do when every buffer allowed by the memory limit is full.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Overflow {
    /// Drop new events and count them (the default). A slice's end is never dropped
    /// when its begin was kept: room for it is reserved when the slice begins. Loss is
    /// reported by [`Session::finish`] and marked in the trace with
    /// `previous_packet_dropped` on the thread's sequence.
    #[default]
    Drop,
    /// Wait until the writer frees a buffer. Nothing is lost, but a recording thread
    /// can stall while the writer catches up. (Nesting deeper than one buffer can
    /// hold, about 4000 levels, is still dropped.)
    Block,
}

/// Default memory limit of a session's buffers: 64 MiB.
pub const DEFAULT_MEMORY_LIMIT: usize = 64 << 20;
/// Default interval of the writer's drain of every thread's buffer.
pub const DEFAULT_DRAIN_INTERVAL: Duration = Duration::from_millis(100);
/// The file [`crate::runtime::open`] users reach for by default.
pub const DEFAULT_PATH: &str = "tg4p.perfetto-trace";

/// Why a session could not be opened or finished cleanly.
#[derive(Debug)]
#[non_exhaustive]
pub enum SessionError {
    /// Another session is open in this process; finish it first.
    AlreadyOpen,
    /// The trace file could not be created (missing directory, a directory at the
    /// path, no permission, ...).
    Create {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The background writer thread could not be started.
    Spawn(std::io::Error),
    /// Writing the trace file failed; what was written before still decodes.
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The background writer panicked; the file holds what it wrote before.
    WriterPanicked(String),
    /// `finish` was already called.
    Finished,
}

impl fmt::Display for SessionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SessionError::AlreadyOpen => {
                write!(f, "a tg4p session is already open; finish it first")
            }
            SessionError::Create { path, source } => {
                write!(f, "cannot create trace file {}: {source}", path.display())
            }
            SessionError::Spawn(e) => write!(f, "cannot start the tg4p writer thread: {e}"),
            SessionError::Write { path, source } => {
                write!(f, "writing trace file {} failed: {source}", path.display())
            }
            SessionError::WriterPanicked(msg) => {
                write!(f, "the tg4p writer thread panicked: {msg}")
            }
            SessionError::Finished => write!(f, "the session was already finished"),
        }
    }
}

impl std::error::Error for SessionError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SessionError::Create { source, .. } | SessionError::Write { source, .. } => {
                Some(source)
            }
            SessionError::Spawn(e) => Some(e),
            _ => None,
        }
    }
}

/// What a finished session recorded and wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Report {
    /// The trace file (empty when the session wrote to a [`SessionBuilder::writer`]).
    pub path: PathBuf,
    /// Events (slice begins and ends, instants, counter samples) in the file.
    pub events_written: u64,
    /// Events dropped under [`Overflow::Drop`] (a dropped slice counts as two).
    pub events_dropped: u64,
    /// Return values (`#[trace(ret)]`) not recorded under [`Overflow::Drop`]: the
    /// slice was kept, but its value did not fit in memory. Its `return` arg then
    /// reads `<not recorded: memory limit reached>`.
    pub values_dropped: u64,
    /// Bytes of the file.
    pub bytes_written: u64,
    /// Threads that recorded into this session.
    pub threads: u64,
    /// Buffers allocated (each [`CHUNK_BYTES`]); at most the memory limit allows.
    pub buffers_allocated: usize,
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
}

/// State shared by the recording threads and the writer of one session.
pub(crate) struct Shared {
    pub(crate) generation: u64,
    pub(crate) overflow: Overflow,
    pub(crate) to_writer: Sender<Msg>,
    pub(crate) free: Receiver<Arc<Chunk>>,
    pub(crate) allocated: AtomicUsize,
    pub(crate) max_chunks: usize,
    /// Live thread slots: touched when a thread registers or exits, and by the writer.
    pub(crate) slots: Mutex<Vec<Arc<Slot>>>,
    pub(crate) next_sequence: AtomicUsize,
    pub(crate) process_uuid: u64,
}

impl Shared {
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
            Overflow::Block => loop {
                match self.free.recv_timeout(Duration::from_millis(10)) {
                    Ok(c) => return Some(c),
                    Err(RecvTimeoutError::Timeout) => {
                        if GATE.load(StdOrdering::Relaxed) != self.generation {
                            return None;
                        }
                    }
                    Err(RecvTimeoutError::Disconnected) => return None,
                }
            },
        }
    }
}

/// The shared state of session `generation` if it is still the open one.
pub(crate) fn active(generation: u64) -> Option<Arc<Shared>> {
    let a = ACTIVE.lock().unwrap_or_else(|p| p.into_inner());
    a.as_ref().filter(|s| s.generation == generation).cloned()
}

/// Options of a session; see [`Session::builder`].
pub struct SessionBuilder {
    path: PathBuf,
    sink: Option<Box<dyn std::io::Write + Send>>,
    memory_limit: usize,
    overflow: Overflow,
    drain_interval: Duration,
}

impl fmt::Debug for SessionBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionBuilder")
            .field("path", &self.path)
            .field("writer", &self.sink.as_ref().map(|_| ".."))
            .field("memory_limit", &self.memory_limit)
            .field("overflow", &self.overflow)
            .field("drain_interval", &self.drain_interval)
            .finish()
    }
}

impl SessionBuilder {
    /// The trace file to write (created or truncated). Default: `tg4p.perfetto-trace`.
    pub fn path(mut self, path: impl AsRef<Path>) -> Self {
        self.path = path.as_ref().to_path_buf();
        self.sink = None;
        self
    }

    /// Writes the trace to `writer` instead of a file (a socket, a pipe, memory, ...).
    /// The background writer thread owns it, writes whole packets to it at least
    /// every drain interval, and flushes it at the end. An error it returns stops
    /// the writing and is reported by [`Session::finish`] as [`SessionError::Write`]
    /// (with an empty path); a panic in it is reported as
    /// [`SessionError::WriterPanicked`]. Recording threads never wait for it, except
    /// under [`Overflow::Block`] when every buffer is full.
    ///
    /// ```
    /// let session = tg4p_core::runtime::Session::builder()
    ///     .writer(std::io::sink())
    ///     .start()?;
    /// let report = session.finish()?;
    /// assert!(report.bytes_written > 0);
    /// # Ok::<(), tg4p_core::runtime::SessionError>(())
    /// ```
    pub fn writer(mut self, writer: impl std::io::Write + Send + 'static) -> Self {
        self.path = PathBuf::new();
        self.sink = Some(Box::new(writer));
        self
    }

    /// The most memory the session's event buffers may take, in bytes (default
    /// [`DEFAULT_MEMORY_LIMIT`]). Buffers are [`CHUNK_BYTES`] each and every recording
    /// thread holds one, so the limit should allow at least two per thread; it is
    /// rounded down to whole buffers, with a minimum of two. The writer's own output
    /// buffer (up to 1 MiB) and interning tables come on top.
    pub fn memory_limit(mut self, bytes: usize) -> Self {
        self.memory_limit = bytes;
        self
    }

    /// What to do when the buffers are full; see [`Overflow`].
    pub fn overflow(mut self, overflow: Overflow) -> Self {
        self.overflow = overflow;
        self
    }

    /// How often the writer drains every thread's buffer and writes the file, which
    /// bounds what a crash can lose (default and maximum 100 ms).
    pub fn drain_interval(mut self, interval: Duration) -> Self {
        self.drain_interval = interval.min(DEFAULT_DRAIN_INTERVAL);
        self
    }

    /// Opens the session: creates the file, starts the writer, opens the gate.
    pub fn start(self) -> Result<Session, SessionError> {
        let mut active = ACTIVE.lock().unwrap_or_else(|p| p.into_inner());
        if active.is_some() {
            return Err(SessionError::AlreadyOpen);
        }
        let file: Box<dyn std::io::Write + Send> = match self.sink {
            Some(sink) => sink,
            None => Box::new(std::fs::File::create(&self.path).map_err(|source| {
                SessionError::Create {
                    path: self.path.clone(),
                    source,
                }
            })?),
        };
        super::clock::init();
        let generation = NEXT_GENERATION.fetch_add(1, StdOrdering::Relaxed);
        let max_chunks = (self.memory_limit / CHUNK_BYTES).max(2);
        let (to_writer, from_threads) = channel::unbounded();
        let (free_tx, free) = channel::bounded(max_chunks);
        let shared = Arc::new(Shared {
            generation,
            overflow: self.overflow,
            to_writer,
            free,
            allocated: AtomicUsize::new(0),
            max_chunks,
            slots: Mutex::new(Vec::new()),
            next_sequence: AtomicUsize::new(1),
            process_uuid: crate::ids::next_track_uuid(),
        });
        let writer = Writer::new(
            shared.clone(),
            from_threads,
            free_tx,
            file,
            self.path.clone(),
            self.drain_interval,
        );
        let handle = std::thread::Builder::new()
            .name("tg4p-writer".into())
            .spawn(move || writer.run())
            .map_err(SessionError::Spawn)?;
        *active = Some(shared.clone());
        // Release: a thread that sees the new generation and then locks ACTIVE finds
        // this session (the lock orders it anyway; Release documents the pairing).
        GATE.store(generation, StdOrdering::Release);
        Ok(Session {
            generation,
            shared,
            writer: Some(handle),
            path: self.path,
        })
    }
}

/// An open trace: everything instrumented records into its file until
/// [`finish`](Session::finish) (or drop, which finishes best effort).
///
/// ```no_run
/// let session = tg4p_core::runtime::open("app.perfetto-trace")?;
/// // ... run instrumented code ...
/// let report = session.finish()?;
/// assert_eq!(report.events_dropped, 0);
/// # Ok::<(), tg4p_core::runtime::SessionError>(())
/// ```
pub struct Session {
    generation: u64,
    shared: Arc<Shared>,
    writer: Option<std::thread::JoinHandle<Result<Report, SessionError>>>,
    path: PathBuf,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("generation", &self.generation)
            .field("path", &self.path)
            .finish()
    }
}

impl Session {
    /// Options: path, memory limit, overflow policy, drain interval.
    pub fn builder() -> SessionBuilder {
        SessionBuilder {
            path: PathBuf::from(DEFAULT_PATH),
            sink: None,
            memory_limit: DEFAULT_MEMORY_LIMIT,
            overflow: Overflow::Drop,
            drain_interval: DEFAULT_DRAIN_INTERVAL,
        }
    }

    /// The trace file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Closes the gate, writes every event recorded before this call (also those
    /// in the buffers of threads that are blocked or have exited), and closes the file.
    pub fn finish(mut self) -> Result<Report, SessionError> {
        self.finish_inner()
    }

    fn finish_inner(&mut self) -> Result<Report, SessionError> {
        let Some(writer) = self.writer.take() else {
            return Err(SessionError::Finished);
        };
        let _ = GATE.compare_exchange(self.generation, 0, StdOrdering::SeqCst, StdOrdering::SeqCst);
        {
            let mut active = ACTIVE.lock().unwrap_or_else(|p| p.into_inner());
            if active
                .as_ref()
                .is_some_and(|s| s.generation == self.generation)
            {
                *active = None;
            }
        }
        let _ = self.shared.to_writer.send(Msg::Finish);
        match writer.join() {
            Ok(result) => result,
            Err(panic) => Err(SessionError::WriterPanicked(
                panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown panic".into()),
            )),
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if self.writer.is_some() {
            let _ = self.finish_inner();
        }
    }
}

/// Opens a session writing to `path` with default options.
pub fn open(path: impl AsRef<Path>) -> Result<Session, SessionError> {
    Session::builder().path(path).start()
}

/// Locks the live slot list (writer side helper).
pub(crate) fn slots(shared: &Shared) -> Vec<Arc<Slot>> {
    lock(&shared.slots).clone()
}
