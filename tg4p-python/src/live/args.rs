//! Live arguments (names and values) and flow ids, from Python objects.

use super::seam::MAX_OUTGOING_FLOWS;
use crate::values::{Budget, to_value};
use pyo3::IntoPyObjectExt;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use std::borrow::Cow;
use tg4p::__private::{ArgValue, TypedArg};
use tg4p::{ARG_VALUE_LIMIT, FlowId, Value};

/// A live argument's value (see [`Budget::live`]). Tracing never makes the program
/// fail: a value whose conversion raises (a `__str__` that raises, say) is
/// recorded as the error.
pub(super) fn live_value(value: &Bound<'_, PyAny>) -> Value {
    to_value(value, &mut Budget::live())
        .unwrap_or_else(|e| Value::Str(format!("<not recorded: {e}>")))
}

/// The most arguments [`scalar_args`] converts (more take [`live_value`]).
pub(super) const MAX_SCALAR_ARGS: usize = 4;

/// Fills `out` with `args` as typed scalars named `names` (`"arg"` past its end),
/// as [`live_value`] would record them, without building [`Value`]s; false
/// (and `out` to be ignored) unless there are at most [`MAX_SCALAR_ARGS`] and
/// each is a `bool`, an `int` that fits in 64 bits, a `float`, a `str` of at most
/// [`ARG_VALUE_LIMIT`] bytes (valid UTF-8) or `None` (then [`live_value`]
/// converts them all). Strings are borrowed from the objects. Written in place:
/// moving arrays of values around costs more than converting them.
#[inline]
pub(super) fn scalar_args<'a>(
    args: &'a [Bound<'_, PyAny>],
    names: &[&'static str],
    out: &mut [TypedArg<'a>; MAX_SCALAR_ARGS],
) -> bool {
    if args.len() > MAX_SCALAR_ARGS {
        return false;
    }
    for (i, (slot, arg)) in out.iter_mut().zip(args).enumerate() {
        match scalar_arg(arg) {
            Some(value) => {
                slot.name = names.get(i).copied().unwrap_or("arg");
                slot.value = value;
            }
            None => return false,
        }
    }
    true
}

/// One argument of [`scalar_args`]: the exact built-in types first (the usual
/// ones, a pointer comparison each), then subclasses as [`live_value`] takes them.
#[inline]
fn scalar_arg<'a>(arg: &'a Bound<'_, PyAny>) -> Option<ArgValue<'a>> {
    if arg.is_exact_instance_of::<PyInt>() {
        return int(arg);
    }
    if let Ok(f) = arg.cast_exact::<PyFloat>() {
        return Some(ArgValue::Double(f.value()));
    }
    if let Ok(s) = arg.cast_exact::<PyString>() {
        return text(s);
    }
    if let Ok(b) = arg.cast::<PyBool>() {
        return Some(ArgValue::Bool(b.is_true()));
    }
    if arg.is_none() {
        return Some(ArgValue::Str("None"));
    }
    if arg.is_instance_of::<PyInt>() {
        return int(arg);
    }
    if let Ok(f) = arg.cast::<PyFloat>() {
        return Some(ArgValue::Double(f.value()));
    }
    if let Ok(s) = arg.cast::<PyString>() {
        return text(s);
    }
    None
}

#[inline]
fn int<'a>(arg: &'a Bound<'_, PyAny>) -> Option<ArgValue<'a>> {
    match arg.extract::<i64>() {
        Ok(v) => Some(ArgValue::Int(v)),
        Err(_) => arg.extract::<u64>().ok().map(ArgValue::Uint),
    }
}

#[inline]
fn text<'a>(s: &'a Bound<'_, PyString>) -> Option<ArgValue<'a>> {
    let s = s.to_str().ok()?;
    (s.len() <= ARG_VALUE_LIMIT).then_some(ArgValue::Str(s))
}

/// Live arguments: names and values (converted under a live budget). Names are
/// kept with the event only (see [`seam`]'s docs): parameter names are the
/// function's (interned once per function), others owned.
#[derive(Default)]
pub(super) struct Args {
    pub(super) names: Vec<Cow<'static, str>>,
    pub(super) values: Vec<Value>,
}

impl Args {
    /// Adds an argument.
    pub(super) fn push(&mut self, name: impl Into<Cow<'static, str>>, value: &Bound<'_, PyAny>) {
        self.names.push(name.into());
        self.values.push(live_value(value));
    }

    /// `*args` as one argument named `args`, `**kwargs` one argument each.
    pub(super) fn from_call(
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Args> {
        let mut out = Args::default();
        if !args.is_empty() {
            out.push("args", args.as_any());
        }
        out.push_kwargs(kwargs)?;
        Ok(out)
    }

    pub(super) fn push_kwargs(&mut self, kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<()> {
        if let Some(kwargs) = kwargs {
            for (k, v) in kwargs
                .items()
                .iter()
                .map(|i| i.extract::<(String, Bound<'_, PyAny>)>())
                .collect::<PyResult<Vec<_>>>()?
            {
                self.push(k, &v);
            }
        }
        Ok(())
    }

    /// An instant's `description`: a dict's entries, else one argument.
    pub(super) fn from_description(description: Option<&Bound<'_, PyAny>>) -> PyResult<Args> {
        let mut out = Args::default();
        match description {
            None => {}
            Some(d) if d.is_none() => {}
            Some(d) => match d.cast::<PyDict>() {
                Ok(dict) => {
                    for item in dict.items().iter() {
                        let (k, v) = item.extract::<(Bound<'_, PyAny>, Bound<'_, PyAny>)>()?;
                        let key = match k.cast::<PyString>() {
                            Ok(s) => s.to_string_lossy().into_owned(),
                            Err(_) => k.str()?.to_string_lossy().into_owned(),
                        };
                        out.push(key, &v);
                    }
                }
                Err(_) => out.push("description", d),
            },
        }
        Ok(out)
    }

    /// The names as the seam takes them.
    pub(super) fn names(&self) -> Vec<&str> {
        self.names.iter().map(|n| &**n).collect()
    }
}

/// Flow ids from Python ints.
pub(super) fn flow_ids(ids: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<FlowId>> {
    let Some(ids) = ids.filter(|i| !i.is_none()) else {
        return Ok(Vec::new());
    };
    ids.try_iter()?
        .map(|id| Ok(FlowId::from_raw(id?.extract::<u64>()?)))
        .collect()
}

pub(super) fn flow_list(py: Python<'_>, ids: &[FlowId]) -> PyResult<Py<PyAny>> {
    PyList::new(py, ids.iter().map(|f| f.raw()))?.into_py_any(py)
}

pub(super) fn check_outgoing(n: usize) -> PyResult<()> {
    if n > MAX_OUTGOING_FLOWS {
        return Err(PyValueError::new_err(format!(
            "num_outgoing_flow_ids={n}: at most {MAX_OUTGOING_FLOWS} flows may leave one instant"
        )));
    }
    Ok(())
}
