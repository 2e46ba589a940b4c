//! `tg4p-oracle`: the independent test oracle of tg4p, and the rule engine of
//! the `tg4p check` command (one implementation of the rules for both).
//!
//! It decodes Perfetto trace files with the `perfetto_protos` crate (code
//! generated from Perfetto's own `.proto` files, sharing nothing with tg4p's
//! encoder), rebuilds what trace_processor would import — tracks, events,
//! slices, flows — and lists every rule of `PERFETTO.md` the trace breaks
//! (see [`Rule`]).
//!
//! ```no_run
//! let trace = tg4p_oracle::decode_file("trace.pftrace").unwrap();
//! trace.assert_valid();
//! let slices = trace.slices();
//! ```
//!
//! For huge traces, stream packets with [`PacketReader`] into a [`Model`] in
//! counting mode (`ModelOptions { keep_events: false }`), or call
//! [`decode_file_with`]; [`Model::observe`] then sees every event and closed
//! slice as it goes by.

#![warn(missing_docs)]

mod clocks;
mod error;
mod events;
mod framing;
mod model;
mod rules;
mod sequence;
mod slices;
mod trace;
mod tracks;
mod wire;

use std::fs::File;
use std::io::Read;
use std::path::Path;

pub use error::OracleError;
pub use events::{Arg, CounterValue, Event, EventKind, SourceLocation};
pub use framing::{PacketReader, RawPacket};
pub use model::{Model, ModelOptions, Observed};
pub use rules::{Rule, Violation};
pub use slices::{DanglingFlow, FlowArrow, Slice};
pub use trace::{Counts, DecodedTrace, TrackCounts};
pub use tracks::{Track, TrackKind};

/// Re-export of the generated protos the oracle decodes with, so tests can
/// build traces by hand without depending on `perfetto_protos` themselves.
pub use perfetto_protos;

/// Decodes a trace file, keeping every event.
pub fn decode_file(path: impl AsRef<Path>) -> Result<DecodedTrace, OracleError> {
    decode_file_with(path, ModelOptions::default())
}

/// Decodes a trace file with the given options (e.g. counting mode).
pub fn decode_file_with(
    path: impl AsRef<Path>,
    opts: ModelOptions,
) -> Result<DecodedTrace, OracleError> {
    decode_reader(File::open(path)?, opts)
}

/// Decodes a trace held in memory, keeping every event.
pub fn decode_bytes(bytes: &[u8]) -> Result<DecodedTrace, OracleError> {
    decode_reader(bytes, ModelOptions::default())
}

/// Decodes a trace from a stream. Only I/O errors fail; corrupt packets,
/// stray top-level fields and a truncated tail become violations.
pub fn decode_reader(reader: impl Read, opts: ModelOptions) -> Result<DecodedTrace, OracleError> {
    let mut packets = PacketReader::new(reader);
    let mut model = Model::new(opts);
    while let Some(item) = packets.next_raw() {
        match item {
            Ok(raw) => model.push_raw(&raw.bytes),
            Err(e) => model.record_error(e)?,
        }
    }
    Ok(model.finish())
}
