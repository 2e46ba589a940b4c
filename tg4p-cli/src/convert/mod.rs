//! `tg4p convert IN OUT`: Chrome JSON or tg4p JSON lines to a Perfetto trace,
//! written by tg4p's generator.

mod chrome;
mod jsonl;
mod sink;

use std::io::{BufRead, BufReader};
use std::path::Path;

use serde_json::Value as Json;

use crate::error::CliError;
use crate::input;
use sink::{ArgValue, MAX_ARG_DEPTH};

/// Input formats of `convert`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Chrome JSON Trace Event Format: `{"traceEvents": [...]}` or a bare array.
    Chrome,
    /// tg4p JSON lines: one generator call per line (see the README).
    Jsonl,
}

/// What a conversion did, printed on stderr.
#[derive(Debug, Default)]
pub struct Summary {
    /// Events read from the input.
    pub read: u64,
    /// Events written (a Chrome `X` counts once).
    pub written: u64,
    /// Events skipped, with the reason, counted per reason.
    pub skipped: std::collections::BTreeMap<String, u64>,
}

impl Summary {
    fn skip(&mut self, reason: impl Into<String>) {
        *self.skipped.entry(reason.into()).or_default() += 1;
    }
}

/// Converts `input` to `output`.
pub fn run(input: &Path, output: &Path, from: Option<Format>) -> Result<(), CliError> {
    let format = match from {
        Some(f) => f,
        None => detect(input)?,
    };
    let (reader, in_len) = input::open_tracked(input, "converting")?;
    let result = match format {
        Format::Chrome => chrome::convert(input, reader, output),
        Format::Jsonl => jsonl::convert(input, BufReader::new(reader), output),
    };
    let summary = match result {
        Ok(s) => s,
        Err(e) => {
            // A failed conversion leaves no half-written trace behind (only a
            // regular file is removed: never a device such as /dev/null).
            if std::fs::symlink_metadata(output).is_ok_and(|m| m.is_file()) {
                let _ = std::fs::remove_file(output);
            }
            return Err(e);
        }
    };
    let out_len = std::fs::metadata(output)
        .map_err(|e| CliError::io(output, e))?
        .len();
    eprintln!(
        "tg4p: converted {} events ({} written) from {} ({in_len} bytes) to {} ({out_len} bytes, \
         {:.1}% of the input)",
        summary.read,
        summary.written,
        input.display(),
        output.display(),
        if in_len > 0 {
            out_len as f64 * 100.0 / in_len as f64
        } else {
            0.0
        }
    );
    for (reason, n) in &summary.skipped {
        eprintln!("tg4p: skipped {n} event(s): {reason}");
    }
    Ok(())
}

/// Keys that name a tg4p JSON-lines record's kind, by priority ("group" last:
/// track and counter records name their parent group with it).
const JSONL_KEYS: [&str; 7] = [
    "track", "counter", "open", "close", "instant", "count", "group",
];

/// JSON lines if the first non-empty line is an object with a tg4p record
/// key; Chrome JSON otherwise.
fn detect(path: &Path) -> Result<Format, CliError> {
    let (file, _) = input::open(path)?;
    let mut reader = BufReader::new(file);
    let mut line = String::new();
    loop {
        line.clear();
        let n = reader
            .read_line(&mut line)
            .map_err(|e| CliError::io(path, e))?;
        if n == 0 {
            return Err(CliError::bad(path, "start", "the file is empty"));
        }
        if !line.trim().is_empty() {
            break;
        }
    }
    if let Ok(Json::Object(o)) = serde_json::from_str::<Json>(line.trim())
        && JSONL_KEYS.iter().any(|k| o.contains_key(*k))
    {
        return Ok(Format::Jsonl);
    }
    Ok(Format::Chrome)
}

/// Converts a JSON value to an argument value. Values nested deeper than the
/// generator accepts are kept as their JSON text.
pub(crate) fn to_arg(v: &Json, depth: usize) -> ArgValue {
    if depth + 1 >= MAX_ARG_DEPTH && matches!(v, Json::Array(_) | Json::Object(_)) {
        return ArgValue::Str(v.to_string());
    }
    match v {
        Json::Null => ArgValue::Str("null".into()),
        Json::Bool(b) => ArgValue::Bool(*b),
        Json::Number(n) => {
            if let Some(i) = n.as_i64() {
                ArgValue::Int(i)
            } else if let Some(u) = n.as_u64() {
                ArgValue::Uint(u)
            } else {
                ArgValue::Double(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        Json::String(s) => ArgValue::Str(s.clone()),
        Json::Array(a) => ArgValue::Array(a.iter().map(|x| to_arg(x, depth + 1)).collect()),
        Json::Object(o) => ArgValue::Dict(
            o.iter()
                .map(|(k, x)| (k.clone(), to_arg(x, depth + 1)))
                .collect(),
        ),
    }
}

/// Event arguments from a JSON `args` member: `None` when absent, null or
/// empty; a value that is not an object becomes one argument named `args`.
pub(crate) fn args_of(v: Option<&Json>) -> Option<ArgValue> {
    match v {
        None | Some(Json::Null) => None,
        Some(Json::Object(o)) if o.is_empty() => None,
        Some(o @ Json::Object(_)) => Some(to_arg(o, 0)),
        Some(other) => Some(ArgValue::Dict(vec![("args".into(), to_arg(other, 1))])),
    }
}
