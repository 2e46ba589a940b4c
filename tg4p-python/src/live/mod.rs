//! Live tracing of a Python program: the original's `open`, `stop`, `trace`,
//! `instant`, `trace_func`, `trace_func_args`, `track` and `count`, on tg4p's live
//! recorder (thread-local buffers, a background writer thread).
//!
//! - Sessions: `with open(path):` starts one and finishes it at the block's end,
//!   the GIL released while the writer drains and closes the file.
//! - Slices: traced functions and `with track.trace(name):` blocks; a call that
//!   raises still ends its slice (the guard drops), and the exception propagates.
//! - Tracks and counters are `static`s in tg4p: one is leaked per distinct name
//!   (two `track("X")` objects draw on one track "X").

mod seam;
mod threads;

use crate::names::{intern, intern_list};
use crate::values::{Budget, to_value};
use pyo3::exceptions::{PyOSError, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::gc::PyVisit;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyInt, PyList, PyString, PyTuple};
use pyo3::{IntoPyObjectExt, PyTraverseError, intern};
use seam::{Location, MAX_OUTGOING_FLOWS};
use std::cell::RefCell;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use tg4p::__private::Callsite;
use tg4p::{Counter, FlowId, Session, SessionError, Track, Value};

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(open, m)?)?;
    m.add_function(wrap_pyfunction!(stop, m)?)?;
    m.add_function(wrap_pyfunction!(trace, m)?)?;
    m.add_function(wrap_pyfunction!(instant, m)?)?;
    m.add_function(wrap_pyfunction!(trace_func, m)?)?;
    m.add_function(wrap_pyfunction!(trace_func_args, m)?)?;
    m.add_class::<PyTrack>()?;
    m.add_class::<PyCount>()?;
    m.add_class::<TraceBlock>()?;
    m.add_class::<Opener>()?;
    m.add_class::<TracedFunction>()?;
    m.add_class::<TraceDecorator>()?;
    Ok(())
}

// --- Sessions ---

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
struct Opener {
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
fn open(filename: PathBuf) -> Opener {
    Opener { path: filename }
}

/// Stops the open trace (as the end of its `with open(..)` block does) and returns
/// what was written: `{"path", "events_written", "events_dropped",
/// "values_dropped"}`, or `None` if no trace was open.
#[pyfunction]
fn stop(py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
    finish(py)
}

// --- Where events come from ---

/// The Python code calling into this module (an unknown place if the frame cannot
/// be read: tracing does not raise for it).
fn caller(py: Python<'_>) -> Location {
    frame_location(py).unwrap_or(Location {
        file: intern("<unknown>"),
        line: 0,
        function: intern("<unknown>"),
    })
}

fn frame_location(py: Python<'_>) -> PyResult<Location> {
    static GETFRAME: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let getframe = GETFRAME.get_or_try_init(py, || {
        py.import("sys")?.getattr("_getframe").map(Bound::unbind)
    })?;
    // A native function has no frame of its own: frame 0 is its caller's.
    let frame = getframe.bind(py).call0()?;
    let line = frame
        .getattr(intern!(py, "f_lineno"))?
        .extract::<u32>()
        .unwrap_or(0);
    code_location(&frame.getattr(intern!(py, "f_code"))?, line)
}

/// The location of a code object's function, at `line`.
fn code_location(code: &Bound<'_, PyAny>, line: u32) -> PyResult<Location> {
    let py = code.py();
    let function = match code.getattr(intern!(py, "co_qualname")) {
        Ok(q) => q,
        Err(_) => code.getattr(intern!(py, "co_name"))?,
    };
    Ok(Location {
        file: intern(
            &code
                .getattr(intern!(py, "co_filename"))?
                .extract::<String>()?,
        ),
        line,
        function: intern(&function.extract::<String>()?),
    })
}

/// Where a function is defined (`__code__` for Python functions, else its name).
fn function_location(func: &Bound<'_, PyAny>) -> PyResult<Location> {
    let py = func.py();
    if let Ok(code) = func.getattr(intern!(py, "__code__")) {
        let line = code
            .getattr(intern!(py, "co_firstlineno"))?
            .extract::<u32>()?;
        return code_location(&code, line);
    }
    Ok(Location {
        file: intern("<unknown>"),
        line: 0,
        function: intern(&function_name(func)?),
    })
}

fn function_name(func: &Bound<'_, PyAny>) -> PyResult<String> {
    let py = func.py();
    match func.getattr(intern!(py, "__name__")) {
        Ok(n) => n.extract(),
        Err(_) => Ok(func.repr()?.to_string_lossy().into_owned()),
    }
}

/// `set_caller`'s argument: a `(file, line, function)` tuple or a function.
fn location_of(caller: &Bound<'_, PyAny>) -> PyResult<Location> {
    if let Ok(t) = caller.cast::<PyTuple>() {
        let (file, line, function) = t.extract::<(String, u32, String)>()?;
        return Ok(Location {
            file: intern(&file),
            line,
            function: intern(&function),
        });
    }
    function_location(caller)
}

// --- Arguments ---

/// A live argument's value (see [`Budget::live`]). Tracing never makes the program
/// fail: a value whose conversion raises (a `__str__` that raises, say) is
/// recorded as the error.
fn live_value(value: &Bound<'_, PyAny>) -> Value {
    to_value(value, &mut Budget::live())
        .unwrap_or_else(|e| Value::Str(format!("<not recorded: {e}>")))
}

/// Live arguments: names (interned) and values (converted under a live budget).
#[derive(Default)]
struct Args {
    names: Vec<&'static str>,
    values: Vec<Value>,
}

impl Args {
    /// Adds an argument.
    fn push(&mut self, name: &'static str, value: &Bound<'_, PyAny>) -> PyResult<()> {
        self.names.push(name);
        self.values.push(live_value(value));
        Ok(())
    }

    /// `*args` as one argument named `args`, `**kwargs` one argument each.
    fn from_call(args: &Bound<'_, PyTuple>, kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<Args> {
        let mut out = Args::default();
        if !args.is_empty() {
            out.push(intern("args"), args.as_any())?;
        }
        out.push_kwargs(kwargs)?;
        Ok(out)
    }

    fn push_kwargs(&mut self, kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<()> {
        if let Some(kwargs) = kwargs {
            for (k, v) in kwargs
                .items()
                .iter()
                .map(|i| i.extract::<(String, Bound<'_, PyAny>)>())
                .collect::<PyResult<Vec<_>>>()?
            {
                self.push(intern(&k), &v)?;
            }
        }
        Ok(())
    }

    /// An instant's `description`: a dict's entries, else one argument.
    fn from_description(description: Option<&Bound<'_, PyAny>>) -> PyResult<Args> {
        let mut out = Args::default();
        match description {
            None => {}
            Some(d) if d.is_none() => {}
            Some(d) => match d.cast::<PyDict>() {
                Ok(dict) => {
                    for item in dict.items().iter() {
                        let (k, v) = item.extract::<(Bound<'_, PyAny>, Bound<'_, PyAny>)>()?;
                        let key = match k.cast::<PyString>() {
                            Ok(s) => s.to_string_lossy().into_owned(),
                            Err(_) => k.str()?.to_string_lossy().into_owned(),
                        };
                        out.push(intern(&key), &v)?;
                    }
                }
                Err(_) => out.push(intern("description"), d)?,
            },
        }
        Ok(out)
    }

    fn callsite(&self, name: &'static str, at: Location) -> &'static Callsite {
        seam::callsite(name, at, intern_list(&self.names))
    }
}

/// Flow ids from Python ints.
fn flow_ids(ids: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<FlowId>> {
    let Some(ids) = ids.filter(|i| !i.is_none()) else {
        return Ok(Vec::new());
    };
    ids.try_iter()?
        .map(|id| Ok(FlowId::from_raw(id?.extract::<u64>()?)))
        .collect()
}

fn flow_list(py: Python<'_>, ids: &[FlowId]) -> PyResult<Py<PyAny>> {
    PyList::new(py, ids.iter().map(|f| f.raw()))?.into_py_any(py)
}

fn check_outgoing(n: usize) -> PyResult<()> {
    if n > MAX_OUTGOING_FLOWS {
        return Err(PyValueError::new_err(format!(
            "num_outgoing_flow_ids={n}: at most {MAX_OUTGOING_FLOWS} flows may leave one instant"
        )));
    }
    Ok(())
}

// --- Tracks ---

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
struct PyTrack {
    track: &'static Track,
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
    fn trace(
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
    fn instant(
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
    let site = args.callsite(intern(name), caller(py));
    let ids = seam::instant(site, track, &args.values, &incoming, outgoing);
    flow_list(py, &ids)
}

/// An instant event on the calling thread's track; returns the ids of
/// `num_outgoing_flow_ids` new flows leaving it.
#[pyfunction]
#[pyo3(signature = (name, description=None, *, incoming_flow_ids=None, num_outgoing_flow_ids=0))]
fn instant(
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
fn trace(name: &str, args: &Bound<'_, PyTuple>, kwargs: Option<&Bound<'_, PyDict>>) -> TraceBlock {
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
struct TraceBlock {
    track: Option<&'static Track>,
    name: &'static str,
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
            name: intern(name),
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
        let site = args.callsite(self.name, at);
        let mut span = seam::begin_span(site, self.track, &args.values);
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

// --- Decorators ---

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
        for (i, name) in self.positional.iter().take(named).enumerate() {
            out.push(name, &args.get_item(i)?)?;
        }
        if args.len() > named {
            out.push(self.varargs, args.get_slice(named, args.len()).as_any())?;
        }
        out.push_kwargs(kwargs)?;
        Ok(out)
    }
}

/// A traced function: each call is a slice on the calling thread's track (or on
/// its track), named after the function, at the function's source location.
#[pyclass(name = "_traced_function", module = "tg4perfetto", frozen, dict)]
struct TracedFunction {
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
            None => seam::begin_call(self.site, self.track, &[]),
            Some(spec) => match spec.positional_site(self.name, self.at, args, kwargs) {
                // The usual call: the names are the callsite's, only values needed.
                Some(site) => {
                    let values: Vec<Value> = args.iter().map(|a| live_value(&a)).collect();
                    seam::begin_call(site, self.track, &values)
                }
                None => {
                    let bound = spec.bind(args, kwargs)?;
                    let site = if bound.names.is_empty() {
                        self.site
                    } else {
                        bound.callsite(self.name, self.at)
                    };
                    seam::begin_call(site, self.track, &bound.values)
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
struct TraceDecorator {
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
fn trace_func(x: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
    decorate(x, false)
}

/// As `trace_func`, also recording the call's arguments by parameter name.
#[pyfunction]
fn trace_func_args(x: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
    decorate(x, true)
}

// --- Counters ---

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
struct PyCount {
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
