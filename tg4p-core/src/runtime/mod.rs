//! Live tracing of a running program: sessions, the thread-local recorder and the
//! background writer.
//!
//! - [`session`]: [`open`], [`Session`], [`Overflow`], [`Report`], [`Error`] and the gate.
//! - [`recorder`] and [`buffer`]: per-thread chunks of records and their hand-off.
//! - [`writer`]: records to packets to the file.
//! - [`clock`]: TSC ticks and their calibration to BOOTTIME.
//! - [`track`], [`counter`], [`span`]: what users record on; [`future`]: slices of
//!   traced futures on per-function pools of tracks.
//! - [`registry`]: ids of callsites, tracks and counters; [`args`]: bounded `Debug` args.
//! - `shim`: the hand-off's atomics, locks and channels (std or loom).

mod args;
mod buffer;
mod checks;
mod clock;
mod counter;
mod future;
mod recorder;
mod registry;
mod session;
mod shim;
mod span;
mod track;
mod writer;

pub use args::{ARG_VALUE_LIMIT, MAX_ARGS};
pub use buffer::CHUNK_BYTES;
pub use counter::{Counter, CounterValue};
pub use recorder::MAX_THREAD_DEPTH;
pub use session::{
    DEFAULT_DRAIN_INTERVAL, DEFAULT_MEMORY_LIMIT, DEFAULT_PATH, Overflow, Report, Session,
    SessionBuilder, SessionError, enabled, open,
};
pub use span::{FnSpan, InstantBuilder, Span, instant_named as instant, span};
pub use track::Track;

/// What generated code and the facade's `macro_rules!` macros call. Not a public API.
#[doc(hidden)]
pub mod private {
    pub use super::checks::{ArgDebug, AsTrack, RetDebug, returning, returning_future};
    pub use super::counter::{Counter, CounterValue, Sample, named as named_counter};
    pub use super::future::FutureSpan;
    pub use super::registry::{Callsite, Function};
    pub use super::session::enabled;
    pub use super::span::{FnSpan, Span, enter, enter_args, enter_span, instant};
    pub use super::track::Track;
    pub use crate::FlowId;
}
