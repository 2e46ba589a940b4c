//! Counters: `count(name)` with `count`/`set`, `increment`, `decrement`.

use super::seam;
use super::threads;
use crate::names::intern;
use pyo3::IntoPyObjectExt;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::PyInt;
use std::collections::HashMap;
use std::sync::Mutex;
use tg4p::Counter;

/// A counter value as Python has it: int stays int until a float joins in.
#[derive(Clone, Copy, Debug)]
enum Number {
    Int(i64),
    Float(f64),
}

impl Number {
    fn from_py(v: &Bound<'_, PyAny>) -> PyResult<Number> {
        if v.is_instance_of::<PyInt>() {
            return Ok(Number::Int(v.extract()?));
        }
        match v.extract::<f64>() {
            Ok(f) => Ok(Number::Float(f)),
            Err(_) => Err(PyTypeError::new_err(format!(
                "a counter value must be an int or a float, got {}",
                v.repr()?
            ))),
        }
    }

    fn add(self, other: Number) -> PyResult<Number> {
        Ok(match (self, other) {
            (Number::Int(a), Number::Int(b)) => Number::Int(a.checked_add(b).ok_or_else(|| {
                pyo3::exceptions::PyOverflowError::new_err("counter value out of the 64-bit range")
            })?),
            (Number::Int(a), Number::Float(b)) => Number::Float(a as f64 + b),
            (Number::Float(a), Number::Int(b)) => Number::Float(a + b as f64),
            (Number::Float(a), Number::Float(b)) => Number::Float(a + b),
        })
    }
}

/// One counter track per name, with the value its updates share.
struct CounterState {
    counter: &'static Counter,
    value: Mutex<Number>,
}

impl CounterState {
    fn named(name: &str) -> &'static CounterState {
        static COUNTERS: Mutex<Option<HashMap<&'static str, &'static CounterState>>> =
            Mutex::new(None);
        let name = intern(name);
        let mut counters = COUNTERS.lock().unwrap_or_else(|p| p.into_inner());
        counters
            .get_or_insert_with(HashMap::new)
            .entry(name)
            .or_insert_with(|| {
                Box::leak(Box::new(CounterState {
                    counter: Box::leak(Box::new(Counter::new(name))),
                    value: Mutex::new(Number::Int(0)),
                }))
            })
    }

    /// Sets the value to `f(value)` and records it (under the lock, so that the
    /// samples' order is the values' order).
    fn update(&self, py: Python<'_>, f: impl FnOnce(Number) -> PyResult<Number>) -> PyResult<()> {
        if seam::recording() {
            // A sample may be this thread's first event: name it first.
            threads::ensure_named(py);
        }
        let mut value = self.value.lock().unwrap_or_else(|p| p.into_inner());
        *value = f(*value)?;
        match *value {
            Number::Int(v) => self.counter.set(v),
            Number::Float(v) => self.counter.set(v),
        }
        Ok(())
    }
}

/// A counter: `count("num_active_threads").increment(1)`. Every `count` of one
/// name draws on one counter track and shares its value.
#[pyclass(name = "count", module = "tg4perfetto", frozen)]
pub(super) struct PyCount {
    state: &'static CounterState,
}

#[pymethods]
impl PyCount {
    #[new]
    fn new(name: &str) -> PyCount {
        PyCount {
            state: CounterState::named(name),
        }
    }

    /// Sets the value (an int or a float) and records it.
    fn count(&self, py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let v = Number::from_py(value)?;
        self.state.update(py, |_| Ok(v))
    }

    /// Same as `count(value)`.
    fn set(&self, py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<()> {
        self.count(py, value)
    }

    /// Adds `value` (negative to decrease) and records the result.
    #[pyo3(signature = (value=None))]
    fn increment(&self, py: Python<'_>, value: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        let d = value.map_or(Ok(Number::Int(1)), Number::from_py)?;
        self.state.update(py, |v| v.add(d))
    }

    /// Subtracts `value` and records the result.
    #[pyo3(signature = (value=None))]
    fn decrement(&self, py: Python<'_>, value: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        let d = match value.map_or(Ok(Number::Int(1)), Number::from_py)? {
            Number::Int(i) => Number::Int(i.checked_neg().ok_or_else(|| {
                pyo3::exceptions::PyOverflowError::new_err("counter value out of the 64-bit range")
            })?),
            Number::Float(f) => Number::Float(-f),
        };
        self.state.update(py, |v| v.add(d))
    }

    /// The current value.
    #[getter]
    fn value(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        match *self.state.value.lock().unwrap_or_else(|p| p.into_inner()) {
            Number::Int(v) => v.into_py_any(py),
            Number::Float(v) => v.into_py_any(py),
        }
    }

    /// The counter's name.
    #[getter]
    fn name(&self) -> &'static str {
        self.state.counter.name()
    }
}
