//! Records [`tracing`] spans and events (and `log` records, through tracing-log's
//! bridge) with tg4p: into the open session's trace, through the same recorder and
//! writer as `#[tg4p::trace]`. Two ways in, one trace:
//! - [`TracingLayer`], a [`tracing_subscriber::Layer`]: composes with `EnvFilter`,
//!   `fmt` and any other layer on `tracing_subscriber::registry()`;
//! - [`TracingSubscriber`], a [`tracing::Subscriber`] of its own: the same
//!   recording without the registry's span bookkeeping, at less than half the
//!   layer's cost per span, for programs whose `tracing` data goes only to tg4p.
//!
//! Use them through the facade: `tg4p = { version = "0.1", features = ["tracing"] }`,
//! then `tg4p::TracingLayer` / `tg4p::TracingSubscriber`. See [`TracingLayer`] for
//! where spans and events go.

mod fields;
mod index;
mod layer;
mod sink;
mod sites;
mod slots;
mod state;
mod subscriber;

pub use layer::TracingLayer;
pub use subscriber::TracingSubscriber;
