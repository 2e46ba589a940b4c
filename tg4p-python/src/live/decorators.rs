//! `trace_func` and `trace_func_args`: traced functions.

use super::args::{Args, MAX_SCALAR_ARGS, live_value, scalar_args};
use super::location::{function_location, function_name};
use super::seam::{self, Location};
use super::threads;
use super::track::PyTrack;
use crate::names::{intern, intern_list};
use pyo3::exceptions::PyTypeError;
use pyo3::gc::PyVisit;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyTuple};
use pyo3::{IntoPyObjectExt, PyTraverseError, intern};
use std::sync::OnceLock;
use tg4p::__private::{ArgValue, Callsite, TypedArg};
use tg4p::{Track, Value};

/// How a `trace_func_args` call's arguments are named: the function's parameters.
struct ArgSpec {
    /// Names of the positional parameters, in order.
    positional: Vec<&'static str>,
    /// Name of the `*args` parameter (extra positional arguments go there).
    varargs: &'static str,
    /// The callsite of a call with `i` positional arguments and nothing else (the
    /// usual call), made on first use: such calls skip the interning.
    by_count: Vec<OnceLock<&'static Callsite>>,
}

impl ArgSpec {
    fn of(func: &Bound<'_, PyAny>) -> PyResult<ArgSpec> {
        const CO_VARARGS: u32 = 0x04;
        let py = func.py();
        let Ok(code) = func.getattr(intern!(py, "__code__")) else {
            return Ok(ArgSpec {
                positional: Vec::new(),
                varargs: intern("args"),
                by_count: Vec::new(),
            });
        };
        let count = code
            .getattr(intern!(py, "co_argcount"))?
            .extract::<usize>()?;
        let kwonly = code
            .getattr(intern!(py, "co_kwonlyargcount"))?
            .extract::<usize>()?;
        let flags = code.getattr(intern!(py, "co_flags"))?.extract::<u32>()?;
        let names = code
            .getattr(intern!(py, "co_varnames"))?
            .extract::<Vec<String>>()?;
        let positional: Vec<_> = names.iter().take(count).map(|n| intern(n)).collect();
        let varargs = match names.get(count + kwonly) {
            Some(n) if flags & CO_VARARGS != 0 => intern(n),
            _ => intern("args"),
        };
        Ok(ArgSpec {
            by_count: (0..=positional.len()).map(|_| OnceLock::new()).collect(),
            positional,
            varargs,
        })
    }

    /// The callsite of `args` if they are only positional ones that each have a
    /// parameter (then the names are known without looking at the values).
    fn positional_site(
        &self,
        name: &'static str,
        at: Location,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> Option<&'static Callsite> {
        if kwargs.is_some_and(|k| !k.is_empty()) {
            return None;
        }
        let n = args.len();
        let cell = self.by_count.get(n)?;
        Some(cell.get_or_init(|| seam::callsite(name, at, intern_list(&self.positional[..n]))))
    }

    /// A call's arguments, named by the parameters they bind to.
    fn bind(
        &self,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Args> {
        let n = args.len() + kwargs.map_or(0, |k| k.len());
        let mut out = Args {
            names: Vec::with_capacity(n),
            values: Vec::with_capacity(n),
        };
        let named = args.len().min(self.positional.len());
        for (i, &name) in self.positional.iter().take(named).enumerate() {
            out.push(name, &args.get_item(i)?);
        }
        if args.len() > named {
            out.push(self.varargs, args.get_slice(named, args.len()).as_any());
        }
        out.push_kwargs(kwargs)?;
        Ok(out)
    }
}

/// A traced function: each call is a slice on the calling thread's track (or on
/// its track), named after the function, at the function's source location.
#[pyclass(name = "_traced_function", module = "tg4perfetto", frozen, dict)]
pub(super) struct TracedFunction {
    func: Py<PyAny>,
    name: &'static str,
    at: Location,
    /// The callsite of calls recorded without arguments.
    site: &'static Callsite,
    track: Option<&'static Track>,
    args: Option<ArgSpec>,
}

impl TracedFunction {
    fn wrap(
        func: &Bound<'_, PyAny>,
        track: Option<&'static Track>,
        with_args: bool,
    ) -> PyResult<Py<TracedFunction>> {
        let py = func.py();
        if !func.is_callable() {
            return Err(PyTypeError::new_err(format!(
                "expected a function or a tg4perfetto.track, got {}",
                func.repr()?
            )));
        }
        let name = intern(&function_name(func)?);
        let at = function_location(func)?;
        let traced = Py::new(
            py,
            TracedFunction {
                func: func.clone().unbind(),
                name,
                at,
                site: seam::callsite(name, at, &[]),
                track,
                args: if with_args {
                    Some(ArgSpec::of(func)?)
                } else {
                    None
                },
            },
        )?;
        // `__name__`, `__doc__`, `__wrapped__`, ... as functools.wraps gives them.
        static UPDATE_WRAPPER: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
        UPDATE_WRAPPER
            .get_or_try_init(py, || {
                py.import("functools")?
                    .getattr("update_wrapper")
                    .map(Bound::unbind)
            })?
            .bind(py)
            .call1((traced.bind(py), func))?;
        Ok(traced)
    }
}

#[pymethods]
impl TracedFunction {
    #[pyo3(signature = (*args, **kwargs))]
    fn __call__(
        &self,
        py: Python<'_>,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Py<PyAny>> {
        let func = self.func.bind(py);
        if !seam::recording() {
            return func.call(args, kwargs).map(Bound::unbind);
        }
        threads::ensure_named(py);
        let _slice = match &self.args {
            None => seam::begin_call(self.site, self.track, &[], &[]),
            Some(spec) => match spec.positional_site(self.name, self.at, args, kwargs) {
                // The usual call: the names are the callsite's, only values needed.
                Some(site) => {
                    let args = args.as_slice();
                    let mut typed = [TypedArg {
                        name: "",
                        value: ArgValue::Bool(false),
                    }; MAX_SCALAR_ARGS];
                    if scalar_args(args, site.arg_names(), &mut typed) {
                        seam::begin_call_typed(site, self.track, &typed[..args.len()])
                    } else {
                        let values: Vec<Value> = args.iter().map(live_value).collect();
                        seam::begin_call(site, self.track, site.arg_names(), &values)
                    }
                }
                None => {
                    // Keywords (or too many positionals): names go with the event.
                    let bound = spec.bind(args, kwargs)?;
                    seam::begin_call(self.site, self.track, &bound.names(), &bound.values)
                }
            },
        };
        // The slice ends when `_slice` drops: after a return or a raise alike.
        func.call(args, kwargs).map(Bound::unbind)
    }

    /// Binds to an instance like a function does, so methods can be traced.
    fn __get__(
        slf: &Bound<'_, Self>,
        instance: Option<&Bound<'_, PyAny>>,
        _owner: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        match instance {
            Some(instance) if !instance.is_none() => {
                static METHOD_TYPE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
                let method = METHOD_TYPE.get_or_try_init(py, || {
                    py.import("types")?.getattr("MethodType").map(Bound::unbind)
                })?;
                Ok(method.bind(py).call1((slf, instance))?.unbind())
            }
            _ => Ok(slf.clone().into_any().unbind()),
        }
    }

    fn __repr__(&self) -> String {
        format!("<traced function {}>", self.name)
    }

    /// Lets the garbage collector see the wrapped function, so that a cycle
    /// through it (a traced closure that calls itself) is collected: the
    /// function and its closure cells clear their references.
    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.func)
    }
}

/// What `trace_func(track)` returns: a decorator tracing onto `track`.
#[pyclass(name = "_trace_decorator", module = "tg4perfetto", frozen)]
pub(super) struct TraceDecorator {
    track: &'static Track,
    with_args: bool,
}

#[pymethods]
impl TraceDecorator {
    fn __call__(&self, func: &Bound<'_, PyAny>) -> PyResult<Py<TracedFunction>> {
        TracedFunction::wrap(func, Some(self.track), self.with_args)
    }
}

fn decorate(x: &Bound<'_, PyAny>, with_args: bool) -> PyResult<Py<PyAny>> {
    let py = x.py();
    if let Ok(track) = x.cast::<PyTrack>() {
        return TraceDecorator {
            track: track.get().track,
            with_args,
        }
        .into_py_any(py);
    }
    TracedFunction::wrap(x, None, with_args)?.into_py_any(py)
}

/// `@trace_func` traces each call of a function on the calling thread's track;
/// `@trace_func(track)` on `track`.
#[pyfunction]
pub(super) fn trace_func(x: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
    decorate(x, false)
}

/// As `trace_func`, also recording the call's arguments by parameter name.
#[pyfunction]
pub(super) fn trace_func_args(x: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
    decorate(x, true)
}
