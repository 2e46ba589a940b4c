//! No-op classes shaped like the real ones, for the benchmark's floor
//! (`bench/bench.py`): what calling into this module costs before any tracing.
//!
//! `_FloorTrack.open` / `.close` take the arguments of `NormalTrack.open` /
//! `.close` through the same pyo3 machinery (a frozen class, the same signatures,
//! the track returned) and do nothing with them; `_FloorFunction` wraps a function
//! as a traced function does (a frozen class whose `__call__` takes `*args,
//! **kwargs`) and only calls it. Not part of the API.

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

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

/// A traced function's wrapper, calling the function and nothing else.
#[pyclass(name = "_FloorFunction", module = "tg4perfetto", frozen)]
struct FloorFunction {
    func: Py<PyAny>,
}

#[pymethods]
impl FloorFunction {
    #[new]
    fn new(func: Py<PyAny>) -> FloorFunction {
        FloorFunction { func }
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
