//! A [`tracing_subscriber::Layer`] that records [`tracing`] spans and events (and
//! `log` records, through tracing-log's bridge) with tg4p: into the open session's
//! trace, through the same recorder and writer as `#[tg4p::trace]`.
//!
//! Use it through the facade: `tg4p = { version = "0.1", features = ["tracing"] }`,
//! then `tg4p::TracingLayer`. See [`TracingLayer`] for where spans and events go.

mod fields;
mod layer;
mod sink;
mod sites;

pub use layer::TracingLayer;
