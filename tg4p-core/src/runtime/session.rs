//! A session's life: the options ([`SessionBuilder`]), opening the trace and its
//! writer ([`Session`]), finishing with a [`Report`].

use super::buffer::CHUNK_BYTES;
use super::category::{self, CategoryError, Filter};
use super::handoff::{self, Opening, Overflow, Shared};
use super::shim::Arc;
use super::writer::{TraceFile, Writer, Written};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Default memory limit of a session's buffers: 64 MiB.
pub const DEFAULT_MEMORY_LIMIT: usize = 64 << 20;
/// Default interval of the writer's drain of every thread's buffer.
pub const DEFAULT_DRAIN_INTERVAL: Duration = Duration::from_millis(100);
/// The smallest ring a flight recorder accepts ([`SessionBuilder::ring`]): 8
/// buffers of [`CHUNK_BYTES`], 512 KiB.
pub const MIN_RING_BYTES: usize = 8 * CHUNK_BYTES;
/// The file [`crate::runtime::open`] users reach for by default.
pub const DEFAULT_PATH: &str = "tg4p.perfetto-trace";

/// Why a session could not be opened or finished cleanly.
///
/// ```
/// use tg4p_core::runtime::{Session, SessionError};
/// let first = Session::builder().writer(std::io::sink()).start()?;
/// let second = Session::builder().writer(std::io::sink()).start();
/// assert!(matches!(second, Err(SessionError::AlreadyOpen)));
/// first.finish()?;
/// # Ok::<(), SessionError>(())
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum SessionError {
    /// Another session is open in this process; finish it first.
    AlreadyOpen,
    /// The trace file could not be created (missing directory, a directory at the
    /// path, no permission, ...).
    Create {
        /// The path given.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The background writer thread could not be started.
    Spawn(std::io::Error),
    /// Writing the trace file failed; what was written before still decodes.
    Write {
        /// The trace file (empty for a [`SessionBuilder::writer`]).
        path: PathBuf,
        /// What the file (or writer) said.
        source: std::io::Error,
    },
    /// The background writer panicked; the file holds what it wrote before.
    WriterPanicked(String),
    /// A flight recorder's ring ([`SessionBuilder::ring`]) below [`MIN_RING_BYTES`].
    RingTooSmall {
        /// The size asked for.
        bytes: usize,
        /// The smallest size accepted, [`MIN_RING_BYTES`].
        minimum: usize,
    },
    /// The category pattern given to [`SessionBuilder::categories`] (or in
    /// `TG4P_CATEGORIES`) cannot be read; no session was opened.
    Categories(CategoryError),
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
            SessionError::RingTooSmall { bytes, minimum } => write!(
                f,
                "a tg4p ring of {bytes} bytes is too small: it needs at least {minimum}"
            ),
            SessionError::Categories(e) => e.fmt(f),
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
            SessionError::Categories(e) => Some(e),
            _ => None,
        }
    }
}

/// What a finished session recorded and wrote.
///
/// ```
/// static LOOP: tg4p_core::runtime::Track = tg4p_core::runtime::Track::new("loop");
/// let session = tg4p_core::runtime::Session::builder()
///     .writer(std::io::sink())
///     .start()?;
/// for _ in 0..10 {
///     let _step = LOOP.span("step");
/// }
/// let report = session.finish()?;
/// assert_eq!(report.events_written, 20); // 10 begins, 10 ends
/// assert_eq!(report.events_dropped, 0);
/// assert_eq!(report.threads, 1);
/// # Ok::<(), tg4p_core::runtime::SessionError>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Report {
    /// The trace file (empty when the session wrote to a [`SessionBuilder::writer`]).
    pub path: PathBuf,
    /// Events (slice begins and ends, instants, counter samples) in the file.
    pub events_written: u64,
    /// Events dropped under [`Overflow::Drop`] (a dropped slice counts as two),
    /// and events a thread could not record because its thread-local state was
    /// already torn down (a thread-local destructor recording at thread exit) or in
    /// use (a re-entered call): each of those attempts counts one. The trace's
    /// closing `trace_stats` holds the same total.
    pub events_dropped: u64,
    /// Ring mode ([`SessionBuilder::ring`]): events recorded but left out of the
    /// written window (older than it, or the end of a slice that began before it).
    pub events_overwritten: u64,
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

/// Options of a session; see [`Session::builder`].
///
/// ```
/// use std::time::Duration;
/// use tg4p_core::runtime::{Overflow, Session};
/// let session = Session::builder()
///     .path(std::env::temp_dir().join("builder-doc.perfetto-trace"))
///     .memory_limit(16 << 20)
///     .overflow(Overflow::Drop)
///     .drain_interval(Duration::from_millis(20))
///     .start()?;
/// session.finish()?;
/// # Ok::<(), tg4p_core::runtime::SessionError>(())
/// ```
pub struct SessionBuilder {
    path: PathBuf,
    sink: Option<Box<dyn std::io::Write + Send>>,
    memory_limit: usize,
    overflow: Overflow,
    drain_interval: Duration,
    categories: String,
}

impl fmt::Debug for SessionBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionBuilder")
            .field("path", &self.path)
            .field("writer", &self.sink.as_ref().map(|_| ".."))
            .field("memory_limit", &self.memory_limit)
            .field("overflow", &self.overflow)
            .field("drain_interval", &self.drain_interval)
            .field("categories", &self.categories)
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

    /// What to do when the buffers are full; see [`Overflow`]. For
    /// [`Overflow::Ring`], prefer [`ring`](SessionBuilder::ring), which sets the
    /// size too (else the ring is [`memory_limit`](SessionBuilder::memory_limit)).
    pub fn overflow(mut self, overflow: Overflow) -> Self {
        self.overflow = overflow;
        self
    }

    /// A flight recorder: keep only the newest events, in at most `bytes` of
    /// buffers, while the program runs as long as it likes, and write them as a
    /// trace at [`Session::finish`] and whenever asked
    /// ([`Session::snapshot`], [`SnapshotHandle::snapshot`], from any thread).
    /// Sets [`Overflow::Ring`] and the memory limit.
    ///
    /// - **Size.** `bytes` is rounded down to whole buffers of [`CHUNK_BYTES`];
    ///   below [`MIN_RING_BYTES`], [`start`](SessionBuilder::start) fails with
    ///   [`SessionError::RingTooSmall`]. The buffers are the only memory that grows
    ///   with events: the ring never takes more, however long the run. Each
    ///   recording thread fills one buffer, and the writer keeps as many free
    ///   (plus one), so the window holds what fits in the rest: about `bytes`
    ///   less two buffers per thread, some 4,000 slice events per 64 KiB buffer.
    ///   Allow at least two buffers per recording thread, plus one: with fewer,
    ///   threads may wait for one another's buffers, as under [`Overflow::Block`].
    /// - **The window** written is every event from its start on, on every thread
    ///   (its start is just after the newest event the ring had to overwrite), and
    ///   nothing older. Each thread's sequence restarts in it (incremental state
    ///   cleared, clock re-anchored, names interned anew). A slice that began
    ///   before the window loses its end too; a slice still open when the window is
    ///   written ends at that moment. Events left out count in
    ///   [`Report::events_overwritten`] and, as any loss, in the trace's
    ///   `trace_stats` and a [`LOSS_MARKER`](crate::runtime::LOSS_MARKER) on each
    ///   thread's track at the window's start.
    /// - **Threads never lose events** to the ring: when a thread's buffer is full
    ///   and no free one is left (only while a snapshot is being written), it waits
    ///   as under [`Overflow::Block`].
    ///
    /// ```
    /// use tg4p_core::runtime::{Session, SessionError, MIN_RING_BYTES};
    /// static WORK: tg4p_core::runtime::Track = tg4p_core::runtime::Track::new("work");
    /// let dir = std::env::temp_dir();
    /// let session = Session::builder()
    ///     .path(dir.join("ring-doc.perfetto-trace")) // written at finish
    ///     .ring(1 << 20)
    ///     .start()?;
    /// for _ in 0..100_000 {
    ///     let _step = WORK.span("step");
    /// }
    /// session.snapshot(dir.join("ring-doc-now.perfetto-trace"))?; // the window now
    /// let report = session.finish()?;
    /// assert!(report.events_overwritten > 0); // 1 MiB holds far less than 200,000
    /// assert!(report.buffers_allocated <= 16);
    ///
    /// let tiny = Session::builder().writer(std::io::sink()).ring(4096).start();
    /// assert!(matches!(tiny, Err(SessionError::RingTooSmall { bytes: 4096, .. })));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn ring(mut self, bytes: usize) -> Self {
        self.overflow = Overflow::Ring;
        self.memory_limit = bytes;
        self
    }

    /// How often the writer drains every thread's buffer and writes the file, which
    /// bounds what a crash can lose. Default and maximum: 100 ms
    /// ([`DEFAULT_DRAIN_INTERVAL`]); a longer interval is clamped to it, a shorter
    /// one (even zero) is kept, and the writer then drains as often as it can.
    ///
    /// ```
    /// use std::time::Duration;
    /// let session = tg4p_core::runtime::Session::builder()
    ///     .writer(std::io::sink())
    ///     .drain_interval(Duration::from_secs(5)) // clamped to 100 ms
    ///     .start()?;
    /// session.finish()?;
    /// # Ok::<(), tg4p_core::runtime::SessionError>(())
    /// ```
    pub fn drain_interval(mut self, interval: Duration) -> Self {
        self.drain_interval = interval.min(DEFAULT_DRAIN_INTERVAL);
        self
    }

    /// The categories to record: names and globs separated by commas, `-` in front
    /// of the ones to leave out; `*` matches any run of characters. A category is
    /// recorded when it matches no `-` item and, if the pattern has other items, one
    /// of them: `"db,net*"` records only `db` and the `net` categories, `"-noisy"`
    /// all but `noisy`, `"net*,-net.poll"` the `net` ones but `net.poll`. Default
    /// (or `""`): every category.
    ///
    /// Events without a category (`#[trace]` with no `category = ..`) are recorded
    /// whatever the pattern: they are governed by the session alone. A `tracing`
    /// event's category is its target, so the same pattern selects targets.
    ///
    /// A pattern that cannot be read makes [`start`](SessionBuilder::start) fail
    /// with [`SessionError::Categories`].
    ///
    /// ```
    /// use tg4p_core::runtime::Session;
    /// let session = Session::builder()
    ///     .writer(std::io::sink())
    ///     .categories("db,net*,-net.noisy")
    ///     .start()?;
    /// session.finish()?;
    /// # Ok::<(), tg4p_core::runtime::SessionError>(())
    /// ```
    pub fn categories(mut self, pattern: impl Into<String>) -> Self {
        self.categories = pattern.into();
        self
    }

    /// Opens the session: creates the file, starts the writer, opens the gate.
    /// Fails if another session is open ([`SessionError::AlreadyOpen`]), or the
    /// file cannot be created, or the writer thread cannot be started.
    ///
    /// ```
    /// let session = tg4p_core::runtime::Session::builder()
    ///     .path(std::env::temp_dir().join("start-doc.perfetto-trace"))
    ///     .start()?;
    /// assert!(tg4p_core::runtime::enabled());
    /// session.finish()?;
    /// # Ok::<(), tg4p_core::runtime::SessionError>(())
    /// ```
    pub fn start(self) -> Result<Session, SessionError> {
        if self.overflow == Overflow::Ring && self.memory_limit < MIN_RING_BYTES {
            return Err(SessionError::RingTooSmall {
                bytes: self.memory_limit,
                minimum: MIN_RING_BYTES,
            });
        }
        let filter = Filter::parse(&self.categories).map_err(SessionError::Categories)?;
        let Some(opening) = Opening::take() else {
            return Err(SessionError::AlreadyOpen);
        };
        let file: Box<dyn std::io::Write + Send> = match self.sink {
            Some(sink) => sink,
            None => Box::new(TraceFile::new(std::fs::File::create(&self.path).map_err(
                |source| SessionError::Create {
                    path: self.path.clone(),
                    source,
                },
            )?)),
        };
        super::clock::init();
        let generation = opening.next_generation();
        let max_chunks = (self.memory_limit / CHUNK_BYTES).max(2);
        let (shared, end) = Shared::new(generation, self.overflow, max_chunks);
        let writer = Writer::new(shared.clone(), end, file, self.drain_interval);
        let handle = std::thread::Builder::new()
            .name("tg4p-writer".into())
            .spawn(move || writer.run())
            .map_err(SessionError::Spawn)?;
        // Every known categorized callsite is decided before the gate opens.
        category::open(generation, filter);
        opening.open(shared.clone());
        Ok(Session {
            generation,
            shared,
            writer: Some(handle),
            path: self.path,
        })
    }
}

/// An open trace: everything instrumented records into its file until
/// [`finish`](Session::finish) (or drop, which finishes best effort and ignores
/// errors).
///
/// ```
/// let path = std::env::temp_dir().join("session-doc.perfetto-trace");
/// let session = tg4p_core::runtime::open(&path)?;
/// // ... run instrumented code ...
/// let report = session.finish()?;
/// assert_eq!(report.path, path);
/// assert_eq!(report.events_dropped, 0);
/// # Ok::<(), tg4p_core::runtime::SessionError>(())
/// ```
#[must_use = "the session ends (and the trace is closed) when it is dropped; bind it: `let session = ...`"]
pub struct Session {
    generation: u64,
    shared: Arc<Shared>,
    writer: Option<std::thread::JoinHandle<std::io::Result<Written>>>,
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
    /// Options: path (or writer), memory limit, overflow policy, drain interval.
    ///
    /// ```
    /// let session = tg4p_core::runtime::Session::builder()
    ///     .writer(Vec::new())
    ///     .start()?;
    /// session.finish()?;
    /// # Ok::<(), tg4p_core::runtime::SessionError>(())
    /// ```
    pub fn builder() -> SessionBuilder {
        SessionBuilder {
            path: PathBuf::from(DEFAULT_PATH),
            sink: None,
            memory_limit: DEFAULT_MEMORY_LIMIT,
            overflow: Overflow::Drop,
            drain_interval: DEFAULT_DRAIN_INTERVAL,
            categories: String::new(),
        }
    }

    /// Ring mode ([`SessionBuilder::ring`]): writes the window the ring holds now to
    /// `path` (created or truncated) as a complete trace, while threads keep
    /// recording; the ring is kept, so later snapshots and [`finish`](Session::finish)
    /// write their own windows. The [`Report`] says what this file holds.
    /// Waits for the background writer (which also stops recycling buffers for
    /// that long). For a panic hook or a signal-handling thread, take a
    /// [`SnapshotHandle`] with [`snapshot_handle`](Session::snapshot_handle).
    ///
    /// ```
    /// use tg4p_core::runtime::{Session, SnapshotError};
    /// let dir = std::env::temp_dir();
    /// let session = Session::builder().writer(std::io::sink()).ring(1 << 20).start()?;
    /// let report = session.snapshot(dir.join("snapshot-doc.perfetto-trace"))?;
    /// assert_eq!(report.events_written, 0); // nothing traced yet
    /// assert!(report.bytes_written > 0);
    /// session.finish()?;
    ///
    /// let plain = Session::builder().writer(std::io::sink()).start()?;
    /// let refused = plain.snapshot(dir.join("not-a-ring.perfetto-trace"));
    /// assert!(matches!(refused, Err(SnapshotError::NotRing)));
    /// # plain.finish()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn snapshot(&self, path: impl AsRef<Path>) -> Result<Report, SnapshotError> {
        self.snapshot_handle().snapshot(path)
    }

    /// A handle that takes [`snapshot`](Session::snapshot)s of this session from
    /// anywhere: it is `Clone`, `Send`, `Sync` and `'static`, for a panic hook or a
    /// signal-handling thread. Once the session is finished, its snapshots fail
    /// with [`SnapshotError::Finished`].
    ///
    /// ```
    /// let session = tg4p_core::runtime::Session::builder()
    ///     .writer(std::io::sink())
    ///     .ring(1 << 20)
    ///     .start()?;
    /// let handle = session.snapshot_handle();
    /// let path = std::env::temp_dir().join("handle-doc.perfetto-trace");
    /// std::thread::spawn(move || handle.snapshot(path)).join().unwrap()?;
    /// session.finish()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn snapshot_handle(&self) -> SnapshotHandle {
        SnapshotHandle {
            to_writer: self.shared.writer_sender(),
            generation: self.generation,
            ring: self.shared.overflow == Overflow::Ring,
        }
    }

    /// The trace file (empty for a [`SessionBuilder::writer`]).
    ///
    /// ```
    /// let session = tg4p_core::runtime::Session::builder().writer(std::io::sink()).start()?;
    /// assert_eq!(session.path(), std::path::Path::new(""));
    /// # session.finish()?;
    /// # Ok::<(), tg4p_core::runtime::SessionError>(())
    /// ```
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Closes the gate, writes every event recorded before this call (also those
    /// in the buffers of threads that are blocked or have exited), and closes the
    /// file; then says what was written.
    ///
    /// ```
    /// let session = tg4p_core::runtime::Session::builder().writer(std::io::sink()).start()?;
    /// let report = session.finish()?;
    /// assert!(report.bytes_written > 0); // the process's own description
    /// assert!(!tg4p_core::runtime::enabled());
    /// # Ok::<(), tg4p_core::runtime::SessionError>(())
    /// ```
    pub fn finish(mut self) -> Result<Report, SessionError> {
        match self.writer.take() {
            Some(writer) => self.finish_with(writer),
            // Not reached: only `finish` (by value) and the drop take the writer.
            None => Ok(Report::default()),
        }
    }

    fn finish_with(
        &self,
        writer: std::thread::JoinHandle<std::io::Result<Written>>,
    ) -> Result<Report, SessionError> {
        handoff::close(self.generation);
        category::close(self.generation);
        self.shared.finish();
        let written = match writer.join() {
            Ok(Ok(written)) => written,
            Ok(Err(source)) => {
                return Err(SessionError::Write {
                    path: self.path.clone(),
                    source,
                });
            }
            Err(panic) => {
                return Err(SessionError::WriterPanicked(
                    panic
                        .downcast_ref::<&str>()
                        .map(|s| s.to_string())
                        .or_else(|| panic.downcast_ref::<String>().cloned())
                        .unwrap_or_else(|| "unknown panic".into()),
                ));
            }
        };
        Ok(Report {
            path: self.path.clone(),
            events_written: written.events,
            events_dropped: written.events_dropped,
            events_overwritten: written.events_overwritten,
            values_dropped: written.values_dropped,
            bytes_written: written.bytes,
            threads: written.threads,
            buffers_allocated: self.shared.allocated(),
        })
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if let Some(writer) = self.writer.take() {
            let _ = self.finish_with(writer);
        }
    }
}

/// Opens a session writing to `path` with default options (see
/// [`Session::builder`] for the others).
///
/// ```
/// let session = tg4p_core::runtime::open(std::env::temp_dir().join("open-doc.perfetto-trace"))?;
/// session.finish()?;
/// # Ok::<(), tg4p_core::runtime::SessionError>(())
/// ```
pub fn open(path: impl AsRef<Path>) -> Result<Session, SessionError> {
    Session::builder().path(path).start()
}

/// Takes snapshots of a ring-mode session from any thread; see
/// [`Session::snapshot_handle`].
///
/// ```
/// use std::sync::OnceLock;
/// use tg4p_core::runtime::{Session, SnapshotHandle};
/// static RECORDER: OnceLock<SnapshotHandle> = OnceLock::new();
/// let session = Session::builder().writer(std::io::sink()).ring(1 << 20).start()?;
/// RECORDER.set(session.snapshot_handle()).unwrap();
/// // In a panic hook: write what led to the panic.
/// let crash = std::env::temp_dir().join("crash-doc.perfetto-trace");
/// std::panic::set_hook(Box::new(move |_| {
///     if let Some(recorder) = RECORDER.get() {
///         let _ = recorder.snapshot(&crash);
///     }
/// }));
/// # let _ = std::panic::take_hook();
/// session.finish()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct SnapshotHandle {
    /// Only the writer's channel: a handle kept after the session (in a panic
    /// hook, say) keeps none of its buffers alive.
    to_writer: crossbeam_channel::Sender<handoff::Msg>,
    generation: u64,
    ring: bool,
}

impl fmt::Debug for SnapshotHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SnapshotHandle")
            .field("generation", &self.generation)
            .field("ring", &self.ring)
            .finish()
    }
}

impl SnapshotHandle {
    /// Writes the session's current window to `path`; see [`Session::snapshot`].
    ///
    /// ```
    /// let session = tg4p_core::runtime::Session::builder()
    ///     .writer(std::io::sink())
    ///     .ring(1 << 20)
    ///     .start()?;
    /// let handle = session.snapshot_handle();
    /// session.finish()?;
    /// let late = handle.snapshot(std::env::temp_dir().join("late-doc.perfetto-trace"));
    /// assert!(matches!(late, Err(tg4p_core::runtime::SnapshotError::Finished)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn snapshot(&self, path: impl AsRef<Path>) -> Result<Report, SnapshotError> {
        let path = path.as_ref().to_path_buf();
        if !self.ring {
            return Err(SnapshotError::NotRing);
        }
        if handoff::generation() != self.generation {
            return Err(SnapshotError::Finished);
        }
        let file = std::fs::File::create(&path).map_err(|source| SnapshotError::Create {
            path: path.clone(),
            source,
        })?;
        let (reply, answer) = std::sync::mpsc::channel();
        let sent = self
            .to_writer
            .send(handoff::Msg::Snapshot {
                file: Box::new(std::io::BufWriter::new(file)),
                reply,
            })
            .is_ok();
        // The writer answers, or drops the request when it stops.
        let written = match answer.recv() {
            Ok(Ok(written)) if sent => written,
            Ok(Err(source)) => return Err(SnapshotError::Write { path, source }),
            _ => return Err(SnapshotError::Finished),
        };
        Ok(Report {
            path,
            events_written: written.events,
            events_dropped: written.events_dropped,
            events_overwritten: written.events_overwritten,
            values_dropped: written.values_dropped,
            bytes_written: written.bytes,
            threads: written.threads,
            buffers_allocated: written.buffers,
        })
    }
}

/// Why a [`Session::snapshot`] was not written.
///
/// ```
/// use tg4p_core::runtime::{Session, SnapshotError};
/// let session = Session::builder().writer(std::io::sink()).ring(1 << 20).start()?;
/// let bad = session.snapshot("/no/such/dir/x.perfetto-trace");
/// assert!(matches!(bad, Err(SnapshotError::Create { .. })));
/// session.finish()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum SnapshotError {
    /// The session does not keep a ring ([`SessionBuilder::ring`]).
    NotRing,
    /// The session is finished (or finishing): its last window is what
    /// [`Session::finish`] writes.
    Finished,
    /// The snapshot's file could not be created.
    Create {
        /// The path given.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// Writing the snapshot failed; the file may be incomplete.
    Write {
        /// The path given.
        path: PathBuf,
        /// What the file said.
        source: std::io::Error,
    },
}

impl fmt::Display for SnapshotError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SnapshotError::NotRing => write!(
                f,
                "only a ring session (SessionBuilder::ring) takes snapshots"
            ),
            SnapshotError::Finished => write!(f, "the tg4p session is finished"),
            SnapshotError::Create { path, source } => {
                write!(
                    f,
                    "cannot create snapshot file {}: {source}",
                    path.display()
                )
            }
            SnapshotError::Write { path, source } => {
                write!(
                    f,
                    "writing snapshot file {} failed: {source}",
                    path.display()
                )
            }
        }
    }
}

impl std::error::Error for SnapshotError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SnapshotError::Create { source, .. } | SnapshotError::Write { source, .. } => {
                Some(source)
            }
            _ => None,
        }
    }
}
