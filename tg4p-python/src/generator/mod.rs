//! `TraceGenerator` and its handles (`Group`, `NormalTrack`, `CounterTrack`), the
//! original's generator API on tg4p's generator.
//!
//! Every call writes one event with an explicit timestamp (ns). Differences from
//! the original, all deliberate:
//! - arguments are typed and nested exactly (lists in lists included), see
//!   [`crate::values`];
//! - a group's `create_track()` without a name makes an unnamed track;
//! - errors are raised: `ValueError` for a timestamp before the track's previous
//!   one, a `close` without an open slice, arguments that are not a dict or nest
//!   too deep; `OSError` for the file; `RuntimeError` after `close()`.
//!
//! tg4p's generator and its handles share state through `Rc`: like it, a
//! `TraceGenerator` and its handles belong to the thread that created them (another
//! thread's call raises). The file is written by a background thread
//! ([`output`]); `flush()` and `close()` wait for it with the GIL released.

mod output;

use crate::values::{Budget, to_value};
use output::OutputThread;
use pyo3::exceptions::{PyOSError, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyInt, PyTuple};
use std::path::PathBuf;
use tg4p::FlowId;
use tg4p::generator::{CounterTrack, Extras, GeneratorError, Group};

/// The generator's slice track type (named `SliceTrack` once the facade renames it).
type SliceTrack = tg4p::generator::Track;

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyTraceGenerator>()?;
    m.add_class::<PyGroup>()?;
    m.add_class::<PyNormalTrack>()?;
    m.add_class::<PyCounterTrack>()?;
    Ok(())
}

fn error(e: GeneratorError) -> PyErr {
    match e {
        GeneratorError::Io(e) => PyErr::from(e),
        GeneratorError::Stopped => PyOSError::new_err(e.to_string()),
        GeneratorError::Finished => PyRuntimeError::new_err(e.to_string()),
        other => PyValueError::new_err(other.to_string()),
    }
}

/// The optional parts of an event, from Python: `kwargs` (a dict of arguments)
/// and `flow` (flow ids, continued by this event).
struct EventExtras {
    args: Option<tg4p::Value>,
    flows: Vec<FlowId>,
}

impl EventExtras {
    fn from_py(
        kwargs: Option<&Bound<'_, PyAny>>,
        flow: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Option<EventExtras>> {
        let kwargs = kwargs.filter(|k| !k.is_none());
        let flow = flow.filter(|f| !f.is_none());
        if kwargs.is_none() && flow.is_none() {
            return Ok(None);
        }
        let args = kwargs
            .map(|k| to_value(k, &mut Budget::exact()))
            .transpose()?;
        let flows = match flow {
            Some(f) => f
                .try_iter()?
                .map(|id| Ok(FlowId::from_raw(id?.extract::<u64>()?)))
                .collect::<PyResult<Vec<_>>>()?,
            None => Vec::new(),
        };
        Ok(Some(EventExtras { args, flows }))
    }

    fn extras(&self) -> Extras<'_> {
        let extras = Extras::new().flows(&self.flows);
        match &self.args {
            Some(args) => extras.args(args),
            None => extras,
        }
    }
}

/// Writes a Perfetto trace from events with explicit timestamps:
/// `TraceGenerator(filename)`. Usable as a context manager; `close()` ends the
/// trace (so does dropping the last reference to it).
#[pyclass(name = "TraceGenerator", module = "tg4perfetto", unsendable)]
struct PyTraceGenerator {
    tgen: Option<tg4p::generator::TraceGenerator>,
    output: OutputThread,
}

impl PyTraceGenerator {
    fn tgen(&self) -> PyResult<&tg4p::generator::TraceGenerator> {
        self.tgen
            .as_ref()
            .ok_or_else(|| error(GeneratorError::Finished))
    }
}

#[pymethods]
impl PyTraceGenerator {
    #[new]
    fn new(filename: PathBuf) -> PyResult<PyTraceGenerator> {
        let (out, output) = output::create(&filename)?;
        Ok(PyTraceGenerator {
            tgen: Some(tg4p::generator::TraceGenerator::new(out)),
            output,
        })
    }

    /// A group, shown as a process named `process_name`; its own events go on a
    /// track named `track_name` (default: on the process's track).
    #[pyo3(signature = (process_name, track_name=None))]
    fn create_group(&self, process_name: &str, track_name: Option<&str>) -> PyResult<PyGroup> {
        let tgen = self.tgen()?;
        Ok(PyGroup {
            group: match track_name {
                Some(t) => tgen.create_group_with_track(process_name, t),
                None => tgen.create_group(process_name),
            },
        })
    }

    /// A top-level track of slices and instants.
    fn create_track(&self, track_name: &str) -> PyResult<PyNormalTrack> {
        Ok(PyNormalTrack {
            track: self.tgen()?.create_track(track_name),
        })
    }

    /// A top-level counter track.
    fn create_counter_track(&self, track_name: &str) -> PyResult<PyCounterTrack> {
        Ok(PyCounterTrack {
            track: self.tgen()?.create_counter_track(track_name),
        })
    }

    /// Writes out everything buffered and waits for the disk (GIL released).
    fn flush(&self, py: Python<'_>) -> PyResult<()> {
        self.tgen()?.flush().map_err(error)?;
        let output = &self.output;
        // SAFETY-free: the closure only touches the output thread's channel.
        py.detach(|| output.sync()).map_err(PyErr::from)
    }

    /// Ends the trace: writes everything and closes the file (GIL released while
    /// the disk works). Later calls on its handles raise `RuntimeError`.
    fn close(&mut self, py: Python<'_>) -> PyResult<()> {
        let finished = match self.tgen.take() {
            Some(tgen) => tgen.finish().map_err(error),
            None => Ok(()),
        };
        let output = &mut self.output;
        let closed = py.detach(|| output.close()).map_err(PyErr::from);
        finished.and(closed)
    }

    fn __enter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    #[pyo3(signature = (*_exc))]
    fn __exit__(&mut self, py: Python<'_>, _exc: &Bound<'_, PyTuple>) -> PyResult<bool> {
        self.close(py)?;
        Ok(false)
    }
}

impl Drop for PyTraceGenerator {
    /// Finishes the trace, as the original's `__del__` flushes it (errors have no
    /// one to go to).
    fn drop(&mut self) {
        if let Some(tgen) = self.tgen.take() {
            let _ = tgen.finish();
        }
        let _ = self.output.close();
    }
}

/// A group (a process in the trace, or a group nested in one), with its own
/// track for `open` / `close` / `instant`.
#[pyclass(name = "Group", module = "tg4perfetto", unsendable, frozen)]
struct PyGroup {
    group: Group,
}

#[pymethods]
impl PyGroup {
    /// A child track named `track_name` (unnamed without one).
    #[pyo3(signature = (track_name=None))]
    fn create_track(&self, track_name: Option<&str>) -> PyNormalTrack {
        PyNormalTrack {
            track: match track_name {
                Some(name) => self.group.create_track(name),
                None => self.group.create_anonymous_track(),
            },
        }
    }

    /// A child counter track.
    fn create_counter_track(&self, track_name: &str) -> PyCounterTrack {
        PyCounterTrack {
            track: self.group.create_counter_track(track_name),
        }
    }

    /// A nested group named `track_name`.
    fn create_group(&self, track_name: &str) -> PyGroup {
        PyGroup {
            group: self.group.create_group(track_name),
        }
    }

    /// Opens a slice at `ts` ns on the group's track.
    #[pyo3(signature = (ts, annotation, kwargs=None, flow=None))]
    fn open(
        &self,
        ts: u64,
        annotation: &str,
        kwargs: Option<&Bound<'_, PyAny>>,
        flow: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        open(self.group.track(), ts, annotation, kwargs, flow)
    }

    /// Closes the group track's latest open slice at `ts` ns.
    #[pyo3(signature = (ts, flow=None))]
    fn close(&self, ts: u64, flow: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        close(self.group.track(), ts, flow)
    }

    /// An instant at `ts` ns on the group's track.
    #[pyo3(signature = (ts, annotation, kwargs=None, flow=None))]
    fn instant(
        &self,
        ts: u64,
        annotation: &str,
        kwargs: Option<&Bound<'_, PyAny>>,
        flow: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        instant(self.group.track(), ts, annotation, kwargs, flow)
    }
}

#[inline]
fn open(
    track: &SliceTrack,
    ts: u64,
    name: &str,
    kwargs: Option<&Bound<'_, PyAny>>,
    flow: Option<&Bound<'_, PyAny>>,
) -> PyResult<()> {
    match EventExtras::from_py(kwargs, flow)? {
        None => track.open(ts, name),
        Some(e) => track.open_with(ts, name, e.extras()),
    }
    .map_err(error)
}

#[inline]
fn close(track: &SliceTrack, ts: u64, flow: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
    match EventExtras::from_py(None, flow)? {
        None => track.close(ts),
        Some(e) => track.close_with(ts, e.extras()),
    }
    .map_err(error)
}

#[inline]
fn instant(
    track: &SliceTrack,
    ts: u64,
    name: &str,
    kwargs: Option<&Bound<'_, PyAny>>,
    flow: Option<&Bound<'_, PyAny>>,
) -> PyResult<()> {
    match EventExtras::from_py(kwargs, flow)? {
        None => track.instant(ts, name),
        Some(e) => track.instant_with(ts, name, e.extras()),
    }
    .map_err(error)
}

/// A track of slices and instants. Its methods return the track, so calls chain.
#[pyclass(name = "NormalTrack", module = "tg4perfetto", unsendable, frozen)]
struct PyNormalTrack {
    track: SliceTrack,
}

#[pymethods]
impl PyNormalTrack {
    /// Opens a slice named `annotation` at `ts` ns, with arguments `kwargs` (a
    /// dict) and flows `flow` (ids) if given.
    #[pyo3(signature = (ts, annotation, kwargs=None, flow=None))]
    fn open<'py>(
        slf: &Bound<'py, Self>,
        ts: u64,
        annotation: &str,
        kwargs: Option<&Bound<'py, PyAny>>,
        flow: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, Self>> {
        open(&slf.borrow().track, ts, annotation, kwargs, flow)?;
        Ok(slf.clone())
    }

    /// Closes the latest open slice at `ts` ns; flows `flow` leave from its end.
    #[pyo3(signature = (ts, flow=None))]
    fn close<'py>(
        slf: &Bound<'py, Self>,
        ts: u64,
        flow: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, Self>> {
        close(&slf.borrow().track, ts, flow)?;
        Ok(slf.clone())
    }

    /// An instant event named `annotation` at `ts` ns.
    #[pyo3(signature = (ts, annotation, kwargs=None, flow=None))]
    fn instant<'py>(
        slf: &Bound<'py, Self>,
        ts: u64,
        annotation: &str,
        kwargs: Option<&Bound<'py, PyAny>>,
        flow: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, Self>> {
        instant(&slf.borrow().track, ts, annotation, kwargs, flow)?;
        Ok(slf.clone())
    }
}

/// A counter track: `count(ts, value)` with ints or floats.
#[pyclass(name = "CounterTrack", module = "tg4perfetto", unsendable, frozen)]
struct PyCounterTrack {
    track: CounterTrack,
}

#[pymethods]
impl PyCounterTrack {
    /// Records `value` (an int, or a float) at `ts` ns.
    fn count<'py>(
        slf: &Bound<'py, Self>,
        ts: u64,
        value: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, Self>> {
        let track = &slf.borrow().track;
        if value.is_instance_of::<PyInt>() {
            track.count(ts, value.extract::<i64>()?)
        } else if let Ok(v) = value.extract::<f64>() {
            track.count(ts, v)
        } else {
            return Err(PyTypeError::new_err(format!(
                "a counter value must be an int or a float, got {}",
                value.repr()?
            )));
        }
        .map_err(error)?;
        Ok(slf.clone())
    }
}
