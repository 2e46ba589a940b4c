//! Chrome JSON Trace Event Format to Perfetto, through tg4p's generator.
//!
//! Mapping:
//! - each `pid` becomes a process (named by `M`/`process_name`, else "Process N"),
//!   each `(pid, tid)` a slice track under it (named by `thread_name`, else "Thread N");
//! - `B`/`E` and `X` (`dur`) become slices, `X` with `dur` 0 an instant; `i`/`I`
//!   instants go to the thread (`s`: "t", default), the process (`"p"`) or a global
//!   track (`"g"`); `C` makes one counter track per argument, "NAME KEY" (as
//!   trace_processor names them); `b`/`e`/`n` async events go on one track per
//!   `(pid, cat, id)`;
//! - `s`/`t`/`f` flows (keyed by `cat`, `name`, `id` like trace_processor) bind to the
//!   enclosing slice on their thread (`s`, `t`, and `f` with `bp: "e"`), else to the
//!   next slice beginning there, else become an instant;
//! - timestamps are µs (floats) and become ns; events are sorted per track, so the
//!   file may list them in any order; `args` become nested arguments.
//!
//! Other phases (`P` samples, `O` objects, `R` marks, ...) are skipped and counted.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::Path;

use serde_json::{Map, Value as Json};

use super::sink::{self, CountValue, Counter, Parts, Process, Sink, SliceTrack};
use super::{Summary, args_of};
use crate::error::CliError;

/// Where an event goes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Lane {
    Thread(i64, i64),
    Process(i64),
    Global,
    Async(i64, String, String),
}

/// Order of ops on a lane: (ts ns, rank, tie, file index). Ends of `X` slices
/// sort before anything else at their timestamp (rank 0); nested `X` begins
/// longest first (tie = -dur); everything else keeps file order.
type SortKey = (i64, u8, i64, usize);

/// One generator call on a lane, with its sort key.
#[derive(Debug)]
struct Op {
    key: SortKey,
    kind: OpKind,
}

/// A flow event, found by its lane and position there, to be given its id.
struct FlowRef {
    ts: i64,
    index: usize,
    /// `(cat, name, id)`: what names one flow in Chrome JSON.
    key: (String, String, String),
    step: FlowStep,
    lane: Lane,
    op: usize,
}

/// A flow event waiting for the next slice on its lane.
struct Pending {
    id: u64,
    step: FlowStep,
    name: String,
    key: SortKey,
}

#[derive(Debug)]
enum OpKind {
    Begin {
        name: String,
        parts: Parts,
    },
    End {
        parts: Parts,
    },
    Instant {
        name: String,
        parts: Parts,
    },
    Flow {
        step: FlowStep,
        id: u64,
        enclosing_first: bool,
        name: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FlowStep {
    Start,
    Step,
    End,
}

/// Counter samples of one series.
struct Series {
    pid: i64,
    name: String,
    samples: Vec<(i64, usize, CountValue)>,
}

struct Parsed {
    lanes: BTreeMap<Lane, Vec<Op>>,
    lane_names: HashMap<Lane, String>,
    series: BTreeMap<(i64, String), Series>,
    process_names: HashMap<i64, String>,
    thread_names: HashMap<(i64, i64), String>,
    /// Flow events in file order, resolved to ids later.
    flows: Vec<FlowRef>,
}

struct Ev<'a> {
    path: &'a Path,
    index: usize,
    o: &'a Map<String, Json>,
}

impl Ev<'_> {
    fn bad(&self, msg: impl Into<String>) -> CliError {
        CliError::bad(self.path, format!("traceEvents[{}]", self.index), msg)
    }

    fn str(&self, key: &str) -> Result<Option<&str>, CliError> {
        match self.o.get(key) {
            None | Some(Json::Null) => Ok(None),
            Some(Json::String(s)) => Ok(Some(s)),
            Some(_) => Err(self.bad(format!("\"{key}\" must be a string"))),
        }
    }

    /// `pid`/`tid`: integers (strings of digits are accepted too; other strings
    /// are hashed to a stable number).
    fn id(&self, key: &str) -> Result<i64, CliError> {
        match self.o.get(key) {
            None | Some(Json::Null) => Ok(0),
            Some(Json::Number(n)) => n
                .as_i64()
                .or_else(|| n.as_f64().map(|f| f as i64))
                .ok_or_else(|| self.bad(format!("\"{key}\" is out of range"))),
            Some(Json::String(s)) => Ok(s.parse().unwrap_or_else(|_| stable_hash(s))),
            Some(_) => Err(self.bad(format!("\"{key}\" must be a number"))),
        }
    }

    /// A time in µs converted to ns.
    fn micros(&self, key: &str) -> Result<Option<i64>, CliError> {
        match self.o.get(key) {
            None | Some(Json::Null) => Ok(None),
            Some(Json::Number(n)) => {
                let us = n.as_f64().unwrap_or(f64::NAN);
                let ns = (us * 1000.0).round();
                if !ns.is_finite() || ns.abs() > 9.0e18 {
                    return Err(self.bad(format!("\"{key}\" {n} is out of range")));
                }
                Ok(Some(ns as i64))
            }
            Some(Json::String(s)) => match s.parse::<f64>() {
                Ok(us) if us.is_finite() && (us * 1000.0).abs() < 9.0e18 => {
                    Ok(Some((us * 1000.0).round() as i64))
                }
                _ => Err(self.bad(format!("\"{key}\" must be a number of microseconds"))),
            },
            Some(_) => Err(self.bad(format!("\"{key}\" must be a number of microseconds"))),
        }
    }

    fn ts(&self) -> Result<i64, CliError> {
        self.micros("ts")?
            .ok_or_else(|| self.bad("\"ts\" is missing"))
    }

    /// An `id` (or `id2.local`/`id2.global`) as text.
    fn event_id(&self) -> Option<String> {
        let scalar = |v: &Json| match v {
            Json::String(s) => Some(s.clone()),
            Json::Number(n) => Some(n.to_string()),
            _ => None,
        };
        if let Some(v) = self.o.get("id").and_then(scalar) {
            return Some(v);
        }
        let id2 = self.o.get("id2")?.as_object()?;
        id2.get("global")
            .and_then(scalar)
            .map(|g| format!("global:{g}"))
            .or_else(|| {
                id2.get("local")
                    .and_then(scalar)
                    .map(|l| format!("local:{l}"))
            })
    }
}

fn stable_hash(s: &str) -> i64 {
    // FNV-1a: stable across runs, unlike std's RandomState.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    (h >> 1) as i64
}

/// Parses the whole document (either form; an unterminated array, which the
/// format allows, is closed).
fn parse_document(path: &Path, mut reader: impl Read) -> Result<Vec<Json>, CliError> {
    let mut text = String::new();
    reader
        .read_to_string(&mut text)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::InvalidData => CliError::bad(path, "start", "not UTF-8 text"),
            _ => CliError::io(path, e),
        })?;
    let doc: Json = match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(e) => {
            let t = text.trim_end().trim_end_matches(',');
            if t.trim_start().starts_with('[') && !t.ends_with(']') {
                serde_json::from_str(&format!("{t}]"))
                    .map_err(|_| CliError::bad(path, "JSON", e.to_string()))?
            } else {
                return Err(CliError::bad(path, "JSON", e.to_string()));
            }
        }
    };
    match doc {
        Json::Array(a) => Ok(a),
        Json::Object(mut o) => match o.remove("traceEvents") {
            Some(Json::Array(a)) => Ok(a),
            Some(_) => Err(CliError::bad(path, "traceEvents", "must be an array")),
            None => Err(CliError::bad(
                path,
                "top level",
                "an object without \"traceEvents\": not a Chrome JSON trace",
            )),
        },
        _ => Err(CliError::bad(
            path,
            "top level",
            "expected an array of events or an object with \"traceEvents\"",
        )),
    }
}

fn parse(path: &Path, events: &[Json], summary: &mut Summary) -> Result<Parsed, CliError> {
    let mut p = Parsed {
        lanes: BTreeMap::new(),
        lane_names: HashMap::new(),
        series: BTreeMap::new(),
        process_names: HashMap::new(),
        thread_names: HashMap::new(),
        flows: Vec::new(),
    };
    for (index, raw) in events.iter().enumerate() {
        let Json::Object(o) = raw else {
            return Err(CliError::bad(
                path,
                format!("traceEvents[{index}]"),
                "an event must be a JSON object",
            ));
        };
        let ev = Ev { path, index, o };
        summary.read += 1;
        let ph = ev
            .str("ph")?
            .ok_or_else(|| ev.bad("\"ph\" (the phase) is missing"))?;
        let name = ev.str("name")?.unwrap_or("").to_string();
        let cat = ev.str("cat")?.unwrap_or("").to_string();
        let (pid, tid) = (ev.id("pid")?, ev.id("tid")?);
        let thread = Lane::Thread(pid, tid);
        let parts = || Parts {
            args: args_of(o.get("args")),
            ..Parts::default()
        };
        let mut push = |lane: Lane, key: SortKey, kind: OpKind| {
            p.lanes.entry(lane).or_default().push(Op { key, kind });
        };
        match ph {
            "B" => push(
                thread,
                (ev.ts()?, 1, 0, index),
                OpKind::Begin {
                    name,
                    parts: parts(),
                },
            ),
            "E" => push(
                thread,
                (ev.ts()?, 1, 0, index),
                OpKind::End { parts: parts() },
            ),
            "X" => {
                let ts = ev.ts()?;
                let dur = ev.micros("dur")?.unwrap_or(0);
                if dur < 0 {
                    return Err(ev.bad("\"dur\" must not be negative"));
                }
                if dur == 0 {
                    push(
                        thread,
                        (ts, 1, 0, index),
                        OpKind::Instant {
                            name,
                            parts: parts(),
                        },
                    );
                } else {
                    push(
                        thread.clone(),
                        (ts, 1, -dur, index),
                        OpKind::Begin {
                            name,
                            parts: parts(),
                        },
                    );
                    // Ends at one timestamp: the later-begun (inner) slice first.
                    push(
                        thread,
                        (ts.saturating_add(dur), 0, -ts, usize::MAX - index),
                        OpKind::End {
                            parts: Parts::default(),
                        },
                    );
                }
            }
            "i" | "I" => {
                let lane = match ev.str("s")? {
                    Some("g") => Lane::Global,
                    Some("p") => Lane::Process(pid),
                    _ => thread,
                };
                push(
                    lane,
                    (ev.ts()?, 1, 0, index),
                    OpKind::Instant {
                        name,
                        parts: parts(),
                    },
                );
            }
            "b" | "e" | "n" => {
                let id = ev.event_id().unwrap_or_default();
                let lane = Lane::Async(pid, cat.clone(), id);
                if ph == "b" {
                    p.lane_names.entry(lane.clone()).or_insert(name.clone());
                }
                let kind = match ph {
                    "b" => OpKind::Begin {
                        name,
                        parts: parts(),
                    },
                    "e" => OpKind::End { parts: parts() },
                    _ => OpKind::Instant {
                        name,
                        parts: parts(),
                    },
                };
                push(lane, (ev.ts()?, 1, 0, index), kind);
            }
            "s" | "t" | "f" => {
                let step = match ph {
                    "s" => FlowStep::Start,
                    "t" => FlowStep::Step,
                    _ => FlowStep::End,
                };
                let ts = ev.ts()?;
                let Some(id) = ev.event_id() else {
                    summary.skip("flow event without \"id\"");
                    continue;
                };
                let enclosing_first = step != FlowStep::End || ev.str("bp")? == Some("e");
                let lane_ops = p.lanes.entry(thread.clone()).or_default();
                p.flows.push(FlowRef {
                    ts,
                    index,
                    key: (cat, name.clone(), id),
                    step,
                    lane: thread,
                    op: lane_ops.len(),
                });
                lane_ops.push(Op {
                    key: (ts, 1, 0, index),
                    kind: OpKind::Flow {
                        step,
                        id: 0, // resolved below
                        enclosing_first,
                        name,
                    },
                });
            }
            "C" => {
                let ts = ev.ts()?;
                let Some(Json::Object(args)) = o.get("args") else {
                    summary.skip("counter event without an \"args\" object");
                    continue;
                };
                let prefix = match ev.event_id() {
                    Some(id) => format!("{name} {id}"),
                    None => name,
                };
                for (key, v) in args {
                    let value = match v {
                        Json::Number(n) => match n.as_i64() {
                            Some(i) => CountValue::Int(i),
                            None => CountValue::Double(n.as_f64().unwrap_or(f64::NAN)),
                        },
                        _ => {
                            summary.skip("counter value that is not a number");
                            continue;
                        }
                    };
                    let series_name = format!("{prefix} {key}");
                    p.series
                        .entry((pid, series_name.clone()))
                        .or_insert_with(|| Series {
                            pid,
                            name: series_name,
                            samples: Vec::new(),
                        })
                        .samples
                        .push((ts, index, value));
                }
            }
            "M" => {
                let value = o
                    .get("args")
                    .and_then(|a| a.get("name"))
                    .and_then(Json::as_str);
                match (name.as_str(), value) {
                    ("process_name", Some(v)) => {
                        p.process_names.insert(pid, v.to_string());
                    }
                    ("thread_name", Some(v)) => {
                        p.thread_names.insert((pid, tid), v.to_string());
                    }
                    _ => {}
                }
                summary.written += 1; // applied as a name
            }
            other => summary.skip(format!("phase \"{other}\" is not converted")),
        }
    }
    Ok(p)
}

/// Gives each flow event its id, in timestamp order across all threads: an id
/// lives from its `s` (or first use) to its `f`.
fn resolve_flows(p: &mut Parsed, out: &Sink) {
    let mut order: Vec<usize> = (0..p.flows.len()).collect();
    order.sort_by_key(|&i| (p.flows[i].ts, p.flows[i].index));
    let mut live: HashMap<(String, String, String), u64> = HashMap::new();
    for i in order {
        let FlowRef {
            key,
            step,
            lane,
            op,
            ..
        } = &p.flows[i];
        let id = match step {
            FlowStep::Start => {
                let id = out.new_flow();
                live.insert(key.clone(), id);
                id
            }
            FlowStep::Step => *live.entry(key.clone()).or_insert_with(|| out.new_flow()),
            FlowStep::End => live.remove(key).unwrap_or_else(|| out.new_flow()),
        };
        if let Some(Op {
            kind: OpKind::Flow { id: slot, .. },
            ..
        }) = p.lanes.get_mut(lane).and_then(|ops| ops.get_mut(*op))
        {
            *slot = id;
        }
    }
}

/// Sorts a lane's ops and binds its flow events to slices (or instants).
///
/// An `s` or `t` binds to the enclosing slice's begin, an `f` to its end (or to
/// the next slice's begin): the bound event is never later than an `s` nor
/// earlier than an `f`, so trace_processor, which chains flow events in
/// timestamp order, sees them in the order the JSON meant.
fn bind_flows(ops: &mut Vec<Op>) {
    ops.sort_by_key(|o| o.key);
    let mut stack: Vec<usize> = Vec::new();
    let mut pending: Vec<Pending> = Vec::new();
    // Flows bound to the end of the slice begun at op `.0`.
    let mut at_end: Vec<(usize, u64, FlowStep)> = Vec::new();
    let mut end_of: HashMap<usize, usize> = HashMap::new();
    let attach = |op: &mut Op, id: u64, step: FlowStep| {
        if let OpKind::Begin { parts, .. } | OpKind::End { parts } = &mut op.kind {
            match step {
                FlowStep::End => parts.terminating.push(id),
                _ => parts.flows.push(id),
            }
        }
    };
    for i in 0..ops.len() {
        match &ops[i].kind {
            OpKind::Begin { .. } => {
                for f in pending.drain(..) {
                    attach(&mut ops[i], f.id, f.step);
                }
                stack.push(i);
            }
            OpKind::End { .. } => {
                if let Some(b) = stack.pop() {
                    end_of.insert(b, i);
                }
            }
            OpKind::Instant { .. } => {}
            OpKind::Flow {
                step,
                id,
                enclosing_first,
                name,
            } => {
                let (step, id, key) = (*step, *id, ops[i].key);
                match stack.last() {
                    Some(&top) if step != FlowStep::End => attach(&mut ops[top], id, step),
                    Some(&top) if *enclosing_first => at_end.push((top, id, step)),
                    _ => pending.push(Pending {
                        id,
                        step,
                        name: name.clone(),
                        key,
                    }),
                }
            }
        }
    }
    for (begin, id, step) in at_end {
        let target = end_of.get(&begin).copied().unwrap_or(begin);
        attach(&mut ops[target], id, step);
    }
    // Flow events with no slice after them become instants.
    for f in pending {
        let mut parts = Parts::default();
        match f.step {
            FlowStep::End => parts.terminating.push(f.id),
            _ => parts.flows.push(f.id),
        }
        ops.push(Op {
            key: f.key,
            kind: OpKind::Instant {
                name: f.name,
                parts,
            },
        });
    }
    ops.retain(|o| !matches!(o.kind, OpKind::Flow { .. }));
    ops.sort_by_key(|o| o.key);
}

/// Converts a Chrome JSON trace from `reader` to `output`.
pub fn convert(path: &Path, reader: impl Read, output: &Path) -> Result<Summary, CliError> {
    let mut summary = Summary::default();
    let events = parse_document(path, reader)?;
    let mut parsed = parse(path, &events, &mut summary)?;
    drop(events);
    let out = Sink::create(output)?;
    resolve_flows(&mut parsed, &out);

    // Timestamps may be negative in JSON; Perfetto's are not: shift if needed.
    let min_ts = parsed
        .lanes
        .values()
        .flatten()
        .map(|o| o.key.0)
        .chain(
            parsed
                .series
                .values()
                .flat_map(|s| s.samples.iter().map(|x| x.0)),
        )
        .min()
        .unwrap_or(0);
    let shift = if min_ts < 0 { -min_ts } else { 0 };
    let ns = |ts: i64| (ts + shift) as u64;

    let mut processes: BTreeMap<i64, Process> = BTreeMap::new();
    let mut process = |pid: i64| -> Process {
        processes
            .entry(pid)
            .or_insert_with(|| {
                let name = parsed
                    .process_names
                    .get(&pid)
                    .cloned()
                    .unwrap_or_else(|| format!("Process {pid}"));
                out.process(&name)
            })
            .clone()
    };
    let mut global: Option<SliceTrack> = None;
    let lanes = std::mem::take(&mut parsed.lanes);
    for (lane, mut ops) in lanes {
        bind_flows(&mut ops);
        let track = match &lane {
            Lane::Thread(pid, tid) => {
                let name = parsed
                    .thread_names
                    .get(&(*pid, *tid))
                    .cloned()
                    .unwrap_or_else(|| format!("Thread {tid}"));
                sink::child_track(&process(*pid), &name)
            }
            Lane::Process(pid) => sink::own_track(&process(*pid)),
            Lane::Global => global
                .get_or_insert_with(|| out.track("Global instants"))
                .clone(),
            Lane::Async(pid, cat, id) => {
                let name = parsed
                    .lane_names
                    .get(&lane)
                    .cloned()
                    .unwrap_or_else(|| format!("{cat} {id}"));
                sink::child_track(&process(*pid), &name)
            }
        };
        write_lane(&track, ops, ns, &mut summary);
    }
    for s in parsed.series.into_values() {
        let counter: Counter = sink::child_counter(&process(s.pid), &s.name);
        let mut samples = s.samples;
        samples.sort_by_key(|x| (x.0, x.1));
        for (ts, _, v) in samples {
            match sink::count(&counter, ns(ts), v) {
                Ok(()) => summary.written += 1,
                Err(e) => summary.skip(e.to_string()),
            }
        }
    }
    out.finish().map_err(|e| match e {
        sink::SinkError::Io(err) => CliError::io(output, err),
        other => CliError::Usage(other.to_string()),
    })?;
    Ok(summary)
}

fn write_lane(track: &SliceTrack, ops: Vec<Op>, ns: impl Fn(i64) -> u64, summary: &mut Summary) {
    for op in ops {
        let ts = ns(op.key.0);
        let result = match &op.kind {
            OpKind::Begin { name, parts } => sink::open(track, ts, name, parts),
            OpKind::End { parts } => sink::close(track, ts, parts),
            OpKind::Instant { name, parts } => sink::instant(track, ts, name, parts),
            OpKind::Flow { .. } => Ok(()),
        };
        match result {
            Ok(()) => summary.written += 1,
            // An `E` without `B` is ignored by trace_processor too.
            Err(e) => summary.skip(e.to_string()),
        }
    }
}
