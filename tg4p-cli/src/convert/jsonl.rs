//! tg4p JSON lines: one `TraceGenerator` call per line, in the order given.
//!
//! ```text
//! {"group": "srv", "name": "server"}                      create_group (optional "parent", "track_name")
//! {"track": "db", "name": "db", "group": "srv"}           create_track (top level without "group")
//! {"counter": "load", "name": "load"}                     create_counter_track (optional "group")
//! {"open": "db", "ts": 300, "name": "query", "args": {"rows": 3}, "flows": [7]}
//! {"close": "db", "ts": 400, "terminating_flows": [7]}
//! {"instant": "srv", "ts": 150, "name": "note"}           a group id names its own track
//! {"count": "load", "ts": 0, "value": 3}                  integer or float
//! ```
//! Ids are strings chosen by the writer and must be declared before use;
//! timestamps are integer nanoseconds, non-decreasing per track; flow ids are
//! the writer's numbers (an id chains events until terminated). Blank lines
//! are skipped.

use std::collections::HashMap;
use std::io::BufRead;
use std::path::Path;

use serde_json::{Map, Value as Json};

use super::sink::{self, CountValue, Counter, Parts, Process, Sink, SliceTrack};
use super::{Summary, args_of};
use crate::error::CliError;

enum Handle {
    Group(Process),
    Track(SliceTrack),
    Counter(Counter),
}

struct Ctx<'a> {
    path: &'a Path,
    line: usize,
}

impl Ctx<'_> {
    fn bad(&self, msg: impl Into<String>) -> CliError {
        CliError::bad(self.path, format!("line {}", self.line), msg)
    }

    fn str<'j>(&self, o: &'j Map<String, Json>, key: &str) -> Result<&'j str, CliError> {
        match o.get(key) {
            Some(Json::String(s)) => Ok(s),
            Some(_) => Err(self.bad(format!("\"{key}\" must be a string"))),
            None => Err(self.bad(format!("\"{key}\" is missing"))),
        }
    }

    fn opt_str<'j>(
        &self,
        o: &'j Map<String, Json>,
        key: &str,
    ) -> Result<Option<&'j str>, CliError> {
        match o.get(key) {
            None | Some(Json::Null) => Ok(None),
            Some(Json::String(s)) => Ok(Some(s)),
            Some(_) => Err(self.bad(format!("\"{key}\" must be a string"))),
        }
    }

    fn ts(&self, o: &Map<String, Json>) -> Result<u64, CliError> {
        match o.get("ts") {
            Some(Json::Number(n)) => n.as_u64().ok_or_else(|| {
                self.bad(format!(
                    "\"ts\" must be a non-negative integer (nanoseconds), not {n}"
                ))
            }),
            Some(_) => Err(self.bad("\"ts\" must be a number (nanoseconds)")),
            None => Err(self.bad("\"ts\" is missing")),
        }
    }

    fn flows(&self, o: &Map<String, Json>, key: &str) -> Result<Vec<u64>, CliError> {
        match o.get(key) {
            None | Some(Json::Null) => Ok(Vec::new()),
            Some(Json::Array(a)) => a
                .iter()
                .map(|v| {
                    v.as_u64()
                        .filter(|&id| id != 0)
                        .ok_or_else(|| self.bad(format!("\"{key}\" must hold non-zero integers")))
                })
                .collect(),
            Some(_) => Err(self.bad(format!("\"{key}\" must be an array of integers"))),
        }
    }

    fn parts(&self, o: &Map<String, Json>) -> Result<Parts, CliError> {
        if let Some(a) = o.get("args")
            && !matches!(a, Json::Object(_) | Json::Null)
        {
            return Err(self.bad("\"args\" must be an object"));
        }
        Ok(Parts {
            args: args_of(o.get("args")),
            flows: self.flows(o, "flows")?,
            terminating: self.flows(o, "terminating_flows")?,
        })
    }
}

/// Converts JSON lines from `reader` to a trace at `output`.
pub fn convert(path: &Path, reader: impl BufRead, output: &Path) -> Result<Summary, CliError> {
    let out = Sink::create(output)?;
    let mut handles: HashMap<String, Handle> = HashMap::new();
    let mut summary = Summary::default();
    for (i, line) in reader.lines().enumerate() {
        let cx = Ctx { path, line: i + 1 };
        let line = line.map_err(|e| match e.kind() {
            std::io::ErrorKind::InvalidData => cx.bad("not UTF-8 text"),
            _ => CliError::io(path, e),
        })?;
        if line.trim().is_empty() {
            continue;
        }
        let record: Json =
            serde_json::from_str(&line).map_err(|e| cx.bad(format!("not JSON: {e}")))?;
        let Json::Object(o) = record else {
            return Err(cx.bad("a record must be a JSON object"));
        };
        summary.read += 1;
        let kind = super::JSONL_KEYS
            .iter()
            .find(|k| o.contains_key(**k))
            .ok_or_else(|| {
                cx.bad(format!(
                    "no record key: expected one of {}",
                    super::JSONL_KEYS.join(", ")
                ))
            })?;
        let id = cx.str(&o, kind)?.to_string();
        match *kind {
            "group" | "track" | "counter" => {
                if handles.contains_key(&id) {
                    return Err(cx.bad(format!("id \"{id}\" is declared twice")));
                }
                let name = cx.opt_str(&o, "name")?.unwrap_or(&id).to_string();
                let parent_key = if *kind == "group" { "parent" } else { "group" };
                let parent = match cx.opt_str(&o, parent_key)? {
                    None => None,
                    Some(p) => match handles.get(p) {
                        Some(Handle::Group(g)) => Some(g),
                        Some(_) => return Err(cx.bad(format!("\"{p}\" is not a group"))),
                        None => return Err(cx.bad(format!("group \"{p}\" is not declared"))),
                    },
                };
                let handle = match (*kind, parent) {
                    ("group", None) => match cx.opt_str(&o, "track_name")? {
                        Some(t) => Handle::Group(out.process_with_track(&name, t)),
                        None => Handle::Group(out.process(&name)),
                    },
                    ("group", Some(p)) => Handle::Group(sink::subgroup(p, &name)),
                    ("track", None) => Handle::Track(out.track(&name)),
                    ("track", Some(p)) => Handle::Track(sink::child_track(p, &name)),
                    (_, None) => Handle::Counter(out.counter(&name)),
                    (_, Some(p)) => Handle::Counter(sink::child_counter(p, &name)),
                };
                handles.insert(id, handle);
            }
            "count" => {
                let Some(Handle::Counter(c)) = handles.get(&id) else {
                    return Err(cx.bad(format!("\"{id}\" is not a declared counter")));
                };
                let value = match o.get("value") {
                    Some(Json::Number(n)) => match n.as_i64() {
                        Some(v) => CountValue::Int(v),
                        None => CountValue::Double(n.as_f64().unwrap_or(f64::NAN)),
                    },
                    Some(_) => return Err(cx.bad("\"value\" must be a number")),
                    None => return Err(cx.bad("\"value\" is missing")),
                };
                sink::count(c, cx.ts(&o)?, value).map_err(|e| cx.bad(e.to_string()))?;
                summary.written += 1;
            }
            event => {
                let track = match handles.get(&id) {
                    Some(Handle::Track(t)) => t.clone(),
                    Some(Handle::Group(g)) => sink::own_track(g),
                    Some(Handle::Counter(_)) => {
                        return Err(
                            cx.bad(format!("\"{id}\" is a counter: use {{\"count\": ...}}"))
                        );
                    }
                    None => return Err(cx.bad(format!("track \"{id}\" is not declared"))),
                };
                let ts = cx.ts(&o)?;
                let parts = cx.parts(&o)?;
                let result = match event {
                    "open" => sink::open(&track, ts, cx.str(&o, "name")?, &parts),
                    "close" => sink::close(&track, ts, &parts),
                    _ => sink::instant(&track, ts, cx.str(&o, "name")?, &parts),
                };
                result.map_err(|e| cx.bad(e.to_string()))?;
                summary.written += 1;
            }
        }
    }
    out.finish().map_err(|e| match e {
        sink::SinkError::Io(err) => CliError::io(output, err),
        other => CliError::Usage(other.to_string()),
    })?;
    Ok(summary)
}
