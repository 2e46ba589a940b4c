//! Offline trace generation with explicit timestamps: [`TraceGenerator`].
//!
//! Build a trace from data you already have (logs, simulations, measurements): groups
//! (shown as processes), tracks of slices and instants, counter tracks, flows
//! (arrows) between events, and nested arguments. Timestamps are nanoseconds on
//! Perfetto's default clock (BOOTTIME); any origin will do, e.g. 0.
//!
//! ```
//! # use tg4p_core as tg4p;
//! # fn main() -> Result<(), tg4p::generator::GeneratorError> {
//! use tg4p::{args, FlowId, generator::{Extras, TraceGenerator}};
//! # let dir = std::env::temp_dir().join(format!("tg4p-doc-{}", std::process::id()));
//! # std::fs::create_dir_all(&dir).unwrap();
//! # let path = dir.join("out.pftrace");
//! let tgen = TraceGenerator::create(&path)?;
//! let server = tgen.create_group_with_track("server", "requests");
//! let flow = tgen.new_flow();
//! server.open(100, "GET /")?;
//! server.close_with(250, &[flow])?;                   // an arrow leaves here...
//! let db = server.create_track("db");
//! db.open_with(300, "query", Extras::new()
//!     .args(&args!({"table": "users", "rows": [1, 2, 3]}))
//!     .terminating_flows(&[flow]))?;                   // ...and arrives here
//! db.close(400)?;
//! let load = tgen.create_counter_track("load");
//! load.count(0, 3)?;
//! load.count(200, 0.5)?;
//! tgen.finish()?;
//! # std::fs::remove_dir_all(&dir).unwrap();
//! # Ok(()) }
//! ```
//!
//! # Rules and limits
//! - Within one track, timestamps must not decrease
//!   ([`GeneratorError::TimestampDecreased`]); across tracks, any order. Timestamps
//!   above `i64::MAX` ns are refused ([`GeneratorError::TimestampTooLarge`]).
//! - A failed call writes nothing, except for [`GeneratorError::Io`], after which the
//!   generator stops. Writing after [`finish`](TraceGenerator::finish) (or after the
//!   generator is dropped) returns [`GeneratorError::Finished`].
//! - Names and strings are written exactly as given, of any length (a name is stored
//!   once per track, then referred to by a small id). Perfetto's tools may cut strings
//!   at a NUL character and replace `.`, `[` and `]` in argument names with `_`.
//! - Argument values nest at most [`MAX_DEPTH`](crate::annotation::MAX_DEPTH) levels
//!   ([`GeneratorError::TooDeep`]); arrays and dicts may be of any size. Floats are
//!   written as given, NaN and infinities included.
//! - Flow ids from [`TraceGenerator::new_flow`] are unique even across concatenated
//!   traces; raw ids ([`FlowId::from_raw`](crate::FlowId::from_raw) or `u64.into()`) are
//!   the caller's to keep unique: every event that names an id joins its chain of
//!   arrows until it is terminated.
//! - At most 512 slices may be open at once on one track
//!   ([`GeneratorError::TooManyOpenSlices`]; trace_processor drops deeper ones).
//! - Slices left open at [`finish`](TraceGenerator::finish) stay open (the UI shows
//!   them as "did not end").
//! - Handles are cheap to clone and share the generator (`Rc`): a generator and its
//!   handles stay on one thread.
//!
//! # Encoding
//! Every track that carries events is its own packet sequence, with per-sequence
//! defaults, delta timestamps and interned names: a slice event takes 13 to 15 bytes.

mod args;
mod error;
mod state;
mod track;

pub use crate::wire::CounterValue;
pub use error::GeneratorError;
pub use track::{CounterTrack, Extras, Group, NameId, SliceTrack};

use crate::FlowId;
use state::{Inner, Out, TrackKind};
use std::cell::RefCell;
use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::rc::Rc;
use track::Shared;

/// Writes a Perfetto trace from events with explicit timestamps.
///
/// Create groups and tracks from it, then write events through those handles (they
/// do not need the generator passed in). Output is buffered and handed to the writer
/// in chunks of 256 KiB; [`flush`](TraceGenerator::flush) forces it out.
/// [`finish`](TraceGenerator::finish) ends the trace; dropping the generator does the
/// same, ignoring errors.
///
/// ```
/// # use tg4p_core as tg4p;
/// # fn main() -> Result<(), tg4p::generator::GeneratorError> {
/// let tgen = tg4p::generator::TraceGenerator::new(Vec::new());
/// let track = tgen.create_track("main");
/// track.open(0, "startup")?;
/// track.close(1_000)?;
/// tgen.finish()?;
/// # Ok(()) }
/// ```
pub struct TraceGenerator {
    shared: Shared,
}

impl std::fmt::Debug for TraceGenerator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TraceGenerator").finish_non_exhaustive()
    }
}

impl TraceGenerator {
    /// Creates (or truncates) the file at `path` and writes the trace to it.
    ///
    /// ```
    /// # use tg4p_core as tg4p;
    /// # let dir = std::env::temp_dir().join(format!("tg4p-doc-create-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// use tg4p::generator::{GeneratorError, TraceGenerator};
    /// let tgen = TraceGenerator::create(dir.join("trace.pftrace")).unwrap();
    /// tgen.finish().unwrap();
    /// let missing = TraceGenerator::create(dir.join("no/such/dir/trace.pftrace"));
    /// assert!(matches!(missing, Err(GeneratorError::Io(_))));
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn create(path: impl AsRef<Path>) -> Result<TraceGenerator, GeneratorError> {
        Ok(TraceGenerator::new(File::create(path)?))
    }

    /// Writes the trace to `out`. It receives large chunks, so it needs no buffering of
    /// its own.
    ///
    /// ```
    /// # use tg4p_core as tg4p;
    /// let tgen = tg4p::generator::TraceGenerator::new(std::io::sink());
    /// # drop(tgen);
    /// ```
    pub fn new(out: impl Write + 'static) -> TraceGenerator {
        TraceGenerator {
            shared: Rc::new(RefCell::new(Inner::new(Out::Write(Box::new(out))))),
        }
    }

    /// Hands the trace to `send` in whole chunks (about 256 KiB, and what is left at
    /// [`flush`](TraceGenerator::flush) and [`finish`](TraceGenerator::finish)),
    /// without copying them: `send` takes each full buffer and returns an empty one
    /// (any `Vec`, e.g. a buffer it has written out before) for the generator to
    /// fill next. For outputs that write on another thread. An error from `send`
    /// stops the generator as a failed write does ([`GeneratorError::Io`]).
    ///
    /// ```
    /// # use tg4p_core as tg4p;
    /// # fn main() -> Result<(), tg4p::generator::GeneratorError> {
    /// use std::sync::mpsc;
    /// let (tx, rx) = mpsc::channel::<Vec<u8>>();
    /// let tgen = tg4p::generator::TraceGenerator::with_chunks(move |chunk| {
    ///     tx.send(chunk).map_err(std::io::Error::other)?;
    ///     Ok(Vec::new())
    /// });
    /// tgen.create_track("t").instant(5, "x")?;
    /// tgen.finish()?;
    /// let trace: Vec<u8> = rx.try_iter().flatten().collect();
    /// assert!(!trace.is_empty());
    /// # Ok(()) }
    /// ```
    pub fn with_chunks(
        send: impl FnMut(Vec<u8>) -> std::io::Result<Vec<u8>> + 'static,
    ) -> TraceGenerator {
        TraceGenerator {
            shared: Rc::new(RefCell::new(Inner::new(Out::Chunks(Box::new(send))))),
        }
    }

    /// A group shown as a process named `name`, with its own synthetic pid; its own
    /// events go on the process track.
    ///
    /// ```
    /// # use tg4p_core as tg4p;
    /// let tgen = tg4p::generator::TraceGenerator::new(std::io::sink());
    /// let (a, b) = (tgen.create_group("a"), tgen.create_group("b"));
    /// assert_ne!(a.pid(), b.pid());
    /// ```
    pub fn create_group(&self, name: &str) -> Group {
        Group::process(&self.shared, name, None)
    }

    /// A group shown as a process named `name` whose own events go on a child track
    /// named `track_name`.
    ///
    /// ```
    /// # use tg4p_core as tg4p;
    /// # fn main() -> Result<(), tg4p::generator::GeneratorError> {
    /// let tgen = tg4p::generator::TraceGenerator::new(std::io::sink());
    /// let g = tgen.create_group_with_track("aaa", "example_track");
    /// g.open(100, "SOME_TRACK")?;
    /// g.close(250)?;
    /// # Ok(()) }
    /// ```
    pub fn create_group_with_track(&self, name: &str, track_name: &str) -> Group {
        Group::process(&self.shared, name, Some(track_name))
    }

    /// A top-level slice track named `name`, outside any group.
    ///
    /// ```
    /// # use tg4p_core as tg4p;
    /// let tgen = tg4p::generator::TraceGenerator::new(std::io::sink());
    /// let t = tgen.create_track("global");
    /// assert_ne!(t.uuid(), 0);
    /// ```
    pub fn create_track(&self, name: &str) -> SliceTrack {
        SliceTrack::new(&self.shared, None, TrackKind::Plain { name: Some(name) })
    }

    /// A top-level counter track named `name`.
    ///
    /// ```
    /// # use tg4p_core as tg4p;
    /// # fn main() -> Result<(), tg4p::generator::GeneratorError> {
    /// let tgen = tg4p::generator::TraceGenerator::new(std::io::sink());
    /// tgen.create_counter_track("bbb").count(0, 3)?;
    /// # Ok(()) }
    /// ```
    pub fn create_counter_track(&self, name: &str) -> CounterTrack {
        CounterTrack::new(&self.shared, None, name)
    }

    /// A new flow id, unique even when traces of several generators or processes are
    /// concatenated (same as [`FlowId::new`]).
    ///
    /// ```
    /// # use tg4p_core as tg4p;
    /// let tgen = tg4p::generator::TraceGenerator::new(std::io::sink());
    /// assert_ne!(tgen.new_flow(), tgen.new_flow());
    /// ```
    pub fn new_flow(&self) -> FlowId {
        FlowId::new()
    }

    /// Hands everything buffered to the writer and flushes it.
    ///
    /// ```
    /// # use tg4p_core as tg4p;
    /// # fn main() -> Result<(), tg4p::generator::GeneratorError> {
    /// let tgen = tg4p::generator::TraceGenerator::new(std::io::sink());
    /// tgen.create_track("t").instant(5, "x")?;
    /// tgen.flush()?;
    /// # Ok(()) }
    /// ```
    pub fn flush(&self) -> Result<(), GeneratorError> {
        self.shared.borrow_mut().flush()
    }

    /// Flushes and ends the trace; handles then return [`GeneratorError::Finished`].
    ///
    /// ```
    /// # use tg4p_core as tg4p;
    /// use tg4p::generator::{GeneratorError, TraceGenerator};
    /// let tgen = TraceGenerator::new(std::io::sink());
    /// let t = tgen.create_track("t");
    /// tgen.finish().unwrap();
    /// assert!(matches!(t.instant(1, "late"), Err(GeneratorError::Finished)));
    /// ```
    pub fn finish(self) -> Result<(), GeneratorError> {
        self.shared.borrow_mut().finish()
        // Drop then finds the generator finished and does nothing.
    }
}

impl Drop for TraceGenerator {
    fn drop(&mut self) {
        let mut inner = self.shared.borrow_mut();
        if inner.is_open() {
            // Best effort: there is no one to report an error to.
            let _ = inner.finish();
        }
    }
}
