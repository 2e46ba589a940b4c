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
