//! The engine behind the [`tg4p`](https://docs.rs/tg4p) facade: the Perfetto wire
//! format, annotation values, the trace generator and the live recorder.
//!
//! Use it through `tg4p`; items here that are not re-exported there are internal.

pub mod annotation;
pub mod generator;
pub mod ids;
pub mod intern;
pub mod runtime;
pub mod wire;

pub use ids::FlowId;
