//! The only place the CLI names tg4p's generator API: the converters write
//! through these few functions, so a rename in the facade is one edit here.

use std::path::Path;

use tg4p::generator::{CounterTrack, Extras, Group, SliceTrack as Track};
use tg4p::generator::{GeneratorError, TraceGenerator};
use tg4p::{FlowId, Value};

use crate::error::CliError;

/// A slice track of the output.
pub type SliceTrack = Track;
/// A counter track of the output.
pub type Counter = CounterTrack;
/// A process of the output (a generator group with a synthetic pid).
pub type Process = Group;
/// An event's argument value.
pub type ArgValue = Value;
/// A generator failure.
pub type SinkError = GeneratorError;

/// The output trace.
pub struct Sink {
    tgen: TraceGenerator,
}

/// An event's optional parts, owned (converted to the generator's borrowed form
/// at the call).
#[derive(Debug, Default, Clone)]
pub struct Parts {
    /// Arguments: a dict, or `None`.
    pub args: Option<ArgValue>,
    /// Flows started or continued.
    pub flows: Vec<u64>,
    /// Flows ended.
    pub terminating: Vec<u64>,
}

impl Parts {
    fn with<T>(&self, f: impl FnOnce(Extras<'_>) -> T) -> T {
        let flows: Vec<FlowId> = self.flows.iter().copied().map(FlowId::from_raw).collect();
        let term: Vec<FlowId> = self
            .terminating
            .iter()
            .copied()
            .map(FlowId::from_raw)
            .collect();
        let mut extras = Extras::new().flows(&flows).terminating_flows(&term);
        if let Some(a) = &self.args {
            extras = extras.args(a);
        }
        f(extras)
    }
}

impl Sink {
    /// Creates the output file.
    pub fn create(path: &Path) -> Result<Sink, CliError> {
        let tgen = TraceGenerator::create(path).map_err(|e| match e {
            GeneratorError::Io(err) => CliError::io(path, err),
            other => CliError::Usage(format!("{}: {other}", path.display())),
        })?;
        Ok(Sink { tgen })
    }

    /// A top-level process named `name`.
    pub fn process(&self, name: &str) -> Process {
        self.tgen.create_group(name)
    }

    /// A process whose own events go on a child track named `track_name`.
    pub fn process_with_track(&self, name: &str, track_name: &str) -> Process {
        self.tgen.create_group_with_track(name, track_name)
    }

    /// A top-level slice track.
    pub fn track(&self, name: &str) -> SliceTrack {
        self.tgen.create_track(name)
    }

    /// A top-level counter track.
    pub fn counter(&self, name: &str) -> Counter {
        self.tgen.create_counter_track(name)
    }

    /// A fresh flow id, unique across traces.
    pub fn new_flow(&self) -> u64 {
        self.tgen.new_flow().raw()
    }

    /// Ends the trace.
    pub fn finish(self) -> Result<(), GeneratorError> {
        self.tgen.finish()
    }
}

/// A nested group (a child track grouping others) of `parent`.
pub fn subgroup(parent: &Process, name: &str) -> Process {
    parent.create_group(name)
}

/// A child slice track of `p`.
pub fn child_track(p: &Process, name: &str) -> SliceTrack {
    p.create_track(name)
}

/// A child counter track of `p`.
pub fn child_counter(p: &Process, name: &str) -> Counter {
    p.create_counter_track(name)
}

/// The track a process's own events go to.
pub fn own_track(p: &Process) -> SliceTrack {
    p.track().clone()
}

/// Opens a slice.
pub fn open(t: &SliceTrack, ts: u64, name: &str, parts: &Parts) -> Result<(), GeneratorError> {
    parts.with(|x| t.open_with(ts, name, x))
}

/// Closes the innermost open slice.
pub fn close(t: &SliceTrack, ts: u64, parts: &Parts) -> Result<(), GeneratorError> {
    parts.with(|x| t.close_with(ts, x))
}

/// An instant.
pub fn instant(t: &SliceTrack, ts: u64, name: &str, parts: &Parts) -> Result<(), GeneratorError> {
    parts.with(|x| t.instant_with(ts, name, x))
}

/// A counter sample.
pub fn count(c: &Counter, ts: u64, value: CountValue) -> Result<(), GeneratorError> {
    match value {
        CountValue::Int(v) => c.count(ts, v),
        CountValue::Double(v) => c.count(ts, v),
    }
}

/// A counter sample's value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CountValue {
    /// Integer.
    Int(i64),
    /// Float.
    Double(f64),
}

/// The deepest argument value the generator accepts.
pub const MAX_ARG_DEPTH: usize = tg4p::MAX_DEPTH;
