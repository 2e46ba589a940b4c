//! The engine behind the [`tg4p`](https://docs.rs/tg4p) facade: the Perfetto wire
//! format, annotation values, the trace generator and the live recorder.
//!
//! Use it through `tg4p`; items here that are not re-exported there are internal.

#![deny(missing_docs)]

pub mod annotation;
pub mod generator;
pub(crate) mod ids;
pub(crate) mod intern;
#[cfg(not(tg4p_loom))]
pub mod runtime;
/// Under `--cfg tg4p_loom` only the recorder's hand-off is built, against loom's
/// atomics, mutex and `Arc` (through `runtime/shim.rs`), and model-checked by
/// `runtime/loom_tests.rs`: `RUSTFLAGS="--cfg tg4p_loom" cargo test -p tg4p-core --lib loom`.
/// (loom is a dev-dependency, so only the test build has it.)
#[cfg(all(tg4p_loom, test))]
#[allow(dead_code)]
mod runtime {
    #[path = "buffer.rs"]
    pub(crate) mod buffer;
    #[path = "lanes.rs"]
    pub(crate) mod lanes;
    #[path = "loom_tests.rs"]
    mod loom_tests;
    #[path = "shim.rs"]
    pub(crate) mod shim;
}
// Under loom only the hand-off is built: most of the wire format is unused there.
#[cfg_attr(tg4p_loom, allow(dead_code, unused_imports))]
pub(crate) mod wire;

pub use ids::FlowId;
