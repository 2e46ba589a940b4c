//! tg4p's examples, each a program of its own (a package needs a library or a
//! binary, so this empty library is its anchor):
//!
//! ```text
//! cargo run --release --example merge_sort -- OUT.pftrace      # live tracing
//! cargo run --release --example custom_packets -- OUT.pftrace  # a trace from data
//! cargo run --release -p tg4p-examples --features tracing --example tracing_app -- OUT.pftrace
//! ```
//!
//! The end-to-end tests (`tests/merge_sort.rs`, `tests/custom_packets.rs`, `tests/tracing_app.rs` at the
//! workspace root) run the same code and decode its traces with the oracle.
