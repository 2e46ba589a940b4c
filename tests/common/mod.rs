//! Shared helpers of the top-level tests: write a trace with tg4p, decode it with the
//! independent oracle (`tg4p-oracle`, Perfetto's own protos).
#![allow(dead_code)]

use std::cell::RefCell;
use std::io::{self, Write};
use std::path::PathBuf;
use std::rc::Rc;
use tg4p::Value;
use tg4p::generator::TraceGenerator;
use tg4p_oracle::{Arg, DecodedTrace, Event, Track};

/// A fresh path in a per-process temp dir.
pub fn temp_path(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tg4p-tests-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// An in-memory writer whose bytes stay readable after the generator took it.
#[derive(Clone, Default)]
pub struct SharedBuf(pub Rc<RefCell<Vec<u8>>>);

impl Write for SharedBuf {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl SharedBuf {
    pub fn bytes(&self) -> Vec<u8> {
        self.0.borrow().clone()
    }
}

/// Writes a trace to a file with `write`, finishes it, decodes it and checks every rule.
pub fn generate(name: &str, write: impl FnOnce(&TraceGenerator)) -> DecodedTrace {
    let path = temp_path(name);
    let tgen = TraceGenerator::create(&path).unwrap();
    write(&tgen);
    tgen.finish().unwrap();
    let trace = tg4p_oracle::decode_file(&path).unwrap();
    trace.assert_valid();
    std::fs::remove_file(&path).unwrap();
    trace
}

/// The only track named `name`.
pub fn track<'a>(trace: &'a DecodedTrace, name: &str) -> &'a Track {
    let found = trace.track_by_name(name);
    assert_eq!(found.len(), 1, "tracks named {name:?}: {found:?}");
    found[0]
}

/// What the oracle should decode for a value we wrote (empty containers become the
/// strings "{}" and "[]", as documented).
pub fn expected_arg(value: &Value) -> Arg {
    match value {
        Value::Bool(b) => Arg::Bool(*b),
        Value::Int(i) => Arg::Int(*i),
        Value::Uint(u) => Arg::Uint(*u),
        Value::Double(d) => Arg::Double(*d),
        Value::Str(s) => Arg::Str(s.clone()),
        Value::Dict(e) if e.is_empty() => Arg::Str("{}".into()),
        Value::Array(a) if a.is_empty() => Arg::Str("[]".into()),
        Value::Dict(e) => Arg::Dict(
            e.iter()
                .map(|(k, v)| (k.clone(), expected_arg(v)))
                .collect(),
        ),
        Value::Array(a) => Arg::Array(a.iter().map(expected_arg).collect()),
    }
}

/// The top-level args expected for an args dict.
pub fn expected_args(args: &Value) -> Vec<(String, Arg)> {
    let Value::Dict(entries) = args else {
        panic!("args must be a dict")
    };
    entries
        .iter()
        .map(|(k, v)| (k.clone(), expected_arg(v)))
        .collect()
}

/// Arg equality with NaN equal to itself (bitwise for doubles).
pub fn same_arg(a: &Arg, b: &Arg) -> bool {
    match (a, b) {
        (Arg::Double(x), Arg::Double(y)) => x.to_bits() == y.to_bits(),
        (Arg::Dict(x), Arg::Dict(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((k1, v1), (k2, v2))| k1 == k2 && same_arg(v1, v2))
        }
        (Arg::Array(x), Arg::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(v1, v2)| same_arg(v1, v2))
        }
        _ => a == b,
    }
}

/// Index of the single event named `name` with timestamp `ts`.
pub fn event_index(trace: &DecodedTrace, name: &str, ts: u64) -> usize {
    let found: Vec<usize> = trace
        .events
        .iter()
        .enumerate()
        .filter(|(_, e)| e.name.as_deref() == Some(name) && e.ts == ts)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(found.len(), 1, "events {name:?} at {ts}");
    found[0]
}

/// Index of the event on `track` at `ts` that satisfies `pred`.
pub fn event_where(
    trace: &DecodedTrace,
    track: u64,
    ts: u64,
    pred: impl Fn(&Event) -> bool,
) -> usize {
    let found: Vec<usize> = trace
        .events
        .iter()
        .enumerate()
        .filter(|(_, e)| e.track == track && e.ts == ts && pred(e))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(found.len(), 1, "events on {track} at {ts}");
    found[0]
}
