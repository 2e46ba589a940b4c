//! Python objects to annotation values: [`to_value`], the one conversion the
//! generator and the live recorder share.
//!
//! | Python | value |
//! | --- | --- |
//! | `bool` | `Bool` |
//! | `int` | `Int` (or `Uint` above `i64::MAX`; beyond `u64`, its decimal text) |
//! | `float` | `Double` |
//! | `str` | `Str` |
//! | `None` | `Str("None")` (Perfetto's annotations have no null) |
//! | `dict` | `Dict`, keys as given (`str(key)` for other keys), in order |
//! | `list`, `tuple` | `Array`, nested lists kept as they are |
//! | anything else | `Str(repr(obj))`, bounded like tg4p's `Debug` args |
//!
//! Text that is cut (a long `repr`, or any string under a [`Budget::live`]) ends
//! with `…[truncated, N bytes]` (N the whole text's length) as tg4p marks Rust's
//! `Debug` arguments, cut at a character boundary so that text and marker together
//! fit in [`ARG_VALUE_LIMIT`] bytes (the live recorder then keeps it whole).

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use tg4p::{ARG_VALUE_LIMIT, MAX_DEPTH, Value};

/// Values (scalars and containers) a live event's argument is converted to at most:
/// its text is cut at [`ARG_VALUE_LIMIT`] bytes anyway, so converting a list of a
/// million numbers in full would be wasted work.
pub(crate) const LIVE_NODES: usize = 512;

/// How much of an object to convert.
#[derive(Debug)]
pub(crate) struct Budget {
    /// Values still to convert; a container whose items exceed it ends with a
    /// marker naming how many were left out.
    nodes: usize,
    /// Whether strings are cut at [`ARG_VALUE_LIMIT`] bytes.
    cut_strings: bool,
    /// Whether nesting beyond [`MAX_DEPTH`] is an error (else a marker string).
    strict: bool,
}

impl Budget {
    /// Everything, exactly (the generator): nesting beyond [`MAX_DEPTH`] (or a
    /// container that contains itself) is a `ValueError`.
    pub(crate) fn exact() -> Budget {
        Budget {
            nodes: usize::MAX,
            cut_strings: false,
            strict: true,
        }
    }

    /// A live event's argument: at most [`LIVE_NODES`] values, strings cut,
    /// over-deep nesting replaced by a marker (tracing never raises on data).
    pub(crate) fn live() -> Budget {
        Budget {
            nodes: LIVE_NODES,
            cut_strings: true,
            strict: false,
        }
    }
}

/// Converts `obj` (see the module docs).
pub(crate) fn to_value(obj: &Bound<'_, PyAny>, budget: &mut Budget) -> PyResult<Value> {
    convert(obj, budget, 1)
}

fn convert(obj: &Bound<'_, PyAny>, budget: &mut Budget, depth: usize) -> PyResult<Value> {
    if depth > MAX_DEPTH {
        if budget.strict {
            return Err(PyValueError::new_err(format!(
                "argument value nested more than {MAX_DEPTH} levels deep \
                 (or a container that contains itself)"
            )));
        }
        return Ok(Value::Str(format!(
            "…[nested deeper than {MAX_DEPTH} levels]"
        )));
    }
    budget.nodes = budget.nodes.saturating_sub(1);
    if let Ok(b) = obj.cast::<PyBool>() {
        return Ok(Value::Bool(b.is_true()));
    }
    if obj.is_instance_of::<PyInt>() {
        if let Ok(v) = obj.extract::<i64>() {
            return Ok(Value::Int(v));
        }
        if let Ok(v) = obj.extract::<u64>() {
            return Ok(Value::Uint(v));
        }
        return Ok(Value::Str(bounded(&obj.str()?.to_string_lossy())));
    }
    if let Ok(f) = obj.cast::<PyFloat>() {
        return Ok(Value::Double(f.value()));
    }
    if let Ok(s) = obj.cast::<PyString>() {
        let s = s.to_string_lossy();
        return Ok(Value::Str(if budget.cut_strings {
            bounded(&s)
        } else {
            s.into_owned()
        }));
    }
    if obj.is_none() {
        return Ok(Value::Str("None".to_owned()));
    }
    if let Ok(d) = obj.cast::<PyDict>() {
        // A snapshot of the items: converting a value may run Python code (a
        // `repr`) that changes the dict.
        let items = d.items();
        let mut entries = Vec::with_capacity(items.len().min(budget.nodes));
        for (i, item) in items.iter().enumerate() {
            if budget.nodes == 0 {
                entries.push(("…".to_owned(), left_out(items.len() - i)));
                break;
            }
            let (k, v) = item.extract::<(Bound<'_, PyAny>, Bound<'_, PyAny>)>()?;
            let key = match k.cast::<PyString>() {
                Ok(s) => s.to_string_lossy().into_owned(),
                Err(_) => k.str()?.to_string_lossy().into_owned(),
            };
            entries.push((key, convert(&v, budget, depth + 1)?));
        }
        return Ok(Value::Dict(entries));
    }
    if let Ok(l) = obj.cast::<PyList>() {
        return sequence(l.len(), l.iter(), budget, depth);
    }
    if let Ok(t) = obj.cast::<PyTuple>() {
        return sequence(t.len(), t.iter(), budget, depth);
    }
    Ok(Value::Str(match obj.repr() {
        Ok(r) => bounded(&r.to_string_lossy()),
        Err(e) => format!("<repr failed: {e}>"),
    }))
}

fn sequence<'py>(
    len: usize,
    items: impl Iterator<Item = Bound<'py, PyAny>>,
    budget: &mut Budget,
    depth: usize,
) -> PyResult<Value> {
    let mut out = Vec::with_capacity(len.min(budget.nodes));
    for (i, item) in items.enumerate() {
        if budget.nodes == 0 {
            out.push(left_out(len.saturating_sub(i)));
            break;
        }
        out.push(convert(&item, budget, depth + 1)?);
    }
    Ok(Value::Array(out))
}

fn left_out(n: usize) -> Value {
    Value::Str(format!("…[{n} more]"))
}

/// `s`, or its start and a marker in at most [`ARG_VALUE_LIMIT`] bytes.
fn bounded(s: &str) -> String {
    if s.len() <= ARG_VALUE_LIMIT {
        return s.to_owned();
    }
    let marker = format!("…[truncated, {} bytes]", s.len());
    let mut cut = ARG_VALUE_LIMIT - marker.len();
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}{marker}", &s[..cut])
}
