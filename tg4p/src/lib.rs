//! tg4p writes [Perfetto](https://perfetto.dev) traces from Rust.
//!
//! See the README for the two ways in: live tracing of a running program, and
//! [`TraceGenerator`] for traces built from data with explicit timestamps.

pub use tg4p_core::FlowId;

// --- Offline generation (tg4p_core::generator, tg4p_core::annotation) ---
pub use tg4p_core::annotation::{MAX_DEPTH, Value};
pub use tg4p_core::args;
pub use tg4p_core::generator::{
    CounterTrack, CounterValue, Extras, GeneratorError, Group, TraceGenerator, Track,
};

// --- Live tracing (tg4p_core::runtime, tg4p_macros) ---
/// Live tracing, all of it: sessions, tracks, counters, spans, instants.
pub mod live {
    pub use tg4p_core::runtime::*;
}
pub use tg4p_core::runtime::{
    ARG_VALUE_LIMIT, Counter, Overflow, Report, Session, SessionBuilder, SessionError, open, span,
};
pub use tg4p_macros::{trace, trace_args};
mod live_macros;

/// What generated code calls. Not a public API: it changes without notice.
#[doc(hidden)]
pub mod __private {
    pub use tg4p_core::runtime::private::*;
}
