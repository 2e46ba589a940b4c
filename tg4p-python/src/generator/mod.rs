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
//!
//! # Per event
//! An event without arguments or flows costs a check of the calling thread (two
//! integers compared), the timestamp's conversion and tg4p's encoding; its name is
//! found by the Python string object itself ([`NameCache`]: the same literal
//! arrives on every call), without reading or hashing its text.

mod output;
mod owned;

use crate::values::{Budget, to_value};
use output::OutputThread;
use owned::Owned;
use pyo3::exceptions::{PyOSError, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyInt, PyString, PyTuple};
use std::cell::{Cell, RefCell};
use std::path::PathBuf;
use tg4p::FlowId;
use tg4p::generator::{
    CounterTrack, Extras, GeneratorError, Group, NameId, SliceTrack, TraceGenerator,
};

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
    /// `None` if there are none (`None` or left out).
    #[inline]
    fn from_py(
        kwargs: Option<&Bound<'_, PyAny>>,
        flow: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Option<EventExtras>> {
        let kwargs = kwargs.filter(|k| !k.is_none());
        let flow = flow.filter(|f| !f.is_none());
        if kwargs.is_none() && flow.is_none() {
            return Ok(None);
        }
        Self::convert(kwargs, flow).map(Some)
    }

    #[inline(never)]
    fn convert(
        kwargs: Option<&Bound<'_, PyAny>>,
        flow: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<EventExtras> {
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
        Ok(EventExtras { args, flows })
    }

    fn extras(&self) -> Extras<'_> {
        let extras = Extras::new().flows(&self.flows);
        match &self.args {
            Some(args) => extras.args(args),
            None => extras,
        }
    }
}

/// A timestamp from Python: an `int` in `0..2**64` (pyo3's conversion, with its
/// errors, for anything else).
#[inline]
fn timestamp(ts: &Bound<'_, PyAny>) -> PyResult<u64> {
    if ts.is_exact_instance_of::<PyInt>() {
        // SAFETY: `ts` is a live `int` (its exact type checked) and the thread is
        // attached (`ts` is bound to it); the call only reads it.
        let v = unsafe { ffi::PyLong_AsUnsignedLongLong(ts.as_ptr()) };
        if v != u64::MAX {
            return Ok(v);
        }
        // An error (negative, too big) or 2**64 - 1 itself: pyo3's conversion
        // below raises the error again, or returns it.
        drop(PyErr::take(ts.py()));
    }
    slow_timestamp(ts)
}

#[cold]
#[inline(never)]
fn slow_timestamp(ts: &Bound<'_, PyAny>) -> PyResult<u64> {
    ts.extract::<u64>().inspect_err(|e| {
        let _ = e
            .value(ts.py())
            .call_method1("add_note", ("while processing 'ts'",));
    })
}

/// The event names a track saw last, by Python string object: a hit is a pointer
/// comparison, then tg4p names the event by its [`NameId`] without reading the
/// text. Each entry holds its string (so its address is not reused by another
/// while cached), exact `str`s only (immutable, freed without running Python
/// code).
struct NameCache {
    entries: RefCell<[Option<NameEntry>; NAME_CACHE]>,
    /// The entry replaced next.
    next: Cell<usize>,
}

/// A string a [`NameCache`] holds and the name it stands for.
type NameEntry = (Py<PyString>, NameId);

/// Names a [`NameCache`] holds.
const NAME_CACHE: usize = 4;

impl NameCache {
    fn new() -> NameCache {
        NameCache {
            entries: RefCell::new([const { None }; NAME_CACHE]),
            next: Cell::new(0),
        }
    }

    #[inline]
    fn find(&self, name: &Bound<'_, PyString>) -> Option<NameId> {
        let entries = self.entries.try_borrow().ok()?;
        entries
            .iter()
            .flatten()
            .find(|(s, _)| s.as_ptr() == name.as_ptr())
            .map(|&(_, id)| id)
    }

    /// Remembers `name` after an event of `track` was named by it.
    #[cold]
    fn remember(&self, track: &SliceTrack, name: &Bound<'_, PyString>, text: &str) {
        if !name.is_exact_instance_of::<PyString>() {
            return;
        }
        let Some(id) = track.name_id(text) else {
            return;
        };
        let Ok(mut entries) = self.entries.try_borrow_mut() else {
            return;
        };
        let i = self.next.get();
        self.next.set((i + 1) % NAME_CACHE);
        let old = entries[i].replace((name.clone().unbind(), id));
        drop(entries);
        drop(old);
    }
}

/// A slice track with its [`NameCache`].
struct Slices {
    track: SliceTrack,
    names: NameCache,
}

/// What a named event of a slice track is.
#[derive(Clone, Copy)]
enum Named {
    Open,
    Instant,
}

impl Slices {
    fn new(track: SliceTrack) -> Slices {
        Slices {
            track,
            names: NameCache::new(),
        }
    }

    /// Writes a slice begin or an instant (`kind`) named `name` at `ts`: by the
    /// name's id when this str object was seen before, by its text otherwise.
    #[inline]
    fn named_event(
        &self,
        kind: Named,
        ts: u64,
        name: &Bound<'_, PyString>,
        extras: Option<&EventExtras>,
    ) -> PyResult<()> {
        let track = &self.track;
        if extras.is_none()
            && let Some(id) = self.names.find(name)
        {
            return match kind {
                Named::Open => track.open_id(ts, id),
                Named::Instant => track.instant_id(ts, id),
            }
            .map_err(error);
        }
        let text = name.to_str()?;
        match (extras, kind) {
            (None, _) => {
                match kind {
                    Named::Open => track.open(ts, text),
                    Named::Instant => track.instant(ts, text),
                }
                .map_err(error)?;
                self.names.remember(track, name, text);
                Ok(())
            }
            (Some(e), Named::Open) => track.open_with(ts, text, e.extras()).map_err(error),
            (Some(e), Named::Instant) => track.instant_with(ts, text, e.extras()).map_err(error),
        }
    }

    #[inline]
    fn open(
        &self,
        ts: u64,
        name: &Bound<'_, PyString>,
        extras: Option<&EventExtras>,
    ) -> PyResult<()> {
        self.named_event(Named::Open, ts, name, extras)
    }

    #[inline]
    fn close(&self, ts: u64, extras: Option<&EventExtras>) -> PyResult<()> {
        match extras {
            None => self.track.close(ts),
            Some(e) => self.track.close_with(ts, e.extras()),
        }
        .map_err(error)
    }

    #[inline]
    fn instant(
        &self,
        ts: u64,
        name: &Bound<'_, PyString>,
        extras: Option<&EventExtras>,
    ) -> PyResult<()> {
        self.named_event(Named::Instant, ts, name, extras)
    }
}

/// A tg4p generator and the thread writing its file.
struct Generator {
    tgen: Option<TraceGenerator>,
    output: OutputThread,
}

impl Generator {
    /// Finishes the trace and closes the file, waiting for the disk with the GIL
    /// released.
    fn finish(mut self, py: Python<'_>) -> PyResult<()> {
        let finished = match self.tgen.take() {
            Some(tgen) => tgen.finish().map_err(error),
            None => Ok(()),
        };
        let output = &mut self.output;
        let closed = py.detach(|| output.close());
        finished.and(closed.map_err(PyErr::from))
    }
}

impl Drop for Generator {
    /// Finishes the trace if [`Generator::finish`] did not (errors have no one to
    /// go to).
    fn drop(&mut self) {
        if let Some(tgen) = self.tgen.take() {
            let _ = tgen.finish();
        }
        let _ = self.output.close();
    }
}

/// Writes a Perfetto trace from events with explicit timestamps:
/// `TraceGenerator(filename)`. Usable as a context manager; `close()` ends the
/// trace (so does dropping the last reference to it, as the original's `__del__`
/// flushes it; freed on another thread than its own, the trace is finished by its
/// own thread, see [`owned`]).
#[pyclass(name = "TraceGenerator", module = "tg4perfetto")]
struct PyTraceGenerator {
    /// The generator, until `close()`.
    inner: Option<Owned<Generator>>,
}

impl PyTraceGenerator {
    fn generator(&self, py: Python<'_>) -> PyResult<&Generator> {
        match &self.inner {
            Some(inner) => inner.get(py),
            None => Err(error(GeneratorError::Finished)),
        }
    }

    fn with<R>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&TraceGenerator) -> PyResult<R>,
    ) -> PyResult<R> {
        match &self.generator(py)?.tgen {
            Some(tgen) => f(tgen),
            None => Err(error(GeneratorError::Finished)),
        }
    }
}

fn group(py: Python<'_>, group: Group) -> PyGroup {
    let events = Slices::new(group.track().clone());
    PyGroup {
        inner: Owned::new(py, (group, events)),
    }
}

fn slice_track(py: Python<'_>, track: SliceTrack) -> PyNormalTrack {
    PyNormalTrack {
        inner: Owned::new(py, Slices::new(track)),
    }
}

fn counter_track(py: Python<'_>, track: CounterTrack) -> PyCounterTrack {
    PyCounterTrack {
        inner: Owned::new(py, track),
    }
}

#[pymethods]
impl PyTraceGenerator {
    #[new]
    fn new(py: Python<'_>, filename: PathBuf) -> PyResult<PyTraceGenerator> {
        let (mut out, output) = output::create(&filename)?;
        let generator = Generator {
            tgen: Some(TraceGenerator::with_chunks(move |chunk| out.send(chunk))),
            output,
        };
        Ok(PyTraceGenerator {
            inner: Some(Owned::new(py, generator)),
        })
    }

    /// A group, shown as a process named `process_name`; its own events go on a
    /// track named `track_name` (default: on the process's track).
    #[pyo3(signature = (process_name, track_name=None))]
    fn create_group(
        &self,
        py: Python<'_>,
        process_name: &str,
        track_name: Option<&str>,
    ) -> PyResult<PyGroup> {
        let g = self.with(py, |tgen| {
            Ok(match track_name {
                Some(t) => tgen.create_group_with_track(process_name, t),
                None => tgen.create_group(process_name),
            })
        })?;
        Ok(group(py, g))
    }

    /// A top-level track of slices and instants.
    fn create_track(&self, py: Python<'_>, track_name: &str) -> PyResult<PyNormalTrack> {
        let track = self.with(py, |tgen| Ok(tgen.create_track(track_name)))?;
        Ok(slice_track(py, track))
    }

    /// A top-level counter track.
    fn create_counter_track(&self, py: Python<'_>, track_name: &str) -> PyResult<PyCounterTrack> {
        let track = self.with(py, |tgen| Ok(tgen.create_counter_track(track_name)))?;
        Ok(counter_track(py, track))
    }

    /// Writes out everything buffered and waits for the disk (GIL released).
    fn flush(&self, py: Python<'_>) -> PyResult<()> {
        self.with(py, |tgen| tgen.flush().map_err(error))?;
        owned::reap_here(py);
        let output = &self.generator(py)?.output;
        py.detach(|| output.sync()).map_err(PyErr::from)
    }

    /// Ends the trace: writes everything and closes the file (GIL released while
    /// the disk works). Later calls on its handles raise `RuntimeError`.
    fn close(&mut self, py: Python<'_>) -> PyResult<()> {
        let Some(inner) = self.inner.take() else {
            return Ok(()); // closed before
        };
        let generator = match inner.into_inner(py) {
            Ok(generator) => generator,
            Err((e, inner)) => {
                self.inner = Some(inner);
                return Err(e);
            }
        };
        owned::reap_here(py);
        generator.finish(py)
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

/// A group (a process in the trace, or a group nested in one), with its own
/// track for `open` / `close` / `instant`.
#[pyclass(name = "Group", module = "tg4perfetto", frozen)]
struct PyGroup {
    /// The group, and its own track's events.
    inner: Owned<(Group, Slices)>,
}

#[pymethods]
impl PyGroup {
    /// A child track named `track_name` (unnamed without one).
    #[pyo3(signature = (track_name=None))]
    fn create_track(&self, py: Python<'_>, track_name: Option<&str>) -> PyResult<PyNormalTrack> {
        let (g, _) = self.inner.get(py)?;
        let track = match track_name {
            Some(name) => g.create_track(name),
            None => g.create_anonymous_track(),
        };
        Ok(slice_track(py, track))
    }

    /// A child counter track.
    fn create_counter_track(&self, py: Python<'_>, track_name: &str) -> PyResult<PyCounterTrack> {
        let (g, _) = self.inner.get(py)?;
        Ok(counter_track(py, g.create_counter_track(track_name)))
    }

    /// A nested group named `track_name`.
    fn create_group(&self, py: Python<'_>, track_name: &str) -> PyResult<PyGroup> {
        let (g, _) = self.inner.get(py)?;
        Ok(group(py, g.create_group(track_name)))
    }

    /// Opens a slice at `ts` ns on the group's track.
    #[pyo3(signature = (ts, annotation, kwargs=None, flow=None))]
    fn open(
        &self,
        py: Python<'_>,
        ts: &Bound<'_, PyAny>,
        annotation: &Bound<'_, PyString>,
        kwargs: Option<&Bound<'_, PyAny>>,
        flow: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let ts = timestamp(ts)?;
        let extras = EventExtras::from_py(kwargs, flow)?;
        self.inner.get(py)?.1.open(ts, annotation, extras.as_ref())
    }

    /// Closes the group track's latest open slice at `ts` ns.
    #[pyo3(signature = (ts, flow=None))]
    fn close(
        &self,
        py: Python<'_>,
        ts: &Bound<'_, PyAny>,
        flow: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let ts = timestamp(ts)?;
        let extras = EventExtras::from_py(None, flow)?;
        self.inner.get(py)?.1.close(ts, extras.as_ref())
    }

    /// An instant at `ts` ns on the group's track.
    #[pyo3(signature = (ts, annotation, kwargs=None, flow=None))]
    fn instant(
        &self,
        py: Python<'_>,
        ts: &Bound<'_, PyAny>,
        annotation: &Bound<'_, PyString>,
        kwargs: Option<&Bound<'_, PyAny>>,
        flow: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let ts = timestamp(ts)?;
        let extras = EventExtras::from_py(kwargs, flow)?;
        self.inner
            .get(py)?
            .1
            .instant(ts, annotation, extras.as_ref())
    }
}

/// A track of slices and instants. Its methods return the track, so calls chain.
#[pyclass(name = "NormalTrack", module = "tg4perfetto", frozen)]
struct PyNormalTrack {
    inner: Owned<Slices>,
}

#[pymethods]
impl PyNormalTrack {
    /// Opens a slice named `annotation` at `ts` ns, with arguments `kwargs` (a
    /// dict) and flows `flow` (ids) if given.
    #[pyo3(signature = (ts, annotation, kwargs=None, flow=None))]
    fn open<'py>(
        slf: &Bound<'py, Self>,
        ts: &Bound<'py, PyAny>,
        annotation: &Bound<'py, PyString>,
        kwargs: Option<&Bound<'py, PyAny>>,
        flow: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, Self>> {
        let ts = timestamp(ts)?;
        let extras = EventExtras::from_py(kwargs, flow)?;
        slf.get()
            .inner
            .get(slf.py())?
            .open(ts, annotation, extras.as_ref())?;
        Ok(slf.clone())
    }

    /// Closes the latest open slice at `ts` ns; flows `flow` leave from its end.
    #[pyo3(signature = (ts, flow=None))]
    fn close<'py>(
        slf: &Bound<'py, Self>,
        ts: &Bound<'_, PyAny>,
        flow: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, Self>> {
        let ts = timestamp(ts)?;
        let extras = EventExtras::from_py(None, flow)?;
        slf.get().inner.get(slf.py())?.close(ts, extras.as_ref())?;
        Ok(slf.clone())
    }

    /// An instant event named `annotation` at `ts` ns.
    #[pyo3(signature = (ts, annotation, kwargs=None, flow=None))]
    fn instant<'py>(
        slf: &Bound<'py, Self>,
        ts: &Bound<'py, PyAny>,
        annotation: &Bound<'py, PyString>,
        kwargs: Option<&Bound<'py, PyAny>>,
        flow: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, Self>> {
        let ts = timestamp(ts)?;
        let extras = EventExtras::from_py(kwargs, flow)?;
        slf.get()
            .inner
            .get(slf.py())?
            .instant(ts, annotation, extras.as_ref())?;
        Ok(slf.clone())
    }
}

/// A counter track: `count(ts, value)` with ints or floats.
#[pyclass(name = "CounterTrack", module = "tg4perfetto", frozen)]
struct PyCounterTrack {
    inner: Owned<CounterTrack>,
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
        ts: &Bound<'_, PyAny>,
        value: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, Self>> {
        let ts = timestamp(ts)?;
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
        let counter = slf.get().inner.get(slf.py())?;
        match sample {
            Sample::Int(v) => counter.count(ts, v),
            Sample::Float(v) => counter.count(ts, v),
        }
        .map_err(error)?;
        Ok(slf.clone())
    }
}
