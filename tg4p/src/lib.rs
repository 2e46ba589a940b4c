//! tg4p writes [Perfetto](https://perfetto.dev) traces from Rust.
//!
//! Two ways in:
//! - **Live tracing** of a running program: [`open`] a [`Session`], put
//!   [`#[trace]`](trace) or [`#[trace_args]`](trace_args) on functions, mark moments with
//!   [`instant!`], scopes with [`span!`], values with [`count!`]; custom [`Track`]s and
//!   [`Counter`]s are `static`s. Everything is in [`live`] too.
//! - **Traces from data** with explicit timestamps: [`TraceGenerator`], its handles
//!   in [`generator`], argument values built with [`args!`].
//!
//! ```no_run
//! static TOP: tg4p::Track = tg4p::Track::new("TOP_TRACK");
//!
//! #[tg4p::trace]
//! fn work(n: u64) -> u64 { (0..n).sum() }
//!
//! fn main() -> Result<(), tg4p::SessionError> {
//!     let session = tg4p::open("tg4p.perfetto-trace")?;
//!     let _top = TOP.span("all the work");
//!     work(1000);
//!     drop(_top);
//!     session.finish()?;
//!     Ok(())
//! }
//! ```

pub use tg4p_core::FlowId;
pub use tg4p_core::annotation::{MAX_DEPTH, Value};

// --- Live tracing (tg4p_core::runtime, tg4p_macros) ---

/// Live tracing, all of it: sessions, tracks, counters, spans, instants, limits.
pub mod live {
    pub use tg4p_core::runtime::*;
}
pub use tg4p_core::runtime::{
    ARG_VALUE_LIMIT, Counter, Overflow, Report, Session, SessionBuilder, SessionError, Track, open,
    span,
};
pub use tg4p_macros::{trace, trace_args};
/// Records `tracing` spans and events (and `log` records through tracing-log) into
/// the session's trace: a `tracing_subscriber::Layer` (the `tracing` feature).
#[cfg(feature = "tracing")]
pub use tg4p_tracing::TracingLayer;
mod live_macros;

/// What generated code calls. Not a public API: it changes without notice.
#[doc(hidden)]
pub mod __private {
    pub use tg4p_core::runtime::private::*;
}

// --- Offline generation (tg4p_core::generator, tg4p_core::annotation) ---

/// Traces from data: [`TraceGenerator`] and the handles it hands out.
pub mod generator {
    pub use tg4p_core::generator::*;
}
pub use tg4p_core::args;
pub use tg4p_core::generator::{GeneratorError, TraceGenerator};

/// The README's examples, compiled and run as doctests so they cannot go stale.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
