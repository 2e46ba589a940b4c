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
//! thread's call raises `RuntimeError`, see [`owned`]). The file is written by a
//! background thread ([`output`]); `flush()` and `close()` wait for it with the
//! GIL released.

mod output;
mod owned;

use crate::values::{Budget, to_value};
use output::OutputThread;
use owned::{Handle, Object, SliceTrack};
use pyo3::exceptions::{PyOSError, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyInt, PyTuple};
use std::path::PathBuf;
use tg4p::FlowId;
use tg4p::generator::{Extras, GeneratorError};

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
#[pyclass(name = "TraceGenerator", module = "tg4perfetto")]
struct PyTraceGenerator {
    /// The tg4p generator, until `close()`.
    tgen: Option<Handle>,
    output: OutputThread,
}

impl PyTraceGenerator {
    fn with<R>(
        &self,
        f: impl FnOnce(&tg4p::generator::TraceGenerator) -> PyResult<R>,
    ) -> PyResult<R> {
        let Some(handle) = &self.tgen else {
            return Err(error(GeneratorError::Finished));
        };
        handle.with(|object| match object {
            Object::Generator(tgen) => f(tgen),
            _ => unreachable!("a generator's handle names a generator"),
        })
    }
}

fn group(group: tg4p::generator::Group) -> PyGroup {
    PyGroup {
        handle: Handle::new(Object::Group(group)),
    }
}

fn slice_track(track: SliceTrack) -> PyNormalTrack {
    PyNormalTrack {
        handle: Handle::new(Object::Track(track)),
    }
}

fn counter_track(track: tg4p::generator::CounterTrack) -> PyCounterTrack {
    PyCounterTrack {
        handle: Handle::new(Object::Counter(track)),
    }
}

#[pymethods]
impl PyTraceGenerator {
    #[new]
    fn new(filename: PathBuf) -> PyResult<PyTraceGenerator> {
        let (out, output) = output::create(&filename)?;
        let tgen = tg4p::generator::TraceGenerator::new(out);
        Ok(PyTraceGenerator {
            tgen: Some(Handle::new(Object::Generator(tgen))),
            output,
        })
    }

    /// A group, shown as a process named `process_name`; its own events go on a
    /// track named `track_name` (default: on the process's track).
    #[pyo3(signature = (process_name, track_name=None))]
    fn create_group(&self, process_name: &str, track_name: Option<&str>) -> PyResult<PyGroup> {
        let g = self.with(|tgen| {
            Ok(match track_name {
                Some(t) => tgen.create_group_with_track(process_name, t),
                None => tgen.create_group(process_name),
            })
        })?;
        Ok(group(g))
    }

    /// A top-level track of slices and instants.
    fn create_track(&self, track_name: &str) -> PyResult<PyNormalTrack> {
        Ok(slice_track(
            self.with(|tgen| Ok(tgen.create_track(track_name)))?,
        ))
    }

    /// A top-level counter track.
    fn create_counter_track(&self, track_name: &str) -> PyResult<PyCounterTrack> {
        Ok(counter_track(
            self.with(|tgen| Ok(tgen.create_counter_track(track_name)))?,
        ))
    }

    /// Writes out everything buffered and waits for the disk (GIL released).
    fn flush(&self, py: Python<'_>) -> PyResult<()> {
        self.with(|tgen| tgen.flush().map_err(error))?;
        let output = &self.output;
        py.detach(|| output.sync()).map_err(PyErr::from)
    }

    /// Ends the trace: writes everything and closes the file (GIL released while
    /// the disk works). Later calls on its handles raise `RuntimeError`.
    fn close(&mut self, py: Python<'_>) -> PyResult<()> {
        let Some(handle) = &self.tgen else {
            return Ok(()); // closed before
        };
        let Some(Object::Generator(tgen)) = handle.take() else {
            return Err(owned::elsewhere());
        };
        self.tgen = None;
        let finished = tgen.finish().map_err(error);
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
    /// one to go to). Freed on another thread than its own, the generator is
    /// finished when its thread ends, and the file closed then.
    fn drop(&mut self) {
        let Some(handle) = self.tgen.take() else {
            let _ = self.output.close();
            return;
        };
        if let Some(Object::Generator(tgen)) = handle.take() {
            let _ = tgen.finish();
            let _ = self.output.close();
        }
    }
}

/// A group (a process in the trace, or a group nested in one), with its own
/// track for `open` / `close` / `instant`.
#[pyclass(name = "Group", module = "tg4perfetto", frozen)]
struct PyGroup {
    handle: Handle,
}

impl PyGroup {
    fn with<R>(&self, f: impl FnOnce(&tg4p::generator::Group) -> PyResult<R>) -> PyResult<R> {
        self.handle.with(|object| match object {
            Object::Group(g) => f(g),
            _ => unreachable!("a group's handle names a group"),
        })
    }
}

#[pymethods]
impl PyGroup {
    /// A child track named `track_name` (unnamed without one).
    #[pyo3(signature = (track_name=None))]
    fn create_track(&self, track_name: Option<&str>) -> PyResult<PyNormalTrack> {
        Ok(slice_track(self.with(|g| {
            Ok(match track_name {
                Some(name) => g.create_track(name),
                None => g.create_anonymous_track(),
            })
        })?))
    }

    /// A child counter track.
    fn create_counter_track(&self, track_name: &str) -> PyResult<PyCounterTrack> {
        Ok(counter_track(
            self.with(|g| Ok(g.create_counter_track(track_name)))?,
        ))
    }

    /// A nested group named `track_name`.
    fn create_group(&self, track_name: &str) -> PyResult<PyGroup> {
        Ok(group(self.with(|g| Ok(g.create_group(track_name)))?))
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
        let extras = EventExtras::from_py(kwargs, flow)?;
        self.with(|g| open(g.track(), ts, annotation, extras.as_ref()))
    }

    /// Closes the group track's latest open slice at `ts` ns.
    #[pyo3(signature = (ts, flow=None))]
    fn close(&self, ts: u64, flow: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        let extras = EventExtras::from_py(None, flow)?;
        self.with(|g| close(g.track(), ts, extras.as_ref()))
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
        let extras = EventExtras::from_py(kwargs, flow)?;
        self.with(|g| instant(g.track(), ts, annotation, extras.as_ref()))
    }
}

#[inline]
fn open(track: &SliceTrack, ts: u64, name: &str, extras: Option<&EventExtras>) -> PyResult<()> {
    match extras {
        None => track.open(ts, name),
        Some(e) => track.open_with(ts, name, e.extras()),
    }
    .map_err(error)
}

#[inline]
fn close(track: &SliceTrack, ts: u64, extras: Option<&EventExtras>) -> PyResult<()> {
    match extras {
        None => track.close(ts),
        Some(e) => track.close_with(ts, e.extras()),
    }
    .map_err(error)
}

#[inline]
fn instant(track: &SliceTrack, ts: u64, name: &str, extras: Option<&EventExtras>) -> PyResult<()> {
    match extras {
        None => track.instant(ts, name),
        Some(e) => track.instant_with(ts, name, e.extras()),
    }
    .map_err(error)
}

/// A track of slices and instants. Its methods return the track, so calls chain.
#[pyclass(name = "NormalTrack", module = "tg4perfetto", frozen)]
struct PyNormalTrack {
    handle: Handle,
}

impl PyNormalTrack {
    #[inline]
    fn with<R>(&self, f: impl FnOnce(&SliceTrack) -> PyResult<R>) -> PyResult<R> {
        self.handle.with(|object| match object {
            Object::Track(t) => f(t),
            _ => unreachable!("a track's handle names a track"),
        })
    }
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
        let extras = EventExtras::from_py(kwargs, flow)?;
        slf.get()
            .with(|t| open(t, ts, annotation, extras.as_ref()))?;
        Ok(slf.clone())
    }

    /// Closes the latest open slice at `ts` ns; flows `flow` leave from its end.
    #[pyo3(signature = (ts, flow=None))]
    fn close<'py>(
        slf: &Bound<'py, Self>,
        ts: u64,
        flow: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, Self>> {
        let extras = EventExtras::from_py(None, flow)?;
        slf.get().with(|t| close(t, ts, extras.as_ref()))?;
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
        let extras = EventExtras::from_py(kwargs, flow)?;
        slf.get()
            .with(|t| instant(t, ts, annotation, extras.as_ref()))?;
        Ok(slf.clone())
    }
}

/// A counter track: `count(ts, value)` with ints or floats.
#[pyclass(name = "CounterTrack", module = "tg4perfetto", frozen)]
struct PyCounterTrack {
    handle: Handle,
}

/// A counter sample's value from Python.
enum Sample {
    Int(i64),
    Float(f64),
}

#[pymethods]
impl PyCounterTrack {
    /// Records `value` (an int, or a float) at `ts` ns.
    fn count<'py>(
        slf: &Bound<'py, Self>,
        ts: u64,
        value: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, Self>> {
        let sample = if value.is_instance_of::<PyInt>() {
            Sample::Int(value.extract::<i64>()?)
        } else if let Ok(v) = value.extract::<f64>() {
            Sample::Float(v)
        } else {
            return Err(PyTypeError::new_err(format!(
                "a counter value must be an int or a float, got {}",
                value.repr()?
            )));
        };
        slf.get().handle.with(|object| match object {
            Object::Counter(c) => match sample {
                Sample::Int(v) => c.count(ts, v),
                Sample::Float(v) => c.count(ts, v),
            }
            .map_err(error),
            _ => unreachable!("a counter's handle names a counter"),
        })?;
        Ok(slf.clone())
    }
}
