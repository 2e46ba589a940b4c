//! `trace_func` and `trace_func_args`: traced functions.

use super::args::{Args, MAX_SCALAR_ARGS, live_value, scalar_args};
use super::location::{function_location, function_name};
use super::seam::{self, CallGuard, Location};
use super::threads;
use super::track::PyTrack;
use crate::names::{intern, intern_list};
use pyo3::exceptions::PyTypeError;
use pyo3::gc::PyVisit;
use pyo3::impl_::trampoline;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyTuple};
use pyo3::{Borrowed, IntoPyObjectExt, PyTraverseError, ffi, intern};
use std::sync::{Once, OnceLock};
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

    /// The callsite of a call with `n` positional arguments and no keyword ones, if
    /// each has a parameter (then the names are known without looking at the
    /// values).
    fn positional_site(
        &self,
        name: &'static str,
        at: Location,
        n: usize,
    ) -> Option<&'static Callsite> {
        let cell = self.by_count.get(n)?;
        Some(cell.get_or_init(|| seam::callsite(name, at, intern_list(&self.positional[..n]))))
    }

    /// A call's arguments, named by the parameters they bind to.
    fn bind(
        &self,
        args: &[Bound<'_, PyAny>],
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Args> {
        let n = args.len() + kwargs.map_or(0, |k| k.len());
        let mut out = Args {
            names: Vec::with_capacity(n),
            values: Vec::with_capacity(n),
        };
        let named = args.len().min(self.positional.len());
        for (&name, arg) in self.positional.iter().zip(&args[..named]) {
            out.push(name, arg);
        }
        if let Some(rest) = args.get(named..).filter(|rest| !rest.is_empty()) {
            let py = rest[0].py();
            out.push(self.varargs, PyTuple::new(py, rest)?.as_any());
        }
        out.push_kwargs(kwargs)?;
        Ok(out)
    }
}

/// A traced function: each call is a slice on the calling thread's track (or on
/// its track), named after the function, at the function's source location.
#[pyclass(name = "_traced_function", module = "tg4perfetto", frozen, dict)]
pub(super) struct TracedFunction {
    /// What Python's vectorcall protocol calls ([`vectorcall`]).
    vectorcall: ffi::vectorcallfunc,
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
                vectorcall,
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
        enable_vectorcall(traced.bind(py));
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
    /// A call through `tp_call` (a tuple and a dict; Python's calls take
    /// [`vectorcall`] instead, once a traced function exists).
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
        // The slice ends when `_slice` drops: after a return or a raise alike.
        let _slice = self.slice(py, args.as_slice(), || Ok(kwargs.cloned()))?;
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

impl TracedFunction {
    /// Starts the slice of a call (while recording) with positional arguments
    /// `args` and keyword arguments `kwargs()` (made only if recorded).
    #[inline]
    fn slice<'py>(
        &self,
        py: Python<'py>,
        args: &[Bound<'py, PyAny>],
        kwargs: impl FnOnce() -> PyResult<Option<Bound<'py, PyDict>>>,
    ) -> PyResult<CallGuard> {
        threads::ensure_named(py);
        let Some(spec) = &self.args else {
            return Ok(seam::begin_call(self.site, self.track, &[], &[]));
        };
        let kwargs = kwargs()?.filter(|k| !k.is_empty());
        if kwargs.is_none()
            && let Some(site) = spec.positional_site(self.name, self.at, args.len())
        {
            // The usual call: the names are the callsite's, only values needed.
            let mut typed = [TypedArg {
                name: "",
                value: ArgValue::Bool(false),
            }; MAX_SCALAR_ARGS];
            if scalar_args(args, site.arg_names(), &mut typed) {
                return Ok(seam::begin_call_typed(
                    site,
                    self.track,
                    &typed[..args.len()],
                ));
            }
            let values: Vec<Value> = args.iter().map(live_value).collect();
            return Ok(seam::begin_call(
                site,
                self.track,
                site.arg_names(),
                &values,
            ));
        }
        // Keywords (or too many positionals): names go with the event.
        let bound = spec.bind(args, kwargs.as_ref())?;
        Ok(seam::begin_call(
            self.site,
            self.track,
            &bound.names(),
            &bound.values,
        ))
    }
}

/// Python's vectorcall entry of a traced function: the arguments as the caller
/// has them (no tuple, no dict made for them), passed on to the function as they
/// came. Through pyo3's own trampoline for fastcall methods (`pyo3::impl_`,
/// hidden but public): it marks the thread attached and turns a panic into an
/// exception, as for every pyo3 method.
///
/// # Safety
/// Python calls it with a `_traced_function` (only that type has it, see
/// [`enable_vectorcall`]) and the vectorcall protocol's arguments.
unsafe extern "C" fn vectorcall(
    callable: *mut ffi::PyObject,
    args: *const *mut ffi::PyObject,
    nargsf: usize,
    kwnames: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    let call = trampoline::get_trampoline_function!(fastcall_cfunction_with_keywords, call_vector);
    // SAFETY: the caller's arguments, the count without its flag bit (the
    // function is then called without `PY_VECTORCALL_ARGUMENTS_OFFSET`).
    unsafe { call(callable, args, ffi::PyVectorcall_NARGS(nargsf), kwnames) }
}

/// The body of [`vectorcall`], attached.
///
/// # Safety
/// As for [`vectorcall`]: `slf` a `_traced_function`, `args` its `nargs`
/// positional arguments followed by one value per name in `kwnames` (a tuple, or
/// null), all borrowed for the call.
unsafe fn call_vector(
    py: Python<'_>,
    slf: *mut ffi::PyObject,
    args: *const *mut ffi::PyObject,
    nargs: ffi::Py_ssize_t,
    kwnames: *mut ffi::PyObject,
) -> PyResult<*mut ffi::PyObject> {
    // SAFETY: `slf` is a live `_traced_function` (the caller's promise).
    let this = unsafe { Borrowed::from_ptr(py, slf).cast_unchecked::<TracedFunction>() };
    let this = this.get();
    let func = this.func.bind(py);
    // SAFETY: the caller's arguments, passed on as they came.
    let call = || unsafe {
        Bound::from_owned_ptr_or_err(
            py,
            ffi::PyObject_Vectorcall(func.as_ptr(), args, nargs as usize, kwnames),
        )
        .map(Bound::into_ptr)
    };
    if !seam::recording() {
        return call();
    }
    let nargs = nargs as usize;
    // SAFETY: a keyword-name tuple or null (the protocol).
    let kwnames = unsafe { Borrowed::from_ptr_or_opt(py, kwnames) }
        .map(|k| unsafe { k.cast_unchecked::<PyTuple>() });
    let nkw = kwnames.map_or(0, |k| k.len());
    let all: &[Bound<'_, PyAny>] = if args.is_null() {
        &[]
    } else {
        // SAFETY: `args` holds `nargs + nkw` live objects for the call (the
        // protocol), and `Bound<PyAny>` is a transparent non-null object pointer
        // (`#[repr(transparent)]`, as pyo3's own `PyTuple::as_slice` reads a tuple).
        unsafe { std::slice::from_raw_parts(args.cast::<Bound<'_, PyAny>>(), nargs + nkw) }
    };
    let (positional, keyword_values) = all.split_at(nargs);
    let kwargs = || -> PyResult<Option<Bound<'_, PyDict>>> {
        let Some(names) = kwnames else {
            return Ok(None);
        };
        let dict = PyDict::new(py);
        for (name, value) in names.iter().zip(keyword_values) {
            dict.set_item(name, value)?;
        }
        Ok(Some(dict))
    };
    // The slice ends when `_slice` drops: after a return or a raise alike.
    let _slice = this.slice(py, positional, kwargs)?;
    call()
}

/// Lets Python call traced functions through [`vectorcall`] (see
/// [`crate::vectorcall`]).
fn enable_vectorcall(traced: &Bound<'_, TracedFunction>) {
    static ENABLED: Once = Once::new();
    crate::vectorcall::enable(traced, &traced.get().vectorcall, &ENABLED);
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
