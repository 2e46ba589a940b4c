//! Live tracing of a running program: sessions, the thread-local recorder and the
//! background writer.
//!
//! # Layers, top down
//! Every module uses only modules below it (and none uses one that uses it back):
//!
//! - **What users hold**: `span` (the slice guards [`Span`], `FnSpan`, and
//!   [`InstantBuilder`]), `future` (slices of traced futures, nested where they are awaited or on
//!   pools of task tracks; [`Traced`], [`AsyncSpan`]), `pool_span` (slices begun in
//!   the past on a pool, for the `tracing` layer's spans entered more than once),
//!   `counter` ([`Counter`], which records its own samples), `track` ([`Track`]
//!   and its lanes), `checks` (compile-time checks for generated code), `values`
//!   (typed argument values, chosen from a value's type where a macro expands).
//! - **What gets written**: `record`, every record kind, its encoding for the
//!   recording side and its decoding for the writer, one next to the other.
//! - **One thread's recording**: `local`, the thread-local state that writes
//!   records into its chunk and keeps the reservation and depth bookkeeping.
//! - **The hand-off**: `handoff`, the gate and its generation, the state a
//!   session's threads share with its writer (channel, chunk pool, thread slots)
//!   and the [`Overflow`] policy.
//! - **Switched on from outside**: `env` ([`init_from_env`], [`TraceGuard`]): a
//!   session named by an environment variable, finished at exit.
//! - **A session's life**: `session` ([`open`], [`Session`], [`SessionBuilder`],
//!   [`Report`], [`SessionError`]), which starts the writer:
//! - **The other side**: `writer`, records to packets to the file (`writer/
//!   templates.rs` and `writer/lane_templates.rs`: the pre-encoded packets of its
//!   fast path, on threads' tracks and on custom tracks' lanes).
//! - **Leaves**: `category` (category patterns, and the per-callsite gate
//!   decided once per session), `buffer` (the lock-free chunk of words), `lanes` (a
//!   custom track's lanes as threads take and free them without a lock), `clock` (TSC ticks and
//!   their calibration to BOOTTIME), `args` (bounded `Debug` text), `registry`
//!   (ids of callsites, tracks and counters, knowing none of their types), `shim`
//!   (the hand-off's atomics, locks and channels: std or loom).
//!
//! # Platforms
//! tg4p records on any platform std supports. On Linux (and Android) each thread's
//! track carries its OS thread id. Elsewhere there is no portable thread id that
//! fits Perfetto's: each thread gets a stand-in, the process id plus a per-thread
//! count, so threads still get tracks of their own, named after the threads, but
//! their tids match no OS tool's. Timestamps come from the TSC on x86-64 with an
//! invariant TSC, else from the OS clock, and are on BOOTTIME (`CLOCK_MONOTONIC`
//! off Linux) either way.

mod args;
mod buffer;
mod category;
mod checks;
mod clock;
mod counter;
mod env;
mod future;
mod handoff;
mod lanes;
mod local;
mod pool_span;
mod record;
mod registry;
mod session;
mod shim;
mod span;
mod track;
mod values;
mod writer;

pub use args::{ARG_VALUE_LIMIT, MAX_ARGS};
pub use buffer::CHUNK_BYTES;
pub use category::CategoryError;
pub use counter::{Counter, CounterNumber};
pub use env::{CATEGORIES_ENV, TRACE_ENV, TraceGuard, init_from_env};
pub use future::{AsyncSpan, Traced, TracedFuture};
pub use handoff::{Overflow, enabled};
pub use local::{MAX_THREAD_DEPTH, set_thread_name};
pub use session::{
    DEFAULT_DRAIN_INTERVAL, DEFAULT_MEMORY_LIMIT, DEFAULT_PATH, MIN_RING_BYTES, Report, Session,
    SessionBuilder, SessionError, SnapshotError, SnapshotHandle, open,
};
pub use span::{InstantBuilder, Span};
pub use track::Track;
pub use writer::LOSS_MARKER;

/// What generated code and the facade's `macro_rules!` macros call. Not a public API.
#[doc(hidden)]
pub mod private {
    pub use super::checks::{ArgDebug, AsTrack, RetDebug, returning, returning_future};
    pub use super::counter::{
        Counter, CounterNumber, named as named_counter, named_in as named_counter_in,
    };
    pub use super::future::{AsyncSpan, FutureSlice};
    pub use super::handoff::enabled;
    pub use super::pool_span::{PoolPlace, PoolSpan, begin_details_since, enter_since};
    pub use super::record::{ArgValue, Details, Sample, TypedArg};
    pub use super::registry::{Callsite, Function};
    pub use super::span::{
        FnSpan, Span, enter, enter_args, enter_span, enter_values, flow_id_vec, flow_ids, instant,
        instant_details, instant_named, instant_values, now, runtime_name, span_details,
        span_named, span_values,
    };
    pub use super::track::Track;
    pub use super::values::{ArgRef, Fallback, LiteralArg, Probe, Typed, encode_tree, literal};
    pub use crate::FlowId;
}
