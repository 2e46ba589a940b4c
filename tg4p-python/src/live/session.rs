//! Sessions: `open(path)` as a context manager and `stop()`.

use pyo3::exceptions::{PyOSError, PyRuntimeError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};
use std::path::PathBuf;
use std::sync::Mutex;
use tg4p::{Session, SessionError};

/// The session `open` started, until its block ends or `stop()`.
static SESSION: Mutex<Option<Session>> = Mutex::new(None);

fn session_error(e: SessionError) -> PyErr {
    match e {
        SessionError::AlreadyOpen => PyRuntimeError::new_err(e.to_string()),
        SessionError::Create { source, .. } | SessionError::Write { source, .. } => {
            PyOSError::new_err(source.to_string())
        }
        other => PyRuntimeError::new_err(other.to_string()),
    }
}

/// Finishes the open session (the GIL released meanwhile); its report as a dict.
fn finish(py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
    let session = SESSION.lock().unwrap_or_else(|p| p.into_inner()).take();
    let Some(session) = session else {
        return Ok(None);
    };
    let report = py.detach(|| session.finish()).map_err(session_error)?;
    let d = PyDict::new(py);
    d.set_item("path", report.path.to_string_lossy())?;
    d.set_item("events_written", report.events_written)?;
    d.set_item("events_dropped", report.events_dropped)?;
    d.set_item("values_dropped", report.values_dropped)?;
    Ok(Some(d.into_any().unbind()))
}

/// `with tg4perfetto.open(path):` records everything traced in the block into
/// the Perfetto trace file `path`.
#[pyclass(name = "_open", module = "tg4perfetto", frozen)]
pub(super) struct Opener {
    path: PathBuf,
}

#[pymethods]
impl Opener {
    fn __enter__(&self) -> PyResult<()> {
        let mut active = SESSION.lock().unwrap_or_else(|p| p.into_inner());
        if active.is_some() {
            return Err(PyRuntimeError::new_err(
                "a trace is already open: nested open is not allowed",
            ));
        }
        *active = Some(tg4p::open(&self.path).map_err(session_error)?);
        Ok(())
    }

    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, py: Python<'_>, _exc: &Bound<'_, PyTuple>) -> PyResult<bool> {
        finish(py)?;
        Ok(false)
    }
}

/// Opens the trace file `filename` for the `with` block that uses the result.
#[pyfunction]
pub(super) fn open(filename: PathBuf) -> Opener {
    Opener { path: filename }
}

/// Stops the open trace (as the end of its `with open(..)` block does) and returns
/// what was written: `{"path", "events_written", "events_dropped",
/// "values_dropped"}`, or `None` if no trace was open.
#[pyfunction]
pub(super) fn stop(py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
    finish(py)
}
