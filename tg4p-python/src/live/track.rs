//! Custom tracks (`track(name)`), instants, and slices of `with` blocks
//! (`trace(name)`, `track.trace(name)`).

use super::args::{Args, check_outgoing, flow_ids, flow_list};
use super::location::{caller, location_of};
use super::seam::{self, Location};
use super::threads;
use crate::names::intern;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use tg4p::{FlowId, Track};

/// The tg4p track named `name` (one per distinct name, leaked).
fn track_named(name: &str) -> &'static Track {
    static TRACKS: Mutex<Option<HashMap<&'static str, &'static Track>>> = Mutex::new(None);
    let name = intern(name);
    let mut tracks = TRACKS.lock().unwrap_or_else(|p| p.into_inner());
    tracks
        .get_or_insert_with(HashMap::new)
        .entry(name)
        .or_insert_with(|| Box::leak(Box::new(Track::new(name))))
}

/// A custom track, shared by every thread: `track("TOP_TRACK")`.
#[pyclass(name = "track", module = "tg4perfetto", frozen)]
pub(super) struct PyTrack {
    pub(super) track: &'static Track,
}

#[pymethods]
impl PyTrack {
    #[new]
    fn new(name: &str) -> PyTrack {
        PyTrack {
            track: track_named(name),
        }
    }

    /// The track's name.
    #[getter]
    fn name(&self) -> &'static str {
        self.track.name()
    }

    /// A slice on this track for a `with` block; positional arguments are recorded
    /// as `args`, keyword arguments by name.
    #[pyo3(signature = (name, *args, **kwargs))]
    pub(super) fn trace(
        &self,
        name: &str,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> TraceBlock {
        TraceBlock::new(Some(self.track), name, args, kwargs)
    }

    /// An instant event on this track; returns the ids of `num_outgoing_flow_ids`
    /// new flows leaving it.
    #[pyo3(signature = (name, description=None, *, incoming_flow_ids=None, num_outgoing_flow_ids=0))]
    pub(super) fn instant(
        &self,
        py: Python<'_>,
        name: &str,
        description: Option<&Bound<'_, PyAny>>,
        incoming_flow_ids: Option<&Bound<'_, PyAny>>,
        num_outgoing_flow_ids: usize,
    ) -> PyResult<Py<PyAny>> {
        record_instant(
            py,
            Some(self.track),
            name,
            description,
            incoming_flow_ids,
            num_outgoing_flow_ids,
        )
    }

    fn __repr__(&self) -> String {
        format!("track({:?})", self.track.name())
    }
}

/// The name of the callsites of instants and `with` blocks, one per source
/// location: each event carries its own name (see [`seam`]'s docs).
static EVENT_AT: &str = "event";

fn record_instant(
    py: Python<'_>,
    track: Option<&'static Track>,
    name: &str,
    description: Option<&Bound<'_, PyAny>>,
    incoming: Option<&Bound<'_, PyAny>>,
    outgoing: usize,
) -> PyResult<Py<PyAny>> {
    check_outgoing(outgoing)?;
    let incoming = flow_ids(incoming)?;
    if !seam::recording() {
        // Ids are still handed out, so the program runs the same untraced.
        let ids: Vec<FlowId> = (0..outgoing).map(|_| FlowId::new()).collect();
        return flow_list(py, &ids);
    }
    threads::ensure_named(py);
    let args = Args::from_description(description)?;
    let site = seam::callsite(EVENT_AT, caller(py), &[]);
    let ids = seam::instant(
        site,
        track,
        name,
        &args.names(),
        &args.values,
        &incoming,
        outgoing,
    );
    flow_list(py, &ids)
}

/// An instant event on the calling thread's track; returns the ids of
/// `num_outgoing_flow_ids` new flows leaving it.
#[pyfunction]
#[pyo3(signature = (name, description=None, *, incoming_flow_ids=None, num_outgoing_flow_ids=0))]
pub(super) fn instant(
    py: Python<'_>,
    name: &str,
    description: Option<&Bound<'_, PyAny>>,
    incoming_flow_ids: Option<&Bound<'_, PyAny>>,
    num_outgoing_flow_ids: usize,
) -> PyResult<Py<PyAny>> {
    record_instant(
        py,
        None,
        name,
        description,
        incoming_flow_ids,
        num_outgoing_flow_ids,
    )
}

/// A slice on the calling thread's track for a `with` block.
#[pyfunction]
#[pyo3(signature = (name, *args, **kwargs))]
pub(super) fn trace(
    name: &str,
    args: &Bound<'_, PyTuple>,
    kwargs: Option<&Bound<'_, PyDict>>,
) -> TraceBlock {
    TraceBlock::new(None, name, args, kwargs)
}

// --- `with ... trace(name):` blocks ---

thread_local! {
    /// The slices of this thread's open `with` blocks, by token. A slice guard
    /// cannot move between threads, so it stays here rather than in the (shareable)
    /// Python object.
    static OPEN_BLOCKS: RefCell<Vec<(u64, tg4p::__private::Span)>> = const { RefCell::new(Vec::new()) };
}

static NEXT_TOKEN: AtomicU64 = AtomicU64::new(1);

/// A slice for a `with` block: `set_incoming_flow_ids`, `get_outgoing_flow_ids`
/// and `set_caller` before it starts; `__enter__` returns the outgoing flow ids.
#[pyclass(name = "_trace", module = "tg4perfetto")]
pub(super) struct TraceBlock {
    track: Option<&'static Track>,
    name: String,
    args: Option<(Py<PyTuple>, Option<Py<PyDict>>)>,
    incoming: Vec<FlowId>,
    outgoing: usize,
    caller: Option<Location>,
    /// Of the open slice in `OPEN_BLOCKS`, 0 before `__enter__`.
    token: u64,
}

impl TraceBlock {
    fn new(
        track: Option<&'static Track>,
        name: &str,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> TraceBlock {
        let has_args = !args.is_empty() || kwargs.is_some_and(|k| !k.is_empty());
        TraceBlock {
            track,
            name: name.to_owned(),
            args: has_args.then(|| (args.clone().unbind(), kwargs.map(|k| k.clone().unbind()))),
            incoming: Vec::new(),
            outgoing: 0,
            caller: None,
            token: 0,
        }
    }
}

#[pymethods]
impl TraceBlock {
    /// Records the slice as coming from `caller`: a function, or a
    /// `(file, line, function)` tuple.
    fn set_caller<'py>(
        mut slf: PyRefMut<'py, Self>,
        caller: &Bound<'py, PyAny>,
    ) -> PyResult<PyRefMut<'py, Self>> {
        slf.caller = Some(location_of(caller)?);
        Ok(slf)
    }

    /// Ends the flows `ids` at this slice.
    fn set_incoming_flow_ids<'py>(
        mut slf: PyRefMut<'py, Self>,
        ids: &Bound<'py, PyAny>,
    ) -> PyResult<PyRefMut<'py, Self>> {
        let ids = flow_ids(Some(ids))?;
        slf.incoming.extend(ids);
        Ok(slf)
    }

    /// Starts `n` new flows at this slice; `__enter__` returns their ids.
    fn get_outgoing_flow_ids(mut slf: PyRefMut<'_, Self>, n: usize) -> PyRefMut<'_, Self> {
        slf.outgoing = n;
        slf
    }

    fn __enter__(&mut self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        if self.token != 0 {
            return Err(PyRuntimeError::new_err(
                "this trace block was already entered",
            ));
        }
        if !seam::recording() {
            let ids: Vec<FlowId> = (0..self.outgoing).map(|_| FlowId::new()).collect();
            return flow_list(py, &ids);
        }
        threads::ensure_named(py);
        let args = match &self.args {
            Some((a, k)) => Args::from_call(a.bind(py), k.as_ref().map(|k| k.bind(py)))?,
            None => Args::default(),
        };
        let at = match self.caller {
            Some(at) => at,
            None => caller(py),
        };
        let site = seam::callsite(EVENT_AT, at, &[]);
        let mut span = seam::begin_span(site, self.track, &self.name, &args.names(), &args.values);
        if !self.incoming.is_empty() {
            span = span.incoming(&self.incoming);
        }
        let ids = span.outgoing(self.outgoing);
        let token = NEXT_TOKEN.fetch_add(1, Ordering::Relaxed);
        OPEN_BLOCKS.with(|b| b.borrow_mut().push((token, span)));
        self.token = token;
        flow_list(py, &ids)
    }

    #[pyo3(signature = (*_exc))]
    fn __exit__(&mut self, _exc: &Bound<'_, PyTuple>) -> bool {
        let token = std::mem::take(&mut self.token);
        let span = OPEN_BLOCKS.with(|b| {
            let mut open = b.borrow_mut();
            let at = open.iter().rposition(|(t, _)| *t == token)?;
            Some(open.remove(at).1)
        });
        // Ends the slice (outside the borrow). A block left on another thread than
        // it entered on finds nothing here: its slice stays open in the trace.
        drop(span);
        false
    }
}
