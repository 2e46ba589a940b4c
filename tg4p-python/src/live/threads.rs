//! Python threads on thread tracks named as Python names them.
//!
//! tg4p names a thread's track when the thread joins a session (at its first event
//! in it). Python's `threading` names its threads for Python only, so before a
//! thread's first event its Python name is handed to `tg4p::set_thread_name`, in
//! full (no OS limit applies) and without touching the OS thread name. The main
//! thread's track is `MainThread`, as Python calls it.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use std::cell::Cell;

thread_local! {
    static NAMED: Cell<bool> = const { Cell::new(false) };
}

/// Gives the calling thread's track its Python name before it records, once per
/// thread.
#[inline]
pub(crate) fn ensure_named(py: Python<'_>) {
    if NAMED.with(Cell::get) {
        return;
    }
    NAMED.with(|n| n.set(true));
    if let Some(name) = python_name(py) {
        tg4p::set_thread_name(name);
    }
}

/// The Python name of the calling thread.
fn python_name(py: Python<'_>) -> Option<String> {
    static THREADING: PyOnceLock<Py<PyModule>> = PyOnceLock::new();
    let threading = THREADING
        .get_or_try_init(py, || py.import("threading").map(Bound::unbind))
        .ok()?
        .bind(py);
    let current = threading.call_method0("current_thread").ok()?;
    current.getattr("name").ok()?.extract::<String>().ok()
}
