//! No-op classes shaped like the real ones, for the benchmark's floor
//! (`bench/bench.py`): what calling into this module costs before any tracing.
//!
//! `_FloorTrack.open` / `.close` take the arguments of `NormalTrack.open` /
//! `.close` through the same pyo3 machinery (a frozen class, the same signatures,
//! the track returned) and do nothing with them; `_FloorFunction` wraps a function
//! as a traced function does (a frozen class called through vectorcall, with a
//! `__call__` for `tp_call`) and only calls it. Not part of the API.

use pyo3::impl_::trampoline;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};
use pyo3::{Borrowed, ffi};
use std::sync::Once;

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<FloorTrack>()?;
    m.add_class::<FloorFunction>()?;
    Ok(())
}

/// `NormalTrack`'s event methods, doing nothing.
#[pyclass(name = "_FloorTrack", module = "tg4perfetto", frozen)]
struct FloorTrack;

#[pymethods]
impl FloorTrack {
    #[new]
    fn new() -> FloorTrack {
        FloorTrack
    }

    #[pyo3(signature = (ts, annotation, kwargs=None, flow=None))]
    fn open<'py>(
        slf: &Bound<'py, Self>,
        ts: &Bound<'py, PyAny>,
        annotation: &Bound<'py, PyAny>,
        kwargs: Option<&Bound<'py, PyAny>>,
        flow: Option<&Bound<'py, PyAny>>,
    ) -> Bound<'py, Self> {
        let _ = (ts, annotation, kwargs, flow);
        slf.clone()
    }

    #[pyo3(signature = (ts, flow=None))]
    fn close<'py>(
        slf: &Bound<'py, Self>,
        ts: &Bound<'py, PyAny>,
        flow: Option<&Bound<'py, PyAny>>,
    ) -> Bound<'py, Self> {
        let _ = (ts, flow);
        slf.clone()
    }
}

/// A traced function's wrapper, calling the function and nothing else (through
/// vectorcall, as a traced function is called).
#[pyclass(name = "_FloorFunction", module = "tg4perfetto", frozen)]
struct FloorFunction {
    vectorcall: ffi::vectorcallfunc,
    func: Py<PyAny>,
}

/// Calls the wrapped function with the arguments as they came, through pyo3's
/// fastcall trampoline (as `decorators::vectorcall` does).
///
/// # Safety
/// Python calls it with a `_FloorFunction` and the vectorcall protocol's
/// arguments.
unsafe extern "C" fn vectorcall(
    callable: *mut ffi::PyObject,
    args: *const *mut ffi::PyObject,
    nargsf: usize,
    kwnames: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    let call = trampoline::get_trampoline_function!(fastcall_cfunction_with_keywords, call_vector);
    // SAFETY: the caller's arguments, the count without its flag bit.
    unsafe { call(callable, args, ffi::PyVectorcall_NARGS(nargsf), kwnames) }
}

/// # Safety
/// As for [`vectorcall`].
unsafe fn call_vector(
    py: Python<'_>,
    slf: *mut ffi::PyObject,
    args: *const *mut ffi::PyObject,
    nargs: ffi::Py_ssize_t,
    kwnames: *mut ffi::PyObject,
) -> PyResult<*mut ffi::PyObject> {
    // SAFETY: `slf` is a live `_FloorFunction`, the arguments the caller's.
    unsafe {
        let this = Borrowed::from_ptr(py, slf).cast_unchecked::<FloorFunction>();
        let func = this.get().func.as_ptr();
        Bound::from_owned_ptr_or_err(
            py,
            ffi::PyObject_Vectorcall(func, args, nargs as usize, kwnames),
        )
        .map(Bound::into_ptr)
    }
}

#[pymethods]
impl FloorFunction {
    #[new]
    fn new(py: Python<'_>, func: Py<PyAny>) -> PyResult<Py<FloorFunction>> {
        let wrapper = Py::new(py, FloorFunction { vectorcall, func })?;
        static ENABLED: Once = Once::new();
        let bound = wrapper.bind(py);
        crate::vectorcall::enable(bound, &bound.get().vectorcall, &ENABLED);
        Ok(wrapper)
    }

    #[pyo3(signature = (*args, **kwargs))]
    fn __call__(
        &self,
        py: Python<'_>,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Py<PyAny>> {
        self.func.bind(py).call(args, kwargs).map(Bound::unbind)
    }
}
